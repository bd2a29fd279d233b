"""Waiting in tests for a state, never for a time: poll a condition until it holds, with a deadline that is
only a failsafe (reached only when the code under test is wrong)."""

from __future__ import annotations

import time
from collections.abc import Callable

FAILSAFE_S = 10.0
POLL_S = 0.001


def until(condition: Callable[[], object], what: str = "the expected state was never reached",
          timeout_s: float = FAILSAFE_S) -> None:
    """Return as soon as `condition()` is true; fail with `what` if it is not within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(POLL_S)
