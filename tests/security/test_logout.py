"""Logout ends the session server-side (issue #18 item 6): the access, refresh and admin tokens it was
called with stop working on every worker, while a fresh login still works. Flask test client."""

from __future__ import annotations

import time

import pytest

from app import create_app
from services import settings
from services.auth.passwords import hash_password
from tests.conftest import ADMIN_SECRET

PASSWORD = "logout test password"
READ = "/api/browse"
ADMIN_READ = "/api/download/status"


def private():
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1",
                             settings.ALLOW_PUBLIC_ACCESS: "0"}, bump_epoch=True)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client) -> dict:
    response = client.post("/api/auth/login", json={"password": PASSWORD})
    assert response.status_code == 200
    return response.get_json()


def assert_revoked(response) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == "TOKEN_REVOKED" and body["message"] == "This session was logged out."


def assert_session_ended(client, tokens: dict) -> None:
    assert_revoked(client.get(READ, headers=bearer(tokens["token"])))
    status = client.get("/api/auth/status", headers=bearer(tokens["token"])).get_json()
    assert status["authenticated"] is False and status["reason"] == "TOKEN_REVOKED"
    assert_revoked(client.post("/api/auth/refresh", headers=bearer(tokens["refreshToken"])))


def test_bearer_logout_revokes_the_access_and_the_refresh_token(client):
    private()
    tokens = login(client)
    assert client.get(READ, headers=bearer(tokens["token"])).status_code == 200
    assert client.post("/api/auth/logout", headers=bearer(tokens["token"])).status_code == 204
    assert_session_ended(client, tokens)
    fresh = login(client)  # a new session is not affected
    assert client.get(READ, headers=bearer(fresh["token"])).status_code == 200


def test_cookie_logout_revokes_the_session_of_its_cookies(app):
    private()
    browser, other = app.test_client(), app.test_client()
    tokens = login(browser)  # sets the auth, refresh and CSRF cookies
    bystander = login(other)
    assert browser.get(READ).status_code == 200
    assert browser.post("/api/auth/logout").status_code == 204
    assert_session_ended(other, tokens)
    assert other.get(READ).status_code == 200 and other.get(READ, headers=bearer(bystander["token"])).status_code == 200


def test_logout_with_a_refreshed_access_token_ends_the_whole_session(client):
    private()
    tokens = login(client)
    refreshed = client.post("/api/auth/refresh", headers=bearer(tokens["refreshToken"]))
    assert refreshed.status_code == 200
    assert client.post("/api/auth/logout", headers=bearer(refreshed.get_json()["token"])).status_code == 204
    assert_session_ended(client, tokens)


def test_logout_revokes_the_admin_token_in_the_header_and_in_the_cookie(app):
    header_client, cookie_client = app.test_client(), app.test_client()
    admin = header_client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET}).get_json()
    cookie_admin = cookie_client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET}).get_json()
    assert cookie_client.get(ADMIN_READ).status_code == 200  # the admin cookie
    assert header_client.post("/api/auth/logout", headers=bearer(admin["token"])).status_code == 204
    assert cookie_client.post("/api/auth/logout").status_code == 204
    other = app.test_client()
    for token in (admin["token"], cookie_admin["token"]):
        assert_revoked(other.get(ADMIN_READ, headers=bearer(token)))
    other.set_cookie("admin_token", cookie_admin["token"], path="/api")
    assert_revoked(other.get(ADMIN_READ))
    assert other.get(ADMIN_READ, headers={"X-Admin-Secret": ADMIN_SECRET}).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}])
def test_logout_without_a_valid_token_still_clears_cookies(client, headers):
    private()
    response = client.post("/api/auth/logout", headers=headers)
    assert response.status_code == 204
    cleared = {c.split("=", 1)[0] for c in response.headers.getlist("Set-Cookie") if "Expires=Thu, 01 Jan 1970" in c}
    assert cleared >= {"auth_token", "refresh_token", "admin_token"}


def test_logout_on_one_app_instance_is_seen_by_another_on_the_same_database(app, config):
    """Two apps on one database stand for two workers or nodes: nothing about a logout is kept in memory."""
    private()
    first = app.test_client()
    tokens = login(first)
    second = create_app(config).test_client()
    assert second.get(READ, headers=bearer(tokens["token"])).status_code == 200
    assert first.post("/api/auth/logout", headers=bearer(tokens["token"])).status_code == 204
    assert_session_ended(second, tokens)


def test_revoking_purges_expired_rows_and_keeps_live_ones(db):
    from models import RevokedSession
    from services.auth import sessions

    def revoked(sid) -> bool:
        return sessions.is_revoked(sid, settings.auth_state().logouts)

    now = time.time()
    sessions.revoke("old", expires_at=now + 1, now=now - 60)  # revoked a minute ago, its tokens expire now
    assert revoked("old")
    sessions.revoke("live", expires_at=now + 60, now=now + 2)  # two seconds on: "old" has expired
    sessions.revoke("new", expires_at=now + 60, now=now + 2)
    assert sorted(RevokedSession.select(RevokedSession.sid).tuples()) == [("live",), ("new",)]
    assert revoked("live") and revoked("new") and not revoked("old") and not revoked(None)
    sessions.revoke("live", expires_at=now + 120)  # revoking twice keeps the later expiry
    assert RevokedSession.get_by_id("live").expires_at == pytest.approx(now + 120)
