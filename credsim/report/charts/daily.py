"""Charts of the daily table, one line per run over the days: the blacklist, the events the
channels saw, the denials, the stress."""

from __future__ import annotations

import pandas as pd

from credsim.report.charts.base import (
    DAY_TITLE,
    EVENT_MEASURES,
    WIDTH,
    Chart,
    _csv,
    _fade,
    _highlight_params,
    _run_colour,
    _run_encoding,
    _words,
)
from credsim.report.policy import points_text
from credsim.results.run import RunResult


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
