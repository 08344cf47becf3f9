"""The scorecard's CSM-2 numbers (recomputed by hand from daily.csv), the same-world check over every
plan in force, and ``compare --panel K`` with its chart of tracked agents."""

from __future__ import annotations

import csv
import json
import math

import pytest

from conftest import scenario_path
from credsim.errors import CredsimError
from credsim.results.compare import compare
from credsim.results.scorecard import metric_order, scorecard, verdict
from credsim.results.store import Catalog

N, D, SEED, K = 3000, 70, 7, 12
CSM2_METRICS = {
    "settlements",
    "term_exits",
    "appeals_filed",
    "appeals_upheld",
    "appeals_rejected",
    "appeals_upheld_pct",
}


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    cat = Catalog(tmp_path_factory.mktemp("cat") / "c.duckdb")
    return compare([str(scenario_path("essay2")), "essay"], N, D, SEED, catalog=cat, panel=K), cat


def _rows(result, folder):
    out = result.write_dir(folder / result.name)
    with open(out / "daily.csv") as fh:
        return [{k: int(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def test_csm2_metrics_recomputed_from_daily_csv(comparison, tmp_path):
    comp, _ = comparison
    rows = _rows(comp.results["essay2"], tmp_path)
    card = comp.cards["essay2"]

    def total(col):
        return sum(r[col] for r in rows)

    assert card["settlements"] == total("settlements") > 0
    assert card["term_exits"] == total("term_exits")
    assert card["appeals_filed"] == total("appeals_filed") > 0
    assert card["appeals_upheld"] == total("appeals_upheld") > 0
    assert card["appeals_rejected"] == total("appeals_rejected")
    decided = total("appeals_upheld") + total("appeals_rejected")
    assert card["appeals_upheld_pct"] == pytest.approx(100 * total("appeals_upheld") / decided)
    assert card["wrongful_listing_person_days"] == total("listed_wrongly_flagged") > 0
    assert card["wrongful_listing_days_per_capita"] == pytest.approx(total("listed_wrongly_flagged") / N)
    # CSM-1 scenarios (and the baseline) have none of them: absent, not zero; the wrongful listing is a
    # §5 column, so every scenario has it (the baseline lists no one: 0 person-days)
    essay = _rows(comp.results["essay"], tmp_path)
    assert comp.cards["essay"]["wrongful_listing_person_days"] == sum(r["listed_wrongly_flagged"] for r in essay) > 0
    assert comp.cards["baseline"]["wrongful_listing_person_days"] == 0
    for name in ("essay", "baseline"):
        assert not CSM2_METRICS & set(comp.cards[name]), name


def test_verdict_says_the_csm2_numbers(comparison):
    comp, _ = comparison
    card, text = comp.cards["essay2"], comp.verdicts["essay2"]
    decided = card["appeals_upheld"] + card["appeals_rejected"]
    assert f"There were {card['settlements']:,.0f} settlement" in text
    assert f"{card['term_exits']:,.0f} listing" in text
    pct = card["appeals_upheld_pct"]
    assert f"{card['appeals_filed']:,.0f} appeals were filed; {pct:.0f}% of the {decided:,.0f} decided were upheld" in text
    wrongful = f"{card['wrongful_listing_person_days']:,.0f} person-days on the list while holding a wrongful record"
    assert wrongful in text
    # a CSM-1 verdict is the one it always was: built without any CSM-2 sentence
    essay = comp.cards["essay"]
    assert "settle" not in comp.verdicts["essay"] and "appeal" not in comp.verdicts["essay"]
    assert comp.verdicts["essay"] == verdict("essay", essay, N, D)


def test_verdict_appeals_none_decided_reads_well():
    card = {
        "offences_prevented": 1.0,
        "listed_person_days": 0.0,
        "offences_prevented_pct": 1.0,
        "lawful_suppressed_pct": 0.0,
        "stress_high_pct": 0.0,
        "appeals_filed": 1.0,
        "appeals_upheld": 0.0,
        "appeals_rejected": 0.0,
        "appeals_upheld_pct": math.nan,
        "wrongful_listing_person_days": 3.0,
        "wrongful_listing_days_per_capita": 0.3,
    }
    text = verdict("x", card, 10, 1)
    assert "1 appeal was filed and none was decided" in text and "n/a" not in text and "nan" not in text


def test_metric_order_keeps_every_metric_once():
    base = {"a": 1, "c": 2, "z": 3}
    more = {"a": 1, "c": 2, "s": 4, "t": 5, "z": 3}
    assert metric_order([base, more]) == ["a", "c", "s", "t", "z"]
    assert metric_order([more, base]) == ["a", "c", "s", "t", "z"]


def test_scorecard_table_shows_absent_metrics_as_absent(comparison):
    from rich.console import Console

    from credsim.cli import print_scorecard

    comp, _ = comparison
    console = Console(width=250, record=True)
    print_scorecard(comp, console)
    text = console.export_text()
    line = next(l for l in text.splitlines() if "appeals_upheld_pct" in l)
    cells = [c.strip() for c in line.split("│") if c.strip()]
    assert cells[-3] == "—" and cells[-1] == "—", cells  # baseline and essay lack appeals
    assert cells[-2] == f"{comp.cards['essay2']['appeals_upheld_pct']:,.2f}"
    assert json.dumps(comp.to_json()["scenarios"]["essay"]).count("appeals") == 0


# -- the same world on every day ---------------------------------------------------------------------


def _with_schedule(tmp_path, name, day, key, value):
    f = tmp_path / f"{name}.toml"
    f.write_text(scenario_path("essay").read_text() + f'\n[[schedule]]\nday = {day}\nset = {{ "{key}" = {value} }}\n')
    return f


def test_same_world_reads_every_plan_in_force(tmp_path):
    cat = Catalog(tmp_path / "c.duckdb")
    base_change = _with_schedule(tmp_path, "busier", 10, "channel.public_misconduct.base", 0.01)
    with pytest.raises(CredsimError, match=r"channel\[0\]\.base from day 10"):
        compare([str(base_change)], 500, 20, 1, catalog=cat)
    act_change = _with_schedule(tmp_path, "travels", 3, "activity.travel.base", 0.05)
    with pytest.raises(CredsimError, match=r"activity\[0\]\.base from day 3"):
        compare([str(act_change)], 500, 20, 1, catalog=cat)
    # a baseline whose own schedule changes the world: refused too
    with pytest.raises(CredsimError, match=r"channel\[0\]\.base from day 10"):
        compare(["essay"], 500, 20, 1, catalog=cat, baseline=str(base_change))
    assert not cat.path.exists() or cat.runs().empty  # nothing ran or was stored
    # a switch after the last day changes nothing the run sees; the system's own fields may change
    assert "busier" in compare([str(base_change)], 500, 9, 1, catalog=cat).cards
    detect = _with_schedule(tmp_path, "sharper", 5, "channel.public_misconduct.detect", 0.9)
    assert "sharper" in compare([str(detect)], 500, 9, 1, catalog=cat).cards


# -- compare --panel ---------------------------------------------------------------------------------


def test_compare_tracks_the_same_agents_and_reuses_only_the_same_panel(comparison):
    comp, cat = comparison
    ids = [r.tables.panel_agents.tolist() for r in comp.results.values()]
    assert ids[0] == [(j * N) // K for j in range(K)] and all(i == ids[0] for i in ids)
    again = compare([str(scenario_path("essay2"))], N, D, SEED, catalog=cat, panel=K)
    assert again.reused == {"baseline": True, "essay2": True}
    assert again.results["essay2"].tables.panel.shape[1] == K
    other = compare([str(scenario_path("essay2"))], N, D, SEED, catalog=cat, panel=5)
    assert other.reused == {"baseline": False, "essay2": False}
    assert other.results["essay2"].tables.panel.shape[1] == 5


def test_cli_compare_panel(tmp_path, cli):
    out = tmp_path / "r.html"
    proc = cli(
        "compare",
        "essay",
        "-n",
        "800",
        "-d",
        "12",
        "--panel",
        "4",
        "--catalog",
        str(tmp_path / "c.duckdb"),
        "--report",
        str(out),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    assert "chart-tracked" in out.read_text("utf-8")
    bad = cli("compare", "essay", "-n", "800", "-d", "12", "--panel", "801", "--catalog", str(tmp_path / "c.duckdb"))
    assert bad.returncode == 2 and "panel" in bad.stderr and "Traceback" not in bad.stderr


def test_report_draws_tracked_agents_only_with_a_panel(comparison, tmp_path):
    import vl_convert

    from credsim.report import write_report
    from credsim.report.charts import build_charts, pick_agents

    comp, _ = comparison
    charts = {c.key: c for c in build_charts(comp.results, comp.baseline)}
    tracked = charts["tracked"]
    chosen = pick_agents(comp.results, comp.baseline)
    assert 1 <= len(chosen) <= 6 and set(chosen) <= set(comp.results["essay2"].tables.panel_agents.tolist())
    data = tracked.spec["data"]["values"]
    assert all(f"agent {a}" in data for a in chosen)
    svg = vl_convert.vegalite_to_svg(tracked.spec, allowed_base_urls=[])
    assert "<path" in svg and "agent" in svg
    html = write_report(comp, tmp_path / "r.html").read_text("utf-8")
    assert "chart-tracked" in html and "not people" in html
    plain = compare(["essay"], 500, 5, 1)
    assert "tracked" not in {c.key for c in build_charts(plain.results, plain.baseline)}


def test_report_with_tracked_agents_in_a_browser(comparison, tmp_path, browser):
    from browser_checks import check_charts
    from credsim.report import write_report
    from test_report import open_report

    comp, _ = comparison
    path = write_report(comp, tmp_path / "r.html")
    page, errors, requests = open_report(browser, path)
    try:
        chart = page.locator("#chart-tracked")
        assert chart.get_attribute("data-rendered") == "1"
        assert chart.locator("svg .mark-line path").count() > 0
        check_charts(page, ".chart")
        assert errors == [] and requests == []
    finally:
        page.close()


def test_scorecard_by_hand_without_appeals_decided(tmp_path):
    """appeals_upheld_pct is NaN (not 0) when nothing was decided; other metrics are still sums."""
    import pandas as pd

    from credsim.scenario import load

    _, sc = load(str(scenario_path("essay2")))
    daily = pd.DataFrame(
        {
            "true_public_misconduct": [1],
            "listed": [2],
            "ever_listed": [2],
            "spillover": [0],
            "listed_wrongly_flagged": [1],
            "stress_high": [0],
            "settlements": [0],
            "term_exits": [0],
            "owing": [0],
            "appeals_filed": [2],
            "appeals_upheld": [0],
            "appeals_rejected": [0],
            "appeals_pending": [2],
        }
    )
    for c in sc.channel:
        daily[f"true_{c.name}"] = 1
    for a in sc.activity:
        daily[f"attempts_{a.name}"], daily[f"denied_{a.name}"] = 1, 0
    card = scorecard(daily, sc, daily, 10)
    assert math.isnan(card["appeals_upheld_pct"]) and card["appeals_filed"] == 2
    assert card["wrongful_listing_person_days"] == 1 and card["settlements"] == 0
