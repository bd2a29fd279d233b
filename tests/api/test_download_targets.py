"""Download tasks are validated at creation with a message that says what is wrong: a targetFolder through a
symlink that leaves the photos folder, a targetFolder that is a file, a full-width (IDNA-mapped) host."""

from __future__ import annotations

import pytest

from models import Feed
from tests.conftest import ADMIN_SECRET

ADMIN = {"X-Admin-Secret": ADMIN_SECRET}
FEED = "https://feeds.example.com/cats.xml"


def create(client, **fields):
    return client.post("/api/download/tasks", json={"feedUrl": FEED, **fields}, headers=ADMIN)


def refused(response, field: str) -> str:
    body = response.get_json()
    assert response.status_code == 400, body
    assert body["code"] == "VALIDATION_ERROR" and body["field"] == field, body
    assert Feed.select().count() == 0
    return body["message"]


def test_a_target_through_a_symlink_out_of_the_photos_folder(client, photos_dir, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (photos_dir / "out").symlink_to(outside)
    for target in ("out", "out/cats"):
        assert "leads outside the photos folder" in refused(create(client, targetFolder=target), "targetFolder")


def test_a_target_that_is_a_file(client, photos_dir):
    (photos_dir / "album").mkdir()
    (photos_dir / "album" / "cat.jpg").write_bytes(b"not a folder")
    for target in ("album/cat.jpg", "album/cat.jpg/more"):
        message = refused(create(client, targetFolder=target), "targetFolder")
        assert "album/cat.jpg" in message and "is a file, not a folder" in message


def test_a_windows_style_target_is_refused_when_saved_as_it_would_be_at_run_time(client):
    response = client.post("/api/download/tasks", json={"feedUrl": FEED, "targetFolder": "Downloads\\Cats"},
                           headers=ADMIN)
    assert response.status_code == 400 and response.get_json()["field"] == "targetFolder"
    assert "not '\\'" in response.get_json()["message"]


def test_good_targets_are_still_accepted(client, photos_dir):
    (photos_dir / "album").mkdir()
    (photos_dir / "inside").symlink_to(photos_dir / "album")
    for n, target in enumerate(("album", "album/new/deeper", "not/yet/there", "inside")):
        response = client.post("/api/download/tasks", json={"feedUrl": f"{FEED}?{n}", "targetFolder": target},
                               headers=ADMIN)
        assert response.status_code == 201 and response.get_json()["targetFolder"] == target, response.get_json()


@pytest.mark.parametrize("url", ["http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/feed",  # full-width 127.0.0.1
                                 "http://127\u30020\u30020\u30021/feed",  # ideographic full stops
                                 "http://\uff11\uff10\uff0e\uff10\uff0e\uff10\uff0e\uff11/feed"])  # 10.0.0.1
def test_a_full_width_host_is_judged_as_the_address_it_means(client, url):
    message = refused(client.post("/api/download/tasks", json={"feedUrl": url}, headers=ADMIN), "feedUrl")
    assert "127.0.0.1" in message or "10.0.0.1" in message, message
    assert "private, local or reserved" in message, message


def test_a_host_that_is_no_valid_name_is_refused_at_creation(client):
    message = refused(client.post("/api/download/tasks", json={"feedUrl": "http://ex\u200dample\uff0e..com/feed"},
                                  headers=ADMIN), "feedUrl")
    assert "host" in message
