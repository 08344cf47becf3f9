"""The histogram chart: each run's distribution of public scores over the days, as a heatmap."""

from __future__ import annotations

import numpy as np
import pandas as pd

from credsim.report.charts.base import DAY_TITLE, WIDTH, Chart, _csv, _sig
from credsim.results.run import RunResult

#: Histogram bins whose share never reaches this (%, on any day of any run) are left off the edges.
HIST_MIN_SHARE_PCT = 0.05
#: The heatmap's colour: log of the share (most bands hold a few % or less, one band can hold 100%),
#: from this share (%) or the smallest non-zero share shown, whichever is larger, up to 100%.
HIST_LOG_FLOOR_PCT = 1e-3
#: Bands that hold nobody: a light grey that viridis never takes (its darkest is purple).
HIST_ZERO_COLOUR = "#e6e6e6"


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
