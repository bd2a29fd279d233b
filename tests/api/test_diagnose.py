"""GET /api/auth/diagnose and the hints it gives for each way a proxy setup breaks logins."""

import time

import jwt as pyjwt
import pytest

from app import create_app
from config import load_config
from services import settings
from services.auth.passwords import hash_password
from services.database import init_db
from tests.conftest import ADMIN_SECRET, JWT_SECRET

PASSWORD = "diagnose me please"
NGINX = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "photos.example.com"}


def client_for(env, **variables):
    app = create_app(load_config({**env, **{f"PHOTONIX_{k}": v for k, v in variables.items()}}))
    init_db()
    return app.test_client()


def codes(body):
    return [hint["code"] for hint in body["hints"]]


def test_direct_request_without_public_url_is_fine(client):
    body = client.get("/api/auth/diagnose").get_json()
    assert body["ok"] and body["hints"] == []
    assert body["scheme"] == "http" and body["clientIp"] == "127.0.0.1" and body["trustedProxies"] == 0
    assert body["jwtState"] == "none" and body["cookies"] == [] and body["proxyHeaders"] == {}


def test_correct_proxy_setup_has_no_hints(env):
    client = client_for(env, TRUSTED_PROXIES="1", PUBLIC_URL="https://photos.example.com/gallery")
    body = client.get("/api/auth/diagnose", headers={**NGINX, "X-Forwarded-Prefix": "/gallery"}).get_json()
    assert body["ok"], body["hints"]
    assert body["scheme"] == "https" and body["host"] == "photos.example.com" and body["prefix"] == "/gallery"
    assert body["clientIp"] == "203.0.113.9" and body["remoteAddr"] == "127.0.0.1" and body["secureCookies"]


def test_proxy_headers_with_zero_trusted_hops_are_ignored_and_reported(env):
    client = client_for(env, PUBLIC_URL="https://photos.example.com")
    body = client.get("/api/auth/diagnose", headers=NGINX).get_json()
    assert body["clientIp"] == "127.0.0.1" and body["scheme"] == "http"
    assert codes(body) == ["PROXY_HEADERS_IGNORED", "SCHEME_MISMATCH", "HOST_MISMATCH"]
    assert not body["ok"] and "PHOTONIX_TRUSTED_PROXIES=1" in body["hints"][0]["fix"]


def test_missing_forwarded_proto_and_prefix(env):
    client = client_for(env, TRUSTED_PROXIES="1", PUBLIC_URL="https://photos.example.com/gallery")
    sent = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "photos.example.com"}
    body = client.get("/api/auth/diagnose", headers=sent).get_json()
    assert codes(body) == ["SCHEME_MISMATCH", "PREFIX_MISMATCH"]
    assert "X-Forwarded-Proto $scheme" in body["hints"][0]["fix"]
    assert "X-Forwarded-Prefix /gallery" in body["hints"][1]["fix"]


def test_trusted_hops_but_no_proxy(env):
    body = client_for(env, TRUSTED_PROXIES="1").get("/api/auth/diagnose").get_json()
    assert codes(body) == ["NO_PROXY_HEADERS"]


def test_secure_cookies_forced_over_http(env):
    body = client_for(env, COOKIE_SECURE="true").get("/api/auth/diagnose").get_json()
    assert codes(body) == ["SECURE_COOKIE_OVER_HTTP"] and body["secureCookies"]


def test_host_with_default_port_matches(env):
    client = client_for(env, TRUSTED_PROXIES="1", PUBLIC_URL="https://photos.example.com:443/")
    assert client.get("/api/auth/diagnose", headers=NGINX).get_json()["ok"]


def test_a_lost_port_gets_its_own_fix(env):
    client = client_for(env, TRUSTED_PROXIES="1", PUBLIC_URL="https://photos.example.com:8443/")
    body = client.get("/api/auth/diagnose", headers=NGINX).get_json()  # nginx's $host: the name without the port
    assert codes(body) == ["HOST_MISMATCH"]
    assert "$http_host" in body["hints"][0]["fix"]


def test_cookie_from_another_secret_and_clock_skew(client):
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)
    now = int(time.time())
    foreign = pyjwt.encode({"sub": "viewer", "type": "access", "iat": now, "exp": now + 600, "role": "viewer"},
                           "a-different-jwt-secret-of-enough-length", algorithm="HS256")
    client.set_cookie("auth_token", foreign)
    body = client.get(f"/api/auth/diagnose?clientTime={now + 3600}").get_json()
    assert body["jwtState"] == "TOKEN_INVALID" and body["jwtSource"] == "cookies"
    assert body["cookies"] == ["auth_token"]
    assert codes(body) == ["TOKEN_INVALID", "CLOCK_SKEW"]
    assert foreign not in str(body) and JWT_SECRET not in str(body)


def test_valid_login_cookies_are_seen(client):
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)
    client.post("/api/auth/login", json={"password": PASSWORD})
    body = client.get("/api/auth/diagnose").get_json()
    assert body["jwtState"] == "valid" and body["ok"]
    assert body["cookies"] == ["auth_token", "csrf_access_token", "csrf_refresh_token", "refresh_token"]
    text = str(body)
    assert ADMIN_SECRET not in text and "$2b$" not in text and client.get_cookie("auth_token").value not in text


@pytest.mark.parametrize("value", ["soon", "nan", "inf", "1e999"])
def test_bad_client_time_is_400(client, value):
    response = client.get(f"/api/auth/diagnose?clientTime={value}")
    assert response.status_code == 400 and response.get_json()["field"] == "clientTime"
