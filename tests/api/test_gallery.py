"""Browse, originals, recently viewed and search through the Flask test client, on real files."""

import os
import shutil
import time
from datetime import UTC, datetime

import pytest

from services import settings
from services.auth.passwords import hash_password
from services.gallery.index import Indexer
from tests.support import images
from tests.support.servers import require_binary

NOW = time.time()
PASSWORD = "gallery password"


@pytest.fixture
def tree(photos_dir):
    for n, name in enumerate(["img1.jpg", "img10.jpg", "img2.jpg", "IMG3.png"]):
        (images.png if name.endswith(".png") else images.jpeg)(photos_dir / "trip" / name, mtime=NOW - 100 + n)
    images.jpeg(photos_dir / "trip" / "day 2" / "beach.jpg", mtime=NOW - 10)
    images.jpeg(photos_dir / "家庭" / "猫.jpg", mtime=NOW - 1000)
    images.jpeg(photos_dir / "old" / "scan.jpg", mtime=NOW - 5000)
    images.png(photos_dir / "trip" / "disguised.jpg", mtime=NOW - 3000)  # a PNG named .jpg
    (photos_dir / "trip" / "notes.txt").write_text("text")
    return photos_dir


@pytest.fixture
def scanned(client, tree, config):
    Indexer(config.photos_dir).scan()
    return client


def names(response):
    return [item["name"] for item in response.get_json()["items"]]


def private(public=False):
    settings.write_settings({settings.PASSWORD_HASH: hash_password(PASSWORD), settings.PASSWORD_ENABLED: "1",
                             settings.ALLOW_PUBLIC_ACCESS: "1" if public else "0"}, bump_epoch=True)


def test_root_lists_albums_with_counts_and_covers(scanned):
    body = scanned.get("/api/browse").get_json()
    assert body["path"] == "" and body["breadcrumbs"] == [{"name": "", "path": ""}]
    assert body["totalResults"] == 3 and body["totalPages"] == 1 and body["sort"] == "smart"
    trip = next(item for item in body["items"] if item["name"] == "trip")
    assert trip["type"] == "album" and trip["itemCount"] == 6
    assert trip["coverUrl"] == f"/api/thumbnail?path=trip%2Fday%202%2Fbeach.jpg&v={int((NOW - 10) * 1000)}"
    assert (trip["coverWidth"], trip["coverHeight"]) == (640, 480)
    assert names(scanned.get("/api/browse?sort=mtime_desc")) == ["trip", "家庭", "old"]


def test_album_page_shape_natural_order_and_sorts(scanned):
    body = scanned.get("/api/browse/trip?sort=name_asc").get_json()
    assert names(scanned.get("/api/browse/trip?sort=name_asc")) == [
        "day 2", "disguised.jpg", "img1.jpg", "img2.jpg", "IMG3.png", "img10.jpg"]
    assert body["breadcrumbs"] == [{"name": "", "path": ""}, {"name": "trip", "path": "trip"}]
    photo = body["items"][2]
    assert photo == {"type": "photo", "name": "img1.jpg", "path": "trip/img1.jpg", "mtime": pytest.approx(NOW - 100),
                     "size": photo["size"], "width": 640, "height": 480, "originalUrl": "/api/file/trip/img1.jpg",
                     "takenAt": datetime.fromtimestamp(NOW - 100, UTC).astimezone().isoformat(timespec="seconds"),
                     "duration": None, "placeholder": None,
                     "thumbnailUrl": f"/api/thumbnail?path=trip%2Fimg1.jpg&v={int((NOW - 100) * 1000)}",
                     "previewUrl": f"/api/preview?path=trip%2Fimg1.jpg&v={int((NOW - 100) * 1000)}"}
    assert names(scanned.get("/api/browse/trip?sort=name_desc")) == [
        "day 2", "img10.jpg", "IMG3.png", "img2.jpg", "img1.jpg", "disguised.jpg"]
    assert names(scanned.get("/api/browse/trip?sort=mtime_asc"))[1:] == [
        "disguised.jpg", "img1.jpg", "img10.jpg", "img2.jpg", "IMG3.png"]
    assert names(scanned.get("/api/browse/trip"))[1:3] == ["IMG3.png", "img2.jpg"]  # smart: newest media first


def test_pagination_keeps_real_totals_past_the_end(scanned):
    pages = [scanned.get(f"/api/browse/trip?sort=name_asc&limit=4&page={n}").get_json() for n in (1, 2, 3)]
    assert [names_of(p) for p in pages] == [["day 2", "disguised.jpg", "img1.jpg", "img2.jpg"],
                                            ["IMG3.png", "img10.jpg"], []]
    assert all(p["totalResults"] == 6 and p["totalPages"] == 2 for p in pages)


def names_of(body):
    return [item["name"] for item in body["items"]]


@pytest.mark.parametrize("query, field", [("limit=201", "limit"), ("limit=0", "limit"), ("page=0", "page"),
                                          ("page=x", "page"), ("sort=random", "sort")])
def test_bad_browse_parameters_are_400(scanned, query, field):
    response = scanned.get(f"/api/browse/trip?{query}")
    assert response.status_code == 400 and response.get_json()["field"] == field


def test_browse_sees_changes_before_the_next_scan(scanned, tree):
    images.jpeg(tree / "trip" / "img4.jpg", mtime=NOW)
    shutil.rmtree(tree / "old")
    assert "img4.jpg" in names(scanned.get("/api/browse/trip"))
    assert names(scanned.get("/api/browse?sort=name_asc")) == ["trip", "家庭"]


def test_path_errors(scanned, tree, tmp_path):
    images.jpeg(tmp_path / "outside" / "private.jpg")
    os.symlink(tmp_path / "outside", tree / "escape")
    cases = {"/api/browse/../x": 400, "/api/browse/%2e%2e": 400, "/api/browse/.hidden": 400,
             "/api/browse/escape": 403, "/api/browse/missing": 404, "/api/browse/trip/img1.jpg": 404,
             "/api/file/trip/notes.txt": 404, "/api/file/trip": 404, "/api/file/escape/private.jpg": 403,
             "/api/file/trip/none.jpg": 404}
    for url, status in cases.items():
        response = scanned.get(url)
        assert response.status_code == status, url
        assert response.get_json()["code"] in ("INVALID_PATH", "PATH_FORBIDDEN", "NOT_FOUND")


def test_originals_with_real_type_etag_and_range(scanned, tree):
    whole = scanned.get("/api/file/trip/img1.jpg")
    assert whole.status_code == 200 and whole.data == (tree / "trip" / "img1.jpg").read_bytes()
    assert whole.mimetype == "image/jpeg" and whole.headers["X-Content-Type-Options"] == "nosniff"
    assert whole.headers["Cache-Control"] == "public, max-age=3600" and whole.headers["Last-Modified"]
    again = scanned.get("/api/file/trip/img1.jpg", headers={"If-None-Match": whole.headers["ETag"]})
    assert again.status_code == 304
    part = scanned.get("/api/file/trip/img1.jpg", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.data == whole.data[10:20]
    assert scanned.get("/api/file/trip/disguised.jpg").mimetype == "image/png"
    assert scanned.get("/api/file/家庭/猫.jpg").status_code == 200


def test_video_range_for_seeking(client, tree, config):
    require_binary("ffmpeg")  # skips outside CI when missing, fails in CI
    clip = images.video(tree / "clips" / "clip.mp4")
    response = client.get("/api/file/clips/clip.mp4", headers={"Range": "bytes=100-"})
    assert response.status_code == 206 and response.mimetype == "video/mp4"
    assert response.data == clip.read_bytes()[100:]


def test_recently_viewed_for_an_anonymous_visitor(scanned):
    assert scanned.get("/api/browse/viewed").get_json()["items"] == []
    response = scanned.post("/api/browse/viewed", json={"path": "old"})
    assert response.status_code == 204
    cookie = scanned.get_cookie("visitor_id")
    assert cookie is not None and cookie.http_only and len(cookie.value) == 32
    time.sleep(0.01)
    assert scanned.post("/api/browse/viewed", json={"path": "家庭/猫.jpg"}).status_code == 204  # its album
    assert names(scanned.get("/api/browse/viewed")) == ["家庭", "old"]
    assert names(scanned.get("/api/browse?sort=smart")) == ["家庭", "old", "trip"]
    assert names(scanned.get("/api/browse?sort=viewed_desc")) == ["家庭", "old", "trip"]
    other = scanned.application.test_client()
    assert other.get("/api/browse/viewed").get_json()["items"] == []  # another browser, its own history


def test_recording_a_view_never_401s_when_the_gallery_is_readable(scanned):
    private(public=True)
    garbage = {"Authorization": "Bearer not.a.token"}
    assert scanned.post("/api/browse/viewed", json={"path": "trip"}, headers=garbage).status_code == 204
    assert scanned.get("/api/browse/trip", headers=garbage).status_code == 200


@pytest.mark.parametrize("body, status", [({"path": "../x"}, 400), ({"path": "nowhere"}, 404), ({}, 400),
                                          ({"path": 5}, 400)])
def test_bad_view_records(scanned, body, status):
    assert scanned.post("/api/browse/viewed", json=body).status_code == status


def test_private_gallery_needs_a_login_for_every_read(scanned):
    private()
    for url in ("/api/browse", "/api/browse/trip", "/api/file/trip/img1.jpg", "/api/search?q=img",
                "/api/browse/viewed"):
        response = scanned.get(url)
        assert response.status_code == 401 and response.get_json()["code"] == "AUTH_REQUIRED", url
    assert scanned.post("/api/browse/viewed", json={"path": "trip"}).status_code == 401
    scanned.post("/api/auth/login", json={"password": PASSWORD})
    assert scanned.get("/api/browse/trip").status_code == 200
    file = scanned.get("/api/file/trip/img1.jpg")
    assert file.status_code == 200 and file.headers["Cache-Control"] == "private, max-age=3600"
    assert scanned.post("/api/browse/viewed", json={"path": "trip"}).get_json()["code"] == "CSRF_FAILED"
    csrf = scanned.get_cookie("csrf_access_token").value
    assert scanned.post("/api/browse/viewed", json={"path": "trip"}, headers={"X-CSRF-TOKEN": csrf}).status_code == 204


def test_search_albums_and_media(scanned):
    assert names(scanned.get("/api/search?q=IMG1")) == ["img1.jpg", "img10.jpg"]
    assert names(scanned.get("/api/search?q=img")) == ["img1.jpg", "img2.jpg", "IMG3.png", "img10.jpg"]
    assert names(scanned.get("/api/search?q=家")) == ["家庭", "猫.jpg"]  # the album, and a photo in it
    assert names(scanned.get("/api/search?q=猫")) == ["猫.jpg"]
    assert names(scanned.get("/api/search?q=TRIP")) == ["trip", "disguised.jpg", "img1.jpg", "img2.jpg",
                                                        "IMG3.png", "img10.jpg"]
    assert names(scanned.get("/api/search?q=%25")) == []  # no wildcard meaning
    paged = scanned.get("/api/search?q=img&limit=3&page=2").get_json()
    assert names_of(paged) == ["img10.jpg"] and paged["totalResults"] == 4 and paged["totalPages"] == 2
    for bad in ("/api/search", "/api/search?q=%20", "/api/search?q=" + "x" * 201):
        assert scanned.get(bad).get_json()["field"] == "q"


def test_index_status_and_scan_request(scanned):
    status = scanned.get("/api/settings/status").get_json()["index"]
    assert (status["albums"], status["photos"], status["videos"]) == (4, 8, 0)
    assert status["running"] is False and status["complete"] is True and status["added"] == 8
    assert scanned.post("/api/settings/sync/index").status_code == 403
    from tests.conftest import ADMIN_SECRET

    response = scanned.post("/api/settings/sync/index", headers={"X-Admin-Secret": ADMIN_SECRET})
    assert response.status_code == 202 and response.get_json() == {"queued": True}
    from services import settings as store

    assert store.read_setting("job-request:index") is not None


@pytest.mark.parametrize("mode", ["anonymous", "public", "private"])
def test_every_gallery_read_in_every_mode(scanned, mode):
    if mode != "anonymous":
        private(public=mode == "public")
    reads = ("/api/browse", "/api/browse/trip", "/api/file/trip/img1.jpg", "/api/thumbnail?path=trip/img1.jpg&v=1",
             "/api/search?q=img", "/api/browse/viewed", "/api/thumbnail/stats", "/api/settings/status")
    expected = 401 if mode == "private" else 200
    assert {url: scanned.get(url).status_code for url in reads} == {url: expected for url in reads}
    assert scanned.post("/api/browse/viewed", json={"path": "trip"}).status_code == (401 if mode == "private" else 204)
    if mode == "private":
        token = scanned.post("/api/auth/login", json={"password": PASSWORD}).get_json()["token"]
        scanned.delete_cookie("auth_token")
        bearer = {"Authorization": f"Bearer {token}"}
        assert {url: scanned.get(url, headers=bearer).status_code for url in reads} == {url: 200 for url in reads}
        assert scanned.post("/api/browse/viewed", json={"path": "trip"}, headers=bearer).status_code == 204
