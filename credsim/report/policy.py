"""The report's description of each run's system: the CSM-2 mechanisms it has on and every policy
in force over the run (MODEL.md §8.4: each schedule entry's day and the values it changes).

A run of a CSM-1 scenario without a schedule has nothing to describe here, so its report is as
before; the words come from :mod:`credsim.scenario.describe`, which the linter and the dashboard
use too.
"""

from __future__ import annotations

import html

from credsim.results.run import RunResult
from credsim.scenario.describe import mechanism_lines, schedule_entries
from credsim.scenario.model import Scenario


def policy_html(runs: dict[str, RunResult]) -> str:
    """A section describing each run's CSM-2 mechanisms and schedule ('' when no run has any)."""
    e = html.escape
    blocks = []
    for label, r in runs.items():
        items = [f"<li>{e(line)}</li>" for line in mechanism_lines(r.scenario)]
        for entry in schedule_entries(r.scenario):
            late = entry.day > r.days
            text = entry.text() + (f" (after day {r.days}, the run's last: changes nothing here)" if late else "")
            items.append(f"<li class='schedule-entry' data-day='{entry.day}'>{e(text)}</li>")
        if items:
            blocks.append(f"<h3>{e(label)}</h3><ul>{''.join(items)}</ul>")
    if not blocks:
        return ""
    return (
        "<section id='policy'><h2>Mechanisms and policy over time</h2>"
        "<p class='about'>What each system does beyond the score and the list (MODEL.md §8), and each change "
        "of policy during the run: from its first day on, the values shown replace the ones before.</p>"
        f"{''.join(blocks)}</section>"
    )


def points_text(scenario: Scenario, channel: str) -> str:
    """A channel's points over the run: ``-10``, or ``-10 (0 from day 61)`` when a schedule changes them."""
    base = next(c.points for c in scenario.channel if c.name == channel)
    later = [
        (entry.day, change.new)
        for entry in schedule_entries(scenario)
        for change in entry.changes
        if change.path == f"channel.{channel}.points"
    ]
    if not later:
        return _signed(base)
    return f"{_signed(base)} ({', '.join(f'{_signed(p)} from day {d}' for d, p in later)})"


def _signed(points: int) -> str:
    return f"{points:+d}" if points else "0"
