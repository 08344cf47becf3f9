"""The runs of a sensitivity design: in this process, over a pool of local processes, or as Ray
tasks; each finished run stored in the catalog in batches (opening the catalog costs more than a
small run) and every stored run reused."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from credsim.api import simulate
from credsim.results.run import RunResult
from credsim.results.store import Catalog, code_version
from credsim.scenario import Scenario

#: Finished runs go to the catalog in batches (one connection and one transaction per batch: opening
#: a DuckDB database costs 50-150 ms here, more than storing a small run); a run waits at most
#: STORE_EVERY_S seconds to be stored, which is what an interrupted analysis can lose.
STORE_BATCH = 32
STORE_EVERY_S = 15.0


# -- runs -------------------------------------------------------------------------------------------


@dataclass
class Job:
    """One run: a scenario (a design point or a baseline) at one seed."""

    key: tuple[str, int]  # (scenario hash, seed)
    name: str
    scenario: Scenario
    seed: int


def _run_batch(batch: list[Job], population: int, days: int, threads: int | None) -> list[RunResult]:
    """Run a batch of jobs in this process (a pool worker keeps its loaded kernel between batches)."""
    return [simulate(j.scenario, population, days, j.seed, threads=threads, name=j.name) for j in batch]


def stored_runs(catalog: Catalog | None, population: int, days: int) -> dict[tuple[str, int], str]:
    """(scenario hash, seed) → run id of every complete stored run of this size and code version
    without a histogram (what :meth:`Catalog.find` would match, all in one query)."""
    if catalog is None or not catalog.path.exists():
        return {}
    with catalog.connect() as con:
        rows = con.execute(
            "SELECT scenario_hash, seed, run_id FROM runs WHERE complete AND population = ? AND days = ? "
            "AND code_version = ? AND hist_bins = 0 ORDER BY created_at",
            [population, days, code_version()],
        ).fetchall()
    return {(h, int(s)): run_id for h, s, run_id in rows}


def stored_daily(catalog: Catalog, run_ids: list[str]) -> dict[str, pd.DataFrame]:
    """The daily tables of stored runs, in one query."""
    if not run_ids:
        return {}
    with catalog.connect() as con:
        df = con.execute(
            "SELECT run_id, day, col, metric, value FROM daily WHERE run_id IN (SELECT unnest(?)) "
            "ORDER BY run_id, day, col",
            [run_ids],
        ).df()
    out = {}
    for run_id, part in df.groupby("run_id", sort=False):
        n_cols = int(part["col"].max()) + 1
        cols = part["metric"].iloc[:n_cols].tolist()
        out[run_id] = pd.DataFrame(part["value"].to_numpy(np.int64).reshape(-1, n_cols), columns=cols)
    return out


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def execute(
    jobs: list[Job],
    population: int,
    days: int,
    catalog: Catalog | None,
    *,
    workers: int = 1,
    on_run: Callable[[int, int], None] | None = None,
) -> dict[tuple[str, int], pd.DataFrame]:
    """Run the jobs → daily table by job key, storing finished runs in the catalog in batches.

    With ``$RAY_ADDRESS`` set: batches as Ray tasks on the cluster, one CPU each. Otherwise ``workers``
    > 1: a pool of that many processes, each running batches on one thread; 1: here, on all cores.
    ``on_run(done, total)`` after each finished run. Finished runs are stored at least
    every :data:`STORE_EVERY_S` seconds and whenever :data:`STORE_BATCH` are waiting (opening the
    catalog costs more than storing a small run), and before an error or an interrupt propagates,
    so an interrupted analysis resumes from every run it finished."""
    total = len(jobs)
    out: dict[tuple[str, int], pd.DataFrame] = {}
    waiting: list[RunResult] = []
    last_store = time.monotonic()

    def flush() -> None:
        nonlocal waiting, last_store
        if catalog is not None and waiting:
            catalog.add_many(waiting)
        waiting, last_store = [], time.monotonic()

    def finished(results: list[RunResult], batch: list[Job]) -> None:
        for result, job in zip(results, batch):
            out[job.key] = result.daily
            waiting.append(result)
            if on_run is not None:
                on_run(len(out), total)
        if len(waiting) >= STORE_BATCH or time.monotonic() - last_store >= STORE_EVERY_S:
            flush()

    if not jobs:
        return out
    try:
        if os.environ.get("RAY_ADDRESS"):
            _run_ray(jobs, population, days, finished)
        elif workers <= 1 or total == 1:
            for job in jobs:
                finished(_run_batch([job], population, days, None), [job])
        else:
            _run_pool(jobs, population, days, min(workers, total), finished)
    finally:
        flush()
    return out


def _run_pool(jobs: list[Job], population: int, days: int, workers: int, finished) -> None:
    """The jobs in batches over a pool of processes, one thread each; ``finished`` per batch."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    size = max(1, min(STORE_BATCH, len(jobs) // (workers * 8)))  # small batches: steady progress, balanced ends
    batches = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    # spawn, not fork: numba's threading layer must not be forked from a process already using it
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        pending = {pool.submit(_run_batch, b, population, days, 1): b for b in batches}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    finished(fut.result(), pending.pop(fut))
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


def _run_ray(jobs: list[Job], population: int, days: int, finished) -> None:
    """The jobs in batches as Ray tasks on the cluster at ``$RAY_ADDRESS``, one CPU and one thread each
    (a worker process keeps its loaded kernel between tasks); ``finished`` per batch."""
    from credsim.backends.ray.pool import ensure_ray, run_tasks

    ray = ensure_ray()
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    size = max(1, min(STORE_BATCH, len(jobs) // (cpus * 8)))
    batches = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    run_tasks(
        ray,
        _run_batch,
        batches,
        lambda batch: (batch, population, days, 1),
        lambda batch, results: finished(results, batch),
        prefix="sensitivity",
        label=lambda batch: f"run {batch[0].name} seed {batch[0].seed}",
        lost_label=lambda batch: f"a batch from {batch[0].name}",
    )
