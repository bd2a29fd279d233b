"""What the index learns from thumbnails: each one's ThumbHash placeholder, and whether it failed.

The ThumbHash is computed from the small WebP thumbnail (never the source) on the CPU pool. A failed thumbnail
marks its row, and the covers of its folder and ancestors move on to the next photo. Never image work on the
gevent hub; each write is a short transaction, the batch's in groups of FLUSH_ROWS.
"""

from __future__ import annotations

import base64
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import thash
from PIL import Image

from models import Folder, Media
from services import cpu
from services.database import close_connection, write_transaction
from services.gallery.aggregates import update_aggregates
from services.gallery.keys import parent_of, path_hash
from services.logtext import escape
from services.thumbnails import Result, Source, Thumbnailer

log = logging.getLogger("photonix.gallery")
# ThumbHash keeps at most 7 cosine terms per axis, so 32 samples on the long edge are plenty; the pure-Python
# encoder's cost grows with the pixels (3 ms here at 32 px, 34 ms at the 100 px the format allows).
HASH_INPUT_PX = 32
FLUSH_ROWS = 200
SEEN_KEYS = 20_000  # ~3 MB of cache keys per process
UNREADABLE = ""  # stored when a thumbnail cannot be hashed, so it is not tried again until the file changes
_recording: set[str] = set()  # path hashes this process is recording right now
_recording_lock = threading.Lock()


@dataclass(frozen=True)
class IndexedSource(Source):
    """A Source whose index row describes this very file (same mtime and size), with what that row knows."""

    path_hash: str = ""
    has_placeholder: bool = False
    thumb_failed: bool = False


class Outcome(NamedTuple):
    source: IndexedSource
    placeholder: str | None  # to store; None: keep the row's
    failed: bool | None  # the row's new thumb_failed; None: unchanged


def indexed_source(real: Path, media: Media, mtime: float, size: int) -> Source:
    """The Source of `real` (whose stat gave mtime and size): an IndexedSource when `media` describes it."""
    if (media.mtime, media.size) != (mtime, size):  # changed since the scan: its next row will learn
        return Source(real, media.path, mtime, size, media.kind)
    return IndexedSource(real, media.path, mtime, size, media.kind, media.path_hash, media.placeholder is not None,
                         bool(media.thumb_failed))


def needs_recording(source: Source, status: str) -> bool:
    """Whether a thumbnail in `status` (a Result's, or "missing") tells the index something new."""
    if not isinstance(source, IndexedSource):
        return False
    return (status == "ok" and (not source.has_placeholder or source.thumb_failed)) or (
        status == "failed" and not source.thumb_failed)


def thumbhash_of(webp: Path) -> str:
    """Pool thread: the ThumbHash of a thumbnail as base64 (standard alphabet, padded); UNREADABLE if it cannot."""
    try:
        with Image.open(webp, formats=("WEBP",)) as image:
            small = image.convert("RGBA")
    except Exception as error:  # gone or damaged since it was made (Pillow raises many kinds)
        log.warning("no placeholder from %s: %s", escape(webp.name), error)
        return UNREADABLE
    small.thumbnail((HASH_INPUT_PX, HASH_INPUT_PX))
    hashed = thash.rgba_to_thumb_hash(small.width, small.height, list(small.tobytes()))
    return base64.b64encode(bytes(hashed)).decode("ascii")


def outcome(source: Source, result: Result, priority: cpu.Priority = cpu.URGENT) -> Outcome | None:
    """What the index must learn from `result` for `source`, the hash made on the pool at `priority`; None:
    nothing new."""
    if not isinstance(source, IndexedSource) or not needs_recording(source, result.status):
        return None
    failed = result.status == "failed"
    placeholder = None
    if not failed and not source.has_placeholder and result.path is not None:
        placeholder = cpu.run_cpu_at(priority, thumbhash_of, result.path)
    return Outcome(source, placeholder, failed if failed != source.thumb_failed else None)


def store(outcomes: list[Outcome]) -> None:
    """Write outcomes in one short transaction (rows of a file changed meanwhile are left alone), then move the
    covers of the folders whose photos failed or recovered."""
    moved: set[str] = set()
    with write_transaction():
        for found in outcomes:
            if _store_one(found) and found.failed is not None and found.source.kind == "photo":
                moved.add(parent_of(found.source.rel) or "")
    if moved:
        update_aggregates(moved)


def record(source: Source, result: Result) -> None:
    """Store what `result` teaches about `source` at once (request and background use). Never raises: a
    placeholder is a nicety, and one not stored is tried again on the next request."""
    if not isinstance(source, IndexedSource) or not needs_recording(source, result.status):
        return
    key = source.path_hash
    with _recording_lock:
        if key in _recording:
            return  # another greenlet of this process is at it
        _recording.add(key)
    try:
        found = outcome(source, result)
        if found is not None:
            store([found])
    except Exception:
        log.exception("could not record the thumbnail of %s", escape(source.rel))
    finally:
        with _recording_lock:
            _recording.discard(key)


class Recorder:
    """Collects outcomes from the batch's worker threads and stores them FLUSH_ROWS at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Outcome] = []

    def add(self, source: Source, result: Result) -> None:
        found = outcome(source, result, cpu.Priority(batch=True))  # the batch's work: requests go first
        if found is None:
            return
        with self._lock:
            self._pending.append(found)
            if len(self._pending) >= FLUSH_ROWS:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            store(pending)
        except Exception:  # the thumbnails are made; the next batch learns what these would have taught
            log.exception("could not record %d thumbnails in the index", len(pending))
        finally:
            close_connection()  # worker threads hold no connection between flushes


class IndexedThumbnailer(Thumbnailer):
    """A Thumbnailer that tells the index what its answers to get() and cached() and its background thumbnails
    teach (ensure() callers record for themselves, see Recorder). Call it from a greenlet or thread that may use
    the database, never from a pool thread."""

    def __init__(self, *args: Any, on_ready: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, on_ready=self._ready, **kwargs)
        self._announce = on_ready
        self._seen_lock = threading.Lock()
        self._seen: set[str] = set()  # cache keys cached() has answered in this process

    def get(self, source: Source) -> Result:
        result = super().get(source)
        record(source, result)
        return result

    def cached(self, source: Source) -> Result | None:
        """Thumbnailer.cached; the first hit of each key in this process (of the last SEEN_KEYS) also reads its
        row, so that a thumbnail made before the index kept placeholders gets one. Later hits need no index."""
        result = super().cached(source)
        if result is not None and not isinstance(source, IndexedSource) and self._first_hit(result.etag):
            try:
                record(_indexed(source), result)
            except Exception:  # a hit must be answered even when the index cannot be read
                log.exception("could not look up %s", escape(source.rel))
        return result

    def _first_hit(self, key: str) -> bool:
        with self._seen_lock:
            if key in self._seen:
                return False
            if len(self._seen) >= SEEN_KEYS:
                self._seen.clear()  # bounded: a key forgotten costs one more row read
            self._seen.add(key)
            return True

    def _ready(self, source: Source) -> None:
        try:
            record(source, self.ensure(source))  # made just now: answered from the cache
        finally:
            close_connection()
            if self._announce is not None:
                self._announce(source)


def _indexed(source: Source) -> Source:
    """`source` as an IndexedSource when the index has a row for this very file."""
    row = (Media.select(Media.path_hash, Media.placeholder.is_null(False), Media.thumb_failed)
           .where((Media.path_hash == path_hash(source.rel)) & (Media.mtime == source.mtime)
                  & (Media.size == source.size)).tuples().first())
    if row is None:
        return source
    return IndexedSource(source.path, source.rel, source.mtime, source.size, source.kind, row[0], bool(row[1]),
                         bool(row[2]))


def _store_one(found: Outcome) -> bool:
    """Update one row (and the covers showing it); True when the row still described the file."""
    source, values = found.source, {}
    if found.placeholder is not None:
        values[Media.placeholder] = found.placeholder
    if found.failed is not None:
        values[Media.thumb_failed] = int(found.failed)
    updated = Media.update(values).where((Media.path_hash == source.path_hash) & (Media.mtime == source.mtime)
                                         & (Media.size == source.size)).execute()
    if updated and found.placeholder:
        Folder.update(cover_placeholder=found.placeholder).where(
            Folder.path_hash.in_([path_hash(rel) for rel in _ancestors(source.rel)])
            & (Folder.cover_path == source.rel)).execute()
    return bool(updated)


def _ancestors(rel: str) -> list[str]:
    folders, current = [], parent_of(rel)
    while current is not None:
        folders.append(current)
        current = parent_of(current)
    return folders
