"""/api/preview and the serving path it shares with /api/thumbnail: a WebP fitting PHOTONIX_PREVIEW_SIZE on its long
edge under the thumbnail's rules and headers, previewUrl in items; a made image answered without the index; an
empty answer naming the cached file for nginx when PHOTONIX_ACCEL_REDIRECT is set."""

from __future__ import annotations

import io
import threading

import pytest
from PIL import Image

from app import create_app
from config import load_config
from services import settings, thumbnails
from services.auth.passwords import hash_password
from services.database import close_connection, init_db
from services.gallery.index import Indexer
from services.gallery.keys import version
from services.thumbnails import Source, Thumbnailer
from tests.support import images
from tests.support.servers import require_binary
from tests.support.waiting import counting, until

PASSWORD = "preview password"
SIZE = 512
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def env(env):
    return {**env, "PHOTONIX_PREVIEW_SIZE": str(SIZE)}  # the smallest: quick to make from small sources


@pytest.fixture
def gallery(client, photos_dir, config):
    images.jpeg(photos_dir / "trip" / "wide.jpg", (1200, 800), gps=True)
    images.jpeg(photos_dir / "trip" / "tall.jpg", (800, 1200))
    images.jpeg(photos_dir / "trip" / "turned.jpg", (1200, 800), orientation=6)
    images.png(photos_dir / "trip" / "small.png", (200, 100))
    images.truncated_jpeg(photos_dir / "trip" / "broken.jpg")
    images.not_an_image(photos_dir / "trip" / "clip.mp4")  # listed as a video by its name
    Indexer(config.photos_dir).scan()
    return client


def preview(client, path, **headers):
    return client.get(f"/api/preview?path={path}&v=1", headers=headers)


def size_of(response) -> tuple[int, int]:
    with Image.open(io.BytesIO(response.data)) as image:
        assert image.format == "WEBP" and not image.getexif()
        return image.size


def use_previewer(client, config, **options):
    client.application.extensions["photonix_previewer"] = Thumbnailer(
        config.data_dir / "previews", SIZE, config.max_image_pixels, height=SIZE, **options)


@pytest.mark.parametrize("name, size", [("wide.jpg", (512, 341)), ("tall.jpg", (341, 512)),
                                        ("turned.jpg", (341, 512)), ("small.png", (200, 100))])
def test_a_preview_fits_its_long_edge_upright_and_is_cached_for_good(gallery, name, size):
    response = preview(gallery, f"trip/{name}")
    assert (response.status_code, response.mimetype) == (200, "image/webp")
    assert response.headers["X-Thumb-Status"] == "ready" and response.headers["Cache-Control"] == IMMUTABLE
    assert size_of(response) == size  # upright, never enlarged, no EXIF (so no GPS)
    assert b"GPS" not in response.data
    assert preview(gallery, f"trip/{name}", **{"If-None-Match": response.headers["ETag"]}).status_code == 304
    assert gallery.get(f"/api/preview?path=trip/{name}").headers["Cache-Control"] == "public, max-age=60"


def test_previews_live_in_their_own_cache(gallery, config):
    preview(gallery, "trip/wide.jpg")
    assert [p.name for p in (config.data_dir / "previews").rglob("*.webp")]
    assert not (config.data_dir / "thumbs").exists()


def test_items_carry_a_preview_url_for_photos(gallery, photos_dir):
    items = {item["name"]: item for item in gallery.get("/api/browse/trip").get_json()["items"]}
    mtime = (photos_dir / "trip" / "wide.jpg").stat().st_mtime
    assert items["wide.jpg"]["previewUrl"] == f"/api/preview?path=trip%2Fwide.jpg&v={version(mtime)}"
    assert items["clip.mp4"]["previewUrl"] is None  # the lightbox plays the video (its poster: /api/preview)
    found = gallery.get("/api/search?q=wide").get_json()["items"]
    assert [item["previewUrl"] for item in found] == [items["wide.jpg"]["previewUrl"]]
    assert preview(gallery, "trip/wide.jpg").status_code == 200


def test_private_gallery_previews_are_private(gallery):
    assert preview(gallery, "trip/small.png").status_code == 200  # made while the gallery was open
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1"},
                            bump_epoch=True)
    refused = preview(gallery, "trip/small.png")
    assert refused.status_code == 401 and refused.get_json()["code"] == "AUTH_REQUIRED"
    assert gallery.get("/api/thumbnail?path=trip/small.png&v=1").status_code == 401
    gallery.post("/api/auth/login", json={"password": PASSWORD})
    allowed = preview(gallery, "trip/small.png")
    assert allowed.status_code == 200 and allowed.headers["Cache-Control"] == "private, max-age=31536000, immutable"


def test_a_broken_photo_fails_once_and_is_remembered(gallery, photos_dir, monkeypatch):
    before = (photos_dir / "trip" / "broken.jpg").read_bytes()
    decodes = counting(monkeypatch, thumbnails, "_render")
    for _ in range(2):
        response = preview(gallery, "trip/broken.jpg")
        assert (response.status_code, response.mimetype) == (404, "image/svg+xml")
        assert response.headers["X-Thumb-Status"] == "failed"
    assert len(decodes) == 1 and (photos_dir / "trip" / "broken.jpg").read_bytes() == before


def test_a_busy_pool_answers_202_until_the_preview_is_made(gallery, config, monkeypatch):
    gate = threading.Event()
    encodes = counting(monkeypatch, thumbnails, "_encode", gate)  # held until answered
    use_previewer(gallery, config, max_queued=0)
    response = preview(gallery, "trip/wide.jpg")
    assert (response.status_code, response.mimetype) == (202, "image/svg+xml")
    assert response.headers["Retry-After"] == "2" and response.headers["X-Thumb-Status"] == "processing"
    assert response.headers["Cache-Control"] == "no-store"
    gate.set()
    until(lambda: preview(gallery, "trip/wide.jpg").status_code == 200, "the preview was never made")
    assert len(encodes) == 1


def test_a_video_preview_is_its_frame_at_preview_size(gallery, config, photos_dir):
    require_binary("ffmpeg")  # skips outside CI when missing, fails in CI
    images.video(photos_dir / "clips" / "wide.mp4", size=(1280, 720))
    response = preview(gallery, "clips/wide.mp4")
    assert response.headers["X-Thumb-Status"] == "ready" and size_of(response) == (512, 288)
    use_previewer(gallery, config, ffmpeg=None)
    images.video(photos_dir / "clips" / "other.mp4")
    response = preview(gallery, "clips/other.mp4")
    assert response.status_code == 200 and response.headers["X-Thumb-Status"] == "placeholder"


@pytest.mark.parametrize("url, status", [("/api/preview", 400), ("/api/preview?path=../x", 400),
                                         ("/api/preview?path=trip/none.jpg", 404), ("/api/preview?path=trip", 404),
                                         ("/api/preview?path=.hidden/a.jpg", 400)])
def test_bad_preview_requests(gallery, url, status):
    response = gallery.get(url)
    assert response.status_code == status and response.is_json


@pytest.mark.parametrize("endpoint", ["thumbnail", "preview"])
def test_a_made_image_is_answered_without_the_index(gallery, monkeypatch, endpoint):
    lookups = counting(monkeypatch, Indexer, "media")
    for name in ("small.png", "broken.jpg"):
        first = gallery.get(f"/api/{endpoint}?path=trip/{name}&v=1")
        again = gallery.get(f"/api/{endpoint}?path=trip/{name}&v=1")
        assert first.status_code == again.status_code and first.data == again.data
        assert first.headers["ETag" if name == "small.png" else "X-Thumb-Status"] == \
            again.headers["ETag" if name == "small.png" else "X-Thumb-Status"]
    assert len(lookups) == 2  # the first request for each made it, through the index


def plant(client, photos_dir, rel: str) -> None:
    """A made thumbnail for `rel` in the cache (as a stale or planted cache file would be)."""
    path = images.jpeg(photos_dir / rel)
    made = client.application.extensions["photonix_thumbnailer"].ensure(
        Source(path, rel, path.stat().st_mtime, path.stat().st_size, "photo"))
    assert made.status == "ok"


def test_a_made_image_of_a_file_the_gallery_does_not_list_is_never_answered(gallery, photos_dir):
    plant(gallery, photos_dir, "trip/~$draft.jpg")  # an office temp name: never listed
    response = gallery.get("/api/thumbnail?path=trip/~$draft.jpg&v=1")
    assert response.status_code == 404 and response.get_json()["code"] == "NOT_FOUND"


def test_a_file_in_a_folder_the_gallery_does_not_list_is_never_answered(gallery, photos_dir):
    """Asking for a file in a temp-named folder (download.part) used to make the index sync that folder, which
    then served the file and showed the folder in the root listing."""
    plant(gallery, photos_dir, "download.part/a.jpg")  # a temp folder: the scan skips it
    for url in ("/api/thumbnail?path=download.part/a.jpg&v=1", "/api/preview?path=download.part/a.jpg&v=1",
                "/api/file/download.part/a.jpg", "/api/info?path=download.part/a.jpg", "/api/browse/download.part",
                "/api/timeline?path=download.part"):
        response = gallery.get(url)
        assert (response.status_code, response.get_json()["code"]) == (404, "NOT_FOUND"), url
    assert "download.part" not in [item["name"] for item in gallery.get("/api/browse").get_json()["items"]]


def test_a_replaced_photo_gets_a_new_image(gallery, photos_dir):
    first = preview(gallery, "trip/wide.jpg")
    images.jpeg(photos_dir / "trip" / "wide.jpg", (600, 900), mtime=1_700_000_000)
    second = preview(gallery, "trip/wide.jpg")
    assert second.headers["ETag"] != first.headers["ETag"] and size_of(second) == (341, 512)


@pytest.fixture
def accel(env, photos_dir):
    """An app answering made images with X-Accel-Redirect under /_photonix/."""
    config = load_config({**env, "PHOTONIX_ACCEL_REDIRECT": "/_photonix/"})
    app = create_app(config)
    init_db()
    images.png(photos_dir / "trip" / "small.png", (200, 100))
    images.truncated_jpeg(photos_dir / "trip" / "broken.jpg")
    Indexer(config.photos_dir).scan()
    yield app.test_client(), config
    close_connection()


@pytest.mark.parametrize("endpoint, folder", [("thumbnail", "thumbs"), ("preview", "previews")])
def test_with_accel_redirect_nginx_sends_the_made_file(accel, endpoint, folder):
    client, config = accel
    url = f"/api/{endpoint}?path=trip/small.png&v=1"
    response = client.get(url)
    assert (response.status_code, response.data, response.mimetype) == (200, b"", "image/webp")
    key = response.headers["ETag"].strip('"')
    assert response.headers["X-Accel-Redirect"] == f"/_photonix/{folder}/{key[:2]}/{key[2:4]}/{key}.webp"
    assert (config.data_dir / folder / key[:2] / key[2:4] / f"{key}.webp").is_file()
    assert response.headers["Cache-Control"] == IMMUTABLE and response.headers["X-Thumb-Status"] == "ready"
    again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and "X-Accel-Redirect" not in again.headers
    failed = client.get(f"/api/{endpoint}?path=trip/broken.jpg&v=1")
    assert failed.status_code == 404 and failed.mimetype == "image/svg+xml" and "X-Accel-Redirect" not in failed.headers
