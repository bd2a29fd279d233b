"""Event streams on a real gunicorn with two gevent workers (Redis for the shared limiter): delivery across
workers, replay, heartbeat, slow consumers, auth, and streams ended by a graceful stop."""

from __future__ import annotations

import json
import signal
import socket
import time

import jwt as pyjwt
import pytest
import requests

from services import events, settings
from services.auth.passwords import hash_password
from tests.conftest import ADMIN_SECRET, JWT_SECRET
from tests.support.servers import Gunicorn, redis_server
from tests.support.sse import EventStream

pytestmark = pytest.mark.integration
PASSWORD = "streaming password"


Client = EventStream


@pytest.fixture
def server(env, tmp_path, db):
    with redis_server() as redis_url, Gunicorn({**env, "PHOTONIX_WORKERS": "2", "PHOTONIX_REDIS_URL": redis_url,
                                               "PHOTONIX_SSE_HEARTBEAT_SECONDS": "1"},
                                               tmp_path / "gunicorn.log") as running:
        yield running


def test_delivery_across_workers_and_replay(server):
    with server.connections(2) as (listening, changing):  # held by two different workers
        client = Client(server.url, session=listening)
        client.wait(lambda c: c.kinds() == ["connected"])
        started = time.monotonic()
        answer = changing.put(server.url + "/api/settings", json={"siteTitle": "Across"}, timeout=5,
                              headers={"X-Admin-Secret": ADMIN_SECRET})
        assert answer.status_code == 200 and server.worker_of(answer) == changing.worker != listening.worker
        client.wait(lambda c: "settings-changed" in c.kinds(), timeout_s=2.0)  # the poller runs every 250 ms
        delivered_s = time.monotonic() - started
        last_id = client.events[-1][0]
        client.close()
    assert server.worker_of(client.response) == listening.worker  # the stream's line, written as it ended
    missed = [events.publish("index-progress", {"n": n}) for n in range(5)]
    again = Client(server.url, {"Last-Event-ID": last_id})
    again.wait(lambda c: len(c.events) >= 6)
    time.sleep(0.5)
    assert [int(event_id) for event_id, _, _ in again.events[1:]] == missed  # exactly those five, in order
    again.close()
    print(f"delivered across workers in {delivered_s:.2f}s")


def test_heartbeats_arrive(server):
    client = Client(server.url)
    client.wait(lambda c: c.comments >= 2, timeout_s=4)
    client.close()


def test_a_client_that_stops_reading_is_dropped_and_others_are_not(server):
    slow = socket.create_connection(("127.0.0.1", server.port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    healthy = Client(server.url)
    healthy.wait(lambda c: c.kinds() == ["connected"])
    padding = "x" * 4000
    for n in range(1800):  # ~7 MB at a pace a reading client keeps up with: far more than the slow
        events.publish("index-progress", {"n": n, "padding": padding})  # client's buffers and 1000-event queue
        if n % 100 == 99:
            time.sleep(0.3)
    healthy.wait(lambda c: len(c.events) >= 1801, timeout_s=30)
    assert not healthy.ended.is_set()
    deadline = time.monotonic() + 20
    while "dropped an event stream" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "dropped an event stream: the client read nothing for 5.0s" in server.log()
    slow.settimeout(10)
    # Now drain it quickly: through the 4 KB window the megabytes the server had buffered took over a minute.
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    received = 0
    while chunk := slow.recv(1 << 20):  # what was buffered, then the end: the server hung up
        received += len(chunk)
    assert received < 1800 * 4000
    slow.close()
    healthy.close()


def test_private_gallery_streams_need_a_login_and_end_when_the_token_expires(server):
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)
    refused = requests.get(server.url + "/api/events", timeout=5, headers={"Connection": "close"})
    assert refused.status_code == 401 and refused.json()["code"] == "AUTH_REQUIRED"
    with requests.Session() as browser:
        assert browser.post(server.url + "/api/auth/login", json={"password": PASSWORD}, timeout=10).ok
        cookie = browser.cookies.get("auth_token")
    client = Client(server.url, {"Cookie": f"auth_token={cookie}"})
    client.wait(lambda c: c.kinds() == ["connected"])
    client.close()
    now = int(time.time())
    short = pyjwt.encode({"sub": "viewer", "type": "access", "role": "viewer", "epoch": 1, "iat": now, "nbf": now,
                          "jti": "s", "exp": now + 2}, JWT_SECRET, algorithm="HS256")
    expiring = Client(server.url, {"Authorization": f"Bearer {short}"})
    expiring.wait(lambda c: "auth-expired" in c.kinds() and c.ended.is_set(), timeout_s=8)
    assert json.loads(expiring.events[-1][2]) == {"code": "TOKEN_EXPIRED"}


def test_graceful_stop_ends_streams_at_once(env, tmp_path, db):
    server = Gunicorn({**env, "PHOTONIX_SSE_HEARTBEAT_SECONDS": "30"}, tmp_path / "gunicorn.log").start()
    try:
        clients = [Client(server.url) for _ in range(3)]
        for client in clients:
            client.wait(lambda c: c.kinds() == ["connected"])
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        for client in clients:
            assert client.ended.wait(5), "a stream outlived SIGTERM"
        assert server.proc.wait(10) == 0
        assert time.monotonic() - started < 5  # not the 10 s graceful timeout
    finally:
        server.stop()
    assert "Traceback" not in server.log()
