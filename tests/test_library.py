"""The scenario library: presets load and run, lint outcomes, calibration recovers a known parameter."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

import credsim
from credsim.errors import CredsimError
from credsim.library.calibrate import (
    calibrate,
    get_param,
    load_targets,
    metric_value,
    parse_targets,
    with_params,
    write_calibration,
)
from credsim.library.lint import RULES, lint
from credsim.results.scorecard import check_comparable
from credsim.scenario import Scenario, from_toml, load, presets

LIBRARY = ["court-defaulters", "court-defaulters-baseline", "court-defaulters-history", "rongcheng", "sesame", "reformed", "essay-plus"]


@pytest.mark.parametrize("name", LIBRARY)
def test_preset_loads_and_runs(name):
    assert name in presets()
    r = credsim.simulate(name, 500, 20, 3)
    assert len(r.daily) == 20 and r.daily["day"].tolist() == list(range(1, 21))
    # ever-listed only grows, and the listed never outnumber those ever listed
    assert r.daily["ever_listed"].is_monotonic_increasing
    assert (r.daily["listed"] <= r.daily["ever_listed"]).all()


@pytest.mark.parametrize("name", ["rongcheng", "sesame", "reformed", "essay-plus"])
def test_comparable_with_baseline(name):
    check_comparable(load(name)[1], load("baseline")[1], name)


def test_court_defaulters_own_baseline():
    sc, base = load("court-defaulters")[1], load("court-defaulters-baseline")[1]
    check_comparable(sc, base, "court-defaulters")
    with pytest.raises(CredsimError):
        check_comparable(sc, load("baseline")[1], "court-defaulters")
    # the baseline differs only in the switches
    assert [c.base for c in sc.channel] == [c.base for c in base.channel]
    assert not any(c.forces_blacklist for c in base.channel)
    assert not any(a.deny_blacklisted for a in base.activity)


def test_court_defaulters_lists_settles_and_blocks():
    n = 40000
    r = credsim.simulate("court-defaulters", n, 200, 1).daily
    share = load("court-defaulters")[1].blacklist.initial_share
    # the list of end 2018 exists on day 1 (binomial: within 5 standard deviations of N x share)
    day1 = int(r["listed"].iloc[0]) - int(r["entries"].iloc[0]) + int(r["exits"].iloc[0])
    assert abs(day1 - n * share) < 5 * (n * share) ** 0.5, day1
    assert int(r["entries"].sum()) > 0 and int(r["settlements"].sum()) > 0
    # every listing owes: it leaves only by paying (no term ends in 200 days of a 730-day term)
    assert int(r["term_exits"].sum()) == 0
    assert 0 < int(r["exits"].sum()) <= int(r["settlements"].sum())
    assert (r["owing"] == r["listed"]).all()
    assert int(r["denied_flight"].sum()) > 0
    b = credsim.simulate("court-defaulters-baseline", n, 200, 1).daily
    assert int(b["listed"].max()) == 0 and int(b["denied_flight"].sum()) == 0 and "settlements" not in b
    assert r["true_court_default"].equals(b["true_court_default"])  # no deterrence modelled: same events


def test_lint_essay_every_category():
    found = lint(load("essay")[1])
    assert {f.rule for f in found} == set(RULES)
    fields = {fld for f in found for fld in f.fields}
    assert {"blacklist.mode", "score.spouse_weight", "score.association_penalty", "channel[1].points"} <= fields
    assert "activity[0].deny_blacklisted" in fields and "activity[1].min_score" in fields


@pytest.mark.parametrize("name", ["reformed", "baseline", "court-defaulters-baseline"])
def test_lint_clean(name):
    assert lint(load(name)[1]) == []


def test_lint_rongcheng_sesame_court():
    assert {f.rule for f in lint(load("rongcheng")[1])} == {"unrelated-context", "disproportionate", "lawful-behaviour"}
    assert {f.rule for f in lint(load("sesame")[1])} == {"unrelated-context", "lawful-behaviour", "family-association"}
    court = lint(load("court-defaulters")[1])
    assert {f.rule for f in court} == {"unrelated-context"}
    assert not any("property_purchase" in f.message for f in court)  # same (financial) context


def _essay2():
    return from_toml((Path(__file__).parent / "scenarios" / "essay2.toml").read_text("utf-8"), "essay2")


def test_lint_reads_every_policy_in_force():
    """essay2's schedule raises online_speech's wrongful attributions and lowers the appeals' uphold
    rate from day 61 (schedule[1]): a finding says so, names the entry and the appeals in force."""
    found = [f for f in lint(_essay2()) if f.rule == "disproportionate" and "wrongful" in f.message]
    assert [(f.from_day, f.until_day) for f in found] == [(1, 60), (61, None)]
    before, after = found
    assert "online_speech (1e-05 a day)" in before.message and "appeals: 60% filed, 70% upheld, mean review 10 days" in before.message
    assert before.message.startswith("until day 60: ")
    assert after.message.startswith("from day 61 (schedule[1]): wrongful attributions on ")
    assert "online_speech (0.001 a day)" in after.message
    assert after.message.endswith("appeals: 60% filed, 30% upheld, mean review 10 days")
    assert 'schedule[1].set."channel.online_speech.false_rate"' in after.fields
    assert 'schedule[1].set."appeals.uphold"' in after.fields and "channel[1].false_rate" in after.fields
    assert after.to_json()["from_day"] == 61 and after.to_json()["until_day"] is None
    # the spouse's pull ends on day 60 too (schedule[1] sets spouse_weight = 0)
    spouse = [f for f in lint(_essay2()) if f.rule == "family-association" and "spouse" in f.message]
    assert [(f.from_day, f.until_day) for f in spouse] == [(1, 60)]
    assert 'schedule[1].set."score.spouse_weight"' in spouse[0].fields


def _with(sc, schedule=(), **tables):
    data = sc.model_dump(mode="json", exclude_none=True)
    data.update(tables)
    data["schedule"] = list(schedule)
    return Scenario.model_validate(data)


def test_lint_sees_wrongful_attributions_that_a_schedule_turns_on_and_off():
    _, essay = load("essay")
    data = essay.model_dump(mode="json")
    quiet = [dict(c, false_rate=0.0) for c in data["channel"]]
    base = _with(essay, channel=quiet)
    assert not any("wrongful" in f.message for f in lint(base))
    sc = _with(
        base,
        [
            {"day": 61, "set": {"channel.online_speech.false_rate": 0.001}},
            {"day": 91, "set": {"channel.online_speech.false_rate": 0.0}},
        ],
    )
    found = [f for f in lint(sc) if "wrongful" in f.message]
    assert len(found) == 1
    f = found[0]
    assert (f.from_day, f.until_day) == (61, 90)
    assert f.message.startswith("from day 61 (schedule[0]) until day 90: wrongful attributions on online_speech (0.001 a day)")
    assert f.message.endswith("; no appeals")
    assert f.fields[0] == "channel[1].false_rate"
    assert {'schedule[0].set."channel.online_speech.false_rate"', 'schedule[1].set."channel.online_speech.false_rate"'} <= set(f.fields)
    # with appeals: the rate filed, the share upheld and the mean review time (1 / decide_rate days)
    sc = _with(
        base,
        [{"day": 61, "set": {"channel.online_speech.false_rate": 0.001}}],
        appeals={"rate": 0.6, "decide_rate": 0.1, "uphold": 0.3},
    )
    f = next(f for f in lint(sc) if "wrongful" in f.message)
    assert f.message.endswith("appeals: 60% filed, 30% upheld, mean review 10 days"), f.message
    # a finding that holds in every policy is reported once, as without a schedule
    sc = _with(essay, [{"day": 10, "set": {"blacklist.min_stay": 45}}])
    assert [(f.rule, f.fields, f.message) for f in lint(sc)] == [(f.rule, f.fields, f.message) for f in lint(essay)]
    assert all((f.from_day, f.until_day) == (1, None) for f in lint(sc))


def test_lint_cli_names_the_schedule(cli):
    path = Path(__file__).parent / "scenarios" / "essay2.toml"
    r = cli("lint", str(path), "--json")
    assert r.returncode == 1, r.stderr
    found = json.loads(r.stdout)["findings"]
    assert any(f["from_day"] == 61 and "schedule[1]" in f["message"] and "30% upheld" in f["message"] for f in found)
    r = cli("lint", str(path))
    assert "from day 61 (schedule[1]): wrongful attributions" in " ".join(r.stdout.split())


def test_lint_single_feature():
    _, base = load("baseline")
    sc = with_params(base, {"score.spouse_weight": 3, "blacklist.value": 950})
    assert [f.rule for f in lint(sc)] == ["family-association"]
    assert lint(sc)[0].fields[0] == "score.spouse_weight"


def test_lint_cli(cli, tmp_path):
    r = cli("lint", "essay")
    assert r.returncode == 1 and "family-association" in r.stdout
    r = cli("lint", "reformed", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == {"scenario": "reformed", "clean": True, "findings": []}
    bad = tmp_path / "bad.toml"
    bad.write_text("[population]\n")
    r = cli("lint", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


TARGETS = """
population = 4000
days = 60
seed = 11
trials = 30
sampler_seed = 5
[[parameter]]
path = "channel.public_misconduct.base"
low = 0.001
high = 0.009
[[target]]
metric = "mean_per_capita:true_public_misconduct"
value = {value!r}
[[target]]
metric = "ever_listed_pct"
value = 0.0
weight = 0.0
"""


def _synthetic_target() -> float:
    truth = credsim.simulate("baseline", 4000, 60, 11).daily  # public_misconduct.base = 0.003
    return metric_value(truth, 4000, "mean_per_capita:true_public_misconduct")


def test_calibrate_recovers_and_is_reproducible(tmp_path):
    _, base = load("baseline")
    tg = parse_targets(TARGETS.format(value=_synthetic_target()), base)
    cal = calibrate(base, tg, name="baseline")
    fitted = cal.params["channel.public_misconduct.base"]
    assert abs(fitted - 0.003) / 0.003 < 0.15
    assert abs(cal.residuals[0]["relative_residual"]) < 0.05
    again = calibrate(base, tg, name="baseline")
    assert again.params == cal.params and again.loss == cal.loss
    out = write_calibration(cal, tmp_path / "fit")
    name, sc = load(out / "fitted.toml")
    assert get_param(sc, "channel.public_misconduct.base") == fitted
    assert json.loads((out / "residuals.json").read_text())["params"] == cal.params
    assert (out / "residuals.csv").read_text().startswith("metric,last_days,target,simulated")


def test_calibrate_cli_reproducible(cli, tmp_path):
    t = tmp_path / "targets.toml"
    t.write_text(TARGETS.format(value=_synthetic_target()).replace("trials = 30", "trials = 8"))
    outs = []
    for k in range(2):
        r = cli("calibrate", "baseline", "--targets", str(t), "--out", str(tmp_path / f"o{k}"), "-q")
        assert r.returncode == 0, r.stderr
        outs.append((tmp_path / f"o{k}" / "fitted.toml").read_text())
    assert outs[0] == outs[1]
    tomllib.loads(outs[0])


@pytest.mark.parametrize(
    "text, needle",
    [
        ("population = 10\ndays = 5\n[[target]]\nmetric='ever_listed_pct'\nvalue=1\n", "parameter"),
        (TARGETS.format(value=0.1).replace("public_misconduct.base", "nosuch.base"), "no channel named"),
        (TARGETS.format(value=0.1).replace("public_misconduct.base", "public_misconduct.dispositional"), "not a number"),
        (TARGETS.format(value=0.1).replace("high = 0.009", "high = 2.0"), "base"),
        (TARGETS.format(value=0.1).replace("true_public_misconduct", "true_nothing"), "no column"),
        (TARGETS.format(value=0.1).replace("ever_listed_pct", "median_of_everything"), "unknown metric"),
        ("population = [", "not valid TOML"),
    ],
)
def test_bad_targets(text, needle):
    with pytest.raises(CredsimError, match=needle):
        parse_targets(text, load("baseline")[1])


def test_calibrate_cli_bad_input(cli, tmp_path):
    r = cli("calibrate", "baseline", "--targets", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_csm2_parameters():
    _, sc = load("court-defaulters")
    assert get_param(sc, "exit.settle_rate") == 0.000399
    assert with_params(sc, {"exit.max_stay": 365}).exit.max_stay == 365
    with pytest.raises(CredsimError, match=r"the scenario has no \[appeals\] table"):
        get_param(sc, "appeals.rate")
    with pytest.raises(CredsimError, match=r"no \[exit\] table"):
        with_params(load("essay")[1], {"exit.settle_rate": 0.1})


def test_integer_parameter(tmp_path):
    _, sc = load("court-defaulters")
    text = """population = 3000
days = 40
seed = 2
trials = 6
[[parameter]]
path = "blacklist.min_stay"
low = 10
high = 30
[[target]]
metric = "sum_per_capita:exits"
value = 0.0001
"""
    p = tmp_path / "t.toml"
    p.write_text(text)
    cal = calibrate(sc, load_targets(p, sc), name="court-defaulters")
    assert isinstance(cal.params["blacklist.min_stay"], int)


def test_invalid_points_inside_the_bounds_are_pruned_not_fatal(tmp_path, cli):
    # odd contacts are invalid although 0..16 are valid bounds: those trials are skipped
    text = """population = 500
days = 5
seed = 1
trials = 6
[[parameter]]
path = "population.contacts"
low = 0
high = 16
[[target]]
metric = "ever_listed_pct"
value = 10.0
"""
    t = tmp_path / "t.toml"
    t.write_text(text)
    r = cli("calibrate", "essay", "--targets", str(t), "--out", str(tmp_path / "fit"), "-q")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    fitted = tomllib.loads((tmp_path / "fit" / "fitted.toml").read_text())
    assert fitted["population"]["contacts"] % 2 == 0
