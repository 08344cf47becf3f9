"""Global sensitivity analysis of the scorecard: which parameters drive the verdict, over whole ranges.

``credsim sensitivity essay-plus --ranges RANGES.toml --method sobol --samples 64`` draws a design
over the ranges (SALib: Saltelli's scheme on a scrambled Sobol' sequence, or Morris trajectories),
runs the scenario at every design point with seeds s..s+K-1, scores each run against ``baseline``
with the same seed (common random numbers, as ``credsim compare``), and apportions the variance of
every scorecard metric (its mean over the K seeds) to the parameters:

* ``sobol``: first-order (S1) and total (ST) Sobol' indices, each with a 95% bootstrap interval
  (SALib's ``conf``, the half-width); N × (D + 2) design points for D parameters.
* ``morris``: elementary effects, mu* (mean absolute effect, with a 95% bootstrap interval) and
  sigma (their spread: interactions or non-linearity); N × (D + 1) design points.

RANGES.toml names scenario fields by the dotted paths of ``[[schedule]]`` entries (MODEL.md §8.4)::

    "channel.public_misconduct.detect" = [0.2, 0.9]
    "blacklist.min_stay" = [0, 90]          # an integer field: sampled as integers 0..90

A path the schedule may not set (the population, the score range, day 0, names and kinds) is
refused, and so are booleans and texts. Integer fields take whole values: a design coordinate u in
[0, 1) becomes ``low + floor(u × (high − low + 1))``. A field that describes the world rather than
the system (a channel's or activity's ``base``: :data:`credsim.results.scorecard.WORLD_FIELDS`) is
set in the baseline too, so each design point is scored against the same world without the system.

Every run is looked up in the catalog first (same scenario, population, days, seed and code) and
stored as soon as it finishes, so an interrupted analysis resumes where it stopped and a rerun runs
nothing. Runs are spread over local processes, each running whole batches on one thread with the
day kernel numba compiled once (its cache: no recompilation per process).
"""

from __future__ import annotations

import math
import os
import tomllib
import time
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from credsim.api import parse_count, parse_seed, resolve, simulate
from credsim.errors import CredsimError, ScenarioError
from credsim.results.run import RunResult
from credsim.results.scorecard import WORLD_FIELDS, check_comparable, metric_label, metric_order, scorecard
from credsim.results.store import Catalog, code_version
from credsim.scenario import Scenario, scenario_hash
from credsim.scenario.loader import read_text_file, validate
from credsim.scenario.model import MAX_DAYS

METHODS = ("sobol", "morris")
#: Scorecard entries behind the verdict's sentences (absolute counts), not separate metrics here.
HIDDEN = ("offences_prevented", "listed_person_days")
#: Most design points × seeds of one analysis (a typo should not start a million runs).
MAX_RUNS = 200_000
#: Finished runs go to the catalog in batches (one connection and one transaction per batch: opening
#: a DuckDB database costs 50-150 ms here, more than storing a small run); a run waits at most
#: STORE_EVERY_S seconds to be stored, which is what an interrupted analysis can lose.
STORE_BATCH = 32
STORE_EVERY_S = 15.0
MAX_SAMPLES = 1 << 16
MAX_SEEDS = 1000
#: Morris grid levels; bootstrap resamples of both methods.
MORRIS_LEVELS = 4
RESAMPLES = 1000
#: Ranges files are small; a larger file is refused before it is parsed.
MAX_RANGES_BYTES = 1 << 20


# -- the ranges file -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """One varied field: its schedule path, bounds, whether it is an integer, and whether it describes
    the world (then the baseline gets the same value)."""

    path: str
    low: float
    high: float
    integer: bool = False
    world: bool = False

    def value(self, u: float) -> int | float:
        """The field's value at design coordinate ``u`` (SALib's sample scaled to [low, high])."""
        if not self.integer:
            return float(u)
        return int(min(self.high, math.floor(u)))


def _flatten(doc: dict, prefix: str = "") -> dict:
    """``{"channel": {"x": {"detect": [..]}}}`` (dotted keys unquoted) → ``{"channel.x.detect": [..]}``."""
    out = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, path + "."))
        else:
            out[path] = value
    return out


def _field_type(path: str) -> type | None:
    """int, float or another type of the model field at a (syntactically valid) schedule path."""
    from credsim.scenario import Scenario

    parts = path.split(".")
    info = Scenario.schedule_models()[parts[0]].model_fields[parts[-1]]
    ann = info.annotation
    args = [a for a in typing.get_args(ann) if a is not type(None)] if typing.get_origin(ann) else [ann]
    return args[0] if len(args) == 1 else None


def _set_path(data: dict, path: str, value) -> None:
    """Set ``path`` in a scenario's plain data with the schedule's own rules (MODEL.md §8.4), raising
    CredsimError with the schedule's refusal (``_Refused``) otherwise."""
    from credsim.scenario import Scenario
    from credsim.scenario.schedule import _Refused, _set_one

    try:
        _set_one(data, 0, path, value, Scenario.schedule_models())
    except _Refused as err:
        raise CredsimError(f'"{path}": {err.msg}') from None


def _is_world(path: str) -> bool:
    parts = path.split(".")
    return parts[0] in ("channel", "activity") and parts[-1] in WORLD_FIELDS[parts[0]]


def _plain(scenario: Scenario) -> dict:
    return scenario.model_dump(mode="json", exclude_none=True)


def with_values(scenario: Scenario, values: dict[str, int | float], source: str) -> Scenario:
    """A copy of ``scenario`` with the fields at ``values``' paths set, validated as a scenario file
    (pydantic rules, its schedule, and the plan's checks); ScenarioError naming the field otherwise."""
    data = _plain(scenario)
    for path, value in values.items():
        _set_path(data, path, value)
    return validate(data, source)


def parse_ranges(
    text: str, scenario: Scenario, baseline: Scenario | None = None, source: str = "ranges"
) -> list[Range]:
    """Parse and check a ranges document against the scenario (and the baseline, for world fields)."""
    try:
        doc = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as err:
        raise CredsimError(f"{source}: not valid TOML: {err}") from None
    flat = _flatten(doc)
    if not flat:
        raise CredsimError(f'{source}: no ranges (write one per line: "channel.NAME.FIELD" = [low, high])')
    out: list[Range] = []
    for path, bounds in flat.items():
        where = f'{source}: "{path}"'
        try:
            _set_path(_plain(scenario), path, 0)  # the schedule's refusals: unknown or fixed paths
        except CredsimError as err:
            raise CredsimError(f"{source}: {err}") from None
        kind = _field_type(path)
        if kind is bool or kind not in (int, float):
            raise CredsimError(f"{where}: only a numeric field can vary, and this one is not a number")
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or any(isinstance(b, bool) or not isinstance(b, (int, float)) for b in bounds)
        ):
            raise CredsimError(f"{where}: expected [low, high], two numbers, got {bounds!r}")
        low, high = bounds
        if not all(math.isfinite(b) for b in bounds):
            raise CredsimError(f"{where}: low and high must be finite numbers, got {bounds!r}")
        if not low < high:
            raise CredsimError(f"{where}: low ({low:g}) must be below high ({high:g})")
        integer = kind is int
        if integer and (low != int(low) or high != int(high)):
            raise CredsimError(f"{where}: an integer field: low and high must be whole numbers, got {bounds!r}")
        world = _is_world(path)
        for name, bound in (("low", low), ("high", high)):
            value = int(bound) if integer else float(bound)
            try:
                with_values(scenario, {path: value}, source)
                if world and baseline is not None:
                    with_values(baseline, {path: value}, f"{source} (baseline)")
            except (ScenarioError, CredsimError) as err:
                msg = str(err).split(": ", 1)[-1] if str(err).startswith(source) else str(err)
                raise CredsimError(f"{where}: {name} {value:g} is outside the field's validity: {msg}") from None
        out.append(Range(path, float(low), float(high), integer, world))
    return out


def load_ranges(path: str | os.PathLike, scenario: Scenario, baseline: Scenario | None = None) -> list[Range]:
    """Read and check a ranges TOML file (:func:`parse_ranges`)."""
    try:
        text = read_text_file(Path(path), "ranges", CredsimError, MAX_RANGES_BYTES)
    except CredsimError as err:
        msg = str(err)
        raise CredsimError(msg if msg.startswith("ranges") else f"ranges: {msg}") from None
    return parse_ranges(text, scenario, baseline, f"ranges {path}")


# -- the design -------------------------------------------------------------------------------------


def problem(ranges: list[Range]) -> dict:
    """SALib's problem: integer fields span [low, high + 1) so that flooring gives each whole value
    an equal share of the design."""
    return {
        "num_vars": len(ranges),
        "names": [r.path for r in ranges],
        "bounds": [[r.low, r.high + 1.0 if r.integer else r.high] for r in ranges],
    }


def design(ranges: list[Range], method: str, samples: int, seed: int) -> np.ndarray:
    """The design matrix (points × parameters, SALib's scaled coordinates); deterministic in ``seed``."""
    rng_seed = seed % (1 << 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SALib: "N should be a power of 2" (the docs say so)
        if method == "sobol":
            from SALib.sample import sobol

            return sobol.sample(problem(ranges), samples, calc_second_order=False, seed=rng_seed)
        from SALib.sample import morris

        return morris.sample(problem(ranges), samples, num_levels=MORRIS_LEVELS, seed=rng_seed)


def design_size(n_params: int, method: str, samples: int) -> int:
    return samples * (n_params + 2 if method == "sobol" else n_params + 1)


def point_values(ranges: list[Range], row) -> dict[str, int | float]:
    return {r.path: r.value(u) for r, u in zip(ranges, row)}


def _describe(values: dict) -> str:
    return ", ".join(f"{p}={v:g}" if isinstance(v, float) else f"{p}={v}" for p, v in values.items())


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


def _stored_runs(catalog: Catalog | None, population: int, days: int) -> dict[tuple[str, int], str]:
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


def _stored_daily(catalog: Catalog, run_ids: list[str]) -> dict[str, pd.DataFrame]:
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
    from credsim.backends.ray.pool import ensure_ray

    ray = ensure_ray()
    from ray.exceptions import RayError, RayTaskError

    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    size = max(1, min(STORE_BATCH, len(jobs) // (cpus * 8)))
    task = ray.remote(num_cpus=1, max_retries=1)(_run_batch)
    index = {
        task.remote(jobs[i : i + size], population, days, 1): jobs[i : i + size] for i in range(0, len(jobs), size)
    }
    pending = list(index)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            batch = index[ready[0]]
            try:
                results = ray.get(ready[0])
            except RayTaskError as err:
                cause = getattr(err, "cause", None)
                text = str(cause) if isinstance(cause, CredsimError) else str(err).splitlines()[0]
                raise CredsimError(f"sensitivity: run {batch[0].name} seed {batch[0].seed} failed: {text}") from None
            except RayError as err:
                raise CredsimError(
                    f"sensitivity: a batch from {batch[0].name} was lost: {str(err).splitlines()[0]}"
                ) from None
            finished(results, batch)
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise


# -- the analysis ----------------------------------------------------------------------------------


@dataclass
class Sensitivity:
    """The outcome: the design, each metric's output per design point and its indices."""

    scenario: str
    baseline: str
    method: str
    samples: int
    population: int
    days: int
    seeds: list[int]
    ranges: list[Range]
    metrics: list[str]
    design: np.ndarray  # points × parameters (SALib's coordinates)
    outputs: np.ndarray  # points × metrics: the mean over seeds of each scorecard metric
    indices: dict[str, dict] = field(default_factory=dict)  # metric → {"note": str|None, "rows": [...]}
    runs: dict[str, int] = field(default_factory=dict)  # total, reused, new

    def ranked(self, metric: str) -> list[dict]:
        """The parameters of one metric, most influential first (ST or mu*; NaN last)."""
        key = "ST" if self.method == "sobol" else "mu_star"
        rows = self.indices[metric]["rows"]
        return sorted(rows, key=lambda r: -r[key] if r[key] == r[key] else math.inf)

    def to_json(self) -> dict:
        def clean(x):
            return None if isinstance(x, float) and x != x else x

        return {
            "scenario": self.scenario,
            "baseline": self.baseline,
            "method": self.method,
            "samples": self.samples,
            "design_points": int(self.design.shape[0]),
            "population": self.population,
            "days": self.days,
            "seeds": self.seeds,
            "runs": self.runs,
            "interval": "95% bootstrap interval (SALib conf: the half-width), "
            f"{RESAMPLES} resamples of the design points",
            "parameters": [
                {
                    "path": r.path,
                    "low": int(r.low) if r.integer else r.low,
                    "high": int(r.high) if r.integer else r.high,
                    "integer": r.integer,
                    "also_in_baseline": r.world,
                }
                for r in self.ranges
            ],
            "metrics": {
                m: {
                    "unit": metric_label(m)[0],
                    "description": metric_label(m)[1],
                    "note": self.indices[m]["note"],
                    "over_design": self.spread(j),
                    "indices": [{k: clean(v) for k, v in row.items()} for row in self.ranked(m)],
                }
                for j, m in enumerate(self.metrics)
            },
        }

    def spread(self, j: int) -> dict:
        """How metric j's output (mean over seeds) spreads over the design points: min, median, max, and
        the number of points where it is positive, zero, negative and undefined."""
        y = self.outputs[:, j]
        ok = y[~np.isnan(y)]
        stats = (
            {"min": float(ok.min()), "median": float(np.median(ok)), "max": float(ok.max())}
            if ok.size
            else {"min": None, "median": None, "max": None}
        )
        return {
            **stats,
            "positive": int((ok > 0).sum()),
            "zero": int((ok == 0).sum()),
            "negative": int((ok < 0).sum()),
            "undefined": int(np.isnan(y).sum()),
        }


def known_metrics(scenario: Scenario) -> list[str]:
    """The scorecard metrics of a scenario (what its card holds, in order), hidden counts left out."""
    from credsim.plan import compile_plan

    cols = ["day", "threshold", *compile_plan(scenario, 1, 0).columns]
    zero = pd.DataFrame(np.zeros((1, len(cols)), np.int64), columns=cols)
    return [m for m in scorecard(zero, scenario, zero, 1) if m not in HIDDEN]


@dataclass
class Prepared:
    """What an analysis will run, all checked: the design's scenarios and jobs."""

    name: str
    scenario: Scenario
    base_name: str
    base: Scenario
    ranges: list[Range]
    method: str
    samples: int
    population: int
    days: int
    seeds: list[int]
    metrics: list[str]
    design: np.ndarray
    points: list[Scenario]  # per design point
    point_bases: list[Scenario]  # the baseline of each point (world fields applied)
    jobs: list[Job]  # unique (scenario, seed) runs


def prepare(
    scenario,
    ranges: list[Range] | str | os.PathLike,
    *,
    method: str = "sobol",
    samples: int = 64,
    seeds: int = 1,
    population=10_000,
    days=120,
    seed=1,
    baseline: str = "baseline",
    metrics: list[str] | None = None,
) -> Prepared:
    """Check everything and build the design before anything runs (one-line CredsimError otherwise)."""
    if method not in METHODS:
        raise CredsimError(f"method: must be one of {', '.join(METHODS)}, got {method!r}")
    for what, v, top in (("samples", samples, MAX_SAMPLES), ("seeds", seeds, MAX_SEEDS)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= top:
            raise CredsimError(f"{what}: must be a whole number in 1..{top}, got {v!r}")
    n, d, s = parse_count(population), parse_count(days, "days"), parse_seed(seed)
    if not 1 <= d <= MAX_DAYS:
        raise CredsimError(f"days: must be in 1..{MAX_DAYS}, got {d}")
    if s + seeds - 1 >= 1 << 64:
        raise CredsimError(f"seeds: seeds {s}..{s + seeds - 1} pass the largest seed 2^64-1")
    name, sc = resolve(scenario)
    base_name, base = resolve(baseline)
    if name == base_name:
        raise CredsimError(f"sensitivity: the scenario {name!r} is the baseline; vary a scenario against it")
    check_comparable(sc, base, name, days=d)
    if not isinstance(ranges, list):
        ranges = load_ranges(ranges, sc, base)
    known = known_metrics(sc)
    if metrics:
        for m in metrics:
            if m not in known:
                raise CredsimError(f"metric: unknown metric {m!r} for {name} (known: {', '.join(known)})")
        metrics = list(dict.fromkeys(metrics))
    else:
        metrics = known
    points_n = design_size(len(ranges), method, samples)
    if points_n * seeds > MAX_RUNS:
        raise CredsimError(f"samples: {points_n:,} design points × {seeds} seeds is more than {MAX_RUNS:,} runs")
    x = design(ranges, method, samples, s)
    points, point_bases = [], []
    base_cache: dict[tuple, Scenario] = {}
    for i, row in enumerate(x):
        values = point_values(ranges, row)
        where = f"design point {i} ({_describe(values)})"
        points.append(with_values(sc, values, f"sensitivity: {where} makes {name} invalid"))
        world = {p: v for p, v in values.items() if any(r.path == p and r.world for r in ranges)}
        wkey = tuple(sorted(world.items()))
        if wkey not in base_cache:
            base_cache[wkey] = with_values(base, world, f"sensitivity: {where} makes the baseline invalid")
        point_bases.append(base_cache[wkey])
    jobs: dict[tuple[str, int], Job] = {}
    for seed_k in range(s, s + seeds):
        for b in base_cache.values():
            key = (scenario_hash(b), seed_k)
            jobs.setdefault(key, Job(key, base_name, b, seed_k))
        for i, p in enumerate(points):
            key = (scenario_hash(p), seed_k)
            jobs.setdefault(key, Job(key, f"{name}-sa{i}", p, seed_k))
    return Prepared(
        name,
        sc,
        base_name,
        base,
        ranges,
        method,
        samples,
        n,
        d,
        list(range(s, s + seeds)),
        metrics,
        x,
        points,
        point_bases,
        list(jobs.values()),
    )


def run_analysis(
    prep: Prepared,
    catalog: Catalog | None = None,
    *,
    workers: int | None = None,
    on_run: Callable[[int, int], None] | None = None,
    on_plan: Callable[[int, int], None] | None = None,
) -> Sensitivity:
    """Run what the catalog lacks, score every design point against its baseline, and compute the
    indices. ``on_plan(to_run, reused)`` once the catalog was read; ``on_run(done, to_run)`` per run."""
    stored = _stored_runs(catalog, prep.population, prep.days)
    todo = [j for j in prep.jobs if j.key not in stored]
    reused = {j.key: stored[j.key] for j in prep.jobs if j.key in stored}
    if on_plan is not None:
        on_plan(len(todo), len(reused))
    daily = execute(todo, prep.population, prep.days, catalog, workers=workers or default_workers(), on_run=on_run)
    by_id = _stored_daily(catalog, list(reused.values())) if reused else {}
    for key, run_id in reused.items():
        daily[key] = by_id[run_id]
    y = np.full((len(prep.points), len(prep.metrics)), np.nan)
    for i, (p, b) in enumerate(zip(prep.points, prep.point_bases)):
        per_seed = []
        for seed_k in prep.seeds:
            card = scorecard(daily[(scenario_hash(p), seed_k)], p, daily[(scenario_hash(b), seed_k)], prep.population)
            per_seed.append([card[m] for m in prep.metrics])
        y[i] = np.mean(np.array(per_seed, float), axis=0)  # NaN if a seed's figure is undefined
    result = Sensitivity(
        prep.name,
        prep.base_name,
        prep.method,
        prep.samples,
        prep.population,
        prep.days,
        prep.seeds,
        prep.ranges,
        prep.metrics,
        prep.design,
        y,
        runs={"total": len(prep.jobs), "reused": len(reused), "new": len(todo)},
    )
    for j, m in enumerate(prep.metrics):
        result.indices[m] = analyse(prep.ranges, prep.method, prep.design, y[:, j], prep.seeds[0])
    return result


def analyse(ranges: list[Range], method: str, x: np.ndarray, y: np.ndarray, seed: int) -> dict:
    """Indices of one metric: ``{"note": None or why there are none, "rows": [per parameter]}``.

    A metric undefined at some design point (NaN: e.g. no appeal decided) or constant over the design
    (nothing to apportion) gets NaN indices and a note saying which."""
    names = [r.path for r in ranges]
    keys = ("S1", "S1_conf", "ST", "ST_conf") if method == "sobol" else ("mu_star", "mu_star_conf", "sigma", "mu")
    nan_rows = [{"parameter": p, **{k: math.nan for k in keys}} for p in names]
    bad = int(np.isnan(y).sum())
    if bad:
        return {"note": f"undefined at {bad} of {len(y)} design points", "rows": nan_rows}
    if np.ptp(y) == 0:
        return {"note": f"constant ({y[0]:g}) over the whole design", "rows": nan_rows}
    rng_seed = seed % (1 << 32)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if method == "sobol":
            from SALib.analyze import sobol

            si = sobol.analyze(
                problem(ranges), y, calc_second_order=False, num_resamples=RESAMPLES, conf_level=0.95, seed=rng_seed
            )
        else:
            from SALib.analyze import morris

            si = morris.analyze(
                problem(ranges), x, y, num_resamples=RESAMPLES, conf_level=0.95, num_levels=MORRIS_LEVELS, seed=rng_seed
            )
    rows = [{"parameter": p, **{k: float(si[k][i]) for k in keys}} for i, p in enumerate(names)]
    return {"note": None, "rows": rows}


def sensitivity(
    scenario,
    ranges,
    *,
    catalog: Catalog | None = None,
    workers: int | None = None,
    on_run: Callable[[int, int], None] | None = None,
    **kwargs,
) -> Sensitivity:
    """:func:`prepare` then :func:`run_analysis` (the API of ``credsim sensitivity``)."""
    return run_analysis(prepare(scenario, ranges, **kwargs), catalog, workers=workers, on_run=on_run)


def ordered_metrics(cards) -> list[str]:
    return [m for m in metric_order(cards) if m not in HIDDEN]
