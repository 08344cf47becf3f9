"""Sensitivity analysis (credsim sensitivity) and seed uncertainty (credsim compare --seeds K).

The ranges loader's refusals are checked directly (no run); a tiny Sobol and Morris analysis checks
the indices' shape, that a parameter which cannot reach a metric gets a zero total index, and that a
rerun runs nothing (every run comes back from the catalog); compare --seeds's means and intervals
are recomputed here from single-seed comparisons with scipy's t interval.
"""

from __future__ import annotations

import json
import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credsim.errors import CredsimError
from credsim.results import sensitivity as sa
from credsim.results import sensitivity_runs
from credsim.results.compare import compare
from credsim.results.store import Catalog
from credsim.scenario import load

ESSAY_PLUS = load("essay-plus")[1]
ESSAY = load("essay")[1]
BASELINE = load("baseline")[1]
N, D = 2000, 10


def refuse(text: str, scenario=ESSAY_PLUS) -> str:
    with pytest.raises(CredsimError) as err:
        sa.parse_ranges(text, scenario, BASELINE)
    msg = str(err.value)
    assert "\n" not in msg
    return msg


# -- the ranges loader ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, words",
    [
        ('"population.married_share" = [0.1, 0.9]', "population.* is fixed"),
        ('"score.start" = [900, 1100]', "score.start is fixed"),
        ('"blacklist.initial_share" = [0.0, 0.1]', "blacklist.initial_share is fixed"),
        ('"channel.nope.detect" = [0.1, 0.9]', "no channel named 'nope'"),
        ('"channel.public_misconduct.kind" = [0, 1]', "cannot change"),
        ('"channel.public_misconduct.colour" = [0, 1]', "unknown field 'colour'"),
        ('"cameras.detect" = [0, 1]', "unknown table 'cameras'"),
        ('"score" = [0, 1]', "expected a path of the form score.FIELD"),
        ('"channel.public_misconduct.dispositional" = [0, 1]', "only a numeric field can vary"),
        ('"blacklist.mode" = [0, 1]', "only a numeric field can vary"),
        ('"channel.public_misconduct.detect" = [0.9, 0.2]', "low (0.9) must be below high (0.2)"),
        ('"channel.public_misconduct.detect" = [0.5, 0.5]', "must be below high"),
        ('"channel.public_misconduct.detect" = [0.2, 1.5]', "high 1.5 is outside the field's validity"),
        ('"channel.public_misconduct.detect" = [-0.1, 0.5]', "low -0.1 is outside the field's validity"),
        ('"blacklist.min_stay" = [0.5, 30]', "an integer field: low and high must be whole numbers"),
        ('"blacklist.min_stay" = [0, 70000]', "high 70000 is outside the field's validity"),
        ('"channel.public_misconduct.detect" = [0.2]', "expected [low, high], two numbers"),
        ('"channel.public_misconduct.detect" = [0.2, true]', "expected [low, high], two numbers"),
        ('"channel.public_misconduct.detect" = 0.5', "expected [low, high], two numbers"),
        ('"channel.public_misconduct.detect" = [0.2, nan]', "finite numbers"),
        ("", "no ranges"),
        ('"channel.public_misconduct.detect" = [0.2, 0.9', "not valid TOML"),
    ],
)
def test_ranges_refusals_name_the_field_and_the_problem(text, words):
    msg = refuse(text)
    assert words in msg, msg
    if text.startswith('"') and words != "not valid TOML":
        assert text.split('"')[1] in msg, msg


def test_a_csm2_table_the_scenario_lacks_is_refused():
    msg = refuse('"exit.settle_rate" = [0.0, 0.01]', ESSAY)
    assert "has no [exit] table" in msg and "exit.settle_rate" in msg


def test_ranges_accept_dotted_tables_and_type_integer_fields():
    text = '"channel.public_misconduct.detect" = [0.2, 0.9]\n[blacklist]\nmin_stay = [0, 90]\n'
    ranges = sa.parse_ranges(text, ESSAY_PLUS, BASELINE)
    assert [(r.path, r.integer, r.world) for r in ranges] == [
        ("channel.public_misconduct.detect", False, False), ("blacklist.min_stay", True, False)]
    assert sa.parse_ranges('"channel.public_misconduct.base" = [0.001, 0.01]', ESSAY_PLUS, BASELINE)[0].world


@settings(max_examples=40, deadline=None)
@given(a=st.floats(0, 1), b=st.floats(0, 1))
def test_probability_ranges_are_accepted_exactly_when_low_is_below_high(a, b):
    text = f'"channel.public_misconduct.detect" = [{a!r}, {b!r}]'
    if a < b:
        (r,) = sa.parse_ranges(text, ESSAY_PLUS, BASELINE)
        assert (r.low, r.high) == (a, b)
    else:
        assert "must be below high" in refuse(text)


@settings(max_examples=30, deadline=None)
@given(lo=st.integers(-5, 70), width=st.integers(1, 70))
def test_integer_design_values_are_whole_and_within_bounds(lo, width):
    r = sa.Range("blacklist.min_stay", float(lo), float(lo + width), integer=True)
    # the design spans [low, high + 1): every coordinate floors to a whole value in low..high
    for u in (lo, lo + 0.999, lo + width / 2, lo + width + 0.999999, lo + width + 1.0):
        v = r.value(u)
        assert isinstance(v, int) and lo <= v <= lo + width


def test_a_design_point_that_makes_the_scenario_invalid_is_named(tmp_path):
    # each bound alone is valid; together two purchase rates pass 1 (the plan's check of the
    # behaviour probabilities), which no single field's rule can see
    ranges = tmp_path / "r.toml"
    ranges.write_text('"channel.alcohol_purchase.base" = [0.01, 0.6]\n"channel.tissue_purchase.base" = [0.01, 0.6]\n')
    with pytest.raises(CredsimError) as err:
        sa.prepare("essay-plus", ranges, samples=8, population=N, days=D)
    msg = str(err.value)
    assert msg.startswith("sensitivity: design point ") and "makes essay-plus invalid" in msg, msg
    assert "channel.alcohol_purchase.base=" in msg and "channel.tissue_purchase.base=" in msg
    assert "probabilities sum past 1" in msg and "\n" not in msg


@pytest.mark.parametrize(
    "kwargs, words",
    [({"samples": 0}, "samples: must be a whole number in 1.."), ({"seeds": 0}, "seeds: must be a whole number"),
     ({"method": "fast"}, "method: must be one of sobol, morris"),
     ({"metrics": ["happiness_pct"]}, "metric: unknown metric 'happiness_pct'"),
     ({"baseline": "essay-plus"}, "is the baseline")],
)
def test_bad_analysis_settings_are_refused_before_anything_runs(tmp_path, kwargs, words):
    ranges = tmp_path / "r.toml"
    ranges.write_text('"channel.public_misconduct.detect" = [0.2, 0.9]\n')
    with pytest.raises(CredsimError) as err:
        sa.prepare("essay-plus", ranges, population=N, days=D, **kwargs)
    assert words in str(err.value)


# -- tiny analyses ----------------------------------------------------------------------------------

RANGES = '"channel.public_misconduct.detect" = [0.2, 0.9]\n"stress.deny_cost" = [0, 50]\n'


@pytest.fixture(scope="module")
def sobol_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sa")
    (folder / "r.toml").write_text(RANGES)
    cat = Catalog(folder / "sa.duckdb")
    prep = sa.prepare("essay-plus", folder / "r.toml", method="sobol", samples=4, population=N, days=D)
    return folder, cat, prep, sa.run_analysis(prep, cat, workers=1)


def test_sobol_indices_have_one_row_per_parameter_and_metric(sobol_run):
    _, _, prep, res = sobol_run
    assert res.design.shape == (4 * (2 + 2), 2) and res.outputs.shape == (16, len(res.metrics))
    assert res.runs == {"total": 17, "reused": 0, "new": 17}  # 16 points and one baseline
    assert set(res.indices) == set(res.metrics) == set(sa.known_metrics(ESSAY_PLUS))
    for m in res.metrics:
        rows = res.indices[m]["rows"]
        assert [r["parameter"] for r in rows] == ["channel.public_misconduct.detect", "stress.deny_cost"]
        assert all(set(r) == {"parameter", "S1", "S1_conf", "ST", "ST_conf"} for r in rows)
    doc = json.loads(json.dumps(res.to_json()))
    assert doc["design_points"] == 16 and len(doc["metrics"]["offences_prevented_pct"]["indices"]) == 2


def test_a_parameter_that_cannot_reach_a_metric_has_zero_total_index(sobol_run):
    """Stress is an output (MODEL.md §4 step 10): its deny cost cannot change an offence."""
    _, _, _, res = sobol_run
    rows = {r["parameter"]: r for r in res.indices["offences_prevented_pct"]["rows"]}
    assert res.indices["offences_prevented_pct"]["note"] is None
    assert rows["stress.deny_cost"]["ST"] == pytest.approx(0.0, abs=1e-12)
    assert rows["channel.public_misconduct.detect"]["ST"] > 0.1
    assert res.ranked("offences_prevented_pct")[0]["parameter"] == "channel.public_misconduct.detect"


def test_outputs_are_the_scorecards_of_the_design_points(sobol_run):
    """Recompute one design point's output with compare (same scenario, same seed)."""
    _, cat, prep, res = sobol_run
    i = 5
    comp = compare([("pt", prep.points[i])], N, D, 1, catalog=None, hist_bins=0)
    want = [comp.cards["pt"][m] for m in res.metrics]
    assert res.outputs[i].tolist() == pytest.approx(want, nan_ok=True)


def test_a_rerun_reuses_every_stored_run(sobol_run):
    folder, cat, prep, res = sobol_run
    plans = []
    again = sa.run_analysis(prep, cat, workers=1, on_plan=lambda todo, reused: plans.append((todo, reused)))
    assert plans == [(0, 17)] and again.runs == {"total": 17, "reused": 17, "new": 0}
    assert len(Catalog(folder / "sa.duckdb").runs()) == 17
    np.testing.assert_array_equal(again.outputs, res.outputs)  # NaN where NaN: the same figures exactly


def test_an_interrupted_analysis_resumes_where_it_stopped(tmp_path):
    (tmp_path / "r.toml").write_text(RANGES)
    cat = Catalog(tmp_path / "c.duckdb")
    prep = sa.prepare("essay-plus", tmp_path / "r.toml", method="morris", samples=2, population=N, days=D)

    def stop(done, total):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sa.run_analysis(prep, cat, workers=1, on_run=stop)
    assert len(cat.runs()) == 3
    res = sa.run_analysis(prep, cat, workers=1)
    assert res.runs["reused"] == 3 and res.runs["new"] == res.runs["total"] - 3
    rows = res.indices["offences_prevented_pct"]["rows"]
    assert all(set(r) == {"parameter", "mu_star", "mu_star_conf", "sigma", "mu"} for r in rows)
    deny = next(r for r in rows if r["parameter"] == "stress.deny_cost")
    assert deny["mu_star"] == 0.0 and deny["sigma"] == 0.0


def test_finished_runs_are_stored_in_batches(tmp_path, monkeypatch):
    """Opening the catalog costs more than storing a small run: the runs of a design go in through
    one connection per batch, every run exactly once."""
    (tmp_path / "r.toml").write_text(RANGES)
    cat = Catalog(tmp_path / "c.duckdb")
    prep = sa.prepare("essay-plus", tmp_path / "r.toml", method="morris", samples=2, population=N, days=D)
    batches = []
    add_many = cat.add_many
    monkeypatch.setattr(cat, "add_many", lambda results: batches.append(len(results)) or add_many(results))
    monkeypatch.setattr(sensitivity_runs, "STORE_BATCH", 4)
    monkeypatch.setattr(sensitivity_runs, "STORE_EVERY_S", 1e9)
    res = sa.run_analysis(prep, cat, workers=1)
    total = res.runs["total"]
    assert sum(batches) == total == len(cat.runs()) and batches == [4] * (total // 4) + [total % 4] * (total % 4 > 0)


def test_a_process_pool_gives_the_same_outputs(sobol_run, tmp_path):
    _, _, prep, res = sobol_run
    pooled = sa.run_analysis(prep, Catalog(tmp_path / "p.duckdb"), workers=2)
    assert pooled.runs["new"] == 17
    np.testing.assert_array_equal(pooled.outputs, res.outputs)


def test_cli_sensitivity_json_and_report(cli, sobol_run, tmp_path):
    folder, _, _, res = sobol_run
    report = tmp_path / "sa.html"
    proc = cli("sensitivity", "essay-plus", "--ranges", str(folder / "r.toml"), "--method", "sobol", "--samples", "4",
               "-n", str(N), "-d", str(D), "--json", "--catalog", str(folder / "sa.duckdb"), "--report", str(report),
               "--metric", "offences_prevented_pct", "--metric", "stress_high_pct")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["runs"] == {"total": 17, "reused": 17, "new": 0} and list(doc["metrics"]) == [
        "offences_prevented_pct", "stress_high_pct"]
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>") and "chart-sa-offences_prevented_pct" in html
    assert "Made by credsim" in html and "stress.deny_cost" in html


@pytest.mark.parametrize(
    "args, words",
    [(["--samples", "0"], "samples: must be in 1.."), (["--seeds", "0"], "seeds: must be in 1.."),
     (["--metric", "nope"], "unknown metric 'nope'"), (["--method", "fast"], "method: must be one of"),
     (["--ranges", "/nonexistent/r.toml"], "ranges"),],
)
def test_cli_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, words):
    (tmp_path / "r.toml").write_text(RANGES)
    base = [
        "sensitivity",
        "essay-plus",
        "--ranges",
        str(tmp_path / "r.toml"),
        "-n",
        "100",
        "-d",
        "2",
        "--catalog",
        str(tmp_path / "c.duckdb"),
    ]
    proc = cli(*base, *args)
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert not (tmp_path / "c.duckdb").exists()


# -- compare --seeds --------------------------------------------------------------------------------


def test_compare_seeds_means_and_intervals_recomputed_from_single_seeds(tmp_path):
    from scipy import stats

    cat = Catalog(tmp_path / "c.duckdb")
    k, s = 3, 5
    comp = compare(["essay-plus"], N, D, s, catalog=cat, seeds=k)
    assert comp.seeds == [5, 6, 7] and not any(comp.reused.values())
    singles = [compare(["essay-plus"], N, D, seed, catalog=cat) for seed in comp.seeds]
    assert all(all(c.reused.values()) for c in singles)  # the K-seed comparison stored every run
    for name in ("baseline", "essay-plus"):
        for metric, mean in comp.cards[name].items():
            vals = [c.cards[name][metric] for c in singles]
            assert mean == pytest.approx(statistics.fmean(vals), nan_ok=True), metric
            lo, hi = comp.intervals[name][metric]
            if all(math.isnan(v) for v in vals):  # undefined in every seed (e.g. no civic act in the baseline)
                assert math.isnan(mean) and math.isnan(lo) and math.isnan(hi), metric
                continue
            if len(set(vals)) == 1:
                assert lo == hi == pytest.approx(vals[0])
                continue
            want = stats.t.interval(0.95, k - 1, loc=statistics.fmean(vals), scale=statistics.stdev(vals) / math.sqrt(k))
            assert (lo, hi) == pytest.approx(want), metric
    card, iv = comp.cards["essay-plus"], comp.intervals["essay-plus"]["offences_prevented_pct"]
    text = comp.verdicts["essay-plus"]
    assert f"{card['offences_prevented_pct']:,.1f}% fewer than without the system; 95% interval {iv[0]:,.1f}–{iv[1]:,.1f}%" in text
    assert "(mean of 3 seeds)" in text
    again = compare(["essay-plus"], N, D, s, catalog=cat, seeds=k)
    assert all(again.reused.values()) and again.to_json() == comp.to_json()


def test_compare_seeds_json_and_table(cli, tmp_path):
    base = ["compare", "essay", "-n", "500", "-d", "5", "--catalog", str(tmp_path / "c.duckdb")]
    one = cli(*base, "--json")
    assert one.returncode == 0, one.stderr
    same = cli(*base, "--json", "--seeds", "1")
    assert same.stdout == one.stdout  # K = 1: today's output
    three = cli(*base, "--json", "--seeds", "3")
    doc = json.loads(three.stdout)
    assert doc["seeds"] == [1, 2, 3] and "Student-t" in doc["interval"]
    assert set(doc["intervals"]) == set(doc["scenarios"]) == {"baseline", "essay"}
    assert len(doc["per_seed"]["essay"]["ever_listed_pct"]) == 3
    assert doc["per_seed"]["essay"]["ever_listed_pct"][0] == json.loads(one.stdout)["scenarios"]["essay"]["ever_listed_pct"]
    table = cli(*base, "--seeds", "3", "--report", str(tmp_path / "r.html"))
    assert table.returncode == 0, table.stderr
    assert "mean over 3 seeds 1..3" in table.stdout and "reused 3 of 3 stored runs" in table.stderr
    html = (tmp_path / "r.html").read_text()
    assert "mean over 3 seeds (1..3)" in html and "Student-t" in html and "class='ci'" in html
    bad = cli(*base, "--seeds", "0")
    assert bad.returncode == 2 and "seeds: must be in 1.." in bad.stderr
