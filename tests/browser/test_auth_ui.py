"""Login, lockout and the owner's settings in headless Chromium against a real gunicorn."""

from __future__ import annotations

import re
import time

import pytest

from services import settings
from services.auth.passwords import hash_password
from tests.browser.gallery import gallery_server, make_gallery, open_gallery, thumbnails_loaded
from tests.conftest import ADMIN_SECRET

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PASSWORD = "correct horse battery"


@pytest.fixture
def server(env, tmp_path, photos_dir, db):
    make_gallery(photos_dir)
    with gallery_server(env, tmp_path) as running:
        yield running


@pytest.fixture
def private(db):
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)


def test_wrong_password_then_right_returns_to_the_album(server, page, private):
    browse_calls: list[str] = []
    page.on("request", lambda r: "/api/browse/Holidays" in r.url and browse_calls.append(r.url))
    open_gallery(page, server, "#/browse/Holidays")
    page.wait_for_selector("#login-form")
    assert page.evaluate("location.hash") == "#/login?next=" + "%23%2Fbrowse%2FHolidays"
    assert browse_calls == []  # the app knew from /api/auth/status: no 401 round trip, no loop
    assert page.get_attribute("#live-dot", "data-state") == "login-required"
    page.fill("#login-password", "not it")
    page.click("#login-submit")
    page.wait_for_function("() => document.getElementById('login-message').textContent.includes('4')")
    assert page.inner_text("#login-message") == "Wrong password. 4 attempts left before a lock."
    page.fill("#login-password", PASSWORD)
    with page.expect_response(lambda r: r.url.endswith("/api/browse/viewed") and r.request.method == "POST") as viewed:
        page.click("#login-submit")
    page.wait_for_selector(".media-card")
    assert page.evaluate("location.hash") == "#/browse/Holidays"
    assert viewed.value.status == 204  # cookie-authenticated and unsafe: the CSRF header went along
    assert viewed.value.request.headers["x-csrf-token"] == page.evaluate(
        "document.cookie.match(/csrf_access_token=([^;]+)/)[1]")
    thumbnails_loaded(page)  # <img> thumbnails carry the cookie too
    page.wait_for_selector("#live-dot[data-state=open]")
    page.click("#nav-logout")
    page.wait_for_selector("#login-form")


def test_an_expired_session_leads_to_the_login_view_once(server, page, private):
    open_gallery(page, server, "#/")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector(".album-card")
    logins: list[str] = []
    page.on("framenavigated", lambda frame: "#/login" in frame.url and logins.append(frame.url))
    settings.write_settings({settings.PASSWORD_HASH: hash_password("another password")}, bump_epoch=True)  # revokes
    page.click('.album-card[data-path="Family"]')
    page.wait_for_selector("#login-form")
    time.sleep(1)
    assert page.evaluate("location.hash").startswith("#/login?next=")
    assert page.inner_text("#login-message") == "Your session ended. Log in again."
    assert len(logins) <= 1  # one trip to the login view, however many calls failed


def test_five_failures_lock_with_a_live_countdown(server, page, private):
    open_gallery(page, server, "#/")
    page.wait_for_selector("#login-form")
    for _ in range(5):
        page.wait_for_function("() => !document.getElementById('login-submit').disabled")
        page.fill("#login-password", "wrong guess")
        page.click("#login-submit")
        page.wait_for_function("() => document.getElementById('login-message').textContent !== ''")
    clock = page.wait_for_selector("#login-countdown")
    first = seconds(clock.inner_text())
    assert 55 <= first <= 60
    assert page.is_disabled("#login-submit") and page.is_disabled("#login-password")
    page.wait_for_function("(start) => { const [m, s] = document.getElementById('login-countdown').textContent"
                           ".split(':').map(Number); return m * 60 + s <= start - 2; }", arg=first, timeout=5_000)
    assert page.inner_text("#login-message").startswith("Too many failed attempts. Try again in")


def seconds(text: str) -> int:
    minutes, secs = re.fullmatch(r"(\d+):(\d\d)", text).groups()
    return int(minutes) * 60 + int(secs)


def unlock_admin(page) -> None:
    page.wait_for_selector("#admin-form")
    page.fill("#admin-secret", "not the secret")
    page.press("#admin-secret", "Enter")
    page.wait_for_function("() => document.getElementById('admin-message').textContent.includes('attempts left')")
    page.fill("#admin-secret", ADMIN_SECRET)
    page.press("#admin-secret", "Enter")
    page.wait_for_selector("#settings-form")


def test_settings_turn_the_password_on_and_off(server, page):
    open_gallery(page, server, "#/settings")
    unlock_admin(page)
    assert page.evaluate("Object.keys(sessionStorage)") == ["photonix.adminToken"]
    assert ADMIN_SECRET not in page.evaluate("JSON.stringify({...sessionStorage, ...localStorage})")
    page.check("#settings-form [name=passwordEnabled]")
    page.fill("#settings-form [name=newPassword]", "short")
    page.click("#settings-form button[type=submit]")
    assert page.get_attribute("#settings-form [name=newPassword]", "aria-invalid") == "true"
    page.fill("#settings-form [name=newPassword]", PASSWORD)
    page.fill("#settings-form [name=siteTitle]", "Our Photos")
    page.click("#settings-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('settings-message').textContent === 'Saved.'")
    assert page.inner_text("#site-title") == "Our Photos"

    page.goto(server.url + "/#/browse/Family")  # the gallery is private now
    page.wait_for_selector("#login-form")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector(".media-card")

    page.goto(server.url + "/#/settings")  # the admin token is still held for this tab
    page.wait_for_selector("#settings-form")
    page.uncheck("#settings-form [name=passwordEnabled]")
    page.click("#settings-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('settings-message').textContent === 'Saved.'")
    fresh = page.context.browser.new_context()
    try:
        visitor = fresh.new_page()
        open_gallery(visitor, server, "#/browse/Family")
        visitor.wait_for_selector(".media-card")  # open again, for anyone
        assert visitor.is_hidden("#login-form")
    finally:
        fresh.close()


def test_rebuild_index_shows_progress_from_events(server, page):
    open_gallery(page, server, "#/settings")
    page.fill("#admin-secret", ADMIN_SECRET)
    page.press("#admin-secret", "Enter")
    page.wait_for_selector("#library-stats dd")
    page.wait_for_selector("#live-dot[data-state=open]")
    page.click("#rebuild-index")
    page.wait_for_selector(".toast.info")
    page.wait_for_function("() => document.querySelector('#library-stats dd:nth-of-type(2)').textContent === '7'")
    assert page.inner_text("#library-stats dd >> nth=0") == "3"  # Family, Family/Cousins, Holidays
    page.click("#generate-thumbs")
    page.wait_for_function("() => document.getElementById('thumb-stats').textContent.startsWith('7 ready')",
                           timeout=20_000)  # the batch's completion event refreshes the counts
