"""Issue 22, the sessions of share links attacked through the API (Flask test client), written from the contract:
revoked and expired links, a browser-session cookie of at most 12 hours and the password asked on every visit, the
lockout per link, tokens never stored nor logged, cross-site requests, what a share credential cannot reach, and
which credential wins. The gallery is tests/support/share_gallery.py's; test_shares.py has the scope escapes and
tests/integration/test_shares_server.py the same on real gunicorn workers.
"""

from __future__ import annotations

import ast
import hashlib
import re
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import jwt as pyjwt
import pytest
from gunicorn.config import Config as GunicornConfig
from gunicorn.glogging import SafeAtoms

from app import create_app
from config import load_config
from models import Share
from services.accesslog import AccessLogger
from services.auth import passwords
from services.database import init_db
from services.gallery.index import Indexer
from tests.support import share_gallery
from tests.support.share_gallery import (
    LINK_PASSWORD,
    OUT,
    as_share,
    bearer,
    database_text,
    open_link,
    opened,
    outcome,
    write_tree,
)
from tests.support.share_links import (
    ADMIN,
    GALLERY_PASSWORD,
    attributes,
    create,
    expire,
    expire_at,
    listed_one,
    make_private,
    set_cookies,
)

gallery, mode, no_server_errors = share_gallery.gallery, share_gallery.mode, share_gallery.no_server_errors  # fixtures
ROOT = Path(__file__).resolve().parents[2]
HINT = "the usual one"
EVIL = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
MAX_SESSION_S = 12 * 3600
SLACK_S = 5


# --- revoked and expired links, sessions, passwords -------------------------------------------------------------


@pytest.mark.parametrize("state", ["revoked", "expired"])
def test_a_revoked_or_expired_link_ends_its_sessions_at_the_next_request(app, gallery, state):
    make_private()
    browser, _, share, _ = as_share(app, "trip", "cookie")
    token_session = opened(app.test_client(), share)
    assert browser.get("/api/browse/trip").status_code == 200
    if state == "revoked":
        assert app.test_client().delete(f"/api/shares/{share['id']}", headers=ADMIN).status_code == 204
    else:
        expire(share["id"])
    code = f"SHARE_{state.upper()}"
    for response in (browser.get("/api/browse/trip"), browser.get("/api/file/trip/a.jpg"),
                     app.test_client().get("/api/browse/trip", headers=bearer(token_session))):
        assert outcome(response) == (401, code)
    assert outcome(open_link(app.test_client(), share["token"])) == (410, code)
    page = app.test_client().get(f"/s/{share['token']}")
    assert page.status_code == 410 and page.mimetype == "text/html"
    unknown = app.test_client().get("/s/" + "A" * len(share["token"]))
    assert unknown.status_code == 404 and unknown.mimetype == "text/html"


def test_the_session_is_a_browser_session_of_at_most_twelve_hours(app, gallery):
    make_private()
    share = create(app.test_client(), "trip", password=LINK_PASSWORD, passwordHint=HINT)
    browser = app.test_client()
    admin_cookie = set_cookies(browser.post("/api/auth/admin", json={"adminSecret": ADMIN["X-Admin-Secret"]}))
    answer = open_link(browser, share["token"], LINK_PASSWORD)
    assert answer.status_code == 200, answer.get_json()
    cookie = attributes(set_cookies(answer)["share_session"])
    assert "max-age" not in cookie and "expires" not in cookie, cookie  # gone when the browser closes
    assert cookie["path"] == "/api" and "httponly" in cookie and cookie["samesite"].lower() == "lax", cookie
    assert ("secure" in cookie) == ("secure" in attributes(admin_cookie["admin_token"]))
    now = time.time()
    body = answer.get_json()
    claims = pyjwt.decode(body["accessToken"], options={"verify_signature": False})
    assert body["sessionExpiresAt"] <= now + MAX_SESSION_S + SLACK_S and claims["exp"] <= now + MAX_SESSION_S + SLACK_S

    expire_at(share["id"], now + 3600)  # a link that ends sooner: the session ends with it
    body = opened(app.test_client(), share, LINK_PASSWORD)
    claims = pyjwt.decode(body["accessToken"], options={"verify_signature": False})
    # JWT times are whole seconds: one rounded up is the one second allowed past the link's end.
    assert body["sessionExpiresAt"] <= now + 3600 + 1 and claims["exp"] <= now + 3600 + 1


def test_the_password_is_asked_again_on_every_visit(app, gallery):
    make_private()
    share = create(app.test_client(), "trip", password=LINK_PASSWORD, passwordHint=HINT)
    browser = app.test_client()
    asked = open_link(browser, share["token"])
    assert outcome(asked) == (401, "SHARE_PASSWORD_REQUIRED") and asked.get_json()["passwordHint"] == HINT
    session = opened(browser, share, LINK_PASSWORD)
    assert browser.get("/api/browse/trip").status_code == 200
    fresh = app.test_client()  # the browser was closed: no cookie
    assert fresh.get("/api/browse/trip").status_code == 401
    assert outcome(open_link(fresh, share["token"])) == (401, "SHARE_PASSWORD_REQUIRED")
    csrf = {"X-CSRF-TOKEN": session["csrfToken"]}
    left = browser.delete("/api/share/session", headers=csrf)
    assert left.status_code == 204 and "Expires=Thu, 01 Jan 1970" in set_cookies(left)["share_session"]
    assert browser.get("/api/browse/trip").status_code == 401
    assert outcome(open_link(browser, share["token"])) == (401, "SHARE_PASSWORD_REQUIRED")
    again = opened(browser, share, LINK_PASSWORD)
    logout = browser.post("/api/auth/logout", headers={"X-CSRF-TOKEN": again["csrfToken"]})
    assert logout.status_code == 204 and "Expires=Thu, 01 Jan 1970" in set_cookies(logout)["share_session"]
    assert browser.get("/api/browse/trip").status_code == 401
    assert app.test_client().get("/api/browse/trip", headers=bearer(again)).status_code == 401  # the token too


def test_four_free_failures_then_the_link_is_locked_and_nothing_else(app, gallery):
    make_private()
    locked = create(app.test_client(), "trip", password=LINK_PASSWORD)
    other = create(app.test_client(), "other", password=LINK_PASSWORD)
    client = app.test_client()
    for remaining in (4, 3, 2, 1):
        failed = open_link(client, locked["token"], "wrong password")
        assert outcome(failed) == (401, "SHARE_PASSWORD_INVALID")
        assert (failed.get_json()["remainingAttempts"], failed.get_json()["nextLockSeconds"]) == (remaining, 60)
    for password in ("wrong password", LINK_PASSWORD):  # the right password is not even checked now
        # With no trusted proxy, a forwarded address is not the client's: it cannot dodge the lock.
        refused = open_link(client, locked["token"], password, headers={"X-Forwarded-For": "198.51.100.3"})
        assert outcome(refused) == (429, "LOGIN_LOCKED"), refused.get_json()
        assert 0 < refused.get_json()["retryAfterSeconds"] == int(refused.headers["Retry-After"]) <= 60
    other_failed = open_link(client, other["token"], "wrong password")
    assert outcome(other_failed) == (401, "SHARE_PASSWORD_INVALID")
    assert other_failed.get_json()["remainingAttempts"] == 4
    assert open_link(client, other["token"], LINK_PASSWORD).status_code == 200
    elsewhere = open_link(client, locked["token"], LINK_PASSWORD, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert elsewhere.status_code == 200, elsewhere.get_json()  # keyed by link and client address
    assert client.post("/api/auth/login", json={"password": GALLERY_PASSWORD}).status_code == 200


# --- tokens never stored or logged --------------------------------------------------------------------------------


def access_line(uri: str, referer: str) -> str:
    """gunicorn's access-log line for one request, with gunicorn.conf.py's logger class and format."""
    conf = (ROOT / "gunicorn.conf.py").read_text()
    access_format = ast.literal_eval(re.search(r"^access_log_format = (.+)$", conf, re.MULTILINE).group(1))
    cfg = GunicornConfig()
    cfg.set("accesslog", "-")
    path, _, query = uri.partition("?")
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": uri, "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": path,
               "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1"}
    request = SimpleNamespace(headers=[("REFERER", referer), ("USER-AGENT", "test")])
    response = SimpleNamespace(status="200 OK", headers=[("X-Request-Id", "abc")], sent=10)
    return access_format % SafeAtoms(AccessLogger(cfg).atoms(response, request, environ, timedelta(milliseconds=3)))


def test_tokens_are_never_stored_nor_logged(env, monkeypatch, caplog, photos_dir, config):
    monkeypatch.setattr(passwords, "BCRYPT_ROUNDS", 4)
    app = create_app(load_config({**env, "PHOTONIX_AUTH_DEBUG": "1"}))
    init_db()
    Indexer(write_tree(photos_dir)).scan()
    admin = app.test_client()
    with caplog.at_level("DEBUG"), caplog.at_level("DEBUG", logger="photonix"):
        shares = [create(admin, "trip", password=LINK_PASSWORD), create(admin, "trip/a.jpg")]
        for share in shares:
            visitor = app.test_client()
            visitor.get(f"/s/{share['token']}")
            open_link(visitor, share["token"], "wrong password")
            session = opened(visitor, share, LINK_PASSWORD if share["hasPassword"] else None)
            visitor.get("/api/browse/trip", headers={"Referer": share["url"]})
            visitor.get(f"/api/share/{share['token']}/feed")
            visitor.get(f"/api/share/{share['token']}/preview?path=trip/a.jpg&v=1")
            visitor.get("/api/info?path=trip/a.jpg", headers=bearer(session))
        admin.get("/api/shares", headers=ADMIN)
        admin.patch(f"/api/shares/{shares[0]['id']}", json={"title": "changed"}, headers=ADMIN)
        admin.delete(f"/api/shares/{shares[1]['id']}", headers=ADMIN)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    stored = database_text()
    files = b"".join(p.read_bytes() for p in config.data_dir.rglob("*") if p.is_file())
    assert Share.select().count() == 2 and "auth decision" in logged
    for share in shares:
        token = share["token"]
        assert len(token) >= 22 and share["url"].endswith(f"/s/{token}")  # 128 bits or more, in the link
        assert token not in stored and token.encode() not in files, "a token in the database"
        assert hashlib.sha256(token.encode()).hexdigest() not in stored, "an unkeyed hash of a token"
        assert token not in logged, "a token in the app's log"
        for uri in (f"/s/{token}", f"/api/share/{token}/open", f"/api/share/{token}/feed"):
            assert token not in access_line(uri, share["url"]), f"a token in the access log: {uri}"


# --- cross-site requests, what a share credential cannot reach, which credential wins -----------------------------


def test_cross_site_requests_are_refused_and_never_counted(app, gallery):
    share = create(app.test_client(), "trip", password=LINK_PASSWORD)
    client = app.test_client()
    for _ in range(6):
        assert outcome(open_link(client, share["token"], "guess", headers=EVIL)) == (403, "CROSS_SITE_REQUEST")
        assert outcome(open_link(client, share["token"], LINK_PASSWORD, headers=EVIL)) == (403, "CROSS_SITE_REQUEST")
    assert listed_one(app.test_client(), share["id"])["views"] == 0
    assert open_link(client, share["token"], "guess").get_json().get("remainingAttempts") == 4
    session = opened(client, share, LINK_PASSWORD)
    csrf = {"X-CSRF-TOKEN": session["csrfToken"]}
    assert outcome(client.post("/api/browse/viewed", json={"path": "trip"}, headers={**csrf, **EVIL})) == (
        403, "CROSS_SITE_REQUEST")
    assert outcome(client.delete("/api/share/session", headers={**csrf, **EVIL})) == (403, "CROSS_SITE_REQUEST")
    assert client.get("/api/browse/trip").status_code == 200  # still in the session


ADMIN_CALLS = [("GET", "/api/shares", None), ("POST", "/api/shares", {"path": ""}),
               ("PATCH", "/api/shares/{id}", {"expiresInDays": 3650}), ("DELETE", "/api/shares/{id}", None),
               ("PUT", "/api/settings", {"siteTitle": "mine"}), ("POST", "/api/settings/sync/index", None),
               ("POST", "/api/thumbnail/batch", None)]
DOWNLOAD_CENTER = [("GET", "/api/download/status", None), ("GET", "/api/download/tasks", None),
                   ("POST", "/api/download/tasks", {"feedUrl": "http://example.com/f.xml", "targetFolder": "trip"})]
OTHER_READS = ["/api/thumbnail/stats", "/api/settings/status", "/api/search/filters"]


@pytest.mark.parametrize("credential", ["cookie", "bearer"])
def test_a_share_credential_reaches_no_admin_download_center_or_other_read(app, mode, credential):
    client, headers, share, session = as_share(app, "trip", credential)
    if credential == "cookie":
        headers = {"X-CSRF-TOKEN": session["csrfToken"]}
    wrong = {}
    for method, url, body in ADMIN_CALLS + DOWNLOAD_CENTER:
        got = outcome(client.open(url.format(id=share["id"]), method=method, json=body, headers=headers))
        allowed = {(403, "ADMIN_REQUIRED")} | ({OUT} if "/download/" in url else set())
        if got not in allowed:
            wrong[f"{method} {url}"] = got
    wrong.update({url: got for url in OTHER_READS if (got := outcome(client.get(url, headers=headers))) != OUT})
    assert wrong == {}
    unchanged = listed_one(app.test_client(), share["id"])
    assert unchanged["revoked"] is False and unchanged["expiresAt"] == share["expiresAt"]


def test_a_share_token_in_a_viewer_or_admin_slot_grants_nothing_more(app, gallery):
    make_private()
    share = create(app.test_client(), "trip")
    session = opened(app.test_client(), share)
    for name in ("auth_token", "admin_token", "refresh_token"):
        client = app.test_client()
        client.set_cookie(name, session["accessToken"], path="/api" if name == "admin_token" else "/")
        for url in ("/api/browse/other", "/api/browse", "/api/shares"):
            assert client.get(url).status_code in (401, 403), (name, url)
    refreshed = app.test_client().post("/api/auth/refresh", headers=bearer(session))
    assert refreshed.status_code in (401, 403), refreshed.get_json()
    status = app.test_client().get("/api/auth/status", headers=bearer(session)).get_json()
    assert status["role"] not in ("viewer", "admin"), status


def test_a_gallery_password_change_keeps_shares_working(app, gallery):
    make_private()
    browser, _, share, _ = as_share(app, "trip", "cookie")
    session = opened(app.test_client(), share)
    viewer = app.test_client().post("/api/auth/login", json={"password": GALLERY_PASSWORD}).get_json()
    changed = app.test_client().put("/api/settings", json={"newPassword": "another gallery password"}, headers=ADMIN)
    assert changed.status_code == 200, changed.get_json()
    viewer_bearer = {"Authorization": f"Bearer {viewer['token']}"}
    assert outcome(app.test_client().get("/api/browse/trip", headers=viewer_bearer)) == (401, "TOKEN_REVOKED")
    assert browser.get("/api/browse/trip").status_code == 200
    assert app.test_client().get("/api/browse/trip", headers=bearer(session)).status_code == 200
    assert open_link(app.test_client(), share["token"]).status_code == 200


def test_a_viewer_or_admin_cookie_wins_over_a_share_cookie_and_a_bearer_decides(app, gallery):
    make_private()
    share = create(app.test_client(), "trip")
    viewer = app.test_client()
    assert viewer.post("/api/auth/login", json={"password": GALLERY_PASSWORD}).status_code == 200
    session = opened(viewer, share)  # a logged-in viewer follows a link
    assert viewer.get("/api/browse").status_code == 200 and viewer.get("/api/browse/other").status_code == 200
    assert viewer.get("/api/search/filters").status_code == 200
    assert outcome(viewer.get("/api/browse/other", headers=bearer(session))) == OUT
    admin, admin_alone = app.test_client(), app.test_client()
    opened(admin, share)
    for client in (admin, admin_alone):
        assert client.post("/api/auth/admin", json={"adminSecret": ADMIN["X-Admin-Secret"]}).status_code == 200
    assert admin.get("/api/shares").status_code == 200
    for url in ("/api/browse/other", "/api/browse/trip", "/api/search/filters"):  # as if there were no share
        assert outcome(admin.get(url)) == outcome(admin_alone.get(url)), url
    shared_first = app.test_client()  # the other order: a share session, then a login
    opened(shared_first, share)
    assert shared_first.post("/api/auth/login", json={"password": GALLERY_PASSWORD}).status_code == 200
    assert shared_first.get("/api/browse/other").status_code == 200
