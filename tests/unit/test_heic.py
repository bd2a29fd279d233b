"""HEIC photos (an iPhone's default) through pillow-heif, which the test extra installs: the index reads their
size and details, and they get thumbnails. (Without the package they are refused with the reason:
tests/unit/test_thumbnails.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PIL.ExifTags import GPS, IFD, Base

from models import Media
from services import images
from services.gallery.index import Indexer
from services.gallery.keys import path_hash
from services.thumbnails import Thumbnailer
from tests.support.made import source_of
from tests.support.servers import cannot_run


@pytest.fixture(autouse=True)
def heic():
    if not images.heic_supported():
        cannot_run("pillow-heif is not installed: pip install -e '.[dev]'")


def iphone_heic(path: Path) -> Path:
    exif = Image.Exif()
    exif[Base.Make], exif[Base.Model] = "Apple", "iPhone 15 Pro"
    # An iPhone stores the rotation in the HEIF container (irot), which the decoder applies, and pillow-heif then
    # reports EXIF orientation 1: the upright portrait below must not be turned a second time.
    exif[Base.Orientation] = 6
    sub = exif.get_ifd(IFD.Exif)
    sub[Base.DateTimeOriginal], sub[Base.OffsetTimeOriginal] = "2024:07:01 14:03:05", "+02:00"
    sub[Base.LensModel], sub[Base.FNumber], sub[Base.ISOSpeedRatings] = "iPhone 15 Pro back camera", 1.78, 64
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[GPS.GPSLatitudeRef], gps[GPS.GPSLatitude] = "N", (48.0, 51.0, 30.0)
    gps[GPS.GPSLongitudeRef], gps[GPS.GPSLongitude] = "E", (2.0, 21.0, 0.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (48, 64), (200, 120, 90)).save(path, "HEIF", exif=exif)
    return path


def test_the_index_reads_a_heic_photos_size_and_details(db, photos_dir):
    iphone_heic(photos_dir / "phone" / "IMG_0001.HEIC")
    Indexer(photos_dir).scan()
    row = Media.get(Media.path_hash == path_hash("phone/IMG_0001.HEIC"))
    assert (row.kind, row.mime, row.width, row.height) == ("photo", "image/heif", 48, 64)  # upright, turned once
    assert (row.taken_at, row.taken_from) == ("2024-07-01T14:03:05+02:00", "exif")
    assert (row.camera_make, row.camera_model, row.lens, row.f_number, row.iso) == (
        "Apple", "iPhone 15 Pro", "iPhone 15 Pro back camera", pytest.approx(1.78), 64)
    assert row.gps_lat == pytest.approx(48.858333, abs=1e-5) and row.gps_lon == pytest.approx(2.35)


def test_a_heic_photo_gets_an_upright_thumbnail(tmp_path):
    path = iphone_heic(tmp_path / "IMG_0002.heic")
    result = Thumbnailer(tmp_path / "thumbs", 32, 50_000_000).get(source_of(path))
    assert result.status == "ok", result.reason
    with Image.open(result.path) as thumb:
        assert thumb.format == "WEBP" and thumb.width == 32 and thumb.height > thumb.width
