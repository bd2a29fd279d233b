"""nginx/photonix-subpath.conf on a real nginx in front of a real gunicorn: the app under /gallery/ sees the
prefix, host and client, its URLs and cookies carry the prefix, static files come from nginx, events stream."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
import requests

from services import events, settings
from services.auth.passwords import hash_password
from tests.support import images
from tests.support.nginx import STATIC_DIR, subpath_stack

pytestmark = pytest.mark.integration
HOST = "photos.example.test"
PASSWORD = "subpath password"
TIMEOUT = (5, 10)
WAIT_S = 10.0
# Names that must survive nginx decoding and re-encoding the path when it strips the prefix.
TRICKY = ["plain.jpg", "sea & sky #1 50%+.jpg", "海边 été.jpg", "what?.jpg", "semi;colon.jpg", "100%2F.jpg",
          "a%2e%2e.jpg"]


@pytest.fixture
def stack(env, tmp_path, db):
    with subpath_stack({**env, "PHOTONIX_PUBLIC_URL": f"http://{HOST}/gallery"}, tmp_path) as running:
        yield running


def test_redirect_health_and_what_the_app_sees(stack):
    app, proxy = stack
    bare = requests.get(proxy.url + "/gallery", allow_redirects=False, timeout=TIMEOUT)
    assert bare.status_code == 301 and urlsplit(bare.headers["Location"]).path == "/gallery/"
    health = requests.get(proxy.url + "/gallery/health", timeout=TIMEOUT)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    # A spoofed X-Forwarded-For is kept, but the app takes the entry nginx appended: the real client.
    seen = requests.get(proxy.url + "/gallery/api/auth/diagnose", timeout=TIMEOUT,
                        headers={"Host": HOST, "X-Forwarded-For": "203.0.113.9"}).json()
    assert (seen["prefix"], seen["host"], seen["scheme"], seen["clientIp"]) == ("/gallery", HOST, "http", "127.0.0.1")
    assert seen["proxyHeaders"]["X-Forwarded-Prefix"] == "/gallery"
    assert seen["proxyHeaders"]["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    assert seen["ok"] is True, seen["hints"]


def test_bodies_up_to_the_app_limit_reach_the_app(stack):
    _, proxy = stack
    body = b"x" * (17 * 1024 * 1024)  # over the app's 16 MiB, under nginx's 20m: the app answers in JSON
    refused = requests.post(proxy.url + "/gallery/api/auth/login", data=body, timeout=(5, 30),
                            headers={"Content-Type": "application/json"})
    assert refused.status_code == 413 and refused.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_static_files_come_from_nginx_even_without_the_app(stack):
    app, proxy = stack
    url = proxy.url + "/gallery/static/js/events.js"
    first = requests.get(url, timeout=TIMEOUT)
    assert first.status_code == 200 and first.content == (STATIC_DIR / "js" / "events.js").read_bytes()
    assert "javascript" in first.headers["Content-Type"]  # ES modules are refused under any other type
    assert first.headers["Cache-Control"] == "no-cache"  # unversioned: revalidated on each use
    assert first.headers["Content-Encoding"] == "gzip"  # requests decoded it: .content is the file's bytes
    assert "X-Request-Id" not in first.headers  # nginx answered, not Flask
    versioned = requests.get(url + "?v=0123456789ab", timeout=TIMEOUT)  # the page writes the content hash here
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    app.stop()
    assert requests.get(url, timeout=TIMEOUT).status_code == 200
    assert requests.get(proxy.url + "/gallery/health", timeout=TIMEOUT).status_code == 502


def test_browse_urls_carry_the_prefix_and_work_through_nginx(stack, photos_dir):
    _, proxy = stack
    for name in TRICKY:
        images.jpeg(photos_dir / "Trip" / name, (96, 64))
    items = _browse_until(proxy.url + "/gallery/api/browse/Trip", len(TRICKY))
    assert sorted(item["name"] for item in items) == sorted(TRICKY)
    for item in items:
        assert item["thumbnailUrl"].startswith("/gallery/api/thumbnail?"), item
        assert item["originalUrl"].startswith("/gallery/api/file/"), item
        thumb = requests.get(proxy.url + item["thumbnailUrl"], timeout=(5, 30))
        assert (thumb.status_code, thumb.headers["Content-Type"]) == (200, "image/webp"), item["name"]
        original = requests.get(proxy.url + item["originalUrl"], timeout=TIMEOUT)
        assert original.status_code == 200, (item["name"], original.text[:300])
        assert original.content == (photos_dir / "Trip" / item["name"]).read_bytes()
    root = requests.get(proxy.url + "/gallery/api/browse", timeout=TIMEOUT).json()["items"]
    assert [album["coverUrl"][:23] for album in root] == ["/gallery/api/thumbnail?"]
    background = requests.get(proxy.url + "/gallery/api/login-bg", allow_redirects=False, timeout=TIMEOUT)
    assert background.status_code == 302 and background.headers["Location"].startswith("/gallery/api/thumbnail?")


def test_login_cookies_are_scoped_to_the_prefix(stack):
    _, proxy = stack
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)
    session = requests.Session()
    login = session.post(proxy.url + "/gallery/api/auth/login", json={"password": PASSWORD}, timeout=TIMEOUT)
    assert login.status_code == 200, login.text
    paths = {cookie.name: cookie.path for cookie in login.cookies}
    assert paths["auth_token"] == "/gallery/" and paths["csrf_access_token"] == "/gallery/"
    assert paths["refresh_token"] == "/gallery/api/auth"
    status = session.get(proxy.url + "/gallery/api/auth/status", timeout=TIMEOUT).json()
    assert status["authenticated"] is True and status["role"] == "viewer"


def test_an_event_reaches_a_client_through_nginx_within_a_second(stack):
    _, proxy = stack
    with requests.get(proxy.url + "/gallery/api/events", stream=True, timeout=(5, 5)) as stream:
        assert stream.status_code == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
        lines = stream.iter_lines(decode_unicode=True)
        _read_until(lines, "event: connected")
        started = time.monotonic()
        published = events.publish("settings-changed", {"keys": ["siteTitle"]})
        _read_until(lines, f"id: {published}")
        assert time.monotonic() - started < 1.0


def _browse_until(url: str, count: int) -> list[dict]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        response = requests.get(url, timeout=TIMEOUT)
        if response.status_code == 200 and len(response.json()["items"]) == count:
            return response.json()["items"]
        time.sleep(0.1)
    raise AssertionError(f"{url} never listed {count} items: {response.status_code} {response.text[:500]}")


def _read_until(lines, wanted: str) -> None:
    deadline = time.monotonic() + WAIT_S
    for line in lines:  # each read is bounded by the stream's read timeout
        if line == wanted:
            return
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"the event stream never sent {wanted!r}")
