"""What visitors query: one album's page (albums first, then media), search, and viewing history.

Pages combine two ordered queries (albums, media) so each stays an index scan; totals are real even
for a page past the end. Natural order comes from Folder/Media.sort_key compared as plain bytes.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, replace
from typing import Any

from peewee import JOIN, SQL, fn

from errors import ValidationFailed
from models import Folder, Media, View, database
from services.ai import caption_search
from services.database import is_postgres
from services.gallery import keyset, listing, query
from services.gallery import search as name_search
from services.gallery.keys import parent_of, path_hash

SORTS = ("smart", "name_asc", "name_desc", "mtime_asc", "mtime_desc", "taken_desc", "taken_asc", "viewed_desc")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_QUERY_CHARS = 200
MAX_VIEWS_LISTED = 100
MAX_VIEWS_PER_VIEWER = MAX_VIEWS_LISTED  # rows kept per viewer: more could never be listed
DEEP_OFFSET = 1000  # numbered album pages starting this far into the media are read as keyset ranges


# Rows are namedtuples with these columns (services/gallery/listing.py; model instances cost ~7 ms more per page
# of 200).
ALBUM_COLUMNS = (Folder.name, Folder.path, Folder.mtime, Folder.item_count, Folder.cover_path, Folder.cover_mtime,
                 Folder.cover_width, Folder.cover_height, Folder.cover_placeholder)
MEDIA_COLUMNS = (Media.kind, Media.name, Media.path, Media.mtime, Media.size, Media.width, Media.height,
                 Media.taken_at, Media.duration, Media.placeholder, Media.codec, Media.audio_codec)


@dataclass(frozen=True)
class Page:
    albums: list[Any]
    media: list[Any]
    page: int
    limit: int
    total_results: int
    next_cursor: str | None = None  # album pages: where the next page starts (None: this is the last)

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total_results / self.limit)


def paging(page: Any, limit: Any) -> tuple[int, int]:
    """Validated (page, limit) from query-string text; 400 naming the field otherwise."""
    return _integer(page, "page", 1, 1, 1_000_000), _integer(limit, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def album_page(rel: str, viewer: str | None, sort: str, page: int, limit: int, cursor: str | None = None,
               secret: str = "") -> Page:
    """Page `page` of album `rel`, or with `cursor` (the next_cursor of a page of the same album and sort, signed
    with `secret`) the page after that one, read from where it ended: the same cost at any depth, and neither
    repeats nor skips rows that were there all along when rows before it come or go. Totals are counted now."""
    if sort not in SORTS:
        raise ValidationFailed("sort", f"sort must be one of {', '.join(SORTS)}.")
    key = path_hash(rel)
    parts = [keyset.Part(_albums_of(key, viewer), _album_order(sort)),
             keyset.Part(Media.select(*MEDIA_COLUMNS).where(Media.folder_hash == key), _media_order(sort))]
    cursors = keyset.Cursors(secret, f"{sort}:{key}", parts)
    if cursor:
        return _page_after(parts, cursors, cursors.read(cursor), limit)
    deep = _deep_position(parts, (page - 1) * limit)
    if deep is not None:
        return _page_after(parts, cursors, deep, limit)
    found = page_of(parts[0].ordered(), parts[1].ordered(), page, limit)
    last = (1, found.media[-1]) if found.media else (0, found.albums[-1]) if found.albums else None
    served = (page - 1) * limit + len(found.albums) + len(found.media)
    more = last is not None and served < found.total_results
    return replace(found, next_cursor=cursors.make(*last, served) if more else None)


def search(raw: str, page: int, limit: int, folders_within=None, media_within=None) -> tuple[query.Query, Page]:
    """Albums, then photos and videos, whose name (or, for media, whose album's name) contains the query's
    text. With filters (services/gallery/query.py), only the media they all match, newest taken first.
    `folders_within` / `media_within`: conditions the results must also meet (a share link's scope). Media are
    counted up to search.COUNTED_MAX: the page is a search_pages.SearchPage, whose total may be a lower bound."""
    from services.gallery import search_pages  # here: it builds on this module's Page

    parsed = query.parse(raw.strip(), MAX_QUERY_CHARS)
    text = parsed.folded
    folders_within = SQL("1 = 1") if folders_within is None else folders_within
    named, found = name_search.matching(text, Media.name_folded, Media.folder_folded) if text else (None, None)
    few = bool(text) and (found is None or found < name_search.COUNTED_MAX)  # a rare text: sorted, never walked
    described = caption_search.described(text)  # photos whose AI caption holds the text (services/ai/)
    if described is not None:  # the index counted names only: the page's query counts the rows instead
        named, found = named | Media.id.in_(described), None
    found = found if media_within is None else None  # the index counted the whole library's rows
    media_within = SQL("1 = 1") if media_within is None else media_within
    if parsed.filters:  # an album's photos are few enough to sort (its per-folder rows are found by index)
        in_albums = query.album_media(parsed.filters)
        walked = not few and (in_albums is None or in_albums > search_pages.SORTED_MAX)
        condition = query.media_condition(parsed.filters) & media_within
        media = (Media.select(*MEDIA_COLUMNS).where(condition & named if text else condition)
                 .order_by(*search_pages.order(Media, walked, newest_first=True)))
        return parsed, search_pages.page_of(None, media, page, limit, few=few)
    albums = (Folder.select(*ALBUM_COLUMNS).where(name_search.contains(text, Folder.name_folded) & folders_within)
              .order_by(*search_pages.order(Folder, walked=False)))
    media = Media.select(*MEDIA_COLUMNS).where(named & media_within).order_by(*search_pages.order(Media, not few))
    return parsed, search_pages.page_of(albums, media, page, limit, found, few)


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


def _page_after(parts: list[keyset.Part], cursors: keyset.Cursors, at: keyset.Position, limit: int) -> Page:
    with listing.snapshot():  # one snapshot for the counts and the rows
        total = sum(part.count() for part in parts)
        rows = keyset.rows_after(parts, at, limit + 1)  # one more than shown: is there a next page?
    shown = rows[:limit]
    following = cursors.make(*shown[-1], at.served + limit) if len(rows) > limit else None
    return Page([row for part, row in shown if part == 0], [row for part, row in shown if part == 1],
                at.served // limit + 1, limit, total, following)


def _deep_position(parts: list[keyset.Part], start: int) -> keyset.Position | None:
    """Where a numbered page far into an album's media starts, as a keyset position: the keys of the row before it,
    read from the order's index alone (OFFSET over index entries, no row fetched), so that the page itself is an
    index range like a cursor's. None for a page near the start (OFFSET is as quick there), among the albums, or
    past the end."""
    album_total = parts[0].count()
    offset = start - album_total
    if offset < DEEP_OFFSET:
        return None
    before = listing.rows(parts[1].ordered(keys_only=True).offset(offset - 1).limit(1))
    return keyset.Position(1, keyset.keys_of(before[0], parts[1].order), start) if before else None


def _albums_of(key: str, viewer: str | None):
    return Folder.select(*ALBUM_COLUMNS).join(
        View, JOIN.LEFT_OUTER, on=((View.path_hash == Folder.path_hash) & (View.viewer == (viewer or "")))
    ).where(Folder.parent_hash == key)


def _album_order(sort: str) -> tuple[keyset.Key, ...]:
    """Total orders (the id breaks ties of names that fold alike). An album's albums are few: the parent_hash
    index finds them, and they are sorted then."""
    newest = fn.COALESCE(Folder.cover_mtime, Folder.mtime)
    viewed_first = keyset.Key(fn.COALESCE(View.viewed_at, -1.0), descending=True)
    name = (keyset.Key(natural(Folder)), keyset.Key(Folder.id))
    return {
        "name_asc": name,
        "name_desc": (keyset.Key(natural(Folder), True), keyset.Key(Folder.id, True)),
        "mtime_asc": (keyset.Key(newest), *name),
        "mtime_desc": (keyset.Key(newest, True), *name),
        "taken_asc": (keyset.Key(newest), *name),
        "taken_desc": (keyset.Key(newest, True), *name),
        "smart": (viewed_first, keyset.Key(newest, True), *name),
        "viewed_desc": (viewed_first, *name),
    }[sort]


def _media_order(sort: str) -> tuple[keyset.Key, ...]:
    """Total orders, each the order of an index on (folder_hash, its keys) (services/database.py), so that a page
    is a range of it: ties in natural name order, then by id."""
    name = (keyset.Key(natural(Media)), keyset.Key(Media.id))
    return {
        "name_asc": name,
        "name_desc": (keyset.Key(natural(Media), True), keyset.Key(Media.id, True)),
        "mtime_asc": (keyset.Key(Media.mtime), *name),
        "mtime_desc": (keyset.Key(Media.mtime, True), *name),
        "taken_asc": (keyset.Key(Media.taken_key, nullable=True), *name),
    }.get(sort, (keyset.Key(Media.taken_key, True, True), *name))  # smart, taken_desc, viewed_desc: newest first


def page_of(albums, media, page: int, limit: int) -> Page:
    """Page `page` of the albums query's rows followed by the media query's (albums None: media only)."""
    with listing.snapshot():  # one snapshot for the counts and the rows
        album_total = listing.count(albums) if albums is not None else 0
        media_total = listing.count(media)
        start = (page - 1) * limit
        album_rows = listing.rows(albums.offset(start).limit(limit)) if start < album_total else []
        media_start = max(0, start - album_total)
        wanted = limit - len(album_rows)
        media_rows = listing.rows(media.offset(media_start).limit(wanted)) if wanted and media_start < media_total \
            else []
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
