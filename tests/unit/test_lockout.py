"""Lockout schedule and reservations with a controllable clock, on the real limits memory storage."""

import threading

import pytest
from limits.storage import MemoryStorage

from errors import LimiterUnavailable, LoginLocked
from services.auth import lockout as lockout_module
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


IP = "198.51.100.7"


def fail(lockout, ip=IP):
    return lockout.record_failure(lockout.reserve(ip), "bad password")


def succeed(lockout, ip=IP):
    lockout.record_success(lockout.reserve(ip))


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
        lockout.reserve(IP)
    assert still.value.retry_after_s == 1
    clock.now += 1
    assert lockout.reserve(IP).failure == failures + 1  # unlocked exactly on time; refusals took no place


def test_success_clears_only_its_own_address(lockout):
    for _ in range(4):
        fail(lockout, "198.51.100.7")
        fail(lockout, "198.51.100.8")
    succeed(lockout, "198.51.100.7")
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


def reserve_at_once(lockout, count, ip=IP):
    """`count` threads reserve at the same moment: the places taken, and the LoginLocked of the others."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def attempt(n):
        barrier.wait(10)
        try:
            results[n] = lockout.reserve(ip)
        except LoginLocked as locked:
            results[n] = locked

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    refused = [r for r in results if isinstance(r, LoginLocked)]
    return sorted((r for r in results if r not in refused), key=lambda a: a.failure), refused


def test_parallel_reservations_admit_four_free_places_and_one_that_locks(lockout):
    attempts, refused = reserve_at_once(lockout, 20)
    assert [a.failure for a in attempts] == [1, 2, 3, 4, 5]
    assert [r.retry_after_s for r in refused] == [60] * 15  # fail closed while the 5th is being checked
    by_place = {a.failure: a for a in attempts}
    with pytest.raises(LoginLocked) as caught:
        lockout.record_failure(by_place[5], "bad password")  # the 5th finishes first: it locks
    assert caught.value.retry_after_s == 60
    outcomes = [lockout.record_failure(by_place[n], "bad password") for n in (4, 3, 2, 1)]
    assert [o.remaining_attempts for o in outcomes] == [1, 2, 3, 4]
    with pytest.raises(LoginLocked):
        lockout.reserve(IP)


def test_a_place_that_would_lock_is_held_by_one_attempt_at_a_time(lockout, clock):
    for _ in range(4):
        fail(lockout)
    fifth = lockout.reserve(IP)
    for _ in range(3):  # whether these may go hangs on the 5th, still being checked: refused, uncounted
        with pytest.raises(LoginLocked) as refused:
            lockout.reserve(IP)
        assert refused.value.retry_after_s == 60
    with pytest.raises(LoginLocked):
        lockout.record_failure(fifth, "bad password")
    clock.now += 60
    sixth = lockout.reserve(IP)
    assert sixth.failure == 6
    with pytest.raises(LoginLocked) as refused:
        lockout.reserve(IP)
    assert refused.value.retry_after_s == 300
    lockout.record_success(sixth)
    assert fail(lockout).remaining_attempts == 4  # the success started a new series


def test_a_success_while_others_are_checked_starts_a_new_series(lockout):
    first, second, third = (lockout.reserve(IP) for _ in range(3))
    lockout.record_success(second)
    for attempt in (first, third):  # they end in the old series, which no longer counts
        lockout.record_failure(attempt, "bad password")
    assert lockout.reserve(IP).failure == 1


def test_a_lone_success_gives_its_place_back_without_a_new_series(lockout):
    succeed(lockout)
    assert lockout.storage.get(lockout._series_key(IP)) == 0
    assert fail(lockout).failures == 1


def test_a_claim_whose_check_never_ends_is_released_after_its_ttl(lockout, monkeypatch):
    monkeypatch.setattr(lockout_module, "CLAIM_TTL_S", 0)  # as if CLAIM_TTL_S had passed
    for _ in range(4):
        fail(lockout)
    lost = lockout.reserve(IP)  # its worker dies: it never records anything
    retry = lockout.reserve(IP)
    assert lost.failure == retry.failure == 5
    with pytest.raises(LoginLocked) as caught:
        lockout.record_failure(retry, "bad password")
    assert caught.value.retry_after_s == 60


def test_a_lock_is_forgotten_a_day_after_its_failure(lockout, clock):
    for _ in range(4):
        fail(lockout)
    with pytest.raises(LoginLocked):
        fail(lockout)
    clock.now += 24 * 3600 - 1
    assert lockout.reserve(IP).failure == 6
    clock.now += 1
    assert fail(lockout).failures == 1


def test_ipv4_mapped_ipv6_is_the_same_client():
    assert normalize_ip("::ffff:203.0.113.5") == "203.0.113.5"
    assert normalize_ip("2001:db8::1") == "2001:db8::1"
    assert normalize_ip(None) == "unknown"


def test_storage_failure_fails_closed(clock):
    class Broken(MemoryStorage):
        def get(self, key):
            raise ConnectionError("redis is down")

    with pytest.raises(LimiterUnavailable):
        Lockout(Broken(), clock).reserve("198.51.100.7")
