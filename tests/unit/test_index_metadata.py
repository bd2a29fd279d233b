"""The index stores each photo's and video's details (issue 21): date taken and where it came from, camera,
lens, exposure, GPS, a video's duration and codec; an index made before keeps its rows and gets them filled by
the next scan, reading each unchanged file once."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from models import Media
from services.gallery import index as index_module
from services.gallery import scanner
from services.gallery.details import PHOTO_META_VERSION
from services.gallery.index import Indexer
from services.gallery.keys import path_hash
from tests.support import exif, images

MTIME = 1_700_000_000.0


def camera_jpeg(path: Path) -> Path:
    return exif.photo(path, taken="2024:07:01 14:03:05", offset="+02:00", make="Canon", model="EOS R6",
                      lens="RF24-105mm F4 L IS USM", focal_length=35.0, f_number=2.8, exposure_time=0.004, iso=200,
                      gps=(-(33 + 51 / 60 + 36 / 3600), 151 + 12 / 60 + 36 / 3600, None))


def row(rel: str) -> Media:
    return Media.get(Media.path_hash == path_hash(rel))


def test_a_photo_with_exif_keeps_its_details(db, photos_dir):
    camera_jpeg(photos_dir / "trip" / "a.jpg")
    Indexer(photos_dir).scan()
    found = row("trip/a.jpg")
    assert (found.taken_at, found.taken_from) == ("2024-07-01T14:03:05+02:00", "exif")
    assert (found.camera_make, found.camera_model, found.lens) == ("Canon", "EOS R6", "RF24-105mm F4 L IS USM")
    assert (found.focal_length, found.f_number, found.exposure_time, found.iso) == (35.0, 2.8, 0.004, 200)
    assert (round(found.gps_lat, 4), round(found.gps_lon, 4), found.gps_alt) == (-33.86, 151.21, None)
    assert found.meta_version == PHOTO_META_VERSION
    assert found.taken_key == datetime(2024, 7, 1, 14, 3, 5).timestamp() - datetime(1970, 1, 1).timestamp()


def test_without_exif_the_date_is_the_files_mtime_in_local_time(db, photos_dir):
    images.png(photos_dir / "scan.png", mtime=MTIME)
    Indexer(photos_dir).scan()
    found = row("scan.png")
    assert found.taken_from == "mtime"
    assert found.taken_at == datetime.fromtimestamp(MTIME).astimezone().isoformat(timespec="seconds")
    assert found.camera_make is None and found.gps_lat is None


def test_a_video_gets_its_duration_codec_and_creation_time(db, photos_dir):
    exif.clip(photos_dir / "clips" / "c.mp4", seconds=1, creation_time="2024-07-01T12:00:00Z")
    Indexer(photos_dir).scan()
    found = row("clips/c.mp4")
    assert (found.taken_at, found.taken_from, found.codec) == ("2024-07-01T12:00:00+00:00", "video", "mpeg4")
    assert found.duration == pytest.approx(1.0, abs=0.2)


def test_hostile_exif_lists_the_photo_with_what_could_be_read(db, photos_dir):
    path = camera_jpeg(photos_dir / "bad.jpg")
    data = path.read_bytes()
    path.write_bytes(data.replace(b"Canon", b"Can\xffn").replace(b"2024:07:01", b"2024:13:45"))
    Indexer(photos_dir).scan()
    found = row("bad.jpg")
    assert found.taken_from == "mtime" and found.camera_model == "EOS R6" and found.width == 64


def test_an_older_index_is_filled_by_the_next_scan_reading_each_file_once(db, photos_dir, monkeypatch):
    camera_jpeg(photos_dir / "a.jpg")
    images.png(photos_dir / "b.png", mtime=MTIME)
    Indexer(photos_dir).scan()
    # As a database made before these columns existed: the rows are there, their details are not.
    Media.update(meta_version=0, taken_at=None, taken_from=None, taken_key=None, camera_make=None).execute()
    probes: list[str] = []
    probe = scanner.probe
    monkeypatch.setattr(scanner, "probe", lambda path, kind: probes.append(path.name) or probe(path, kind))
    Indexer(photos_dir).scan()
    assert sorted(probes) == ["a.jpg", "b.png"]
    assert (row("a.jpg").camera_make, row("a.jpg").taken_from, row("b.png").taken_from) == ("Canon", "exif", "mtime")
    Indexer(photos_dir).scan()
    assert sorted(probes) == ["a.jpg", "b.png"]  # nothing read again
    assert index_module.Indexer(photos_dir).scan().updated == 0


def test_a_release_reading_more_of_videos_reads_only_the_videos_again(db, photos_dir, monkeypatch):
    """Details are versioned per kind: the audio codec (detail version 2 of videos) made the next scan read every
    video once more, never a photo (a million photos would be read again for nothing)."""
    camera_jpeg(photos_dir / "a.jpg")
    exif.clip(photos_dir / "c.mp4", seconds=1)
    Indexer(photos_dir).scan()
    assert (row("a.jpg").meta_version, row("c.mp4").meta_version) == (PHOTO_META_VERSION, 2)
    Media.update(meta_version=1, audio_codec=None).where(Media.kind == "video").execute()  # as release 1 left it
    probes: list[str] = []
    probe = scanner.probe
    monkeypatch.setattr(scanner, "probe", lambda path, kind: probes.append(path.name) or probe(path, kind))
    Indexer(photos_dir).scan()
    assert probes == ["c.mp4"]


def test_init_db_adds_the_columns_to_an_index_made_before_and_keeps_its_rows(config, empty_database_url, photos_dir):
    import peewee

    from services.database import bind_database, close_connection, init_db, open_database

    database = open_database(empty_database_url)

    class OldMedia(peewee.Model):  # the media table as the release before issue 21 made it
        path_hash = peewee.CharField(max_length=40, unique=True)
        path = peewee.TextField()
        folder_hash = peewee.CharField(max_length=40)
        name = peewee.TextField()
        sort_key = peewee.TextField()
        name_folded = peewee.TextField()
        folder_folded = peewee.TextField()
        kind = peewee.CharField(max_length=8)
        mime = peewee.CharField(max_length=64)
        size = peewee.BigIntegerField()
        mtime = peewee.DoubleField()
        width = peewee.IntegerField(null=True)
        height = peewee.IntegerField(null=True)

        class Meta:
            table_name = "media"

    camera_jpeg(photos_dir / "a.jpg")
    stat = (photos_dir / "a.jpg").stat()
    with database.bind_ctx([OldMedia]):
        database.create_tables([OldMedia])
        OldMedia.create(path_hash=path_hash("a.jpg"), path="a.jpg", folder_hash=path_hash(""), name="a.jpg",
                        sort_key="a.jpg", name_folded="a.jpg", folder_folded="", kind="photo", mime="image/jpeg",
                        size=stat.st_size, mtime=stat.st_mtime, width=64, height=48)
    bind_database(database)
    init_db()
    init_db()  # again: nothing to add
    try:
        assert (row("a.jpg").meta_version, row("a.jpg").taken_at) == (0, None)
        Indexer(photos_dir).scan()
        assert (row("a.jpg").taken_from, row("a.jpg").meta_version) == ("exif", PHOTO_META_VERSION)
    finally:
        close_connection()
        if hasattr(database, "close_all"):
            database.close_all()
