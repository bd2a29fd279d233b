"""Workload 10 (issue 20): the gallery as a browser sees it. Debian's chromium through Playwright against one
gunicorn over a 300-photo album of 12 MP photos (hard links to bench.data's pool: real sizes, two in five
turned by EXIF), each measurement in a fresh browser context (empty browser cache, no service worker yet):

- fling-to-bottom fill: from the first scroll to the bottom (paging in as it goes, as a fling does) until every
  tile on screen shows its real thumbnail (`<img>` complete and decoded, `data-state="loaded"`: thumbs.js fetched
  it from /api/thumbnail, not the placeholder), at 100 ms added
  latency (Chromium's own network emulation over CDP), desktop and phone; cold = the server made no thumbnail
  yet, warm = it made them all (another visitor came before);
- the lightbox: bytes over the network from the click on a 12 MP photo until its sharp image (the preview, or
  the original) is on screen, and that time, on localhost; warm = the server made the preview already;
- first thumbnail of the 300-photo album from the navigation's start, and how many requests the page started
  before its first thumbnail request, at 100 ms latency, warm.

Figures come from the page's own clock (performance.now) and CDP's byte counts; Python only drives.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urljoin

import requests

from bench import data
from bench.context import Context
from bench.server import CLOSE, REQUEST_TIMEOUT_S, BenchServer
from bench.stats import Row, Summary, Target

ALBUM, PHOTOS, POOL = "album", 300, (30, 10)
LATENCY_MS = 100
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
FILL_RUNS = {"cold": (3, 1), "warm": (5, 2)}  # per viewport: full run, --quick
LIGHTBOX_RUNS, FIRST_RUNS = (8, 3), (5, 2)
DEADLINE_MS = 30_000
FILL_TARGET = {"cold": Target("median", "<=", 3000, "ms"), "warm": Target("median", "<=", 1500, "ms")}
SHARP_TARGET, BYTES_TARGET = Target("median", "<=", 300, "ms"), Target("p95", "<=", 1024, "KiB")

# Runs in the page: fling to the bottom until every card is placed, then wait (without scrolling: the page may
# hold thumbnails back while it scrolls) until each tile on screen has its real thumbnail. Milliseconds from the
# first scroll (null at the deadline) and how many cards the album had placed then.
FLING = """async ({total, deadline}) => {
  const frame = () => new Promise((done) => requestAnimationFrame(() => done()));
  const cards = () => [...document.querySelectorAll('#grid .media-card')];
  const top = () => document.querySelector('.topbar')?.getBoundingClientRect().bottom || 0;
  const real = (img) => img && img.dataset.state === 'loaded' && img.complete && img.naturalWidth > 0;
  const filled = () => { const t = top(); const shown = cards().filter((c) => {
    const b = c.getBoundingClientRect(); return b.bottom > t && b.top < innerHeight; });
    return shown.length > 0 && shown.every((c) => real(c.querySelector('img'))); };
  const started = performance.now();
  const late = () => performance.now() - started > deadline;
  const bottom = () => scrollY + innerHeight >= document.documentElement.scrollHeight - 2;
  while (!(cards().length >= total && bottom()) && !late()) {  // a fling per 5 frames until the album's end
    scrollTo(0, document.documentElement.scrollHeight);
    for (let n = 0; n < 5; n++) await frame();
  }
  while (!filled() && !late()) await frame();
  return { ms: late() ? null : performance.now() - started, placed: cards().length };
}"""
SHARP = """async (deadline) => {
  const box = document.getElementById('lightbox');
  const started = performance.now();
  document.querySelector('#grid .media-card').click();
  while (performance.now() - started < deadline) {
    if (['preview', 'original'].includes(box.dataset.quality) && box.querySelector('img')?.complete)
      return performance.now() - started;
    await new Promise((done) => requestAnimationFrame(() => done()));
  }
  return null;
}"""
# Installed before the page's own scripts: the first tile that shows a real thumbnail, on the page's clock.
FIRST_THUMB = """(() => { const look = () => { const img = [...document.querySelectorAll('#grid .media-card img')]
  .find((i) => i.dataset.state === 'loaded' && i.complete && i.naturalWidth > 0);
  if (img) window.__firstThumb = performance.now(); else requestAnimationFrame(look); };
  requestAnimationFrame(look); })()"""
FIRST_ROW = """() => { const img = document.querySelector('#grid .media-card img');
  return img && img.dataset.state === 'loaded' && img.complete && img.naturalWidth > 0; }"""
REQUESTS_BEFORE = """() => { const all = performance.getEntriesByType('resource');
  const first = all.find((e) => e.name.includes('/api/thumbnail'));
  return first ? all.filter((e) => e.startTime < first.startTime).length + 1 : null; }"""


def run(ctx: Context) -> None:
    from playwright.sync_api import sync_playwright  # the dev extra (make bench installs it)

    pool = data.photo_pool(ctx.inputs, ctx.pick(*POOL))
    root = data.cached(ctx.inputs / "browser-album", f"browser:{len(pool)}:{PHOTOS}",
                       lambda target: _link(target, pool))
    ctx.log(f"starting gunicorn over {PHOTOS} 12 MP photos")
    with BenchServer(root, ctx.scratch("server"), scan_timeout_s=300) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            _fills(ctx, server, browser)
            _lightbox(ctx, server, browser)
            _first_thumbnail(ctx, server, browser)
        finally:
            browser.close()
    ctx.note(f"{PHOTOS} photos of 4000×3000 (~3.4 MB) in one album, {len(pool)} distinct; {LATENCY_MS} ms added "
             "per request where said (CDP Network.emulateNetworkConditions); each run a fresh browser context")


def _link(target, pool) -> None:
    (target / ALBUM).mkdir(parents=True)
    for index in range(PHOTOS):
        os.link(pool[index % len(pool)], target / ALBUM / f"photo_{index:04}.jpg")


def _page(browser, options, latency_ms: int = 0):
    context = browser.new_context(**options)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": latency_ms,
                                                   "downloadThroughput": -1, "uploadThroughput": -1})
    return context, page, cdp


def _open_album(page, url: str) -> None:
    page.goto(f"{url}/#/browse/{ALBUM}")
    page.wait_for_selector("#grid .media-card", timeout=DEADLINE_MS)


def _fills(ctx: Context, server: BenchServer, browser) -> None:
    for state in ("cold", "warm"):
        if state == "warm":
            ctx.log("making every thumbnail (the warm state)")
            _make_all(server, "thumbnailUrl")
        for device, options in (("desktop", DESKTOP), ("phone", PHONE)):
            samples, stalls = [], []
            for _ in range(ctx.pick(*FILL_RUNS[state])):
                if state == "cold":
                    server.clear_thumbnails()
                result = _fling(browser, server, options)
                samples.append(result["ms"] if result["ms"] is not None else DEADLINE_MS)
                if result["ms"] is None:
                    stalls.append(result["placed"])
            ctx.emit(Row(f"fling-to-bottom fill, {state}, {device}, {LATENCY_MS} ms latency", "ms",
                         Summary.of(samples), target=FILL_TARGET[state], note=_stalled(stalls, samples)))


def _fling(browser, server: BenchServer, options: dict) -> dict:
    """One fling in a fresh context: FLING's {ms, placed}."""
    context, page, _ = _page(browser, options, LATENCY_MS)
    try:
        _open_album(page, server.url)
        return page.evaluate(FLING, {"total": PHOTOS, "deadline": DEADLINE_MS})
    finally:
        context.close()


def _stalled(stalls: list[int], samples: list[float]) -> str:
    """What the runs that hit the deadline (counted at the deadline) had placed, and the others' median."""
    if not stalls:
        return ""
    done = Summary.of([s for s in samples if s < DEADLINE_MS]).median
    return (f"{len(stalls)} of {len(samples)} runs hit the {DEADLINE_MS / 1000:g} s deadline with "
            f"{', '.join(map(str, stalls))} of {PHOTOS} cards placed; the others' median {done:.0f} ms")


def _lightbox(ctx: Context, server: BenchServer, browser) -> None:
    _make_all(server, "previewUrl", first=4)  # the photo the click opens and the neighbours it preloads
    times, sizes = [], []
    received: list[int] = []  # bytes of each response that finished, per run
    for _ in range(ctx.pick(*LIGHTBOX_RUNS)):
        context, page, cdp = _page(browser, DESKTOP)
        try:
            _open_album(page, server.url)
            page.wait_for_function(FIRST_ROW, timeout=DEADLINE_MS)  # the album has settled: its first tile is drawn
            received.clear()
            cdp.on("Network.loadingFinished", lambda event: received.append(event["encodedDataLength"]))
            elapsed = page.evaluate(SHARP, DEADLINE_MS)
            sizes.append(sum(received) / 1024)
            times.append(elapsed if elapsed is not None else DEADLINE_MS)
        finally:
            context.close()
    ctx.emit(Row("lightbox: click on a 12 MP photo → sharp image, warm, localhost", "ms", Summary.of(times),
                 target=SHARP_TARGET))
    ctx.emit(Row("lightbox: bytes from the click until sharp", "KiB", Summary.of(sizes), target=BYTES_TARGET))


def _first_thumbnail(ctx: Context, server: BenchServer, browser) -> None:
    times, counts = [], []
    for _ in range(ctx.pick(*FIRST_RUNS)):
        context, page, _ = _page(browser, DESKTOP, LATENCY_MS)
        try:
            page.add_init_script(FIRST_THUMB)
            page.goto(f"{server.url}/#/browse/{ALBUM}")
            page.wait_for_function("() => window.__firstThumb !== undefined", timeout=DEADLINE_MS)
            times.append(page.evaluate("window.__firstThumb"))
            counts.append(page.evaluate(REQUESTS_BEFORE))
        finally:
            context.close()
    ctx.emit(Row(f"first thumbnail of the {PHOTOS}-photo album from navigation, warm, {LATENCY_MS} ms latency",
                 "ms", Summary.of(times)))
    ctx.emit(Row("requests started up to the first thumbnail request (it included; the page itself not)",
                 "requests", Summary.of([float(c) for c in counts if c is not None])))


def _make_all(server: BenchServer, field: str, first: int = PHOTOS) -> None:
    """The `first` photos' thumbnails (or previews), in the album's default order, made on the server: each
    asked for until it is 200, 202s honoured."""
    urls, page = [], 1
    while len(urls) < first:
        answer = requests.get(f"{server.url}/api/browse/{quote(ALBUM)}?page={page}&limit=200", headers=CLOSE,
                              timeout=REQUEST_TIMEOUT_S).json()
        urls += [item[field] for item in answer["items"] if item.get(field)]
        if page >= answer["totalPages"]:
            break
        page += 1
    with ThreadPoolExecutor(2) as workers:
        list(workers.map(lambda url: _until_made(urljoin(server.url + "/", url)), urls[:first]))


def _until_made(url: str) -> None:
    with requests.Session() as session:
        for _ in range(200):
            answer = session.get(url, timeout=REQUEST_TIMEOUT_S)
            if answer.status_code != 202:
                answer.raise_for_status()
                return
            time.sleep(float(answer.headers.get("Retry-After", "0.5")))
    raise TimeoutError(f"never made: {url}")
