"""A small dated gallery for the issue 21 API tests: photos with real EXIF (dates with and without offsets,
three cameras, three lenses, GPS on one) and two PNGs dated only by their mtime, in nested albums.

Newest date taken first (the order filtered searches and taken_desc give), with the date each one was taken:
  SEA 2024-08-02 09:00 · LAKE 2024-07-31 23:30-05:00 (still July where it was taken) · PEAK 2024-07-14 18:03+02:00
  · PARTY 2023-12-25 · SCAN 2022-03-15 12:00 local (mtime) · SUMMER 2021-07-14 · COPY 2020-07-14 12:00 local
  (mtime) · CAT 2019-07-14.
Cameras: "Canon EOS R6" ×3 (PEAK, SEA, PARTY), "FUJIFILM X-T5" ×2 (LAKE, SUMMER), "Apple iPhone 15 Pro" ×1 (CAT).
Lenses: RF50 ×3 (PEAK, SEA, PARTY), XF23 ×2 (LAKE, SUMMER), IPHONE_LENS ×1 (CAT).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tests.support import exif, images

PEAK = "2024 Trip/Alps/peak.jpg"
LAKE = "2024 Trip/Alps/lake.jpg"
SEA = "2024 Trip/sea 12:30.jpg"
PARTY = "Family/party.jpg"
SCAN = "Family/scan.png"
SUMMER = "Family/summer.jpg"
COPY = "Family/copy.png"
CAT = "家庭/猫.jpg"
NEWEST_FIRST = [SEA, LAKE, PEAK, PARTY, SCAN, SUMMER, COPY, CAT]

RF50 = "RF50mm F1.8 STM"
XF23 = "XF23mmF1.4 R LM WR"
IPHONE_LENS = "iPhone 15 Pro back camera 6.765mm f/1.78"
PEAK_GPS = (48.86, 2.2945, 35.5)
MTIME = 1_750_000_000.0  # 2025-06-15: the EXIF-dated files were copied in later, in another order
SCAN_MTIME = datetime(2022, 3, 15, 12, 0).timestamp()  # local time: the same month in every time zone
COPY_MTIME = datetime(2020, 7, 14, 12, 0).timestamp()  # on "this day" (07-14), but dated by its mtime only


def write(root: Path) -> Path:
    canon, fuji = {"make": "Canon", "model": "EOS R6"}, {"make": "FUJIFILM", "model": "X-T5"}
    exif.photo(root / PEAK, taken="2024:07:14 18:03:05", offset="+02:00", **canon, lens=RF50, focal_length=50.0,
               f_number=1.8, exposure_time=0.004, iso=200, gps=PEAK_GPS, mtime=MTIME + 1)
    exif.photo(root / LAKE, taken="2024:07:31 23:30:00", offset="-05:00", **fuji, lens=XF23, mtime=MTIME + 2)
    exif.photo(root / SEA, taken="2024:08:02 09:00:00", **canon, lens=RF50, mtime=MTIME + 3)
    exif.photo(root / PARTY, taken="2023:12:25 20:00:00", offset="+01:00", **canon, lens=RF50, mtime=MTIME + 4)
    images.png(root / SCAN, mtime=SCAN_MTIME)
    exif.photo(root / SUMMER, taken="2021:07:14 10:00:00", offset="+02:00", **fuji, lens=XF23, mtime=MTIME + 5)
    images.png(root / COPY, mtime=COPY_MTIME)
    exif.photo(root / CAT, taken="2019:07:14 08:00:00", offset="+09:00", make="Apple", model="iPhone 15 Pro",
               lens=IPHONE_LENS, mtime=MTIME + 6)
    return root


def names(rels: list[str]) -> list[str]:
    return [rel.rpartition("/")[2] for rel in rels]
