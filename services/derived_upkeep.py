"""What the gallery made for files that are gone, removed once the index is known to be complete: AI captions of
photo versions it no longer holds, and HLS renditions (hundreds of megabytes each) of videos removed or replaced.
Both stay while the file lies in the trash (a restored album gets them back as they were). Thumbnails and previews
stay: they are small, and a million of them is too many to list for this. Runs in the lease-holding process, after
an index change that removed or replaced files, and daily. No Flask.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services import jobs
from services.ai import captions
from services.albums import trash
from services.cpu import Priority, run_cpu_at
from services.gallery import index
from services.paths import media_kind
from services.video import batch
from services.video.renditions import Renditions

JOB_NAME = "prune-derived"
INTERVAL_S = 86400.0
log = logging.getLogger("photonix.gallery")


@dataclass(frozen=True)
class Pruned:
    captions: int
    renditions: int


def prune(renditions: Renditions, trash_dir: Path) -> Pruned | None:
    """Remove what was made for files neither indexed nor in the trash; None (nothing done) while the index is not
    known complete: a scan under way or cut short has not listed every file yet."""
    if not index.last_scan_complete():
        log.info("derived files not pruned: the index is not complete (a scan runs or was cut short)")
        return None
    started = time.time()
    items = run_cpu_at(Priority(batch=True), trash.list_items, trash_dir)
    gone_captions = captions.prune([item.path for item in items])
    keep = {renditions.key(facts.path, mtime, facts.size) for facts, mtime in batch.indexed_videos()}
    keep |= run_cpu_at(Priority(batch=True), _trashed_video_keys, renditions, trash_dir, items)
    gone_renditions = run_cpu_at(Priority(batch=True), renditions.prune, keep, started)
    if gone_captions or gone_renditions:
        log.info("pruned %d AI captions and %d video renditions of files no longer in the gallery",
                 gone_captions, gone_renditions)
    return Pruned(gone_captions, gone_renditions)


def register_job(renditions: Renditions, trash_dir: Path) -> None:
    """In the lease-holding process: daily, when following_index() asks (files removed or replaced), and after the
    trash was purged."""
    jobs.register_periodic(JOB_NAME, INTERVAL_S, lambda: prune(renditions, trash_dir))


def following_index(publish: Callable[[str, dict[str, Any]], Any]) -> Callable[[str, dict[str, Any]], Any]:
    """`publish` for the index and the watcher, which also asks for the video batch once they added or changed files
    (new videos get their rendition at once, not at the batch's next interval), and for the pruning once they
    removed or changed some."""

    def publish_and_follow(kind: str, data: dict[str, Any]) -> Any:
        published = publish(kind, data)
        if kind == "index-complete":
            if data.get("added") or data.get("updated"):
                jobs.request_run(batch.JOB_NAME)
            if data.get("removed") or data.get("updated"):
                jobs.request_run(JOB_NAME)
        return published

    return publish_and_follow


def _trashed_video_keys(renditions: Renditions, trash_dir: Path, items: list[trash.TrashItem]) -> set[str]:
    return {renditions.key(rel, stat.st_mtime, stat.st_size)
            for item in items for rel, stat in trash.files(trash_dir, item) if media_kind(rel) == "video"}
