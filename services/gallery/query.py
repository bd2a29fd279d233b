"""The search box's language: free text combined with filters such as `year:2024 camera:canon beach`.

parse() splits a query into its text and filters (400 naming an unknown filter or a bad value);
media_condition() turns the filters into one database condition on Media. No Flask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from peewee import fn

from errors import ValidationFailed
from models import Folder, FolderMonth, Media
from services.database import FOLD_FUNCTION, is_postgres
from services.gallery import details
from services.gallery.keys import fold, path_hash

# name → an example, in the order the help lists them
FILTERS = {"year": "year:2024", "month": "month:2024-07", "before": "before:2024-07-01",
           "after": "after:2024-07-01", "camera": "camera:canon", "lens": "lens:50mm", "type": "type:video",
           "album": "album:trip"}
TYPES = ("photo", "video")
MAX_FILTERS = 16
MAX_ALBUMS_LISTED = 500  # an album: filter names its folders one by one up to this many, else by a subquery
# "quoted text" | name:"quoted value" (quotes that stand alone: `say"hi".jpg` is one plain word) | a word
_TOKEN = re.compile(r'(?<!\S)"([^"]*)"(?!\S)|(?<!\S)([A-Za-z]+):"([^"]*)"(?!\S)|(\S+)')
_FILTER = re.compile(r"([A-Za-z]+):(.*)", re.S)
_PERIOD = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


@dataclass(frozen=True)
class Query:
    text: str  # the free text as typed, filters taken out ("" when the query is filters only)
    filters: tuple[tuple[str, str], ...]  # (name, value) in the order given

    @property
    def folded(self) -> str:
        """The text as it is compared (case- and width-insensitive)."""
        return fold(self.text)


def parse(raw: str, max_text: int) -> Query:
    """Split `raw` into free text and filters. "Quoted text" is text, colon and all; a word is a filter only
    when letters and a colon start it and a value follows (`C:` alone, `12:30` and `B: Trip` are text; a
    known filter with no value is an error). The text keeps its own spacing (a tab in a name still matches)."""
    if "\x00" in raw:
        raise ValidationFailed("q", "The search may not contain a NUL character.")
    text, filters, last_end = "", [], None
    for token in _TOKEN.finditer(raw):
        quoted, name, quoted_value, word = token.groups()
        found = _FILTER.fullmatch(word) if word is not None else None
        if name is None and found is not None and (found.group(2) or found.group(1).lower() in FILTERS):
            name, quoted_value = found.groups()
        if name is not None:
            name, value = name.lower(), quoted_value.strip()
            _check(name, value)
            filters.append((name, value))
            continue
        if text:  # the words' own spacing when they were neighbours, else one space where a filter was
            gap = raw[last_end:token.start()]
            text += gap if not gap.strip() else " "
        text, last_end = text + (quoted if quoted is not None else word), token.end()
    if len(filters) > MAX_FILTERS:
        raise ValidationFailed("q", f"Use at most {MAX_FILTERS} filters.")
    query = Query(text.strip(), tuple(filters))
    if not query.filters and not query.folded or len(query.folded) > max_text:
        raise ValidationFailed("q", f"Search for 1 to {max_text} characters, or use filters ({help_text()}).")
    return query


def help_text() -> str:
    return ", ".join(FILTERS.values())


def media_condition(filters: tuple[tuple[str, str], ...]):
    """One condition on Media for all the filters (they all must hold); None when there are none."""
    condition = None
    for name, value in filters:
        part = _condition(name, value)
        condition = part if condition is None else condition & part
    return condition


def suggestions(limit: int = 100) -> dict[str, list]:
    """What the filters can take in this library: years with media (newest first), and the cameras and lenses
    of the most photos first (at most `limit` each)."""
    root = path_hash("")
    years = sorted({month // 100 for (month,) in FolderMonth.select(FolderMonth.month)
                    .where(FolderMonth.folder_hash == root).tuples()}, reverse=True)
    count = fn.COUNT(Media.id)
    cameras = (Media.select(Media.camera_make, Media.camera_model, count)
               .where(Media.camera_make.is_null(False) | Media.camera_model.is_null(False))
               .group_by(Media.camera_make, Media.camera_model)
               .order_by(count.desc(), Media.camera_make, Media.camera_model).limit(limit).tuples())
    lenses = (Media.select(Media.lens, count).where(Media.lens.is_null(False)).group_by(Media.lens)
              .order_by(count.desc(), Media.lens).limit(limit).tuples())
    names = list(dict.fromkeys(camera_name(make, model) for make, model, _ in cameras))
    return {"years": years, "cameras": names, "lenses": [lens for lens, _ in lenses], "types": list(TYPES)}


def camera_name(make: str | None, model: str | None) -> str:
    """How people name a camera: "Canon EOS R5", not "Canon Canon EOS R5" (many models repeat the make)."""
    make, model = (make or "").strip(), (model or "").strip()
    if not make or not model:
        return make or model
    return model if model.split()[0].lower() == make.split()[0].lower() else f"{make} {model}"


def contains(column, text: str):
    """`column` contains `text` (both compared as given)."""
    position = fn.STRPOS(column, text) if is_postgres() else fn.INSTR(column, text)
    return position > 0


def _folded(column):
    """`column` case-folded in the database: PostgreSQL's LOWER knows every script; SQLite's only ASCII, so there
    it is services.gallery.keys.fold, registered on each connection."""
    return fn.LOWER(column) if is_postgres() else getattr(fn, FOLD_FUNCTION)(column)


def _check(name: str, value: str) -> None:
    if name not in FILTERS:
        raise ValidationFailed("q", f"Unknown filter {name}: — filters are {', '.join(FILTERS)} "
                                    f"(put text with a colon in quotes to search for it).")
    if not value:
        raise ValidationFailed("q", f"The filter {name}: needs a value, e.g. {FILTERS[name]}.")
    if name != "album":  # any album name may be searched for
        _condition(name, value)  # raises on a bad value


def _condition(name: str, value: str):
    if name in ("year", "month", "before", "after"):
        start, end = _period(name, value)
        if name == "before":
            return Media.taken_key < start
        if name == "after":
            return Media.taken_key >= start
        return (Media.taken_key >= start) & (Media.taken_key < end)
    if name == "type":
        if value.lower() not in TYPES:
            raise ValidationFailed("q", f"type: is photo or video, not {value[:40]!r}.")
        return Media.kind == value.lower()
    text = fold(value)
    if name == "camera":
        both = fn.COALESCE(Media.camera_make, "").concat(" ").concat(fn.COALESCE(Media.camera_model, ""))
        return contains(_folded(both), text)
    if name == "lens":
        return contains(_folded(fn.COALESCE(Media.lens, "")), text)
    # album: the media of the folders so named (Media.folder_folded is its folder's Folder.name_folded), found
    # through the folders' search index, then by folder_hash, which starts browse's indexes. Named one by one when
    # few: PostgreSQL's planner then reads those folders' rows through the index instead of every row.
    folders = _albums_named(text)
    return Media.folder_hash.in_([key for key, _ in folders] if len(folders) <= MAX_ALBUMS_LISTED else
                                 Folder.select(Folder.path_hash).where(_album_named(text)))


def album_media(filters: tuple[tuple[str, str], ...]) -> int | None:
    """At most how many media the album: filters allow (the item counts of the folders each names; the smallest
    over several), or None without one."""
    sizes = [sum(count for _, count in _albums_named(fold(value))) for name, value in filters if name == "album"]
    return min(sizes) if sizes else None


def _albums_named(text: str) -> list[tuple[str, int]]:
    """(path_hash, item_count) of the folders whose name contains `text` (folded)."""
    return list(Folder.select(Folder.path_hash, Folder.item_count).where(_album_named(text)).tuples())


def _album_named(text: str):
    from services.gallery import search  # here: it builds on this module

    return search.contains(text, Folder.name_folded)


def _period(name: str, value: str) -> tuple[float, float]:
    """(first moment, first moment after) of the year, month or day `value` names, as Media.taken_key."""
    shapes = {"year": "2024", "month": "2024-07"}
    found = _PERIOD.fullmatch(value)
    wanted = {"year": (True, False, False), "month": (True, True, False)}.get(name)
    parts = found.groups() if found else None
    if parts is None or (wanted is not None and tuple(p is not None for p in parts) != wanted):
        example = shapes.get(name, "2024, 2024-07 or 2024-07-01")
        raise ValidationFailed("q", f"{name}: takes a date like {example}, not {value[:40]!r}.")
    try:
        return details.period_keys(*(int(part) if part else None for part in parts))
    except ValueError:
        raise ValidationFailed("q", f"{name}: {value[:40]!r} is not a real date.") from None
