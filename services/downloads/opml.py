"""OPML export and import of download tasks (parsed with defusedxml: no DTDs, entities or fetches).

Export never includes a cookie. Import `merge` adds feeds not yet subscribed and leaves the others
alone; `replace` also updates subscribed ones to the file's values and deletes tasks not in the file.
An outline that cannot become a task is skipped with its reason; the rest still import.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring  # noqa: S405 (building, never parsing)

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from errors import AppError, ValidationFailed
from models import Feed, database
from services.downloads import tasks

MODES = ("merge", "replace")
MAX_OUTLINES = 5000


def export(title: str) -> bytes:
    """All tasks as OPML 2.0 with our settings as extra outline attributes (never the cookie)."""
    root = Element("opml", version="2.0")
    head = SubElement(root, "head")
    SubElement(head, "title").text = title
    SubElement(head, "dateCreated").text = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    body = SubElement(root, "body")
    for feed in Feed.select().order_by(Feed.id):
        task = tasks.as_json(feed)
        SubElement(body, "outline", {
            "type": "rss", "text": task["title"], "title": task["title"], "xmlUrl": feed.url,
            "category": feed.category, "interval": str(feed.interval_minutes), "status": task["status"],
            "targetFolder": feed.target_folder, "tags": ",".join(task["tags"]),
            "excludeKeywords": ",".join(task["excludeKeywords"]),
        })
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="utf-8", xml_declaration=False)


def import_(body: bytes, mode: str, root: Path) -> dict[str, Any]:
    """Apply an OPML document; returns {added, updated, removed, skipped: [{url, reason}]}."""
    if mode not in MODES:
        raise ValidationFailed("mode", "mode must be merge or replace.")
    outlines = _outlines(body)
    result: dict[str, Any] = {"added": 0, "updated": 0, "removed": 0, "skipped": []}
    seen: set[str] = set()
    with database.atomic():
        for fields in outlines:
            url = fields.get("feedUrl", "")
            try:
                _apply(fields, mode, root, result, seen)
            except AppError as exc:
                result["skipped"].append({"url": url, "field": exc.extra.get("field"), "reason": exc.message})
        if mode == "replace":
            for feed in Feed.select(Feed.id).where(Feed.url_hash.not_in(list(seen) or [""])):
                tasks.delete(feed.id)
                result["removed"] += 1
    return result


def _apply(fields: dict[str, Any], mode: str, root: Path, result: dict[str, Any], seen: set[str]) -> None:
    url = tasks.check_feed_url(fields.get("feedUrl"))
    existing = Feed.get_or_none(Feed.url_hash == tasks.url_hash(url))
    seen.add(tasks.url_hash(url))
    if existing is None:
        tasks.create(fields, root)
        result["added"] += 1
    elif mode == "replace":
        tasks.change(existing.id, fields, root)
        result["updated"] += 1


def _outlines(body: bytes) -> list[dict[str, Any]]:
    """Task fields from every outline with an xmlUrl, nested ones included (a parent outline without
    xmlUrl is a folder: its text becomes the category when the feed has none)."""
    try:
        doc = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise ValidationFailed("file", f"This is not an OPML file: {exc}") from None
    if doc.tag != "opml" or doc.find("body") is None:
        raise ValidationFailed("file", "This is not an OPML file: it has no <opml><body>.")
    found: list[dict[str, Any]] = []
    _walk(doc.find("body"), "", found)
    if len(found) > MAX_OUTLINES:
        raise ValidationFailed("file", f"The file has more than {MAX_OUTLINES} feeds.")
    return found


def _walk(parent: Any, folder: str, found: list[dict[str, Any]]) -> None:
    for outline in parent.findall("outline"):
        attrs = outline.attrib
        if attrs.get("xmlUrl"):
            found.append(_fields(attrs, folder))
        _walk(outline, attrs.get("text") or attrs.get("title") or folder, found)
        if len(found) > MAX_OUTLINES:
            return


def _fields(attrs: dict[str, str], folder: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"feedUrl": attrs["xmlUrl"], "title": attrs.get("title") or attrs.get("text") or ""}
    category = attrs.get("category") or folder
    if category:
        fields["category"] = category.strip("/")
    interval = attrs.get("interval", "")
    if interval.isascii() and interval.isdigit():
        fields["interval"] = int(interval)
    for name in ("status", "targetFolder"):
        if attrs.get(name):
            fields[name] = attrs[name]
    for name in ("tags", "excludeKeywords"):
        if attrs.get(name):
            fields[name] = attrs[name].split(",")
    return fields
