"""Per-IP lockout after failed password or admin-secret checks, shared through the limiter storage.

Failures 1-4 are free; the 5th locks for 60 s, the 6th 300 s, the 7th 900 s, the 8th and later
3600 s each. The count is forgotten 24 h after the last failure and cleared by a success.

Every failure takes a unique ordinal from the storage's atomic `incr` (so parallel failures on
several workers are counted exactly) and stores its own timestamp under that ordinal. Lock
expiry and forgetting are computed from those timestamps with an injectable clock; storage
expiries only collect garbage. A success starts a new series instead of deleting keys.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits.storage import Storage

from errors import LimiterUnavailable, LoginLocked

log = logging.getLogger("photonix.auth")

FREE_FAILURES = 4
LOCK_SCHEDULE_S = (60, 300, 900, 3600)  # for failure 5, 6, 7, and 8+
FORGET_AFTER_S = 24 * 3600
# Storage expiries only collect garbage. A failure's timestamp key lives as long as its count key
# (created no earlier), so a missing timestamp means "being written right now", never "forgotten".
KEY_TTL_S = 7 * 24 * 3600
KEY_PREFIX = "photonix-lockout"


def lock_seconds(failures: int) -> int:
    """How long the `failures`-th failure locks the address (0 while still free)."""
    if failures <= FREE_FAILURES:
        return 0
    return LOCK_SCHEDULE_S[min(failures - FREE_FAILURES, len(LOCK_SCHEDULE_S)) - 1]


def normalize_ip(address: str | None) -> str:
    """One key per client: IPv4-mapped IPv6 is the IPv4 address; anything unparsable is itself."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


@dataclass(frozen=True)
class FailureOutcome:
    """What a recorded failure means for the client: a 401 with these hints, or a lock."""

    failures: int
    remaining_attempts: int
    next_lock_s: int


class Lockout:
    def __init__(self, storage: Storage, clock: Callable[[], float] = time.time):
        self.storage = storage
        self.clock = clock

    def check(self, ip: str) -> None:
        """Raise LoginLocked while `ip` is locked; the secret must not even be checked then."""
        series, failures, last_at = self._state(ip)
        if failures == 0:
            return
        now = self.clock()
        if now - last_at >= FORGET_AFTER_S:
            self._guard(lambda: self.storage.incr(self._series_key(ip), KEY_TTL_S))
            return
        remaining = last_at + lock_seconds(failures) - now
        if remaining > 0:
            raise LoginLocked(max(1, int(remaining + 0.999)))

    def record_failure(self, ip: str, what: str) -> FailureOutcome:
        """Count one failure; raise LoginLocked if it starts a lock, else return the 401 hints."""
        series = self._guard(lambda: self.storage.get(self._series_key(ip)))
        failures = self._guard(lambda: self.storage.incr(self._count_key(ip, series), KEY_TTL_S))
        now = int(self.clock())
        self._guard(lambda: self.storage.incr(self._failure_key(ip, series, failures), KEY_TTL_S, now))
        locked_s = lock_seconds(failures)
        log.warning("auth failure: %s from %s (failure %d%s)", what, ip, failures,
                    f", locked {locked_s}s" if locked_s else "")
        if locked_s:
            raise LoginLocked(locked_s)
        return FailureOutcome(failures, FREE_FAILURES + 1 - failures, lock_seconds(FREE_FAILURES + 1))

    def clear(self, ip: str) -> None:
        """A success: start a fresh series for `ip` (only if it has failures, to spare the storage)."""
        series, failures, _ = self._state(ip)
        if failures:
            self._guard(lambda: self.storage.incr(self._series_key(ip), KEY_TTL_S))

    def _state(self, ip: str) -> tuple[int, int, float]:
        series = self._guard(lambda: self.storage.get(self._series_key(ip)))
        failures = self._guard(lambda: self.storage.get(self._count_key(ip, series)))
        if failures == 0:
            return series, 0, 0.0
        last_at = self._guard(lambda: self.storage.get(self._failure_key(ip, series, failures)))
        return series, failures, float(last_at) if last_at else self.clock()

    @staticmethod
    def _guard(operation: Callable[[], int]) -> int:
        try:
            return operation()
        except Exception as exc:  # redis/network errors vary by client version: fail closed
            log.error("lockout storage unavailable: %s", exc)
            raise LimiterUnavailable() from exc

    @staticmethod
    def _series_key(ip: str) -> str:
        return f"{KEY_PREFIX}/series/{ip}"

    @staticmethod
    def _count_key(ip: str, series: int) -> str:
        return f"{KEY_PREFIX}/count/{ip}/{series}"

    @staticmethod
    def _failure_key(ip: str, series: int, ordinal: int) -> str:
        return f"{KEY_PREFIX}/at/{ip}/{series}/{ordinal}"
