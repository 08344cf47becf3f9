"""A scenario's CSM-2 mechanisms and schedule in plain words (MODEL.md §8), for every reader of a
scenario that describes it: the linter, the report and the dashboard.

Descriptions read every policy in force (:func:`credsim.scenario.schedule.policies`): a schedule
entry is shown as the values it changes, each with the value in force the day before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from credsim.scenario.model import Appeals, Scenario
from credsim.scenario.schedule import LISTS, policies


@dataclass(frozen=True)
class Change:
    """One value a schedule entry sets: its path, the value in force before, the new value."""

    path: str  # as the entry writes it: "channel.online_speech.false_rate"
    old: Any
    new: Any

    def text(self) -> str:
        return f"{self.path} {_fmt(self.old)} → {_fmt(self.new)}"


@dataclass(frozen=True)
class Entry:
    """One schedule entry: its index k (``schedule[k]``), its first day and what it changes."""

    index: int
    day: int
    changes: tuple[Change, ...]

    @property
    def label(self) -> str:
        return f"schedule[{self.index}]"

    def text(self) -> str:
        return f"from day {self.day} ({self.label}): " + "; ".join(c.text() for c in self.changes)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if hasattr(value, "value"):  # an enum (a channel kind, a region table)
        return str(value.value)
    return str(value)


def value_at(policy: Scenario, path: str) -> Any:
    """The value at a schedule path (``table.FIELD`` or ``channel.NAME.FIELD``) in one policy."""
    parts = path.split(".")
    if parts[0] in LISTS:
        item = next(i for i in getattr(policy, parts[0]) if i.name == parts[1])
        return getattr(item, parts[2])
    return getattr(getattr(policy, parts[0]), parts[1])


def schedule_entries(scenario: Scenario) -> list[Entry]:
    """Every schedule entry of a (validated) scenario with the values it changes, in entry order."""
    if not scenario.schedule:
        return []
    pols = policies(scenario)
    out = []
    for k, entry in enumerate(scenario.schedule):
        before, after = pols[k][1], pols[k + 1][1]
        out.append(Entry(k, entry.day, tuple(Change(p, value_at(before, p), value_at(after, p)) for p in entry.set)))
    return out


def appeals_text(appeals: Appeals | None) -> str:
    """``appeals: 60% filed, 30% upheld, mean review 10 days`` (or ``no appeals``)."""
    if appeals is None:
        return "no appeals"
    review = "never decided" if appeals.decide_rate <= 0 else f"mean review {_days(1.0 / appeals.decide_rate)}"
    return f"appeals: {_pct(appeals.rate)} filed, {_pct(appeals.uphold)} upheld, {review}"


def mechanism_lines(scenario: Scenario) -> list[str]:
    """The CSM-2 mechanisms a policy has switched on, one line each (none for a CSM-1 scenario)."""
    out = []
    bl = scenario.blacklist
    if bl.initial_share > 0:
        out.append(f"a list on day 0: {_pct(bl.initial_share)} of the people listed, own score {scenario.initial_score}")
    ex = scenario.exit
    if ex is not None:
        term = f"term {ex.max_stay} days" if ex.max_stay else "no term"
        out.append(
            f"settlement: an owing listing is paid with chance {_pct(ex.settle_rate)} a day "
            f"({ex.settle_points} points back); {term}"
        )
    if scenario.appeals is not None:
        out.append(appeals_text(scenario.appeals))
    ad = scenario.adaptive
    if ad is not None:
        out.append(
            f"adaptive behaviour: penalised acts × {ad.near_factor:g} within {ad.near_band} points above "
            f"the line, × {ad.listed_factor:g} when listed"
        )
    return out


def _pct(p: float) -> str:
    x = 100.0 * p
    if x == 0 or x >= 1:
        return f"{x:.3g}%"
    return f"{x:.2g}%"


def _days(d: float) -> str:
    return f"{d:.0f} days" if d >= 10 else f"{d:.2g} days"
