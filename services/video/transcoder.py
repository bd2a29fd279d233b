"""Makes one video's HLS rendition with ffmpeg: H.264/AAC at 480p and 720p (never above the source), 4 s segments,
a master playlist. Built in a hidden folder and renamed into place when complete; ffmpeg is niced, bounded in time,
reads only the local file (protocol and demuxer whitelists) and writes only names made here. No Flask.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services import cpu
from services.atomic_files import write_atomic
from services.gallery import videometa
from services.logtext import escape
from services.thumbnails import VIDEO_DEMUXERS
from services.video.renditions import MASTER, Renditions, VideoSource

log = logging.getLogger("photonix.video")
HEIGHTS = ((480, 1400), (720, 2800))  # (short side in pixels, video kbit/s)
SMALL_KBPS = 800  # a source smaller than the first height keeps its own size
AUDIO_KBPS = 128
SEGMENT_S = 4
NICENESS = 10
MIN_TIMEOUT_S = 600.0
TIMEOUT_PER_VIDEO_S = 20.0  # ffmpeg may take this long per second of video (veryfast runs far quicker)
UNKNOWN_DURATION_TIMEOUT_S = 6 * 3600.0
PROGRESS_READ_BYTES = 4096
LOG_NAME = "ffmpeg.log"
Progress = Callable[[float], None]  # fraction done, 0..1
PR_SET_PDEATHSIG = 1
# Looked up here: a forked child must not load libraries. Linux only (elsewhere ffmpeg may outlive a killed server).
_PRCTL = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)


@dataclass(frozen=True)
class Outcome:
    state: str  # "ready" | "failed" | "running" (someone else builds it) | "stopped" (keep_going said stop)
    key: str
    reason: str | None = None


@dataclass(frozen=True)
class Variant:
    name: str  # "480p"
    short_side: int
    kbps: int


def find_tools() -> tuple[str, str] | None:
    """(ffmpeg, ffprobe) on PATH, or None when either is missing (renditions are then not made)."""
    ffmpeg, ffprobe = shutil.which("ffmpeg"), videometa.find_ffprobe()
    return (ffmpeg, ffprobe) if ffmpeg and ffprobe else None


def variants(width: int | None, height: int | None) -> list[Variant]:
    """The heights to make for a picture shown at width x height: the standard ones up to its short side, or its
    own size (even) when it is smaller than all of them; 480p when its size is unknown."""
    if not width or not height:
        return [Variant(f"{HEIGHTS[0][0]}p", HEIGHTS[0][0], HEIGHTS[0][1])]
    short = min(width, height)
    made = [Variant(f"{side}p", side, kbps) for side, kbps in HEIGHTS if side <= short]
    even = max(2, short - short % 2)
    return made or [Variant(f"{even}p", even, SMALL_KBPS)]


def command(ffmpeg: str, source: Path, out: Path, chosen: list[Variant], portrait: bool, audio: bool) -> list[str]:
    """ffmpeg's argv: one H.264 stream per variant (scaled on the short side, never above the source, even sizes),
    the first audio stream as AAC in each, HLS with segment names <variant>_<nnnnn>.ts and master.m3u8."""
    split = f"[0:v:0]split={len(chosen)}" + "".join(f"[s{i}]" for i in range(len(chosen))) if len(chosen) > 1 else ""
    scales = []
    for i, variant in enumerate(chosen):
        side = f"trunc(min({variant.short_side}\\,{'iw' if portrait else 'ih'})/2)*2"
        size = f"{side}:-2" if portrait else f"-2:{side}"
        scales.append(f"{f'[s{i}]' if split else '[0:v:0]'}scale={size},setsar=1,format=yuv420p[v{i}]")
    graph = ";".join(([split] if split else []) + scales)
    maps: list[str] = []
    rates: list[str] = []
    for i, variant in enumerate(chosen):
        maps += ["-map", f"[v{i}]"] + (["-map", "0:a:0"] if audio else [])
        rates += [f"-b:v:{i}", f"{variant.kbps}k", f"-maxrate:v:{i}", f"{variant.kbps * 3 // 2}k",
                  f"-bufsize:v:{i}", f"{variant.kbps * 2}k"]
    streams = " ".join(f"v:{i}" + (f",a:{i}" if audio else "") + f",name:{v.name}" for i, v in enumerate(chosen))
    return [ffmpeg, "-nostdin", "-v", "error", "-protocol_whitelist", "file", "-format_whitelist", VIDEO_DEMUXERS,
            "-i", "file:" + os.path.abspath(source), "-filter_complex", graph, *maps,
            "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", *rates,
            "-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_S})",
            *(["-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k", "-ac", "2"] if audio else []),
            "-max_muxing_queue_size", "1024", "-f", "hls", "-hls_time", str(SEGMENT_S),
            "-hls_playlist_type", "vod", "-hls_flags", "independent_segments", "-hls_segment_type", "mpegts",
            "-hls_segment_filename", str(out / "%v_%05d.ts"), "-master_pl_name", MASTER,
            "-var_stream_map", streams, "-progress", "pipe:1", "-nostats", str(out / "%v.m3u8")]


def build(renditions: Renditions, tools: tuple[str, str], source: VideoSource, progress: Progress = lambda f: None,
          keep_going: Callable[[], bool] = lambda: True) -> Outcome:
    """Make `source`'s rendition unless it exists, failed before or is being made elsewhere. Never raises for a bad
    video: ffmpeg's failure is remembered in a marker (a replaced file gets a new key, so a new try)."""
    key = renditions.key(source.rel, source.mtime, source.size)
    with renditions.locked(key) as held:
        if not held:
            return Outcome("running", key)
        state = renditions.state(key)
        if state in ("ready", "failed"):
            return Outcome(state, key, renditions.failure(key))
        partial = renditions.partial(key)
        _on_pool(shutil.rmtree, partial, ignore_errors=True)  # an interrupted build starts again from nothing
        partial.mkdir(parents=True)
        try:
            reason = _transcode(tools, source, partial, progress, keep_going)
            if reason is None:
                _on_pool(_publish, partial, renditions.folder(key))
                return Outcome("ready", key)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        _on_pool(shutil.rmtree, partial, ignore_errors=True)
        if not keep_going():
            return Outcome("stopped", key)
        log.info("no HLS rendition for %s: %s", escape(source.rel), reason)
        write_atomic(renditions.failed_marker(key), reason.encode())
        return Outcome("failed", key, reason)


def _transcode(tools: tuple[str, str], source: VideoSource, out: Path, progress: Progress,
               keep_going: Callable[[], bool]) -> str | None:
    """Runs ffmpeg into `out`; None when it made a complete rendition, else why not."""
    ffmpeg, ffprobe = tools
    meta = videometa.probe_video(ffprobe, source.path)
    if meta.codec is None:
        return "ffprobe found no video stream"
    chosen = variants(meta.width, meta.height)
    portrait = bool(meta.width and meta.height and meta.height > meta.width)
    argv = command(ffmpeg, source.path, out, chosen, portrait, meta.audio_codec is not None)
    timeout_s = max(MIN_TIMEOUT_S, meta.duration * TIMEOUT_PER_VIDEO_S) if meta.duration else \
        UNKNOWN_DURATION_TIMEOUT_S
    with open(out / LOG_NAME, "wb") as errors:
        reason = _run(argv, errors, time.monotonic() + timeout_s, meta.duration, progress, keep_going)
    if reason is None and not (out / MASTER).is_file():
        reason = "ffmpeg made no master playlist"
    if reason is not None:
        tail = (out / LOG_NAME).read_bytes()[-2000:].decode(errors="replace")
        lines = tail.replace(str(source.path), source.path.name).strip().splitlines()
        return f"{reason}: {lines[-1][:200]}" if lines else reason
    (out / LOG_NAME).unlink()
    return None


def _run(argv: list[str], errors, deadline: float, duration: float | None, progress: Progress,
         keep_going: Callable[[], bool]) -> str | None:
    """ffmpeg in its own session, niced, its progress read from stdout; killed with its session past the deadline or
    when keep_going() turns false. Killing this process closes the pipe, so ffmpeg ends too."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,  # noqa: S603
                            start_new_session=True, preexec_fn=_child_setup(os.getpid()))
    reason: str | None = None
    try:
        reason = _follow(proc, deadline, duration, progress, keep_going)
        if reason is None:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            if proc.returncode != 0:
                reason = f"ffmpeg exited with status {proc.returncode}"
    except subprocess.TimeoutExpired:
        reason = "ffmpeg took too long"
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
    return reason


def _child_setup(parent: int) -> Callable[[], None]:
    """Runs in the forked child before ffmpeg starts: lower its priority, and have the kernel kill it when this
    process dies (a kill -9 of the server leaves no ffmpeg writing on)."""

    def setup() -> None:
        os.nice(NICENESS)
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # died before prctl took effect
            os._exit(1)

    return setup


def _follow(proc: subprocess.Popen, deadline: float, duration: float | None, progress: Progress,
            keep_going: Callable[[], bool]) -> str | None:
    """Reads ffmpeg's -progress lines until it closes stdout; reports out_time as a fraction of `duration`."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    pending = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            if not keep_going():
                return "stopped"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "ffmpeg took too long"
            if not selector.select(min(remaining, 1.0)):
                continue
            try:
                chunk = os.read(fd, PROGRESS_READ_BYTES)
            except BlockingIOError:  # gevent makes the pipe non-blocking; a wakeup may find it empty again
                continue
            if not chunk:
                return None
            *lines, pending = (pending + chunk).split(b"\n")
            pending = pending[-PROGRESS_READ_BYTES:]
            for line in lines:
                if line.startswith(b"out_time_us=") and duration:
                    with contextlib.suppress(ValueError):
                        progress(min(1.0, max(0.0, int(line[12:]) / 1_000_000 / duration)))


def _on_pool(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """File work that may take long (fsync, removing many segments) on the CPU pool as batch work, never on the hub."""
    return cpu.run_cpu_at(cpu.Priority(batch=True), fn, *args, **kwargs)


def _publish(partial: Path, folder: Path) -> None:
    """Make the finished build visible in one rename, after its files reached the disk."""
    for entry in os.scandir(partial):
        with open(entry.path, "rb") as file:
            os.fsync(file.fileno())
    if folder.exists():  # never a complete rendition (the caller checked under the lock): a leftover
        shutil.rmtree(folder)
    os.rename(partial, folder)
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


