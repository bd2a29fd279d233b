"""The gallery's main views, each opened in a page and waited for until it has drawn, over one indexed gallery
served by one gunicorn: shared by the accessibility checks and the screenshots of every run."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import requests
from playwright.sync_api import expect

from services.database import bind_database, close_connection, init_db, open_database
from services.gallery.index import Indexer
from tests.browser.gallery import gallery_server, make_gallery, open_gallery, thumbnails_loaded
from tests.conftest import ADMIN_SECRET, JWT_SECRET
from tests.support import servers

PASSWORD = "correct horse battery"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
LANGUAGES = ("en", "zh-CN")


@contextlib.contextmanager
def views_server(root: Path, database_url: str | None = None,
                 make: Callable[[Path], object] = make_gallery) -> Iterator[servers.Gunicorn]:
    """The photos `make` writes (make_gallery's albums by default), indexed before the server starts: every
    view has its photos, and the timeline its months, at the first request."""
    photos, data = root / "photos", root / "data"
    make(photos)
    data.mkdir()
    url = database_url or f"sqlite:///{data / 'photonix.db'}"
    database = open_database(url)
    bind_database(database)
    init_db()
    Indexer(photos).scan()
    close_connection()
    if hasattr(database, "close_all"):
        database.close_all()
    env = {"PHOTONIX_PHOTOS_DIR": str(photos), "PHOTONIX_DATA_DIR": str(data), "PHOTONIX_JWT_SECRET": JWT_SECRET,
           "PHOTONIX_ADMIN_SECRET": ADMIN_SECRET, "PHOTONIX_DATABASE_URL": url}
    with gallery_server(env, root) as running:
        yield running


@contextlib.contextmanager
def module_server(request, tmp_path_factory, name: str,
                  make: Callable[[Path], object] = make_gallery) -> Iterator[servers.Gunicorn]:
    """views_server for one test module, on a PostgreSQL database of its own (t_<name>) with --db=postgres."""
    url = None
    if request.config.getoption("--db") == "postgres":
        url = servers.create_pg_database(request.getfixturevalue("postgres_admin_url"), f"t_{name}")
    with views_server(tmp_path_factory.mktemp(name), url, make) as running:
        yield running


def change_settings(server, **changes) -> None:
    answer = requests.post(f"{server.url}/api/settings", json=changes, headers={"X-Admin-Secret": ADMIN_SECRET},
                           timeout=10)
    assert answer.status_code == 200, answer.text


@contextlib.contextmanager
def private_gallery(server) -> Iterator[None]:
    """The gallery needs a password while the block runs (the login page shows only then)."""
    change_settings(server, newPassword=PASSWORD, passwordEnabled=True)
    try:
        yield
    finally:
        change_settings(server, passwordEnabled=False)


def home(page, server) -> None:
    open_gallery(page, server)
    expect(page.locator("#view .album-card").first).to_be_visible()
    thumbnails_loaded(page, ".album-card img")


def album(page, server) -> None:
    open_gallery(page, server, "#/browse/Holidays")
    thumbnails_loaded(page)


def lightbox(page, server) -> None:
    album(page, server)
    page.locator(".media-card").first.click()
    expect(page.locator("#lightbox")).to_be_visible()
    page.wait_for_function("() => [...document.querySelectorAll('#lightbox img')].some((i) => i.complete && "
                           "i.naturalWidth > 0)")


def timeline(page, server) -> None:
    open_gallery(page, server, "#/timeline")
    thumbnails_loaded(page)


def search(page, server) -> None:
    open_gallery(page, server, "#/search/beach")
    thumbnails_loaded(page)


def login(page, server) -> None:
    """Only inside private_gallery()."""
    open_gallery(page, server, "#/login")
    expect(page.locator("#login-form")).to_be_visible()


def settings(page, server) -> None:
    """The owner's settings, once unlocked with the admin secret."""
    open_gallery(page, server, "#/settings")
    page.fill("#admin-secret", ADMIN_SECRET)
    page.press("#admin-secret", "Enter")
    expect(page.locator("#settings-form")).to_be_visible()


def downloads(page, server) -> None:
    """The download center, once unlocked with the admin secret."""
    open_gallery(page, server, "#/downloads")
    page.fill("#admin-secret", ADMIN_SECRET)
    page.click("#admin-form [type=submit]")
    expect(page.locator("#dl-tasks")).to_be_visible()


VIEWS: dict[str, Callable] = {"home": home, "album": album, "lightbox": lightbox, "timeline": timeline,
                              "search": search, "login": login, "settings": settings, "downloads": downloads}


@contextlib.contextmanager
def shown(page, server, view: str) -> Iterator[None]:
    """Open `view` and wait until it has drawn; the login view with the gallery private while the block runs."""
    with private_gallery(server) if view == "login" else contextlib.nullcontext():
        VIEWS[view](page, server)
        yield
