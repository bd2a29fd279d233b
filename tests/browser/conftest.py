"""Headless Chromium (Debian's, driven by Playwright) for the browser layer."""

from __future__ import annotations

import pytest

from tests.support.servers import IN_CI, require_binary


@pytest.fixture(scope="session")
def browser():
    executable = require_binary("chromium", "/usr/bin/chromium")
    try:
        from playwright import sync_api
    except ImportError:
        message = "playwright is not installed: pip install -e '.[dev]'"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()
