"""The tracked agents' events (panel_events.csv), their stories (`credsim explain`), the scorecard's
CSM-2 numbers and the same-world check over every plan in force.

Hand-built scenarios use probabilities 0 and 1 only, so each agent's days follow from MODEL.md §4
and §8 by hand; the census tests track every agent (K = N), so the events must add up to the daily
table (docked against the golden files) column by column.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import scenario_path
from credsim import simulate
from credsim.errors import CredsimError
from credsim.kernel import layout as L
from credsim.results.events import EVENT_COLUMNS, EVENTS, event_bits
from credsim.results.run import RunResult
from credsim.results.story import NotTracked, tell
from credsim.scenario import from_toml

#: One agent, unmarried, no contacts, no recovery: every move of its score is an event below.
HAND = """
[population]
regions = [1]
married_share = 0.0
disposition_sigma = 0.5
contacts = 0

[score]
start = 1000
min = 0
max = 2000
recovery_rate = 0.0
spouse_weight = 0
association_penalty = 0
association_rate = 0.0

[blacklist]
mode = "absolute"
value = 995
hysteresis = 0
min_stay = 0

[behaviour]
deterrence_scale = 10.0

[stress]
burden = 0
relief = 0
deny_cost = 0
listed_cost = 0
event_cost = 0

[[channel]]
name = "camera"
kind = "offence"
base = 0.0
points = -10
detect = 1.0
false_rate = FALSE_RATE
elasticity = 0.0
dispositional = false
forces_blacklist = false

[[channel]]
name = "court"
kind = "offence"
base = COURT_BASE
points = COURT_POINTS
detect = 1.0
false_rate = 0.0
elasticity = 0.0
dispositional = false
forces_blacklist = true
"""


def hand(false_rate=0.0, court_base=0.0, court_points=-20, extra="") -> RunResult:
    text = (
        HAND.replace("FALSE_RATE", str(false_rate))
        .replace("COURT_BASE", str(court_base))
        .replace("COURT_POINTS", str(court_points))
        + extra
    )
    return from_toml(text, "hand")


def run(sc, days, n=1, panel=1) -> RunResult:
    return simulate(sc, n, days, 1, panel=panel, name="hand")


def events_of(result: RunResult) -> list[tuple]:
    ev = result.panel_events
    return [(r.day, r.event, r.channel_name, r.detail) for r in ev.itertuples()]


def test_wrongful_attribution_appeal_and_clearance_by_hand():
    # every day until day 3 a wrongful camera attribution (-10); every appeal filed, decided the next day, upheld
    sc = hand(false_rate=1.0, extra="""
[appeals]
rate = 1.0
decide_rate = 1.0
uphold = 1.0

[[schedule]]
day = 3
set = { "channel.camera.false_rate" = 0.0 }
""")
    r = run(sc, 4)
    # day 1: own 990 < 995, entered, holding a wrongful record; day 2: refund +10, new -10: still 990, stays
    # (cleared, but below the line); day 3: refund +10 -> 1000, cleared, leaves; day 4: nothing
    assert events_of(r) == [
        (1, "wrongful_attribution", "camera", "-10 points"),
        (1, "appeal_filed", "camera", "pending"),
        (1, "entered", "camera", "wrongful_attribution"),
        (2, "wrongful_attribution", "camera", "-10 points"),
        (2, "appeal_upheld", "camera", "10 points refunded"),
        (2, "appeal_filed", "camera", "pending"),
        (3, "appeal_upheld", "camera", "10 points refunded"),
        (3, "left", "", "appeal_upheld"),
    ]
    assert r.panel["own"].tolist() == [990, 990, 1000, 1000] and r.panel["listed"].tolist() == [1, 1, 0, 0]
    story = tell(r, 0)
    assert story.text == (
        "Agent 0 (a number in a synthetic population of 1) started at 1000 points; was wrongly attributed a camera "
        "event on day 1 (-10 points); appealed the camera attribution on day 1; entered the list on day 1 after a "
        "wrongful attribution on camera (public score 990, line 995); was wrongly attributed a camera event on day 2 "
        "(-10 points); was cleared on day 2 (appeal against camera upheld, 10 points refunded); appealed the camera "
        "attribution on day 2; was cleared on day 3 (appeal against camera upheld, 10 points refunded); left the "
        "list on day 3, cleared. It ended day 4 off the list with an own score of 1000, a public score of 1000 (line "
        "995) and stress 0: 2 of 4 days on the list (2 of them with a wrongful record)."
    )
    assert story.summary["appeals_upheld"] == 2 and story.summary["entries"] == 1 and story.summary["exits"] == 1


def test_forced_listing_settlement_and_term_by_hand():
    # a court record on day 1 only (forced: owes); settle on day 2 with +50 points: 980 + 50 >= 995, leaves
    settle = hand(court_base=1.0, extra="""
[exit]
settle_rate = 0.0
settle_points = 50
max_stay = 0

[[schedule]]
day = 2
set = { "channel.court.base" = 0.0, "exit.settle_rate" = 1.0 }
""")
    assert events_of(run(settle, 3)) == [
        (1, "entered", "court", "forced"),
        (2, "settled", "", "+50 points"),
        (2, "left", "", "settled"),
    ]
    # no settling, a term of 2 days: day 2 stays (owing), day 3 the term is over and 997 >= 995: a term exit
    term = hand(court_base=1.0, court_points=-3, extra="""
[exit]
settle_rate = 0.0
settle_points = 0
max_stay = 2

[[schedule]]
day = 2
set = { "channel.court.base" = 0.0 }
""")
    r = run(term, 4)
    assert events_of(r) == [
        (1, "entered", "court", "forced"),
        (3, "term_over", "", "left"),
        (3, "left", "", "term_over"),
    ]
    assert r.daily["term_exits"].tolist() == [0, 0, 1, 0]
    text = tell(r, 0).text
    assert "was put on the list on day 1 by a detected court event (a forced listing)" in text
    assert "reached the end of the listing term on day 3 and left the list" in text
    # renewed: forced every day while listed; a term that runs out below the line keeps the agent listed
    again = run(hand(court_base=1.0, extra="[exit]\nsettle_rate = 0.0\nsettle_points = 0\nmax_stay = 0\n"), 3)
    assert events_of(again) == [
        (1, "entered", "court", "forced"),
        (2, "renewed", "court", "forced"),
        (3, "renewed", "court", "forced"),
    ]


def test_initial_listing_is_day_zero():
    text = HAND.replace("min_stay = 0", "min_stay = 0\ninitial_share = 1.0\ninitial_score = 990")
    sc = from_toml(text.replace("FALSE_RATE", "0.0").replace("COURT_BASE", "0.0").replace("COURT_POINTS", "-20"))
    r = run(sc, 2)
    assert events_of(r) == [(0, "initially_listed", "", "")]
    assert "was already on the list when the run began" in tell(r, 0).text


CENSUS = [("edge2", 777, 40, 3), ("essay2", 3, 70, 7), ("court2", 1500, 100, 2)]


@pytest.fixture(scope="module", params=CENSUS, ids=[c[0] for c in CENSUS])
def census(request):
    name, n, days, seed = request.param
    return simulate(scenario_path(name), n, days, seed, panel=n, name=name)


def test_census_events_add_up_to_the_daily_table(census):
    """Every agent tracked: the events of each day count what the daily table counts."""
    r = census
    ev, daily = r.panel_events, r.daily.set_index("day")
    days = range(1, r.days + 1)

    def per_day(event, detail=None):
        sel = ev[(ev["event"] == event) & ((ev["detail"] == detail) if detail else True)]
        return sel.groupby("day").size().reindex(days, fill_value=0).to_numpy()

    assert (per_day("entered") == daily["entries"].to_numpy()).all()
    assert (per_day("left") == daily["exits"].to_numpy()).all()
    initial = int((ev["event"] == "initially_listed").sum())
    assert initial + per_day("entered").cumsum()[0] == daily["ever_listed"].iloc[0]
    for i, c in enumerate(r.scenario.channel):
        wrong = ev[(ev["event"] == "wrongful_attribution") & (ev["channel"] == i)].groupby("day").size()
        assert (wrong.reindex(days, fill_value=0).to_numpy() == daily[f"false_{c.name}"].to_numpy()).all(), c.name
    if "settlements" in daily:
        assert (per_day("settled") == daily["settlements"].to_numpy()).all()
        assert (per_day("term_over", "left") == daily["term_exits"].to_numpy()).all()
        assert (per_day("left", "term_over") == daily["term_exits"].to_numpy()).all()
    if "appeals_filed" in daily:
        for event, col in (
            ("appeal_filed", "appeals_filed"),
            ("appeal_upheld", "appeals_upheld"),
            ("appeal_rejected", "appeals_rejected"),
        ):
            assert (per_day(event) == daily[col].to_numpy()).all(), col
    # the spouse's pull: listed, public below the line, own at or above it; entries for that reason are such days
    p = r.panel.merge(r.daily[["day", "threshold"]], on="day")
    spill = p[(p["listed"] == 1) & (p["public"] < p["threshold"]) & (p["own"] >= p["threshold"])]
    assert (spill.groupby("day").size().reindex(days, fill_value=0).to_numpy() == daily["spillover"].to_numpy()).all()
    entries = ev[ev["event"] == "entered"].merge(p, on=["day", "agent"])
    why = entries["detail"]
    assert ((entries["public"] < entries["threshold"]) | (why == "forced")).all()
    assert ((entries["own"] >= entries["threshold"]) == (why == "spouse_pull"))[why != "forced"].all()
    forced = entries[why == "forced"]
    forces = np.array([c.forces_blacklist for c in r.scenario.channel])
    assert (forced["channel"] == forced["true_channel"]).all() and (forced["detected"] == 1).all()
    assert forces[forced["true_channel"].to_numpy()].all()
    assert list(ev.columns) == EVENT_COLUMNS and set(ev["event"]) <= set(EVENTS)


def test_census_bits_round_trip(census, tmp_path):
    """panel_events.csv holds every kernel bit: a run folder and a catalog run read back the same panel."""
    from credsim.results.store import Catalog

    r = census
    out = r.write_dir(tmp_path / "run")
    assert (out / "panel_events.csv").exists() and (out / "panel_events.parquet").exists()
    text = (out / "panel_events.csv").read_text()
    assert text.startswith(",".join(EVENT_COLUMNS) + "\n") and text.endswith("\n") and '"' not in text
    back = RunResult.read_dir(out)
    assert back.tables.panel_has_events and np.array_equal(back.tables.panel, r.tables.panel)
    assert np.array_equal(event_bits(r.panel_events, r.days, r.tables.panel_agents), r.tables.panel[:, :, L.PN_EVENTS])
    pd.testing.assert_frame_equal(pd.read_parquet(out / "panel_events.parquet"), r.panel_events)
    cat = Catalog(tmp_path / "c.duckdb")
    stored = cat.load(cat.add(r))
    assert np.array_equal(stored.tables.panel, r.tables.panel)
    assert np.array_equal(stored.tables.panel_agents, r.tables.panel_agents)


def test_panel_csv_is_kept_to_the_model_columns(tmp_path):
    r = simulate(scenario_path("edge2"), 777, 5, 3, panel=16)
    out = r.write_dir(tmp_path / "run")
    header = (out / "panel.csv").read_text().splitlines()[0]
    assert header == ",".join(L.PANEL_COLUMNS) and len(L.PANEL_COLUMNS) == L.N_PANEL_CSV + 2
    assert list(pd.read_parquet(out / "panel.parquet").columns) == L.PANEL_COLUMNS


# -- credsim explain --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def edge2_folder(tmp_path_factory, cli_module):
    out = tmp_path_factory.mktemp("edge2") / "run"
    proc = cli_module(
        "run",
        str(scenario_path("edge2")),
        "-n",
        "777",
        "-d",
        "40",
        "-s",
        "3",
        "--panel",
        "16",
        "--out",
        str(out),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def cli_module():
    from conftest import run_cli

    return run_cli


def test_explain_a_run_folder(edge2_folder, cli_module):
    r = RunResult.read_dir(edge2_folder)
    agent = int(r.tables.panel_agents[3])  # (3 * 777) // 16 = 145
    assert agent == 145
    proc = cli_module("explain", str(edge2_folder), str(agent), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    story = tell(r, agent)
    assert data == json.loads(json.dumps(story.to_json()))
    assert data["story"].startswith(f"Agent {agent} (a number in a synthetic population of 777)")
    mine = r.panel_events[r.panel_events["agent"] == agent]
    assert [(e["day"], e["event"]) for e in data["events"]] == list(zip(mine["day"], mine["event"]))
    assert data["summary"]["days_listed"] == int(r.panel[r.panel["agent"] == agent]["listed"].sum())
    plain = cli_module("explain", str(edge2_folder), str(agent))
    assert plain.returncode == 0 and f"Agent {agent}" in plain.stdout and "events" in plain.stdout


def test_explain_refusals(edge2_folder, cli_module, tmp_path):
    proc = cli_module("explain", str(edge2_folder), "100")
    # tracked ids (j * 777) // 16: ..., 97, 145, ...
    assert proc.returncode == 2 and "100 is not tracked" in proc.stderr and "97 and 145" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    with pytest.raises(NotTracked, match="nearest tracked: 728"):
        tell(RunResult.read_dir(edge2_folder), 776)
    for bad in ("x1", "1.5"):
        proc = cli_module("explain", str(edge2_folder), bad)
        assert proc.returncode == 2 and "agent: expected an agent id" in proc.stderr
    no_panel = tmp_path / "plain"
    simulate(scenario_path("edge2"), 50, 3, 1).write_dir(no_panel)
    proc = cli_module("explain", str(no_panel), "0")
    assert proc.returncode == 2 and "has no panel" in proc.stderr
    proc = cli_module("explain", "no-such-run", "0", "--catalog", str(tmp_path / "absent.duckdb"))
    assert proc.returncode == 2 and "no catalog" in proc.stderr
    old = tmp_path / "old"  # a folder from before panel_events.csv
    RunResult.read_dir(edge2_folder).write_dir(old)
    (old / "panel_events.csv").unlink()
    with pytest.raises(CredsimError, match="no panel_events.csv"):
        tell(RunResult.read_dir(old), 0)


def test_explain_a_catalog_run(tmp_path, cli_module):
    cat = tmp_path / "c.duckdb"
    proc = cli_module(
        "run",
        str(scenario_path("essay2")),
        "-n",
        "3",
        "-d",
        "70",
        "-s",
        "7",
        "--panel",
        "3",
        "--out",
        str(tmp_path / "run"),
        "--quiet",
        "--catalog",
        str(cat),
    )
    assert proc.returncode == 0, proc.stderr
    from credsim.results.store import Catalog

    run_id = Catalog(cat).runs()["run_id"].iloc[0]
    by_id = cli_module("explain", run_id, "2", "--json", "--catalog", str(cat))
    by_dir = cli_module("explain", str(tmp_path / "run"), "2", "--json")
    assert by_id.returncode == 0 and by_dir.returncode == 0, by_id.stderr + by_dir.stderr
    a, b = json.loads(by_id.stdout), json.loads(by_dir.stdout)
    assert a["events"] == b["events"] and a["summary"] == b["summary"]
