"""How much of the machine others used while a workload ran: CPU time of the whole machine (/proc/stat) minus
the CPU time of this benchmark and every child it has reaped (servers, scans, probes), plus the hypervisor's
steal. Figures taken while others were busy are not comparable; the runner says so next to them."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
BUSY_FIELDS = (0, 1, 2, 5, 6)  # user nice system irq softirq (not idle, iowait, steal)
STEAL_FIELD = 7
DISTURBED_SHARE = 0.05  # others using more than this share of all cores is worth a warning


@dataclass(frozen=True)
class _Mark:
    wall_s: float
    machine_busy_s: float
    steal_s: float
    ours_s: float


@dataclass(frozen=True)
class Usage:
    wall_s: float
    others_share: float  # of all cores over the wall time
    steal_share: float

    @property
    def disturbed(self) -> bool:
        return self.others_share > DISTURBED_SHARE or self.steal_share > DISTURBED_SHARE

    def text(self) -> str:
        return (f"other processes used {100 * self.others_share:.0f}% of the machine's CPU and the hypervisor "
                f"took {100 * self.steal_share:.0f}% (steal) during this workload"
                + ("; its figures are disturbed" if self.disturbed else ""))


def mark() -> _Mark | None:
    """Now, for usage(); None where /proc/stat does not exist."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    times = os.times()
    ours = times.user + times.system + times.children_user + times.children_system
    return _Mark(time.monotonic(), sum(fields[i] for i in BUSY_FIELDS) / TICKS_PER_S,
                 fields[STEAL_FIELD] / TICKS_PER_S, ours)


def usage(start: _Mark | None) -> Usage | None:
    """Others' share since `start`. Exact once every child started since then has been reaped."""
    end = mark()
    if start is None or end is None:
        return None
    capacity = (end.wall_s - start.wall_s) * (os.cpu_count() or 1)
    others = (end.machine_busy_s - start.machine_busy_s) - (end.ours_s - start.ours_s)
    return Usage(end.wall_s - start.wall_s, max(0.0, others) / capacity, (end.steal_s - start.steal_s) / capacity)
