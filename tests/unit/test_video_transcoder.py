"""services/video/transcoder.py and renditions.py with the real ffmpeg: an HEVC clip becomes a complete HLS
rendition whose playlists parse and whose segments decode; a broken video is remembered as failed; a kill -9
mid-transcode leaves nothing visible, no ffmpeg running, and the next run makes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from services.video import transcoder
from services.video.renditions import MASTER, Renditions, VideoSource
from tests.support import videos
from tests.support.waiting import until

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


@pytest.fixture
def tools():
    found = transcoder.find_tools()
    assert found is not None, "ffmpeg and ffprobe are needed (apt-get install ffmpeg)"
    return found


def source_of(path: Path, rel: str) -> VideoSource:
    stat = path.stat()
    return VideoSource(path, rel, stat.st_mtime, stat.st_size)


def test_a_video_becomes_a_complete_hls_rendition(tmp_path, tools):
    clip = videos.make(tmp_path / "photos" / "clip.mp4", videos.hevc_codec(), seconds=3, size=(320, 240))
    before = (clip.read_bytes(), clip.stat().st_mtime)
    renditions = Renditions(tmp_path / "video", 200 * MIB)
    fractions: list[float] = []
    outcome = transcoder.build(renditions, tools, source_of(clip, "clip.mp4"), fractions.append)
    assert outcome.state == "ready" and renditions.state(outcome.key) == "ready"
    folder = renditions.folder(outcome.key)
    variant_lists = videos.playlist_uris((folder / MASTER).read_text())
    assert variant_lists == ["240p.m3u8"]  # never above the 240-line source
    segments = videos.playlist_uris((folder / "240p.m3u8").read_text())
    assert segments and all(renditions.file(outcome.key, name) for name in segments)
    for name in segments:
        streams = {s["codec_type"]: s for s in videos.probe(folder / name)["streams"]}
        assert streams["video"]["codec_name"] == "h264" and streams["audio"]["codec_name"] == "aac"
        assert streams["video"]["height"] == 240
        assert videos.decodes(folder / name)
    assert fractions and fractions[-1] == pytest.approx(1.0, abs=0.05)
    assert sorted(os.listdir(folder)) == sorted(["240p.m3u8", MASTER, *segments])  # no log, nothing else
    assert not renditions.partial(outcome.key).exists() and not renditions.lock_path(outcome.key).exists()
    assert (clip.read_bytes(), clip.stat().st_mtime) == before  # the source is never touched
    again = transcoder.build(renditions, tools, source_of(clip, "clip.mp4"))
    assert again == outcome  # made once


@pytest.mark.parametrize("size, rotate", [((240, 320), None), ((320, 240), 90)], ids=["portrait", "rotated"])
def test_portrait_and_silent_videos(tmp_path, tools, size, rotate):
    """Upright as shown: a phone's rotation flag is applied (ffmpeg turns the picture), sized by its short side."""
    clip = videos.make(tmp_path / "tall.mp4", "hevc", seconds=1, size=size, audio=None, rotate=rotate)
    renditions = Renditions(tmp_path / "video", 200 * MIB)
    outcome = transcoder.build(renditions, tools, source_of(clip, "tall.mp4"))
    assert outcome.state == "ready"
    segment = videos.playlist_uris((renditions.folder(outcome.key) / "240p.m3u8").read_text())[0]
    streams = videos.probe(renditions.folder(outcome.key) / segment)["streams"]
    assert [(s["codec_type"], s["width"], s["height"]) for s in streams] == [("video", 240, 320)]


def test_a_broken_video_is_remembered_as_failed(tmp_path, tools):
    clip = tmp_path / "broken.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096))
    renditions = Renditions(tmp_path / "video", 200 * MIB)
    outcome = transcoder.build(renditions, tools, source_of(clip, "broken.mp4"))
    assert outcome.state == "failed" and outcome.reason
    assert renditions.state(outcome.key) == "failed" and renditions.failure(outcome.key) == outcome.reason
    assert not renditions.folder(outcome.key).exists() and not renditions.partial(outcome.key).exists()
    assert clip.exists()  # the source is never touched


def test_a_video_being_made_elsewhere_is_running_and_not_made_twice(tmp_path, tools):
    clip = videos.make(tmp_path / "clip.mp4", "hevc", seconds=1, size=(160, 120))
    renditions = Renditions(tmp_path / "video", 200 * MIB)
    key = renditions.key("clip.mp4", clip.stat().st_mtime, clip.stat().st_size)
    with renditions.locked(key) as held:
        assert held and renditions.state(key) == "running"
        assert transcoder.build(renditions, tools, source_of(clip, "clip.mp4")).state == "running"
    assert renditions.state(key) == "pending"


CHILD = """
import sys
from pathlib import Path
from services.gallery import videometa
from services.video import transcoder
from services.video.renditions import Renditions, VideoSource
# The probe would read the pipe the test feeds ffmpeg through: its answer is given instead.
videometa.probe_video = lambda ffprobe, path, timeout_s=0: videometa.VideoMeta(
    duration=10.0, codec="hevc", width=160, height=120)
renditions = Renditions(Path(sys.argv[1]), 1)
transcoder.build(renditions, transcoder.find_tools(), VideoSource(Path(sys.argv[2]), "held.mkv", 1.0, 123))
"""


def test_kill_9_mid_transcode_leaves_no_visible_rendition(tmp_path, tools):
    """ffmpeg reads a named pipe the test feeds: three quarters of a 10 s clip, so it has written segments but
    cannot finish; then the process that runs it is killed with SIGKILL."""
    clip = videos.make(tmp_path / "src.mkv", "hevc", seconds=10, size=(160, 120), audio=None, fmt="matroska")
    data = clip.read_bytes()
    fifo = tmp_path / "held.mkv"
    os.mkfifo(fifo)
    root = tmp_path / "video"
    renditions = Renditions(root, 1)
    key = renditions.key("held.mkv", 1.0, 123)
    partial = renditions.partial(key)
    writer = os.open(fifo, os.O_RDWR)  # never blocks; ffmpeg sees the end only when the test closes it
    feeder = threading.Thread(target=os.write, args=(writer, data[:len(data) * 3 // 4]), daemon=True)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(fifo)], cwd=ROOT)  # noqa: S603
    try:
        feeder.start()
        until(lambda: partial.is_dir() and any(partial.glob("*.ts")), "ffmpeg never wrote a segment")
        ffmpeg = _ffmpeg_writing_to(partial)
        assert ffmpeg, "no ffmpeg writing the rendition"
        assert [_niceness(pid) for pid in ffmpeg] == [transcoder.NICENESS]  # one, at a lower CPU priority
        assert not renditions.folder(key).exists() and renditions.state(key) == "running"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        until(lambda: not _ffmpeg_writing_to(partial), "ffmpeg outlived the process that ran it")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(writer)
    assert not renditions.folder(key).exists()  # nothing visible: no half rendition is ever served
    assert renditions.file(key, MASTER) is None and renditions.state(key) == "pending"
    assert renditions.sweep() == 1 and not partial.exists()
    os.unlink(fifo)
    os.link(clip, fifo)  # the whole video now, under the same key: the next run makes it
    outcome = transcoder.build(renditions, tools, VideoSource(fifo, "held.mkv", 1.0, 123))
    assert outcome.state == "ready" and outcome.key == key
    segments = videos.playlist_uris((renditions.folder(key) / "120p.m3u8").read_text())
    assert len(segments) >= 2 and all(videos.decodes(renditions.folder(key) / s) for s in segments)


def _niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def _ffmpeg_writing_to(folder: Path) -> list[int]:
    """Pids of processes whose command line names `folder` (the ffmpeg this test's child started)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(folder).encode() in cmdline and state != "Z":
            found.append(int(pid))
    return found
