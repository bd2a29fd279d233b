"""services/decode_budget.py: the decode estimate from a header (no decoding) and the byte budget that makes
decodes wait for each other in the caller's thread or greenlet."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image

from services import decode_budget
from services.decode_budget import Budget, OverBudget
from tests.support import images
from tests.support.flat_png import flat_png
from tests.support.scripts import run_script
from tests.support.waiting import until

MIB = 1024 * 1024
WAIT_S = 10.0  # an upper bound for something that happens at once; never reached when the code is right


def estimate_of(path: Path) -> int:
    with Image.open(path) as image:
        return decode_budget.estimate(image)


@pytest.mark.parametrize(("mode", "bits", "per_pixel"), [
    ("RGBA", 8, 4),
    ("L", 8, 1),
    ("RGB", 8, 4),  # Pillow keeps 3 bands in 4 bytes
    ("L", 16, 2),  # opened as "I;16"
])
def test_a_png_is_estimated_from_its_header(tmp_path, loads, mode, bits, per_pixel):
    path = flat_png(tmp_path / "a.png", (3000, 2000), mode, bits)
    assert estimate_of(path) == 3000 * 2000 * per_pixel
    assert loads == []


def test_a_big_jpeg_is_estimated_at_its_draft_size(tmp_path, loads):
    path = images.jpeg(tmp_path / "big.jpg", (4000, 3000))
    with Image.open(path) as image:
        assert decode_budget.estimate(image) == 4000 * 3000 * 4
        image.draft("RGB", (500, 375))  # libjpeg decodes at 1/8: the estimate follows
        assert image.size == (500, 375) and decode_budget.estimate(image) == 500 * 375 * 4
    assert loads == []


def test_an_amount_over_the_whole_budget_is_refused_at_once():
    budget = Budget(100 * MIB)
    with pytest.raises(OverBudget) as caught, budget.hold(100 * MIB + 1):
        pass
    assert str(caught.value) == "101 MiB needed, the decode memory budget is 100 MiB"
    assert budget.used == 0
    with budget.hold(100 * MIB):
        assert budget.used == 100 * MIB
    assert budget.used == 0


def holder(budget: Budget, amount: int, entered: threading.Event, release: threading.Event) -> threading.Thread:
    def hold() -> None:
        with budget.hold(amount):
            entered.set()
            release.wait(WAIT_S)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    return thread


def test_two_that_together_exceed_the_budget_run_one_after_the_other():
    budget = Budget(100)
    first_in, first_go, second_in, second_go = (threading.Event() for _ in range(4))
    first = holder(budget, 60, first_in, first_go)
    assert first_in.wait(WAIT_S)
    second = holder(budget, 50, second_in, second_go)
    until(lambda: budget.waiting == 1, "the second never started waiting")
    assert not second_in.is_set() and budget.used == 60
    first_go.set()
    assert second_in.wait(WAIT_S) and budget.used == 50
    second_go.set()
    first.join(WAIT_S)
    second.join(WAIT_S)
    assert (budget.used, budget.waiting) == (0, 0)


def test_two_that_fit_together_run_together_and_a_failure_releases():
    budget = Budget(100)
    first_in, first_go = threading.Event(), threading.Event()
    first = holder(budget, 60, first_in, first_go)
    assert first_in.wait(WAIT_S)
    with budget.hold(40):
        assert budget.used == 100
    with pytest.raises(RuntimeError), budget.hold(40):
        raise RuntimeError("decoder crashed")
    first_go.set()
    first.join(WAIT_S)
    assert budget.used == 0


def test_waiters_are_admitted_in_arrival_order():
    """A big decode waiting is not overtaken for ever by small ones arriving after it."""
    budget = Budget(100)
    events = {name: (threading.Event(), threading.Event()) for name in ("holder", "big", "small")}
    threads = [holder(budget, 60, *events["holder"])]
    assert events["holder"][0].wait(WAIT_S)
    threads.append(holder(budget, 95, *events["big"]))
    until(lambda: budget.waiting == 1, "the big one never started waiting")
    threads.append(holder(budget, 10, *events["small"]))  # would fit now, but arrived after the big one
    until(lambda: budget.waiting == 2, "the small one never started waiting")
    assert not events["small"][0].is_set()
    events["holder"][1].set()
    assert events["big"][0].wait(WAIT_S) and not events["small"][0].is_set()
    events["big"][1].set()
    assert events["small"][0].wait(WAIT_S)
    events["small"][1].set()
    for thread in threads:
        thread.join(WAIT_S)
    assert (budget.used, budget.waiting) == (0, 0)


def test_configure_sets_the_shared_budget():
    try:
        assert decode_budget.configure(64 * MIB) is decode_budget.shared()
        assert decode_budget.shared().total == 64 * MIB
        # blocks above glibc's largest dynamic mmap threshold (32 MiB): freed pixels go back to the system
        assert Image.core.get_block_size() == decode_budget.PIXEL_BLOCK_BYTES > 32 * MIB
    finally:
        decode_budget.configure(decode_budget.DEFAULT_BYTES)


GEVENT_SCRIPT = """
import json

from gevent import monkey

monkey.patch_all()

import gevent
import gevent.event

from services import cpu
from services.decode_budget import Budget

budget = Budget(100)
release = gevent.event.Event()
log = []
ticks = [0]


def first():
    with budget.hold(60):
        log.append("first in")
        cpu.run_cpu(sum, range(1000))  # the held decode runs on a native pool thread
        release.wait()
    log.append("first out")


def second():
    with budget.hold(50):
        log.append("second in")
        cpu.run_cpu(sum, range(1000))


def ticker():
    for _ in range(100):  # the hub keeps running other greenlets while the second waits
        ticks[0] += budget.waiting
        gevent.sleep(0)
    log.append(f"ticked while waiting: {ticks[0] == 100}")
    release.set()


greenlets = [gevent.spawn(first)]
while not log:
    gevent.sleep(0)
greenlets.append(gevent.spawn(second))
while not budget.waiting:
    gevent.sleep(0)
greenlets.append(gevent.spawn(ticker))
gevent.joinall(greenlets, timeout=20, raise_error=True)
cpu.shutdown()
print(json.dumps(log))
"""


def test_under_gevent_a_waiting_greenlet_leaves_the_hub_running(tmp_path):
    assert run_script(tmp_path, GEVENT_SCRIPT) == [
        "first in", "ticked while waiting: True", "first out", "second in"]
