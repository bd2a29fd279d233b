"""Hardening (#10), event streams on a real gunicorn (one gevent worker): clients that vanish, crowd one
address, stop reading or outlive their token never leak a descriptor or a stream slot, and never slow others.

Raw sockets play the hostile clients (an abort, an RST, a reader that never reads); tests/support/sse.py plays
the well-behaved one. /health's `streams` is the worker's own count of open streams.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import struct
import time
from pathlib import Path

import jwt as pyjwt
import pytest
import requests

from services import events, settings
from services.auth import passwords
from tests.conftest import JWT_SECRET
from tests.support.servers import Gunicorn
from tests.support.sse import EventStream

pytestmark = pytest.mark.integration
CYCLES = 1000
FD_MARGIN = 8  # descriptors that may come and go on their own (a database file, a log being rotated)
CAP = 3
SLOW_CONSUMERS = 8
PADDING = "x" * 4000
TOKEN_LIFE_S = 3  # long enough for a loaded machine to open the stream before it expires
MAX_PADDED_EVENTS = 5000  # 20 MB: far more than a stalled client's socket buffers and queue hold


def serve(env, tmp_path, **settings_env) -> Gunicorn:
    variables = {f"PHOTONIX_{name}": str(value) for name, value in settings_env.items()}
    return Gunicorn({**env, "PHOTONIX_WORKERS": "1", **variables}, tmp_path / "gunicorn.log")


def worker_pid(server: Gunicorn) -> int:
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def open_streams(server: Gunicorn) -> int:
    return requests.get(server.url + "/health", timeout=5, headers={"Connection": "close"}).json()["streams"]


def wait_until(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.1)


def connect_stream(server: Gunicorn, headers: str = "", rcvbuf: int | None = None) -> socket.socket:
    """A raw client that sent GET /api/events and read up to the end of its `connected` frame."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
    received = b""
    while b"event: connected" not in received or not received.split(b"event: connected", 1)[1].count(b"\n\n"):
        chunk = sock.recv(4096)
        assert chunk, f"the server hung up before the connected frame: {received[:200]!r}"
        received += chunk
    assert received.startswith(b"HTTP/1.1 200 "), received[:200]
    return sock


def abort(sock: socket.socket, reset: bool) -> None:
    """Close like a client that went away: a normal FIN, or an RST (SO_LINGER with a zero timeout)."""
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_thousand_aborted_streams_leak_no_descriptor_and_no_slot(env, tmp_path, db):
    """1,000 streams that vanish (FIN, then RST, by turns) leave the worker's descriptors and stream slots where
    they were. This also counts greenlets: a stream runs in its connection's handler greenlet (it spawns none of
    its own), and that greenlet holds the client socket until it returns, so a leaked greenlet is a leaked
    descriptor. The long version is the bench's soak (`make bench BENCH_ARGS="--only soak"`)."""
    with serve(env, tmp_path, SSE_HEARTBEAT_SECONDS=1, SSE_MAX_PER_IP=100_000) as server:
        pid = worker_pid(server)
        for reset in (False, True):  # warm up: the hub's poller, the database file, the first greenlets
            abort(connect_stream(server), reset)
        wait_until(lambda: open_streams(server) == 0, 5, "the warm-up streams to end")
        baseline = open_fds(pid)
        started = time.monotonic()
        for n in range(CYCLES):
            abort(connect_stream(server), reset=n % 2 == 1)
        cycled_s = time.monotonic() - started
        wait_until(lambda: open_streams(server) == 0, 5, "every aborted stream to be noticed and ended")
        settled = wait_until(lambda: open_fds(pid) <= baseline + FD_MARGIN and open_fds(pid), 5,
                             f"the worker's descriptors to return to {baseline}")
        assert worker_pid(server) == pid  # the same worker all along: nothing was fixed by a restart
        print(f"\n{CYCLES} cycles in {cycled_s:.1f}s; descriptors {baseline} -> {settled}")
        assert abs(settled - baseline) <= FD_MARGIN
        assert "Traceback" not in server.log()


def test_the_per_ip_cap_answers_429_and_a_hung_up_stream_frees_its_slot_at_once(env, tmp_path, db):
    """A stream's slot is released when its client hangs up (the server watches the socket for the FIN or RST),
    not at the next heartbeat write: with an hour-long heartbeat, closed streams free their slots at once, so a
    page reload (or a household behind one NAT) is not refused for a heartbeat or two."""
    with serve(env, tmp_path, SSE_HEARTBEAT_SECONDS=3600, SSE_MAX_PER_IP=CAP) as server:
        held = [connect_stream(server) for _ in range(CAP)]
        assert open_streams(server) == CAP
        refused = requests.get(server.url + "/api/events", timeout=5, headers={"Connection": "close"})
        assert refused.status_code == 429 and refused.headers["Content-Type"].startswith("application/json")
        assert refused.json()["code"] == "TOO_MANY_STREAMS"
        assert refused.json()["message"] == f"This address already has {CAP} event streams open here."
        assert open_streams(server) == CAP  # the refusal took no slot
        abort(held.pop(), reset=False)
        wait_until(lambda: open_streams(server) == CAP - 1, 4, "the closed stream's slot to be freed")
        held.append(connect_stream(server))
        again = requests.get(server.url + "/api/events", timeout=5, headers={"Connection": "close"})
        assert again.status_code == 429 and again.json()["code"] == "TOO_MANY_STREAMS"
        for n, sock in enumerate(held):  # every stream the address had, by FIN and by RST
            abort(sock, reset=n % 2 == 1)
        wait_until(lambda: open_streams(server) == 0, 4, "every hung-up stream's slot to be freed")
        replacements = [connect_stream(server) for _ in range(CAP)]  # a reload: all accepted at once
        assert open_streams(server) == CAP
        for sock in replacements:
            abort(sock, reset=True)
        assert "Traceback" not in server.log()


def test_streams_past_descriptor_1024_live_through_their_heartbeats(env, tmp_path, db):
    """select() cannot watch a descriptor of 1024 or more (FD_SETSIZE), and gevent's select() calls the real one
    first: the check for a stalled reader took every stream past the 1,020th or so for a stalled one and ended it
    at its first heartbeat. (The bench's fan-out to 1,000 streams met it once kept database connections moved
    the worker's descriptors up by a few.)"""
    count = 1100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 200:  # the server inherits this process's limit
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * count), hard))
    with serve(env, tmp_path, SSE_HEARTBEAT_SECONDS=1, SSE_MAX_PER_IP=100_000) as server:
        streams = [connect_stream(server) for _ in range(count)]
        try:
            assert open_fds(worker_pid(server)) > 1024 + 50  # the last streams are past FD_SETSIZE
            for sock in streams[-50:]:  # two heartbeats each: the stall check ran before each of them
                received = b""
                while received.count(b": heartbeat") < 2:
                    chunk = sock.recv(4096)
                    assert chunk, "the server ended a stream that was being read"
                    received += chunk
            assert open_streams(server) == count
        finally:
            for sock in streams:
                abort(sock, reset=True)
        assert "dropped an event stream" not in server.log()


def padded(stream: EventStream) -> list[tuple]:
    return [event for event in stream.events if PADDING in event[2]]


def test_many_stalled_consumers_do_not_hold_back_a_reader(env, tmp_path, db):
    """Eight clients that stop reading fall 1,000 events behind (the hub drops their subscriptions, and logs each)
    while a reader gets every event, in order. Counted, not timed: with an hour-long heartbeat the stalled streams
    stay open (blocked on their full sockets) throughout, so every event reached the reader while all eight were
    stalled; fanning out through them could not have delivered a single one."""
    with serve(env, tmp_path, SSE_HEARTBEAT_SECONDS=3600) as server:
        stalled = [connect_stream(server, rcvbuf=4096) for _ in range(SLOW_CONSUMERS)]  # then never read again
        reader = EventStream(server.url)
        reader.wait(lambda c: c.kinds() == ["connected"])
        assert open_streams(server) == SLOW_CONSUMERS + 1
        sent = 0
        # 4 KiB events, 100 at a time, until every stalled one has fallen behind (after its socket buffers filled,
        # a few MB, and then its queue); each batch paced by the reader, which must never fall behind itself.
        while server.log().count("dropped a slow event subscriber") < SLOW_CONSUMERS:
            assert sent < MAX_PADDED_EVENTS, f"the stalled subscribers were not all dropped: {server.log()[-2000:]}"
            for n in range(sent, sent + 100):
                events.publish("index-progress", {"n": n, "padding": PADDING})
            sent += 100
            reader.wait(lambda c, sent=sent: len(padded(c)) == sent, timeout_s=20)
        print(f"\n{sent} events of 4 KiB until {SLOW_CONSUMERS} stalled subscribers were dropped")
        assert open_streams(server) == SLOW_CONSUMERS + 1 and not reader.ended.is_set()
        assert [json.loads(e[2])["n"] for e in padded(reader)] == list(range(sent))
        events.publish("index-progress", {"probe": "after"})
        reader.wait(lambda c: "after" in c.events[-1][2])
        for sock in stalled:
            abort(sock, reset=True)
        wait_until(lambda: open_streams(server) == 1, 10, "the hung-up streams to end")
        assert "Traceback" not in server.log()
    # The reader ends with the server: closing it here would wait for its blocked read (no heartbeat for an hour).


def test_a_consumer_that_stops_reading_is_dropped_after_its_stall_timeout(env, tmp_path, db):
    """A client whose socket stays full for two heartbeats (at least 5 s) is dropped by the server, which logs it."""
    with serve(env, tmp_path, SSE_HEARTBEAT_SECONDS=1) as server:
        stalled = connect_stream(server, rcvbuf=4096)  # then never read again
        # More than its socket buffers can ever hold: the largest send buffer (tcp_wmem's maximum) and a few more.
        most_buffered = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
        for n in range(most_buffered // len(PADDING) + 100):
            events.publish("index-progress", {"n": n, "padding": PADDING})
        wait_until(lambda: open_streams(server) == 0, 30, "the stalled stream to be dropped")
        assert "dropped an event stream: the client read nothing for 5.0s" in server.log()
        abort(stalled, reset=True)
        assert "Traceback" not in server.log()


def test_a_token_expiring_mid_stream_ends_it_and_the_expired_token_cannot_reconnect(env, tmp_path, db, monkeypatch):
    monkeypatch.setattr(passwords, "BCRYPT_ROUNDS", 4)
    settings.write_settings({settings.PASSWORD_HASH: passwords.hash_password("stream password"),
                             settings.PASSWORD_ENABLED: "1"}, bump_epoch=True)
    # A heartbeat far longer than the token's life: the end must come from the expiry itself.
    with serve(env, tmp_path, SSE_HEARTBEAT_SECONDS=3600) as server:
        now = int(time.time())
        claims = {"sub": "viewer", "type": "access", "role": "viewer", "epoch": 1, "iat": now, "nbf": now,
                  "jti": "short-lived", "exp": now + TOKEN_LIFE_S}
        token = pyjwt.encode(claims, JWT_SECRET, algorithm="HS256")
        bearer = {"Authorization": f"Bearer {token}"}
        stream = EventStream(server.url, bearer)
        stream.wait(lambda c: c.kinds() == ["connected"])
        stream.wait(lambda c: c.ended.is_set(), timeout_s=20)
        ended_at = time.time()
        assert stream.kinds() == ["connected", "auth-expired"]
        assert json.loads(stream.events[-1][2]) == {"code": "TOKEN_EXPIRED"}
        # Not before the expiry (the server's clock is this one), and at it: the next heartbeat was an hour away.
        assert ended_at >= now + TOKEN_LIFE_S
        wait_until(lambda: open_streams(server) == 0, 3, "the expired stream's slot to be freed")
        again = requests.get(server.url + "/api/events", timeout=5, headers={**bearer, "Connection": "close"})
        # JSON, not text/event-stream: an EventSource stops here instead of retrying in a loop.
        assert again.status_code == 401 and again.headers["Content-Type"].startswith("application/json")
        assert again.json()["code"] == "TOKEN_EXPIRED" and open_streams(server) == 0
