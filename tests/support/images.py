"""Real image and video files for the tests, written with Pillow (and ffmpeg when it is installed).

Each function writes one file at `path` (parents created) and returns the path.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

from PIL import Image

ORIENTATION_TAG = 0x0112


def jpeg(path: Path, size: tuple[int, int] = (640, 480), orientation: int | None = None, color=(200, 80, 40),
         mtime: float | None = None, gps: bool = False) -> Path:
    """A gradient JPEG; `orientation` sets the EXIF tag (6/8 rotate), `gps` adds a GPS block."""
    image = _gradient(size, color)
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    _prepare(path)
    image.save(path, "JPEG", quality=85, exif=exif.tobytes())
    return _touch(path, mtime)


def png(path: Path, size: tuple[int, int] = (320, 240), mtime: float | None = None) -> Path:
    _prepare(path)
    _gradient(size, (40, 160, 90)).save(path, "PNG")
    return _touch(path, mtime)


def gif_animation(path: Path, frames: int = 3, size: tuple[int, int] = (120, 90)) -> Path:
    images = [Image.new("RGB", size, (60 * n % 256, 100, 150)) for n in range(frames)]
    _prepare(path)
    images[0].save(path, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return path


def truncated_jpeg(path: Path) -> Path:
    """The first third of a valid JPEG: the header parses, decoding fails."""
    jpeg(path, (800, 600))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def not_an_image(path: Path, text: str = "<html><script>alert(1)</script></html>") -> Path:
    _prepare(path)
    path.write_text(text)
    return path


def png_bomb(path: Path, width: int = 60000, height: int = 60000) -> Path:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb by its header)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * 3 * min(width, 16)
    _prepare(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row))
                     + chunk(b"IEND", b""))
    return path


def video(path: Path, seconds: int = 2, size: tuple[int, int] = (320, 240)) -> Path | None:
    """An MP4/WebM test pattern made by ffmpeg, or None when ffmpeg is not installed."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    _prepare(path)
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=duration={seconds}:size={size[0]}x{size[1]}:rate=10", "-pix_fmt", "yuv420p", str(path)],
                   check=True, timeout=60)
    return path


def _gradient(size: tuple[int, int], color) -> Image.Image:
    width, height = size
    horizontal = Image.linear_gradient("L").resize((width, height))
    base = Image.new("RGB", size, color)
    return Image.merge("RGB", (horizontal, base.getchannel(1), base.getchannel(2)))


def _prepare(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)


def _touch(path: Path, mtime: float | None) -> Path:
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def png_alpha(path: Path, size: tuple[int, int] = (200, 100)) -> Path:
    """An RGBA PNG: the left half opaque red, the right half fully transparent."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste((220, 30, 30, 255), (0, 0, size[0] // 2, size[1]))
    _prepare(path)
    image.save(path, "PNG")
    return path
