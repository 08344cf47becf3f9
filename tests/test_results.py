"""The catalog and the scorecard: every figure recomputed by hand from daily.csv."""

import csv
import json
import math

import pytest

from credsim.errors import CredsimError
from credsim.results.compare import compare
from credsim.results.store import Catalog, SCHEMA_VERSION

N, D, SEED = 20_000, 45, 3


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    cat = Catalog(tmp_path_factory.mktemp("cat") / "c.duckdb")
    return compare(["essay"], N, D, SEED, catalog=cat, hist_bins=20), cat


def _rows(result, tmp_path):
    out = result.write_dir(tmp_path / result.name)
    with open(out / "daily.csv") as fh:
        return [{k: int(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def test_every_metric_recomputed_from_daily_csv(comparison, tmp_path):
    comp, _ = comparison
    essay, base = _rows(comp.results["essay"], tmp_path), _rows(comp.results["baseline"], tmp_path)
    card = comp.cards["essay"]

    def total(rows, cols):
        return sum(r[c] for r in rows for c in cols)

    offence = ["true_public_misconduct", "true_court_default"]
    default = ["true_late_mortgage", "true_late_tax"]
    lawful_penalised = ["true_online_speech", "true_alcohol_purchase"]  # tissue purchases earn points
    civic = ["true_volunteering"]
    assert card["offences_prevented_pct"] == pytest.approx(100 * (1 - total(essay, offence) / total(base, offence)))
    assert card["defaults_prevented_pct"] == pytest.approx(100 * (1 - total(essay, default) / total(base, default)))
    assert card["lawful_suppressed_pct"] == pytest.approx(
        100 * (1 - total(essay, lawful_penalised) / total(base, lawful_penalised))
    )
    assert card["civic_change_pct"] == pytest.approx(100 * (total(essay, civic) / total(base, civic) - 1))
    assert card["ever_listed_pct"] == pytest.approx(100 * essay[-1]["ever_listed"] / N)
    assert card["listed_end_pct"] == pytest.approx(100 * essay[-1]["listed"] / N)
    assert card["listed_person_days_per_capita"] == pytest.approx(sum(r["listed"] for r in essay) / N)
    listed_days = [r for r in essay if r["listed"] > 0]
    assert card["spillover_pct_of_listed"] == pytest.approx(
        sum(100 * r["spillover"] / r["listed"] for r in listed_days) / len(listed_days)
    )
    assert card["wrongly_flagged_pct_of_listed"] == pytest.approx(
        sum(100 * r["listed_wrongly_flagged"] / r["listed"] for r in listed_days) / len(listed_days)
    )
    for act in ("travel", "restaurant", "home_purchase"):
        attempts = sum(r[f"attempts_{act}"] for r in essay)
        assert card[f"{act}_denied_per_1000"] == pytest.approx(1000 * sum(r[f"denied_{act}"] for r in essay) / attempts)
    assert card["stress_high_pct"] == pytest.approx(100 * essay[-1]["stress_high"] / N)
    # the baseline against itself prevents nothing and lists no one
    b = comp.cards["baseline"]
    assert b["offences_prevented_pct"] == 0 and b["ever_listed_pct"] == 0 and b["travel_denied_per_1000"] == 0


def test_verdict_numbers_come_from_the_card(comparison):
    comp, _ = comparison
    card, text = comp.cards["essay"], comp.verdicts["essay"]
    assert f"{card['offences_prevented']:,.0f} offences" in text
    assert f"{card['listed_person_days'] / card['offences_prevented']:,.1f} person-days" in text
    assert f"{card['spillover_pct_of_listed']:,.1f}% of those listed" in text


def test_catalog_stores_and_reuses(comparison):
    comp, cat = comparison
    runs = cat.runs()
    assert set(runs["name"]) == {"essay", "baseline"} and len(runs) == 2
    again = compare(["essay"], N, D, SEED, catalog=cat, hist_bins=20)
    assert again.reused == {"baseline": True, "essay": True}
    assert again.cards == comp.cards or all(
        (math.isnan(a) and math.isnan(b)) or a == b
        for n in comp.cards for a, b in zip(comp.cards[n].values(), again.cards[n].values())
    )
    assert len(cat.runs()) == 2  # nothing recomputed or duplicated


def test_stored_run_round_trips(comparison):
    comp, cat = comparison
    r = comp.results["essay"]
    back = cat.load(r.run_id)
    assert (back.tables.daily == r.tables.daily).all()
    assert (back.tables.regions == r.tables.regions).all()
    assert (back.tables.hist == r.tables.hist).all() and back.tables.hist_days == r.tables.hist_days
    assert back.scenario == r.scenario and back.seed == SEED


def test_unknown_run_and_missing_catalog(comparison, tmp_path, cli):
    _, cat = comparison
    with pytest.raises(CredsimError, match="no run 'nope'"):
        cat.load("nope")
    proc = cli("show", "nope", "--catalog", str(cat.path))
    assert proc.returncode == 2 and "no run 'nope'" in proc.stderr
    proc = cli("runs", "--catalog", str(tmp_path / "absent.duckdb"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_catalog_from_newer_version_is_refused(tmp_path, cli):
    import duckdb

    path = tmp_path / "future.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION + 1)])
    con.close()
    proc = cli("runs", "--catalog", str(path))
    assert proc.returncode == 2 and "newer credsim" in proc.stderr


def test_compare_refuses_different_channels(tmp_path, cli):
    from conftest import scenario_path

    edge = scenario_path("edge")
    proc = cli("compare", str(edge), "-n", "1000", "-d", "2", "--catalog", str(tmp_path / "c.duckdb"))
    assert proc.returncode == 2 and "channels that differ from the baseline" in proc.stderr


def test_compare_json(tmp_path, cli):
    proc = cli("compare", "essay", "-n", "3000", "-d", "10", "--json", "--catalog", str(tmp_path / "c.duckdb"))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data["scenarios"]) == {"baseline", "essay"}
    assert "travel_denied_per_1000" in data["scenarios"]["essay"]


def test_foreign_duckdb_is_refused_in_one_line(tmp_path, cli):
    import duckdb

    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE runs (a INTEGER)")
    con.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR)")
    con.close()
    for args in (["runs"], ["compare", "essay", "-n", "100", "-d", "2", "-q"]):
        proc = cli(*args, "--catalog", str(path))
        assert proc.returncode == 2 and "not a usable credsim catalog" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_compare_refuses_another_world(tmp_path, cli):
    from conftest import scenario_path

    f = tmp_path / "richer.toml"
    f.write_text(scenario_path("essay").read_text().replace("married_share = 0.70", "married_share = 0.50"))
    proc = cli("compare", str(f), "-n", "1000", "-d", "2", "--catalog", str(tmp_path / "c.duckdb"))
    assert proc.returncode == 2 and "population.married_share" in proc.stderr
    g = tmp_path / "baseline.toml"
    g.write_text(scenario_path("essay").read_text())
    proc = cli("compare", str(g), "-n", "1000", "-d", "2", "--catalog", str(tmp_path / "c.duckdb"))
    assert proc.returncode == 2 and "named like the baseline" in proc.stderr


def test_verdict_with_nothing_prevented_reads_well():
    from credsim.results.scorecard import verdict

    card = {
        "offences_prevented": -0.0,
        "listed_person_days": 0.0,
        "offences_prevented_pct": 0.0,
        "lawful_suppressed_pct": float("nan"),
        "stress_high_pct": 0.0,
    }
    text = verdict("x", card, 10, 1)
    assert "(0 more)" in text and "n/a" not in text and "-0" not in text


def test_a_batch_that_fails_stores_nothing(tmp_path):
    """One transaction per batch: a run that cannot be stored (its id is taken) takes the batch's
    other runs back out with it, and their run ids stay unset."""
    from credsim import simulate

    first, second, third = (simulate("essay", 2000, 5, s) for s in (1, 2, 3))
    cat = Catalog(tmp_path / "c.duckdb")
    taken = cat.add(first)
    third.run_id = taken  # a primary-key clash inside the batch
    with pytest.raises(Exception):
        cat.add_many([second, third])
    assert list(cat.runs()["run_id"]) == [taken]
    assert second.run_id is None and third.run_id == taken
    with cat.connect() as con:
        assert con.execute("SELECT count(DISTINCT run_id) FROM daily").fetchone()[0] == 1


def test_the_canonical_text_is_remembered_per_scenario_object():
    from credsim.scenario import load
    from credsim.scenario.loader import _render, canonical_toml

    essay = load("essay")[1]
    assert canonical_toml(essay) is canonical_toml(essay) and canonical_toml(essay) == _render(essay)
    other = essay.model_copy(update={"score": essay.score.model_copy(update={"start": essay.score.start - 1})})
    assert canonical_toml(other) == _render(other) != canonical_toml(essay)


def test_add_many_stores_each_run_whole_and_apart(tmp_path):
    """A batch through one connection: every run reads back as itself (tables, panel, histogram),
    none borrows another's frames."""
    import numpy as np

    from credsim import simulate

    runs = [
        simulate("essay", 3000, 12, 1),
        simulate("baseline", 3000, 12, 2, hist_bins=8),
        simulate("essay-plus", 3000, 12, 3, panel=6),
    ]
    cat = Catalog(tmp_path / "c.duckdb")
    ids = cat.add_many(runs)
    assert len(set(ids)) == 3
    for run_id, run in zip(ids, runs):
        back = cat.load(run_id)
        assert back.name == run.name and back.seed == run.seed
        assert np.array_equal(back.tables.daily, run.tables.daily)
        assert np.array_equal(back.tables.regions, run.tables.regions)
    assert np.array_equal(cat.load(ids[1]).tables.hist, runs[1].tables.hist)
    assert np.array_equal(cat.load(ids[2]).tables.panel, runs[2].tables.panel)
    assert cat.load(ids[0]).tables.panel is None and cat.load(ids[0]).tables.hist is None
