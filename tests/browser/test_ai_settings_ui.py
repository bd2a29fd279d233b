"""The settings page's "AI captions" card in headless Chromium against a real gunicorn and a real OpenAI-compatible
server on loopback (tests/support/fake_openai.py): the admin fills it in, a loopback url is refused under its field
with the reason (allowPrivateHosts), saved with it the values come back after a reload with the API key never shown,
"Describe" then works through what the card configured (the key sent upstream), and the key can be removed.
English on a desktop, Chinese on a phone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.gallery import open_gallery, thumbnails_loaded
from tests.browser.views import DESKTOP, PHONE, settings, views_server
from tests.conftest import ADMIN_SECRET
from tests.support import servers
from tests.support.fake_openai import FakeOpenAI, fake_openai

pytestmark = [pytest.mark.browser, pytest.mark.integration]

KEY = "sk-card-0123456789-never-shown"
PROMPT = "Describe this photo for the family album."


@pytest.fixture
def server(request, tmp_path) -> Iterator[servers.Gunicorn]:
    url = None
    if request.config.getoption("--db") == "postgres":
        admin = request.getfixturevalue("postgres_admin_url")
        url = servers.create_pg_database(admin, f"t_ai_card_{uuid.uuid4().hex[:12]}")
    with views_server(tmp_path, url) as running:
        yield running


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with fake_openai() as upstream:
        upstream.api_key = KEY
        yield upstream


def page_for(browser, options: dict):
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    return context, context.new_page()


def ai_card(page, server) -> None:
    settings(page, server)
    expect(page.locator("#ai-form")).to_have_attribute("data-state", "ready")


def stored(server) -> dict:
    answer = requests.get(f"{server.url}/api/settings", headers={"X-Admin-Secret": ADMIN_SECRET}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["ai"]


def test_fill_in_save_reload_and_describe_in_english(browser, server, fake):
    context, page = page_for(browser, {**DESKTOP, "locale": "en-US"})
    try:
        ai_card(page, server)
        expect(page.locator("#ai-key-state")).to_have_text("No key is saved.")
        page.check("#ai-enabled")
        page.fill("#ai-url", f"{fake.base}/v1")
        page.fill("#ai-model", fake.model)
        page.fill("#ai-api-key", KEY)
        page.fill("#ai-prompt", PROMPT)
        page.fill("#ai-daily-limit", "25")
        page.fill("#ai-timeout", "30")
        page.click("#ai-save")
        refusal = page.locator('[data-error-for="ai.url"]')
        expect(refusal).to_contain_text("allowPrivateHosts")  # a loopback server, and the way to allow it
        expect(page.locator("#ai-url")).to_have_attribute("aria-invalid", "true")
        assert stored(server)["url"] == ""  # nothing was saved
        expect(page.locator("#ai-settings")).to_contain_text("Ollama on the same machine")
        page.check("#ai-allow-private")
        page.click("#ai-save")
        expect(page.locator("#ai-message")).to_have_text("Saved.")
        expect(refusal).to_be_empty()

        page.reload()
        expect(page.locator("#ai-form")).to_have_attribute("data-state", "ready")  # still unlocked
        expect(page.locator("#ai-enabled")).to_be_checked()
        expect(page.locator("#ai-allow-private")).to_be_checked()
        expect(page.locator("#ai-url")).to_have_value(f"{fake.base}/v1")
        expect(page.locator("#ai-model")).to_have_value(fake.model)
        expect(page.locator("#ai-prompt")).to_have_value(PROMPT)
        expect(page.locator("#ai-daily-limit")).to_have_value("25")
        expect(page.locator("#ai-timeout")).to_have_value("30")
        expect(page.locator("#ai-api-key")).to_have_value("")
        expect(page.locator("#ai-key-state")).to_contain_text("A key is saved")
        assert KEY not in page.content()

        open_gallery(page, server, "#/browse/Holidays")
        thumbnails_loaded(page)
        page.locator(".media-card").first.click()
        page.get_by_role("button", name="Describe").click()
        output = page.locator("#lightbox-describe-output")
        expect(output).to_have_attribute("data-state", "done")
        expect(output).to_have_text(fake.caption)
        assert fake.problems == []  # the model, and the key as the Bearer header, as the card saved them
        assert fake.requests[0]["messages"][0]["content"][0]["text"].startswith(PROMPT)
        page.click("#lightbox-close")

        open_gallery(page, server, "#/settings")
        expect(page.locator("#ai-form")).to_have_attribute("data-state", "ready")
        page.check("#ai-remove-key")
        page.click("#ai-save")
        expect(page.locator("#ai-key-state")).to_have_text("No key is saved.")
        assert stored(server)["hasApiKey"] is False
        assert KEY not in server.log()  # the key was sent twice (save, caption) and logged nowhere
    finally:
        context.close()


def test_the_card_and_its_refusals_in_chinese_on_a_phone(browser, server):
    context, page = page_for(browser, {**PHONE, "locale": "zh-CN"})
    try:
        ai_card(page, server)
        card = page.locator("#ai-settings")
        expect(card.locator("h3")).to_have_text("AI 描述")
        expect(card).to_contain_text("同一台机器上的 Ollama")
        page.fill("#ai-daily-limit", "0")
        page.click("#ai-save")
        expect(page.locator('[data-error-for="ai.dailyLimitPerClient"]')).to_contain_text("dailyLimitPerClient")
        expect(page.locator("#ai-daily-limit")).to_have_attribute("aria-invalid", "true")
        page.fill("#ai-daily-limit", "7")
        page.click("#ai-save")
        expect(page.locator("#ai-message")).to_have_text("已保存。")
        assert stored(server)["dailyLimitPerClient"] == 7
    finally:
        context.close()
