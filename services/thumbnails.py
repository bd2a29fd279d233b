"""The thumbnail engine: WebP thumbnails of photos and video frames, cached on disk, each made once.

Owns the cache layout, failure markers and single flight (in-process and, through flock, across workers).
Never deletes or modifies a source file; Pillow work runs only on the services.cpu pool, each decode once the
services.decode_budget admits it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, TypeVar

from PIL import Image, ImageOps, UnidentifiedImageError

from services import cpu, decode_budget, images
from services.atomic_files import write_atomic
from services.logtext import escape

log = logging.getLogger(__name__)
T = TypeVar("T")
Box = tuple[int, int]  # the largest (width, height) made

FFMPEG_TIMEOUT_S = 30
VIDEO_SEEK_S = 1
MAX_FRAME_BYTES = 32 * 1024 * 1024
REDUCING_GAP = 2.0
# JPEG shrink-on-load to the smallest DCT scale still at least the thumbnail's size, as libvips does:
# 12 MP → 500 px decodes at 1/8 (64 ms median here, 84 ms at twice the size).
DRAFT_GAP = 1.0
QUALITY_TIERS = ((4_000_000, 80), (16_000_000, 70))  # (max source pixels, WebP quality); larger → 65
QUALITY_LARGEST = 65
# libwebp effort: 2 encodes a 500 px thumbnail ~3x faster than the default 4 (11 vs 30 ms here) at about the
# same size; a thumbnail is made once and shown small, so the slower search buys nothing visible.
WEBP_METHOD = 2
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")  # JPEG also opens MPO; nothing else (no EPS)
HEIC_MISSING = "HEIC support not installed"
VIDEO_DEMUXERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,asf"  # asf: .wmv
ORIENTATION_TAG = 0x0112
ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height
ROTATIONS = range(2, 9)  # EXIF orientations that exif_transpose applies as a full-size copy
# What a thumbnail holds of the decode budget before its header is read (at most an eighth of the budget): a
# camera JPEG drafted for a thumbnail needs a few MiB, so nearly every one is made in a single pool trip.
OPTIMISTIC_HOLD_BYTES = 32 * decode_budget.MIB

_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240" viewBox="0 0 320 240">'
        '<rect width="320" height="240" fill="#2b2f36"/>{}</svg>')
_PLACEHOLDERS = {
    "processing": '<circle cx="160" cy="120" r="28" fill="none" stroke="#8a93a3" stroke-width="6" '
                  'stroke-dasharray="120 60"/>',
    "failed": '<path d="M136 96l48 48M184 96l-48 48" stroke="#c2645b" stroke-width="8" stroke-linecap="round"/>',
    "video": '<path d="M142 92v56l48-28z" fill="#8a93a3"/>',
}


@dataclass(frozen=True)
class Source:
    path: Path  # absolute, already checked to be inside the gallery
    rel: str  # gallery-relative, "/"-separated: part of the cache key
    mtime: float  # seconds
    size: int  # bytes
    kind: str  # "photo" or "video"


@dataclass(frozen=True)
class Result:
    status: str  # "ok" | "processing" | "failed" | "placeholder"
    path: Path | None  # the cached WebP when "ok"
    etag: str  # the cache key: stable per (rel, mtime, size, box)
    reason: str | None = None  # why, when "failed": short, for people


class _Refused(Exception):
    """A source that cannot be thumbnailed; the message is the reason kept in the marker."""


class _NeedsMore(Exception):
    """Raised from the header, before decoding: the decode needs more of the budget than was held for it."""

    def __init__(self, need: int):
        super().__init__(f"{need} bytes")
        self.need = need


class _Files(NamedTuple):
    webp: Path
    marker: Path
    lock: Path


class _Job:
    def __init__(self, batch: bool) -> None:
        self.done = threading.Event()
        self.result: Result | None = None
        self.notify = False  # a caller was told "processing": call on_ready when it is made
        self.priority = cpu.Priority(batch)  # promoted when a request joins the batch's job


def placeholder_svg(kind: str) -> bytes:
    """A small self-contained SVG for "processing", "failed" or "video"."""
    return _SVG.format(_PLACEHOLDERS[kind]).encode()


class Thumbnailer:
    """Makes and caches images that fit within `width` x `height`, never enlarged: thumbnails are `width` wide (the
    height defaults to three times that), previews pass height=width to fit their long edge. `ffmpeg` is looked up
    on PATH unless None."""

    def __init__(self, cache_dir: Path, width: int, max_pixels: int, *, height: int | None = None,
                 wait_s: float = 10.0, max_queued: int | None = None,
                 on_ready: Callable[[Source], None] | None = None, ffmpeg: str | None = "ffmpeg",
                 budget: decode_budget.Budget | None = None) -> None:
        self._cache_dir = Path(cache_dir)
        self._box = (width, 3 * width if height is None else height)
        # A thumbnail's key names its width alone, as it always has: the thumbnails made so far stay valid.
        self._size_key = str(width) if height is None else f"{width}x{height}"
        self._max_pixels = max_pixels
        self._wait_s = wait_s
        self._max_queued = max_queued
        self._on_ready = on_ready
        self._ffmpeg = shutil.which(ffmpeg) if ffmpeg else None
        self._budget = budget or decode_budget.shared()
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}

    def get(self, source: Source) -> Result:
        """Answer from the cache, or make it waiting at most wait_s (not at all when requests saturate the pool:
        the batch's work does not count, this goes before it)."""
        limit = 2 * cpu.size() if self._max_queued is None else self._max_queued
        return self._answer(source, 0.0 if cpu.busy() >= limit else self._wait_s)

    def ensure(self, source: Source, *, batch: bool = False) -> Result:
        """Make it now, waiting as long as it takes (batch and CLI use); never "processing". `batch`: as batch
        work, which uses a CPU thread only when no request waits for one (services.cpu.Priority)."""
        return self._answer(source, None, batch)

    def status(self, source: Source) -> str:
        """ "ok", "failed" or "missing", from file checks only."""
        files = self._files(self._key(source))
        if files.webp.exists():
            return "ok"
        return "failed" if files.marker.exists() else "missing"

    def cached(self, source: Source) -> Result | None:
        """The made ("ok") or failed answer for `source` from file checks only; None when neither is on disk."""
        key = self._key(source)
        return _finished(key, self._files(key))

    def relative(self, path: Path) -> str:
        """A cached file's path below the folder that holds this cache (e.g. "thumbs/ab/cd/<key>.webp")."""
        return path.relative_to(self._cache_dir.parent).as_posix()

    def in_flight(self) -> int:
        """Thumbnails this process is making right now (lock-free, so safe on a pool thread)."""
        return len(self._jobs)

    def carry(self, old_rel: str, new_rel: str, mtime: float, size: int) -> bool:
        """Keep what was made (or failed) for a file that was renamed or moved, under its new path's key: a rename
        within the cache, nothing decoded again. Blocking file work (CPU pool); True when anything was there."""
        old, new = self._files(self._key_of(old_rel, mtime, size)), self._files(self._key_of(new_rel, mtime, size))
        for made, target in ((old.webp, new.webp), (old.marker, new.marker)):  # made, or else failed
            try:
                os.rename(made, target)
                return True
            except FileNotFoundError:
                if not made.exists():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)  # the new key's folder is not there yet
                os.rename(made, target)
                return True
        return False

    def _key(self, source: Source) -> str:
        return self._key_of(source.rel, source.mtime, source.size)

    def _key_of(self, rel: str, mtime: float, size: int) -> str:
        text = f"{rel}\0{round(mtime * 1_000_000_000)}\0{size}\0{self._size_key}"
        return hashlib.sha256(text.encode()).hexdigest()

    def _files(self, key: str) -> _Files:
        folder = self._cache_dir / key[:2] / key[2:4]
        return _Files(folder / f"{key}.webp", folder / f"{key}.failed", folder / f"{key}.lock")

    def _known(self, source: Source, key: str) -> Result | None:
        """The answer that needs no generation: cached, failed before, or impossible here."""
        done = _finished(key, self._files(key))
        if done is not None:
            return done
        if source.kind == "video" and self._ffmpeg is None:
            return Result("placeholder", None, key)
        if source.path.suffix.lower() in images.HEIC_SUFFIXES and not images.heic_supported():
            # No marker: installing pillow-heif must make these work without touching the files.
            return Result("failed", None, key, HEIC_MISSING)
        return None

    def _answer(self, source: Source, wait_s: float | None, batch: bool = False) -> Result:
        key = self._key(source)
        known = self._known(source, key)
        if known is not None:
            return known
        job = self._join(source, key, batch)
        job.done.wait(wait_s)
        with self._lock:  # _run sets the result under this lock: either we see it or it sees notify
            if job.result is not None:
                return job.result
            job.notify = True
        return Result("processing", None, key)

    def _join(self, source: Source, key: str, batch: bool) -> _Job:
        with self._lock:
            job = self._jobs.get(key)
            if job is None:
                job = self._jobs[key] = _Job(batch)
                threading.Thread(target=self._run, args=(source, key, job), name=f"thumbnail-{key[:8]}",
                                 daemon=True).start()
        if not batch:
            job.priority.promote()  # someone waits for it now: it goes before the batch's other work
        return job

    def _run(self, source: Source, key: str, job: _Job) -> None:
        result = Result("failed", None, key, "thumbnail generation was interrupted")
        try:
            result = self._generate(source, key, job.priority)
        except Exception as error:
            log.exception("thumbnail of %s could not be made", escape(source.rel))
            result = Result("failed", None, key, f"thumbnail could not be made: {type(error).__name__}")
        finally:
            with self._lock:
                job.result = result
                del self._jobs[key]
                notify = job.notify
            job.done.set()
        if notify and result.status == "ok" and self._on_ready is not None:
            try:
                self._on_ready(source)
            except Exception:
                log.exception("on_ready failed for %s", escape(source.rel))

    def _generate(self, source: Source, key: str, priority: cpu.Priority) -> Result:
        files = self._files(key)
        if source.kind == "video":
            done, reason = self._make_video(source, key, files, priority)
        else:
            # One trip to the pool for the lock, the check and the image: each trip is a hand-off through the
            # hub, and while it is under way that pool thread makes nothing.
            formats = PHOTO_FORMATS + (("HEIF",) if images.heic_supported() else ())
            done, reason = self._decode(priority, _make_locked, key, files, source.path, self._box,
                                        self._max_pixels, self._budget.total, formats)
        if done is not None:
            return done
        if reason is None:
            return Result("ok", files.webp, key)
        log.info("no thumbnail for %s: %s", escape(source.rel), reason)
        return Result("failed", None, key, reason)

    def _make_video(self, source: Source, key: str, files: _Files,
                    priority: cpu.Priority) -> tuple[Result | None, str | None]:
        fd = cpu.run_cpu_at(priority, _acquire, files.lock)  # another worker may be making this one: wait for it
        try:
            done = _finished(key, files)
            if done is not None:
                return done, None
            try:
                # On this greenlet, not the pool: gevent's subprocess cannot run in a native thread.
                frame = _video_frame(self._ffmpeg, source.path, self._box)
            except _Refused as error:
                reason: str | None = str(error)
            else:
                reason = self._decode(priority, _make_file, frame, files.webp, self._box, self._max_pixels,
                                      self._budget.total, ("PNG",))
            if reason is not None:
                cpu.run_cpu_at(priority, write_atomic, files.marker, reason.encode())
            return None, reason
        finally:
            _release(files.lock, fd)
    def _decode(self, priority: cpu.Priority, make: Callable[..., T], *args: Any) -> T:
        """make(*args, allowed_bytes=…) on the pool at `priority`, holding that much of the decode budget. Waits
        happen here, in this greenlet, never on a pool thread. Most decodes fit in a small first hold and take one
        trip; one that needs more learns it from the header (_NeedsMore, nothing decoded) and goes again holding
        exactly what it needs. An image over the whole budget is refused by _render from that header."""
        guess = min(OPTIMISTIC_HOLD_BYTES, self._budget.total // 8)
        with self._budget.hold(guess):
            outcome = cpu.run_cpu_at(priority, _within, make, args, guess)
        if not isinstance(outcome, _NeedsMore):
            return outcome
        with self._budget.hold(outcome.need):
            return cpu.run_cpu_at(priority, make, *args, allowed_bytes=outcome.need)


def _within(make: Callable[..., T], args: tuple, allowed_bytes: int) -> T | _NeedsMore:
    """Pool thread: make(*args) within `allowed_bytes`, or the _NeedsMore its header raised (returned, not
    raised: gevent's pool prints every exception that leaves a task)."""
    try:
        return make(*args, allowed_bytes=allowed_bytes)
    except _NeedsMore as more:
        return more


def _make_locked(key: str, files: _Files, source: Path, box: Box, max_pixels: int, max_bytes: int,
                 formats: tuple[str, ...], *, allowed_bytes: int) -> tuple[Result | None, str | None]:
    """Pool thread: under the cross-process lock, (what another process made meanwhile, None) or (None, why
    no thumbnail can be made, None when it was)."""
    fd = _acquire(files.lock)  # another worker may be making this one: wait for it
    try:
        done = _finished(key, files)
        if done is not None:
            return done, None
        reason = _make_file(source, files.webp, box, max_pixels, max_bytes, formats, allowed_bytes=allowed_bytes)
        if reason is not None:
            write_atomic(files.marker, reason.encode())
        return None, reason
    finally:
        _release(files.lock, fd)


def _finished(key: str, files: _Files) -> Result | None:
    if files.webp.exists():
        return Result("ok", files.webp, key)
    try:
        reason = files.marker.read_text(errors="replace")
    except FileNotFoundError:
        return None
    return Result("failed", None, key, reason)


def _make_file(source: Path | bytes, target: Path, box: Box, max_pixels: int, max_bytes: int,
               formats: tuple[str, ...], *, allowed_bytes: int) -> str | None:
    """Pool thread: decode, shrink, encode and store one thumbnail; returns why it cannot, or None."""
    # An unreadable source (permissions, gone) raises here and leaves no marker: it is cheap to retry.
    with _opened(source) as fp:
        try:
            image, pixels, icc = _render(fp, box, max_pixels, max_bytes, formats, allowed_bytes)
            data = _encode(image, _quality(pixels), icc)
        except (MemoryError, _NeedsMore):
            raise
        except Exception as error:  # Pillow raises many kinds for broken files; each means "this file"
            return _reason(error)
    write_atomic(target, data)
    return None


def _render(fp, box: Box, max_pixels: int, max_bytes: int, formats: tuple[str, ...],
            allowed_bytes: int) -> tuple[Image.Image, int, bytes | None]:
    """A small upright RGB(A) copy, the source pixel count and its ICC profile; refuses before decoding, and
    raises _NeedsMore before decoding when its peak is over `allowed_bytes` (what the caller holds)."""
    Image.init()  # registers every plugin once, so that `formats` can name WEBP and TIFF
    with images.open_header(fp, formats) as image:
        pixels = image.width * image.height
        if pixels > max_pixels:
            raise _Refused(f"image too large: {pixels} pixels")
        _draft(image, box)
        need = _render_bytes(image)
        if need > max_bytes:
            raise _Refused(f"image too large to decode: {decode_budget.OverBudget(need, max_bytes)}")
        if need > allowed_bytes:
            raise _NeedsMore(need)
        icc = image.info.get("icc_profile") if image.mode in ("RGB", "RGBA", "P", "PA") else None
        ImageOps.exif_transpose(image, in_place=True)  # also loads (the first frame of an animation)
        mode = _render_mode(image)
        small = image.convert(mode) if image.mode != mode else image  # palettes resize badly: convert first
        small.thumbnail(box, reducing_gap=REDUCING_GAP)
        return small.copy(), pixels, icc  # a copy outlives closing the file


def _draft(image: Image.Image, box: Box) -> None:
    if image.format in ("JPEG", "MPO"):
        drafted = _draft_box(image.size, image.getexif().get(ORIENTATION_TAG, 1), box)
        if drafted is not None:
            image.draft("RGB", drafted)  # before exif_transpose, which would decode at full size


def _render_mode(image: Image.Image) -> str:
    return "RGBA" if image.has_transparency_data else "RGB"


def _render_bytes(image: Image.Image) -> int:
    """_render's peak for an opened (and drafted) image: the decoded pixels, plus either an orientation's
    transposed copy or the full-size copies of a conversion to RGB(A) and of Pillow's premultiplied alpha
    (RGBA resizes through an "RGBa" copy); never less than one decode."""
    decoded = decode_budget.estimate(image)
    full_size = image.width * image.height * 4  # RGB, RGBA and RGBa: 4 bytes per pixel
    mode = _render_mode(image)
    converted = full_size if image.mode != mode else 0
    premultiplied = full_size if mode == "RGBA" else 0
    return decoded + max(decoded if _orientation(image) in ROTATIONS else 0, converted + premultiplied)


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation known from the header (1 when unknown) without decoding: a PNG's getexif() would
    load the pixels to look for an eXIf chunk after them."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    try:
        return image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block: exif_transpose ignores it too
        return 1


def _opened(source: Path | bytes) -> BinaryIO:
    return open(source, "rb") if isinstance(source, Path) else io.BytesIO(source)  # the caller closes it


def _draft_box(stored: tuple[int, int], orientation: int, box: Box) -> tuple[int, int] | None:
    """The JPEG draft size, in the stored orientation: DRAFT_GAP times the final image."""
    shown_w, shown_h = stored[::-1] if orientation in ROTATED else stored
    scale = min(box[0] / shown_w, box[1] / shown_h) * DRAFT_GAP
    if scale >= 1:
        return None
    box = (max(1, int(shown_w * scale)), max(1, int(shown_h * scale)))
    return box[::-1] if orientation in ROTATED else box


def _quality(pixels: int) -> int:
    return next((quality for limit, quality in QUALITY_TIERS if pixels <= limit), QUALITY_LARGEST)


def _encode(image: Image.Image, quality: int, icc: bytes | None) -> bytes:
    """WebP bytes without EXIF or XMP (so no GPS); the ICC profile stays."""
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=quality, method=WEBP_METHOD, icc_profile=icc or None)
    return buffer.getvalue()


def _reason(error: Exception) -> str:
    if isinstance(error, _Refused):
        return str(error)
    if isinstance(error, Image.DecompressionBombError | Image.DecompressionBombWarning):
        found = re.search(r"\((\d+) pixels\)", str(error))
        return f"image too large: {found[1]} pixels" if found else "image too large"
    if isinstance(error, UnidentifiedImageError):
        return "not an image (or not a supported format)"  # Pillow's message names the absolute path
    if "truncated" in str(error):
        return "image is truncated"
    return f"image could not be decoded: {type(error).__name__}: {str(error)[:160]}"


def _video_frame(ffmpeg: str, path: Path, box: Box) -> bytes:
    """One frame as PNG (at VIDEO_SEEK_S, else the first for short clips), shrunk by ffmpeg to at most twice `box`
    (Pillow makes the final size); raises _Refused."""
    scale = f"scale='min(iw,{2 * box[0]})':'min(ih,{2 * box[1]})':force_original_aspect_ratio=decrease"
    problem = "no frame"
    for seek in (["-ss", str(VIDEO_SEEK_S)], []):
        # Only local files and real video containers: a playlist posing as .mp4 cannot fetch URLs.
        command = [ffmpeg, "-nostdin", "-v", "error", "-protocol_whitelist", "file", "-format_whitelist",
                   VIDEO_DEMUXERS, *seek, "-i", str(path), "-frames:v", "1", "-vf", scale, "-f", "image2pipe",
                   "-c:v", "png", "pipe:1"]
        try:
            done = subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False)  # noqa: S603
        except subprocess.TimeoutExpired:
            raise _Refused(f"ffmpeg took more than {FFMPEG_TIMEOUT_S} s") from None
        if done.returncode == 0 and done.stdout:
            if len(done.stdout) > MAX_FRAME_BYTES:  # the scale filter keeps real frames far below this
                raise _Refused("video frame too large")
            return done.stdout
        lines = done.stderr.decode(errors="replace").replace(str(path), path.name).strip().splitlines()
        problem = lines[-1][:160] if lines else problem
    raise _Refused(f"ffmpeg could not read a frame: {problem}")




def _acquire(lock_path: Path) -> int:
    """Pool thread: block until this process holds the flock on lock_path; returns its descriptor."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        with contextlib.suppress(FileNotFoundError):
            if os.stat(lock_path).st_ino == os.fstat(fd).st_ino:
                return fd
        os.close(fd)  # the holder removed that lock file as it finished: lock the current one


def _release(lock_path: Path, fd: int) -> None:
    # Unlinked while still held, so no lock files pile up; _acquire's inode check makes this safe.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(lock_path)
    os.close(fd)
