"""Sharing in the browser (issue 22, "How it is checked": browser tests): the admin makes a link with a password in
the share dialog (QR code, Copy), a fresh browser opens it, is asked the password, browses into a sub-album, opens
a photo and downloads the album as a ZIP; the admin revokes the link on the Shared links list, and the open page
then says so at its next request while a new visitor gets the 410 page. The visitor's side again on a phone in
Chinese. One gunicorn and one gallery for the module (tests/browser/views.py)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator

import pytest
import requests
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.gallery import open_gallery, thumbnails_loaded
from tests.browser.views import DESKTOP, PHONE, change_settings, module_server
from tests.conftest import ADMIN_SECRET
from tests.support import servers

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SHARE_PASSWORD = "walnut tree 42"  # noqa: S105 (a test link's password)
ADMIN = {"X-Admin-Secret": ADMIN_SECRET}


@pytest.fixture(scope="module")
def server(request, tmp_path_factory) -> Iterator[servers.Gunicorn]:
    with module_server(request, tmp_path_factory, "share_ui") as running:
        yield running


@pytest.fixture
def contexts(browser):
    """New browser contexts (a fresh browser each: no cookies, no storage), closed after the test."""
    made = []

    def new(device: dict, lang: str, **extra):
        context = browser.new_context(**device, locale=lang, **extra)
        context.set_default_timeout(15_000)
        made.append(context)
        return context.new_page()
    yield new
    for context in made:
        context.close()


def serious(page, selector: str | None = None) -> list[str]:
    """axe's serious and critical findings on the page (or inside `selector`)."""
    result = Axe().run(page, context=selector) if selector else Axe().run(page)
    return [f"{v['id']}: {node['target']}" for v in result.response["violations"]
            if v["impact"] in {"serious", "critical"} for node in v["nodes"]]


def visit_shared_album(page, url: str, tap: bool = False) -> None:
    """Open the link, enter its password (a wrong one first), browse into Cousins and open its photo."""
    press = (lambda locator: locator.tap()) if tap else (lambda locator: locator.click())
    assert page.goto(url).status == 200
    expect(page.locator("#share-gate")).to_be_visible()
    expect(page.locator("#share-hint")).to_contain_text("the dog")
    assert serious(page) == []
    page.fill("#share-password-input", "not the password")
    press(page.locator("#share-open"))
    expect(page.locator("#share-open-message")).to_contain_text("4")  # attempts left
    page.fill("#share-password-input", SHARE_PASSWORD)
    press(page.locator("#share-open"))
    expect(page.locator("#share-banner")).to_be_visible()
    expect(page.locator(".breadcrumbs a").first).to_have_text("Family weekend")  # the trail starts at the share
    for hidden in ("#nav-timeline", "#nav-login", "#nav-settings", "#search-form", "#all-below"):
        expect(page.locator(hidden)).to_be_hidden()
    press(page.locator('.album-card[data-path="Family/Cousins"]'))
    expect(page.locator('.media-card[data-path="Family/Cousins/picnic.jpg"]')).to_be_visible()
    thumbnails_loaded(page)
    expect(page.locator(".breadcrumbs a")).to_have_text(["Family weekend", "Cousins"])
    press(page.locator(".media-card").first)
    expect(page.locator("#lightbox")).to_be_visible()
    page.wait_for_function("() => [...document.querySelectorAll('#lightbox img')].some((i) => i.complete && "
                           "i.naturalWidth > 0)")
    page.keyboard.press("Escape")
    expect(page.locator("#lightbox")).to_be_hidden()


def download_all(page, tap: bool = False) -> None:
    button = page.locator("#share-download-all")
    with page.expect_download() as info:
        button.tap() if tap else button.click()
    with zipfile.ZipFile(info.value.path()) as archive:
        names = set(archive.namelist())
    assert {"birthday.jpg", "garden.jpg", "Cousins/picnic.jpg"} <= names, names


def ended_at_next_request(page, url: str, contexts, device: dict, lang: str, words: str) -> None:
    page.evaluate("location.hash = '#/'")  # the visitor's next request
    expect(page.locator("#share-ended")).to_contain_text(words)
    expect(page.locator("#share-banner")).to_be_hidden()
    late = contexts(device, lang)
    assert late.goto(url).status == 410
    expect(late.locator("h1").first).to_be_visible()


def test_admin_shares_with_a_password_a_fresh_browser_opens_it_and_revocation_ends_it(server, contexts):
    admin = contexts(DESKTOP, "en", permissions=["clipboard-read", "clipboard-write"])
    open_gallery(admin, server, "#/settings")
    admin.fill("#admin-secret", ADMIN_SECRET)
    admin.press("#admin-secret", "Enter")
    expect(admin.locator("#shared-links")).to_be_visible()
    admin.evaluate("location.hash = '#/browse/Family'")
    admin.click("#album-menu-button")
    admin.click("#menu-share")
    dialog = admin.locator("dialog#share-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_accessible_name("Share “Family”")
    expect(admin.locator("#share-expiry option")).to_have_text(["1 day", "7 days", "30 days", "1 year"])  # no never
    expect(admin.locator("#share-expiry")).to_have_value("30")
    admin.fill("#share-title", "Family weekend")
    admin.fill("#share-password", SHARE_PASSWORD)
    admin.fill("#share-hint", "the dog's name")
    admin.check("#share-allow-download")
    admin.click("#share-submit")
    url = admin.input_value("#share-url")
    assert url.startswith(f"{server.url}/s/")
    expect(admin.locator("#share-qr svg[role=img] path")).to_have_count(1)  # the QR code, inline SVG
    assert serious(admin, "#share-dialog") == []
    admin.click("#share-copy")
    expect(admin.locator(".toast")).to_contain_text("Link copied")
    assert admin.evaluate("navigator.clipboard.readText()") == url
    admin.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    admin.locator('.media-card[data-path="Family/birthday.jpg"]').click()  # a photo, from the lightbox
    admin.click("#lightbox-share")
    expect(dialog).to_have_accessible_name("Share “birthday.jpg”")
    admin.keyboard.press("Escape")  # closes the dialog only
    expect(dialog).to_have_count(0)
    expect(admin.locator("#lightbox")).to_be_visible()

    visitor = contexts(DESKTOP, "en")
    visit_shared_album(visitor, url)
    expect(visitor.locator("#share-audience")).to_have_text("Anyone with this link and its password can see this.")
    expect(visitor.locator("#share-expiry")).to_contain_text("The link expires")
    assert serious(visitor) == []
    download_all(visitor)

    admin.evaluate("location.hash = '#/settings'")
    row = admin.locator("#shared-links tbody tr").filter(has_text="Family weekend")
    expect(row.locator("td[data-col=views]")).to_have_text("1")
    expect(row.locator("td[data-col=password]")).to_have_text("Yes")
    row.locator(".link-edit").click()  # Edit: the same dialog, PATCH; the expiry kept unless chosen
    expect(admin.locator("#share-expiry")).to_have_value("keep")
    admin.fill("#share-title", "Family weekend!")
    admin.check("#share-remove-password")
    admin.click("#share-submit")
    expect(dialog).to_have_count(0)
    expect(row.locator(".link-name")).to_have_text("Family weekend!")
    expect(row.locator("td[data-col=password]")).to_have_text("No")
    admin.once("dialog", lambda confirm: confirm.accept())
    row.locator(".link-revoke").click()
    expect(row.locator("td[data-col=expires]")).to_have_text("Revoked")
    ended_at_next_request(visitor, url, contexts, DESKTOP, "en", "This link was revoked")

    admin.check("#settings-form [name=allowNeverExpiringShares]")  # the owner allows links that never expire
    admin.click("#settings-form [type=submit]")
    expect(admin.locator("#settings-message")).to_have_text("Saved.")
    admin.evaluate("location.hash = '#/browse/Family'")
    admin.click("#album-menu-button")
    admin.click("#menu-share")
    expect(admin.locator("#share-expiry option").last).to_have_text("Never")
    change_settings(server, allowNeverExpiringShares=False)


def test_the_visitors_side_on_a_phone_in_chinese(server, contexts):
    made = requests.post(f"{server.url}/api/shares", json={
        "path": "Family", "title": "Family weekend", "password": SHARE_PASSWORD, "passwordHint": "the dog's name",
        "allowDownload": True, "expiresInDays": 7}, headers=ADMIN, timeout=10)
    assert made.status_code == 201, made.text
    share = made.json()
    phone = contexts(PHONE, "zh-CN")
    visit_shared_album(phone, share["url"], tap=True)
    expect(phone.locator("#share-audience")).to_have_text("任何拥有此链接及其密码的人都能看到这些内容。")
    expect(phone.locator("#share-download-all")).to_have_text("全部下载")
    download_all(phone, tap=True)
    assert requests.delete(f"{server.url}/api/shares/{share['id']}", headers=ADMIN, timeout=10).status_code == 204
    ended_at_next_request(phone, share["url"], contexts, PHONE, "zh-CN", "此链接已被撤销")


def test_a_photo_link_shows_the_photo_and_the_gallery_drops_a_leftover_share_session(server, contexts):
    made = requests.post(f"{server.url}/api/shares", json={"path": "Holidays/beach.jpg"}, headers=ADMIN, timeout=10)
    assert made.status_code == 201, made.text
    page = contexts(DESKTOP, "en")
    page.goto(made.json()["url"])
    expect(page.locator('#lightbox[data-path="Holidays/beach.jpg"]')).to_be_visible()
    expect(page.locator("#share-audience")).to_have_text("Anyone with this link can see this.")
    expect(page.locator("#share-download-all")).to_have_count(0)  # the link does not allow downloads
    open_gallery(page, server, "#/")  # the same browser, the gallery itself: the share session is left
    expect(page.locator('.album-card[data-path="Family"]')).to_be_visible()
    assert page.evaluate("window.photonix.status.role") is None
