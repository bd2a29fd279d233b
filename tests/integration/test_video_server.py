"""HLS renditions on a real gunicorn (issue 23): the background-job process makes them; a kill -9 of the worker
mid-transcode leaves no visible half rendition and no ffmpeg behind, and the worker gunicorn starts in its place
makes it once it leads (resumable after a restart); the result plays over HTTP (playlists parse, segments decode);
a deleted video's rendition is pruned once the watcher has seen it go.

The transcode is held by an `ffmpeg` first on the server's PATH that waits on a named pipe nobody writes before it
runs the real one: the test decides when the worker dies, not a race."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest
import requests

from services.video.renditions import Renditions
from tests.support import videos
from tests.support.servers import Gunicorn
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIP = "Clips/phone.mp4"
LEAD_S = 60  # failsafe: a new worker takes the killed one's lease at its next renewal (services/jobs.py)
HOLDING_FFMPEG = """#!/bin/sh
case "$*" in *.partial/*) echo "$$" > "{started}"; read gate < "{gate}";; esac
exec "{ffmpeg}" "$@"
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_kill_9_mid_transcode_then_the_next_worker_makes_it(env, db, tmp_path, photos_dir):
    videos.make(photos_dir / CLIP, videos.hevc_codec(), seconds=2, size=(320, 240))
    bin_dir, started, gate = tmp_path / "bin", tmp_path / "started", tmp_path / "gate"
    bin_dir.mkdir()
    os.mkfifo(gate)
    wrapper = bin_dir / "ffmpeg"
    wrapper.write_text(HOLDING_FFMPEG.format(started=started, gate=gate, ffmpeg=videos.tool("ffmpeg")))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    video_dir = tmp_path / "data" / "video"
    path = f"{bin_dir}:{os.environ['PATH']}"
    with Gunicorn({**env, "PATH": path, "PHOTONIX_SSE_HEARTBEAT_SECONDS": "5"}, tmp_path / "gunicorn.log") as server:
        until(lambda: started.exists() and started.read_text().strip(), "the server never started ffmpeg", LEAD_S)
        held = int(started.read_text())
        assert requests.get(f"{server.url}/api/video/status", timeout=10).json()["running"] == 1
        assert [p.name for p in video_dir.iterdir() if not p.name.startswith(".")] == []
        worker = int(next(iter(server.pids("GET /health"))))
        os.kill(worker, signal.SIGKILL)
        until(lambda: not alive(held), "ffmpeg outlived the worker that ran it")
        assert [p.name for p in video_dir.iterdir() if not p.name.startswith(".")] == []  # nothing half made shows
        wrapper.write_text(f'#!/bin/sh\nexec "{videos.tool("ffmpeg")}" "$@"\n')  # no longer held
        until(lambda: "video renditions: 1 made" in server.log(), "no worker made the rendition", LEAD_S)
        assert [p.name for p in video_dir.iterdir() if p.name.startswith(".")] == []  # the half build swept
        browse = requests.get(f"{server.url}/api/browse/Clips", timeout=10).json()
        item = next(i for i in browse["items"] if i["path"] == CLIP)
        assert item["playable"] == "hls"
        base = server.url + item["hlsUrl"].rsplit("/", 1)[0] + "/"
        master = requests.get(server.url + item["hlsUrl"], timeout=10)
        assert master.status_code == 200 and master.headers["Content-Type"].startswith("application/vnd.apple")
        for variant in videos.playlist_uris(master.text):
            for segment in videos.playlist_uris(requests.get(base + variant, timeout=10).text):
                answer = requests.get(base + segment, timeout=10)
                assert answer.status_code == 200
                target = tmp_path / segment.split("?")[0]
                target.write_bytes(answer.content)
                assert videos.decodes(target)


def test_a_deleted_video_loses_its_rendition_once_the_watcher_has_seen_it(env, db, tmp_path, photos_dir):
    """The server's wiring of services/derived_upkeep.py: the watcher's index-complete that removed a file asks the
    lease holder for the prune, which removes the rendition made for it (the first scan was complete)."""
    videos.make(photos_dir / CLIP, videos.hevc_codec(), seconds=1, size=(160, 120))
    videos.make(photos_dir / "Clips" / "kept.mp4", videos.hevc_codec(), seconds=1, size=(176, 144))
    video_dir = tmp_path / "data" / "video"

    def renditions() -> list[str]:
        return sorted(p.name for p in video_dir.iterdir() if not p.name.startswith(".")) if video_dir.is_dir() else []

    with Gunicorn({**env, "PHOTONIX_WATCH": "auto"}, tmp_path / "gunicorn.log") as server:
        until(lambda: "video renditions: 2 made" in server.log(), "the server never made the renditions", LEAD_S)
        made = renditions()
        assert len(made) == 2
        (photos_dir / CLIP).unlink()
        until(lambda: "pruned 0 AI captions and 1 video renditions" in server.log(), "nothing was pruned")
        kept = (photos_dir / "Clips" / "kept.mp4").stat()
        assert renditions() == [Renditions(video_dir, 0).key("Clips/kept.mp4", kept.st_mtime, kept.st_size)]
        browse = requests.get(f"{server.url}/api/browse/Clips", timeout=10).json()
        assert [(item["name"], item["playable"]) for item in browse["items"]] == [("kept.mp4", "hls")]
