"""services/gallery/probe_pool.py: a scan reads headers in child processes and writes exactly the rows it writes
when it reads them itself; a failing child costs nothing but the speed; under gevent the hub runs while it waits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from models import Media
from services.gallery import probe_pool, scanner
from services.gallery.index import Indexer
from tests.support import exif, images

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def library(photos_dir) -> Path:
    """One folder of many kinds of files (several chunks of two), and a small one the pool never sees."""
    big = photos_dir / "2024" / "trip"
    for n in range(5):
        exif.photo(big / f"camera{n}.jpg", taken=f"2024:07:0{n + 1} 14:03:05", offset="+02:00", make="Canon",
                   model=f"EOS {n}", lens="RF 35mm", focal_length=35.0, f_number=1.8, exposure_time=1 / 250,
                   iso=100 * (n + 1), gps=(48.8584, 2.2945 + n, 35.0 if n % 2 else None), mtime=1_700_000_000 + n)
    images.jpeg(big / "turned.jpg", (640, 480), orientation=6)
    images.png(big / "plain.png")
    images.truncated_jpeg(big / "half.jpg")
    images.not_an_image(big / "page.jpg")
    images.png_bomb(big / "bomb.png")
    images.jpeg(photos_dir / "small" / "one.jpg")
    return photos_dir


def scan_rows(library: Path, database) -> list[tuple]:
    """Every media row but its id (PostgreSQL's sequence goes on counting after forget())."""
    Indexer(library).scan()
    columns = ", ".join(f'"{c.name}"' for c in database.get_columns("media") if c.name != "id")
    return database.execute_sql(f"SELECT {columns} FROM media ORDER BY path_hash").fetchall()  # noqa: S608


def forget(database) -> None:
    for table in ("media", "folder", "folder_month"):
        database.execute_sql(f'DELETE FROM "{table}"')  # noqa: S608


def test_rows_from_the_header_processes_equal_rows_read_in_process(db, library, monkeypatch):
    from models import database

    monkeypatch.setattr(probe_pool, "MIN_FILES", 10**9)
    in_process = scan_rows(library, database)
    forget(database)
    probed: list[int] = []
    real_submit = probe_pool.ProbePool.submit
    monkeypatch.setattr(probe_pool, "MIN_FILES", 3)
    monkeypatch.setattr(probe_pool, "CHUNK", 2)
    monkeypatch.setattr(probe_pool.ProbePool, "submit",
                        lambda self, folder, entries: probed.append(len(entries)) or real_submit(self, folder, entries))
    assert scan_rows(library, database) == in_process
    assert probed == [10] and Media.select().where(Media.camera_make == "Canon").count() == 5


def test_the_next_folder_is_submitted_before_this_one_is_written_and_small_pipes_only_slow_it(
        db, library, monkeypatch):
    from models import database
    from services.gallery import index

    for n in range(4):  # a second big folder, next to the first: the walk takes one right after the other
        images.jpeg(library / "2024" / "zoo" / f"p{n}.jpg", (200 + n, 100))
    monkeypatch.setattr(probe_pool, "MIN_FILES", 10**9)
    in_process = scan_rows(library, database)
    forget(database)
    order: list[tuple[str, str]] = []
    real_submit, real_write = probe_pool.ProbePool.submit, index.write_media
    real_child = probe_pool._Child.__init__

    def tiny_pipe(child):  # room for one request at a time: the rest wait in the pool's queue
        real_child(child)
        child.room = 1

    monkeypatch.setattr(probe_pool, "MIN_FILES", 3)
    monkeypatch.setattr(probe_pool, "CHUNK", 1)
    monkeypatch.setattr(probe_pool._Child, "__init__", tiny_pipe)
    monkeypatch.setattr(probe_pool.ProbePool, "submit", lambda self, folder, entries: order.append(
        ("submit", folder.relative_to(library).as_posix())) or real_submit(self, folder, entries))
    monkeypatch.setattr(index, "write_media", lambda change, between: order.append(
        ("write", {row[1].rsplit("/", 1)[0] for row in change.rows}.pop() if change.rows else "")) or real_write(
        change, between))
    assert scan_rows(library, database) == in_process
    submits = [rel for step, rel in order if step == "submit"]
    first, second = submits
    assert order.index(("submit", second)) < order.index(("write", first)), order


def test_a_child_that_fails_leaves_the_scan_to_read_headers_itself(db, library, monkeypatch, caplog):
    from models import database

    monkeypatch.setattr(probe_pool, "MIN_FILES", 10**9)
    expected = scan_rows(library, database)
    forget(database)
    monkeypatch.setattr(probe_pool, "MIN_FILES", 3)
    monkeypatch.setattr(probe_pool, "CHILD_MODULE", "this")  # prints the Zen of Python and ends
    assert scan_rows(library, database) == expected
    assert "header reader processes failed" in caplog.text


def test_a_folder_named_relative_to_this_process_is_read_there(tmp_path, monkeypatch):
    for n in range(3):
        images.jpeg(tmp_path / "album" / f"p{n}.jpg", (100 + n, 50))
    monkeypatch.chdir(tmp_path)  # the children work in the checkout's folder, not here
    entries = [scanner.FileEntry(f"p{n}.jpg", "photo", 0, 0.0) for n in range(3)]
    with probe_pool.ProbePool(2) as pool:
        assert [probe.width for probe in pool.probe(Path("album"), entries)] == [100, 101, 102]


GATED_CHILD = """
import os, sys, time
from services.gallery import probe_process
gate, deadline = sys.argv[1], time.monotonic() + 30
while not os.path.exists(gate):  # answers only once the test's greenlet has run
    if time.monotonic() > deadline:
        sys.exit("the gate never opened: the hub was blocked")
    time.sleep(0.005)
probe_process.main()
"""

GEVENT_SCRIPT = """
from gevent import monkey

monkey.patch_all()

import collections, json, sys
from pathlib import Path

import gevent

from services.gallery import probe_pool, scanner

folder, gate, child = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]


class Gated(probe_pool._Child):
    def __init__(self):
        import subprocess
        self.proc = subprocess.Popen([sys.executable, child, str(gate)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.fd, self.waiting, self.buffer, self.room = self.proc.stdout.fileno(), collections.deque(), b"", 1 << 15


probe_pool._Child, probe_pool.CHUNK = Gated, 2
entries = [scanner.FileEntry(p.name, "photo", 0, 0.0) for p in sorted(folder.iterdir())]
pool = probe_pool.ProbePool(2)


def release():
    # Opens the gate once every request is sent and each child holds one, i.e. while the pool waits for answers
    # (writing to a child may yield too, so this greenlet runs then as well, but finds the queue not yet empty).
    while len(pool._children) < 2 or pool._queue or not all(child.waiting for child in pool._children):
        gevent.sleep(0.001)
    gate.touch()


released = gevent.spawn(release)
with pool:
    probes = pool.probe(folder, entries)
print(json.dumps({"released": released.dead, "widths": [p.width for p in probes]}))
"""


def test_under_gevent_the_hub_runs_while_the_pool_waits_for_its_children(tmp_path):
    folder = tmp_path / "photos"
    for n in range(5):
        images.jpeg(folder / f"p{n}.jpg", (100 + n, 50))
    child = tmp_path / "gated_child.py"
    child.write_text(GATED_CHILD)
    # Bounded: if the hub were blocked, the gate would never open and the run would end at the timeout.
    done = subprocess.run([sys.executable, "-c", GEVENT_SCRIPT, str(folder), str(tmp_path / "gate"), str(child)],
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"released": True, "widths": [100, 101, 102, 103, 104]}
