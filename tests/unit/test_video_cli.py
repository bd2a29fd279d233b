"""`photonix videos`, run as a real subprocess the way an owner runs it: it makes the missing HLS renditions with
a progress bar, remembers failures, and a second run has nothing left to do."""

from __future__ import annotations

import json

from models import Event
from services.video.renditions import MASTER
from tests.support import images, videos
from tests.unit.test_cli import run


def test_videos_command_makes_the_missing_renditions(env, app, photos_dir, tmp_path):
    videos.make(photos_dir / "album" / "phone.mov", "h264", seconds=1, size=(160, 120))  # QuickTime: HLS
    videos.make(photos_dir / "album" / "hevc.mp4", videos.hevc_codec(), seconds=1, size=(160, 120))
    videos.make(photos_dir / "album" / "plain.mp4", "h264", seconds=1, size=(160, 120))  # plays as it is
    images.not_an_image(photos_dir / "album" / "broken.mov")
    assert run(["index"], env).returncode == 0
    result = run(["videos"], env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "videos"  # the progress bar (its label only, without a terminal)
    assert result.stdout.strip().endswith("2 videos made ready for streaming, 1 failed (see the log for reasons)")
    assert len(list((tmp_path / "data" / "video").glob(f"*/{MASTER}"))) == 2
    # Open browsers hear of it as from the server's own batch (through the event log the servers poll).
    told = [(event.type, json.loads(event.data)) for event in Event.select().order_by(Event.id)]
    assert sorted((kind, data["path"]) for kind, data in told if kind in ("video-ready", "video-failed")) == [
        ("video-failed", "album/broken.mov"), ("video-ready", "album/hevc.mp4"), ("video-ready", "album/phone.mov")]
    assert [(data["done"], data["total"]) for kind, data in told if kind == "video-progress"][-1] == (3, 3)
    assert [kind for kind, _ in told][-1] == "video-batch-complete"
    again = run(["videos"], env)
    assert again.returncode == 0 and again.stdout.strip().endswith("0 videos made ready for streaming, 0 failed")
    retried = run(["videos", "--retry-failed"], env)
    assert retried.stdout.strip().endswith("0 videos made ready for streaming, 1 failed (see the log for reasons)")
