"""The workloads of issue 9, in run order. Each is one module with `run(ctx: Context)`: adding one is a new
module plus one line here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Workload:
    key: str  # what --only names
    title: str  # the number and name
    module: str  # imported only when the workload runs
    default: bool = True  # part of a run without --only (scale is not: a million files take ~15 minutes alone)


WORKLOADS = (
    Workload("thumbs", "1 Thumbnails", "bench.thumbs"),
    Workload("browse", "2 Browse", "bench.browse"),
    Workload("index", "3 Index", "bench.index"),
    Workload("sse", "4 SSE", "bench.sse"),
    Workload("hub", "5 Hub stalls", "bench.hub"),
    Workload("downloads", "6 Downloads", "bench.downloads"),
    Workload("auth", "7 Auth path", "bench.auth"),
    Workload("soak", "8 Soak (issue 10)", "bench.soak"),
    Workload("details", "9 Details (issue 21)", "bench.details"),
    Workload("browser", "10 Browser (issue 20)", "bench.browser"),
    Workload("zip", "11 Zip (issue 22)", "bench.zips"),
    Workload("scale", "12 Scale (issue 24)", "bench.scale", default=False),
    Workload("albums", "13 Albums and video (issue 23)", "bench.albums_video"),
)


def select(only: str | None) -> list[Workload]:
    """The workloads named in a comma-separated `only` (the default ones when None); unknown names raise
    ValueError."""
    if not only:
        return [w for w in WORKLOADS if w.default]
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    known = {w.key: w for w in WORKLOADS}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ValueError(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return [w for w in WORKLOADS if w.key in wanted]
