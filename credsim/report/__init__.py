"""One self-contained HTML report of a comparison (or of a few runs), plus the same charts as PNG/SVG.

Chart stack: Vega-Lite. Each chart is one declarative JSON specification, drawn in the browser by
vega-embed (Vega, Vega-Lite and vega-embed inlined once per file, about 0.9 MB, from the
``vl-convert-python`` wheel: nothing is fetched at build or view time) and rendered to PNG and
SVG by the same package's embedded engine, so the static figures are the very same charts and
no browser is needed to make them.

    from credsim.report import write_report
    write_report(comparison, "report.html", figures="figures/")
"""

from __future__ import annotations

import html
import json
import os
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from credsim.errors import CredsimError
from credsim.fsutil import FIGURES, check_output_folder, check_replaceable_file, write_atomic, write_output_folder
from credsim.results.run import RunResult
from credsim.distributed.sweep import COUNT_METRICS

if TYPE_CHECKING:
    from credsim.report.charts import Chart

# The charts, the scorecard and the comparison (all of them pandas) are imported inside the
# functions that use them: every `credsim` command line imports this package (its `report`
# command), and `credsim run` needs none of them (docs/performance.md, "The whole process").

__all__ = ["write_report", "write_figures", "ReportInput", "prepare"]

#: Scorecard entries that feed the verdicts but are not shown as rows (the sweep's absolute counts).
HIDDEN_METRICS = set(COUNT_METRICS)


class ReportInput:
    """What a report shows: runs by label (baseline first), the baseline's label, scorecards, verdicts."""

    def __init__(
        self,
        runs: dict[str, RunResult],
        baseline: str | None,
        cards: dict[str, dict] | None,
        verdicts: dict[str, str],
        notes: list[str],
    ):
        self.runs, self.baseline, self.cards, self.verdicts, self.notes = runs, baseline, cards, verdicts, notes
        #: with ``compare --seeds K`` (K > 1): the seeds, and per scenario and metric the 95% interval of the mean
        self.seeds: list[int] = []
        self.intervals: dict[str, dict[str, tuple[float, float]]] = {}


def _unique_labels(results: list[RunResult]) -> list[str]:
    seen: dict[str, int] = {}
    labels = []
    for r in results:
        base = r.name or "run"
        seen[base] = seen.get(base, 0) + 1
        labels.append(base if seen[base] == 1 else f"{base} ({r.run_id or seen[base]})")
    return labels


def prepare(obj) -> ReportInput:
    """A Comparison, a RunResult or a list of RunResults → what the report needs."""
    from credsim.results.compare import BASELINE, Comparison
    from credsim.results.scorecard import check_comparable, scorecard, verdict

    if isinstance(obj, Comparison):
        runs = dict(obj.results)
        if not runs:
            raise CredsimError("report: the comparison holds no runs")
        order = [obj.baseline] + [n for n in runs if n != obj.baseline] if obj.baseline in runs else list(runs)
        inp = ReportInput(
            {n: runs[n] for n in order},
            obj.baseline if obj.baseline in runs else None,
            dict(obj.cards),
            dict(obj.verdicts),
            [],
        )
        if obj.intervals:  # compare --seeds K: the charts draw the first seed's runs
            inp.seeds, inp.intervals = list(obj.seeds), dict(obj.intervals)
            inp.notes.append(
                f"The charts below draw the runs of seed {obj.seeds[0]}; the scorecard gives means over "
                f"seeds {obj.seeds[0]}..{obj.seeds[-1]}."
            )
        return inp
    if isinstance(obj, RunResult):
        obj = [obj]
    if not isinstance(obj, Iterable) or isinstance(obj, (str, bytes)):
        raise CredsimError(f"report: expected a comparison or a list of runs, got {type(obj).__name__}")
    results = list(obj)
    if not results:
        raise CredsimError("report: no runs to report on")
    for r in results:
        if not isinstance(r, RunResult):
            raise CredsimError(f"report: expected runs, got {type(r).__name__}")
    labels = _unique_labels(results)
    base_i = next((i for i, r in enumerate(results) if r.name == BASELINE), None)
    if base_i is not None:
        order = [base_i] + [i for i in range(len(results)) if i != base_i]
        results, labels = [results[i] for i in order], [labels[i] for i in order]
    runs = dict(zip(labels, results))
    if base_i is None:
        return ReportInput(runs, None, None, {}, [])
    base_label, base = labels[0], results[0]
    cards, verdicts, notes = {}, {}, []
    for label, r in runs.items():
        if r.population != base.population or r.days != base.days:
            notes.append(f"{label}: not scored (its population or days differ from the baseline's)")
            continue
        try:
            check_comparable(r.scenario, base.scenario, label, days=r.days)
        except CredsimError as err:
            notes.append(f"{label}: not scored ({str(err).removeprefix('compare: ')})")
            continue
        if r.seed != base.seed:
            notes.append(
                f"{label}: seed {r.seed} differs from the baseline's {base.seed}, so its differences "
                "include chance as well as the system's effect"
            )
        cards[label] = scorecard(r.daily, r.scenario, base.daily, base.population)
        if label != base_label:
            verdicts[label] = verdict(label, cards[label], base.population, base.days)
    return ReportInput(runs, base_label, cards, verdicts, notes)


# -- HTML --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Vega + Vega-Lite + vega-embed as one script (assigns window.vegaEmbed), made offline by vl-convert."""
    import vl_convert

    js = vl_convert.javascript_bundle()
    return js.replace("</script", "<\\/script")


def _json_for_script(data) -> str:
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/").replace("<!--", "<\\!--")


def _fmt(x: float) -> str:
    return "n/a" if x != x else f"{x:,.2f}"


def _scorecard_html(inp: ReportInput) -> str:
    from credsim.results.scorecard import metric_label, metric_order

    e = html.escape
    if not inp.cards:
        return ""
    names = list(inp.cards)
    head = "".join(f"<th scope='col'>{e(n)}</th>" for n in names)
    body = []
    for metric in metric_order(inp.cards.values()):  # a metric a run lacks (its mechanism is off): a dash
        if metric in HIDDEN_METRICS:
            continue
        unit, words = metric_label(metric)
        cells = "".join(
            f"<td>{_fmt(inp.cards[n][metric]) if metric in inp.cards[n] else '—'}{_interval_html(inp, n, metric)}</td>"
            for n in names
        )
        body.append(f"<tr><th scope='row'>{e(words[:1].upper() + words[1:])}</th><td class='unit'>{e(unit)}</td>{cells}</tr>")
    verdicts = "".join(f"<p class='verdict'><strong>{e(n)}:</strong> {e(t)}</p>" for n, t in inp.verdicts.items())
    notes = "".join(f"<p class='note'>{e(n)}</p>" for n in inp.notes)
    return (
        "<section id='scorecard'><h2>Scorecard</h2>"
        f"<p class='about'>Each scenario against <strong>{e(inp.baseline or '')}</strong>, the same simulated "
        "population with the system switched off. The runs share their random numbers, so the differences are "
        "the system's effect, not chance.</p>"
        f"{_seeds_html(inp)}"
        f"<div class='tablewrap'><table id='scorecard-table'><thead><tr><th scope='col'>Measure</th>"
        f"<th scope='col'>Unit</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        f"<h3>In plain words</h3>{verdicts}{notes}</section>"
    )


def _interval_html(inp: ReportInput, name: str, metric: str) -> str:
    """The 95% interval under a mean of ``compare --seeds K``; empty with one seed."""
    lo, hi = inp.intervals.get(name, {}).get(metric, (float("nan"), float("nan")))
    return "" if lo != lo else f"<br><span class='ci' style='color:#666;font-size:.85em'>{_fmt(lo)} – {_fmt(hi)}</span>"


def _seeds_html(inp: ReportInput) -> str:
    if len(inp.seeds) < 2:
        return ""
    k = len(inp.seeds)
    return (f"<p class='about'>Each figure is the mean over {k} seeds ({inp.seeds[0]}..{inp.seeds[-1]}), every "
            "scenario paired with the baseline run of the same seed; under it, its 95% interval: a Student-t "
            f"interval over the {k} paired values, mean ± t(0.975, {k - 1}) · sd / √{k}.</p>")


CSS = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;color:#1a1a1a;background:#fff;margin:0;line-height:1.45}
main{max-width:980px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:1.7em;margin:.2em 0 .3em}h2{font-size:1.3em;margin:1.8em 0 .3em;border-top:1px solid #ddd;padding-top:.8em}
.lede{font-size:1.05em;color:#333}.about{color:#333;margin:.2em 0 .8em}.note{color:#555;font-size:.9em}
nav{font-size:.92em;margin:1em 0}nav a{margin-right:1.1em;color:#0072B2}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}th,td{padding:4px 10px;border-bottom:1px solid #e3e3e3;text-align:right}
th[scope=row],th:first-child{text-align:left;font-weight:normal}thead th{font-weight:bold;border-bottom:2px solid #999}
td.unit{color:#666;text-align:left}.tablewrap{overflow-x:auto}
.chart{margin:.5em 0 1em;min-height:120px}.verdict{max-width:52em}
footer{margin-top:3em;color:#666;font-size:.85em}
"""

JS = """
(function () {
  var specs = JSON.parse(document.getElementById("credsim-specs").textContent);
  var opts = {renderer: "svg", actions: {export: true, source: false, compiled: false, editor: false}};
  var jobs = Object.keys(specs).map(function (key) {
    var el = document.getElementById("chart-" + key);
    return vegaEmbed(el, specs[key], Object.assign({downloadFileName: "credsim-" + key}, opts))
      .then(function () { el.setAttribute("data-rendered", "1"); })
      .catch(function (err) {
        console.error("credsim report: chart " + key + " failed: " + err);
        el.textContent = "This chart could not be drawn: " + err;
      });
  });
  Promise.all(jobs).then(function () { document.body.setAttribute("data-charts-done", "1"); });
})();
"""


def render_html(inp: ReportInput, charts: list[Chart]) -> str:
    from credsim.report.policy import policy_html

    e = html.escape
    runs = list(inp.runs.values())
    pops = sorted({r.population for r in runs})
    days = sorted({r.days for r in runs})
    pop_txt = " / ".join(f"{p:,}" for p in pops)
    day_txt = " / ".join(str(d) for d in days)
    title = f"What a social-credit system does: {pop_txt} simulated people over {day_txt} days"
    rows = "".join(
        f"<tr><th scope='row'>{e(label)}</th><td>{r.population:,}</td><td>{r.days}</td><td>{r.seed}</td>"
        f"<td>{e(r.backend)}</td><td>{e(r.run_id or '—')}</td></tr>"
        for label, r in inp.runs.items()
    )
    runs_table = (
        "<table id='runs-table'><thead><tr><th scope='col'>Scenario</th><th scope='col'>People</th>"
        "<th scope='col'>Days</th><th scope='col'>Seed</th><th scope='col'>Backend</th>"
        f"<th scope='col'>Run id</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    nav = "".join(f"<a href='#{c.key}'>{e(c.heading)}</a>" for c in charts)
    if inp.cards:
        nav = "<a href='#scorecard'>Scorecard</a>" + nav
    sections = "".join(
        f"<section id='{c.key}'><h2>{e(c.heading)}</h2><p class='about'>{e(c.about)}</p>"
        + "".join(f"<p class='note'>{e(n)}</p>" for n in c.notes)
        + f"<div class='chart' id='chart-{c.key}' role='img' aria-label='{e(c.heading)}'></div></section>"
        for c in charts
    )
    specs = _json_for_script({c.key: c.spec for c in charts})
    from credsim.version import __version__

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return page_head(title) + f"""<p class="lede">A simulation of the scoring and blacklisting system described in the essay, run on a synthetic
population: every person here is a number in a computer, not a real individual. Hover over a chart for exact
figures; click a legend entry to pick out one scenario; drag or scroll on a timeline to zoom.</p>
{runs_table}
{policy_html(inp.runs)}
<nav>{nav}</nav>
{_scorecard_html(inp)}
{sections}
<footer>Made by credsim {e(__version__)} on {stamp}. {e(_data_note(charts))}</footer>
</main>
<script id="credsim-specs" type="application/json">{specs}</script>
<script>{vega_bundle()}</script>
<script>{JS}</script>
</body></html>
"""


def _data_note(charts: list[Chart]) -> str:
    if any(c.key == "tracked" for c in charts):
        return ("Charts use daily totals, and one follows a few tracked agents of the synthetic population (numbers "
                "in a computer, not people); no real individual's data is stored in this file.")
    return "Charts use daily totals only; no individual's data is stored in this file."


def page_head(title: str) -> str:
    """The start of a credsim HTML page up to its heading (the run report's and the sensitivity report's)."""
    e = html.escape
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>{CSS}</style>
</head><body><main>
<h1>{e(title)}</h1>
"""


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        write_atomic(path, data)
    except OSError as err:
        raise CredsimError(f"report: cannot write {path}: {err.strerror or err}") from None


def _is_report(data: bytes) -> bool:
    """Is this (the head of) an HTML report credsim wrote?"""
    return data.startswith(b"<!DOCTYPE html>") and b"Made by credsim" in data


def check_outputs(path: str | os.PathLike | None = None, figures: str | os.PathLike | None = None) -> None:
    """Refuse early (before any work) a report file or figures folder that writing would refuse:
    credsim replaces only a report or a figures folder it wrote itself."""
    if path is not None:
        check_replaceable_file(path, _is_report, "report", "report")
    if figures is not None:
        check_output_folder(Path(figures), FIGURES, "figures")


def write_report(comparison_or_runs, path: str | os.PathLike, *, figures: str | os.PathLike | None = None) -> Path:
    """Write one self-contained, offline HTML report; with ``figures``, also PNG and SVG of each chart there."""
    path = Path(path)
    check_outputs(path, figures)
    from credsim.report.charts import build_charts

    inp = prepare(comparison_or_runs)
    charts = build_charts(inp.runs, inp.baseline)
    _write_atomic(path, render_html(inp, charts).encode("utf-8"))
    if figures is not None:
        _write_figures(charts, Path(figures))
    return path


def _write_figures(charts: list[Chart], folder: Path) -> list[Path]:
    import vl_convert

    check_output_folder(folder, FIGURES, "figures")
    files = {}
    for i, c in enumerate(charts, 1):
        stem = f"{i:02d}-{c.key}"
        # no base URL allowed: the data are inline, nothing may be fetched
        files[f"{stem}.svg"] = vl_convert.vegalite_to_svg(c.spec, allowed_base_urls=[]).encode("utf-8")
        files[f"{stem}.png"] = vl_convert.vegalite_to_png(c.spec, scale=2, allowed_base_urls=[])
    try:
        write_output_folder(folder, FIGURES, files, field="figures")
    except OSError as err:
        raise CredsimError(f"figures: cannot write {folder}: {err.strerror or err}") from None
    return [folder / name for name in files]


def write_figures(comparison_or_runs, folder: str | os.PathLike) -> list[Path]:
    """Each chart of the report as PNG and SVG in ``folder`` (made without a browser)."""
    from credsim.report.charts import build_charts

    inp = prepare(comparison_or_runs)
    return _write_figures(build_charts(inp.runs, inp.baseline), Path(folder))
