"""One image URL → a saved gallery file and its `download` row: dedupe, slots, retries with backoff.

A failed image never sleeps in its slot: it is recorded as `retrying` with a time for its next
attempt (a later run), or `failed` once its attempts are used up or the failure cannot improve. Its check
decode waits for the process's decode memory budget (services.decode_budget) in this greenlet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image

from errors import DownloadFailed, ImageRejected, StorageFailed
from models import Download
from services import cpu, decode_budget
from services.database import close_connection
from services.downloads import store
from services.downloads.fetch import Fetcher
from services.downloads.options import DownloadOptions
from services.downloads.tasks import url_hash

FINAL = ("ok", "duplicate", "rejected", "failed")
IMAGE_ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/gif,image/*;q=0.8"


@dataclass(frozen=True)
class Outcome:
    url: str
    status: str  # ok | duplicate | rejected | retrying | failed | pending (not yet due)
    path: str | None = None
    size: int = 0
    error: str | None = None
    retry_at: float = 0.0
    sha256: str | None = None
    fresh: bool = True  # False when an earlier run already settled this URL

    @property
    def final(self) -> bool:
        return self.status in FINAL


@dataclass
class Target:
    """Where one run saves, and with which credentials and limits."""

    feed_id: int
    folder_rel: str
    folder: Path
    cookie_host: str | None
    cookie: str | None
    limits: store.ImageLimits
    options: DownloadOptions
    claimed: dict[str, str] = field(default_factory=dict)  # sha256 -> saved path ("" while saving), this run
    lock: threading.Lock = field(default_factory=threading.Lock)


class Slots:
    """Global and per-host concurrency for image fetches in this process (shared by all runs)."""

    def __init__(self, total: int, per_host: int):
        self.total, self.per_host = total, per_host
        self._all = threading.BoundedSemaphore(total)
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, host: str) -> Iterator[None]:
        with self._lock:
            host_slot = self._hosts.setdefault(host, threading.BoundedSemaphore(self.per_host))
        with self._all, host_slot:
            yield


def fetch_image(fetcher: Fetcher, slots: Slots, target: Target, entry_key: str, url: str,
                base_name: str, referer: str | None, now: float) -> Outcome:
    """Download `url` into the target folder unless an earlier run settled it; record the outcome."""
    try:
        known = Download.get_or_none(Download.url_hash == url_hash(url))
        if known is not None and (known.status in FINAL or known.next_attempt_at > now):
            status = known.status if known.status in FINAL else "pending"
            return Outcome(url, status, known.path, known.bytes, known.error, known.next_attempt_at, known.sha256,
                           fresh=False)
        attempts = (known.attempts if known is not None else 0) + 1
        try:
            outcome = _download(fetcher, slots, target, url, base_name, referer)
        except DownloadFailed as exc:
            outcome = _failure(url, exc, attempts, target.options)
        _record(target, entry_key, url, outcome, attempts)
        return outcome
    finally:
        close_connection()


def _download(fetcher: Fetcher, slots: Slots, target: Target, url: str, base_name: str,
              referer: str | None) -> Outcome:
    host = (urlsplit(url).hostname or "").lower()
    temp: Path | None = None
    try:
        with slots.hold(host):
            out, temp = store.open_temp(target.folder)
            with out:
                cookie = target.cookie if host == target.cookie_host else None
                result = fetcher.fetch_to_file(url, out, target.options.maxImageBytes, cookie=cookie,
                                               referer=referer, accept=IMAGE_ACCEPT)
        assert result.sha256 is not None
        existing = _claim(target, result.sha256)
        if existing is not None:
            return Outcome(url, "duplicate", existing or None, result.size, sha256=result.sha256)
        committing, temp = temp, None  # commit() publishes the file or removes it
        try:
            with _decode_admitted(committing):
                saved = store.commit(committing, target.folder_rel, target.folder, base_name, target.limits)
        except BaseException:
            with target.lock:
                target.claimed.pop(result.sha256, None)
            raise
        with target.lock:
            target.claimed[result.sha256] = saved.rel
        return Outcome(url, "ok", saved.rel, saved.size, sha256=result.sha256)
    except ImageRejected as exc:
        return Outcome(url, "rejected", error=f"{exc.extra.get('reason', 'rejected')}: {exc.message}")
    except OSError as exc:  # our own disk, not the image: the run stops, the entry stays pending for the next one
        where = target.folder_rel or "the gallery folder"
        raise StorageFailed(f"Could not save images in {where}: {exc.strerror or exc}.") from exc
    finally:
        if temp is not None:
            store.discard(temp)


@contextmanager
def _decode_admitted(temp: Path) -> Iterator[None]:
    """Hold the decode budget for store.commit's check decode of `temp`, or ImageRejected (and `temp`
    removed) when that decode alone needs more than the whole budget."""
    budget = decode_budget.shared()
    try:
        with budget.hold(cpu.run_cpu(_decode_bytes, temp)):
            yield
    except decode_budget.OverBudget as exc:
        store.discard(temp)
        raise ImageRejected(f"The image is too large to decode: {exc}.", reason="too-much-memory") from None


def _decode_bytes(path: Path) -> int:
    """Pool thread: what store.verify_image's decode of `path` allocates, from the header (JPEG drafted as
    it drafts them); 0 when the header is unreadable, which verify_image then reports without decoding."""
    try:
        with Image.open(path) as image:
            if image.format in ("JPEG", "MPO"):
                scale = store.JPEG_DRAFT_SCALE
                image.draft(image.mode, (max(1, image.width // scale), max(1, image.height // scale)))
            return decode_budget.estimate(image)
    except MemoryError:
        raise
    except Exception:
        return 0


def _claim(target: Target, sha256: str) -> str | None:
    """Where this content already is (a gallery path, or "" while another download of this run saves
    it), else None after claiming it: the same picture under two URLs is saved once."""
    with target.lock:
        if sha256 in target.claimed:
            return target.claimed[sha256] or ""
        row = (Download.select(Download.path)
               .where((Download.sha256 == sha256) & (Download.status == "ok")).first())
        if row is not None:
            return row.path
        target.claimed[sha256] = ""
        return None


def _failure(url: str, exc: DownloadFailed, attempts: int, opts: DownloadOptions) -> Outcome:
    if not exc.retryable or attempts >= opts.maxAttempts:
        return Outcome(url, "failed", error=exc.message)
    retry_at = time.time() + opts.retryBackoffSeconds * 2 ** (attempts - 1)
    return Outcome(url, "retrying", error=exc.message, retry_at=retry_at)


def _record(target: Target, entry_key: str, url: str, outcome: Outcome, attempts: int) -> None:
    now = time.time()
    row = {"feed": target.feed_id, "entry_key": entry_key, "url": url, "url_hash": url_hash(url),
           "sha256": outcome.sha256, "path": outcome.path, "bytes": outcome.size, "status": outcome.status,
           "error": outcome.error, "attempts": attempts, "next_attempt_at": outcome.retry_at,
           "created_at": now, "updated_at": now}
    updates = {k: v for k, v in row.items() if k not in ("url_hash", "created_at")}
    (Download.insert(**row)
     .on_conflict(conflict_target=[Download.url_hash],
                  update={getattr(Download, k): v for k, v in updates.items()})
     .execute())
