"""No request can make a log line that the documented fail2ban filter (docs/operations.md) reads as a failure from an
address of its choosing: not through X-Forwarded-For (with spaces, newlines, "from 203.0.113.9 (failure 99"),
not through the path, in the app's log or in gunicorn's access log (services/accesslog.py)."""

from __future__ import annotations

import ast
import logging
import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote as urlquote

import pytest
from gunicorn.config import Config as GunicornConfig
from gunicorn.glogging import SafeAtoms

from app import create_app
from config import load_config
from services import settings
from services.accesslog import AccessLogger
from services.auth.passwords import hash_password
from services.database import init_db
from services.logtext import escape, quote

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "logs test password"
CHOSEN = "203.0.113.9"
FORGED = f"photonix.auth: auth failure: wrong gallery password from {CHOSEN} (failure 99"
HOSTILE_FORWARDED_FOR = ["1.2.3.4 (failure 99", f"x from {CHOSEN} (failure 99", f"x\n{FORGED}", f"x\r\n{FORGED}",
                         FORGED, f"{CHOSEN} (failure 99"]
# fail2ban's <HOST>/<SUBNET> (an address, a network or a name: fail2ban would resolve a name, so nothing but the
# real client or the literal "invalid" may ever stand there).
FAIL2BAN_HOST = r"(?:::f{4,6}:)?(?P<host>\S+)"
APP_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")  # as app.py configures it


def documented_failregex() -> re.Pattern:
    guide = (ROOT / "docs" / "operations.md").read_text()
    line = re.search(r"^failregex = (.+)$", guide, re.MULTILINE)
    assert line, "docs/operations.md documents no fail2ban failregex"
    return re.compile(re.sub(r"<(?:HOST|ADDR|SUBNET)>", lambda _: FAIL2BAN_HOST, line.group(1)))


def banned_hosts(text: str) -> set[str]:
    """The hosts fail2ban would count, line by line (journald splits a message at each newline)."""
    regex = documented_failregex()
    return {m.group("host") for line in re.split(r"[\r\n]", text) if (m := regex.search(line))}


@pytest.fixture
def proxied(env):
    app = create_app(load_config({**env, "PHOTONIX_TRUSTED_PROXIES": "1", "PHOTONIX_AUTH_DEBUG": "1"}))
    init_db()
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)
    return app.test_client()


def test_the_documented_filter_still_counts_real_failures(proxied, caplog):
    with caplog.at_level(logging.DEBUG, logger="photonix"):
        answer = proxied.post("/api/auth/login", json={"password": "wrong"},
                              environ_base={"HTTP_X_FORWARDED_FOR": "198.51.100.20"})
    assert answer.status_code == 401
    assert banned_hosts("\n".join(APP_FORMAT.format(r) for r in caplog.records)) == {"198.51.100.20"}


def test_hostile_forwarded_for_and_paths_cannot_name_an_address_in_the_app_log(proxied, caplog):
    with caplog.at_level(logging.DEBUG, logger="photonix"):
        for forwarded in HOSTILE_FORWARDED_FOR:
            sent = {"HTTP_X_FORWARDED_FOR": forwarded}
            proxied.post("/api/auth/login", json={"password": "wrong"}, environ_base=sent)
            proxied.get("/api/browse/" + urlquote(f"x {FORGED}"), environ_base=sent)
            proxied.get("/api/browse/" + urlquote(f"x\n{FORGED}"), environ_base={"HTTP_X_FORWARDED_FOR": "10.0.0.1"})
            proxied.get("/", environ_base={"HTTP_X_FORWARDED_PREFIX": f"/x\n{FORGED}"})
    text = "\n".join(APP_FORMAT.format(record) for record in caplog.records)
    assert "auth decision" in text and "auth failure" in text  # the lines that carry request text were written
    assert banned_hosts(text) <= {"invalid", "10.0.0.1"}, text


def access_line(forwarded: str, uri: str) -> str:
    """gunicorn's access log line for one request, with gunicorn.conf.py's logger class and format, where
    ProxyFix (one trusted hop) has set REMOTE_ADDR to the right-most X-Forwarded-For entry."""
    conf = (ROOT / "gunicorn.conf.py").read_text()
    assert re.search(r"^logger_class = AccessLogger$", conf, re.MULTILINE)
    access_format = ast.literal_eval(re.search(r"^access_log_format = (.+)$", conf, re.MULTILINE).group(1))
    cfg = GunicornConfig()
    cfg.set("accesslog", "-")
    logger = AccessLogger(cfg)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": uri, "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": uri,
               "QUERY_STRING": "", "REMOTE_ADDR": forwarded.rsplit(",", 1)[-1].strip()}
    request = SimpleNamespace(headers=[("X-FORWARDED-FOR", forwarded), ("USER-AGENT", FORGED)])
    response = SimpleNamespace(status="401 UNAUTHORIZED", headers=[("X-Request-Id", "abc")], sent=10)
    return access_format % SafeAtoms(logger.atoms(response, request, environ, timedelta(milliseconds=3)))


@pytest.mark.parametrize("forwarded", HOSTILE_FORWARDED_FOR)
def test_hostile_forwarded_for_cannot_name_an_address_in_the_access_log(forwarded):
    line = access_line(forwarded, "/api/auth/login?" + urlquote(FORGED))
    assert banned_hosts(line) == set(), line
    assert "\n" not in line and "\r" not in line
    assert line.split()[1] == "invalid"  # %(h)s: the parsed client address, not the header's text
    assert re.search(r' fwd="(invalid, )*invalid" ', line), line


def test_the_access_log_keeps_ordinary_requests_readable():
    line = access_line("10.0.0.1, 198.51.100.20", "/api/browse?sort=name")
    assert ' 198.51.100.20 fwd="10.0.0.1, 198.51.100.20" "GET /api/browse?sort=name HTTP/1.1" 401 10 ' in line, line


def test_quote_and_escape_make_one_inert_line():
    assert quote('a "b"\n\\ é') == r'"a\u0020\"b\"\n\\\u0020\u00e9"'
    assert escape("/api/browse/album") == "/api/browse/album"
    assert escape("x" * 300) == "x" * 200 + "..."
    assert escape("\x1b[31m\u2028") == r"\u001b[31m\u2028"
