"""The event table's hot reads (newest id, oldest id, rows after an id), each built by peewee once per database
class and then run as plain SQL (services.database.run_built). Building a query cost ~9× running it, and every
event stream that opens pays these reads (500 at once on one worker: issue 24). Reads only; publishing stays in
services/events.py.
"""

from __future__ import annotations

import json
from typing import Any

from peewee import fn

from models import Event as EventRow
from services.database import run_built


def newest_id() -> int:
    """The id of the newest event, or 0 when there is none."""
    return int(run_built(_newest).fetchone()[0] or 0)


def oldest_id() -> int | None:
    """The id of the oldest retained event, or None when there is none."""
    found = run_built(_oldest).fetchone()[0]
    return None if found is None else int(found)


def rows_after(after: int, limit: int) -> list[tuple[int, str, dict[str, Any], float, str]]:
    """Up to `limit` events with an id above `after`, oldest first: (id, type, data, created_at, audience)."""
    return [(int(row[0]), row[1], json.loads(row[2]), row[3], row[4]) for row in run_built(_after, (after, limit))]


def _newest() -> Any:
    return EventRow.select(fn.MAX(EventRow.id))


def _oldest() -> Any:
    return EventRow.select(fn.MIN(EventRow.id))


def _after() -> Any:
    """`after` and `limit` are parameters: the 0 and 1 here only give them their places."""
    return (EventRow.select(EventRow.id, EventRow.type, EventRow.data, EventRow.created_at, EventRow.audience)
            .where(EventRow.id > 0).order_by(EventRow.id).limit(1))
