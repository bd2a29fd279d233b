"""A latency probe in a process of its own, so load-generating threads never delay its clock or its requests.

`python -m bench.probe URL INTERVAL_MS` GETs URL every INTERVAL_MS on one keep-alive connection until its
stdin closes (at most MAX_S), then prints JSON [[start, seconds, status], ...] (start: time.monotonic(),
which is the same clock in every process on Linux). `HealthProbe` runs it from a workload.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import requests

MAX_S = 300  # a probe nobody stops still ends
REQUEST_TIMEOUT_S = 10
STOP_TIMEOUT_S = 30
Sample = tuple[float, float, int]  # (start, seconds, HTTP status; 0 for a failed request)


class HealthProbe:
    """`with HealthProbe(url, 10) as probe: ...; samples = probe.stop()`."""

    def __init__(self, url: str, interval_ms: float) -> None:
        self.command = [sys.executable, "-m", "bench.probe", url, str(interval_ms)]
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> HealthProbe:
        self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        return self

    def stop(self) -> list[Sample]:
        out, _ = self.proc.communicate(input="", timeout=STOP_TIMEOUT_S)  # closing stdin ends the loop
        if self.proc.returncode != 0:
            raise RuntimeError(f"the probe {' '.join(self.command)} exited with {self.proc.returncode}")
        return [tuple(sample) for sample in json.loads(out)]

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def between(samples: list[Sample], start: float, end: float) -> list[float]:
    """Seconds of the requests that started in [start, end)."""
    return [seconds for started, seconds, _ in samples if start <= started < end]


def probe(url: str, interval_s: float) -> list[Sample]:
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    samples: list[Sample] = []
    deadline = time.monotonic() + MAX_S
    next_at = time.monotonic()
    with requests.Session() as session:
        while not stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            try:
                status = session.get(url, timeout=REQUEST_TIMEOUT_S).status_code
            except requests.RequestException:
                status = 0
            samples.append((started, time.monotonic() - started, status))
            next_at = max(next_at + interval_s, time.monotonic())  # late: go on at once, never catch up in bursts
            time.sleep(max(0.0, next_at - time.monotonic()))
    return samples


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1], float(sys.argv[2]) / 1000)))
