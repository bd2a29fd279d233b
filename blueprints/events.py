"""/api/events: the Server-Sent Events stream of the event log (replay by Last-Event-ID, heartbeats,
auth expiry, per-IP cap). The stream holds no database connection and waits cooperatively."""

from __future__ import annotations

import json
import logging
import select
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Response, current_app, request

from blueprints._auth import (
    caller,
    no_rate_limit,
    request_auth_state,
    stream_audience,
    stream_caller,
    stream_guard,
    stream_reader,
)
from blueprints._http import app_config, client_ip
from errors import AppError, TooManyStreams, ValidationFailed
from services import events, hangup
from services.streams import StreamSlots

bp = Blueprint("events", __name__)
log = logging.getLogger("photonix.events")
RETRY_MS = 3000
MIN_SEND_TIMEOUT_S = 5.0
ACCESS_EVENTS = ("auth-changed",)  # after these the stream re-checks that it may still read


@bp.get("/api/events")
@no_rate_limit
@stream_reader
def get_events():
    last_id = _last_event_id()
    ip, slots = client_ip(), _slots()
    if not slots.acquire(ip):
        raise TooManyStreams(f"This address already has {slots.max_per_ip} event streams open here.")
    try:
        sub = events.hub().subscribe(last_id, admin=stream_audience() == "admin")
    except BaseException:
        slots.release(ip)
        raise
    heartbeat_s = app_config().sse_heartbeat_seconds
    sock = _client_socket()
    stalled = _stall_check(sock, max(MIN_SEND_TIMEOUT_S, 2.0 * heartbeat_s))
    # A token's expiry ends the stream only where reading needs the token.
    expires_at = None if request_auth_state().anonymous_reads else caller().expires_at
    if stream_audience() == "admin":  # admin events need the admin token in every mode
        expires_at = stream_caller().expires_at
    stream = _stream(sub, heartbeat_s, expires_at, stream_guard(), stalled, lambda: slots.release(ip), sock)
    # Bytes passed straight through: no extra encoding generator per stream (memory per idle stream counts).
    return Response(stream, mimetype="text/event-stream", direct_passthrough=True,
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _stream(sub: events.Subscription, heartbeat_s: float, expires_at: float | None, still_allowed: Callable[[], None],
            stalled: Callable[[], bool], release: Callable[[], None], sock: Any) -> Iterator[bytes]:
    # One generator level only: every nested generator deepens the stack each idle greenlet keeps.
    # A client that hangs up ends the subscription at once, so the slot is not held until a write fails.
    watched = hangup.watch(sock, sub.close)
    try:
        yield (f"retry: {RETRY_MS}\n" + frame("connected", {"clientId": uuid.uuid4().hex,
                                                            "lastEventId": sub.last_id}, sub.last_id)).encode()
        if sub.resync_needed:
            yield frame("resync", {"lastEventId": sub.last_id}, sub.last_id).encode()
        while True:
            message, last = _next_message(sub, heartbeat_s, expires_at, still_allowed)
            if stalled():
                return
            yield message.encode()
            if last:
                return
    except events.SubscriptionEnded as ended:
        log.debug("event stream ended: %s", ended.reason)
    finally:
        hangup.unwatch(watched)
        sub.close()
        release()


def _next_message(sub: events.Subscription, heartbeat_s: float, expires_at: float | None,
                  still_allowed: Callable[[], None]) -> tuple[str, bool]:
    """What to send next (waiting at most one heartbeat), and whether the stream ends after it."""
    wait_s = heartbeat_s if expires_at is None else min(heartbeat_s, expires_at - time.time())
    if wait_s <= 0:
        return frame("auth-expired", {"code": "TOKEN_EXPIRED"}), True
    event = sub.get(wait_s)
    if event is None:
        return ": heartbeat\n\n", False
    message = frame(event.type, event.data, event.id)
    if event.type in ACCESS_EVENTS:
        try:
            still_allowed()
        except AppError as refused:
            return message + frame("auth-expired", {"code": refused.code}), True
    return message, False


def frame(kind: str, data: dict[str, Any], event_id: int | None = None) -> str:
    """One SSE message; JSON never contains a raw newline, so `data:` is always one line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n"


def _last_event_id() -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("lastEventId")
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ValidationFailed("lastEventId", "Last-Event-ID must be an event id (a whole number).")
    return int(raw)


def _slots() -> StreamSlots:
    return current_app.extensions["photonix_streams"]


def _client_socket() -> Any:
    """The client's socket under gunicorn's gevent / pywsgi workers; None in the Flask test client."""
    return request.environ.get("gunicorn.socket") or request.environ.get("gunicorn.sock")


def _stall_check(sock: Any, timeout_s: float) -> Callable[[], bool]:
    """A check run before each write: a client that stops reading fills its socket buffers, and our next
    write would block. If the socket stays unwritable for `timeout_s`, shut it down (the pending write
    then fails quietly) and end the stream, instead of holding the connection and its greenlet forever."""
    if sock is None or not hasattr(sock, "fileno"):
        return lambda: False  # not a real socket (the test client): nothing can stall

    def stalled() -> bool:
        # poll, not select: select() cannot watch a descriptor >= 1024, and a worker with a thousand streams has
        # them (gevent's select even asks the real one first). Under gevent this poll waits cooperatively.
        try:
            watch = select.poll()
            watch.register(sock, select.POLLOUT)
            if watch.poll(timeout_s * 1000):  # writable, or closed (the write then fails at once)
                return False
            log.info("dropped an event stream: the client read nothing for %ss", timeout_s)
            sock.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError):  # already closed
            pass
        return True

    return stalled
