"""Feed documents (bytes) → entries and the image URLs in them, refusing XML entity tricks first.

Owns the mapping from feedparser's output to FeedEntry (xmlguard.py vets the bytes first). Pure: it is handed
bytes, never a URL, and never fetches, renders or stores anything.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import os
import re

# xml.sax would import its parser on the first parse, on a CPU pool thread; under gevent an import there may
# wait for ever (services/images.py, load_plugins): import it now, with this module.
import xml.sax.expatreader  # noqa: F401
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from feedparser.encodings import convert_to_utf8

from errors import FeedInvalid
from services.downloads.xmlguard import refuse_entities
from services.paths import PHOTO_EXTENSIONS

MAX_KEY_CHARS = 200
MAX_IMAGES_PER_ENTRY = 100
URL_SCHEMES = ("http", "https")
SRCSET_ATTRIBUTES = ("data-lazy-srcset", "data-srcset", "srcset")
SRC_ATTRIBUTES = ("data-lazy-src", "data-src", "src")

_SPACE = re.compile(r"\s+")
_SRCSET_URL = re.compile(r"[\s,]*(\S+)")


@dataclass(frozen=True)
class FeedEntry:
    key: str  # the entry id/guid, else its link, else "sha1:" of title+published+image URLs; ≤ MAX_KEY_CHARS
    title: str
    link: str | None
    published: float | None  # epoch seconds, UTC
    text: str  # title and summary/content as plain text, for keyword filtering
    image_urls: tuple[str, ...]


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    link: str | None
    entries: tuple[FeedEntry, ...]  # every entry, in document order, the first of each key only


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse an RSS 0.9x/1.0/2.0 or Atom document fetched from `url` (the base for relative links).

    Raises FeedInvalid for an empty body, a document that declares entities or an external DTD (checked
    before feedparser sees it), and anything that is not a feed. Bozo feeds with entries are accepted.
    """
    if not body.strip():
        raise FeedInvalid("The feed is empty.")
    # The feed URL is the base for links, xml:base and permalink guids (isPermaLink true is a URL).
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # Decode exactly as feedparser would, so the guard judges the same text feedparser then parses.
    data = convert_to_utf8(headers, body, {})
    refuse_entities(data)
    if content_type:
        headers["content-type"] = content_type.split(";", 1)[0].strip() + "; charset=utf-8"
    try:
        # BytesIO, never the bytes themselves: feedparser opens a bytes "path" as a local file.
        # Unsanitised and unresolved on purpose: the HTML is never rendered, only searched for image URLs,
        # and the sanitiser drops data-src/srcset.
        result = feedparser.parse(io.BytesIO(data), response_headers=headers, sanitize_html=False,
                                  resolve_relative_uris=False)
    except Exception as exc:  # feedparser's loose parser may raise anything on hostile input
        raise FeedInvalid("The feed could not be parsed.") from exc
    if not result.get("version") and not result.entries:
        raise FeedInvalid("The document is not an RSS or Atom feed (an HTML page or unreadable data).")
    info = result.feed
    return ParsedFeed(_title(info), _http_url(info.get("link"), url), _entries(result.entries, url))


def is_excluded(entry: FeedEntry, keywords: Sequence[str]) -> bool:
    """Whether any non-blank keyword occurs (casefolded substring) in the entry's title or text."""
    title, text = entry.title.casefold(), entry.text.casefold()
    words = (word.strip().casefold() for word in keywords)
    return any(word and (word in title or word in text) for word in words)


def _entries(raw_entries: Iterable[Any], feed_url: str) -> tuple[FeedEntry, ...]:
    unique: dict[str, FeedEntry] = {}
    for raw in raw_entries:
        entry = _entry(raw, feed_url)
        unique.setdefault(entry.key, entry)  # a repeated guid keeps its first entry
    return tuple(unique.values())


def _entry(raw: Any, feed_url: str) -> FeedEntry:
    title = _title(raw)
    link = _http_url(raw.get("link"), feed_url)
    html = [part.get("value") or "" for part in raw.get("content") or ()]
    summary = raw.get("summary") or ""
    if summary not in html:
        html.append(summary)
    scans = [_HtmlScan.of(part) for part in html if part]
    images = _image_urls(raw, scans, link or feed_url)
    parsed_time = raw.get("published_parsed") or raw.get("updated_parsed")
    published = float(calendar.timegm(parsed_time)) if parsed_time else None
    text = _collapse(" ".join([title, *(scan.text() for scan in scans)]))
    key = (raw.get("id") or "").strip() or link or _sha1("\n".join([title, repr(published), *images]))
    if len(key) > MAX_KEY_CHARS:
        key = _sha1(key)
    return FeedEntry(key, title, link, published, text, images)


def _image_urls(raw: Any, scans: list[_HtmlScan], base: str) -> tuple[str, ...]:
    """Enclosures, then media:content (widest first), then <img> in the HTML; thumbnails only if none."""
    found = [item.get("href") for item in raw.get("enclosures") or () if _is_image(item.get("type"), item.get("href"))]
    media = sorted(raw.get("media_content") or (), key=lambda item: -_number(item.get("width")))
    found += [item.get("url") for item in media if _is_image_media(item)]
    found += [_img_url(attrs, base) for scan in scans for attrs in scan.images]
    thumbnails = [item.get("url") for item in raw.get("media_thumbnail") or ()]
    return _unique_http(found, base) or _unique_http(thumbnails, base)


def _unique_http(urls: Iterable[str | None], base: str) -> tuple[str, ...]:
    """The absolute http(s) URLs among `urls`, first-seen order, no repeats, at most MAX_IMAGES_PER_ENTRY."""
    absolute = (_http_url(url, base) for url in urls)
    return tuple(dict.fromkeys(url for url in absolute if url))[:MAX_IMAGES_PER_ENTRY]


def _img_url(attrs: dict[str, str], base: str) -> str | None:
    """The best URL of one <img>: the largest srcset candidate, else the lazy-loading source, else src."""
    for name in SRCSET_ATTRIBUTES:
        best = _largest_candidate(attrs.get(name) or "", base)
        if best:
            return best
    for name in SRC_ATTRIBUTES:
        url = _http_url(attrs.get(name), base)
        if url:
            return url
    return None


def _largest_candidate(srcset: str, base: str) -> str | None:
    """The http(s) candidate with the largest width descriptor, else the largest density (1x if none)."""
    by_width: list[tuple[float, str]] = []
    by_density: list[tuple[float, str]] = []
    for url, descriptor in _srcset_candidates(srcset):
        absolute = _http_url(url, base)
        if not absolute:
            continue
        if descriptor.endswith("w"):
            by_width.append((_number(descriptor[:-1]), absolute))
        else:
            by_density.append((_number(descriptor[:-1]) if descriptor.endswith("x") else 1.0, absolute))
    ranked = by_width or by_density
    return max(ranked, key=lambda pair: pair[0])[1] if ranked else None


def _srcset_candidates(srcset: str) -> Iterable[tuple[str, str]]:
    """(url, descriptor) pairs, split as the HTML standard does: a URL may itself contain commas."""
    position = 0
    while True:
        match = _SRCSET_URL.match(srcset, position)
        if match is None or not match.group(1):
            return
        url, position = match.group(1), match.end()
        if url.endswith(","):
            yield url.rstrip(","), ""
            continue
        comma = srcset.find(",", position)
        end = len(srcset) if comma < 0 else comma
        yield url, srcset[position:end].strip().lower()
        position = end + 1


def _is_image_media(item: Any) -> bool:
    medium = (item.get("medium") or "").lower()
    return medium == "image" or (not medium and _is_image(item.get("type"), item.get("url")))


def _is_image(mime: str | None, url: str | None) -> bool:
    if mime:
        return mime.strip().lower().startswith("image/")
    path = urlsplit((url or "").strip()).path
    return os.path.splitext(path)[1].lower() in PHOTO_EXTENSIONS


def _http_url(url: str | None, base: str) -> str | None:
    """`url` resolved against `base` if the result is an absolute http(s) URL, else None."""
    if not url or not url.strip():
        return None
    url = url.strip()
    try:
        absolute = url if url[:8].lower().startswith(("http://", "https://")) else urljoin(base, url)
        parts = urlsplit(absolute)
    except ValueError:  # e.g. a malformed IPv6 host
        return None
    return absolute if parts.scheme.lower() in URL_SCHEMES and parts.hostname else None


def _title(info: Any) -> str:
    title = info.get("title") or ""
    kind = (info.get("title_detail") or {}).get("type") or ""
    return _collapse(_HtmlScan.of(title).text() if "html" in kind else title)


def _number(text: Any) -> float:
    try:
        return float(str(text).strip())
    except (TypeError, ValueError):
        return 0.0


def _collapse(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _sha1(text: str) -> str:
    return "sha1:" + hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


class _HtmlScan(HTMLParser):
    """One pass over an HTML fragment: the attributes of each <img> and the visible text."""

    SKIPPED = frozenset({"script", "style", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict[str, str]] = []
        self._text: list[str] = []
        self._skipping = 0

    @classmethod
    def of(cls, html: str) -> _HtmlScan:
        scan = cls()
        try:
            scan.feed(html)
            scan.close()
        except AssertionError:  # _markupbase still asserts on some malformed <![ sections
            pass
        return scan

    def text(self) -> str:
        return " ".join(self._text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append({name: value for name, value in attrs if value is not None})
        elif tag in self.SKIPPED:
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._text.append(data)
