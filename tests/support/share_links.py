"""Share links for the API tests (issue 22): a small gallery, the admin's calls to /api/shares, and links put
into a state (expired, expiring soon) by changing their row, the clock being the one thing the tests fake."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from models import Share
from services import settings
from services.auth import passwords
from services.auth.passwords import hash_password
from tests.conftest import ADMIN_SECRET
from tests.support import images

ADMIN = {"X-Admin-Secret": ADMIN_SECRET}
GALLERY_PASSWORD = "gallery password 1"
SHARE_KEYS = {"id", "url", "token", "path", "kind", "title", "expiresAt", "hasPassword", "passwordHint",
              "allowDownload", "createdAt", "views", "lastViewedAt", "expired", "revoked", "revokedAt"}
OPEN_KEYS = {"path", "kind", "title", "expiresAt", "allowDownload", "hasPassword", "passwordHint", "accessToken",
             "csrfToken", "sessionExpiresAt"}
DAY_S = 86400
SLACK_S = 5  # between the test's clock readings and the server's


def gallery(photos_dir: Path) -> None:
    """album/a.jpg, album/sub/b.jpg, clips/c.mp4 (a video by its name) and album/notes.txt (not listed)."""
    images.jpeg(photos_dir / "album" / "a.jpg", (64, 48))
    images.jpeg(photos_dir / "album" / "sub" / "b.jpg", (64, 48))
    images.not_an_image(photos_dir / "clips" / "c.mp4")
    images.not_an_image(photos_dir / "album" / "notes.txt", "just text")


def create(client, path: str = "album", headers: dict | None = None, **fields) -> dict:
    """A new link made by the admin (201 asserted), as the share JSON."""
    response = client.post("/api/shares", json={"path": path, **fields}, headers={**ADMIN, **(headers or {})})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def listed(client) -> list[dict]:
    response = client.get("/api/shares", headers=ADMIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


def listed_one(client, share_id: int) -> dict:
    return next(item for item in listed(client) if item["id"] == share_id)


def expire_at(share_id: int, when: float) -> None:
    Share.update(expires_at=when).where(Share.id == share_id).execute()


def expire(share_id: int) -> None:
    expire_at(share_id, time.time() - 1)


def make_private() -> None:
    """A gallery password and no public access: nothing is read without a credential."""
    settings.write_settings({settings.PASSWORD_HASH: hash_password(GALLERY_PASSWORD),
                             settings.PASSWORD_ENABLED: "1", settings.ALLOW_PUBLIC_ACCESS: "0"}, bump_epoch=True)


def set_cookies(response) -> dict[str, str]:
    """Each Set-Cookie header by the cookie's name."""
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def attributes(header: str) -> dict[str, str]:
    """A Set-Cookie header's attributes by lower-case name (the name=value pair left out)."""
    parts = [part.strip() for part in header.split(";")[1:] if part.strip()]
    return {part.split("=", 1)[0].lower(): (part.split("=", 1)[1] if "=" in part else "") for part in parts}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body is not None and body["code"] == code and body["message"] and body["requestId"], body
    return body


# Fixtures of the share API tests (imported by them).


@pytest.fixture(autouse=True)
def quick_bcrypt(monkeypatch):
    """Cost 4 instead of 12: these tests check answers, not the hashing's cost."""
    monkeypatch.setattr(passwords, "BCRYPT_ROUNDS", 4)


@pytest.fixture
def client(client, photos_dir):
    """The test client over gallery()'s photos."""
    gallery(photos_dir)
    return client
