"""Test scripts run as processes of their own (e.g. under gevent's monkey-patching, which must not touch the test
process), with the checkout importable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_script(tmp_path: Path, source: str, *args: str, timeout_s: float = 60) -> Any:
    """Write `source` to a file under tmp_path, run it with `args`, and return the JSON of its last line of
    output; an AssertionError with its stderr when it fails."""
    script = tmp_path / "script.py"
    script.write_text(source)
    done = subprocess.run([sys.executable, str(script), *args], cwd=ROOT, env={"PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
