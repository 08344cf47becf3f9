"""The HTML report of ``credsim sensitivity``: the design, then one chart per scorecard metric.

Same stack as the comparison report (:mod:`credsim.report`): Vega-Lite specifications drawn by the
inlined vega-embed, offline, with the report's look. Each chart shows, per parameter, the total
and first-order Sobol' indices (or Morris mu* and sigma) with their 95% bootstrap intervals.
"""

from __future__ import annotations

import html
import os
from datetime import datetime, timezone
from pathlib import Path

from credsim.fsutil import check_replaceable_file
from credsim.report import JS, page_head, _is_report, _json_for_script, vega_bundle, _write_atomic
from credsim.report.charts import CONFIG, OKABE_ITO, WIDTH, Chart
from credsim.results.scorecard import metric_label


def check_report(path: str | os.PathLike) -> None:
    """Refuse early a report path credsim may not replace (a file it did not write, a folder)."""
    check_replaceable_file(path, _is_report, "report", "report")


def _chart(result, metric: str) -> Chart:
    unit, words = metric_label(metric)
    rows = result.ranked(metric)
    order = [r["parameter"] for r in rows]
    sobol = result.method == "sobol"
    values = []
    for r in rows:
        pairs = (
            (("ST", "ST_conf", "total (ST)"), ("S1", "S1_conf", "first-order (S1)"))
            if sobol
            else (("mu_star", "mu_star_conf", "mu*"), ("sigma", None, "sigma"))
        )
        for key, conf, label in pairs:
            v = r[key]
            if v != v:
                continue
            c = r[conf] if conf and r[conf] == r[conf] else 0.0
            values.append(
                {
                    "parameter": r["parameter"],
                    "index": label,
                    "value": round(v, 5),
                    "low": round(v - c, 5),
                    "high": round(v + c, 5),
                }
            )
    title = "Sobol' index" if sobol else f"elementary effect ({unit})" if unit else "elementary effect"
    labels = ["total (ST)", "first-order (S1)"] if sobol else ["mu*", "sigma"]
    colour = {
        "field": "index",
        "type": "nominal",
        "title": None,
        "scale": {"domain": labels, "range": [OKABE_ITO[2], OKABE_ITO[4]]},
    }
    y = {"field": "parameter", "type": "nominal", "sort": order, "title": None, "axis": {"labelLimit": 320}}
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "width": WIDTH - 340,
        "height": {"step": 14},
        "data": {"values": values},
        "encoding": {"y": y, "yOffset": {"field": "index", "sort": labels}, "color": colour},
        "layer": [
            {
                "mark": {"type": "bar", "height": {"band": 0.9}},
                "encoding": {
                    "x": {"field": "value", "type": "quantitative", "title": title},
                    "tooltip": [
                        {"field": "parameter"},
                        {"field": "index"},
                        {"field": "value", "format": ".3f"},
                        {"field": "low", "title": "95% low", "format": ".3f"},
                        {"field": "high", "title": "95% high", "format": ".3f"},
                    ],
                },
            },
            {
                "mark": {"type": "rule"},
                "encoding": {"x": {"field": "low", "type": "quantitative"}, "x2": {"field": "high"}},
            },
        ],
        "config": CONFIG,
    }
    note = result.indices[metric]["note"]
    about = f"{words[:1].upper() + words[1:]}{f' ({unit})' if unit else ''}: "
    about += (
        "share of its variance over the design due to each parameter, alone (S1) and with its interactions "
        "(ST); the thin line across each bar is its 95% bootstrap interval."
        if sobol
        else "mean absolute elementary effect (mu*, with its 95% bootstrap interval) and their spread (sigma: "
        "interactions or non-linearity)."
    )
    return Chart(f"sa-{metric}", metric, about, spec, [f"No indices: the metric is {note}."] if note else [])


def render(result) -> str:
    e = html.escape
    charts = [_chart(result, m) for m in result.metrics if not result.indices[m]["note"]]
    skipped = [(m, result.indices[m]["note"]) for m in result.metrics if result.indices[m]["note"]]
    params = "".join(
        f"<tr><th scope='row'>{e(r.path)}</th><td>{r.low:g}</td><td>{r.high:g}</td>"
        f"<td class='unit'>{'integer' if r.integer else 'real'}{', also in the baseline' if r.world else ''}"
        "</td></tr>"
        for r in result.ranges
    )
    k = len(result.seeds)
    method = (
        "Sobol' indices (Saltelli's scheme on a scrambled Sobol' sequence, SALib): first-order S1 and total ST"
        if result.method == "sobol"
        else "Morris elementary effects (SALib): mu* and sigma"
    )
    sections = "".join(
        f"<section id='{c.key}'><h3>{e(c.heading)}</h3><p class='about'>{e(c.about)}</p>"
        f"<div class='chart' id='chart-{c.key}' role='img' aria-label='{e(c.heading)}'></div></section>"
        for c in charts
    )
    none = "".join(f"<p class='note'>{e(m)}: no indices, the metric is {e(n)}.</p>" for m, n in skipped)
    title = f"What drives the verdict: {result.scenario} against {result.baseline}"
    from credsim import __version__

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    specs = _json_for_script({c.key: c.spec for c in charts})
    return page_head(title) + f"""<section id='sensitivity'><h2>Sensitivity</h2>
<p class="lede">{e(method)}, over {len(result.design):,} design points ({result.samples} base samples), each run on
{result.population:,} simulated people for {result.days} days with {k} seed{'s' if k > 1 else ''}
({result.seeds[0]}{'..' + str(result.seeds[-1]) if k > 1 else ''}) and scored against {e(result.baseline)} with the
same seed (common random numbers){'; each metric is the mean over the seeds' if k > 1 else ''}.
{result.runs.get('total', 0):,} runs, {result.runs.get('reused', 0):,} of them reused from the catalog. Every person
here is a number in a computer, not a real individual.</p>
<table id='ranges-table'><thead><tr><th scope='col'>Parameter</th><th scope='col'>Low</th><th scope='col'>High</th>
<th scope='col'>Kind</th></tr></thead><tbody>{params}</tbody></table>
{none}
{sections}
</section>
<footer>Made by credsim {e(__version__)} on {stamp}. Charts use scorecard figures of aggregate tables only; no
individual's data is stored in this file.</footer>
</main>
<script id="credsim-specs" type="application/json">{specs}</script>
<script>{vega_bundle()}</script>
<script>{JS}</script>
</body></html>
"""


def write_sensitivity_report(result, path: str | os.PathLike) -> Path:
    """Write the sensitivity report (one self-contained, offline HTML file)."""
    path = Path(path)
    check_report(path)
    _write_atomic(path, render(result).encode("utf-8"))
    return path
