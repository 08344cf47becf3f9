"""The report's charts as Vega-Lite specifications, built from the runs' aggregate tables only.

Every chart reads the daily, region and histogram tables (MODEL.md §5 and the histogram
extension), never per-agent data, and stores shares and rates rounded to a fixed number of
decimals: a report for 1.4 billion agents is the same size as one for 20,000.

The same specification is drawn in the browser (vega-embed, inlined in the HTML) and as PNG/SVG
by vl-convert, so the interactive and the static figures are the same charts.

Regions: a boundary map of the provinces would need an offline boundary file. PyPI has no
well-kept one (the candidates, e.g. echarts-china-provinces-pypkg and pygal-maps-china, are
unmaintained for years, and provincial boundaries there are contested), so the regional chart
is a sorted bar chart of provinces instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from credsim.population import region_sizes, region_weights
from credsim.report.policy import points_text
from credsim.results.run import RunResult

#: Okabe–Ito, the colour-blind-safe categorical palette (black first: the baseline, when present).
OKABE_ITO = ["#000000", "#D55E00", "#0072B2", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442"]
#: True / detected / wrongly attributed events (Okabe–Ito sky blue, blue, vermillion).
EVENT_COLOURS = ["#56B4E9", "#0072B2", "#D55E00"]
EVENT_MEASURES = ["Happened", "Detected by the system", "Wrongly attributed"]

WIDTH = 720
DAY_TITLE = "Day of the simulation"

#: Histogram bins whose share never reaches this (%, on any day of any run) are left off the edges.
HIST_MIN_SHARE_PCT = 0.05
#: The heatmap's colour: log of the share (most bands hold a few % or less, one band can hold 100%),
#: from this share (%) or the smallest non-zero share shown, whichever is larger, up to 100%.
HIST_LOG_FLOOR_PCT = 1e-3
#: Bands that hold nobody: a light grey that viridis never takes (its darkest is purple).
HIST_ZERO_COLOUR = "#e6e6e6"


@dataclass
class Chart:
    """One chart: an id for the page, a heading, a plain-words explanation, and its Vega-Lite spec."""

    key: str
    heading: str
    about: str
    spec: dict
    notes: list[str] = field(default_factory=list)


def _csv(df: pd.DataFrame, numeric: list[str]) -> dict:
    """Inline CSV data (far smaller than a list of JSON objects), numbers parsed as numbers."""
    return {"values": df.to_csv(index=False, lineterminator="\n"), "format": {"type": "csv", "parse": {c: "number" for c in numeric}}}


def _words(name: str) -> str:
    return name.replace("_", " ")


def _run_colour(labels: list[str], baseline: str | None) -> dict:
    """A colour scale that gives the baseline black and the other runs the rest of Okabe–Ito in order."""
    palette = OKABE_ITO if baseline in labels else OKABE_ITO[1:]
    order = ([baseline] if baseline in labels else []) + [n for n in labels if n != baseline]
    colours = [palette[i % len(palette)] for i in range(len(order))]
    return {"domain": order, "range": colours}


def _run_encoding(labels, baseline, legend_title="Scenario"):
    return {
        "field": "run",
        "type": "nominal",
        "title": legend_title,
        "scale": _run_colour(labels, baseline),
        "sort": _run_colour(labels, baseline)["domain"],
    }


def _highlight_params(prefix: str) -> list[dict]:
    """Click a legend entry to highlight one scenario; drag/scroll to zoom the days."""
    return [
        {"name": f"{prefix}_pick", "select": {"type": "point", "fields": ["run"]}, "bind": "legend"},
        {"name": f"{prefix}_zoom", "select": {"type": "interval", "encodings": ["x"]}, "bind": "scales"},
    ]


def _fade(prefix: str) -> dict:
    return {"condition": {"param": f"{prefix}_pick", "value": 1}, "value": 0.15}


# -- the charts --------------------------------------------------------------------------------------


def listed_chart(runs: dict[str, RunResult], baseline: str | None) -> Chart:
    rows = []
    for label, r in runs.items():
        d = r.daily
        score_min = r.scenario.score.min
        thr = d["threshold"].astype(float)
        rows.append(
            pd.DataFrame(
                {
                    "run": label,
                    "day": d["day"],
                    "listed_pct": (100.0 * d["listed"] / r.population).round(3),
                    "mean_score": (d["sum_public"] / r.population).round(1),
                    # a line at or below the lowest possible score lists no one: the system is off
                    "threshold": thr.where(thr > score_min).round(1),
                }
            )
        )
    df = pd.concat(rows, ignore_index=True)
    labels = list(runs)
    colour = _run_encoding(labels, baseline)
    x = {"field": "day", "type": "quantitative", "title": DAY_TITLE, "axis": {"tickMinStep": 1}}
    share = {
        "title": {
            "text": "Share of people on the blacklist",
            "subtitle": "% of the population listed at the end of each day",
        },
        "width": WIDTH,
        "height": 260,
        "params": _highlight_params("listed"),
        "mark": {"type": "line", "strokeWidth": 2.5, "interpolate": "step-after"},
        "encoding": {
            "x": x,
            "y": {"field": "listed_pct", "type": "quantitative", "title": "People on the blacklist (%)"},
            "color": colour,
            "opacity": _fade("listed"),
            "tooltip": [
                {"field": "run", "title": "Scenario"},
                {"field": "day", "title": "Day"},
                {"field": "listed_pct", "title": "On the blacklist (%)", "format": ".2f"},
            ],
        },
    }
    long = df.melt(id_vars=["run", "day"], value_vars=["mean_score", "threshold"], var_name="measure", value_name="score")
    long = long.dropna()
    long["measure"] = long["measure"].map({"mean_score": "Average public score", "threshold": "Blacklist line"})
    line = {
        "title": {
            "text": "The average score and the blacklist line",
            "subtitle": "Points. Anyone whose public score falls below the line is listed. "
            "No line is drawn for a scenario without a blacklist.",
        },
        "width": WIDTH,
        "height": 220,
        "data": _csv(long, ["day", "score"]),
        "params": _highlight_params("thr"),
        "mark": {"type": "line", "strokeWidth": 2, "interpolate": "step-after"},
        "encoding": {
            "x": x,
            "y": {"field": "score", "type": "quantitative", "title": "Score (points)", "scale": {"zero": False}},
            "color": colour,
            "strokeDash": {
                "field": "measure",
                "type": "nominal",
                "title": "Line",
                "scale": {"domain": ["Average public score", "Blacklist line"], "range": [[1, 0], [6, 4]]},
                "legend": {"symbolType": "stroke", "symbolSize": 500, "symbolStrokeWidth": 2},
            },
            "detail": {"field": "measure"},
            "opacity": _fade("thr"),
            "tooltip": [
                {"field": "run", "title": "Scenario"},
                {"field": "day", "title": "Day"},
                {"field": "measure", "title": "Line"},
                {"field": "score", "title": "Points", "format": ".1f"},
            ],
        },
    }
    # each panel carries its own legends (the "Line" legend belongs beside the score panel, not the top one)
    spec = {
        "data": _csv(df[["run", "day", "listed_pct"]], ["day", "listed_pct"]),
        "vconcat": [share, line],
        "resolve": {"scale": {"color": "shared"}, "legend": {"color": "independent", "strokeDash": "independent"}},
    }
    return Chart(
        "listed", "Who is on the blacklist",
        "The share of the population on the blacklist each day, and the line that puts them there: "
        "a public score below the line means listing.",
        spec,
    )


def _sig(x: pd.Series, digits: int = 3) -> pd.Series:
    """Round to ``digits`` significant digits (tiny shares of big populations stay non-zero)."""
    v = x.to_numpy(float)
    out = np.zeros_like(v)
    nz = v != 0
    mag = np.floor(np.log10(np.abs(v[nz])))
    scale = 10.0 ** (digits - 1 - mag)
    out[nz] = np.round(v[nz] * scale) / scale
    return pd.Series(out, index=x.index)


def distribution_chart(runs: dict[str, RunResult]) -> Chart | None:
    """Heatmap per run: how the population's public scores spread out, day by day.

    Colour is the log of the share of people in each band (a linear scale showed one bright band
    and near-black elsewhere); bands that hold nobody are not drawn, so the panel's grey
    background shows them, distinct from any colour of the scale. Cells reach one pixel into
    their right and upper neighbours (drawn after them), so no hairline seams show between days.
    """
    panels, notes = [], []
    frames = {}
    for label, r in runs.items():
        h = r.histogram
        if h is None or h.empty:
            notes.append(f"{label}: this run has no score histogram (run it with --hist-bins 50 to see one).")
            continue
        h = h.copy()
        h["share"] = 100.0 * h["count"] / r.population
        frames[label] = (r, h)
    if not frames:
        return None
    # keep the bins that hold a visible share of people on some day of some run (same bins for all)
    keep = set()
    for _, h in frames.values():
        peak = h.groupby("bin_lo")["share"].max()
        keep |= set(peak.index[peak >= HIST_MIN_SHARE_PCT])
    lo_keep, hi_keep = (min(keep), max(keep)) if keep else (None, None)
    smallest = min((float(h.loc[h["count"] > 0, "share"].min()) for _, h in frames.values()), default=1.0)
    floor = max(HIST_LOG_FLOOR_PCT, 10.0 ** np.floor(np.log10(smallest))) if smallest > 0 else HIST_LOG_FLOOR_PCT
    ticks = [10.0**k for k in range(int(round(np.log10(floor))), 3)]
    colour = {
        "field": "share",
        "type": "quantitative",
        "title": "People (%)",
        "scale": {"type": "log", "scheme": "viridis", "domain": [floor, 100], "clamp": True},
        "legend": {"type": "gradient", "values": ticks, "format": "~g", "gradientLength": 160},
    }
    for label, (r, h) in frames.items():
        if lo_keep is not None:
            h = h[(h["bin_lo"] >= lo_keep) & (h["bin_lo"] <= hi_keep)]
        days = np.unique(h["day"].to_numpy())
        step = int(np.diff(days).min()) if len(days) > 1 else 1
        x0, x1 = float(h["day"].min() - step + 0.5), float(h["day"].max() + 0.5)
        y0, y1 = int(h["bin_lo"].min()), int(h["bin_hi"].max() + 1)
        px_x, px_y = (x1 - x0) / WIDTH, (y1 - y0) / 200  # one pixel in days and in points
        h = h[h["count"] > 0].sort_values(["day", "bin_lo"])  # drawn in this order: later cells cover the overlaps
        cells = pd.DataFrame(
            {
                "day": h["day"],
                "day0": h["day"] - step + 0.5,
                "day1": (h["day"] + 0.5 + px_x).round(3),
                "lo": h["bin_lo"],
                "hi": (h["bin_hi"] + 1 + px_y).round(3),
                "share": _sig(h["share"]),
            }
        )
        d = r.daily
        thr = d["threshold"].where(d["threshold"] > r.scenario.score.min)
        line = pd.DataFrame({"day": d["day"], "threshold": thr}).dropna()
        line = line[(line["threshold"] >= y0) & (line["threshold"] <= y1)]
        layers = [
            {
                "data": _csv(cells, ["day", "day0", "day1", "lo", "hi", "share"]),
                "mark": {"type": "rect", "clip": True},
                "encoding": {
                    "x": {
                        "field": "day0",
                        "type": "quantitative",
                        "title": DAY_TITLE,
                        "scale": {"domain": [x0, x1], "nice": False},
                        "axis": {"grid": False},
                    },
                    "x2": {"field": "day1"},
                    "y": {
                        "field": "lo",
                        "type": "quantitative",
                        "title": "Public score (points)",
                        "scale": {"domain": [y0, y1], "zero": False, "nice": False},
                        "axis": {"grid": False},
                    },
                    "y2": {"field": "hi"},
                    "color": colour,
                    "tooltip": [
                        {"field": "day", "title": "Day"},
                        {"field": "lo", "title": "Score from (points)"},
                        {"field": "share", "title": "People in this band (%)", "format": ".3~g"},
                    ],
                },
            }
        ]
        if not line.empty:
            layers.append({
                "data": _csv(line, ["day", "threshold"]),
                "mark": {"type": "line", "color": "#000000", "strokeWidth": 3.5, "interpolate": "step-after",
                         "clip": True},
                "encoding": {"x": {"field": "day", "type": "quantitative"}, "y": {"field": "threshold", "type": "quantitative"}},
            })
            layers.append(
                {
                    "data": _csv(line, ["day", "threshold"]),
                    "mark": {
                        "type": "line",
                        "color": "#FFFFFF",
                        "strokeWidth": 1.5,
                        "strokeDash": [6, 4],
                        "interpolate": "step-after",
                        "clip": True,
                    },
                    "encoding": {
                        "x": {"field": "day", "type": "quantitative"},
                        "y": {"field": "threshold", "type": "quantitative"},
                        "tooltip": [
                            {"field": "day", "title": "Day"},
                            {"field": "threshold", "title": "Blacklist line (points)"},
                        ],
                    },
                }
            )
        width = int(h["bin_hi"].iloc[0] - h["bin_lo"].iloc[0] + 1) if len(h) else 1
        panels.append(
            {
                "title": {"text": f"{label} (bands of {width} points)", "anchor": "start", "fontSize": 13},
                "width": WIDTH,
                "height": 200,
                "view": {"fill": HIST_ZERO_COLOUR, "stroke": None},
                "layer": layers,
            }
        )
    spec = {
        "title": {
            "text": "How public scores spread out over time",
            "subtitle": [
                "Colour: % of the population in each score band that day, on a log scale "
                "(each step of the legend: ten times as many people).",
                "Grey: nobody in that band. Dashed line: the blacklist line.",
            ],
        },
        "vconcat": panels,
        "resolve": {"scale": {"color": "shared"}},
    }
    return Chart(
        "distribution",
        "The spread of public scores",
        "Each column is one day; each band a range of public scores. Bright bands hold many people, "
        "dark ones few; grey bands hold nobody.",
        spec,
        notes,
    )


def events_chart(runs: dict[str, RunResult], baseline: str | None) -> Chart:
    rows = []
    for label, r in runs.items():
        d = r.daily
        for c in r.scenario.channel:
            for measure, col in zip(EVENT_MEASURES, ("true", "detected", "false")):
                n = int(d[f"{col}_{c.name}"].sum())
                rows.append(
                    {
                        "run": label,
                        "channel": _words(c.name),
                        "measure": measure,
                        "per_1000": round(1000.0 * n / r.population, 2),
                        "points": points_text(r.scenario, c.name),
                    }
                )  # every policy in force
    df = pd.DataFrame(rows)
    order = list(dict.fromkeys(df["channel"]))
    run_order = _run_colour(list(runs), baseline)["domain"]
    spec = {
        "title": {
            "text": "What people did, what the system saw, and what it got wrong",
            "subtitle": [
                "Events per 1,000 people over the whole run, by kind of behaviour.",
                "Each panel has its own scale: wrong attributions are rare, but each one costs someone points.",
            ],
        },
        "data": _csv(df, ["per_1000"]),
        "facet": {
            "column": {
                "field": "measure",
                "type": "nominal",
                "title": None,
                "sort": EVENT_MEASURES,
                "header": {"labelFontSize": 13, "labelFontWeight": "bold"},
            }
        },
        "resolve": {"scale": {"x": "independent"}},
        "spec": {
            "width": 210,
            "height": {"step": max(14, 8 * len(runs))},
            "encoding": {
                "y": {"field": "channel", "type": "nominal", "title": None, "sort": order},
                "yOffset": {"field": "run", "type": "nominal", "sort": run_order},
                "x": {
                    "field": "per_1000",
                    "type": "quantitative",
                    "title": "Events per 1,000 people",
                    "axis": {"tickCount": 4, "labelOverlap": True},
                },
                "tooltip": [
                    {"field": "run", "title": "Scenario"},
                    {"field": "channel", "title": "Behaviour"},
                    {"field": "measure", "title": "Count"},
                    {"field": "per_1000", "title": "Per 1,000 people", "format": ",.2f"},
                    {"field": "points", "title": "Score points per detected event"},
                ],
            },
            "layer": [
                {"mark": {"type": "bar"}, "encoding": {"color": _run_encoding(list(runs), baseline)}},
                {
                    "mark": {
                        "type": "text",
                        "align": "left",
                        "baseline": "middle",
                        "dx": 3,
                        "fontSize": 9,
                        "color": "#333",
                    },
                    "encoding": {"text": {"field": "per_1000", "type": "quantitative", "format": ",.1f"}},
                },
            ],
        },
    }
    return Chart(
        "events",
        "Behaviour, detection and mistakes",
        "For each kind of behaviour: how often it really happened, how often the system detected it, "
        "and how often the system attributed it to someone who had not done it.",
        spec,
    )


def denials_chart(runs: dict[str, RunResult], baseline: str | None) -> Chart:
    rows = []
    for label, r in runs.items():
        d = r.daily
        for a in r.scenario.activity:
            att, den = int(d[f"attempts_{a.name}"].sum()), int(d[f"denied_{a.name}"].sum())
            rows.append(
                {
                    "run": label,
                    "activity": _words(a.name),
                    "per_1000": round(1000.0 * den / att, 1) if att else 0.0,
                    "attempts_per_1000": round(1000.0 * att / r.population, 2),
                }
            )
    df = pd.DataFrame(rows)
    spec = {
        "title": {
            "text": "Who was turned away",
            "subtitle": "Of every 1,000 attempts to travel, eat out or buy a home, how many were refused",
        },
        "data": _csv(df, ["per_1000", "attempts_per_1000"]),
        "width": WIDTH,
        "height": {"step": 16},
        "encoding": {
            "y": {"field": "activity", "type": "nominal", "title": None, "sort": list(dict.fromkeys(df["activity"]))},
            "yOffset": {"field": "run", "type": "nominal", "sort": _run_colour(list(runs), baseline)["domain"]},
            "x": {
                "field": "per_1000",
                "type": "quantitative",
                "title": "Refused per 1,000 attempts",
                "scale": {"domain": [0, 1000]},
            },
            "tooltip": [
                {"field": "run", "title": "Scenario"},
                {"field": "activity", "title": "Activity"},
                {"field": "per_1000", "title": "Refused per 1,000 attempts", "format": ",.1f"},
                {"field": "attempts_per_1000", "title": "Attempts per 1,000 people", "format": ",.1f"},
            ],
        },
        "layer": [
            {"mark": {"type": "bar"}, "encoding": {"color": _run_encoding(list(runs), baseline)}},
            {
                "mark": {
                    "type": "text",
                    "align": "left",
                    "baseline": "middle",
                    "dx": 3,
                    "fontSize": 10,
                    "color": "#333",
                },
                "encoding": {"text": {"field": "per_1000", "type": "quantitative", "format": ",.0f"}},
            },
        ],
    }
    return Chart(
        "denials",
        "Refusals",
        "How often an attempt at each activity was refused, because the person was on "
        "the blacklist or their score was below the activity's minimum.",
        spec,
    )


def stress_chart(runs: dict[str, RunResult], baseline: str | None) -> Chart:
    rows = []
    for label, r in runs.items():
        d = r.daily
        rows.append(
            pd.DataFrame(
                {
                    "run": label,
                    "day": d["day"],
                    "mean": (d["stress_sum"] / r.population).round(2),
                    "high_pct": (100.0 * d["stress_high"] / r.population).round(3),
                }
            )
        )
    df = pd.concat(rows, ignore_index=True)
    labels = list(runs)
    x = {"field": "day", "type": "quantitative", "title": DAY_TITLE, "axis": {"tickMinStep": 1}}

    def panel(prefix, fieldname, title, subtitle, ytitle, fmt):
        return {
            "title": {"text": title, "subtitle": subtitle},
            "width": WIDTH,
            "height": 200,
            "params": _highlight_params(prefix),
            "mark": {"type": "line", "strokeWidth": 2.5},
            "encoding": {
                "x": x,
                "y": {"field": fieldname, "type": "quantitative", "title": ytitle},
                "color": _run_encoding(labels, baseline),
                "opacity": _fade(prefix),
                "tooltip": [
                    {"field": "run", "title": "Scenario"},
                    {"field": "day", "title": "Day"},
                    {"field": fieldname, "title": ytitle, "format": fmt},
                ],
            },
        }

    spec = {
        "data": _csv(df, ["day", "mean", "high_pct"]),
        "vconcat": [
            panel(
                "smean",
                "mean",
                "Average stress",
                "On a scale from 0 (none) to 255 (the most)",
                "Average stress (0–255)",
                ".1f",
            ),
            panel(
                "shigh",
                "high_pct",
                "People under high stress",
                "% of the population at 128 or more on the stress scale",
                "High stress (%)",
                ".2f",
            ),
        ],
    }
    return Chart(
        "stress",
        "Stress",
        "Stress rises with each refusal, each day on the blacklist and each penalty, and eases slowly otherwise.",
        spec,
    )


def regions_chart(runs: dict[str, RunResult], baseline: str | None) -> Chart:
    rows, notes = [], []
    for label, r in runs.items():
        reg = r.regions
        if int(reg["listed"].max()) == 0 and len(runs) > 1:
            notes.append(f"{label}: no one was ever on the blacklist, so it is left out of this chart.")
            continue
        last = reg[reg["day"] == reg["day"].max()].sort_values("region")
        sizes = np.asarray(region_sizes(r.population, region_weights(r.scenario)[1]), dtype=float)
        size = sizes[last["region"].to_numpy()]
        share = np.divide(100.0 * last["listed"].to_numpy(), size, out=np.zeros(len(size)), where=size > 0)
        rows.append(
            pd.DataFrame(
                {
                    "run": label,
                    "region": last["region_name"].to_numpy(),
                    "listed_pct": share.round(2),
                    "people_pct": (100.0 * size / r.population).round(2),
                }
            )
        )
    df = pd.concat(rows, ignore_index=True)
    shown = list(dict.fromkeys(df["run"]))
    # sort provinces by the share listed in the first scenario that is not the baseline
    lead = next((n for n in shown if n != baseline), shown[0])
    order = df[df["run"] == lead].sort_values(["listed_pct", "region"], ascending=[False, True])["region"].tolist()
    spec = {
        "title": {
            "text": "Blacklisted share by province, on the last day",
            "subtitle": f"% of each province's simulated population; sorted by {lead}",
        },
        "data": _csv(df, ["listed_pct", "people_pct"]),
        "width": WIDTH,
        "height": {"step": max(14, 9 * len(shown))},
        "encoding": {
            "y": {"field": "region", "type": "nominal", "title": None, "sort": order},
            "yOffset": {"field": "run", "type": "nominal", "sort": shown},
            "x": {"field": "listed_pct", "type": "quantitative", "title": "People on the blacklist (%)"},
            "color": _run_encoding(list(runs), baseline),
            "tooltip": [
                {"field": "run", "title": "Scenario"},
                {"field": "region", "title": "Province"},
                {"field": "listed_pct", "title": "On the blacklist (%)", "format": ".2f"},
                {"field": "people_pct", "title": "Province's share of all people (%)", "format": ".2f"},
            ],
        },
        "mark": {"type": "bar"},
    }
    return Chart(
        "regions",
        "Provinces",
        "The blacklisted share in each province on the last day. The rules are the "
        "same everywhere; provinces differ by chance and through their people's contacts, and small "
        "provinces swing most.",
        spec,
        notes,
    )


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


CONFIG = {
    "font": "DejaVu Sans, Helvetica, Arial, sans-serif",
    "range": {"category": OKABE_ITO[1:]},
    "title": {"anchor": "start", "fontSize": 15, "subtitleFontSize": 12, "subtitleColor": "#444"},
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal"},
    "legend": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 260},
    "view": {"stroke": None},
    "background": "white",
    "padding": 10,
}


def build_charts(runs: dict[str, RunResult], baseline: str | None) -> list[Chart]:
    """All charts of the report, in order, each with the shared look (config) applied."""
    charts = [listed_chart(runs, baseline)]
    dist = distribution_chart(runs)
    if dist is not None:
        charts.append(dist)
    tracked = panel_chart(runs, baseline)
    if tracked is not None:  # only when a run has a panel (MODEL.md §8.7)
        charts.append(tracked)
    charts += [
        events_chart(runs, baseline),
        denials_chart(runs, baseline),
        stress_chart(runs, baseline),
        regions_chart(runs, baseline),
    ]
    for c in charts:
        c.spec["config"] = CONFIG
    return charts
