"""A generated gallery served by a real gunicorn, for the browser tests of the front end."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tests.support import images
from tests.support.servers import Gunicorn
from tests.support.waiting import until

SCAN_TIMEOUT_S = 60.0  # a failsafe: the first scan of these few photos ends within a second
COLORS = [(200, 80, 40), (40, 120, 200), (60, 180, 90), (220, 200, 40), (120, 40, 160)]
ALBUMS = {"Holidays": ["beach.jpg", "harbour.jpg", "lighthouse.jpg", "sunset.jpg"],
          "Family": ["birthday.jpg", "garden.jpg"]}


def make_gallery(photos: Path) -> dict[str, list[str]]:
    """Two albums of small real JPEGs (plus one nested album), names in natural order per album."""
    for album, names in ALBUMS.items():
        for number, name in enumerate(names):
            images.jpeg(photos / album / name, size=(480 + 20 * number, 360), color=COLORS[number % len(COLORS)],
                        mtime=1_700_000_000 + number)
    images.jpeg(photos / "Family" / "Cousins" / "picnic.jpg", size=(400, 300))
    return ALBUMS


@contextlib.contextmanager
def gallery_server(env: dict[str, str], tmp_path: Path, **extra: str) -> Iterator[Gunicorn]:
    """The server, once its first scan has ended: until then an album's count and cover may still be 0 and none
    (its folder listed by a browse, its photos not yet reached by the scan), as a user would see them."""
    with Gunicorn({**env, "PHOTONIX_SSE_HEARTBEAT_SECONDS": "5", **extra}, tmp_path / "gunicorn.log") as server:
        until(lambda: "index scan:" in server.log(), "the server's first scan never ended", SCAN_TIMEOUT_S)
        yield server


def open_gallery(page, server, hash_: str = "#/") -> None:
    page.goto(f"{server.url}/{hash_}")
    page.wait_for_function("() => window.photonix && window.photonix.status !== null")


def thumbnails_loaded(page, selector: str = ".media-card img") -> None:
    page.wait_for_function("""(selector) => {
      const imgs = [...document.querySelectorAll(selector)];
      return imgs.length > 0 && imgs.every((img) => img.dataset.state === 'loaded' && img.naturalWidth > 0);
    }""", arg=selector)
