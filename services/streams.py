"""Concurrent event streams per client in this process, so one client cannot hold every connection. A client is
its key from services/clients.py (an IPv4 address or an IPv6 network); a stream gives its slot back when it ends,
which blueprints/events.py makes happen as soon as the client hangs up.

Counts live in process memory: a worker that dies takes its counts with it. With several workers the
cap applies per worker (each stream is one long request on one worker).
"""

from __future__ import annotations

import threading
from collections import Counter


class StreamSlots:
    def __init__(self, max_per_ip: int):
        self.max_per_ip = max_per_ip
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()

    def acquire(self, ip: str) -> bool:
        """Take a slot for client key `ip`; False when it already has max_per_ip streams open here."""
        with self._lock:
            if self._open[ip] >= self.max_per_ip:
                return False
            self._open[ip] += 1
            return True

    def release(self, ip: str) -> None:
        with self._lock:
            self._open[ip] -= 1
            if self._open[ip] <= 0:
                del self._open[ip]

    def open_streams(self) -> int:
        with self._lock:
            return sum(self._open.values())
