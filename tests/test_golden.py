"""Docking (MODEL.md §7): every golden case, byte-identical, through the API and the CLI."""

import filecmp

import pytest

from conftest import CASES, GOLDEN, SHARED, scenario_path
from credsim import simulate


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_case_identical(case, tmp_path):
    c = CASES[case]
    result = simulate(scenario_path(c["scenario"]), c["population"], c["days"], c["seed"])
    result.write_dir(tmp_path / "out")
    assert (tmp_path / "out" / "daily.csv").read_bytes() == (GOLDEN / f"{case}.daily.csv").read_bytes()
    assert (tmp_path / "out" / "regions.csv").read_bytes() == (GOLDEN / f"{case}.regions.csv").read_bytes()


def test_docking_command_line(cli, tmp_path):
    c = CASES["edge-1001"]
    out = tmp_path / "edge"
    proc = cli("run", str(scenario_path("edge")), "--population", str(c["population"]), "--days", str(c["days"]),
               "--seed", str(c["seed"]), "--out", str(out), "--quiet")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert filecmp.cmp(out / "daily.csv", GOLDEN / "edge-1001.daily.csv", shallow=False)
    assert filecmp.cmp(out / "regions.csv", GOLDEN / "edge-1001.regions.csv", shallow=False)
    assert (out / "daily.parquet").exists() and (out / "regions.parquet").exists()


def test_golden_copies_match_shared():
    """tests/golden is a copy of ../shared/golden (so it travels to GPU machines); keep them equal."""
    if not (SHARED / "golden").is_dir():
        pytest.skip("../shared not present")
    for f in (SHARED / "golden").iterdir():
        assert (GOLDEN / f.name).read_bytes() == f.read_bytes(), f.name


def test_golden_series_move():
    """Guard against golden columns that never move (STYLE.md §10): the essay case exercises
    listing, spillover, wrongful flags, denials and stress."""
    import pandas as pd

    df = pd.read_csv(GOLDEN / "essay-10k.daily.csv")
    for col in ("listed", "entries", "exits", "spillover", "listed_wrongly_flagged", "denied_travel", "stress_high"):
        assert df[col].max() > 0, col
