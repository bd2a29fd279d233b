"""What a share link lets its visitors see: one album's subtree or one photo, decided on disk.

A path is inside the scope when its real path (symlinks resolved) is the shared file, or the shared folder or
below it. A symlink inside a shared folder that leads elsewhere in the gallery is therefore outside, even though
the index lists it under the shared folder's path: listings drop such items (`keeps`), and queries exclude the
linked folders (`linked_out`) so that counts and pages only hold what the visitor may open. No Flask.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from peewee import SQL, fn

from models import Folder, Media

ALBUM = "album"
MAX_LINK_CHECKS = 10_000  # folders of a shared album listed for links per request: bounded work


@dataclass(frozen=True)
class Scope:
    rel: str  # the shared path ("" for the root)
    kind: str  # "album", or the media kind of a single shared file
    real: Path  # its real path on disk
    root: Path  # the gallery's real root

    @property
    def is_album(self) -> bool:
        return self.kind == ALBUM

    def contains(self, real: Path) -> bool:
        """Whether a real (resolved) path is inside the scope."""
        if not self.is_album:
            return real == self.real
        return real == self.real or self.real in real.parents

    def named_inside(self, rel: str) -> bool:
        """Whether the (normalised) gallery path `rel` is inside the scope by its name alone: checked before the
        disk is asked, so a path outside answers the same whether or not something is there."""
        if not self.is_album:
            return rel == self.rel
        return self.rel == "" or rel == self.rel or rel.startswith(self.rel + "/")

    def contains_rel(self, rel: str) -> bool:
        """Whether the gallery path `rel` is inside the scope, resolved on disk now (False when it is gone)."""
        if not self.named_inside(rel):
            return False
        try:
            real = (self.root / rel if rel else self.root).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            return False
        return self.contains(real)

    def leads_out(self, rel: str) -> bool:
        """Whether a path inside the scope by name passes through a place outside it on disk (a symlink leading
        out), judged on the part of it that exists: so a missing name behind such a link is outside too, and
        a share cannot learn what exists in the rest of the gallery."""
        parts = rel.split("/") if rel else []
        start = len(self.rel.split("/")) if self.rel else 0
        for end in range(start + 1, len(parts) + 1):
            here = self.root.joinpath(*parts[:end])
            if not os.path.lexists(here):
                return False
            try:
                real = here.resolve(strict=True)
            except (OSError, RuntimeError, ValueError):
                return True  # a dangling or looping link: nowhere the share may look
            if not self.contains(real):
                return True
        return False

    def keeps(self, items: Iterable, path=lambda item: item.path) -> list:
        """The items (index rows) whose path lies inside the scope on disk, in their order."""
        return [item for item in items if self.contains_rel(path(item))]

    def media_condition(self, excluded: list[str] | None = None):
        """Media rows the scope may hold: below the shared album (minus `excluded` folders), or the one file."""
        if not self.is_album:
            return Media.path == self.rel
        return _below(Media.path, self.rel) & _none_within(Media.path, excluded or [])

    def folder_condition(self, excluded: list[str] | None = None):
        """Folder rows strictly below the shared album (minus `excluded` ones); none for a single file."""
        if not self.is_album:
            return SQL("1 = 0")
        return _below(Folder.path, self.rel) & _none_within(Folder.path, excluded or [])

    def linked_out(self) -> list[str]:
        """The folders and files inside the shared album that are symlinks leading out of it (a folder's whole
        subtree is then outside). Each indexed folder of the album is listed once (symlinks show in the listing
        without a stat) and only symlinks are resolved; the root's subtree never leads out of the root."""
        if not self.is_album or self.rel == "":
            return []
        folders = (Folder.select(Folder.path).where((Folder.path == self.rel) | _below(Folder.path, self.rel))
                   .order_by(Folder.path).limit(MAX_LINK_CHECKS).tuples())
        found: list[str] = []
        for (folder,) in folders:
            if not any(folder.startswith(out + "/") or folder == out for out in found):
                found += self._links_out_of(folder)
        return found

    def _links_out_of(self, folder: str) -> list[str]:
        try:
            with os.scandir(self.root / folder) as entries:
                links = [entry.name for entry in entries if entry.is_symlink()]
        except OSError:  # gone or unreadable: nothing of it is served either
            return []
        return [f"{folder}/{name}" for name in links if not self.contains_rel(f"{folder}/{name}")]


def _below(column, rel: str):
    if rel == "":
        return SQL("1 = 1")
    prefix = rel + "/"
    return fn.SUBSTR(column, 1, len(prefix)) == prefix


def _none_within(column, folders: list[str]):
    """Rows that are none of `folders` and in none of their subtrees."""
    condition = SQL("1 = 1")
    for folder in folders:
        condition &= (column != folder) & ~_below(column, folder)
    return condition
