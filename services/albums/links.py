"""What follows an album when it is renamed: the share links to it or to anything in it (they keep working, at the
new path) and its viewing history ("recently viewed"). One short transaction; no Flask here. A crash between the
rename on disk and this leaves links at the old path (they answer 404 until renamed back): nothing is lost.
"""

from __future__ import annotations

from peewee import fn

from models import Share, View, database
from services.gallery.keys import path_hash


def carry(old: str, new: str) -> int:
    """Point share links and viewing history at `new` wherever they named `old` or a path below it; the count moved."""
    moved = 0
    with database.atomic():
        for share in Share.select(Share.id, Share.path).where(_at_or_below(Share.path, old)):
            Share.update(path=_moved(share.path, old, new)).where(Share.id == share.id).execute()
            moved += 1
        for (path,) in View.select(View.path).where(_at_or_below(View.path, old)).distinct().tuples():
            target = _moved(path, old, new)
            moved += View.update(path=target, path_hash=path_hash(target)).where(View.path == path).execute()
    return moved


def _at_or_below(field, rel: str):
    """Exactly `rel` or below it (by characters, as index_rows.remove_tree: LIKE would ignore case and wildcards)."""
    prefix = rel + "/"
    return (field == rel) | (fn.SUBSTR(field, 1, len(prefix)) == prefix)


def _moved(path: str, old: str, new: str) -> str:
    return new + path[len(old):]
