"""services/gallery/metadata.py on real files with real EXIF written by Pillow, and hostile blocks written by hand."""

from __future__ import annotations

import io
import math
import struct
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.ExifTags import GPS, IFD, Base
from PIL.TiffImagePlugin import IFDRational

from services.gallery.metadata import PhotoMeta, read_photo
from services.images import open_header

EMPTY = PhotoMeta()


def make_exif(ifd0: dict | None = None, sub: dict | None = None, gps: dict | None = None) -> Image.Exif:
    exif = Image.Exif()
    for tag, value in (ifd0 or {}).items():
        exif[tag] = value
    if sub:
        exif.get_ifd(IFD.Exif).update(sub)
    if gps:
        exif.get_ifd(IFD.GPSInfo).update(gps)
    return exif


def encode(exif: Image.Exif | bytes | None, fmt: str = "JPEG") -> bytes:
    out = io.BytesIO()
    extra = {} if exif is None else {"exif": exif}
    Image.new("RGB", (8, 8), "teal").save(out, fmt, **extra)
    return out.getvalue()


def with_app1(payload: bytes) -> bytes:
    """A JPEG whose first segment is an APP1 holding `payload` byte for byte (no Pillow in between)."""
    jpeg = encode(None)
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def ifd(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """A little-endian IFD of (tag, type, count, 4-byte value or offset) entries, no next IFD: 6 + 12 × n bytes."""
    body = b"".join(struct.pack("<HHL", tag, typ, count) + value.ljust(4, b"\0") for tag, typ, count, value in entries)
    return struct.pack("<H", len(entries)) + body + struct.pack("<L", 0)


def tiff_block(entries: list[tuple[int, int, int, bytes]], tail: bytes = b"") -> bytes:
    """An 'Exif\\0\\0' block with IFD0 at offset 8 made of `entries`, then `tail` (at offset 14 + 12 × n)."""
    return b"Exif\0\0II*\0" + struct.pack("<L", 8) + ifd(entries) + tail


def read(data: bytes) -> PhotoMeta:
    """read_photo on an opened file, asserting it neither decodes pixels nor lets a warning escape."""
    with warnings.catch_warnings():
        # Opening a JPEG already parses IFD0 (for its DPI) and warns about a corrupt one: not read_photo's doing.
        warnings.simplefilter("ignore")
        image = open_header(io.BytesIO(data))
    loads: list[object] = []
    image.load = lambda: loads.append(1)  # type: ignore[method-assign]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        meta = read_photo(image)
    assert [str(warning.message) for warning in caught] == []
    assert loads == [], "read_photo decoded pixels"
    return meta


CAMERA = make_exif(
    ifd0={Base.Make: "FUJIFILM", Base.Model: "X-T5", Base.DateTime: "2024:07:02 09:00:00"},
    sub={
        Base.DateTimeOriginal: "2024:07:01 14:03:05",
        Base.OffsetTimeOriginal: "+02:00",
        Base.DateTimeDigitized: "2024:07:01 14:03:06",
        Base.LensModel: "XF23mmF1.4 R LM WR",
        Base.FocalLength: IFDRational(23, 1),
        Base.FNumber: IFDRational(28, 10),
        Base.ExposureTime: IFDRational(1, 250),
        Base.ISOSpeedRatings: 200,
    },
    gps={
        GPS.GPSLatitudeRef: "N",
        GPS.GPSLatitude: (IFDRational(48, 1), IFDRational(51, 1), IFDRational(2964, 100)),
        GPS.GPSLongitudeRef: "E",
        GPS.GPSLongitude: (IFDRational(2, 1), IFDRational(17, 1), IFDRational(4008, 100)),
        GPS.GPSAltitudeRef: b"\x00",
        GPS.GPSAltitude: IFDRational(35, 1),
    },
)


def test_a_camera_jpeg_gives_every_field():
    meta = read(encode(CAMERA))
    assert meta == PhotoMeta(
        taken_at="2024-07-01T14:03:05+02:00",
        camera_make="FUJIFILM",
        camera_model="X-T5",
        lens="XF23mmF1.4 R LM WR",
        focal_length=23.0,
        f_number=2.8,
        exposure_time=0.004,
        iso=200,
        gps_lat=pytest.approx(48 + 51 / 60 + 29.64 / 3600),
        gps_lon=pytest.approx(2 + 17 / 60 + 40.08 / 3600),
        gps_alt=35.0,
    )


def test_south_west_and_below_sea_level_are_negative():
    gps = {
        GPS.GPSLatitudeRef: "S",
        GPS.GPSLatitude: (IFDRational(33, 1), IFDRational(51, 1), IFDRational(0, 1)),
        GPS.GPSLongitudeRef: "W",
        GPS.GPSLongitude: (IFDRational(70, 1), IFDRational(30, 1), IFDRational(0, 1)),
        GPS.GPSAltitudeRef: b"\x01",
        GPS.GPSAltitude: IFDRational(4305, 10),
    }
    meta = read(encode(make_exif(gps=gps)))
    assert (meta.gps_lat, meta.gps_lon, meta.gps_alt) == (-33.85, -70.5, -430.5)


def test_zero_zero_is_a_place():
    zero = (IFDRational(0, 1),) * 3
    gps = {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: zero, GPS.GPSLongitudeRef: "E", GPS.GPSLongitude: zero}
    meta = read(encode(make_exif(gps=gps)))
    assert (meta.gps_lat, meta.gps_lon, meta.gps_alt) == (0.0, 0.0, None)


@pytest.mark.parametrize(
    ("gps", "expected"),
    [
        ({GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (IFDRational(91, 1), 0, 0)}, (None, None)),
        ({GPS.GPSLongitudeRef: "E", GPS.GPSLongitude: (IFDRational(181, 1), 0, 0)}, (None, None)),
        ({GPS.GPSLatitudeRef: "Q", GPS.GPSLatitude: (IFDRational(10, 1), 0, 0)}, (None, None)),
        ({GPS.GPSLatitude: (IFDRational(10, 1), 0, 0)}, (None, None)),  # no hemisphere: unknown
        ({GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (IFDRational(10, 0), 0, 0)}, (None, None)),
        (
            {
                GPS.GPSLatitudeRef: "N",
                GPS.GPSLongitudeRef: "E",
                GPS.GPSLongitude: (IFDRational(5, 1), IFDRational(30, 1), IFDRational(0, 1)),
            },
            (None, 5.5),
        ),
        (
            {
                GPS.GPSLatitudeRef: b"S\0",
                GPS.GPSLatitude: (IFDRational(10, 1), IFDRational(30, 1), IFDRational(0, 1)),
                GPS.GPSLongitudeRef: "E",
                GPS.GPSLongitude: (IFDRational(5, 1), 0, 0),
            },
            (-10.5, 5.0),
        ),
    ],
)
def test_bad_coordinates_are_none_one_by_one(gps, expected):
    meta = read(encode(make_exif(ifd0={Base.Make: "Canon"}, gps=gps)))
    assert (meta.gps_lat, meta.gps_lon) == expected
    assert meta.camera_make == "Canon"


@pytest.mark.parametrize(
    ("ifd0", "sub", "taken_at"),
    [
        ({}, {Base.DateTimeOriginal: "2024:07:01 14:03:05"}, "2024-07-01T14:03:05"),
        (
            {},
            {Base.DateTimeOriginal: "2024:07:01 14:03:05", Base.OffsetTimeOriginal: "-05:30"},
            "2024-07-01T14:03:05-05:30",
        ),
        ({}, {Base.DateTimeOriginal: "2024-07-01 14:03:05.123\0\0  "}, "2024-07-01T14:03:05"),
        ({}, {Base.DateTimeOriginal: "2024:07:01 14:03:05", Base.OffsetTimeOriginal: "+2:00"}, "2024-07-01T14:03:05"),
        ({}, {Base.DateTimeOriginal: "2024:07:01 14:03:05", Base.OffsetTimeOriginal: "+25:00"}, "2024-07-01T14:03:05"),
        ({}, {Base.DateTimeOriginal: "2024:07:01 14:03:05", Base.OffsetTimeDigitized: "+01:00"}, "2024-07-01T14:03:05"),
        (
            {Base.DateTime: "2020:01:01 00:00:00", Base.OffsetTime: "+09:00"},
            {Base.DateTimeDigitized: "2021:02:03 04:05:06", Base.OffsetTimeDigitized: "+01:00"},
            "2021-02-03T04:05:06+01:00",
        ),
        ({Base.DateTime: "2020:01:01 00:00:00", Base.OffsetTime: "+09:00"}, {}, "2020-01-01T00:00:00+09:00"),
        (
            {Base.DateTime: "2020:01:01 00:00:00"},
            {Base.DateTimeOriginal: "0000:00:00 00:00:00", Base.DateTimeDigitized: "2021:13:01 00:00:00"},
            "2020-01-01T00:00:00",
        ),
        (
            {Base.DateTime: "1799:12:31 23:59:59"},
            {Base.DateTimeOriginal: "    ", Base.DateTimeDigitized: "2201:01:01 00:00:00"},
            None,
        ),
        ({Base.DateTime: "2024:02:30 10:00:00"}, {Base.DateTimeOriginal: 20240701}, None),
        ({}, {Base.DateTimeOriginal: b"2024:07:01 14:03:05\0"}, "2024-07-01T14:03:05"),
    ],
)
def test_date_taken_follows_the_sources_in_order(ifd0, sub, taken_at):
    assert read(encode(make_exif(ifd0=ifd0, sub=sub))).taken_at == taken_at


@pytest.mark.parametrize(
    ("sub", "expected"),
    [
        (
            {
                Base.ExposureTime: IFDRational(1, 0),
                Base.FNumber: IFDRational(0, 0),
                Base.FocalLength: IFDRational(50, 1),
            },
            {"exposure_time": None, "f_number": None, "focal_length": 50.0},
        ),
        (
            {
                Base.ExposureTime: IFDRational(-1, 250),
                Base.FNumber: IFDRational(0, 1),
                Base.ISOSpeedRatings: (400, 800),
            },
            {"exposure_time": None, "f_number": None, "iso": 400},
        ),
        (
            {Base.ExposureTime: "1/250", Base.FNumber: b"\x01\x02", Base.FocalLength: (IFDRational(1, 1),) * 2},
            {"exposure_time": None, "f_number": None, "focal_length": None},
        ),
        (
            {Base.ExposureTime: 30, Base.FocalLength: IFDRational(7, 2), Base.ISOSpeedRatings: "200"},
            {"exposure_time": 30.0, "focal_length": 3.5, "iso": None},
        ),
        ({Base.LensModel: (1, 2, 3), Base.ISOSpeedRatings: 0}, {"lens": None, "iso": None}),
        ({Base.LensModel: b"\xff\xfe lens"}, {"lens": None}),
    ],
)
def test_hostile_numbers_are_none_and_the_rest_is_kept(sub, expected):
    meta = read(
        encode(make_exif(ifd0={Base.Model: "X100V"}, sub={Base.DateTimeOriginal: "2024:07:01 14:03:05", **sub}))
    )
    assert {name: getattr(meta, name) for name in expected} == expected
    assert (meta.camera_model, meta.taken_at) == ("X100V", "2024-07-01T14:03:05")


def test_text_fields_are_cut_at_nul_stripped_and_typed():
    ifd0 = {Base.Make: "  Canon\0\0\0\0", Base.Model: "EOS R5 "}
    sub = {Base.LensModel: b"EF 50mm f/1.8\0garbage"}
    meta = read(encode(make_exif(ifd0=ifd0, sub=sub)))
    assert (meta.camera_make, meta.camera_model, meta.lens) == ("Canon", "EOS R5", "EF 50mm f/1.8")
    assert read(encode(make_exif(ifd0={Base.Make: "\0\0   ", Base.Model: "M" * 5000}))).camera_make is None
    assert read(encode(make_exif(ifd0={Base.Model: "M" * 5000}))).camera_model == "M" * 200


def test_no_exif_png_webp_tiff():
    assert read(encode(None)) == EMPTY
    assert read(encode(None, "PNG")) == EMPTY  # must not decode the pixels to look for an eXIf chunk after them
    camera = {"camera_make": "FUJIFILM", "taken_at": "2024-07-01T14:03:05+02:00", "iso": 200, "exposure_time": 0.004}
    for fmt in ("PNG", "WEBP"):
        meta = read(encode(CAMERA, fmt))
        assert {name: getattr(meta, name) for name in camera} == camera, fmt
        assert meta.gps_lat == pytest.approx(48.858233), fmt
    # Pillow's TIFF writer keeps IFD0 only (no Exif or GPS IFD): the date falls back to DateTime.
    meta = read(encode(CAMERA, "TIFF"))
    assert (meta.camera_model, meta.taken_at, meta.iso, meta.gps_lat) == ("X-T5", "2024-07-02T09:00:00", None, None)


@pytest.mark.parametrize(
    "payload",
    [
        b"Exif\0\0",
        b"Exif\0\0" + b"\x13\x37" * 40,
        b"Exif\0\0II*\0\xff\xff\xff\x7f",  # IFD0 far past the end
        tiff_block([(Base.Make, 2, 0xFFFFFFFF, struct.pack("<L", 26))]),  # a 4 GiB string
        tiff_block(
            [(Base.Make, 2, 6, struct.pack("<L", 38)), (IFD.Exif, 4, 1, struct.pack("<L", 8))], b"Canon\0"
        ),  # the Exif IFD is IFD0 again: a loop
        tiff_block(
            [
                (Base.Model, 2, 4, b"R5\0\0"),
                (IFD.Exif, 4, 1, struct.pack("<L", 0xFFFFFF00)),
                (IFD.GPSInfo, 2, 4, b"abc\0"),
            ]
        ),  # sub-IFDs out of range or of the wrong type
        tiff_block(
            [(Base.Model, 2, 4, b"R5\0\0"), (IFD.Exif, 4, 1, struct.pack("<L", 38))],
            struct.pack("<H", 0xFFFF) + b"\0" * 10,
        ),  # an Exif IFD claiming 65535 entries
    ],
)
def test_corrupt_exif_blocks_keep_what_can_be_read(payload):
    meta = read(with_app1(payload))
    assert meta.camera_make in (None, "Canon")
    assert meta.camera_model in (None, "R5")
    assert meta.taken_at is None and meta.gps_lat is None


def test_a_loop_and_a_bad_sub_ifd_still_give_ifd0():
    loop = tiff_block([(Base.Make, 2, 6, struct.pack("<L", 38)), (IFD.Exif, 4, 1, struct.pack("<L", 8))], b"Canon\0")
    assert read(with_app1(loop)).camera_make == "Canon"
    bad = tiff_block([(Base.Model, 2, 4, b"R5\0\0"), (IFD.GPSInfo, 2, 4, b"abc\0")])
    assert read(with_app1(bad)).camera_model == "R5"


def test_gps_of_the_wrong_types_written_by_hand():
    rational = struct.pack("<LL", 10, 0) * 3 + struct.pack("<LL", 100, 1)
    gps = [
        (GPS.GPSLatitudeRef, 2, 2, b"N\0"),
        (GPS.GPSLatitude, 2, 4, b"10\0\0"),  # text where three rationals go
        (GPS.GPSLongitudeRef, 2, 2, b"E\0"),
        (GPS.GPSLongitude, 5, 3, struct.pack("<L", 104)),  # 10/0 three times
        (GPS.GPSAltitudeRef, 1, 1, b"\x01"),
        (GPS.GPSAltitude, 5, 1, struct.pack("<L", 128)),
    ]
    block = tiff_block([(IFD.GPSInfo, 4, 1, struct.pack("<L", 26))], ifd(gps) + rational)
    meta = read(with_app1(block))
    assert (meta.gps_lat, meta.gps_lon, meta.gps_alt) == (None, None, -100.0)


# Tags read_photo reads; one IFD serves as IFD0, the Exif IFD and the GPS IFD (both pointers lead back to it).
READ_TAGS = [*range(1, 7), Base.Make, Base.Model, Base.DateTime, Base.DateTimeOriginal, Base.DateTimeDigitized,
             Base.OffsetTime, Base.OffsetTimeOriginal, Base.LensModel, Base.FocalLength, Base.FNumber,
             Base.ExposureTime, Base.ISOSpeedRatings]  # fmt: skip
LOOPS = [(IFD.Exif, 4, 1, struct.pack("<L", 8)), (IFD.GPSInfo, 4, 1, struct.pack("<L", 8))]
ENTRY = st.tuples(
    st.sampled_from(READ_TAGS), st.integers(0, 13), st.integers(0, 2**32 - 1), st.binary(min_size=4, max_size=4)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.sampled_from([b"Exif\0\0", b"Exif\0\0II*\0\x08\0\0\0", b"Exif\0\0MM\0*\0\0\0\x08"]),
    entries=st.lists(ENTRY, max_size=10),
    body=st.binary(max_size=400),
)
def test_random_exif_payloads_never_raise(header, entries, body):
    """Random bytes after a TIFF header, or random entries (type, count, value) of the tags read, then random data."""
    meta = read(with_app1(tiff_block(entries + LOOPS, body) if entries else header + body))
    assert isinstance(meta, PhotoMeta)
    for value in (meta.focal_length, meta.f_number, meta.exposure_time, meta.gps_lat, meta.gps_lon, meta.gps_alt):
        assert value is None or math.isfinite(value)
