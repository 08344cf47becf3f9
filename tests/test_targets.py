"""Dated (time-series) calibration targets: the residual of a fit recomputed by hand from the daily
tables, seeds averaged, schedule values fitted, the seed spread, and bad targets files refused."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path

import pytest

import credsim
from credsim.errors import CredsimError
from credsim.library.calibrate import calibrate, get_param, parse_targets, write_calibration
from credsim.library.targets import seed_spread
from credsim.scenario import load

PRESET = "court-defaulters-history"
START = dt.date(2013, 10, 1)

#: A tiny fit of the history preset: a listing rate high enough that 1,500 agents see listings in
#: 40 days, the 2016 entry's rate and its day fitted too (a schedule value and a schedule day).
TINY = """population = 1500
days = 40
start_date = 2013-10-01
seed = 5
seeds = 2
trials = 3
sampler_seed = 4

[[parameter]]
path = "channel.court_default.base"
low = 1e-3
high = 2e-3

[[parameter]]
path = "schedule[0].channel.court_default.base"
low = 3e-3
high = 6e-3

[[parameter]]
path = "schedule[0].day"
low = 10
high = 30

[[target]]
date = 2013-10-20
quantity = "listed"
value = 0.02
tolerance = 0.5

[[target]]
date = 2013-11-09
quantity = "cumulative:entries"
value = 0.05
tolerance = 0.15

[[target]]
date = 2013-11-09
quantity = "cumulative:denied_flight"
value = 0.0002
weight = 0.5
"""


def test_dated_residuals_are_the_daily_tables_by_hand(tmp_path):
    _, sc = load(PRESET)
    tg = parse_targets(TINY, sc)
    assert [t.day for t in tg.targets] == [20, 40, 40]
    cal = calibrate(sc, tg, name=PRESET)
    assert isinstance(cal.params["schedule[0].day"], int) and 10 <= cal.params["schedule[0].day"] <= 30
    assert (
        get_param(cal.scenario, "schedule[0].channel.court_default.base")
        == cal.params["schedule[0].channel.court_default.base"]
    )
    # re-run the fitted scenario on seeds 5 and 6 and recompute every target by hand
    dailies = [credsim.simulate(cal.scenario, 1500, 40, s).daily for s in (5, 6)]
    listed = [int(d.loc[d["day"] == 20, "listed"].iloc[0]) / 1500 for d in dailies]
    entries = [sum(int(x) for x in d["entries"][d["day"] <= 40]) / 1500 for d in dailies]
    flights = [sum(int(x) for x in d["denied_flight"]) / 1500 for d in dailies]
    assert sum(entries) > 0 and sum(listed) > 0, "the tiny run must list someone for the test to mean anything"
    loss = 0.0
    for row, per_seed, value, weight in zip(
        cal.residuals, (listed, entries, flights), (0.02, 0.05, 0.0002), (1.0, 1.0, 0.5)
    ):
        mean = (per_seed[0] + per_seed[1]) / 2
        rel = (mean - value) / value
        assert row["per_seed"] == per_seed
        assert row["simulated"] == pytest.approx(mean, rel=1e-12)
        assert row["relative_residual"] == pytest.approx(rel, rel=1e-9)
        assert (row["seed_min"], row["seed_max"]) == (min(per_seed), max(per_seed))
        loss += weight * rel * rel
    assert [r["met"] for r in cal.residuals[:2]] == [
        abs(cal.residuals[0]["relative_residual"]) <= 0.5,
        abs(cal.residuals[1]["relative_residual"]) <= 0.15,
    ]
    assert cal.residuals[2]["met"] is None  # no tolerance: not judged
    assert cal.loss == pytest.approx(loss, rel=1e-9)
    assert cal.residuals[1]["date"] == "2013-11-09" and cal.residuals[1]["metric"] == "cumulative:entries"
    # the spread: each seed's best trial, by its own loss, among the trials run
    for p in cal.params:
        assert cal.spread[p]["seeds"] == [5, 6] and len(cal.spread[p]["per_seed_best"]) == 2
    out = write_calibration(cal, tmp_path / "fit")
    doc = json.loads((out / "residuals.json").read_text())
    assert doc["settings"]["seeds"] == [5, 6] and doc["settings"]["start_date"] == "2013-10-01"
    assert (out / "residuals.csv").read_text().splitlines()[0].startswith(
        "metric,last_days,target,simulated,residual,relative_residual,weight,date,day,tolerance,met")
    # the fitted scenario (schedule included) loads back
    _, again = load(out / "fitted.toml")
    assert again.schedule[0].day == cal.params["schedule[0].day"]


def test_seed_spread_takes_each_seeds_own_best():
    trials = [
        {"trial": 0, "a": 1.0, "seed_losses": [0.5, 0.1, 0.9]},
        {"trial": 1, "a": 2.0, "seed_losses": [0.2, 0.3, 0.9]},
        {"trial": 2, "a": 3.0, "invalid": "odd"},
        {"trial": 3, "a": 4.0, "seed_losses": [0.2, 0.4, 0.8]},
    ]
    # seed 7: trials 1 and 3 tie at 0.2, the earlier wins; seed 8: trial 0; seed 9: trial 3
    assert seed_spread(trials, ["a"], [7, 8, 9]) == {
        "a": {"per_seed_best": [2.0, 1.0, 4.0], "seeds": [7, 8, 9], "min": 1.0, "max": 4.0}
    }


def test_scalar_targets_still_parse_and_take_a_tolerance():
    _, sc = load(PRESET)
    text = TINY.split("[[target]]")[0] + '[[target]]\nmetric = "ever_listed_pct"\nvalue = 1.0\ntolerance = 0.1\n'
    tg = parse_targets(text, sc)
    assert tg.targets[0].metric == "ever_listed_pct" and tg.targets[0].tolerance == 0.1


def _bad(old: str, new: str) -> str:
    assert old in TINY
    return TINY.replace(old, new, 1)


BAD = [
    (
        _bad('quantity = "listed"', 'quantity = "listeners"'),
        "target[0].quantity: the daily table has no column 'listeners'",
    ),
    (
        _bad('"cumulative:entries"', '"cumulative:nothing"'),
        "target[1].quantity: the daily table has no column 'nothing'",
    ),
    (
        TINY.replace("date = 2013-10-20", "date = 2013-11-05").replace("date = 2013-11-09", "date = 2013-11-01", 1),
        "target[1].date: 2013-11-01 comes before the previous target's 2013-11-05",
    ),
    (_bad("date = 2013-10-20", "date = 2013-09-30"), "target[0].date: 2013-09-30 is before day 1"),
    (_bad("date = 2013-10-20", "date = 2013-11-10"), "target[0].date: 2013-11-10 is after the last day"),
    (_bad("tolerance = 0.5", "tolerance = 0"), "target[0].tolerance: expected a relative tolerance > 0"),
    (_bad("tolerance = 0.5", "tolerance = -0.1"), "target[0].tolerance: expected a relative tolerance > 0"),
    (_bad("seeds = 2", "seeds = 0"), "seeds: expected an integer in 1..1000"),
    (_bad("start_date = 2013-10-01", ""), "target[0].date: dated targets need start_date"),
    (_bad("start_date = 2013-10-01", 'start_date = "2013-10-01"'), "start_date: expected a date"),
    (_bad("weight = 0.5", "colour = 1"), "target[2]: unknown field 'colour'"),
    (_bad('path = "schedule[0].day"', 'path = "schedule[2].day"'), "the scenario has 2 [[schedule]] entries"),
    (
        _bad('"schedule[0].channel.court_default.base"', '"schedule[0].exit.settle_rate"'),
        "schedule[0] does not set 'exit.settle_rate'",
    ),
    (_bad("high = 6e-3", "high = 2.0"), 'schedule[0].set."channel.court_default.base"'),
]


@pytest.mark.parametrize("text, needle", BAD, ids=[n.split(":")[0][:40] for _, n in BAD])
def test_bad_dated_targets(text, needle):
    with pytest.raises(CredsimError) as err:
        parse_targets(text, load(PRESET)[1], "t.toml")
    assert needle in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("k", [0, 2, 3, 5, 7])
def test_bad_targets_cli_one_line_exit_2_no_folder(cli, tmp_path, k):
    text, needle = BAD[k]
    t = tmp_path / "t.toml"
    t.write_text(text)
    out = tmp_path / "fit"
    r = cli("calibrate", PRESET, "--targets", str(t), "--out", str(out))
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert needle in lines[0] and str(t) in lines[0]
    assert not out.exists() and list(tmp_path.iterdir()) == [t]


def test_history_preset_runs_from_an_empty_list():
    _, sc = load(PRESET)
    assert sc.blacklist.initial_share == 0 and [e.day for e in sc.schedule] == [1091, 2115]
    assert (dt.date(2013, 9, 30) + dt.timedelta(days=1091)).isoformat() == "2016-09-25"
    daily = credsim.simulate(PRESET, 2000, 10, 1).daily
    assert int(daily["listed"].iloc[0]) == int(daily["entries"].iloc[0])  # empty on day 0: day 1's listed all entered
    assert list(daily["day"]) == list(range(1, 11))


FIT = Path(__file__).parent.parent / "docs" / "analysis"


def test_committed_fit_is_the_presets_and_the_charts():
    """The preset holds the committed fit's values, the fit's targets file is the committed one, and
    the committed chart is what the chart script draws from the committed residuals (no refit)."""
    doc = json.loads((FIT / "court-list-fit" / "residuals.json").read_text())
    _, sc = load(PRESET)
    for path, value in doc["params"].items():
        assert get_param(sc, path) == value, path
    tg = parse_targets((FIT / "court-list-targets.toml").read_text(), sc)
    assert [r["target"] for r in doc["residuals"]] == [t.value for t in tg.targets]
    assert doc["settings"]["population"] == tg.population and doc["settings"]["trials"] == tg.trials
    spec = importlib.util.spec_from_file_location("court_list_chart", FIT / "court_list_chart.py")
    chart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(chart)
    assert chart.chart(doc) == (FIT / "court-list-fit.svg").read_text()
