"""The benchmark yardsticks do what they say: the floor kernel's arithmetic, bench's essay2 rule,
and profile_steps' switch rewriting (no timing here: speed is `make bench`'s business)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from credsim.kernel.hash import G, M64, day_key, mix64_host

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench  # noqa: E402
import floor  # noqa: E402
import profile_steps  # noqa: E402


def _floor_reference(n: int, days: int, start: int, seed: int = 1):
    """The floor's day written out agent by agent with the host hash (MODEL.md §1)."""
    own = [start] * n
    flags, since, stress = [0] * n, [0] * n, [0] * n
    sums = None
    for t in range(1, days + 1):
        key = day_key(seed, t)
        for i in range(n):
            h1 = mix64_host(key ^ i)
            h2 = mix64_host((h1 + G) & M64)
            h3 = mix64_host((h2 + G) & M64)
            own[i] ^= h1 & 1
            flags[i] ^= h2 & 1
            since[i] ^= h3 & 1
            stress[i] ^= (h3 >> 32) & 1
        sums = [sum(own), sum(o * o for o in own), sum(f & 1 for f in flags), sum(stress)]
    return own, flags, since, stress, sums


@pytest.mark.parametrize("n", [1, 2, 1001, 20_000])  # odd n: the last pair has one agent
def test_floor_day_matches_reference(n):
    fl = floor.Floor(n, start=7)
    for t in range(1, 4):
        got = fl.day(t)
    own, flags, since, stress, sums = _floor_reference(n, 3, 7)
    assert list(got) == sums
    assert fl.own.tolist() == own
    assert fl.flags.tolist() == flags
    assert fl.since.tolist() == since
    assert fl.stress.tolist() == stress


def test_floor_chunks_like_the_day_loop():
    from credsim.backends.cpu import CpuBackend
    from credsim.plan import compile_plan
    from credsim.scenario.loader import load

    n = 100_001
    be = CpuBackend(compile_plan(load("essay")[1], n, 1))
    fl = floor.Floor(n)
    assert fl.chunk == be.chunk
    assert fl.acc.shape[0] == be.acc.shape[0]


def test_floor_rate_counts_agent_steps(monkeypatch):
    monkeypatch.setattr(floor.Floor, "run", lambda self, days: 2.0)
    assert floor.floor_rate(1000, 10) == pytest.approx(1000 * 10 / 2.0)


def test_bench_skips_missing_essay2(monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    monkeypatch.setattr(bench, "ESSAY2", tmp_path / "tests" / "scenarios" / "essay2.toml")
    loops, notes = bench.scenarios()
    assert [label for label, _ in loops] == ["essay", "baseline"]
    assert len(notes) == 1 and "does not exist" in notes[0]


def test_bench_skips_essay2_that_does_not_load(monkeypatch, tmp_path):
    bad = tmp_path / "tests" / "scenarios" / "essay2.toml"
    bad.parent.mkdir(parents=True)
    bad.write_text('[score]\nstart = "high"\n')
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    monkeypatch.setattr(bench, "ESSAY2", bad)
    loops, notes = bench.scenarios()
    assert [label for label, _ in loops] == ["essay", "baseline"]
    assert len(notes) == 1 and "does not load or run" in notes[0]


def test_bench_takes_essay2_that_loads(monkeypatch, tmp_path):
    good = tmp_path / "tests" / "scenarios" / "essay2.toml"
    good.parent.mkdir(parents=True)
    good.write_text((Path(__file__).parent / "scenarios" / "baseline.toml").read_text())
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    monkeypatch.setattr(bench, "ESSAY2", good)
    loops, notes = bench.scenarios()
    assert [label for label, _ in loops] == ["essay", "baseline", "essay2"] and notes == []


def test_launch_reports_the_childs_own_peak_not_this_process(tmp_path):
    # ru_maxrss survives fork and exec: a child forked straight from a process that holds 400 MB
    # would report at least 400 MB, so `make bench`'s memory slope read 0 bytes per agent
    held = np.ones(400 * 2**20 // 8)  # touched: resident in this process
    code = "import sys; b = bytearray(int(sys.argv[1]) * 2**20); b[::4096] = b'x' * len(b[::4096])"
    small = bench.launch([sys.executable, "-c", code, "0"], tmp_path / "small.json")
    big = bench.launch([sys.executable, "-c", code, "150"], tmp_path / "big.json")
    assert held.sum() == held.size
    assert small[1] == 0 and big[1] == 0 and small[0] > 0
    assert small[2] < 100 * 2**20  # a bare python, not this process's 400+ MB
    assert 140 * 2**20 < big[2] - small[2] < 170 * 2**20  # the 150 MiB the child touched


def test_bench_china_puts_the_floor_beside_the_run(monkeypatch, tmp_path, capsys):
    runs = iter([3.0, 5.0])  # floor seconds for 2 days, before and after

    class FakeFloor:
        def __init__(self, n, threads):
            self.n = n

        def run(self, days):
            return next(runs)

    monkeypatch.setattr(floor, "Floor", FakeFloor)
    monkeypatch.setattr(bench, "run_child", lambda *a: (70.0, 8 * 2**30, {"loop_s": 60.0}))
    bench.china(tmp_path / "china", None, n=1_000_000, days=2)
    out = capsys.readouterr().out
    assert "30.0 s/day" in out and "1.5 s/day before, 2.5 s/day after" in out
    assert "essay at 0.067 of the floor" in out  # 2.0 s/day of floor over 30.0 s/day of essay
    assert "peak RSS 8.00 GiB" in out


def test_profile_variant_source_rewrites_only_its_switches():
    src = profile_steps.variant_source({"S_ASSOC": False, "INLINE": "never"})
    template = profile_steps.TEMPLATE.read_text()
    changed = [(a, b) for a, b in zip(template.splitlines(), src.splitlines()) if a != b]
    assert [b.split("#")[0].strip() for _, b in changed] == ["S_ASSOC = False", "INLINE = 'never'"]
    with pytest.raises(SystemExit, match="S_NOPE"):
        profile_steps.variant_source({"S_NOPE": False})


def test_profile_variants_are_known_switches():
    template = profile_steps.TEMPLATE.read_text()
    for name, (switches, _) in profile_steps.VARIANTS.items():
        if profile_steps.MODULE in switches:
            assert (profile_steps.HERE / f"{switches[profile_steps.MODULE]}.py").exists(), name
            continue
        for switch in switches:
            assert f"\n{switch} = " in template, (name, switch)
    assert set(profile_steps.DEFAULT) <= set(profile_steps.VARIANTS)
    assert profile_steps.EXACT <= set(profile_steps.VARIANTS)


def test_bench_csm2_runs_reports_share_and_panel_cost(monkeypatch, capsys):
    # fake day loops: essay 2.0 s, essay2 2.5 s, essay2 with a panel 2.55 s (wall; CPU twice that)
    times = {("essay", 0): 2.0, ("e2", 0): 2.5, ("e2", 1000): 2.55}
    calls = []

    def fake(spec, n, days, threads, panel=0):
        calls.append((spec, panel))
        w = times[(spec, panel)]
        return w, 2 * w

    monkeypatch.setattr(bench, "day_loop", fake)
    bench.csm2_runs("e2", 1000, 11, 2, None)
    out = capsys.readouterr().out
    assert calls == [("essay", 0), ("e2", 0), ("e2", 1000)] * 2  # interleaved, round by round
    # essay2's rate over essay's = 2.0 / 2.5; the panel's cost = 2.55 / 2.5 - 1 = +2.0 %
    assert out.count("essay2 at 0.800 [0.800..0.800] of essay's agent-steps/s") == 2
    assert out.count("the panel adds +2.0 [+2.0..+2.0] % to essay2's day loop") == 2
    assert f"{1000 * 10 / 2.0:.3g}" in out  # essay's agent-steps/s over days 2..D


def test_sensitivity_bench_accounts_for_every_run(capsys):
    """The per-run overhead benchmark runs its design through the analysis's pipeline and prints each
    part of the overhead (a smoke run at a tiny size; the figures themselves are not asserted)."""
    import sensitivity_bench

    assert sensitivity_bench.main(["-n", "2000", "-d", "3", "--runs", "7"]) == 0
    out = capsys.readouterr().out
    assert "7 runs of a Sobol design" in out
    for part in ("point", "setup", "host", "store", "other", "score", "overhead", "kernel"):
        assert f"\n  {part}" in out, part


def test_sobol_bench_compares_the_design_with_its_day_loops(capsys):
    import sobol_bench

    assert sobol_bench.main(["--samples", "1", "-n", "2000", "-d", "3", "--params", "3"]) == 0
    out = capsys.readouterr().out
    assert "3 parameters, 1 base samples" in out and "× the day loop" in out


@pytest.mark.skipif(not (shutil.which("valgrind") and shutil.which("callgrind_control")), reason="no valgrind here")
def test_instructions_counts_a_floor_day_under_callgrind(tmp_path):
    """benchmarks/instructions.py counts what a day executes, set-up cancelled: for the floor at least
    the three mix64 of MODEL.md §4 step 1 per agent (9 instructions each: three xor-shifts of 2, two
    multiplies; kernel/hash.py), and never more mispredictions than conditional branches."""
    import instructions

    counts = instructions.measure("floor", 20_000, 1, 3, tmp_path)
    assert counts["Ir"] >= 3 * 9
    assert 0 <= counts["Bcm"] <= counts["Bc"]


@pytest.mark.skipif(
    not (shutil.which("valgrind") and shutil.which("callgrind_control") and shutil.which("objdump")),
    reason="no valgrind or objdump here",
)
def test_instructions_annotates_the_floor_machine_code(tmp_path):
    """--annotate lists the day loop's own instructions with their executions per agent-step: the
    floor's three mix64 per agent show as at least 6 multiplies per agent-step, and the listed
    code accounts for most, but never more, of what the day executed."""
    import instructions

    counts = instructions.measure("floor", 20_000, 1, 3, tmp_path, annotate_dir=tmp_path)
    rows = [line.split(None, 3) for line in (tmp_path / "floor.annotated.txt").read_text().splitlines()[1:]]
    per_step = sum(float(r[0]) for r in rows)
    multiplies = sum(float(r[0]) for r in rows if r[3].startswith("imul"))
    assert multiplies >= 3 * 2 - 0.01
    assert 0.8 * counts["Ir"] <= per_step <= counts["Ir"] + 0.01
    assert "at least once per pair" in counts["annotated"]
