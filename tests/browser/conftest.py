"""Headless Chromium (Debian's, driven by Playwright) for the browser layer.

A failed test leaves a full-page screenshot, the page's console log (with every 202 and error answer, timed)
and the test server's log in test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

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
    started = time.monotonic()
    opened.on("response", lambda response: (response.status >= 400 or response.status == 202) and console.append(
        f"{time.monotonic() - started:.2f}s http {response.status}: {response.request.method} {response.url}"))
    try:
        yield opened
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            _dump_stacks(request.node.funcargs.get("server"))
            server_log = request.node.funcargs.get("tmp_path", ROOT / "-") / "gunicorn.log"
            _save_artifacts(opened, request.node.nodeid, console, server_log)  # unique: xdist workers share the folder
        context.close()


def _save_artifacts(page, test_name: str, console: list[str], server_log: Path) -> None:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = str(ARTIFACTS_DIR / re.sub(r"[^\w.-]+", "_", test_name))
    with open(stem + ".log", "w") as log:
        log.write("\n".join(console) + "\n")
    if server_log.is_file():  # the test's gunicorn (tests/browser/gallery.py), whose tmp_path is gone later
        shutil.copyfile(server_log, stem + ".server.log")
    try:
        page.screenshot(path=stem + ".png", full_page=True, timeout=10_000)
    except Exception as exc:  # a crashed page still leaves its console log
        print(f"\nscreenshot failed for {test_name}: {exc}")
    print(f"\nbrowser artifacts: {stem}.png, {stem}.log")


def _dump_stacks(server) -> None:
    """Every thread and greenlet stack of the test's gunicorn, with py-spy when it is installed (make bench)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    proc = getattr(server, "proc", None)
    if proc is None or not Path(spy).exists():
        return
    dump = subprocess.run([spy, "dump", "--subprocesses", "--pid", str(proc.pid)], capture_output=True, text=True,
                          timeout=60)
    print(f"\npy-spy dump of the server:\n{dump.stdout}{dump.stderr}")
