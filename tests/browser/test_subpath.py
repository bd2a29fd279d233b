"""The gallery in headless Chromium through nginx/photonix-subpath.conf: the page at /gallery/ opens an album,
its thumbnails load, the live dot connects, and the page never requests anything outside /gallery/."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.support import images
from tests.support.nginx import subpath_stack

pytestmark = [pytest.mark.browser, pytest.mark.integration]
PHOTOS = ("one.jpg", "two.jpg", "three.jpg")
ALL_THUMBNAILS_LOADED = """(count) => {
  const shown = [...document.querySelectorAll('.media-card img')];
  return shown.length === count && shown.every((img) => img.complete && img.naturalWidth > 0);
}"""


@pytest.fixture
def stack(env, tmp_path, db):
    with subpath_stack(env, tmp_path) as running:
        yield running


def test_gallery_works_under_the_sub_path(stack, page, photos_dir):
    _, proxy = stack
    for n, name in enumerate(PHOTOS):
        images.jpeg(photos_dir / "Holiday" / name, (160, 120), color=(60 * n, 120, 200))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(proxy.url + "/gallery/")
    album = page.locator('.album-card[data-path="Holiday"]')
    album.click()
    page.wait_for_function(ALL_THUMBNAILS_LOADED, arg=len(PHOTOS))
    assert urlsplit(page.url).path == "/gallery/" and urlsplit(page.url).fragment == "/browse/Holiday"
    assert page.locator(".media-card").evaluate_all("cards => cards.map(c => c.dataset.path).sort()") == sorted(
        f"Holiday/{name}" for name in PHOTOS)
    page.locator('#live-dot[data-state="open"]').wait_for()
    outside = [url for url in requested
               if urlsplit(url).scheme in ("http", "https") and not url.startswith(proxy.url + "/gallery/")]
    assert outside == []
    paths = {urlsplit(url).path for url in requested}
    assert {"/gallery/api/thumbnail", "/gallery/api/events", "/gallery/static/js/app.js"} <= paths, sorted(paths)
