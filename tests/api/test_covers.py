"""Album covers skip photos whose thumbnail failed; items and albums carry ThumbHash placeholders."""

import base64
import os
import time

import pytest

from services.gallery.index import Indexer
from tests.support import images

NOW = time.time()


@pytest.fixture
def gallery(client, photos_dir, config):
    images.jpeg(photos_dir / "trip" / "day" / "older.jpg", (640, 480), mtime=NOW - 100)
    images.truncated_jpeg(photos_dir / "trip" / "day" / "newest.jpg")  # the header reads: 800 x 600
    os.utime(photos_dir / "trip" / "day" / "newest.jpg", (NOW - 10, NOW - 10))
    images.jpeg(photos_dir / "trip" / "first.jpg", mtime=NOW - 1000)
    Indexer(config.photos_dir).scan()
    return client


def album(client, parent: str, name: str) -> dict:
    items = client.get(f"/api/browse/{parent}").get_json()["items"]
    return next(item for item in items if item["type"] == "album" and item["name"] == name)


def covers(client) -> tuple[str, str]:
    return album(client, "trip", "day")["coverUrl"], album(client, "", "trip")["coverUrl"]


def test_a_failed_thumbnail_moves_the_cover_to_the_next_photo(gallery, photos_dir, config):
    day, trip = covers(gallery)
    assert "newest.jpg" in day and day == trip  # its header reads, so it is the cover at first
    response = gallery.get(day)
    assert response.status_code == 404 and response.headers["X-Thumb-Status"] == "failed"
    day, trip = covers(gallery)
    assert "older.jpg" in day and day == trip  # the album and its parent, at once
    assert gallery.get(day).status_code == 200

    images.jpeg(photos_dir / "trip" / "day" / "newest.jpg", (800, 600), mtime=NOW - 5)  # repaired
    Indexer(config.photos_dir).scan()
    day, trip = covers(gallery)
    assert "newest.jpg" in day and day == trip
    assert gallery.get(day).status_code == 200


def test_a_photo_broken_again_is_no_cover_once_its_thumbnail_failed(gallery, photos_dir, config):
    images.jpeg(photos_dir / "trip" / "day" / "newest.jpg", (800, 600), mtime=NOW - 5)
    Indexer(config.photos_dir).scan()
    assert gallery.get(covers(gallery)[0]).status_code == 200
    images.truncated_jpeg(photos_dir / "trip" / "day" / "newest.jpg")
    os.utime(photos_dir / "trip" / "day" / "newest.jpg", (NOW - 2, NOW - 2))
    Indexer(config.photos_dir).scan()
    assert gallery.get(covers(gallery)[0]).status_code == 404
    assert all("older.jpg" in url for url in covers(gallery))


def test_items_and_albums_carry_placeholders_once_thumbnails_are_made(gallery):
    items = gallery.get("/api/browse/trip").get_json()["items"]
    assert {item["name"]: item.get("placeholder", "absent") for item in items if item["type"] == "photo"} == {
        "first.jpg": None}
    assert album(gallery, "trip", "day")["coverPlaceholder"] is None
    for path in ("trip/first.jpg", "trip/day/older.jpg", "trip/day/newest.jpg"):
        gallery.get(f"/api/thumbnail?path={path}")
    first = next(item for item in gallery.get("/api/browse/trip").get_json()["items"] if item["name"] == "first.jpg")
    assert len(base64.b64decode(first["placeholder"], validate=True)) >= 5
    day = album(gallery, "trip", "day")
    assert "older.jpg" in day["coverUrl"] and base64.b64decode(day["coverPlaceholder"], validate=True)
    newest = next(item for item in gallery.get("/api/browse/trip/day").get_json()["items"]
                  if item["name"] == "newest.jpg")
    assert newest["placeholder"] is None  # its thumbnail failed: no placeholder
    search = gallery.get("/api/search?q=older").get_json()["items"]
    assert search[0]["placeholder"] == day["coverPlaceholder"]
