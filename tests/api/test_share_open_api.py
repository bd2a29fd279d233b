"""Share links, the visitor's side (issue 22, the contract): GET /s/<token>, POST /api/share/<token>/open, the
share session's cookie and accessToken, DELETE /api/share/session and logout. Written from the contract."""

from __future__ import annotations

import time

import jwt
import pytest

from app import create_app
from config import load_config
from services.database import close_connection, init_db
from tests.support import share_links as links
from tests.support.share_links import ADMIN, OPEN_KEYS, SLACK_S, assert_error, create, set_cookies

quick_bcrypt, client = links.quick_bcrypt, links.client  # fixtures

COOKIE = "share_session"
SESSION_S = 12 * 3600
PASSWORD = "a share password"
UNKNOWN = "x" * 32  # well formed, no such link
MALFORMED = ["abc", "A" * 16 + "/" + "A" * 15, "A" * 33, "A" * 31 + "*", "A" * 31 + "%20", "%2e%2e", "A" * 31 + "%00"]


@pytest.fixture
def proxied(env, photos_dir):
    """A client behind one trusted proxy (X-Forwarded-Prefix/-Proto are honoured)."""
    links.gallery(photos_dir)
    app = create_app(load_config({**env, "PHOTONIX_TRUSTED_PROXIES": "1"}))
    init_db()
    yield app.test_client()
    close_connection()


def open_link(client, token, body=None, headers=None):
    return client.post(f"/api/share/{token}/open", json=body, headers=headers)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_the_link_page_is_the_gallery_page(client):
    share = create(client)
    page = client.get(f"/s/{share['token']}")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert '<base href="/">' in page.get_data(as_text=True)  # the page's relative URLs reach the app, not /s/


def test_the_link_page_under_a_prefix(proxied):
    share = create(proxied, headers={"X-Forwarded-Prefix": "/gallery"})
    page = proxied.get(f"/s/{share['token']}", headers={"X-Forwarded-Prefix": "/gallery"})
    assert page.status_code == 200 and '<base href="/gallery/">' in page.get_data(as_text=True)


@pytest.mark.parametrize("end, word", [(links.expire, "expired"), (None, "revoked")])
def test_expired_and_revoked_link_pages_are_410_html(client, end, word):
    share = create(client)
    if end is None:
        assert client.delete(f"/api/shares/{share['id']}", headers=ADMIN).status_code == 204
    else:
        end(share["id"])
    page = client.get(f"/s/{share['token']}")
    assert page.status_code == 410 and page.mimetype == "text/html"
    assert word in page.get_data(as_text=True).lower()


@pytest.mark.parametrize("token", [UNKNOWN, *MALFORMED])
def test_unknown_and_malformed_link_pages_are_404_html(client, token):
    create(client)
    page = client.get(f"/s/{token}")
    assert page.status_code == 404 and page.mimetype == "text/html", page.get_data(as_text=True)[:200]


def test_open_a_link_without_password(client):
    share = create(client, "album", title="Trip", allowDownload=True)
    before = time.time()
    response = open_link(client, share["token"])
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == OPEN_KEYS
    assert {key: body[key] for key in ("path", "kind", "title", "expiresAt", "allowDownload", "hasPassword")} == {
        "path": "album", "kind": "album", "title": "Trip", "expiresAt": share["expiresAt"], "allowDownload": True,
        "hasPassword": False}
    assert body["passwordHint"] is None
    assert isinstance(body["accessToken"], str) and body["accessToken"]
    assert isinstance(body["csrfToken"], str) and body["csrfToken"]
    assert before < body["sessionExpiresAt"] <= time.time() + SESSION_S + SLACK_S
    assert jwt.decode(body["accessToken"], options={"verify_signature": False})["exp"] <= body["sessionExpiresAt"] + 1
    assert open_link(client, share["token"], body={}).status_code == 200  # an empty body is no password too


@pytest.mark.parametrize("path, kind", [("album/a.jpg", "photo"), ("clips/c.mp4", "video"), ("", "album")])
def test_open_tells_the_kind(client, path, kind):
    body = open_link(client, create(client, path)["token"]).get_json()
    assert body["path"] == path and body["kind"] == kind


def test_the_cookie_is_a_browser_session_cookie_for_the_api(client):
    response = open_link(client, create(client)["token"])
    cookie = links.attributes(set_cookies(response)[COOKIE])
    assert "httponly" in cookie and cookie["path"] == "/api" and cookie["samesite"].lower() == "lax"
    assert "max-age" not in cookie and "expires" not in cookie  # ends when the browser closes
    assert "secure" not in cookie  # plain http, COOKIE_SECURE=auto, like the other auth cookies


def test_the_cookie_under_a_prefix_over_https(proxied):
    share = create(proxied, headers={"X-Forwarded-Prefix": "/gallery"})
    response = open_link(proxied, share["token"], headers={"X-Forwarded-Prefix": "/gallery",
                                                           "X-Forwarded-Proto": "https"})
    cookie = links.attributes(set_cookies(response)[COOKIE])
    assert cookie["path"] == "/gallery/api" and "secure" in cookie and "httponly" in cookie
    assert "max-age" not in cookie and "expires" not in cookie


def test_the_session_never_outlives_the_link(client):
    share = create(client)
    link_end = time.time() + 3600
    links.expire_at(share["id"], link_end)
    body = open_link(client, share["token"]).get_json()
    assert time.time() < body["sessionExpiresAt"] <= link_end + 1 and body["expiresAt"] == pytest.approx(link_end)
    assert jwt.decode(body["accessToken"], options={"verify_signature": False})["exp"] <= link_end + 1


def test_the_access_token_and_the_cookie_read_a_private_gallery(client, app):
    share = create(client)
    links.make_private()
    body = open_link(client, share["token"]).get_json()
    stranger = app.test_client()
    assert_error(stranger.get("/api/browse/album"), 401, "AUTH_REQUIRED")
    assert stranger.get("/api/browse/album", headers=bearer(body["accessToken"])).status_code == 200
    assert client.get("/api/browse/album").status_code == 200  # the share cookie


def test_a_password_is_asked_with_its_hint(client):
    share = create(client, password=PASSWORD, passwordHint="the usual one")
    for body in (None, {}, {"password": None}):
        response = open_link(client, share["token"], body=body)
        assert assert_error(response, 401, "SHARE_PASSWORD_REQUIRED")["passwordHint"] == "the usual one"
        assert COOKIE not in set_cookies(response)
    wrong = open_link(client, share["token"], body={"password": "not the password"})
    error = assert_error(wrong, 401, "SHARE_PASSWORD_INVALID")
    assert error["remainingAttempts"] == 4 and error["nextLockSeconds"] == 60 and COOKIE not in set_cookies(wrong)
    right = open_link(client, share["token"], body={"password": PASSWORD})
    assert right.status_code == 200 and COOKIE in set_cookies(right)
    assert right.get_json()["hasPassword"] is True and right.get_json()["passwordHint"] == "the usual one"
    assert links.listed_one(client, share["id"])["views"] == 1


def test_wrong_passwords_lock_that_link_only(client):
    locked, other = create(client, password=PASSWORD), create(client)
    links.make_private()
    for remaining in (4, 3, 2, 1):
        wrong = open_link(client, locked["token"], body={"password": "not the password"})
        assert assert_error(wrong, 401, "SHARE_PASSWORD_INVALID")["remainingAttempts"] == remaining
    fifth = open_link(client, locked["token"], body={"password": "not the password"})
    assert assert_error(fifth, 429, "LOGIN_LOCKED")["retryAfterSeconds"] > 0 and fifth.headers["Retry-After"]
    assert_error(open_link(client, locked["token"], body={"password": PASSWORD}), 429, "LOGIN_LOCKED")
    assert open_link(client, other["token"]).status_code == 200
    gallery = client.post("/api/auth/login", json={"password": "not the password"})
    assert assert_error(gallery, 401, "INVALID_CREDENTIALS")["remainingAttempts"] == 4


@pytest.mark.parametrize("end, code", [(links.expire, "SHARE_EXPIRED"), (None, "SHARE_REVOKED")])
def test_expired_and_revoked_links_do_not_open(client, end, code):
    share = create(client, password=PASSWORD)
    if end is None:
        client.delete(f"/api/shares/{share['id']}", headers=ADMIN)
    else:
        end(share["id"])
    response = open_link(client, share["token"], body={"password": PASSWORD})
    assert_error(response, 410, code)
    assert COOKIE not in set_cookies(response) and links.listed_one(client, share["id"])["views"] == 0


@pytest.mark.parametrize("token", [UNKNOWN, *MALFORMED])
def test_unknown_and_malformed_links_are_404(client, token):
    create(client)
    assert_error(open_link(client, token), 404, "NOT_FOUND")


def test_bad_open_requests_are_4xx(client):
    share = create(client, password=PASSWORD)
    url = f"/api/share/{share['token']}/open"
    assert_error(client.post(url, data="password=x", content_type="text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert_error(client.post(url, data="[1]", content_type="application/json"), 400, "INVALID_JSON")
    assert_error(client.post(url, json={"password": PASSWORD}, headers={"Origin": "https://evil.example"}), 403,
                 "CROSS_SITE_REQUEST")
    for password in (12345678, ["x"], {"a": 1}, "x" * 100, ""):
        response = client.post(url, json={"password": password})
        assert 400 <= response.status_code < 500 and response.get_json()["code"], (password, response.status_code)


def test_a_session_of_a_link_revoked_or_expired_later_is_401(client):
    first, second = create(client), create(client)
    links.make_private()
    tokens = [open_link(client, share["token"]).get_json()["accessToken"] for share in (first, second)]
    client.delete(f"/api/shares/{first['id']}", headers=ADMIN)
    links.expire(second["id"])
    assert_error(client.get("/api/browse/album", headers=bearer(tokens[0])), 401, "SHARE_REVOKED")
    assert_error(client.get("/api/browse/album", headers=bearer(tokens[1])), 401, "SHARE_EXPIRED")


def test_the_auth_status_of_a_share_session_says_when_its_link_ended(client):
    """/api/auth/status is what a page asks first: it must not call a revoked link's session authenticated."""
    share = create(client)
    token = open_link(client, share["token"]).get_json()["accessToken"]
    live = client.get("/api/auth/status", headers=bearer(token)).get_json()
    assert (live["authenticated"], live["role"], live["reason"]) == (True, "share", None)
    client.delete(f"/api/shares/{share['id']}", headers=ADMIN)
    ended = client.get("/api/auth/status", headers=bearer(token)).get_json()
    assert (ended["authenticated"], ended["role"], ended["reason"]) == (False, None, "SHARE_REVOKED")


def _cleared(header: str, path: str) -> bool:
    cookie = links.attributes(header)
    return cookie.get("path") == path and (cookie.get("max-age") == "0" or "1970" in cookie.get("expires", ""))


def test_leaving_share_mode_clears_the_cookie(client):
    share = create(client)
    links.make_private()
    body = open_link(client, share["token"]).get_json()
    left = client.delete("/api/share/session", headers={"X-CSRF-TOKEN": body["csrfToken"]})
    assert left.status_code == 204 and _cleared(set_cookies(left)[COOKIE], "/api")
    assert_error(client.get("/api/browse/album"), 401, "AUTH_REQUIRED")
    assert client.delete("/api/share/session").status_code == 204  # no session: nothing to leave, still 204


def test_logout_ends_the_share_session_and_its_access_token(client, app):
    share = create(client)
    links.make_private()
    body = open_link(client, share["token"]).get_json()
    out = client.post("/api/auth/logout", headers={"X-CSRF-TOKEN": body["csrfToken"]})
    assert out.status_code == 204 and _cleared(set_cookies(out)[COOKIE], "/api")
    assert client.get("/api/browse/album").status_code == 401
    assert app.test_client().get("/api/browse/album", headers=bearer(body["accessToken"])).status_code == 401
