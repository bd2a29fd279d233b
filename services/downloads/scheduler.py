"""When tasks run: due ones (and ones the owner asked to run now) in the lease-holding process only,
at most `maxConcurrentFeeds` at a time. Leftover temp files from a killed run are swept when a
process starts leading. The API asks for runs through the database, so any worker or node may ask.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from models import Feed, FeedEntry, Lease, Setting
from services import events, jobs
from services.database import close_connection
from services.downloads import options, store, tasks
from services.downloads.runner import RUN_LEASE_PREFIX, TEMP_GRACE_S, FeedRunner, Publish, RunSummary
from services.gallery.index import Indexer

JOB_NAME = "downloads"
TICK_S = 30.0
RUN_REQUEST_PREFIX = "download-run:"

log = logging.getLogger("photonix.downloads")


def register_job(runner: FeedRunner) -> None:
    """Look for due tasks every TICK_S seconds in the lease holder, and at once when asked."""
    swept = False

    def tick() -> None:
        nonlocal swept
        if not swept:
            swept = sweep_temp_files(runner)
            close_connection()
        run_due(runner, keep_going=jobs.is_leader)

    jobs.register_periodic(JOB_NAME, TICK_S, tick)


def request_run(task_id: int) -> None:
    """Run the task at the scheduler's next look (within seconds), even when it is paused."""
    tasks.get(task_id)
    now = time.time()
    (Setting.insert(key=f"{RUN_REQUEST_PREFIX}{task_id}", value=repr(now), updated_at=now)
     .on_conflict(conflict_target=[Setting.key], preserve=[Setting.value, Setting.updated_at]).execute())
    jobs.request_run(JOB_NAME)


def request_pick() -> None:
    """Download the entries picked by hand at the scheduler's next look (the feed is not refetched)."""
    jobs.request_run(JOB_NAME)


def due_tasks(now: float | None = None) -> dict[int, bool]:
    """Task id -> whether it runs in full: enabled tasks whose time has come and requested runs do;
    other tasks with entries picked by hand only download those."""
    now = time.time() if now is None else now
    picked = FeedEntry.select(FeedEntry.feed).where(FeedEntry.status == "queued").distinct()
    due = {i: False for (i,) in picked.tuples()}
    due |= {i: True for (i,) in Feed.select(Feed.id).where(Feed.enabled & (Feed.next_run_at <= now)).tuples()}
    requested = Setting.select(Setting.key).where(Setting.key.startswith(RUN_REQUEST_PREFIX))
    due |= {int(key[len(RUN_REQUEST_PREFIX):]): True for (key,) in requested.tuples()}
    return dict(sorted(due.items()))


def run_due(runner: FeedRunner, keep_going: Any = lambda: True) -> list[RunSummary]:
    """Run every due task once, a few at a time; returns their summaries."""
    try:
        ids = due_tasks()
        Setting.delete().where(Setting.key.in_([f"{RUN_REQUEST_PREFIX}{i}" for i in ids])).execute()
        limit = options.load().maxConcurrentFeeds
    finally:
        close_connection()
    if not ids:
        return []
    with ThreadPoolExecutor(min(limit, len(ids)), "photonix-feed") as pool:
        return list(pool.map(lambda task_id: _run_one(runner, task_id, keep_going, not ids[task_id]), ids))


def running_tasks(now: float | None = None) -> list[int]:
    """Tasks with a run in progress in any process (their run lease is held)."""
    now = time.time() if now is None else now
    rows = Lease.select(Lease.name).where(Lease.name.startswith(RUN_LEASE_PREFIX) & (Lease.expires_at >= now))
    return sorted(int(name[len(RUN_LEASE_PREFIX):]) for (name,) in rows.tuples())


def sweep_temp_files(runner: FeedRunner) -> bool:
    """Remove temp files a killed run left in any task's folder (they are hidden from the gallery)."""
    removed = 0
    for feed in Feed.select():
        folder = runner.root / tasks.target_of(feed)
        if folder.is_dir():
            removed += store.clean_temp_files(folder, options.load().imageTimeoutSeconds + TEMP_GRACE_S)
    if removed:
        log.info("removed %d unfinished download(s) left by an earlier run", removed)
    return True


def _run_one(runner: FeedRunner, task_id: int, keep_going: Any, queued_only: bool) -> RunSummary:
    try:
        return runner.run(task_id, keep_going, queued_only=queued_only)
    except Exception:  # one broken task must not stop the others
        log.exception("download task %s failed unexpectedly", task_id)
        return RunSummary(task_id, status="failed", error="unexpected error; see the server log")
    finally:
        close_connection()


def make_runner(photos_dir: Path, max_image_pixels: int, publish: Publish = events.publish) -> FeedRunner:
    """The runner for this process: new files are indexed by the gallery's own indexer."""
    return FeedRunner(photos_dir, Indexer(photos_dir, publish).refresh_folder, publish, max_image_pixels)
