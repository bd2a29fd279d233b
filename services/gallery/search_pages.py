"""Pages of search results at any library size: media counted up to search.COUNTED_MAX (past it the total is a
lower bound), rows in natural order with ties by path compared as bytes on both databases. No Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peewee import SQL, fn

from services.database import is_postgres
from services.gallery import listing, search
from services.gallery.browse import Page

# Up to this many rows, sorting them costs less than reading along an index in the page's order when they lie far
# along it (PostgreSQL, album:2010 of 1M photos: 48,000 rows sorted ~35 ms; read along the date index ~150–390 ms).
SORTED_MAX = 50_000


@dataclass(frozen=True)
class SearchPage(Page):
    # total_results is a lower bound: at least that many match (media past search.COUNTED_MAX were not counted)
    total_is_lower_bound: bool = False


def order(model: Any, walked: bool, newest_first: bool = False) -> tuple:
    """ORDER BY keys: (the newest taken first, then) natural name order, then the path, compared byte by byte on
    both databases (PostgreSQL's locale collation would ignore punctuation and order paths unlike SQLite).
    `walked`: a page may be read along an index in this order (a common text, checked row by row). Otherwise
    the search index found fewer than search.COUNTED_MAX rows, and the keys are written in a form no index has,
    so that the planner sorts those rows: walking an index instead (its estimate can invite it) checks rows until
    the page is full, which for a rare text means nearly every row (~10 s for a 2-character CJK text on
    PostgreSQL)."""
    natural = model.sort_key if walked else model.sort_key.concat("")
    keys = [natural.collate('"C"'), model.path.collate('"C"')] if is_postgres() else [natural, model.path]
    if newest_first:
        keys.insert(0, (model.taken_key if walked else model.taken_key + 0).desc())
    return tuple(keys)


def page_of(albums: Any, media: Any, page: int, limit: int, media_found: int | None = None,
            few: bool = False) -> SearchPage:
    """Page `page` of the albums query's rows (albums None: none), all counted, followed by the media query's,
    counted up to search.COUNTED_MAX (`media_found`: that count when the caller has it; when not, and the media
    are `few` (a rare text's: the page's query reads and sorts them all), counted by the query that reads the
    page). With that many or more the total is a lower bound: search.COUNTED_MAX, or where this page's rows end
    and one past them when more follow; when this page reaches the last row, it is exact again."""
    with listing.snapshot():  # one snapshot for the counts and the rows
        album_total = listing.count(albums) if albums is not None else 0
        start = (page - 1) * limit
        album_rows = listing.rows(albums.offset(start).limit(limit)) if start < album_total else []
        media_start, wanted = max(0, start - album_total), limit - len(album_rows)
        if media_found is None and few and wanted:
            media_rows, media_found, more = _rows_counted(media, media_start, wanted)
        else:
            media_found = _counted(media) if media_found is None else media_found
            bound = media_found >= search.COUNTED_MAX  # rows past the count: one more row says whether more follow
            read = wanted and (bound or media_start < media_found)
            media_rows = listing.rows(media.offset(media_start).limit(wanted + bound)) if read else []
            media_rows, more = media_rows[:wanted], len(media_rows) > wanted
    media_total, bound = _shown_total(media_found, media_start, len(media_rows), more)
    return SearchPage(album_rows, media_rows, page, limit, album_total + media_total, total_is_lower_bound=bound)


def _rows_counted(media: Any, media_start: int, wanted: int) -> tuple[list, int, bool]:
    """(rows, min(count, search.COUNTED_MAX), whether rows follow them), the count made by the rows' own query
    (a window over the rows it sorts), or by a count of its own when the page is past the end."""
    rows = listing.rows(media.select_extend(fn.COUNT(SQL("*")).over().alias("found_rows"))
                        .offset(media_start).limit(wanted))
    if not rows:
        return rows, _counted(media), False
    found = rows[0].found_rows
    return rows, min(found, search.COUNTED_MAX), found > media_start + len(rows)


def _shown_total(found: int, media_start: int, shown: int, more: bool) -> tuple[int, bool]:
    """(total, is a lower bound) from the capped count: exact under the cap, or when this page shows the last row;
    else the cap, or this page's end and one more when more follow."""
    if found < search.COUNTED_MAX:
        return found, False
    if shown and not more:
        return media_start + shown, False
    return (max(search.COUNTED_MAX, media_start + shown + 1) if shown else search.COUNTED_MAX), True


def _counted(query: Any) -> int:
    """min(rows of `query`, search.COUNTED_MAX)."""
    return search.counted(query.order_by().select(SQL("1")).sql())
