"""Regenerates docs/gallery.png, the README's screenshot, from the real page.

Starts a real gunicorn (tests/support/servers.Gunicorn) on a temporary photos folder holding the sample
album (services/sample.py), opens the album in Debian's chromium through playwright, waits until every
thumbnail has loaded, and saves a 1280×800 PNG. Run from the checkout, after `make test` set up .venv:

    .venv/bin/python -m docs.screenshot
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from config import load_config
from services import database
from services.sample import create_sample_album
from tests.support.servers import Gunicorn

OUTPUT = Path(__file__).resolve().parent / "gallery.png"
VIEWPORT = {"width": 1280, "height": 800}
ALBUM_HASH = "#/browse/Sample"
TIMEOUT_MS = 60_000
# The same launch as the browser tests (tests/browser/conftest.py).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]
ALL_THUMBNAILS_LOADED = """() => {
  const imgs = [...document.querySelectorAll("img.thumb[data-src]")];
  return imgs.length > 0 && imgs.every((img) => img.dataset.state === "loaded" && img.naturalWidth > 0);
}"""


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="photonix-screenshot-") as tmp:
        photos, data = Path(tmp) / "photos", Path(tmp) / "data"
        photos.mkdir()
        data.mkdir()
        create_sample_album(photos)
        env = {"PHOTONIX_PHOTOS_DIR": str(photos), "PHOTONIX_DATA_DIR": str(data),
               "PHOTONIX_JWT_SECRET": secrets.token_urlsafe(48)}
        prepare_database(env)
        with Gunicorn(env, Path(tmp) / "gunicorn.log") as server:
            shoot(f"{server.url}/{ALBUM_HASH}")
    print(f"wrote {OUTPUT}")


def prepare_database(env: dict[str, str]) -> None:
    """What `photonix serve` does before it starts gunicorn (Gunicorn starts gunicorn directly)."""
    database.bind_database(database.open_database(load_config(env).database_url))
    database.init_db()
    database.close_connection()


def shoot(url: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)
            # The first index scan runs after start: the album's cards appear when it has finished.
            page.wait_for_selector(".media-card img.thumb", state="attached")
            page.wait_for_function(ALL_THUMBNAILS_LOADED)
            page.wait_for_selector("#live-dot[data-state=open]")
            page.screenshot(path=str(OUTPUT))
        finally:
            browser.close()


if __name__ == "__main__":
    main()
