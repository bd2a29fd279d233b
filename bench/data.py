"""The data generator: seeded photo-like 12 MP JPEGs and trees of small JPEGs, cached under bench/.data/inputs.

Everything is deterministic (seeded `random.Random`, fixed mtimes), so two runs see the same bytes. A
library is rebuilt when its stamp (a sibling `<name>.stamp` holding the layout key) is missing or differs.

Small JPEGs carry what a camera writes (issue 21): a date taken consistent with their folder, a camera, a lens
and an exposure, and GPS for the phone's; one event in ten has no date (a scanned print: the index falls back
to the file's mtime). A file costs one bytes.replace of the date in a cached template, not an EXIF encode.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import random
import re
import shutil
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw
from PIL.ExifTags import GPS, IFD, Base

SEED = 9  # issue 9
PHOTO_SIZE = (4000, 3000)  # 12 MP, stored landscape; EXIF orientation 6/8 shows some as portrait
PHOTO_QUALITY = 90
NOISE_ALPHA = 0.12  # share of uniform noise blended into each channel (sensor grain, defeats easy compression)
SMALL_SIZE = (64, 48)
SMALL_VARIANTS = 16
BASE_MTIME_S = 1_700_000_000  # 2023-11-14, so files have stable, distinct modification times
ORIENTATION_TAG = 0x0112
# Raise it when write_small's bytes change: every cached tree of small JPEGs is then built again.
SMALL_VERSION = 2  # 2: camera EXIF with a date taken (issue 21)
FIRST_YEAR, YEARS, EVENTS, PER_EVENT = 2000, 20, 50, 100  # the shape of dates: index (b)'s tree is this one
UNDATED_EVENT = 9  # events e with e % 10 == 9 carry no date or camera
PHONE_EVERY = 4  # file i of an event is from the phone when i % 4 == 1
DAY_START_S, SHOT_GAP_S = 9 * 3600, 240  # an event's shots from 09:00, one every 4 minutes (and a few seconds)
_PLACEHOLDER = b"1900:01:01 00:00:00"  # DateTimeOriginal in a template, replaced per file (same length)
_EVENT_FOLDER = re.compile(r"(?:.*/)?(\d{4})/event-(\d+)")
# (Make, Model, LensModel, FocalLength mm, FNumber, ExposureTime s, ISO, OffsetTimeOriginal, GPS or None);
# the last is the phone. `camera:canon` matches the first two: about 30 % of the dated files.
CAMERAS = (
    ("Canon", "Canon EOS R5", "RF24-105mm F4 L IS USM", 50.0, 4.0, 1 / 250, 200, "+01:00", None),
    ("Canon", "Canon EOS 5D Mark IV", "EF50mm f/1.8 STM", 50.0, 1.8, 1 / 1000, 100, "+01:00", None),
    ("NIKON CORPORATION", "NIKON Z 6_2", "NIKKOR Z 24-70mm f/4 S", 35.0, 5.6, 1 / 500, 400, "+02:00", None),
    ("SONY", "ILCE-7M3", "FE 35mm F1.8", 35.0, 2.8, 1 / 125, 800, "-05:00", None),
    ("FUJIFILM", "X-T4", "XF23mmF2 R WR", 23.0, 8.0, 1 / 60, 160, "+09:00", None),
    ("Apple", "iPhone 13", "iPhone 13 back dual wide camera 5.1mm f/1.6", 5.1, 1.6, 1 / 120, 50, "+02:00",
     (48.8584, 2.2945, 35.0)),
)
Layout = Sequence[tuple[str, int]]  # (folder relative to the library root, number of small JPEGs)


def orientation_of(index: int) -> int | None:
    """Two photos in five carry an EXIF rotation (6 or 8); the rest are upright."""
    return {1: 6, 3: 8}.get(index % 5)


def photo_pool(inputs: Path, count: int) -> list[Path]:
    """The first `count` photo-like 12 MP JPEGs of the pool (generated when missing)."""
    folder = inputs / "photos12"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"photo_{index:03}.jpg" for index in range(count)]
    for index, path in enumerate(paths):
        if not path.exists():
            _write_atomic(path, photo_bytes(index))
    return paths


def photo_bytes(index: int) -> bytes:
    """A 12 MP JPEG: three crossing gradients, a few soft shapes, grain, camera EXIF."""
    rng = random.Random(SEED * 100_003 + index)
    width, height = PHOTO_SIZE
    gradients = [Image.linear_gradient("L"), Image.radial_gradient("L")]
    channels = [rng.choice(gradients).rotate(rng.choice((0, 90, 180, 270))).resize(PHOTO_SIZE) for _ in range(3)]
    image = Image.merge("RGB", channels)
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(100, 900)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    grain = Image.frombytes("RGB", PHOTO_SIZE, rng.randbytes(3 * width * height))
    image = Image.blend(image, grain, NOISE_ALPHA)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Photonix", "Bench Camera"  # Make, Model
    if orientation_of(index) is not None:
        exif[ORIENTATION_TAG] = orientation_of(index)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=PHOTO_QUALITY, exif=exif.tobytes())
    return buffer.getvalue()


@functools.cache
def small_variants() -> tuple[bytes, ...]:
    """SMALL_VARIANTS distinct 64x48 JPEGs without a date or camera; one in four carries EXIF orientation 6."""
    return tuple(_encode(image, _exif(index)) for index, image in enumerate(_small_images()))


@functools.cache
def _small_images() -> tuple[Image.Image, ...]:
    rng = random.Random(SEED)
    images = []
    for index in range(SMALL_VARIANTS):
        image = Image.linear_gradient("L").resize(SMALL_SIZE).rotate(90 * (index % 4))
        color = Image.new("RGB", SMALL_SIZE, tuple(rng.randrange(256) for _ in range(3)))
        images.append(Image.merge("RGB", (image, color.getchannel(1), color.getchannel(2))))
    return tuple(images)


@functools.cache
def _dated_template(variant: int, camera: int) -> bytes:
    """Variant `variant` with camera `camera`'s EXIF and a placeholder DateTimeOriginal, found exactly once."""
    make, model, lens, focal, f_number, exposure, iso, offset, gps = CAMERAS[camera]
    exif = _exif(variant)
    exif[Base.Make], exif[Base.Model] = make, model
    sub = exif.get_ifd(IFD.Exif)
    sub[Base.DateTimeOriginal], sub[Base.OffsetTimeOriginal] = _PLACEHOLDER.decode(), offset
    sub[Base.LensModel], sub[Base.FocalLength], sub[Base.FNumber] = lens, focal, f_number
    sub[Base.ExposureTime], sub[Base.ISOSpeedRatings] = exposure, iso
    if gps is not None:
        block = exif.get_ifd(IFD.GPSInfo)
        block[GPS.GPSLatitudeRef], block[GPS.GPSLatitude] = "N", _dms(gps[0])
        block[GPS.GPSLongitudeRef], block[GPS.GPSLongitude] = "E", _dms(gps[1])
        block[GPS.GPSAltitudeRef], block[GPS.GPSAltitude] = b"\x00", gps[2]
    template = _encode(_small_images()[variant], exif)
    assert template.count(_PLACEHOLDER) == 1, "the date placeholder must be unique in the template"  # noqa: S101
    return template


def _exif(variant: int) -> Image.Exif:
    exif = Image.Exif()
    if variant % 4 == 0:
        exif[ORIENTATION_TAG] = 6
    return exif


def _encode(image: Image.Image, exif: Image.Exif) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85, exif=exif.tobytes())
    return buffer.getvalue()


def _dms(degrees: float) -> tuple[float, float, float]:
    whole, minutes = int(degrees), int(degrees % 1 * 60)
    return float(whole), float(minutes), round((degrees - whole - minutes / 60) * 3600, 2)


def small_name(index: int) -> str:
    return f"img_{index:05}.jpg"


def event_of(folder: str, index: int) -> tuple[int, int]:
    """(year, event) of small file `index` of `folder`: from a `YYYY/event-NN` folder, else seeded from the
    folder and the file's run of PER_EVENT (so a folder of 10,000 spans 100 events)."""
    found = _EVENT_FOLDER.fullmatch(folder)
    if found:
        return int(found.group(1)), int(found.group(2))
    digest = hashlib.sha256(f"{folder}#{index // PER_EVENT}".encode()).digest()
    return FIRST_YEAR + digest[0] % YEARS, digest[1] % EVENTS


def event_day(year: int, event: int) -> date:
    """The day of an event: weekly through the year, a day later in odd years (so a month and day has photos
    in every other year: "on this day")."""
    return date(year, 1, 1) + timedelta(days=7 * event + year % 2)


def taken_of(folder: str, index: int) -> tuple[datetime, int] | None:
    """When small file `index` of `folder` was taken and by which camera (CAMERAS index); None when undated."""
    year, event = event_of(folder, index)
    if event % 10 == UNDATED_EVENT:
        return None
    digest = hashlib.sha256(f"{year}/{event}".encode()).digest()
    shot = index % PER_EVENT
    camera = len(CAMERAS) - 1 if shot % PHONE_EVERY == 1 else digest[0] % (len(CAMERAS) - 1)
    day = event_day(year, event)
    seconds = DAY_START_S + shot * SHOT_GAP_S + digest[1] % 60
    return datetime(day.year, day.month, day.day) + timedelta(seconds=seconds), camera


def write_small(root: Path, folder: str, index: int, variant_shift: int = 0) -> Path:
    """Write small JPEG number `index` of `folder` with its deterministic content, EXIF and mtime."""
    digest = hashlib.sha256(f"{folder}/{index}".encode()).digest()
    path = root / folder / small_name(index)
    variant = (digest[0] + variant_shift) % SMALL_VARIANTS
    taken = taken_of(folder, index)
    if taken is None:
        path.write_bytes(small_variants()[variant])
    else:
        stamp = taken[0].strftime("%Y:%m:%d %H:%M:%S").encode()
        path.write_bytes(_dated_template(variant, taken[1]).replace(_PLACEHOLDER, stamp, 1))
    mtime = BASE_MTIME_S + int.from_bytes(digest[1:4], "big") % (5 * 365 * 86400)
    os.utime(path, (mtime, mtime))
    return path


def small_library(root: Path, layout: Layout) -> Path:
    """A tree of small JPEGs: `layout` lists each folder and its file count."""
    def build(target: Path) -> None:
        for folder, count in layout:
            (target / folder).mkdir(parents=True, exist_ok=True)
            for index in range(count):
                write_small(target, folder, index)

    return cached(root, f"small-v{SMALL_VERSION}:{list(layout)}", build)


def photo_library(root: Path, pool: Sequence[Path], albums: int, per_album: int, small: int) -> Path:
    """`albums` × `per_album` copies of pool photos plus one folder `small` of `small` small JPEGs."""
    def build(target: Path) -> None:
        for index in range(albums * per_album):
            album = target / f"album-{index // per_album:02}"
            album.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(pool[index % len(pool)], album / f"photo_{index:04}.jpg")
        (target / "small").mkdir(parents=True, exist_ok=True)
        for index in range(small):
            write_small(target, "small", index)

    return cached(root, f"photos-v{SMALL_VERSION}:{len(pool)}:{albums}:{per_album}:{small}", build)


def cached(root: Path, key: str, build: Callable[[Path], None]) -> Path:
    """`root` built by `build` unless its stamp already holds `key`; a half-built tree is never kept."""
    stamp = stamp_path(root)
    if root.is_dir() and stamp.exists() and stamp.read_text() == key:
        return root
    invalidate(root)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    build(root)
    stamp.write_text(key)
    return root


def stamp_path(root: Path) -> Path:
    return root.with_name(root.name + ".stamp")


def invalidate(root: Path) -> str | None:
    """Forget that `root` is complete (before changing it in place); returns the key it had."""
    stamp = stamp_path(root)
    key = stamp.read_text() if stamp.exists() else None
    stamp.unlink(missing_ok=True)
    return key


def validate(root: Path, key: str) -> None:
    """Mark `root` complete again with `key` (after putting it back as it was)."""
    stamp_path(root).write_text(key)


def _write_atomic(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)
