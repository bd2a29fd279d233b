"""The download center's log in the database: levels, scope and task id, capped to the newest rows.

Messages are written by the runner and the API; they never contain a task's cookie.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from models import DownloadLog

LEVELS = ("info", "warning", "error")
SCOPES = ("task", "scheduler", "config")
KEEP_ROWS = 5000
PRUNE_EVERY_WRITES = 200
MAX_MESSAGE_CHARS = 2000

_LOG_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
log = logging.getLogger("photonix.downloads")
_writes = 0


def write(level: str, message: str, *, feed_id: int | None = None, scope: str = "task", **meta: Any) -> None:
    """Record one line (and mirror it to the process log). Never raises: a log that cannot be
    written must not stop a download."""
    global _writes
    log.log(_LOG_LEVELS[level], "%s%s", f"task {feed_id}: " if feed_id else "", message)
    try:
        DownloadLog.create(level=level, scope=scope, feed_id=feed_id, message=message[:MAX_MESSAGE_CHARS],
                           meta=json.dumps(meta, default=str), created_at=time.time())
        _writes += 1
        if _writes % PRUNE_EVERY_WRITES == 0:
            prune()
    except Exception as exc:  # the database may be busy; the process log still has the line
        log.warning("could not store a download log line: %s", exc)


def prune(keep_rows: int = KEEP_ROWS) -> int:
    """Delete all but the newest `keep_rows` lines; returns how many went."""
    newest = DownloadLog.select(DownloadLog.id).order_by(DownloadLog.id.desc()).offset(keep_rows).limit(1).scalar()
    if newest is None:
        return 0
    return DownloadLog.delete().where(DownloadLog.id <= newest).execute()


def page(*, feed_id: int | None = None, level: str | None = None, limit: int = 100,
         before: int | None = None) -> list[dict[str, Any]]:
    """Newest first; `level` keeps that level and above; `before` pages back from a line id."""
    query = DownloadLog.select().order_by(DownloadLog.id.desc()).limit(limit)
    if feed_id is not None:
        query = query.where(DownloadLog.feed_id == feed_id)
    if level is not None:
        query = query.where(DownloadLog.level.in_(LEVELS[LEVELS.index(level):]))
    if before is not None:
        query = query.where(DownloadLog.id < before)
    return [_as_json(row) for row in query]


def clear(feed_id: int | None = None) -> int:
    query = DownloadLog.delete()
    if feed_id is not None:
        query = query.where(DownloadLog.feed_id == feed_id)
    return query.execute()


def _as_json(row: DownloadLog) -> dict[str, Any]:
    return {"id": row.id, "level": row.level, "scope": row.scope, "taskId": row.feed_id,
            "message": row.message, "meta": json.loads(row.meta or "{}"), "createdAt": row.created_at}
