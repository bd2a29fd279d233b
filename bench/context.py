"""What a workload gets: the run's options, folders for cached inputs and scratch, and where to report.

Workloads call `emit(row)` for each figure and `note(text)` for anything a reader of the figures needs.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bench import report
from bench.stats import Row

T = TypeVar("T")


@dataclass
class Context:
    quick: bool
    inputs: Path  # generated inputs, cached between runs (bench/.data/inputs)
    run_dir: Path  # this run's servers, databases and caches; removed at the end unless --keep
    profile_dir: Path | None = None  # py-spy output when --profile was given
    workload: str = ""
    rows: list[Row] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)
    usage: dict[str, dict] = field(default_factory=dict)  # per workload: others' share of the CPU (bench.noise)
    _started: float = field(default_factory=time.monotonic)

    def pick(self, full: T, quick: T) -> T:
        """The full run's count or the quick run's."""
        return quick if self.quick else full

    def scratch(self, name: str) -> Path:
        """A new empty folder for this workload's server or database."""
        path = self.run_dir / self.workload / name
        path.mkdir(parents=True, exist_ok=False)
        return path

    def emit(self, row: Row) -> Row:
        row.workload = self.workload
        self.rows.append(row)
        print(report.line(row), flush=True)
        return row

    def note(self, text: str) -> None:
        self.notes.setdefault(self.workload, []).append(text)
        print(f"  note: {text}", flush=True)

    def log(self, text: str) -> None:
        """Progress for the person watching; not part of the results."""
        print(f"  [{time.monotonic() - self._started:6.1f}s] {text}", file=sys.stderr, flush=True)
