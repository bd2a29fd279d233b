"""Issue 21 through the Flask test client on real files with real EXIF: GET /api/info (every field), who sees
the location (the showLocation setting), takenAt and duration on browse and search items, and the date-taken
sorts. The timeline and memories are in test_timeline_api.py, search filters in test_search_filters.py."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import pytest

from services import settings
from services.auth.passwords import hash_password
from services.gallery.index import Indexer
from tests.conftest import ADMIN_SECRET
from tests.support import exif, images, library
from tests.support.library import LAKE, PEAK, PEAK_GPS, SCAN, SCAN_MTIME
from tests.support.servers import require_binary

ADMIN = {"X-Admin-Secret": ADMIN_SECRET}
PASSWORD = "gallery password"


@pytest.fixture
def scanned(client, photos_dir, config):
    library.write(photos_dir)
    (photos_dir / "Family" / "notes.txt").write_text("not media")
    Indexer(config.photos_dir).scan()
    return client


def info(client, rel: str, **kwargs):
    return client.get(f"/api/info?path={quote(rel, safe='')}", **kwargs)


def gps_of(client, rel: str = PEAK, **kwargs):
    response = info(client, rel, **kwargs)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["gps"]


def camera_of(body: dict) -> dict | None:
    """The answer's camera as the contract has it, {make, model} (a display `name` besides is allowed)."""
    camera = body["camera"]
    return None if camera is None else {"make": camera["make"], "model": camera["model"]}


def private(public: bool = False) -> None:
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1",
                             settings.ALLOW_PUBLIC_ACCESS: "1" if public else "0"}, bump_epoch=True)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def admin_token(client) -> str:
    return client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET}).get_json()["token"]


def test_info_of_a_photo_with_full_exif_and_gps_as_the_admin(scanned, photos_dir):
    response = info(scanned, PEAK, headers=bearer(admin_token(scanned)))
    assert response.status_code == 200
    body = response.get_json()
    assert camera_of(body) == {"make": "Canon", "model": "EOS R6"}
    assert body["camera"].get("name", "Canon EOS R6") == "Canon EOS R6"  # more than the contract asks: fine
    assert body == {
        "path": PEAK, "name": "peak.jpg", "type": "photo", "size": (photos_dir / PEAK).stat().st_size,
        "mtime": pytest.approx(library.MTIME + 1), "width": 64, "height": 48,
        "takenAt": "2024-07-14T18:03:05+02:00", "takenFrom": "exif",
        "camera": body["camera"], "lens": library.RF50, "focalLength": 50.0,
        "fNumber": 1.8, "exposureTime": pytest.approx(0.004), "iso": 200,
        "gps": {"lat": pytest.approx(PEAK_GPS[0], abs=1e-6), "lon": pytest.approx(PEAK_GPS[1], abs=1e-6),
                "alt": pytest.approx(PEAK_GPS[2])},
        "duration": None, "codec": None, "caption": None}


def test_info_of_a_photo_without_exif_is_dated_by_its_mtime(scanned, photos_dir):
    body = info(scanned, SCAN).get_json()
    assert body == {
        "path": SCAN, "name": "scan.png", "type": "photo", "size": (photos_dir / SCAN).stat().st_size,
        "mtime": pytest.approx(SCAN_MTIME), "width": 320, "height": 240,
        "takenAt": datetime.fromtimestamp(SCAN_MTIME).astimezone().isoformat(timespec="seconds"),
        "takenFrom": "mtime", "camera": None, "lens": None, "focalLength": None, "fNumber": None,
        "exposureTime": None, "iso": None, "gps": None, "duration": None, "codec": None, "caption": None}


def test_only_the_make_or_only_the_model_still_makes_a_camera(client, photos_dir):
    exif.photo(photos_dir / "make.jpg", make="Leica")
    exif.photo(photos_dir / "model.jpg", model="Q3")
    exif.photo(photos_dir / "none.jpg", lens="Summilux 28")
    Indexer(photos_dir).scan()
    assert camera_of(info(client, "make.jpg").get_json()) == {"make": "Leica", "model": None}
    assert camera_of(info(client, "model.jpg").get_json()) == {"make": None, "model": "Q3"}
    body = info(client, "none.jpg").get_json()
    assert (body["camera"], body["lens"], body["takenFrom"]) == (None, "Summilux 28", "mtime")


def test_text_that_is_not_ascii_is_shown_as_the_camera_wrote_it(client, photos_dir):
    exif.photo(photos_dir / "e.jpg", make="Éclair", model="ACL Ⅱ 小型", lens="Angénieux 12-120")
    Indexer(photos_dir).scan()
    body = info(client, "e.jpg").get_json()
    assert (camera_of(body), body["lens"]) == ({"make": "Éclair", "model": "ACL Ⅱ 小型"}, "Angénieux 12-120")


def test_info_of_a_video(client, photos_dir):
    require_binary("ffprobe")
    exif.clip(photos_dir / "clips" / "c.mp4", seconds=1, creation_time="2021-07-14T12:00:00Z")
    Indexer(photos_dir).scan()
    body = info(client, "clips/c.mp4").get_json()
    assert body == {
        "path": "clips/c.mp4", "name": "c.mp4", "type": "video", "size": (photos_dir / "clips/c.mp4").stat().st_size,
        "mtime": pytest.approx((photos_dir / "clips/c.mp4").stat().st_mtime), "width": 64, "height": 48,
        "takenAt": "2021-07-14T12:00:00+00:00", "takenFrom": "video", "camera": None, "lens": None,
        "focalLength": None, "fNumber": None, "exposureTime": None, "iso": None, "gps": None,
        "duration": pytest.approx(1.0, abs=0.2), "codec": "mpeg4", "caption": None,
        "playable": "pending", "hlsUrl": None}  # MPEG-4 Part 2: streams once its HLS rendition is made (issue 23)
    item = next(i for i in client.get("/api/browse/clips").get_json()["items"] if i["name"] == "c.mp4")
    assert item["takenAt"] == "2021-07-14T12:00:00+00:00" and item["duration"] == pytest.approx(1.0, abs=0.2)


def test_location_is_private_by_default_and_shown_to_everyone_once_the_admin_allows_it(scanned):
    assert scanned.get("/api/settings").get_json()["showLocation"] is False
    assert gps_of(scanned) is None  # anonymous
    token = admin_token(scanned)  # also leaves the admin cookie in this client, as the web UI's admin login does
    assert gps_of(scanned)["lat"] == pytest.approx(PEAK_GPS[0], abs=1e-6)  # by the admin cookie
    scanned.delete_cookie("admin_token", path="/api")
    assert gps_of(scanned, headers=bearer(token))["lon"] == pytest.approx(PEAK_GPS[1], abs=1e-6)
    assert gps_of(scanned) is None
    answer = scanned.post("/api/settings", json={"showLocation": True}, headers=ADMIN)
    assert answer.status_code == 200 and answer.get_json()["showLocation"] is True
    assert scanned.get("/api/settings").get_json()["showLocation"] is True
    assert gps_of(scanned)["alt"] == pytest.approx(PEAK_GPS[2])
    assert gps_of(scanned, LAKE) is None  # shown, but LAKE has none
    scanned.post("/api/settings", json={"showLocation": False}, headers=ADMIN)
    assert gps_of(scanned) is None


def test_a_viewer_sees_no_location_until_it_is_allowed(scanned):
    private(public=True)
    viewer = scanned.post("/api/auth/login", json={"password": PASSWORD}).get_json()["token"]
    scanned.delete_cookie("auth_token")
    assert gps_of(scanned, headers=bearer(viewer)) is None
    scanned.post("/api/settings", json={"showLocation": True}, headers=ADMIN)
    assert gps_of(scanned, headers=bearer(viewer))["lat"] == pytest.approx(PEAK_GPS[0], abs=1e-6)


@pytest.mark.parametrize("body", [{"showLocation": "yes"}, {"showLocation": 1}, {"showLocation": None}])
def test_show_location_must_be_a_boolean(client, body):
    response = client.post("/api/settings", json=body, headers=ADMIN)
    assert response.status_code == 400 and response.get_json()["field"] == "showLocation"
    assert client.get("/api/settings").get_json()["showLocation"] is False


def test_only_the_admin_changes_show_location(client):
    assert client.post("/api/settings", json={"showLocation": True}).status_code == 403
    assert client.get("/api/settings").get_json()["showLocation"] is False


def test_no_list_leaks_a_location(scanned):
    """Coordinates are only in /api/info, and only as the setting says: never in a page of items."""
    lat = f"{PEAK_GPS[0]}"
    for url in ("/api/browse/2024%20Trip/Alps", "/api/search?q=peak", "/api/search?q=year:2024",
                "/api/timeline/2024-07", "/api/memories?date=2025-07-14"):
        response = scanned.get(url)
        assert response.status_code == 200, url
        assert "gps" not in response.get_data(as_text=True) and lat not in response.get_data(as_text=True), url


@pytest.mark.parametrize(("rel", "status", "code"), [
    ("2024 Trip", 404, "NOT_FOUND"),  # an album
    ("2024 Trip/Alps/none.jpg", 404, "NOT_FOUND"),
    ("Family/notes.txt", 404, "NOT_FOUND"),  # a file that is not media
    ("../etc/passwd", 400, "INVALID_PATH"),
    ("Family/\x00.jpg", 400, "INVALID_PATH"),
])
def test_info_errors(scanned, rel, status, code):
    response = info(scanned, rel)
    assert (response.status_code, response.get_json()["code"]) == (status, code)


def test_info_without_a_path_is_400(scanned):
    response = scanned.get("/api/info")
    assert response.status_code == 400 and response.get_json()["field"] == "path"
    assert scanned.get("/api/info?path=").status_code in (400, 404)  # the root: an album, never a 500


def test_a_private_gallery_needs_a_token_for_every_new_read(scanned):
    private()
    reads = (f"/api/info?path={quote(PEAK)}", "/api/timeline", "/api/timeline/2024-07", "/api/memories",
             "/api/search?q=year:2024", "/api/search/filters")
    for url in reads:
        response = scanned.get(url)
        assert (response.status_code, response.get_json()["code"]) == (401, "AUTH_REQUIRED"), url
    token = scanned.post("/api/auth/login", json={"password": PASSWORD}).get_json()["token"]
    scanned.delete_cookie("auth_token")
    assert {url: scanned.get(url, headers=bearer(token)).status_code for url in reads} == dict.fromkeys(reads, 200)


def test_browse_and_search_items_carry_the_date_taken_and_duration(scanned):
    alps = scanned.get("/api/browse/2024%20Trip/Alps?sort=name_asc").get_json()["items"]
    assert [(i["name"], i["takenAt"], i["duration"]) for i in alps] == [
        ("lake.jpg", "2024-07-31T23:30:00-05:00", None), ("peak.jpg", "2024-07-14T18:03:05+02:00", None)]
    found = scanned.get("/api/search?q=scan").get_json()["items"]
    local = datetime.fromtimestamp(SCAN_MTIME).astimezone().isoformat(timespec="seconds")
    assert [(i["name"], i["takenAt"], i["duration"]) for i in found] == [("scan.png", local, None)]
    sea = next(i for i in scanned.get("/api/browse/2024%20Trip").get_json()["items"] if i["type"] == "photo")
    assert sea["takenAt"] == "2024-08-02T09:00:00"  # no offset in its EXIF: a local time without one


# --- sorts by date taken ---------------------------------------------------------------------------------

@pytest.fixture
def sortable(client, photos_dir):
    """Media whose mtime order is the reverse of their date-taken order, a tie, one dated by mtime, two albums."""
    album = photos_dir / "sorts"
    exif.photo(album / "new.jpg", taken="2024:05:01 10:00:00", offset="+02:00", mtime=library.MTIME + 1)
    exif.photo(album / "img10.jpg", taken="2023:05:01 10:00:00", mtime=library.MTIME + 2)
    exif.photo(album / "img2.jpg", taken="2023:05:01 10:00:00", mtime=library.MTIME + 3)  # the same second
    images.png(album / "plain.png", mtime=datetime(2022, 6, 1, 12).timestamp())  # dated by its mtime: 2022-06
    exif.photo(album / "old.jpg", taken="2021:05:01 10:00:00", offset="-08:00", mtime=library.MTIME + 4)
    images.jpeg(album / "a1" / "x.jpg", mtime=library.MTIME + 10)  # the newer album
    images.jpeg(album / "a2" / "y.jpg", mtime=library.MTIME - 10)
    Indexer(photos_dir).scan()
    return client


def names(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.get_json()
    return [item["name"] for item in response.get_json()["items"]]


def test_taken_sorts_order_media_by_date_taken_with_ties_in_natural_order(sortable):
    desc = sortable.get("/api/browse/sorts?sort=taken_desc").get_json()
    assert desc["sort"] == "taken_desc"
    assert [i["name"] for i in desc["items"]] == ["a1", "a2", "new.jpg", "img2.jpg", "img10.jpg", "plain.png",
                                                  "old.jpg"]
    assert names(sortable, "/api/browse/sorts?sort=taken_asc") == [
        "a2", "a1", "old.jpg", "plain.png", "img2.jpg", "img10.jpg", "new.jpg"]
    assert names(sortable, "/api/browse/sorts?sort=mtime_desc")[2:] == [
        "old.jpg", "img2.jpg", "img10.jpg", "new.jpg", "plain.png"]  # unchanged: the files' own times


def test_smart_orders_media_by_date_taken_newest_first(sortable):
    assert names(sortable, "/api/browse/sorts") == names(sortable, "/api/browse/sorts?sort=smart") == [
        "a1", "a2", "new.jpg", "img2.jpg", "img10.jpg", "plain.png", "old.jpg"]
    assert sortable.post("/api/browse/viewed", json={"path": "sorts/a2"}).status_code == 204
    assert names(sortable, "/api/browse/sorts")[:2] == ["a2", "a1"]  # albums: viewed first, as before


def test_taken_sorts_page_like_the_others(sortable):
    pages = [sortable.get(f"/api/browse/sorts?sort=taken_asc&limit=3&page={n}").get_json() for n in (1, 2, 3, 4)]
    assert [[i["name"] for i in p["items"]] for p in pages] == [
        ["a2", "a1", "old.jpg"], ["plain.png", "img2.jpg", "img10.jpg"], ["new.jpg"], []]
    assert all((p["totalResults"], p["totalPages"]) == (7, 3) for p in pages)
    response = sortable.get("/api/browse/sorts?sort=taken")
    assert response.status_code == 400 and response.get_json()["field"] == "sort"
    assert "taken_desc" in response.get_json()["message"]


def test_rows_of_an_older_release_sort_by_their_file_time_until_the_next_scan_dates_them(sortable):
    """After an upgrade, rows of the release before have no date taken until the next scan reads them again;
    init_db gives them their mtime meanwhile, so they sort the same way on SQLite and PostgreSQL (which would
    put NULLs first where SQLite puts them last)."""
    from models import Media
    from services.database import init_db

    Media.update(taken_at=None, taken_from=None, taken_key=None).where(Media.name == "new.jpg").execute()
    init_db()  # what the next start of the server runs
    assert Media.select().where(Media.taken_key.is_null()).count() == 0
    # new.jpg's file time (June 2025) is newer than every date taken; its EXIF date (2024) comes back at the scan
    assert names(sortable, "/api/browse/sorts?sort=taken_desc")[2:] == [
        "new.jpg", "img2.jpg", "img10.jpg", "plain.png", "old.jpg"]
    assert names(sortable, "/api/browse/sorts?sort=taken_asc")[-1] == "new.jpg"
    item = next(i for i in sortable.get("/api/browse/sorts").get_json()["items"] if i["name"] == "new.jpg")
    assert item["takenAt"] is None
