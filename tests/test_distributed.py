"""The Ray backend and sweeps: exact for every shard count, no hang when a shard dies, sweeps stored
and summarised. One local Ray session (2 CPUs) serves the whole module."""

from __future__ import annotations

import itertools
import json
import math
import threading
import time

import numpy as np
import pytest
from conftest import CASES, CASES2, GOLDEN, GOLDEN2, scenario_path

from credsim import simulate
from credsim.errors import CredsimError
from credsim.kernel.hash import day_key
from credsim.kernel.layout import IP_K2
from credsim.plan import compile_plan
from credsim.scenario import load

ray = pytest.importorskip("ray")

from credsim.backends.ray.driver import RayBackend
from credsim.backends.ray.partition import exchange_plan, needed_intervals, shard_bounds
from credsim.backends.ray.pool import shutdown_pool
from credsim.distributed.sweep import parse_vary, run_sweep, t975, t_interval

SHARDS = (1, 2, 3, 7)


@pytest.fixture(scope="module")
def ray_session():
    """A local Ray instance for this module only (never a cluster named by $RAY_ADDRESS)."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        shutdown_pool()
        ray.shutdown()


def _plan(scenario: str, n: int, seed: int = 1):
    _, sc = load(scenario_path(scenario))
    return compile_plan(sc, n, seed)


# --- partition and exchange plan (no Ray) ----------------------------------------------------------


def test_shard_bounds_are_byte_and_pair_aligned():
    for n in (1, 7, 37, 1001, 10_000, 123_457):
        for k in (1, 2, 3, 7, 64):
            b = shard_bounds(n, k)
            assert b[0] == 0 and b[-1] == n and all(x < y for x, y in itertools.pairwise(b))
            assert all(x % 8 == 0 for x in b[1:-1]) and len(b) - 1 <= k
    assert shard_bounds(37, 7) == [0, 8, 16, 24, 37]  # empty shards dropped


@pytest.mark.parametrize(
    "scenario,n,k", [("edge", 1001, 7), ("essay", 10_000, 3), ("essay", 3_000_000, 5), ("edge", 4_000_000, 3)]
)
def test_halo_covers_every_foreign_contact(scenario, n, k):
    """Every contact a shard's agents have outside the shard is in its needed set (brute force over
    every agent and offset, MODEL.md §2), and the links ship exactly the needed bytes."""
    plan = _plan(scenario, n)
    lay = plan.layout
    k2 = int(plan.ip[IP_K2])
    bounds = shard_bounds(n, k)
    xp = exchange_plan(plan, bounds)
    for d in range(len(bounds) - 1):
        lo, hi = bounds[d], bounds[d + 1]
        ivs = needed_intervals(plan, lo, hi)
        starts = np.array([b for b, _ in ivs], np.int64)
        ends = np.array([e for _, e in ivs], np.int64)
        step = max(1, (hi - lo) // 20_000)  # every agent at small n; a dense sample plus both edges at large n
        agents = np.unique(
            np.concatenate(
                [np.arange(lo, hi, step), np.arange(lo, min(hi, lo + 3000)), np.arange(max(lo, hi - 3000), hi)]
            )
        )
        region = np.searchsorted(lay.starts + lay.sizes, agents, side="right")
        s, size = lay.starts[region], lay.sizes[region]
        for j in range(k2):
            a = plan.amod[region, j]
            for c in (s + (agents - s + a) % size, s + (agents - s - a) % size):
                foreign = c[(c < lo) | (c >= hi)]
                pos = np.searchsorted(starts, foreign, side="right") - 1
                assert (pos >= 0).all() and (foreign < ends[pos]).all(), f"shard {d} misses a contact"
        shipped = sorted(r for i in xp.ins[d] for r in xp.links[i][2])
        need_bytes = {b for lo_, hi_ in ivs for b in range(lo_ >> 3, ((hi_ - 1) >> 3) + 1)} if n < 20_000 else None
        if need_bytes is not None:
            assert {b for x, y in shipped for b in range(x, y)} == need_bytes


def test_no_association_no_exchange():
    assert exchange_plan(_plan("baseline", 10_000), shard_bounds(10_000, 7)).bytes_per_day == 0
    big = exchange_plan(_plan("essay", 10**8), shard_bounds(10**8, 4))
    # regions far larger than the offsets: per cut and direction, at most the ids within max a_j < 2^20
    # of the cut, plus as many for the region's wrapped end: 2 x 2^20 bits
    cuts = 3
    assert 0 < big.bytes_per_day <= cuts * 2 * 2 * (1 << 20) // 8


# --- exactness ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_identical_for_every_shard_count(ray_session, case, tmp_path):
    c = CASES[case]
    want_daily = (GOLDEN / f"{case}.daily.csv").read_bytes()
    want_regions = (GOLDEN / f"{case}.regions.csv").read_bytes()
    for k in SHARDS:
        r = simulate(scenario_path(c["scenario"]), c["population"], c["days"], c["seed"], backend="ray", shards=k)
        out = r.write_dir(tmp_path / f"k{k}", parquet=False)
        assert (out / "daily.csv").read_bytes() == want_daily, f"{case}, {k} shards: daily.csv differs"
        assert (out / "regions.csv").read_bytes() == want_regions, f"{case}, {k} shards: regions.csv differs"


@pytest.mark.parametrize("case", sorted(CASES2))
def test_golden2_identical_for_shard_counts(ray_session, case, tmp_path):
    """CSM-2 (MODEL.md §8) across shards: the aux state, the policy switches, Σ P_0 of an initial list
    and the panel rows of every shard give the golden daily, region and panel tables."""
    c = CASES2[case]
    for k in (1, 2, 3):
        r = simulate(
            scenario_path(c["scenario"]),
            c["population"],
            c["days"],
            c["seed"],
            backend="ray",
            shards=k,
            panel=c["panel"],
        )
        out = r.write_dir(tmp_path / f"k{k}", parquet=False)
        for table in ("daily", "regions", "panel"):
            want = (GOLDEN2 / f"{case}.{table}.csv").read_bytes()
            assert (out / f"{table}.csv").read_bytes() == want, f"{case}, {k} shards: {table}.csv differs"


def test_csm2_state_round_trip_across_shard_counts(ray_session):
    """With CSM-2's extra state byte, state() and load_state() across shard counts continue exactly."""
    from credsim.engine import run_plan
    from credsim.backends.cpu import CpuBackend

    _, sc = load(scenario_path("edge2"))
    plan = compile_plan(sc, 1001, 5, panel=7)
    cpu, rb = CpuBackend(plan), RayBackend(plan, shards=3)
    cpu.init()
    rb.init()
    total = cpu.sum_public0()
    assert rb.sum_public0() == total != plan.scenario.score.start * plan.n  # an initial list lowers Σ P_0
    for t in range(1, 7):
        k = plan.policy_index(t)
        thr = plan.threshold(total, k)
        row, reg = cpu.day(t, thr, day_key(plan.seed, t), False, policy=k)
        row2, reg2 = rb.day(t, thr, day_key(plan.seed, t), False, policy=k)
        assert np.array_equal(row, row2) and np.array_equal(reg, reg2) and np.array_equal(cpu.panel, rb.panel)
        total = int(row[0])
    st = rb.state()
    assert set(st) == {"own", "flags", "since", "stress", "aux"} and st["aux"].any()
    for name, arr in cpu.state().items():
        assert np.array_equal(arr, st[name]), name
    rb.close()
    rb2 = RayBackend(plan, shards=2)
    rb2.init()
    rb2.load_state(st)
    for t in range(7, 15):
        k = plan.policy_index(t)
        thr = plan.threshold(total, k)
        row, _ = cpu.day(t, thr, day_key(plan.seed, t), False, policy=k)
        row2, _ = rb2.day(t, thr, day_key(plan.seed, t), False, policy=k)
        assert np.array_equal(row, row2) and np.array_equal(cpu.panel, rb2.panel), t
        total = int(row[0])
    rb2.close()
    assert np.array_equal(run_plan(plan, 15, "cpu").panel, run_plan(plan, 15, "ray", shards=3).panel)


def test_histogram_and_state_round_trip_across_shard_counts(ray_session):
    """state() gathers the population in id order; load_state() into another shard count continues
    exactly (what a checkpoint and `credsim resume` rely on); histograms reduce exactly too."""
    from credsim.engine import run_plan
    from credsim.backends.cpu import CpuBackend
    from credsim.plan import Histogram

    _, sc = load(scenario_path("edge"))
    plan = compile_plan(sc, 1001, 7, Histogram(9, 5))
    want = run_plan(plan, 20, "cpu")
    got = run_plan(plan, 20, "ray", shards=3)
    assert np.array_equal(want.daily, got.daily) and np.array_equal(want.hist, got.hist)

    cpu, rb = CpuBackend(plan), RayBackend(plan, shards=3)
    cpu.init()
    rb.init()
    total = plan.scenario.score.start * plan.n
    for t in range(1, 9):
        thr = plan.threshold(total)
        row, reg = cpu.day(t, thr, day_key(plan.seed, t), False)
        row2, reg2 = rb.day(t, thr, day_key(plan.seed, t), False)
        assert np.array_equal(row, row2) and np.array_equal(reg, reg2)
        total = int(row[0])
    st = rb.state()
    for name, arr in cpu.state().items():
        assert np.array_equal(arr, st[name]), name
    rb.close()
    rb7 = RayBackend(plan, shards=7)
    rb7.init()
    rb7.load_state(st)
    for t in range(9, 15):
        thr = plan.threshold(total)
        row, _ = cpu.day(t, thr, day_key(plan.seed, t), False)
        row2, _ = rb7.day(t, thr, day_key(plan.seed, t), False)
        assert np.array_equal(row, row2), t
        total = int(row[0])
    with pytest.raises(ValueError, match="own"):
        rb7.load_state({**st, "own": st["own"][:-1]})
    rb7.close()


def test_bad_shard_count(ray_session):
    with pytest.raises(CredsimError, match="shards"):
        simulate("essay", 100, 2, backend="ray", shards=0)


# --- failure: a dead shard fails the run, fast ------------------------------------------------------


def test_killed_shard_fails_with_its_name_and_day(ray_session):
    plan = _plan("essay", 10_000)
    be = RayBackend(plan, shards=3)
    be.init()
    total = plan.scenario.score.start * plan.n
    t0 = time.monotonic()
    with pytest.raises(CredsimError) as info:
        for t in range(1, 30):
            if t == 3:
                ray.kill(be.actors[1])
            row, _ = be.day(t, plan.threshold(total), day_key(plan.seed, t), False)
            total = int(row[0])
    msg = str(info.value)
    assert "shard 1 of 3 (agents 3328..6663" in msg and "died on day" in msg and "\n" not in msg
    assert int(msg.split("died on day ")[1].split(":")[0]) >= 3
    assert time.monotonic() - t0 < 30


def test_shard_killed_during_a_day_never_hangs(ray_session):
    plan = _plan("essay", 2_000_000)
    be = RayBackend(plan, shards=2)
    be.init()
    be.day(1, 1000, day_key(1, 1), False)
    timer = threading.Timer(0.05, lambda: ray.kill(be.actors[0]))
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(CredsimError, match=r"shard 0 of 2 .* died on day \d+"):
        for t in range(2, 400):
            be.day(t, 1000, day_key(1, t), False)
    timer.join()
    assert time.monotonic() - t0 < 30


def test_silent_shard_times_out(ray_session):
    plan = _plan("essay", 1000)
    be = RayBackend(plan, shards=2, timeout_s=0.5)
    be.init()
    be.actors[1].__ray_call__.remote(lambda self: time.sleep(5))  # busy: the next call queues behind it
    with pytest.raises(CredsimError, match=r"shard 1 of 2 .* did not answer on day 1 within"):
        be.day(1, 1000, day_key(1, 1), False)


# --- command line ----------------------------------------------------------------------------------


def test_cli_run_sharded_docks(cli, ray_session, tmp_path):
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
        "--backend",
        "ray",
        "--shards",
        "3",
        env={"RAY_ADDRESS": ray_session},
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "daily.csv").read_bytes() == (GOLDEN / "edge-1001.daily.csv").read_bytes()
    assert (out / "regions.csv").read_bytes() == (GOLDEN / "edge-1001.regions.csv").read_bytes()


def test_cli_run_sharded_docks_csm2_with_panel(cli, ray_session, tmp_path):
    case = "edge2-777"
    c = CASES2[case]
    out = tmp_path / "edge2"
    proc = cli(
        "run",
        str(scenario_path("edge2")),
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
        "--backend",
        "ray",
        "--shards",
        "3",
        env={"RAY_ADDRESS": ray_session},
    )
    assert proc.returncode == 0, proc.stderr
    for table in ("daily", "regions", "panel"):
        assert (out / f"{table}.csv").read_bytes() == (GOLDEN2 / f"{case}.{table}.csv").read_bytes(), table


def test_cli_shards_need_ray_backend(cli, tmp_path):
    proc = cli("run", "essay", "-n", "100", "-d", "2", "--out", str(tmp_path / "x"), "--shards", "2")
    assert proc.returncode == 2 and "needs --backend ray" in proc.stderr and proc.stderr.count("\n") == 1


# --- sweeps ----------------------------------------------------------------------------------------


def test_t_interval():
    assert t975(1) == pytest.approx(12.7062, abs=1e-4) and t975(40) == pytest.approx(2.02108, abs=1e-4)
    assert t975(200) == pytest.approx(1.97190, abs=1e-4)
    mean, _, hi, n = t_interval([1.0, 2.0, 3.0, math.nan])
    assert (mean, n) == (2.0, 3) and hi - mean == pytest.approx(4.302653 / math.sqrt(3))
    assert t_interval([5.0])[:3] == (5.0, 5.0, 5.0)


@pytest.mark.parametrize(
    "spec,match",
    [
        ("score.nope=1,2", "unknown field 'score.nope'"),
        ("nothing.x=1", "unknown field 'nothing.x'"),
        ("channel.nobody.detect=0.5", "no channel named 'nobody'"),
        ("score.spouse_weight=3,x", "expected an integer, got 'x'"),
        ("channel.public_misconduct.detect=0.5,2", "detect"),
        ("score.spouse_weight", "FIELD=V1"),
        ("population.regions=nowhere", "population.regions"),
    ],
)
def test_bad_vary_is_one_line_exit_2(cli, spec, match, tmp_path):
    proc = cli(
        "sweep",
        "essay",
        "--vary",
        spec,
        "--seeds",
        "2",
        "-n",
        "100",
        "-d",
        "2",
        "--catalog",
        str(tmp_path / "c.duckdb"),
        env={"RAY_ADDRESS": "127.0.0.1:1"},
    )
    assert proc.returncode == 2, proc.stderr
    assert match in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "c.duckdb").exists()


def test_parse_vary_types():
    _, sc = load("essay")
    assert parse_vary("score.spouse_weight=0,3", sc).values == [0, 3]
    assert parse_vary("channel.public_misconduct.detect=0.25,1", sc).values == [0.25, 1.0]
    assert parse_vary("channel.court_default.forces_blacklist=false,true", sc).values == [False, True]


def test_sweep_runs_stores_and_summarises(ray_session, tmp_path):
    from credsim.results.scorecard import scorecard
    from credsim.results.store import Catalog

    cat = Catalog(tmp_path / "runs.duckdb")
    seen = []
    sw = run_sweep(
        "essay",
        ["score.spouse_weight=0,6"],
        2,
        3000,
        15,
        catalog=cat,
        on_result=lambda done, total, label: seen.append((done, total)),
    )
    assert len(sw.points) == 2 and sw.seeds == [1, 2]
    assert seen[-1] == (6, 6)  # 2 points × 2 seeds + baseline × 2 seeds
    assert len(cat.runs()) == 6
    # one cell recomputed serially: the same scorecard
    _, sc = load("essay")
    from credsim.distributed.sweep import apply

    mine = simulate(apply(sc, {"score.spouse_weight": 6}), 3000, 15, 2)
    base = simulate("baseline", 3000, 15, 2)
    want = scorecard(mine.daily, mine.scenario, base.daily, 3000)
    assert sw.cards[(1, 2)] == pytest.approx(want, nan_ok=True)
    cell = sw.summary[1]["ever_listed_pct"]
    vals = [sw.cards[(1, s)]["ever_listed_pct"] for s in (1, 2)]
    assert cell["mean"] == pytest.approx(sum(vals) / 2) and cell["n"] == 2 and cell["lo"] <= cell["mean"] <= cell["hi"]
    # spouse pull moves spillover (direction, STYLE.md §10): none without a spouse weight
    assert sw.summary[0]["spillover_pct_of_listed"]["mean"] == 0.0
    assert sw.summary[1]["spillover_pct_of_listed"]["mean"] > 0.0
    # a second sweep reuses every stored run
    again = run_sweep("essay", ["score.spouse_weight=0,6"], 2, 3000, 15, catalog=cat)
    assert again.reused == 6
    for key, card in sw.cards.items():
        assert again.cards[key] == pytest.approx(card, nan_ok=True)


def test_cli_sweep_json(cli, ray_session, tmp_path):
    proc = cli(
        "sweep",
        "essay",
        "--vary",
        "channel.public_misconduct.detect=0.2,0.9",
        "--seeds",
        "2",
        "-n",
        "2000",
        "-d",
        "10",
        "--catalog",
        str(tmp_path / "c.duckdb"),
        "--json",
        env={"RAY_ADDRESS": ray_session},
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [p["vary"] for p in doc["points"]] == [
        {"channel.public_misconduct.detect": 0.2},
        {"channel.public_misconduct.detect": 0.9},
    ]
    assert all(len(p["runs"]) == 2 and all(p["runs"].values()) for p in doc["points"])
    assert "Student t" in doc["interval"]


def test_a_pooled_actor_that_died_while_idle_is_replaced(ray_session):
    """An idle actor in the pool can die (killed, out of memory, its node gone); the next run must not
    hand it work ("Can't find actor ..."), but replace it and give the same integers."""
    from credsim.backends.ray import pool
    from credsim.engine import run_plan
    from credsim.plan import compile_plan
    from credsim.scenario import load

    plan = compile_plan(load("essay")[1], 1017, 1)
    reference = run_plan(plan, 3).daily
    assert np.array_equal(run_plan(plan, 3, "ray", shards=2).daily, reference)  # its actors go back to the pool
    idle = pool.POOL["idle"]["cpu"]
    assert len(idle) >= 2
    ray.kill(idle[-1], no_restart=True)  # the next run takes this one first
    assert np.array_equal(run_plan(plan, 3, "ray", shards=2).daily, reference)


def test_a_sensitivity_analysis_over_ray_gives_the_local_outputs(ray_session, tmp_path, monkeypatch):
    """With $RAY_ADDRESS set the design's runs are Ray tasks: the same runs, the same figures, stored."""
    import numpy as np

    from credsim.results import sensitivity as sa
    from credsim.results import sensitivity_runs
    from credsim.results.store import Catalog

    (tmp_path / "r.toml").write_text('"channel.public_misconduct.detect" = [0.2, 0.9]\n"score.spouse_weight" = [0, 6]\n')
    prep = sa.prepare("essay-plus", tmp_path / "r.toml", method="morris", samples=2, population=2000, days=10)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    local = sa.run_analysis(prep, Catalog(tmp_path / "local.duckdb"), workers=1)

    def not_here(*a, **k):
        raise AssertionError("a run ran in the driver, not as a Ray task")

    monkeypatch.setenv("RAY_ADDRESS", ray_session)
    monkeypatch.setattr(sensitivity_runs, "simulate", not_here)  # the Ray workers import their own, unpatched
    monkeypatch.setattr(sensitivity_runs, "_run_pool", not_here)
    remote = sa.run_analysis(prep, Catalog(tmp_path / "ray.duckdb"), workers=2)
    assert remote.runs == local.runs and local.runs["new"] == local.runs["total"] > 2
    np.testing.assert_array_equal(remote.outputs, local.outputs)
    assert len(Catalog(tmp_path / "ray.duckdb").runs()) == local.runs["total"]


# --- Ray task failures and interrupts: one line, the rest cancelled, nothing half-written -------------


def _failing_on_seed(real, seed_of, bad_seed: int = 2):
    """``real`` wrapped to raise a CredsimError when its job has ``bad_seed`` (built here, pickled by
    value into the Ray workers, where it calls their own unpatched ``real``)."""

    def task(*args):
        if seed_of(args) == bad_seed:
            raise CredsimError(f"injected failure at seed {bad_seed}")
        return real(*args)

    return task


def _spy_cancel(monkeypatch) -> list:
    cancelled = []
    real = ray.cancel

    def spy(ref, **kw):
        cancelled.append(ref)
        return real(ref, **kw)

    monkeypatch.setattr(ray, "cancel", spy)
    return cancelled


def _stored(cat) -> tuple[list[int], int]:
    """(seeds of the complete runs, number of incomplete rows) in a catalog."""
    if not cat.path.exists():
        return [], 0
    with cat.connect() as con:
        half = con.execute("SELECT count(*) FROM runs WHERE NOT complete").fetchone()[0]
    return sorted(int(s) for s in cat.runs()["seed"]), half


def test_a_failing_sweep_run_is_one_line_and_the_rest_cancelled(ray_session, tmp_path, monkeypatch):
    from credsim.distributed import sweep
    from credsim.results.store import Catalog

    monkeypatch.setattr(sweep, "_run_one", _failing_on_seed(sweep._run_one, lambda a: a[4]))
    cancelled = _spy_cancel(monkeypatch)
    cat = Catalog(tmp_path / "c.duckdb")
    seen = []
    with pytest.raises(CredsimError) as err:  # 4 tasks: essay and baseline × seeds 1, 2
        run_sweep("essay", ["score.spouse_weight=3"], 2, 2000, 10, catalog=cat, on_result=lambda *a: seen.append(a))
    msg = str(err.value)
    assert "\n" not in msg and err.value.__cause__ is None and err.value.__suppress_context__
    assert msg in {
        f"sweep: run {name} seed 2 failed: injected failure at seed 2"
        for name in ("essay[score.spouse_weight=3]", "baseline")
    }, msg
    seeds, half = _stored(cat)
    assert half == 0 and seeds == [1] * len(seen)  # only the runs handed on, each stored whole
    assert len(seen) + 1 + len(cancelled) == 4  # handed on, the failed one, the rest cancelled


def test_an_interrupted_sweep_cancels_the_runs_still_going(ray_session, tmp_path, monkeypatch):
    from credsim.results.store import Catalog

    cancelled = _spy_cancel(monkeypatch)
    cat = Catalog(tmp_path / "c.duckdb")

    def ctrl_c(done, total, label):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep("essay", ["score.spouse_weight=3"], 2, 2000, 10, catalog=cat, on_result=ctrl_c)
    assert len(cancelled) == 3  # all but the first run to finish
    seeds, half = _stored(cat)
    assert half == 0 and len(seeds) == 1  # that run was stored before the interrupt


def test_a_sweep_with_no_run_finishing_in_time_stops_with_one_line(ray_session, tmp_path, monkeypatch):
    from credsim.distributed import sweep

    def stuck(*args):
        time.sleep(60)

    monkeypatch.setattr(sweep, "_run_one", stuck)
    monkeypatch.setenv("CREDSIM_RAY_TIMEOUT", "1")
    cancelled = _spy_cancel(monkeypatch)
    t0 = time.monotonic()
    with pytest.raises(CredsimError, match=r"^sweep: no run finished within 1 s \(CREDSIM_RAY_TIMEOUT\)$"):
        run_sweep("essay", ["score.spouse_weight=3"], 1, 2000, 10)
    assert time.monotonic() - t0 < 30 and len(cancelled) == 2  # the point and the baseline, both stuck

def _sensitivity_jobs():
    from credsim.results.sensitivity_runs import Job

    _, sc = load("essay")
    return [Job(("essay", s), "essay", sc, s) for s in (1, 2, 3, 4)]


def test_a_failing_sensitivity_run_over_ray_is_one_line_and_the_rest_cancelled(ray_session, tmp_path, monkeypatch):
    from credsim.results import sensitivity_runs
    from credsim.results.store import Catalog

    monkeypatch.setenv("RAY_ADDRESS", ray_session)
    monkeypatch.setattr(
        sensitivity_runs, "_run_batch", _failing_on_seed(sensitivity_runs._run_batch, lambda a: a[0][0].seed)
    )
    cancelled = _spy_cancel(monkeypatch)
    cat = Catalog(tmp_path / "c.duckdb")
    seen = []
    with pytest.raises(CredsimError) as err:  # 4 one-run batches (2 CPUs: batches of 4 // 16 → 1 run)
        sensitivity_runs.execute(_sensitivity_jobs(), 2000, 10, cat, workers=2, on_run=lambda *a: seen.append(a))
    msg = str(err.value)
    assert "\n" not in msg and err.value.__cause__ is None and err.value.__suppress_context__
    assert msg == "sensitivity: run essay seed 2 failed: injected failure at seed 2"
    seeds, half = _stored(cat)
    assert half == 0 and 2 not in seeds and len(seeds) == len(seen)  # every run handed on stored before the error
    assert len(seen) + 1 + len(cancelled) == 4


def test_an_interrupted_sensitivity_run_over_ray_cancels_the_rest(ray_session, tmp_path, monkeypatch):
    from credsim.results import sensitivity_runs
    from credsim.results.store import Catalog

    monkeypatch.setenv("RAY_ADDRESS", ray_session)
    cancelled = _spy_cancel(monkeypatch)
    cat = Catalog(tmp_path / "c.duckdb")

    def ctrl_c(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sensitivity_runs.execute(_sensitivity_jobs(), 2000, 10, cat, workers=2, on_run=ctrl_c)
    assert len(cancelled) == 3
    seeds, half = _stored(cat)
    assert half == 0 and len(seeds) == 1  # the finished run was stored before the interrupt propagated
