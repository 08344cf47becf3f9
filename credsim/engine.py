"""Orchestration: scenario → plan → backend → daily aggregates. Host code only, no per-agent work.

The loop owns the only cross-day coupling of CSM-1, the ``below_mean`` threshold, which needs
yesterday's Σ P: so each day is one kernel call plus a few integer operations here. It also picks
each day's policy in force (CSM-2's schedule, MODEL.md §8.4) and keeps the panel's rows (§8.7).
"""

from __future__ import annotations

import bisect
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import numpy as np

from credsim.backends import NAMES as BACKENDS
from credsim.backends import make_backend
from credsim.backends.base import default_threads, state_bytes_per_agent
from credsim.errors import CredsimError
from credsim.kernel.hash import day_key
from credsim.kernel.layout import C_SUM_P, N_PANEL
from credsim.plan import Plan
from credsim.scenario.model import MAX_DAYS
from credsim.tables import Snapshot, Tables, Timing

#: Names other modules import from here: the day loop's inputs and outputs.
__all__ = ["BACKENDS", "Snapshot", "Tables", "Timing", "check_fits", "default_threads", "estimate_memory",
           "histogram_days", "make_backend", "run_plan"]  # fmt: skip


def available_memory() -> int:
    """Bytes of memory available to this process (MemAvailable), or a large number if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


#: Bytes per row of a long table (regions, histogram, panel) while the output folder and the catalog
#: are written: the row array, its DataFrame (region names included), CSV text and the Parquet copy
#: (measured: about 140 for 3 million region rows, 95 for 2.6 million histogram rows).
WRITE_BYTES_PER_ROW = 200
#: Values of a panel row as int64 (day, agent, MODEL.md §8.7's nine and the events kept out of
#: panel.csv: K agents × days rows).
PANEL_COLUMNS = 12
#: Slack for the interpreter, numba and libraries' own buffers beyond what is counted.
BASE_BYTES = 64 << 20


@dataclass
class MemoryEstimate:
    """Bytes a run needs in this process, by part (see :func:`estimate_memory`)."""

    state: int  # agents' state arrays (in this process for cpu and a local ray)
    accumulators: int  # per-chunk aggregate rows of the CPU kernel
    tables: int  # daily, regions, histogram and panel tables as int64
    writing: int  # transient: long tables as DataFrames, CSV and Parquet while the output is written

    @property
    def peak(self) -> int:
        """During the day loop: state + accumulators + tables; then tables + writing (the state is freed)."""
        return BASE_BYTES + max(self.state + self.accumulators + self.tables, self.tables + self.writing)

    def gib(self) -> str:
        parts = {"state": self.state, "accumulators": self.accumulators, "tables": self.tables,
                 "writing them": self.writing}  # fmt: skip
        return ", ".join(f"{k} {v / 2**30:.2f}" for k, v in parts.items() if v >= 2**20 // 10)


def estimate_memory(plan: Plan, days: int, backend: str = "cpu", panel: int = 0) -> MemoryEstimate:
    """Memory a run of ``days`` days of ``plan`` needs here, before anything is allocated; ``panel``:
    agents followed day by day in a per-agent panel (K × days rows of :data:`PANEL_COLUMNS` int64)."""
    from credsim.kernel.backend import accumulator_shape  # the cpu backend's chunk rows

    regions = plan.layout.n_regions
    hist_rows = len(histogram_days(plan, days)) * plan.hist.bins
    panel_rows = panel * days
    tables = 8 * (days * (2 + len(plan.columns)) + days * regions * 2 + hist_rows + panel_rows * PANEL_COLUMNS)
    local_state = backend == "cpu" or (backend == "ray" and not os.environ.get("RAY_ADDRESS"))
    # a local ray keeps the state in its actors and gathers a copy here for each checkpoint
    state = plan.n * state_bytes_per_agent(plan) * (2 if backend == "ray" else 1) if local_state else 0
    accumulators = 0
    if local_state:
        _, chunks = accumulator_shape(plan)
        accumulators = 8 * max(1, chunks) * (plan.n_cols + 2 * regions)
    writing = WRITE_BYTES_PER_ROW * (days * regions + hist_rows) + 3 * 8 * PANEL_COLUMNS * panel_rows
    return MemoryEstimate(state, accumulators, tables, writing)


def check_fits(plan: Plan, days: int, backend: str = "cpu", panel: int = 0) -> MemoryEstimate:
    """Refuse in one line, before allocating, a run whose state and tables will not fit in this
    machine's available memory (:func:`estimate_memory`)."""
    est = estimate_memory(plan, days, backend, panel)
    have = available_memory()
    if est.peak <= have:
        return est
    n, gib, avail = plan.n, est.peak / 2**30, have / 2**30
    if est.state >= est.peak / 2:
        raise CredsimError(
            f"population: {n:.4g} agents need about {est.state / 2**30:.1f} GiB of state but only "
            f"{avail:.1f} GiB of memory is available ({gib:.1f} GiB in all with the tables)"
        )
    hist_rows = len(histogram_days(plan, days)) * plan.hist.bins
    weights = {"hist-bins": hist_rows * (8 + WRITE_BYTES_PER_ROW),
               "population.regions": days * plan.layout.n_regions * (16 + WRITE_BYTES_PER_ROW),
               "panel": panel * days * 4 * 8 * PANEL_COLUMNS}  # fmt: skip
    field = max(weights, key=weights.get)
    with_panel = f", a panel of {panel:,} agents" if panel else ""
    raise CredsimError(
        f"{field}: {n:,} agents × {days} days with {plan.layout.n_regions:,} regions, {plan.hist.bins} histogram "
        f"bins{with_panel} need about {gib:.2f} GiB of memory (GiB: {est.gib()}) but only {avail:.2f} GiB "
        "is available; use fewer days, regions or bins"
    )


def histogram_days(plan: Plan, days: int) -> list[int]:
    """The days whose public-score histogram is counted: every ``hist.every`` days and the last."""
    return [t for t in range(1, days + 1) if plan.hist.bins and (t % plan.hist.every == 0 or t == days)]


def run_plan(
    plan: Plan,
    days: int,
    backend: str = "cpu",
    *,
    threads: int | None = None,
    shards: int = 1,
    on_day: Callable[[int, int], None] | None = None,
    timing: Timing | None = None,
    checkpoint=None,
    resume_from: Snapshot | None = None,
) -> Tables:
    """Run days 1..days of a compiled plan and collect the tables (MODEL.md §5).

    ``checkpoint`` (see :mod:`credsim.reliability.checkpoint`) is asked ``due(t)`` after each day
    and, when due, given a :class:`Snapshot` to ``save`` (it may raise to stop the run there).
    ``resume_from`` continues a run from a snapshot: the tables are those of an uninterrupted run
    (its ``state`` dict is emptied once the backend holds the state, so only one copy stays in memory).
    """
    if not 1 <= days <= MAX_DAYS:
        raise CredsimError(f"days: must be in 1..{MAX_DAYS}, got {days}")
    check_fits(plan, days, backend, plan.panel)
    with numba_threads_restored():
        return _run_plan(plan, days, backend, threads, shards, on_day, timing, checkpoint, resume_from)


@contextmanager
def numba_threads_restored():
    """Leave numba's thread count (per calling thread) as it was: ``threads=`` is for one run only."""
    import numba

    before = numba.get_num_threads()
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _run_plan(plan, days, backend, threads, shards, on_day, timing, checkpoint, resume_from) -> Tables:
    t0 = time.perf_counter()
    be = make_backend(plan, backend, threads, shards)
    try:
        return _day_loop(be, t0, plan, days, on_day, timing, checkpoint, resume_from)
    finally:  # however the loop ends (done, stopped, failed): hand the backend's resources back now
        be.close()


def _day_loop(be, t0, plan, days, on_day, timing, checkpoint, resume_from) -> Tables:
    be.init()
    lay = plan.layout
    cols = ["day", "threshold", *plan.columns]
    daily = np.zeros((days, len(cols)), np.int64)
    regions = np.zeros((days, lay.n_regions, 2), np.int64)
    hist_days = histogram_days(plan, days)
    hist = np.zeros((len(hist_days), plan.hist.bins), np.int64) if plan.hist.bins else None
    k_panel = plan.panel
    panel = np.zeros((days, k_panel, N_PANEL), np.int16) if k_panel else None
    base = len(plan.columns)
    start, hi, loop_before = 1, 0, 0.0
    if resume_from is not None:
        snap = resume_from
        be.load_state(snap.state)
        snap.state.clear()  # copied into the backend: let the loaded arrays go (a second copy of the state)
        start, sum_prev, loop_before = snap.day + 1, snap.sum_prev, snap.loop_s
        daily[: snap.day] = snap.daily
        regions[: snap.day] = snap.regions
        if hist is not None and snap.hist is not None:
            hi = len(snap.hist)
            hist[:hi] = snap.hist
        if panel is not None and snap.panel is not None:
            panel[: snap.day] = snap.panel
    else:
        sum_prev = be.sum_public0()  # Σ P_0 (MODEL.md §8.5); S0 * N without a list on day 0
    switch_days = [p.day for p in plan.policies]
    t1 = time.perf_counter()
    for t in range(start, days + 1):
        k = bisect.bisect_right(switch_days, t) - 1  # the policy in force on day t (§8.4)
        threshold = plan.threshold(sum_prev, k)
        hist_on = bool(hist_days) and hi < len(hist_days) and hist_days[hi] == t
        row, reg = be.day(t, threshold, day_key(plan.seed, t), hist_on, policy=k)
        daily[t - 1, 0] = t
        daily[t - 1, 1] = threshold
        daily[t - 1, 2:] = row[:base]
        regions[t - 1] = reg
        if hist_on:
            hist[hi] = row[base:]
            hi += 1
        if panel is not None:
            panel[t - 1] = be.panel[:k_panel]
        sum_prev = int(row[C_SUM_P])
        if on_day is not None:
            on_day(t, days)
        if checkpoint is not None and checkpoint.due(t):
            part_hist = None if hist is None else hist[:hi]
            part_panel = None if panel is None else panel[:t]
            loop_s = loop_before + time.perf_counter() - t1
            checkpoint.save(Snapshot(t, sum_prev, be.state(), daily[:t], regions[:t], part_hist, loop_s, part_panel, k))
    t2 = time.perf_counter()
    if timing is not None:
        timing.setup_s, timing.loop_s = t1 - t0, loop_before + t2 - t1
    lo, width = plan.hist.edges(plan.scenario) if plan.hist.bins else (0, 1)
    agents = plan.panel_agents() if k_panel else None
    return Tables(cols, daily, regions, lay.names, hist_days, hist, lo, width, panel, agents)
