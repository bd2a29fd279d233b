"""Saving a downloaded image into the gallery: folders, server-made names, hidden temp files, Pillow checks.

Owns what reaches the gallery from a download: only verified images, published atomically, never
overwriting a file. It never fetches anything and never decides which images to download.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import hashlib
import os
import re
import socket
import stat
import time
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote

from PIL import Image, UnidentifiedImageError

from errors import DownloadFailed, ImageRejected, InvalidPath, PathForbidden
from services import cpu, images, paths
from services.lease import process_alive

TEMP_PREFIX = ".photonix-dl-"
TEMP_SUFFIX = ".part"  # hidden and a temp suffix: the gallery index never lists these files
# This host, in temp file names (with the pid), so a cleanup can tell a killed writer from a live one.
_WRITER = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]  # noqa: S324 (a tag, not security)
TEMP_MODE = 0o644  # before the umask
ALLOWED_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif"}
FORMAT_ALIASES = {"MPO": "JPEG"}  # multi-picture JPEGs from cameras: a plain JPEG for every viewer
DOWNLOADS_FOLDER = "Downloads"
MAX_NAME_BYTES = 120
MAX_CLASH_SUFFIX = 1000  # "name-2.jpg" … "name-1000.jpg", then give up
JPEG_DRAFT_SCALE = 8  # libjpeg decodes at 1/8 size: every block is still read, cheaply
ORIENTATION_TAG = 0x0112
ROTATED_ORIENTATIONS = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
NO_HARDLINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.ENOSYS})
WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)),
                              *(f"LPT{n}" for n in range(1, 10))})
_UNSAFE_CHARS = frozenset('/\\:*?"<>|\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069')  # + bidi overrides
FOLD_PREFIX_CHARS = 16  # enough of a name to see whether %-decoding and NFKC turn it into ".…"
_SPACES = re.compile(r"\s+")
_DASHES = re.compile(r"-{2,}")


@dataclass(frozen=True)
class ImageLimits:
    min_bytes: int = 1024
    min_width: int = 64  # pixels, judged on the stored (unrotated) size
    min_height: int = 64
    max_pixels: int = 200_000_000


@dataclass(frozen=True)
class SavedImage:
    rel: str  # gallery-relative path with "/" separators
    format: str  # a key of ALLOWED_FORMATS
    width: int  # as displayed: EXIF orientations 5-8 swap the stored width and height
    height: int
    size: int  # bytes


def target_folder(root: Path, rel: str) -> tuple[str, Path]:
    """(normalised rel, real path) of a gallery folder, made one level at a time if missing.

    Raises InvalidPath for bad syntax (absolute, "..", hidden names) or a file in the way, and
    PathForbidden when a level resolves outside `root` or into a hidden folder; nothing is ever
    created outside the root, since each level is checked before the next is made.
    """
    rel = folder_input(rel)
    real_root = root.resolve(strict=True)
    current = real_root
    for name in rel.split("/") if rel else ():
        with contextlib.suppress(FileExistsError):
            (current / name).mkdir()
        try:
            current = (current / name).resolve(strict=True)
        except (OSError, RuntimeError):  # a dangling symlink or a loop
            raise PathForbidden() from None
        if not paths.visible_inside(real_root, current):
            raise PathForbidden()
        if not current.is_dir():
            raise InvalidPath(f"{name!r} in the target folder is a file, not a folder.")
    return rel, current


def folder_input(rel: str) -> str:
    """A target folder as the owner typed it, normalised (paths.normalise), or InvalidPath. A backslash is a
    legal character in a name on disk, but typed here it is a Windows path meant as folders: refused."""
    if "\\" in rel:
        raise InvalidPath("Separate the target folder's levels with '/', not '\\'.")
    return paths.normalise(rel)


def default_folder(feed_title: str) -> str:
    """The folder a feed without its own target saves into: Downloads/<safe title>, "Feed" if untitled."""
    return f"{DOWNLOADS_FOLDER}/{safe_name(feed_title, fallback='Feed')}"


def safe_name(text: str, max_bytes: int = MAX_NAME_BYTES, *, fallback: str = "image") -> str:
    """A file or folder name made by the server from untrusted text; `fallback` when nothing is left.

    NFC; whitespace runs become one space; control, bidi-override and / \\ : * ? " < > | characters
    become "-" and dash runs collapse; no leading dot, dash, space or "~" (also after the %-decoding and
    NFKC folding that services.paths applies), no trailing dot or space; Windows device names get "_"; at most
    `max_bytes` UTF-8 bytes, cut on a character boundary. The result passes paths.normalise and is_listed.
    """
    name = _SPACES.sub(" ", unicodedata.normalize("NFC", text))
    name = _DASHES.sub("-", "".join("-" if _unsafe(ch) else ch for ch in name)).lstrip(".- ~")
    while name and (name[0] in ".- ~" or _folded(name[:FOLD_PREFIX_CHARS]).startswith(".")):
        name = name[1:]
    stem, dot, rest = name.partition(".")
    if stem.rstrip().upper() in WINDOWS_RESERVED:
        name = f"{stem.rstrip()}_{dot}{rest}"
    name = _fit(name, max_bytes)
    if name and not paths.is_listed(name):  # ends like a temp file (".part", "~")
        name = _fit(name, max_bytes - 1) + "_"
    return name or fallback


def open_temp(folder: Path) -> tuple[BinaryIO, Path]:
    """A new, empty temp file in `folder` (created exclusively, never through a symlink) open for writing."""
    path = folder / f"{TEMP_PREFIX}{_WRITER}-{os.getpid()}-{uuid.uuid4().hex}{TEMP_SUFFIX}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, TEMP_MODE)
    try:
        return os.fdopen(fd, "wb"), path
    except BaseException:
        os.close(fd)
        discard(path)
        raise


def verify_image(path: Path, limits: ImageLimits) -> tuple[str, int, int]:
    """(format, width, height as displayed) of an acceptable image, else ImageRejected with `reason`.

    CPU work: call it through services.cpu.run_cpu. Size, format and pixel count are judged from the
    file and its header before any decode; then one cheap decode (JPEG at 1/8 scale, other formats
    their first frame only) catches truncated or corrupt data.
    """
    size = path.stat().st_size
    if size < limits.min_bytes:
        raise _rejected("too-small-bytes", f"The file has {size} bytes; at least {limits.min_bytes} are needed.")
    try:
        image = images.open_header(path)
    except Image.DecompressionBombError:
        raise _rejected("too-many-pixels", "The image header claims too many pixels.") from None
    except UnidentifiedImageError:
        raise _rejected("not-an-image", "The file is not an image.") from None
    except Exception as exc:  # a recognised header that Pillow could not read
        raise _rejected("corrupt", "The image header is damaged.") from exc
    with image:
        kind, width, height = _check_header(image, limits)
        _decode(image, kind, width, height)
        return (kind, height, width) if _orientation(image) in ROTATED_ORIENTATIONS else (kind, width, height)


def commit(temp: Path, folder_rel: str, folder: Path, base_name: str, limits: ImageLimits) -> SavedImage:
    """Verify the finished temp file and publish it in `folder` as safe_name(base_name) + its real extension.

    Never overwrites: a taken name becomes "<name>-2.ext", "-3" and so on. The file data and the folder
    are fsynced. On any failure (ImageRejected included) the temp file is removed and nothing is left.
    Runs on the native pool: the decode and both fsyncs would otherwise stall the gevent hub.
    """
    return cpu.run_cpu(_commit, temp, folder_rel, folder, base_name, limits)


def _commit(temp: Path, folder_rel: str, folder: Path, base_name: str, limits: ImageLimits) -> SavedImage:
    published: Path | None = None
    try:
        kind, width, height = verify_image(temp, limits)
        _fsync(temp)
        published, made = _publish(temp, folder, safe_name(_without_image_suffix(base_name)), ALLOWED_FORMATS[kind])
        _fsync(folder)
        size = published.stat().st_size
    except BaseException:
        with contextlib.suppress(OSError):
            discard(temp)
        if published is not None and made:  # never a file that was there before
            with contextlib.suppress(OSError):
                discard(published)
        raise
    rel = f"{folder_rel}/{published.name}" if folder_rel else published.name
    return SavedImage(rel, kind, width, height, size)


def discard(temp: Path) -> None:
    """Remove a file; one that is already gone is fine."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)


def clean_temp_files(folder: Path, older_than_s: float = 0.0) -> int:
    """Remove temp files (TEMP_PREFIX…TEMP_SUFFIX) directly in `folder` whose writer on this host is
    gone, or last modified at least `older_than_s` ago (all of them at 0); returns how many. A
    missing folder has none. Another process's download in progress is left alone."""
    cutoff = time.time() - older_than_s
    removed = 0
    try:
        with os.scandir(folder) as found:
            candidates = [e for e in found if e.name.startswith(TEMP_PREFIX) and e.name.endswith(TEMP_SUFFIX)]
    except FileNotFoundError:
        return 0
    for entry in candidates:
        with contextlib.suppress(FileNotFoundError):
            if entry.is_dir(follow_symlinks=False):
                continue
            recent = older_than_s > 0 and entry.stat(follow_symlinks=False).st_mtime > cutoff
            if recent and _writer_alive(entry.name):
                continue
            os.unlink(entry.path)
            removed += 1
    return removed


def _writer_alive(name: str) -> bool:
    """Whether the process that named this temp file may still be writing it (unknown: assume so)."""
    writer, _, rest = name[len(TEMP_PREFIX):].partition("-")
    pid = rest.partition("-")[0]
    return writer != _WRITER or not pid.isdigit() or process_alive(int(pid))


def _check_header(image: Image.Image, limits: ImageLimits) -> tuple[str, int, int]:
    kind = FORMAT_ALIASES.get(image.format or "", image.format or "")
    if kind not in ALLOWED_FORMATS:
        raise _rejected("format-not-allowed", f"{kind or 'This'} images are not accepted.")
    width, height = image.size
    if width * height > limits.max_pixels:
        raise _rejected("too-many-pixels", f"The image has {width}×{height} pixels, more than {limits.max_pixels}.")
    if width < limits.min_width or height < limits.min_height:
        raise _rejected("too-small-dimensions", f"The image is {width}×{height}, smaller than "
                                                f"{limits.min_width}×{limits.min_height}.")
    return kind, width, height


def _decode(image: Image.Image, kind: str, width: int, height: int) -> None:
    try:
        if kind == "JPEG":
            image.draft(image.mode, (max(1, width // JPEG_DRAFT_SCALE), max(1, height // JPEG_DRAFT_SCALE)))
        image.load()  # the current (first) frame only
    except Image.DecompressionBombError:
        raise _rejected("too-many-pixels", "The image has too many pixels.") from None
    except Exception as exc:  # decoders raise many types on hostile data; all mean the same here
        raise _rejected("corrupt", "The image data is truncated or corrupt.") from exc


def _orientation(image: Image.Image) -> int | None:
    try:
        return image.getexif().get(ORIENTATION_TAG)
    except Exception:  # a broken EXIF block does not make the picture unusable
        return None


def _publish(temp: Path, folder: Path, stem: str, suffix: str) -> tuple[Path, bool]:
    """(the name `temp` now has, True) — or (a taken name whose file has the very same bytes, False), `temp`
    removed: a run killed after publishing an image but before recording it fetches it again, and the file it
    left is the saved one rather than a "-2" copy."""
    for number in range(1, MAX_CLASH_SUFFIX + 1):
        final = folder / (f"{stem}{suffix}" if number == 1 else f"{stem}-{number}{suffix}")
        try:
            _place(temp, final)
        except FileExistsError:
            if _same_bytes(temp, final):
                discard(temp)
                return final, False
            continue
        return final, True
    raise DownloadFailed(f"{MAX_CLASH_SUFFIX} files named like {stem}{suffix} already exist.", retryable=False)


def _place(temp: Path, final: Path) -> None:
    """Give `temp` the name `final` unless that name exists (FileExistsError)."""
    try:
        os.link(temp, final)  # atomic, and fails if the name is taken
    except OSError as exc:
        if exc.errno not in NO_HARDLINKS:
            raise
        if os.path.lexists(final):
            raise FileExistsError(errno.EEXIST, "File exists", str(final)) from None
        os.rename(temp, final)  # no hard links here: rename, which only the check above keeps from overwriting
        return
    os.unlink(temp)


def _same_bytes(a: Path, b: Path) -> bool:
    """Both regular files (not followed through a symlink) with equal contents."""
    try:
        return stat.S_ISREG(os.lstat(b).st_mode) and filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _without_image_suffix(name: str) -> str:
    stem, suffix = os.path.splitext(name)
    return stem if suffix.lower() in paths.PHOTO_EXTENSIONS | {".jpe", ".jfif"} else name


def _rejected(reason: str, message: str) -> ImageRejected:
    return ImageRejected(message, reason=reason)


def _fit(name: str, max_bytes: int) -> str:
    """At most `max_bytes` UTF-8 bytes, cut on a character boundary, without trailing dots or spaces."""
    return name.encode("utf-8")[:max_bytes].decode("utf-8", "ignore").rstrip(". ")


def _unsafe(ch: str) -> bool:
    return ch in _UNSAFE_CHARS or unicodedata.category(ch) in ("Cc", "Cs")


def _folded(name: str) -> str:
    """The name as services.paths judges it (%-decoded twice, NFKC)."""
    return unicodedata.normalize("NFKC", unquote(unquote(name)))
