"""Compare scenarios against a baseline: run what the catalog lacks, then score each one.

With ``seeds=K`` (K > 1) every scenario runs with seeds s, s+1, ..., s+K-1, each paired with the
baseline run of the same seed (common random numbers), and every scorecard figure becomes the mean
of its K paired values with a 95% Student-t interval over them: ``mean ± t(0.975, K-1) · sd / √K``
(sd with K-1 in the denominator; :func:`t_interval`). With K = 1 nothing changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from credsim.api import MAX_HIST_BINS, parse_count, parse_panel, parse_seed, resolve, simulate
from credsim.engine import BACKENDS, check_fits
from credsim.errors import CredsimError
from credsim.plan import Histogram, compile_plan
from credsim.results.run import RunResult
from credsim.results.scorecard import check_comparable, scorecard, verdict
from credsim.results.store import Catalog
from credsim.scenario import Scenario
from credsim.scenario.loader import validate
from credsim.scenario.model import MAX_DAYS

BASELINE = "baseline"


def _resolve(spec) -> tuple[str, Scenario]:
    """Like :func:`resolve`, and also accepts a ``(name, Scenario)`` pair (a Scenario alone is "custom")."""
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], Scenario):
        return resolve(spec[1], spec[0])
    return resolve(spec)


@dataclass
class Comparison:
    """Runs by scenario name (baseline first), their scorecards and verdicts."""

    baseline: str
    results: dict[str, RunResult]
    cards: dict[str, dict[str, float]]
    verdicts: dict[str, str]
    reused: dict[str, bool] = field(default_factory=dict)
    #: with K > 1 seeds: the seeds, each seed's runs, reuse flags and scorecards (seed order), and per
    #: scenario and metric the 95% interval (low, high) of the mean in ``cards``; empty with one seed
    seeds: list[int] = field(default_factory=list)
    seed_results: list[dict[str, RunResult]] = field(default_factory=list)
    seed_reused: list[dict[str, bool]] = field(default_factory=list)
    seed_cards: list[dict[str, dict[str, float]]] = field(default_factory=list)
    intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)

    def to_json(self) -> dict:
        """``{"scenarios": {NAME: {metric: value}}}`` (NaN as null); with K > 1 seeds the values are means
        and ``seeds``, ``interval`` (the method), ``intervals`` ({NAME: {metric: [low, high]}}) and
        ``per_seed`` ({NAME: {metric: [value of each seed]}}) are added."""
        def clean(x: float):
            return None if x != x else x

        out = {"scenarios": {n: {k: clean(v) for k, v in c.items()} for n, c in self.cards.items()}}
        if self.intervals:
            out["seeds"] = list(self.seeds)
            out["interval"] = INTERVAL_METHOD
            out["intervals"] = {
                n: {k: [clean(lo), clean(hi)] for k, (lo, hi) in iv.items()} for n, iv in self.intervals.items()
            }
            out["per_seed"] = {
                n: {k: [clean(c[n][k]) for c in self.seed_cards] for k in self.cards[n]} for n in self.cards
            }
        return out


#: How ``compare --seeds K`` summarises the K paired values of a figure (said in the table, JSON, report).
INTERVAL_METHOD = (
    "95% Student-t interval over the K paired values (one per seed, each scenario against the "
    "baseline with the same seed): mean ± t(0.975, K-1) · sd / √K"
)
#: Most seeds of one comparison.
MAX_SEEDS = 1000


def t_interval(values: list[float]) -> tuple[float, float, float]:
    """(mean, low, high) of the non-NaN values: the 95% Student-t interval of their mean; low = high =
    mean with one value, all NaN with none."""
    xs = [v for v in values if not math.isnan(v)]
    if not xs:
        return math.nan, math.nan, math.nan
    mean = math.fsum(xs) / len(xs)
    if len(xs) == 1:
        return mean, mean, mean
    from scipy.stats import t

    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    half = float(t.ppf(0.975, len(xs) - 1)) * sd / math.sqrt(len(xs))
    return mean, mean - half, mean + half


def summarise_seeds(seed_cards: list[dict[str, dict[str, float]]]) -> tuple[dict, dict]:
    """Per-seed scorecards → (means, intervals): per scenario and metric, the mean of the K paired
    values and its 95% interval (:func:`t_interval`). A metric absent from a card is absent here too."""
    means: dict[str, dict[str, float]] = {}
    intervals: dict[str, dict[str, tuple[float, float]]] = {}
    for name, first in seed_cards[0].items():
        means[name], intervals[name] = {}, {}
        for metric in first:
            mean, lo, hi = t_interval([c[name][metric] for c in seed_cards])
            means[name][metric], intervals[name][metric] = mean, (lo, hi)
    return means, intervals


def days_per_prevented(seed_cards: list[dict[str, dict[str, float]]], name: str) -> tuple[float, float, float]:
    """The verdict's "person-days on the list per offence prevented": (mean, low, high) over the seeds
    where some offence was prevented."""
    ratios = [
        c[name]["listed_person_days"] / c[name]["offences_prevented"]
        for c in seed_cards
        if c[name]["offences_prevented"] > 0
    ]
    return t_interval(ratios)


def run_or_reuse(
    catalog: Catalog | None,
    spec,
    population: int,
    days: int,
    seed: int,
    *,
    backend: str = "cpu",
    hist_bins: int = 0,
    hist_every: int = 1,
    progress: Callable | None = None,
    reuse: bool = True,
    panel: int = 0,
) -> tuple[RunResult, bool]:
    """A stored run with the same inputs and code version (and a panel of the same K when ``panel``),
    else a fresh run (stored)."""
    name, sc = _resolve(spec)
    if catalog is not None and reuse:
        found = catalog.find(sc, population, days, seed, hist_bins, hist_every, panel=panel)
        if found:
            result = catalog.load(found)
            result.name = name
            return result, True
    on_day = progress(name) if progress else None
    result = simulate(
        sc,
        population,
        days,
        seed,
        backend=backend,
        hist_bins=hist_bins,
        hist_every=hist_every,
        name=name,
        on_day=on_day,
        panel=panel,
    )
    if catalog is not None:
        catalog.add(result)
    return result, False


def compare(
    specs: list,
    population,
    days,
    seed,
    *,
    baseline: str = BASELINE,
    catalog: Catalog | None = None,
    backend: str = "cpu",
    hist_bins: int = 400,
    hist_every: int | None = None,
    progress: Callable | None = None,
    reuse: bool = True,
    panel: int | None = 0,
    seeds: int = 1,
) -> Comparison:
    """Run (or reuse) the baseline and every scenario, and score each against the baseline.

    A spec is a preset name, a TOML path, a Scenario (named "custom") or a ``(name, Scenario)`` pair.
    ``panel``: track K agents (MODEL.md §8.7) in every run: the same ids in each, so their stories
    can be told side by side. ``seeds``: K > 1 runs seeds ``seed``..``seed``+K-1 and scores each figure
    as a mean with a 95% interval (see the module's docstring); runs already in the catalog are reused.
    """
    # Everything is checked before anything runs or is stored: a scenario refused after the
    # baseline ran would leave a stored baseline behind a failed command.
    n = parse_count(population)
    d = parse_count(days, "days")
    s = parse_seed(seed)
    if not 1 <= d <= MAX_DAYS:
        raise CredsimError(f"days: must be in 1..{MAX_DAYS}, got {d}")
    if backend not in BACKENDS:
        raise CredsimError(f"backend: unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    if hist_every is None:  # about 60 distribution snapshots per run, whatever its length
        hist_every = max(1, d // 60)
    if not 0 <= hist_bins <= MAX_HIST_BINS or hist_every < 1:
        raise CredsimError(f"hist_bins: must be in 0..{MAX_HIST_BINS} (got {hist_bins}), every at least 1 day")
    k_panel = parse_panel(panel, n)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise CredsimError(f"seeds: must be a whole number in 1..{MAX_SEEDS}, got {seeds!r}")
    if s + seeds - 1 >= 1 << 64:
        raise CredsimError(f"seeds: seeds {s}..{s + seeds - 1} pass the largest seed 2^64-1")
    hist = Histogram(hist_bins, hist_every)
    base_name, base_sc = resolve(baseline)
    entries = [(baseline, base_name, base_sc)]
    for spec in specs:
        name, sc = _resolve(spec)
        if name == base_name:
            if sc != base_sc:
                raise CredsimError(
                    f"compare: scenario {spec!r} is named like the baseline {base_name!r} but differs "
                    "from it; rename the file"
                )
            continue
        if any(name == e[1] for e in entries):
            raise CredsimError(f"compare: scenario name {name!r} appears twice")
        check_comparable(sc, base_sc, name, days=d)
        entries.append((spec, name, sc))
    for _, name, sc in entries:  # the plan's checks too, with this run's population, seed and histogram
        validate(sc, name, population=n, seed=s, hist=hist)
        check_fits(compile_plan(sc, n, s, hist, k_panel), d, backend, k_panel)  # memory, before anything runs
    all_results, all_reused, all_cards = [], [], []
    for seed_k in range(s, s + seeds):
        results: dict[str, RunResult] = {}
        reused: dict[str, bool] = {}
        for spec, name, _ in entries:
            results[name], reused[name] = run_or_reuse(
                catalog,
                spec,
                n,
                d,
                seed_k,
                backend=backend,
                hist_bins=hist_bins,
                hist_every=hist_every,
                progress=progress,
                reuse=reuse,
                panel=k_panel,
            )
        base_daily = results[base_name].daily
        all_results.append(results)
        all_reused.append(reused)
        all_cards.append({name: scorecard(r.daily, r.scenario, base_daily, n) for name, r in results.items()})
    if seeds == 1:
        cards = all_cards[0]
        verdicts = {name: verdict(name, cards[name], n, d) for name in cards if name != base_name}
        return Comparison(base_name, all_results[0], cards, verdicts, all_reused[0])
    cards, intervals = summarise_seeds(all_cards)
    verdicts = {
        name: verdict(
            name,
            cards[name],
            n,
            d,
            intervals=intervals[name],
            seeds=seeds,
            per_prevented=days_per_prevented(all_cards, name),
        )
        for name in cards
        if name != base_name
    }
    reused = {name: all(r[name] for r in all_reused) for name in cards}
    return Comparison(
        base_name,
        all_results[0],
        cards,
        verdicts,
        reused,
        list(range(s, s + seeds)),
        all_results,
        all_reused,
        all_cards,
        intervals,
    )
