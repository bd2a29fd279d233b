"""What visitors query: one album's page (albums first, then media), search, and viewing history.

Pages combine two ordered queries (albums, media) so each stays an index scan; totals are real even
for a page past the end. Natural order comes from Folder/Media.sort_key compared as plain bytes.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Any

from peewee import JOIN, SQL, fn

from errors import ValidationFailed
from models import Folder, Media, View, database
from services.database import is_postgres
from services.gallery import query
from services.gallery.keys import parent_of, path_hash

SORTS = ("smart", "name_asc", "name_desc", "mtime_asc", "mtime_desc", "taken_desc", "taken_asc", "viewed_desc")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_QUERY_CHARS = 200
MAX_VIEWS_LISTED = 100
MAX_VIEWS_PER_VIEWER = MAX_VIEWS_LISTED  # rows kept per viewer: more could never be listed


# Rows are namedtuples with these columns (model instances cost ~7 ms more per page of 200).
ALBUM_COLUMNS = (Folder.name, Folder.path, Folder.mtime, Folder.item_count, Folder.cover_path, Folder.cover_mtime,
                 Folder.cover_width, Folder.cover_height, Folder.cover_placeholder)
MEDIA_COLUMNS = (Media.kind, Media.name, Media.path, Media.mtime, Media.size, Media.width, Media.height,
                 Media.taken_at, Media.duration, Media.placeholder)


@dataclass(frozen=True)
class Page:
    albums: list[Any]
    media: list[Any]
    page: int
    limit: int
    total_results: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total_results / self.limit)


def paging(page: Any, limit: Any) -> tuple[int, int]:
    """Validated (page, limit) from query-string text; 400 naming the field otherwise."""
    return _integer(page, "page", 1, 1, 1_000_000), _integer(limit, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def album_page(rel: str, viewer: str | None, sort: str, page: int, limit: int) -> Page:
    if sort not in SORTS:
        raise ValidationFailed("sort", f"sort must be one of {', '.join(SORTS)}.")
    key = path_hash(rel)
    albums = _albums_ordered(Folder.parent_hash == key, viewer, sort)
    media = Media.select(*MEDIA_COLUMNS).where(Media.folder_hash == key).order_by(*_media_order(sort))
    return page_of(albums, media, page, limit)


def search(raw: str, page: int, limit: int, folders_within=None, media_within=None) -> tuple[query.Query, Page]:
    """Albums, then photos and videos, whose name (or, for media, whose album's name) contains the query's
    text. With filters (services/gallery/query.py), only the media they all match, newest taken first.
    `folders_within` / `media_within`: conditions the results must also meet (a share link's scope)."""
    parsed = query.parse(raw.strip(), MAX_QUERY_CHARS)
    text = parsed.folded
    folders_within = SQL("1 = 1") if folders_within is None else folders_within
    media_within = SQL("1 = 1") if media_within is None else media_within
    named = query.contains(Media.name_folded, text) | query.contains(Media.folder_folded, text)
    if parsed.filters:
        condition = query.media_condition(parsed.filters) & media_within
        media = (Media.select(*MEDIA_COLUMNS).where(condition & named if text else condition)
                 .order_by(Media.taken_key.desc(), natural(Media), Media.path))
        return parsed, page_of(None, media, page, limit)
    albums = (Folder.select(*ALBUM_COLUMNS).where(query.contains(Folder.name_folded, text) & folders_within)
              .order_by(natural(Folder), Folder.path))
    media = Media.select(*MEDIA_COLUMNS).where(named & media_within).order_by(natural(Media), Media.path)
    return parsed, page_of(albums, media, page, limit)


def record_view(viewer: str, rel: str) -> None:
    """Remember that `viewer` opened album `rel` now (one row per viewer and album); a viewer keeps only its
    MAX_VIEWS_PER_VIEWER newest rows, so no viewer grows the table without bound."""
    now = time.time()
    with database.atomic():
        (View.insert(viewer=viewer, path_hash=path_hash(rel), path=rel, viewed_at=now)
         .on_conflict(conflict_target=[View.viewer, View.path_hash], update={View.viewed_at: now}).execute())
        newest = (View.select(View.path_hash).where(View.viewer == viewer).order_by(View.viewed_at.desc())
                  .limit(MAX_VIEWS_PER_VIEWER))
        View.delete().where((View.viewer == viewer) & View.path_hash.not_in(newest)).execute()


def recently_viewed(viewer: str | None, limit: int) -> list[Any]:
    """The albums `viewer` opened, most recent first (albums that no longer exist are left out)."""
    if viewer is None:
        return []
    return list(Folder.select(*ALBUM_COLUMNS, View.viewed_at).join(View, on=(View.path_hash == Folder.path_hash))
                .where(View.viewer == viewer).order_by(View.viewed_at.desc()).limit(min(limit, MAX_VIEWS_LISTED))
                .namedtuples())


def random_recent_photo(among: int) -> Any:
    """One of the `among` newest photos, at random (the login page's background), or None."""
    recent = list(Media.select(Media.path, Media.mtime).where(Media.kind == "photo")
                  .order_by(Media.mtime.desc()).limit(among))
    return random.choice(recent) if recent else None  # noqa: S311 (decoration, not security)


def breadcrumbs(rel: str) -> list[tuple[str, str]]:
    """(name, path) from the root down to `rel`; the root's name is empty."""
    crumbs, current = [], rel
    while current is not None:
        crumbs.append((current.rpartition("/")[2], current))
        current = parent_of(current)
    return crumbs[::-1]


def _albums_ordered(condition, viewer: str | None, sort: str):
    newest = fn.COALESCE(Folder.cover_mtime, Folder.mtime)
    query = Folder.select(*ALBUM_COLUMNS).join(
        View, JOIN.LEFT_OUTER, on=((View.path_hash == Folder.path_hash) & (View.viewer == (viewer or ""))))
    viewed_first = fn.COALESCE(View.viewed_at, -1).desc()
    order = {
        "name_asc": (natural(Folder), Folder.path),
        "name_desc": (natural(Folder).desc(), Folder.path.desc()),
        "mtime_asc": (newest, natural(Folder)),
        "mtime_desc": (newest.desc(), natural(Folder)),
        "taken_asc": (newest, natural(Folder)),
        "taken_desc": (newest.desc(), natural(Folder)),
        "smart": (viewed_first, newest.desc(), natural(Folder)),
        "viewed_desc": (viewed_first, natural(Folder)),
    }[sort]
    return query.where(condition).order_by(*order)


def _media_order(sort: str) -> tuple:
    return {
        "name_asc": (natural(Media), Media.path),
        "name_desc": (natural(Media).desc(), Media.path.desc()),
        "mtime_asc": (Media.mtime, natural(Media)),
        "mtime_desc": (Media.mtime.desc(), natural(Media)),
        "taken_asc": (Media.taken_key, natural(Media)),
    }.get(sort, (Media.taken_key.desc(), natural(Media)))  # smart, taken_desc, viewed_desc: newest taken first


def page_of(albums, media, page: int, limit: int) -> Page:
    """Page `page` of the albums query's rows followed by the media query's (albums None: media only)."""
    with database.atomic():  # one snapshot for the counts and the rows
        album_total, media_total = albums.count() if albums is not None else 0, media.count()
        start = (page - 1) * limit
        album_rows = list(albums.offset(start).limit(limit).namedtuples()) if start < album_total else []
        media_start = max(0, start - album_total)
        wanted = limit - len(album_rows)
        media_rows = list(media.offset(media_start).limit(wanted).namedtuples()) \
            if wanted and media_start < media_total else []
    return Page(album_rows, media_rows, page, limit, album_total + media_total)


def natural(model):
    """sort_key compared byte by byte (PostgreSQL's locale collation would ignore punctuation)."""
    return model.sort_key.collate('"C"') if is_postgres() else model.sort_key


def _integer(value: Any, field: str, default: int, lo: int, hi: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(field, f"{field} must be a whole number.") from None
    if not lo <= number <= hi:
        raise ValidationFailed(field, f"{field} must be from {lo} to {hi}.")
    return number
