"""Album management over HTTP: only the admin, only when allowAlbumDelete is on, never the root, never outside the
gallery; delete → not listed and covers updated, files intact in the trash; restore → back with the same bytes and
mtimes, never over something; purge; rename with the path rules; the album-changed events."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from models import Caption, Event, Media
from services.gallery import index_rows
from tests.support import images
from tests.support import share_links as links
from tests.support.share_links import ADMIN, assert_error, create

quick_bcrypt, client = links.quick_bcrypt, links.client  # fixtures: album/a.jpg, album/sub/b.jpg, clips/c.mp4


def allow_delete(client, allowed=True, **more):
    response = client.post("/api/settings", json={"allowAlbumDelete": allowed, **more}, headers=ADMIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def names(client, path=""):
    body = client.get(f"/api/browse/{path}", headers=ADMIN).get_json()
    return [item["name"] for item in body["items"]]


def album_events():
    return [json.loads(e.data)["path"] for e in Event.select().where(Event.type == "album-changed").order_by(Event.id)]


def trash_items(client):
    response = client.get("/api/trash", headers=ADMIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]


ADMIN_CALLS = [("delete", "/api/albums/album", None), ("post", "/api/albums/album/rename", {"name": "x"}),
               ("get", "/api/trash", None), ("post", "/api/trash/" + "0" * 32 + "/restore", None),
               ("delete", "/api/trash/" + "0" * 32, None)]


@pytest.mark.parametrize(("method", "url", "body"), ADMIN_CALLS)
def test_every_album_call_needs_the_admin(client, photos_dir, method, url, body):
    allow_delete(client)
    assert_error(client.open(url, method=method, json=body), 403, "ADMIN_REQUIRED")
    wrong = client.open(url, method=method, json=body, headers={"X-Admin-Secret": "not the secret!"})
    assert_error(wrong, 401, "ADMIN_SECRET_INVALID")
    assert (photos_dir / "album" / "a.jpg").exists() and not (photos_dir / "x").exists()


def test_a_viewer_or_a_share_session_cannot_delete_or_rename(client, photos_dir):
    allow_delete(client)
    share = create(client, "album")
    links.make_private()
    viewer = client.post("/api/auth/login", json={"password": links.GALLERY_PASSWORD}).get_json()["token"]
    opened = client.post(f"/api/share/{share['token']}/open").get_json()
    for token in (viewer, opened["accessToken"]):
        for method, url, body in ADMIN_CALLS:
            response = client.open(url, method=method, json=body, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 403, response.get_data(as_text=True)
            assert response.get_json()["code"] in ("ADMIN_REQUIRED", "SHARE_SCOPE")
    assert (photos_dir / "album" / "a.jpg").exists() and not (photos_dir / "x").exists()


def test_delete_is_off_until_the_owner_allows_it(client, photos_dir):
    assert client.get("/api/settings").get_json()["allowAlbumDelete"] is False
    assert_error(client.delete("/api/albums/album", headers=ADMIN), 403, "ALBUM_DELETE_DISABLED")
    assert (photos_dir / "album" / "a.jpg").exists()


@pytest.mark.parametrize(("raw", "status", "code"), [
    ("", 404, "NOT_FOUND"),  # no route: /api/albums/ is not an album
    ("/", 400, "INVALID_PATH"), ("..", 400, "INVALID_PATH"), ("album/..", 400, "INVALID_PATH"),
    ("%2e%2e", 400, "INVALID_PATH"), ("album/.hidden", 400, "INVALID_PATH"), ("missing", 404, "NOT_FOUND"),
    ("album/a.jpg", 404, "NOT_FOUND"), ("escape", 403, "PATH_FORBIDDEN"),
])
def test_the_root_and_paths_outside_are_refused(client, photos_dir, tmp_path, raw, status, code):
    (tmp_path / "outside").mkdir()
    images.jpeg(tmp_path / "outside" / "o.jpg", (8, 8))
    os.symlink(tmp_path / "outside", photos_dir / "escape")
    allow_delete(client)
    before = snapshot(photos_dir)
    assert_error(client.delete(f"/api/albums/{raw}", headers=ADMIN), status, code)
    if raw:
        assert_error(client.post(f"/api/albums/{raw}/rename", json={"name": "new"}, headers=ADMIN), status, code)
    assert snapshot(photos_dir) == before and (tmp_path / "outside" / "o.jpg").exists()
    assert trash_items(client) == []


def test_delete_then_restore(client, photos_dir, tmp_path):
    allow_delete(client)
    assert names(client) == ["album", "clips"] and names(client, "album") == ["sub", "a.jpg"]
    before = snapshot(photos_dir / "album")
    response = client.delete("/api/albums/album/sub", headers=ADMIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    item = response.get_json()
    assert item["path"] == "album/sub" and item["name"] == "sub" and item["purgeAt"] == item["deletedAt"] + 30 * 86400
    assert names(client, "album") == ["a.jpg"]
    assert client.get("/api/browse/album/sub", headers=ADMIN).status_code == 404
    assert album_events()[-1] == "album"
    in_trash = tmp_path / "data" / "trash" / item["id"] / "album"
    assert (in_trash / "b.jpg").read_bytes() == before["sub/b.jpg"][0]
    assert trash_items(client) == [item]
    assert client.delete("/api/albums/album", headers=ADMIN).status_code == 200
    root = client.get("/api/browse", headers=ADMIN).get_json()
    assert [i["name"] for i in root["items"]] == ["clips"]
    first = client.post(f"/api/trash/{item['id']}/restore", headers=ADMIN)
    assert first.status_code == 200 and first.get_json() == {"path": "album/sub", "id": item["id"]}
    assert names(client) == ["album", "clips"] and names(client, "album") == ["sub"]  # the parent is made again
    assert_error(client.post(f"/api/trash/{item['id']}/restore", headers=ADMIN), 404, "NOT_FOUND")
    [whole] = trash_items(client)
    assert_error(client.post(f"/api/trash/{whole['id']}/restore", headers=ADMIN), 409, "CONFLICT")  # album/ is back
    os.rename(photos_dir / "album" / "sub", tmp_path / "sub")
    os.rmdir(photos_dir / "album")
    assert client.post(f"/api/trash/{whole['id']}/restore", headers=ADMIN).status_code == 200
    assert snapshot(photos_dir / "album") == {k: v for k, v in before.items() if not k.startswith("sub/")}
    os.rename(tmp_path / "sub", photos_dir / "album" / "sub")
    assert snapshot(photos_dir / "album") == before


def test_delete_updates_the_parents_cover_and_count(client, photos_dir):
    allow_delete(client)
    images.jpeg(photos_dir / "top" / "old.jpg", (32, 24))
    os.utime(photos_dir / "top" / "old.jpg", (1_000_000, 1_000_000))
    images.jpeg(photos_dir / "top" / "newer" / "new.jpg", (32, 24))
    assert names(client, "top/newer") == ["new.jpg"] and names(client, "top") == ["newer", "old.jpg"]
    top = next(i for i in client.get("/api/browse", headers=ADMIN).get_json()["items"] if i["name"] == "top")
    assert top["itemCount"] == 2 and "newer" in top["coverUrl"]
    assert client.delete("/api/albums/top/newer", headers=ADMIN).status_code == 200
    top = next(i for i in client.get("/api/browse", headers=ADMIN).get_json()["items"] if i["name"] == "top")
    assert top["itemCount"] == 1 and "old.jpg" in top["coverUrl"]


def test_purge_removes_for_good(client, photos_dir, tmp_path):
    allow_delete(client)
    item = client.delete("/api/albums/clips", headers=ADMIN).get_json()
    assert client.delete(f"/api/trash/{item['id']}", headers=ADMIN).status_code == 204
    assert trash_items(client) == [] and list((tmp_path / "data" / "trash").iterdir()) == []
    assert_error(client.delete(f"/api/trash/{item['id']}", headers=ADMIN), 404, "NOT_FOUND")
    assert_error(client.delete("/api/trash/..%2f..%2fphotos", headers=ADMIN), 404, "NOT_FOUND")
    assert (photos_dir / "album" / "a.jpg").exists()


def test_trash_days_setting(client):
    body = allow_delete(client, trashDays=7)
    assert body["allowAlbumDelete"] is True and body["trashDays"] == 7
    assert client.get("/api/trash", headers=ADMIN).get_json() == {"items": [], "trashDays": 7}
    for bad in (0, -1, 3651, 1.5, "7", True, None):
        response = client.post("/api/settings", json={"trashDays": bad}, headers=ADMIN)
        assert_error(response, 400, "VALIDATION_ERROR")
        assert response.get_json()["field"] == "trashDays"
    assert client.get("/api/settings").get_json()["trashDays"] == 7


def test_rename(client, photos_dir):
    before = snapshot(photos_dir / "album")
    response = client.post("/api/albums/album/rename", json={"name": "Trip 2024 旅行"}, headers=ADMIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"path": "Trip 2024 旅行", "previousPath": "album"}
    assert snapshot(photos_dir / "Trip 2024 旅行") == before and not (photos_dir / "album").exists()
    assert sorted(names(client)) == ["Trip 2024 旅行", "clips"] and names(client, "Trip 2024 旅行") == ["sub", "a.jpg"]
    assert album_events()[-1] == ""
    assert client.post("/api/albums/Trip 2024 旅行/sub/rename", json={"name": "deeper"},
                       headers=ADMIN).get_json()["path"] == "Trip 2024 旅行/deeper"
    assert album_events()[-1] == "Trip 2024 旅行"


def test_a_rename_moves_the_index_and_keeps_what_was_made(app, client, photos_dir, loads, monkeypatch):
    """A renamed album's rows move (same rows, nothing read from the disk again), and its thumbnails, previews,
    video renditions and AI captions follow it: a 50,000-photo album renamed must not be indexed and made anew."""
    images.not_an_image(photos_dir / "album" / "sub" / "v.avi")  # a video that needs a rendition
    client.get("/api/browse/album/sub", headers=ADMIN)
    for path in ("album/a.jpg", "album/sub/b.jpg"):
        for url in (f"/api/thumbnail?path={path}", f"/api/preview?path={path}"):
            assert client.get(url, headers=ADMIN).status_code == 200
    video = Media.get(Media.path == "album/sub/v.avi")
    renditions = app.extensions["photonix_videos"]
    ready = renditions.folder(renditions.key(video.path, video.mtime, video.size))
    ready.mkdir(parents=True)
    (ready / "master.m3u8").write_text("#EXTM3U\n")
    photo = Media.get(Media.path == "album/a.jpg")
    Caption.insert(key="k", path_hash=photo.path_hash, path=photo.path, mtime=photo.mtime, size=photo.size,
                   model="m", text="a red kite over dunes", text_folded="a red kite over dunes",
                   created_at=1.0).execute()
    rows = {row.id: row.path for row in Media.select()}
    decoded = len(loads)
    monkeypatch.setattr(index_rows, "media_row", lambda *_: pytest.fail("a moved file was read from the disk again"))

    response = client.post("/api/albums/album/rename", json={"name": "Dunes"}, headers=ADMIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert {row.id: row.path for row in Media.select()} == {
        row_id: "Dunes" + path[len("album"):] if path.startswith("album/") else path for row_id, path in rows.items()}
    # (sorted: the default order puts the newer of two files made within the same moment either way)
    assert names(client, "Dunes") == ["sub", "a.jpg"] and sorted(names(client, "Dunes/sub")) == ["b.jpg", "v.avi"]
    [cover] = [item for item in client.get("/api/browse/", headers=ADMIN).get_json()["items"]
               if item["name"] == "Dunes"]
    assert cover["coverUrl"].startswith("/api/thumbnail?path=Dunes%2F")
    for path in ("Dunes/a.jpg", "Dunes/sub/b.jpg"):
        for url in (f"/api/thumbnail?path={path}", f"/api/preview?path={path}"):
            assert client.get(url, headers=ADMIN).status_code == 200
    assert len(loads) == decoded  # served from the carried files
    [item] = [i for i in client.get("/api/browse/Dunes/sub", headers=ADMIN).get_json()["items"] if i["name"] == "v.avi"]
    assert item["playable"] == "hls" and not ready.exists()
    info = client.get("/api/info?path=Dunes/a.jpg", headers=ADMIN).get_json()
    assert info["caption"]["text"] == "a red kite over dunes"
    found = client.get("/api/search?q=red kite", headers=ADMIN).get_json()
    assert [item["path"] for item in found["items"]] == ["Dunes/a.jpg"]
    found = client.get("/api/search?q=dunes", headers=ADMIN).get_json()  # by the album's new name, not its old one
    assert {item["path"] for item in found["items"]} >= {"Dunes", "Dunes/a.jpg"}
    assert client.get("/api/search?q=album", headers=ADMIN).get_json()["items"] == []


@pytest.mark.parametrize("name", [".env", "..", ".", "a/b", "", "x\ny", "x.tmp", " pad", "n" * 256, 7, None])
def test_rename_refuses_names_the_gallery_refuses(client, photos_dir, name):
    before = snapshot(photos_dir)
    body = assert_error(client.post("/api/albums/album/rename", json={"name": name}, headers=ADMIN),
                        400, "VALIDATION_ERROR")
    assert body["field"] == "name" and snapshot(photos_dir) == before


def test_rename_never_replaces(client, photos_dir):
    (photos_dir / "empty").mkdir()
    assert_error(client.post("/api/albums/album/rename", json={"name": "clips"}, headers=ADMIN), 409, "CONFLICT")
    assert_error(client.post("/api/albums/album/rename", json={"name": "empty"}, headers=ADMIN), 409, "CONFLICT")
    assert (photos_dir / "album" / "a.jpg").exists() and list((photos_dir / "empty").iterdir()) == []
    assert_error(client.post("/api/albums/album/rename", data="x", headers=ADMIN), 415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_disk_that_refuses_the_move_is_503_and_the_album_stays(client, photos_dir):
    allow_delete(client)
    # The photos folder immutable (chattr +i: refused even to root, as these tests run): nothing moves out of it.
    chattr = shutil.which("chattr")
    assert chattr, "the test needs chattr (e2fsprogs)"
    subprocess.run([chattr, "+i", str(photos_dir)], check=True)  # noqa: S603
    try:
        assert_error(client.delete("/api/albums/album", headers=ADMIN), 503, "STORAGE_FAILED")
        assert_error(client.post("/api/albums/album/rename", json={"name": "x"}, headers=ADMIN), 503, "STORAGE_FAILED")
    finally:
        subprocess.run([chattr, "-i", str(photos_dir)], check=True)  # noqa: S603
    assert (photos_dir / "album" / "a.jpg").exists() and trash_items(client) == []


def test_share_links_and_viewing_history_follow_a_rename(client, photos_dir):
    images.jpeg(photos_dir / "Album" / "other.jpg", (8, 8))  # differs only by case: never carried along
    images.jpeg(photos_dir / "album_x" / "x.jpg", (8, 8))  # "_" is a LIKE wildcard: never carried along
    shared = {path: create(client, path) for path in ("album", "album/sub", "album/a.jpg", "Album", "album_x")}
    assert client.post("/api/browse/viewed", json={"path": "album"}).status_code == 204
    renamed = client.post("/api/albums/album/rename", json={"name": "trip"}, headers=ADMIN)
    assert renamed.status_code == 200, renamed.get_data(as_text=True)
    paths = {item["id"]: item["path"] for item in links.listed(client)}
    assert {path: paths[share["id"]] for path, share in shared.items()} == {
        "album": "trip", "album/sub": "trip/sub", "album/a.jpg": "trip/a.jpg", "Album": "Album", "album_x": "album_x"}
    recent = client.get("/api/browse/viewed").get_json()["items"]
    assert [album["path"] for album in recent] == ["trip"]
    opened = client.post(f"/api/share/{shared['album/sub']['token']}/open").get_json()
    session = {"Authorization": f"Bearer {opened['accessToken']}"}
    assert [i["name"] for i in client.get("/api/browse/trip/sub", headers=session).get_json()["items"]] == ["b.jpg"]
