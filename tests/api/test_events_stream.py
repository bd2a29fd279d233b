"""GET /api/events through the Flask test client: frames, replay, resync, heartbeat, auth, limits."""

from __future__ import annotations

import threading
import time

import jwt as pyjwt
import pytest

from app import create_app
from config import load_config
from services import events, settings
from services.auth.passwords import hash_password
from services.database import init_db
from tests.conftest import ADMIN_SECRET, JWT_SECRET
from tests.support.waiting import until

PASSWORD = "stream password"
WAIT_S = 5.0


@pytest.fixture
def make_client(env):
    """A client on an app with a 1 s heartbeat (plus any variables given); the event hub is per test."""
    events.shutdown()
    opened = []

    def make(**variables):
        app = create_app(load_config({**env, "PHOTONIX_SSE_HEARTBEAT_SECONDS": "1",
                                      **{f"PHOTONIX_{k}": v for k, v in variables.items()}}))
        init_db()
        opened.append(app)
        return app.test_client()

    yield make
    events.shutdown()


class Stream:
    """Reads SSE frames from a streaming test response on a thread, so a test can wait with a timeout."""

    def __init__(self, response):
        self.response = response
        self.frames: list[str] = []
        self.ended = threading.Event()
        self._closing = threading.Event()
        self._buffer = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for chunk in self.response.response:
                self._buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
                *done, self._buffer = self._buffer.split("\n\n")
                self.frames.extend(done)
                if self._closing.is_set():  # like a server whose client went away: close on our own thread
                    break
        finally:
            self.response.close()
            self.ended.set()

    def wait_for(self, predicate, timeout_s: float = WAIT_S) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate(self.frames):
                return self.frames
            time.sleep(0.02)
        raise AssertionError(f"timed out; frames so far: {self.frames}")

    def events(self) -> list[tuple[str | None, str, str]]:
        """(id, event, data) of every frame that is an event (not a comment)."""
        out = []
        for frame in self.frames:
            fields = dict(line.split(": ", 1) for line in frame.splitlines() if not line.startswith((":", "retry")))
            if "event" in fields:
                out.append((fields.get("id"), fields["event"], fields.get("data", "")))
        return out

    def close(self):
        """Disconnect at the next frame (at most one heartbeat away)."""
        self._closing.set()


def connect(client, **kwargs) -> Stream:
    response = client.get("/api/events", buffered=False, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return Stream(response)


def test_first_frame_headers_and_live_events(make_client):
    client = make_client()
    before = events.publish("settings-changed", {"keys": ["siteTitle"]})
    stream = connect(client)
    assert stream.response.headers["Content-Type"].startswith("text/event-stream")
    assert stream.response.headers["Cache-Control"] == "no-cache"
    assert stream.response.headers["X-Accel-Buffering"] == "no"
    stream.wait_for(lambda f: f)
    assert stream.frames[0].startswith(f"retry: 3000\nid: {before}\nevent: connected\ndata: {{")
    published = events.publish("thumbnail-generated", {"path": "a/b.jpg", "v": 1})
    stream.wait_for(lambda f: any("thumbnail-generated" in x for x in f))
    assert stream.events()[-1] == (str(published), "thumbnail-generated", '{"path":"a/b.jpg","v":1}')
    stream.close()


@pytest.mark.parametrize("how", ["header", "query"])
def test_last_event_id_replays_exactly_what_was_missed(make_client, how):
    client = make_client()
    seen = events.publish("index-progress", {"n": 0})
    missed = [events.publish("index-progress", {"n": n}) for n in range(1, 6)]
    kwargs = {"headers": {"Last-Event-ID": str(seen)}} if how == "header" else {"query_string": {"lastEventId": seen}}
    stream = connect(client, **kwargs)
    stream.wait_for(lambda f: len(stream.events()) >= 6)
    replayed = stream.events()[1:]
    assert [int(event_id) for event_id, _, _ in replayed] == missed
    assert [data for _, _, data in replayed] == [f'{{"n":{n}}}' for n in range(1, 6)]
    stream.close()


def test_an_id_older_than_the_log_asks_for_a_resync(make_client):
    client = make_client()
    first = events.publish("index-progress", {"n": 1})
    for n in range(5):
        events.publish("index-progress", {"n": n})
    events.prune(keep_seconds=0, keep_rows=1)
    stream = connect(client, headers={"Last-Event-ID": str(first)})
    stream.wait_for(lambda f: len(f) >= 2)
    assert stream.events()[1][1] == "resync"
    stream.close()


def test_heartbeat_comments(make_client):
    stream = connect(make_client())
    stream.wait_for(lambda f: ": heartbeat" in f)
    stream.close()


@pytest.mark.parametrize("value", ["abc", "-1", "1e3", "１２"])
def test_bad_last_event_id_is_400(make_client, value):
    response = make_client().get("/api/events", headers={"Last-Event-ID": value})
    assert response.status_code == 400 and response.get_json()["field"] == "lastEventId"


def private(public=False):
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1",
                             settings.ALLOW_PUBLIC_ACCESS: "1" if public else "0"}, bump_epoch=True)


def token(expires_in_s: float, epoch: int = 1) -> str:
    now = int(time.time())
    claims = {"sub": "viewer", "type": "access", "role": "viewer", "epoch": epoch, "iat": now, "nbf": now,
              "jti": "t", "exp": now + expires_in_s}
    return pyjwt.encode(claims, JWT_SECRET, algorithm="HS256")


def test_private_gallery_needs_a_token_and_401s_are_json(make_client):
    client = make_client()
    private()
    response = client.get("/api/events")
    assert response.status_code == 401 and response.get_json()["code"] == "AUTH_REQUIRED"
    expired = client.get("/api/events", headers={"Authorization": f"Bearer {token(-10)}"})
    assert expired.status_code == 401 and expired.get_json()["code"] == "TOKEN_EXPIRED"
    stream = connect(client, headers={"Authorization": f"Bearer {token(600)}"})
    stream.wait_for(lambda f: f)
    stream.close()


def test_token_expiring_mid_stream_ends_it_with_auth_expired(make_client):
    client = make_client(SSE_HEARTBEAT_SECONDS="30")
    private()
    stream = connect(client, headers={"Authorization": f"Bearer {token(2)}"})
    stream.wait_for(lambda f: any("auth-expired" in x for x in f), timeout_s=6)
    assert stream.events()[-1][1:] == ("auth-expired", '{"code":"TOKEN_EXPIRED"}')
    assert stream.ended.wait(3)


def test_expiry_does_not_matter_where_reading_needs_no_token(make_client):
    client = make_client()
    private(public=True)
    short = token(1)
    expires_at = pyjwt.decode(short, options={"verify_signature": False})["exp"]
    stream = connect(client, headers={"Authorization": f"Bearer {short}"})
    stream.wait_for(lambda f: f)
    until(lambda: time.time() > expires_at, "the token never expired")
    # Two events published after the expiry both arrive: a stream that minded the expiry would have ended at
    # it, or at the latest right after the first of them.
    for n in (1, 2):
        marker = events.publish("index-progress", {"marker": n})
        stream.wait_for(lambda f, m=marker: any(x.startswith(f"id: {m}\n") for x in f))
    assert not any("auth-expired" in frame for frame in stream.frames) and not stream.ended.is_set()
    stream.close()


def test_a_password_change_revokes_open_viewer_streams(make_client):
    client = make_client()
    private()
    login = client.post("/api/auth/login", json={"password": PASSWORD}).get_json()
    stream = connect(client, headers={"Authorization": f"Bearer {login['token']}"})
    stream.wait_for(lambda f: f)
    changed = client.put("/api/settings", json={"newPassword": "another password"},
                         headers={"X-Admin-Secret": ADMIN_SECRET})
    assert changed.status_code == 200
    stream.wait_for(lambda f: any("auth-expired" in x for x in f))
    assert stream.events()[-1][1:] == ("auth-expired", '{"code":"TOKEN_REVOKED"}')
    assert stream.ended.wait(3)


def test_event_streams_are_exempt_from_the_global_rate_limit(make_client):
    client = make_client(SSE_MAX_PER_IP="4", RATE_LIMIT="2/minute")
    ordinary = [client.get("/api/auth/status") for _ in range(3)]
    assert [r.status_code for r in ordinary] == [200, 200, 429] and ordinary[-1].get_json()["code"] == "RATE_LIMITED"
    held = [client.get("/api/events", buffered=False) for _ in range(4)]  # twice the rate limit, after it ran out
    try:
        assert [r.status_code for r in held] == [200] * 4
        capped = client.get("/api/events")
        # The cap's own code: a client can tell "too many streams open" from "too many requests".
        assert capped.status_code == 429 and capped.get_json()["code"] == "TOO_MANY_STREAMS"
    finally:
        close_all(held)


def test_streams_closed_beyond_the_cap_give_their_slots_back(make_client):
    client = make_client(SSE_MAX_PER_IP="2")
    for _ in range(3):  # three times the cap, a capful at a time
        pair = [client.get("/api/events", buffered=False) for _ in range(2)]
        try:
            assert [r.status_code for r in pair] == [200, 200]
            assert client.get("/health").get_json()["streams"] == 2
        finally:
            close_all(pair)
        assert client.get("/health").get_json()["streams"] == 0


def close_all(responses) -> None:
    """Start each stream that was opened, then close it: as the server does when a client hangs up, this runs the
    stream's cleanup at once (closing a generator that never started would run nothing)."""
    for response in responses:
        if response.status_code == 200:
            next(iter(response.response))
        response.close()


DOWNLOAD_ERROR = {"taskId": 7, "code": "FETCH_FAILED",
                  "message": "private-feeds.owner-corp.example could not be reached"}


def admin_token(client) -> str:
    """An admin token; the exchange also sets the admin cookie (path /api), which reaches /api/events."""
    return client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET}).get_json()["token"]


def wait_past(stream: Stream, event_id: int) -> list[tuple[str | None, str, str]]:
    stream.wait_for(lambda f: any(frame.startswith(f"id: {event_id}\n") for frame in f))
    stream.close()
    return stream.events()


def test_an_anonymous_stream_gets_no_admin_events_live_or_replayed(make_client):
    client = make_client()
    private(public=True)
    seen = events.publish("thumbnail-generated", {"path": "a.jpg", "v": 1})
    events.publish("download-error", DOWNLOAD_ERROR)
    kept = events.publish("index-complete", {"added": 1})
    replay, live = connect(client, headers={"Last-Event-ID": str(seen)}), connect(client)
    live.wait_for(lambda f: f)
    events.publish("download-complete", {"taskId": 7, "entry": {"title": "secret"}, "images": []})
    last = events.publish("thumbnail-generated", {"path": "b.jpg", "v": 1})
    replayed, received = wait_past(replay, last), wait_past(live, last)
    assert [(int(i), kind) for i, kind, _ in replayed[1:]] == [(kept, "index-complete"), (last, "thumbnail-generated")]
    assert [(int(i), kind) for i, kind, _ in received[1:]] == [(last, "thumbnail-generated")]
    assert not any("owner-corp" in frame or "secret" in frame for frame in replay.frames + live.frames)


@pytest.mark.parametrize("credential", ["bearer", "cookie"])
def test_an_admin_stream_gets_admin_events_live_and_replayed(make_client, credential):
    client = make_client()
    private()  # private mode: the admin credential alone opens the stream
    token = admin_token(client)
    headers = {"Authorization": f"Bearer {token}"} if credential == "bearer" else {}
    if credential == "bearer":
        client.delete_cookie("admin_token", path="/api")
    seen = events.publish("thumbnail-generated", {"path": "a.jpg", "v": 1})
    missed = events.publish("download-error", DOWNLOAD_ERROR)
    stream = connect(client, headers={**headers, "Last-Event-ID": str(seen)}, query_string={"audience": "admin"})
    stream.wait_for(lambda f: f)
    live = events.publish("download-progress", {"taskId": 7, "phase": "images"})
    kinds = [(int(i), kind) for i, kind, _ in wait_past(stream, live)[1:]]
    assert kinds == [(missed, "download-error"), (live, "download-progress")]


def test_an_admin_stream_needs_an_admin_credential(make_client):
    client = make_client()
    private(public=True)
    refused = client.get("/api/events?audience=admin")
    assert refused.status_code == 403 and refused.get_json()["code"] == "ADMIN_REQUIRED"
    viewer = client.post("/api/auth/login", json={"password": PASSWORD}).get_json()["token"]
    as_viewer = client.get("/api/events?audience=admin", headers={"Authorization": f"Bearer {viewer}"})
    assert as_viewer.status_code == 403 and as_viewer.get_json()["code"] == "ADMIN_REQUIRED"
    bad = client.get("/api/events?audience=owners")
    assert bad.status_code == 400 and bad.get_json()["field"] == "audience"


def test_a_logged_out_session_cannot_open_a_stream(make_client):
    client = make_client()
    private()
    login = client.post("/api/auth/login", json={"password": PASSWORD}).get_json()
    assert client.post("/api/auth/logout", headers={"Authorization": f"Bearer {login['token']}"}).status_code == 204
    refused = client.get("/api/events", headers={"Authorization": f"Bearer {login['token']}"})
    assert refused.status_code == 401 and refused.get_json()["code"] == "TOKEN_REVOKED"


def test_an_open_stream_of_a_logged_out_session_ends_at_its_next_auth_check(make_client):
    client = make_client()
    private()
    login = client.post("/api/auth/login", json={"password": PASSWORD}).get_json()
    stream = connect(client, headers={"Authorization": f"Bearer {login['token']}"})
    stream.wait_for(lambda f: f)
    assert client.post("/api/auth/logout", headers={"Authorization": f"Bearer {login['token']}"}).status_code == 204
    events.publish("auth-changed", {"passwordEnabled": True, "publicAccess": False})
    stream.wait_for(lambda f: any("auth-expired" in x for x in f))
    assert stream.events()[-1][1:] == ("auth-expired", '{"code":"TOKEN_REVOKED"}')
    assert stream.ended.wait(3)
