"""The lightbox's "Describe" in headless Chromium against a real gunicorn (gevent) and a real OpenAI-compatible
server on loopback (tests/support/fake_openai.py): the caption streams in piece by piece as the upstream sends it
(the upstream holds after its first piece until the test releases it), in English and in Chinese, the details
panel then shows it, and the button is there only for photos while captions are on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.gallery import open_gallery
from tests.browser.views import module_server
from tests.conftest import ADMIN_SECRET
from tests.support import exif, images, servers
from tests.support.fake_openai import FakeOpenAI, fake_openai

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ADMIN = {"X-Admin-Secret": ADMIN_SECRET}
HARBOUR = "Coast/harbour.jpg"
CLIFF = "Coast/cliff.jpg"
CLIP = "Coast/waves.mp4"


def make_library(photos) -> None:
    exif.photo(photos / HARBOUR, taken="2024:05:01 10:00:00", make="Canon", model="EOS R6", size=(640, 480))
    images.jpeg(photos / CLIFF, size=(480, 640))
    exif.clip(photos / CLIP)


@pytest.fixture(scope="module")
def server(request, tmp_path_factory) -> Iterator[servers.Gunicorn]:
    with module_server(request, tmp_path_factory, "ai_describe", make_library) as running:
        yield running


@pytest.fixture
def fake(server) -> Iterator[FakeOpenAI]:
    """The upstream, with captions on for one test; off again afterwards."""
    with fake_openai() as upstream:
        ai_settings(server, enabled=True, url=upstream.base, model=upstream.model, allowPrivateHosts=True)
        try:
            yield upstream
        finally:
            ai_settings(server, enabled=False)


def ai_settings(server, **changes) -> None:
    answer = requests.put(f"{server.url}/api/ai/settings", json=changes, headers=ADMIN, timeout=10)
    assert answer.status_code == 200, answer.text


def open_in_lightbox(page, server, path: str) -> None:
    open_gallery(page, server, f"#/browse/{path.rsplit('/', 1)[0]}")
    page.click(f'.media-card[data-path="{path}"]')
    expect(page.locator("#lightbox")).to_be_visible()


def test_the_caption_streams_in_as_it_arrives_and_shows_in_the_details(server, page, fake):
    fake.stop_after_first.set()  # the upstream sends its first piece, then waits for the test
    open_in_lightbox(page, server, HARBOUR)
    page.keyboard.press("i")
    expect(page.locator("#info-panel")).to_have_attribute("data-state", "ready")
    page.get_by_role("button", name="Describe").click()
    output = page.locator("#lightbox-describe-output")
    expect(output).to_have_attribute("data-state", "streaming")
    expect(output).to_have_text(fake.pieces[0].strip())  # the first piece, while the rest is still held back
    fake.release.set()
    expect(output).to_have_attribute("data-state", "done")
    expect(output).to_have_text(fake.caption)
    expect(page.locator('#info-panel dd[data-field="caption"]')).to_have_text(fake.caption)
    assert fake.problems == [] and fake.requests[0]["stream"] is True
    assert "Answer in English" in fake.requests[0]["messages"][0]["content"][0]["text"]


def test_in_chinese_the_button_and_the_caption_are_chinese(browser, server, fake):
    fake.pieces = ["悬崖", "边的", "海浪。"]
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        open_in_lightbox(page, server, CLIFF)
        page.get_by_role("button", name="描述").click()
        output = page.locator("#lightbox-describe-output")
        expect(output).to_have_attribute("data-state", "done")
        expect(output).to_have_text("悬崖边的海浪。")
    finally:
        context.close()
    assert "Answer in Simplified Chinese" in fake.requests[0]["messages"][0]["content"][0]["text"]


def test_an_upstream_failure_shows_its_message(server, page, fake):
    fake.mode = "fail"
    open_in_lightbox(page, server, CLIFF)
    page.get_by_role("button", name="Describe").click()
    output = page.locator("#lightbox-describe-output")
    expect(output).to_have_attribute("data-state", "failed")
    expect(output).to_contain_text("could not describe")
    expect(page.get_by_role("button", name="Describe")).to_be_enabled()


def decided(page, path: str):
    """The Describe button once the page has decided whether to show it for `path`."""
    button = page.locator(f'#lightbox-describe[data-for="{path}"]')
    expect(button).to_have_count(1)
    return button


def test_no_button_for_a_video_or_while_captions_are_off(server, page):
    open_in_lightbox(page, server, HARBOUR)
    expect(decided(page, HARBOUR)).to_be_hidden()
    page.click("#lightbox-close")
    with fake_openai() as upstream:
        ai_settings(server, enabled=True, url=upstream.base, model=upstream.model, allowPrivateHosts=True)
        try:
            open_in_lightbox(page, server, HARBOUR)
            expect(decided(page, HARBOUR)).to_be_visible()
            page.click("#lightbox-close")
            open_in_lightbox(page, server, CLIP)
            expect(decided(page, CLIP)).to_be_hidden()
        finally:
            ai_settings(server, enabled=False)
