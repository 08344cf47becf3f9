"""Docking (MODEL.md §7): every golden case, byte-identical, through the API and the CLI."""

import filecmp

import pytest

import manifest
from conftest import CASES, GOLDEN, HERE, scenario_path
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
    proc = cli(
        "run",
        str(scenario_path("edge")),
        "--population",
        str(c["population"]),
        "--days",
        str(c["days"]),
        "--seed",
        str(c["seed"]),
        "--out",
        str(out),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    assert filecmp.cmp(out / "daily.csv", GOLDEN / "edge-1001.daily.csv", shallow=False)
    assert filecmp.cmp(out / "regions.csv", GOLDEN / "edge-1001.regions.csv", shallow=False)
    assert (out / "daily.parquet").exists() and (out / "regions.parquet").exists()


def test_golden_copies_match_manifest():
    """tests/golden and tests/scenarios are copies of ../shared (so they travel to machines without
    it): every clone checks them against the committed SHA-256 manifest (tests/manifest.py)."""
    entries = manifest.read()
    assert {"golden/cases.toml", "scenarios/essay.toml"} <= set(entries)
    tables = {f"golden/{c}.{t}.csv" for c in CASES for t in ("daily", "regions")}
    assert {rel for rel in entries if rel.startswith("golden/")} >= tables
    assert manifest.check(HERE, entries) == []


def test_manifest_check_finds_changed_missing_and_extra_files(tmp_path):
    """The check itself: a changed byte, a missing copy and an unlisted new file are each reported."""
    import shutil

    for d in manifest.copied_dirs(HERE, manifest.read()):
        shutil.copytree(HERE / d, tmp_path / d)
    entries = manifest.read()
    assert manifest.check(tmp_path, entries) == []
    daily = tmp_path / "golden" / "essay-1.daily.csv"
    data = bytearray(daily.read_bytes())
    data[-2] ^= 1
    daily.write_bytes(bytes(data))
    (tmp_path / "scenarios" / "edge.toml").unlink()
    (tmp_path / "golden" / "new-case.daily.csv").write_text("day\n")
    shutil.rmtree(tmp_path / "golden2", ignore_errors=True)  # as before golden2 was copied
    entries = {k: v for k, v in entries.items() if not k.startswith("golden2/")}
    (tmp_path / "golden2").mkdir()  # a directory copied later: covered once the manifest is rewritten
    (tmp_path / "golden2" / "cases.toml").write_text("")
    problems = manifest.check(tmp_path, entries)
    assert [p.split(":")[0] for p in problems] == ["golden/essay-1.daily.csv", "scenarios/edge.toml",
                                                    "golden/new-case.daily.csv", "golden2/cases.toml"], problems
    rewritten = manifest.build(tmp_path, manifest.copied_dirs(tmp_path, entries))
    assert "golden2/cases.toml" in rewritten and manifest.check(tmp_path, rewritten) == []


def test_golden_copies_match_shared():
    """Where ../shared (or $CREDSIM_SHARED) is present, the copies are byte-identical to it, and
    every golden file there is copied."""
    shared = manifest.shared_root()
    if not (shared / "golden").is_dir():
        pytest.skip(f"{shared} not present (the copies were checked against the manifest)")
    assert manifest.check_shared(HERE, shared, manifest.read()) == []
    for f in (shared / "golden").iterdir():
        assert (GOLDEN / f.name).read_bytes() == f.read_bytes(), f.name


def test_golden_series_move():
    """Guard against golden columns that never move (STYLE.md §10): the essay case exercises
    listing, spillover, wrongful flags, denials and stress."""
    import pandas as pd

    df = pd.read_csv(GOLDEN / "essay-10k.daily.csv")
    for col in ("listed", "entries", "exits", "spillover", "listed_wrongly_flagged", "denied_travel", "stress_high"):
        assert df[col].max() > 0, col
