"""One validation for every way in: the CLI, the Python API and the dashboard refuse the same
scenarios with the same message, and ``compare`` checks everything before it runs or stores anything."""

from __future__ import annotations

import tomllib

import pytest
import tomli_w

from conftest import scenario_path
from credsim.errors import CredsimError, ScenarioError
from credsim.results.compare import compare
from credsim.results.store import Catalog
from credsim.scenario import Scenario, from_dict


def heavy_data() -> dict:
    """Each channel's base below 1 (the model's rule holds), but the top disposition class
    multiplies them past 1 in total: only the plan's check refuses it."""
    data = tomllib.loads(scenario_path("essay").read_text())
    data["channel"][0]["base"] = 0.45
    data["channel"][1]["base"] = 0.45
    return data


def test_model_alone_accepts_it_validation_refuses_it():
    data = heavy_data()
    Scenario.model_validate(data)  # the pydantic rules alone pass
    expected = r"^heavy: channel\.base: behaviour \(disposition class \d\) probabilities sum past 1"
    with pytest.raises(ScenarioError, match=expected):
        from_dict(data, "heavy")


def test_cli_and_dashboard_say_the_same(tmp_path, cli):
    from credsim.dashboard.server import check_request

    f = tmp_path / "heavy.toml"
    f.write_text(tomli_w.dumps(heavy_data()))
    proc = cli("scenario", str(f))
    assert proc.returncode == 2
    cli_msg = proc.stderr.strip().removeprefix("error: ").removeprefix(f"{f}: ")
    request, errors = check_request(
        {
            "scenario": heavy_data(),
            "name": "heavy",
            "baseline": "baseline",
            "population": "1000",
            "days": "3",
            "seed": "1",
        }
    )
    assert request is None and len(errors) == 1
    assert cli_msg == f"{errors[0]['field']}: {errors[0]['message']}", (cli_msg, errors)


def false_heavy(name: str) -> dict:
    """A preset whose wrongful-attribution rates (the system's, not the world's: still comparable
    with the baseline) are each at most 1 but sum past 1."""
    data = tomllib.loads(scenario_path(name).read_text())
    data["channel"][0]["false_rate"] = 0.6
    data["channel"][1]["false_rate"] = 0.6
    return data


@pytest.mark.parametrize("where", ["scenario", "baseline"])
def test_compare_refuses_before_running_or_storing(where, tmp_path):
    """Before, the baseline ran and was stored, then the scenario failed in the plan."""
    cat = Catalog(tmp_path / "runs.duckdb")
    started = []
    if where == "scenario":
        spec, base = ("heavy", Scenario.model_validate(false_heavy("essay"))), "baseline"  # a Scenario, as from the API
    else:
        path = tmp_path / "heavy-base.toml"
        path.write_text(tomli_w.dumps(false_heavy("baseline")))
        spec, base = "essay", str(path)
    with pytest.raises(CredsimError, match="false-attribution probabilities sum past 1"):
        compare([spec], 1000, 3, 1, baseline=base, catalog=cat, progress=lambda name: started.append(name))
    assert started == [], "a run started before the comparison was validated"
    assert not cat.path.exists() or cat.runs().empty


@pytest.mark.parametrize(
    "args, needle",
    [
        (["-d", "70000"], "days: must be in 1..65535"),
        (["-s", "-1"], "seed: must be in 0..2^64-1"),
        (["-n", "0"], "population: must be at least 1"),
        (["-b", "abacus"], "backend: unknown backend"),
        (["HEAVY"], "false-attribution probabilities sum past 1"),
    ],
)
def test_cli_compare_stores_nothing_on_bad_input(args, needle, tmp_path, cli):
    f = tmp_path / "heavy.toml"
    f.write_text(tomli_w.dumps(false_heavy("essay")))
    catalog = tmp_path / "runs.duckdb"
    extra = [str(f) if a == "HEAVY" else a for a in args]
    scenarios = ["essay"] + ([extra.pop(0)] if args == ["HEAVY"] else [])
    proc = cli("compare", *scenarios, "-n", "1000", "-d", "3", *extra, "--catalog", str(catalog), "--quiet")
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and needle in lines[0], proc.stderr
    assert not catalog.exists() or Catalog(catalog).runs().empty, "a run was stored before the error"
