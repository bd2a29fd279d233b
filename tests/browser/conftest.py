"""Headless Chromium (Debian's, driven by Playwright) for the browser layer.

A failed test leaves a full-page screenshot and the page's console log in test-artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest

from tests.support.servers import ROOT, cannot_run, require_binary

ARTIFACTS_DIR = ROOT / "test-artifacts" / "screenshots"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (item.rep_call), so fixtures can tell that the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser():
    executable = require_binary("chromium", "/usr/bin/chromium")
    try:
        from playwright import sync_api
    except ImportError:
        cannot_run("playwright is not installed: pip install -e '.[dev]'")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    console: list[str] = []
    opened.on("console", lambda message: console.append(
        f"{message.type}: {message.text} ({message.location.get('url', '')})"))
    opened.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    opened.on("response", lambda response: response.status >= 400 and console.append(
        f"http {response.status}: {response.request.method} {response.url}"))
    try:
        yield opened
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            _save_artifacts(opened, request.node.nodeid, console)  # unique: xdist workers share the folder
        context.close()


def _save_artifacts(page, test_name: str, console: list[str]) -> None:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = str(ARTIFACTS_DIR / re.sub(r"[^\w.-]+", "_", test_name))
    with open(stem + ".log", "w") as log:
        log.write("\n".join(console) + "\n")
    try:
        page.screenshot(path=stem + ".png", full_page=True, timeout=10_000)
    except Exception as exc:  # a crashed page still leaves its console log
        print(f"\nscreenshot failed for {test_name}: {exc}")
    print(f"\nbrowser artifacts: {stem}.png, {stem}.log")
