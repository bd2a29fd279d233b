"""Thumbnails for the indexed media: the app's Thumbnailer (and its previewer), the cache check that needs no
index, their stats, and the batch that makes every missing thumbnail (in the background-job process, from the
API, or from `photonix thumbs`)."""

from __future__ import annotations

import logging
import os
import queue
import stat as stat_mode
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
from services.gallery import placeholders
from services.gallery.keys import version
from services.paths import GalleryPath, is_listed, media_kind
from services.thumbnails import Result, Source, Thumbnailer

log = logging.getLogger("photonix.gallery")
JOB_NAME = "thumbnails"
PROGRESS_EVERY_S = 0.5
ROWS_PER_QUERY = 1000
BATCH_WORKERS_AHEAD = 1  # batch workers beyond the CPU threads (see make_missing)
STATS_MAX_AGE_S = 10.0
_stats_cache: dict[int, tuple[float, dict[str, int]]] = {}
_stats_lock = threading.Lock()
Progress = Callable[[int, int, int], Any]  # done, total, failed


def make_thumbnailer(config: Config) -> Thumbnailer:
    """The one Thumbnailer of a process; a thumbnail finished in the background is announced as an event, and
    what thumbnails teach (placeholders, failures) goes into the index."""
    # Pillow refuses above 2x its own limit and warns above 1x; ours (checked before decoding) decides.
    Image.MAX_IMAGE_PIXELS = config.max_image_pixels
    images.load_plugins()  # here, on the main thread, never first on a pool thread (services/images.py)
    budget = decode_budget.configure(config.decode_memory_mb * decode_budget.MIB)  # downloads share it
    return placeholders.IndexedThumbnailer(config.data_dir / "thumbs", config.thumb_width, config.max_image_pixels,
                                           on_ready=_announce, budget=budget)


def make_previewer(config: Config) -> Thumbnailer:
    """The one previewer of a process: the same engine, fitting PREVIEW_SIZE on the long edge, in DATA_DIR/previews.
    After make_thumbnailer, which set Pillow up and the decode budget both share."""
    size = config.preview_size
    return Thumbnailer(config.data_dir / "previews", size, config.max_image_pixels, height=size,
                       budget=decode_budget.shared())


def cached(thumbnailer: Thumbnailer, found: GalleryPath) -> Result | None:
    """The made (or failed) image of a media file the gallery lists, from file checks alone; None otherwise.

    Answering without the index is safe: `found` passed resolve() (syntax, hidden names, symlinks that leave the
    root or loop) after the caller's auth check, and the scanner's other rules are checked here (every name
    is_listed, a media suffix, a regular file), so this never answers for a file browse would not list. The key
    is this file's current path, mtime and size, and a cache file only exists for a key an indexed file had."""
    names = found.rel.split("/")
    kind = media_kind(found.rel)
    if kind is None or not all(is_listed(name, "/".join(names[:n])) for n, name in enumerate(names)):
        return None
    try:
        stat = os.stat(found.real)
    except OSError:
        return None
    if not stat_mode.S_ISREG(stat.st_mode):
        return None
    return thumbnailer.cached(Source(found.real, found.rel, stat.st_mtime, stat.st_size, kind))


def source_for(real: Path, media: Media) -> Source:
    """The thumbnail source for a file on disk; its current stat decides the cache key (a replaced
    file gets a new thumbnail even before the index notices)."""
    stat = real.stat()
    return placeholders.indexed_source(real, media, stat.st_mtime, stat.st_size)


def indexed_sources(root: Path) -> Iterator[Source]:
    """Every indexed media file as an IndexedSource with the index's mtime and size, in pages of rows."""
    last_id = 0
    while True:
        rows = list(Media.select(Media.id, Media.path, Media.mtime, Media.size, Media.kind, Media.path_hash,
                                 Media.placeholder.is_null(False), Media.thumb_failed)
                    .where(Media.id > last_id).order_by(Media.id).limit(ROWS_PER_QUERY).tuples())
        close_connection()
        for row_id, path, mtime, size, kind, key, has_placeholder, failed in rows:
            last_id = row_id
            yield placeholders.IndexedSource(root / path, path, mtime, size, kind, key, bool(has_placeholder),
                                             bool(failed))
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
    """Make every missing thumbnail as batch work on every CPU thread; returns (done, failed). A request for a
    thumbnail goes first: it waits for a batch item running, never for the rest (services.cpu.Priority).
    The index learns what each teaches, and (not counted) what those made before teach: placeholders, failures.
    Resumable: what exists is skipped, so a stopped batch simply continues next time."""
    missing, unrecorded = _to_make(thumbnailer, root)
    work: queue.SimpleQueue[tuple[Source, bool]] = queue.SimpleQueue()
    for source, counted in [(s, True) for s in missing] + [(s, False) for s in unrecorded]:
        work.put((source, counted))
    tally = {"done": 0, "failed": 0}
    lock = threading.Lock()
    recorder = placeholders.Recorder()

    def worker() -> None:
        while keep_going():
            try:
                source, counted = work.get_nowait()
            except queue.Empty:
                return
            result = thumbnailer.ensure(source, batch=True) if os.path.exists(source.path) else None
            if result is not None:
                recorder.add(source, result)
            if counted:
                with lock:
                    tally["done"] += 1
                    tally["failed"] += result is None or result.status == "failed"
                progress(tally["done"], len(missing), tally["failed"])

    # One worker more than threads: its next item waits at the lane, so a thread that a batch item frees starts
    # the next at once instead of idling while a worker records, reports and fetches its next item.
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(cpu.size() + BATCH_WORKERS_AHEAD)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.flush()
    with _stats_lock:
        _stats_cache.clear()  # the counts just changed a lot: the next stats are fresh
    return tally["done"], tally["failed"]


def _to_make(thumbnailer: Thumbnailer, root: Path) -> tuple[list[Source], list[Source]]:
    """The sources whose thumbnail is missing, and those whose thumbnail (made or failed) the index has not learnt."""
    missing: list[Source] = []
    unrecorded: list[Source] = []
    for source in indexed_sources(root):
        status = thumbnailer.status(source)
        if status == "missing":
            missing.append(source)
        elif placeholders.needs_recording(source, status):
            unrecorded.append(source)
    return missing, unrecorded


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
