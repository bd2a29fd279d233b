"""A video's details (duration, codec, date taken, displayed size) read by ffprobe, for the index.

Never raises and never trusts the file: a fixed argv, local files and real video containers only, bounded
time and output. Not a CPU-pool task: it runs in the calling greenlet (gevent's subprocess is cooperative).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import selectors
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Only local files and real video containers, as for the thumbnailer's ffmpeg: a playlist posing as .mp4
# cannot make ffprobe fetch URLs or open other files.
from services.thumbnails import VIDEO_DEMUXERS

PROBE_TIMEOUT_S = 15.0
MAX_PROBE_BYTES = 1024 * 1024  # real ffprobe output is a few kB; a hostile file's tags must not fill memory
MAX_DURATION_S = 10 * 24 * 3600
READ_CHUNK_BYTES = 64 * 1024
UNSET_YEARS = ("1970-01-01", "1904-01-01")  # "never set" and the QuickTime epoch: no real date
APPLE_CREATIONDATE = "com.apple.quicktime.creationdate"


@dataclass(frozen=True)
class VideoMeta:
    duration: float | None = None  # seconds, rounded to 3 decimals
    codec: str | None = None  # the first video stream's codec_name, e.g. "h264", "vp9"
    audio_codec: str | None = None  # the first audio stream's codec_name, e.g. "aac"; None without sound
    taken_at: str | None = None  # ISO 8601 with offset: "2024-07-01T12:00:00+00:00"
    width: int | None = None  # as displayed: a rotation of ±90 swaps width and height
    height: int | None = None


def find_ffprobe() -> str | None:
    """The ffprobe on PATH, or None when it is not installed."""
    return shutil.which("ffprobe")


def probe_video(ffprobe: str, path: Path, timeout_s: float = PROBE_TIMEOUT_S) -> VideoMeta:
    """What ffprobe reads from the video at `path`. Never raises: a missing, failing or slow ffprobe, or
    output that is not the JSON expected, gives VideoMeta() (all None); a field of the wrong type gives None
    for that field only. ffprobe is killed after `timeout_s` or once it printed MAX_PROBE_BYTES."""
    command = [ffprobe, "-v", "error", "-protocol_whitelist", "file", "-format_whitelist", VIDEO_DEMUXERS,
               "-print_format", "json", "-show_format", "-show_streams",
               "-i", "file:" + os.path.abspath(path)]  # file: URL: a name like "-x" or "a:b" stays a file name
    output = _run_capped(command, timeout_s, MAX_PROBE_BYTES)
    if output is None:
        return VideoMeta()
    try:
        probed = json.loads(output)
    except (ValueError, RecursionError):
        return VideoMeta()
    return _meta(probed) if isinstance(probed, dict) else VideoMeta()


def _run_capped(command: list[str], timeout_s: float, max_bytes: int) -> bytes | None:
    """The command's stdout if it exits 0 within timeout_s having printed at most max_bytes, else None.
    subprocess.run cannot cap what it collects, hence Popen read through a selector (cooperative under gevent)."""
    deadline = time.monotonic() + timeout_s
    try:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # noqa: S603
                                stderr=subprocess.DEVNULL, start_new_session=True)
    except (OSError, ValueError):
        return None
    output = None
    try:
        output = _read_until(proc, deadline, max_bytes)
        if output is not None:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except (subprocess.TimeoutExpired, OSError, ValueError):
        output = None
    finally:
        if output is None or proc.poll() is None:
            # Its own session: what it started goes too, even when it exited leaving a child on our pipe.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    return output if proc.returncode == 0 else None


def _read_until(proc: subprocess.Popen, deadline: float, max_bytes: int) -> bytes | None:
    """All of proc's stdout up to EOF, or None past the deadline or max_bytes."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    chunks: list[bytes] = []
    size = 0
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return None
            try:
                chunk = os.read(fd, READ_CHUNK_BYTES)
            except BlockingIOError:  # gevent makes the pipe non-blocking; a wakeup may find it empty again
                continue
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > max_bytes:
                return None
            chunks.append(chunk)


def _meta(probed: dict) -> VideoMeta:
    streams = probed.get("streams")
    streams = [s for s in streams if isinstance(s, dict)] if isinstance(streams, list) else []
    video = next((s for s in streams if s.get("codec_type") == "video"), {})
    fmt = probed.get("format") if isinstance(probed.get("format"), dict) else {}
    duration = _duration(fmt.get("duration"))
    if duration is None:
        duration = _duration(video.get("duration"))
    audio = next((s for s in streams if s.get("codec_type") == "audio"), {})
    width, height = _displayed_size(video)
    return VideoMeta(duration=duration, codec=_codec(video), audio_codec=_codec(audio),
                     taken_at=_taken_at(_tags(fmt), _tags(video)), width=width, height=height)


def _codec(stream: dict) -> str | None:
    codec = stream.get("codec_name")
    return codec[:32] if isinstance(codec, str) and codec else None


def _duration(value: Any) -> float | None:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return round(seconds, 3) if math.isfinite(seconds) and 0 <= seconds < MAX_DURATION_S else None


def _displayed_size(video: dict) -> tuple[int | None, int | None]:
    width, height = (_dimension(video.get("width")), _dimension(video.get("height")))
    if width is None or height is None:
        return None, None
    return (height, width) if _rotation(video) % 180 == 90 else (width, height)


def _dimension(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1_000_000 else None


def _rotation(video: dict) -> int:
    """Degrees the player turns the picture: the display matrix side data, else the older "rotate" tag."""
    side_data = video.get("side_data_list")
    for item in side_data if isinstance(side_data, list) else []:
        if isinstance(item, dict) and "rotation" in item:
            return _degrees(item["rotation"])
    return _degrees(_tags(video).get("rotate"))


def _degrees(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return 0
    try:
        degrees = float(value)
    except ValueError:
        return 0
    return int(round(degrees)) % 360 if math.isfinite(degrees) else 0


def _tags(section: dict) -> dict:
    tags = section.get("tags")
    return tags if isinstance(tags, dict) else {}


def _taken_at(format_tags: dict, stream_tags: dict) -> str | None:
    """Apple's local-time tag first (it keeps the offset), then creation_time (UTC) of the file, then stream."""
    for value in (format_tags.get(APPLE_CREATIONDATE), format_tags.get("creation_time"),
                  stream_tags.get("creation_time")):
        taken = _timestamp(value)
        if taken is not None:
            return taken
    return None


def _timestamp(value: Any) -> str | None:
    """ISO 8601 with offset ("Z" → "+00:00", "+0200" → "+02:00"), seconds precision; None when unset/invalid."""
    if not isinstance(value, str) or not 10 <= len(value) <= 64 or value.startswith(UNSET_YEARS):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:  # creation_time without a zone is UTC by the container specs
        moment = moment.replace(tzinfo=UTC)
    return moment.replace(microsecond=0).isoformat()
