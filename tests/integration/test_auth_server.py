"""Auth against a real gunicorn+gevent server: cookies as a browser keeps them, lockout, forwarded headers,
doctor --url, and the lockout shared by two workers through a real Redis."""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from services import settings
from services.auth.passwords import hash_password
from tests.conftest import ADMIN_SECRET
from tests.support.servers import ROOT, Gunicorn, redis_server

pytestmark = pytest.mark.integration

PASSWORD = "the real server password"
WRONG = {"password": "not the password"}


@pytest.fixture
def private_gallery(db):
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)


def start(env, tmp_path, **variables):
    return Gunicorn({**env, **{f"PHOTONIX_{k}": v for k, v in variables.items()}}, tmp_path / "gunicorn.log")


def login(url, body=None, headers=None):
    # Connection: close, so no idle keep-alive connection holds the server's graceful stop.
    return requests.post(url + "/api/auth/login", json=body or {"password": PASSWORD}, timeout=10,
                         headers={"Connection": "close", **(headers or {})})


def test_browser_cookie_flow(env, tmp_path, private_gallery):
    with start(env, tmp_path) as server, requests.Session() as browser:
        assert browser.get(server.url + "/api/auth/status", timeout=5).json()["reason"] == "AUTH_REQUIRED"
        response = browser.post(server.url + "/api/auth/login", json={"password": PASSWORD}, timeout=10)
        assert response.status_code == 200
        jar = {cookie.name: cookie for cookie in browser.cookies}
        assert jar["auth_token"].path == "/" and jar["refresh_token"].path == "/api/auth"
        assert not jar["auth_token"].secure and jar["auth_token"].has_nonstandard_attr("HttpOnly")
        status = browser.get(server.url + "/api/auth/status", timeout=5).json()
        assert status["authenticated"] and status["role"] == "viewer"
        refresh = browser.post(server.url + "/api/auth/refresh", timeout=5)
        assert refresh.status_code == 401 and refresh.json()["code"] == "CSRF_FAILED"
        csrf = jar["csrf_refresh_token"].value
        assert browser.post(server.url + "/api/auth/refresh", headers={"X-CSRF-TOKEN": csrf}, timeout=5).ok
        assert browser.post(server.url + "/api/auth/logout", timeout=5).status_code == 204
        assert not any(cookie.name == "auth_token" for cookie in browser.cookies)
        assert browser.get(server.url + "/api/auth/status", timeout=5).json()["reason"] == "AUTH_REQUIRED"


def test_secure_cookies_and_prefix_through_one_trusted_proxy(env, tmp_path, private_gallery):
    proxy = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/gallery"}
    with start(env, tmp_path, TRUSTED_PROXIES="1") as server:
        response = login(server.url, headers=proxy)
        cookies = {c.split("=", 1)[0]: c for c in response.raw.headers.getlist("Set-Cookie")}
        assert "; Secure" in cookies["auth_token"] and "Path=/gallery/;" in cookies["auth_token"]
        assert "Path=/gallery/api/auth" in cookies["refresh_token"]
        assert "Path=/gallery/;" in cookies["csrf_refresh_token"]  # readable by the page


def test_lockout_schedule_and_spoofed_forwarded_for_with_no_trusted_proxy(env, tmp_path, private_gallery):
    with start(env, tmp_path) as server:
        answers = [login(server.url, WRONG, headers={"X-Forwarded-For": f"10.0.0.{n}"}) for n in range(5)]
        assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
        assert [a.json().get("remainingAttempts") for a in answers[:4]] == [4, 3, 2, 1]
        assert answers[4].headers["Retry-After"] == "60" and answers[4].json()["retryAfterSeconds"] == 60
        dodge = login(server.url, headers={"X-Forwarded-For": "10.9.9.9", "X-Real-IP": "10.9.9.9",
                                           "Forwarded": "for=10.9.9.9"})
        assert dodge.status_code == 429 and dodge.json()["code"] == "LOGIN_LOCKED"
        admin = requests.post(server.url + "/api/auth/admin", json={"adminSecret": ADMIN_SECRET}, timeout=5,
                              headers={"Connection": "close"})
        assert admin.status_code == 429  # one counter for the password and the admin secret
    log = server.log()
    assert len(re.findall(r"auth failure: wrong gallery password from 127\.0\.0\.1", log)) == 5


def test_one_trusted_hop_uses_the_address_the_proxy_appended(env, tmp_path, private_gallery):
    with start(env, tmp_path, TRUSTED_PROXIES="1") as server:
        for n in range(5):  # the client varies what it sends; the proxy appends the real address
            answer = login(server.url, WRONG, headers={"X-Forwarded-For": f"10.0.0.{n}, 203.0.113.5"})
        assert answer.status_code == 429
        other = login(server.url, headers={"X-Forwarded-For": "10.0.0.1, 203.0.113.6"})
        assert other.status_code == 200  # a different client is not locked
        still = login(server.url, headers={"X-Forwarded-For": "203.0.113.5"})
        assert still.status_code == 429
    assert "wrong gallery password from 203.0.113.5 (failure 5, locked 60s)" in server.log()
    # gunicorn's access log shows the same resolved address (ProxyFix rewrote REMOTE_ADDR in place).
    assert ' 203.0.113.6 fwd="10.0.0.1, 203.0.113.6" "POST /api/auth/login HTTP/1.1" 200' in server.log()


def test_doctor_url_through_the_real_server(env, tmp_path, db):
    photonix = [str(Path(sys.executable).with_name("photonix")), "doctor"]
    base = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    with start(env, tmp_path, TRUSTED_PROXIES="1") as server:
        run_env = {**base, **server.env}
        bad = subprocess.run([*photonix, "--url", server.url], env=run_env, cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
        assert bad.returncode == 1, bad.stdout
        assert "FAIL  url: NO_PROXY_HEADERS" in bad.stdout and "fix: Reach Photonix only through nginx" in bad.stdout
        gone = subprocess.run([*photonix, "--url", "http://127.0.0.1:9"], env=run_env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert gone.returncode == 1 and "unreachable" in gone.stdout
    with start(env, tmp_path) as server:
        good = subprocess.run([*photonix, "--url", server.url], env={**base, **server.env}, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert good.returncode == 0, good.stdout
        assert f"ok    url: {server.url} reaches Photonix: scheme http" in good.stdout


@pytest.mark.slow
def test_two_workers_share_the_lockout_through_redis(env, tmp_path, private_gallery):
    with redis_server() as redis_url, start(env, tmp_path, WORKERS="2", REDIS_URL=redis_url) as server:
        # 16 connections held by both workers, so the parallel failures really race across them.
        with server.connections(16) as connections, ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(
                lambda c: c.post(server.url + "/api/auth/login", json=WRONG, timeout=10), connections))
        answered = {server.worker_of(answer) for answer in answers}
        codes = sorted(a.status_code for a in answers)
        assert codes == [401] * 4 + [429] * 12  # 4 free checks and the 5th, which locks; 11 refused unchecked
        after = login(server.url)
        assert after.status_code == 429 and int(after.headers["Retry-After"]) <= 60  # the 5th failure's lock
    assert len(answered) == 2, f"both workers should have answered logins ({answered})"
