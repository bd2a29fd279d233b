"""Made images in tests: a Thumbnailer Source for a file, and a made WebP opened and checked."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from services.thumbnails import Result, Source


def source_of(path: Path, kind: str = "photo") -> Source:
    stat = path.stat()
    return Source(path, path.name, stat.st_mtime, stat.st_size, kind)


def opened(result: Result) -> Image.Image:
    assert result.status == "ok", result
    image = Image.open(result.path)
    image.load()
    assert image.format == "WEBP"
    return image
