"""Renaming an album in place: the new name follows the gallery's path rules (services/paths.py) and never replaces
what is there. A rename within one folder is one atomic rename(2). Blocking file work: call on the CPU pool. No Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from errors import InvalidPath, NotFound, ValidationFailed
from services.albums import moves
from services.paths import is_listed, name_problem, normalise, resolve


@dataclass(frozen=True)
class Renamed:
    old: str
    new: str

    @property
    def parent(self) -> str:
        return self.old.rpartition("/")[0]


def rename_album(root: Path, raw: str, name: object) -> Renamed:
    """Rename the album at `raw` (not the root) to `name` in the same folder; Conflict when that name is taken."""
    rel = normalise(raw)
    if not rel:
        raise InvalidPath("The gallery's root cannot be renamed.")
    resolve(root, rel)
    source = root / rel
    if source.is_symlink() or not source.is_dir():
        raise NotFound("No album is at this path.")
    parent = rel.rpartition("/")[0]
    new_name = _checked_name(name, parent)
    new_rel = f"{parent}/{new_name}" if parent else new_name
    if new_rel == rel:
        return Renamed(rel, rel)
    moves.rename_no_replace(source, root / new_rel)
    return Renamed(rel, new_rel)


def _checked_name(name: object, parent: str) -> str:
    if not isinstance(name, str):
        raise ValidationFailed("name", "name must be a string.")
    if "/" in name:
        raise ValidationFailed("name", "name is one folder name, without /.")
    problem = name_problem(name)
    if problem:
        raise ValidationFailed("name", problem)
    if name != name.strip() or not is_listed(name, parent):
        raise ValidationFailed("name", "This name would not be shown by the gallery (a temporary or padded name).")
    return name
