"""The filesystem watcher against real folders (inotify through its child process) and the real database: every
kind of change reaches the index without a scan, a burst becomes a few folder syncs, and running out of watches or
an overflowing kernel queue falls back to the periodic scan. No scan runs here but the one that makes the index."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import peewee
import pytest

from models import Folder, Media, Setting
from services import jobs
from services.gallery import watcher as watcher_module
from services.gallery.index import Indexer
from services.gallery.keys import path_hash
from services.gallery.watcher import FALLBACK, INOTIFY, Watcher
from tests.support import images
from tests.support.servers import cannot_run
from tests.support.waiting import counting, until

TINY_JPEG_SIZE = (8, 8)
BURST_FILES = 10_000
SETTLED_MTIME = time.time() - 3600
BURST_ROUND = 1_000  # files written before waiting for the child to have read them (the kernel queue holds 16,384)


@pytest.fixture
def library(db, photos_dir):
    images.jpeg(photos_dir / "album" / "one.jpg", (64, 48))
    images.jpeg(photos_dir / "album" / "two.jpg", (64, 48))
    images.jpeg(photos_dir / "other" / "three.jpg", (64, 48))
    for settled in (photos_dir / "album", photos_dir / "other", photos_dir):  # older than index.RACY_MTIME_S: the
        os.utime(settled, (SETTLED_MTIME, SETTLED_MTIME))  # scan records these mtimes instead of "unknown"
    Indexer(photos_dir).scan()
    return photos_dir


@pytest.fixture
def watching(library):
    """start(max_watches=None) → a Watcher on the library, its child ready (or fallen back); all stopped after."""
    published: list[tuple[str, dict]] = []
    made: list[Watcher] = []

    def start(max_watches: int | None = None) -> Watcher:
        watcher = Watcher(library, lambda kind, data: published.append((kind, data)), max_watches)
        made.append(watcher)
        watcher.start()
        step_until(watcher, lambda: watcher.mode is not None, "the watcher never reported")
        return watcher

    start.published = published  # type: ignore[attr-defined]
    yield start
    for watcher in made:
        watcher.stop()


def step_until(watcher: Watcher, condition, what: str) -> None:
    """Let the watcher read and sync until `condition()` holds with nothing left pending."""

    def stepped() -> bool:
        watcher.step()
        return bool(condition()) and not watcher.pending

    until(stepped, what)


def media(rel: str) -> Media | None:
    return Media.get_or_none(Media.path_hash == path_hash(rel))


def folder(rel: str) -> Folder | None:
    return Folder.get_or_none(Folder.path_hash == path_hash(rel))


def test_a_new_photo_is_indexed_and_announced_without_a_scan(watching, library):
    watcher = watching()
    assert watcher.mode == INOTIFY
    images.jpeg(library / "album" / "new.jpg", (64, 48))
    step_until(watcher, lambda: media("album/new.jpg") is not None, "the new photo was never indexed")
    assert folder("album").item_count == 3 and folder("").item_count == 2
    kinds = [(kind, data.get("source")) for kind, data in watching.published]
    assert ("index-complete", "watcher") in kinds
    state = watcher_module.read_state()
    assert state["mode"] == INOTIFY and state["folders"] >= 3


def test_a_photo_rewritten_in_place_is_read_again_although_its_folder_mtime_did_not_change(watching, library):
    watcher = watching()
    album = library / "album"
    assert folder("album").mtime == album.stat().st_mtime == SETTLED_MTIME  # the index trusts this mtime
    images.jpeg(album / "one.jpg", (300, 200))
    os.utime(album, (SETTLED_MTIME, SETTLED_MTIME))
    step_until(watcher, lambda: media("album/one.jpg").width == 300, "the rewritten photo was not read again")
    assert album.stat().st_mtime == SETTLED_MTIME


def test_moves_within_and_between_folders_and_a_delete(watching, library):
    watcher = watching()
    os.rename(library / "album" / "one.jpg", library / "album" / "renamed.jpg")
    os.rename(library / "album" / "two.jpg", library / "other" / "two.jpg")
    (library / "other" / "three.jpg").unlink()
    step_until(watcher, lambda: media("album/renamed.jpg") and media("other/two.jpg")
               and media("other/three.jpg") is None, "the moves and the delete were not all seen")
    assert media("album/one.jpg") is None and media("album/two.jpg") is None
    assert folder("album").item_count == 1 and folder("other").item_count == 1


def test_a_new_folder_with_files_a_folder_moved_and_a_folder_deleted(watching, library):
    watcher = watching()
    images.jpeg(library / "new" / "deeper" / "a.jpg", (64, 48))
    images.jpeg(library / "new" / "b.jpg", (64, 48))
    step_until(watcher, lambda: media("new/deeper/a.jpg") and media("new/b.jpg"), "the new tree was not indexed")
    assert folder("new").item_count == 2 and folder("new/deeper").item_count == 1

    os.rename(library / "new", library / "album" / "moved")
    step_until(watcher, lambda: media("album/moved/deeper/a.jpg") and folder("new") is None,
               "the moved folder was not re-indexed under its new path")
    assert media("new/b.jpg") is None and media("album/moved/b.jpg") is not None
    assert folder("album/moved/deeper") is not None and folder("new/deeper") is None

    shutil.rmtree(library / "album" / "moved")
    step_until(watcher, lambda: folder("album/moved") is None, "the deleted folder stayed in the index")
    assert Media.select().where(Media.path.startswith("album/moved/")).count() == 0
    assert folder("album").item_count == 2


def test_hidden_folders_are_not_indexed(watching, library):
    watcher = watching()
    images.jpeg(library / ".cache" / "x.jpg", TINY_JPEG_SIZE)
    images.jpeg(library / "album" / "seen.jpg", TINY_JPEG_SIZE)
    step_until(watcher, lambda: media("album/seen.jpg"), "the photo beside the hidden folder was not indexed")
    assert folder(".cache") is None and media(".cache/x.jpg") is None


@pytest.mark.slow
@pytest.mark.sqlite_run  # what is tested is how events become syncs; the writes are the other tests' (20 s)
def test_a_burst_of_ten_thousand_files_becomes_a_few_folder_syncs(watching, library, monkeypatch, tmp_path):
    watcher = watching()
    syncs = counting(monkeypatch, Indexer, "_sync")
    tiny = images.jpeg(tmp_path / "tiny.jpg", TINY_JPEG_SIZE).read_bytes()
    burst = library / "burst"
    burst.mkdir()
    for start in range(0, BURST_FILES, BURST_ROUND):
        for n in range(start, start + BURST_ROUND):
            (burst / f"img{n:05}.jpg").write_bytes(tiny)
        # Each file's events make at least one line: once they arrived, the kernel's queue has room again.
        seen = watcher.events + BURST_ROUND
        until(lambda seen=seen: (watcher.step(), watcher.events >= seen)[1], "the child fell behind the burst")
    step_until(watcher, lambda: Media.select().where(Media.folder_hash == path_hash("burst")).count() == BURST_FILES,
               "not every file of the burst was indexed")
    assert watcher.mode == INOTIFY
    assert folder("burst").item_count == BURST_FILES
    print(f"{BURST_FILES} files, {watcher.events} event lines, {len(syncs)} folder syncs")
    assert len(syncs) <= 40, f"{len(syncs)} folder syncs for {BURST_FILES} files"


def requested_scan() -> bool:
    return Setting.select().where(Setting.key == jobs.REQUEST_KEY_PREFIX + "index").exists()


def test_watches_exhausted_at_start_fall_back_to_the_scan(watching, caplog):
    with caplog.at_level(logging.WARNING, logger="photonix.watcher"):
        watcher = watching(max_watches=1)
    assert watcher.mode == FALLBACK
    state = watcher_module.read_state()
    assert state["mode"] == FALLBACK and state["reason"] == "watches" and "limit" in state["detail"]
    assert requested_scan()
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "fs.inotify.max_user_watches=" in warning and watcher_module.SYSCTL_FILE in warning


def test_watches_exhausted_by_a_new_folder_fall_back_to_the_scan(watching, library, caplog):
    watcher = watching(max_watches=3)  # the root, album and other: none left for a new folder
    assert watcher.mode == INOTIFY
    with caplog.at_level(logging.WARNING, logger="photonix.watcher"):
        (library / "album" / "new").mkdir()
        step_until(watcher, lambda: watcher.mode == FALLBACK, "running out of watches went unnoticed")
    assert watcher_module.read_state()["reason"] == "watches" and requested_scan()
    assert "max_user_watches" in caplog.text


def test_an_overflowing_kernel_queue_falls_back_to_the_scan(watching, library):
    queued = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if queued > 200_000:  # a machine tuned far above the default 16,384; CI has the default
        cannot_run(f"fs.inotify.max_queued_events is {queued}: too many events to make here")
    watcher = watching()
    pid = watcher._proc.pid
    os.kill(pid, signal.SIGSTOP)  # the child reads nothing while the kernel's queue fills up
    try:
        until(lambda: stopped(pid), "the watcher process did not stop")
        flip = library / "album" / "flip"
        for _ in range(queued // 2 + 100):  # two events each: a folder created, then deleted
            flip.mkdir()
            flip.rmdir()
    finally:
        os.kill(pid, signal.SIGCONT)
    step_until(watcher, lambda: watcher.mode == FALLBACK, "the overflow went unnoticed")
    state = watcher_module.read_state()
    assert state["reason"] == "overflow" and requested_scan()


def stopped(pid: int) -> bool:
    """Whether every thread of process `pid` is stopped (state T in /proc: SIGSTOP takes effect asynchronously)."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return all((task / "stat").read_text().rpartition(")")[2].split()[0] == "T" for task in tasks)


def test_stop_leaves_no_process_or_thread_behind(watching):
    threads = threading.active_count()
    watcher = watching()
    proc = watcher._proc
    watcher.stop()
    watcher.stop()
    assert proc.poll() is not None
    assert threading.active_count() == threads


def test_off_starts_no_watcher_and_says_so(db, photos_dir, monkeypatch):
    monkeypatch.setattr(jobs, "_tasks", {})
    started = counting(monkeypatch, Watcher, "start")
    watcher_module.register_job(photos_dir, "off", lambda kind, data: None)
    jobs._tasks[watcher_module.WATCH_JOB].fn()  # what the leading process runs once
    assert not started
    assert watcher_module.read_state()["mode"] == watcher_module.OFF


def test_run_ends_when_this_process_stops_leading(library):
    watcher = Watcher(library, lambda kind, data: None)
    leading = [True, True, False]
    watcher.run(lambda: leading.pop(0) if leading else False)
    assert watcher._proc is None and not leading


HUB_SCRIPT = r'''
from gevent import monkey

monkey.patch_all()

import json
import sys
from pathlib import Path

import gevent

from models import Media
from services.database import bind_database, init_db, open_database
from services.gallery.index import Indexer
from services.gallery.watcher import Watcher

root = Path(sys.argv[1])
bind_database(open_database(sys.argv[2]))
init_db()
Indexer(root).scan()
watcher = Watcher(root, lambda kind, data: None)
waiting, keep_going = [False], [True]
read = watcher._read


def counted_read(timeout_s):
    waiting[0] = True
    try:
        read(timeout_s)
    finally:
        waiting[0] = False


watcher._read = counted_read
runner = gevent.spawn(watcher.run, lambda: keep_going[0])
seen = []
for _ in range(2000):  # a job of its own that must finish: each step yields to the hub
    if watcher.mode is not None and len(seen) < 200:
        seen.append(waiting[0])
    elif len(seen) >= 200:
        break
    gevent.sleep(0.001)
(root / "album" / "new.jpg").write_bytes((root / "album" / "one.jpg").read_bytes())
for _ in range(5000):
    if Media.select().where(Media.path == "album/new.jpg").exists():
        break
    gevent.sleep(0.002)
indexed = Media.select().where(Media.path == "album/new.jpg").exists()
keep_going[0] = False
runner.join(10)
print(json.dumps({"steps": len(seen), "during_wait": sum(seen), "mode": watcher.mode, "indexed": indexed,
                  "ended": runner.dead}))
'''


def test_under_gevent_the_watcher_waits_without_blocking_the_hub(tmp_path, photos_dir):
    """A monkey-patched process, as a gunicorn gevent worker is: while the watcher waits for events, another
    greenlet finishes its job (it runs while the watcher's wait is in progress), and a new photo is still indexed."""
    import json
    import subprocess
    import sys

    from tests.support.servers import ROOT

    images.jpeg(photos_dir / "album" / "one.jpg", TINY_JPEG_SIZE)
    script = tmp_path / "hub.py"
    script.write_text(HUB_SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(photos_dir), f"sqlite:///{tmp_path / 'hub.db'}"],
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": os.environ["PATH"]},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["steps"] == 200 and result["during_wait"] > 0, result
    assert result["mode"] == "inotify" and result["indexed"] and result["ended"], result


def test_a_watcher_process_that_dies_falls_back_to_the_scan(watching):
    watcher = watching()
    os.kill(watcher._proc.pid, signal.SIGKILL)
    step_until(watcher, lambda: watcher.mode == FALLBACK, "the dead watcher process went unnoticed")
    state = watcher_module.read_state()
    assert state["reason"] == "error" and "exit code -9" in state["detail"] and requested_scan()


def test_a_locked_database_while_recording_the_state_leaves_the_watcher_watching(watching, library, monkeypatch,
                                                                                 caplog):
    """Found by the full run: the database locked by another process when the child reported ready raised out of
    the watcher, which ended the job with a traceback. The state is a report for `photonix doctor`: watching goes on."""
    def locked(*args, **kwargs):
        raise peewee.OperationalError("database is locked")

    monkeypatch.setattr(watcher_module.settings, "write_settings", locked)
    monkeypatch.setattr(watcher_module.jobs, "request_run", locked)
    with caplog.at_level(logging.WARNING, logger="photonix.watcher"):
        watcher = watching()
        assert watcher.mode == INOTIFY
        images.jpeg(library / "album" / "new.jpg", (64, 48))
        step_until(watcher, lambda: media("album/new.jpg") is not None, "the new photo was never indexed")
        watcher._fall_back("overflow", "a test")
    assert watcher.mode == FALLBACK
    assert sum("database is locked" in r.getMessage() for r in caplog.records) == 3  # ready, fallback, its scan


def test_a_folder_whose_name_is_not_utf8_is_skipped_and_watching_goes_on(watching, library):
    """Such a folder is never listed (services/paths.is_listed); its events must not stop the child's reports."""
    watcher = watching()
    odd = os.path.join(os.fsencode(library / "album"), b"caf\xe9")
    os.mkdir(odd)
    with open(os.path.join(odd, b"inside.jpg"), "wb") as file:
        file.write((library / "album" / "one.jpg").read_bytes())
    images.jpeg(library / "other" / "after.jpg", (64, 48))
    step_until(watcher, lambda: media("other/after.jpg") is not None, "the watcher stopped reporting")
    assert watcher.mode == INOTIFY
