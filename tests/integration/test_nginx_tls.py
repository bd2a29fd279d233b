"""nginx/photonix.conf (and photonix-http.conf) on a real nginx with a self-signed certificate, in front of a
real gunicorn: the redirect to https, Secure cookies, what the app sees, the event stream (HTTP/1.1 and
HTTP/2, heartbeats past a short idle), a lockout that a spoofed X-Forwarded-For cannot dodge, and
`photonix doctor --url` naming a missing X-Forwarded-Proto."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from services import events, settings
from services.auth.passwords import hash_password
from tests.support import waiting
from tests.support.nginx import NGINX_DIR, SNIPPETS_DIR, STATIC_DIR, Nginx
from tests.support.servers import ROOT, Gunicorn, cannot_run, require_binary

pytestmark = pytest.mark.integration

TLS_CONF = NGINX_DIR / "photonix.conf"
HTTP_CONF = NGINX_DIR / "photonix-http.conf"
SHIPPED_CERT = "/etc/letsencrypt/live/photos.example.com/fullchain.pem"
SHIPPED_KEY = "/etc/letsencrypt/live/photos.example.com/privkey.pem"
HOST = "localhost"  # the certificate's name; nginx's $host carries no port, so the app sees just this
PASSWORD = "the tls password"
WRONG = {"password": "not the password"}
AUTH_COOKIES = ("auth_token", "csrf_access_token", "refresh_token", "csrf_refresh_token")
HSTS = "max-age=31536000"
TIMEOUT = (5, 10)
WAIT_S = 10.0
LONG_IDLE_S = 65.0  # past nginx's default 60 s proxy_read_timeout
IDLE_BEATS = 5  # heartbeats (one a second) a quiet stream must pass through nginx


@dataclass(frozen=True)
class Stack:
    app: Gunicorn
    proxy: Nginx
    https: str  # https://localhost:<tls port>
    http: str  # http://127.0.0.1:<port 80 stand-in>
    ca: str  # the self-signed certificate, trusted by the client


@pytest.fixture
def certificate(tmp_path) -> tuple[Path, Path]:
    openssl = require_binary("openssl")
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "2", "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def private_gallery(db):
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)


@contextlib.contextmanager
def tls_stack(env, tmp_path, certificate, snippets_dir: Path = SNIPPETS_DIR, **variables) -> Iterator[Stack]:
    """gunicorn trusting one hop behind the shipped photonix.conf; only ports and paths are rewritten."""
    cert, key = certificate
    app_env = {**env, "PHOTONIX_TRUSTED_PROXIES": "1", "PHOTONIX_PUBLIC_URL": f"https://{HOST}",
               **{f"PHOTONIX_{k}": v for k, v in variables.items()}}
    with Gunicorn(app_env, tmp_path / "gunicorn.log") as app, \
            Nginx(TLS_CONF, app.port, tmp_path, replacements={SHIPPED_CERT: str(cert), SHIPPED_KEY: str(key)},
                  snippets_dir=snippets_dir) as proxy:
        yield Stack(app, proxy, f"https://{HOST}:{proxy.ports[443]}", f"http://127.0.0.1:{proxy.ports[80]}",
                    str(cert))


@pytest.fixture
def stack(env, tmp_path, db, certificate):
    with tls_stack(env, tmp_path, certificate, SSE_HEARTBEAT_SECONDS="1") as running:
        yield running


def login(stack: Stack, body=None, headers=None) -> requests.Response:
    return requests.post(stack.https + "/api/auth/login", json=body or {"password": PASSWORD}, verify=stack.ca,
                         timeout=TIMEOUT, headers={"Connection": "close", **(headers or {})})


def test_plain_http_is_redirected_and_https_carries_hsts(stack):
    moved = requests.get(stack.http + "/api/browse?sort=name", headers={"Host": HOST}, allow_redirects=False,
                         timeout=TIMEOUT)
    assert moved.status_code == 301 and moved.headers["Location"] == f"https://{HOST}/api/browse?sort=name"
    health = requests.get(stack.https + "/health", verify=stack.ca, timeout=TIMEOUT)
    assert health.status_code == 200 and health.headers["Strict-Transport-Security"] == HSTS
    static = requests.get(stack.https + "/static/js/events.js", verify=stack.ca, timeout=TIMEOUT)
    assert static.status_code == 200 and static.content == (STATIC_DIR / "js" / "events.js").read_bytes()
    assert "X-Request-Id" not in static.headers  # nginx answered, not Flask
    assert static.headers["Cache-Control"] == "no-cache"  # unversioned; ?v=<hash> gets a year, immutable
    assert static.headers["Strict-Transport-Security"] == HSTS  # repeated: the location's add_header replaces it


def test_login_over_https_sets_secure_cookies_that_open_the_gallery(stack, private_gallery):
    with _browser(stack) as browser:
        assert browser.get(stack.https + "/api/browse", timeout=TIMEOUT).status_code == 401
        answer = browser.post(stack.https + "/api/auth/login", json={"password": PASSWORD}, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        raw = {c.split("=", 1)[0]: c for c in answer.raw.headers.getlist("Set-Cookie")}
        assert set(AUTH_COOKIES) <= set(raw), raw
        for name in AUTH_COOKIES:
            assert "; Secure" in raw[name], raw[name]
        assert "HttpOnly" in raw["auth_token"] and "HttpOnly" not in raw["csrf_access_token"]
        assert browser.get(stack.https + "/api/browse", timeout=TIMEOUT).status_code == 200


def test_diagnose_over_https_sees_the_browser_view(stack, private_gallery):
    with _browser(stack) as browser:
        assert browser.post(stack.https + "/api/auth/login", json={"password": PASSWORD}, timeout=TIMEOUT).ok
        seen = browser.get(stack.https + "/api/auth/diagnose", timeout=TIMEOUT,
                           headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Prefix": "//evil.example"}).json()
        # The shipped config sends no X-Forwarded-Prefix at the root, so a client's own never reaches the app.
        page = browser.get(stack.https + "/", timeout=TIMEOUT, headers={"X-Forwarded-Prefix": "//evil.example"})
    assert page.status_code == 200 and '<base href="/">' in page.text
    assert "X-Forwarded-Prefix" not in seen["proxyHeaders"]
    assert (seen["scheme"], seen["host"], seen["prefix"], seen["clientIp"]) == ("https", HOST, "", "127.0.0.1")
    assert seen["proxyHeaders"]["X-Forwarded-Proto"] == "https"
    assert seen["proxyHeaders"]["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"
    assert seen["secureCookies"] is True and seen["jwtState"] == "valid" and "auth_token" in seen["cookies"]
    assert seen["ok"] is True and seen["hints"] == []


def test_an_event_reaches_a_client_through_nginx_unbuffered(stack):
    """A proxy that buffers the stream (proxy_buffering, gzip) holds an event until its buffer fills (minutes of
    one-second heartbeats) or the stream ends: that the event arrives at all on the open stream shows it was
    passed on at once. No wall-clock bound: how fast it comes depends on the machine, not on nginx."""
    with requests.get(stack.https + "/api/events", stream=True, verify=stack.ca, timeout=(5, 5)) as stream:
        assert stream.status_code == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
        lines = stream.iter_lines(decode_unicode=True)
        _read_until(lines, "event: connected")
        published = events.publish("settings-changed", {"keys": ["siteTitle"]})
        _read_until(lines, f"id: {published}")


def test_an_event_reaches_an_http2_client_unbuffered(stack):
    """As over HTTP/1.1 (see above), through nginx's HTTP/2."""
    curl = require_binary("curl")
    if "HTTP2" not in subprocess.run([curl, "--version"], capture_output=True, text=True, timeout=10).stdout:
        cannot_run("this curl has no HTTP/2 support: the HTTP/2 stream was not tested")
    args = [curl, "--http2", "--include", "--silent", "--no-buffer", "--max-time", str(int(WAIT_S)),
            "--cacert", stack.ca, stack.https + "/api/events"]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True) as client:
        try:
            lines = (line.rstrip("\r\n") for line in client.stdout)  # curl's --max-time bounds every read
            assert next(lines).startswith("HTTP/2 200")
            _read_until(lines, "event: connected")
            published = events.publish("settings-changed", {"keys": ["siteTitle"]})
            _read_until(lines, f"id: {published}")
        finally:
            client.kill()


def test_an_idle_stream_outlives_the_default_read_timeout(stack):
    # Structure: only the events location raises nginx's 60 s default read timeout, to an hour.
    events_location, other = _location(stack.proxy.site, "= /api/events"), _location(stack.proxy.site, "/")
    assert f"include {SNIPPETS_DIR}/photonix-sse.conf;" in events_location
    assert re.search(r"^proxy_read_timeout 1h;", (SNIPPETS_DIR / "photonix-sse.conf").read_text(), re.MULTILINE)
    assert "photonix-sse.conf" not in other and "proxy_read_timeout" not in other
    assert not re.search(r"^\s*proxy_read_timeout", (SNIPPETS_DIR / "photonix-proxy.conf").read_text(), re.MULTILINE)
    # Behaviour: a quiet stream stays open through nginx, kept alive by heartbeats it passes on at once (a
    # buffered one would leave the reads waiting): counted heartbeats, not a measured time.
    beats = 0
    with requests.get(stack.https + "/api/events", stream=True, verify=stack.ca, timeout=(5, 5)) as stream:
        for line in stream.iter_lines(decode_unicode=True):  # each read: at most 5 s, five heartbeats' worth
            beats += line.startswith(":")
            if beats == IDLE_BEATS:
                break
    assert beats == IDLE_BEATS, f"the stream ended after {beats} heartbeats"


@pytest.mark.slow
def test_a_stream_idle_past_a_minute_still_delivers(env, tmp_path, db, certificate):
    """The real thing, once: the default 15 s heartbeat, a stream idle for longer than nginx's default
    60 s read timeout, then an event still arrives on it."""
    with tls_stack(env, tmp_path, certificate) as stack, \
            requests.get(stack.https + "/api/events", stream=True, verify=stack.ca, timeout=(5, 20)) as stream:
        lines = stream.iter_lines(decode_unicode=True)
        started, beats = time.monotonic(), 0
        while time.monotonic() - started < LONG_IDLE_S:
            beats += next(lines).startswith(":")  # each read waits at most 20 s: a heartbeat comes every 15 s
        published = events.publish("settings-changed", {"keys": ["idle"]})
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if next(lines) == f"id: {published}":
                break
        else:
            pytest.fail("no event after a minute of idling")
    assert beats >= 4


def test_a_spoofed_forwarded_for_does_not_dodge_the_lockout(stack, private_gallery):
    answers = [login(stack, WRONG, {"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(7, 12)]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    dodge = login(stack, headers={"X-Forwarded-For": "198.51.100.1", "X-Real-IP": "198.51.100.1"})
    assert dodge.status_code == 429 and dodge.json()["code"] == "LOGIN_LOCKED"  # the right password, unchecked
    assert len(re.findall(r"wrong gallery password from 127\.0\.0\.1\b", stack.app.log())) == 5


def test_doctor_names_a_missing_forwarded_proto(env, tmp_path, db, certificate):
    snippets = tmp_path / "snippets"
    shutil.copytree(SNIPPETS_DIR, snippets)
    proxy_conf = snippets / "photonix-proxy.conf"
    shipped = proxy_conf.read_text()
    broken = re.sub(r"^proxy_set_header X-Forwarded-Proto .*\n", "", shipped, flags=re.MULTILINE)
    assert broken != shipped
    proxy_conf.write_text(broken)
    photonix = [str(Path(sys.executable).with_name("photonix")), "doctor"]
    with tls_stack(env, tmp_path, certificate, snippets_dir=snippets) as running:
        # doctor uses plain requests, which trusts REQUESTS_CA_BUNDLE: no --insecure needed.
        run_env = {**running.app.env, "REQUESTS_CA_BUNDLE": running.ca,
                   "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
        doctor = subprocess.run([*photonix, "--url", running.https], env=run_env, cwd=ROOT, capture_output=True,
                                text=True, timeout=60)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert "TLS failed" not in doctor.stdout
    assert f"ok    url: {running.https} reaches Photonix: scheme http" in doctor.stdout
    assert "FAIL  url: SCHEME_MISMATCH" in doctor.stdout
    assert "does not send X-Forwarded-Proto" in doctor.stdout
    assert "fix: In nginx: proxy_set_header X-Forwarded-Proto $scheme;" in doctor.stdout


def test_the_lan_config_serves_plain_http_without_secure_cookies(env, tmp_path, private_gallery):
    app_env = {**env, "PHOTONIX_TRUSTED_PROXIES": "1"}
    with Gunicorn(app_env, tmp_path / "gunicorn.log") as app, Nginx(HTTP_CONF, app.port, tmp_path) as proxy, \
            requests.Session() as browser:
        assert set(proxy.ports) == {80}
        answer = browser.post(proxy.url + "/api/auth/login", json={"password": PASSWORD}, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        raw = answer.raw.headers.getlist("Set-Cookie")
        assert raw and not any("Secure" in cookie for cookie in raw)
        assert browser.get(proxy.url + "/api/browse", timeout=TIMEOUT).status_code == 200
        seen = browser.get(proxy.url + "/api/auth/diagnose", timeout=TIMEOUT).json()
        assert (seen["scheme"], seen["clientIp"], seen["ok"]) == ("http", "127.0.0.1", True), seen["hints"]
        static = requests.get(proxy.url + "/static/js/events.js", timeout=TIMEOUT)
        assert static.status_code == 200 and "X-Request-Id" not in static.headers
        with browser.get(proxy.url + "/api/events", stream=True, timeout=(5, 5)) as stream:
            lines = stream.iter_lines(decode_unicode=True)
            _read_until(lines, "event: connected")
            published = events.publish("settings-changed", {"keys": ["siteTitle"]})
            _read_until(lines, f"id: {published}")


def _browser(stack: Stack) -> requests.Session:
    browser = requests.Session()
    browser.verify = stack.ca
    browser.trust_env = False  # else a REQUESTS_CA_BUNDLE in the environment overrides Session.verify
    return browser


def _location(site: str, match: str) -> str:
    found = re.search(rf"^\s*location {re.escape(match)} \{{(.*?)^\s*\}}", site, re.MULTILINE | re.DOTALL)
    assert found, f"no `location {match}` in the rendered config"
    return found.group(1)


def _read_until(lines, wanted: str) -> None:
    deadline = time.monotonic() + WAIT_S
    for line in lines:  # each read is bounded by the stream's read timeout
        if line == wanted:
            return
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"the event stream never sent {wanted!r}")


def test_the_access_log_hides_share_link_tokens(stack):
    """nginx's own log line of /s/<token> and /api/share/<token>/... (and a Referer carrying one) names the place,
    never the token: a token in a log opens its link (nginx/snippets/photonix-log.conf)."""
    token = "Ab3_-" + "x" * 27
    page = f"https://{HOST}/s/{token}"
    for path in (f"/s/{token}", f"/api/share/{token}/feed?x=1"):
        requests.get(stack.https + path, headers={"Referer": page}, verify=stack.ca, timeout=TIMEOUT)
    log = stack.proxy.dir / "access.log"
    waiting.until(lambda: log.exists() and log.read_text().count("[token]") >= 4, "nginx never logged both requests")
    text = log.read_text()
    assert token not in text
    assert '"GET /s/[token] HTTP/1.1"' in text and "/api/share/[token]/feed?x=1" in text and "/s/[token]\"" in text
