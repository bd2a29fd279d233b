"""services/thumbnails.py on real files: orientation, metadata, remembered failures, single flight, bounded waits."""

from __future__ import annotations

import os
import shutil
import threading
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from defusedxml import ElementTree
from PIL import Image, ImageCms

from services import images as images_module
from services import thumbnails
from services.decode_budget import Budget
from services.thumbnails import Result, Source, Thumbnailer, placeholder_svg
from tests.support import images, waiting
from tests.support.flat_png import flat_png
from tests.support.made import opened, source_of, transposed_sizes
from tests.support.scripts import run_script
from tests.support.servers import require_binary
from tests.support.waiting import until

WIDTH = 500
MAX_PIXELS = 200_000_000
MIB = 1024 * 1024
FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.usefixtures("ffmpeg_installed")


@pytest.fixture
def ffmpeg_installed():
    """Skip outside CI when ffmpeg is missing; in CI (.ci/run installs it) fail instead."""
    require_binary("ffmpeg")


GEVENT_SCRIPT = """
import json
import sys
from collections import Counter
from pathlib import Path

from gevent import monkey

monkey.patch_all()

from services import cpu
from services.thumbnails import Source, Thumbnailer
from tests.support import images

root, ffmpeg = Path(sys.argv[1]), sys.argv[2] or None
sources = [images.jpeg(root / "a.jpg", orientation=6)]
if ffmpeg:
    sources.append(images.video(root / "b.mp4"))
thumbs = Thumbnailer(root / "cache", 500, 200_000_000, ffmpeg=ffmpeg)
found = []
for path in sources:
    stat = path.stat()
    kind = "video" if path.suffix == ".mp4" else "photo"
    found.append(thumbs.get(Source(path, path.name, stat.st_mtime, stat.st_size, kind)).status)
cpu.shutdown()
print(json.dumps(found))
"""


@pytest.fixture(autouse=True)
def pool(two_cpu_threads):
    """Every test here runs with the CPU pool at 2 threads."""


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def thumbs(cache) -> Thumbnailer:
    return Thumbnailer(cache, WIDTH, MAX_PIXELS)


def counting(monkeypatch, name: str, gate: threading.Event | None = None) -> list[tuple]:
    """Count each call of thumbnails.<name> (optionally held at a gate the test releases)."""
    return waiting.counting(monkeypatch, thumbnails, name, gate)


@pytest.mark.parametrize("orientation, left_is_dark", [(6, False), (8, True)])
def test_exif_orientation_gives_an_upright_portrait(thumbs, tmp_path, orientation, left_is_dark):
    # The stored red channel runs dark (top) to bright (bottom): 6 turns the top to the right, 8 to the left.
    path = images.jpeg(tmp_path / "p.jpg", (640, 480), orientation=orientation)
    image = opened(thumbs.get(source_of(path))).convert("RGB")
    assert image.size == (480, 640)  # fits 500 x 1500 already: never upscaled
    left, right = image.getpixel((10, 320))[0], image.getpixel((470, 320))[0]
    assert abs(left - right) > 150 and (left < right) is left_is_dark


def test_a_large_photo_is_drafted_small_before_transposing(thumbs, tmp_path, monkeypatch):
    seen = transposed_sizes(monkeypatch)
    path = images.jpeg(tmp_path / "big.jpg", (4000, 3000))
    assert opened(thumbs.get(source_of(path))).size == (500, 375)
    assert seen == [(500, 375)]  # shrink-on-load to the thumbnail size (1/8), not 4000 x 3000


def test_a_large_rotated_photo_fits_the_width(thumbs, tmp_path):
    path = images.jpeg(tmp_path / "tall.jpg", (4000, 3000), orientation=6)
    assert opened(thumbs.get(source_of(path))).size == (500, 667)


def test_exif_and_gps_are_not_copied(thumbs, tmp_path):
    path = images.jpeg(tmp_path / "gps.jpg", orientation=6, gps=True)
    result = thumbs.get(source_of(path))
    assert not opened(result).getexif()
    data = result.path.read_bytes()
    assert b"EXIF" not in data and b"XMP " not in data and b"GPS" not in data


def test_the_icc_profile_stays(thumbs, tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "icc.jpg"
    Image.new("RGB", (64, 48), (10, 200, 90)).save(path, "JPEG", icc_profile=icc)
    assert opened(thumbs.get(source_of(path))).info.get("icc_profile") == icc


def test_png_alpha_stays_transparent(thumbs, tmp_path):
    image = opened(thumbs.get(source_of(images.png_alpha(tmp_path / "a.png", (200, 100)))))
    assert image.mode == "RGBA" and image.size == (200, 100)
    assert image.getpixel((150, 50))[3] == 0
    red, _, _, alpha = image.getpixel((50, 50))
    assert alpha == 255 and red > 180


def test_an_animated_gif_gives_its_first_frame(thumbs, tmp_path):
    image = opened(thumbs.get(source_of(images.gif_animation(tmp_path / "anim.gif", frames=3))))
    assert getattr(image, "n_frames", 1) == 1 and image.size == (120, 90)
    red, green, blue = image.convert("RGB").getpixel((60, 45))
    assert red < 20 and abs(green - 100) < 12 and abs(blue - 150) < 12  # frame 0 is (0, 100, 150)


def test_a_truncated_jpeg_fails_once_and_is_left_alone(thumbs, cache, tmp_path, monkeypatch):
    path = images.truncated_jpeg(tmp_path / "broken.jpg")
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    decodes = counting(monkeypatch, "_render")
    first = thumbs.get(source_of(path))
    assert (first.status, first.reason, first.path) == ("failed", "image is truncated", None)
    assert (cache / first.etag[:2] / first.etag[2:4] / f"{first.etag}.failed").read_text() == "image is truncated"
    assert thumbs.status(source_of(path)) == "failed"
    assert thumbs.get(source_of(path)) == first and thumbs.ensure(source_of(path)) == first
    assert len(decodes) == 1
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_html_named_jpg_fails(thumbs, tmp_path):
    result = thumbs.get(source_of(images.not_an_image(tmp_path / "page.jpg")))
    assert result.status == "failed" and "not an image" in result.reason
    assert str(tmp_path) not in result.reason


def test_a_png_bomb_is_refused_without_decoding(thumbs, tmp_path, loads):
    result = thumbs.get(source_of(images.png_bomb(tmp_path / "bomb.png")))
    assert (result.status, result.reason) == ("failed", "image too large: 3600000000 pixels")
    assert loads == []


def test_max_pixels_is_checked_before_decoding(cache, tmp_path, loads):
    thumbs = Thumbnailer(cache, WIDTH, max_pixels=10_000)
    result = thumbs.get(source_of(images.png(tmp_path / "p.png", (320, 240))))
    assert (result.status, result.reason) == ("failed", "image too large: 76800 pixels")
    assert loads == []
    assert Thumbnailer(cache, 300, MAX_PIXELS).get(source_of(tmp_path / "p.png")).status == "ok"
    assert loads  # the spy does see a decode


def render_bytes(path) -> int:
    """What the render of `path` holds at its peak, from its header (as _render reckons before decoding)."""
    with Image.open(path) as image:
        thumbnails._draft(image, (WIDTH, 3 * WIDTH))
        return thumbnails._render_bytes(image)


@pytest.mark.parametrize(("mode", "per_pixel"), [
    ("RGB", 4),  # decoded only
    ("RGBA", 8),  # decoded, then premultiplied at full size by Pillow's resize
    ("L", 5),  # decoded, then converted to RGB at full size
])
def test_the_decode_estimate_counts_the_full_size_copies_of_the_render(tmp_path, loads, mode, per_pixel):
    path = flat_png(tmp_path / "a.png", (3000, 2000), mode)
    assert render_bytes(path) == 3000 * 2000 * per_pixel
    assert loads == []


def test_a_big_jpeg_is_estimated_at_its_draft_size(tmp_path, loads):
    path = images.jpeg(tmp_path / "big.jpg", (4000, 3000))
    assert render_bytes(path) == 500 * 375 * 4  # decoded at 1/8
    assert loads == []


def test_an_image_over_the_decode_budget_alone_is_refused_without_decoding(cache, tmp_path, loads):
    path = flat_png(tmp_path / "wide.png", (3000, 2000), "RGBA")  # 46 MiB with its premultiplied copy
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    thumbs = Thumbnailer(cache, WIDTH, MAX_PIXELS, budget=Budget(32 * MIB))
    result = thumbs.get(source_of(path))
    reason = "image too large to decode: 46 MiB needed, the decode memory budget is 32 MiB"
    assert (result.status, result.reason) == ("failed", reason)
    assert loads == [] and thumbs.status(source_of(path)) == "failed"  # remembered, like a pixel bomb
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert Thumbnailer(cache / "other", WIDTH, MAX_PIXELS, budget=Budget(64 * MIB)).get(source_of(path)).status == "ok"


def test_thumbnails_that_together_exceed_the_budget_are_decoded_one_after_the_other(cache, tmp_path, monkeypatch):
    gate = threading.Event()
    encodes = counting(monkeypatch, "_encode", gate=gate)
    budget = Budget(40 * MIB)  # each needs 23 MiB: one at a time
    thumbs = Thumbnailer(cache, WIDTH, MAX_PIXELS, budget=budget)
    sources = [source_of(flat_png(tmp_path / f"{n}.png", (3000, 2000), "RGB", value=n)) for n in range(2)]
    results: list[Result] = []
    callers = [threading.Thread(target=lambda s=s: results.append(thumbs.ensure(s))) for s in sources]
    callers[0].start()
    until(lambda: len(encodes) == 1, "the first thumbnail never reached its encode")
    callers[1].start()
    until(lambda: budget.waiting == 1, "the second thumbnail never waited for the budget")
    assert len(encodes) == 1 and budget.used == 3000 * 2000 * 4
    gate.set()
    for caller in callers:
        caller.join(30)
    assert [r.status for r in results] == ["ok", "ok"] and len(encodes) == 2
    assert (budget.used, budget.waiting) == (0, 0)


def test_heic_without_pillow_heif_fails_with_the_reason(thumbs, tmp_path, monkeypatch):
    monkeypatch.setattr(images_module, "heic_supported", lambda: False)  # as where it is not installed
    path = tmp_path / "phone.heic"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(64))
    result = thumbs.get(source_of(path))
    assert (result.status, result.reason) == ("failed", "HEIC support not installed")
    assert thumbs.status(source_of(path)) == "missing"  # no marker: installing pillow-heif fixes it


@needs_ffmpeg
@pytest.mark.parametrize("seconds", [2, 0.5])  # 0.5 s: no frame at 1 s, so the first frame
def test_a_video_gives_a_frame(thumbs, tmp_path, seconds):
    path = images.video(tmp_path / "clip.mp4", seconds=seconds)
    assert opened(thumbs.get(source_of(path, "video"))).size == (320, 240)


@needs_ffmpeg
def test_a_broken_video_fails_and_is_remembered(thumbs, tmp_path):
    path = images.not_an_image(tmp_path / "fake.mp4")
    result = thumbs.get(source_of(path, "video"))
    assert result.status == "failed" and result.reason.startswith("ffmpeg could not read a frame")
    assert str(tmp_path) not in result.reason
    assert thumbs.status(source_of(path, "video")) == "failed"


def test_a_video_without_ffmpeg_gets_a_placeholder(cache, tmp_path):
    thumbs = Thumbnailer(cache, WIDTH, MAX_PIXELS, ffmpeg=None)
    result = thumbs.get(Source(tmp_path / "clip.mp4", "clip.mp4", 1.0, 10, "video"))
    assert result.status == "placeholder" and result.path is None and len(result.etag) == 64


def test_the_cache_key_follows_mtime_size_and_width(cache, tmp_path):
    path = images.jpeg(tmp_path / "2024" / "a.jpg", mtime=1_700_000_000)
    old = Thumbnailer(cache, WIDTH, MAX_PIXELS).get(source_of(path))
    again = Thumbnailer(cache, WIDTH, MAX_PIXELS).get(source_of(path))
    images.jpeg(path, (320, 200), mtime=1_700_000_100)  # the photo is replaced
    new = Thumbnailer(cache, WIDTH, MAX_PIXELS).get(source_of(path))
    narrow = Thumbnailer(cache, 200, MAX_PIXELS).get(source_of(path))
    assert old == again
    assert len({old.etag, new.etag, narrow.etag}) == 3
    assert opened(old).size == (500, 375) and opened(new).size == (320, 200) and opened(narrow).size == (200, 125)


def test_files_appear_whole_or_not_at_all(thumbs, cache, tmp_path, monkeypatch):
    path = images.jpeg(tmp_path / "a.jpg")

    def refuse(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(thumbnails.os, "replace", refuse)
    failed = thumbs.get(source_of(path))
    assert failed.status == "failed" and "OSError" in failed.reason
    assert [p for p in cache.rglob("*") if p.is_file()] == []  # no temp, no lock, no marker for a full disk
    monkeypatch.undo()
    result = thumbs.get(source_of(path))
    assert result.path == cache / result.etag[:2] / result.etag[2:4] / f"{result.etag}.webp"
    assert opened(result).size == (500, 375)
    assert [p.name for p in cache.rglob("*") if p.is_file()] == [f"{result.etag}.webp"]


def test_status_only_looks_at_files(thumbs, tmp_path, monkeypatch):
    decodes = counting(monkeypatch, "_render")
    source = source_of(images.png(tmp_path / "p.png"))
    assert thumbs.status(source) == "missing" and decodes == []
    assert thumbs.ensure(source).status == "ok"
    assert thumbs.status(source) == "ok" and len(decodes) == 1


def test_one_hundred_callers_make_one_thumbnail(thumbs, tmp_path, monkeypatch):
    gate = threading.Event()
    encodes = counting(monkeypatch, "_encode", gate)  # held until every caller has asked
    source = source_of(images.jpeg(tmp_path / "a.jpg"))
    start = threading.Barrier(100)
    asked: list[int] = []
    results: list[Result] = []

    def ask():
        start.wait(10)
        asked.append(1)
        results.append(thumbs.get(source))

    callers = [threading.Thread(target=ask) for _ in range(100)]
    for caller in callers:
        caller.start()
    waiting.until(lambda: len(asked) == 100 and encodes, "the callers never all asked during the first encode")
    gate.set()
    for caller in callers:
        caller.join(30)
    assert len(encodes) == 1
    assert len(results) == 100 and {(r.status, r.path) for r in results} == {("ok", results[0].path)}


def test_two_workers_sharing_the_cache_make_one_thumbnail(cache, tmp_path, monkeypatch):
    # Two Thumbnailers stand for two gunicorn workers: separate in-flight maps, one flock per key.
    gate = threading.Event()
    encodes = counting(monkeypatch, "_encode", gate)  # held until every caller has asked
    source = source_of(images.jpeg(tmp_path / "a.jpg"))
    workers = [Thumbnailer(cache, WIDTH, MAX_PIXELS), Thumbnailer(cache, WIDTH, MAX_PIXELS)]
    asked: list[int] = []
    results: list[Result] = []

    def ask(worker: Thumbnailer) -> None:
        asked.append(1)
        results.append(worker.ensure(source))

    callers = [threading.Thread(target=ask, args=(w,)) for w in workers * 5]
    for caller in callers:
        caller.start()
    waiting.until(lambda: len(asked) == 10 and encodes, "the callers never all asked during the first encode")
    gate.set()
    for caller in callers:
        caller.join(30)
    assert len(encodes) == 1 and {r.status for r in results} == {"ok"} and len(results) == 10
    assert not list(cache.rglob("*.lock"))


def test_a_saturated_pool_answers_processing_then_reports_ready(cache, tmp_path, monkeypatch):
    ready, gate = threading.Event(), threading.Event()
    seen: list[Source] = []

    def on_ready(source):
        seen.append(source)
        ready.set()

    encodes = counting(monkeypatch, "_encode", gate=gate)  # held until answered: a tiny JPEG must not win the race
    thumbs = Thumbnailer(cache, WIDTH, MAX_PIXELS, max_queued=0, on_ready=on_ready)
    source = source_of(images.jpeg(tmp_path / "a.jpg"))
    first = thumbs.get(source)
    assert (first.status, first.path) == ("processing", None)
    gate.set()
    assert ready.wait(10) and seen == [source] and len(encodes) == 1
    later = thumbs.get(source)
    assert later.status == "ok" and later.etag == first.etag


def test_a_slow_thumbnail_answers_processing_after_wait_s(cache, tmp_path, monkeypatch):
    gate, ready = threading.Event(), threading.Event()
    counting(monkeypatch, "_encode", gate=gate)
    thumbs = Thumbnailer(cache, WIDTH, MAX_PIXELS, wait_s=0.05, on_ready=lambda source: ready.set())
    source = source_of(images.jpeg(tmp_path / "a.jpg"))
    assert thumbs.get(source).status == "processing"
    assert thumbs.in_flight() == 1
    gate.set()
    assert ready.wait(10)
    assert thumbs.get(source).status == "ok" and thumbs.in_flight() == 0


def test_an_on_ready_error_is_logged_not_raised(cache, tmp_path, caplog, monkeypatch):
    gate = threading.Event()

    def on_ready(source):
        raise RuntimeError("event bus down")

    counting(monkeypatch, "_encode", gate=gate)  # held until answered: a tiny PNG must not win the race
    thumbs = Thumbnailer(cache, WIDTH, MAX_PIXELS, max_queued=0, on_ready=on_ready)
    source = source_of(images.png(tmp_path / "p.png"))
    assert thumbs.get(source).status == "processing"
    gate.set()
    until(lambda: "on_ready failed" in caplog.text, "on_ready's error was never logged")
    assert "on_ready failed for p.png" in caplog.text
    assert thumbs.get(source).status == "ok"


def test_quality_tiers_follow_the_source_pixels():
    assert [thumbnails._quality(p) for p in (1, 4_000_000, 4_000_001, 16_000_000, 16_000_001)] == [80, 80, 70, 70, 65]


@pytest.mark.parametrize("kind", ["processing", "failed", "video"])
def test_placeholder_svgs_are_small_and_self_contained(kind):
    data = placeholder_svg(kind)
    assert ElementTree.fromstring(data).tag == "{http://www.w3.org/2000/svg}svg"
    assert len(data) < 1024 and b"href" not in data and b"url(" not in data


def test_under_gevent_photos_and_videos_are_made(tmp_path):
    assert run_script(tmp_path, GEVENT_SCRIPT, str(tmp_path), FFMPEG or "") == ["ok"] * (2 if FFMPEG else 1)
    assert os.path.isdir(tmp_path / "cache")


def test_a_million_photos_put_at_most_a_few_dozen_files_in_any_cache_folder(tmp_path):
    """Issue 24: no cache folder holds 10,000 files. Files go two levels down by their key (256 × 256 folders): a
    quarter of a million photos named alike (years × 12 months × 4,167) spread evenly, so a million put ~15
    thumbnails in a folder (34 at most, measured once with the whole million; four times fewer checked here)."""
    thumbs = Thumbnailer(tmp_path / "cache", WIDTH, MAX_PIXELS)
    source = Source(tmp_path / "p.jpg", "2001/event-00/img_00000.jpg", 1_000_000_000.0, 1234, "photo")
    files = thumbs._files(thumbs._key(source))
    assert {p.parent for p in files} == {tmp_path / "cache" / files.webp.name[:2] / files.webp.name[2:4]}
    photo = SimpleNamespace(mtime=source.mtime, size=source.size)  # what the key reads, renamed a million times
    per_folder = Counter()
    for n in range(250_000):
        photo.rel = f"{2000 + n // 50_000}/event-{n // 4_167 % 12:02}/img_{n % 4_167:05}.jpg"
        per_folder[thumbs._key(photo)[:4]] += 1
    assert len(per_folder) > 60_000 and max(per_folder.values()) * len(files) < 60
