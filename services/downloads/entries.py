"""A task's entries as the owner sees them: a live preview of the feed, and entries picked by hand.

The preview fetches without conditional GET and writes nothing; picking entries stores them as
`queued` (with their image URLs) for the scheduler, which downloads them even if excluded or paused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from errors import ValidationFailed
from models import Download, FeedEntry
from services.downloads import feeds, options, tasks
from services.downloads.runner import fetch_feed
from services.downloads.tasks import url_hash

PREVIEW_MAX_ENTRIES = 500
MAX_PICKED = 1000


def preview(task_id: int) -> dict[str, Any]:
    """The live feed's entries (newest first, at most PREVIEW_MAX_ENTRIES) with what is already done."""
    feed = tasks.get(task_id)
    parsed, _ = fetch_feed(feed, options.load(), conditional=False)
    assert parsed is not None
    entries = parsed.entries[:PREVIEW_MAX_ENTRIES]
    keywords = json.loads(feed.exclude_keywords)
    status = _entry_status(task_id, [e.key for e in entries])
    saved = _saved_urls([url for e in entries for url in e.image_urls])
    return {
        "taskId": task_id, "title": parsed.title, "link": parsed.link, "total": len(parsed.entries),
        "entries": [{
            "key": e.key, "title": e.title, "link": e.link, "published": e.published,
            "imageUrls": list(e.image_urls), "excluded": feeds.is_excluded(e, keywords),
            "status": status.get(e.key), "downloaded": bool(e.image_urls) and all(u in saved for u in e.image_urls),
        } for e in entries],
    }


def pick(task_id: int, keys: object) -> int:
    """Queue the named entries of the live feed for download; returns how many were queued.
    Raises ValidationFailed("entries") for a bad list or keys the feed does not have."""
    feed = tasks.get(task_id)
    wanted = _keys(keys)
    parsed, _ = fetch_feed(feed, options.load(), conditional=False)
    assert parsed is not None
    found = {e.key: e for e in parsed.entries if e.key in wanted}
    missing = [k for k in wanted if k not in found]
    if missing:
        raise ValidationFailed("entries", f"The feed has no entry {missing[0]!r} (any more).", missing=missing[:20])
    now = time.time()
    for entry in found.values():
        row = {"feed": task_id, "entry_key": entry.key, "title": entry.title, "link": entry.link,
               "image_urls": json.dumps(list(entry.image_urls)), "published": entry.published,
               "seen_at": now, "status": "queued", "next_attempt_at": 0.0}
        (FeedEntry.insert(**row).on_conflict(
            conflict_target=[FeedEntry.feed, FeedEntry.entry_key],
            update={FeedEntry.status: "queued", FeedEntry.next_attempt_at: 0.0,
                    FeedEntry.image_urls: row["image_urls"]}).execute())
    return len(found)


def _keys(keys: object) -> list[str]:
    if (not isinstance(keys, list) or not keys or len(keys) > MAX_PICKED
            or not all(isinstance(k, str) and k for k in keys)):
        raise ValidationFailed("entries", f"entries must be a list of 1 to {MAX_PICKED} entry keys.")
    return list(dict.fromkeys(keys))


def _entry_status(task_id: int, keys: Sequence[str]) -> dict[str, str]:
    rows = FeedEntry.select(FeedEntry.entry_key, FeedEntry.status).where(
        (FeedEntry.feed == task_id) & FeedEntry.entry_key.in_(list(keys)))
    return dict(rows.tuples())


def _saved_urls(urls: Sequence[str]) -> set[str]:
    by_hash = {url_hash(u): u for u in urls}
    done = set()
    hashes = list(by_hash)
    for start in range(0, len(hashes), 500):
        rows = Download.select(Download.url_hash).where(
            Download.url_hash.in_(hashes[start:start + 500]) & Download.status.in_(("ok", "duplicate")))
        done |= {by_hash[h] for (h,) in rows.tuples()}
    return done
