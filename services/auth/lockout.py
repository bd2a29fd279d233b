"""Per-IP lockout after failed password or admin-secret checks, shared through the limiter storage.

Failures 1-4 are free; the 5th locks for 60 s, the 6th 300 s, the 7th 900 s, the 8th and later
3600 s each. The count is forgotten 24 h after the last failure and cleared by a success.

An attempt takes its place before the secret is checked (`reserve`), with the storage's atomic
`incr`, so parallel attempts on every worker and node are admitted exactly: at most four free
checks, then one check at a time whose failure locks, each only once the lock before it is over.
An attempt whose admission hangs on one still being checked is refused (fail closed). Failures
store their timestamps; lock expiry and forgetting are computed from them with an injectable
clock; storage expiries only collect garbage. A success starts a new series instead of deleting keys.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits.storage import Storage

from errors import LimiterUnavailable, LoginLocked
from services.clients import client_address as normalize_ip  # noqa: F401 (moved to services/clients.py)

log = logging.getLogger("photonix.auth")

FREE_FAILURES = 4
LOCK_SCHEDULE_S = (60, 300, 900, 3600)  # for failure 5, 6, 7, and 8+
FORGET_AFTER_S = 24 * 3600
# Storage expiries only collect garbage. A failure's timestamp key lives as long as its locks key
# (created no earlier), so a missing timestamp means "being written right now", never "forgotten".
KEY_TTL_S = 7 * 24 * 3600
KEY_PREFIX = "photonix-lockout"
# A claimed place whose check never ends (a killed worker) is free again after this; a check still
# running then costs at most one extra secret check per CLAIM_TTL_S, and both failures are counted.
CLAIM_TTL_S = 60


def lock_seconds(failures: int) -> int:
    """How long the `failures`-th failure locks the address (0 while still free)."""
    if failures <= FREE_FAILURES:
        return 0
    return LOCK_SCHEDULE_S[min(failures - FREE_FAILURES, len(LOCK_SCHEDULE_S)) - 1]


@dataclass(frozen=True)
class FailureOutcome:
    """What a recorded failure means for the client: a 401 with these hints, or a lock."""

    failures: int
    remaining_attempts: int
    next_lock_s: int


@dataclass(frozen=True)
class Attempt:
    """A reserved place in an address's series: `failure` is the number this attempt's failure would get."""

    ip: str
    series: int
    failure: int


class Lockout:
    """`namespace` keeps a separate series per address for one thing (a share link's password: "share/7"), so
    failures there neither lock nor are unlocked by the gallery's login; log lines still name the address."""

    def __init__(self, storage: Storage, clock: Callable[[], float] = time.time, namespace: str = ""):
        self.storage = storage
        self.clock = clock
        self.prefix = f"{KEY_PREFIX}/{namespace}" if namespace else KEY_PREFIX

    def reserve(self, ip: str) -> Attempt:
        """Take a place for one secret check, or raise LoginLocked: then the secret must not be checked.

        Free places (failures 1-4) are handed out by one atomic counter; a place whose failure would lock
        is taken by one attempt only, and only once the lock before it is over. Refused attempts are never
        counted, so they do not advance the schedule.
        """
        attempt = self._admit(ip, self._get(self._series_key(ip)))
        if attempt is None:  # a day since the last failure: forgotten, start a new series
            attempt = self._take_free_place(ip, self._incr(self._series_key(ip)))
        return attempt

    def record_failure(self, attempt: Attempt, what: str) -> FailureOutcome:
        """Count the attempt's failure; raise LoginLocked if it starts a lock, else return the 401 hints."""
        failure = attempt.failure
        if failure > FREE_FAILURES:  # numbered by an atomic counter: exact even if a claim outlived its TTL
            failure = FREE_FAILURES + self._incr(self._key("locks", attempt.ip, attempt.series))
        now = int(self.clock())
        self._incr(self._key("at", attempt.ip, attempt.series, failure), now)
        locked_s = lock_seconds(failure)
        log.warning("auth failure: %s from %s (failure %d%s)", what, attempt.ip, failure,
                    f", locked {locked_s}s" if locked_s else "")
        if locked_s:
            raise LoginLocked(locked_s)
        return FailureOutcome(failure, FREE_FAILURES + 1 - failure, lock_seconds(FREE_FAILURES + 1))

    def record_success(self, attempt: Attempt) -> None:
        """A success: give the place back, and start a fresh series if anything else was counted in this one."""
        if attempt.failure == 1 and self._incr(self._key("free", attempt.ip, attempt.series), -1) == 0:
            return  # nothing else in this series: it stays as fresh as it was
        self._incr(self._series_key(attempt.ip))

    def _admit(self, ip: str, series: int) -> Attempt | None:
        locks = self._get(self._key("locks", ip, series))
        if locks:
            return self._after_lock(Attempt(ip, series, FREE_FAILURES + locks + 1))
        if self._forgotten(ip, series):
            return None
        return self._take_free_place(ip, series)

    def _take_free_place(self, ip: str, series: int) -> Attempt:
        place = self._incr(self._key("free", ip, series))
        return self._claim(Attempt(ip, series, min(place, FREE_FAILURES + 1)))

    def _after_lock(self, next_attempt: Attempt) -> Attempt | None:
        last = next_attempt.failure - 1
        last_at = self._get(self._key("at", next_attempt.ip, next_attempt.series, last))
        if not last_at:  # being written right now
            raise LoginLocked(lock_seconds(last))
        now = self.clock()
        if now - last_at >= FORGET_AFTER_S:
            return None
        remaining = last_at + lock_seconds(last) - now
        if remaining > 0:
            raise LoginLocked(max(1, int(remaining + 0.999)))
        return self._claim(next_attempt)

    def _claim(self, attempt: Attempt) -> Attempt:
        if attempt.failure <= FREE_FAILURES:
            return attempt
        if self._incr(self._key("claim", attempt.ip, attempt.series, attempt.failure), ttl_s=CLAIM_TTL_S) == 1:
            return attempt
        # Another attempt holds this place and is still being checked; whether this one may go depends on
        # its outcome, so refuse it, for as long as that one would lock if it failed.
        raise LoginLocked(lock_seconds(attempt.failure))

    def _forgotten(self, ip: str, series: int) -> bool:
        """Whether the free failures of this series all ended a day ago (none is still being checked)."""
        handed = min(self._get(self._key("free", ip, series)), FREE_FAILURES)
        times = [self._get(self._key("at", ip, series, n)) for n in range(1, handed + 1)]
        return bool(times) and all(times) and self.clock() - max(times) >= FORGET_AFTER_S

    def _get(self, key: str) -> int:
        return self._guard(lambda: self.storage.get(key))

    def _incr(self, key: str, amount: int = 1, ttl_s: int = KEY_TTL_S) -> int:
        return self._guard(lambda: self.storage.incr(key, ttl_s, amount=amount))

    @staticmethod
    def _guard(operation: Callable[[], int]) -> int:
        try:
            return operation()
        except Exception as exc:  # redis/network errors vary by client version: fail closed
            log.error("lockout storage unavailable: %s", exc)
            raise LimiterUnavailable() from exc

    def _series_key(self, ip: str) -> str:
        return f"{self.prefix}/series/{ip}"

    def _key(self, kind: str, ip: str, series: int, failure: int | None = None) -> str:
        suffix = "" if failure is None else f"/{failure}"
        return f"{self.prefix}/{kind}/{ip}/{series}{suffix}"
