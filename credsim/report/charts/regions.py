"""The regions chart: the provinces' listed shares, a sorted bar chart (no boundary map: see
:mod:`credsim.report.charts`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from credsim.population import region_sizes, region_weights
from credsim.report.charts.base import WIDTH, Chart, _csv, _run_encoding
from credsim.results.run import RunResult


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
