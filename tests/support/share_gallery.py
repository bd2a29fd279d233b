"""The gallery and the share-link steps of the security tests for issue 22 (tests/security/test_shares.py,
test_share_sessions.py, tests/integration/test_shares_server.py).

The gallery: "trip" is the shared album (a.jpg, b.jpg, sub/c.jpg, a link to the album "other" and one to a photo in
it); "trip-extra" shares the shared name's prefix; "other", "root.jpg" and the gallery root are outside. Each photo
is taken on July 14 of its own year (b.jpg in August), so timeline and memories tell the places apart.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from models import Share
from services.auth import passwords
from services.gallery.index import Indexer
from tests.support import exif
from tests.support.share_links import ADMIN, create, make_private

LINK_PASSWORD = "link password 1"
OUT = (403, "SHARE_SCOPE")


def write_tree(photos_dir: Path) -> Path:
    for rel, taken in (("trip/a.jpg", "2024:07:14"), ("trip/b.jpg", "2024:08:02"), ("trip/sub/c.jpg", "2022:07:14"),
                       ("other/secret.jpg", "2023:07:14"), ("other/o2.jpg", "2023:07:20"),
                       ("trip-extra/x.jpg", "2020:07:14"), ("root.jpg", "2021:07:14")):
        exif.photo(photos_dir / rel, taken=f"{taken} 12:00:00")
    os.symlink(photos_dir / "other", photos_dir / "trip" / "link-album")
    os.symlink(photos_dir / "other" / "secret.jpg", photos_dir / "trip" / "link-photo.jpg")
    return photos_dir


def outcome(response) -> tuple[int, str | None]:
    return response.status_code, (response.get_json(silent=True) or {}).get("code")


def open_link(client, token: str, password: str | None = None, **kwargs):
    return client.post(f"/api/share/{token}/open", json={} if password is None else {"password": password}, **kwargs)


def opened(client, share: dict, password: str | None = None) -> dict:
    response = open_link(client, share["token"], password)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def bearer(session: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['accessToken']}"}


def as_share(app, path: str, credential: str, **fields):
    """A client holding a share of `path` the way `credential` says ("cookie" or "bearer"), the headers its GETs
    send, the link and the open answer."""
    share = create(app.test_client(), path, **fields)
    browser = app.test_client()
    session = opened(browser, share, fields.get("password"))
    if credential == "bearer":
        return app.test_client(), bearer(session), share, session
    return browser, {}, share, session


def database_text() -> str:
    """Every row of every table, as text."""
    database = Share._meta.database
    return "\n".join(repr(row) for table in database.get_tables()
                     for row in database.execute_sql(f'SELECT * FROM "{table}"').fetchall())


# Fixtures of the security tests (imported by them).


@pytest.fixture(autouse=True)
def no_server_errors(caplog):
    """Bad input is a 4xx, never a 500: no request in these tests may fail on the server."""
    yield
    failed = [r.getMessage() for r in caplog.records if r.name == "photonix.http" and r.levelname == "ERROR"]
    assert failed == []


@pytest.fixture
def gallery(app, client, photos_dir, config, monkeypatch):
    monkeypatch.setattr(passwords, "BCRYPT_ROUNDS", 4)
    write_tree(photos_dir)
    Indexer(config.photos_dir).scan()
    # The links are served to the gallery's own users: a share's refusals below come from its scope.
    assert client.get("/api/file/trip/link-photo.jpg", headers=ADMIN).status_code == 200
    assert client.get("/api/browse/trip/link-album", headers=ADMIN).status_code == 200
    return client


@pytest.fixture(params=["open", "private"])
def mode(request, gallery):
    if request.param == "private":
        make_private()
    return request.param
