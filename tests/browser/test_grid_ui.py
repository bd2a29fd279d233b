"""The photo grid in headless Chromium against a real gunicorn (issue 20): justified rows that keep each photo's
shape, pages appended without moving what is placed, a resize that keeps the reading place, thumbnails that
follow the viewport after a fling, ThumbHash placeholders painted before the thumbnail, video durations.

One server for the module: an album of mixed shapes (a panorama and a video among them) and one of 300 photos
(hard links to four tiny JPEGs), indexed before the server starts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.browser.gallery import open_gallery
from tests.browser.views import module_server
from tests.support import images, servers

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SHAPES = {"m01.jpg": (400, 300), "m02.jpg": (300, 400), "pano.jpg": (1600, 300), "m04.jpg": (360, 360),
          "m05.jpg": (500, 300), "m06.jpg": (300, 500), "m07.jpg": (480, 320), "m08.jpg": (320, 480),
          "m09.jpg": (400, 300), "m10.jpg": (640, 360), "m11.jpg": (300, 300), "m12.jpg": (420, 280)}
VIDEO = "Mixed/clip.webm"  # 4 s, 320×240
MANY = 300
MANY_SHAPES = [(160, 120), (120, 160), (200, 100), (150, 150)]
MAX_IN_FLIGHT = 4  # static/js/thumbs.js
# A ThumbHash (base64) of an orange-to-blue gradient, made with the vendored thumbhash.js's rgbaToThumbHash.
THUMBHASH = "4ScCdZByd3eAh3d4iHh4h4+H+Kh3"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}

# Every /api/thumbnail fetch the page makes, in order, and how many were waiting for an answer at once.
COUNT_THUMBNAIL_FETCHES = """(() => {
  const log = window.thumbLog = { paths: [], inFlight: 0, max: 0, aborted: 0 };
  const realFetch = window.fetch;
  window.fetch = function (input, init) {
    const url = new URL(String(input.url || input), location.href);
    if (!url.pathname.endsWith("/api/thumbnail")) return realFetch.apply(this, arguments);
    log.paths.push(url.searchParams.get("path"));
    log.inFlight += 1;
    log.max = Math.max(log.max, log.inFlight);
    let open = true;
    const settle = () => { if (open) { open = false; log.inFlight -= 1; } };
    init?.signal?.addEventListener("abort", () => { log.aborted += 1; settle(); });
    return realFetch.apply(this, arguments).then((answer) => { settle(); return answer; },
                                                 (error) => { settle(); throw error; });
  };
})()"""
CARD_BOXES = """(cards) => cards.map((card) => {
  const box = card.getBoundingClientRect();
  return { path: card.dataset.path, x: box.x, y: box.y + scrollY, w: box.width, h: box.height };
})"""
VIEW_TOP = "Math.max(0, document.querySelector('.topbar').getBoundingClientRect().bottom)"
# Paths of the cards on the screen (below the top bar) and of those wholly above it.
ON_SCREEN = f"""() => {{
  const top = {VIEW_TOP};
  const cards = [...document.querySelectorAll('#grid .media-card')]
    .map((c) => [c.dataset.path, c.getBoundingClientRect()]);
  return {{ visible: cards.filter(([, b]) => b.bottom > top && b.top < innerHeight).map(([p]) => p),
           above: cards.filter(([, b]) => b.bottom <= top).map(([p]) => p) }};
}}"""
FIRST_VISIBLE = f"""() => {{
  const top = {VIEW_TOP};
  const card = [...document.querySelectorAll('#grid .media-card')]
    .find((c) => c.getBoundingClientRect().top >= top - 0.5);
  return {{ path: card.dataset.path, top: card.getBoundingClientRect().top, viewTop: top }};
}}"""
NEXT_FRAME = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


def make_library(photos) -> bool:
    """Writes the photos (their link sources beside them); True when ffmpeg made the video."""
    root = photos.parent
    for number, (name, size) in enumerate(SHAPES.items()):
        images.jpeg(photos / "Mixed" / name, size=size, color=(40 * number % 255, 120, 200),
                    mtime=1_700_000_000 + number)
    sources = [images.jpeg(root / "sources" / f"s{n}.jpg", size=size, color=(60 * n, 90, 150))
               for n, size in enumerate(MANY_SHAPES)]
    (photos / "Many").mkdir()
    for number in range(MANY):
        os.link(sources[number % len(sources)], photos / "Many" / f"p{number:03}.jpg")
    return images.video(photos / VIDEO, seconds=4) is not None


@pytest.fixture(scope="module")
def library(request, tmp_path_factory) -> Iterator[tuple[servers.Gunicorn, bool]]:
    has_video = []
    with module_server(request, tmp_path_factory, "grid_ui", lambda photos: has_video.append(make_library(photos))) \
            as running:
        yield running, has_video[0]


@pytest.fixture(params=["desktop", "phone"])
def device(request, browser):
    """A page on a desktop (English) or a phone with touch (Chinese)."""
    context = browser.new_context(**(DESKTOP if request.param == "desktop" else PHONE))
    context.set_default_timeout(15_000)
    try:
        yield request.param, context.new_page()
    finally:
        context.close()


def boxes(page) -> dict[str, dict]:
    return {box["path"]: box for box in page.eval_on_selector_all("#grid .media-card", CARD_BOXES)}


def rows_of(placed: dict[str, dict]) -> list[list[dict]]:
    rows: dict[int, list[dict]] = {}
    for box in placed.values():
        rows.setdefault(round(box["y"]), []).append(box)
    return [sorted(row, key=lambda box: box["x"]) for _, row in sorted(rows.items())]


def test_justified_rows_keep_each_photos_shape_and_squares_stay_an_option(library, device):
    server, has_video = library
    kind, page = device
    cards = len(SHAPES) + has_video
    open_gallery(page, server, "#/browse/Mixed")
    expect(page.locator("#grid")).to_have_attribute("data-placed", str(cards))
    expect(page.locator("#grid")).to_have_attribute("data-layout", "justified")
    grid = page.locator("#grid").bounding_box()
    placed = boxes(page)
    shapes = {f"Mixed/{name}": size for name, size in SHAPES.items()} | {VIDEO: (320, 240)}
    rows = rows_of(placed)
    assert len(rows) >= 2
    for row in rows:
        assert max(box["h"] for box in row) - min(box["h"] for box in row) <= 1  # one height per row
        for box in row:
            width, height = shapes[box["path"]]
            assert box["w"] == pytest.approx(box["h"] * width / height, abs=2), box  # the photo's own shape
    for row in rows[:-1]:  # full rows span the grid, edge to edge
        assert row[0]["x"] == pytest.approx(grid["x"], abs=1)
        assert row[-1]["x"] + row[-1]["w"] == pytest.approx(grid["x"] + grid["width"], abs=1)
    pano = page.locator('.media-card[data-path="Mixed/pano.jpg"] img')
    pano.scroll_into_view_if_needed()
    expect(pano).to_have_attribute("data-state", "loaded")
    natural = pano.evaluate("(img) => img.naturalWidth / img.naturalHeight")
    shown = placed["Mixed/pano.jpg"]
    assert shown["w"] / shown["h"] == pytest.approx(natural, rel=0.03)  # the whole panorama, not a crop of it
    if has_video:
        expect(page.locator(".media-card[data-type=video] .video-badge")).to_have_text("▶ 0:04")

    title = "方格 / 等高行 (G)" if kind == "phone" else "Squares / justified rows (G)"
    expect(page.locator("#layout-toggle")).to_have_attribute("title", title)
    page.locator("#layout-toggle").click()
    expect(page.locator("#grid")).to_have_attribute("data-layout", "grid")
    squares = boxes(page).values()
    assert all(box["w"] == pytest.approx(box["h"], abs=1) for box in squares)
    page.reload()
    expect(page.locator("#grid")).to_have_attribute("data-layout", "grid")  # remembered
    expect(page.locator("#grid .media-card")).to_have_count(cards)


def test_a_new_page_never_moves_placed_cards_and_a_resize_keeps_the_reading_place(library, page):
    server, _ = library
    page.set_viewport_size(DESKTOP["viewport"])
    open_gallery(page, server, "#/browse/Many")
    grid = page.locator("#grid")
    expect(grid).to_have_attribute("data-placed", "100")
    first_page = boxes(page)
    last_top = max(box["y"] for box in first_page.values())
    bottom = page.evaluate("() => { scrollTo(0, document.documentElement.scrollHeight); return scrollY; }")
    expect(grid).to_have_attribute("data-placed", "200")
    after = boxes(page)
    assert page.evaluate("scrollY") == bottom  # the view stays where it was (and no third page is asked for)
    for path, box in first_page.items():
        if box["y"] < last_top:  # every complete row stays exactly where it was
            assert [after[path][k] for k in "xywh"] == pytest.approx([box[k] for k in "xywh"], abs=0.5), path
        else:  # the open last row is finished with the new cards, on the same line
            assert after[path]["y"] == pytest.approx(box["y"], abs=0.5), path

    page.evaluate("window.scrollTo(0, 3000)")
    page.evaluate(NEXT_FRAME)
    anchor = page.evaluate(FIRST_VISIBLE)
    width = grid.get_attribute("data-width")
    page.set_viewport_size({"width": 900, "height": 800})
    expect(grid).not_to_have_attribute("data-width", width)
    page.evaluate(NEXT_FRAME)
    card = page.locator(f'.media-card[data-path="{anchor["path"]}"]')
    assert card.evaluate("(c) => c.getBoundingClientRect().top") == pytest.approx(anchor["top"], abs=2)
    now = page.evaluate(FIRST_VISIBLE)
    assert now["top"] == pytest.approx(anchor["top"], abs=2)  # the card read before is in the top row still


def test_after_a_fling_the_tiles_in_view_load_first(library, device):
    server, _ = library
    kind, page = device
    held = []  # every thumbnail request waits here during the fling: the slow network of a phone, made exact
    page.add_init_script(script=COUNT_THUMBNAIL_FETCHES)
    page.route("**/api/thumbnail?*", lambda route: held.append(route))
    open_gallery(page, server, "#/browse/Many")
    grid = page.locator("#grid")
    expect(grid).to_have_attribute("data-placed", "100")
    while True:  # a screen at a time, a frame apart, to the foot of the album; a page loads on the way twice
        state = page.evaluate(f"""async () => {{
          scrollBy(0, innerHeight);
          await ({NEXT_FRAME})();
          return {{ placed: Number(document.getElementById('grid').dataset.placed),
                   bottom: scrollY + innerHeight >= document.documentElement.scrollHeight - 1 }};
        }}""")
        if state["bottom"] and state["placed"] == MANY:
            break
        if state["bottom"]:
            expect(grid).not_to_have_attribute("data-placed", str(state["placed"]))
    page.evaluate(NEXT_FRAME)
    screen = page.evaluate(ON_SCREEN)
    log = page.evaluate("window.thumbLog")
    asked_during_fling = len(log["paths"])
    assert len(screen["visible"]) > MAX_IN_FLIGHT and len(screen["above"]) > MANY // 2
    started = [path for path in log["paths"] if path in screen["visible"]]
    assert len(set(started)) >= MAX_IN_FLIGHT, log  # the slots went to the tiles in view, before any answer came
    assert log["aborted"] > 0 and log["max"] <= MAX_IN_FLIGHT, log
    assert len(set(log["paths"]) & set(screen["above"])) < len(screen["above"]) // 2  # most passed tiles never asked

    page.unroute("**/api/thumbnail?*")
    for route in held:  # answer what is still asked for; the page has aborted the rest
        try:
            route.continue_()
        except PlaywrightError:
            pass
    page.wait_for_function("""(paths) => paths.every((path) => {
      const img = document.querySelector(`.media-card[data-path="${path}"] img`);
      return img.dataset.state === 'loaded' && img.naturalWidth > 0;
    })""", arg=screen["visible"])
    later = page.evaluate("window.thumbLog.paths")[asked_during_fling:]
    far_above = set(page.evaluate(f"""() => {{
      const top = {VIEW_TOP} - 600;
      return [...document.querySelectorAll('#grid .media-card')].filter((c) => c.getBoundingClientRect().bottom < top)
        .map((c) => c.dataset.path);
    }}"""))
    assert not far_above & set(later), kind  # nothing scrolled far past is fetched after the visible ones


def test_a_tile_paints_its_placeholder_before_the_thumbnail(library, device):
    server, has_video = library
    kind, page = device
    painted = "Mixed/m01.jpg"

    def with_placeholder(route):
        answer = route.fetch()
        body = answer.json()
        for item in body["items"]:
            item["placeholder"] = THUMBHASH if item["path"] == painted else None
            if item["type"] == "video":
                item["duration"] = None
        route.fulfill(response=answer, body=json.dumps(body))

    def with_cover_placeholder(route):
        answer = route.fetch()
        body = answer.json()
        for item in body["items"]:
            item["coverPlaceholder"] = THUMBHASH if item["path"] == "Mixed" else None
        route.fulfill(response=answer, body=json.dumps(body))

    page.route("**/api/browse?*", with_cover_placeholder)
    open_gallery(page, server, "#/")
    cover = page.locator('.album-card[data-path="Mixed"] .cover')
    expect(cover).to_have_attribute("data-placeholder", "painted")  # album covers paint theirs too
    assert cover.evaluate("(c) => getComputedStyle(c).backgroundImage").startswith('url("data:image/png;base64,')
    expect(page.locator('.album-card[data-path="Many"] .cover')).not_to_have_attribute("data-placeholder", "painted")

    held = []
    page.route("**/api/browse/Mixed?*", with_placeholder)
    page.route("**/api/thumbnail?*", lambda route: held.append(route) if painted in route.request.url
               .replace("%2F", "/") else route.continue_())
    page.goto(f"{server.url}/#/browse/Mixed")
    card = page.locator(f'.media-card[data-path="{painted}"]')
    expect(card).to_have_attribute("data-placeholder", "painted")
    while not held:  # route handlers run while the test talks to the page: a frame at a time until it is asked
        page.evaluate(NEXT_FRAME)
    assert card.evaluate("(c) => getComputedStyle(c).backgroundImage").startswith('url("data:image/png;base64,')
    assert card.locator("img").get_attribute("data-state") is None  # its thumbnail has not come yet
    other = page.locator('.media-card[data-path="Mixed/m02.jpg"]')
    assert other.evaluate("(c) => getComputedStyle(c).backgroundImage") == "none"
    assert other.evaluate("(c) => getComputedStyle(c).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    if has_video:
        expect(page.locator(".media-card[data-type=video] .video-badge")).to_have_text(
            "▶ 视频" if kind == "phone" else "▶ Video")  # no duration known
    held[0].continue_()
    expect(card.locator("img")).to_have_attribute("data-state", "loaded")
