"""py-spy around a measured phase (`--profile`): records collapsed stacks of one process and prints where the
on-CPU time went, so a missed target comes with evidence. Does nothing without --profile."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from bench.context import Context

RATE_HZ = 250
ATTACH_S = 0.5  # py-spy needs a moment to attach before the phase starts
STOP_TIMEOUT_S = 30
TOP_FRAMES = 8
PRODUCT_PREFIXES = ("services/", "blueprints/", "models/", "app.py", "config.py", "errors.py", "wsgi.py")


@contextlib.contextmanager
def py_spy(ctx: Context, pid: int, name: str) -> Iterator[None]:
    """Record `pid` (e.g. a gunicorn worker, or os.getpid()) while the body runs; summary as notes.

    Sampling never pauses the process (--nonblocking), so the figures move little. Native frames (--native)
    would need a pause per sample, which slowed a server 50-fold here, and libjpeg's frames have no symbols."""
    prefix = _record(ctx, name)
    if not prefix:
        yield
        return
    log = open(_output(ctx, name).with_suffix(".log"), "wb")  # noqa: SIM115 (closed below, after the process)
    proc = subprocess.Popen([*prefix, "--pid", str(pid)], stdout=log, stderr=subprocess.STDOUT)
    time.sleep(ATTACH_S)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    report(ctx, name)


def launcher(ctx: Context, name: str) -> list[str]:
    """A command prefix that runs a child under py-spy (`[*launcher(...), "--", python, ...]`); [] when not
    profiling. Call report(ctx, name) once the child has ended."""
    return _record(ctx, name)


def report(ctx: Context, name: str) -> None:
    output = _output(ctx, name)
    if output.exists():
        ctx.note(f"profile {output.name}: {summarize(output)}")


def _record(ctx: Context, name: str) -> list[str]:
    if ctx.profile_dir is None:
        return []
    binary = shutil.which("py-spy", path=os.pathsep.join([str(Path(sys.executable).parent), os.defpath]))
    if binary is None:
        ctx.note("py-spy is not installed: no profile (pip install '.[bench]')")
        return []
    return [binary, "record", "--rate", str(RATE_HZ), "--format", "raw", "--output", str(_output(ctx, name)),
            "--nonblocking"]


def _output(ctx: Context, name: str) -> Path:
    return ctx.profile_dir / f"{ctx.workload}-{name}.txt"


def summarize(path: Path, top: int = TOP_FRAMES) -> str:
    """Where the on-CPU samples went: by leaf function (own time), and by the innermost product function on
    the stack (its time including the libraries it called), which says which of our lines to look at."""
    own: Counter[str] = Counter()
    product: Counter[str] = Counter()
    samples = 0
    for text in path.read_text(errors="replace").splitlines():
        stack, _, count = text.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        samples += int(count)
        own[_short(frames[-1])] += int(count)
        ours = [frame for frame in frames if _is_product(frame)]
        product[_short(ours[-1]) if ours else "(outside product code)"] += int(count)
    if not samples:
        return "no samples"

    def share(counter: Counter[str]) -> str:
        return ", ".join(f"{frame} {100 * n / samples:.0f}%" for frame, n in counter.most_common(top))

    return f"{samples} samples; by own time: {share(own)}; by innermost product function: {share(product)}"


def _is_product(frame: str) -> bool:
    where = frame.partition(" (")[2]
    return where.startswith(PRODUCT_PREFIXES)


def _short(frame: str) -> str:
    """`function (path/to/module.py:123)` → `function (module.py)`: lines of one function count together."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1].split(':', 1)[0].rstrip(')')})" if where else name
