"""The videos' HLS renditions for the whole index: their status counts, and the batch that makes the missing ones
(one ffmpeg at a time by default) in the background-job process, from the API or from `photonix videos`.
Resumable: a made rendition is skipped, an interrupted one starts again. No Flask."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from config import Config
from errors import AppError
from models import Media
from services import cpu, events, jobs
from services.database import close_connection
from services.gallery.keys import version
from services.logtext import escape
from services.paths import resolve
from services.video import transcoder
from services.video.playable import MIB, VideoFacts
from services.video.renditions import FAILED_SUFFIX, Renditions, VideoSource

log = logging.getLogger("photonix.video")
JOB_NAME = "videos"
JOB_INTERVAL_S = 300.0  # also picks up videos the index found since
PROGRESS_EVERY_S = 1.0
ROWS_PER_QUERY = 1000
STATS_MAX_AGE_S = 10.0
_stats_cache: dict[Path, tuple[float, dict[str, int]]] = {}
_stats_lock = threading.Lock()
Progress = Callable[[str, float, int, int], Any]  # path, fraction of that video, done, total


def make_renditions(config: Config) -> Renditions:
    """The renditions of this gallery, in DATA_DIR/video; made only where ffmpeg and ffprobe are installed."""
    return Renditions(config.data_dir / "video", config.video_direct_max_mb * MIB,
                      enabled=transcoder.find_tools() is not None)


def indexed_videos() -> Iterator[tuple[VideoFacts, float]]:
    """Every indexed video's facts and mtime, in pages of rows."""
    last_id = 0
    while True:
        rows = list(Media.select(Media.id, Media.path, Media.size, Media.codec, Media.audio_codec, Media.mtime)
                    .where((Media.kind == "video") & (Media.id > last_id)).order_by(Media.id)
                    .limit(ROWS_PER_QUERY).tuples())
        close_connection()
        for row_id, path, size, codec, audio, mtime in rows:
            last_id = row_id
            yield VideoFacts(path, size, codec, audio), mtime
        if len(rows) < ROWS_PER_QUERY:
            return


def stats(renditions: Renditions) -> dict[str, int]:
    """{videos, direct, ready, pending, running, failed} over the index (file checks, on the CPU pool). Reused for
    STATS_MAX_AGE_S, as anyone may ask; a batch's end forgets them."""
    with _stats_lock:
        cached = _stats_cache.get(renditions.root)
    if cached is not None and time.monotonic() - cached[0] <= STATS_MAX_AGE_S:
        return cached[1]
    videos = list(indexed_videos())

    def count() -> Counter[str]:
        counts: Counter[str] = Counter(videos=len(videos))
        for facts, mtime in videos:
            if renditions.needs_rendition(facts):
                counts[renditions.state(renditions.key(facts.path, mtime, facts.size))] += 1
            else:
                counts["direct"] += 1
        return counts

    counts = cpu.run_cpu(count)
    answer = {name: counts[name] for name in ("videos", "direct", "ready", "pending", "running", "failed")}
    with _stats_lock:
        _stats_cache[renditions.root] = (time.monotonic(), answer)
    return answer


def make_missing(renditions: Renditions, root: Path, progress: Progress, threads: int,
                 keep_going: Callable[[], bool] = lambda: True,
                 on_done: Callable[[VideoSource, str], Any] = lambda s, state: None) -> tuple[int, int]:
    """Make every missing rendition, `threads` ffmpegs at a time; returns (made, failed). on_done(source, state)
    after each video whose state is then "ready" or "failed"."""
    tools = transcoder.find_tools()
    if tools is None or not renditions.enabled:
        return 0, 0
    cpu.run_cpu_at(cpu.Priority(batch=True), renditions.sweep)  # file work: on the pool, never on the hub
    todo = list(_missing(renditions, root))
    work: queue.SimpleQueue[VideoSource] = queue.SimpleQueue()
    for source in todo:
        work.put(source)
    tally = {"done": 0, "made": 0, "failed": 0}
    lock = threading.Lock()

    def worker() -> None:
        while keep_going():
            try:
                source = work.get_nowait()
            except queue.Empty:
                return
            try:
                state = transcoder.build(renditions, tools, source, lambda f, s=source: progress(
                    s.rel, f, tally["done"], len(todo)), keep_going).state
            except Exception:  # the server's side (a full disk, ffmpeg gone): the next run tries it again
                log.exception("HLS rendition of %s could not be made", escape(source.rel))
                state = "error"
            if state == "stopped":
                return
            with lock:
                tally["done"] += 1
                tally["made"] += state == "ready"
                tally["failed"] += state in ("failed", "error")
            if state in ("ready", "failed"):
                on_done(source, state)
            progress(source.rel, 1.0, tally["done"], len(todo))

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, threads))]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    with _stats_lock:
        _stats_cache.clear()
    return tally["made"], tally["failed"]


def forget_failures(renditions: Renditions) -> int:
    """Forget every remembered failure (the next batch tries those videos again); returns how many."""
    if not renditions.root.is_dir():
        return 0
    markers = list(renditions.root.glob(f"*{FAILED_SUFFIX}"))
    for marker in markers:
        marker.unlink(missing_ok=True)
    return len(markers)


def _missing(renditions: Renditions, root: Path) -> Iterator[VideoSource]:
    for facts, mtime in indexed_videos():
        if not renditions.needs_rendition(facts):
            continue
        if renditions.state(renditions.key(facts.path, mtime, facts.size)) != "pending":
            continue
        try:
            found = resolve(root, facts.path)  # never a file outside the gallery, even through a changed link
        except AppError:
            continue
        yield VideoSource(found.real, facts.path, mtime, facts.size)


def run_batch(renditions: Renditions, root: Path, threads: int,
              keep_going: Callable[[], bool] = jobs.is_leader, also: Progress | None = None) -> tuple[int, int]:
    """Make the missing renditions, publishing video-progress, video-ready, video-failed and video-batch-complete
    (from the server's job and from `photonix videos` alike: the servers' clients hear of both); `also` is told
    every step (the CLI's progress bar). Returns (made, failed)."""
    started, last = time.monotonic(), [0.0]

    def progress(path: str, fraction: float, done: int, total: int) -> None:
        if also is not None:
            also(path, fraction, done, total)
        if time.monotonic() - last[0] >= PROGRESS_EVERY_S or fraction >= 1.0:
            last[0] = time.monotonic()
            _publish("video-progress", {"path": path, "progress": round(fraction, 3), "done": done, "total": total})

    def done(source: VideoSource, state: str) -> None:
        _publish(f"video-{state}", {"path": source.rel, "v": version(source.mtime)})

    made, failed = make_missing(renditions, root, progress, threads, keep_going, done)
    if made or failed:
        seconds = round(time.monotonic() - started, 3)
        log.info("video renditions: %d made, %d failed in %.1fs", made, failed, seconds)
        _publish("video-batch-complete", {"made": made, "failed": failed, "seconds": seconds})
    return made, failed


def register_job(renditions: Renditions, root: Path, threads: int) -> None:
    """In the lease-holding process: at once when it starts leading (so an interrupted batch resumes after a
    restart), every JOB_INTERVAL_S for videos indexed since, and when POST /api/video/batch asks."""
    jobs.register_periodic(JOB_NAME, JOB_INTERVAL_S, lambda: run_batch(renditions, root, threads))


def _publish(kind: str, data: dict[str, Any]) -> None:
    try:
        events.publish(kind, data)
    finally:
        close_connection()
