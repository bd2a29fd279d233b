"""ThumbHash placeholders: stored in the index when a thumbnail is made (request, background, batch), filled from
the small WebP of a thumbnail made before (never from the source), once."""

import base64
import threading

import pytest
import thash

from models import Media
from services import thumbnails
from services.gallery import thumbs
from services.gallery.index import Indexer
from services.thumbnails import Thumbnailer
from tests.support import images
from tests.support.waiting import counting, until


@pytest.fixture
def library(db, photos_dir):
    images.jpeg(photos_dir / "trip" / "wide.jpg", (1600, 800))
    images.jpeg(photos_dir / "trip" / "tall.jpg", (1200, 900), orientation=6)  # shown 900 x 1200
    images.png_alpha(photos_dir / "trip" / "clear.png", (200, 100))
    Indexer(photos_dir).scan()
    return photos_dir


def row(rel: str) -> Media:
    return Media.get(Media.path == rel)


def source(photos_dir, rel: str):
    return thumbs.source_for(photos_dir / rel, row(rel))


def decoded(placeholder: str) -> list[int]:
    return list(base64.b64decode(placeholder, validate=True))


def test_a_thumbnail_made_on_request_stores_its_thumbhash(library, config):
    thumbnailer = thumbs.make_thumbnailer(config)
    for rel, landscape in (("trip/wide.jpg", True), ("trip/tall.jpg", False), ("trip/clear.png", True)):
        assert row(rel).placeholder is None
        assert thumbnailer.get(source(library, rel)).status == "ok"
        hashed = decoded(row(rel).placeholder)
        assert 5 <= len(hashed) <= 25
        assert (thash.thumb_hash_to_approximate_aspect_ratio(hashed) > 1) is landscape
        width, height, rgba = thash.thumb_hash_to_rgba(hashed)
        assert (width > height) is landscape and len(rgba) == width * height * 4
    assert thash.thumb_hash_to_average_rgba(decoded(row("trip/clear.png").placeholder))[3] < 1  # alpha kept


def test_a_thumbnail_finished_in_the_background_stores_its_thumbhash(library, config, monkeypatch):
    gate = threading.Event()
    made = counting(monkeypatch, thumbnails, "_make_locked", gate)
    thumbnailer = thumbs.make_thumbnailer(config)
    monkeypatch.setattr(thumbnailer, "_wait_s", 0.0)  # answer "processing" at once, like a busy worker
    assert thumbnailer.get(source(library, "trip/wide.jpg")).status == "processing"
    until(lambda: made)
    gate.set()
    until(lambda: row("trip/wide.jpg").placeholder, "the background thumbnail left no placeholder")
    assert thash.thumb_hash_to_approximate_aspect_ratio(decoded(row("trip/wide.jpg").placeholder)) > 1


def test_a_thumbnail_made_before_gets_its_placeholder_from_the_webp_once(library, config, monkeypatch):
    old = Thumbnailer(config.data_dir / "thumbs", config.thumb_width, config.max_image_pixels)  # a release before
    assert old.get(source(library, "trip/wide.jpg")).status == "ok"
    assert row("trip/wide.jpg").placeholder is None
    from services.gallery import placeholders
    rendered = counting(monkeypatch, thumbnails, "_render")
    hashed = counting(monkeypatch, placeholders, "thumbhash_of")
    thumbnailer = thumbs.make_thumbnailer(config)
    assert thumbnailer.get(source(library, "trip/wide.jpg")).status == "ok"
    assert rendered == []  # the source was not decoded
    assert [str(args[0]).endswith(".webp") for args in hashed] == [True]  # the thumbnail was
    assert thash.thumb_hash_to_approximate_aspect_ratio(decoded(row("trip/wide.jpg").placeholder)) > 1
    assert thumbnailer.get(source(library, "trip/wide.jpg")).status == "ok"
    assert len(hashed) == 1  # once: the row has it now


def test_the_batch_fills_missing_placeholders_too(library, config):
    old = Thumbnailer(config.data_dir / "thumbs", config.thumb_width, config.max_image_pixels)
    assert old.get(source(library, "trip/wide.jpg")).status == "ok"
    thumbnailer = thumbs.make_thumbnailer(config)
    done, failed = thumbs.make_missing(thumbnailer, library, lambda *_: None)
    assert (done, failed) == (2, 0)  # thumbnails made: tall.jpg and clear.png; wide.jpg was there
    for rel in ("trip/wide.jpg", "trip/tall.jpg", "trip/clear.png"):
        assert decoded(row(rel).placeholder)


def test_a_changed_file_forgets_its_placeholder(library, config):
    thumbnailer = thumbs.make_thumbnailer(config)
    assert thumbnailer.get(source(library, "trip/wide.jpg")).status == "ok"
    assert row("trip/wide.jpg").placeholder
    images.jpeg(library / "trip" / "wide.jpg", (800, 1600), mtime=row("trip/wide.jpg").mtime + 5)
    Indexer(library).scan()
    assert row("trip/wide.jpg").placeholder is None
    assert thumbnailer.get(source(library, "trip/wide.jpg")).status == "ok"
    assert thash.thumb_hash_to_approximate_aspect_ratio(decoded(row("trip/wide.jpg").placeholder)) < 1


def test_a_cache_hit_without_the_index_fills_the_placeholder_once(library, config, monkeypatch):
    from services.gallery import placeholders
    old = Thumbnailer(config.data_dir / "thumbs", config.thumb_width, config.max_image_pixels)
    assert old.get(source(library, "trip/wide.jpg")).status == "ok"
    hashed = counting(monkeypatch, placeholders, "thumbhash_of")
    thumbnailer = thumbs.make_thumbnailer(config)
    plain = thumbnails.Source(library / "trip/wide.jpg", "trip/wide.jpg", row("trip/wide.jpg").mtime,
                              row("trip/wide.jpg").size, "photo")
    for _ in range(3):
        assert thumbnailer.cached(plain).status == "ok"
    assert len(hashed) == 1 and decoded(row("trip/wide.jpg").placeholder)


def test_details_read_again_keep_what_thumbnails_taught(library, config, photos_dir):
    thumbnailer = thumbs.make_thumbnailer(config)
    images.truncated_jpeg(photos_dir / "trip" / "broken.jpg")
    Indexer(library).scan()
    for rel in ("trip/wide.jpg", "trip/broken.jpg"):
        thumbnailer.get(source(library, rel))
    before = row("trip/wide.jpg").placeholder
    assert before and row("trip/broken.jpg").thumb_failed == 1
    Media.update(meta_version=0).execute()  # as if indexed by a release that read fewer details
    Indexer(library).scan()
    assert row("trip/wide.jpg").placeholder == before and row("trip/broken.jpg").thumb_failed == 1
    assert row("trip/wide.jpg").meta_version > 0


def test_a_thumbnail_served_over_http_from_before_gets_its_placeholder(client, photos_dir, config):
    images.jpeg(photos_dir / "trip" / "wide.jpg", (1600, 800))
    Indexer(photos_dir).scan()
    old = Thumbnailer(config.data_dir / "thumbs", config.thumb_width, config.max_image_pixels)
    assert old.get(source(photos_dir, "trip/wide.jpg")).status == "ok"
    item = client.get("/api/browse/trip").get_json()["items"][0]
    assert item["placeholder"] is None
    assert client.get(item["thumbnailUrl"]).status_code == 200
    item = client.get("/api/browse/trip").get_json()["items"][0]
    assert thash.thumb_hash_to_approximate_aspect_ratio(decoded(item["placeholder"])) > 1


def test_a_database_from_before_gets_the_columns(library, config):
    from models import database
    from services.database import init_db
    for table, column in (("media", "placeholder"), ("media", "thumb_failed"), ("folder", "cover_placeholder")):
        database.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    init_db()  # what the next start of the server runs
    assert row("trip/wide.jpg").placeholder is None and row("trip/wide.jpg").thumb_failed == 0
    assert thumbs.make_thumbnailer(config).get(source(library, "trip/wide.jpg")).status == "ok"
    assert decoded(row("trip/wide.jpg").placeholder)
