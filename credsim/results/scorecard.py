"""The scorecard: what a scenario did, against the ``baseline`` run with the same seed.

Every figure is a plain function of two daily tables (MODEL.md §5) and the scenario's channel
kinds, so a reader can recompute each one from ``daily.csv`` by hand. Common random numbers make
the differences exact effects of the system, not sampling noise between two worlds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from credsim.errors import CredsimError
from credsim.scenario import Scenario
from credsim.scenario.schedule import policies as policies_in_force

#: Metric name → (unit, plain-words description), in display order (activities are added per scenario).
METRICS: dict[str, tuple[str, str]] = {
    "offences_prevented_pct": ("%", "offences prevented (true events on offence channels, vs baseline)"),
    "defaults_prevented_pct": ("%", "late payments and defaults prevented (vs baseline)"),
    "lawful_suppressed_pct": ("%", "lawful behaviour suppressed, on lawful channels the scenario penalises"),
    "civic_change_pct": ("%", "change in civic behaviour (vs baseline)"),
    "ever_listed_pct": ("%", "share of people ever blacklisted"),
    "listed_end_pct": ("%", "share blacklisted on the last day"),
    "listed_person_days_per_capita": ("days", "days on the blacklist per person"),
    "spillover_pct_of_listed": ("%", "of the listed, share listed by a spouse's pull (mean over days)"),
    "wrongly_flagged_pct_of_listed": ("%", "of the listed, share ever wrongly attributed (mean over days)"),
    "stress_high_pct": ("%", "share in high stress (>= 128) on the last day"),
    # CSM-2 (MODEL.md §8.6): each only when its daily columns exist (its scenario table is present)
    "settlements": ("settlements", "settlements: a listed person paid the obligation that kept them listed"),
    "term_exits": ("people", "term exits: left the list because the listing term ran out"),
    "appeals_filed": ("appeals", "appeals of wrongful attributions filed"),
    "appeals_upheld": ("appeals", "appeals upheld (the record cleared)"),
    "appeals_rejected": ("appeals", "appeals rejected"),
    "appeals_upheld_pct": ("%", "of the appeals decided, share upheld"),
    "wrongful_listing_person_days": ("days", "person-days on the list with a wrongful record"),
    "wrongful_listing_days_per_capita": ("days", "days on the list with a wrongful record, per person"),
}
#: Daily columns (MODEL.md §8.6) whose presence means the scenario has [exit] / [appeals].
EXIT_COLUMN, APPEALS_COLUMN = "settlements", "appeals_filed"


def _channels(scenario: Scenario, kind: str, penalised_only: bool = False) -> list[str]:
    return [c.name for c in scenario.channel if c.kind.value == kind and (not penalised_only or c.points < 0)]


def _columns(daily) -> dict[str, np.ndarray]:
    """A daily table as one array per column (a card reads ~40 columns of two tables: pandas' per-column
    access cost more than the arithmetic). Already a mapping: returned as it is."""
    if isinstance(daily, dict):
        return daily
    values = daily.to_numpy()
    return {name: values[:, j] for j, name in enumerate(daily.columns)}


def _true_total(daily, channels: list[str]) -> int:
    return int(sum(int(daily[f"true_{c}"].sum()) for c in channels))


def _change_pct(ours: int, base: int) -> float:
    """100 × (ours / base − 1); NaN when the baseline has none of them (nothing to compare)."""
    return 100.0 * (ours / base - 1.0) if base else math.nan


def _prevented_pct(ours: int, base: int) -> float:
    """100 × (1 − ours / base): the share of the baseline's events that did not happen."""
    return 100.0 * (1.0 - ours / base) if base else math.nan


def _mean_share_pct(num: np.ndarray, den: np.ndarray) -> float:
    """Mean over the days with anyone listed of 100 × num/den; 0 when no one is ever listed."""
    mask = den > 0
    return float((100.0 * num[mask] / den[mask]).mean()) if mask.any() else 0.0


#: Fields that describe the world rather than the system: a scorecard's scenarios must share them
#: with the baseline, or the difference would not be the system's effect.
WORLD_FIELDS = {
    "population": ("regions", "married_share", "disposition_sigma", "contacts"),
    "channel": ("name", "kind", "base", "dispositional"),
    "activity": ("name", "base"),
}


def check_comparable(scenario: Scenario, baseline: Scenario, name: str, days: int | None = None) -> None:
    """The scenario must live in the baseline's world on every day: same population, same channels
    and activities (names, order, kinds, base rates) in every plan in force (MODEL.md §8.4: a schedule
    may change a ``base``); only the system may differ. ``days``: only switches up to that day count."""
    if [c.name for c in scenario.channel] != [c.name for c in baseline.channel]:
        raise CredsimError(
            f"compare: scenario {name!r} has channels that differ from the baseline's; "
            "a scorecard needs the same channels in the same order"
        )
    if [a.name for a in scenario.activity] != [a.name for a in baseline.activity]:
        raise CredsimError(f"compare: scenario {name!r} has activities that differ from the baseline's")
    for field in WORLD_FIELDS["population"]:
        if getattr(scenario.population, field) != getattr(baseline.population, field):
            raise CredsimError(
                f"compare: scenario {name!r} differs from the baseline in population.{field}; "
                "only the system may differ for a scorecard (same world, same draws)"
            )
    ours, theirs = policies_in_force(scenario), policies_in_force(baseline)
    switch = sorted({d for d, _ in ours} | {d for d, _ in theirs})
    for day in (d for d in switch if days is None or d <= days):
        mine, base = _in_force(ours, day), _in_force(theirs, day)
        when = "" if day == 1 else f" from day {day} (a [[schedule]] entry changes it)"
        for what in ("channel", "activity"):
            for i, (a, b) in enumerate(zip(getattr(mine, what), getattr(base, what))):
                for field in WORLD_FIELDS[what]:
                    if getattr(a, field) != getattr(b, field):
                        raise CredsimError(
                            f"compare: scenario {name!r} differs from the baseline in {what}[{i}].{field}{when} "
                            "(behaviour without the system); only the system may differ"
                        )


def _in_force(policies: list[tuple[int, Scenario]], day: int) -> Scenario:
    """The policy in force on ``day`` of a list of (first day, policy), first days ascending."""
    return [p for d, p in policies if d <= day][-1]


def scorecard(daily: pd.DataFrame, scenario: Scenario, base_daily: pd.DataFrame, population: int) -> dict[str, float]:
    """The metrics of one scenario against the baseline (same seed, population and days)."""
    daily, base_daily = _columns(daily), _columns(base_daily)
    last = {name: column[-1] for name, column in daily.items()}
    out: dict[str, float] = {}
    off = _channels(scenario, "offence")
    out["offences_prevented_pct"] = _prevented_pct(_true_total(daily, off), _true_total(base_daily, off))
    dft = _channels(scenario, "default")
    out["defaults_prevented_pct"] = _prevented_pct(_true_total(daily, dft), _true_total(base_daily, dft))
    law = _channels(scenario, "lawful", penalised_only=True)
    out["lawful_suppressed_pct"] = _prevented_pct(_true_total(daily, law), _true_total(base_daily, law)) if law else 0.0
    civ = _channels(scenario, "civic")
    out["civic_change_pct"] = _change_pct(_true_total(daily, civ), _true_total(base_daily, civ))
    out["ever_listed_pct"] = 100.0 * int(last["ever_listed"]) / population
    out["listed_end_pct"] = 100.0 * int(last["listed"]) / population
    out["listed_person_days_per_capita"] = int(daily["listed"].sum()) / population
    out["spillover_pct_of_listed"] = _mean_share_pct(daily["spillover"], daily["listed"])
    out["wrongly_flagged_pct_of_listed"] = _mean_share_pct(daily["listed_wrongly_flagged"], daily["listed"])
    for a in scenario.activity:
        attempts = int(daily[f"attempts_{a.name}"].sum())
        out[f"{a.name}_denied_per_1000"] = 1000.0 * int(daily[f"denied_{a.name}"].sum()) / attempts if attempts else 0.0
    out["stress_high_pct"] = 100.0 * int(last["stress_high"]) / population
    out.update(csm2_metrics(daily, population))
    # absolute counts the verdict needs
    out["offences_prevented"] = float(_true_total(base_daily, off) - _true_total(daily, off))
    out["listed_person_days"] = float(daily["listed"].sum())
    return out


def csm2_metrics(daily: pd.DataFrame, population: int) -> dict[str, float]:
    """What CSM-2's mechanisms make measurable (MODEL.md §8.6), each a sum of daily columns; a metric
    whose columns are absent (its table is not in the scenario) is absent, not zero.

    The wrongful listing, Σ over days of ``listed_wrongly_flagged`` (person-days on the list while
    holding a wrongful record) and per capita, is a §5 column: every scenario has it, so appeals can be
    judged against a scenario without them. ``settlements``, ``term_exits``: Σ of those columns (with
    [exit]). ``appeals_filed``, ``appeals_upheld``, ``appeals_rejected``: Σ of those columns (with
    [appeals]); ``appeals_upheld_pct`` = 100 × upheld / (upheld + rejected), NaN when none was decided.
    """
    daily = _columns(daily)
    wrongful = int(daily["listed_wrongly_flagged"].sum())
    out: dict[str, float] = {
        "wrongful_listing_person_days": float(wrongful),
        "wrongful_listing_days_per_capita": wrongful / population,
    }
    if EXIT_COLUMN in daily:
        out["settlements"] = float(daily["settlements"].sum())
        out["term_exits"] = float(daily["term_exits"].sum())
    if APPEALS_COLUMN in daily:
        filed, upheld = int(daily["appeals_filed"].sum()), int(daily["appeals_upheld"].sum())
        rejected = int(daily["appeals_rejected"].sum())
        out["appeals_filed"], out["appeals_upheld"] = float(filed), float(upheld)
        out["appeals_rejected"] = float(rejected)
        out["appeals_upheld_pct"] = 100.0 * upheld / (upheld + rejected) if upheld + rejected else math.nan
    return out


def metric_order(cards) -> list[str]:
    """Every metric of some card, each once, in the cards' order: a metric only some cards have (a CSM-2
    mechanism the baseline lacks) comes after the metric it follows in the first card that has it."""
    out: list[str] = []
    for card in cards:
        prev = None
        for metric in card:
            if metric not in out:
                out.insert(out.index(prev) + 1 if prev is not None else 0, metric)
            prev = metric
    return out


def metric_label(metric: str) -> tuple[str, str]:
    """(unit, description) of a metric, activities included."""
    if metric in METRICS:
        return METRICS[metric]
    if metric.endswith("_denied_per_1000"):
        return ("per 1000", f"{metric.removesuffix('_denied_per_1000').replace('_', ' ')} attempts denied")
    return ("", metric.replace("_", " "))


def _fmt(x: float, digits: int = 1) -> str:
    return "n/a" if x != x else f"{x:,.{digits}f}"


def _count(x: float, one: str, many: str) -> str:
    return f"{x:,.0f} {one if x == 1 else many}"


def _csm2_sentences(card: dict[str, float]) -> list[str]:
    """The CSM-2 numbers in words, each only when the card has it (never for a CSM-1 scenario)."""
    parts = []
    if "settlements" in card:
        settled, term = card["settlements"], card["term_exits"]
        parts.append(
            f"There were {_count(settled, 'settlement', 'settlements')} (a listed person paying the "
            f"obligation that kept them on the list), and {_count(term, 'listing', 'listings')} ended "
            "because the listing term ran out."
        )
    if "appeals_filed" in card:
        filed = card["appeals_filed"]
        decided = card["appeals_upheld"] + card["appeals_rejected"]
        if filed == 0:
            text = "No wrongful attribution was appealed"
        elif decided == 0:
            text = f"{_count(filed, 'appeal was', 'appeals were')} filed and none was decided"
        else:
            text = (
                f"{_count(filed, 'appeal was', 'appeals were')} filed; {_fmt(card['appeals_upheld_pct'], 0)}% of "
                f"the {decided:,.0f} decided were upheld"
            )
        per = _fmt(card["wrongful_listing_days_per_capita"], 3)
        parts.append(
            f"{text}; people spent {card['wrongful_listing_person_days']:,.0f} person-days on the list "
            f"while holding a wrongful record ({per} per person)."
        )
    return parts


def _ci(intervals: dict | None, metric: str, unit: str = "", digits: int = 1, lead: str = " (", tail: str = ")") -> str:
    """`` (95% interval LOW–HIGH UNIT)`` for a metric of a K-seed comparison; empty without intervals."""
    if not intervals or metric not in intervals:
        return ""
    lo, hi = intervals[metric]
    if lo != lo:
        return ""
    return f"{lead}95% interval {_fmt(lo, digits)}–{_fmt(hi, digits)}{unit}{tail}"


def verdict(
    name: str,
    card: dict[str, float],
    population: int,
    days: int,
    *,
    intervals: dict | None = None,
    seeds: int = 1,
    per_prevented: tuple[float, float, float] | None = None,
) -> str:
    """A few sentences in plain words, every number taken from the scorecard.

    With K > 1 seeds (``compare --seeds``): ``card`` holds means over the seeds, ``intervals`` each
    figure's 95% interval and ``per_prevented`` the (mean, low, high) of person-days listed per offence
    prevented; the figures are given with their intervals."""
    iv = intervals
    parts: list[str] = []
    prevented = card["offences_prevented"]
    over = f"Over {days} days among {population:,} people"
    if seeds > 1:
        over += f" (mean of {seeds} seeds)"
    if prevented > 0:
        if per_prevented is not None and per_prevented[0] == per_prevented[0]:
            mean, lo, hi = per_prevented
            per = f"{_fmt(mean)} (95% interval {_fmt(lo)}–{_fmt(hi)})"
        else:
            per = _fmt(card["listed_person_days"] / prevented)
        parts.append(
            f"{over}, {name} prevented {prevented:,.0f} offences{_ci(iv, 'offences_prevented', digits=0)} "
            f"({_fmt(card['offences_prevented_pct'])}% fewer than without the system"
            f"{_ci(iv, 'offences_prevented_pct', '%', lead='; ', tail='')}); for every offence "
            f"prevented, {per} person-days were spent on the blacklist."
        )
    else:
        parts.append(
            f"{over}, {name} prevented no offences against the baseline "
            f"({_fmt(max(0.0, -prevented), 0)} more), while {card['listed_person_days']:,.0f} person-days"
            f"{_ci(iv, 'listed_person_days', digits=0)} were spent on the blacklist."
        )
    if card["listed_person_days"] > 0:
        parts.append(
            f"On an average day, {_fmt(card['spillover_pct_of_listed'])}%{_ci(iv, 'spillover_pct_of_listed', '%')} "
            f"of those listed were there by their spouse's pull (their own score was above the line) and "
            f"{_fmt(card['wrongly_flagged_pct_of_listed'])}%{_ci(iv, 'wrongly_flagged_pct_of_listed', '%')} "
            f"had been wrongly attributed an event; {_fmt(card['ever_listed_pct'])}%"
            f"{_ci(iv, 'ever_listed_pct', '%')} of everyone was listed at some point."
        )
    parts += _csm2_sentences(card)
    if card["lawful_suppressed_pct"] and not math.isnan(card["lawful_suppressed_pct"]):
        parts.append(
            f"Lawful behaviour that the system penalises fell by {_fmt(card['lawful_suppressed_pct'])}%"
            f"{_ci(iv, 'lawful_suppressed_pct', '%')}."
        )
    parts.append(f"{_fmt(card['stress_high_pct'])}%{_ci(iv, 'stress_high_pct', '%')} ended the run in high stress.")
    return " ".join(parts)
