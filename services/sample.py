"""A small generated sample album, so a first `make run` shows a gallery instead of an empty page."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

SAMPLE_SIZE = (1600, 1066)
_PALETTES = [
    ((255, 179, 71), (87, 24, 69)),
    ((134, 197, 218), (20, 52, 94)),
    ((168, 224, 99), (16, 88, 60)),
    ((255, 222, 233), (181, 255, 252)),
    ((246, 211, 101), (253, 160, 133)),
    ((102, 126, 234), (118, 75, 162)),
]
_LAYOUT = {"Sample": 4, "Sample/Sunsets": 2}


def create_sample_album(photos_dir: Path) -> int:
    """Write the sample album into `photos_dir` if it has no visible entries; return files written."""
    if any(not entry.name.startswith(".") for entry in photos_dir.iterdir()):
        return 0
    written = 0
    for folder, count in _LAYOUT.items():
        target = photos_dir / folder
        target.mkdir(parents=True, exist_ok=True)
        for n in range(1, count + 1):
            image = _landscape(_PALETTES[written % len(_PALETTES)], seed=written)
            tmp = target / f".photo {n}.jpg.tmp"
            image.save(tmp, "JPEG", quality=88)
            tmp.rename(target / f"photo {n}.jpg")
            written += 1
    return written


def _landscape(palette: tuple[tuple[int, int, int], tuple[int, int, int]], seed: int) -> Image.Image:
    """A vertical gradient sky with a sun and rolling hills: cheap to draw, pleasant to look at."""
    width, height = SAMPLE_SIZE
    top, bottom = palette
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.composite(Image.new("RGB", SAMPLE_SIZE, bottom), Image.new("RGB", SAMPLE_SIZE, top), gradient)
    draw = ImageDraw.Draw(image)
    sun_x = width * (0.2 + 0.12 * (seed % 6))
    draw.ellipse((sun_x - 90, height * 0.3 - 90, sun_x + 90, height * 0.3 + 90), fill=(255, 245, 220))
    for layer, shade in enumerate((60, 35, 15)):
        base = height * (0.62 + 0.1 * layer)
        points = [(x, base + 40 * math.sin(x / (140 + 40 * layer) + seed + layer)) for x in range(0, width + 20, 20)]
        draw.polygon([(0, height), *points, (width, height)], fill=(shade, shade + 20, shade + 10))
    return image
