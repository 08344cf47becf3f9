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

The charts by the table they read: :mod:`~credsim.report.charts.daily` (the blacklist, events,
denials, stress over the days), :mod:`~credsim.report.charts.histogram` (the scores' distribution),
:mod:`~credsim.report.charts.regions` (the provinces), :mod:`~credsim.report.charts.panel` (tracked
agents); what they share (palette, :class:`Chart`, :data:`CONFIG`): :mod:`~credsim.report.charts.base`.
:func:`build_charts` puts them in the report's order.
"""

from __future__ import annotations

from credsim.report.charts.base import (
    CONFIG,
    DAY_TITLE,
    EVENT_COLOURS,
    EVENT_MEASURES,
    OKABE_ITO,
    WIDTH,
    Chart,
)
from credsim.report.charts.daily import denials_chart, events_chart, listed_chart, stress_chart
from credsim.report.charts.histogram import (
    HIST_LOG_FLOOR_PCT,
    HIST_MIN_SHARE_PCT,
    HIST_ZERO_COLOUR,
    distribution_chart,
)
from credsim.report.charts.panel import PANEL_AGENTS, PANEL_COLUMNS_PER_ROW, panel_chart, pick_agents
from credsim.report.charts.regions import regions_chart
from credsim.results.run import RunResult

__all__ = [
    "CONFIG",
    "DAY_TITLE",
    "EVENT_COLOURS",
    "EVENT_MEASURES",
    "HIST_LOG_FLOOR_PCT",
    "HIST_MIN_SHARE_PCT",
    "HIST_ZERO_COLOUR",
    "OKABE_ITO",
    "PANEL_AGENTS",
    "PANEL_COLUMNS_PER_ROW",
    "WIDTH",
    "Chart",
    "build_charts",
    "denials_chart",
    "distribution_chart",
    "events_chart",
    "listed_chart",
    "panel_chart",
    "pick_agents",
    "regions_chart",
    "stress_chart",
]


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
