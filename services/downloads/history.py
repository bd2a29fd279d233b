"""What the download center has done: its status at a glance and the history of image downloads."""

from __future__ import annotations

from typing import Any

import peewee

from errors import ValidationFailed
from models import Download, Feed, FeedEntry
from services.downloads import scheduler

STATUSES = ("ok", "duplicate", "rejected", "retrying", "failed")
MAX_PAGE = 200


def status() -> dict[str, Any]:
    """Counts for the whole center and which tasks are running right now (in any process)."""
    downloads = dict(Download.select(Download.status, peewee.fn.COUNT(Download.id))
                     .group_by(Download.status).tuples())
    enabled = dict(Feed.select(Feed.enabled, peewee.fn.COUNT(Feed.id)).group_by(Feed.enabled).tuples())
    pending = FeedEntry.select().where(FeedEntry.status.in_(("new", "queued", "partial"))).count()
    saved_bytes = Download.select(peewee.fn.SUM(Download.bytes)).where(Download.status == "ok").scalar() or 0
    return {
        "tasks": sum(enabled.values()), "runningTasks": enabled.get(True, 0), "pausedTasks": enabled.get(False, 0),
        "activeTaskIds": scheduler.running_tasks(), "pendingEntries": pending,
        "downloads": {name: downloads.get(name, 0) for name in STATUSES}, "bytesSaved": saved_bytes,
        "lastRunAt": Feed.select(peewee.fn.MAX(Feed.last_run_at)).scalar(),
    }


def page(page: int = 1, limit: int = 50, task_id: int | None = None, status: str | None = None) -> dict[str, Any]:
    """Newest first, with the real total whatever the page."""
    if status is not None and status not in STATUSES:
        raise ValidationFailed("status", f"status must be one of {', '.join(STATUSES)}.")
    query = Download.select()
    if task_id is not None:
        query = query.where(Download.feed == task_id)
    if status is not None:
        query = query.where(Download.status == status)
    total = query.count()
    rows = query.order_by(Download.updated_at.desc(), Download.id.desc()).paginate(page, limit)
    return {"items": [_as_json(row) for row in rows], "total": total, "page": page, "limit": limit}


def _as_json(row: Download) -> dict[str, Any]:
    return {"id": row.id, "taskId": row.feed_id, "entry": row.entry_key, "url": row.url, "path": row.path,
            "bytes": row.bytes, "status": row.status, "error": row.error, "attempts": row.attempts,
            "nextAttemptAt": row.next_attempt_at or None, "createdAt": row.created_at, "updatedAt": row.updated_at}
