"""Compare scenarios against a baseline: run what the catalog lacks, then score each one."""

from __future__ import annotations

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

    def to_json(self) -> dict:
        """``{"scenarios": {NAME: {metric: value}}}`` (NaN as null)."""
        def clean(x: float):
            return None if x != x else x

        return {"scenarios": {n: {k: clean(v) for k, v in c.items()} for n, c in self.cards.items()}}


def run_or_reuse(
    catalog: Catalog | None, spec, population: int, days: int, seed: int, *, backend: str = "cpu",
    hist_bins: int = 0, hist_every: int = 1, progress: Callable | None = None, reuse: bool = True, panel: int = 0,
) -> tuple[RunResult, bool]:  # fmt: skip
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
    result = simulate(sc, population, days, seed, backend=backend, hist_bins=hist_bins, hist_every=hist_every,
                      name=name, on_day=on_day, panel=panel)  # fmt: skip
    if catalog is not None:
        catalog.add(result)
    return result, False


def compare(
    specs: list, population, days, seed, *, baseline: str = BASELINE, catalog: Catalog | None = None,
    backend: str = "cpu", hist_bins: int = 400, hist_every: int | None = None, progress: Callable | None = None,
    reuse: bool = True, panel: int | None = 0,
) -> Comparison:  # fmt: skip
    """Run (or reuse) the baseline and every scenario, and score each against the baseline.

    A spec is a preset name, a TOML path, a Scenario (named "custom") or a ``(name, Scenario)`` pair.
    ``panel``: track K agents (MODEL.md §8.7) in every run: the same ids in each, so their stories
    can be told side by side.
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
    hist = Histogram(hist_bins, hist_every)
    base_name, base_sc = resolve(baseline)
    entries = [(baseline, base_name, base_sc)]
    for spec in specs:
        name, sc = _resolve(spec)
        if name == base_name:
            if sc != base_sc:
                raise CredsimError(f"compare: scenario {spec!r} is named like the baseline {base_name!r} but differs "
                                   "from it; rename the file")  # fmt: skip
            continue
        if any(name == e[1] for e in entries):
            raise CredsimError(f"compare: scenario name {name!r} appears twice")
        check_comparable(sc, base_sc, name, days=d)
        entries.append((spec, name, sc))
    for _, name, sc in entries:  # the plan's checks too, with this run's population, seed and histogram
        validate(sc, name, population=n, seed=s, hist=hist)
        check_fits(compile_plan(sc, n, s, hist, k_panel), d, backend, k_panel)  # memory, before anything runs
    results: dict[str, RunResult] = {}
    reused: dict[str, bool] = {}
    for spec, name, _ in entries:
        results[name], reused[name] = run_or_reuse(catalog, spec, n, d, s, backend=backend, hist_bins=hist_bins,
                                                   hist_every=hist_every, progress=progress, reuse=reuse,
                                                   panel=k_panel)  # fmt: skip
    base_daily = results[base_name].daily
    cards = {name: scorecard(r.daily, r.scenario, base_daily, n) for name, r in results.items()}
    verdicts = {name: verdict(name, cards[name], n, d) for name in results if name != base_name}
    return Comparison(base_name, results, cards, verdicts, reused)
