"""Auth API with the Flask test client: login, tokens, refresh, admin exchange, lockout, decorators."""

import time
import warnings

import jwt as pyjwt
import jwt.warnings
import pytest
from flask import jsonify

from blueprints._auth import admin_required, optional_viewer, viewer_required
from services import settings
from services.auth.passwords import hash_password
from tests.conftest import ADMIN_SECRET, JWT_SECRET

PASSWORD = "correct horse battery"


@pytest.fixture
def app(app):
    def ok():
        return jsonify(ok=True)

    app.add_url_rule("/test/read", "read", optional_viewer(ok))
    app.add_url_rule("/test/viewer", "viewer", viewer_required(ok))
    app.add_url_rule("/api/test/admin", "admin", admin_required(ok), methods=["GET", "POST"])
    return app


def set_password(public=False):
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1",
                             settings.ALLOW_PUBLIC_ACCESS: "1" if public else "0"}, bump_epoch=True)


def login(client, password=PASSWORD):
    return client.post("/api/auth/login", json={"password": password})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def forged(claims, key=JWT_SECRET, alg="HS256"):
    now = int(time.time())
    with warnings.catch_warnings():  # the forged HS512 token uses a key PyJWT finds short
        warnings.simplefilter("ignore", pyjwt.warnings.InsecureKeyLengthWarning)
        return pyjwt.encode({"sub": "viewer", "type": "access", "iat": now, "nbf": now, "exp": now + 600,
                             "jti": "x", "role": "viewer", "epoch": 1, **claims}, key, algorithm=alg)


def test_anonymous_mode_reads_without_token_and_refuses_login(client):
    assert client.get("/test/read").status_code == 200
    status = client.get("/api/auth/status").get_json()
    assert status["passwordEnabled"] is False and status["reason"] is None and status["authenticated"] is False
    response = login(client)
    assert response.status_code == 400 and response.get_json()["code"] == "PASSWORD_DISABLED"


def test_private_mode_login_and_bearer(client):
    set_password()
    assert client.get("/test/read").get_json()["code"] == "AUTH_REQUIRED"
    assert client.get("/api/auth/status").get_json()["reason"] == "AUTH_REQUIRED"
    wrong = login(client, "wrong password")
    assert wrong.status_code == 401
    assert wrong.get_json() | {"requestId": None} == {
        "code": "INVALID_CREDENTIALS", "message": wrong.get_json()["message"], "requestId": None,
        "remainingAttempts": 4, "nextLockSeconds": 60}
    body = login(client).get_json()
    assert body["role"] == "viewer" and body["refreshToken"] and body["expiresAt"] > time.time()
    assert client.get("/test/read", headers=bearer(body["token"])).status_code == 200
    status = client.get("/api/auth/status", headers=bearer(body["token"])).get_json()
    assert status["authenticated"] and status["role"] == "viewer" and status["reason"] is None


def test_login_sets_cookies_and_csrf_is_required_for_unsafe_cookie_requests(client):
    set_password()
    response = login(client)
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert "HttpOnly" in cookies["auth_token"] and "Path=/;" in cookies["auth_token"]
    assert "Path=/api/auth" in cookies["refresh_token"]
    assert "HttpOnly" not in cookies["csrf_access_token"]
    assert "Secure" not in cookies["auth_token"]  # plain http, COOKIE_SECURE=auto
    assert client.get("/test/read").status_code == 200  # cookie auth for a safe method
    refreshed = client.post("/api/auth/refresh")
    assert refreshed.status_code == 401 and refreshed.get_json()["code"] == "CSRF_FAILED"
    csrf = client.get_cookie("csrf_refresh_token", path="/").value  # readable by the page at the root
    assert client.post("/api/auth/refresh", headers={"X-CSRF-TOKEN": csrf}).status_code == 200


def test_https_through_trusted_proxy_sets_secure_cookies(env, photos_dir):
    from app import create_app
    from config import load_config
    from services.database import init_db

    app = create_app(load_config({**env, "PHOTONIX_TRUSTED_PROXIES": "1"}))
    init_db()
    set_password()
    response = app.test_client().post("/api/auth/login", json={"password": PASSWORD},
                                      headers={"X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/gallery"})
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert "Secure" in cookies["auth_token"] and "Path=/gallery/;" in cookies["auth_token"]
    assert "Path=/gallery/api/auth" in cookies["refresh_token"]


@pytest.mark.parametrize("make, code", [  # made when the test runs: a token made at collection could expire first
    (lambda: forged({"exp": int(time.time()) - 10}), "TOKEN_EXPIRED"),
    (lambda: forged({}, key="another-secret-another-secret-12345"), "TOKEN_INVALID"),
    (lambda: forged({}, alg="HS512"), "TOKEN_INVALID"),
    (lambda: pyjwt.encode({"sub": "viewer", "type": "access", "role": "viewer"}, None, algorithm="none"),
     "TOKEN_INVALID"),
    (lambda: forged({"type": "refresh"}), "TOKEN_INVALID"),
    (lambda: forged({"role": "admin"}), "TOKEN_REVOKED"),
    (lambda: forged({"epoch": 0}), "TOKEN_REVOKED"),
    (lambda: "not.a.token", "TOKEN_INVALID"),
])
def test_bad_tokens_get_specific_401s_in_private_mode(client, make, code):
    set_password()  # epoch 1
    token = make()
    response = client.get("/test/read", headers=bearer(token))
    assert response.status_code == 401 and response.get_json()["code"] == code
    assert client.get("/api/auth/status", headers=bearer(token)).get_json()["reason"] == code


def test_bad_token_never_breaks_a_public_read(client):
    set_password(public=True)
    expired = forged({"exp": int(time.time()) - 10})
    assert client.get("/test/read", headers=bearer(expired)).status_code == 200
    assert client.get("/test/viewer", headers=bearer(expired)).get_json()["code"] == "TOKEN_EXPIRED"


def test_password_change_revokes_access_and_refresh_tokens(client):
    set_password()
    body = login(client).get_json()
    settings.write_settings({}, bump_epoch=True)
    assert client.get("/test/read", headers=bearer(body["token"])).get_json()["code"] == "TOKEN_REVOKED"
    refreshed = client.post("/api/auth/refresh", headers=bearer(body["refreshToken"]))
    assert refreshed.status_code == 401 and refreshed.get_json()["code"] == "TOKEN_REVOKED"


def test_refresh_token_is_not_an_access_token_and_vice_versa(client):
    set_password()
    body = login(client).get_json()
    assert client.get("/test/read", headers=bearer(body["refreshToken"])).get_json()["code"] == "TOKEN_INVALID"
    assert client.post("/api/auth/refresh", headers=bearer(body["token"])).get_json()["code"] == "TOKEN_INVALID"


def test_admin_exchange_and_admin_routes(client):
    assert client.get("/api/test/admin").get_json()["code"] == "ADMIN_REQUIRED"
    wrong = client.post("/api/auth/admin", json={"adminSecret": "nope"})
    assert wrong.status_code == 401 and wrong.get_json()["remainingAttempts"] == 4
    body = client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET}).get_json()
    assert body["role"] == "admin"
    assert client.get("/api/test/admin", headers=bearer(body["token"])).status_code == 200
    assert client.get("/api/test/admin", headers={"X-Admin-Secret": ADMIN_SECRET}).status_code == 200
    assert client.get("/test/read", headers=bearer(body["token"])).status_code == 200


def test_admin_cookie_needs_csrf_on_unsafe_methods(client):
    client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET})
    assert client.get("/api/test/admin").status_code == 200
    assert client.post("/api/test/admin").get_json()["code"] == "CSRF_FAILED"
    csrf = client.get_cookie("csrf_admin_token", path="/").value
    assert client.post("/api/test/admin", headers={"X-CSRF-TOKEN": csrf}).status_code == 200


def test_gallery_password_never_grants_admin(client):
    set_password()
    token = login(client).get_json()["token"]
    assert client.get("/api/test/admin", headers=bearer(token)).get_json()["code"] == "ADMIN_REQUIRED"


def test_admin_secret_unset_is_503(env):
    from app import create_app
    from config import load_config
    from services.database import init_db

    env = {k: v for k, v in env.items() if k != "PHOTONIX_ADMIN_SECRET"}
    client = create_app(load_config(env)).test_client()
    init_db()
    response = client.post("/api/auth/admin", json={"adminSecret": "anything-long"})
    assert response.status_code == 503 and response.get_json()["code"] == "ADMIN_SECRET_NOT_CONFIGURED"


def test_fifth_failure_locks_with_retry_after_and_admin_failures_share_the_count(client):
    set_password()
    for _ in range(3):
        assert login(client, "wrong password").status_code == 401
    assert client.get("/api/test/admin", headers={"X-Admin-Secret": "wrong secret"}).status_code == 401
    locked = login(client, "wrong password")
    assert locked.status_code == 429 and locked.get_json()["code"] == "LOGIN_LOCKED"
    assert locked.headers["Retry-After"] == "60" and locked.get_json()["retryAfterSeconds"] == 60
    still = login(client)  # the right password is not even checked while locked
    assert still.status_code == 429


def test_logout_clears_every_auth_cookie(client):
    set_password()
    login(client)
    response = client.post("/api/auth/logout")
    assert response.status_code == 204
    cleared = {c.split("=", 1)[0] for c in response.headers.getlist("Set-Cookie") if "Expires=Thu, 01 Jan 1970" in c}
    assert cleared >= {"auth_token", "refresh_token", "admin_token", "csrf_access_token"}


def test_auth_debug_logs_each_decision_without_secrets(env, caplog):
    from app import create_app
    from config import load_config
    from services.database import init_db

    app = create_app(load_config({**env, "PHOTONIX_AUTH_DEBUG": "1"}))
    app.add_url_rule("/test/read", "read", optional_viewer(lambda: jsonify(ok=True)))
    init_db()
    set_password()
    client = app.test_client()
    with caplog.at_level("DEBUG", logger="photonix.auth"):
        token = login(client).get_json()["token"]
        client.get("/test/read", headers=bearer(token))
        client.get("/test/read", headers=bearer(forged({"exp": int(time.time()) - 5})))
        client.post("/api/auth/admin", json={"adminSecret": "not the secret"})
    lines = [r.getMessage() for r in caplog.records if r.name == "photonix.auth"]
    decisions = [line for line in lines if line.startswith("auth decision")]
    assert "login POST /api/auth/login -> ALLOWED" in decisions[0] and "credential=password" in decisions[0]
    assert "-> ALLOWED (role=viewer, credential=headers, ip=127.0.0.1)" in decisions[1]
    assert "-> TOKEN_EXPIRED" in decisions[2]
    assert "admin exchange POST /api/auth/admin -> ADMIN_SECRET_INVALID" in decisions[3]
    text = "\n".join(lines)
    assert PASSWORD not in text and token not in text and ADMIN_SECRET not in text and "not the secret" not in text


def test_global_rate_limit_exempts_health(env):
    from app import create_app
    from config import load_config
    from services.database import init_db

    client = create_app(load_config({**env, "PHOTONIX_RATE_LIMIT": "3/minute"})).test_client()
    init_db()
    assert [client.get("/health").status_code for _ in range(5)] == [200] * 5
    answers = [client.get("/api/auth/status") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[-1].get_json()["code"] == "RATE_LIMITED" and int(answers[-1].headers["Retry-After"]) > 0
