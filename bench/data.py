"""The data generator: seeded photo-like 12 MP JPEGs and trees of small JPEGs, cached under bench/.data/inputs.

Everything is deterministic (seeded `random.Random`, fixed mtimes), so two runs see the same bytes. A
library is rebuilt when its stamp (a sibling `<name>.stamp` holding the layout key) is missing or differs.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import random
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image, ImageDraw

SEED = 9  # issue 9
PHOTO_SIZE = (4000, 3000)  # 12 MP, stored landscape; EXIF orientation 6/8 shows some as portrait
PHOTO_QUALITY = 90
NOISE_ALPHA = 0.12  # share of uniform noise blended into each channel (sensor grain, defeats easy compression)
SMALL_SIZE = (64, 48)
SMALL_VARIANTS = 16
BASE_MTIME_S = 1_700_000_000  # 2023-11-14, so files have stable, distinct modification times
ORIENTATION_TAG = 0x0112
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
    """SMALL_VARIANTS distinct 64x48 JPEGs; one in four carries EXIF orientation 6."""
    rng = random.Random(SEED)
    variants = []
    for index in range(SMALL_VARIANTS):
        image = Image.linear_gradient("L").resize(SMALL_SIZE).rotate(90 * (index % 4))
        color = Image.new("RGB", SMALL_SIZE, tuple(rng.randrange(256) for _ in range(3)))
        image = Image.merge("RGB", (image, color.getchannel(1), color.getchannel(2)))
        exif = Image.Exif()
        if index % 4 == 0:
            exif[ORIENTATION_TAG] = 6
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85, exif=exif.tobytes())
        variants.append(buffer.getvalue())
    return tuple(variants)


def small_name(index: int) -> str:
    return f"img_{index:05}.jpg"


def write_small(root: Path, folder: str, index: int, variant_shift: int = 0) -> Path:
    """Write small JPEG number `index` of `folder` with its deterministic content and mtime."""
    digest = hashlib.sha256(f"{folder}/{index}".encode()).digest()
    path = root / folder / small_name(index)
    path.write_bytes(small_variants()[(digest[0] + variant_shift) % SMALL_VARIANTS])
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

    return cached(root, f"small:{list(layout)}", build)


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

    return cached(root, f"photos:{len(pool)}:{albums}:{per_album}:{small}", build)


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
