"""Album downloads as one streamed ZIP (zipstream-ng): which files go in, under which names, and the stream.

The files are those the gallery lists (services.paths rules: media only, no hidden or temp names, symlinks only
where the index follows them), stored uncompressed (photos do not compress), ZIP64 when needed. Nothing is
written to disk and nothing is read before the stream is iterated: each file is opened only while its bytes are
streamed, so a client that goes away (the iterator closed) stops the reading. No Flask; callers check paths.
Building the list walks and stat()s the whole album (about 1 s per 40,000 files here): run album_zip and
selection_zip off the gevent hub (services/cpu.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from zipstream import ZipStream

from services.paths import GalleryPath, is_listed, link_allowed, media_kind

log = logging.getLogger("photonix.archive")
MAX_SELECTION = 10_000  # paths in one POST /api/zip
Inside = Callable[[Path], bool]  # whether a real path may go in (a share's scope); None: the whole gallery


@dataclass(frozen=True)
class Entry:
    real: Path  # the file on disk
    name: str  # its name in the archive: relative, "/"-separated, UTF-8


def album_zip(root: Path, album: GalleryPath, inside: Inside | None = None) -> ZipStream:
    """The ZipStream of album_entries(root, album, inside)."""
    return zip_stream(album_entries(root, album, inside))


def selection_zip(root: Path, chosen: list[GalleryPath], inside: Inside | None = None) -> ZipStream:
    """The ZipStream of selection_entries(root, chosen, inside)."""
    return zip_stream(selection_entries(root, chosen, inside))


def album_entries(root: Path, album: GalleryPath, inside: Inside | None = None) -> list[Entry]:
    """Every photo and video below `album` (a checked folder), recursively, named relative to it, sorted by name
    within each folder. A symlink is followed only where the index follows it (paths.link_allowed) and, with
    `inside`, only when its real path is inside; a loop of links back to a folder being walked is not entered."""
    return list(_walk(root, album.rel, album.real, "", inside, frozenset({album.real})))


def selection_entries(root: Path, chosen: Iterable[GalleryPath], inside: Inside | None = None) -> list[Entry]:
    """The checked paths `chosen` (photos, videos and albums) as entries named relative to the deepest folder that
    holds them all, so an album keeps its own name as the top folder; albums go in recursively as in
    album_entries. Each name goes in once, and each album is walked once: a path chosen twice, or inside a
    chosen album, adds nothing."""
    chosen = list(chosen)
    base = common_folder(chosen)
    seen: set[str] = set()
    entries: list[Entry] = []
    for found in _outermost(chosen):
        name = found.rel[len(base) + 1:] if base else found.rel
        if found.real.is_dir():
            prefix = f"{name}/" if name else ""  # the root itself chosen: its contents at the top
            found_entries = _walk(root, found.rel, found.real, prefix, inside, frozenset({found.real}))
        else:
            found_entries = iter([Entry(found.real, name)])
        for entry in found_entries:
            if entry.name not in seen:
                seen.add(entry.name)
                entries.append(entry)
    return entries


def zip_stream(entries: Iterable[Entry]) -> ZipStream:
    """A stored, sized ZipStream of `entries` (len() is the exact byte count for Content-Length). Each file is
    stat()ed now; one that vanished meanwhile is left out."""
    stream = ZipStream(sized=True)  # sized implies ZIP_STORED
    for entry in entries:
        try:
            stream.add_path(os.fspath(entry.real), entry.name, recurse=False)
        except OSError as exc:  # vanished (or unreadable) since the walk
            log.info("zip: %s left out: %s", entry.real, exc)
    return stream


def stream_bytes(stream: ZipStream) -> Iterator[bytes]:
    """The archive's bytes. A file that vanishes or changes size while streaming ends the stream early (the
    client sees fewer bytes than Content-Length said: a failed download, never a silently corrupt one)."""
    try:
        yield from stream
    except (OSError, RuntimeError) as exc:  # RuntimeError: zipstream-ng's "size did not match" for a sized stream
        log.warning("zip: stopped streaming: %s", exc)


def archive_name(rel: str, fallback: str) -> str:
    """The download's file name: the folder's own name, or `fallback` for the root, with .zip."""
    return f"{rel.rpartition('/')[2] or fallback}.zip"


def common_folder(chosen: Iterable[GalleryPath]) -> str:
    """The deepest folder holding every chosen path ("" for the root)."""
    return _common_folder([_parent(found.rel) for found in chosen])


def _walk(root: Path, rel: str, real: Path, prefix: str, inside: Inside | None,
          walking: frozenset[Path]) -> Iterator[Entry]:
    """The entries below the folder `rel` (real path `real`), named `prefix` + their path below it."""
    try:
        children = sorted(os.scandir(real), key=lambda child: child.name)
    except OSError as exc:  # vanished or unreadable meanwhile: nothing from it
        log.info("zip: cannot list %s: %s", real, exc)
        return
    for child in children:
        found = _listed(root, rel, real, child, inside)
        if found is None:
            continue
        child_rel = f"{rel}/{child.name}" if rel else child.name
        child_real, is_dir = found
        if not is_dir:
            yield Entry(child_real, prefix + child.name)
        elif child_real not in walking:
            yield from _walk(root, child_rel, child_real, f"{prefix}{child.name}/", inside, walking | {child_real})


def _listed(root: Path, rel: str, real: Path, child: os.DirEntry, inside: Inside | None) -> tuple[Path, bool] | None:
    """(real path, is a folder) of a child the gallery lists and `inside` accepts; None for any other."""
    if not is_listed(child.name, rel):
        return None
    try:
        if child.is_symlink():
            if not link_allowed(Path(child.path), root):
                return None
            child_real = Path(child.path).resolve(strict=True)
            if inside is not None and not inside(child_real):
                return None
        else:
            child_real = real / child.name
        if child.is_dir():
            return child_real, True
        if media_kind(child.name) and child.is_file():
            return child_real, False
    except (OSError, RuntimeError):  # vanished meanwhile, a loop, or unreadable: left out
        return None
    return None


def _outermost(chosen: list[GalleryPath]) -> list[GalleryPath]:
    """The chosen paths minus repeats and those inside another chosen album (by name: what a link leads to is
    walked under the link's own name), in their order."""
    albums = {found.rel for found in chosen if found.real.is_dir()}
    kept, seen = [], set()
    for found in chosen:
        if found.rel in seen or any(folder in albums for folder in _ancestors(found.rel)):
            continue
        seen.add(found.rel)
        kept.append(found)
    return kept


def _ancestors(rel: str) -> list[str]:
    """The folders above `rel`, the root "" included: "a/b/c" -> ["", "a", "a/b"]; none above the root."""
    if not rel:
        return []
    parts = rel.split("/")[:-1]
    return ["/".join(parts[:count]) for count in range(len(parts) + 1)]


def _parent(rel: str) -> str:
    return rel.rpartition("/")[0]


def _common_folder(folders: list[str]) -> str:
    if not folders:
        return ""
    parts = [folder.split("/") if folder else [] for folder in folders]
    common = os.path.commonprefix(parts)
    return "/".join(common)
