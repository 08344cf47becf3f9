"""What a person sees, checked in the browser: the page's visible text and the charts' layout.

Shared by the report's and the dashboard's browser tests (both draw credsim/report/charts/'s
Vega-Lite charts).
"""

from __future__ import annotations

import re

#: Words that mean a value went missing on its way to the page, and Markdown that was not rendered.
RAW = re.compile(r"\b(null|undefined|NaN)\b|\[object \w+\]|`")

_TEXTS_JS = """() => [document.body.innerText, ...[...document.querySelectorAll("svg text")]
    .filter((t) => t.getBoundingClientRect().width > 0).map((t) => t.textContent)]"""

# For every chart (an element holding one Vega SVG): every text and every legend lies inside the
# part of the SVG a person can see (not cut off by the SVG's edge or its scrolling container); a
# legend inside a panel of a vconcat lies beside that panel's y axis; returns what is wrong, plus
# each chart's legends as [chart id, legend title, is a gradient, y-axis titles beside it].
_LAYOUT_JS = """(selector) => {
  const out = {problems: [], legends: []};
  const tol = 1.5;
  const inside = (a, b) => a.left >= b.left - tol && a.right <= b.right + tol && a.top >= b.top - tol && a.bottom <= b.bottom + tol;
  const fmt = (r) => `[${Math.round(r.left)}, ${Math.round(r.top)}, ${Math.round(r.right)}, ${Math.round(r.bottom)}]`;
  for (const chart of document.querySelectorAll(selector)) {
    const svg = chart.querySelector("svg");
    if (!svg) { out.problems.push(`${chart.id}: no SVG`); continue; }
    const s = svg.getBoundingClientRect();
    let seen = {left: s.left, right: s.right, top: s.top, bottom: s.bottom};
    const scroller = chart.closest(".chart-scroll");
    if (scroller) {
      const c = scroller.getBoundingClientRect();
      seen = {left: Math.max(s.left, c.left), right: Math.min(s.right, c.right), top: s.top, bottom: s.bottom};
    }
    for (const t of svg.querySelectorAll("text")) {
      const r = t.getBoundingClientRect();
      if (r.width > 0 && !inside(r, seen)) out.problems.push(`${chart.id}: text "${t.textContent}" at ${fmt(r)} is cut off (visible ${fmt(seen)})`);
    }
    for (const g of svg.querySelectorAll("g.role-legend")) {
      const r = g.getBoundingClientRect();
      const titleNode = g.querySelector(".role-legend-title text");
      const title = titleNode ? titleNode.textContent : "";
      if (!inside(r, seen)) out.problems.push(`${chart.id}: legend "${title}" at ${fmt(r)} is outside the chart (visible ${fmt(seen)})`);
      let panel = g.parentElement;
      while (panel && panel !== svg && !/\\bconcat_\\d+_group\\b/.test(panel.getAttribute("class") || "")) panel = panel.parentElement;
      const scope = panel && panel !== svg ? panel : svg;
      // the y axes of the legend's own panel (or of the whole chart, for a legend shared by all panels)
      const axes = [...scope.querySelectorAll("g.role-axis")].filter((a) => {
        const t = a.querySelector(".role-axis-title text");
        const ar = a.getBoundingClientRect();
        return t && ar.height > ar.width;
      });
      const beside = axes.filter((a) => { const ar = a.getBoundingClientRect(); const mid = (r.top + r.bottom) / 2; return mid >= ar.top - tol && mid <= ar.bottom + tol; })
        .map((a) => a.querySelector(".role-axis-title text").textContent);
      if (scope !== svg && !beside.length) out.problems.push(`${chart.id}: legend "${title}" at ${fmt(r)} is not beside its panel's plot`);
      const gradient = [...g.querySelectorAll("path, rect")].some((p) => (p.getAttribute("fill") || p.style.fill || "").includes("url("));
      out.legends.push([chart.id, title, gradient, beside]);
    }
  }
  return out;
}"""


def text_problems(page) -> list[str]:
    """Pieces of the visible text (HTML and chart SVG) that show null/undefined/NaN or raw Markdown."""
    problems = []
    for text in page.evaluate(_TEXTS_JS):
        for line in text.splitlines():
            if RAW.search(line):
                problems.append(line.strip()[:160])
    return problems


def chart_layout(page, selector: str) -> tuple[list[str], list[list]]:
    """(problems, legends) of the charts matched by ``selector``; see _LAYOUT_JS."""
    res = page.evaluate(_LAYOUT_JS, selector)
    return res["problems"], res["legends"]


def check_charts(page, selector: str) -> None:
    """Assert the charts' texts and legends are where a person can see them, the score chart's
    "Line" legend beside the score panel, and the score-spread heatmap's legend a gradient."""
    problems, legends = chart_layout(page, selector)
    assert problems == [], problems
    line = [lg for lg in legends if lg[1] == "Line"]
    assert line and all(lg[3] == ["Score (points)"] for lg in line), legends
    spread = [lg for lg in legends if lg[0] == "chart-distribution"]
    assert spread and all(lg[2] for lg in spread), legends
    assert text_problems(page) == [], text_problems(page)
