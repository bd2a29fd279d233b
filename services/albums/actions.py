"""What the album endpoints do, from a request, the CLI or a test: the file operation on the CPU pool, then the
index rows, counts and covers brought in step at once (a renamed album's rows are moved, with what was made for its
files), then one `album-changed {path}` event per folder whose listing changed (the parent; both parents never
differ, a rename stays in its folder). No Flask here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from errors import StorageFailed
from services import derived_upkeep, jobs
from services.albums import links, rename, trash
from services.cpu import run_cpu
from services.database import write_transaction
from services.gallery import tree_move
from services.gallery.index import Indexer, Publish
from services.gallery.keys import parent_of
from services.video.renditions import Renditions

TRASH_FOLDER = "trash"
PURGE_JOB = "trash-purge"
PURGE_INTERVAL_S = 3600.0

log = logging.getLogger("photonix.albums")


def trash_dir(data_dir: Path) -> Path:
    """The trash lives under DATA_DIR, never under the photos (config refuses a DATA_DIR inside PHOTOS_DIR)."""
    return data_dir / TRASH_FOLDER


def delete_album(root: Path, data_dir: Path, raw: str, publish: Publish) -> trash.TrashItem:
    with _disk_errors():
        item = run_cpu(trash.delete_album, root, trash_dir(data_dir), raw)
    log.info("album %r moved to the trash as %s", item.path, item.id)
    _reindex(root, publish, [item.path])
    return item


def restore(root: Path, data_dir: Path, item_id: str, publish: Publish) -> trash.TrashItem:
    with _disk_errors():
        item = run_cpu(trash.restore, root, trash_dir(data_dir), item_id)
    log.info("album %r restored from the trash (%s)", item.path, item.id)
    _reindex(root, publish, [item.path])
    return item


def purge(data_dir: Path, item_id: str) -> trash.TrashItem:
    with _disk_errors():
        item = run_cpu(trash.purge, trash_dir(data_dir), item_id)
    log.info("album %r purged from the trash (%s)", item.path, item.id)
    jobs.request_run(derived_upkeep.JOB_NAME)  # its captions and video renditions go too
    return item


def list_items(data_dir: Path) -> list[trash.TrashItem]:
    return run_cpu(trash.list_items, trash_dir(data_dir))


class Cache(Protocol):
    """What is kept per file version and path (thumbnails, previews, video renditions): carried along a rename."""

    def carry(self, old_rel: str, new_rel: str, mtime: float, size: int) -> bool: ...


def rename_album(root: Path, raw: str, name: object, publish: Publish, caches: Sequence[Cache] = ()) -> rename.Renamed:
    """The rename on disk, then its rows moved in the index with the share links and viewing history (one
    transaction), then what `caches` made for its files renamed along: nothing is read or made again. When the index
    did not know the album as it was (a scan or the watcher got there first), its folders are synced instead."""
    with _disk_errors():
        done = run_cpu(rename.rename_album, root, raw, name)
    if done.new == done.old:
        return done
    with write_transaction():
        moved = tree_move.move_tree(done.old, done.new)
        links_moved = links.carry(done.old, done.new)
    if moved is None:
        _reindex(root, publish, [done.old, done.new])
    else:
        run_cpu(_carry_files, caches, moved)
        publish("album-changed", {"path": parent_of(done.new) or ""})
    log.info("album %r renamed to %r (%s files moved in the index; %d share links and viewing records follow it)",
             done.old, done.new, "no" if moved is None else len(moved), links_moved)
    return done


def _carry_files(caches: Sequence[Cache], moved: list[tree_move.MovedFile]) -> None:
    """Best effort: what cannot be carried (a cache folder not writable) is made again when asked for."""
    try:
        for cache in caches:
            videos_only = isinstance(cache, Renditions)
            for file in moved:
                if file.kind == "video" or not videos_only:
                    cache.carry(file.old, file.new, file.mtime, file.size)
    except OSError as exc:
        log.warning("renamed album: its thumbnails or renditions could not all be kept (%s); they are made again", exc)


def register_job(root: Path, data_dir: Path, trash_days: Callable[[], int]) -> None:
    """In the lease-holding process: purge what is older than trashDays (read at each run), and tidy after crashes."""
    def purge_expired() -> None:
        if run_cpu(trash.purge_expired, root, trash_dir(data_dir), trash_days()):
            jobs.request_run(derived_upkeep.JOB_NAME)

    jobs.register_periodic(PURGE_JOB, PURGE_INTERVAL_S, purge_expired)


@contextlib.contextmanager
def _disk_errors() -> Iterator[None]:
    """A file system refusal (no space, no permission, read-only) is the server's disk, not the request: 503."""
    try:
        yield
    except OSError as exc:
        log.warning("album action failed on the disk: %s", exc)
        raise StorageFailed(f"The server could not move the album: {exc.strerror or exc}.") from None


def _reindex(root: Path, publish: Publish, rels: list[str]) -> None:
    """The folders of `rels` synced from the disk (a gone one forgotten, a new one walked), their parents' counts and
    covers recomputed; the file watcher may sync the same folders again, which changes nothing."""
    Indexer(root).sync_folders(rels)
    for parent in sorted({parent_of(rel) or "" for rel in rels}):
        publish("album-changed", {"path": parent})
