"""services/derived_upkeep.py over a real index, real folders and a real trash: what was made for files that are gone
(AI captions, video renditions and their remembered failures) goes once the index is complete, and nothing else:
not what the current versions have, not what the trash holds, not a rendition being built or finished meanwhile,
not what an interrupted build left for the sweep. Nothing at all while a scan runs or was cut short."""

from __future__ import annotations

import json
import os
import time

import pytest

from models import Caption, Media
from services import derived_upkeep, jobs, settings
from services.albums import trash
from services.gallery import index
from services.gallery.index import Indexer
from services.gallery.keys import path_hash
from services.video.playable import MIB
from services.video.renditions import MASTER, Renditions
from tests.support import images

OLD = time.time() - 3600


@pytest.fixture
def library(db, photos_dir, tmp_path):
    images.jpeg(photos_dir / "a.jpg", (64, 48))
    images.jpeg(photos_dir / "b.jpg", (64, 48))
    for rel in ("v.avi", "gone/w.avi", "gone/x.jpg"):
        images.not_an_image(photos_dir / rel, f"video {rel}")
    Indexer(photos_dir).scan()
    return photos_dir


@pytest.fixture
def renditions(tmp_path) -> Renditions:
    return Renditions(tmp_path / "data" / "video", 200 * MIB)


def caption(path: str, mtime: float, size: int) -> None:
    Caption.insert(key=f"{path}-{mtime}", path_hash=path_hash(path), path=path, mtime=mtime, size=size, model="m",
                   text=path, text_folded=path, created_at=1.0).execute()


def made(renditions: Renditions, rel: str, mtime: float, size: int, failed: bool = False) -> str:
    """A finished rendition (or a remembered failure) of that version, dated an hour ago; its key."""
    key = renditions.key(rel, mtime, size)
    target = renditions.failed_marker(key) if failed else renditions.folder(key)
    if failed:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("ffmpeg failed")
    else:
        target.mkdir(parents=True)
        (target / MASTER).write_text("#EXTM3U\n")
    os.utime(target, (OLD, OLD))
    return key


def version(rel: str) -> tuple[float, int]:
    row = Media.get(Media.path == rel)
    return row.mtime, row.size


def test_what_gone_files_had_goes_and_nothing_else(library, renditions, tmp_path):
    trash_dir = tmp_path / "data" / "trash"
    a, b, v, w = version("a.jpg"), version("b.jpg"), version("v.avi"), version("gone/w.avi")
    caption("a.jpg", *a)  # kept: the indexed version
    caption("b.jpg", b[0] - 10, b[1])  # an earlier version of b.jpg
    caption("c.jpg", *a)  # a photo no longer there
    caption("gone/x.jpg", *version("gone/x.jpg"))  # kept: its album goes to the trash
    kept = {made(renditions, "v.avi", *v), made(renditions, "gone/w.avi", *w)}  # indexed; in the trash
    pruned = {made(renditions, "v.avi", v[0] - 10, v[1]),  # the video before it was replaced
              made(renditions, "old/y.avi", 1.0, 5),  # a video removed
              made(renditions, "old/z.avi", 1.0, 5, failed=True)}  # its remembered failure
    building = made(renditions, "old/q.avi", 1.0, 5)  # its lock is held: a build (or a prune) under way
    fresh = made(renditions, "new/n.avi", 1.0, 5)  # finished once the prune began, for a video indexed since
    os.utime(renditions.folder(fresh), (time.time() + 60,) * 2)
    partial = renditions.partial(renditions.key("v.avi", *v))  # an interrupted build: the sweep's, not ours
    partial.mkdir()
    trash.delete_album(library, trash_dir, "gone")
    Indexer(library).scan()  # gone/ is no longer indexed; complete
    with renditions.locked(building) as held:
        assert held
        done = derived_upkeep.prune(renditions, trash_dir)
    assert done == derived_upkeep.Pruned(captions=2, renditions=3)
    assert sorted(row.path for row in Caption.select()) == ["a.jpg", "gone/x.jpg"]
    assert {key for key in kept | pruned | {building, fresh} if renditions.state(key) in ("ready", "failed")} == \
        kept | {building, fresh}
    assert partial.is_dir() and sorted(p.name for p in renditions.root.iterdir() if p.name.startswith(".")) == \
        [partial.name]  # no hidden leftovers of the pruned ones

    item = trash.list_items(trash_dir)[0]
    trash.restore(library, trash_dir, item.id)  # what the album had is still there
    Indexer(library).scan()
    assert renditions.state(renditions.key("gone/w.avi", *w)) == "ready"
    trash.delete_album(library, trash_dir, "gone")
    trash.purge(trash_dir, trash.list_items(trash_dir)[0].id)
    Indexer(library).scan()
    # gone/'s rendition and caption with it, and the one whose build held its lock before
    assert derived_upkeep.prune(renditions, trash_dir) == derived_upkeep.Pruned(captions=1, renditions=2)
    assert [row.path for row in Caption.select()] == ["a.jpg"]


@pytest.mark.parametrize("state", [{"running": True}, {"running": False, "complete": False}, {}])
def test_nothing_goes_while_the_index_is_not_complete(library, renditions, tmp_path, state):
    caption("c.jpg", 1.0, 5)
    key = made(renditions, "old/y.avi", 1.0, 5)
    settings.write_settings({index.STATE_KEY: json.dumps(state)}, bump_epoch=False)
    assert derived_upkeep.prune(renditions, tmp_path / "data" / "trash") is None
    assert Caption.select().count() == 1 and renditions.state(key) == "ready"


def test_an_index_change_that_removed_or_replaced_files_asks_for_the_prune(db, monkeypatch):
    asked: list[str] = []
    monkeypatch.setattr(jobs, "request_run", asked.append)
    publish = derived_upkeep.following_index(lambda kind, data: None)
    publish("index-complete", {"added": 0, "updated": 0, "removed": 0})
    publish("album-changed", {"path": ""})
    assert asked == []
    publish("index-complete", {"added": 0, "updated": 0, "removed": 2})
    assert asked == [derived_upkeep.JOB_NAME]
    publish("index-complete", {"added": 1, "updated": 1, "removed": 0})
    assert asked == [derived_upkeep.JOB_NAME, "videos", derived_upkeep.JOB_NAME]
