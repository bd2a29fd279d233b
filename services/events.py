"""The event log: `publish` appends to the `event` table; one EventHub per process polls it and fans new
rows out to its subscribers (SSE streams), so events cross workers and nodes and can be replayed.
Each event has an audience (AUDIENCES, by type): admin events reach only admin subscriptions, live or replayed.

The hub never keeps a database connection between polls; a subscriber never holds one while waiting.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any

from models import Event as EventRow
from models import database
from services import event_rows
from services.database import close_connection, is_postgres

POLL_INTERVAL_S = 0.25
POLL_BATCH_ROWS = 500
QUEUE_SIZE = 1000
REPLAY_MAX_ROWS = 1000
KEEP_SECONDS = 24 * 3600
KEEP_ROWS = 10_000
JOIN_TIMEOUT_S = 2.0

log = logging.getLogger("photonix.events")

EVERYONE = "everyone"
ADMIN = "admin"
# Who may receive each type: gallery readers get what the gallery shows anyway (paths, counts, access
# changes). The download center's events name feeds, entries, links and errors: admin only, as is any
# type not listed here (a new type leaks nothing until it is added).
AUDIENCES = {
    "thumbnail-generated": EVERYONE, "thumbnail-progress": EVERYONE, "thumbnail-batch-complete": EVERYONE,
    "index-progress": EVERYONE, "index-complete": EVERYONE, "album-changed": EVERYONE,
    "settings-changed": EVERYONE, "auth-changed": EVERYONE,
    "video-progress": EVERYONE, "video-ready": EVERYONE, "video-failed": EVERYONE,
    "video-batch-complete": EVERYONE,
    "download-progress": ADMIN, "download-complete": ADMIN, "download-error": ADMIN,
}


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    data: dict[str, Any]
    created_at: float
    audience: str = EVERYONE


class SubscriptionEnded(Exception):
    """Raised by Subscription.get when the stream must end; `reason` is "shutdown", "overflow" or "closed"."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"event subscription ended: {reason}")


_hubs: weakref.WeakSet[EventHub] = weakref.WeakSet()
_hubs_lock = threading.Lock()
_default: EventHub | None = None
_default_lock = threading.Lock()


def publish(type: str, data: dict[str, Any]) -> int:
    """Append an event in a short transaction and return its id; wakes this process's pollers.

    Its audience follows from its type (AUDIENCES; admin when not listed). Call it outside long
    transactions (on PostgreSQL the table lock lasts until the outer commit), and
    from a greenlet or thread of this process, not from inside services.cpu.run_cpu.
    """
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    with database.atomic():
        if is_postgres():
            # Publishers queue on this lock, so rows commit in id order and a poller reading
            # `id > last` never passes a row that commits later with a smaller id.
            database.execute_sql("LOCK TABLE event IN SHARE ROW EXCLUSIVE MODE")
        event_id = EventRow.insert(type=type, data=payload, created_at=time.time(),
                                   audience=AUDIENCES.get(type, ADMIN)).execute()
    with _hubs_lock:
        hubs = list(_hubs)
    for each in hubs:
        each.wake()
    return int(event_id)


def latest_id() -> int:
    """The id of the newest event, or 0 when there is none."""
    return event_rows.newest_id()


def prune(keep_seconds: float = KEEP_SECONDS, keep_rows: int = KEEP_ROWS, now: float | None = None) -> int:
    """Delete events older than `keep_seconds` or beyond the newest `keep_rows`; return how many.

    The newest row always stays: SQLite hands out max(id)+1, so an emptied table would reuse ids
    that clients already hold as their Last-Event-ID.
    """
    if keep_rows < 1:
        raise ValueError("keep_rows must be at least 1")
    now = time.time() if now is None else now
    newest = latest_id()
    if not newest:
        return 0
    stale = EventRow.created_at < now - keep_seconds
    newest_kept = EventRow.select(EventRow.id).order_by(EventRow.id.desc()).offset(keep_rows - 1)
    boundary = newest_kept.limit(1).scalar()
    if boundary is not None:
        stale = stale | (EventRow.id < boundary)
    return EventRow.delete().where((EventRow.id < newest) & stale).execute()


def hub() -> EventHub:
    """This process's default hub, made on first use (its poller starts with the first subscriber)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = EventHub()
        return _default


def shutdown(final: bool = False) -> None:
    """End every stream of the default hub and stop its poller; a later hub() makes a fresh one, unless `final`
    (a worker stopping): then the stopped hub stays, and a stream opened afterwards (a browser reconnecting on a
    kept-alive connection, or a new one accepted before the worker stopped listening) gets what it missed and
    ends, instead of holding the worker's stop for graceful_timeout; the client resumes from there elsewhere."""
    global _default
    with _default_lock:
        current = _default
        if not final:
            _default = None
        elif current is None:
            current = _default = EventHub()
    if current is not None:
        current.shutdown()


class Subscription:
    """One subscriber: a bounded queue that yields events in id order, each at most once.

    `last_id`: the highest id yielded so far (at first, the point the stream starts after). Without
    `admin`, admin-audience events are skipped (never queued).
    `resync_needed`: events were missed that can no longer be replayed. `ended`: None while live, else
    why it ended. Always close() in finally.
    """

    def __init__(self, hub: EventHub, maxsize: int, admin: bool = False):
        self._hub = hub
        self._maxsize = maxsize
        self.admin = admin
        # A lock for the queue and an Event to wake the one reader, not a Condition: under gevent a
        # Condition's wait goes through more C frames (kept as each idle stream's saved stack) and makes a
        # lock per wait. The reader clears `_ready` before it looks at the queue, so no wake-up is lost.
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._items: deque[Event] = deque()
        self.ended: str | None = None
        self.last_id = 0
        self.resync_needed = False

    def get(self, timeout: float) -> Event | None:
        """The next event, or None after `timeout` seconds without one.

        Raises SubscriptionEnded once the subscription has ended: at once on shutdown or close(), and
        after the events already queued when it overflowed (the client then resumes by Last-Event-ID).
        """
        deadline = time.monotonic() + timeout
        while True:
            self._ready.clear()
            with self._lock:
                event = self._pop()
                if event is not None:
                    return event
                if self.ended is not None:
                    raise SubscriptionEnded(self.ended)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._ready.wait(remaining)

    def close(self) -> None:
        """Unregister from the hub; safe to call more than once."""
        self._hub._discard(self)
        self._end("closed", discard=True)

    def _pop(self) -> Event | None:
        while self._items:
            event = self._items.popleft()
            if event.id > self.last_id:
                self.last_id = event.id
                return event
        return None

    def _receives(self, event: Event) -> bool:
        return self.admin or event.audience == EVERYONE

    def _begin(self, start_after: int, replayed: list[Event], resync: bool) -> None:
        replayed = [event for event in replayed if self._receives(event)]
        with self._lock:
            self.last_id = start_after
            self.resync_needed = resync
            merged = {event.id: event for event in (*replayed, *self._items)}
            self._items = deque(sorted(merged.values(), key=lambda event: event.id))
        self._ready.set()

    def _offer(self, event: Event) -> bool:
        """Queue a live event; False when this subscription has ended, now (queue full) or before."""
        with self._lock:
            if self.ended is not None:
                return False
            if not self._receives(event):
                return True
            if len(self._items) >= self._maxsize:
                self.ended = "overflow"
            else:
                self._items.append(event)
            live = self.ended is None
        self._ready.set()
        return live

    def _end(self, reason: str, discard: bool = False) -> None:
        with self._lock:
            if self.ended is None:
                self.ended = reason
            if discard:
                self._items.clear()
        self._ready.set()


class EventHub:
    """Fans events out to this process's subscribers from one poller thread (a greenlet under gevent).

    With autostart=False no thread is started and the owner calls poll_once() (tests do).
    """

    def __init__(self, poll_interval_s: float = POLL_INTERVAL_S, queue_size: int = QUEUE_SIZE,
                 replay_max_rows: int = REPLAY_MAX_ROWS, autostart: bool = True):
        self.poll_interval_s = poll_interval_s
        self.queue_size = queue_size
        self.replay_max_rows = replay_max_rows
        self.autostart = autostart
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._subscribers: set[Subscription] = set()
        self._cursor: int | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._failing = False
        with _hubs_lock:
            _hubs.add(self)

    def subscribe(self, last_event_id: int | None = None, admin: bool = False) -> Subscription:
        """A subscription to events after `last_event_id` (replayed from the table), then live ones;
        with `admin`, admin-audience events too (the caller checked the admin credential).

        None means "from now on". An id older than the retained rows, newer than the newest row, or
        more than replay_max_rows behind sets resync_needed and starts from now. Returns without a
        database connection; after shutdown() the subscription holds only what it missed, then ends.
        """
        sub = Subscription(self, self.queue_size, admin)
        with self._lock:
            stopped = self._stopped
            if not stopped:  # registered before the replay is read, so nothing committed in between is missed
                self._subscribers.add(sub)
        if stopped:  # what it missed, then the end: the client resumes from there on another worker
            try:
                sub._begin(*self._replay(last_event_id))
            finally:
                close_connection()
            sub._end("shutdown")
            return sub
        try:
            self._init_cursor()
            self._start_poller()
            sub._begin(*self._replay(last_event_id))
        except BaseException:
            self._discard(sub)
            raise
        finally:
            close_connection()
        return sub

    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def wake(self) -> None:
        """Poll now instead of at the next interval."""
        self._wake.set()

    def poll_once(self) -> int:
        """Read rows newer than the cursor, fan them out, close the connection; return how many."""
        try:
            cursor, count = self._init_cursor(), 0
            while True:
                events = _read_after(cursor, POLL_BATCH_ROWS)
                if events:
                    cursor = self._cursor = events[-1].id
                    self._fan_out(events)
                count += len(events)
                if len(events) < POLL_BATCH_ROWS:
                    return count
        finally:
            close_connection()

    def shutdown(self, timeout_s: float = JOIN_TIMEOUT_S) -> None:
        """Stop the poller and end every subscription now (their get() raises SubscriptionEnded)."""
        with self._lock:
            self._stopped = True
            subscribers, self._subscribers = list(self._subscribers), set()
            thread = self._thread
        self._wake.set()
        for sub in subscribers:
            sub._end("shutdown", discard=True)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def _discard(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def _init_cursor(self) -> int:
        # Read before any subscriber's replay, so the poller starts at or below every replay's end.
        if self._cursor is not None:
            return self._cursor
        newest = latest_id()
        with self._lock:
            self._cursor = newest if self._cursor is None else self._cursor
            return self._cursor

    def _start_poller(self) -> None:
        with self._lock:
            if not self.autostart or self._thread is not None or self._stopped:
                return
            self._thread = threading.Thread(target=self._run, name="photonix-events", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.poll_interval_s)
            self._wake.clear()
            if self._stopped:
                return
            try:
                self.poll_once()
                self._failing = False
            except Exception:  # a database hiccup must not end live updates for good
                if not self._failing:
                    log.exception("polling the event table failed; retrying every %ss", self.poll_interval_s)
                self._failing = True

    def _replay(self, last_event_id: int | None) -> tuple[int, list[Event], bool]:
        newest = latest_id()
        if last_event_id is None:
            return newest, [], False
        oldest = event_rows.oldest_id() or newest
        # An id from the future means the table was reset or belongs to another server.
        if last_event_id > newest or last_event_id < oldest - 1:
            return newest, [], True
        replayed = _read_after(last_event_id, self.replay_max_rows + 1)
        if len(replayed) > self.replay_max_rows:
            return newest, [], True
        return last_event_id, replayed, False

    def _fan_out(self, events: list[Event]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            if all(sub._offer(event) for event in events):
                continue
            self._discard(sub)
            if sub.ended == "overflow":
                log.info("dropped a slow event subscriber: its queue of %d events was full", self.queue_size)


def _read_after(after: int, limit: int) -> list[Event]:
    return [Event(*row) for row in event_rows.rows_after(after, limit)]
