"""services/gallery/videometa.py: real clips made by ffmpeg read by the real ffprobe, and fake "ffprobe"
scripts for what a hostile or broken one does (hangs, floods, prints the wrong types)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.gallery.videometa import MAX_PROBE_BYTES, VideoMeta, find_ffprobe, probe_video
from tests.support import images
from tests.support.servers import cannot_run
from tests.support.waiting import until

TAKEN = "2024-07-01T12:00:00+00:00"


@pytest.fixture(scope="module")
def ffprobe() -> str:
    found = find_ffprobe()
    if found is None or shutil.which("ffmpeg") is None:
        cannot_run("ffmpeg/ffprobe are not installed: the video metadata tests did not run")
    return found


@pytest.fixture(scope="module")
def clips(tmp_path_factory, ffprobe) -> Path:
    """The clips every test reads, made once."""
    folder = tmp_path_factory.mktemp("clips")
    assert images.video(folder / "plain.mp4", seconds=2, size=(320, 240)) is not None
    _ffmpeg(folder / "tagged.mp4", "-metadata", "creation_time=2024-07-01T12:00:00Z")
    _ffmpeg(folder / "unset.mp4", "-metadata", "creation_time=1970-01-01T00:00:00Z")
    _ffmpeg(folder / "apple.mov", "-movflags", "use_metadata_tags", "-metadata", "creation_time=2024-07-01T12:00:00Z",
            "-metadata", "com.apple.quicktime.creationdate=2024-07-01T14:00:00+0200")
    _ffmpeg(folder / "clip.webm", codec=["-c:v", "libvpx-vp9"] if _has_encoder("libvpx-vp9") else ["-c:v", "libvpx"])
    # ffmpeg 5.1 has no -display_rotation, and drops `rotate` when it encodes: set it on a stream copy.
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(folder / "plain.mp4"), "-c", "copy",
                    "-metadata:s:v:0", "rotate=90", str(folder / "rotated.mp4")], check=True, timeout=60)
    return folder


def _ffmpeg(path: Path, *options: str, codec: list[str] | None = None) -> None:
    if codec is None:
        codec = ["-c:v", "libx264" if _has_encoder("libx264") else "mpeg4"]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=1:size=320x240:rate=10",
                    "-pix_fmt", "yuv420p", *codec, *options, str(path)], check=True, timeout=60)


def _has_encoder(name: str) -> bool:
    listed = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=60)
    return f" {name} " in listed.stdout


def _fake_ffprobe(tmp_path: Path, body: str) -> str:
    """An executable "ffprobe" shell script with this body."""
    script = tmp_path / "ffprobe"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


def _printing(tmp_path: Path, probed: object) -> str:
    """A fake ffprobe that prints `probed` as JSON and exits 0."""
    (tmp_path / "out.json").write_text(json.dumps(probed))
    return _fake_ffprobe(tmp_path, f'cat "{tmp_path / "out.json"}"')


def _gone(pid: int) -> bool:
    """The process has exited (reaped, or a zombie waiting for init)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_mp4_duration_codec_and_size(ffprobe, clips):
    meta = probe_video(ffprobe, clips / "plain.mp4")
    assert meta.duration == 2.0
    assert meta.codec in ("h264", "mpeg4")
    assert (meta.width, meta.height) == (320, 240)
    assert meta.taken_at is None


def test_webm(ffprobe, clips):
    meta = probe_video(ffprobe, clips / "clip.webm")
    assert meta.codec in ("vp9", "vp8")
    assert meta.duration == 1.0
    assert (meta.width, meta.height) == (320, 240)


def test_creation_time_in_utc(ffprobe, clips):
    assert probe_video(ffprobe, clips / "tagged.mp4").taken_at == TAKEN


def test_unset_1970_creation_time_is_unknown(ffprobe, clips):
    assert probe_video(ffprobe, clips / "unset.mp4").taken_at is None


def test_apple_creationdate_keeps_the_local_offset(ffprobe, clips):
    assert probe_video(ffprobe, clips / "apple.mov").taken_at == "2024-07-01T14:00:00+02:00"


def test_rotation_swaps_width_and_height(ffprobe, clips):
    meta = probe_video(ffprobe, clips / "rotated.mp4")
    assert (meta.width, meta.height) == (240, 320)


def test_not_a_video(ffprobe, tmp_path):
    assert probe_video(ffprobe, images.not_an_image(tmp_path / "fake.mp4")) == VideoMeta()


def test_truncated_video(ffprobe, clips, tmp_path):
    data = (clips / "plain.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])  # the moov atom is at the end: gone
    assert probe_video(ffprobe, tmp_path / "cut.mp4") == VideoMeta()


@pytest.mark.parametrize("name", ["-i.mp4", "-", "a:b.mp4"])
def test_names_that_look_like_options_or_urls(ffprobe, clips, tmp_path, monkeypatch, name):
    shutil.copy(clips / "tagged.mp4", tmp_path / name)
    monkeypatch.chdir(tmp_path)
    assert probe_video(ffprobe, Path(name)).taken_at == TAKEN


def test_a_playlist_posing_as_mp4_is_refused(ffprobe, clips, tmp_path):
    """Only real containers: a playlist could point ffprobe at other files (or, for HLS, at URLs)."""
    shutil.copy(clips / "tagged.mp4", tmp_path / "inner.mp4")
    (tmp_path / "list.mp4").write_text("ffconcat version 1.0\nfile 'inner.mp4'\n")
    assert probe_video(ffprobe, tmp_path / "list.mp4") == VideoMeta()


def test_missing_ffprobe(clips, tmp_path):
    assert probe_video(str(tmp_path / "no-ffprobe"), clips / "plain.mp4") == VideoMeta()


@pytest.mark.parametrize("then", ["wait", "exit 0"])
def test_slow_ffprobe_is_killed_with_what_it_started(tmp_path, then):
    """The script starts a 30 s sleep on our pipe, then waits for it or exits at once leaving it behind.
    ffprobe never leaves a grandchild; a hostile or wrapped one might."""
    pids = tmp_path / "pids"
    ffprobe = _fake_ffprobe(tmp_path, f'sleep 30 & echo $$ $! > "{pids}.tmp"; mv "{pids}.tmp" "{pids}"; {then}')
    assert probe_video(ffprobe, tmp_path / "any.mp4", timeout_s=0.5) == VideoMeta()
    if pids.exists():  # else the script was killed before it started anything
        shell, sleeper = (int(pid) for pid in pids.read_text().split())
        assert _gone(shell)  # our child: already reaped
        until(lambda: _gone(sleeper), f"the grandchild {sleeper} outlived its SIGKILL")  # dies asynchronously


def test_endless_output_is_capped_and_the_process_killed(tmp_path):
    ffprobe = _fake_ffprobe(tmp_path, f'echo $$ > "{tmp_path / "pid"}"; exec yes')
    assert probe_video(ffprobe, tmp_path / "any.mp4", timeout_s=60) == VideoMeta()
    assert _gone(int((tmp_path / "pid").read_text()))


def test_huge_valid_json_is_refused(tmp_path):
    probed = {"format": {"duration": "1.0", "tags": {"comment": "x" * MAX_PROBE_BYTES}}}
    assert probe_video(_printing(tmp_path, probed), tmp_path / "any.mp4") == VideoMeta()


def test_deeply_nested_json(tmp_path):
    (tmp_path / "out.json").write_text("[" * 200_000 + "]" * 200_000)
    ffprobe = _fake_ffprobe(tmp_path, f'cat "{tmp_path / "out.json"}"')
    assert probe_video(ffprobe, tmp_path / "any.mp4") == VideoMeta()


def test_failing_ffprobe_output_is_ignored(tmp_path):
    (tmp_path / "out.json").write_text(json.dumps({"format": {"duration": "3.0"}}))
    ffprobe = _fake_ffprobe(tmp_path, f'cat "{tmp_path / "out.json"}"; exit 1')
    assert probe_video(ffprobe, tmp_path / "any.mp4") == VideoMeta()


@pytest.mark.parametrize("probed", [[], "text", 5, None, {"streams": "x", "format": []},
                                    {"streams": [1, None, "v"], "format": {"tags": [1]}}])
def test_wrong_shapes_give_nothing(tmp_path, probed):
    assert probe_video(_printing(tmp_path, probed), tmp_path / "any.mp4") == VideoMeta()


GOOD_STREAM = {"codec_type": "video", "codec_name": "h264", "width": 320, "height": 240, "duration": "2.5"}


@pytest.mark.parametrize(("stream", "fmt", "expected"), [
    ({}, {"duration": "1.23456"}, {"duration": 1.235}),
    ({}, {}, {"duration": 2.5}),  # no format duration: the stream's
    ({}, {"duration": "nan"}, {"duration": 2.5}),
    ({"duration": "inf"}, {"duration": "-1"}, {"duration": None}),
    ({"duration": True}, {"duration": "1e9"}, {"duration": None}),
    ({"duration": [2]}, {"duration": {"s": 1}}, {"duration": None}),
    ({"codec_name": 264}, {}, {"codec": None}),
    ({"width": "320"}, {}, {"width": None, "height": None}),
    ({"width": -5, "height": True}, {}, {"width": None, "height": None}),
    ({"width": 10**12}, {}, {"width": None, "height": None}),
    ({"side_data_list": [{"rotation": -90}]}, {}, {"width": 240, "height": 320}),
    ({"side_data_list": [{"rotation": 180}]}, {}, {"width": 320, "height": 240}),
    ({"side_data_list": [{"rotation": "x"}, 3]}, {}, {"width": 320, "height": 240}),
    ({"side_data_list": "x", "tags": {"rotate": "270"}}, {}, {"width": 240, "height": 320}),
    ({"tags": {"rotate": "nan"}}, {}, {"width": 320, "height": 240}),
    ({"tags": {"creation_time": "2024-07-01T12:00:00.000000Z"}}, {}, {"taken_at": TAKEN}),
    ({"tags": {"creation_time": TAKEN}}, {"tags": {"creation_time": "1970-01-01T00:00:00.000000Z"}},
     {"taken_at": TAKEN}),
    ({}, {"tags": {"creation_time": "1904-01-01T00:00:00.000000Z"}}, {"taken_at": None}),
    ({}, {"tags": {"creation_time": 1719835200}}, {"taken_at": None}),
    ({}, {"tags": {"creation_time": "yesterday at noon"}}, {"taken_at": None}),
    ({}, {"tags": {"creation_time": "2024-07-01T12:00:00" + "0" * 5000}}, {"taken_at": None}),
    ({}, {"tags": {"com.apple.quicktime.creationdate": ["x"], "creation_time": "2024-07-01T12:00:00Z"}},
     {"taken_at": TAKEN}),
    ({}, {"tags": {"com.apple.quicktime.creationdate": "2024-07-01T08:00:00-0400"}},
     {"taken_at": "2024-07-01T08:00:00-04:00"}),
])
def test_each_field_of_the_wrong_type_is_none_alone(tmp_path, stream, fmt, expected):
    probed = {"streams": [{"codec_type": "audio", "codec_name": "aac"}, {**GOOD_STREAM, **stream}], "format": fmt}
    meta = probe_video(_printing(tmp_path, probed), tmp_path / "any.mp4")
    good = VideoMeta(duration=2.5, codec="h264", audio_codec="aac", width=320, height=240)  # the first audio stream
    assert meta == VideoMeta(**{**good.__dict__, **expected})


def test_the_real_argv_is_fixed_and_hardened(tmp_path):
    args = tmp_path / "args"
    ffprobe = _fake_ffprobe(tmp_path, f'printf "%s\\n" "$@" > "{args}"; echo {{}}')
    probe_video(ffprobe, Path("-x.mp4"))
    argv = args.read_text().splitlines()
    assert argv[-2:] == ["-i", "file:" + os.path.abspath("-x.mp4")]
    assert argv[argv.index("-protocol_whitelist") + 1] == "file"
    assert "-format_whitelist" in argv



GEVENT_PROBE = """
from gevent import monkey; monkey.patch_all()
import sys, gevent
from pathlib import Path
from services.gallery.videometa import probe_video
started, released = Path(sys.argv[2]), Path(sys.argv[3])
def release():
    while not started.exists():  # ffprobe is running: from here on only a cooperative read lets us run
        gevent.sleep(0.01)
    released.touch()
releasing = gevent.spawn(release)
print(probe_video(sys.argv[1], Path("any.mp4"), timeout_s=30).codec)
releasing.kill()
"""


def test_cooperative_under_gevent(tmp_path):
    """The fake ffprobe prints only once another greenlet saw it start and touched a file: a probe that
    blocked the hub while reading would never see its output (and give up after 30 s)."""
    (tmp_path / "out.json").write_text(json.dumps({"streams": [GOOD_STREAM]}))
    started, released = tmp_path / "started", tmp_path / "released"
    ffprobe = _fake_ffprobe(tmp_path, f'touch "{started}"; while [ ! -e "{released}" ]; do sleep 0.01; done; '
                                      f'cat "{tmp_path}/out.json"')
    done = subprocess.run([sys.executable, "-c", GEVENT_PROBE, ffprobe, str(started), str(released)],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == "h264", done.stderr
