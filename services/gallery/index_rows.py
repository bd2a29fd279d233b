"""The index's writes: Media rows of one folder's changes, Folder rows of the tree. No Flask; the caller holds
the transaction (services/gallery/index.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from peewee import fn

from models import Folder, Media, database
from services.database import insert_ignoring_conflicts
from services.gallery import details, scanner, timeline, videometa
from services.gallery.keys import fold, name_of, natural_key, parent_of, path_hash

BATCH_ROWS = 500
MEDIA_FIELDS = (Media.path_hash, Media.path, Media.folder_hash, Media.name, Media.sort_key, Media.name_folded,
                Media.folder_folded, Media.kind, Media.mime, Media.size, Media.mtime, Media.width, Media.height,
                *details.DETAIL_FIELDS, Media.placeholder, Media.thumb_failed)


@dataclass(frozen=True)
class MediaChange:
    rows: list[tuple]  # new or changed files, in MEDIA_FIELDS order
    replaced: set[str]  # path hashes among rows that are already indexed (changed in place)
    gone: list[str]  # path hashes of files no longer there


def write_media(change: MediaChange, between: Callable[[], None] = lambda: None) -> None:
    """Writes `change` in batches of BATCH_ROWS rows, calling `between` after each (the scan feeds its header
    readers there)."""
    for start in range(0, len(change.rows), BATCH_ROWS):
        batch = change.rows[start:start + BATCH_ROWS]
        replaced = [row[0] for row in batch if row[0] in change.replaced]
        with database.atomic():
            if replaced:
                Media.delete().where(Media.path_hash.in_(replaced)).execute()
            insert_ignoring_conflicts(Media, MEDIA_FIELDS, batch)
        between()
    for start in range(0, len(change.gone), BATCH_ROWS):
        Media.delete().where(Media.path_hash.in_(change.gone[start:start + BATCH_ROWS])).execute()


def media_row(rel: str, entry: scanner.FileEntry, found: scanner.Probe, video: videometa.VideoMeta | None,
              old: tuple | None) -> tuple:
    """A row in MEDIA_FIELDS order (tuples: peewee builds big inserts from them much faster than from dicts); `old`
    is what the index had for this name: (size, mtime, meta_version, placeholder, thumb_failed)."""
    path = f"{rel}/{entry.name}" if rel else entry.name
    width, height = (found.width, found.height) if video is None else (video.width, video.height)
    values = details.photo_values(found.details, entry.mtime) if video is None else \
        details.video_values(video, entry.mtime)
    return (path_hash(path), path, path_hash(rel), entry.name, natural_key(entry.name), fold(entry.name),
            fold(name_of(rel)), entry.kind, found.mime, entry.size, entry.mtime, width, height, *values,
            *_thumbnail_facts(old, entry))


def _thumbnail_facts(old: tuple | None, entry: scanner.FileEntry) -> tuple[str | None, int]:
    """(placeholder, thumb_failed) for a new row: kept when only the details are read again, reset for a new file."""
    return (old[3], old[4]) if old is not None and old[:2] == (entry.size, entry.mtime) else (None, 0)


def ensure_folder(rel: str) -> None:
    parent = parent_of(rel)
    name = name_of(rel)
    Folder.insert(path_hash=path_hash(rel), path=rel, parent_hash=None if parent is None else path_hash(parent),
                  name=name, sort_key=natural_key(name), name_folded=fold(name)).on_conflict_ignore().execute()


def known_ancestor(rel: str) -> str:
    """`rel` when the index knows it, else its nearest ancestor that it knows (the root at last)."""
    while rel and not Folder.select().where(Folder.path_hash == path_hash(rel)).exists():
        rel = parent_of(rel) or ""
    return rel


def known_children(rel: str) -> set[str]:
    return {name for (name,) in Folder.select(Folder.name).where(Folder.parent_hash == path_hash(rel)).tuples()}


def sync_children(rel: str, names: list[str]) -> bool:
    """Folder rows for the sub-folders `names` of `rel` (new ones added, gone ones removed with their trees);
    True when they differed."""
    known = known_children(rel)
    for name in set(names) - known:
        ensure_folder(f"{rel}/{name}" if rel else name)
    for name in known - set(names):
        remove_tree(f"{rel}/{name}" if rel else name)
    return known != set(names)


def remove_tree(rel: str) -> bool:
    """Forget a folder and everything below it; True when anything was there."""
    prefix = rel + "/"
    below = fn.SUBSTR(Folder.path, 1, len(prefix)) == prefix
    media_below = fn.SUBSTR(Media.path, 1, len(prefix)) == prefix
    folders = (Folder.path_hash == path_hash(rel)) | below
    with database.atomic():
        timeline.forget_months(folders)
        removed = Folder.delete().where(folders).execute()
        removed += Media.delete().where(media_below).execute()
    return removed > 0
