"""Docking CSM-2 (MODEL.md §8): every golden2 case's daily, region and panel tables, byte-identical,
through the API (1 and 2 threads) and through ``credsim run ... --panel K``."""

import pytest

from conftest import CASES2, GOLDEN2, SHARED, scenario_path
from credsim import simulate

TABLES = ("daily", "regions", "panel")


def _assert_docks(out, case):
    for table in TABLES:
        got = (out / f"{table}.csv").read_bytes()
        assert got == (GOLDEN2 / f"{case}.{table}.csv").read_bytes(), f"{case}: {table}.csv differs"


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", sorted(CASES2))
def test_golden2_case_identical(case, threads, tmp_path):
    c = CASES2[case]
    result = simulate(
        scenario_path(c["scenario"]), c["population"], c["days"], c["seed"], panel=c["panel"], threads=threads
    )
    result.write_dir(tmp_path / "out")
    _assert_docks(tmp_path / "out", case)
    assert (tmp_path / "out" / "panel.parquet").exists()


@pytest.mark.parametrize("case", sorted(CASES2))
def test_golden2_command_line(case, cli, tmp_path):
    c = CASES2[case]
    out = tmp_path / "out"
    proc = cli(
        "run",
        str(scenario_path(c["scenario"])),
        "--population",
        str(c["population"]),
        "--days",
        str(c["days"]),
        "--seed",
        str(c["seed"]),
        "--panel",
        str(c["panel"]),
        "--out",
        str(out),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    _assert_docks(out, case)


def test_golden2_copies_match_shared():
    """tests/golden2 and the CSM-2 scenarios are copies of ../shared (so they travel); keep them equal."""
    if not (SHARED / "golden2").is_dir():
        pytest.skip("../shared not present")
    for f in (SHARED / "golden2").iterdir():
        assert (GOLDEN2 / f.name).read_bytes() == f.read_bytes(), f.name
    for name in ("essay2", "court2", "edge2", "edge"):
        assert scenario_path(name).read_bytes() == (SHARED / "scenarios" / f"{name}.toml").read_bytes(), name


def test_golden2_series_move():
    """The CSM-2 columns the cases exist for do move (a docking case whose mechanism never fires
    would prove nothing): settlements, term exits, appeals upheld and rejected, near, and a panel
    agent that is listed on some day and not on another."""
    import pandas as pd

    essay2 = pd.read_csv(GOLDEN2 / "essay2-10k.daily.csv")
    for col in ("settlements", "owing", "appeals_filed", "appeals_upheld", "appeals_rejected", "near", "exits"):
        assert essay2[col].max() > 0, col
    court2 = pd.read_csv(GOLDEN2 / "court2-5k.daily.csv")
    assert court2["term_exits"].max() > 0 and court2["settlements"].sum() > 0
    panel = pd.read_csv(GOLDEN2 / "edge2-777.panel.csv")
    assert panel.groupby("agent")["listed"].nunique().max() == 2
