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

#: Names other modules import from here: the day loop, its inputs and outputs.
__all__ = [
    "BACKENDS",
    "DayLoop",
    "Snapshot",
    "Tables",
    "Timing",
    "check_fits",
    "default_threads",
    "estimate_memory",
    "finished_tables",
    "histogram_days",
    "make_backend",
    "run_plan",
]


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
        parts = {
            "state": self.state,
            "accumulators": self.accumulators,
            "tables": self.tables,
            "writing them": self.writing,
        }
        return ", ".join(f"{k} {v / 2**30:.2f}" for k, v in parts.items() if v >= 2**20 // 10)


def estimate_memory(plan: Plan, days: int, backend: str = "cpu", panel: int = 0) -> MemoryEstimate:
    """Memory a run of ``days`` days of ``plan`` needs here, before anything is allocated; ``panel``:
    agents followed day by day in a per-agent panel (K × days rows of :data:`PANEL_COLUMNS` int64)."""
    from credsim.backends.cpu import accumulator_shape  # the cpu backend's chunk rows

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
    weights = {
        "hist-bins": hist_rows * (8 + WRITE_BYTES_PER_ROW),
        "population.regions": days * plan.layout.n_regions * (16 + WRITE_BYTES_PER_ROW),
        "panel": panel * days * 4 * 8 * PANEL_COLUMNS,
    }
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
    """Run days 1..days of a compiled plan and collect the tables (MODEL.md §5): a :class:`DayLoop`
    run to its end, its backend closed however it ends.

    ``checkpoint`` (see :mod:`credsim.reliability.checkpoint`) is asked ``due(t)`` after each day
    and, when due, given a :class:`Snapshot` to ``save`` (it may raise to stop the run there).
    ``resume_from`` continues a run from a snapshot: the tables are those of an uninterrupted run
    (its ``state`` dict is emptied once the backend holds the state, so only one copy stays in memory).
    """
    with numba_threads_restored(), DayLoop(plan, days, backend, threads=threads, shards=shards) as loop:
        if resume_from is None:
            loop.init()
        else:
            loop.restore(resume_from)
        while loop.day < days:
            t = loop.step()
            if on_day is not None:
                on_day(t, days)
            if checkpoint is not None and checkpoint.due(t):
                checkpoint.save(loop.snapshot())
        return loop.tables(timing)


@contextmanager
def numba_threads_restored():
    """Leave numba's thread count (per calling thread) as it was: ``threads=`` is for one run only."""
    import numba

    before = numba.get_num_threads()
    try:
        yield
    finally:
        numba.set_num_threads(before)


def finished_tables(
    plan: Plan, days: int, daily: np.ndarray, regions: np.ndarray, hist: np.ndarray | None, panel: np.ndarray | None
) -> Tables:
    """The :class:`Tables` of a run of ``days`` days of ``plan`` from its arrays (a day loop's, or
    a checkpoint's finished ones)."""
    lo, width = plan.hist.edges(plan.scenario) if plan.hist.bins else (0, 1)
    agents = plan.panel_agents() if plan.panel else None
    cols = ["day", "threshold", *plan.columns]
    return Tables(cols, daily, regions, plan.layout.names, histogram_days(plan, days), hist, lo, width, panel, agents)


class DayLoop:
    """A run of ``days`` days of a plan as a cursor: :meth:`init` (day 0) or :meth:`restore` (a
    snapshot's day), then :meth:`step` one day at a time or :meth:`run` to a day; :meth:`snapshot`
    at any day is what a checkpoint keeps, :meth:`tables` at the end what a run returns.

    It owns the only cross-day coupling of CSM-1, the ``below_mean`` threshold (yesterday's Σ P),
    and picks each day's policy in force (§8.4). A context manager: leaving it closes the backend,
    however the run ends (done, stopped, failed)."""

    def __init__(self, plan: Plan, days: int, backend: str = "cpu", *, threads: int | None = None, shards: int = 1):
        if not 1 <= days <= MAX_DAYS:
            raise CredsimError(f"days: must be in 1..{MAX_DAYS}, got {days}")
        check_fits(plan, days, backend, plan.panel)
        self.t0 = time.perf_counter()
        self.plan, self.days = plan, days
        self.backend = make_backend(plan, backend, threads, shards)
        lay = plan.layout
        self.daily = np.zeros((days, 2 + len(plan.columns)), np.int64)
        self.regions = np.zeros((days, lay.n_regions, 2), np.int64)
        self.hist_days = histogram_days(plan, days)
        self.hist = np.zeros((len(self.hist_days), plan.hist.bins), np.int64) if plan.hist.bins else None
        self.panel = np.zeros((days, plan.panel, N_PANEL), np.int16) if plan.panel else None
        self.switch_days = [p.day for p in plan.policies]
        self.day = 0  # days done
        self.sum_prev = 0  # Σ P of the last day done (day 0: Σ P_0)
        self.policy = 0  # the policy in force on the last day done
        self.hi = 0  # histogram rows filled
        self.loop_before = 0.0  # day-loop seconds of the run before a restore
        self.t1: float | None = None  # when the day loop started (after init or restore)

    def __enter__(self) -> DayLoop:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Hand the backend's resources back now (actors, device memory); idempotent."""
        be, self.backend = self.backend, None
        if be is not None:
            be.close()

    def init(self) -> None:
        """Day 0: the backend's initial state and Σ P_0 (MODEL.md §3, §8.5; S0 * N without a list)."""
        self.backend.init()
        self.sum_prev = self.backend.sum_public0()
        self.t1 = time.perf_counter()

    def restore(self, snap: Snapshot) -> None:
        """Continue from a snapshot (its ``state`` dict is emptied once the backend holds the state,
        so only one copy stays in memory); the tables are then those of an uninterrupted run."""
        self.backend.init()
        self.backend.load_state(snap.state)
        snap.state.clear()  # copied into the backend: let the loaded arrays go (a second copy of the state)
        self.day, self.sum_prev, self.loop_before, self.policy = snap.day, snap.sum_prev, snap.loop_s, snap.policy
        self.daily[: snap.day] = snap.daily
        self.regions[: snap.day] = snap.regions
        if self.hist is not None and snap.hist is not None:
            self.hi = len(snap.hist)
            self.hist[: self.hi] = snap.hist
        if self.panel is not None and snap.panel is not None:
            self.panel[: snap.day] = snap.panel
        self.t1 = time.perf_counter()

    def step(self) -> int:
        """Run the next day; returns its number t."""
        plan, be = self.plan, self.backend
        t = self.day + 1
        if t > self.days:
            raise ValueError(f"day loop: all {self.days} days are done")
        k = bisect.bisect_right(self.switch_days, t) - 1  # the policy in force on day t (§8.4)
        threshold = plan.threshold(self.sum_prev, k)
        hist_on = bool(self.hist_days) and self.hi < len(self.hist_days) and self.hist_days[self.hi] == t
        row, reg = be.day(t, threshold, day_key(plan.seed, t), hist_on, policy=k)
        base = len(plan.columns)
        self.daily[t - 1, 0] = t
        self.daily[t - 1, 1] = threshold
        self.daily[t - 1, 2:] = row[:base]
        self.regions[t - 1] = reg
        if hist_on:
            self.hist[self.hi] = row[base:]
            self.hi += 1
        if self.panel is not None:
            self.panel[t - 1] = be.panel[: plan.panel]
        self.sum_prev = int(row[C_SUM_P])
        self.day, self.policy = t, k
        return t

    def run(self, until: int | None = None) -> None:
        """Run days up to ``until`` (default: the last)."""
        until = self.days if until is None else until
        while self.day < until:
            self.step()

    @property
    def loop_s(self) -> float:
        """Seconds in the day loop so far (with those before a restore)."""
        return self.loop_before + (time.perf_counter() - self.t1 if self.t1 is not None else 0.0)

    def snapshot(self) -> Snapshot:
        """The run at the end of the last day done: all it needs to continue exactly."""
        t = self.day
        hist = None if self.hist is None else self.hist[: self.hi]
        panel = None if self.panel is None else self.panel[:t]
        return Snapshot(
            t,
            self.sum_prev,
            self.backend.state(),
            self.daily[:t],
            self.regions[:t],
            hist,
            self.loop_s,
            panel,
            self.policy,
        )

    def tables(self, timing: Timing | None = None) -> Tables:
        """The run's tables (all days done); ``timing`` gets the set-up and day-loop seconds."""
        if timing is not None:
            t2 = time.perf_counter()
            timing.setup_s, timing.loop_s = self.t1 - self.t0, self.loop_before + t2 - self.t1
        return finished_tables(self.plan, self.days, self.daily, self.regions, self.hist, self.panel)
