"""Filesystem side of the index: list one folder (stat only) and read image headers, never pixels.

Runs on the CPU pool (services/cpu.py): no database here. Only names services.paths.is_listed accepts
(the rule resolve() applies, so whatever is listed opens) are listed: no hidden names, temp files, names
that are not UTF-8, unsupported extensions or symlinks that leave the root.
"""

from __future__ import annotations

import logging
import mimetypes
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from PIL import Image, UnidentifiedImageError

from services import images
from services.gallery.metadata import PhotoMeta, header_exif, read_photo
from services.paths import is_listed, link_allowed, media_kind, name_problem

log = logging.getLogger("photonix.gallery")
ORIENTATION_TAG = 0x0112
_SWAPPED_ORIENTATIONS = (5, 6, 7, 8)
_VIDEO_MIMES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime",
                ".avi": "video/x-msvideo", ".mkv": "video/x-matroska", ".wmv": "video/x-ms-wmv", ".3gp": "video/3gpp"}


class FileEntry(NamedTuple):  # a tuple: a scan makes one per file, and a tuple is the cheapest to make
    name: str
    kind: str  # photo | video
    size: int
    mtime: float


@dataclass(frozen=True)
class Probe:
    mime: str
    width: int | None = None
    height: int | None = None
    details: PhotoMeta = PhotoMeta()  # a photo's EXIF details; a video's are read apart (videometa)


@dataclass
class Listing:
    mtime: float
    folders: list[str] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)


def list_folder(root: Path, rel: str) -> Listing | None:
    """The listable folders and media directly in `rel`, or None when it is gone or not a folder."""
    folder = root / rel if rel else root
    try:
        listing = Listing(mtime=folder.stat().st_mtime)
        entries = list(os.scandir(folder))
    except (NotADirectoryError, FileNotFoundError):
        return None
    except OSError as exc:
        log.warning("cannot list %s: %s", folder, exc)
        return None
    for entry in entries:
        _add_entry(listing, entry, root, rel)
    return listing


def probe(path: Path, kind: str) -> Probe:
    """Format, display size (EXIF orientation applied) and EXIF details from the header; unknown ones stay None."""
    if kind == "video":
        return Probe(_VIDEO_MIMES.get(path.suffix.lower(), "application/octet-stream"))
    fallback = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix.lower() in images.HEIC_SUFFIXES:
        images.heic_supported()  # registers pillow-heif's opener when it is installed (the app did so already)
    try:
        with images.open_header(path) as image:
            width, height = image.size
            mime = Image.MIME.get(image.format or "", fallback)
            if (header_exif(image) or {}).get(ORIENTATION_TAG) in _SWAPPED_ORIENTATIONS:
                width, height = height, width
            details = read_photo(image)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        log.info("index: cannot read the header of %s: %s", path, exc)
        return Probe(fallback)
    return Probe(mime, width, height, details)


def _add_entry(listing: Listing, entry: os.DirEntry, root: Path, rel: str) -> None:
    name = entry.name
    if not is_listed(name, rel):
        if not name.startswith(".") and name_problem(name):  # dot files and temp files are skipped quietly
            log.warning("not listing %r in %r: %s", name, rel or "/", name_problem(name))
        return
    try:
        if entry.is_symlink() and not link_allowed(Path(entry.path), root):
            return
        is_dir = entry.is_dir()
        kind = None if is_dir else media_kind(name)
        if not is_dir and (kind is None or not entry.is_file()):
            return
        stat = entry.stat()
    except OSError:  # vanished meanwhile, a loop, or unreadable: not listed
        return
    if is_dir:
        listing.folders.append(name)
    else:
        listing.files.append(FileEntry(name, kind, stat.st_size, stat.st_mtime))

