"""The page never goes blank (a failed load keeps the frame and offers Retry, and heals when the event stream comes
back), error words and plurals in both languages, what visitors see, and the phone's one-row header (issue 20)."""

from __future__ import annotations

import json

import pytest
import requests

import errors
from services import settings
from services.auth.passwords import hash_password
from tests.browser.conftest import ARTIFACTS_DIR
from tests.browser.gallery import gallery_server, make_gallery, open_gallery
from tests.support import images

pytestmark = [pytest.mark.browser, pytest.mark.integration]
DEEP = "Trips/Summer holiday by the sea 2024/Day one"


@pytest.fixture
def server(env, tmp_path, photos_dir, db):
    make_gallery(photos_dir)
    images.jpeg(photos_dir / DEEP / "shore.jpg", size=(400, 300))
    with gallery_server(env, tmp_path) as running:
        yield running


def busy_answer(route):
    route.fulfill(status=503, content_type="application/json",
                  body=json.dumps({"code": "DATABASE_BUSY", "message": "The database is busy.", "requestId": "t"}))


def assert_frame(page, crumbs: str) -> None:
    """The top bar and the breadcrumbs stand around whatever the view says."""
    assert page.is_visible(".topbar #site-title") and page.is_visible("#nav-timeline")
    assert page.inner_text(".breadcrumbs").replace("\n", "") == crumbs


def test_a_missing_album_says_so_with_a_link_up(server, page):
    open_gallery(page, server, "#/browse/Holidays/No%20such%20album")
    page.wait_for_selector("#failure")
    assert_frame(page, "Home/Holidays/No such album")
    assert page.inner_text("#failure .failure-message").startswith("This album does not exist.")
    assert page.inner_text("#failure-up") == "Go up to Holidays"
    assert page.query_selector(".toast") is None  # said once, on the page
    page.click("#failure-up")
    page.wait_for_selector('.media-card[data-path="Holidays/beach.jpg"]')
    assert page.evaluate("location.hash") == "#/browse/Holidays"


def test_a_failed_load_recovers_on_retry_and_when_the_stream_reconnects(server, page):
    page.route("**/api/browse/Holidays?*", busy_answer)
    open_gallery(page, server, "#/browse/Holidays")
    page.wait_for_selector("#failure-retry")
    assert_frame(page, "Home/Holidays")
    assert not page.is_visible("#search-toggle")  # a wide screen shows the search box itself
    assert page.inner_text("#failure .failure-message") == "The database is busy; try again in a moment."
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS_DIR / "frame-failed-load-en.png"))
    page.unroute("**/api/browse/Holidays?*")
    page.click("#failure-retry")
    page.wait_for_selector('.media-card[data-path="Holidays/beach.jpg"]')
    assert page.query_selector("#failure") is None
    page.route("**/api/timeline*", busy_answer)  # the timeline keeps its frame the same way
    page.evaluate("location.hash = '#/timeline'")
    page.wait_for_selector("#failure-retry")
    assert page.is_visible(".timeline .toolbar")
    page.unroute("**/api/timeline*")
    page.click("#failure-retry")
    page.wait_for_selector(".month")
    assert page.query_selector("#failure") is None

    # The server "stops": the next page load fails and its event stream hangs, then drops; when the stream is
    # back the view fills by itself (no click, no reload).
    held = []
    page.route("**/api/browse/Family?*", busy_answer)
    page.route("**/api/events*", lambda route: held.append(route) if not held else route.continue_())
    page.reload()
    page.wait_for_function("() => window.photonix && window.photonix.status !== null")
    page.evaluate("location.hash = '#/browse/Family'")
    page.wait_for_selector("#failure-retry")
    page.wait_for_function("() => document.getElementById('live-dot').dataset.state === 'connecting'")
    page.unroute("**/api/browse/Family?*")
    held[0].abort()  # the drop: the stream backs off, reconnects, and the view retries
    page.wait_for_selector('.media-card[data-path="Family/garden.jpg"]')
    assert page.get_attribute("#live-dot", "data-state") == "open"
    assert page.query_selector("#failure") is None


def test_every_error_code_has_words_in_both_languages_and_plurals_agree(browser, server):
    codes = {cls.code for cls in _subclasses(errors.AppError)}
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        open_gallery(page, server, "#/browse/Holidays/Gone")
        words = page.evaluate("""async () => {
          const { ERROR_WORDS } = await import('./static/js/error-words.js');
          return Object.fromEntries(Object.entries(ERROR_WORDS).map(([code, w]) => [code, [w.en, w['zh-CN']]]));
        }""")
        missing = sorted(code for code in codes if not all(words.get(code, [None, None])))
        assert missing == []
        page.wait_for_selector("#failure")
        assert page.inner_text("#failure .failure-message").startswith("这个相册不存在")
        assert page.inner_text("#failure-up") == "返回上一级：Holidays"

        page.route("**/api/browse/Family?*", busy_answer)
        page.evaluate("location.hash = '#/browse/Family'")
        page.wait_for_selector("#failure-retry")
        assert page.inner_text("#failure .failure-message") == "数据库繁忙，请稍后重试。"  # not the server's English
        assert page.inner_text("#failure-retry") == "重试"
        # A failing idle task is not "running" (运行中): its state word says it fails.
        assert page.evaluate("""async () => {
          const { taskRow } = await import('./static/js/views/downloads-task-row.js');
          const task = { id: 1, title: "t", feedUrl: "https://example.com/f", status: "running", active: false,
            lastError: "HTTP 404", targetFolder: "F", tags: [], interval: 60, stats: {} };
          return taskRow(task, null, { albumHash: () => "#/", onAction: () => {} })
            .querySelector("td[data-col=status]").textContent;
        }""") == "出错"
        page.route("**/api/browse/Family?*", lambda route: route.fulfill(
            status=409, content_type="application/json", body=json.dumps({"code": "SOMETHING_NEW", "message": "Odd."})))
        page.click("#failure-retry")
        page.wait_for_function("() => document.querySelector('#failure .failure-message')?.textContent === 'Odd.'")
        page.unroute("**/api/browse/Family?*")

        two = requests.get(f"{server.url}/api/search", params={"q": "Holidays"}, timeout=5).json()["totalResults"]
        assert two >= 2
        for lang, one_text, many_text, item in [("zh-CN", "1 个结果", f"{two} 个结果", "1 项"),
                                                ("en", "1 result", f"{two} results", "1 item")]:
            page.select_option("#lang-select", lang)
            page.evaluate("location.hash = '#/search/garden'")
            page.wait_for_function("(text) => document.querySelector('.count')?.textContent === text", arg=one_text)
            page.evaluate("location.hash = '#/search/Holidays'")
            page.wait_for_function("(text) => document.querySelector('.count')?.textContent === text", arg=many_text)
            page.evaluate("location.hash = '#/browse/Family/Cousins'")
            page.wait_for_function("(text) => document.querySelector('.count')?.textContent === text", arg=item)
    finally:
        context.close()


def _subclasses(cls):
    yield cls
    for sub in cls.__subclasses__():
        yield from _subclasses(sub)


def test_visitors_see_no_settings_link_without_an_admin_secret_and_no_search_on_the_login_page(
        page, env, tmp_path, photos_dir, db):
    make_gallery(photos_dir)
    without_secret = {key: value for key, value in env.items() if key != "PHOTONIX_ADMIN_SECRET"}
    with gallery_server(without_secret, tmp_path) as running:
        open_gallery(page, running, "#/")
        page.wait_for_selector(".album-card")
        assert page.evaluate("window.photonix.settings.adminSecretConfigured") is False
        assert not page.is_visible("#nav-settings")
        assert page.query_selector(".topbar #nav-settings") is None  # never a top-bar link
        private = {settings.PASSWORD_HASH: hash_password("correct horse"), settings.PASSWORD_ENABLED: "1"}
        settings.write_settings(private, bump_epoch=True)
        for lang in ["en", "zh-CN"]:
            page.evaluate("(lang) => localStorage.setItem('photonix.lang', lang)", lang)
            page.goto(f"{running.url}/#/browse/Holidays")
            page.reload()  # the same page with another hash is no new load: load it again, with the new settings
            page.wait_for_selector("#login-form")
            assert not page.is_visible("#search-input") and not page.is_visible("#search-toggle")
            assert not page.is_visible("#nav-timeline") and not page.is_visible("#nav-settings")
            assert page.query_selector("#login-admin") is None
        page.context.close()  # before the server stops: a kept-alive connection holds gunicorn's graceful stop


def test_visitors_find_settings_in_the_footer_when_there_is_an_admin_secret(server, page):
    open_gallery(page, server, "#/")
    page.wait_for_selector(".album-card")
    assert page.is_visible("footer #nav-settings")
    assert page.query_selector(".topbar #nav-settings") is None


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_phone_header_is_one_row_with_collapsed_crumbs_and_two_line_names(browser, server, lang):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale=lang)
    try:
        page = context.new_page()
        open_gallery(page, server, "#/browse/Trips")
        page.wait_for_selector(".album-card")
        assert page.evaluate("document.querySelector('.topbar').getBoundingClientRect().height") <= 64
        assert not page.is_visible("#search-input")
        page.tap("#search-toggle")
        assert page.is_visible("#search-input")
        assert page.evaluate("document.activeElement.id") == "search-input"
        assert page.evaluate("document.querySelector('.topbar').getBoundingClientRect().height") <= 64
        page.evaluate("document.activeElement.blur()")
        page.wait_for_selector("#search-input", state="hidden")

        name = page.locator('.album-card[data-path="Trips/Summer holiday by the sea 2024"] .name')
        lines = name.evaluate("(el) => el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight)")
        assert round(lines) == 2  # wrapped onto a second line (and no further), not cut on the first

        page.evaluate("(hash) => location.hash = hash", "#/browse/" + "/".join(
            requests.utils.quote(part) for part in DEEP.split("/")))
        page.wait_for_selector(".media-card")
        crumbs = page.inner_text(".breadcrumbs").replace("\n", "")
        assert crumbs == "…/Summer holiday by the sea 2024/Day one"  # "… / parent / current"
        assert page.evaluate("document.querySelector('.topbar').getBoundingClientRect().height") <= 64
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS_DIR / f"frame-phone-{lang}.png"))
        page.tap(".crumb-more")
        home = "首页" if lang == "zh-CN" else "Home"
        assert page.inner_text(".breadcrumbs").replace("\n", "") == f"{home}/{DEEP}"
    finally:
        context.close()
