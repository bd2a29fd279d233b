"""Issue 24: a browser's thumbnail goes before the batch (it waits for a batch item running, never for the batch's
next ones), the batch does not use up a request's back-pressure, and `photonix thumbs` runs at a lower CPU
priority. The thumbnails' decodes are held at a gate the test opens; order is counted, never timed."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner

from cli import main
from models import Media
from services import cpu, thumbnails
from services.gallery import thumbs
from services.gallery.index import Indexer
from tests.support import images
from tests.support.waiting import FAILSAFE_S, until
from tests.unit.test_cpu_priority import Gate

NAMES = [f"{letter}.jpg" for letter in "abcdefgh"]


@pytest.fixture(autouse=True)
def pool(two_cpu_threads):
    """Every test here runs with the CPU pool at 2 threads."""


@pytest.fixture
def library(db, photos_dir):
    for name in NAMES:
        images.jpeg(photos_dir / name, (64, 48))
    Indexer(photos_dir).scan()
    return photos_dir


def batch_order() -> list[str]:
    """The files in the order the batch takes them: the index's."""
    return [path for (path,) in Media.select(Media.path).order_by(Media.id).tuples()]


@pytest.fixture
def gate(monkeypatch):
    """Each thumbnail's decode records its file name, then waits until the test lets one finish."""
    gate, make = Gate(), thumbnails._make_locked

    def held(key, files, source, *args, **kwargs):
        gate.task(source.name)
        return make(key, files, source, *args, **kwargs)

    monkeypatch.setattr(thumbnails, "_make_locked", held)
    yield gate
    gate.finish(len(NAMES) * 2)  # a failing test leaves nothing held


def request(thumbnailer, library, name):
    """What GET /api/thumbnail asks of the thumbnailer for a file it has not cached."""
    return thumbnailer.get(thumbs.source_for(library / name, Media.get(Media.path == name)))


def test_a_browser_request_goes_before_the_batch_items_not_yet_started(library, config, gate):
    thumbnailer = thumbs.make_thumbnailer(config)
    with ThreadPoolExecutor(2) as callers:
        batch = callers.submit(thumbs.make_missing, thumbnailer, library, lambda *_: None)
        gate.wait_started(2)  # the batch holds both threads ...
        until(lambda: cpu.images.batch_waiting == 1)  # ... and its next item waits for one
        last = batch_order()[-1]
        browser = callers.submit(request, thumbnailer, library, last)
        until(lambda: cpu.busy() == 1)  # the browser's thumbnail waits for a thread too
        gate.finish()
        gate.wait_started(3)
        assert gate.started[2] == last  # after one batch item, before the batch's next
        gate.finish(len(NAMES))
        assert browser.result(FAILSAFE_S).status == "ok"
        assert batch.result(FAILSAFE_S) == (len(NAMES), 0)
    assert sorted(gate.started) == NAMES  # each made once: the batch found the browser's made


def test_the_batch_leaves_a_request_its_whole_back_pressure(library, config, gate):
    # A page of thumbnails arrives while the batch holds every thread: each of as many requests as the pool
    # lets wait (twice its threads) waits for its image; none is answered 202 "processing" for the batch's sake.
    thumbnailer = thumbs.make_thumbnailer(config)
    with ThreadPoolExecutor(1 + 2 * cpu.size()) as callers:
        batch = callers.submit(thumbs.make_missing, thumbnailer, library, lambda *_: None)
        gate.wait_started(2)
        browser = [callers.submit(request, thumbnailer, library, name) for name in batch_order()[-2 * cpu.size():]]
        until(lambda: cpu.busy() == 2 * cpu.size() or any(f.done() for f in browser))
        gate.finish(len(NAMES) * 2)
        assert [f.result(FAILSAFE_S).status for f in browser] == ["ok"] * len(browser)
        assert batch.result(FAILSAFE_S) == (len(NAMES), 0)


@pytest.mark.parametrize("args, lowered_by", [([], 10), (["--nice", "0"], 0), (["--nice", "3"], 3)])
def test_the_thumbs_command_works_at_a_lower_cpu_priority(env, app, photos_dir, monkeypatch, args, lowered_by):
    for name in NAMES[:2]:
        images.jpeg(photos_dir / name, (64, 48))
    Indexer(photos_dir).scan()
    niceness, make = [], thumbnails._make_locked

    def recorded(*args, **kwargs):
        niceness.append(os.getpriority(os.PRIO_PROCESS, 0))  # on the CPU pool's thread
        return make(*args, **kwargs)

    monkeypatch.setattr(thumbnails, "_make_locked", recorded)
    here = os.getpriority(os.PRIO_PROCESS, 0)
    unset = {name: None for name in os.environ if name.startswith("PHOTONIX_")}
    result = CliRunner().invoke(main, ["thumbs", *args], env={**unset, **env})
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "2 thumbnails made, 0 failed"
    assert niceness == [min(here + lowered_by, 19)] * 2
    assert os.getpriority(os.PRIO_PROCESS, 0) == here  # this process's own thread keeps its priority (Linux)
