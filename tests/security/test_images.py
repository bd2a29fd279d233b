"""Hardening (#10), images: bombs, broken and disguised files, endless animations, hostile EXIF and a
thundering herd never cost a 500, never hide or change the source, and never leak metadata or a partial file.

PHOTONIX_MAX_IMAGE_PIXELS is lowered to its minimum (1 MP) here so that a "bomb" is cheap to write.
"""

from __future__ import annotations

import io
import logging
import shutil
import struct
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image

from models import Event
from services.gallery.index import Indexer
from tests.support import images
from tests.support.flat_png import flat_png
from tests.support.servers import Gunicorn

MAX_PIXELS = 1_000_000
MIB = 1024 * 1024
FAST_S = 3.0  # a refusal or a first-frame thumbnail: far below this even on a slow CI machine
SAFE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "application/postscript", "image/xbm")
SCRIPTED = ("text/html", "image/svg+xml", "text/xml", "application/xml", "application/xhtml+xml",
            "text/javascript", "application/javascript", "text/plain")


@pytest.fixture
def env(env):
    return {**env, "PHOTONIX_MAX_IMAGE_PIXELS": str(MAX_PIXELS)}


def jpeg_claiming(path: Path, width: int, height: int) -> Path:
    """A valid 16x16 JPEG whose frame header (SOF0) claims width x height: a bomb by its header."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 90, 90)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def endless_gif(path: Path, frames: int) -> Path:
    """A 64x64 first frame (left half red, right half blue), then frames-1 one-pixel blue frames at (0, 0)."""
    first = Image.new("P", (64, 64), 0)
    first.putpalette([255, 0, 0, 0, 0, 255])
    first.paste(1, (32, 0, 64, 64))
    buffer = io.BytesIO()
    first.save(buffer, "GIF", optimize=False)
    # graphic control extension, image descriptor (1x1 at 0,0), LZW data: clear, colour 1, end
    tiny = b"\x21\xf9\x04\x00\x01\x00\x00\x00\x2c" + struct.pack("<HHHH", 0, 0, 1, 1) + b"\x00\x02\x02\x4c\x01\x00"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue()[:-1] + tiny * (frames - 1) + b"\x3b")
    return path


def jpeg_with_app1(path: Path, payload: bytes) -> Path:
    """A valid 64x48 JPEG with `payload` as its APP1 (EXIF) segment."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 30)).save(buffer, "JPEG")
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:])
    return path


def ifd(*entries: tuple[int, int, int, int]) -> bytes:
    """A little-endian TIFF header and one IFD of (tag, type, count, value) entries, as in an EXIF block."""
    body = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *entry) for entry in entries)
    return b"Exif\0\0II*\0" + struct.pack("<I", 8) + body + b"\0\0\0\0"


def jpeg_with_huge_metadata(path: Path) -> Path:
    """800x600 with a 60 KB EXIF description plus GPS, a 60 KB comment and GPS in XMP."""
    exif = Image.Exif()
    exif[0x010E] = "D" * 60_000
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>48,51.29N</exif:GPSLatitude></x:xmpmeta>'
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (800, 600), (200, 30, 30)).save(path, "JPEG", exif=exif.tobytes(), comment=b"C" * 60_000, xmp=xmp)
    return path


def thumb(client, rel: str):
    return client.get("/api/thumbnail", query_string={"path": rel, "v": "1"})


def marker_reasons(config) -> list[str]:
    return [marker.read_text() for marker in (config.data_dir / "thumbs").rglob("*.failed")]


def listed(client, album: str) -> set[str]:
    response = client.get(f"/api/browse/{album}")
    assert response.status_code == 200
    return {item["name"] for item in response.get_json()["items"]}


def assert_failed_and_untouched(client, source: Path, rel: str) -> None:
    before = source.read_bytes()
    started = time.monotonic()
    response = thumb(client, rel)
    assert time.monotonic() - started < FAST_S
    assert response.status_code == 404 and response.mimetype == "image/svg+xml"
    assert response.headers["X-Thumb-Status"] == "failed" and b"<script" not in response.data
    assert source.read_bytes() == before
    again = thumb(client, rel)  # remembered: answered from the marker
    assert again.status_code == 404 and again.headers["X-Thumb-Status"] == "failed"


BOMBS = {
    "png-60000x60000.png": (lambda p: images.png_bomb(p), "image/png", 3_600_000_000),
    "jpeg-65000x65000.jpg": (lambda p: jpeg_claiming(p, 65000, 65000), "image/jpeg", 4_225_000_000),
    "jpeg-just-over.jpg": (lambda p: jpeg_claiming(p, 1500, 1000), "image/jpeg", 1_500_000),
    "png-just-over.png": (lambda p: Image.new("L", (2000, 1000)).save(p, "PNG"), "image/png", 2_000_000),
}


@pytest.mark.parametrize("name", BOMBS)
def test_bombs_are_refused_undecoded_and_stay_in_the_gallery(client, photos_dir, config, name):
    write, mime, pixels = BOMBS[name]
    source = photos_dir / "bombs" / name
    source.parent.mkdir()
    write(source)
    Indexer(config.photos_dir).scan()
    assert_failed_and_untouched(client, source, f"bombs/{name}")
    assert marker_reasons(config) == [f"image too large: {pixels} pixels"]
    assert name in listed(client, "bombs")
    original = client.get(f"/api/file/bombs/{name}")
    assert original.status_code == 200 and original.mimetype == mime and original.data == source.read_bytes()


DISGUISED = {
    "truncated.jpg": (lambda p: images.truncated_jpeg(p), "image/jpeg", "image is truncated"),
    "page.jpg": (lambda p: images.not_an_image(p), "image/jpeg", "not an image"),
    "drawing.jpg": (lambda p: images.not_an_image(p, '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
                                                     '<script>alert(2)</script></svg>'), "image/jpeg", "not an image"),
    "drawing.png": (lambda p: images.not_an_image(p, '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
                                                     '<script>alert(3)</script></svg>'), "image/png", "not an image"),
    "archive.jpg": (lambda p: _zip(p), "image/jpeg", "not an image"),
    "print.jpg": (lambda p: p.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"),
                  "application/postscript", "not an image"),  # EPS: Pillow would run Ghostscript to decode it
    "bits.gif": (lambda p: p.write_bytes(b"#define i_width 8\n#define i_height 8\nstatic char i_bits[] = {\n"
                                         b"0,0,0,0,0,0,0,0\n};\n"), "image/xbm", "not an image"),  # X bitmap
}


def _zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("index.html", "<script>alert(4)</script>")
    return path


@pytest.mark.parametrize("name", DISGUISED)
def test_broken_and_disguised_files_fail_cleanly_and_are_never_served_as_markup(client, photos_dir, config, name):
    """An original is served as the type its content is detected as, or its extension's image type when
    nothing is detected; never as HTML/SVG/XML/text, always with nosniff, so no browser renders it as a page."""
    write, served_as, reason = DISGUISED[name]
    source = photos_dir / "odd" / name
    source.parent.mkdir()
    write(source)
    Indexer(config.photos_dir).scan()
    assert_failed_and_untouched(client, source, f"odd/{name}")
    assert [r[:len(reason)] for r in marker_reasons(config)] == [reason]
    assert name in listed(client, "odd")
    original = client.get(f"/api/file/odd/{name}")
    assert original.status_code == 200 and original.data == source.read_bytes()
    assert original.mimetype == served_as and original.mimetype in SAFE_TYPES
    assert not original.mimetype.startswith(SCRIPTED)
    assert original.headers["X-Content-Type-Options"] == "nosniff"


def test_a_ten_thousand_frame_gif_is_thumbnailed_from_its_first_frame(client, photos_dir, config):
    source = endless_gif(photos_dir / "anim" / "endless.gif", 10_000)
    with Image.open(source) as image:
        assert image.n_frames == 10_000
    Indexer(config.photos_dir).scan()
    started = time.monotonic()
    response = thumb(client, "anim/endless.gif")
    assert time.monotonic() - started < FAST_S
    assert response.status_code == 200 and response.mimetype == "image/webp"
    with Image.open(io.BytesIO(response.data)) as webp:
        webp.load()
        assert webp.size == (64, 64) and getattr(webp, "n_frames", 1) == 1
        red, green, blue = webp.convert("RGB").getpixel((0, 0))
        assert red > 200 and blue < 60  # the first frame's red, not the later frames' blue
    original = client.get("/api/file/anim/endless.gif")
    assert original.status_code == 200 and original.mimetype == "image/gif"


METADATA = {
    "huge.jpg": jpeg_with_huge_metadata,
    "ifd-count-65535.jpg": lambda p: jpeg_with_app1(p, b"Exif\0\0II*\0" + struct.pack("<IH", 8, 0xFFFF) + b"\0" * 20),
    "ifd-offset-past-end.jpg": lambda p: jpeg_with_app1(p, b"Exif\0\0MM\0*" + struct.pack(">I", 0xFFFFFF00)),
    "orientation-9.jpg": lambda p: jpeg_with_app1(p, ifd((0x0112, 3, 1, 9))),
    "orientation-as-text.jpg": lambda p: jpeg_with_app1(p, ifd((0x0112, 2, 5000, 8))),
    "exif-pointer-to-itself.jpg": lambda p: jpeg_with_app1(p, ifd((0x8769, 4, 1, 8), (0x0112, 3, 1, 6))),
    "gps-pointer-loop.jpg": lambda p: jpeg_with_app1(p, ifd((0x8825, 4, 1, 8))),
    "not-tiff.jpg": lambda p: jpeg_with_app1(p, b"Exif\0\0garbage"),
}


@pytest.mark.parametrize("name", METADATA)
def test_huge_or_malformed_metadata_never_500s_and_never_reaches_the_thumbnail(client, photos_dir, config, name):
    source = METADATA[name](photos_dir / "meta" / name)
    assert b"Exif\0\0" in source.read_bytes()
    Indexer(config.photos_dir).scan()
    assert name in listed(client, "meta")
    response = thumb(client, f"meta/{name}")
    assert response.status_code == 200 and response.mimetype == "image/webp"
    with Image.open(io.BytesIO(response.data)) as webp:
        webp.load()
        assert not webp.getexif() and "exif" not in webp.info and "xmp" not in webp.info
    for leak in (b"EXIF", b"XMP ", b"DDDDDDDD", b"CCCCCCCC", b"GPS", b"51.29N"):
        assert leak not in response.data
    assert client.get(f"/api/file/meta/{name}").data == source.read_bytes()


def wait_until_indexed(server, photos: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        index = requests.get(server.url + "/api/settings/status", timeout=5).json()["index"]
        if index["photos"] >= photos and not index["running"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"the gallery was not indexed:\n{server.log()[-3000:]}")


@pytest.mark.integration
def test_a_hundred_requests_for_one_uncached_thumbnail_make_it_once(env, tmp_path, db, photos_dir):
    images.png(photos_dir / "herd" / "big.png", (3000, 2000))
    default_limit = {**env, "PHOTONIX_MAX_IMAGE_PIXELS": "200000000"}  # 6 MP: real work for each request
    with Gunicorn(default_limit, tmp_path / "gunicorn.log") as server:
        wait_until_indexed(server, 1)
        url = server.url + "/api/thumbnail?path=herd/big.png&v=1"
        start = threading.Barrier(100)

        def fetch(_):
            start.wait()
            response = requests.get(url, timeout=60, headers={"Connection": "close"})
            return response, time.time()

        with ThreadPoolExecutor(100) as pool:
            timed = list(pool.map(fetch, range(100)))
        answers = [answer for answer, _ in timed]
        assert sorted({a.status_code for a in answers}) in ([200], [200, 202], [202])
        for answer in answers:
            if answer.status_code == 200:
                with Image.open(io.BytesIO(answer.content)) as image:
                    image.load()  # decodes to the end: never a half-written file
                    assert image.size == (500, 333)
        final = requests.get(url, timeout=30)
        assert final.status_code == 200 and final.headers["X-Thumb-Status"] == "ready"
        first_ready = min([at for answer, at in timed if answer.status_code == 200] + [time.time()])
    cache = tmp_path / "data" / "thumbs"
    assert len(list(cache.rglob("*.webp"))) == 1
    assert not [p for p in cache.rglob("*") if p.is_file() and p.suffix != ".webp"]  # no temp, lock or marker
    webp = next(cache.rglob("*.webp"))
    assert webp.stat().st_mtime <= first_ready  # written before the first answer and never rewritten after it
    with Image.open(webp) as cached:
        cached.load()
        assert cached.tobytes() == Image.open(io.BytesIO(final.content)).tobytes()
    told_to_wait = any(a.status_code == 202 for a in answers)
    made = Event.select().where(Event.type == "thumbnail-generated").count()
    assert made == (1 if told_to_wait else 0)  # one generation: one announcement, however many waited
    assert "Traceback" not in server.log() and '" 500 ' not in server.log()


# Decode memory (#18 item 5): few pixels on disk, gigabytes once decoded -----------------------------------

@pytest.fixture(scope="module")
def feed_png(tmp_path_factory) -> Path:
    """~790 KB on disk, 14000x14000 RGBA: 748 MiB once decoded, twice that in a thumbnail's render."""
    return flat_png(tmp_path_factory.mktemp("feed") / "huge.png", (14000, 14000), "RGBA")


class TestDecodeMemory:
    @pytest.fixture
    def env(self, env):
        return {**env, "PHOTONIX_MAX_IMAGE_PIXELS": "200000000"}  # 196 MP: not a pixel bomb by the default

    def test_a_small_png_that_decodes_to_gigabytes_is_refused_from_its_header(
            self, client, photos_dir, config, feed_png, caplog, loads):
        source = photos_dir / "feed" / "huge.png"
        source.parent.mkdir()
        shutil.copyfile(feed_png, source)
        Indexer(config.photos_dir).scan()
        loads.clear()  # counted from here: the request only
        caplog.set_level(logging.INFO, logger="services.thumbnails")
        assert_failed_and_untouched(client, source, "feed/huge.png")
        reason = "image too large to decode: 1496 MiB needed, the decode memory budget is 512 MiB"
        assert marker_reasons(config) == [reason]
        assert f"no thumbnail for feed/huge.png: {reason}" in caplog.text
        assert loads == []
        assert "huge.png" in listed(client, "feed")
        assert client.get("/api/file/feed/huge.png").data == source.read_bytes()

    def test_indexing_a_small_png_that_decodes_to_gigabytes_reads_only_its_header(self, client, photos_dir, config,
                                                                                  feed_png, loads):
        shutil.copyfile(feed_png, photos_dir / "huge.png")
        Indexer(config.photos_dir).scan()
        assert loads == []


def peak_rss_bytes(pid: str) -> int:
    """The process's peak resident memory so far (VmHWM)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) * 1024


@pytest.mark.integration
@pytest.mark.slow
def test_four_big_decodes_in_parallel_stay_within_the_decode_budget(env, tmp_path, db, photos_dir):
    """Four 9000x9000 RGB PNGs (309 MiB each decoded: each admitted alone, two never fit in the default 512 MiB)
    asked for at once from a worker with four CPU threads: one decodes at a time, the others wait."""
    big = flat_png(tmp_path / "big.png", (9000, 9000), "RGB")
    for n in range(4):
        (photos_dir / "big").mkdir(exist_ok=True)
        shutil.copyfile(big, photos_dir / "big" / f"{n}.png")
    settings = {**env, "PHOTONIX_MAX_IMAGE_PIXELS": "200000000", "PHOTONIX_THUMB_THREADS": "4"}
    with Gunicorn(settings, tmp_path / "gunicorn.log") as server:
        wait_until_indexed(server, 4)
        [pid] = server.pids("GET /health")
        urls = [f"{server.url}/api/thumbnail?path=big/{n}.png&v=1" for n in range(4)]
        start = threading.Barrier(4)

        def fetch(url: str) -> int:
            start.wait()
            return requests.get(url, timeout=60).status_code

        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(fetch, urls)) <= {200, 202}
        deadline = time.monotonic() + 120
        while urls:  # the ones told "processing" are made in turn
            assert time.monotonic() < deadline, server.log()[-3000:]
            urls = [url for url in urls if requests.get(url, timeout=60).status_code != 200]
            time.sleep(0.2)
        peak = peak_rss_bytes(pid)
        log = server.log()
    assert peak < 800 * MIB, f"worker peak RSS {peak / MIB:.0f} MiB"
    assert "Traceback" not in log and '" 500 ' not in log
