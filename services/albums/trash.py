"""The trash: a deleted album is moved, never unlinked, into DATA_DIR/trash/<id>/album, with <id>/item.json (its
original path and when) written durably first. Purging (by the owner, or after trashDays) is the only removal.

Crash safety: an item is complete exactly when its `album` folder exists; a kill at any point leaves the album where
it was, or a complete item (across file systems also both copies, never neither). recover() tidies what a crash left:
items that never got their album (or were restored), purges under way, copies half made. Blocking file work:
call these on the CPU pool. No Flask here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from errors import Conflict, InvalidPath, NotFound
from services.albums import moves
from services.paths import normalise, resolve

ITEM_FILE = "item.json"
ALBUM_DIR = "album"
STAGING_DIR = "album.partial"  # a copy being made across file systems
PURGING_PREFIX = ".purge-"
RESTORE_PREFIX = ".photonix-restore-"  # hidden, so the gallery never lists a half-made restore
STALE_S = 3600.0  # an incomplete item this old is no operation under way any more: recover() tidies it
_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class TrashItem:
    id: str
    path: str  # where the album was, relative to PHOTOS_DIR
    deleted_at: float

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def as_json(self, trash_days: int) -> dict:
        return {"id": self.id, "path": self.path, "name": self.name, "deletedAt": self.deleted_at,
                "purgeAt": self.deleted_at + trash_days * 86400}


def delete_album(root: Path, trash_dir: Path, raw: str, now: float | None = None) -> TrashItem:
    """Move the album at `raw` (not the root) into the trash; NotFound when no album is there."""
    rel = normalise(raw)
    if not rel:
        raise InvalidPath("The gallery's root cannot be deleted.")
    source = root / rel
    resolve(root, rel)  # syntax, a symlink out (403), missing (404)
    if source.is_symlink() or not source.is_dir():
        raise NotFound("No album is at this path.")
    trash_dir.mkdir(parents=True, exist_ok=True)
    item = TrashItem(uuid.uuid4().hex, rel, time.time() if now is None else now)
    folder = trash_dir / item.id
    folder.mkdir()
    moves.write_durably(folder / ITEM_FILE, {"id": item.id, "path": rel, "deletedAt": item.deleted_at,
                                             "state": "moving"})
    try:
        if moves.same_device(source, folder):
            moves.rename_no_replace(source, folder / ALBUM_DIR)
        else:
            moves.copy_verified(source, folder / STAGING_DIR, folder / ALBUM_DIR)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # the item's note and a partial copy; the album is where it was
        raise
    if (folder / ALBUM_DIR).exists() and source.exists():  # across file systems: the verified copy is in the trash
        moves.remove_copied(source, folder / ALBUM_DIR)
    return item


def list_items(trash_dir: Path) -> list[TrashItem]:
    """The complete items, newest first."""
    items = [item for item in map(_read, _item_dirs(trash_dir)) if item is not None]
    return sorted(items, key=lambda item: (-item.deleted_at, item.id))


def files(trash_dir: Path, item: TrashItem) -> Iterator[tuple[str, os.stat_result]]:
    """Each file of a complete item as (the gallery path it had, its stat): what a restore brings back."""
    album = trash_dir / item.id / ALBUM_DIR
    for folder, _dirs, names in os.walk(album):
        inside = Path(folder).relative_to(album).as_posix()
        for name in names:
            with contextlib.suppress(FileNotFoundError):  # purged meanwhile
                yield (f"{item.path}/{name}" if inside == "." else f"{item.path}/{inside}/{name}",
                       os.stat(Path(folder) / name, follow_symlinks=False))


def get_item(trash_dir: Path, item_id: str) -> TrashItem:
    item = _read(trash_dir / item_id) if _ID.fullmatch(item_id) else None
    if item is None:
        raise NotFound("No such item in the trash.")
    return item


def restore(root: Path, trash_dir: Path, item_id: str) -> TrashItem:
    """Move an item back to where it was (making missing parent folders); Conflict when something is there now."""
    item = get_item(trash_dir, item_id)
    folder = trash_dir / item.id
    if not normalise(item.path):  # the note is the server's own, but a restore writes into the gallery: checked
        raise InvalidPath("A trash item cannot be restored as the gallery's root.")
    parent_rel, _, _ = item.path.rpartition("/")
    existing = parent_rel
    while existing and not (root / existing).exists():
        existing = existing.rpartition("/")[0]
    resolve(root, existing)  # an ancestor that became a symlink out of the gallery: refused before any mkdir
    (root / parent_rel).mkdir(parents=True, exist_ok=True)
    parent = resolve(root, parent_rel).real
    target = parent / item.name
    if os.path.lexists(target):
        raise Conflict("An album or file with this name is there now; rename it first.", path=item.path)
    album = folder / ALBUM_DIR
    if moves.same_device(album, parent):
        moves.rename_no_replace(album, target)
    else:
        staging = parent / f"{RESTORE_PREFIX}{item.id}"
        shutil.rmtree(staging, ignore_errors=True)  # left by a restore that crashed
        moves.copy_verified(album, staging, target)
    _mark(folder, "restored")
    shutil.rmtree(folder)
    return item


def purge(trash_dir: Path, item_id: str) -> TrashItem:
    """Remove an item for good: first renamed aside (a crash then finishes the purge, never half-lists it)."""
    item = get_item(trash_dir, item_id)
    doomed = trash_dir / f"{PURGING_PREFIX}{item.id}"
    os.rename(trash_dir / item.id, doomed)
    shutil.rmtree(doomed)
    return item


def purge_expired(root: Path, trash_dir: Path, trash_days: int, now: float | None = None) -> list[TrashItem]:
    """Purge the items deleted more than `trash_days` ago, after tidying what crashes left."""
    now = time.time() if now is None else now
    recover(trash_dir, root, now)
    expired = [item for item in list_items(trash_dir) if item.deleted_at + trash_days * 86400 <= now]
    for item in expired:
        purge(trash_dir, item.id)
    return expired


def recover(trash_dir: Path, root: Path, now: float | None = None) -> None:
    """Tidy what a crash left (only what is older than STALE_S, so an operation under way is never touched):
    purges under way are finished; an item whose album never arrived (or was restored) goes, with any half copy
    (also a half-made restore's hidden copy in the gallery)."""
    now = time.time() if now is None else now
    if not trash_dir.is_dir():
        return
    for entry in trash_dir.iterdir():
        if entry.name.startswith(PURGING_PREFIX):
            shutil.rmtree(entry, ignore_errors=True)
        elif _ID.fullmatch(entry.name) and _age(entry, now) >= STALE_S:
            note = _note(entry)
            if "path" in note:
                shutil.rmtree(root / str(note["path"]).rpartition("/")[0] / f"{RESTORE_PREFIX}{entry.name}",
                              ignore_errors=True)
            if note.get("state") == "restored" or not (entry / ALBUM_DIR).is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                shutil.rmtree(entry / STAGING_DIR, ignore_errors=True)


def _item_dirs(trash_dir: Path) -> list[Path]:
    if not trash_dir.is_dir():
        return []
    return [entry for entry in trash_dir.iterdir() if _ID.fullmatch(entry.name)]


def _read(folder: Path) -> TrashItem | None:
    note = _note(folder)
    if not note or note.get("state") == "restored" or not (folder / ALBUM_DIR).is_dir():
        return None
    return TrashItem(folder.name, str(note["path"]), float(note["deletedAt"]))


def _note(folder: Path) -> dict:
    try:
        return json.loads((folder / ITEM_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _mark(folder: Path, state: str) -> None:
    moves.write_durably(folder / ITEM_FILE, {**_note(folder), "state": state})


def _age(folder: Path, now: float) -> float:
    try:
        return now - folder.stat().st_mtime
    except OSError:
        return 0.0
