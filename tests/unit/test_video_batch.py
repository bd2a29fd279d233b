"""services/video/batch.py over a real index and the real ffmpeg: one ffmpeg at a time by default (more when
PHOTONIX_VIDEO_THREADS says), a stopped batch resumes where it stopped, and only videos that need it are made."""

from __future__ import annotations

import threading

import pytest

from services.gallery.index import Indexer
from services.video import batch, transcoder
from services.video.playable import MIB
from services.video.renditions import Renditions
from tests.support import videos
from tests.support.waiting import FAILSAFE_S


@pytest.fixture
def library(db, config, photos_dir):
    for name in ("a", "b", "c"):
        videos.make(photos_dir / "clips" / f"{name}.mp4", "hevc", seconds=1, size=(160, 120), audio=None)
    videos.make(photos_dir / "clips" / "plain.mp4", "h264", seconds=1, size=(160, 120))
    Indexer(config.photos_dir).scan()
    return Renditions(config.data_dir / "video", 200 * MIB)


def watching(monkeypatch, barrier: threading.Barrier | None = None) -> dict[str, int]:
    """Wraps the real transcoder.build: counts how many run at once (at most); the first calls meet at `barrier`."""
    seen = {"now": 0, "most": 0, "calls": 0}
    lock = threading.Lock()
    build = transcoder.build

    def counted(*args, **kwargs):
        with lock:
            seen["now"] += 1
            seen["calls"] += 1
            seen["most"] = max(seen["most"], seen["now"])
            call = seen["calls"]
        try:
            if barrier is not None and call <= barrier.parties:  # the first calls meet; later ones go on
                barrier.wait(FAILSAFE_S)
            return build(*args, **kwargs)
        finally:
            with lock:
                seen["now"] -= 1

    monkeypatch.setattr(transcoder, "build", counted)
    return seen


def test_one_ffmpeg_at_a_time_by_default(library, config, monkeypatch):
    seen = watching(monkeypatch)
    made = batch.make_missing(library, config.photos_dir, lambda *a: None, config.video_threads)
    assert config.video_threads == 1 and made == (3, 0)
    assert (seen["calls"], seen["most"]) == (3, 1)  # plain.mp4 plays as it is: never transcoded


def test_more_threads_run_that_many_at_once(library, config, monkeypatch):
    seen = watching(monkeypatch, threading.Barrier(2))  # the first two meet: both run at once
    assert batch.make_missing(library, config.photos_dir, lambda *a: None, 2) == (3, 0)
    assert seen["most"] == 2


def test_a_stopped_batch_resumes_where_it_stopped(library, config, monkeypatch):
    done: list[str] = []

    def progress(path, fraction, finished, total):
        if fraction >= 1.0:
            done.append(path)

    assert batch.make_missing(library, config.photos_dir, progress, 1, keep_going=lambda: not done) == (1, 0)
    assert batch.stats(library)["ready"] == 1
    seen = watching(monkeypatch)
    assert batch.make_missing(library, config.photos_dir, lambda *a: None, 1) == (2, 0)
    assert seen["calls"] == 2  # the one made is not made again
    assert batch.stats(library) == {"videos": 4, "direct": 1, "ready": 3, "pending": 0, "running": 0, "failed": 0}
