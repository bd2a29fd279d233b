"""Waiting in tests for a state, never for a time: poll a condition until it holds, with a deadline that is
only a failsafe (reached only when the code under test is wrong); count calls and hold them at a gate the
test releases, so that a race is decided by the test and a "nothing happened" becomes a count."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

FAILSAFE_S = 10.0
POLL_S = 0.001


def until(condition: Callable[[], object], what: str = "the expected state was never reached",
          timeout_s: float = FAILSAFE_S) -> None:
    """Return as soon as `condition()` is true; fail with `what` if it is not within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(POLL_S)


def counting(monkeypatch: Any, owner: Any, name: str, gate: threading.Event | None = None) -> list[tuple]:
    """Replace `owner.<name>` (for the test) by a wrapper that appends each call's positional arguments to the
    returned list and then, when `gate` is given, holds the call until the test sets the gate (FAILSAFE_S at
    most), before calling the original. The list grows as a call starts, before it is held."""
    calls: list[tuple] = []
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if gate is not None:
            gate.wait(FAILSAFE_S)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls
