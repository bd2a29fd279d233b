"""Real files carrying the details the index reads (issue 21): JPEGs whose EXIF Pillow writes (date taken with
its offset, camera, lens, exposure, GPS) and video clips with a creation time made by ffmpeg.

Each function writes one file at `path` (parents created) and returns the path.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from PIL import Image
from PIL.ExifTags import GPS, IFD, Base

from tests.support.servers import cannot_run, require_binary


def photo(path: Path, *, taken: str | None = None, offset: str | None = None, make: str | None = None,
          model: str | None = None, lens: str | None = None, focal_length: float | None = None,
          f_number: float | None = None, exposure_time: float | None = None, iso: int | None = None,
          gps: tuple[float, float, float | None] | None = None, size: tuple[int, int] = (64, 48),
          mtime: float | None = None) -> Path:
    """A JPEG with the EXIF given: `taken` in EXIF's own form ("2024:07:01 14:03:05", DateTimeOriginal),
    `offset` as "+02:00" (OffsetTimeOriginal), `gps` as (latitude, longitude, altitude or None) in signed
    degrees and metres, written as degrees/minutes/seconds with their hemisphere and sea-level refs. Text that is
    not ASCII is written as UTF-8, as phones and cameras do (Pillow alone would write "?" for each such letter)."""
    exif = Image.Exif()
    for tag, value in ((Base.Make, make), (Base.Model, model)):
        if value is not None:
            exif[tag] = _text(value)
    sub = exif.get_ifd(IFD.Exif)
    for tag, value in ((Base.DateTimeOriginal, taken), (Base.OffsetTimeOriginal, offset), (Base.LensModel, _text(lens)),
                       (Base.FocalLength, focal_length), (Base.FNumber, f_number),
                       (Base.ExposureTime, exposure_time), (Base.ISOSpeedRatings, iso)):
        if value is not None:
            sub[tag] = value
    if gps is not None:
        _write_gps(exif.get_ifd(IFD.GPSInfo), *gps)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 120, 200)).save(path, "JPEG", exif=exif)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def clip(path: Path, seconds: float = 1, creation_time: str | None = None, size: tuple[int, int] = (64, 48)) -> Path:
    """An MPEG-4 (codec "mpeg4") test pattern; `creation_time` as ffmpeg takes it ("2024-07-01T12:00:00Z").
    Skips the test loudly (fails it in CI) when ffmpeg, or ffprobe that the index reads videos with, is missing."""
    ffmpeg = require_binary("ffmpeg")
    require_binary("ffprobe")
    path.parent.mkdir(parents=True, exist_ok=True)
    command = [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
               f"testsrc=size={size[0]}x{size[1]}:rate=10", "-t", str(seconds), "-c:v", "mpeg4"]
    if creation_time is not None:
        command += ["-metadata", f"creation_time={creation_time}"]
    done = subprocess.run([*command, str(path)], capture_output=True, timeout=60)
    if done.returncode != 0:
        cannot_run(f"ffmpeg could not make a test clip: {done.stderr[-300:]!r}")
    return path


def _text(value: str | None) -> str | bytes | None:
    return value if value is None or value.isascii() else value.encode("utf-8")


def _write_gps(block, lat: float, lon: float, alt: float | None) -> None:
    block[GPS.GPSLatitudeRef], block[GPS.GPSLatitude] = "N" if lat >= 0 else "S", _dms(lat)
    block[GPS.GPSLongitudeRef], block[GPS.GPSLongitude] = "E" if lon >= 0 else "W", _dms(lon)
    if alt is not None:
        block[GPS.GPSAltitudeRef], block[GPS.GPSAltitude] = b"\x00" if alt >= 0 else b"\x01", abs(alt)


def _dms(degrees: float) -> tuple[float, float, float]:
    whole = int(abs(degrees))
    minutes = int((abs(degrees) - whole) * 60)
    return float(whole), float(minutes), round((abs(degrees) - whole - minutes / 60) * 3600, 4)
