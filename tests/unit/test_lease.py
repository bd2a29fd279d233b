"""services/lease.py on a real database: acquire, renew, expiry takeover, release, and racing contenders."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from services import lease
from services.database import close_connection

T0 = 1_000_000.0
CONTENDERS = 8


def test_acquire_renew_expire_and_release(db):
    assert lease.try_acquire("jobs", "a", 10, now=T0)
    assert not lease.try_acquire("jobs", "b", 10, now=T0 + 5)
    assert lease.try_acquire("jobs", "a", 10, now=T0 + 5)  # renewed: now expires at T0 + 15
    assert not lease.try_acquire("jobs", "b", 10, now=T0 + 14)
    assert lease.current_holder("jobs", now=T0 + 14) == "a"
    assert lease.current_holder("jobs", now=T0 + 16) is None

    assert lease.try_acquire("jobs", "b", 10, now=T0 + 16)
    assert not lease.try_acquire("jobs", "a", 10, now=T0 + 17)
    assert lease.current_holder("jobs", now=T0 + 17) == "b"

    assert not lease.release("jobs", "a")
    assert lease.current_holder("jobs", now=T0 + 17) == "b"
    assert lease.release("jobs", "b")
    assert lease.current_holder("jobs", now=T0 + 17) is None
    assert lease.try_acquire("jobs", "a", 10, now=T0 + 17)


def test_expiry_keeps_subsecond_precision_at_real_epoch_times(db):
    """Epoch seconds need an 8-byte float column: a 4-byte REAL rounds them to 128 s steps."""
    now = time.time()
    assert lease.try_acquire("jobs", "a", 1.5, now=now)
    assert lease.current_holder("jobs", now=now + 1.4) == "a"
    assert lease.current_holder("jobs", now=now + 1.6) is None
    assert not lease.try_acquire("jobs", "b", 1.5, now=now + 1.4)
    assert lease.try_acquire("jobs", "b", 1.5, now=now + 1.6)


def test_leases_with_different_names_are_independent(db):
    assert lease.try_acquire("jobs", "a", 10, now=T0)
    assert lease.try_acquire("other", "b", 10, now=T0)
    assert lease.current_holder("jobs", now=T0) == "a"
    assert lease.current_holder("other", now=T0) == "b"


def test_holder_ids_are_unique_and_name_the_process():
    first, second = lease.holder_id(), lease.holder_id()
    assert first != second
    assert first.split(":")[1] == str(os.getpid())


@pytest.mark.parametrize("existing", ["missing", "expired"])
def test_racing_contenders_elect_exactly_one(db, existing):
    if existing == "expired":
        assert lease.try_acquire("jobs", "gone", 1, now=time.time() - 60)
    start = threading.Barrier(CONTENDERS)

    def contend(index: int) -> bool:
        try:
            start.wait(10)
            return lease.try_acquire("jobs", f"h{index}", 30)
        finally:
            close_connection()

    with ThreadPoolExecutor(CONTENDERS) as pool:
        results = list(pool.map(contend, range(CONTENDERS), timeout=30))
    assert results.count(True) == 1
    assert lease.current_holder("jobs") == f"h{results.index(True)}"


def test_take_over_a_lease_whose_holder_on_this_host_is_gone(db):
    import socket

    dead = f"{socket.gethostname()}:999999999:abcd"
    alive = lease.holder_id()
    elsewhere = "other-node:1:abcd"
    assert lease.try_acquire("feed-run:1", dead, 60)
    assert lease.take("feed-run:1", alive, 60) and lease.current_holder("feed-run:1") == alive
    assert not lease.take("feed-run:1", lease.holder_id(), 60)  # its holder is this very process: alive
    assert lease.try_acquire("feed-run:2", elsewhere, 60)
    assert not lease.take("feed-run:2", alive, 60)  # another node: only the TTL can tell


def test_a_keeper_renews_until_stopped_then_releases(db):
    holder = lease.holder_id()
    assert lease.try_acquire("kept", holder, 0.4)
    keeper = lease.Keeper("kept", holder, 0.4)
    time.sleep(0.8)
    assert lease.current_holder("kept") == holder  # past the first TTL: renewed
    keeper.stop()
    assert lease.current_holder("kept") is None
