"""The counts in index-progress and index-complete events (issue #19): `processed` never exceeds `total`, and a
finished walk reports its exact total, when files come or go between scans or during one."""

from __future__ import annotations

import pytest

from services.gallery import index
from services.gallery.index import Indexer
from tests.support import images

FIRST = 6  # files of the first scan: its count is the next scan's estimate


@pytest.fixture
def gallery(db, photos_dir, config, monkeypatch):
    """A scanned tree of six photos; every later folder publishes a progress event (not every 0.5 s)."""
    for album in ("a", "b"):
        for n in range(FIRST // 2):
            images.jpeg(photos_dir / album / f"{n}.jpg", (32, 24))
    Indexer(config.photos_dir).scan()
    monkeypatch.setattr(index, "PROGRESS_EVERY_S", 0.0)
    return photos_dir


def scan_with(root, before_folder=None):
    """Scan `root` once, calling before_folder(n) before the n-th folder is walked (the scan's one hook, which
    runs in the scanning thread: whatever it changes on disk is in place before that folder is listed)."""
    published, calls = [], []

    def hook() -> bool:
        calls.append(1)
        if before_folder is not None:
            before_folder(len(calls))
        return True

    Indexer(root, lambda kind, data: published.append((kind, data))).scan(keep_going=hook)
    return published


def assert_consistent(published, processed):
    assert [kind for kind, _ in published][-1] == "index-complete"
    assert all(data["processed"] <= data["total"] for _, data in published), [d for _, d in published]
    done = published[-1][1]
    assert (done["processed"], done["total"]) == (processed, processed)


def test_files_added_since_the_last_scan_never_put_processed_above_total(gallery):
    images.jpeg(gallery / "b" / "new.jpg", (32, 24))
    assert_consistent(scan_with(gallery), FIRST + 1)


def test_a_file_added_during_the_scan(gallery):
    def add(n: int) -> None:
        if n == 1:  # before the root is listed: every album is still to be walked, so the walk finds it
            images.jpeg(gallery / "a" / "new.jpg", (32, 24))

    assert_consistent(scan_with(gallery, add), FIRST + 1)


def test_a_file_removed_during_the_scan(gallery):
    def remove(n: int) -> None:
        if n == 1:
            (gallery / "a" / "0.jpg").unlink()

    published = scan_with(gallery, remove)
    assert_consistent(published, FIRST - 1)
    assert published[-1][1]["removed"] == 1


def test_a_scan_stopped_early_keeps_the_estimate(gallery, config):
    published: list = []
    Indexer(config.photos_dir, lambda kind, data: published.append((kind, data))).scan(keep_going=lambda: False)
    assert published[-1][0] == "index-complete"
    assert (published[-1][1]["processed"], published[-1][1]["total"]) == (0, FIRST)
