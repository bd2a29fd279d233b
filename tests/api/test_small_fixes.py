"""Issue #19 (small things) through the Flask test client: the browse root with a trailing slash, no
DecompressionBombWarning from thumbnails we judge by our own pixel limit, and one API rate-limit budget per client.
"""

from __future__ import annotations

import warnings

import pytest
from PIL import Image

from app import create_app
from config import load_config
from errors import ImageRejected
from services.database import init_db
from services.gallery.index import Indexer
from tests.support import images

MAX_PIXELS = 1_000_000  # PHOTONIX_MAX_IMAGE_PIXELS's minimum: images around it are cheap to write


@pytest.fixture
def env(env):
    return {**env, "PHOTONIX_MAX_IMAGE_PIXELS": str(MAX_PIXELS)}


@pytest.fixture
def gallery(client, photos_dir, config):
    images.jpeg(photos_dir / "trip" / "a.jpg", (64, 48))
    images.png(photos_dir / "cover.png", (64, 48))
    Indexer(config.photos_dir).scan()
    return client


def test_the_browse_root_answers_with_a_trailing_slash_as_without(gallery):
    bare = gallery.get("/api/browse?sort=name_asc")
    slashed = gallery.get("/api/browse/?sort=name_asc")
    assert slashed.status_code == 200 and slashed.get_json() == bare.get_json()
    assert gallery.get("/api/browse/trip/").get_json() == gallery.get("/api/browse/trip").get_json()
    # Still one path check: an empty name after the slash is an absolute path, not the root.
    response = gallery.get("/api/browse//")
    assert (response.status_code, response.get_json()["code"]) == (400, "INVALID_PATH")


def thumbnail_warnings(client, rel: str):
    """The response for rel's thumbnail and every DecompressionBombWarning raised while it was made."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = client.get("/api/thumbnail", query_string={"path": rel, "v": "1"})
    return response, [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_an_image_under_our_limit_but_over_pillows_warning_threshold_is_made_quietly(gallery, photos_dir,
                                                                                     monkeypatch):
    # Pillow warns above its MAX_IMAGE_PIXELS (and refuses above twice that); ours decides, before decoding.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", MAX_PIXELS * 6 // 10)
    images.png(photos_dir / "trip" / "big.png", (1000, 800))  # 0.8 MP: over 0.6 MP, under our 1 MP
    response, bomb_warnings = thumbnail_warnings(gallery, "trip/big.png")
    assert response.status_code == 200 and response.headers["X-Thumb-Status"] == "ready"
    assert bomb_warnings == []


def test_images_over_our_limit_are_refused_quietly(gallery, photos_dir):
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS  # set from the config by the app (services/gallery/thumbs.py)
    images.png(photos_dir / "trip" / "over.png", (1100, 1000))  # 1.1 MP: ours refuses, Pillow only warns
    images.png_bomb(photos_dir / "trip" / "bomb.png")  # 3.6 GP: Pillow refuses too
    for rel in ("trip/over.png", "trip/bomb.png"):
        response, bomb_warnings = thumbnail_warnings(gallery, rel)
        assert response.status_code == 404 and response.headers["X-Thumb-Status"] == "failed", rel
        assert bomb_warnings == [], rel
        status = gallery.get("/api/thumbnail", query_string={"path": rel, "v": "1"})
        assert status.status_code == 404 and status.mimetype == "image/svg+xml"  # remembered, still refused
    stats = gallery.get("/api/thumbnail/stats").get_json()
    assert stats["failed"] == 2


@pytest.fixture
def limited(env):
    app = create_app(load_config({**env, "PHOTONIX_RATE_LIMIT": "4/minute"}))
    init_db()
    return app.test_client()


def test_api_routes_draw_from_one_rate_limit_budget(limited):
    remaining = []
    for url in ("/api/browse", "/api/search?q=x", "/health", "/api/auth/status", "/api/thumbnail/stats"):
        response = limited.get(url)
        assert response.status_code == 200, url
        remaining.append(response.headers.get("X-RateLimit-Remaining"))
    assert remaining == ["3", "2", None, "1", "0"]  # /health is exempt: no budget drawn, no headers
    refused = limited.get("/api/search?q=y")
    assert refused.status_code == 429 and refused.get_json()["code"] == "RATE_LIMITED"
    assert int(refused.headers["Retry-After"]) > 0
    assert limited.get("/health").status_code == 200


@pytest.mark.parametrize("pixels", [(1000, 800), (1100, 1000)])  # under our 1 MP, then over it
def test_downloads_judge_images_by_our_limit_without_pillows_warning(tmp_path, monkeypatch, pixels):
    from services.downloads import store

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", MAX_PIXELS * 6 // 10)  # both sizes are over Pillow's threshold
    path = images.png(tmp_path / "big.png", pixels)
    limits = store.ImageLimits(min_bytes=1, max_pixels=MAX_PIXELS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            verdict = store.verify_image(path, limits)
        except ImageRejected as exc:
            verdict = exc.extra["reason"]
    assert verdict == (("PNG", *pixels) if pixels[0] * pixels[1] <= MAX_PIXELS else "too-many-pixels")
    assert [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)] == []
