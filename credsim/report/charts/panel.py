"""The panel chart: the day of a few tracked agents (MODEL.md §8.7), one small multiple each."""

from __future__ import annotations

import numpy as np
import pandas as pd

from credsim.report.charts.base import DAY_TITLE, Chart, _csv, _run_encoding
from credsim.results.run import RunResult

#: Tracked agents drawn at most (small multiples), and their panels per row.
PANEL_AGENTS = 6
PANEL_COLUMNS_PER_ROW = 3


def pick_agents(runs: dict[str, RunResult], baseline: str | None, most: int = PANEL_AGENTS) -> list[int]:
    """A few agents tracked in every run with a panel: those with the most days listed, then the most days
    with an event, in the first run with a panel that is not the baseline; ties to the lower id."""
    from credsim.kernel.layout import PN_EVENTS, PN_LISTED

    with_panel = {label: r for label, r in runs.items() if r.tables.panel is not None}
    if not with_panel:
        return []
    common = None
    for r in with_panel.values():
        ids = set(np.asarray(r.tables.panel_agents).tolist())
        common = ids if common is None else common & ids
    lead = next((r for label, r in with_panel.items() if label != baseline), next(iter(with_panel.values())))
    agents = np.asarray(lead.tables.panel_agents)
    listed = lead.tables.panel[:, :, PN_LISTED].sum(axis=0)
    eventful = (lead.tables.panel[:, :, PN_EVENTS] != 0).sum(axis=0)
    ranked = sorted((-int(listed[j]), -int(eventful[j]), int(a)) for j, a in enumerate(agents) if int(a) in common)
    return sorted(a for _, _, a in ranked[:most])


def panel_chart(runs: dict[str, RunResult], baseline: str | None) -> Chart | None:
    """Small multiples, one per tracked agent (a few, :func:`pick_agents`): its public score day by day
    against the blacklist line, a colour per run. None when no run has a panel (MODEL.md §8.7)."""
    from credsim.kernel.layout import PN_LISTED, PN_PUBLIC

    chosen = pick_agents(runs, baseline)
    if not chosen:
        return None
    rows, notes = [], []
    for label, r in runs.items():
        t = r.tables
        if t.panel is None:
            notes.append(f"{label}: this run tracked no agents (run it with --panel K to draw them).")
            continue
        index = {int(a): j for j, a in enumerate(t.panel_agents)}
        d = r.daily
        thr = d["threshold"].where(d["threshold"] > r.scenario.score.min)
        for a in chosen:
            j = index[a]
            rows.append(
                pd.DataFrame(
                    {
                        "run": label,
                        "agent": f"agent {a}",
                        "day": d["day"],
                        "public": t.panel[:, j, PN_PUBLIC].astype(int),
                        "threshold": thr,
                        "listed": np.where(t.panel[:, j, PN_LISTED] == 1, "yes", "no"),
                    }
                )
            )
    df = pd.concat(rows, ignore_index=True)
    long = df.melt(
        id_vars=["run", "agent", "day", "listed"],
        value_vars=["public", "threshold"],
        var_name="measure",
        value_name="score",
    ).dropna()
    long["measure"] = long["measure"].map({"public": "Public score", "threshold": "Blacklist line"})
    labels = list(runs)
    order = [f"agent {a}" for a in chosen]
    spec = {
        "title": {
            "text": "A few tracked agents, day by day",
            "subtitle": [
                "Each panel follows one tracked agent (a number in the simulated population): its "
                "public score (solid) and the blacklist line (dashed).",
                "Below the line means listing; the same agent in each scenario, so the lines differ "
                "only by the system.",
            ],
        },
        "data": _csv(long, ["day", "score"]),
        "facet": {
            "field": "agent",
            "type": "nominal",
            "title": None,
            "sort": order,
            "header": {"labelFontSize": 12, "labelFontWeight": "bold"},
        },
        "columns": min(PANEL_COLUMNS_PER_ROW, len(order)),
        "spec": {
            "width": 210,
            "height": 150,
            "mark": {"type": "line", "strokeWidth": 1.8, "interpolate": "step-after"},
            "encoding": {
                "x": {"field": "day", "type": "quantitative", "title": DAY_TITLE, "axis": {"tickMinStep": 1}},
                "y": {"field": "score", "type": "quantitative", "title": "Points", "scale": {"zero": False}},
                "color": _run_encoding(labels, baseline),
                "strokeDash": {
                    "field": "measure",
                    "type": "nominal",
                    "title": "Lines",
                    "scale": {"domain": ["Public score", "Blacklist line"], "range": [[1, 0], [5, 3]]},
                    "legend": {"symbolType": "stroke", "symbolSize": 500, "symbolStrokeWidth": 2},
                },
                "detail": {"field": "measure"},
                "tooltip": [
                    {"field": "run", "title": "Scenario"},
                    {"field": "agent", "title": "Agent"},
                    {"field": "day", "title": "Day"},
                    {"field": "measure", "title": "Line"},
                    {"field": "score", "title": "Points", "format": ".0f"},
                    {"field": "listed", "title": "On the blacklist"},
                ],
            },
        },
        "resolve": {"scale": {"y": "independent"}},
    }
    return Chart(
        "tracked",
        "A few tracked agents",
        f"{len(chosen)} of the agents tracked in every run (those listed longest), each followed day by day: "
        "when its public score falls below the line it is listed. The command credsim explain RUN AGENT "
        "tells each one's story.",
        spec,
        notes,
    )
