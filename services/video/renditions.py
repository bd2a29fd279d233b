"""The HLS renditions on disk, DATA_DIR/video/<key>/: a master playlist, one playlist per height and their
segments. A rendition is visible only when complete: it is built in a hidden folder beside it and renamed into
place. Owns the layout, the state of a video's rendition and the per-video lock; never touches a source file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from services.video.playable import VideoFacts, plays_directly

MASTER = "master.m3u8"
# The only names a rendition holds (made by services/video/transcoder.py), so the only names served.
FILE_NAME = re.compile(r"(?:master|\d{1,4}p)\.m3u8|\d{1,4}p_\d{5}\.ts")
PARTIAL_SUFFIX = ".partial"
FAILED_SUFFIX = ".failed"
LOCK_SUFFIX = ".lock"
MAX_REASON_CHARS = 300
_KEY = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class VideoSource:
    path: Path  # absolute, inside the gallery
    rel: str  # gallery-relative, "/"-separated
    mtime: float
    size: int


class Renditions:
    """The renditions under `root` (DATA_DIR/video). `enabled`: whether they can be made here (ffmpeg found);
    without it every video is sent as its original."""

    def __init__(self, root: Path, direct_max_bytes: int, enabled: bool = True) -> None:
        self.root = Path(root)
        self.direct_max_bytes = direct_max_bytes
        self.enabled = enabled

    def key(self, rel: str, mtime: float, size: int) -> str:
        """Stable per (path, mtime, size): a replaced video gets a new rendition."""
        return hashlib.sha256(f"{rel}\0{round(mtime * 1_000_000_000)}\0{size}".encode()).hexdigest()

    def folder(self, key: str) -> Path:
        return self.root / key

    def partial(self, key: str) -> Path:
        return self.root / f".{key}{PARTIAL_SUFFIX}"

    def failed_marker(self, key: str) -> Path:
        return self.root / f"{key}{FAILED_SUFFIX}"

    def lock_path(self, key: str) -> Path:
        return self.root / f".{key}{LOCK_SUFFIX}"

    def needs_rendition(self, facts: VideoFacts) -> bool:
        return self.enabled and not plays_directly(facts, self.direct_max_bytes)

    def state(self, key: str) -> str:
        """"ready", "failed", "running" (another process or thread holds its lock) or "pending"; file checks only."""
        if (self.folder(key) / MASTER).is_file():
            return "ready"
        if self.failed_marker(key).exists():
            return "failed"
        return "running" if self._locked(key) else "pending"

    def playable(self, facts: VideoFacts, mtime: float) -> tuple[str, str | None]:
        """("direct" | "hls" | "pending" | "failed", the rendition key when "hls")."""
        if not self.needs_rendition(facts):
            return "direct", None
        key = self.key(facts.path, mtime, facts.size)
        state = self.state(key)
        return {"ready": "hls", "failed": "failed"}.get(state, "pending"), key if state == "ready" else None

    def failure(self, key: str) -> str | None:
        try:
            return self.failed_marker(key).read_text(errors="replace")[:MAX_REASON_CHARS]
        except FileNotFoundError:
            return None

    def file(self, key: str, name: str) -> Path | None:
        """A complete rendition's file by name, or None (not made, or not a name a rendition holds)."""
        if not FILE_NAME.fullmatch(name):
            return None
        path = self.folder(key) / name
        return path if (self.folder(key) / MASTER).is_file() and path.is_file() else None

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[bool]:
        """Holds the video's lock if no one else does: yields True when held (then it may be built), else False.
        The lock file goes when released (still held, so no one else holds a removed file: the inode check)."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.lock_path(key)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                yield False
                return
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break
            os.close(fd)  # its holder removed that file as it finished: lock the current one
        try:
            yield True
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            os.close(fd)

    def carry(self, old_rel: str, new_rel: str, mtime: float, size: int) -> bool:
        """Keep a video's rendition (or its remembered failure) when the video was renamed or moved: renamed to the
        new path's key, under the old key's lock (a rendition being built now is left; it is made again later).
        Blocking file work; True when anything was there."""
        old, new = self.key(old_rel, mtime, size), self.key(new_rel, mtime, size)
        if not (self.folder(old).exists() or self.failed_marker(old).exists()):
            return False
        with self.locked(old) as held:
            if not held:
                return False
            carried = False
            pairs = ((self.folder(old), self.folder(new)), (self.failed_marker(old), self.failed_marker(new)))
            for made, target in pairs:
                with contextlib.suppress(OSError):  # not there, or made meanwhile under the new key: nothing to keep
                    os.rename(made, target)
                    carried = True
            return carried

    def sweep(self) -> int:
        """Remove what interrupted builds left (a hidden partial folder whose lock no one holds); returns how many
        went. A visible rendition is never touched."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for entry in os.scandir(self.root):
            name = entry.name
            if name.startswith(".") and name.endswith(PARTIAL_SUFFIX):
                key = name[1:-len(PARTIAL_SUFFIX)]
                with self.locked(key) as held:
                    if held:
                        shutil.rmtree(entry.path, ignore_errors=True)
                        removed += 1
        return removed

    def prune(self, keep: set[str], made_before: float) -> int:
        """Remove the renditions and remembered failures whose key is not in `keep` (their video is no longer indexed
        as that version) and that were made before `made_before` (one finished since `keep` was read, for a video
        indexed since, stays); a build under way is never touched. A rendition goes hidden first, then away.
        Returns how many went."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for entry in os.scandir(self.root):
            key = entry.name.removesuffix(FAILED_SUFFIX)
            if not _KEY.fullmatch(key) or key in keep:
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime >= made_before:
                    continue
            except FileNotFoundError:
                continue
            with self.locked(key) as held:
                if not held:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if entry.name.endswith(FAILED_SUFFIX):
                        os.unlink(entry.path)
                    else:
                        os.rename(entry.path, self.partial(key))
                        shutil.rmtree(self.partial(key), ignore_errors=True)
                    removed += 1
        return removed

    def _locked(self, key: str) -> bool:
        try:
            fd = os.open(self.lock_path(key), os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False
