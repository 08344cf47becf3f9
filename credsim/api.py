"""The Python API: ``credsim.simulate("essay", population=1e6, days=365, seed=1)``."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from credsim.engine import Timing, run_plan
from credsim.errors import CredsimError
from credsim.kernel.layout import MAX_PANEL
from credsim.plan import Histogram, compile_plan
from credsim.results.run import RunResult
from credsim.scenario import Scenario, load

#: Most agents: Σ P² of the daily table is int64, and |P| <= 32767, so N × 32767² must stay below 2^63.
MAX_POPULATION = 8_500_000_000
#: One bin per possible int16 score at most.
MAX_HIST_BINS = 65536


def parse_count(value: int | float | str, field: str = "population") -> int:
    """Parse ``10000``, ``1e6``, ``1.4e9``, ``1_000_000`` into a positive int; one-line error otherwise."""
    if isinstance(value, bool):
        raise CredsimError(f"{field}: expected a number, got {value!r}")
    if isinstance(value, int):
        n = value
    else:
        text = str(value).strip().replace("_", "")
        try:
            n = int(text)
        except ValueError:
            try:
                f = float(text)
            except ValueError:
                raise CredsimError(f"{field}: expected a number like 10000, 1e6 or 1_000_000, got {value!r}") from None
            if f != f or f in (float("inf"), float("-inf")) or f != int(f):
                raise CredsimError(f"{field}: must be a whole number, got {value!r}")
            n = int(f)
    if n < 1:
        raise CredsimError(f"{field}: must be at least 1, got {n}")
    if n > MAX_POPULATION:
        raise CredsimError(f"{field}: {n:.3g} is above the supported maximum of {MAX_POPULATION:.2g} "
                           "(sums of squared scores must fit 64-bit integers)")
    return n


def parse_seed(value: int | str) -> int:
    """A seed in 0..2^64-1 (underscores allowed)."""
    try:
        s = int(str(value).strip().replace("_", ""), 0) if not isinstance(value, int) else value
    except ValueError:
        raise CredsimError(f"seed: expected an integer in 0..2^64-1, got {value!r}") from None
    if not 0 <= s < 1 << 64:
        raise CredsimError(f"seed: must be in 0..2^64-1, got {s}")
    return s


def parse_panel(value: int | str | None, population: int) -> int:
    """Tracked agents of a panel (MODEL.md §8.7): 0 or None for none, else 1..min(N, 100000)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise CredsimError(f"panel: expected a whole number, got {value!r}")
    if not isinstance(value, int):
        try:
            value = int(str(value).strip().replace("_", ""))
        except ValueError:
            raise CredsimError(f"panel: expected a whole number of agents, got {value!r}") from None
    top = min(population, MAX_PANEL)
    if not 0 <= value <= top:
        raise CredsimError(f"panel: must be in 1..{top} (at most the population and {MAX_PANEL}), got {value}")
    return value


def resolve(scenario: str | Path | Scenario, name: str | None = None) -> tuple[str, Scenario]:
    """A preset name, a TOML path or a Scenario → (name, Scenario)."""
    if isinstance(scenario, Scenario):
        return name or "custom", scenario
    loaded_name, sc = load(scenario)
    return name or loaded_name, sc


def simulate(
    scenario: str | Path | Scenario,
    population: int | float | str = 10_000,
    days: int = 365,
    seed: int = 1,
    *,
    backend: str = "cpu",
    threads: int | None = None,
    shards: int = 1,
    hist_bins: int = 0,
    hist_every: int = 1,
    panel: int = 0,
    name: str | None = None,
    on_day: Callable[[int, int], None] | None = None,
    checkpoint=None,
    resume_from=None,
) -> RunResult:
    """Run a scenario and return its tables.

    Parameters
    ----------
    scenario : preset name (``"essay"``, ``"baseline"``), path to a TOML file, or a Scenario.
    population : agents; accepts ``1e6``, ``"1_000_000"``.
    days : simulated days, 1..65535.
    seed : 0..2^64-1; the same seed gives the same integers on every backend and thread count.
    backend : ``"cpu"`` (all cores), ``"cuda"`` or ``"ray"`` (``shards`` actors).
    hist_bins : if > 0, also count public scores in this many fixed-width bins every ``hist_every`` days.
    panel : if > 0, also record the day of this many tracked agents (MODEL.md §8.7), 1..min(N, 100000).
    checkpoint, resume_from : save snapshots as the run goes / continue from one
        (see :func:`credsim.engine.run_plan` and :mod:`credsim.reliability.checkpoint`).
    """
    n = parse_count(population)
    if isinstance(days, bool) or not isinstance(days, int):
        days = parse_count(days, "days")
    seed = parse_seed(seed)
    if not 0 <= hist_bins <= MAX_HIST_BINS:
        raise CredsimError(f"hist_bins: must be in 0..{MAX_HIST_BINS}, got {hist_bins}")
    if hist_every < 1:
        raise CredsimError(f"hist_every: must be at least 1, got {hist_every}")
    panel = parse_panel(panel, n)
    run_name, sc = resolve(scenario, name)
    plan = compile_plan(sc, n, seed, Histogram(hist_bins, hist_every), panel)
    timing = Timing()
    tables = run_plan(
        plan,
        days,
        backend,
        threads=threads,
        shards=shards,
        on_day=on_day,
        timing=timing,
        checkpoint=checkpoint,
        resume_from=resume_from,
    )
    return RunResult(run_name, sc, n, days, seed, backend, tables, timing, hist_every=hist_every)
