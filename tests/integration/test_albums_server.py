"""Album management on real gunicorn+gevent servers: a rename made by one worker is seen by the other at once (its
listing, its search index), and a worker SIGKILLed in the middle of moving an album to the trash loses nothing:
held by strace just before the rename, just after it (before the index is updated), and, with the trash on another
file system (a tmpfs), in the middle of copying a photo. Each time the album is where it was, or complete in the
trash, with the same bytes and mtimes; the new worker lists and restores it. The same for a restore killed just
before or just after its rename."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest
import requests

from tests.conftest import ADMIN_SECRET
from tests.faults.test_faults import (
    get,
    held_in,
    in_background,
    only_worker,
    replacement_worker,
    syscall_held,
    wait_for_scan,
    wait_until,
)
from tests.support import images
from tests.support.servers import Gunicorn, redis_server

pytestmark = pytest.mark.integration
CLOSE = {"Connection": "close"}
ADMIN = {"X-Admin-Secret": ADMIN_SECRET, **CLOSE}
SYS_FSYNC, SYS_SENDFILE, SYS_RENAMEAT2 = 74, 40, 316  # x86_64 numbers, as /proc/<pid>/task/<tid>/syscall shows


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def call(server: Gunicorn, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, server.url + path, timeout=30, headers=ADMIN, **kwargs)


def names(server: Gunicorn, path: str = "", session=None) -> list[str]:
    answer = (session or requests).get(f"{server.url}/api/browse/{path}", timeout=10, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return sorted(item["name"] for item in answer.json()["items"])


def in_syscall(pid: int, number: int, path: Path) -> bool:
    """Whether a thread of `pid` is inside system call `number` on `path` now. A call on a descriptor is matched by
    its file (the worker fsyncs its database and the trash's notes too, and those calls are not held); renameat2
    by number alone (only the move calls it)."""
    if number != SYS_RENAMEAT2:
        return path in held_in(pid, number, argument=1 if number == SYS_SENDFILE else 0)
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int((task / "syscall").read_text().split()[0]) == number:
                return True
    return False


@pytest.fixture
def album(photos_dir) -> Path:
    images.jpeg(photos_dir / "trip" / "a.jpg", (64, 48))
    images.jpeg(photos_dir / "trip" / "day" / "b.jpg", (64, 48))
    images.png(photos_dir / "trip" / "c.png", (600, 400))
    images.jpeg(photos_dir / "other" / "o.jpg", (64, 48))
    os.utime(photos_dir / "trip" / "a.jpg", ns=(1_600_000_000_123_456_789,) * 2)
    return photos_dir / "trip"


def test_a_rename_on_one_worker_is_seen_by_the_other(env, tmp_path, album, db):
    with redis_server() as redis_url, Gunicorn({**env, "PHOTONIX_WORKERS": "2", "PHOTONIX_REDIS_URL": redis_url},
                                               tmp_path / "gunicorn.log") as server:
        wait_for_scan(server, ADMIN)
        with server.connections(2) as (one, other):
            assert one.worker != other.worker
            assert names(server, "", other) == ["other", "trip"]
            assert other.get(f"{server.url}/api/search?q=trip", headers=ADMIN, timeout=10).json()["totalResults"] >= 1
            renamed = one.post(f"{server.url}/api/albums/trip/rename", json={"name": "voyage"}, headers=ADMIN,
                               timeout=30)
            assert renamed.status_code == 200, renamed.text
            assert server.worker_of(renamed) == one.worker
            assert names(server, "", other) == ["other", "voyage"]
            assert names(server, "voyage", other) == ["a.jpg", "c.png", "day"]
            found = other.get(f"{server.url}/api/search?q=voyage", headers=ADMIN, timeout=10).json()
            assert {item["path"] for item in found["items"]} >= {"voyage"}
            gone = other.get(f"{server.url}/api/browse/trip", headers=ADMIN, timeout=10)
            assert gone.status_code == 404
    assert "Traceback" not in server.log()


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["before-rename", "after-rename", "mid-copy"])
def test_a_worker_killed_mid_move_loses_nothing(env, tmp_path, album, photos_dir, db, moment):
    """SIGKILL the only worker while it moves the album to the trash; then the new worker shows it in one place."""
    assert os.uname().machine == "x86_64", "in_syscall() compares x86_64 system call numbers"
    data_dir = Path(tempfile.mkdtemp(dir="/dev/shm")) / "data" if moment == "mid-copy" else tmp_path / "data"
    before = snapshot(album)
    try:
        with Gunicorn({**env, "PHOTONIX_DATA_DIR": str(data_dir)}, tmp_path / "gunicorn.log") as server:
            wait_for_scan(server, ADMIN)
            assert call(server, "POST", "/api/settings", json={"allowAlbumDelete": True}).status_code == 200
            pid = only_worker(server)
            syscall, path, number = {"before-rename": ("renameat2", album, SYS_RENAMEAT2),
                                     "after-rename": ("fsync", photos_dir, SYS_FSYNC),
                                     "mid-copy": ("sendfile", album / "c.png", SYS_SENDFILE)}[moment]
            with syscall_held(pid, syscall, path):
                thread, out = in_background(lambda: call(server, "DELETE", "/api/albums/trip"))
                wait_until(lambda: in_syscall(pid, number, path), f"the worker held in {syscall} on {path}")
                os.kill(pid, signal.SIGKILL)
            thread.join(10)
            assert isinstance(out[0], requests.ConnectionError), out
            replacement_worker(server, pid)
            listed = call(server, "GET", "/api/trash").json()["items"]
            if moment == "after-rename":  # the move was done: a complete item, and the album is gone from the index
                assert not album.exists() and [item["path"] for item in listed] == ["trip"]
                assert snapshot(data_dir / "trash" / listed[0]["id"] / "album") == before
                assert names(server) == ["other"]
                restored = call(server, "POST", f"/api/trash/{listed[0]['id']}/restore")
                assert restored.status_code == 200, restored.text
            else:  # the move never happened: the album is where it was, nothing is listed in the trash
                assert listed == []
            assert snapshot(album) == before
            assert names(server) == ["other", "trip"] and names(server, "trip") == ["a.jpg", "c.png", "day"]
            assert get(server, "/health").status_code == 200
            # and the album can be deleted for real afterwards
            assert call(server, "DELETE", "/api/albums/trip").status_code == 200
            [item] = call(server, "GET", "/api/trash").json()["items"]
            assert snapshot(data_dir / "trash" / item["id"] / "album") == before and not album.exists()
        log = server.log()
        assert log.count("was sent SIGKILL") + log.count("was sent signal 9") >= 1, log[-2000:]
    finally:
        if moment == "mid-copy":
            shutil.rmtree(data_dir.parent)


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["before-rename", "after-rename"])
def test_a_worker_killed_mid_restore_loses_nothing(env, tmp_path, album, photos_dir, db, moment):
    """SIGKILL the only worker while it moves an album back from the trash: the album is then in the trash (listed,
    restorable) or back in the gallery (and no longer listed), with the same bytes and mtimes."""
    assert os.uname().machine == "x86_64", "in_syscall() compares x86_64 system call numbers"
    before = snapshot(album)
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        wait_for_scan(server, ADMIN)
        assert call(server, "POST", "/api/settings", json={"allowAlbumDelete": True}).status_code == 200
        item = call(server, "DELETE", "/api/albums/trip").json()
        in_trash = tmp_path / "data" / "trash" / item["id"] / "album"
        pid = only_worker(server)
        syscall, path, number = {"before-rename": ("renameat2", in_trash, SYS_RENAMEAT2),
                                 "after-rename": ("fsync", photos_dir, SYS_FSYNC)}[moment]
        with syscall_held(pid, syscall, path):
            thread, out = in_background(lambda: call(server, "POST", f"/api/trash/{item['id']}/restore"))
            wait_until(lambda: in_syscall(pid, number, path), f"the worker held in {syscall} on {path}")
            os.kill(pid, signal.SIGKILL)
        thread.join(10)
        assert isinstance(out[0], requests.ConnectionError), out
        replacement_worker(server, pid)
        listed = [entry["id"] for entry in call(server, "GET", "/api/trash").json()["items"]]
        if moment == "before-rename":
            assert listed == [item["id"]] and snapshot(in_trash) == before and not album.exists()
            assert call(server, "POST", f"/api/trash/{item['id']}/restore").status_code == 200
        else:
            assert listed == [] and not in_trash.exists()
        assert snapshot(album) == before
        assert names(server) == ["other", "trip"] and names(server, "trip") == ["a.jpg", "c.png", "day"]
