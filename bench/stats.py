"""Figures of a benchmark: distribution summaries, targets, and one reported row per measured metric.

Pure data and arithmetic: no I/O, no timing, no product imports.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

_OPS = {"<=": operator.le, ">=": operator.ge}


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); `fraction` in [0, 1]."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Summary:
    n: int
    min: float
    median: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            return cls(0, math.nan, math.nan, math.nan, math.nan, math.nan)
        return cls(len(values), min(values), percentile(values, 0.5), percentile(values, 0.95),
                   percentile(values, 0.99), max(values))

    def scaled(self, factor: float) -> Summary:
        """The same distribution in another unit (e.g. seconds → milliseconds with 1000)."""
        return Summary(self.n, *(getattr(self, k) * factor for k in ("min", "median", "p95", "p99", "max")))


@dataclass(frozen=True)
class Target:
    """`stat op limit`, e.g. Target("median", "<=", 55, "ms"); stat names a Row figure."""

    stat: str  # median | p95 | p99 | value | ratio
    op: str  # <= | >=
    limit: float
    unit: str = ""

    def text(self) -> str:
        sign = "≤" if self.op == "<=" else "≥"
        unit = "×" if self.stat == "ratio" and not self.unit else self.unit
        return f"{self.stat} {sign} {self.limit:g}{' ' if unit and unit != '×' else ''}{unit}"


@dataclass
class Row:
    """One measured metric. `summary` holds a distribution, `value` a single figure (e.g. images/s)."""

    metric: str
    unit: str
    summary: Summary | None = None
    value: float | None = None
    reference: str | None = None  # what the ratio compares with, measured in the same run
    reference_value: float | None = None
    ratio: float | None = None
    target: Target | None = None
    note: str = ""
    workload: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def figure(self, stat: str) -> float | None:
        if stat in ("value", "ratio"):
            return getattr(self, stat)
        return getattr(self.summary, stat) if self.summary is not None else None

    @property
    def passed(self) -> bool | None:
        """None when there is no target (or nothing was measured)."""
        if self.target is None:
            return None
        found = self.figure(self.target.stat)
        if found is None or math.isnan(found):
            return False
        return _OPS[self.target.op](found, self.target.limit)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = None if self.target is None else {**asdict(self.target), "text": self.target.text()}
        data["passed"] = self.passed
        return data


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference or math.isnan(value) or math.isnan(reference):
        return None
    return value / reference
