"""Real videos for the streaming tests, made by ffmpeg (which the tests require: they fail, not skip, without it),
and checks of HLS renditions with ffprobe."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

ENCODERS = {"hevc": ["-c:v", "libx265", "-x265-params", "log-level=error", "-tag:v", "hvc1"],
            "h264": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
            "mpeg4": ["-c:v", "mpeg4"], "vp9": ["-c:v", "libvpx-vp9", "-deadline", "realtime"]}
AUDIO = {"aac": ["-c:a", "aac"], "opus": ["-c:a", "libopus"], "mp2": ["-c:a", "mp2"]}


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed: the video tests need it (apt-get install ffmpeg)"
    return found


@functools.cache
def hevc_codec() -> str:
    """HEVC when this ffmpeg can encode it, else MPEG-4 Part 2: both need a rendition."""
    encoders = subprocess.run([tool("ffmpeg"), "-hide_banner", "-encoders"], capture_output=True, text=True,
                              check=True, timeout=30).stdout
    return "hevc" if " libx265 " in encoders else "mpeg4"


def make(path: Path, codec: str = "hevc", seconds: float = 2, size: tuple[int, int] = (320, 240),
         audio: str | None = "aac", rotate: int | None = None, fmt: str | None = None) -> Path:
    """A test pattern (with a tone when `audio`) at `path`, `codec` as in ENCODERS. Encoded once per test process
    for each set of arguments, then copied (a new file, with its own mtime; the same bytes): the encoding was a
    second of CPU per video test."""
    key = (codec, seconds, size, audio, rotate, fmt, path.suffix.lower())
    made = _made.get(key)
    if made is None or not made.exists():
        made = _cache_dir() / f"{len(_made)}{path.suffix}"
        _encode(made, codec, seconds, size, audio, rotate, fmt)
        _made[key] = made
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(made, path)
    return path


_made: dict[tuple, Path] = {}


@functools.cache
def _cache_dir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="photonix-test-videos-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _encode(path: Path, codec: str, seconds: float, size: tuple[int, int], audio: str | None, rotate: int | None,
            fmt: str | None) -> None:
    command = [tool("ffmpeg"), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
               f"testsrc=duration={seconds}:size={size[0]}x{size[1]}:rate=15"]
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", *AUDIO[audio]]
    command += ENCODERS[codec]
    command += ["-f", fmt] if fmt else []
    target = path if rotate is None else path.with_name(f"unrotated-{path.name}")
    subprocess.run([*command, str(target)], check=True, timeout=120)
    if rotate is not None:  # a phone's rotation flag: this ffmpeg writes it only when copying the stream
        subprocess.run([tool("ffmpeg"), "-nostdin", "-v", "error", "-y", "-i", str(target), "-c", "copy",
                        "-metadata:s:v:0", f"rotate={rotate}", str(path)], check=True, timeout=120)
        target.unlink()


def probe(path: Path) -> dict:
    """ffprobe's JSON for a file (a segment, a playlist) as a dict."""
    done = subprocess.run([tool("ffprobe"), "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                           str(path)], capture_output=True, check=True, timeout=60)
    return json.loads(done.stdout)


def decodes(path: Path) -> bool:
    """Whether every frame of a file decodes without an error."""
    done = subprocess.run([tool("ffmpeg"), "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, timeout=120, check=False)
    return done.returncode == 0 and not done.stderr.strip()


def playlist_uris(text: str) -> list[str]:
    """The addresses a playlist lists (its lines not starting with #), after checking it is one."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines and lines[0] == "#EXTM3U", text[:200]
    return [line for line in lines if not line.startswith("#")]
