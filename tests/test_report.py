"""The HTML report: rendered in a real (headless) Chromium, offline, with every chart drawn.

Chromium is Debian's (/usr/bin/chromium; `make test` installs it when missing), driven by
Playwright's Python API; no browser is downloaded. A screenshot of the report is kept in
artifacts/ for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from browser_checks import check_charts
from credsim.errors import CredsimError
from credsim.report import prepare, write_figures, write_report
from credsim.results.compare import compare

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHARTS = ["listed", "distribution", "events", "denials", "stress", "regions"]
N, DAYS = 20_000, 60


@pytest.fixture(scope="module")
def comparison():
    return compare(["essay"], N, DAYS, 1)


@pytest.fixture(scope="module")
def report(comparison, tmp_path_factory):
    return write_report(comparison, tmp_path_factory.mktemp("report") / "report.html")


def open_report(browser, path: Path, width: int = 1100):
    """Open a report with every network request refused; return (page, console errors, requests tried)."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            requests.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("body[data-charts-done='1']", timeout=60_000)
    return page, errors, requests


def test_report_renders_every_chart_offline(report, browser):
    page, errors, requests = open_report(browser, report)
    try:
        for key in CHARTS:
            chart = page.locator(f"#chart-{key}")
            assert chart.get_attribute("data-rendered") == "1", f"chart {key} did not render: {chart.inner_text()[:200]}"
            svg = chart.locator("svg").first
            box = svg.bounding_box()
            assert box and box["width"] > 200 and box["height"] > 100, f"chart {key}: empty SVG {box}"
            marks = chart.locator("svg .mark-rect path, svg .mark-line path, svg .mark-rect rect").count()
            assert marks > 0, f"chart {key}: no bars, cells or lines drawn"
        assert page.locator("#scorecard-table tbody tr").count() >= 10
        assert "prevented" in page.locator("#scorecard").inner_text()
        check_charts(page, ".chart")  # legends and labels where a person sees them; no null, no raw Markdown
        assert errors == [], f"console errors: {errors}"
        assert requests == [], f"the report tried to reach the network: {requests}"
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        page.close()


def test_report_is_self_contained(report):
    text = report.read_text("utf-8")
    assert text.count("window.vegaEmbed=") == 1, "the chart library must be inlined exactly once"
    assert not re.search(r"<script[^>]+src=", text), "no external scripts"
    assert not re.search(r"<link[^>]+href=", text), "no external stylesheets"


def test_report_size_does_not_grow_with_population(report, tmp_path):
    big = write_report(compare(["essay"], 5 * N, DAYS, 1), tmp_path / "big.html")
    small_size, big_size = report.stat().st_size, big.stat().st_size
    assert big_size <= small_size * 1.03, (small_size, big_size)


def test_figures_png_and_svg(comparison, tmp_path):
    paths = write_figures(comparison, tmp_path / "fig")
    pngs = sorted(p for p in paths if p.suffix == ".png")
    svgs = sorted(p for p in paths if p.suffix == ".svg")
    assert len(pngs) == len(svgs) == len(CHARTS)
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5_000, p
    for p in svgs:
        text = p.read_text("utf-8")
        assert text.lstrip().startswith("<svg") and "<path" in text and len(text) > 5_000, p
    if ARTIFACTS.is_dir() or os.environ.get("CI"):
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copytree(tmp_path / "fig", ARTIFACTS / "figures", dirs_exist_ok=True)


def test_list_of_runs_scorecard_only_with_baseline(comparison):
    runs = list(comparison.results.values())
    with_base = prepare(runs[::-1])
    assert with_base.baseline == "baseline" and list(with_base.runs)[0] == "baseline"
    assert set(with_base.cards) == {"baseline", "essay"} and set(with_base.verdicts) == {"essay"}
    assert with_base.cards["essay"] == pytest.approx(comparison.cards["essay"], nan_ok=True)
    without = prepare([comparison.results["essay"]])
    assert without.baseline is None and not without.cards
    twice = prepare([comparison.results["essay"], comparison.results["essay"]])
    assert len(twice.runs) == 2


def test_report_without_baseline_renders(comparison, tmp_path, browser):
    path = write_report([comparison.results["essay"]], tmp_path / "one.html")
    assert "scorecard-table" not in path.read_text("utf-8")
    page, errors, _ = open_report(browser, path)
    try:
        assert page.locator("[data-rendered='1']").count() == len(CHARTS)
        assert errors == []
    finally:
        page.close()


def test_bad_inputs(tmp_path, comparison):
    with pytest.raises(CredsimError, match="no runs"):
        write_report([], tmp_path / "r.html")
    with pytest.raises(CredsimError, match="folder"):
        write_report(comparison, tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CredsimError, match="cannot write"):
        write_report(comparison, blocker / "r.html")


def test_cli_report(cli, tmp_path):
    from credsim.results.store import Catalog

    cat_path = tmp_path / "runs.duckdb"
    comp = compare(["essay"], 5_000, 20, 3, catalog=Catalog(cat_path))
    ids = [r.run_id for r in comp.results.values()]
    out, fig = tmp_path / "r.html", tmp_path / "fig"
    done = cli("report", *ids, "--out", str(out), "--figures", str(fig), "--catalog", str(cat_path))
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 100_000 and "scorecard-table" in out.read_text("utf-8")
    assert len(list(fig.glob("*.png"))) == len(CHARTS)
    bad = cli("report", "nope", "--out", str(out), "--catalog", str(cat_path))
    assert bad.returncode == 2 and "nope" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_report_describes_every_policy_in_force(tmp_path):
    """A run with CSM-2 mechanisms and a schedule: the report lists the mechanisms and each schedule
    entry (its day, each value before and after); the events chart's points follow the schedule."""
    import json

    from credsim import simulate
    from credsim.report.policy import points_text
    from credsim.scenario import Scenario, from_toml

    essay2 = from_toml((ROOT / "tests" / "scenarios" / "essay2.toml").read_text("utf-8"), "essay2")
    run = simulate(essay2, 3_000, 40, 1, name="essay2")
    text = write_report([run], tmp_path / "r.html").read_text("utf-8")
    section = re.search(r"<section id='policy'>.*?</section>", text, re.S)
    assert section, "no policy section"
    section = section.group(0)
    assert "appeals: 60% filed, 70% upheld, mean review 10 days" in section
    assert "from day 31 (schedule[0]): channel.public_misconduct.detect 0.5 → 0.8; blacklist.min_stay 30 → 45" in section
    assert "from day 61 (schedule[1]): score.spouse_weight 3 → 0; channel.online_speech.false_rate 1e-05 → 0.001" in section
    assert "after day 40, the run&#x27;s last: changes nothing here" in section  # day 61 > 40 days
    # a CSM-1 run has no such section
    plain = simulate("essay", 2_000, 5, 1)
    assert "id='policy'" not in write_report([plain], tmp_path / "p.html").read_text("utf-8")
    # points over the run, as the events chart shows them
    data = essay2.model_dump(mode="json", exclude_none=True)
    data["schedule"].append({"day": 90, "set": {"channel.online_speech.points": 0, "channel.volunteering.points": 8}})
    sc = Scenario.model_validate(data)
    assert points_text(sc, "online_speech") == "-10 (0 from day 90)"
    assert points_text(sc, "volunteering") == "+5 (+8 from day 90)" and points_text(sc, "late_tax") == "-30"
    specs = json.loads(re.search(r'<script id="credsim-specs" type="application/json">(.*?)</script>', text, re.S).group(1))
    assert specs["events"]["data"]["format"]["parse"] == {"per_1000": "number"}  # points are text now
    assert ",-5\n" in specs["events"]["data"]["values"]
