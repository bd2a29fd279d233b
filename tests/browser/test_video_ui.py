"""Video streaming in headless Chromium against a real gunicorn (issue 23): an HEVC video, which Chromium cannot
play as it is, is made into HLS by the server's background job and plays in the lightbox (natively or through the
vendored hls.js: its time advances); while its rendition is being made the lightbox shows "Preparing video…" with
the progress the server announces, and switches to the stream when it is ready.

The rendition is held back by the test holding its lock (the server then counts it as being made elsewhere) until
the test releases it and asks for the batch: no timing decides anything here."""

from __future__ import annotations

import fcntl
import os

import pytest
import requests

from services.video.renditions import Renditions
from tests.browser.gallery import gallery_server, open_gallery
from tests.conftest import ADMIN_SECRET
from tests.support import images, videos
from tests.support.waiting import until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ALBUM = "Clips"
CLIP = f"{ALBUM}/phone.mp4"
PLAYING = "(sel) => { const v = document.querySelector(sel); return !!v && v.currentTime > 0.5; }"
NO_NATIVE_HLS = """(() => {
  const canPlayType = HTMLMediaElement.prototype.canPlayType;
  HTMLMediaElement.prototype.canPlayType = function (type) {
    return /mpegurl/i.test(type) ? "" : canPlayType.call(this, type);
  };
})()"""
RECORD_TEXTS = """() => {
  window.videoTexts = [];
  new MutationObserver(() => {
    const text = document.querySelector('#lightbox .video-progress-text')?.textContent;
    if (text && window.videoTexts.at(-1) !== text) window.videoTexts.push(text);
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
}"""


def status(server) -> dict:
    return requests.get(f"{server.url}/api/video/status", timeout=10).json()


def open_clip(page, server) -> None:
    open_gallery(page, server, f"#/browse/{ALBUM}")
    page.click(f'.media-card[data-path="{CLIP}"]')


def plays(page) -> str:
    """Waits until the lightbox's video advances (muted: autoplay with sound may be refused); returns the mode."""
    box = page.wait_for_selector("#lightbox .lightbox-video[data-video='native'], "
                                 "#lightbox .lightbox-video[data-video='hls.js']")
    page.evaluate("() => { const v = document.querySelector('#lightbox video'); v.muted = true; v.play(); }")
    page.wait_for_function(PLAYING, arg="#lightbox video")
    return box.get_attribute("data-video")


@pytest.mark.parametrize("mode", ["native", "hls.js"])
def test_an_hevc_video_plays_as_hls_in_the_lightbox(env, db, tmp_path, photos_dir, page, mode):
    """Chromium plays HLS itself; as a browser that cannot (Firefox, older Chrome), the vendored hls.js plays it."""
    if mode == "hls.js":
        page.add_init_script(NO_NATIVE_HLS)
    videos.make(photos_dir / CLIP, videos.hevc_codec(), seconds=3, size=(320, 240))
    images.jpeg(photos_dir / ALBUM / "a.jpg", (64, 48))
    with gallery_server(env, tmp_path) as server:
        # Made after the first scan found it (not at the batch's next interval): the batch logs when it ends.
        until(lambda: "video renditions: 1 made" in server.log(), "the server never made the rendition", 60)
        assert status(server)["ready"] == 1
        open_clip(page, server)
        assert plays(page) == mode
        requested = page.evaluate("() => performance.getEntriesByType('resource').map((e) => e.name)")
        assert any("/api/video/Clips/phone.mp4/master.m3u8" in url for url in requested)
        assert not any("/api/file/Clips/phone.mp4" in url for url in requested)  # never the HEVC original
        if mode == "hls.js":
            assert any(url.endswith(".ts") or ".ts?v=" in url for url in requested)
            assert any("/vendor/hls/hls.light.min.js" in url for url in requested)


@pytest.mark.parametrize("locale, preparing", [("en-US", "Preparing video…"), ("zh-CN", "正在准备视频…")])
def test_a_pending_video_shows_its_progress_then_plays(env, db, tmp_path, photos_dir, browser, locale, preparing):
    clip = videos.make(photos_dir / CLIP, videos.hevc_codec(), seconds=2, size=(320, 240))
    renditions = Renditions(tmp_path / "data" / "video", 200 * 1024 * 1024)
    key = renditions.key(CLIP, clip.stat().st_mtime, clip.stat().st_size)
    context = browser.new_context(locale=locale)
    context.set_default_timeout(15_000)
    page = context.new_page()
    lock = None
    try:
        renditions.root.mkdir(parents=True)
        lock = os.open(renditions.lock_path(key), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a build elsewhere would: the server leaves this video alone
        with gallery_server(env, tmp_path) as server:
            assert status(server)["running"] == 1  # indexed, and left alone while the test holds it
            open_clip(page, server)
            page.wait_for_selector("#lightbox .lightbox-video[data-video='pending'] .video-progress-text")
            assert page.text_content("#lightbox .video-progress-text") == preparing
            page.evaluate(RECORD_TEXTS)
            renditions.lock_path(key).unlink()  # released as a finished build releases it
            os.close(lock)
            lock = None
            asked = requests.post(f"{server.url}/api/video/batch", headers={"X-Admin-Secret": ADMIN_SECRET},
                                  timeout=10)
            assert asked.status_code == 202
            assert plays(page) in ("native", "hls.js")
            texts = page.evaluate("() => window.videoTexts")
            assert texts and all(text.startswith(preparing) and text.endswith("%") for text in texts), texts
    finally:
        context.close()
        if lock is not None:
            os.close(lock)


def test_a_video_ffmpeg_cannot_read_says_so(env, db, tmp_path, photos_dir, page):
    """A broken .mov: its rendition fails (remembered), the lightbox tries the original and then says the browser
    cannot play it (the download button stays)."""
    images.not_an_image(photos_dir / ALBUM / "broken.mov")
    with gallery_server(env, tmp_path) as server:
        until(lambda: "video renditions: 0 made, 1 failed" in server.log(), "the batch never tried the video", 60)
        assert status(server)["failed"] == 1
        open_gallery(page, server, f"#/browse/{ALBUM}")
        page.click(f'.media-card[data-path="{ALBUM}/broken.mov"]')
        page.wait_for_selector("#lightbox .lightbox-video[data-video='unplayable'] [role='alert']")
        assert page.text_content("#lightbox .video-note") == \
            "This browser cannot play this video. Download the original to watch it."
        assert page.is_visible("#lightbox a[download]")
