"""Atom feeds out (issue 22): an album's newest photos and videos, made with feedgen.

Reads the index only (models.Media), never the disk, and never imports Flask: the caller names the feed and
hands in the absolute URLs it builds (the app's public address, a share's own routes). The ETag is known
before the XML is made, so a conditional request that matches costs one indexed query and no rendering.
"""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feedgen.ext.base import BaseEntryExtension
from feedgen.feed import FeedGenerator

from models import Media
from services.gallery.keys import parent_of, version
from services.gallery.timeline import below

FEED_ENTRIES = 50
FORMAT_VERSION = "1"  # part of every ETag: raise it when the same rows would render differently
ATOM_MIMETYPE = "application/atom+xml"
PREVIEW_MIMETYPE = "image/webp"
# A name for uuid5: entry and feed ids are stable URNs made from this gallery's system id and what they name.
ID_NAMESPACE = uuid.UUID("5b0c6f0e-3c1a-4d7e-9a57-5f2b8a1e6c43")
# Characters XML 1.0 cannot carry (lxml refuses them): file names may hold some (U+FFFE, U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
FIRST_SECOND, LAST_SECOND = -62135596800, 253402300799  # 0001-01-01, 9999-12-31T23:59:59 UTC
COLUMNS = (Media.path, Media.name, Media.kind, Media.mtime, Media.taken_at, Media.taken_key)


@dataclass(frozen=True)
class Links:
    """The absolute URLs a feed carries, made by the caller (a share's feed points at its own routes)."""

    feed: str  # this feed (rel="self")
    album: Callable[[str], str]  # an album's page, from its gallery path
    preview: Callable[[str, float], str]  # a photo's or video's preview, from its path and mtime


@dataclass(frozen=True)
class Feed:
    """What a feed will say, known before it is rendered: `etag` changes whenever `render()`'s bytes would."""

    system_id: str
    identity: str  # what the feed is of, e.g. "album:<path>" or "share:<id>": its stable id
    title: str
    album: str  # the album the feed's own link opens
    links: Links
    rows: list[Any]  # of COLUMNS, newest first
    fallback_updated: float  # <updated> of a feed without entries (the album folder's mtime)

    @property
    def last_modified(self) -> datetime:
        """The newest entry's mtime: the feed's <updated> and its Last-Modified."""
        return _moment(max((row.mtime for row in self.rows), default=self.fallback_updated))

    @property
    def etag(self) -> str:
        digest = hashlib.sha256()
        for part in (FORMAT_VERSION, self.system_id, self.identity, self.title, self.links.feed,
                     self.links.album(self.album), self.last_modified.isoformat(), str(len(self.rows))):
            digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
        for row in self.rows:
            digest.update(repr((row.path, row.mtime, row.taken_at, row.kind)).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:32]

    def render(self) -> bytes:
        """The Atom document, UTF-8, entries newest first."""
        generator = FeedGenerator()
        generator.id(_urn(self.system_id, self.identity))
        generator.title(_text(self.title))
        generator.updated(self.last_modified)
        generator.link(href=self.links.feed, rel="self", type=ATOM_MIMETYPE)
        generator.link(href=self.links.album(self.album), rel="alternate", type="text/html")
        for row in self.rows:
            _add_entry(generator, self.system_id, row, self.links)
        return generator.atom_str(pretty=True)


class LinkAttributes(BaseEntryExtension):
    """feedgen 1.0 writes an entry's <link> elements with their href only (lkiesow/python-feedgen#135: the loop
    variable is shadowed), so an enclosure would read as a second alternate link. This puts rel, type and length
    back, in the order the links were given; once feedgen is fixed it changes nothing."""

    NAME = "photonix_link_attributes"

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []

    def extend_atom(self, entry):
        for element, link in zip(entry.findall("link"), self.links, strict=True):
            for name in ("rel", "type", "hreflang", "title", "length"):
                if link.get(name):
                    element.attrib[name] = link[name]
        return entry


def newest(rel: str, condition: Any = None, limit: int = FEED_ENTRIES) -> list[Any]:
    """The newest `limit` photos and videos anywhere below album `rel`, by date taken then mtime, optionally
    narrowed by a further peewee `condition` (a share's scope)."""
    where = below(rel) if condition is None else below(rel) & condition
    return list(Media.select(*COLUMNS).where(where)
                .order_by(Media.taken_key.desc(), Media.mtime.desc(), Media.path).limit(limit).namedtuples())


def _add_entry(generator: FeedGenerator, system_id: str, row: Any, links: Links) -> None:
    preview = links.preview(row.path, row.mtime)
    entry = generator.add_entry(order="append")
    entry.id(_urn(system_id, f"media:{row.path}:{version(row.mtime)}"))
    entry.title(_text(row.name))
    entry.updated(_moment(row.mtime))
    taken = _taken(row.taken_at)
    if taken is not None:
        entry.published(taken)
    entry.link(href=links.album(parent_of(row.path) or ""), rel="alternate", type="text/html")
    # Length unknown until the preview is made: feedgen leaves the attribute out when none is given.
    entry.link(href=preview, rel="enclosure", type=PREVIEW_MIMETYPE)
    entry.register_extension(LinkAttributes.NAME, LinkAttributes, atom=True, rss=False)
    getattr(entry, LinkAttributes.NAME).links = entry.link()
    # html.escape for the HTML, then lxml escapes that text once more for the XML it sits in.
    entry.summary(f'<p><img src="{html.escape(preview)}" alt="{html.escape(_text(row.name))}"></p>', type="html")


def _taken(taken_at: str | None) -> datetime | None:
    """The date taken, with its offset; a camera's wall-clock time without one is given as UTC (the gallery
    groups by that wall-clock time too)."""
    if not taken_at:
        return None
    try:
        moment = datetime.fromisoformat(taken_at)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _moment(seconds: float) -> datetime:
    # A file's mtime can be any number; datetime holds the years 1 to 9999.
    return datetime.fromtimestamp(min(max(seconds, FIRST_SECOND), LAST_SECOND), UTC)


def _urn(system_id: str, name: str) -> str:
    return uuid.uuid5(ID_NAMESPACE, f"{system_id}\0{name}").urn


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)
