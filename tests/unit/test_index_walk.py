"""Issue 24: every album's count and cover after an index agree with a walk of the disk (the same rules: listed
names, media only), after a first scan and after a rescan that added, changed and removed photos and folders."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

from models import Folder
from services.gallery.index import Indexer
from services.paths import is_listed, media_kind
from tests.support import images

BASE_MTIME = 1_700_000_000


def build(root: Path, seed: int, folders: int = 30, photos: int = 150) -> None:
    """A nested tree with photos of distinct mtimes (so the newest below each folder is one photo), some empty
    folders, and files the gallery does not list."""
    chance = random.Random(seed)
    paths = [Path(f"y{chance.randrange(3)}") / f"e{n}" for n in range(folders)]
    paths += [path / f"sub{n}" for n, path in enumerate(chance.sample(paths, folders // 3))]
    for path in paths:
        (root / path).mkdir(parents=True, exist_ok=True)
    for n in range(photos):
        photo = root / chance.choice(paths) / f"p{n}.jpg"
        images.jpeg(photo, (8, 6))
        os.utime(photo, (BASE_MTIME + seed * 10_000 + n, BASE_MTIME + seed * 10_000 + n))
    (root / paths[0] / "notes.txt").write_text("not media")
    images.jpeg(root / paths[1] / ".hidden.jpg", (8, 6))


def walked(root: Path) -> dict[str, tuple[int, str | None]]:
    """folder path -> (albums + media directly in it, the newest photo anywhere below), from the disk."""
    found: dict[str, tuple[int, str | None]] = {}
    for here, dirs, files in os.walk(root, topdown=False):
        rel = Path(here).relative_to(root).as_posix()
        rel = "" if rel == "." else rel
        albums = [d for d in dirs if is_listed(d, rel)]
        media = [f for f in files if is_listed(f, rel) and media_kind(f)]
        newest = [(os.stat(Path(here) / f).st_mtime, f"{rel}/{f}" if rel else f) for f in media]
        for album in albums:
            cover = found[f"{rel}/{album}" if rel else album][1]
            if cover is not None:
                newest.append((os.stat(root / cover).st_mtime, cover))
        found[rel] = (len(albums) + len(media), max(newest)[1] if newest else None)
    return found


def indexed() -> dict[str, tuple[int, str | None]]:
    return {row.path: (row.item_count, row.cover_path) for row in Folder.select()}


def test_counts_and_covers_agree_with_a_walk_after_a_scan_and_a_rescan(db, photos_dir, config):
    build(photos_dir, seed=1)
    Indexer(config.photos_dir).scan()
    assert indexed() == walked(photos_dir)
    chance = random.Random(2)
    photos = sorted(photos_dir.rglob("p*.jpg"))
    for gone in chance.sample(photos, 20):
        gone.unlink()
    shutil.rmtree(sorted(p for p in photos_dir.glob("y*/e*") if p.is_dir())[3])
    build(photos_dir, seed=3, folders=12, photos=40)  # newer photos, in old folders and new ones
    Indexer(config.photos_dir).scan()
    assert indexed() == walked(photos_dir)
