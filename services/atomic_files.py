"""Files written so that their final name never shows a partial file: a temp file in the same folder, fsynced,
then os.replace. Thumbnails and their failure markers (services/thumbnails.py), video renditions' failure
markers (services/video/transcoder.py) and the trash's item notes (services/albums/moves.py) are written so.
No Flask here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(target: Path, data: bytes, mode: int = 0o644, sync_folder: bool = False) -> None:
    """`data` at `target`, created with `mode`; `sync_folder`: the folder fsynced too, so the new name itself
    survives a power cut (what a crash-safe record needs; a cache file can be made again)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    if sync_folder:
        fsync_folder(target.parent)


def fsync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
