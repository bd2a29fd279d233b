"""GET /api/auth/diagnose and the hints it gives for each way a proxy setup breaks logins."""

import time
from types import SimpleNamespace

import jwt as pyjwt
import pytest

from app import create_app
from config import load_config
from services import doctor, settings
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


# --- the cross-site guard as the browser and `photonix doctor --url` see it -------------------------
HOST_LOST = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}  # nginx passed Host 127.0.0.1:8000


def test_a_proxy_that_loses_the_host_is_named_before_logins_fail(env):
    client = client_for(env, TRUSTED_PROXIES="1")
    page = {**HOST_LOST, "Referer": "https://photos.example.com/", "Sec-Fetch-Site": "same-origin"}
    body = client.get("/api/auth/diagnose", headers=page, base_url="http://127.0.0.1:8000").get_json()
    assert body["origin"] == "https://photos.example.com" and body["originSource"] == "referer"
    assert body["serverOrigins"] == ["https://127.0.0.1:8000"] and body["crossSiteRefusal"] is None
    assert codes(body) == ["ORIGIN_MISMATCH"] and not body["ok"]
    hint = body["hints"][0]
    assert "browsers that do not send that header get 403" in hint["problem"]
    assert "proxy_set_header Host $host" in hint["fix"] and "X-Forwarded-Host" in hint["fix"]
    assert "PHOTONIX_TRUSTED_PROXIES" in hint["fix"] and "PHOTONIX_PUBLIC_URL" in hint["fix"]
    sent = {**HOST_LOST, "Origin": "https://photos.example.com"}
    for fetch_site, status in (("same-origin", 200), (None, 403)):  # a current browser vouches; an older one cannot
        headers = {**sent, "Sec-Fetch-Site": fetch_site} if fetch_site else sent
        login = client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET}, headers=headers,
                            base_url="http://127.0.0.1:8000")
        assert login.status_code == status


def test_the_public_url_origin_is_accepted_and_reported(env):
    client = client_for(env, TRUSTED_PROXIES="1", PUBLIC_URL="https://photos.example.com")
    body = client.get("/api/auth/diagnose", headers={**NGINX, "Origin": "https://photos.example.com"}).get_json()
    assert body["ok"] and body["crossSiteRefusal"] is None and body["originSource"] == "origin"
    assert body["serverOrigins"] == ["https://photos.example.com"]


def test_a_page_on_another_site_is_told_so(client):
    body = client.get("/api/auth/diagnose", headers={"Origin": "https://evil.example",
                                                      "Sec-Fetch-Site": "cross-site"}).get_json()
    assert codes(body) == ["CROSS_SITE"] and body["secFetchSite"] == "cross-site"


def test_doctor_url_sends_the_urls_origin_and_reports_the_refusal(env, monkeypatch):
    client = client_for(env, TRUSTED_PROXIES="1")
    sent = {}

    def through_the_proxy(url, params, headers, **_options):  # the proxy that drops the Host: 127.0.0.1:8000
        sent.update(headers)
        answer = client.get("/api/auth/diagnose", query_string=params, headers={**HOST_LOST, **headers},
                            base_url="http://127.0.0.1:8000")
        return SimpleNamespace(status_code=answer.status_code, json=answer.get_json)  # what doctor reads

    monkeypatch.setattr(doctor.requests, "get", through_the_proxy)
    found = doctor.check_url("https://photos.example.com/")
    assert sent == {"Origin": "https://photos.example.com"}
    assert [check.name for check in found if not check.ok] == ["url: HOST_MISMATCH", "url: ORIGIN_MISMATCH"]
    assert "every other change from it are refused with 403 CROSS_SITE_REQUEST" in found[-1].detail
    assert "Host $host" in found[-1].fix
