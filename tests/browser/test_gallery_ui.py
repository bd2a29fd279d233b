"""The gallery in headless Chromium against a real gunicorn: albums, photos, lightbox keys, infinite
scroll, search, thumbnail retries, live refresh, language, errors and a phone-sized screen."""

from __future__ import annotations

import pytest

from services import events
from tests.browser.gallery import ALBUMS, gallery_server, make_gallery, open_gallery, thumbnails_loaded
from tests.support import images
from tests.support.servers import cannot_run

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def server(env, tmp_path, photos_dir, db):
    make_gallery(photos_dir)
    with gallery_server(env, tmp_path) as running:
        yield running


def card_names(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "cards => cards.map((c) => c.dataset.path)")


def test_browse_into_an_album_and_walk_the_lightbox_with_keys(server, page):
    open_gallery(page, server)
    page.wait_for_selector(".album-card")
    assert card_names(page, ".album-card") == ["Family", "Holidays"]
    assert page.inner_text('.album-card[data-path="Holidays"] .count') == "4"
    page.click('.album-card[data-path="Holidays"]')
    page.wait_for_selector(".media-card")
    assert page.inner_text(".breadcrumbs").replace("\n", "") == "Home/Holidays"
    thumbnails_loaded(page)
    page.select_option("#sort-select", "name_asc")
    page.wait_for_function("() => document.querySelectorAll('.media-card').length === 4 && "
                           "document.querySelector('.media-card').dataset.path === 'Holidays/beach.jpg'")
    names = ["Holidays/" + name for name in ALBUMS["Holidays"]]
    assert card_names(page, ".media-card") == names

    page.click(".media-card >> nth=0")
    lightbox = page.locator("#lightbox")
    lightbox.wait_for(state="visible")
    assert page.inner_text("#lightbox-caption") == "beach.jpg"
    page.wait_for_function("() => document.querySelector('#lightbox img').naturalWidth === 480")
    for key, expected in [("ArrowRight", "harbour.jpg"), ("ArrowRight", "lighthouse.jpg"), ("ArrowLeft", "harbour.jpg"),
                          ("4", "sunset.jpg"), ("ArrowRight", "sunset.jpg")]:  # the last one stays at the end
        page.keyboard.press(key)
        page.wait_for_function("(name) => document.getElementById('lightbox-caption').textContent === name",
                               arg=expected)
    assert page.get_attribute("#lightbox-download", "href").endswith("/api/file/Holidays/sunset.jpg")
    page.dblclick("#lightbox .lightbox-media")
    assert page.get_attribute("#lightbox", "data-zoom") == "2.5"
    page.keyboard.press("Escape")
    lightbox.wait_for(state="hidden")
    page.keyboard.press("2")  # number keys open the n-th photo
    page.wait_for_function("() => document.getElementById('lightbox-caption')?.textContent === 'harbour.jpg'")
    page.keyboard.press("h")  # home closes the lightbox and goes to the root
    page.wait_for_selector("#recent .album-card")
    assert card_names(page, "#recent .album-card") == ["Holidays"]  # recently viewed
    assert not lightbox.is_visible()


def test_layout_toggle_and_privacy_blur_from_the_keyboard(server, page):
    open_gallery(page, server, "#/browse/Holidays")
    page.wait_for_selector(".media-card")
    before = page.get_attribute("#grid", "data-layout")
    page.keyboard.press("g")
    after = page.get_attribute("#grid", "data-layout")
    assert (before, after) == ("justified", "grid")  # justified rows by default, squares as the option
    page.reload()
    page.wait_for_selector(".media-card")
    assert page.get_attribute("#grid", "data-layout") == after  # remembered
    page.keyboard.press("b")
    assert page.evaluate("document.body.classList.contains('privacy-blur')")


def test_infinite_scroll_loads_every_page(server, page, photos_dir):
    for number in range(130):
        images.jpeg(photos_dir / "Many" / f"p{number}.jpg", size=(64, 48))
    open_gallery(page, server, "#/browse/Many")
    page.wait_for_function("() => document.querySelectorAll('.media-card').length === 100")
    assert page.inner_text(".toolbar .count") == "130 items"
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function("() => document.querySelectorAll('.media-card').length === 130")
    names = card_names(page, ".media-card")
    assert len(set(names)) == 130


def test_search_from_the_s_key(server, page):
    open_gallery(page, server)
    page.wait_for_selector(".album-card")
    page.keyboard.press("s")
    assert page.evaluate("document.activeElement.id") == "search-input"
    page.keyboard.type("HOLI")
    page.keyboard.press("Enter")
    page.wait_for_selector('.album-card[data-path="Holidays"]')
    assert page.evaluate("location.hash") == "#/search/HOLI"
    page.fill("#search-input", "garden")
    page.press("#search-input", "Enter")
    page.wait_for_function("() => document.querySelectorAll('.media-card').length === 1")
    assert card_names(page, ".media-card") == ["Family/garden.jpg"]
    page.fill("#search-input", "zebra")
    page.press("#search-input", "Enter")
    page.wait_for_selector(".empty:not([hidden])")
    assert "zebra" in page.inner_text(".empty")


def test_a_busy_thumbnail_is_retried_after_retry_after_and_on_its_event(server, page):
    busy = {"Holidays/beach.jpg": "1", "Holidays/harbour.jpg": "60"}  # Retry-After seconds of the fake 202
    seen: list[str] = []

    def first_answer_busy(route):
        path = route.request.url.split("path=")[1].split("&")[0].replace("%2F", "/")
        seen.append(path)
        if path in busy and seen.count(path) == 1:
            svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 3"/>'
            route.fulfill(status=202, body=svg, headers={"Content-Type": "image/svg+xml", "Retry-After": busy[path],
                                                         "X-Thumb-Status": "processing"})
        else:
            route.continue_()

    page.route("**/api/thumbnail?*", first_answer_busy)
    open_gallery(page, server, "#/browse/Holidays")
    page.wait_for_selector(".media-card img[data-state=placeholder]")
    harbour = '.media-card[data-path="Holidays/harbour.jpg"] img'
    page.wait_for_function("(s) => document.querySelector(s)?.dataset.state === 'placeholder'", arg=harbour)
    page.wait_for_function("() => document.querySelector('.media-card[data-path=\"Holidays/beach.jpg\"] img')"
                           ".dataset.state === 'loaded'", timeout=5_000)  # after its Retry-After of 1 s
    page.wait_for_function("() => window.photonix.live.state === 'open'")
    assert page.get_attribute(harbour, "data-state") == "placeholder"  # its Retry-After is a minute away
    events.publish("thumbnail-generated", {"path": "Holidays/harbour.jpg"})
    page.wait_for_function("(s) => document.querySelector(s).dataset.state === 'loaded'", arg=harbour, timeout=5_000)
    assert seen.count("Holidays/harbour.jpg") == 2 and seen.count("Holidays/beach.jpg") == 2


def test_new_photos_appear_live_and_the_dot_shows_the_stream(server, page, photos_dir):
    open_gallery(page, server, "#/browse/Family")
    page.wait_for_selector(".media-card")
    page.wait_for_selector("#live-dot[data-state=open]")
    images.jpeg(photos_dir / "Family" / "new-arrival.jpg", size=(300, 200))
    from services.gallery.index import Indexer  # the background scan would do the same, on its schedule

    Indexer(photos_dir, events.publish).refresh_folder("Family")
    events.publish("index-complete", {"added": 1, "removed": 0, "updated": 0})
    page.wait_for_selector('.media-card[data-path="Family/new-arrival.jpg"]', timeout=5_000)


def test_api_errors_show_on_the_page(server, page):
    open_gallery(page, server, "#/browse/No%20such%20album")
    note = page.wait_for_selector("#failure")  # in the view's frame, with a way up (tests/browser/test_frame_ui.py)
    assert note.inner_text().startswith("This album does not exist.")


def test_language_follows_the_browser_and_can_be_switched(browser, server):
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        open_gallery(page, server, "#/browse/Holidays")
        page.wait_for_selector(".media-card")
        assert page.inner_text("#nav-settings") == "设置"
        assert page.inner_text(".breadcrumbs a >> nth=0") == "首页"
        page.select_option("#lang-select", "en")
        page.wait_for_function("() => document.querySelector('.breadcrumbs a')?.textContent === 'Home'")
        assert page.inner_text("#nav-settings") == "Settings"
        assert page.evaluate("document.documentElement.lang") == "en"
        page.reload()
        page.wait_for_selector(".media-card")
        assert page.inner_text("#nav-settings") == "Settings"  # the choice is remembered
    finally:
        context.close()


def test_phone_layout(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        open_gallery(page, server, "#/browse/Holidays")
        page.wait_for_selector(".media-card")
        thumbnails_loaded(page)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        widths = page.eval_on_selector_all(".media-card", "cards => cards.map((c) => c.getBoundingClientRect().width)")
        assert all(80 < width < 200 for width in widths)  # two or three across (justified rows)
        page.tap(".media-card >> nth=0")
        page.locator("#lightbox").wait_for(state="visible")
        first = page.inner_text("#lightbox-caption")
        swipe(page, from_x=330, to_x=60)
        page.wait_for_function("(name) => document.getElementById('lightbox-caption').textContent !== name", arg=first)
    finally:
        context.close()


def swipe(page, from_x: int, to_x: int, y: int = 400) -> None:
    """A one-finger swipe as the pointer events the lightbox listens to."""
    stage = "#lightbox .lightbox-stage"
    touch = {"pointerId": 7, "pointerType": "touch", "isPrimary": True, "bubbles": True, "clientY": y}
    page.dispatch_event(stage, "pointerdown", {**touch, "clientX": from_x})
    for x in range(from_x, to_x, -40):
        page.dispatch_event(stage, "pointermove", {**touch, "clientX": x})
    page.dispatch_event(stage, "pointerup", {**touch, "clientX": to_x})


def test_a_video_plays_in_the_lightbox_and_seeks(server, page, photos_dir):
    if images.video(photos_dir / "Clips" / "clip.webm", seconds=4) is None:
        cannot_run("ffmpeg is not installed: the video case did not run (bash .ci/run installs it)")
    open_gallery(page, server, "#/browse/Clips")
    page.click('.media-card[data-type="video"]')
    video = page.wait_for_selector("#lightbox video[controls]")
    page.wait_for_function("() => document.querySelector('#lightbox video').readyState >= 1")
    assert page.evaluate("document.querySelector('#lightbox video').duration") == pytest.approx(4, abs=0.5)
    page.evaluate("""() => new Promise((done) => {
      const video = document.querySelector('#lightbox video');
      video.addEventListener('seeked', done, { once: true });
      video.currentTime = 3;
    })""")  # a seek is an HTTP Range request (206) to /api/file
    assert video.evaluate("(v) => Math.round(v.currentTime)") == 3


def test_names_with_a_drive_letter_and_percent_signs_open(page, env, tmp_path, photos_dir, db):
    """URLs are built from names segment by segment (encodeURIComponent), never decoded twice (#18)."""
    images.jpeg(photos_dir / "B: Trip" / "%2e%2e.jpg", size=(300, 200))
    with gallery_server(env, tmp_path) as running:
        open_gallery(page, running)
        page.click('.album-card[data-path="B: Trip"]')
        page.wait_for_selector('.media-card[data-path="B: Trip/%2e%2e.jpg"]')
        assert page.evaluate("location.hash") == "#/browse/B%3A%20Trip"
        thumbnails_loaded(page)
        page.reload()  # the album's own URL opens it again
        page.click(".media-card >> nth=0")
        page.wait_for_function("() => document.querySelector('#lightbox img')?.naturalWidth === 300")
        assert page.inner_text("#lightbox-caption") == "%2e%2e.jpg"
        # Close the browser before the server stops: a connection it keeps alive holds gunicorn's graceful stop
        # for graceful_timeout (10 s).
        page.context.close()


def test_an_empty_gallery_says_what_to_do(page, env, tmp_path, db):
    with gallery_server(env, tmp_path) as empty:
        open_gallery(page, empty, "#/")
        note = page.wait_for_selector(".empty:not([hidden])")
        assert note.inner_text().startswith("No photos yet.")
        page.context.close()  # before the server stops (see above)
