"""The one path-safety function: a client's relative gallery path → a real path inside PHOTOS_DIR.

Every endpoint that takes a path goes through `resolve()`; the index uses `is_listed()` for names.
Syntax problems are 400 INVALID_PATH, symlinks that leave the root 403 PATH_FORBIDDEN, missing 404.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from errors import InvalidPath, NotFound, PathForbidden

MAX_PATH_CHARS = 2048
MAX_DEPTH = 32
MAX_NAME_BYTES = 255
PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".webm", ".mov", ".m4v"})
_KIND_BY_SUFFIX = {**dict.fromkeys(PHOTO_EXTENSIONS, "photo"), **dict.fromkeys(VIDEO_EXTENSIONS, "video")}
_TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", "~")
_TEMP_PREFIXES = ("~$", ".#")
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class GalleryPath:
    rel: str  # normalised relative path, "" for the root
    real: Path  # the resolved path on disk, inside the root


def normalise(raw: str) -> str:
    """Check a relative path's syntax (already URL-decoded once) and return it without trailing slashes."""
    if len(raw) > MAX_PATH_CHARS:
        raise InvalidPath(f"The path is longer than {MAX_PATH_CHARS} characters.")
    if raw.startswith("/") or "\\" in raw or _DRIVE.match(raw):
        raise InvalidPath("The path must be relative, with / between names.")
    text = raw.rstrip("/")
    if not text:
        return ""
    segments = text.split("/")
    if len(segments) > MAX_DEPTH:
        raise InvalidPath(f"The path is deeper than {MAX_DEPTH} levels.")
    for segment in segments:
        _check_segment(segment)
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
    return not any(part.startswith(".") for part in real.relative_to(root).parts)


def media_kind(name: str) -> str | None:
    """'photo', 'video', or None for a name the gallery does not show."""
    return _KIND_BY_SUFFIX.get(os.path.splitext(name)[1].lower())


def is_listed(name: str) -> bool:
    """Whether a file or folder name may appear in the gallery at all (not hidden, not a temp file)."""
    lowered = name.lower()
    return not (name.startswith(".") or lowered.endswith(_TEMP_SUFFIXES) or name.startswith(_TEMP_PREFIXES))


def _check_segment(segment: str) -> None:
    if not segment:
        raise InvalidPath("The path has an empty name (two slashes in a row).")
    folded = unicodedata.normalize("NFKC", unquote(unquote(segment)))
    if folded in (".", "..") or segment in (".", ".."):
        raise InvalidPath("The path may not contain . or .. names.")
    if segment.startswith(".") or folded.startswith("."):
        raise InvalidPath("Hidden names (starting with .) are not part of the gallery.")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in segment):
        raise InvalidPath("The path contains control characters or broken text.")
    if len(segment.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise InvalidPath(f"A name in the path is longer than {MAX_NAME_BYTES} bytes.")
