"""Database leases: a named row that at most one holder owns until it expires, across workers and nodes.

Each statement is atomic on its own, so racing processes on SQLite or PostgreSQL agree on one winner.
Times are wall-clock epoch seconds; nodes sharing a database need roughly synchronised clocks.
Callers own the connection: these functions neither open a transaction around the caller nor close
(a Keeper's own thread closes the connection it used).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

import peewee

from models import Lease, database
from services.database import close_connection

log = logging.getLogger("photonix.lease")


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


def take(name: str, holder: str, ttl_s: float) -> bool:
    """try_acquire, and also take over at once a lease whose holder was a process on this host that no
    longer exists (killed with SIGKILL, say) instead of waiting out its TTL."""
    if try_acquire(name, holder, ttl_s):
        return True
    current = current_holder(name)
    if current is None or not _holder_gone(current):
        return False
    log.warning("taking over lease %s from %s, which no longer runs", name, current)
    Lease.delete().where((Lease.name == name) & (Lease.holder == current)).execute()
    return try_acquire(name, holder, ttl_s)


class Keeper:
    """Renews a held lease in the background every ttl/4 until stop(), which releases it."""

    def __init__(self, name: str, holder: str, ttl_s: float):
        self.name, self.holder, self.ttl_s = name, holder, ttl_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"photonix-lease-{name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        release(self.name, self.holder)

    def _loop(self) -> None:
        while not self._stop.wait(self.ttl_s / 4):
            try:
                try_acquire(self.name, self.holder, self.ttl_s)
            except Exception as exc:  # the next renewal tries again; the TTL leaves room
                log.warning("could not renew lease %s: %s", self.name, exc)
            finally:
                close_connection()  # this thread's own connection


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (someone else's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder_gone(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another node's process: only its TTL can tell
    return not process_alive(int(pid))
