"""Video streaming over HTTP (issue 23): items say how each video plays, the HLS rendition made by the batch plays
through /api/video (playlists parse, segments decode with ffprobe) with the originals' access rules (share links
included) and thumbnails' caching, and the status and batch endpoints."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from models import Event, Setting
from services import jobs
from services.gallery.index import Indexer
from services.video import batch
from tests.conftest import ADMIN_SECRET
from tests.support import images, videos
from tests.support.share_gallery import OUT, as_share, outcome
from tests.support.share_links import GALLERY_PASSWORD, make_private

ADMIN = {"X-Admin-Secret": ADMIN_SECRET}


@pytest.fixture
def gallery(client, photos_dir, config):
    """trip/hevc.mp4 and trip/old.avi (MPEG-4 Part 2): need a rendition; trip/plain.mp4 (H.264/AAC: plays as it
    is), trip/a.jpg, other/secret.mp4."""
    videos.make(photos_dir / "trip" / "hevc.mp4", videos.hevc_codec(), seconds=2, size=(320, 240))
    videos.make(photos_dir / "trip" / "old.avi", "mpeg4", seconds=1, size=(176, 144), audio="mp2")
    videos.make(photos_dir / "trip" / "plain.mp4", "h264", seconds=1, size=(160, 120))
    videos.make(photos_dir / "other" / "secret.mp4", "hevc", seconds=1, size=(160, 120), audio=None)
    images.jpeg(photos_dir / "trip" / "a.jpg", (64, 48))
    Indexer(config.photos_dir).scan()
    return client


def items(client, album="trip", headers=None):
    response = client.get(f"/api/browse/{album}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {item["name"]: item for item in response.get_json()["items"]}


def make_all(client):
    renditions = client.application.extensions["photonix_videos"]
    photos = client.application.extensions["photonix"].photos_dir
    batch.run_batch(renditions, photos, threads=1, keep_going=lambda: True)


def fetch(client, url, headers=None):
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
    return response


def play(client, url, tmp_path, headers=None) -> list[str]:
    """Follows a master playlist as a player does; every segment is checked with ffprobe. Returns segment names."""
    base = url.rsplit("/", 1)[0] + "/"
    master = fetch(client, url, headers)
    assert master.mimetype == "application/vnd.apple.mpegurl"
    played = []
    for variant in videos.playlist_uris(master.get_data(as_text=True)):
        listed = fetch(client, base + variant, headers)
        for segment in videos.playlist_uris(listed.get_data(as_text=True)):
            data = fetch(client, base + segment, headers)
            assert data.mimetype == "video/mp2t"
            path = tmp_path / urlsplit(segment).path
            path.write_bytes(data.data)
            assert videos.decodes(path)
            codecs = sorted(s["codec_name"] for s in videos.probe(path)["streams"])
            assert codecs == ["aac", "h264"]
            played.append(segment)
    return played


def test_items_say_how_each_video_plays(gallery):
    found = items(gallery)
    assert (found["plain.mp4"]["playable"], found["plain.mp4"]["hlsUrl"]) == ("direct", None)
    assert (found["hevc.mp4"]["playable"], found["hevc.mp4"]["hlsUrl"]) == ("pending", None)
    assert (found["old.avi"]["playable"], found["old.avi"]["type"]) == ("pending", "video")
    assert "playable" not in found["a.jpg"]
    make_all(gallery)
    found = items(gallery)
    assert found["hevc.mp4"]["playable"] == "hls"
    assert found["hevc.mp4"]["hlsUrl"].startswith("/api/video/trip/hevc.mp4/master.m3u8?v=")
    assert found["plain.mp4"]["playable"] == "direct"
    assert found["old.avi"]["playable"] == "hls"


def test_an_mpeg4_avi_plays_through_the_api(gallery, tmp_path):
    make_all(gallery)
    item = items(gallery)["old.avi"]
    assert play(gallery, item["hlsUrl"], tmp_path)
    poster = gallery.get(item["thumbnailUrl"])  # the lightbox's poster frame: ffmpeg reads AVI too
    assert poster.status_code == 200 and poster.headers["X-Thumb-Status"] == "ready"


def test_the_rendition_plays_through_the_api(gallery, tmp_path):
    make_all(gallery)
    url = items(gallery)["hevc.mp4"]["hlsUrl"]
    segments = play(gallery, url, tmp_path)
    assert segments and all("?v=" in s for s in segments)  # every address is versioned, so cached for good
    master = fetch(gallery, url)
    assert master.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert gallery.get(url, headers={"If-None-Match": master.headers["ETag"]}).status_code == 304
    base = url.rsplit("/", 1)[0] + "/"
    segment = gallery.get(base + segments[0], headers={"Range": "bytes=0-99"})
    assert segment.status_code == 200 and len(segment.data) > 100  # Range-free: segments are small and whole
    unversioned = fetch(gallery, "/api/video/trip/hevc.mp4/master.m3u8")
    assert unversioned.headers["Cache-Control"] == "public, max-age=60"
    assert all("?" not in uri for uri in videos.playlist_uris(unversioned.get_data(as_text=True)))


@pytest.mark.parametrize("url", [
    "/api/video/trip/hevc.mp4/master.m3u8",  # not made yet
    "/api/video/trip/plain.mp4/master.m3u8",  # plays as it is: no rendition
    "/api/video/trip/a.jpg/master.m3u8",  # a photo
    "/api/video/trip/none.mp4/master.m3u8",
])
def test_what_has_no_rendition_is_404(gallery, url):
    assert outcome(gallery.get(url)) == (404, "NOT_FOUND")


@pytest.mark.parametrize("name, expected", [
    ("ffmpeg.log", (404, "NOT_FOUND")), ("master.m3u8x", (404, "NOT_FOUND")), ("x.ts", (404, "NOT_FOUND")),
    ("..%2Fmaster.m3u8", (400, "INVALID_PATH")), ("240p_99999.ts", (404, "NOT_FOUND")),
])
def test_only_the_files_a_rendition_holds_are_served(gallery, name, expected):
    make_all(gallery)
    assert outcome(gallery.get(f"/api/video/trip/hevc.mp4/{name}")) == expected
    assert outcome(gallery.get("/api/video/trip/../other/secret.mp4/master.m3u8")) == (400, "INVALID_PATH")


def test_a_private_gallery_needs_a_login_and_answers_privately(gallery):
    make_all(gallery)
    url = items(gallery)["hevc.mp4"]["hlsUrl"]
    make_private()
    assert outcome(gallery.get(url)) == (401, "AUTH_REQUIRED")
    assert gallery.post("/api/auth/login", json={"password": GALLERY_PASSWORD}).status_code == 200
    assert fetch(gallery, url).headers["Cache-Control"] == "private, max-age=31536000, immutable"


@pytest.mark.parametrize("credential", ["cookie", "bearer"])
def test_a_share_reaches_its_videos_and_no_others(app, gallery, tmp_path, credential):
    make_all(gallery)
    make_private()
    client, headers, _, _ = as_share(app, "trip", credential)
    found = items(client, headers=headers)
    assert found["hevc.mp4"]["playable"] == "hls"
    assert play(client, found["hevc.mp4"]["hlsUrl"], tmp_path, headers)
    for name in ("master.m3u8", "120p.m3u8"):
        assert outcome(client.get(f"/api/video/other/secret.mp4/{name}", headers=headers)) == OUT
    assert outcome(client.get("/api/video/status", headers=headers)) == OUT


def test_a_shared_single_video_streams_and_nothing_beside_it(app, gallery, tmp_path):
    make_all(gallery)
    make_private()
    client, headers, _, _ = as_share(app, "trip/hevc.mp4", "bearer")
    info = client.get("/api/info?path=trip/hevc.mp4", headers=headers)
    assert info.status_code == 200 and info.get_json()["playable"] == "hls"
    assert play(client, info.get_json()["hlsUrl"], tmp_path, headers)
    assert outcome(client.get("/api/video/trip/old.avi/master.m3u8", headers=headers)) == OUT


def test_status_counts_and_the_batch_is_for_the_admin(gallery):
    before = gallery.get("/api/video/status").get_json()
    assert before == {"enabled": True, "videos": 4, "direct": 1, "ready": 0, "pending": 3, "running": 0, "failed": 0}
    assert outcome(gallery.post("/api/video/batch")) == (403, "ADMIN_REQUIRED")
    response = gallery.post("/api/video/batch", headers=ADMIN)
    assert response.status_code == 202 and response.get_json() == {"queued": True}
    assert Setting.get_or_none(Setting.key == jobs.REQUEST_KEY_PREFIX + batch.JOB_NAME) is not None
    make_all(gallery)
    after = gallery.get("/api/video/status").get_json()
    assert (after["ready"], after["pending"], after["direct"]) == (3, 0, 1)


def test_the_batch_announces_progress_and_ready_videos(gallery):
    make_all(gallery)
    published = [(e.type, json.loads(e.data)) for e in Event.select().order_by(Event.id)]
    ready = sorted(data["path"] for kind, data in published if kind == "video-ready")
    assert ready == ["other/secret.mp4", "trip/hevc.mp4", "trip/old.avi"]
    progress = [data for kind, data in published if kind == "video-progress"]
    assert progress and progress[-1]["done"] == progress[-1]["total"] == 3
    assert any(kind == "video-batch-complete" and data["made"] == 3 for kind, data in published)
