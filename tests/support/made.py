"""Made images in tests: a Thumbnailer Source for a file, a made WebP opened and checked, and the sizes images are
decoded at (what reaches ImageOps.exif_transpose)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps

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


def transposed_sizes(monkeypatch) -> list[tuple[int, int]]:
    """The size of every image handed to ImageOps.exif_transpose from now on: the size it was decoded at (a JPEG
    drafted small shows its reduced size)."""
    seen: list[tuple[int, int]] = []
    transpose = ImageOps.exif_transpose

    def spy(image, **kwargs):
        seen.append(image.size)
        return transpose(image, **kwargs)

    monkeypatch.setattr(ImageOps, "exif_transpose", spy)
    return seen
