"""X-Forwarded-Prefix through one trusted proxy: a plain absolute path becomes the app's script root; anything
else (another origin, a scheme, dot segments, backslashes, control characters) is refused with 400
INVALID_PROXY_HEADER and never reaches a <base href>, a cookie path or a redirect."""

from __future__ import annotations

import pytest

from app import create_app
from config import load_config
from services import settings
from services.auth.passwords import hash_password
from services.database import init_db
from tests.support import images

PASSWORD = "prefix password"
HOSTILE = ["//evil.example", "https://evil.example", "/a/../b", "/a\\b", "/gallery/%2e%2e", "/a\tb", "/a b",
           "/gal\x7flery", "/\u00e9t\u00e9", "evil", "/a<script>", '"//evil.example"', "/gallery, //evil.example"]


@pytest.fixture
def proxied(env, photos_dir):
    app = create_app(load_config({**env, "PHOTONIX_TRUSTED_PROXIES": "1"}))
    init_db()
    images.jpeg(photos_dir / "album" / "a.jpg", (64, 48))
    return app.test_client()


REQUESTS = [("GET", "/", None), ("GET", "/api/login-bg", None), ("POST", "/api/auth/login", {"password": PASSWORD}),
            ("POST", "/api/browse/viewed", {"path": "album"}), ("GET", "/api/auth/diagnose", None)]


def test_a_hostile_prefix_is_refused_and_never_reflected(proxied):
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1",
                             settings.ALLOW_PUBLIC_ACCESS: "1"}, bump_epoch=True)
    for prefix in HOSTILE:
        for method, url, body in REQUESTS:
            response = proxied.open(url, method=method, json=body, headers={"X-Forwarded-Prefix": prefix})
            seen = f"{method} {url} with {prefix!r}: {response.status_code} {response.get_data(as_text=True)[:200]}"
            assert response.status_code == 400, seen
            error = response.get_json()
            assert error["code"] == "INVALID_PROXY_HEADER" and error["requestId"], seen
            assert "X-Forwarded-Prefix" in error["message"], seen
            assert not response.headers.getlist("Set-Cookie") and "Location" not in response.headers, seen
            assert prefix not in response.get_data(as_text=True) and "evil" not in response.get_data(as_text=True)


def test_a_plain_prefix_still_works(proxied):
    page = proxied.get("/", headers={"X-Forwarded-Prefix": "/gallery"})
    assert page.status_code == 200 and '<base href="/gallery/">' in page.get_data(as_text=True)
    nested = proxied.get("/", headers={"X-Forwarded-Prefix": "/photos/family_2024/"})
    assert '<base href="/photos/family_2024/">' in nested.get_data(as_text=True)
    viewed = proxied.post("/api/browse/viewed", json={"path": "album"}, headers={"X-Forwarded-Prefix": "/gallery"})
    assert viewed.status_code == 204
    assert "Path=/gallery/;" in viewed.headers["Set-Cookie"]
    assert proxied.get("/api/browse/album").status_code == 200  # indexes the photo the login page may show
    moved = proxied.get("/api/login-bg", headers={"X-Forwarded-Prefix": "/gallery"})
    assert moved.status_code == 302 and moved.headers["Location"].startswith("/gallery/api/thumbnail?")


def test_no_prefix_and_an_empty_one_mean_the_root(proxied):
    for headers in ({}, {"X-Forwarded-Prefix": ""}, {"X-Forwarded-Prefix": "/"}):
        page = proxied.get("/", headers=headers)
        assert page.status_code == 200 and '<base href="/">' in page.get_data(as_text=True), headers


def test_a_prefix_that_is_not_one_list_value_is_ignored(proxied):
    # ProxyFix reads the header as a list: an unbalanced quote leaves no value, so the root stays.
    page = proxied.get("/", headers={"X-Forwarded-Prefix": '/a"><script>'})
    assert page.status_code == 200 and '<base href="/">' in page.get_data(as_text=True)


def test_without_trusted_proxies_the_header_is_ignored(client):
    page = client.get("/", headers={"X-Forwarded-Prefix": "//evil.example"})
    assert page.status_code == 200 and '<base href="/">' in page.get_data(as_text=True)
