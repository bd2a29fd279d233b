"""`python -m bench [--quick] [--only thumbs,browse,...]`: run the workloads, print a table, write results.json."""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import noise, report
from bench.context import Context
from bench.stats import Row
from bench.workloads import WORKLOADS, select

BENCH_DIR = Path(__file__).resolve().parent


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts: a ~2 minute smoke run")
    parser.add_argument("--only", help=f"comma-separated workloads: {','.join(w.key for w in WORKLOADS)}")
    parser.add_argument("--profile", action="store_true", help="record py-spy profiles of the measured phases")
    parser.add_argument("--keep", action="store_true", help="keep this run's servers, databases and logs")
    parser.add_argument("--data", type=Path, default=BENCH_DIR / ".data",
                        help="generated inputs and scratch (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results.json", help="default: %(default)s")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        chosen = select(args.only)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    args.data.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=args.data))
    profiles = args.data / "profiles" if args.profile else None
    if profiles:
        profiles.mkdir(exist_ok=True)
    ctx = Context(quick=args.quick, inputs=args.data / "inputs", run_dir=run_dir, profile_dir=profiles)
    started, crashed, machine = time.monotonic(), [], report.machine_info()
    try:
        for workload in chosen:
            if not _run_one(ctx, workload):
                crashed.append(workload.key)
    finally:
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    seconds = round(time.monotonic() - started, 1)
    run = {"quick": args.quick, "workloads": [w.key for w in chosen], "seconds": seconds, "crashed": crashed,
           "cpuUsedByOthers": ctx.usage}
    _finish(ctx, args.output, {"run": run, "code": report.code_version(), "machine": machine})
    return 1 if crashed else 0


def _finish(ctx: Context, output: Path, header: dict) -> None:
    """The table, results.json, and a one-line verdict."""
    print(f"\n{report.table(ctx.rows)}\n")
    report.write_results(output, ctx.rows, ctx.notes, header)
    missed = [row for row in ctx.rows if row.passed is False]
    run = header["run"]
    code = header["code"]
    dirty = " with uncommitted changes" if code["uncommittedChanges"] else ""
    print(f"{len(ctx.rows)} figures, {len(missed)} missed targets, {len(run['crashed'])} crashed workloads in "
          f"{run['seconds']} s at commit {code['commit']}{dirty}; results in {output}")
    disturbed = [name for name, used in ctx.usage.items() if used["disturbed"]]
    if disturbed:
        print(f"WARNING: other processes were busy during {', '.join(disturbed)}: run again on a quiet machine")


def _run_one(ctx: Context, workload) -> bool:
    ctx.workload = workload.key
    print(f"\n== {workload.title} ({workload.key})", flush=True)
    started, before = time.monotonic(), noise.mark()
    try:
        importlib.import_module(workload.module).run(ctx)
    except Exception as error:  # one broken workload must not hide the others' figures
        traceback.print_exc()
        ctx.emit(Row("crashed", "", note=f"{type(error).__name__}: {error}"[:300]))
        return False
    finally:
        ctx.note(f"took {time.monotonic() - started:.0f} s")
        used = noise.usage(before)
        if used is not None:
            ctx.note(used.text())
            ctx.usage[workload.key] = {"othersShare": round(used.others_share, 3),
                                       "stealShare": round(used.steal_share, 3), "disturbed": used.disturbed}
    return True


if __name__ == "__main__":
    sys.exit(main())
