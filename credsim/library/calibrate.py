"""``credsim calibrate``: fit chosen scenario parameters to target figures with Optuna.

A targets file (TOML) names the parameters to fit (dotted paths with bounds), the targets (a
metric of the daily table, a target value and a weight), and the run: population, days, seed,
trials. Every trial runs the CSM-1 simulator, which is exact for a given seed, and Optuna's TPE
sampler is seeded, so the same inputs give the same fitted scenario.

Example::

    population = 20000
    days = 365
    seed = 1
    trials = 40
    sampler_seed = 0               # optional (default: seed)

    [[parameter]]
    path = "channel.court_default.base"
    low = 1e-6
    high = 1e-4
    log = true                     # optional: sample on a log scale

    [[target]]
    metric = "mean_per_capita:entries"   # daily mean of a column, per person
    value = 4.980e-6
    weight = 1.0                   # optional (default 1)
    last_days = 31                 # optional: only the last 31 days

Metrics: ``ever_listed_pct`` and ``listed_end_pct`` (as in the scorecard, in %), and for any column
of the daily table (MODEL.md §5): ``mean_per_capita:COL`` (daily mean / population),
``sum_per_capita:COL`` (total / population), ``last_per_capita:COL`` (last day / population).
The loss is the weighted sum of squared relative residuals, (simulated − target) / |target|
(absolute residual where the target is 0). A target may also carry ``tolerance`` (relative, > 0):
the result then says whether it is met, |relative residual| <= tolerance.

Time series: with ``start_date = 2013-10-01`` (the calendar date of day 1) a target may instead name
a ``date`` and a ``quantity`` (``"COLUMN"``, the column on that day, or ``"cumulative:COLUMN"``, its
sum from day 1), per head; ``seeds = K`` makes each trial the mean over seeds seed..seed+K-1 and the
result reports each parameter's spread across seeds. See :mod:`credsim.library.targets`.

Parameter paths: ``channel.NAME.FIELD``, ``activity.NAME.FIELD``, or ``SECTION.FIELD`` for the
sections ``population``, ``score``, ``blacklist``, ``behaviour``, ``stress`` and, when the scenario
has them, the CSM-2 tables ``exit``, ``appeals``, ``adaptive``; a schedule's values as
``schedule[K].PATH``, where PATH is a key the K-th ``[[schedule]]`` entry sets (the schedule's own
path rules apply to every sampled value), and its day as ``schedule[K].day``. Integer fields are
sampled as integers; booleans and names cannot be fitted.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from credsim.errors import CredsimError, ScenarioError
from credsim.library.calibration_files import check_out, write_calibration  # noqa: F401 (re-exported)
from credsim.library.targets import (  # noqa: F401  (metric_value, residuals: part of this module's API)
    DatedTarget,
    metric_value,
    parse_dated,
    parse_seeds,
    parse_start_date,
    parse_tolerance,
    residuals,
    seed_spread,
)
from credsim.scenario import Scenario, from_dict
from credsim.scenario.loader import read_text_file

SECTIONS = ("population", "score", "blacklist", "behaviour", "stress", "exit", "appeals", "adaptive")
NAMED = ("channel", "activity")
MAX_TRIALS = 10_000
_KEYS = {"population", "days", "seed", "trials", "sampler_seed", "parameter", "target", "start_date", "seeds"}
_SCHEDULE = re.compile(r"schedule\[(\d+)\]\.(.+)")


@dataclass(frozen=True)
class Parameter:
    path: str
    low: float
    high: float
    log: bool = False
    integer: bool = False


@dataclass(frozen=True)
class Target:
    metric: str
    value: float
    weight: float = 1.0
    last_days: int | None = None
    tolerance: float | None = None


@dataclass
class Targets:
    """A parsed targets file."""

    parameters: list[Parameter]
    targets: list[Target | DatedTarget]
    population: int
    days: int
    seed: int
    trials: int
    sampler_seed: int
    seeds: int = 1
    start_date: object = None  # datetime.date of day 1, with dated targets


@dataclass
class Calibration:
    """The outcome: the fitted scenario, the best parameters, residuals per target, all trials."""

    scenario: Scenario
    params: dict[str, float | int]
    loss: float
    residuals: list[dict]
    trials: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    spread: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "params": self.params,
            "loss": self.loss,
            "residuals": self.residuals,
            "spread": self.spread,
            "settings": self.settings,
        }


# ---------------------------------------------------------------- scenario paths


def _locate(data: dict, path: str) -> tuple[dict, str]:
    """The dict holding the field at ``path`` in a scenario's plain data, and the field's key."""
    parts = path.split(".")
    sched = _SCHEDULE.fullmatch(path)
    if sched:
        entries, k = data.get("schedule") or [], int(sched[1])
        if k >= len(entries):
            raise CredsimError(f"parameter {path!r}: the scenario has {len(entries)} [[schedule]] entries")
        holder, key = (entries[k], "day") if sched[2] == "day" else (entries[k]["set"], sched[2])
        if key not in holder:
            raise CredsimError(
                f"parameter {path!r}: schedule[{k}] does not set {key!r} (it sets: "
                f"{', '.join(entries[k]['set'])}); fit a value the entry sets"
            )
    elif len(parts) == 3 and parts[0] in NAMED:
        kind, name, key = parts
        for item in data.get(kind, []):
            if item.get("name") == name:
                holder = item
                break
        else:
            names = ", ".join(i.get("name", "?") for i in data.get(kind, []))
            raise CredsimError(f"parameter {path!r}: no {kind} named {name!r} (known: {names})")
    elif len(parts) == 2 and parts[0] in SECTIONS:
        if not isinstance(data.get(parts[0]), dict):  # a CSM-2 table the scenario does not have
            raise CredsimError(f"parameter {path!r}: the scenario has no [{parts[0]}] table")
        holder, key = data[parts[0]], parts[1]
    else:
        raise CredsimError(
            f"parameter {path!r}: expected channel.NAME.FIELD, activity.NAME.FIELD or "
            f"SECTION.FIELD with SECTION one of {', '.join(SECTIONS)}"
        )
    if sched is None and (key not in holder or key == "name"):
        raise CredsimError(f"parameter {path!r}: no such numeric field {key!r}")
    value = holder[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CredsimError(f"parameter {path!r}: field {key!r} is not a number ({value!r}); only numbers can be fitted")
    return holder, key


def get_param(scenario: Scenario, path: str) -> float | int:
    holder, key = _locate(scenario.model_dump(mode="json"), path)
    return holder[key]


def with_params(scenario: Scenario, params: dict[str, float | int], source: str = "calibration") -> Scenario:
    """A copy of ``scenario`` with the given parameters set (validated; ScenarioError if invalid)."""
    data = copy.deepcopy(scenario.model_dump(mode="json", exclude_none=True))
    for path, value in params.items():
        holder, key = _locate(data, path)
        holder[key] = value
    return from_dict(data, source)


# ---------------------------------------------------------------- targets file


def _num(v, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise CredsimError(f"{what}: expected a finite number, got {v!r}")
    return float(v)


def _int(v, what: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise CredsimError(f"{what}: expected an integer in {lo}..{hi}, got {v!r}")
    return v


def daily_columns(scenario: Scenario) -> list[str]:
    """The daily table's columns for a scenario (MODEL.md §5, with CSM-2's and the grade columns when
    the scenario has them): the plan's own list, declared once in :mod:`credsim.kernel.layout`."""
    from credsim.plan import aggregate_columns

    return ["day", "threshold", *aggregate_columns(scenario)]


def _check_metric(metric: str, scenario: Scenario, source: str) -> None:
    if metric in ("ever_listed_pct", "listed_end_pct"):
        return
    kind, _, col = metric.partition(":")
    if kind not in ("mean_per_capita", "sum_per_capita", "last_per_capita") or not col:
        raise CredsimError(
            f"{source}: unknown metric {metric!r} (use ever_listed_pct, listed_end_pct, "
            "mean_per_capita:COLUMN, sum_per_capita:COLUMN or last_per_capita:COLUMN)"
        )
    if col not in daily_columns(scenario):
        raise CredsimError(f"{source}: metric {metric!r}: the daily table has no column {col!r}")


def parse_targets(text: str, scenario: Scenario, source: str = "targets") -> Targets:
    """Parse and check a targets TOML document against the scenario it will fit."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CredsimError(f"{source}: not valid TOML: {err}") from None
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise CredsimError(f"{source}: unknown field {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    for key in ("population", "days", "parameter", "target"):
        if key not in doc:
            raise CredsimError(f"{source}: missing field {key!r}")
    population = _int(doc["population"], f"{source}: population", 1, 10**9)
    days = _int(doc["days"], f"{source}: days", 1, 65535)
    seed = _int(doc.get("seed", 1), f"{source}: seed", 0, 2**64 - 1)
    trials = _int(doc.get("trials", 50), f"{source}: trials", 1, MAX_TRIALS)
    sampler_seed = _int(doc.get("sampler_seed", seed % 2**32), f"{source}: sampler_seed", 0, 2**32 - 1)
    seeds = parse_seeds(doc.get("seeds", 1), seed, f"{source}: seeds")
    start = parse_start_date(doc["start_date"], f"{source}: start_date") if "start_date" in doc else None

    if not isinstance(doc["parameter"], list) or not doc["parameter"]:
        raise CredsimError(f"{source}: [[parameter]] must be a non-empty list of tables")
    params: list[Parameter] = []
    for i, p in enumerate(doc["parameter"]):
        where = f"{source}: parameter[{i}]"
        if not isinstance(p, dict) or "path" not in p or "low" not in p or "high" not in p:
            raise CredsimError(f"{where}: needs path, low and high")
        extra = sorted(set(p) - {"path", "low", "high", "log"})
        if extra:
            raise CredsimError(f"{where}: unknown field {extra[0]!r}")
        path = str(p["path"])
        current = get_param(scenario, path)
        integer = isinstance(current, int)
        low, high = _num(p["low"], f"{where}.low"), _num(p["high"], f"{where}.high")
        log = p.get("log", False)
        if not isinstance(log, bool):
            raise CredsimError(f"{where}.log: expected true or false")
        if not low < high:
            raise CredsimError(f"{where}: low ({low:g}) must be below high ({high:g})")
        if log and low <= 0:
            raise CredsimError(f"{where}: a log-scale parameter needs low > 0")
        if integer and (low != int(low) or high != int(high)):
            raise CredsimError(f"{where}: {path} is an integer field: low and high must be whole numbers")
        if any(q.path == path for q in params):
            raise CredsimError(f"{where}: {path} appears twice")
        for bound in (low, high):
            with_params(scenario, {path: int(bound) if integer else bound}, f"{where} at bound {bound:g}")
        params.append(Parameter(path, low, high, log, integer))

    if not isinstance(doc["target"], list) or not doc["target"]:
        raise CredsimError(f"{source}: [[target]] must be a non-empty list of tables")
    targets: list[Target | DatedTarget] = []
    columns = daily_columns(scenario)
    for i, t in enumerate(doc["target"]):
        where = f"{source}: target[{i}]"
        if isinstance(t, dict) and ("date" in t or "quantity" in t):
            dated = [x for x in targets if isinstance(x, DatedTarget)]
            targets.append(parse_dated(t, where, start, days, columns, dated[-1] if dated else None))
            continue
        if not isinstance(t, dict) or "metric" not in t or "value" not in t:
            raise CredsimError(f"{where}: needs metric and value (or date, quantity and value)")
        extra = sorted(set(t) - {"metric", "value", "weight", "last_days", "tolerance"})
        if extra:
            raise CredsimError(f"{where}: unknown field {extra[0]!r}")
        metric = str(t["metric"])
        _check_metric(metric, scenario, where)
        weight = _num(t.get("weight", 1.0), f"{where}.weight")
        if weight < 0:
            raise CredsimError(f"{where}.weight: must be >= 0")
        last = t.get("last_days")
        if last is not None:
            last = _int(last, f"{where}.last_days", 1, days)
        tolerance = parse_tolerance(t.get("tolerance"), f"{where}.tolerance")
        targets.append(Target(metric, _num(t["value"], f"{where}.value"), weight, last, tolerance))
    return Targets(params, targets, population, days, seed, trials, sampler_seed, seeds, start)


def load_targets(path: str | Path, scenario: Scenario) -> Targets:
    p = Path(path)
    text = read_text_file(p, "targets file", CredsimError)
    return parse_targets(text, scenario, str(p))


# ---------------------------------------------------------------- metrics and fit


def calibrate(
    scenario: Scenario, targets: Targets, *, name: str = "scenario", backend: str = "cpu", on_trial=None
) -> Calibration:
    """Fit ``targets.parameters`` to ``targets.targets`` with a seeded TPE sampler (sequential)."""
    import optuna

    from credsim.api import simulate

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = optuna.samplers.TPESampler(seed=targets.sampler_seed)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    trials: list[dict] = []
    seeds = [targets.seed + k for k in range(targets.seeds)]

    def run(sc: Scenario) -> list[pd.DataFrame]:
        return [simulate(sc, targets.population, targets.days, s, backend=backend, name=name).daily for s in seeds]

    def objective(trial: "optuna.Trial") -> float:
        params: dict[str, float | int] = {}
        for p in targets.parameters:
            if p.integer:
                params[p.path] = trial.suggest_int(p.path, int(p.low), int(p.high), log=p.log)
            else:
                params[p.path] = trial.suggest_float(p.path, p.low, p.high, log=p.log)
        try:
            sc = with_params(scenario, params, f"{name} (trial {trial.number})")
            dailies = run(sc)
        except ScenarioError as err:  # a point inside the bounds can still be invalid (odd contacts, ...)
            trials.append({"trial": trial.number, **params, "loss": math.nan, "invalid": str(err)})
            raise optuna.TrialPruned(str(err)) from None
        loss, rows = residuals(dailies, targets.population, targets.targets)
        seed_losses = [residuals(d, targets.population, targets.targets)[0] for d in dailies]
        trials.append(
            {
                "trial": trial.number,
                **params,
                "loss": loss,
                "seed_losses": seed_losses,
                **{f"sim:{r['metric']}" + (f"@{r['date']}" if r["date"] else ""): r["simulated"] for r in rows},
            }
        )
        if on_trial is not None:
            on_trial(trial.number + 1, targets.trials)
        return loss

    study.optimize(objective, n_trials=targets.trials, n_jobs=1, gc_after_trial=False, show_progress_bar=False)
    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        raise CredsimError(
            f"calibrate: every one of {targets.trials} trials was an invalid scenario; narrow the bounds"
        )
    best = study.best_trial
    params = {p.path: best.params[p.path] for p in targets.parameters}
    fitted = with_params(scenario, params, name)
    loss, rows = residuals(run(fitted), targets.population, targets.targets)
    spread = seed_spread(trials, [p.path for p in targets.parameters], seeds)
    settings = {
        "scenario": name,
        "population": targets.population,
        "days": targets.days,
        "seed": targets.seed,
        "seeds": seeds,
        "start_date": targets.start_date.isoformat() if targets.start_date else None,
        "trials": targets.trials,
        "sampler": "optuna TPESampler",
        "sampler_seed": targets.sampler_seed,
        "optuna": optuna.__version__,
        "best_trial": best.number,
        "parameters": [
            {
                "path": p.path,
                "low": p.low,
                "high": p.high,
                "log": p.log,
                "integer": p.integer,
                "start": get_param(scenario, p.path),
            }
            for p in targets.parameters
        ],
    }
    return Calibration(fitted, params, loss, rows, trials, settings, spread)
