"""Adversarial tokens against every kind of route that reads one, through the Flask test client.

Route kinds: a private gallery read, two admin routes, the refresh endpoint, the event stream (status only,
never read past the first frame) and /api/auth/status, whose `reason` must name the same refusal. Each
forged token is built from claims that are accepted as they are (test_genuine_claims_are_accepted), so a
refusal is caused by the attack alone. Every refusal is a precise status and code: never 200, never 500.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator

import jwt as pyjwt
import pytest
from jwt.utils import base64url_decode, base64url_encode
from jwt.warnings import InsecureKeyLengthWarning

from services import events, settings
from services.auth import access, passwords
from tests.conftest import ADMIN_SECRET, JWT_SECRET

PASSWORD = "token attack password"
WRONG_KEY = "a-different-secret-of-more-than-32-characters"
KINDS = {  # route kind -> (method, url)
    "read": ("GET", "/api/browse"),
    "admin-get": ("GET", "/api/download/status"),
    "admin-put": ("PUT", "/api/settings"),
    "refresh": ("POST", "/api/auth/refresh"),
    "events": ("GET", "/api/events"),
    "status": ("GET", "/api/auth/status"),
}
ADMIN_KINDS = ("admin-get", "admin-put")
QUERY_NAMES = ("token", "jwt", "access_token", "refresh_token")
FORGED_TITLE = "Taken over"
CSRF = "double-submit-value"  # the csrf claim of forged tokens, echoed in X-CSRF-TOKEN with cookies


@pytest.fixture(autouse=True)
def cheap_bcrypt(monkeypatch):
    """Hashes made here use the cheapest bcrypt cost: the tests are about tokens, not hashing speed."""
    monkeypatch.setattr(passwords, "BCRYPT_ROUNDS", 4)


@pytest.fixture
def client(app):
    events.shutdown()  # a fresh event hub per test; streams opened here end with it
    yield app.test_client()
    events.shutdown()


def set_mode(public: bool) -> None:
    settings.write_settings({settings.PASSWORD_HASH: passwords.hash_password(PASSWORD),
                             settings.PASSWORD_ENABLED: "1", settings.ALLOW_PUBLIC_ACCESS: "1" if public else "0"},
                            bump_epoch=True)


@pytest.fixture
def private(client):
    set_mode(public=False)
    return client


@pytest.fixture
def public(client):
    set_mode(public=True)
    return client


# --- forging -------------------------------------------------------------------------------------------


def claims(kind: str, **changes) -> dict:
    """Claims the server accepts for this route kind (as flask-jwt-extended would issue them)."""
    now = int(time.time())
    role = access.ROLE_ADMIN if kind in ADMIN_KINDS else access.ROLE_VIEWER
    base = {"sub": role, "role": role, "type": "refresh" if kind == "refresh" else "access", "fresh": False,
            "csrf": CSRF, "iat": now - 5, "nbf": now - 5, "exp": now + 600, "jti": uuid.uuid4().hex}
    if role == access.ROLE_ADMIN:
        base["adm"] = access.admin_fingerprint(ADMIN_SECRET, JWT_SECRET)
    else:
        base["epoch"] = settings.auth_state().epoch
    return base | changes


def sign(payload: dict, key: str = JWT_SECRET, alg: str = "HS256", headers: dict | None = None) -> str:
    with warnings.catch_warnings():  # HS384/HS512 want longer keys than the test secret
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return pyjwt.encode(payload, key, algorithm=alg, headers=headers)


def b64json(value: dict) -> str:
    return base64url_encode(json.dumps(value, separators=(",", ":")).encode()).decode()


def raw(header: dict, payload: dict, key: bytes | None = None) -> str:
    """A token with any header PyJWT would refuse to write; HMAC-SHA256 signed with `key`, or unsigned."""
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if key is not None else b""
    return f"{signing_input}.{base64url_encode(signature).decode()}"


def with_payload(token: str, change: Callable[[dict], None]) -> str:
    """The token with its claims changed and its original signature kept."""
    header, payload, signature = token.split(".")
    decoded = json.loads(base64url_decode(payload))
    change(decoded)
    return f"{header}.{b64json(decoded)}.{signature}"


def _promote(payload: dict) -> None:
    payload.update(sub="admin", role="admin", adm=access.admin_fingerprint(ADMIN_SECRET, JWT_SECRET))


def _extend(payload: dict) -> None:
    payload["exp"] = int(time.time()) + 365 * 24 * 3600


def _expired(kind: str) -> dict:
    now = int(time.time())
    return claims(kind, iat=now - 700, nbf=now - 700, exp=now - 100)


ATTACKS: dict[str, tuple[Callable[[str], str], str]] = {  # name -> (token for a route kind, expected code)
    "alg none": (lambda k: pyjwt.encode(claims(k), None, algorithm="none"), "TOKEN_INVALID"),
    "alg None": (lambda k: raw({"alg": "None", "typ": "JWT"}, claims(k)), "TOKEN_INVALID"),
    "alg nOnE": (lambda k: raw({"alg": "nOnE", "typ": "JWT"}, claims(k)), "TOKEN_INVALID"),
    "alg none, HS256 signature": (lambda k: raw({"alg": "none"}, claims(k), JWT_SECRET.encode()), "TOKEN_INVALID"),
    "HS384, right secret": (lambda k: sign(claims(k), alg="HS384"), "TOKEN_INVALID"),
    "HS512, right secret": (lambda k: sign(claims(k), alg="HS512"), "TOKEN_INVALID"),
    "RS256 header, HMAC with the secret": (lambda k: raw({"alg": "RS256", "typ": "JWT"}, claims(k),
                                                          JWT_SECRET.encode()), "TOKEN_INVALID"),
    "wrong key": (lambda k: sign(claims(k), key=WRONG_KEY), "TOKEN_INVALID"),
    "empty key": (lambda k: raw({"alg": "HS256", "typ": "JWT"}, claims(k), b""), "TOKEN_INVALID"),
    "role viewer->admin, old signature": (
        lambda k: with_payload(sign(claims("read", type=claims(k)["type"])), _promote), "TOKEN_INVALID"),
    "expired, exp extended, old signature": (lambda k: with_payload(sign(_expired(k)), _extend), "TOKEN_INVALID"),
    "expired": (lambda k: sign(_expired(k)), "TOKEN_EXPIRED"),
    "nbf in the future": (lambda k: sign(claims(k, nbf=int(time.time()) + 3600)), "TOKEN_INVALID"),
    "iat in the future": (lambda k: sign(claims(k, iat=int(time.time()) + 3600)), "TOKEN_INVALID"),
    "no sub claim": (lambda k: sign({n: v for n, v in claims(k).items() if n != "sub"}), "TOKEN_INVALID"),
    "2 segments": (lambda k: sign(claims(k)).rsplit(".", 1)[0], "TOKEN_INVALID"),
    "4 segments": (lambda k: sign(claims(k)) + ".e30", "TOKEN_INVALID"),
    "bad base64": (lambda k: sign(claims(k)).replace(".", ".*!", 1), "TOKEN_INVALID"),
    "16 KB, wrong key": (lambda k: sign(claims(k, pad="x" * 16384), key=WRONG_KEY), "TOKEN_INVALID"),
    "16 KB of garbage": (lambda k: "A" * 16384, "TOKEN_INVALID"),
    "non-ASCII": (lambda k: sign(claims(k))[:-3] + "é" + sign(claims(k))[-2:], "TOKEN_INVALID"),
}


# --- asking ----------------------------------------------------------------------------------------------


def call(client, kind: str, headers: dict | None = None, query: dict | None = None):
    method, url = KINDS[kind]
    body = {"siteTitle": FORGED_TITLE} if kind == "admin-put" else None
    response = client.open(url, method=method, headers=headers or {}, query_string=query, json=body,
                           buffered=False)
    if kind == "events" and response.status_code == 200:
        next(iter(response.response))  # the first frame proves the stream opened; read no further
    response.close()
    return response


def assert_refused(client, kind: str, code: str, status: int = 401, **request) -> None:
    """A protected kind answers `status` with `code`; /api/auth/status answers 200 naming it as `reason`."""
    response = call(client, kind, **request)
    if kind == "status":
        body = response.get_json()
        assert (response.status_code, body["authenticated"], body["role"], body["reason"]) == (200, False, None, code)
    else:
        assert (response.status_code, response.get_json()["code"]) == (status, code)
    assert settings.auth_state().site_title != FORGED_TITLE  # a refused admin write changed nothing


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def login(client) -> dict:
    body = client.post("/api/auth/login", json={"password": PASSWORD}).get_json()
    client.delete_cookie("auth_token", path="/")
    client.delete_cookie("refresh_token", path="/api/auth")
    return body


# --- the cases ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_genuine_claims_are_accepted(private, kind):
    """The control for every attack below: the same claims, correctly signed, get through."""
    response = call(private, kind, headers=bearer(sign(claims(kind))))
    assert response.status_code == 200
    if kind == "status":
        assert response.get_json()["reason"] is None and response.get_json()["authenticated"] is True


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("attack", ATTACKS)
def test_forged_bearer_token_is_refused(private, attack, kind):
    make, code = ATTACKS[attack]
    assert_refused(private, kind, code, headers=bearer(make(kind)))


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "refresh"])
def test_refresh_token_is_not_an_access_token(private, kind):
    refresh = login(private)["refreshToken"]
    assert_refused(private, kind, "TOKEN_INVALID", headers=bearer(refresh))


@pytest.mark.parametrize("token", ["viewer access", "admin access"])
def test_access_token_is_not_a_refresh_token(private, token):
    if token == "viewer access":
        issued = login(private)["token"]
    else:
        issued = private.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET}).get_json()["token"]
        private.delete_cookie("admin_token", path="/api")
    assert_refused(private, "refresh", "TOKEN_INVALID", headers=bearer(issued))


@pytest.mark.parametrize("kind", KINDS)
def test_tokens_from_before_a_password_change_are_revoked(private, kind):
    issued = login(private)
    changed = private.put("/api/settings", json={"newPassword": "the next gallery password"},
                          headers={"X-Admin-Secret": ADMIN_SECRET})
    assert changed.status_code == 200
    token = issued["refreshToken"] if kind == "refresh" else issued["token"]
    assert_refused(private, kind, "TOKEN_REVOKED", headers=bearer(token))


@pytest.mark.parametrize("kind", ["read", *ADMIN_KINDS, "events", "status"])
def test_admin_token_from_before_an_admin_secret_change_is_revoked(env, private, kind):
    from app import create_app
    from config import load_config

    token = private.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET}).get_json()["token"]
    restarted = create_app(load_config({**env, "PHOTONIX_ADMIN_SECRET": "the-rotated-admin-secret"})).test_client()
    assert_refused(restarted, kind, "TOKEN_REVOKED", headers=bearer(token))


class KeyServer:
    """A local HTTP server that would hand out the attacker's key, and records every request it gets."""

    def __init__(self):
        self.hits: list[str] = []
        jwks = json.dumps({"keys": [{"kty": "oct", "kid": "attacker", "alg": "HS256",
                                     "k": base64url_encode(WRONG_KEY.encode()).decode()}]}).encode()
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server API)
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(jwks)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    server = KeyServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


REMOTE_KEY_HEADERS = {
    "jku": lambda url: {"jku": f"{url}/jwks.json", "kid": "attacker"},
    "x5u": lambda url: {"x5u": f"{url}/cert.pem"},
    "jwk": lambda url: {"jwk": {"kty": "oct", "k": base64url_encode(WRONG_KEY.encode()).decode(),
                                "x5u": f"{url}/embedded.pem"}},
    "kid URL": lambda url: {"kid": f"{url}/key"},
    "kid path": lambda url: {"kid": "../../../../dev/null"},
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("header", REMOTE_KEY_HEADERS)
def test_remote_key_headers_are_ignored_and_nothing_is_fetched(private, key_server, header, kind):
    extra = REMOTE_KEY_HEADERS[header](key_server.url)
    assert_refused(private, kind, "TOKEN_INVALID", headers=bearer(sign(claims(kind), key=WRONG_KEY, headers=extra)))
    empty = raw({"alg": "HS256", "typ": "JWT", **extra}, claims(kind), b"")  # "the key at /dev/null is empty"
    assert_refused(private, kind, "TOKEN_INVALID", headers=bearer(empty))
    # Signed with the server's own key, the same headers change nothing: accepted, still nothing fetched.
    assert call(private, kind, headers=bearer(sign(claims(kind), headers=extra))).status_code == 200
    assert key_server.hits == []


QUERY_EXPECTED = {  # a genuine token in the query string counts as no credential at all
    "read": (401, "AUTH_REQUIRED"),
    "admin-get": (403, "ADMIN_REQUIRED"),
    "admin-put": (403, "ADMIN_REQUIRED"),
    "refresh": (401, "AUTH_REQUIRED"),
    "events": (401, "AUTH_REQUIRED"),
    "status": (200, "AUTH_REQUIRED"),
}


@pytest.mark.parametrize("name", QUERY_NAMES)
@pytest.mark.parametrize("kind", KINDS)
def test_tokens_in_the_query_string_are_ignored(private, kind, name):
    genuine = sign(claims(kind))
    status, code = QUERY_EXPECTED[kind]
    assert_refused(private, kind, code, status, query={name: genuine})


BAD_COOKIE_ATTACKS = [name for name in ATTACKS if name != "non-ASCII"]  # a cookie cannot carry it unquoted


@pytest.mark.filterwarnings("ignore:The '.*' cookie is too large")
@pytest.mark.parametrize("attack", BAD_COOKIE_ATTACKS)
def test_bad_access_cookie_is_ignored_on_public_reads(public, attack):
    make, code = ATTACKS[attack]
    public.set_cookie("auth_token", make("read"))
    assert call(public, "read").status_code == 200
    assert call(public, "events").status_code == 200
    body = call(public, "status").get_json()
    assert (body["authenticated"], body["reason"]) == (False, code)  # ignored, yet reported


@pytest.mark.filterwarnings("ignore:The '.*' cookie is too large")
@pytest.mark.parametrize("cookie", ["auth_token", "admin_token"])
@pytest.mark.parametrize("kind", ADMIN_KINDS)
@pytest.mark.parametrize("attack", BAD_COOKIE_ATTACKS)
def test_bad_cookie_is_refused_on_admin_routes_in_public_mode(public, attack, kind, cookie):
    make, code = ATTACKS[attack]
    public.set_cookie(cookie, make(kind), path="/" if cookie == "auth_token" else "/api")
    # The double submit matches the token's csrf claim, so the token itself is judged.
    assert_refused(public, kind, code, headers={"X-CSRF-TOKEN": CSRF})
