"""What follows an album when it is renamed: the share links to it or to anything in it (they keep working, at the
new path) and its viewing history ("recently viewed"). One short transaction; no Flask here. A crash between the
rename on disk and this leaves links at the old path (they answer 404 until renamed back): nothing is lost.
"""

from __future__ import annotations

from models import Share, View, database
from services.gallery.keys import path_hash
from services.gallery.tree_move import at_or_below, moved_path


def carry(old: str, new: str) -> int:
    """Point share links and viewing history at `new` wherever they named `old` or a path below it; the count moved."""
    moved = 0
    with database.atomic():
        for share in Share.select(Share.id, Share.path).where(at_or_below(Share.path, old)):
            Share.update(path=moved_path(share.path, old, new)).where(Share.id == share.id).execute()
            moved += 1
        for (path,) in View.select(View.path).where(at_or_below(View.path, old)).distinct().tuples():
            target = moved_path(path, old, new)
            moved += View.update(path=target, path_hash=path_hash(target)).where(View.path == path).execute()
    return moved

