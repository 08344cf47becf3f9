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
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from credsim.api import parse_count, parse_seed, resolve
from credsim.errors import CredsimError
from credsim.results.scorecard import check_comparable, metric_label, metric_order, scorecard
from credsim.results.sensitivity_design import (  # noqa: F401 (re-exported)
    MORRIS_LEVELS,
    Range,
    describe_point,
    design,
    design_size,
    load_ranges,
    parse_ranges,
    point_values,
    problem,
    with_values,
)
from credsim.results.sensitivity_runs import Job, default_workers, execute, stored_daily, stored_runs  # noqa: F401
from credsim.results.store import Catalog
from credsim.scenario import Scenario, scenario_hash
from credsim.scenario.model import MAX_DAYS

METHODS = ("sobol", "morris")
#: Scorecard entries behind the verdict's sentences (absolute counts), not separate metrics here.
HIDDEN = ("offences_prevented", "listed_person_days")
#: Most design points × seeds of one analysis (a typo should not start a million runs).
MAX_RUNS = 200_000
MAX_SAMPLES = 1 << 16
MAX_SEEDS = 1000
#: Bootstrap resamples of both methods.
RESAMPLES = 1000


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
        where = f"design point {i} ({describe_point(values)})"
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
    stored = stored_runs(catalog, prep.population, prep.days)
    todo = [j for j in prep.jobs if j.key not in stored]
    reused = {j.key: stored[j.key] for j in prep.jobs if j.key in stored}
    if on_plan is not None:
        on_plan(len(todo), len(reused))
    daily = execute(todo, prep.population, prep.days, catalog, workers=workers or default_workers(), on_run=on_run)
    by_id = stored_daily(catalog, list(reused.values())) if reused else {}
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
