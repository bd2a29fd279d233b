"""Previews: the thumbnail engine fitting a box (the long edge), the preview and X-Accel-Redirect settings, and the
cache check that answers a made thumbnail from file checks alone."""

from __future__ import annotations

import pytest

from config import ConfigError, load_config
from services.gallery import thumbs as gallery_thumbs
from services.paths import resolve
from services.thumbnails import Source, Thumbnailer
from tests.support import images
from tests.support.made import opened, source_of, transposed_sizes
from tests.support.servers import require_binary

MAX_PIXELS = 200_000_000
SIZE = 512  # the smallest preview size: small test images still get shrunk


@pytest.fixture(autouse=True)
def pool(two_cpu_threads):
    """Every test here runs with the CPU pool at 2 threads."""


@pytest.fixture
def previews(tmp_path) -> Thumbnailer:
    return Thumbnailer(tmp_path / "previews", SIZE, MAX_PIXELS, height=SIZE)


@pytest.mark.parametrize("size, orientation, expected", [
    ((1600, 1200), None, (512, 384)),  # landscape: the width is the long edge
    ((1200, 1600), None, (384, 512)),  # portrait: the height is (a thumbnail would be 512 wide)
    ((1600, 1200), 6, (384, 512)),  # stored landscape, shown upright as a portrait
    ((2000, 500), None, (512, 128)),  # a panorama
    ((400, 300), None, (400, 300)),  # never enlarged
])
def test_a_preview_fits_its_long_edge(previews, tmp_path, size, orientation, expected):
    path = images.jpeg(tmp_path / "p.jpg", size, orientation=orientation, gps=True)
    result = previews.get(source_of(path))
    image = opened(result)
    assert image.size == expected
    assert not image.getexif() and b"GPS" not in result.path.read_bytes()


def test_a_rotated_preview_is_upright(previews, tmp_path):
    # The stored red channel runs dark (top) to bright (bottom); orientation 6 turns the top to the right.
    path = images.jpeg(tmp_path / "p.jpg", (1600, 1200), orientation=6)
    image = opened(previews.get(source_of(path))).convert("RGB")
    left, right = image.getpixel((10, 256))[0], image.getpixel((374, 256))[0]
    assert left - right > 150


def test_jpeg_draft_decoding_uses_the_preview_size(previews, tmp_path, monkeypatch):
    seen = transposed_sizes(monkeypatch)
    path = images.jpeg(tmp_path / "big.jpg", (4000, 3000))
    assert opened(previews.get(source_of(path))).size == (512, 384)
    # 1/4 is the smallest DCT scale still at least 512 x 384 (a 500-wide thumbnail decodes at 1/8: 500 x 375).
    assert seen == [(1000, 750)]


def test_previews_and_thumbnails_of_one_width_are_different_files(tmp_path):
    path = images.jpeg(tmp_path / "tall.jpg", (1200, 1600))
    thumb = Thumbnailer(tmp_path / "cache", SIZE, MAX_PIXELS).get(source_of(path))
    preview = Thumbnailer(tmp_path / "cache", SIZE, MAX_PIXELS, height=SIZE).get(source_of(path))
    assert thumb.etag != preview.etag
    assert opened(thumb).size == (512, 683) and opened(preview).size == (384, 512)


def test_a_video_preview_is_a_frame_at_preview_size(previews, tmp_path):
    require_binary("ffmpeg")  # skips outside CI when missing, fails in CI
    path = images.video(tmp_path / "clip.mp4", size=(1280, 720))
    assert opened(previews.get(source_of(path, "video"))).size == (512, 288)


def test_a_broken_file_fails_once_and_is_remembered(previews, tmp_path):
    path = images.truncated_jpeg(tmp_path / "broken.jpg")
    first = previews.get(source_of(path))
    assert (first.status, first.reason) == ("failed", "image is truncated")
    assert previews.status(source_of(path)) == "failed" and previews.cached(source_of(path)) == first


def test_cached_answers_only_what_is_on_disk(previews, tmp_path, loads):
    source = source_of(images.jpeg(tmp_path / "a.jpg"))
    assert previews.cached(source) is None
    made = previews.ensure(source)
    loads.clear()
    assert previews.cached(source) == made and loads == []


def test_the_cache_check_takes_only_media_the_gallery_lists(tmp_path):
    root = tmp_path / "photos"
    thumbnailer = Thumbnailer(tmp_path / "thumbs", 500, MAX_PIXELS)
    listed = images.jpeg(root / "trip" / "a.jpg")
    unlisted = images.jpeg(root / "download.part" / "a.jpg")  # a temp folder the scanner skips
    for path in (listed, unlisted):
        rel = path.relative_to(root).as_posix()
        thumbnailer.ensure(Source(path, rel, path.stat().st_mtime, path.stat().st_size, "photo"))
    assert gallery_thumbs.cached(thumbnailer, resolve(root, "trip/a.jpg")).status == "ok"
    assert gallery_thumbs.cached(thumbnailer, resolve(root, "download.part/a.jpg")) is None
    assert gallery_thumbs.cached(thumbnailer, resolve(root, "trip")) is None  # a folder


def test_preview_size_defaults_and_bounds(env):
    assert load_config(env).preview_size == 2048
    assert load_config({**env, "PHOTONIX_PREVIEW_SIZE": "1024"}).preview_size == 1024
    for bad in ("100", "9000", "big"):
        with pytest.raises(ConfigError) as caught:
            load_config({**env, "PHOTONIX_PREVIEW_SIZE": bad})
        assert caught.value.problems[0].startswith("PHOTONIX_PREVIEW_SIZE: ")


def test_accel_redirect_is_off_by_default_and_a_location_prefix(env):
    assert load_config(env).accel_redirect is None
    assert load_config({**env, "PHOTONIX_ACCEL_REDIRECT": "/_photonix/"}).accel_redirect == "/_photonix/"
    for bad in ("_photonix/", "/_photonix", "/a b/", "/x/../", "/x?y/", "http://x/"):
        with pytest.raises(ConfigError) as caught:
            load_config({**env, "PHOTONIX_ACCEL_REDIRECT": bad})
        assert caught.value.problems[0].startswith("PHOTONIX_ACCEL_REDIRECT: "), bad
