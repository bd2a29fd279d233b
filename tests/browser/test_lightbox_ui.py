"""The lightbox in headless Chromium against a real gunicorn (issue 20): a modal dialog that keeps focus, previews
before originals, gestures on a phone (swipe on a video, double tap), the slideshow, icons drawn as SVG.

The dialog test uses the server's own /api/preview. The others answer it in the test (page.route) with a WebP of
the photo within PREVIEW_PX, as the server makes it, so each decides when a preview arrives (held until released,
or busy first); the endpoint itself is tested in tests/api. Time in the page is Playwright's clock wherever a
timer matters: nothing here sleeps.
"""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from PIL import Image, ImageOps

from tests.browser.gallery import gallery_server, open_gallery, thumbnails_loaded
from tests.support import images
from tests.support.servers import cannot_run

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PREVIEW_PX = 1200
PHOTOS = {"1-wide.jpg": (3000, 2000), "2-harbour.jpg": (800, 600), "4-boat.jpg": (800, 600), "5-dunes.jpg": (600, 800)}
ALBUM = "Trip"
WIDE, HARBOUR, BOAT, DUNES = (f"{ALBUM}/{name}" for name in PHOTOS)
CLIP = f"{ALBUM}/3-clip.webm"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
LABELS = {"en": {"close": "Close (Esc)", "slideshow": "Start slideshow (Space)"},
          "zh-CN": {"close": "关闭 (Esc)", "slideshow": "开始幻灯片 (空格)"}}
IN_LIGHTBOX = "() => { const box = document.getElementById('lightbox'); return box.contains(document.activeElement); }"


@pytest.fixture
def server(env, tmp_path, photos_dir, db):
    for number, (name, size) in enumerate(PHOTOS.items()):
        images.jpeg(photos_dir / ALBUM / name, size=size, mtime=1_700_000_000 + number)
    with gallery_server(env, tmp_path) as running:
        yield running


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE, locale="zh-CN")
    context.set_default_timeout(15_000)
    yield context
    context.close()


class Previews:
    """/api/preview for one page: records the gallery path of each request; `hold` keeps a path's first answer
    until release(path), `busy` answers a path's first request 202 with Retry-After: 3, as a busy server does."""

    def __init__(self, page, photos_dir, *, hold=(), busy=()):
        self.photos_dir = photos_dir
        self.hold, self.busy = set(hold), set(busy)
        self.requested: list[str] = []
        self.held = {}
        page.route(re.compile(r"/api/preview\?"), self.answer)

    def answer(self, route) -> None:
        path = parse_qs(urlsplit(route.request.url).query)["path"][0]
        first = path not in self.requested
        self.requested.append(path)
        if first and path in self.busy:
            route.fulfill(status=202, headers={"Retry-After": "3", "X-Thumb-Status": "processing",
                                               "Cache-Control": "no-store"},
                          content_type="image/svg+xml", body='<svg xmlns="http://www.w3.org/2000/svg"/>')
        elif first and path in self.hold:
            self.held[path] = route
        else:
            self.fulfill(route, path)

    def release(self, path: str) -> None:
        self.fulfill(self.held.pop(path), path)

    def fulfill(self, route, path: str) -> None:
        with Image.open(self.photos_dir / path) as image:
            preview = ImageOps.exif_transpose(image)
            preview.thumbnail((PREVIEW_PX, PREVIEW_PX))
            body = io.BytesIO()
            preview.save(body, "WEBP", quality=70)
        route.fulfill(status=200, content_type="image/webp", body=body.getvalue(),
                      headers={"X-Thumb-Status": "ready", "Cache-Control": "private, max-age=31536000, immutable"})


def open_album(page, server) -> None:
    page.add_init_script("localStorage.setItem('photonix.sort', 'name_asc')")
    open_gallery(page, server, f"#/browse/{ALBUM}")
    page.wait_for_selector(".media-card")
    thumbnails_loaded(page)


def is_preview_of(url: str, path: str) -> bool:
    return "/api/preview?" in url and parse_qs(urlsplit(url).query).get("path") == [path]


def preview_of(path: str):
    """A request predicate: the preview of this gallery path."""
    return lambda request: is_preview_of(request.url, path)


def lightbox_data(page, key: str) -> str:
    return page.get_attribute("#lightbox", f"data-{key}")


def wait_data(page, key: str, value: str) -> None:
    page.wait_for_function("([key, value]) => document.getElementById('lightbox').dataset[key] === value",
                           arg=[key, value])


def wait_caption(page, name: str) -> None:
    page.wait_for_function("(name) => document.getElementById('lightbox-caption').textContent === name", arg=name)


def pause_clock(page) -> None:
    """Stop the page's clock (a minute on, safely ahead of it however slow this machine is) before the lightbox
    opens: from here its timers fire only when the test runs the clock on."""
    page.clock.pause_at((page.evaluate("Date.now()") + 60_000) / 1000)  # Python's clock takes Unix seconds


@pytest.mark.parametrize("device", ["desktop-en", "phone-zh"])
def test_the_lightbox_is_a_modal_dialog_that_keeps_and_returns_focus(browser, server, device):
    lang = "en" if device.endswith("en") else "zh-CN"
    context = browser.new_context(**(PHONE if device.startswith("phone") else {}), locale=lang)
    try:
        context.set_default_timeout(15_000)
        page = context.new_page()
        requested: list[str] = []  # this test uses the server's own /api/preview
        page.on("request", lambda request: requested.append(request.url))
        open_album(page, server)
        tile = f'.media-card[data-path="{HARBOUR}"]'
        page.tap(tile) if device.startswith("phone") else page.click(tile)
        box = page.locator("#lightbox")
        box.wait_for(state="visible")
        assert box.get_attribute("role") == "dialog"
        assert box.get_attribute("aria-modal") == "true"
        assert box.get_attribute("aria-label") == "2-harbour.jpg"
        assert page.evaluate(IN_LIGHTBOX), "focus moved into the dialog"
        wait_data(page, "quality", "preview")
        assert any(is_preview_of(url, HARBOUR) for url in requested)
        assert not [url for url in requested if "/api/file/" in url], "no original"
        for key in ["Tab"] * 10 + ["Shift+Tab"] * 10:
            page.keyboard.press(key)
            assert page.evaluate(IN_LIGHTBOX), f"{key} left the dialog"
        assert page.get_attribute("#lightbox-close", "aria-label") == LABELS[lang]["close"]
        assert page.get_attribute("#lightbox-slideshow", "aria-label") == LABELS[lang]["slideshow"]
        assert page.evaluate("""() => [...document.querySelectorAll('#lightbox button, #lightbox a.button')]
          .every((b) => b.querySelector(':scope > svg') && b.textContent.trim() === '')"""), "SVG icons, no glyphs"
        # Nothing of the page shows through: the top bar is hidden, its corner is the dialog's.
        assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).visibility") == "hidden"
        assert page.evaluate("!!document.elementFromPoint(20, 20).closest('#lightbox')")
        for nav in ("#lightbox .nav.prev", "#lightbox .nav.next"):  # on a phone too
            assert page.locator(nav).is_visible()
        page.keyboard.press("Escape")
        box.wait_for(state="hidden")
        assert page.evaluate("document.activeElement.dataset.path") == HARBOUR, "focus is back on the tile"
        assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).visibility") == "visible"
    finally:
        context.close()


def test_a_photo_opens_with_its_thumbnail_then_its_preview_and_the_original_only_when_zoomed_past_it(
        server, page, photos_dir):
    previews = Previews(page, photos_dir, hold={WIDE})
    originals: list[str] = []
    page.on("request", lambda request: "/api/file/" in request.url and originals.append(request.url))
    open_album(page, server)
    with page.expect_request(preview_of(HARBOUR)), page.expect_request(preview_of(BOAT)):
        page.click(f'.media-card[data-path="{WIDE}"]')
    # The preview is held: the thumbnail the grid already has is on screen, with the spinner.
    assert lightbox_data(page, "quality") == "thumb"
    assert "/api/thumbnail" in page.get_attribute("#lightbox img", "src")
    assert page.locator("#lightbox .lightbox-spinner").is_visible()
    previews.release(WIDE)
    wait_data(page, "quality", "preview")
    assert page.evaluate("document.querySelector('#lightbox img').naturalWidth") == PREVIEW_PX
    assert page.locator("#lightbox .lightbox-spinner").is_hidden()
    assert sorted(set(previews.requested)) == [WIDE, HARBOUR, BOAT]  # itself and the next two: previews only
    assert originals == []

    page.dblclick("#lightbox .lightbox-media")  # 2.5× of a 1000 px fit needs more than the preview's 1200 px
    wait_data(page, "quality", "original")
    assert page.evaluate("document.querySelector('#lightbox img').naturalWidth") == 3000
    assert lightbox_data(page, "zoom") == "2.5"
    assert [urlsplit(url).path for url in originals] == [f"/api/file/{quote(WIDE)}"] * len(originals)

    with page.expect_request(preview_of(DUNES)):  # the new neighbour two ahead
        page.keyboard.press("ArrowRight")
    wait_caption(page, "2-harbour.jpg")
    wait_data(page, "quality", "preview")  # fetched ahead: no second request
    page.dblclick("#lightbox .lightbox-media")  # its preview holds every pixel of the 800 px original
    assert (lightbox_data(page, "zoom"), lightbox_data(page, "quality"), lightbox_data(page, "loading")) == \
        ("2.5", "preview", "false")
    assert previews.requested.count(HARBOUR) == 1
    assert len(set(urlsplit(url).path for url in originals)) == 1


def test_a_busy_preview_keeps_the_thumbnail_and_is_asked_for_again_after_retry_after(server, page, photos_dir):
    previews = Previews(page, photos_dir, busy={WIDE})
    page.clock.install()
    open_album(page, server)
    pause_clock(page)
    page.click(f'.media-card[data-path="{WIDE}"]')
    wait_data(page, "preview", "busy")
    assert lightbox_data(page, "quality") == "thumb"
    assert previews.requested.count(WIDE) == 1
    page.clock.run_for(3000)
    wait_data(page, "quality", "preview")
    assert previews.requested.count(WIDE) == 2


def test_on_a_phone_a_swipe_on_a_video_moves_on_and_a_double_tap_zooms_and_stays(server, phone, photos_dir):
    if images.video(photos_dir / CLIP, seconds=1, size=(160, 120)) is None:
        cannot_run("ffmpeg is not installed: the video case did not run (bash .ci/run installs it)")
    page = phone.new_page()
    Previews(page, photos_dir)
    page.clock.install()
    open_album(page, server)
    pause_clock(page)  # both taps below at one instant of the page's clock: a double tap however slow the machine
    page.tap(f'.media-card[data-path="{CLIP}"]')
    video = page.wait_for_selector("#lightbox video[controls]")
    assert page.locator("#lightbox .nav.next").is_visible()
    box = video.bounding_box()
    touch_swipe(page, from_x=330, to_x=60, y=int(box["y"] + box["height"] * 0.3))  # above the video's controls
    wait_caption(page, "4-boat.jpg")

    wait_data(page, "quality", "preview")
    page.tap("#lightbox .lightbox-media")
    page.tap("#lightbox .lightbox-media")
    assert lightbox_data(page, "zoom") == "2.5"
    page.dispatch_event("#lightbox .lightbox-media", "dblclick")  # what the browser sends after a double tap
    assert lightbox_data(page, "zoom") == "2.5"


def touch_swipe(page, from_x: int, to_x: int, y: int) -> None:
    """A real one-finger swipe (Chromium's touch input, as a phone's), hitting whatever is under the finger."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": from_x, "y": y}]})
    for x in range(from_x, to_x, -30 if to_x < from_x else 30):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": to_x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_the_slideshow_moves_on_with_its_timer_pauses_on_a_key_and_remembers_its_interval(server, page, photos_dir):
    previews = Previews(page, photos_dir)
    page.clock.install()
    open_album(page, server)
    pause_clock(page)
    page.click(f'.media-card[data-path="{WIDE}"]')
    wait_data(page, "quality", "preview")
    page.select_option("#lightbox-interval", "3")
    page.focus("#lightbox")
    page.keyboard.press(" ")
    wait_data(page, "slideshow", "playing")
    assert page.get_attribute("#lightbox-slideshow", "aria-label") == "Stop slideshow (Space)"
    page.clock.run_for(3000)
    wait_caption(page, "2-harbour.jpg")
    assert BOAT in previews.requested  # the next photo's preview is on its way before its turn

    page.keyboard.press("x")  # any key holds the show, and says so
    wait_data(page, "slideshow", "paused")
    assert page.inner_text("#lightbox .slideshow-status") == "Paused"
    page.clock.run_for(10_000)
    assert page.inner_text("#lightbox-caption") == "2-harbour.jpg"

    page.keyboard.press(" ")
    wait_data(page, "slideshow", "playing")
    page.clock.run_for(3000)
    wait_caption(page, "4-boat.jpg")
    page.keyboard.press("Escape")
    page.click(f'.media-card[data-path="{WIDE}"]')
    assert page.input_value("#lightbox-interval") == "3"  # remembered
    assert lightbox_data(page, "slideshow") == "off"
