"""Cross-site requests are refused before any auth or lockout work (issue #18 item 4).

State-changing /api requests take only JSON bodies (415 UNSUPPORTED_MEDIA_TYPE) and are refused
when Sec-Fetch-Site is cross-site or Origin is not the server's own (403 CROSS_SITE_REQUEST).
"""

from __future__ import annotations

import io

import pytest

from app import create_app
from config import load_config
from services import settings
from services.auth.passwords import hash_password
from services.database import init_db
from tests.conftest import ADMIN_SECRET

PASSWORD = "cross site password"
EVIL = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
NGINX = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "photos.example.com"}


def client_for(env, **variables):
    app = create_app(load_config({**env, **{f"PHOTONIX_{k}": v for k, v in variables.items()}}))
    init_db()
    return app.test_client()


@pytest.fixture
def with_password(client):
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)
    return client


def code(response):
    return response.status_code, response.get_json()["code"]


def test_cross_site_logins_never_count_toward_the_lockout(with_password):
    client = with_password
    for _ in range(10):
        assert code(client.post("/api/auth/login", json={"password": "guess"}, headers=EVIL)) == (
            403, "CROSS_SITE_REQUEST")
    assert client.post("/api/auth/login", json={"password": PASSWORD}).status_code == 200


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "null"},
    {"Origin": "https://localhost"},  # the right host on another scheme is another origin
    {"Origin": "http://localhost:8080"},
    {"Origin": "http://photos.localhost", "Sec-Fetch-Site": "same-site"},  # a sibling subdomain: judged by Origin
])
def test_foreign_origins_are_refused(client, headers):
    response = client.post("/api/auth/admin", json={"adminSecret": "guess"}, headers=headers)
    assert code(response) == (403, "CROSS_SITE_REQUEST")
    wrong = client.post("/api/auth/admin", json={"adminSecret": "guess"})
    assert wrong.status_code == 401 and wrong.get_json()["remainingAttempts"] == 4  # the refusal did not count


def test_text_plain_logins_are_415_and_never_count(with_password):
    client = with_password
    for _ in range(10):
        response = client.post("/api/auth/login", data='{"password": "guess"}', content_type="text/plain")
        assert code(response) == (415, "UNSUPPORTED_MEDIA_TYPE")
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        response = client.post("/api/auth/login", data="password=guess", content_type=content_type)
        assert response.status_code == 415
    wrong = client.post("/api/auth/login", json={"password": "guess"})
    assert wrong.status_code == 401 and wrong.get_json()["remainingAttempts"] == 4


def test_a_json_body_without_a_content_type_is_415(client):
    response = client.post("/api/settings", data=b'{"siteTitle": "x"}', headers={"X-Admin-Secret": ADMIN_SECRET})
    assert code(response) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_same_origin_and_plain_clients_are_allowed(with_password):
    client = with_password
    for headers in ({}, {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
                    {"Origin": "http://localhost:80"}, {"Sec-Fetch-Site": "none"}):
        assert client.post("/api/auth/login", json={"password": PASSWORD}, headers=headers).status_code == 200


def test_cross_site_logout_keeps_the_cookies(with_password):
    client = with_password
    client.post("/api/auth/login", json={"password": PASSWORD})
    response = client.post("/api/auth/logout", headers=EVIL)
    assert code(response) == (403, "CROSS_SITE_REQUEST")
    assert "Set-Cookie" not in response.headers
    assert client.get_cookie("auth_token") is not None


def test_a_bodiless_logout_without_content_type_is_fine(client):
    assert client.post("/api/auth/logout").status_code == 204
    assert client.post("/api/auth/logout", headers={"Origin": "http://localhost"}).status_code == 204


def test_reads_are_not_refused(client):
    assert client.get("/api/settings", headers=EVIL).status_code == 200


def test_the_origin_seen_through_the_trusted_proxy_is_own(env):
    client = client_for(env, TRUSTED_PROXIES="1")
    good = client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET},
                       headers={**NGINX, "Origin": "https://photos.example.com"})
    assert good.status_code == 200
    bad = client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET},
                      headers={**NGINX, "Origin": "http://photos.example.com"})
    assert code(bad) == (403, "CROSS_SITE_REQUEST")


def test_a_browser_vouching_same_origin_passes_a_proxy_that_lost_the_host(env):
    client = client_for(env, TRUSTED_PROXIES="1")  # nginx's $host drops a non-standard port
    headers = {**NGINX, "Origin": "https://photos.example.com:8443", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET}, headers=headers).status_code == 200
    del headers["Sec-Fetch-Site"]  # a browser without Sec-Fetch-Site: only its Origin can tell
    assert code(client.post("/api/auth/admin", json={"adminSecret": "x"}, headers=headers)) == (
        403, "CROSS_SITE_REQUEST")


def test_public_url_origin_is_own(env):
    client = client_for(env, PUBLIC_URL="https://photos.example.com/gallery")
    response = client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET},
                           headers={"Origin": "https://photos.example.com"})
    assert response.status_code == 200


def test_opml_upload_still_takes_multipart_but_not_cross_site(client):
    admin = {"X-Admin-Secret": ADMIN_SECRET}
    opml = b'<?xml version="1.0"?><opml version="2.0"><head/><body/></opml>'
    upload = {"file": (io.BytesIO(opml), "feeds.opml"), "mode": "merge"}
    same_origin = {**admin, "Origin": "http://localhost"}
    assert client.post("/api/download/opml", data=upload, headers=same_origin).status_code == 200
    upload = {"file": (io.BytesIO(opml), "feeds.opml"), "mode": "merge"}
    assert code(client.post("/api/download/opml", data=upload, headers={**admin, **EVIL})) == (
        403, "CROSS_SITE_REQUEST")
    raw = client.post("/api/download/opml", data=opml, content_type="application/octet-stream", headers=admin)
    assert raw.status_code == 200
