"""Issue 21: GET /api/timeline (months of a subtree), GET /api/timeline/<YYYY>-<MM> (one month's media, paged)
and GET /api/memories (on this day in earlier years, with a fixed ?date=), on real files with real EXIF."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import quote

import pytest

from services.gallery.index import Indexer
from tests.support import exif, library
from tests.support.library import CAT, LAKE, PEAK, SEA, SUMMER


@pytest.fixture
def scanned(client, photos_dir, config):
    library.write(photos_dir)
    Indexer(config.photos_dir).scan()
    return client


def ok(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, (url, response.get_json())
    return response.get_json()


def months(*triples: tuple[int, int, int]) -> list[dict[str, int]]:
    return [{"year": y, "month": m, "count": c} for y, m, c in triples]


def paths(items: list[dict]) -> list[str]:
    return [item["path"] for item in items]


def test_months_of_the_whole_gallery_newest_first(scanned):
    assert ok(scanned, "/api/timeline") == {"path": "", "months": months(
        (2024, 8, 1), (2024, 7, 2), (2023, 12, 1), (2022, 3, 1), (2021, 7, 1), (2020, 7, 1), (2019, 7, 1))}
    assert ok(scanned, "/api/timeline?path=") == ok(scanned, "/api/timeline")


def test_months_of_an_album_count_every_level_below_it(scanned):
    # LAKE was taken 2024-07-31 23:30 at -05:00 (August 1 in UTC): July, as the camera's clock said.
    assert ok(scanned, "/api/timeline?path=2024%20Trip") == {
        "path": "2024 Trip", "months": months((2024, 8, 1), (2024, 7, 2))}
    assert ok(scanned, "/api/timeline?path=2024%20Trip/Alps/") == {
        "path": "2024 Trip/Alps", "months": months((2024, 7, 2))}
    assert ok(scanned, f"/api/timeline?path={quote('家庭')}") == {"path": "家庭", "months": months((2019, 7, 1))}


def test_an_album_without_media_has_no_months(scanned, photos_dir):
    (photos_dir / "empty" / "deeper").mkdir(parents=True)
    assert ok(scanned, "/api/timeline?path=empty") == {"path": "empty", "months": []}


@pytest.mark.parametrize(("path", "status", "code"), [
    (PEAK, 404, "NOT_FOUND"), ("nowhere", 404, "NOT_FOUND"), ("../x", 400, "INVALID_PATH"),
    (".hidden", 400, "INVALID_PATH")])
def test_timeline_of_what_is_not_an_album(scanned, path, status, code):
    for url in (f"/api/timeline?path={quote(path)}", f"/api/timeline/2024-07?path={quote(path)}"):
        response = scanned.get(url)
        assert (response.status_code, response.get_json()["code"]) == (status, code), url


def test_a_months_media_newest_first(scanned):
    body = ok(scanned, "/api/timeline/2024-07")
    assert {k: v for k, v in body.items() if k != "items"} == {
        "path": "", "year": 2024, "month": 7, "page": 1, "limit": 50, "totalPages": 1, "totalResults": 2}
    assert paths(body["items"]) == [LAKE, PEAK]
    peak = body["items"][1]
    assert peak["type"] == "photo" and peak["name"] == "peak.jpg" and peak["takenAt"] == "2024-07-14T18:03:05+02:00"
    assert peak["duration"] is None and (peak["width"], peak["height"]) == (64, 48)
    assert peak["originalUrl"] == "/api/file/2024%20Trip/Alps/peak.jpg" and peak["thumbnailUrl"].startswith(
        "/api/thumbnail?path=2024%20Trip%2FAlps%2Fpeak.jpg&v=")
    browse = scanned.get("/api/browse/2024%20Trip/Alps?sort=name_asc").get_json()["items"]
    assert peak == next(item for item in browse if item["name"] == "peak.jpg")  # the browse item, as is


def test_a_month_of_an_album_and_of_another_one(scanned):
    assert paths(ok(scanned, "/api/timeline/2024-08?path=2024%20Trip")["items"]) == [SEA]
    assert paths(ok(scanned, "/api/timeline/2024-07?path=2024%20Trip/Alps")["items"]) == [LAKE, PEAK]
    other = ok(scanned, "/api/timeline/2024-07?path=Family")
    assert (other["path"], other["items"], other["totalResults"], other["totalPages"]) == ("Family", [], 0, 0)
    assert paths(ok(scanned, "/api/timeline/2021-07")["items"]) == [SUMMER]
    assert paths(ok(scanned, "/api/timeline/2019-07")["items"]) == [CAT]
    assert ok(scanned, "/api/timeline/1999-01")["items"] == []


def test_month_pages_with_ties_in_natural_order(client, photos_dir):
    for name in ("img10.jpg", "img2.jpg", "img1.jpg"):
        exif.photo(photos_dir / "t" / name, taken="2024:07:20 12:00:00")
    exif.photo(photos_dir / "t" / "sub" / "late.jpg", taken="2024:07:31 23:59:59")
    exif.photo(photos_dir / "t" / "early.jpg", taken="2024:07:01 00:00:00", offset="+14:00")
    exif.photo(photos_dir / "t" / "june.jpg", taken="2024:06:30 23:59:59", offset="-12:00")
    Indexer(photos_dir).scan()
    pages = [ok(client, f"/api/timeline/2024-07?path=t&limit=2&page={n}") for n in (1, 2, 3, 4)]
    assert [[i["name"] for i in p["items"]] for p in pages] == [
        ["late.jpg", "img1.jpg"], ["img2.jpg", "img10.jpg"], ["early.jpg"], []]
    assert all((p["totalResults"], p["totalPages"], p["page"], p["limit"]) == (5, 3, n, 2)
               for n, p in enumerate(pages, 1))
    assert ok(client, "/api/timeline?path=t")["months"] == months((2024, 7, 5), (2024, 6, 1))


@pytest.mark.parametrize("month", ["2024-13", "2024-00", "2024-7", "24-07", "abcd-ef", "2024-07-01", "2024_07"])
def test_a_bad_month_is_400_naming_it(scanned, month):
    response = scanned.get(f"/api/timeline/{quote(month)}")
    assert response.status_code == 400, response.get_json()
    assert (response.get_json()["code"], response.get_json()["field"]) == ("VALIDATION_ERROR", "month")


@pytest.mark.parametrize(("query", "field"), [("limit=201", "limit"), ("limit=0", "limit"), ("page=0", "page"),
                                              ("page=x", "page")])
def test_month_paging_is_validated_like_browse(scanned, query, field):
    response = scanned.get(f"/api/timeline/2024-07?{query}")
    assert response.status_code == 400 and response.get_json()["field"] == field


def test_the_months_counts_match_the_month_pages_after_browse_finds_a_new_photo(scanned, photos_dir):
    exif.photo(photos_dir / "2024 Trip" / "Alps" / "hut.jpg", taken="2024:07:20 19:00:00")
    assert "hut.jpg" in [i["name"] for i in ok(scanned, "/api/browse/2024%20Trip/Alps")["items"]]  # before a scan
    for rel in ("", "2024 Trip", "2024 Trip/Alps"):
        listed = ok(scanned, f"/api/timeline?path={quote(rel)}")["months"]
        totals = [ok(scanned, f"/api/timeline/{m['year']}-{m['month']:02d}?path={quote(rel)}")["totalResults"]
                  for m in listed]
        assert [m["count"] for m in listed] == totals, rel
    assert months((2024, 7, 3)) == [m for m in ok(scanned, "/api/timeline?path=2024%20Trip/Alps")["months"]]


def test_photos_taken_before_1970(client, photos_dir):
    """Scanned prints often carry their real date: before the epoch, keys are negative."""
    exif.photo(photos_dir / "scans" / "wedding.jpg", taken="1965:07:14 15:00:00")
    exif.photo(photos_dir / "scans" / "baby.jpg", taken="1969:12:31 23:59:59", offset="-10:00")
    exif.photo(photos_dir / "scans" / "new.jpg", taken="1970:01:01 00:00:00")
    Indexer(photos_dir).scan()
    assert ok(client, "/api/timeline")["months"] == months((1970, 1, 1), (1969, 12, 1), (1965, 7, 1))
    assert paths(ok(client, "/api/timeline/1965-07")["items"]) == ["scans/wedding.jpg"]
    years = ok(client, "/api/memories?date=2025-07-14")["years"]
    assert [(y["year"], y["yearsAgo"], paths(y["items"])) for y in years] == [(1965, 60, ["scans/wedding.jpg"])]
    assert [i["name"] for i in ok(client, "/api/search?q=before:1970")["items"]] == ["baby.jpg", "wedding.jpg"]
    assert [i["name"] for i in ok(client, "/api/browse/scans?sort=taken_asc")["items"]] == [
        "wedding.jpg", "baby.jpg", "new.jpg"]
    assert client.get("/api/search/filters").get_json()["years"] == [1970, 1969, 1965]


# --- memories --------------------------------------------------------------------------------------------

def test_memories_on_a_fixed_day_by_year_most_recent_first(scanned):
    body = ok(scanned, "/api/memories?date=2025-07-14")
    assert body["date"] == "2025-07-14"
    # COPY's mtime is 2020-07-14 too, but a file dated only by its mtime is no memory.
    assert [(y["year"], y["yearsAgo"], paths(y["items"])) for y in body["years"]] == [
        (2024, 1, [PEAK]), (2021, 4, [SUMMER]), (2019, 6, [CAT])]
    peak = body["years"][0]["items"][0]
    assert peak["takenAt"] == "2024-07-14T18:03:05+02:00" and peak["duration"] is None and "gps" not in peak


def test_memories_are_from_earlier_years_only(scanned):
    years = ok(scanned, "/api/memories?date=2024-07-14")["years"]
    assert [(y["year"], y["yearsAgo"], paths(y["items"])) for y in years] == [(2021, 3, [SUMMER]), (2019, 5, [CAT])]
    assert ok(scanned, "/api/memories?date=2019-07-14")["years"] == []
    assert ok(scanned, "/api/memories?date=2025-07-15")["years"] == []
    # The day where it was taken: LAKE is 2024-07-31 at -05:00, August 1 in UTC.
    assert [paths(y["items"]) for y in ok(scanned, "/api/memories?date=2026-07-31")["years"]] == [[LAKE]]
    assert ok(scanned, "/api/memories?date=2026-08-01")["years"] == []


def test_memories_default_to_the_servers_date(scanned):
    body = ok(scanned, "/api/memories")
    assert body["date"] in (date.today().isoformat(), datetime.now().date().isoformat())
    assert all(y["yearsAgo"] == date.fromisoformat(body["date"]).year - y["year"] > 0 for y in body["years"])


def test_memories_share_fifty_places_between_the_years(client, photos_dir):
    for n in range(55):  # a busy day: it must not hide the other years
        exif.photo(photos_dir / "busy" / f"p{n:02d}.jpg", taken=f"2020:07:14 {8 + n // 60:02d}:{n % 60:02d}:00",
                   size=(16, 16))
    exif.photo(photos_dir / "quiet" / "late.jpg", taken="2022:07:14 21:00:00", size=(16, 16))
    exif.photo(photos_dir / "quiet" / "early.jpg", taken="2022:07:14 06:00:00", size=(16, 16))
    exif.photo(photos_dir / "quiet" / "old.jpg", taken="2018:07:14 12:00:00", size=(16, 16))
    Indexer(photos_dir).scan()
    years = ok(client, "/api/memories?date=2024-07-14")["years"]
    assert [(y["year"], y["yearsAgo"], len(y["items"])) for y in years] == [(2022, 2, 2), (2020, 4, 47), (2018, 6, 1)]
    assert [i["name"] for i in years[0]["items"]] == ["early.jpg", "late.jpg"]  # oldest first within a year
    assert [i["name"] for i in years[1]["items"]] == [f"p{n:02d}.jpg" for n in range(47)]


def test_february_29_is_remembered_only_on_february_29(client, photos_dir):
    exif.photo(photos_dir / "leap.jpg", taken="2020:02:29 12:00:00")
    Indexer(photos_dir).scan()
    assert [(y["year"], y["yearsAgo"]) for y in ok(client, "/api/memories?date=2024-02-29")["years"]] == [(2020, 4)]
    assert ok(client, "/api/memories?date=2023-02-28")["years"] == []
    assert ok(client, "/api/memories?date=2023-03-01")["years"] == []


def test_a_video_is_a_memory_by_its_creation_time(client, photos_dir):
    exif.clip(photos_dir / "clips" / "c.mp4", creation_time="2021-07-14T12:00:00Z")
    Indexer(photos_dir).scan()
    years = ok(client, "/api/memories?date=2024-07-14")["years"]
    assert [(y["year"], [(i["type"], i["name"]) for i in y["items"]]) for y in years] == [
        (2021, [("video", "c.mp4")])]
    assert years[0]["items"][0]["duration"] == pytest.approx(1.0, abs=0.2)
    assert ok(client, "/api/timeline")["months"] == months((2021, 7, 1))


@pytest.mark.parametrize("value", ["2024-13-01", "2024-7-14", "2023-02-29", "yesterday", "2024-07-14T00:00",
                                   "0000-01-01"])
def test_a_bad_memories_date_is_400_naming_it(scanned, value):
    response = scanned.get(f"/api/memories?date={quote(value)}")
    assert response.status_code == 400, response.get_json()
    assert (response.get_json()["code"], response.get_json()["field"]) == ("VALIDATION_ERROR", "date")
