"""Download tasks (feed subscriptions): validation, create/change/delete, and their JSON shape.

A task's cookie is write-only: it is stored for fetching and answered only as `hasCookie`.
Nothing here fetches; the runner does.
"""

from __future__ import annotations

import hashlib
import json
import time
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from errors import AppError, Conflict, NotFound, ValidationFailed
from models import Download, Feed, FeedEntry
from services import paths
from services.downloads import addresses, options, store

MAX_URL_CHARS = 2048
MAX_TITLE_CHARS = 200
MAX_CATEGORY_CHARS = 100
MAX_LIST_ITEMS = 100
MAX_WORD_CHARS = 100
MAX_COOKIE_CHARS = 4096
FIELDS = ("feedUrl", "title", "interval", "status", "targetFolder", "category", "tags", "excludeKeywords", "cookie")


def url_hash(url: str) -> str:
    return hashlib.sha1(url.encode("utf-8", "surrogatepass")).hexdigest()  # noqa: S324 (a key, not security)


def get(task_id: int) -> Feed:
    feed = Feed.get_or_none(Feed.id == task_id)
    if feed is None:
        raise NotFound(f"There is no download task {task_id}.")
    return feed


def all_tasks() -> list[Feed]:
    return list(Feed.select().order_by(Feed.id))


def create(body: Mapping[str, Any], root: Path) -> Feed:
    """A new task from the API's fields; feedUrl is required and must be unique."""
    _check_names(body)
    if "feedUrl" not in body:
        raise ValidationFailed("feedUrl", "feedUrl is required.")
    values = _values(body, root)
    if Feed.get_or_none(Feed.url_hash == values["url_hash"]) is not None:
        raise Conflict("A task for this feed URL already exists.", field="feedUrl")
    values.setdefault("title", "")
    values.setdefault("interval_minutes", options.load().defaultIntervalMinutes)
    values.setdefault("target_folder", "")
    return Feed.create(created_at=time.time(), next_run_at=time.time(), **values)


def change(task_id: int, body: Mapping[str, Any], root: Path) -> Feed:
    """Apply a PATCH; a new feed URL forgets the conditional-GET validators; resuming runs it soon."""
    feed = get(task_id)
    _check_names(body)
    values = _values(body, root)
    if values.get("url_hash", feed.url_hash) != feed.url_hash:
        if Feed.get_or_none((Feed.url_hash == values["url_hash"]) & (Feed.id != feed.id)) is not None:
            raise Conflict("A task for this feed URL already exists.", field="feedUrl")
        values.update(etag=None, last_modified=None)
    if values.get("enabled") and not feed.enabled:
        values["next_run_at"] = time.time()
    if values:
        Feed.update(**values).where(Feed.id == feed.id).execute()
    return get(task_id)


def set_enabled(task_id: int, enabled: bool) -> Feed:
    """Pause or resume; a resumed task runs at the scheduler's next look."""
    feed = get(task_id)
    if enabled != feed.enabled:
        values: dict[str, Any] = {"enabled": enabled}
        if enabled:
            values["next_run_at"] = time.time()
        Feed.update(**values).where(Feed.id == feed.id).execute()
    return get(task_id)


def delete(task_id: int) -> None:
    """Remove the task and its entries; saved images stay in the gallery and in the history."""
    feed = get(task_id)
    FeedEntry.delete().where(FeedEntry.feed == feed.id).execute()
    Download.update(feed=None).where(Download.feed == feed.id).execute()
    feed.delete_instance()


def target_of(feed: Feed) -> str:
    """The gallery folder the task saves into: its own, or Downloads/<feed title> (the host's name
    until the first run has read the title)."""
    return feed.target_folder or default_target(feed.url, feed.title)


def default_target(url: str, title: str) -> str:
    from services.downloads.store import default_folder  # store pulls in Pillow; keep this module light

    return default_folder(title or urlsplit(url).hostname or "")


def as_json(feed: Feed, running: bool = False) -> dict[str, Any]:
    return {
        "id": feed.id, "title": feed.title or urlsplit(feed.url).hostname or feed.url, "feedUrl": feed.url,
        "interval": feed.interval_minutes, "status": "running" if feed.enabled else "paused",
        "targetFolder": target_of(feed), "category": feed.category, "tags": json.loads(feed.tags),
        "excludeKeywords": json.loads(feed.exclude_keywords), "hasCookie": bool(feed.cookie),
        "stats": {"entriesSeen": feed.entries_seen, "imagesSaved": feed.images_saved,
                  "imagesFailed": feed.images_failed, "bytesSaved": feed.bytes_saved},
        "nextRunAt": feed.next_run_at if feed.enabled else None, "lastRunAt": feed.last_run_at,
        "lastSuccessAt": feed.last_success_at, "lastError": feed.last_error, "createdAt": feed.created_at,
        "active": running,
    }


def _check_names(body: Mapping[str, Any]) -> None:
    for name in body:
        if name not in FIELDS:
            raise ValidationFailed(str(name), f"Unknown task field {name!r}; fields are {', '.join(FIELDS)}.")


def _values(body: Mapping[str, Any], root: Path) -> dict[str, Any]:
    """Column values for the fields present in `body`, each validated."""
    values: dict[str, Any] = {}
    if "feedUrl" in body:
        url = check_feed_url(body["feedUrl"])
        values.update(url=url, url_hash=url_hash(url))
    if "title" in body:
        values["title"] = _text(body, "title", MAX_TITLE_CHARS)
    if "interval" in body:
        values["interval_minutes"] = _interval(body["interval"])
    if "status" in body:
        if body["status"] not in ("running", "paused"):
            raise ValidationFailed("status", "status must be running or paused.")
        values["enabled"] = body["status"] == "running"
    if "targetFolder" in body:
        values["target_folder"] = _target_folder(body["targetFolder"], root)
    if "category" in body:
        values["category"] = _text(body, "category", MAX_CATEGORY_CHARS)
    for name, column in (("tags", "tags"), ("excludeKeywords", "exclude_keywords")):
        if name in body:
            values[column] = json.dumps(_words(name, body[name]), ensure_ascii=False)
    if "cookie" in body:
        values["cookie"] = _cookie(body["cookie"])
    return values


def check_feed_url(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_URL_CHARS:
        raise ValidationFailed("feedUrl", f"feedUrl must be an http(s) URL of at most {MAX_URL_CHARS} characters.")
    url = value.strip()
    try:
        opts = options.load()
        addresses.check_url(url, frozenset(opts.allowedPorts), allow_private=opts.allowPrivateHosts)
    except AppError as exc:
        raise ValidationFailed("feedUrl", exc.message) from None
    return url


def _text(body: Mapping[str, Any], name: str, max_chars: int) -> str:
    value = body[name]
    if not isinstance(value, str) or len(value.strip()) > max_chars:
        raise ValidationFailed(name, f"{name} must be text of at most {max_chars} characters.")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValidationFailed(name, f"{name} may not contain control characters.")
    return value.strip()


def _interval(value: object) -> int:
    low, high = options.MIN_INTERVAL_MINUTES, options.MAX_INTERVAL_MINUTES
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed("interval", f"interval is in minutes: a whole number from {low} to {high}.")
    return value


def _target_folder(value: object, root: Path) -> str:
    if value is None or value == "":
        return ""  # the default, Downloads/<feed title>
    if not isinstance(value, str):
        raise ValidationFailed("targetFolder", "targetFolder must be a folder path inside the gallery.")
    try:
        rel = store.folder_input(value.strip())
    except AppError as exc:
        raise ValidationFailed("targetFolder", exc.message) from None
    if not rel:
        raise ValidationFailed("targetFolder", "targetFolder must be a folder inside the gallery, not its root.")
    _check_target_on_disk(root, rel)
    return rel


def _check_target_on_disk(root: Path, rel: str) -> None:
    """Refuse now what would fail at run time: a symlink on the way that leads out of the photos folder (or
    into a hidden one), or a file where a folder must be. A folder that does not exist yet is fine."""
    try:
        real = (root / rel).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise ValidationFailed("targetFolder", f"targetFolder {rel!r} is a symbolic link loop.") from None
    if real != root and root not in real.parents:
        raise ValidationFailed("targetFolder", f"targetFolder {rel!r} leads outside the photos folder "
                                               "(through a symbolic link).")
    if real == root or not paths.visible_inside(root, real):
        raise ValidationFailed("targetFolder", f"targetFolder {rel!r} leads back to the gallery's root or into "
                                               "a hidden folder.")
    existing = next(p for p in (real, *real.parents) if p.exists())
    if not existing.is_dir():
        shown = existing.relative_to(root).as_posix()
        raise ValidationFailed("targetFolder", f"targetFolder {shown!r} is a file, not a folder.")


def _words(name: str, value: object) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or len(value) > MAX_LIST_ITEMS:
        raise ValidationFailed(name, f"{name} must be a list of at most {MAX_LIST_ITEMS} words.")
    if any(not isinstance(word, str) or len(word) > MAX_WORD_CHARS for word in value):
        raise ValidationFailed(name, f"Each entry of {name} must be text of at most {MAX_WORD_CHARS} characters.")
    return list(dict.fromkeys(word.strip() for word in value if word.strip()))


def _cookie(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_COOKIE_CHARS:
        raise ValidationFailed("cookie", f"cookie must be text of at most {MAX_COOKIE_CHARS} characters.")
    if any(ch in value for ch in "\r\n\0"):
        raise ValidationFailed("cookie", "cookie may not contain line breaks.")
    return value.strip()
