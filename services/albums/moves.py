"""Moving a folder tree so that a crash at any point loses nothing: a rename that never replaces what is at the
target (renameat2 RENAME_NOREPLACE), and, across file systems, copy → fsync → verify → rename into place, with the
source removed only by the caller once the verified copy is in place. Blocking file work: run on the CPU pool.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import filecmp
import json
import os
import shutil
from pathlib import Path
from typing import Any

from errors import Conflict, NotFound
from services.atomic_files import fsync_folder, write_atomic

AT_FDCWD = -100
RENAME_NOREPLACE = 1
_libc = ctypes.CDLL(None, use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)


def same_device(source: Path, target_parent: Path) -> bool:
    return source.stat().st_dev == target_parent.stat().st_dev


def rename_no_replace(source: Path, target: Path) -> None:
    """Rename `source` to `target`, refused with Conflict when anything (even an empty folder) is at `target`."""
    if _renameat2 is None:  # a libc without renameat2: checked, then renamed (a narrow window)
        if os.path.lexists(target):
            raise Conflict("Something with this name is already there.")
        os.rename(source, target)
    elif _renameat2(AT_FDCWD, os.fsencode(source), AT_FDCWD, os.fsencode(target), RENAME_NOREPLACE) != 0:
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            raise Conflict("Something with this name is already there.")
        if code == errno.ENOENT:  # moved, restored or purged by another request a moment ago
            raise NotFound("Nothing is at this path any more.")
        raise OSError(code, os.strerror(code), str(source), None, str(target))
    fsync_folder(source.parent)
    if target.parent != source.parent:
        fsync_folder(target.parent)


def copy_verified(source: Path, staging: Path, target: Path) -> None:
    """Copy the tree `source` into `staging` (bytes and mtimes, each file fsynced), compare every file with its
    original byte for byte, then rename `staging` to `target` (never replacing). The source is left as it is."""
    shutil.copytree(source, staging, symlinks=True, copy_function=_copy_synced)
    _check_same(source, staging)
    fsync_folder(staging)
    rename_no_replace(staging, target)


def remove_copied(source: Path, copy: Path) -> None:
    """After copy_verified: remove from `source` exactly what `copy` holds (each file only while its size and mtime are
    still those of its copy), then the folders left empty. A file added to `source` meanwhile stays where it is."""
    for folder, folders, files in os.walk(copy, topdown=False):
        there = source / Path(folder).relative_to(copy)
        links = [name for name in folders if (Path(folder) / name).is_symlink()]  # os.walk lists them as folders
        for name in files + links:
            original, copied = there / name, Path(folder) / name
            with contextlib.suppress(FileNotFoundError):
                if _same_entry(original, copied):
                    original.unlink()
        with contextlib.suppress(OSError):  # not empty: something new is in it, and stays
            there.rmdir()
    fsync_folder(source.parent)


def write_durably(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to `path` atomically and sync its folder (services/atomic_files.py)."""
    write_atomic(path, json.dumps(data, ensure_ascii=False).encode(), sync_folder=True)


def _copy_synced(source: str, target: str) -> str:
    shutil.copy2(source, target)
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())
    return target


def _same_entry(original: Path, copied: Path) -> bool:
    if copied.is_symlink():
        return original.is_symlink() and os.readlink(original) == os.readlink(copied)
    mine, theirs = original.lstat(), copied.lstat()
    return not original.is_symlink() and (mine.st_size, mine.st_mtime_ns) == (theirs.st_size, theirs.st_mtime_ns)


def _check_same(source: Path, copy: Path) -> None:
    """Raise OSError unless `copy` holds the same names and, for each file, the same bytes as `source`."""
    for folder, folders, files in os.walk(source):
        here = Path(folder)
        there = copy / here.relative_to(source)
        names = set(os.listdir(there))
        if names != set(folders) | set(files):
            raise OSError(errno.EIO, f"the copy of {here} does not hold the same names")
        for name in files:
            if not (here / name).is_symlink() and not filecmp.cmp(here / name, there / name, shallow=False):
                raise OSError(errno.EIO, f"the copy of {here / name} differs from the original")
