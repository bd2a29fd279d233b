"""The album's ⋯ menu and the grid's select mode in headless Chromium against a real gunicorn (issue 22): Download
album gives the album's ZIP, Subscribe shows the feed address, which answers Atom; click and Shift-click (desktop,
English) or a long press and taps (phone, Chinese) choose photos that download as one ZIP; with allowZipDownloads
off a visitor is offered no download, the admin still is. The menu works from the keyboard.

One server and one gallery (tests/browser/gallery.py's) for the module; the test that changes a setting puts it
back."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator

import pytest
import requests
from defusedxml import ElementTree
from playwright.sync_api import expect

from tests.browser.gallery import ALBUMS, open_gallery
from tests.browser.views import DESKTOP, change_settings, module_server, settings
from tests.conftest import ADMIN_SECRET
from tests.support import servers

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN"}
ATOM_ENTRY = "{http://www.w3.org/2005/Atom}entry"


@pytest.fixture(scope="module")
def server(request, tmp_path_factory) -> Iterator[servers.Gunicorn]:
    with module_server(request, tmp_path_factory, "album_menu_ui") as running:
        yield running


@pytest.fixture
def desktop(browser):
    context = browser.new_context(**DESKTOP, locale="en-US")
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def open_album(page, server, album: str = "Holidays") -> None:
    open_gallery(page, server, f"#/browse/{album}")
    expect(page.locator("#grid .media-card")).to_have_count(len(ALBUMS[album]))


def zip_names(download) -> list[str]:
    with zipfile.ZipFile(download.path()) as archive:
        assert archive.testzip() is None
        return sorted(archive.namelist())


def share_link(server, **fields) -> str:
    answer = requests.post(f"{server.url}/api/shares", json={"path": "Holidays", **fields},
                           headers={"X-Admin-Secret": ADMIN_SECRET}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()["url"]


def card_paths(page) -> list[str]:
    return page.eval_on_selector_all("#grid .media-card", "(cards) => cards.map((card) => card.dataset.path)")


def test_download_album_from_the_menu_gives_the_albums_zip(server, desktop):
    open_album(desktop, server)
    desktop.click("#album-menu-button")
    expect(desktop.locator("#album-menu-button")).to_have_attribute("aria-expanded", "true")
    with desktop.expect_download() as info:
        desktop.click("#menu-download")
    assert info.value.suggested_filename.endswith("Holidays.zip")
    assert zip_names(info.value) == sorted(ALBUMS["Holidays"])
    expect(desktop.locator("#album-menu")).to_be_hidden()


def test_the_menu_opens_with_enter_and_closes_with_escape(server, desktop):
    open_album(desktop, server)
    button = desktop.locator("#album-menu-button")
    button.focus()
    desktop.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(desktop.locator("#menu-download")).to_be_focused()
    desktop.keyboard.press("ArrowDown")
    expect(desktop.locator("#menu-subscribe")).to_be_focused()
    expect(desktop.locator("#menu-share")).to_have_count(0)  # a visitor, not the admin
    desktop.keyboard.press("Escape")
    expect(desktop.locator("#album-menu")).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()


def test_subscribe_shows_the_feed_address_which_answers_atom(server, desktop):
    open_album(desktop, server)
    desktop.click("#album-menu-button")
    desktop.click("#menu-subscribe")
    address = desktop.locator("#feed-url")
    expect(address).to_have_value(f"{server.url}/api/feed/Holidays")
    expect(desktop.locator("#feed-open")).to_have_attribute("href", f"{server.url}/api/feed/Holidays")
    answer = requests.get(address.input_value(), timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/atom+xml")
    assert len(ElementTree.fromstring(answer.content).findall(ATOM_ENTRY)) == len(ALBUMS["Holidays"])
    desktop.context.grant_permissions(["clipboard-read", "clipboard-write"])
    desktop.click("#feed-copy")
    expect(desktop.locator("#toasts")).to_contain_text("Feed address copied.")
    assert desktop.evaluate("navigator.clipboard.readText()") == address.input_value()
    desktop.keyboard.press("Escape")
    expect(desktop.locator("#feed-panel")).to_have_count(0)
    expect(desktop.locator("#album-menu-button")).to_be_focused()


def test_click_and_shift_click_choose_a_range_that_downloads_as_one_zip(server, desktop):
    open_album(desktop, server)
    paths = card_paths(desktop)
    desktop.click("#select-toggle")
    expect(desktop.locator("#select-toggle")).to_have_attribute("aria-pressed", "true")
    cards = desktop.locator("#grid .media-card")
    cards.nth(0).click()
    cards.nth(2).click(modifiers=["Shift"])
    expect(desktop.locator("#select-bar .select-count")).to_have_text("3 selected")
    for index, pressed in enumerate(["true", "true", "true", "false"]):
        expect(cards.nth(index)).to_have_attribute("aria-pressed", pressed)
    expect(desktop.locator("#lightbox")).to_be_hidden()  # a click in select mode never opens the photo
    with desktop.expect_download() as info:
        desktop.click("#select-download")
    expect(desktop.locator("#select-download")).to_have_text("Download 3 selected")
    assert zip_names(info.value) == sorted(path.split("/")[-1] for path in paths[:3])
    cards.nth(3).focus()
    desktop.keyboard.press(" ")  # a card is a toggle button in select mode
    expect(desktop.locator("#select-bar .select-count")).to_have_text("4 selected")
    desktop.keyboard.press("Escape")
    expect(desktop.locator("#select-bar")).to_be_hidden()
    expect(cards.nth(0)).not_to_have_attribute("aria-pressed", "true")
    cards.nth(0).click()  # out of select mode a click opens the photo again
    expect(desktop.locator("#lightbox")).to_be_visible()


def test_a_long_press_on_a_phone_selects_and_the_bar_speaks_chinese(server, phone):
    open_album(phone, server)
    paths = card_paths(phone)
    cards = phone.locator("#grid .media-card")
    box = cards.nth(1).bounding_box()
    touch = phone.context.new_cdp_session(phone)
    point = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
    touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]})
    expect(cards.nth(1)).to_have_attribute("aria-pressed", "true")  # held until select mode has chosen it
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    expect(phone.locator("#select-bar .select-count")).to_have_text("已选择 1 项")
    cards.nth(3).tap()
    expect(phone.locator("#select-bar .select-count")).to_have_text("已选择 2 项")
    expect(cards.nth(1)).to_have_attribute("aria-pressed", "true")  # the long press's own tap did not undo it
    expect(phone.locator("#lightbox")).to_be_hidden()
    download = phone.locator("#select-download")
    expect(download).to_have_text("下载所选 2 项")
    with phone.expect_download() as info:
        download.tap()
    assert zip_names(info.value) == sorted(paths[index].split("/")[-1] for index in (1, 3))


def test_with_zip_downloads_off_a_visitor_is_offered_none_and_the_admin_still_is(server, desktop):
    change_settings(server, allowZipDownloads=False)
    try:
        open_album(desktop, server)
        desktop.click("#album-menu-button")
        expect(desktop.locator("#menu-subscribe")).to_be_visible()
        expect(desktop.locator("#menu-download")).to_have_count(0)
        expect(desktop.locator("#select-toggle")).to_have_count(0)
        assert requests.get(f"{server.url}/api/zip/Holidays", timeout=10).status_code == 403
        settings(desktop, server)  # the admin unlocks; the album then offers Download album and Share…
        open_album(desktop, server, "Family")
        desktop.click("#album-menu-button")
        expect(desktop.locator("#menu-share")).to_be_visible()
        with desktop.expect_download() as info:
            desktop.click("#menu-download")
        assert zip_names(info.value) == sorted([*ALBUMS["Family"], "Cousins/picnic.jpg"])
    finally:
        change_settings(server, allowZipDownloads=True)


def test_a_refused_selection_download_is_said_on_the_page(server, desktop):
    open_album(desktop, server)
    desktop.click("#select-toggle")
    desktop.locator("#grid .media-card").first.click()
    change_settings(server, allowZipDownloads=False)  # after the page offered it
    try:
        desktop.click("#select-download")
        expect(desktop.locator("#toasts .toast.error")).to_be_visible()  # the JSON error, read from the frame
        expect(desktop).to_have_url(f"{server.url}/#/browse/Holidays")
    finally:
        change_settings(server, allowZipDownloads=True)


def test_in_share_mode_the_menu_offers_only_download_and_a_selection_downloads(server, desktop):
    desktop.goto(share_link(server, allowDownload=True))
    expect(desktop.locator("#grid .media-card")).to_have_count(len(ALBUMS["Holidays"]))
    desktop.click("#album-menu-button")
    expect(desktop.locator("#album-menu [role=menuitem]")).to_have_count(1)
    expect(desktop.locator("#menu-download")).to_be_visible()
    desktop.keyboard.press("Escape")
    paths = card_paths(desktop)
    desktop.click("#select-toggle")
    cards = desktop.locator("#grid .media-card")
    cards.nth(1).click()
    cards.nth(2).click()
    with desktop.expect_download() as info:  # the form post carries the share session's CSRF value
        desktop.click("#select-download")
    assert zip_names(info.value) == sorted(path.split("/")[-1] for path in paths[1:3])


def test_a_share_without_downloads_offers_no_menu_and_no_select_mode(server, desktop):
    desktop.goto(share_link(server, allowDownload=False))
    expect(desktop.locator("#grid .media-card")).to_have_count(len(ALBUMS["Holidays"]))
    expect(desktop.locator("#album-menu-button")).to_be_hidden()
    expect(desktop.locator("#select-toggle")).to_have_count(0)
