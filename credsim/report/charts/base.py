"""What every chart shares: the palette, the sizes, the :class:`Chart` type, the look (:data:`CONFIG`)
and the small helpers that inline a table and colour and highlight the runs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Okabe–Ito, the colour-blind-safe categorical palette (black first: the baseline, when present).
OKABE_ITO = ["#000000", "#D55E00", "#0072B2", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442"]
#: True / detected / wrongly attributed events (Okabe–Ito sky blue, blue, vermillion).
EVENT_COLOURS = ["#56B4E9", "#0072B2", "#D55E00"]
EVENT_MEASURES = ["Happened", "Detected by the system", "Wrongly attributed"]

WIDTH = 720
DAY_TITLE = "Day of the simulation"


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


def _sig(x: pd.Series, digits: int = 3) -> pd.Series:
    """Round to ``digits`` significant digits (tiny shares of big populations stay non-zero)."""
    v = x.to_numpy(float)
    out = np.zeros_like(v)
    nz = v != 0
    mag = np.floor(np.log10(np.abs(v[nz])))
    scale = 10.0 ** (digits - 1 - mag)
    out[nz] = np.round(v[nz] * scale) / scale
    return pd.Series(out, index=x.index)


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
