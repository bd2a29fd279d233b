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

from blueprints._auth import no_rate_limit, request_auth_state
from blueprints._http import app_config, client_ip
from blueprints._stream_auth import StreamRules, stream_audience, stream_reader, stream_rules
from errors import AppError, TooManyStreams, ValidationFailed
from services import events, hangup
from services.streams import StreamSlots

bp = Blueprint("events", __name__)
log = logging.getLogger("photonix.events")
RETRY_MS = 3000
MIN_SEND_TIMEOUT_S = 5.0
ACCESS_EVENTS = ("auth-changed",)  # after these the stream re-checks that it may still read
# One encoder for every frame: json.dumps with options builds a new one per call (each event is framed once
# per open stream).
_to_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


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
    rules = stream_rules(request_auth_state().anonymous_reads)
    stream = _stream(sub, heartbeat_s, rules, stalled, lambda: slots.release(ip), sock)
    # Bytes passed straight through: no extra encoding generator per stream (memory per idle stream counts).
    return Response(stream, mimetype="text/event-stream", direct_passthrough=True,
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _stream(sub: events.Subscription, heartbeat_s: float, rules: StreamRules, stalled: Callable[[], bool],
            release: Callable[[], None], sock: Any) -> Iterator[bytes]:
    # One generator level only: every nested generator deepens the stack each idle greenlet keeps.
    # A client that hangs up ends the subscription at once, so the slot is not held until a write fails.
    watched = hangup.watch(sock, sub.close)
    try:
        yield (f"retry: {RETRY_MS}\n" + frame("connected", {"clientId": uuid.uuid4().hex,
                                                            "lastEventId": sub.last_id}, sub.last_id)).encode()
        if sub.resync_needed:
            yield frame("resync", {"lastEventId": sub.last_id}, sub.last_id).encode()
        while True:
            message, last = _next_message(sub, heartbeat_s, rules)
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


def _next_message(sub: events.Subscription, heartbeat_s: float, rules: StreamRules) -> tuple[str, bool]:
    """What to send next (waiting at most one heartbeat), and whether the stream ends after it. Events the
    stream does not want are skipped without resetting the heartbeat's clock."""
    beat_at = time.monotonic() + heartbeat_s
    while True:
        wait_s = beat_at - time.monotonic()
        if rules.expires_at is not None:
            wait_s = min(wait_s, rules.expires_at - time.time())
            if rules.expires_at <= time.time():
                return frame("auth-expired", {"code": rules.expired_code}), True
        event = sub.get(max(0.0, wait_s))
        if event is None:
            refused = _refusal(rules) if rules.check_each_beat else None
            return (frame("auth-expired", {"code": refused}), True) if refused else (": heartbeat\n\n", False)
        if rules.wanted is None or rules.wanted(event):
            break
    message = frame(event.type, event.data, event.id)
    refused = _refusal(rules) if event.type in ACCESS_EVENTS or rules.check_each_beat else None
    return (message + frame("auth-expired", {"code": refused}), True) if refused else (message, False)


def _refusal(rules: StreamRules) -> str | None:
    """The code of why the stream may no longer go on, or None."""
    try:
        rules.still_allowed()
    except AppError as refused:
        return refused.code
    return None


def frame(kind: str, data: dict[str, Any], event_id: int | None = None) -> str:
    """One SSE message; JSON never contains a raw newline, so `data:` is always one line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {_to_json(data)}\n\n"


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
