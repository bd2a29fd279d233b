"""Our own modules run as child processes of this interpreter, spoken to over their stdin and stdout pipes (the
file watcher, the index's header readers). A child ends when its stdin closes. No Flask here.

Under gevent's monkey-patching `subprocess` is gevent's: the pipes are then cooperative, and so is waiting.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

IMPORT_ROOT = Path(__file__).resolve().parents[1]  # where `services` is importable from, for the children
STOP_TIMEOUT_S = 5.0


def start(module: str, *args: str) -> subprocess.Popen:
    """`python -m <module> <args>` with pipes on stdin and stdout; its stderr is ours (the server's log)."""
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=IMPORT_ROOT,  # noqa: S603
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def end(proc: subprocess.Popen, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Close its stdin (the child ends at end of input), kill it if it lingers past `timeout_s`, wait for it."""
    with contextlib.suppress(OSError):
        proc.stdin.close()  # type: ignore[union-attr]
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()  # type: ignore[union-attr]
