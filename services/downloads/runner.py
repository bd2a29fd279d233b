"""One run of one task: fetch the feed, remember its new entries, download their images, index them.

Runs of one task never overlap, even across processes and the CLI (a `feed-run:<id>` lease). Entries
are stored before any image is fetched, so a killed run loses nothing: the next one resumes them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from errors import AppError
from models import Feed, FeedEntry
from services import cpu, lease
from services.database import close_connection, insert_ignoring_conflicts, write_transaction
from services.downloads import feeds, images, logs, options, store, tasks
from services.downloads.fetch import Fetcher, FetchPolicy
from services.gallery.keys import parent_of

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, */*;q=0.5"
LEASE_TTL_S = 30.0
ENTRIES_PER_BATCH = 50
ROWS_PER_TRANSACTION = 500
PROGRESS_EVERY_S = 0.5
TEMP_GRACE_S = 300.0  # a temp file older than the image timeout plus this has no live writer
PENDING = ("new", "queued", "partial")
RUN_LEASE_PREFIX = "feed-run:"

Publish = Callable[[str, dict[str, Any]], Any]
log = logging.getLogger("photonix.downloads")


@dataclass
class RunSummary:
    task_id: int
    status: str = "ok"  # ok | failed | busy | stopped
    new_entries: int = 0
    entries: int = 0
    saved: int = 0
    duplicates: int = 0
    failed: int = 0
    retrying: int = 0
    bytes: int = 0
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"taskId": self.task_id, "status": self.status, "newEntries": self.new_entries,
                "entries": self.entries, "saved": self.saved, "duplicates": self.duplicates,
                "failed": self.failed, "retrying": self.retrying, "bytes": self.bytes, "error": self.error}


def policy(opts: options.DownloadOptions, total_timeout_s: float) -> FetchPolicy:
    return FetchPolicy(allow_private_hosts=opts.allowPrivateHosts, allowed_ports=frozenset(opts.allowedPorts),
                       connect_timeout_s=opts.connectTimeoutSeconds, total_timeout_s=total_timeout_s,
                       max_redirects=opts.maxRedirects)


def fetch_feed(feed: Feed, opts: options.DownloadOptions, conditional: bool) -> tuple[feeds.ParsedFeed | None, Any]:
    """The feed parsed (None when a conditional GET answered 304) and the fetch result."""
    with Fetcher(policy(opts, opts.feedTimeoutSeconds)) as fetcher:
        result = fetcher.fetch_bytes(feed.url, opts.maxFeedBytes, cookie=feed.cookie, accept=FEED_ACCEPT,
                                     etag=feed.etag if conditional else None,
                                     last_modified=feed.last_modified if conditional else None)
    if result.status == 304:
        return None, result
    # feedparser is pure Python: parse on the native pool so the gevent hub keeps serving meanwhile.
    return cpu.run_cpu(feeds.parse_feed, result.body, result.url, result.content_type), result


class FeedRunner:
    """Runs tasks for one process; `slots` (global and per-host limits) are shared by its runs."""

    def __init__(self, root: Path, refresh: Callable[[str], None], publish: Publish, max_pixels: int):
        self.root, self.refresh, self.publish, self.max_pixels = root, refresh, publish, max_pixels
        self.slots: images.Slots | None = None
        self._slots_lock = threading.Lock()

    def run(self, task_id: int, keep_going: Callable[[], bool] = lambda: True,
            on_progress: Callable[[dict[str, Any]], None] | None = None, queued_only: bool = False) -> RunSummary:
        """Run task `task_id` now (paused or not); `queued_only` downloads just the entries picked by
        hand, without fetching the feed. Returns what happened; never raises for a feed or network
        problem: that is recorded as the task's lastError, logged and published."""
        summary = RunSummary(task_id)
        name, holder = f"{RUN_LEASE_PREFIX}{task_id}", f"{lease.holder_id()}:run"
        if not lease.take(name, holder, LEASE_TTL_S):
            summary.status = "busy"
            return summary
        keeper = lease.Keeper(name, holder, LEASE_TTL_S)
        started = time.time()
        job: _Run | None = None
        try:
            job = _Run(self, tasks.get(task_id), summary, keep_going, on_progress)
            job.go(queued_only)
        except AppError as exc:
            summary.status, summary.error = "failed", exc.message
            self._failed(task_id, exc)
        except Exception as exc:  # a bug or a broken disk: the task still keeps its schedule and says so
            log.exception("download task %s failed unexpectedly", task_id)
            summary.status, summary.error = "failed", f"unexpected error ({type(exc).__name__}); see the server log"
            self._failed(task_id, AppError(summary.error))
        finally:
            try:
                _finish(task_id, summary, started)
            finally:
                keeper.stop()
            try:
                if job is not None and job.finished:  # after the counters and the lease: clients see the end state
                    job.progress("done", force=True)
            finally:
                close_connection()
        return summary

    def slots_for(self, opts: options.DownloadOptions) -> images.Slots:
        with self._slots_lock:
            if self.slots is None or (self.slots.total, self.slots.per_host) != (
                    opts.maxConcurrentDownloads, opts.perHostConcurrency):
                self.slots = images.Slots(opts.maxConcurrentDownloads, opts.perHostConcurrency)
            return self.slots

    def _failed(self, task_id: int, exc: AppError) -> None:
        logs.write("error", f"run failed: {exc.message}", feed_id=task_id, code=exc.code)
        self.publish("download-error", {"taskId": task_id, "code": exc.code, "message": exc.message})


class _Run:
    def __init__(self, runner: FeedRunner, feed: Feed, summary: RunSummary, keep_going: Callable[[], bool],
                 on_progress: Callable[[dict[str, Any]], None] | None):
        self.runner, self.feed, self.summary = runner, feed, summary
        self.keep_going, self.on_progress = keep_going, on_progress
        self.opts = options.load()
        self.last_progress = 0.0
        self.last_refresh = 0.0
        self.total = 0
        self.finished = False  # went through to the end (not stopped, not failed)
        self.statuses = PENDING

    def go(self, queued_only: bool) -> None:
        logs.write("info", "run started" + (" (entries picked by hand)" if queued_only else ""), feed_id=self.feed.id)
        self.progress("feed", force=True)
        if not queued_only:
            parsed, result = fetch_feed(self.feed, self.opts, conditional=True)
            if parsed is not None:
                self.summary.new_entries = _remember(self.feed, parsed, result)
                self.feed = tasks.get(self.feed.id)
        folder_rel, folder = store.target_folder(self.runner.root, tasks.target_of(self.feed))
        store.clean_temp_files(folder, self.opts.imageTimeoutSeconds + TEMP_GRACE_S)
        self.statuses = ("queued",) if queued_only else PENDING
        self.download_pending(folder_rel, folder)
        logs.write("info", "run finished", feed_id=self.feed.id, **self.summary.as_json())

    def download_pending(self, folder_rel: str, folder: Path) -> None:
        target = images.Target(self.feed.id, folder_rel, folder, urlsplit(self.feed.url).hostname,
                               self.feed.cookie, _limits(self.opts, self.runner.max_pixels), self.opts)
        self.total = _pending(self.feed.id, self.statuses, 0).count()
        slots = self.runner.slots_for(self.opts)
        with Fetcher(policy(self.opts, self.opts.imageTimeoutSeconds)) as fetcher, \
                ThreadPoolExecutor(self.opts.maxConcurrentDownloads, "photonix-download") as pool:
            after = 0
            while batch := list(_pending(self.feed.id, self.statuses, after).limit(ENTRIES_PER_BATCH)):
                if not self.keep_going():
                    self.summary.status = "stopped"
                    break
                after = batch[-1].id
                jobs = [[pool.submit(images.fetch_image, fetcher, slots, target, entry.entry_key, url,
                                     _base_name(entry, n, len(urls)), entry.link, time.time())
                         for n, url in enumerate(urls)]
                        for entry, urls in ((e, json.loads(e.image_urls)) for e in batch)]
                for ready in _finished_in_order(list(zip(batch, jobs, strict=True))):
                    with write_transaction():  # one commit for the entries that finished together
                        states: dict[tuple[str, float], list[int]] = {}
                        saved = [self.settle(entry, [f.result() for f in futures], states)
                                 for entry, futures in ready]
                        for (status, retry_at), ids in states.items():
                            FeedEntry.update(status=status, next_attempt_at=retry_at).where(
                                FeedEntry.id.in_(ids)).execute()
                    for (entry, _), paths in zip(ready, saved, strict=True):
                        self.announce(entry, paths)
                self.refresh_index(folder_rel)
        self.refresh_index(folder_rel, force=True)
        self.finished = True

    def settle(self, entry: FeedEntry, outcomes: list[images.Outcome],
               states: dict[tuple[str, float], list[int]]) -> list[str]:
        """Count what became of one entry's images and log the failures (in the caller's transaction); adds
        the entry to `states` under its new (status, next attempt) for the caller's update; returns the
        saved paths."""
        s = self.summary
        s.entries += 1
        fresh = [o for o in outcomes if o.fresh]
        saved = [o.path for o in fresh if o.status == "ok" and o.path]
        s.saved += len(saved)
        s.duplicates += sum(o.status == "duplicate" for o in fresh)
        s.failed += sum(o.status in ("failed", "rejected") for o in fresh)
        s.retrying += sum(o.status == "retrying" for o in fresh)
        s.bytes += sum(o.size for o in fresh if o.status == "ok")
        unsettled = [o for o in outcomes if not o.final]
        status = "partial" if unsettled else "done"
        retry_at = min((o.retry_at for o in unsettled), default=0.0)
        states.setdefault((status, retry_at), []).append(entry.id)
        for o in fresh:
            if o.status in ("failed", "rejected", "retrying"):
                logs.write("warning", f"image {o.status}: {o.error}", feed_id=self.feed.id, url=o.url)
        return saved

    def announce(self, entry: FeedEntry, saved: list[str]) -> None:
        """Tell the clients about one settled entry (after its transaction: events.publish wants none open)."""
        if saved:
            self.runner.publish("download-complete", {"taskId": self.feed.id, "entry": {
                "key": entry.entry_key, "title": entry.title, "link": entry.link}, "images": saved})
            # download-* events are admin-only; the gallery learns of its new photos from this one.
            self.runner.publish("album-changed", {"path": parent_of(saved[0])})
        self.progress("images")

    def progress(self, phase: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_progress < PROGRESS_EVERY_S:
            return
        self.last_progress = now
        s = self.summary
        data = {"taskId": self.feed.id, "phase": phase, "entriesDone": s.entries,
                "entriesTotal": self.total, "saved": s.saved, "duplicates": s.duplicates,
                "failed": s.failed, "retrying": s.retrying, "bytes": s.bytes}
        self.runner.publish("download-progress", data)
        if self.on_progress is not None:
            self.on_progress(data)

    def refresh_index(self, folder_rel: str, force: bool = False) -> None:
        """New files appear in browse at once: rescan the target folder and the folders above it."""
        now = time.monotonic()
        if not self.summary.saved or (not force and now - self.last_refresh < 1.0):
            return
        self.last_refresh = now
        parts = folder_rel.split("/")
        for depth in range(len(parts) + 1):
            self.runner.refresh("/".join(parts[:depth]))


def _finished_in_order(jobs: list[tuple[FeedEntry, list[Future[images.Outcome]]]]) -> Iterator[list[Any]]:
    """The entries in order, in runs whose fetches have all finished: waits for the first unfinished
    entry, then yields it with every following entry that is already done (entries without images at once)."""
    start = 0
    while start < len(jobs):
        wait(jobs[start][1])
        end = start + 1
        while end < len(jobs) and all(f.done() for f in jobs[end][1]):
            end += 1
        yield jobs[start:end]
        start = end


def _remember(feed: Feed, parsed: feeds.ParsedFeed, result: Any) -> int:
    """Store entries not seen before (excluded ones as `excluded`) together with the feed's new
    validators, in short batched transactions; returns how many were new."""
    keywords = json.loads(feed.exclude_keywords)
    known = {key for (key,) in FeedEntry.select(FeedEntry.entry_key).where(FeedEntry.feed == feed.id).tuples()}
    now = time.time()
    rows = [(feed.id, e.key, e.title, e.link, json.dumps(list(e.image_urls)), e.published, now,
             "excluded" if feeds.is_excluded(e, keywords) else "new", 0.0)
            for e in parsed.entries if e.key not in known]
    fields = (FeedEntry.feed, FeedEntry.entry_key, FeedEntry.title, FeedEntry.link, FeedEntry.image_urls,
              FeedEntry.published, FeedEntry.seen_at, FeedEntry.status, FeedEntry.next_attempt_at)
    # Oldest first, so a feed's back catalogue lands in the order it was published.
    rows.reverse()
    for start in range(0, len(rows), ROWS_PER_TRANSACTION):
        with write_transaction():
            insert_ignoring_conflicts(FeedEntry, fields, rows[start:start + ROWS_PER_TRANSACTION])
    values: dict[str, Any] = {"etag": result.etag, "last_modified": result.last_modified,
                              "entries_seen": Feed.entries_seen + len(rows)}
    if not feed.title and parsed.title:
        values["title"] = parsed.title[:tasks.MAX_TITLE_CHARS]
    if not feed.target_folder:  # fixed at the first run, so a later title change does not move the folder
        values["target_folder"] = tasks.default_target(feed.url, values.get("title", feed.title))
    Feed.update(**values).where(Feed.id == feed.id).execute()
    return len(rows)


def _pending(feed_id: int, statuses: tuple[str, ...], after: int) -> Any:
    """Entries after row `after` with images still to fetch and due now, oldest first."""
    return (FeedEntry.select().where((FeedEntry.feed == feed_id) & FeedEntry.status.in_(statuses)
                                     & (FeedEntry.id > after)
                                     & (FeedEntry.next_attempt_at <= time.time())).order_by(FeedEntry.id))


def _finish(task_id: int, summary: RunSummary, started: float) -> None:
    """Whatever happened, the task keeps its schedule; counters and lastError tell the owner."""
    if summary.status == "busy":
        return
    feed = Feed.get_or_none(Feed.id == task_id)
    if feed is None:  # deleted while running
        return
    values: dict[str, Any] = {
        "last_run_at": started, "next_run_at": started + feed.interval_minutes * 60,
        "images_saved": Feed.images_saved + summary.saved, "images_failed": Feed.images_failed + summary.failed,
        "bytes_saved": Feed.bytes_saved + summary.bytes,
    }
    if summary.status == "ok":
        values.update(last_success_at=time.time(), last_error=None)
    elif summary.error:
        values["last_error"] = summary.error
    Feed.update(**values).where(Feed.id == task_id).execute()


def _limits(opts: options.DownloadOptions, max_pixels: int) -> store.ImageLimits:
    return store.ImageLimits(min_bytes=opts.minImageBytes, min_width=opts.minImageWidth,
                             min_height=opts.minImageHeight, max_pixels=max_pixels)


def _base_name(entry: FeedEntry, n: int, count: int) -> str:
    title = entry.title or "image"
    return f"{title}-{n + 1}" if count > 1 else title
