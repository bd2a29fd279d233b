"""The trash service on real folders: delete moves (never unlinks), restore brings back the same bytes and mtimes
and never overwrites, purge is the only removal, expiry purges, and every state a crash can leave is tidied
without losing the album. Across file systems: a real tmpfs (/dev/shm) holds the trash."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from errors import Conflict, InvalidPath, NotFound, PathForbidden, ValidationFailed
from services.albums import moves, trash
from services.albums.rename import rename_album

DAY_S = 86400


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below `folder`: its bytes and its mtime in ns."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def root(tmp_path) -> Path:
    base = tmp_path / "photos"
    (base / "trip" / "day1").mkdir(parents=True)
    (base / "trip" / "a.jpg").write_bytes(b"photo a" * 100)
    (base / "trip" / "day1" / "b.jpg").write_bytes(b"photo b" * 50)
    os.utime(base / "trip" / "a.jpg", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    (base / "other").mkdir()
    return base.resolve()


@pytest.fixture
def trash_dir(tmp_path) -> Path:
    return tmp_path / "data" / "trash"


@pytest.fixture
def tmpfs_trash(tmp_path):
    """A trash on another file system than the photos (a tmpfs), for the copy-verify-remove path."""
    folder = Path(tempfile.mkdtemp(dir="/dev/shm")) / "trash"
    assert os.stat("/dev/shm").st_dev != os.stat(tmp_path).st_dev, "the test needs /dev/shm on another device"
    yield folder
    shutil.rmtree(folder.parent)


@pytest.mark.parametrize("where", ["same", "tmpfs"])
def test_delete_then_restore_gives_back_the_same_bytes_and_mtimes(root, trash_dir, tmpfs_trash, where):
    trash_dir = trash_dir if where == "same" else tmpfs_trash
    before = snapshot(root / "trip")
    item = trash.delete_album(root, trash_dir, "trip")
    assert not (root / "trip").exists()
    assert snapshot(trash_dir / item.id / trash.ALBUM_DIR) == before
    assert json.loads((trash_dir / item.id / trash.ITEM_FILE).read_text())["path"] == "trip"
    assert [i.path for i in trash.list_items(trash_dir)] == ["trip"]
    assert trash.restore(root, trash_dir, item.id).path == "trip"
    assert snapshot(root / "trip") == before
    assert trash.list_items(trash_dir) == [] and not (trash_dir / item.id).exists()


def test_nested_album_restores_into_a_parent_made_again(root, trash_dir):
    item = trash.delete_album(root, trash_dir, "trip/day1")
    shutil.rmtree(root / "trip")  # the owner removed the parent meanwhile
    trash.restore(root, trash_dir, item.id)
    assert (root / "trip" / "day1" / "b.jpg").read_bytes() == b"photo b" * 50


def test_restore_never_overwrites(root, trash_dir):
    item = trash.delete_album(root, trash_dir, "trip")
    (root / "trip").mkdir()  # even an empty folder is kept
    with pytest.raises(Conflict):
        trash.restore(root, trash_dir, item.id)
    assert (root / "trip").is_dir() and list((root / "trip").iterdir()) == []
    assert [i.id for i in trash.list_items(trash_dir)] == [item.id]


def test_refusals(root, trash_dir, tmp_path):
    for raw, error in (("", InvalidPath), ("../photos", InvalidPath), (".hidden", InvalidPath),
                       ("missing", NotFound), ("trip/a.jpg", NotFound)):
        with pytest.raises(error):
            trash.delete_album(root, trash_dir, raw)
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", root / "escape")
    with pytest.raises(PathForbidden):
        trash.delete_album(root, trash_dir, "escape")
    for bad in ("../x", "nothex", "0" * 31):
        with pytest.raises(NotFound):
            trash.restore(root, trash_dir, bad)
    assert (root / "trip" / "a.jpg").exists() and trash.list_items(trash_dir) == []


def test_purge_and_expiry(root, trash_dir):
    old = trash.delete_album(root, trash_dir, "trip", now=1000.0)
    new = trash.delete_album(root, trash_dir, "other", now=1000.0 + 5 * DAY_S)
    assert [i.id for i in trash.list_items(trash_dir)] == [new.id, old.id]
    assert trash.purge_expired(root, trash_dir, 30, now=1000.0 + 30 * DAY_S) == [old]
    assert [i.id for i in trash.list_items(trash_dir)] == [new.id]
    trash.purge(trash_dir, new.id)
    assert trash.list_items(trash_dir) == [] and list(trash_dir.iterdir()) == []
    with pytest.raises(NotFound):
        trash.purge(trash_dir, new.id)


def test_a_crash_before_the_move_leaves_the_album_and_is_tidied(root, trash_dir, monkeypatch):
    """The note is written, then the process dies before the rename: the album is where it was, no item is listed,
    and recovery (once the note is stale) removes the note."""
    def killed(source, target):
        raise KeyboardInterrupt  # stands for the kill: nothing after it runs

    monkeypatch.setattr(moves, "rename_no_replace", killed)
    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: None)  # a killed process cleans nothing up
    with pytest.raises(KeyboardInterrupt):
        trash.delete_album(root, trash_dir, "trip")
    monkeypatch.undo()
    assert (root / "trip" / "a.jpg").exists() and trash.list_items(trash_dir) == []
    [left] = list(trash_dir.iterdir())
    trash.recover(trash_dir, root)  # not stale yet: an operation may be under way
    assert left.exists()
    trash.recover(trash_dir, root, now=left.stat().st_mtime + trash.STALE_S)
    assert list(trash_dir.iterdir()) == [] and (root / "trip" / "a.jpg").exists()


def test_a_crash_mid_copy_across_file_systems_keeps_the_original(root, tmpfs_trash, monkeypatch):
    before = snapshot(root / "trip")
    calls = []

    def copy_then_die(source, target):
        if calls:
            raise KeyboardInterrupt
        calls.append(source)
        return shutil.copy2(source, target)

    monkeypatch.setattr(moves, "_copy_synced", copy_then_die)
    rmtree = shutil.rmtree
    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: None)
    with pytest.raises(KeyboardInterrupt):
        trash.delete_album(root, tmpfs_trash, "trip")
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    assert snapshot(root / "trip") == before and trash.list_items(tmpfs_trash) == []
    [left] = list(tmpfs_trash.iterdir())
    assert (left / trash.STAGING_DIR).is_dir()
    trash.recover(tmpfs_trash, root, now=left.stat().st_mtime + trash.STALE_S)
    assert list(tmpfs_trash.iterdir()) == [] and snapshot(root / "trip") == before


def test_a_restore_that_crashed_after_its_rename_is_not_listed_again(root, trash_dir, monkeypatch):
    item = trash.delete_album(root, trash_dir, "trip")
    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        trash.restore(root, trash_dir, item.id)
    monkeypatch.undo()
    assert (root / "trip" / "a.jpg").exists() and trash.list_items(trash_dir) == []
    trash.recover(trash_dir, root, now=(trash_dir / item.id).stat().st_mtime + trash.STALE_S)
    assert not (trash_dir / item.id).exists()


def test_a_purge_that_crashed_is_finished_and_never_listed(root, trash_dir, monkeypatch):
    item = trash.delete_album(root, trash_dir, "trip")
    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        trash.purge(trash_dir, item.id)
    monkeypatch.undo()
    assert trash.list_items(trash_dir) == []
    trash.recover(trash_dir, root)
    assert list(trash_dir.iterdir()) == []


def test_rename_follows_the_path_rules_and_never_replaces(root):
    assert rename_album(root, "trip/day1", "Day one").new == "trip/Day one"
    assert (root / "trip" / "Day one" / "b.jpg").exists()
    for bad in (".hidden", "..", "a/b", "x\n", "name.tmp", " padded", "é" * 200, 5, None):
        with pytest.raises(ValidationFailed) as caught:
            rename_album(root, "trip", bad)
        assert caught.value.status == 400 and caught.value.extra == {"field": "name"}
    with pytest.raises(Conflict):
        rename_album(root, "trip", "other")
    with pytest.raises(InvalidPath):
        rename_album(root, "", "x")
    with pytest.raises(NotFound):
        rename_album(root, "trip/a.jpg", "b.jpg")
    assert sorted(p.name for p in root.iterdir()) == ["other", "trip"]


def test_a_move_whose_source_went_away_meanwhile_is_not_found(tmp_path):
    """Two requests deleting (or restoring) the same album at once: the second finds nothing, never a crash."""
    (tmp_path / "target").mkdir()
    with pytest.raises(NotFound):
        moves.rename_no_replace(tmp_path / "gone", tmp_path / "target" / "gone")


@pytest.mark.parametrize("bad", ["", "..", "trip/..", ".hidden", "/etc", "a//b"])
def test_a_note_with_a_path_the_gallery_refuses_is_never_restored(root, trash_dir, bad):
    item = trash.delete_album(root, trash_dir, "trip")
    note = trash_dir / item.id / trash.ITEM_FILE
    note.write_text(json.dumps({**json.loads(note.read_text()), "path": bad}))
    with pytest.raises(InvalidPath):
        trash.restore(root, trash_dir, item.id)
    assert (trash_dir / item.id / trash.ALBUM_DIR / "a.jpg").exists() and sorted(os.listdir(root)) == ["other"]


def test_across_file_systems_a_photo_added_during_the_copy_stays_in_the_gallery(root, tmpfs_trash, monkeypatch):
    """Only what was copied and verified is removed from the gallery: a download that lands in the album while it
    is being copied to the trash is left where it is (in the album's folder, still listed), never lost."""
    calls = []
    original_copy = moves.copy_verified

    def copy_then_photo(source, staging, target):
        original_copy(source, staging, target)
        calls.append(source)
        (source / "late.jpg").write_bytes(b"arrived during the copy")

    monkeypatch.setattr(moves, "copy_verified", copy_then_photo)
    os.symlink("day", root / "trip" / "day-link")  # links are moved as links
    before = snapshot(root / "trip")
    item = trash.delete_album(root, tmpfs_trash, "trip")
    assert calls and snapshot(tmpfs_trash / item.id / trash.ALBUM_DIR) == before
    assert snapshot(root / "trip") == {"late.jpg": ((root / "trip" / "late.jpg").read_bytes(),
                                                    (root / "trip" / "late.jpg").stat().st_mtime_ns)}
    assert sorted(os.listdir(root / "trip")) == ["late.jpg"]
    assert os.readlink(tmpfs_trash / item.id / trash.ALBUM_DIR / "day-link") == "day"
