"""CSM-2 (MODEL.md §8) beyond the golden cases: refusals, schedule semantics, the initial list, the
panel against the daily table, the extra state, and checkpoints that carry all of it."""

from __future__ import annotations

import copy
import io
import os
import random
import re
import signal
import subprocess
import sys
import time
import tomllib

import numpy as np
import pytest
import tomli_w

from conftest import CASES2, scenario_path
from credsim import simulate
from credsim.engine import run_plan
from credsim.errors import CredsimError, ScenarioError
from credsim.backends.base import state_bytes_per_agent
from credsim.backends.cpu import CpuBackend
from credsim.kernel.hash import mix64_host, root, thr
from credsim.plan import compile_plan
from credsim.reliability.checkpoint import CHECKSUM_PREFIX, array_digest, CHECKPOINT, RunInputs, snapshot_arrays, snapshot_from_arrays
from credsim.scenario import canonical_toml, from_dict, load, presets

ESSAY2 = tomllib.loads(scenario_path("essay2").read_text())
EDGE2 = tomllib.loads(scenario_path("edge2").read_text())


def variant(base: dict, edit) -> dict:
    data = copy.deepcopy(base)
    edit(data)
    return data


def scenario_of(data: dict):
    return from_dict(data, "test.toml")


def same_tables(a, b) -> None:
    assert a.tables.columns == b.tables.columns
    assert np.array_equal(a.tables.daily, b.tables.daily)
    assert np.array_equal(a.tables.regions, b.tables.regions)


# --- scenario: off by default, refusals -----------------------------------------------------------


#: Presets that use CSM-2 by design (the court list as it works, the essay with CSM-2's mechanisms).
CSM2_PRESETS = {"court-defaulters", "court-defaulters-history", "essay-plus"}
CSM2_WORDS = ("initial_share", "initial_score", "[exit]", "[appeals]", "[adaptive]", "schedule")


def test_presets_canonical_text_has_no_csm2_fields():
    """Absent tables and default fields are not written: every CSM-1 preset's canonical text (and
    hash) is what it was before CSM-2; the CSM-2 presets do use CSM-2 (the list above is not stale)."""
    assert CSM2_PRESETS < set(presets())
    for name in presets():
        text = canonical_toml(load(name)[1])
        used = [word for word in CSM2_WORDS if word in text]
        if name in CSM2_PRESETS:
            assert used, name
        else:
            assert not used, (name, used)


def test_csm2_scenario_round_trips_through_canonical_text():
    sc = load(scenario_path("edge2"))[1]
    again = from_dict(tomllib.loads(canonical_toml(sc)), "again")
    assert again == sc and canonical_toml(again) == canonical_toml(sc)


def _set(k: int, key: str, value):
    return lambda d: d["schedule"][k]["set"].__setitem__(key, value)


REFUSED = [
    (_set(0, "population.contacts", 4), 'schedule[0].set."population.contacts": population.* is fixed'),
    (_set(0, "score.start", 900), 'schedule[0].set."score.start": score.start is fixed'),
    (_set(0, "score.min", 0), 'schedule[0].set."score.min": score.min is fixed'),
    (_set(1, "score.max", 5), 'schedule[1].set."score.max": score.max is fixed'),
    (_set(0, "blacklist.initial_share", 0.1), '"blacklist.initial_share": blacklist.initial_share is fixed'),
    (_set(0, "blacklist.initial_score", 950), '"blacklist.initial_score": blacklist.initial_score is fixed'),
    (_set(0, "channel.online_speech.name", "x"), '"channel.online_speech.name": channel.NAME.name cannot change'),
    (_set(0, "channel.online_speech.kind", "civic"), '"channel.online_speech.kind": channel.NAME.kind cannot change'),
    (_set(0, "activity.travel.name", "trip"), '"activity.travel.name": activity.NAME.name cannot change'),
    (_set(0, "channel.cameras.detect", 0.5), "no channel named 'cameras'"),
    (_set(0, "activity.flight.base", 0.5), "no activity named 'flight'"),
    (_set(0, "channel.online_speech.colour", 1), "unknown field 'colour' of channel"),
    (_set(0, "score.colour", 1), "unknown field 'colour' of score"),
    (_set(0, "grade.A.min_score", 1), "unknown table 'grade'"),
    (_set(0, "score", 1), "expected a path of the form score.FIELD"),
    (_set(0, "channel.online_speech", 1), "expected a path of the form channel.NAME.FIELD"),
    (_set(0, "score.spouse_weight", 2.0), '"score.spouse_weight": Input should be a valid integer, got 2.0'),
    (_set(0, "score.spouse_weight", True), '"score.spouse_weight": Input should be a valid integer, got True'),
    (_set(0, "channel.online_speech.detect", True), '"channel.online_speech.detect": Input should be a valid number'),
    (_set(0, "channel.online_speech.detect", "0.5"), '"channel.online_speech.detect": Input should be a valid number'),
    (_set(0, "channel.online_speech.detect", 1.5), '"channel.online_speech.detect": Input should be less than or equal to 1'),
    (_set(0, "channel.online_speech.dispositional", 1), '"channel.online_speech.dispositional": Input should be a valid boolean'),
    (_set(0, "score.spouse_weight", [1]), "expected a number, a boolean or a text"),
    (_set(0, "blacklist.mode", "absolute"), "schedule[0]: the policy in force from day 31 is not a valid scenario: "
                                            "blacklist: mode 'absolute' needs blacklist.value"),
    (_set(0, "appeals.uphold", -0.1), '"appeals.uphold": Input should be greater than or equal to 0'),
    (lambda d: d["schedule"][1].update(day=31), "schedule[1].day: must be after schedule[0].day (31)"),
    (lambda d: d["schedule"][0].update(day=1), "schedule[0].day: Input should be greater than or equal to 2"),
    (lambda d: d["schedule"][0].update(day=31.0), "schedule[0].day: Input should be a valid integer"),
    (lambda d: d["schedule"][0].pop("set"), "schedule[0].set: missing field"),
]


@pytest.mark.parametrize("edit,needle", REFUSED)
def test_schedule_refusals_name_entry_and_path(edit, needle):
    with pytest.raises(ScenarioError) as err:
        from_dict(variant(ESSAY2, edit), "essay2.toml")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("essay2.toml: ") and needle in msg, msg


def test_schedule_cannot_add_a_table():
    data = variant(ESSAY2, lambda d: (d.pop("appeals"), d["schedule"][1]["set"].pop("appeals.uphold")))
    from_dict(data, "x")  # without [appeals] and without the entry that changes it: valid
    data["schedule"][1]["set"]["appeals.uphold"] = 0.5
    with pytest.raises(ScenarioError, match=r'schedule\[1\].set."appeals.uphold": the base scenario has no \[appeals\]'):
        from_dict(data, "x")


BAD_TABLES = [
    (lambda d: d["exit"].update(settle_rate=1.5), "exit.settle_rate"),
    (lambda d: d["exit"].update(settle_rate=-0.5), "exit.settle_rate"),
    (lambda d: d["exit"].update(settle_points=-1), "exit.settle_points"),
    (lambda d: d["exit"].update(settle_points=2.5), "exit.settle_points"),
    (lambda d: d["exit"].update(max_stay=65536), "exit.max_stay"),
    (lambda d: d["exit"].update(max_stay=-1), "exit.max_stay"),
    (lambda d: d["exit"].pop("max_stay"), "exit.max_stay: missing field"),
    (lambda d: d["appeals"].update(rate=1.01), "appeals.rate"),
    (lambda d: d["appeals"].update(decide_rate=2), "appeals.decide_rate"),
    (lambda d: d["appeals"].update(uphold=-1), "appeals.uphold"),
    (lambda d: d["appeals"].pop("uphold"), "appeals.uphold: missing field"),
    (lambda d: d["adaptive"].update(near_band=-1), "adaptive.near_band"),
    (lambda d: d["adaptive"].update(near_factor=-0.1), "adaptive.near_factor"),
    (lambda d: d["adaptive"].update(listed_factor=float("inf")), "adaptive.listed_factor"),
    (lambda d: d["adaptive"].update(listed_factor=float("nan")), "adaptive.listed_factor"),
    (lambda d: d["adaptive"].pop("near_band"), "adaptive.near_band: missing field"),
    (lambda d: d["adaptive"].update(extra=1), "adaptive.extra: unknown field"),
    (lambda d: d["blacklist"].update(initial_share=1.2), "blacklist.initial_share"),
    (lambda d: d["blacklist"].update(initial_share=True), "blacklist.initial_share"),
    (
        lambda d: d["blacklist"].update(initial_score=2001),
        "blacklist.initial_score (2001) is outside score.min..score.max",
    ),
    (lambda d: d["blacklist"].update(initial_score=-1), "blacklist.initial_score (-1) is outside"),
    (
        lambda d: d["channel"].extend(dict(d["channel"][7], name=f"more_{i}", base=0.0) for i in range(24)),
        "a scenario with [appeals] has at most 31 channels",
    ),
]


@pytest.mark.parametrize("edit,needle", BAD_TABLES)
def test_bad_csm2_fields_name_the_field(edit, needle):
    with pytest.raises(ScenarioError) as err:
        from_dict(variant(ESSAY2, edit), "essay2.toml")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("essay2.toml: ") and needle in msg, msg


def test_31_channels_with_appeals_are_fine_and_32_without():
    from_dict(
        variant(
            ESSAY2, lambda d: d["channel"].extend(dict(d["channel"][7], name=f"more_{i}", base=0.0) for i in range(23))
        ),
        "x",
    )
    from_dict(
        variant(
            ESSAY2,
            lambda d: (
                d.pop("appeals"),
                d["schedule"][1]["set"].pop("appeals.uphold"),
                d["channel"].extend(dict(d["channel"][7], name=f"more_{i}", base=0.0) for i in range(24)),
            ),
        ),
        "x",
    )


def test_behaviour_table_past_one_names_entry_class_and_standing():
    """A B table over 2^32 in any standing of any policy in force is refused, naming the entry."""
    data = variant(ESSAY2, _set(1, "adaptive.listed_factor", 60.0))
    with pytest.raises(ScenarioError) as err:  # loading runs the plan's checks (one validation path)
        compile_plan(from_dict(data, "x"), 10, 1)
    msg = str(err.value)
    assert "\n" not in msg and "schedule[1] (in force from day 61): channel.base: behaviour " in msg, msg
    assert re.search(r"\(disposition class \d, standing listed\) probabilities sum past 1", msg), msg
    base = variant(ESSAY2, lambda d: d["adaptive"].update(near_factor=60.0))
    with pytest.raises(ScenarioError, match=r"channel.base: behaviour \(disposition class \d, standing near\)"):
        compile_plan(from_dict(base, "x"), 10, 1)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--panel", "0"], "panel: must be in 1..500"),
        (["--panel", "501"], "panel: must be in 1..500"),
        (["--panel", "-3"], "panel: must be in 1..500"),
        (["--panel", "lots"], "panel: expected a whole number"),
        (["-n", "200000", "--panel", "100001"], "panel: must be in 1..100000"),
    ],
)
def test_bad_panel_exit_2_one_line(args, needle, cli, tmp_path):
    out = tmp_path / "o"
    proc = cli("run", str(scenario_path("essay2")), "-n", "500", "-d", "2", "--out", str(out), "--quiet", *args)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert not out.exists() and not (tmp_path / "o.partial").exists()


def test_bad_schedule_file_exit_2_one_line(cli, tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text(tomli_w.dumps(variant(ESSAY2, _set(1, "score.start", 900))))
    proc = cli("run", str(f), "-n", "100", "-d", "2", "--out", str(tmp_path / "o"), "--quiet")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and 'schedule[1].set."score.start"' in lines[0], proc.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()
    f.write_text(tomli_w.dumps(variant(ESSAY2, _set(1, "adaptive.listed_factor", 60.0))))
    proc = cli("run", str(f), "-n", "100", "-d", "2", "--out", str(tmp_path / "o"), "--quiet")
    assert proc.returncode == 2 and "schedule[1] (in force from day 61)" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()
    proc = cli("scenario", str(f))
    assert proc.returncode == 2 and "schedule[1] (in force from day 61)" in proc.stderr


# --- schedule semantics ------------------------------------------------------------------------------

N, D, SEED = 3001, 40, 5


def test_entry_after_the_last_day_changes_nothing():
    """essay2's second entry (day 61) and an added one (day 62) are after day D = 40: the run equals
    the run of essay2 without them."""
    assert ESSAY2["schedule"][1]["day"] > D
    first_only = variant(ESSAY2, lambda d: d["schedule"].pop())
    late = variant(
        ESSAY2, lambda d: d["schedule"].append({"day": 62, "set": {"score.spouse_weight": 10, "exit.settle_rate": 1.0}})
    )
    ref = simulate(scenario_of(first_only), N, D, SEED)
    same_tables(simulate(scenario_of(ESSAY2), N, D, SEED), ref)
    same_tables(simulate(scenario_of(late), N, D, SEED), ref)


def test_value_ignored_under_below_mean_and_offset_under_absolute():
    with_value = variant(ESSAY2, lambda d: d["blacklist"].update(value=1500))
    same_tables(simulate(scenario_of(ESSAY2), N, D, SEED), simulate(scenario_of(with_value), N, D, SEED))
    court2 = tomllib.loads(scenario_path("court2").read_text())
    with_offset = variant(court2, lambda d: d["blacklist"].update(offset=500))
    # absolute until day 40 (the base's offset is ignored), then below_mean with the entry's offset
    a, b = simulate(scenario_of(court2), N, 45, SEED), simulate(scenario_of(with_offset), N, 45, SEED)
    same_tables(a, b)
    assert (a.daily["threshold"][:39] == court2["blacklist"]["value"]).all()
    assert (a.daily["threshold"][39:] == a.daily["sum_public"][38:44].to_numpy() // N - 40).all()


def test_schedule_switches_policy_on_its_day():
    """A schedule entry is the same as running the changed scenario from its day on: days before the
    entry equal the base run's, and the day-t threshold uses day t's mode."""
    change = {
        "channel.public_misconduct.detect": 0.95,
        "blacklist.mode": "absolute",
        "blacklist.value": 990,
        "score.spouse_weight": 0,
    }
    data = variant(ESSAY2, lambda d: d.update(schedule=[{"day": 12, "set": change}]))
    base = variant(ESSAY2, lambda d: d.update(schedule=[]))
    a, b = simulate(scenario_of(data), N, D, SEED), simulate(scenario_of(base), N, D, SEED)
    assert np.array_equal(a.tables.daily[:11], b.tables.daily[:11])
    assert (a.daily["threshold"][11:] == 990).all() and (b.daily["threshold"][11:] != 990).all()
    # spouse weight 0 from day 12: public scores equal own scores
    assert (a.daily["sum_public"][11:] == a.daily["sum_own"][11:]).all()
    assert (a.daily["sum_public"][:11] != a.daily["sum_own"][:11]).any()


def test_same_values_scheduled_change_nothing():
    again = {"channel.public_misconduct.detect": 0.5, "blacklist.min_stay": 30, "exit.max_stay": 60}
    data = variant(ESSAY2, lambda d: d.update(schedule=[{"day": 5, "set": again}]))
    base = variant(ESSAY2, lambda d: d.update(schedule=[]))
    same_tables(simulate(scenario_of(data), N, D, SEED), simulate(scenario_of(base), N, D, SEED))


# --- the initial list and Σ P_0 ------------------------------------------------------------------------


def test_initial_list_and_day_one_threshold_from_the_hash():
    """Who starts listed is the hash of MODEL.md §8.5, recomputed here on Python ints; day 1's
    below_mean threshold is Σ P_0 // N with day 1's spouse weight; initial listings are ever_listed
    from day 1 on but never entries."""
    sc = scenario_of(ESSAY2)
    n, seed = 2001, 9
    bl = sc.blacklist
    listed = [(mix64_host(root(seed, 6) ^ i) >> 32) < thr(bl.initial_share) for i in range(n)]
    own0 = [bl.initial_score if x else sc.score.start for x in listed]
    w = sc.score.spouse_weight
    married = [
        (2 * (i // 2) + 1 < n) and (mix64_host(root(seed, 2) ^ (i // 2)) >> 32) < thr(sc.population.married_share)
        for i in range(n)
    ]
    pub0 = [((10 - w) * own0[i] + w * own0[i ^ 1]) // 10 if married[i] else own0[i] for i in range(n)]
    r = simulate(sc, n, 1, seed)
    day1 = r.daily.iloc[0]
    assert sum(listed) > 0 and day1["threshold"] == sum(pub0) // n - bl.offset
    assert day1["ever_listed"] == sum(listed) + day1["entries"]
    be = CpuBackend(compile_plan(sc, n, seed))
    be.init()
    assert be.sum_public0() == sum(pub0)
    assert [bool(f & 1) for f in be.flags] == listed and be.own.tolist() == own0
    assert [bool(a & 1) for a in be.aux] == listed  # with [exit] the initially listed owe


def test_outside_an_opt_in_system_nobody_is_listed_owes_or_appeals():
    data = variant(ESSAY2, lambda d: d["population"].update(participation=0.0))
    r = simulate(scenario_of(data), 2000, 30, 3)
    for col in ("listed", "ever_listed", "owing", "settlements", "appeals_filed", "appeals_pending", "near"):
        assert (r.daily[col] == 0).all(), col
    half = simulate(scenario_of(variant(ESSAY2, lambda d: d["population"].update(participation=0.5))), 2000, 30, 3)
    assert 0 < half.daily["ever_listed"].iloc[0] < simulate(scenario_of(ESSAY2), 2000, 1, 3).daily["ever_listed"].iloc[0]


# --- the panel against the daily table --------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["edge2", "essay2"])
def test_panel_of_everyone_adds_up_to_the_daily_table(scenario):
    """With K = N every agent is tracked: the panel's sums per day are the daily table's columns."""
    sc = load(scenario_path(scenario))[1]
    n, days = 777, 25
    r = simulate(sc, n, days, 4, panel=n)
    p, d = r.panel, r.daily
    assert p.shape[0] == n * days and (p.groupby("day")["agent"].apply(list) == [list(range(n))] * days).all()
    by_day = p.groupby("day")
    assert (by_day["own"].sum().to_numpy() == d["sum_own"].to_numpy()).all()
    assert (by_day["public"].sum().to_numpy() == d["sum_public"].to_numpy()).all()
    assert (by_day["public"].min().to_numpy() == d["min_public"].to_numpy()).all()
    assert (by_day["listed"].sum().to_numpy() == d["listed"].to_numpy()).all()
    assert (by_day["stress"].sum().to_numpy() == d["stress_sum"].to_numpy()).all()
    for c, name in enumerate(ch.name for ch in sc.channel):
        tc = p[p["true_channel"] == c].groupby("day").size().reindex(d["day"], fill_value=0).to_numpy()
        assert (tc == d[f"true_{name}"].to_numpy()).all(), name
        det = p[(p["true_channel"] == c) & (p["detected"] == 1)].groupby("day").size().reindex(d["day"], fill_value=0)
        assert (det.to_numpy() == d[f"detected_{name}"].to_numpy()).all(), name
        fc = p[p["false_channel"] == c].groupby("day").size().reindex(d["day"], fill_value=0).to_numpy()
        assert (fc == d[f"false_{name}"].to_numpy()).all(), name
    for a, act in enumerate(sc.activity):
        att = p[p["activity"] == a].groupby("day").size().reindex(d["day"], fill_value=0).to_numpy()
        den = p[(p["activity"] == a) & (p["denied"] == 1)].groupby("day").size().reindex(d["day"], fill_value=0)
        assert (att == d[f"attempts_{act.name}"].to_numpy()).all() and (den.to_numpy() == d[f"denied_{act.name}"]).all()
    assert ((p["detected"] == 0) | (p["true_channel"] >= 0)).all() and ((p["denied"] == 0) | (p["activity"] >= 0)).all()


def test_panel_changes_nothing_else_and_tracks_the_right_agents():
    c = CASES2["essay2-10k"]
    sc = load(scenario_path("essay2"))[1]
    plain = simulate(sc, 5000, 20, 2)
    tracked = simulate(sc, 5000, 20, 2, panel=7)
    same_tables(plain, tracked)
    assert tracked.panel["agent"][:7].tolist() == [(j * 5000) // 7 for j in range(7)]
    assert c["panel"] == 16
    everyone = simulate(sc, 5000, 20, 2, panel=5000).panel
    mine = everyone[everyone["agent"].isin([(j * 5000) // 7 for j in range(7)])].reset_index(drop=True)
    assert mine.equals(tracked.panel)  # a tracked agent's row does not depend on who else is tracked


def test_panel_on_a_csm1_scenario():
    a = simulate("essay", 999, 10, 1)
    b = simulate("essay", 999, 10, 1, panel=999)
    same_tables(a, b)
    assert (b.panel.groupby("day")["own"].sum().to_numpy() == a.daily["sum_own"].to_numpy()).all()
    with pytest.raises(CredsimError, match="panel: must be in 1..999"):
        simulate("essay", 999, 10, 1, panel=1000)


# --- state -----------------------------------------------------------------------------------------------


def test_extra_state_byte_only_with_exit_or_appeals():
    adaptive_only = variant(ESSAY2, lambda d: (d.pop("exit"), d.pop("appeals"), d["schedule"][1]["set"].pop("appeals.uphold")))
    cases = [("essay", load("essay")[1], 6), ("essay2", scenario_of(ESSAY2), 7), ("adaptive", scenario_of(adaptive_only), 6)]
    for name, sc, nbytes in cases:
        plan = compile_plan(sc, 1000, 1)
        be = CpuBackend(plan)
        assert sum(a.itemsize for a in be.state().values()) == state_bytes_per_agent(plan) == nbytes, name
        assert be.aux.size == (1000 if nbytes == 7 else 1), name


# --- checkpoints -----------------------------------------------------------------------------------


class Recorder:
    def __init__(self):
        self.snaps = []

    def due(self, t):
        return True

    def save(self, snap):
        self.snaps.append(copy.deepcopy(snap))


@pytest.mark.parametrize("scenario,n,days", [("edge2", 501, 14), ("essay2", 2001, 70)])
def test_resume_from_every_day_with_csm2(scenario, n, days):
    """Snapshots carry the extra state, the policy in force and the panel rows: resuming from any day
    (through the .npz format) gives the uninterrupted tables, panel included."""
    sc = load(scenario_path(scenario))[1]
    plan = compile_plan(sc, n, 11, panel=9)
    rec = Recorder()
    full = run_plan(plan, days, checkpoint=rec)
    inputs = RunInputs.new(scenario, sc, n, days, 11, "cpu", checkpoint_every=1, panel=9)
    raw = inputs.to_bytes()
    for snap in rec.snaps[:-1][:: max(1, days // 12)]:
        assert "aux" in snap.state and snap.policy == plan.policy_index(snap.day)
        buf = io.BytesIO()
        np.savez(buf, **snapshot_arrays(snap, raw))
        buf.seek(0)
        with np.load(buf, allow_pickle=False) as z:
            back = snapshot_from_arrays({k: z[k] for k in z.files}, plan, inputs, raw, CredsimError)
        resumed = run_plan(plan, days, resume_from=back)
        assert np.array_equal(resumed.daily, full.daily), snap.day
        assert np.array_equal(resumed.regions, full.regions), snap.day
        assert np.array_equal(resumed.panel, full.panel), snap.day
    arrays = snapshot_arrays(rec.snaps[3], raw)
    arrays["policy"] = np.array(5, np.int64)
    with pytest.raises(CredsimError, match="policy does not match its checksum"):
        snapshot_from_arrays(dict(arrays), plan, inputs, raw, CredsimError)
    arrays[CHECKSUM_PREFIX + "policy"] = array_digest("policy", arrays["policy"])  # a forger's edit
    with pytest.raises(CredsimError, match="policy in force"):
        snapshot_from_arrays(arrays, plan, inputs, raw, CredsimError)
    arrays = snapshot_arrays(rec.snaps[3], raw)
    del arrays["state_aux"]
    with pytest.raises(CredsimError, match="state_aux"):
        snapshot_from_arrays(arrays, plan, inputs, raw, CredsimError)


def test_sigkill_then_resume_with_csm2_and_panel(tmp_path):
    """A CSM-2 run with a panel killed (SIGKILL) after a checkpoint resumes to the uninterrupted tables."""
    n, days, panel = 200_000, 90, 50
    args = [str(scenario_path("essay2")), "-n", str(n), "-d", str(days), "-s", "3", "--panel", str(panel), "-q"]
    ref = tmp_path / "ref"
    simulate(scenario_path("essay2"), n, days, 3, panel=panel, name="essay2").write_dir(ref)
    seed = int.from_bytes(os.urandom(4), "little")
    target = random.Random(seed).randrange(3, days // 2)
    print(f"seed {seed}: kill at the first checkpoint on or after day {target}")
    out, work = tmp_path / "run", tmp_path / "run.partial"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from credsim.cli import main; main()",
            "run",
            *args,
            "--out",
            str(out),
            "--checkpoint-every",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 600
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        if (work / CHECKPOINT).exists():
            with np.load(work / CHECKPOINT, allow_pickle=False) as z:
                if int(z["day"]) >= target:
                    break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert not out.exists()
    res = subprocess.run(
        [sys.executable, "-c", "from credsim.cli import main; main()", "resume", str(work), "-q"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    for name in ("daily.csv", "regions.csv", "panel.csv"):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
