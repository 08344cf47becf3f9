"""Dated (time-series) targets of ``credsim calibrate``, several seeds per trial, and the seed spread.

A targets file with dated targets declares the calendar date of day 1 and, per target, a date, a
quantity of the daily table (MODEL.md §5, §8.6) on that date, a value per head of the population and
a relative tolerance::

    start_date = 2013-10-01      # the calendar date of day 1 (a TOML date; required with dated targets)
    seeds = 3                    # optional (default 1): each trial is the mean over seeds seed..seed+2

    [[target]]
    date = 2017-12-31            # a day of the run: start_date <= date <= start_date + days - 1
    quantity = "cumulative:entries"   # "COLUMN": the column on that day; "cumulative:COLUMN": its
                                      # sum from day 1 through that day
    value = 5.636e-3             # per head: the count divided by the population it is a count of
    tolerance = 0.15             # optional: the target is met when |simulated - value| <= 0.15 |value|
    weight = 1.0                 # optional (default 1)

Dated targets are listed in date order (equal dates allowed) and may be mixed with the scalar
``metric`` targets of :mod:`credsim.library.calibrate`, which also take ``tolerance``. Quantities
are per head of the simulated population, so a fit at 1e5 agents reads directly as a share of a
country's population. ``cumulative:entries`` counts listings (person-times: a person listed, let
go and listed again counts twice; a renewal while listed does not count), ``cumulative:denied_A``
counts purchases of activity A blocked, ``cumulative:settlements`` listings paid off.

Seeds: a trial runs the scenario once per seed and compares the **mean** of each quantity across
seeds with its target. Stability: every trial also records its loss on each seed alone; for each
seed, the trial with the lowest such loss is that seed's best, and a fitted parameter's spread is
the range of its value over the seeds' bests (among the trials the sampler evaluated, not a refit
per seed). The fitted scenario is re-run on every seed and each target reports the lowest and
highest per-seed value.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass

import pandas as pd

from credsim.errors import CredsimError

CUMULATIVE = "cumulative:"
MAX_SEEDS = 1000


@dataclass(frozen=True)
class DatedTarget:
    """A quantity of the daily table on a calendar date, per head, with an optional tolerance."""

    date: dt.date
    day: int
    quantity: str
    value: float
    weight: float = 1.0
    tolerance: float | None = None

    @property
    def column(self) -> str:
        return self.quantity.removeprefix(CUMULATIVE)

    @property
    def cumulative(self) -> bool:
        return self.quantity.startswith(CUMULATIVE)


def parse_start_date(value, where: str) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise CredsimError(f"{where}: expected a date such as 2013-10-01 (TOML date, unquoted), got {value!r}")
    return value


def parse_seeds(value, seed: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEEDS:
        raise CredsimError(f"{where}: expected an integer in 1..{MAX_SEEDS}, got {value!r}")
    if seed + value - 1 > 2**64 - 1:
        raise CredsimError(f"{where}: seeds {seed}..{seed + value - 1} run past the largest seed 2^64-1")
    return value


def parse_tolerance(value, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise CredsimError(f"{where}: expected a relative tolerance > 0 (0.15 = 15%), got {value!r}")
    return float(value)


def parse_dated(
    t: dict, where: str, start: dt.date | None, days: int, columns: list[str], previous: DatedTarget | None
) -> DatedTarget:
    """One ``[[target]]`` table with ``date`` and ``quantity`` (``where`` names it in errors)."""
    for key in ("date", "quantity", "value"):
        if key not in t:
            raise CredsimError(f"{where}: a dated target needs date, quantity and value (missing {key!r})")
    extra = sorted(set(t) - {"date", "quantity", "value", "weight", "tolerance"})
    if extra:
        raise CredsimError(
            f"{where}: unknown field {extra[0]!r} (a dated target has date, quantity, value, weight, tolerance)"
        )
    if start is None:
        raise CredsimError(f"{where}.date: dated targets need start_date (the calendar date of day 1) at the top")
    date = parse_start_date(t["date"], f"{where}.date")
    day = (date - start).days + 1
    last = start + dt.timedelta(days=days - 1)
    if not 1 <= day <= days:
        side = "before day 1" if day < 1 else "after the last day"
        raise CredsimError(f"{where}.date: {date} is {side} of the run ({start} .. {last}, days = {days})")
    if previous is not None and date < previous.date:
        raise CredsimError(
            f"{where}.date: {date} comes before the previous target's {previous.date}; list dated targets in date order"
        )
    quantity = t["quantity"]
    if not isinstance(quantity, str):
        raise CredsimError(f'{where}.quantity: expected "COLUMN" or "cumulative:COLUMN", got {quantity!r}')
    column = quantity.removeprefix(CUMULATIVE)
    if column not in columns or column == "day":
        raise CredsimError(
            f"{where}.quantity: the daily table has no column {column!r} "
            f'("COLUMN" or "cumulative:COLUMN"; columns: {", ".join(columns[1:])})'
        )
    value = t["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CredsimError(f"{where}.value: expected a finite number (per head), got {value!r}")
    weight = t.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise CredsimError(f"{where}.weight: expected a finite number >= 0, got {weight!r}")
    tolerance = parse_tolerance(t.get("tolerance"), f"{where}.tolerance")
    return DatedTarget(date, day, quantity, float(value), float(weight), tolerance)


def dated_value(daily: pd.DataFrame, population: int, target: DatedTarget) -> float:
    """The target's quantity in one run's daily table, per head (day ``target.day`` is row day-1)."""
    if target.column not in daily.columns or len(daily) < target.day:
        raise CredsimError(f"{target.quantity} on {target.date}: not in this run's daily table")
    series = daily[target.column].astype("int64")
    if target.cumulative:
        return int(series.iloc[: target.day].sum()) / population
    return int(series.iloc[target.day - 1]) / population


def residual_row(
    label: dict, value: float, per_seed: list[float], weight: float, tolerance: float | None
) -> tuple[float, dict]:
    """(weighted squared residual, the row) for one target; the simulated value is the seeds' mean."""
    sim = statistics.fmean(per_seed)
    res = sim - value
    rel = res / abs(value) if value else res
    met = None if tolerance is None else abs(rel) <= tolerance
    row = {
        **label,
        "target": value,
        "simulated": sim,
        "residual": res,
        "relative_residual": rel,
        "weight": weight,
        "tolerance": tolerance,
        "met": met,
        "seed_min": min(per_seed),
        "seed_max": max(per_seed),
        "per_seed": per_seed,
    }
    return weight * rel * rel, row


def seed_spread(trials: list[dict], paths: list[str], seeds: list[int]) -> dict[str, dict]:
    """Per parameter: its value in each seed's best trial (lowest loss on that seed alone) and their range."""
    done = [t for t in trials if "seed_losses" in t]
    out: dict[str, dict] = {p: {"per_seed_best": []} for p in paths}
    for k, _ in enumerate(seeds):
        best = min(done, key=lambda t: (t["seed_losses"][k], t["trial"]))
        for p in paths:
            out[p]["per_seed_best"].append(best[p])
    for p in paths:
        vals = out[p]["per_seed_best"]
        out[p].update({"seeds": seeds, "min": min(vals), "max": max(vals)})
    return out


def metric_value(daily: pd.DataFrame, population: int, metric: str, last_days: int | None = None) -> float:
    """One metric of a daily table (see the module docstring)."""
    table = daily.iloc[-last_days:] if last_days else daily
    if metric == "ever_listed_pct":
        return 100.0 * int(table["ever_listed"].iloc[-1]) / population
    if metric == "listed_end_pct":
        return 100.0 * int(table["listed"].iloc[-1]) / population
    kind, _, col = metric.partition(":")
    if col not in table.columns:
        raise CredsimError(f"metric {metric!r}: no column {col!r} in the daily table")
    series = table[col].astype("int64")
    if kind == "mean_per_capita":
        return float(series.mean()) / population
    if kind == "sum_per_capita":
        return int(series.sum()) / population
    if kind == "last_per_capita":
        return int(series.iloc[-1]) / population
    raise CredsimError(f"unknown metric {metric!r}")


def target_value(daily: pd.DataFrame, population: int, t) -> float:
    if isinstance(t, DatedTarget):
        return dated_value(daily, population, t)
    return metric_value(daily, population, t.metric, t.last_days)


def residuals(daily: pd.DataFrame | list[pd.DataFrame], population: int, targets: list) -> tuple[float, list[dict]]:
    """(loss, one row per target with simulated value and residuals); with several daily tables (one
    per seed) the simulated value is their mean, and each row lists the per-seed values."""
    dailies = daily if isinstance(daily, list) else [daily]
    rows, loss = [], 0.0
    for t in targets:
        if isinstance(t, DatedTarget):
            label = {"metric": t.quantity, "last_days": None, "date": t.date.isoformat(), "day": t.day}
        else:
            label = {"metric": t.metric, "last_days": t.last_days, "date": None, "day": None}
        part, row = residual_row(
            label, t.value, [target_value(d, population, t) for d in dailies], t.weight, t.tolerance
        )
        loss += part
        rows.append(row)
    return loss, rows
