"""The gaps in issue 20's browser matrix, over one indexed gallery served by one gunicorn: covers that skip a
broken photo (desktop English, phone Chinese); on a phone in Chinese, a failed load that keeps its frame, what
visitors see and the installable app; and compressed answers as the browser receives them."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS_DIR
from tests.browser.gallery import open_gallery, thumbnails_loaded
from tests.browser.test_frame_ui import busy_answer
from tests.browser.test_pwa import READY, server_hits
from tests.browser.views import DESKTOP, PHONE, views_server
from tests.support import images
from tests.support.waiting import until

pytestmark = [pytest.mark.browser, pytest.mark.integration]
MANY = 60
OLDER, NEWEST, NEWER_STILL = 1_700_000_000, 1_800_000_000, 1_900_000_000
VARIANTS = {"desktop-en": (DESKTOP, "en"), "phone-zh": (PHONE, "zh-CN")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """make_gallery's albums, per variant an album whose newest photo is truncated, and an album of MANY photos.

    Each broken album sits in a parent whose own photo is newer still, so the home page (which every other test
    opens) never asks for the broken photo's thumbnail: only the cover test does, in its own variant's parent."""
    root = tmp_path_factory.mktemp("matrix")
    photos = root / "photos"
    for variant in VARIANTS:
        images.jpeg(photos / f"Covers {variant}" / "cover.jpg", size=(400, 300), mtime=NEWER_STILL)
        images.jpeg(photos / f"Covers {variant}" / "Trip" / "older.jpg", size=(400, 300), mtime=OLDER)
        broken = images.truncated_jpeg(photos / f"Covers {variant}" / "Trip" / "newest.jpg")  # header: 800 x 600
        os.utime(broken, (NEWEST, NEWEST))
    for number in range(MANY):
        images.jpeg(photos / "Many" / f"p{number:03}.jpg", size=(48, 36), mtime=OLDER + number)
    with views_server(root) as running:
        yield running


@contextlib.contextmanager
def opened(browser, variant: str) -> Iterator:
    """A page in a fresh context of `variant` (viewport, touch and language)."""
    viewport, lang = VARIANTS[variant]
    context = browser.new_context(**viewport, locale=lang)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
    finally:
        context.close()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_broken_newest_photo_gives_up_its_cover_once_its_thumbnail_failed(browser, server, variant):
    parent = f"Covers {variant}"
    album = f"{parent}/Trip"
    with opened(browser, variant) as page:
        cover = page.locator(f'.album-card[data-path="{album}"] .cover img')
        open_gallery(page, server, f"#/browse/Covers%20{variant}")
        expect(cover).to_have_attribute("data-path", f"{album}/newest.jpg")  # its header reads, so it is the cover
        expect(cover).to_have_attribute("data-state", "failed")  # the card asked for its thumbnail: it failed
        page.reload()
        expect(cover).to_have_attribute("data-path", f"{album}/older.jpg")
        expect(cover).to_have_attribute("data-src", re.compile(r"^/api/thumbnail\?path=.*%2Folder\.jpg&v="))
        expect(cover).to_have_attribute("data-state", "loaded")
        assert cover.evaluate("(img) => img.naturalWidth") > 0


def test_a_failed_load_on_a_phone_in_chinese_keeps_the_frame_and_retry_recovers(browser, server):
    with opened(browser, "phone-zh") as page:
        page.route("**/api/browse/Holidays?*", busy_answer, times=1)
        open_gallery(page, server, "#/browse/Holidays")
        retry = page.locator("#failure-retry")
        expect(retry).to_have_text("重试")
        expect(page.locator("#failure .failure-message")).to_have_text("数据库繁忙，请稍后重试。")
        expect(page.locator(".topbar #site-title")).to_be_visible()
        expect(page.locator("#search-toggle")).to_be_visible()  # the phone's one-row header
        expect(page.locator(".breadcrumbs")).to_be_visible()
        assert page.inner_text(".breadcrumbs").replace("\n", "") == "首页/Holidays"
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS_DIR / "matrix-failed-load-phone-zh-CN.png"))
        retry.tap()
        thumbnails_loaded(page)
        expect(page.locator('.media-card[data-path="Holidays/beach.jpg"]')).to_be_visible()
        expect(page.locator("#failure")).to_have_count(0)


def without_admin_secret(route) -> None:
    answer = route.fetch()
    route.fulfill(response=answer, json={**answer.json(), "adminSecretConfigured": False})


@pytest.mark.parametrize("secret", [True, False], ids=["admin-secret", "no-admin-secret"])
def test_visitors_on_a_phone_in_chinese_see_settings_only_in_the_footer_and_only_with_an_admin_secret(
        browser, server, secret):
    with opened(browser, "phone-zh") as page:
        if not secret:  # what /api/settings says without PHOTONIX_ADMIN_SECRET (test_frame_ui starts such a server)
            page.route("**/api/settings", without_admin_secret)
        open_gallery(page, server)
        expect(page.locator(".album-card").first).to_be_visible()
        assert page.evaluate("window.photonix.settings.adminSecretConfigured") is secret
        expect(page.locator(".topbar #nav-settings")).to_have_count(0)  # never a top-bar link
        footer = page.locator("footer #nav-settings")
        if secret:
            expect(footer).to_be_visible()
            expect(footer).to_have_text("设置")
        else:
            expect(footer).to_be_hidden()


def test_the_app_installs_on_a_phone_in_chinese_and_api_calls_still_reach_the_server(browser, server):
    with opened(browser, "phone-zh") as page:
        open_gallery(page, server)
        expect(page.locator(".album-card").first).to_be_visible()
        manifest = page.evaluate("""() => fetch(document.querySelector('link[rel=manifest]').href)
          .then(async (r) => ({ type: r.headers.get('content-type'), body: await r.json() }))""")
        assert manifest["type"] == "application/manifest+json" and manifest["body"]["display"] == "standalone"
        assert page.evaluate(READY) == server.url + "/"
        page.reload()
        expect(page.locator(".album-card").first).to_be_visible()
        assert page.evaluate("() => navigator.serviceWorker.controller !== null")
        browsed = server_hits(server, "GET /api/browse/Family")
        with page.expect_response(lambda r: "/api/browse/Family?" in r.url) as answer:
            page.locator('.album-card[data-path="Family"]').tap()
        assert answer.value.ok and not answer.value.from_service_worker
        until(lambda: server_hits(server, "GET /api/browse/Family") > browsed, "the browse call reached the server")
        expect(page.locator('.media-card[data-path="Family/garden.jpg"]')).to_be_visible()


def test_a_page_of_many_items_reaches_the_browser_compressed(browser, server):
    with opened(browser, "desktop-en") as page:
        with page.expect_response(lambda r: "/api/browse/Many?" in r.url) as answer:
            open_gallery(page, server, "#/browse/Many")
        response = answer.value
        assert response.ok
        assert response.header_value("content-encoding") in ("br", "gzip")
        assert len(json.loads(response.body())["items"]) >= MANY  # the browser decoded it
        expect(page.locator(".media-card")).to_have_count(MANY)
