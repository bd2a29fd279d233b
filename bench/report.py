"""Printing and saving results: one line per row as it is measured, the final table, and results.json
with the machine it ran on. Knows nothing about how figures are measured."""

from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.stats import Row

PACKAGES = ("pillow", "gunicorn", "gevent", "flask", "peewee", "bcrypt", "requests", "pyvips", "pyvips-binary",
            "py-spy")
COLUMNS = ("workload", "metric", "n", "min", "median", "p95", "p99", "unit", "reference", "ratio", "target", "result")


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, OS and the versions that matter for these figures."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "ramGiB": _ram_gib(), "kernel": platform.release(),
            "loadAverageAtStart": [round(load, 2) for load in os.getloadavg()],  # others' work would show here
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "libvips": _libvips(),
            "packages": versions}


def code_version() -> dict[str, Any]:
    """The product commit measured, and whether files outside bench/ differed from it."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", ".", ":(exclude)bench")
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommittedChanges": bool(changed) if changed is not None
            else None}


def number(value: float | None) -> str:
    """Three significant digits, no exponent for the sizes seen here."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def cells(row: Row) -> dict[str, str]:
    s = row.summary
    result = {None: "", True: "PASS", False: "FAIL"}[row.passed]
    reference = f"{row.reference} {number(row.reference_value)}" if row.reference else ""
    return {
        "workload": row.workload, "metric": row.metric, "n": str(s.n) if s else "",
        "min": number(s.min) if s else "", "median": number(s.median) if s else _value(row),
        "p95": number(s.p95) if s else "", "p99": number(s.p99) if s else "", "unit": row.unit,
        "reference": reference, "ratio": f"{row.ratio:.3f}×" if row.ratio is not None else "",
        "target": row.target.text() if row.target else "", "result": result,
    }


def _value(row: Row) -> str:
    # A ratio compared with a target such as ≥ 1.7 needs its third decimal (1.699 is not 1.70).
    return f"{row.value:.3f}" if row.unit == "×" and row.value is not None else number(row.value)


def line(row: Row) -> str:
    """One row for the running log."""
    c = cells(row)
    figures = (f"n={c['n']} min {c['min']} median {c['median']} p95 {c['p95']} p99 {c['p99']} {c['unit']}"
               if row.summary else f"{c['median']} {c['unit']}")
    parts = [f"  {row.metric}: {figures}"]
    if c["reference"]:
        parts.append(f"ref {c['reference']} → {c['ratio']}")
    if c["target"]:
        parts.append(f"target {c['target']} {c['result']}")
    return " | ".join(parts) + (f"  ({row.note})" if row.note else "")


def table(rows: list[Row]) -> str:
    """A Markdown table of every row (pasteable into bench/README.md)."""
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        c = cells(row)
        out.append("| " + " | ".join(c[name] for name in COLUMNS) + " |")
    return "\n".join(out)


def write_results(path: Path, rows: list[Row], notes: dict[str, list[str]], header: dict[str, Any]) -> None:
    """results.json: the date, `header` (the run's options and duration, the machine), each workload's rows
    and notes."""
    workloads: dict[str, Any] = {}
    for row in rows:
        workloads.setdefault(row.workload, {"rows": [], "notes": []})["rows"].append(row.as_json())
    for name, texts in notes.items():
        workloads.setdefault(name, {"rows": [], "notes": []})["notes"].extend(texts)
    body = {"date": datetime.now(UTC).isoformat(timespec="seconds"), **header, "workloads": workloads}
    path.write_text(json.dumps(_clean(body), indent=2, allow_nan=False) + "\n")


def _clean(value: Any) -> Any:
    """JSON has no NaN: an unmeasured figure becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def _cpu_model() -> str:
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                return text.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        total_kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return None
    return round(total_kib / 1024 / 1024, 1)


def _libvips() -> str | None:
    try:
        import pyvips
    except Exception:  # noqa: BLE001 (any failure to load libvips means "not available")
        return None
    return f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
