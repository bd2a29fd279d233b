"""The details columns of a media row (issue 21), as the index stores them: what services/gallery/metadata.py
reads from a photo's EXIF and videometa.py from a video, with the date taken falling back to the file's mtime.
No Flask, no database access.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from models import Media
from services.gallery.metadata import PhotoMeta
from services.gallery.videometa import VideoMeta

# Raise one when a new release reads more of that kind: the next scan then reads those files' details once again
# (per kind, so that reading more of videos does not read a million photos again).
PHOTO_META_VERSION = 1
VIDEO_META_VERSION = 2  # 2: the audio codec (services/video/playable.py)
DETAIL_FIELDS = (Media.taken_at, Media.taken_from, Media.taken_key, Media.camera_make, Media.camera_model,
                 Media.lens, Media.focal_length, Media.f_number, Media.exposure_time, Media.iso, Media.gps_lat,
                 Media.gps_lon, Media.gps_alt, Media.duration, Media.codec, Media.audio_codec, Media.meta_version)
EPOCH = datetime(1970, 1, 1)


def photo_values(meta: PhotoMeta, mtime: float) -> tuple:
    """A photo's values in DETAIL_FIELDS order."""
    return (*_taken(meta.taken_at, "exif", mtime), meta.camera_make, meta.camera_model, meta.lens, meta.focal_length,
            meta.f_number, meta.exposure_time, meta.iso, meta.gps_lat, meta.gps_lon, meta.gps_alt, None, None, None,
            PHOTO_META_VERSION)


def video_values(meta: VideoMeta, mtime: float) -> tuple:
    """A video's values in DETAIL_FIELDS order."""
    return (*_taken(meta.taken_at, "video", mtime), None, None, None, None, None, None, None, None, None, None,
            meta.duration, meta.codec, meta.audio_codec, VIDEO_META_VERSION)


def meta_version(kind: str) -> int:
    """The detail version a file of `kind` (photo | video) is read at by this release."""
    return VIDEO_META_VERSION if kind == "video" else PHOTO_META_VERSION


def taken_key(taken_at: str) -> float:
    """The local wall-clock time of an ISO 8601 date as seconds since 1970, its offset ignored: photos sort and
    group by the time their camera showed (a holiday's evening stays that evening wherever it was)."""
    return (datetime.fromisoformat(taken_at).replace(tzinfo=None) - EPOCH).total_seconds()


def day_key(day: date) -> float:
    """The taken_key of the first moment of `day`."""
    return (datetime(day.year, day.month, day.day) - EPOCH).total_seconds()


def period_keys(year: int, month: int | None = None, day: int | None = None) -> tuple[float, float]:
    """(first moment, first moment after) of a year, a month or a day, as taken_keys; ValueError for a date
    that does not exist. The end of 9999 is computed, not made (datetime stops at 9999)."""
    first = date(year, month or 1, day or 1)
    if day is not None:
        return day_key(first), day_key(first) + 86400
    last = date(year, 12, 31) if month is None or month == 12 else date(year, month + 1, 1) - timedelta(days=1)
    return day_key(first), day_key(last) + 86400


def year_of(key: float) -> int:
    """The year of a taken_key."""
    return (EPOCH + timedelta(seconds=key)).year


def _taken(taken_at: str | None, source: str, mtime: float) -> tuple[str, str, float]:
    if taken_at is None:  # the file's modification time, in the server's local time
        taken_at = datetime.fromtimestamp(mtime, UTC).astimezone().isoformat(timespec="seconds")
        source = "mtime"
    return taken_at, source, taken_key(taken_at)
