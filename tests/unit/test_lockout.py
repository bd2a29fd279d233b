"""Lockout schedule with a controllable clock, on the real limits memory storage."""

import threading

import pytest
from limits.storage import MemoryStorage

from errors import LimiterUnavailable, LoginLocked
from services.auth.lockout import Lockout, lock_seconds, normalize_ip


class Clock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def lockout(clock):
    return Lockout(MemoryStorage(), clock)


def fail(lockout, ip="198.51.100.7"):
    lockout.check(ip)
    return lockout.record_failure(ip, "bad password")


def test_schedule():
    assert [lock_seconds(n) for n in range(1, 11)] == [0, 0, 0, 0, 60, 300, 900, 3600, 3600, 3600]


def test_first_four_failures_are_free_with_hints(lockout):
    outcomes = [fail(lockout) for _ in range(4)]
    assert [o.remaining_attempts for o in outcomes] == [4, 3, 2, 1]
    assert {o.next_lock_s for o in outcomes} == {60}


@pytest.mark.parametrize("failures, lock_s", [(5, 60), (6, 300), (7, 900), (8, 3600), (9, 3600)])
def test_each_boundary_locks_for_its_time(lockout, clock, failures, lock_s):
    for _ in range(failures - 1):
        try:
            fail(lockout)
        except LoginLocked as locked:
            clock.now += locked.retry_after_s
    with pytest.raises(LoginLocked) as caught:
        fail(lockout)
    assert caught.value.retry_after_s == lock_s  # the failure that starts a lock is itself a 429
    clock.now += lock_s - 1
    with pytest.raises(LoginLocked) as still:
        lockout.check("198.51.100.7")
    assert still.value.retry_after_s == 1
    clock.now += 1
    lockout.check("198.51.100.7")  # unlocked exactly on time


def test_success_clears_only_its_own_address(lockout):
    for _ in range(4):
        fail(lockout, "198.51.100.7")
        fail(lockout, "198.51.100.8")
    lockout.clear("198.51.100.7")
    assert fail(lockout, "198.51.100.7").remaining_attempts == 4
    with pytest.raises(LoginLocked):
        fail(lockout, "198.51.100.8")


def test_count_survives_within_a_day_and_resets_after(lockout, clock):
    for _ in range(3):
        fail(lockout)
    clock.now += 23 * 3600
    assert fail(lockout).failures == 4  # 23 h after the last failure: still counted
    clock.now += 24 * 3600
    assert fail(lockout).failures == 1  # a full day after the last failure: forgotten


def test_parallel_failures_are_counted_exactly(lockout):
    barrier = threading.Barrier(20)

    def attempt():
        barrier.wait()
        try:
            lockout.record_failure("198.51.100.9", "bad password")
        except LoginLocked:
            pass

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert lockout.storage.get(lockout._count_key("198.51.100.9", 0)) == 20
    with pytest.raises(LoginLocked) as caught:
        lockout.check("198.51.100.9")
    assert caught.value.retry_after_s == 3600


def test_ipv4_mapped_ipv6_is_the_same_client():
    assert normalize_ip("::ffff:203.0.113.5") == "203.0.113.5"
    assert normalize_ip("2001:db8::1") == "2001:db8::1"
    assert normalize_ip(None) == "unknown"


def test_storage_failure_fails_closed(clock):
    class Broken(MemoryStorage):
        def get(self, key):
            raise ConnectionError("redis is down")

    with pytest.raises(LimiterUnavailable):
        Lockout(Broken(), clock).check("198.51.100.7")
