"""Photos by date taken: the months of a subtree, one month's media, and "on this day" in earlier years.

Months are grouped by the local wall-clock date taken (Media.taken_key, the offset ignored). The months of
every folder's subtree are kept in FolderMonth by the index (aggregate_months, deepest folder first), so the
timeline of the whole library is one indexed read however many photos there are.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any

from peewee import EXCLUDED, SQL, fn

from models import Folder, FolderMonth, Media
from services import settings
from services.database import is_postgres
from services.gallery import browse, details
from services.gallery.keys import path_hash

MEMORIES_MAX = 50
MAX_YEARS_BACK = 200  # "on this day" looks at most this many earlier years that have photos
# Raise it when FolderMonth's meaning changes: the next scan then recomputes every folder's months.
MONTHS_VERSION = "1"
MONTHS_VERSION_KEY = "timeline-months-version"


@dataclass(frozen=True)
class MemoryYear:
    year: int
    media: list[Any]  # rows of browse.MEDIA_COLUMNS, oldest first


def months(rel: str) -> list[tuple[int, int, int]]:
    """(year, month, count) of every month with media anywhere below album `rel`, newest first."""
    rows = (FolderMonth.select(FolderMonth.month, FolderMonth.count)
            .where(FolderMonth.folder_hash == path_hash(rel)).order_by(FolderMonth.month.desc()).tuples())
    return [(month // 100, month % 100, count) for month, count in rows]


def months_where(condition) -> list[tuple[int, int, int]]:
    """As months(), counted from the media rows `condition` selects (a share link's scope; not kept in advance)."""
    rows = (Media.select(_month_of(Media.taken_key), fn.COUNT(Media.id))
            .where(condition & Media.taken_key.is_null(False)).group_by(SQL("1")).order_by(SQL("1").desc()).tuples())
    return [(int(month) // 100, int(month) % 100, count) for month, count in rows]


def month_page(rel: str, year: int, month: int, page: int, limit: int, within=None) -> browse.Page:
    """The media of one month below album `rel` that match `within` when it is given (a share link's scope),
    newest first (ties in natural name order)."""
    start, end = details.period_keys(year, month)
    condition = (Media.taken_key >= start) & (Media.taken_key < end) & below(rel)
    if within is not None:
        condition &= within
    media = (Media.select(*browse.MEDIA_COLUMNS).where(condition)
             .order_by(Media.taken_key.desc(), browse.natural(Media), Media.path))
    return browse.page_of(None, media, page, limit)


def memories(today: date, within=None) -> list[MemoryYear]:
    """Media taken on today's month and day in earlier years (dated by EXIF or video, not by file time),
    most recent year first, at most MEMORIES_MAX in all, shared out between the years in turn; only those
    `within` selects, when given (a share link's scope)."""
    found, before = [], details.day_key(date(today.year, 1, 1))
    within = SQL("1 = 1") if within is None else within
    for _ in range(MAX_YEARS_BACK):
        # The latest earlier year with any media: one indexed probe per year that has photos, not per year.
        latest = Media.select(fn.MAX(Media.taken_key)).where((Media.taken_key < before) & within).scalar()
        if latest is None:
            break
        year = details.year_of(latest)
        before = details.day_key(date(year, 1, 1))
        try:
            day = date(year, today.month, today.day)
        except ValueError:  # 29 February in a year without one
            continue
        start = details.day_key(day)
        on_day = (Media.taken_key >= start) & (Media.taken_key < start + 86400) & (Media.taken_from != "mtime")
        rows = list(Media.select(*browse.MEDIA_COLUMNS).where(on_day & within)
                    .order_by(Media.taken_key, browse.natural(Media), Media.path).limit(MEMORIES_MAX).namedtuples())
        if rows:
            found.append(MemoryYear(year, rows))
    return _share_out(found, MEMORIES_MAX)


def below(rel: str):
    """Media anywhere below album `rel` (everything for the root)."""
    if rel == "":
        return SQL("1 = 1")
    prefix = rel + "/"
    return fn.SUBSTR(Media.path, 1, len(prefix)) == prefix


def aggregate_months(rel: str) -> None:
    """Recompute FolderMonth for folder `rel` from its own media and its sub-folders' rows (which must be up
    to date: the index aggregates the deepest folders first). Runs inside the index's write transaction."""
    key = path_hash(rel)
    counts: dict[int, int] = {}
    own = (Media.select(_month_of(Media.taken_key), fn.COUNT(Media.id))
           .where((Media.folder_hash == key) & Media.taken_key.is_null(False)).group_by(SQL("1")).tuples())
    children = (FolderMonth.select(FolderMonth.month, fn.SUM(FolderMonth.count))
                .join(Folder, on=(Folder.path_hash == FolderMonth.folder_hash))
                .where(Folder.parent_hash == key).group_by(FolderMonth.month).tuples())
    for month, count in itertools.chain(own, children):
        counts[int(month)] = counts.get(int(month), 0) + int(count)
    FolderMonth.delete().where(FolderMonth.folder_hash == key).execute()
    if counts:  # an upsert: on PostgreSQL a browse's refresh may write the same folder at the same moment
        (FolderMonth.insert_many([(key, month, count) for month, count in counts.items()],
                                 fields=(FolderMonth.folder_hash, FolderMonth.month, FolderMonth.count))
         .on_conflict(conflict_target=[FolderMonth.folder_hash, FolderMonth.month],
                      update={FolderMonth.count: EXCLUDED.count}).execute())


def forget_months(folder_condition) -> None:
    """Drop the months of the folders `folder_condition` selects (before those folders are deleted)."""
    FolderMonth.delete().where(FolderMonth.folder_hash.in_(
        Folder.select(Folder.path_hash).where(folder_condition))).execute()


def months_outdated() -> bool:
    """True when FolderMonth was never filled by this release's rules (a database from before it)."""
    return settings.read_setting(MONTHS_VERSION_KEY) != MONTHS_VERSION


def mark_months_current() -> None:
    settings.write_settings({MONTHS_VERSION_KEY: MONTHS_VERSION}, bump_epoch=False)


def all_folders() -> set[str]:
    return {path for (path,) in Folder.select(Folder.path).tuples()}


def _month_of(column):
    """year * 100 + month of a taken_key (seconds since 1970 of a wall-clock time), in the database."""
    if is_postgres():
        text = fn.to_char(fn.timezone("UTC", fn.to_timestamp(column)), "YYYYMM")
    else:
        text = fn.strftime("%Y%m", column, "unixepoch")
    return text.cast("INTEGER")


def _share_out(years: list[MemoryYear], limit: int) -> list[MemoryYear]:
    """Take one item from each year in turn until `limit`: a busy year does not hide the others."""
    taken = [0] * len(years)
    total = 0
    while total < limit and any(taken[i] < len(y.media) for i, y in enumerate(years)):
        for i, year in enumerate(years):
            if total < limit and taken[i] < len(year.media):
                taken[i] += 1
                total += 1
    return [MemoryYear(y.year, y.media[:n]) for y, n in zip(years, taken, strict=True) if n]
