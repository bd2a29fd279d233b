"""Thumbnails over HTTP: caching headers by mode, 202 while busy, failures as 404 SVG, stats, batch, login-bg."""

import threading

import pytest
from PIL import Image

from models import Event
from services import settings, thumbnails
from services.auth.passwords import hash_password
from services.gallery import thumbs
from services.gallery.index import Indexer
from services.thumbnails import Thumbnailer
from tests.conftest import ADMIN_SECRET
from tests.support import images
from tests.support.servers import require_binary
from tests.support.waiting import counting, until

PASSWORD = "thumbnail password"


@pytest.fixture
def gallery(client, photos_dir, config):
    images.jpeg(photos_dir / "trip" / "big.jpg", (1600, 1200), orientation=6, gps=True)
    images.png(photos_dir / "trip" / "small.png", (200, 100))
    images.truncated_jpeg(photos_dir / "trip" / "broken.jpg")
    images.not_an_image(photos_dir / "trip" / "page.jpg")
    Indexer(config.photos_dir).scan()
    return client


def thumb(client, path, **headers):
    return client.get(f"/api/thumbnail?path={path}&v=1", headers=headers)


def use_thumbnailer(client, config, **options):
    client.application.extensions["photonix_thumbnailer"] = Thumbnailer(
        config.data_dir / "thumbs", config.thumb_width, config.max_image_pixels, on_ready=thumbs._announce, **options)


def test_a_thumbnail_is_a_small_webp_cached_for_good(gallery, tmp_path):
    response = thumb(gallery, "trip/big.jpg")
    assert response.status_code == 200 and response.mimetype == "image/webp"
    assert response.headers["X-Thumb-Status"] == "ready"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    path = tmp_path / "t.webp"
    path.write_bytes(response.data)
    with Image.open(path) as image:
        assert image.size == (500, 667) and not image.getexif()  # rotated upright, no EXIF/GPS left
    assert thumb(gallery, "trip/big.jpg", **{"If-None-Match": response.headers["ETag"]}).status_code == 304
    assert gallery.get("/api/thumbnail?path=trip/small.png").headers["Cache-Control"] == "public, max-age=60"


def test_private_gallery_thumbnails_are_private(gallery):
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)
    assert thumb(gallery, "trip/small.png").status_code == 401
    gallery.post("/api/auth/login", json={"password": PASSWORD})
    assert thumb(gallery, "trip/small.png").headers["Cache-Control"].startswith("private, ")
    login_bg = gallery.get("/api/login-bg")
    assert login_bg.status_code == 200 and login_bg.mimetype == "image/svg+xml"  # never a private photo


def test_broken_images_are_404_svgs_and_stay_in_the_gallery(gallery, photos_dir):
    for name in ("broken.jpg", "page.jpg"):
        before = (photos_dir / "trip" / name).read_bytes()
        response = thumb(gallery, f"trip/{name}")
        assert response.status_code == 404 and response.mimetype == "image/svg+xml"
        assert response.headers["X-Thumb-Status"] == "failed"
        assert (photos_dir / "trip" / name).read_bytes() == before
    names = [item["name"] for item in gallery.get("/api/browse/trip").get_json()["items"]]
    assert {"broken.jpg", "page.jpg"} <= set(names)


@pytest.mark.parametrize("url, status", [("/api/thumbnail", 400), ("/api/thumbnail?path=../x", 400),
                                         ("/api/thumbnail?path=trip/none.jpg", 404), ("/api/thumbnail?path=trip", 404)])
def test_bad_thumbnail_requests(gallery, url, status):
    assert gallery.get(url).status_code == status


def test_busy_pool_answers_202_then_announces(gallery, config, monkeypatch):
    gate = threading.Event()
    encodes = counting(monkeypatch, thumbnails, "_encode", gate)  # held until answered: a tiny PNG is quick
    use_thumbnailer(gallery, config, max_queued=0)
    response = thumb(gallery, "trip/small.png")
    assert response.status_code == 202 and response.mimetype == "image/svg+xml"
    assert response.headers["Retry-After"] == "2" and response.headers["X-Thumb-Status"] == "processing"
    assert response.headers["Cache-Control"] == "no-store"
    gate.set()
    until(lambda: Event.select().where(Event.type == "thumbnail-generated").exists(), "no thumbnail-generated event")
    assert len(encodes) == 1
    event = Event.get(Event.type == "thumbnail-generated")
    assert '"path":"trip/small.png"' in event.data
    assert thumb(gallery, "trip/small.png").status_code == 200


def test_video_without_ffmpeg_gets_a_placeholder(gallery, config, photos_dir):
    require_binary("ffmpeg")  # skips outside CI when missing, fails in CI
    images.video(photos_dir / "clips" / "clip.mp4")
    use_thumbnailer(gallery, config, ffmpeg=None)
    response = thumb(gallery, "clips/clip.mp4")
    assert response.status_code == 200 and response.headers["X-Thumb-Status"] == "placeholder"
    use_thumbnailer(gallery, config)
    response = thumb(gallery, "clips/clip.mp4")
    assert response.status_code == 200 and response.mimetype == "image/webp"


def test_stats_and_batch(gallery, config):
    thumb(gallery, "trip/small.png")
    stats = gallery.get("/api/thumbnail/stats").get_json()
    assert stats == {"total": 4, "ok": 1, "missing": 3, "failed": 0, "processing": 0}
    assert gallery.post("/api/thumbnail/batch").status_code == 403
    assert gallery.post("/api/thumbnail/batch", headers={"X-Admin-Secret": ADMIN_SECRET}).status_code == 202
    thumbs.run_batch(gallery.application.extensions["photonix_thumbnailer"], config.photos_dir, lambda: True)
    stats = gallery.get("/api/thumbnail/stats").get_json()
    assert stats == {"total": 4, "ok": 2, "missing": 0, "failed": 2, "processing": 0}
    complete = Event.get(Event.type == "thumbnail-batch-complete")
    assert '"done":3' in complete.data and '"failed":2' in complete.data
    assert Event.select().where(Event.type == "thumbnail-progress").exists()


def test_login_background_in_an_open_gallery_is_a_recent_photo(gallery):
    response = gallery.get("/api/login-bg")
    assert response.status_code == 302 and response.headers["Location"].startswith("/api/thumbnail?path=trip%2F")
    assert response.headers["Cache-Control"] == "no-store"
