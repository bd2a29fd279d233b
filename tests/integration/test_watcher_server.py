"""The file watcher in a real gunicorn gevent worker: a photo copied into an album shows in browse with no scan
(the periodic one is a day away, and none is requested), and the watcher's process ends with the server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from services.gallery import watcher
from tests.support import images
from tests.support.servers import Gunicorn
from tests.support.waiting import until

pytestmark = pytest.mark.integration
WAIT_S = 20.0


def get(server, path: str) -> dict:
    return requests.get(server.url + path, timeout=5, headers={"Connection": "close"}).json()


def watch_processes(photos_dir: Path) -> list[str]:
    """Pids of watcher processes watching `photos_dir` (their command line names it)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if watcher.CHILD_MODULE.encode() in cmdline and str(photos_dir).encode() in cmdline:
            found.append(proc.name)
    return found


def test_a_photo_copied_into_an_album_shows_in_browse_without_a_scan(env, tmp_path, db, photos_dir):
    images.jpeg(photos_dir / "album" / "one.jpg", (64, 48))
    with Gunicorn({**env, "PHOTONIX_SCAN_INTERVAL_SECONDS": "86400"}, tmp_path / "gunicorn.log") as server:
        until(lambda: get(server, "/api/settings/status")["index"].get("finishedAt"), "no startup scan", WAIT_S)
        until(lambda: (watcher.read_state() or {}).get("mode") == watcher.INOTIFY, "the watcher never started", WAIT_S)
        first_scan = get(server, "/api/settings/status")["index"]["finishedAt"]
        shutil.copyfile(photos_dir / "album" / "one.jpg", photos_dir / "album" / "copy.jpg")
        # The root's listing: browsing it rescans only the root, whose mtime did not change; the album's count
        # comes from the index, so only the watcher can have updated it.
        until(lambda: get(server, "/api/browse")["items"][0]["itemCount"] == 2, "the album count never grew", WAIT_S)
        names = [item["name"] for item in get(server, "/api/browse/album?sort=name_asc")["items"]]
        assert names == ["copy.jpg", "one.jpg"]
        assert get(server, "/api/settings/status")["index"]["finishedAt"] == first_scan
        assert watch_processes(photos_dir)
    assert not watch_processes(photos_dir)
    assert "Traceback" not in server.log()
