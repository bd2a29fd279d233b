"""The decode memory budget: the bytes of decoded pixels one process may hold at once, and the estimate of a
decode's bytes from an opened image's header (after any JPEG draft()), before anything is decoded.

Never decodes and never imports Flask. Wait and release in the caller's greenlet or thread, never on a
services.cpu pool thread: under gevent `threading` is monkey-patched, so the Condition here is gevent's, which
parks a waiting greenlet while the hub runs on, and which a native thread must not block on.
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image

MIB = 1024 * 1024
DEFAULT_BYTES = 512 * MIB  # PHOTONIX_DECODE_MEMORY_MB's default
ONE_BYTE_MODES = frozenset({"1", "L", "P"})  # Pillow keeps "1" in a byte per pixel, too
# libheif decodes into a buffer of its own, which is then copied into Pillow's
DOUBLE_BUFFERED_FORMATS = frozenset({"HEIF", "AVIF"})
# Pillow allocates pixels in blocks (16 MiB by default). glibc raises its mmap threshold to the size of a freed
# mapped block (up to 32 MiB), after which such blocks come from the allocating thread's malloc arena and stay
# there once freed: four pool threads decoding one 309 MiB PNG at a time, in turn, kept 1.3 GB resident. Blocks
# above 32 MiB are always mapped on their own and given back when freed (the same run: 0.36 GB peak).
PIXEL_BLOCK_BYTES = 64 * MIB


class OverBudget(Exception):
    """A decode that needs more than the whole budget: it would never be admitted."""

    def __init__(self, need: int, total: int):
        super().__init__(f"{math.ceil(need / MIB)} MiB needed, the decode memory budget is {total // MIB} MiB")
        self.need, self.total = need, total


def estimate(image: Image.Image) -> int:
    """Bytes that decoding `image` at its current size and mode allocates: width × height × bytes per pixel as
    Pillow stores them (1 for "1", "L" and "P", 2 for 16-bit "I;16…" modes, else 4: three 8-bit bands are
    padded to four, and "I" and "F" are 32-bit). Call it after draft(), which makes a JPEG decode smaller."""
    if image.mode in ONE_BYTE_MODES:
        per_pixel = 1
    elif image.mode.startswith("I;16"):
        per_pixel = 2
    else:
        per_pixel = 4
    copies = 2 if image.format in DOUBLE_BUFFERED_FORMATS else 1
    return image.width * image.height * per_pixel * copies


class Budget:
    """A counter of bytes with first-come, first-served admission; `total` bytes may be held at once."""

    def __init__(self, total: int):
        if total < 1:
            raise ValueError(f"a decode budget needs at least one byte, not {total}")
        self.total = total
        self.used = 0
        self._queue: collections.deque[object] = collections.deque()
        # Made here, so the Budget must be made after gevent's monkey-patching (shared() is, lazily).
        self._changed = threading.Condition()

    @property
    def waiting(self) -> int:
        """Callers waiting for bytes right now."""
        return len(self._queue)

    @contextmanager
    def hold(self, need: int) -> Iterator[None]:
        """Hold `need` bytes for the body, waiting (in this greenlet or thread) until they are free and every
        earlier waiter was admitted, so a big decode is never overtaken for ever by small ones. Raises
        OverBudget at once when `need` exceeds the whole budget; 0 or less holds nothing."""
        if need > self.total:
            raise OverBudget(need, self.total)
        if need <= 0:
            yield
            return
        self._acquire(need)
        try:
            yield
        finally:
            with self._changed:
                self.used -= need
                self._changed.notify_all()

    def _acquire(self, need: int) -> None:
        ticket = object()
        with self._changed:
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or self.used + need > self.total:
                    self._changed.wait()
            finally:
                self._queue.remove(ticket)
                self._changed.notify_all()  # the next in line may fit too (or may now be first)
            self.used += need


_lock = threading.Lock()  # held only for an assignment: never across a wait
_shared: Budget | None = None


def configure(total: int) -> Budget:
    """Make the process-wide budget `total` bytes (Config.decode_memory_mb) and return it; also makes Pillow
    allocate pixels in PIXEL_BLOCK_BYTES blocks, so that freed pixels leave the process."""
    global _shared
    budget = Budget(total)
    with _lock:
        _shared = budget
        Image.core.set_block_size(PIXEL_BLOCK_BYTES)
    return budget


def shared() -> Budget:
    """The process-wide budget; as configure(DEFAULT_BYTES) made it until configure() is called."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = Budget(DEFAULT_BYTES)
            Image.core.set_block_size(PIXEL_BLOCK_BYTES)
        return _shared
