"""Thumbnails for the indexed media: the app's Thumbnailer, its stats, and the batch that makes every
missing one (in the background-job process, from the API, or from `photonix thumbs`)."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from config import Config
from models import Media
from services import cpu, decode_budget, events, images, jobs
from services.database import close_connection
from services.gallery.keys import version
from services.thumbnails import Source, Thumbnailer

log = logging.getLogger("photonix.gallery")
JOB_NAME = "thumbnails"
PROGRESS_EVERY_S = 0.5
ROWS_PER_QUERY = 1000
STATS_MAX_AGE_S = 10.0
_stats_cache: dict[int, tuple[float, dict[str, int]]] = {}
_stats_lock = threading.Lock()
Progress = Callable[[int, int, int], Any]  # done, total, failed


def make_thumbnailer(config: Config) -> Thumbnailer:
    """The one Thumbnailer of a process; a thumbnail finished in the background is announced as an event."""
    # Pillow refuses above 2x its own limit and warns above 1x; ours (checked before decoding) decides.
    Image.MAX_IMAGE_PIXELS = config.max_image_pixels
    images.load_plugins()  # here, on the main thread, never first on a pool thread (services/images.py)
    budget = decode_budget.configure(config.decode_memory_mb * decode_budget.MIB)  # downloads share it
    return Thumbnailer(config.data_dir / "thumbs", config.thumb_width, config.max_image_pixels, on_ready=_announce,
                       budget=budget)


def source_for(real: Path, media: Media) -> Source:
    """The thumbnail source for a file on disk; its current stat decides the cache key (a replaced
    file gets a new thumbnail even before the index notices)."""
    stat = real.stat()
    return Source(real, media.path, stat.st_mtime, stat.st_size, media.kind)


def indexed_sources(root: Path) -> Iterator[Source]:
    """Every indexed media file as a Source with the index's mtime and size, in pages of rows."""
    last_id = 0
    while True:
        rows = list(Media.select(Media.id, Media.path, Media.mtime, Media.size, Media.kind)
                    .where(Media.id > last_id).order_by(Media.id).limit(ROWS_PER_QUERY).tuples())
        close_connection()
        for row_id, path, mtime, size, kind in rows:
            last_id = row_id
            yield Source(root / path, path, mtime, size, kind)
        if len(rows) < ROWS_PER_QUERY:
            return


def stats(thumbnailer: Thumbnailer, root: Path) -> dict[str, int]:
    """{total, ok, missing, failed, processing} over the index (file checks on the CPU pool). The counts are
    reused for STATS_MAX_AGE_S: on a big library they cost a second of pool time, and anyone may ask."""
    with _stats_lock:
        cached = _stats_cache.get(id(thumbnailer))
    if cached is None or time.monotonic() - cached[0] > STATS_MAX_AGE_S:
        sources = list(indexed_sources(root))
        counts = cpu.run_cpu(lambda: Counter(thumbnailer.status(s) for s in sources))
        cached = (time.monotonic(), {"total": len(sources), "ok": counts["ok"], "missing": counts["missing"],
                                     "failed": counts["failed"]})
        with _stats_lock:
            _stats_cache[id(thumbnailer)] = cached
    return {**cached[1], "processing": thumbnailer.in_flight()}


def make_missing(thumbnailer: Thumbnailer, root: Path, progress: Progress,
                 keep_going: Callable[[], bool] = lambda: True) -> tuple[int, int]:
    """Make every missing thumbnail with as many parallel workers as CPU threads; returns (done, failed).
    Resumable: what exists is skipped, so a stopped batch simply continues next time."""
    missing = [s for s in indexed_sources(root) if thumbnailer.status(s) == "missing"]
    work: queue.SimpleQueue[Source] = queue.SimpleQueue()
    for source in missing:
        work.put(source)
    tally = {"done": 0, "failed": 0}
    lock = threading.Lock()

    def worker() -> None:
        while keep_going():
            try:
                source = work.get_nowait()
            except queue.Empty:
                return
            failed = not os.path.exists(source.path) or thumbnailer.ensure(source).status == "failed"
            with lock:
                tally["done"] += 1
                tally["failed"] += failed
            progress(tally["done"], len(missing), tally["failed"])

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(cpu.size())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with _stats_lock:
        _stats_cache.clear()  # the counts just changed a lot: the next stats are fresh
    return tally["done"], tally["failed"]


def register_job(thumbnailer: Thumbnailer, root: Path) -> None:
    """The batch runs only when asked (POST /api/thumbnail/batch), in the lease-holding process."""
    jobs.register_on_request(JOB_NAME, lambda: run_batch(thumbnailer, root))


def run_batch(thumbnailer: Thumbnailer, root: Path, keep_going: Callable[[], bool] = jobs.is_leader) -> None:
    """Make the missing thumbnails, publishing thumbnail-progress and thumbnail-batch-complete."""
    started, last = time.monotonic(), [0.0]

    def progress(done: int, total: int, failed: int) -> None:
        if time.monotonic() - last[0] >= PROGRESS_EVERY_S or done == total:
            last[0] = time.monotonic()
            events.publish("thumbnail-progress", {"done": done, "total": total, "failed": failed})
            close_connection()

    done, failed = make_missing(thumbnailer, root, progress, keep_going)
    seconds = round(time.monotonic() - started, 3)
    log.info("thumbnail batch: %d made, %d failed in %.1fs", done - failed, failed, seconds)
    events.publish("thumbnail-batch-complete", {"done": done, "failed": failed, "seconds": seconds})


def _announce(source: Source) -> None:
    try:
        events.publish("thumbnail-generated", {"path": source.rel, "v": version(source.mtime)})
    finally:
        close_connection()
