"""Search by AI caption: the photos whose kept caption of their current version contains a text, for
services/gallery/browse.search.

The caption table holds only the photos someone had described, so its folded text is scanned (search.contains
on a column without a search index); each match is joined to its photo by the unique path_hash index and kept
only while the photo's mtime and size are still those the caption was made of.
"""

from __future__ import annotations

from typing import Any

from models import Caption, Media
from services.gallery import search


def described(text: str) -> Any | None:
    """A subquery of the Media ids whose current caption contains `text` (folded), or None when no caption does
    (the common case: the name search then stays exactly as it is, counted through its own index)."""
    if not text:
        return None
    photo = Media.alias("described")
    matching = (Caption.select(photo.id)
                .join(photo, on=((photo.path_hash == Caption.path_hash) & (photo.mtime == Caption.mtime)
                                 & (photo.size == Caption.size)))
                .where(search.contains(text, Caption.text_folded)))
    return matching if matching.exists() else None
