"""Workload 3c's edits to a generated tree of small JPEGs: a seeded mix of added, modified and deleted files,
and putting every touched file back as the generator made it (so the cached tree stays valid)."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from bench import data

ADDED_SHARE, MODIFIED_SHARE = 0.4, 0.3  # the rest are deletions
MODIFIED_MTIME_S = 86_400  # a modified file is a day newer


@dataclass
class Changes:
    added: list[Path] = field(default_factory=list)
    originals: list[tuple[str, int]] = field(default_factory=list)  # (folder, index) modified or deleted
    counts: dict[str, int] = field(default_factory=dict)


def apply(root: Path, layout: data.Layout, count: int, seed: int, done: Changes | None = None) -> Changes:
    """Make `count` changes to files nobody touched yet (`done` lists earlier rounds)."""
    rng = random.Random(seed)
    changes = Changes()
    touched = set(done.originals) if done else set()
    adds, modifies = int(count * ADDED_SHARE), int(count * MODIFIED_SHARE)
    for number in range(adds):
        folder = rng.choice(layout)[0]
        path = root / folder / f"bench_new_{seed}_{number}.jpg"
        path.write_bytes(data.small_variants()[number % data.SMALL_VARIANTS])
        changes.added.append(path)
    for number in range(count - adds):
        folder, files = rng.choice(layout)
        index = rng.randrange(files)
        while (folder, index) in touched:
            folder, files = rng.choice(layout)
            index = rng.randrange(files)
        touched.add((folder, index))
        changes.originals.append((folder, index))
        if number < modifies:
            _modify(root, folder, index)
        else:
            (root / folder / data.small_name(index)).unlink()
    changes.counts = {"added": adds, "updated": modifies, "removed": count - adds - modifies}
    return changes


def restore(root: Path, rounds: list[Changes]) -> None:
    """Undo every round: remove the added files, write the originals again."""
    for changes in rounds:
        for path in changes.added:
            path.unlink(missing_ok=True)
        for folder, index in changes.originals:
            data.write_small(root, folder, index)


def _modify(root: Path, folder: str, index: int) -> None:
    path = data.write_small(root, folder, index, variant_shift=1)
    mtime = path.stat().st_mtime + MODIFIED_MTIME_S
    os.utime(path, (mtime, mtime))
