"""Parameter sweeps: a grid of scenario variations × seeds, one Ray task per run, scored with intervals.

``run_sweep("essay", ["score.spouse_weight=0,3,6"], seeds=5, population=1e6, days=365)`` runs
every grid point with seeds 1..5 (and the baseline once per seed), each as one Ray task running
one CPU :func:`credsim.simulate`, stores every run in the catalog from the driver as results
arrive, and scores each run against the baseline with the *same seed* (common random numbers,
as ``credsim compare``). Per grid point and metric it reports the mean over seeds and a 95%
Student-t interval: ``mean ± t(0.975, S-1) · sd / √S`` with the sample standard deviation
(S-1 in the denominator); no interval with one seed.

A FIELD is a dotted scenario path: ``section.field`` (``score.spouse_weight``,
``blacklist.offset``, ``population.married_share``) or ``channel.NAME.field`` /
``activity.NAME.field`` by name (``channel.public_misconduct.detect``). Values are parsed with the
field's type and the varied scenario is validated like a scenario file, so a bad field or value
is a one-line :class:`CredsimError` before anything runs. Variations of ``population.*`` are
applied to the baseline too: the baseline then has the same population, which common random
numbers need.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from credsim.api import parse_count, parse_seed, resolve
from credsim.errors import CredsimError
from credsim.scenario import Scenario
from credsim.scenario.loader import from_dict

#: Largest grid × seeds a sweep accepts (a typo like 0..1000 should not start 10^5 runs).
MAX_RUNS = 10_000
SECTIONS = ("population", "score", "blacklist", "behaviour", "stress")
LISTS = ("channel", "activity")
#: Absolute counts behind the verdict: kept in the JSON, not in the summary table.
COUNT_METRICS = ("offences_prevented", "listed_person_days")

# --- intervals ------------------------------------------------------------------------------------

# fmt: off
_T975 = [12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851, 2.364624252,
         2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830, 2.160368656, 2.144786688,
         2.131449546, 2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447, 2.079613845,
         2.073873068, 2.068657610, 2.063898562, 2.059538553, 2.055529439, 2.051830516, 2.048407142,
         2.045229642, 2.042272456]
# fmt: on


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (table to 30, then the
    Cornish-Fisher expansion, accurate to 1e-5 there)."""
    if df < 1:
        raise ValueError("df must be at least 1")
    if df <= len(_T975):
        return _T975[df - 1]
    z = NormalDist().inv_cdf(0.975)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


def t_interval(values: list[float]) -> tuple[float, float, float, int]:
    """(mean, low, high, n) over the non-NaN values: 95% Student-t interval; low = high = mean
    when n = 1, all NaN when n = 0."""
    xs = [v for v in values if not math.isnan(v)]
    n = len(xs)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = math.fsum(xs) / n
    if n == 1:
        return mean, mean, mean, 1
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half, n


# --- --vary parsing and the grid -------------------------------------------------------------------


def _locate(data: dict, path: str) -> tuple[dict, str]:
    """The dict holding ``path``'s last part, and that part; CredsimError for an unknown path."""
    parts = path.split(".")
    head = parts[0]
    if head in LISTS:
        items = data.get(head) or []
        names = [it["name"] for it in items]
        if len(parts) != 3:
            raise CredsimError(f"vary: {path!r}: write {head}.NAME.FIELD (names: {', '.join(names) or 'none'})")
        match = [it for it in items if it["name"] == parts[1]]
        if not match:
            raise CredsimError(f"vary: {path!r}: no {head} named {parts[1]!r} (names: {', '.join(names)})")
        holder, key = match[0], parts[2]
    elif head in SECTIONS:
        if len(parts) != 2:
            raise CredsimError(f"vary: {path!r}: write {head}.FIELD")
        holder, key = data[head], parts[1]
    else:
        raise CredsimError(f"vary: unknown field {path!r} (start with one of: {', '.join(SECTIONS + LISTS)})")
    if key not in holder or key == "name":
        fields = [k for k in holder if k != "name"]
        raise CredsimError(f"vary: unknown field {path!r} (fields there: {', '.join(fields)})")
    return holder, key


def _parse_value(path: str, raw: str, current: Any) -> Any:
    text = raw.strip()
    if not text:
        raise CredsimError(f"vary: {path}: empty value")
    try:
        if isinstance(current, bool):
            low = text.lower()
            if low in ("true", "yes", "1"):
                return True
            if low in ("false", "no", "0"):
                return False
            raise ValueError
        if isinstance(current, int):
            return int(text.replace("_", ""))
        if isinstance(current, float):
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
            return value
        if isinstance(current, list):
            raise CredsimError(f"vary: {path} is a list; vary it with separate scenario files")
        if current is None:  # optional number (blacklist.value in below_mean mode)
            return int(text) if text.lstrip("-").isdigit() else float(text)
        return text
    except ValueError:
        kind = {bool: "true or false", int: "an integer", float: "a number"}.get(type(current), "a value")
        raise CredsimError(f"vary: {path}: expected {kind}, got {raw!r}") from None


@dataclass
class Vary:
    """One ``--vary FIELD=V1,V2,...``: the path and its parsed values."""

    path: str
    values: list[Any]

    @property
    def section(self) -> str:
        return self.path.split(".")[0]


def parse_vary(spec: str, base: Scenario) -> Vary:
    """Parse ``FIELD=V1,V2,...`` against ``base`` (values typed like the field's current value)."""
    if "=" not in spec:
        raise CredsimError(f"vary: expected FIELD=V1,V2,..., got {spec!r}")
    path, _, raw = spec.partition("=")
    path = path.strip()
    holder, key = _locate(base.model_dump(mode="json"), path)
    raws = raw.split(",")
    values = [_parse_value(path, r, holder[key]) for r in raws]
    if len(set(map(repr, values))) != len(values):
        raise CredsimError(f"vary: {path}: a value appears twice in {raw!r}")
    return Vary(path, values)


def apply(base: Scenario, assignments: dict[str, Any], source: str = "vary") -> Scenario:
    """``base`` with each ``path → value`` set, validated like a scenario file (one-line error)."""
    data = base.model_dump(mode="json")
    for path, value in assignments.items():
        holder, key = _locate(data, path)
        holder[key] = value
    label = ", ".join(f"{p}={v}" for p, v in assignments.items())
    return from_dict(data, f"{source} {label}" if label else source)


def parse_seeds(value: int | str | list) -> list[int]:
    """``5`` → seeds 1..5; ``"1,7,9"`` → those seeds; a list of seeds as is."""
    if isinstance(value, (list, tuple)):
        seeds = [parse_seed(s) for s in value]
    elif isinstance(value, str) and "," in value:
        seeds = [parse_seed(s) for s in value.split(",")]
    else:
        count = parse_count(value, "seeds")
        if count > MAX_RUNS:
            raise CredsimError(f"seeds: at most {MAX_RUNS}, got {count}")
        seeds = list(range(1, count + 1))
    if len(set(seeds)) != len(seeds):
        raise CredsimError("seeds: a seed appears twice")
    return seeds


def point_label(point: dict[str, Any]) -> str:
    return ",".join(f"{p}={v}" for p, v in point.items())


# --- running ---------------------------------------------------------------------------------------


@dataclass
class Job:
    """One run of the sweep: a grid point's (or the baseline's) scenario with one seed."""

    key: tuple  # ("point", i, seed) or ("base", population-variant key, seed)
    name: str
    scenario: Scenario
    seed: int


@dataclass
class Sweep:
    """A finished sweep: grid points, seeds, run ids, per-run scorecards and the summary."""

    scenario: str
    baseline: str
    population: int
    days: int
    seeds: list[int]
    points: list[dict[str, Any]]
    run_ids: dict[tuple, str]  # job key → catalog run id (or "" without a catalog)
    cards: dict[tuple[int, int], dict[str, float]]  # (point index, seed) → scorecard
    reused: int = 0
    wall_s: float = 0.0
    summary: list[dict[str, dict]] = field(default_factory=list)  # per point: metric → interval

    def to_json(self) -> dict:
        def clean(x):
            return None if isinstance(x, float) and math.isnan(x) else x

        return {
            "scenario": self.scenario,
            "baseline": self.baseline,
            "population": self.population,
            "days": self.days,
            "seeds": [str(s) for s in self.seeds],
            "interval": "95% Student t over seeds: mean ± t(0.975, n-1)·sd/√n",
            "points": [
                {
                    "vary": point,
                    "runs": {str(s): self.run_ids.get(("point", i, s), "") for s in self.seeds},
                    "metrics": {m: {k: clean(v) for k, v in iv.items()} for m, iv in self.summary[i].items()},
                }
                for i, point in enumerate(self.points)
            ],
        }


def _run_one(scenario: Scenario, name: str, population: int, days: int, seed: int, threads: int):
    """Body of one sweep task (runs in a Ray worker): one CPU simulate."""
    from credsim.api import simulate

    return simulate(scenario, population, days, seed, backend="cpu", threads=threads, name=name)


def plan_sweep(scenario, vary: list[str], seeds, population, days, baseline: str = "baseline"):
    """Validate everything and list the jobs, before any run: (name, base scenario, points, jobs, ...)."""
    from credsim.plan import compile_plan
    from credsim.results.scorecard import check_comparable

    n = parse_count(population)
    d = parse_count(days, "days")
    seed_list = parse_seeds(seeds)
    name, base_sc = resolve(scenario)
    base_name, baseline_sc = resolve(baseline)
    varies = [parse_vary(v, base_sc) for v in vary]
    paths = [v.path for v in varies]
    if len(set(paths)) != len(paths):
        raise CredsimError("vary: a field is varied twice")
    points = [dict(zip(paths, combo)) for combo in itertools.product(*(v.values for v in varies))] or [{}]
    jobs: list[Job] = []
    base_variants: dict[tuple, Scenario] = {}
    point_base: list[tuple] = []
    for i, point in enumerate(points):
        sc = apply(base_sc, point)
        pop = {p: v for p, v in point.items() if p.startswith("population.")}
        bkey = tuple(pop.items())
        if bkey not in base_variants:
            base_variants[bkey] = apply(baseline_sc, pop, f"baseline {base_name}")
            compile_plan(base_variants[bkey], n, 0)
        point_base.append(bkey)
        check_comparable(sc, base_variants[bkey], name)
        compile_plan(sc, n, 0)  # probabilities summing past 1 and the like: fail now, not in a task
        label = f"{name}[{point_label(point)}]" if point else name
        jobs += [Job(("point", i, s), label, sc, s) for s in seed_list]
    for bkey, bsc in base_variants.items():
        label = f"{base_name}[{point_label(dict(bkey))}]" if bkey else base_name
        jobs += [Job(("base", bkey, s), label, bsc, s) for s in seed_list]
    if len(jobs) > MAX_RUNS:
        raise CredsimError(f"sweep: {len(jobs)} runs is more than {MAX_RUNS}; vary fewer values or seeds")
    return name, base_name, n, d, seed_list, points, point_base, jobs


def run_sweep(
    scenario: str,
    vary: list[str],
    seeds,
    population,
    days,
    *,
    baseline: str = "baseline",
    catalog=None,
    reuse: bool = True,
    cpus_per_run: int = 1,
    on_result: Callable[[int, int, str], None] | None = None,
) -> Sweep:
    """Run (or reuse from ``catalog``) every job as a Ray task; store each; score and summarise."""
    from credsim.backends.ray.pool import ensure_ray, run_tasks
    from credsim.results.scorecard import scorecard

    name, base_name, n, d, seed_list, points, point_base, jobs = plan_sweep(scenario, vary, seeds, population, days, baseline)
    if not isinstance(cpus_per_run, int) or cpus_per_run < 1:
        raise CredsimError(f"cpus_per_run: must be a positive integer, got {cpus_per_run!r}")
    t0 = time.perf_counter()
    results: dict[tuple, Any] = {}
    run_ids: dict[tuple, str] = {}
    done = 0
    todo: list[Job] = []
    for job in jobs:
        found = catalog.find(job.scenario, n, d, job.seed) if (catalog is not None and reuse) else None
        if found:
            results[job.key] = catalog.load(found)
            run_ids[job.key] = found
            done += 1
            if on_result:
                on_result(done, len(jobs), f"{job.name} seed {job.seed} (stored)")
        else:
            todo.append(job)
    reused = done
    if todo:
        ray = ensure_ray()
        have = int(ray.cluster_resources().get("CPU", 0))
        if have < cpus_per_run:  # such a task would wait forever for a node big enough
            raise CredsimError(f"cpus_per_run: {cpus_per_run} is more than the {have} CPUs this Ray cluster has")

        def finished(job: Job, result) -> None:  # each run stored as it arrives, in the order runs finish
            nonlocal done
            results[job.key] = result
            run_ids[job.key] = catalog.add(result) if catalog is not None else ""
            done += 1
            if on_result:
                on_result(done, len(jobs), f"{job.name} seed {job.seed}")

        run_tasks(
            ray,
            _run_one,
            todo,
            lambda j: (j.scenario, j.name, n, d, j.seed, cpus_per_run),
            finished,
            prefix="sweep",
            label=lambda j: f"run {j.name} seed {j.seed}",
            num_cpus=cpus_per_run,
            timeout=float(os.environ.get("CREDSIM_RAY_TIMEOUT") or 0) or None,
        )
    cards: dict[tuple[int, int], dict[str, float]] = {}
    for i, point in enumerate(points):
        for s in seed_list:
            r = results[("point", i, s)]
            base = results[("base", point_base[i], s)]
            cards[(i, s)] = scorecard(r.daily, r.scenario, base.daily, n)
    summary = []
    for i in range(len(points)):
        metrics = list(cards[(i, seed_list[0])])
        row = {}
        for m in metrics:
            mean, lo, hi, k = t_interval([cards[(i, s)][m] for s in seed_list])
            row[m] = {"mean": mean, "lo": lo, "hi": hi, "n": k}
        summary.append(row)
    return Sweep(name, base_name, n, d, seed_list, points, run_ids, cards, reused, time.perf_counter() - t0, summary)
