"""axe-core (bundled in the axe-playwright-python package: nothing is fetched at run time) over the gallery's
views in real Chromium, in English and in Chinese: no serious or critical violation, a page heading, text on
the live dot, a visible focus ring (issue 20, "Accessibility").

One server and one gallery for the module (tests/browser/views.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.views import DESKTOP, LANGUAGES, PHONE, VIEWS, module_server, shown
from tests.support import servers

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# Impacts that fail the test; "moderate" and "minor" findings are printed only. Beyond them, rules the issue
# names whose axe impact is "moderate": every view has a top-level heading.
FAILING = {"serious", "critical"}
ALSO_REQUIRED = {"page-has-heading-one"}
AXE = Axe()


@pytest.fixture(scope="module")
def server(request, tmp_path_factory) -> Iterator[servers.Gunicorn]:
    with module_server(request, tmp_path_factory, "accessibility") as running:
        yield running


def findings(page) -> tuple[list[str], list[str]]:
    """axe's violations on the page as it is now: (failing, others), one readable line per rule and node."""
    failing, others = [], []
    for violation in AXE.run(page).response["violations"]:
        for node in violation["nodes"]:
            line = (f"{violation['id']} ({violation['impact']}) at {' '.join(map(str, node['target']))}: "
                    f"{node.get('failureSummary', '').replace(chr(10), ' ')}")
            fails = violation["impact"] in FAILING or violation["id"] in ALSO_REQUIRED
            (failing if fails else others).append(line)
    return failing, others


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("view", list(VIEWS))
def test_no_serious_or_critical_violation(browser, server, view, lang):
    context = browser.new_context(**DESKTOP, locale=lang)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        with shown(page, server, view):
            assert page.evaluate("document.documentElement.lang") == lang
            failing, others = findings(page)
        print("\n".join(others))
        assert failing == [], "\n".join(failing)
    finally:
        context.close()


def test_on_a_phone_the_album_and_the_lightbox_pass_too(browser, server):
    context = browser.new_context(**PHONE, locale="zh-CN")
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        for view in ("album", "lightbox"):
            with shown(page, server, view):
                failing, _ = findings(page)
            assert failing == [], f"{view}:\n" + "\n".join(failing)
    finally:
        context.close()


def test_the_live_dot_has_text_and_a_focused_control_shows_a_ring(browser, server):
    context = browser.new_context(**DESKTOP, locale="en")
    try:
        page = context.new_page()
        with shown(page, server, "album"):
            page.wait_for_selector("#live-dot[data-state=open]")
            label = page.evaluate("""() => { const dot = document.getElementById('live-dot');
              return (dot.textContent.trim() || dot.getAttribute('aria-label') || '').trim(); }""")
            assert label, "the live dot says what it shows"
            page.keyboard.press("Tab")  # keyboard focus: :focus-visible applies
            ring = page.evaluate("""() => { const focused = document.activeElement, s = getComputedStyle(focused);
              return { style: s.outlineStyle, width: parseFloat(s.outlineWidth), tag: focused.tagName }; }""")
            assert ring["tag"] != "BODY"
            assert ring["style"] != "none" and ring["width"] >= 2, ring
    finally:
        context.close()
