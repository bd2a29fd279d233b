"""services/video/playable.py and the facts it decides from: which videos play as they are; the audio codec that
videometa reads from real clips."""

from __future__ import annotations

import pytest

from services.gallery.videometa import find_ffprobe, probe_video
from services.video.playable import MIB, VideoFacts, plays_directly
from services.video.transcoder import variants
from tests.support import videos

LIMIT = 200 * MIB


@pytest.mark.parametrize(("path", "codec", "audio", "size", "direct"), [
    ("a/clip.mp4", "h264", "aac", 5 * MIB, True),
    ("a/clip.MP4", "h264", None, 5 * MIB, True),  # no sound
    ("a/clip.m4v", "h264", "mp3", 5 * MIB, True),
    ("a/clip.webm", "vp9", "opus", 5 * MIB, True),
    ("a/clip.webm", "vp8", "vorbis", 5 * MIB, True),
    ("a/clip.mp4", "hevc", "aac", 5 * MIB, False),  # HEVC: Chrome cannot
    ("a/clip.mp4", "mpeg4", "aac", 5 * MIB, False),  # MPEG-4 Part 2
    ("a/clip.mp4", "h264", "ac3", 5 * MIB, False),  # sound most browsers cannot play
    ("a/clip.mov", "h264", "aac", 5 * MIB, False),  # QuickTime container
    ("a/clip.mp4", "h264", "aac", LIMIT + 1, False),  # too large to send as it is
    ("a/clip.mp4", "h264", "aac", LIMIT, True),
    ("a/clip.mp4", None, None, 5 * MIB, True),  # not probed (no ffprobe): as before renditions existed
    ("a/clip.mov", None, None, 5 * MIB, False),
    ("a/clip.avi", "mpeg4", "mp3", 5 * MIB, False),
    ("a/clip.mkv", "h264", "aac", 5 * MIB, False),  # Matroska: not every browser
    ("a/clip.wmv", "wmv2", "wmav2", 5 * MIB, False),
    ("a/clip.3gp", "h263", "amr_nb", 5 * MIB, False),
])
def test_which_videos_play_as_they_are(path, codec, audio, size, direct):
    assert plays_directly(VideoFacts(path, size, codec, audio), LIMIT) is direct


def test_renditions_never_exceed_the_source():
    assert [v.name for v in variants(1920, 1080)] == ["480p", "720p"]
    assert [v.name for v in variants(1080, 1920)] == ["480p", "720p"]  # portrait: by its short side
    assert [v.name for v in variants(854, 480)] == ["480p"]
    assert [v.name for v in variants(320, 241)] == ["240p"]  # smaller than 480: its own (even) size only
    assert [v.name for v in variants(None, None)] == ["480p"]


def test_the_index_reads_the_audio_codec(tmp_path):
    ffprobe = find_ffprobe()
    assert ffprobe, "ffprobe is not installed"
    with_sound = probe_video(ffprobe, videos.make(tmp_path / "a.mp4", "h264", seconds=1, audio="aac"))
    silent = probe_video(ffprobe, videos.make(tmp_path / "b.mp4", "hevc", seconds=1, audio=None))
    assert (with_sound.codec, with_sound.audio_codec) == ("h264", "aac")
    assert (silent.codec, silent.audio_codec) == ("hevc", None)
