"""Screenshots of the main views on every run (issue 20, "How it is checked"): desktop and phone, English and
Chinese, in test-artifacts/screenshots/views/<view>-<device>-<language>.png, for a person to look at (CI keeps
test-artifacts/). One server, one test: each device and language is one browser context, each view a new page in it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.conftest import ARTIFACTS_DIR
from tests.browser.views import DESKTOP, LANGUAGES, PHONE, module_server, shown
from tests.support import servers

pytestmark = [pytest.mark.browser, pytest.mark.integration]

OUT = ARTIFACTS_DIR / "views"
VIEWS = ("home", "album", "lightbox", "timeline", "search", "login", "settings")
DEVICES = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture(scope="module")
def server(request, tmp_path_factory) -> Iterator[servers.Gunicorn]:
    with module_server(request, tmp_path_factory, "screenshots") as running:
        yield running


def test_screenshots_of_the_main_views(browser, server):
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    for device, options in DEVICES.items():
        for lang in LANGUAGES:
            context = browser.new_context(**options, locale=lang)
            context.set_default_timeout(15_000)
            try:
                for view in VIEWS:  # a page of its own: each view starts from a fresh load, as a visitor's would
                    page = context.new_page()
                    with shown(page, server, view):
                        path = OUT / f"{view}-{device}-{lang}.png"
                        page.screenshot(path=path, animations="disabled", caret="hide")
                    written.append(path)
                    page.close()
            finally:
                context.close()
    assert all(path.stat().st_size > 1000 for path in written)
    print(f"\n{len(written)} screenshots in {OUT}")
