"""One index scan in a process of its own: `python -m bench.index_scan ROOT DATABASE` (an SQLite file, or a
postgresql:// URL) prints JSON with the scan's seconds, its counts and the process's max RSS. Workload 3 runs it,
so RSS is the scanner's alone."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

CPU_THREADS = 2  # services.cpu.configure(2), as on the 2-core target machine
KIB = 1024
MB = 1_000_000


def main(root: Path, database: str) -> dict:
    from services import cpu
    from services.database import bind_database, close_connection, init_db, open_database
    from services.gallery.index import Indexer

    bind_database(open_database(url_of(database)))
    init_db()
    cpu.configure(CPU_THREADS)
    started = time.perf_counter()
    stats = Indexer(root).scan()
    seconds = time.perf_counter() - started
    close_connection()
    cpu.shutdown()
    return {**stats.as_event(), "seconds": seconds, "maxRssMB": peak_rss_kib() * KIB / MB}


def url_of(database: str | Path) -> str:
    """A database URL for an SQLite file's path or a postgresql:// URL."""
    return str(database) if str(database).startswith("postgresql://") else f"sqlite:///{database}"


def peak_rss_kib() -> int:
    """This process's peak RSS. Not getrusage's ru_maxrss: Linux carries that over from the parent through
    fork and exec, so it would report the benchmark's own size when that is larger."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the best there is


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2])))
