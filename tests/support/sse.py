"""A Server-Sent Events client for the integration tests: reads one stream on its own thread."""

from __future__ import annotations

import threading
import time

import requests


class EventStream:
    """Collects `(id, event, data)` per event (through `record`, which subclasses may change) and counts
    heartbeat comments; `wait(predicate)` polls until the predicate holds or fails with the last events."""

    def __init__(self, url: str, headers: dict | None = None, session: requests.Session | None = None):
        self.response = (session or requests).get(url + "/api/events", stream=True, timeout=(5, 60),
                                                  headers=headers or {})
        self.events: list[tuple] = []
        self.comments = 0
        self.ended = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def record(self, event_id: str | None, kind: str, data: str) -> None:
        self.events.append((event_id, kind, data))

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line == "":
                    if "event" in fields:
                        self.record(fields.get("id"), fields["event"], fields.get("data", ""))
                    fields = {}
                elif line.startswith(":"):
                    self.comments += 1
                else:
                    key, _, value = line.partition(": ")
                    fields[key] = value
        except (requests.RequestException, AttributeError, ValueError):
            pass
        finally:
            self.ended.set()

    def wait(self, predicate, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate(self):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        else:
            return
        tail = [event[:2] for event in self.events[-5:]]
        raise AssertionError(f"timed out; {len(self.events)} events, last {tail}, ended {self.ended.is_set()}")

    def kinds(self) -> list[str]:
        return [event[1] for event in self.events]

    def close(self) -> None:
        self.response.close()
