"""/api/zip (issue 22, Downloads): an album or a selection as one stored ZIP, opened with zipfile and compared byte
for byte with the files on disk; who may download; every selected path checked; a client that goes away stops
the reading."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest

from services import archive
from tests.conftest import ADMIN_SECRET
from tests.support import images, waiting
from tests.support import share_links as links

ADMIN = {"X-Admin-Secret": ADMIN_SECRET}
ALBUM = "Trip 旅行"
UTF8_FLAG = 0x800
# What the album's ZIP holds: name in the archive -> gallery path of the file.
EXPECTED = {
    "a.jpg": f"{ALBUM}/a.jpg",
    "猫.jpg": f"{ALBUM}/猫.jpg",
    "day 2/b.png": f"{ALBUM}/day 2/b.png",
    "day 2/deeper/c.mp4": f"{ALBUM}/day 2/deeper/c.mp4",
    "linked/o.jpg": "Other/o.jpg",  # a symlink to another album of the gallery is followed, as the index does
}


@pytest.fixture
def tree(photos_dir, tmp_path):
    images.jpeg(photos_dir / ALBUM / "a.jpg", (64, 48))
    images.jpeg(photos_dir / ALBUM / "猫.jpg", (48, 64), color=(10, 200, 30))
    images.png(photos_dir / ALBUM / "day 2" / "b.png", (32, 24))
    (photos_dir / ALBUM / "day 2" / "deeper").mkdir()
    (photos_dir / ALBUM / "day 2" / "deeper" / "c.mp4").write_bytes(os.urandom(300_000))
    images.jpeg(photos_dir / ALBUM / ".hidden.jpg", (8, 8))  # hidden
    images.jpeg(photos_dir / ALBUM / ".thumbs" / "x.jpg", (8, 8))  # inside a hidden folder
    images.jpeg(photos_dir / ALBUM / "upload.jpg.part", (8, 8))  # temp names
    images.jpeg(photos_dir / ALBUM / "~$lock.jpg", (8, 8))
    (photos_dir / ALBUM / "notes.txt").write_text("not media")
    images.jpeg(photos_dir / "Other" / "o.jpg", (16, 16))
    (photos_dir / ALBUM / "linked").symlink_to(photos_dir / "Other")
    (photos_dir / "Other" / "back").symlink_to(photos_dir / ALBUM)  # a loop through two links: not walked again
    (photos_dir / ALBUM / "up").symlink_to(photos_dir)  # an ancestor: never followed
    images.jpeg(tmp_path / "outside" / "secret.jpg", (8, 8))
    (photos_dir / ALBUM / "out").symlink_to(tmp_path / "outside")  # leaves the gallery: never followed
    (photos_dir / ALBUM / "secret.jpg").symlink_to(tmp_path / "outside" / "secret.jpg")
    images.jpeg(photos_dir / "家庭" / "party.jpg", (16, 16))
    (photos_dir / "empty").mkdir()
    return photos_dir


def opened(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_data()
    assert response.content_length == len(body)
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None  # every CRC matches
    return archive


def assert_holds(archive: zipfile.ZipFile, photos_dir: Path, expected: dict[str, str]) -> None:
    """Exactly these names, stored (not deflated), each with the bytes of its file."""
    assert sorted(archive.namelist()) == sorted(expected)
    for info in archive.infolist():
        assert info.compress_type == zipfile.ZIP_STORED
        assert bool(info.flag_bits & UTF8_FLAG) == (not info.filename.isascii())
        assert archive.read(info) == (photos_dir / expected[info.filename]).read_bytes(), info.filename


def assert_error(response, status: int, code: str) -> dict:
    return links.assert_error(response, status, code)


def test_album_zip_holds_every_listed_file_byte_for_byte(client, tree):
    response = client.get(f"/api/zip/{quote(ALBUM)}")
    assert_holds(opened(response), tree, EXPECTED)
    assert response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert "Content-Encoding" not in response.headers
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=Trip.zip; filename*=UTF-8''Trip%20%E6%97%85%E8%A1%8C.zip")


def test_the_root_zip_names_files_from_the_root(client, tree):
    for url in ("/api/zip", "/api/zip/"):
        response = client.get(url)
        names = opened(response).namelist()
        assert f"{ALBUM}/a.jpg" in names and "Other/o.jpg" in names and "家庭/party.jpg" in names
        # Both links are followed once; going round the loop (Other/back/linked/back/...) stops at the first repeat.
        assert f"{ALBUM}/linked/o.jpg" in names and "Other/back/a.jpg" in names
        assert not any("back/linked" in name or "linked/back" in name or "/up/" in name for name in names)
        assert response.headers["Content-Disposition"] == "attachment; filename=Photonix.zip"


def test_content_disposition_for_a_chinese_album_name(client, tree):
    response = client.get("/api/zip/" + quote("家庭"))
    assert_holds(opened(response), tree, {"party.jpg": "家庭/party.jpg"})
    # RFC 6266: an ASCII filename for old clients, the UTF-8 name in filename* (RFC 8187) for the others.
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=album.zip; filename*=UTF-8''%E5%AE%B6%E5%BA%AD.zip")


def test_an_empty_album_is_an_empty_zip(client, tree):
    assert opened(client.get("/api/zip/empty")).namelist() == []


@pytest.mark.parametrize(("path", "status", "code"), [
    (f"{ALBUM}/a.jpg", 404, "NOT_FOUND"),  # a photo is not an album
    ("nowhere", 404, "NOT_FOUND"),
    (f"{ALBUM}/.thumbs", 400, "INVALID_PATH"),
    ("%2e%2e", 400, "INVALID_PATH"),
    (f"{ALBUM}/out", 403, "PATH_FORBIDDEN"),
    ("/etc", 400, "INVALID_PATH"),
])
def test_bad_album_paths(client, tree, path, status, code):
    assert_error(client.get(f"/api/zip/{path}"), status, code)


def test_a_selection_is_named_from_the_folder_holding_it_all(client, tree):
    paths = [f"{ALBUM}/a.jpg", f"{ALBUM}/day 2", f"{ALBUM}/a.jpg", f"{ALBUM}/day 2/b.png"]  # repeats go in once
    response = client.post("/api/zip", json={"paths": paths})
    assert_holds(opened(response), tree, {"a.jpg": f"{ALBUM}/a.jpg", "day 2/b.png": f"{ALBUM}/day 2/b.png",
                                          "day 2/deeper/c.mp4": f"{ALBUM}/day 2/deeper/c.mp4"})
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    across = client.post("/api/zip", json={"paths": [f"{ALBUM}/猫.jpg", "家庭/party.jpg"]})
    assert_holds(opened(across), tree, {f"{ALBUM}/猫.jpg": f"{ALBUM}/猫.jpg", "家庭/party.jpg": "家庭/party.jpg"})
    assert across.headers["Content-Disposition"] == "attachment; filename=Photonix.zip"


def test_each_chosen_album_is_walked_once(client, tree, monkeypatch):
    walks = waiting.counting(monkeypatch, archive, "_walk")  # every folder walked, nested ones too
    assert opened(client.post("/api/zip", json={"paths": [""]})).namelist()
    once = len(walks)
    walks.clear()
    many = ["", ALBUM, f"{ALBUM}/day 2", f"{ALBUM}/a.jpg"] * 2500  # 10,000 paths, all inside the root
    assert sorted(opened(client.post("/api/zip", json={"paths": many})).namelist()) == sorted(
        opened(client.get("/api/zip")).namelist())
    assert len(walks) == 2 * once  # the POST's walk and the GET's: none per repeated or nested path


def test_a_browser_form_post_downloads_straight_to_disk(client, tree):
    response = client.post("/api/zip", data={"paths": json.dumps([f"{ALBUM}/a.jpg", "Other/o.jpg"])})
    assert_holds(opened(response), tree, {f"{ALBUM}/a.jpg": f"{ALBUM}/a.jpg", "Other/o.jpg": "Other/o.jpg"})
    most = {"paths": json.dumps([f"{ALBUM}/day 2/deeper/c.mp4"] * 10_000)}  # 560 kB as a form
    assert opened(client.post("/api/zip", data=most)).namelist() == ["c.mp4"]


@pytest.mark.parametrize("body", [{}, {"paths": []}, {"paths": "a.jpg"}, {"paths": [1]}, {"paths": [None]},
                                  {"paths": ["a"] * 10_001}])
def test_a_selection_must_be_1_to_10000_paths(client, tree, body):
    assert assert_error(client.post("/api/zip", json=body), 400, "VALIDATION_ERROR")["field"] == "paths"


def test_10000_paths_are_allowed(client, tree):
    response = client.post("/api/zip", json={"paths": [f"{ALBUM}/a.jpg"] * 10_000})
    assert opened(response).namelist() == ["a.jpg"]


@pytest.mark.parametrize(("bad", "status", "code"), [
    (f"{ALBUM}/missing.jpg", 404, "NOT_FOUND"),
    (f"{ALBUM}/notes.txt", 404, "NOT_FOUND"),  # not media
    (f"{ALBUM}/upload.jpg.part", 404, "NOT_FOUND"),  # a temp file the gallery never lists
    (f"{ALBUM}/.hidden.jpg", 400, "INVALID_PATH"),
    (f"{ALBUM}/../../outside/secret.jpg", 400, "INVALID_PATH"),
    (f"{ALBUM}/secret.jpg", 403, "PATH_FORBIDDEN"),  # a symlink out of the gallery
    (f"{ALBUM}/out/secret.jpg", 403, "PATH_FORBIDDEN"),
])
def test_every_selected_path_is_checked_and_the_first_bad_one_named(client, tree, bad, status, code):
    body = assert_error(client.post("/api/zip", json={"paths": [f"{ALBUM}/a.jpg", bad, "nowhere"]}), status, code)
    assert body["path"] == bad


def test_form_and_other_bodies(client, tree):
    assert_error(client.post("/api/zip", data={"other": "x"}), 400, "VALIDATION_ERROR")
    assert_error(client.post("/api/zip", data={"paths": "[1,"}), 400, "INVALID_JSON")
    assert_error(client.post("/api/zip", data="paths", content_type="text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert_error(client.post("/api/zip", json={"paths": [ALBUM]}, headers={"Sec-Fetch-Site": "cross-site"}),
                 403, "CROSS_SITE_REQUEST")


def test_a_private_gallery_needs_a_login_and_its_csrf_value_in_the_form(client, tree):
    links.make_private()
    assert_error(client.get(f"/api/zip/{quote(ALBUM)}"), 401, "AUTH_REQUIRED")
    assert client.post("/api/auth/login", json={"password": links.GALLERY_PASSWORD}).status_code == 200
    assert opened(client.get(f"/api/zip/{quote(ALBUM)}")).namelist()
    csrf = client.get_cookie("csrf_access_token").value
    form = {"paths": json.dumps(["Other/o.jpg"])}
    assert_error(client.post("/api/zip", data=form), 401, "CSRF_FAILED")
    assert_error(client.post("/api/zip", data={**form, "csrf_token": "wrong"}), 401, "CSRF_FAILED")
    assert opened(client.post("/api/zip", data={**form, "csrf_token": csrf})).namelist() == ["o.jpg"]


def test_the_setting_off_refuses_viewers_but_not_the_admin(client, tree):
    assert client.post("/api/settings", json={"allowZipDownloads": False}, headers=ADMIN).status_code == 200
    assert_error(client.get(f"/api/zip/{quote(ALBUM)}"), 403, "DOWNLOADS_DISABLED")
    assert_error(client.post("/api/zip", json={"paths": [ALBUM]}), 403, "DOWNLOADS_DISABLED")
    token = client.post("/api/auth/admin", json={"adminSecret": ADMIN_SECRET}).get_json()["token"]
    client.delete_cookie("admin_token", path="/api")
    admin = {"Authorization": f"Bearer {token}"}
    assert_holds(opened(client.get(f"/api/zip/{quote(ALBUM)}", headers=admin)), tree, EXPECTED)
    assert opened(client.post("/api/zip", json={"paths": [ALBUM]}, headers=admin)).namelist()


def album_files_open(photos_dir: Path) -> list[str]:
    """The files below photos_dir this process has open now (/proc/self/fd)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (listdir's own descriptor)
            continue
        if target.startswith(str(photos_dir) + "/"):
            found.append(target)
    return found


def test_files_are_opened_only_while_streamed_and_closed_when_the_client_goes(client, tree):
    response = client.get(f"/api/zip/{quote(ALBUM)}/day%202", buffered=False)
    assert response.status_code == 200 and album_files_open(tree) == []  # nothing read before the first byte
    chunks = iter(response.response)
    first = next(chunks)
    while len(first) < 4096:  # past the first local header, into c.mp4's bytes (300 kB, read 64 KiB at a time)
        first += next(chunks)
    assert len(album_files_open(tree)) <= 1
    reading = next(chunks)
    assert reading and len(album_files_open(tree)) == 1
    response.close()  # what the server does when the client disconnects: the generator is closed
    assert album_files_open(tree) == []


def share_session(client, path: str, **fields) -> dict:
    """A link for `path` made by the admin and opened: Bearer headers of its session (and the cookie it set)."""
    share = links.create(client, path, **fields)
    opened_link = client.post(f"/api/share/{share['token']}/open", json={})
    assert opened_link.status_code == 200, opened_link.get_data(as_text=True)
    body = opened_link.get_json()
    return {"bearer": {"Authorization": f"Bearer {body['accessToken']}"}, "csrf": body["csrfToken"]}


def test_a_share_downloads_only_inside_its_link(client, tree):
    links.make_private()  # a share works the same in a private gallery
    session = share_session(client, ALBUM, allowDownload=True)["bearer"]
    inside = {name: path for name, path in EXPECTED.items() if not name.startswith("linked/")}
    assert_holds(opened(client.get(f"/api/zip/{quote(ALBUM)}", headers=session)), tree, inside)  # link leads out
    assert_holds(opened(client.get(f"/api/zip/{quote(ALBUM)}/day%202", headers=session)), tree,
                 {"b.png": f"{ALBUM}/day 2/b.png", "deeper/c.mp4": f"{ALBUM}/day 2/deeper/c.mp4"})
    for url in ("/api/zip", "/api/zip/", "/api/zip/Other", f"/api/zip/{quote(ALBUM)}/linked"):
        assert_error(client.get(url, headers=session), 403, "SHARE_SCOPE")
    chosen = client.post("/api/zip", json={"paths": [f"{ALBUM}/a.jpg", f"{ALBUM}/day 2"]}, headers=session)
    assert sorted(opened(chosen).namelist()) == ["a.jpg", "day 2/b.png", "day 2/deeper/c.mp4"]
    for outside in ("Other/o.jpg", "Other/missing.jpg", f"{ALBUM}/linked/o.jpg", "家庭", ""):  # missing: no hint
        refused = client.post("/api/zip", json={"paths": [f"{ALBUM}/a.jpg", outside]}, headers=session)
        assert assert_error(refused, 403, "SHARE_SCOPE")["path"] == outside


def test_a_share_without_allow_download_may_not_download(client, tree):
    session = share_session(client, ALBUM)["bearer"]  # allowDownload defaults to false
    assert_error(client.get(f"/api/zip/{quote(ALBUM)}", headers=session), 403, "DOWNLOADS_DISABLED")
    assert_error(client.post("/api/zip", json={"paths": [f"{ALBUM}/a.jpg"]}, headers=session),
                 403, "DOWNLOADS_DISABLED")


def test_a_photo_share_downloads_its_photo_only(client, tree):
    session = share_session(client, f"{ALBUM}/猫.jpg", allowDownload=True)["bearer"]
    assert_error(client.get(f"/api/zip/{quote(ALBUM)}", headers=session), 403, "SHARE_SCOPE")
    response = client.post("/api/zip", json={"paths": [f"{ALBUM}/猫.jpg"]}, headers=session)
    assert_holds(opened(response), tree, {"猫.jpg": f"{ALBUM}/猫.jpg"})
    assert_error(client.post("/api/zip", json={"paths": [f"{ALBUM}/a.jpg"]}, headers=session), 403, "SHARE_SCOPE")


def test_a_share_cookie_form_post_needs_the_sessions_csrf_value(client, tree):
    links.make_private()
    csrf = share_session(client, ALBUM, allowDownload=True)["csrf"]  # the share_session cookie is kept
    form = {"paths": json.dumps([f"{ALBUM}/a.jpg"])}
    assert_error(client.post("/api/zip", data=form), 401, "CSRF_FAILED")
    assert opened(client.post("/api/zip", data={**form, "csrf_token": csrf})).namelist() == ["a.jpg"]
    assert_error(client.post("/api/zip", data={"paths": json.dumps(["Other/o.jpg"]), "csrf_token": csrf}),
                 403, "SHARE_SCOPE")


def test_a_file_that_changes_while_streaming_ends_the_download_short(client, tree, caplog):
    response = client.get("/api/zip/" + quote("家庭"), buffered=False)  # sized from the stat() before the first byte
    with open(tree / "家庭" / "party.jpg", "ab") as grown:
        grown.write(b"more bytes")
    body = b"".join(response.response)
    response.close()  # the request's end: its database connection goes back (PostgreSQL's teardown waits for it)
    assert response.content_length > len(body)  # the client sees a failed download, never a wrong archive
    assert "stopped streaming" in caplog.text
