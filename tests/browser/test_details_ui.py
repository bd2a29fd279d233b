"""Photo details and time in headless Chromium against a real gunicorn (issue 21): the lightbox's details panel
(desktop and phone, English and Chinese, the place only when the server gives it), the timeline and its
scrubber, "on this day" with a fixed clock, and the search box's filter chips, suggestions and errors.

One server and one gallery for the module; the one test that changes a setting puts it back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.gallery import open_gallery
from tests.browser.views import change_settings, module_server
from tests.conftest import ADMIN_SECRET
from tests.support import exif, images, servers

pytestmark = [pytest.mark.browser, pytest.mark.integration]

BEACH_23 = "Trips/beach-2023.jpg"  # every detail, GPS included; on this day (07-14) three years before 2026
BEACH_21 = "Trips/beach-2021.jpg"  # another camera, no GPS; five years before
SCAN = "Old/scan.png"  # no EXIF: dated by its mtime
FILM = "Old/film-1999.jpg"  # alone in the oldest month, far below the first screen
BULK_MONTH = 60  # photos taken in May 2026: several screens of them above every other month
MONTHS = ["2026-05", "2023-07", "2021-07", "2010-06", "1999-03"]
GPS = (48.85837, 2.29448, 35.0)


def make_library(photos) -> None:
    exif.photo(photos / BEACH_23, taken="2023:07:14 18:03:05", offset="+02:00", make="Canon", model="EOS R6",
               lens="RF50mm F1.8 STM", focal_length=50.0, f_number=2.8, exposure_time=0.004, iso=200, gps=GPS,
               size=(640, 480))
    exif.photo(photos / BEACH_21, taken="2021:07:14 10:00:00", offset="+02:00", make="FUJIFILM", model="X-T5",
               exposure_time=2.0, size=(320, 240))
    exif.photo(photos / FILM, taken="1999:03:05 11:00:00")
    images.png(photos / SCAN, mtime=datetime(2010, 6, 15, 12, 0).timestamp())  # June 2010 in every time zone
    for number in range(BULK_MONTH):
        day, minute = 1 + number % 28, number % 60
        exif.photo(photos / "Recent" / f"p{number:02}.jpg", taken=f"2026:05:{day:02} 09:{minute:02}:00")


@pytest.fixture(scope="module")
def server(request, tmp_path_factory) -> Iterator[servers.Gunicorn]:
    with module_server(request, tmp_path_factory, "details_ui", make_library) as running:
        yield running


@pytest.fixture
def show_location(browser, server):
    """The owner lets visitors see where photos were taken, on the settings page (in a context of its own, so
    the test's page stays a visitor's), for one test; put back through the API."""
    context = browser.new_context()
    try:
        owner = context.new_page()
        open_gallery(owner, server, "#/settings")
        owner.fill("#admin-secret", ADMIN_SECRET)
        owner.press("#admin-secret", "Enter")
        owner.check("#settings-form [name=showLocation]")
        owner.click("#settings-form button[type=submit]")
        expect(owner.locator("#settings-message")).to_have_text("Saved.")
    finally:
        context.close()
    assert requests.get(f"{server.url}/api/settings", timeout=10).json()["showLocation"] is True
    yield
    change_settings(server, showLocation=False)


def panel_field(page, field: str):
    return page.locator(f'#info-panel dd[data-field="{field}"]')


def open_in_lightbox(page, server, path: str) -> None:
    album = path.rsplit("/", 1)[0]
    open_gallery(page, server, f"#/browse/{album}")
    page.click(f'.media-card[data-path="{path}"]')
    expect(page.locator("#lightbox")).to_be_visible()


def test_details_panel_on_a_desktop_follows_the_photo_and_shows_no_place_to_visitors(server, page):
    page.set_viewport_size({"width": 1280, "height": 800})
    open_in_lightbox(page, server, BEACH_23)
    expect(page.locator("#info-panel")).to_be_hidden()
    info = page.get_by_role("button", name="Details (I)")
    expect(info).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("i")
    expect(page.locator("#info-panel")).to_have_attribute("data-state", "ready")
    expect(info).to_have_attribute("aria-expanded", "true")
    expect(panel_field(page, "taken")).to_contain_text(re.compile(r"Friday, July 14, 2023.*6:03\s*PM"))
    expect(panel_field(page, "taken")).to_contain_text("UTC+02:00")  # the photo's own wall clock and offset
    expect(panel_field(page, "camera")).to_have_text("Canon EOS R6")
    expect(panel_field(page, "lens")).to_have_text("RF50mm F1.8 STM")
    expect(panel_field(page, "exposure")).to_have_text("f/2.8 · 1/250 s · ISO 200 · 50 mm")
    expect(panel_field(page, "dimensions")).to_have_text("640 × 480 · 0.3 MP")
    expect(panel_field(page, "location")).to_have_count(0)  # anonymous, and showLocation is off
    box = page.locator("#info-panel").bounding_box()
    assert box["x"] > 900 and box["width"] == pytest.approx(320, abs=2)  # a side panel on the right

    page.keyboard.press("ArrowRight")  # the panel stays open and reads the next photo
    expect(page.locator("#info-panel")).to_have_attribute("data-path", BEACH_21)
    expect(panel_field(page, "camera")).to_have_text("FUJIFILM X-T5")
    expect(panel_field(page, "exposure")).to_have_text("2 s")  # only what is known
    expect(page.locator('#info-panel dd[data-field="lens"]')).to_have_count(0)
    page.keyboard.press("i")
    expect(page.locator("#info-panel")).to_be_hidden()

    open_in_lightbox(page, server, SCAN)
    info.click()
    expect(panel_field(page, "taken")).to_contain_text(re.compile(r"June 15, 2010.*\(file date\)"))
    expect(panel_field(page, "camera")).to_have_count(0)


def test_the_place_shows_only_when_the_owner_allows_it(server, page, show_location):
    open_in_lightbox(page, server, BEACH_23)
    page.keyboard.press("i")
    location = panel_field(page, "location")
    expect(location).to_contain_text("48.85837, 2.29448 · 35 m")
    link = location.get_by_role("link", name="Open in OpenStreetMap")
    expect(link).to_have_attribute(
        "href", "https://www.openstreetmap.org/?mlat=48.85837&mlon=2.29448#map=15/48.85837/2.29448")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))


def test_details_panel_on_a_phone_in_chinese_is_a_bottom_sheet(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    try:
        page = context.new_page()
        open_in_lightbox(page, server, BEACH_23)
        page.get_by_role("button", name="详细信息 (I)").tap()
        expect(page.locator("#info-panel")).to_have_attribute("data-state", "ready")
        expect(page.locator('#info-panel dt[data-field="taken"]')).to_have_text("拍摄时间")
        expect(panel_field(page, "taken")).to_contain_text("2023年7月14日")
        expect(panel_field(page, "exposure")).to_have_text("f/2.8 · 1/250 s · ISO 200 · 50 mm")
        box = page.locator("#info-panel").bounding_box()
        assert box["x"] == 0 and box["width"] == 390  # across the whole screen…
        assert box["y"] + box["height"] == pytest.approx(844, abs=1)  # …at its foot
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()


def test_timeline_loads_months_as_they_come_near_and_the_scrubber_jumps(server, page):
    asked: list[str] = []
    page.on("request", lambda r: asked.append(m.group(1)) if (m := re.search(r"/api/timeline/(\d{4}-\d{2})", r.url))
            else None)
    page.set_viewport_size({"width": 1280, "height": 800})
    open_gallery(page, server)
    page.get_by_role("link", name="Timeline").click()
    expect(page.locator(".month")).to_have_count(len(MONTHS))
    assert page.eval_on_selector_all(".month", "ms => ms.map((m) => m.dataset.month)") == MONTHS
    assert page.inner_text('.month[data-month="2026-05"] .month-title').startswith("May 2026")
    expect(page.locator('.month[data-month="2026-05"] .media-card')).to_have_count(BULK_MONTH)
    expect(page.locator(".toolbar .count")).to_have_text(f"{BULK_MONTH + 4} photos and videos")
    assert asked == ["2026-05"]  # the months further down wait until they come near
    expect(page.locator('.month[data-month="1999-03"]')).to_have_attribute("data-state", "idle")

    page.hover('.scrub-year[data-year="1999"] .scrub-year-button')  # the year's months show on hover
    page.get_by_role("button", name="March 1999").click()
    oldest = page.locator('.month[data-month="1999-03"]')
    expect(oldest).to_have_attribute("data-state", "loaded")
    expect(oldest.locator(".media-card")).to_have_count(1)
    expect(oldest.locator(".month-title")).to_be_in_viewport()
    assert asked.count("1999-03") == 1
    oldest.locator(".media-card").click()
    expect(page.locator("#lightbox-caption")).to_have_text("film-1999.jpg")
    expect(page.locator("#lightbox-position")).to_have_text("1 / 1")

    page.keyboard.press("Escape")
    page.goto(f"{server.url}/#/browse/Trips")
    page.get_by_role("link", name="All photos below").click()
    expect(page.locator(".month")).to_have_count(2)
    assert page.eval_on_selector_all(".month", "ms => ms.map((m) => m.dataset.month)") == ["2023-07", "2021-07"]
    assert page.evaluate("location.hash") == "#/timeline/Trips"


def test_on_this_day_shows_earlier_years_for_the_browsers_date(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    try:
        page = context.new_page()
        page.clock.set_fixed_time(datetime(2026, 7, 14, 12, 0))
        with page.expect_response(re.compile(r"/api/memories\?date=2026-07-14$")):
            open_gallery(page, server)
        strip = page.locator("#memories")
        expect(strip).to_be_visible()
        expect(strip.locator(".section-title")).to_have_text("那年今日")
        expect(strip.locator(".memory-title")).to_have_text(["3 年前 · 2023", "5 年前 · 2021"])
        assert strip.locator(".media-card").evaluate_all("cs => cs.map((c) => c.dataset.path)") == [BEACH_23, BEACH_21]
        strip.locator(f'.media-card[data-path="{BEACH_21}"]').tap()
        expect(page.locator("#lightbox-caption")).to_have_text("beach-2021.jpg")
        expect(page.locator("#lightbox-position")).to_have_text("2 / 2")

        page.clock.set_fixed_time(datetime(2026, 7, 15, 12, 0))  # a day with no memories: nothing at all
        with page.expect_response(re.compile(r"/api/memories\?date=2026-07-15$")):
            page.reload()
        expect(page.locator(".album-card").first).to_be_visible()
        expect(page.locator("#memories")).to_be_hidden()
    finally:
        context.close()


def year_suggestion_chosen(page, server):
    """The search box after typing "ye" (a partial filter name) and moving to its one suggestion, year:."""
    open_gallery(page, server)
    search = page.locator("#search-input")
    search.click()
    search.press_sequentially("ye")
    expect(page.locator("#search-suggestions [role=option]")).to_have_text([re.compile(r"^year:")])
    search.press("ArrowDown")
    return search


def test_search_filters_become_chips_with_suggestions_and_errors_in_the_ui_language(server, page):
    search = year_suggestion_chosen(page, server)
    search.press("Enter")  # takes the suggestion, not the search
    expect(search).to_have_value("year:")
    expect(page.locator("#search-suggestions [role=option]")).to_have_text(
        [re.compile(f"^year:{year}") for year in (2026, 2023, 2021, 2010, 1999)])  # the years that exist
    page.locator("#search-suggestions [role=option]", has_text="year:2023").click()
    expect(search).to_have_value("year:2023 ")
    search.press_sequentially("beach")
    expect(page.locator("#search-assist .chip")).to_have_text(["year:2023×"])
    search.press("Enter")
    expect(page.locator("#view .media-card")).to_have_count(1)
    assert page.get_attribute("#view .media-card", "data-path") == BEACH_23
    chip = page.locator("#view .chip")
    expect(chip).to_have_text(["year:2023×"])

    page.get_by_role("button", name="Remove filter year:2023").click()  # runs the search without it
    expect(page.locator("#view .media-card")).to_have_count(2)
    assert page.evaluate("location.hash") == "#/search/beach"
    expect(page.locator("#view .chip")).to_have_count(0)

    search.fill("foo:bar beach")
    search.press("Enter")
    expect(page.locator(".search-error")).to_have_text(re.compile(r"^Unknown filter foo: — filters are year, month"))
    search.fill("year:abc")
    search.press("Enter")
    expect(page.locator(".search-error")).to_have_text("“abc” is not a valid value for year: (for example year:2024).")
    page.select_option("#lang-select", "zh-CN")
    expect(page.locator(".search-error")).to_have_text("“abc”不是 year: 的有效值（例如 year:2024）。")


def test_a_suggestion_chosen_before_the_values_arrive_stays_chosen(server, page):
    """The filter values come from the server after the names are shown: their arrival redraws the list, which
    used to drop the option the reader had moved to, so Enter searched for the half-typed word."""
    held = []
    page.route("**/api/search/filters*", lambda route: held.append(route))
    search = year_suggestion_chosen(page, server)
    expect(page.locator("#search-suggestions [role=option]")).to_have_attribute("aria-selected", "true")
    assert held, "the values were asked for when the box got the focus"
    with page.expect_response("**/api/search/filters*"):
        held[0].continue_()  # the values arrive now, with the option chosen
    expect(page.locator("#search-suggestions [role=option]")).to_have_attribute("aria-selected", "true")
    search.press("Enter")
    expect(search).to_have_value("year:")
    assert page.evaluate("location.hash") in ("", "#/")


def test_exposure_and_duration_lines_leave_out_what_is_unknown(server, page):
    open_gallery(page, server)
    lines = page.evaluate("""async () => {
      const { exposureLine, formatDuration } = await import("./static/js/views/info-panel.js");
      return [
        exposureLine({ fNumber: 2.8, exposureTime: 1 / 250, iso: 200, focalLength: 35 }),
        exposureLine({ fNumber: 8, exposureTime: 0.0125, iso: null, focalLength: 23.5 }),
        exposureLine({ exposureTime: 1.5 }), exposureLine({ exposureTime: 30, iso: 100 }), exposureLine({}),
        formatDuration(4.4), formatDuration(61), formatDuration(3725),
      ];
    }""")
    assert lines == ["f/2.8 · 1/250 s · ISO 200 · 35 mm", "f/8 · 1/80 s · 23.5 mm", "1.5 s", "30 s · ISO 100", "",
                     "0:04", "1:01", "1:02:05"]
