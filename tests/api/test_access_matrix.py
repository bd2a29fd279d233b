"""The access matrix: every auth mode x every kind of credential x every kind of endpoint, in one table."""

import time

import jwt as pyjwt
import pytest
from flask import jsonify

from blueprints._auth import admin_required, optional_viewer, viewer_required
from services import settings
from services.auth.passwords import hash_password
from tests.conftest import ADMIN_SECRET, JWT_SECRET

PASSWORD = "matrix password"
MODES = {"anonymous": None, "public": True, "private": False}
ENDPOINTS = {  # kind -> (method, url)
    "read": ("GET", "/m/read"),
    "record-view": ("POST", "/m/read"),  # like POST /api/browse/viewed: a write that only records viewing
    "viewer": ("GET", "/m/viewer"),
    "admin": ("POST", "/api/m/admin"),
}
# Expected status (or error code) per mode and credential, for read / record-view / viewer / admin.
EXPECTED = {
    ("anonymous", "none"): (200, 200, "AUTH_REQUIRED", "ADMIN_REQUIRED"),
    ("anonymous", "garbage"): (200, 200, "TOKEN_INVALID", "TOKEN_INVALID"),
    ("anonymous", "admin"): (200, 200, 200, 200),
    ("anonymous", "admin-secret"): (200, 200, "AUTH_REQUIRED", 200),
    ("public", "none"): (200, 200, "AUTH_REQUIRED", "ADMIN_REQUIRED"),
    ("public", "viewer"): (200, 200, 200, "ADMIN_REQUIRED"),
    ("public", "viewer-cookie"): (200, 200, 200, "ADMIN_REQUIRED"),
    ("public", "expired"): (200, 200, "TOKEN_EXPIRED", "TOKEN_EXPIRED"),
    ("public", "garbage"): (200, 200, "TOKEN_INVALID", "TOKEN_INVALID"),
    ("public", "admin"): (200, 200, 200, 200),
    ("public", "admin-secret"): (200, 200, "AUTH_REQUIRED", 200),
    ("private", "none"): ("AUTH_REQUIRED", "AUTH_REQUIRED", "AUTH_REQUIRED", "ADMIN_REQUIRED"),
    ("private", "viewer"): (200, 200, 200, "ADMIN_REQUIRED"),
    ("private", "viewer-cookie"): (200, 200, 200, "ADMIN_REQUIRED"),
    ("private", "viewer-cookie-no-csrf"): (200, "CSRF_FAILED", 200, "CSRF_FAILED"),
    ("private", "expired"): ("TOKEN_EXPIRED", "TOKEN_EXPIRED", "TOKEN_EXPIRED", "TOKEN_EXPIRED"),
    ("private", "stale-epoch"): ("TOKEN_REVOKED", "TOKEN_REVOKED", "TOKEN_REVOKED", "TOKEN_REVOKED"),
    ("private", "garbage"): ("TOKEN_INVALID", "TOKEN_INVALID", "TOKEN_INVALID", "TOKEN_INVALID"),
    ("private", "refresh"): ("TOKEN_INVALID", "TOKEN_INVALID", "TOKEN_INVALID", "TOKEN_INVALID"),
    ("private", "admin"): (200, 200, 200, 200),
    ("private", "admin-secret"): ("AUTH_REQUIRED", "AUTH_REQUIRED", "AUTH_REQUIRED", 200),
}


@pytest.fixture
def app(app):
    def ok():
        return jsonify(ok=True)

    app.add_url_rule("/m/read", "m_read", optional_viewer(ok), methods=["GET", "POST"])
    app.add_url_rule("/m/viewer", "m_viewer", viewer_required(ok))
    app.add_url_rule("/api/m/admin", "m_admin", admin_required(ok), methods=["POST"])
    return app


def set_mode(mode):
    public = MODES[mode]
    if public is not None:
        settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1",
                                 settings.ALLOW_PUBLIC_ACCESS: "1" if public else "0"}, bump_epoch=True)


def credential(client, kind):
    """Headers for one kind of credential (cookies are set on the client as a browser would keep them)."""
    if kind == "none":
        return {}
    if kind == "admin-secret":
        return {"X-Admin-Secret": ADMIN_SECRET}
    if kind == "admin":
        token = client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET}).get_json()["token"]
        client.delete_cookie("admin_token", path="/api")
        return {"Authorization": f"Bearer {token}"}
    if kind == "garbage":
        return {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"}
    if kind in ("expired", "stale-epoch"):
        now = int(time.time())
        claims = {"sub": "viewer", "type": "access", "role": "viewer", "iat": now - 100, "nbf": now - 100,
                  "jti": "m", "epoch": settings.auth_state().epoch, "exp": now + 600}
        claims.update({"exp": now - 10} if kind == "expired" else {"epoch": claims["epoch"] - 1})
        return {"Authorization": f"Bearer {pyjwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}
    body = client.post("/api/auth/login", json={"password": PASSWORD}).get_json()
    if kind == "viewer":
        _drop_cookies(client)
        return {"Authorization": f"Bearer {body['token']}"}
    if kind == "refresh":
        _drop_cookies(client)
        return {"Authorization": f"Bearer {body['refreshToken']}"}
    if kind == "viewer-cookie":
        return {"X-CSRF-TOKEN": client.get_cookie("csrf_access_token").value}
    return {}  # viewer-cookie-no-csrf


def _drop_cookies(client):
    for name, path in (("auth_token", "/"), ("csrf_access_token", "/"), ("refresh_token", "/api/auth"),
                       ("csrf_refresh_token", "/")):
        client.delete_cookie(name, path=path)


@pytest.mark.parametrize("mode, kind", list(EXPECTED))
def test_access_matrix(client, mode, kind):
    set_mode(mode)
    headers = credential(client, kind)
    got = []
    for method, url in ENDPOINTS.values():
        response = client.open(url, method=method, headers=headers)
        got.append(200 if response.status_code == 200 else response.get_json()["code"])
    assert tuple(got) == EXPECTED[(mode, kind)]
