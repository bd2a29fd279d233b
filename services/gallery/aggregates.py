"""Counts and covers of albums: each Folder row's item count and cover (its newest readable photo, or a
sub-album's newer cover), and its months (services/gallery/timeline.py), recomputed after the index changes."""

from __future__ import annotations

from models import Folder, Media
from services.database import write_transaction
from services.gallery import timeline
from services.gallery.keys import parent_of, path_hash

AGGREGATES_PER_TRANSACTION = 100


def update_aggregates(changed: set[str]) -> None:
    """Recompute counts and covers of the changed folders and all their ancestors, deepest first."""
    todo: set[str] = set()
    for rel in changed:
        current: str | None = rel
        while current is not None:
            todo.add(current)
            current = parent_of(current)
    ordered = sorted(todo, key=lambda r: (-(r.count("/") + 1 if r else 0), r))
    for start in range(0, len(ordered), AGGREGATES_PER_TRANSACTION):
        with write_transaction():
            for rel in ordered[start:start + AGGREGATES_PER_TRANSACTION]:
                _aggregate(rel)


def _aggregate(rel: str) -> None:
    key = path_hash(rel)
    media_count = Media.select().where(Media.folder_hash == key).count()
    child_count = Folder.select().where(Folder.parent_hash == key).count()
    # Covers are photos whose header could be read (a broken file is indexed, but never a cover) and whose
    # thumbnail did not fail (a truncated file's header reads; services/gallery/placeholders.py marks it).
    readable_photo = ((Media.folder_hash == key) & (Media.kind == "photo") & Media.width.is_null(False)
                      & (Media.thumb_failed == 0))
    photo = (Media.select(Media.path, Media.mtime, Media.width, Media.height, Media.placeholder)
             .where(readable_photo).order_by(Media.mtime.desc()).first())
    child = (Folder.select(Folder.cover_path, Folder.cover_mtime, Folder.cover_width, Folder.cover_height,
                           Folder.cover_placeholder)
             .where((Folder.parent_hash == key) & Folder.cover_path.is_null(False))
             .order_by(Folder.cover_mtime.desc()).first())
    cover = (photo.path, photo.mtime, photo.width, photo.height, photo.placeholder) if photo else (None,) * 5
    if child and (photo is None or child.cover_mtime > photo.mtime):
        cover = (child.cover_path, child.cover_mtime, child.cover_width, child.cover_height, child.cover_placeholder)
    Folder.update(item_count=media_count + child_count, cover_path=cover[0], cover_mtime=cover[1],
                  cover_width=cover[2], cover_height=cover[3], cover_placeholder=cover[4]).where(
        Folder.path_hash == key).execute()
    timeline.aggregate_months(rel)
