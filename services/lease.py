"""Database leases: a named row that at most one holder owns until it expires, across workers and nodes.

Each statement is atomic on its own, so racing processes on SQLite or PostgreSQL agree on one winner.
Times are wall-clock epoch seconds; nodes sharing a database need roughly synchronised clocks.
Callers own the connection: these functions neither open a transaction around the caller nor close.
"""

from __future__ import annotations

import os
import secrets
import socket
import time

import peewee

from models import Lease, database


def holder_id() -> str:
    """A holder name unique to this process: hostname:pid:random (the random part survives pid reuse)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def try_acquire(name: str, holder: str, ttl_s: float, now: float | None = None) -> bool:
    """Take lease `name` for `ttl_s` seconds if it is free, expired, or already ours (then renew it).

    True when `holder` owns the lease afterwards. Safe when several processes race: a conditional
    UPDATE takes an existing row, and the primary key lets only one INSERT create a missing one.
    """
    now = time.time() if now is None else now
    expires_at = now + ttl_s
    taken = (
        Lease.update(holder=holder, expires_at=expires_at)
        .where((Lease.name == name) & ((Lease.holder == holder) | (Lease.expires_at < now)))
        .execute()
    )
    if taken:
        return True
    try:
        # A savepoint, so a lost race does not abort a transaction the caller may have open.
        with database.atomic():
            Lease.insert(name=name, holder=holder, expires_at=expires_at).execute()
    except peewee.IntegrityError:
        return False
    return True


def release(name: str, holder: str) -> bool:
    """Give up lease `name` if `holder` has it; True when a row was released."""
    return bool(Lease.delete().where((Lease.name == name) & (Lease.holder == holder)).execute())


def current_holder(name: str, now: float | None = None) -> str | None:
    """Who holds lease `name` at `now`, or None when nobody does (missing or expired)."""
    now = time.time() if now is None else now
    row = Lease.select(Lease.holder).where((Lease.name == name) & (Lease.expires_at >= now)).first()
    return row.holder if row is not None else None
