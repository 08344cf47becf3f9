"""A tracked agent's run as a short story and a table (``credsim explain RUN AGENT``).

Built from the panel (MODEL.md §8.7), its events (:mod:`credsim.results.events`), the daily
threshold and the scenario; nothing else. Agents are integers: a story is that of a number in a
synthetic population, never of a person. Host code only: no typer or rich (the command formats).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from credsim.errors import CredsimError
from credsim.kernel import layout as L
from credsim.results.events import panel_events
from credsim.results.run import RunResult

#: Clauses of a story at most; later events are in the table only.
MAX_CLAUSES = 30


class NotTracked(CredsimError):
    """The agent asked about is not one of the panel's tracked agents."""


@dataclass
class Story:
    """One tracked agent's run: the story in words, its events as rows, and a few totals."""

    run: str
    agent: int
    days: int
    text: str
    events: list[dict] = field(default_factory=list)  # day, event, channel, detail, own, public, threshold, listed
    summary: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "run": self.run,
            "agent": self.agent,
            "days": self.days,
            "story": self.text,
            "summary": self.summary,
            "events": self.events,
        }


def nearest_tracked(agents: np.ndarray, agent: int) -> list[int]:
    """The tracked ids nearest to ``agent``: the one below and the one above (one at either end)."""
    agents = np.asarray(agents, np.int64)
    i = int(np.searchsorted(agents, agent))
    return [int(a) for a in agents[max(0, i - 1) : i + 1]]


def _check(result: RunResult, agent) -> int:
    t = result.tables
    label = result.run_id or result.name
    if t.panel is None:
        raise CredsimError(f"explain: run {label} has no panel; run it with --panel K to track agents")
    if not t.panel_has_events:
        raise CredsimError(
            f"explain: run {label} has panel.csv but no panel_events.csv (written by an older "
            "credsim); run it again to tell its agents' stories"
        )
    if isinstance(agent, bool) or not isinstance(agent, (int, np.integer)):
        try:
            agent = int(str(agent).strip().replace("_", ""))
        except ValueError:
            raise CredsimError(f"agent: expected an agent id (a whole number), got {agent!r}") from None
    agent = int(agent)
    agents = t.panel_agents
    j = int(np.searchsorted(agents, agent))
    if j >= len(agents) or agents[j] != agent:
        near = " and ".join(str(a) for a in nearest_tracked(agents, agent))
        raise NotTracked(
            f"agent: {agent} is not tracked in run {label} ({len(agents):,} tracked agents, ids "
            f"(j*N)//K); the nearest tracked: {near}"
        )
    return j


def _clause(ev, row, spouse_label: str) -> str:
    """One event in words (``row``: the agent's panel values of that day, or None for day 0)."""
    d, name, ch, detail = int(ev["day"]), ev["event"], ev["channel_name"], ev["detail"]
    line = f"line {row['threshold']}" if row is not None else ""
    if name == "initially_listed":
        owing = " for an unpaid obligation" if detail == "owing" else ""
        return f"was already on the list{owing} when the run began"
    if name == "wrongful_attribution":
        return f"was wrongly attributed a {ch} event on day {d} ({detail})"
    if name == "appeal_filed":
        return f"appealed the {ch} attribution on day {d}"
    if name == "appeal_upheld":
        return f"was cleared on day {d} (appeal against {ch} upheld, {detail})"
    if name == "appeal_rejected":
        return f"lost the appeal against {ch} on day {d} (rejected)"
    if name == "settled":
        return f"settled the obligation on day {d} ({detail})"
    if name == "entered":
        if detail == "forced":
            return f"was put on the list on day {d} by a detected {ch} event (a forced listing)"
        if detail == "spouse_pull":
            return (
                f"entered the list on day {d} by {spouse_label} pull (own score {row['own']} at or above the "
                f"{line}, public score {row['public']} below it)"
            )
        if detail == "wrongful_attribution":
            return (
                f"entered the list on day {d} after a wrongful attribution on {ch} (public score "
                f"{row['public']}, {line})"
            )
        return f"entered the list on day {d} with a public score of {row['public']}, below the {line}"
    if name == "renewed":
        return f"had the listing renewed on day {d} by a new {ch} event"
    if name == "term_over":
        if detail == "left":
            return f"reached the end of the listing term on day {d} and left the list"
        return (
            f"reached the end of the listing term on day {d} but stayed (public score {row['public']} below the {line})"
        )
    if name == "left":
        if detail == "settled":
            return f"left the list on day {d} after settling"
        if detail == "term_over":
            return ""  # said by term_over
        if detail == "appeal_upheld":
            return f"left the list on day {d}, cleared"
        return f"left the list on day {d} with a public score of {row['public']} ({line})"
    return f"{name} on day {d}"


def tell(result: RunResult, agent) -> Story:
    """The story of a tracked agent of ``result``; one-line CredsimError (NotTracked: with the nearest
    tracked ids) for an agent that is not tracked or a run without a panel or its events."""
    j = _check(result, agent)
    t = result.tables
    agent = int(t.panel_agents[j])
    days = t.daily.shape[0]
    mine = t.panel[:, j : j + 1, :]
    events = panel_events(mine, t.panel_agents[j : j + 1], t.daily[:, 1], result.scenario)
    p = mine[:, 0, :].astype(np.int64)
    thr = t.daily[:, 1].astype(np.int64)

    def day_row(d: int) -> dict | None:
        if d < 1:
            return None
        v = p[d - 1]
        return {
            "own": int(v[L.PN_OWN]),
            "public": int(v[L.PN_PUBLIC]),
            "threshold": int(thr[d - 1]),
            "listed": int(v[L.PN_LISTED]),
            "stress": int(v[L.PN_STRESS]),
        }

    spouse_label = "the spouse's"
    table, clauses = [], []
    for ev in events.to_dict("records"):
        row = day_row(int(ev["day"]))
        table.append(
            {
                "day": int(ev["day"]),
                "event": ev["event"],
                "channel": ev["channel_name"] or None,
                "detail": ev["detail"] or None,
                **(row or {}),
            }
        )
        text = _clause(ev, row, spouse_label)
        if text:
            clauses.append(text)
    # totals: days listed, of them with a wrongful record (any false event not cleared by an upheld appeal)
    listed = p[:, L.PN_LISTED] == 1
    wrong_day = np.where(p[:, L.PN_FALSE] >= 0, np.arange(days), -1)
    upheld_day = np.full(days, -1)
    for ev in events.itertuples():
        if ev.event == "appeal_upheld":
            upheld_day[ev.day - 1] = ev.day - 1
    last_wrong = np.maximum.accumulate(wrong_day)
    flagged = (last_wrong >= 0) & (last_wrong >= np.maximum.accumulate(upheld_day))
    count = events["event"].value_counts()
    summary = {
        "days_listed": int(listed.sum()),
        "days_listed_with_wrongful_record": int((listed & flagged).sum()),
        "entries": int(count.get("entered", 0)),
        "exits": int(count.get("left", 0)),
        "wrongful_attributions": int(count.get("wrongful_attribution", 0)),
        "appeals_filed": int(count.get("appeal_filed", 0)),
        "appeals_upheld": int(count.get("appeal_upheld", 0)),
        "settlements": int(count.get("settled", 0)),
        "own_end": int(p[-1, L.PN_OWN]),
        "public_end": int(p[-1, L.PN_PUBLIC]),
        "listed_end": bool(listed[-1]),
        "stress_end": int(p[-1, L.PN_STRESS]),
    }
    initially = bool((events["event"] == "initially_listed").any())
    s0 = result.scenario.initial_score if initially else result.scenario.score.start  # §8.5
    head = f"Agent {agent} (a number in a synthetic population of {result.population:,}) started at {s0} points"
    if not clauses:
        body = "; nothing happened that put it on or off the list, and no event was wrongly attributed to it"
    else:
        shown = clauses[:MAX_CLAUSES]
        more = len(clauses) - len(shown)
        body = "; " + "; ".join(shown) + (f"; and {more} more events (see the table)" if more else "")
    where = "on the list" if summary["listed_end"] else "off the list"
    wrongful = summary["days_listed_with_wrongful_record"]
    listed_txt = f"{summary['days_listed']} of {days} days on the list"
    if wrongful:
        listed_txt += f" ({wrongful} of them with a wrongful record)"
    tail = (
        f"It ended day {days} {where} with an own score of {summary['own_end']}, a public score of "
        f"{summary['public_end']} (line {int(thr[-1])}) and stress {summary['stress_end']}: "
        f"{listed_txt}."
    )
    return Story(result.run_id or result.name, agent, days, f"{head}{body}. {tail}", table, summary)
