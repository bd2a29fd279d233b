"""An indexed folder tree that was renamed on disk, moved in the index: its Folder and Media rows, months,
captions and every cover naming a photo in it point at the new path, in one transaction. Nothing is read from the
disk again (no header, no thumbnail): the files are the same files. Search follows through its own triggers.
No Flask; blocking database work, like the rest of the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peewee import fn

from models import Caption, Folder, FolderMonth, Media, database
from services.database import write_transaction
from services.gallery.keys import fold, name_of, natural_key, parent_of, path_hash


@dataclass(frozen=True)
class MovedFile:
    old: str
    new: str
    mtime: float
    size: int
    kind: str


def move_tree(old: str, new: str) -> list[MovedFile] | None:
    """Point the rows of folder `old` and everything below it at `new` (same parent, as a rename); the files moved.
    None when the index does not know `old` or already knows `new`: the caller then syncs both from the disk."""
    if not old or not new or parent_of(old) != parent_of(new):
        raise ValueError("a tree moves within its folder")
    with write_transaction():
        known = {path for (path,) in Folder.select(Folder.path)
                 .where(Folder.path_hash.in_([path_hash(old), path_hash(new)])).tuples()}
        if known != {old}:
            return None
        _move_folders(old, new)
        moved = _move_media(old, new)
        _move_captions(old, new)
        _update_many(Folder, {"cover_path": 0}, Folder.cover_path, [
            (moved_path(path, old, new), path) for (path,) in Folder.select(Folder.cover_path)
            .where(at_or_below(Folder.cover_path, old)).distinct().tuples()])
    return moved


def _move_folders(old: str, new: str) -> None:
    rows = []
    for (path,) in Folder.select(Folder.path).where(at_or_below(Folder.path, old)).tuples():
        target = moved_path(path, old, new)
        rows.append((target, path_hash(target), path_hash(parent_of(target) or ""), path_hash(path)))
    # Months first: they name their folder by its hash, which is about to change.
    _update_many(FolderMonth, {"folder_hash": 1}, FolderMonth.folder_hash, [(row[1], row[3]) for row in rows])
    _update_many(Folder, {"path": 0, "path_hash": 1, "parent_hash": 2}, Folder.path_hash, rows)
    name = name_of(new)
    Folder.update(name=name, sort_key=natural_key(name), name_folded=fold(name)).where(
        Folder.path_hash == path_hash(new)).execute()


def _move_media(old: str, new: str) -> list[MovedFile]:
    moved, rows = [], []
    for row_id, path, mtime, size, kind in (Media.select(Media.id, Media.path, Media.mtime, Media.size, Media.kind)
                                            .where(at_or_below(Media.path, old)).tuples()):
        target = moved_path(path, old, new)
        folder = parent_of(target) or ""
        rows.append((target, path_hash(target), path_hash(folder), fold(name_of(folder)), row_id))
        moved.append(MovedFile(path, target, mtime, size, kind))
    _update_many(Media, {"path": 0, "path_hash": 1, "folder_hash": 2, "folder_folded": 3}, Media.id, rows)
    return moved


def _move_captions(old: str, new: str) -> None:
    rows = []
    for row_id, path in Caption.select(Caption.id, Caption.path).where(at_or_below(Caption.path, old)).tuples():
        target = moved_path(path, old, new)
        rows.append((target, path_hash(target), row_id))
    _update_many(Caption, {"path": 0, "path_hash": 1}, Caption.id, rows)


def _update_many(model: Any, columns: dict[str, int], key: Any, rows: list[tuple]) -> None:
    """UPDATE model SET column = row[i] … WHERE key = row[-1], for every row, as one prepared statement (peewee
    would build each of thousands of updates anew)."""
    if not rows:
        return
    sql, marks = model.update({getattr(model, name): f"p{i}" for name, i in columns.items()}).where(key == "k").sql()
    order = [int(mark[1:]) if mark != "k" else -1 for mark in marks]  # peewee orders SET by the model's fields
    cursor = database.cursor()
    cursor.executemany(sql, [tuple(row[i] for i in order) for row in rows])


def at_or_below(field: Any, rel: str) -> Any:
    """Exactly `rel` or below it (by characters: LIKE would ignore case and take wildcards)."""
    prefix = rel + "/"
    return (field == rel) | (fn.SUBSTR(field, 1, len(prefix)) == prefix)


def moved_path(path: str, old: str, new: str) -> str:
    """`path` (`old` or below it) once `old` is called `new`."""
    return new + path[len(old):]
