"""The one path-safety function: a client's relative gallery path → a real path inside PHOTOS_DIR.

Every endpoint that takes a path goes through `resolve()`; the index lists only names `is_listed()`
accepts, the same rule, so whatever browse lists opens. Paths are POSIX and URL-decoded exactly once (by
werkzeug): "B: Trip", a backslash or "%2e%2e.jpg" are plain names. Syntax problems are 400 INVALID_PATH,
symlinks that leave the root 403 PATH_FORBIDDEN, missing 404.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from errors import InvalidPath, NotFound, PathForbidden

MAX_PATH_CHARS = 2048
MAX_DEPTH = 32
MAX_NAME_BYTES = 255
PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif"})
# .avi .mkv .wmv .3gp play in the browser through their HLS rendition (services/video/).
VIDEO_EXTENSIONS = frozenset({".mp4", ".webm", ".mov", ".m4v", ".avi", ".mkv", ".wmv", ".3gp"})
_KIND_BY_SUFFIX = {**dict.fromkeys(PHOTO_EXTENSIONS, "photo"), **dict.fromkeys(VIDEO_EXTENSIONS, "video")}
_TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", "~")
_TEMP_PREFIXES = ("~$", ".#")
# Control characters (all but tab, which is whitespace in a name like a space) break log lines, HTTP
# headers and the router's <path:> (no newline); lone surrogates are bytes on disk that are not UTF-8.
_UNREPRESENTABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class GalleryPath:
    rel: str  # normalised relative path, "" for the root
    real: Path  # the resolved path on disk, inside the root


def normalise(raw: str) -> str:
    """Check a relative path's syntax (already URL-decoded once) and return it without trailing slashes."""
    if len(raw) > MAX_PATH_CHARS:
        raise InvalidPath(f"The path is longer than {MAX_PATH_CHARS} characters.")
    if raw.startswith("/"):
        raise InvalidPath("The path must be relative, with / between names.")
    text = raw.rstrip("/")
    if not text:
        return ""
    segments = text.split("/")
    if len(segments) > MAX_DEPTH:
        raise InvalidPath(f"The path is deeper than {MAX_DEPTH} levels.")
    for segment in segments:
        problem = name_problem(segment)
        if problem:
            raise InvalidPath(problem)
    return text


def resolve(root: Path, raw: str) -> GalleryPath:
    """The real path for `raw` inside `root` (which must be resolved), or the matching AppError."""
    rel = normalise(raw)
    candidate = root / rel if rel else root
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # missing, a dangling link, a symlink loop, unencodable
        raise NotFound("Nothing is at this path.") from None
    if not visible_inside(root, real):
        raise PathForbidden()
    if not _links_followed(root, rel):
        raise NotFound("Nothing is at this path.")
    return GalleryPath(rel, real)


def link_allowed(link: Path, root: Path) -> bool:
    """A symlink is followed only to a visible place inside the root that is not one of its own
    ancestors (that would be an endless loop of albums)."""
    try:
        real, here = link.resolve(strict=True), link.parent.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return real != root and visible_inside(root, real) and real != here and real not in here.parents


def _links_followed(root: Path, rel: str) -> bool:
    """Whether every symlink along `rel` is one the index follows, so a link to its own ancestor
    cannot be walked through (self/self/self/...) into an ever deeper copy of the gallery."""
    here = root
    for segment in rel.split("/") if rel else ():
        here = here / segment
        if here.is_symlink() and not link_allowed(here, root):
            return False
    return True


def visible_inside(root: Path, real: Path) -> bool:
    """Whether a resolved path is the root or below it with no hidden folder on the way."""
    if real != root and root not in real.parents:
        return False
    return not any(_hidden(part) for part in real.relative_to(root).parts)


def media_kind(name: str) -> str | None:
    """'photo', 'video', or None for a name the gallery does not show."""
    return _KIND_BY_SUFFIX.get(os.path.splitext(name)[1].lower())


def is_listed(name: str, parent: str = "") -> bool:
    """Whether the file or folder `name` in the folder `parent` appears in the gallery: exactly when
    resolve() accepts "parent/name" (so whatever is listed opens), and it is not a temp file."""
    path_chars = len(parent) + 1 + len(name) if parent else len(name)
    depth = parent.count("/") + 2 if parent else 1
    lowered = name.lower()
    return not (name_problem(name) or lowered.endswith(_TEMP_SUFFIXES) or name.startswith(_TEMP_PREFIXES)
                or path_chars > MAX_PATH_CHARS or depth > MAX_DEPTH)


def is_listed_path(rel: str) -> bool:
    """Whether every part of the gallery path `rel` is listed (a file inside a temp-named folder is not)."""
    parent = ""
    for name in rel.split("/") if rel else ():
        if not is_listed(name, parent):
            return False
        parent = f"{parent}/{name}" if parent else name
    return True


def name_problem(name: str) -> str | None:
    """Why one name cannot be part of a gallery path (the INVALID_PATH message), None when it can.

    Taken literally: no further %-decoding and no Windows rules (":" and "\\" are ordinary characters
    on POSIX). Refused: empty, "." and "..", hidden names (also after NFKC folding, so "．env" is hidden),
    control characters but tab, bytes that are not UTF-8, more than MAX_NAME_BYTES.
    """
    if not name:
        return "The path has an empty name (two slashes in a row)."
    folded = name if name.isascii() else unicodedata.normalize("NFKC", name)
    if folded in (".", ".."):
        return "The path may not contain . or .. names."
    if _hidden(name):
        return "Hidden names (starting with .) are not part of the gallery."
    if _UNREPRESENTABLE.search(name):
        return "The path contains control characters or broken text."
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"A name in the path is longer than {MAX_NAME_BYTES} bytes."
    return None


def _hidden(name: str) -> bool:
    return name.startswith(".") or (not name.isascii() and unicodedata.normalize("NFKC", name).startswith("."))
