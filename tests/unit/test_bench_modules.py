"""`make bench` is not part of `make test`, so a workload that no longer imports would only show as a crashed
row in the next bench run (it happened: a helper moved from bench.sse to bench.server). Import each one here."""

from __future__ import annotations

import importlib

import pytest

from bench.workloads import WORKLOADS


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.key)
def test_every_workload_imports_and_has_run(workload):
    module = importlib.import_module(workload.module)
    assert callable(module.run)
