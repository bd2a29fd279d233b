"""Which videos a browser plays as their original file ("direct"); the others get an HLS rendition
(services/video/renditions.py). Decided from what the index read with ffprobe; no Flask."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

MIB = 1024 * 1024
# Containers and codecs every current browser plays as they are: H.264 (with AAC or MP3) in MP4, VP8/VP9 (with
# Opus or Vorbis) in WebM. HEVC, MPEG-4 Part 2, a QuickTime .mov, or anything unknown but large gets HLS.
DIRECT = {
    ".mp4": ({"h264"}, {"aac", "mp3"}),
    ".m4v": ({"h264"}, {"aac", "mp3"}),
    ".webm": ({"vp8", "vp9"}, {"opus", "vorbis"}),
}


@dataclass(frozen=True)
class VideoFacts:
    """What the index knows of one video."""

    path: str  # gallery-relative
    size: int  # bytes
    codec: str | None  # the video stream's codec (None: not read, e.g. without ffprobe)
    audio_codec: str | None  # None: no sound, or not read


def plays_directly(facts: VideoFacts, direct_max_bytes: int) -> bool:
    """Whether the original is sent as it is. A video whose codec is unknown (ffprobe not installed or the file
    unreadable by it) is judged by its container and size alone, as before renditions existed."""
    if facts.size > direct_max_bytes:
        return False
    allowed = DIRECT.get(PurePosixPath(facts.path).suffix.lower())
    if allowed is None:
        return False
    if facts.codec is None:
        return True
    codecs, audio = allowed
    return facts.codec in codecs and (facts.audio_codec is None or facts.audio_codec in audio)

