"""static/js/events.js in headless Chromium against a real gunicorn: live events, resume from the last id,
backoff with jitter, and a login-required stop instead of a reconnect loop."""

from __future__ import annotations

import pytest

from services import events, settings
from services.auth.passwords import hash_password
from tests.support.servers import Gunicorn

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "browser password"

SETUP = """async () => {
  const { LiveEvents } = await import('/static/js/events.js');
  window.log = []; window.states = []; window.made = 0; window.sources = [];
  class CountingSource extends EventSource {
    constructor(...a) { super(...a); window.made += 1; window.sources.push(this); }
  }
  window.live = new LiveEvents({ EventSourceImpl: CountingSource, minDelayMs: 200 });
  for (const type of ['index-progress', 'settings-changed', 'resync', 'login-required'])
    window.live.addEventListener(type, (e) => window.log.push([type, e.detail]));
  window.live.addEventListener('state', (e) => window.states.push(e.detail));
  window.live.start();
}"""

IDLE = """() => ({ made: window.made, timer: window.live.timer,
                  open: window.sources.filter((s) => s.readyState !== EventSource.CLOSED).length })"""


@pytest.fixture
def server(env, tmp_path, db):
    with Gunicorn({**env, "PHOTONIX_SSE_HEARTBEAT_SECONDS": "2"}, tmp_path / "gunicorn.log") as running:
        yield running


def open_live(page, server):
    page.goto(server.url + "/health")
    page.evaluate(SETUP)
    page.wait_for_function("window.live.state === 'open'")


def test_live_events_and_resume_from_the_last_id(server, page):
    open_live(page, server)
    first = events.publish("index-progress", {"processed": 1})
    page.wait_for_function("window.log.length === 1")
    assert page.evaluate("window.live.lastEventId") == str(first)
    page.evaluate("window.live.source.close(); window.live.lost()")  # as if the network dropped
    missed = [events.publish("index-progress", {"processed": n}) for n in (2, 3, 4)]
    page.wait_for_function("window.log.length === 4")
    assert page.evaluate("window.log.map(([, d]) => d.processed)") == [1, 2, 3, 4]
    assert page.evaluate("window.live.lastEventId") == str(missed[-1])
    assert page.evaluate("window.states").count("backoff") == 1


def test_backoff_doubles_with_jitter_up_to_a_minute(server, page):
    page.goto(server.url + "/health")
    delays = page.evaluate("""async () => {
      const { LiveEvents } = await import('/static/js/events.js');
      const out = {};
      for (const [name, r] of [['low', 0], ['high', 0.999999]]) {
        const live = new LiveEvents({ random: () => r });
        live.connect = () => {};
        out[name] = Array.from({ length: 9 }, () => Math.round(live.backoff()));
        clearTimeout(live.timer);
      }
      return out;
    }""")
    assert delays["low"] == [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
    assert delays["high"] == [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]


def test_login_required_stops_reconnecting_until_resumed(server, page):
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)
    page.goto(server.url + "/health")
    page.evaluate(SETUP)
    page.wait_for_function("window.live.state === 'login-required'")
    assert page.evaluate("window.log") == [["login-required", "AUTH_REQUIRED"]]
    # No reconnect loop while nobody is logged in, shown by state rather than by waiting: no reconnect timer is
    # pending and every EventSource made is closed (a closed one never retries on its own), so nothing can
    # ever open another.
    assert page.evaluate(IDLE) == {"made": 1, "timer": None, "open": 0}
    page.evaluate("""async (password) => {
      await fetch('api/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                      body: JSON.stringify({ password }) });
      window.live.resume();
    }""", PASSWORD)
    page.wait_for_function("window.live.state === 'open'")
    events.publish("settings-changed", {"keys": ["siteTitle"]})
    page.wait_for_function("window.log.length === 2")
