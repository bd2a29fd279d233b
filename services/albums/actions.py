"""What the album endpoints do, from a request, the CLI or a test: the file operation on the CPU pool, then the
index rows, counts and covers brought in step at once, then one `album-changed {path}` event per folder whose
listing changed (the parent; both parents never differ, a rename stays in its folder). No Flask here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from errors import StorageFailed
from services import jobs
from services.albums import links, rename, trash
from services.cpu import run_cpu
from services.gallery.index import Indexer, Publish
from services.gallery.keys import parent_of

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
    return item


def list_items(data_dir: Path) -> list[trash.TrashItem]:
    return run_cpu(trash.list_items, trash_dir(data_dir))


def rename_album(root: Path, raw: str, name: object, publish: Publish) -> rename.Renamed:
    with _disk_errors():
        done = run_cpu(rename.rename_album, root, raw, name)
    if done.new != done.old:
        moved = links.carry(done.old, done.new)
        log.info("album %r renamed to %r (%d share links and viewing records follow it)", done.old, done.new, moved)
        _reindex(root, publish, [done.old, done.new])
    return done


def register_job(root: Path, data_dir: Path, trash_days: Callable[[], int]) -> None:
    """In the lease-holding process: purge what is older than trashDays (read at each run), and tidy after crashes."""
    jobs.register_periodic(PURGE_JOB, PURGE_INTERVAL_S,
                           lambda: run_cpu(trash.purge_expired, root, trash_dir(data_dir), trash_days()))


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
