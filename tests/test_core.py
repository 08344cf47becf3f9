"""The engine's invariants: hash vectors, region apportionment, determinism across threads, memory."""

import numpy as np
from numba import njit
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CASES, scenario_path
from credsim import simulate
from credsim.backends.base import STATE_BYTES_PER_AGENT
from credsim.backends.cpu import CpuBackend
from credsim.kernel.hash import G, mix64, mix64_host, root, thr
from credsim.plan import compile_plan
from credsim.population import class_multipliers, region_sizes, region_table
from credsim.scenario import load


def test_splitmix64_published_vectors():
    # The first outputs of SplitMix64 seeded with 0 (Steele, Lea & Flood 2014; Vigna's reference C).
    assert mix64_host(G) == 0xE220A8397B1DCDAF
    assert mix64_host(2 * G % 2**64) == 0x6E789E6AA1B965F4
    assert mix64_host(3 * G % 2**64) == 0x06C45D188009454F


_compiled_mix64 = njit(mix64)


@given(st.integers(0, 2**64 - 1))
@settings(max_examples=200, deadline=None)
def test_kernel_hash_equals_host_hash(z):
    assert int(_compiled_mix64(np.uint64(z))) == mix64_host(z)  # compiled (CPU/CUDA) path
    with np.errstate(over="ignore"):
        assert int(mix64(np.uint64(z))) == mix64_host(z)  # plain-numpy path (CUDA simulator)


def test_root_and_threshold():
    assert root(0, 1) == mix64_host(G)
    assert thr(0.0) == 0 and thr(1.0) == 2**32 and thr(0.5) == 2**31
    assert thr(1.5) == 2**32  # capped


def test_region_sizes_largest_remainder_by_hand():
    assert region_sizes(10, [1, 1, 1]) == [4, 3, 3]
    assert region_sizes(7, [3, 1, 1]) == [4, 2, 1]  # remainders 1,2,2: the tie goes to the lower index
    assert region_sizes(1, [1, 5]) == [0, 1]
    assert region_sizes(0, [2, 3]) == [0, 0]


@given(st.integers(0, 10**10), st.lists(st.integers(1, 10**6), min_size=1, max_size=40))
def test_region_sizes_properties(n, weights):
    sizes = region_sizes(n, weights)
    assert sum(sizes) == n
    total = sum(weights)
    for s, w in zip(sizes, weights):
        assert n * w // total <= s <= n * w // total + 1


def test_china_table_is_the_census():
    names, weights = region_table("china-2020")
    assert len(names) == 31 and names[0] == "Guangdong" and names[-1] == "Tibet"
    assert weights[0] == (126012510 + 500) // 1000
    assert 1_400_000 < sum(weights) < 1_420_000  # 1.41 billion people, in thousands


def test_class_multipliers_mean_one_and_ordered():
    m = class_multipliers(0.8)
    assert abs(sum(m) / 8 - 1) < 1e-12
    assert all(a < b for a, b in zip(m, m[1:]))
    assert class_multipliers(0.0) == [1.0] * 8


def test_identical_tables_with_one_and_two_threads():
    """Same integers with 1 and 2 CPU threads. numba caps threads at NUMBA_NUM_THREADS (the core
    count by default), so on a 1-core machine ``threads=2`` would quietly run one thread: the runs
    happen in a subprocess with NUMBA_NUM_THREADS=2 (numba allows more threads than cores), which
    checks that the second run really had two."""
    import os
    import subprocess
    import sys
    import textwrap

    c = CASES["essay-10k"]
    assert c["population"] == 10000  # the cases file is what we think it is
    code = textwrap.dedent(f"""
        import numba, numpy as np
        from credsim import simulate

        assert numba.config.NUMBA_NUM_THREADS == 2, numba.config.NUMBA_NUM_THREADS
        seen = {{1: set(), 2: set()}}
        def watch(k):  # numba's thread count while the day loop runs (threads= holds for one run only)
            return lambda t, days: seen[k].add(numba.get_num_threads())
        a = simulate({str(scenario_path("essay"))!r}, 20_001, 40, 7, threads=1, on_day=watch(1))
        b = simulate({str(scenario_path("essay"))!r}, 20_001, 40, 7, threads=2, on_day=watch(2))
        assert seen == {{1: {{1}}, 2: {{2}}}}, seen
        assert np.array_equal(a.tables.daily, b.tables.daily)
        assert np.array_equal(a.tables.regions, b.tables.regions)
        assert a.tables.daily[:, a.tables.columns.index("listed")].max() > 0  # listing dynamics ran
        print("OK")
    """)
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stdout[-2000:] + proc.stderr[-3000:]


def test_state_is_six_bytes_per_agent():
    _, sc = load("essay")
    be = CpuBackend(compile_plan(sc, 1000, 1))
    assert sum(a.itemsize for a in be.state().values()) == STATE_BYTES_PER_AGENT == 6
    assert be.own.dtype == np.int16 and be.flags.dtype == np.uint8


def test_histogram_extension_leaves_tables_unchanged():
    c = CASES["essay-37"]
    plain = simulate(scenario_path("essay"), c["population"], c["days"], c["seed"])
    with_hist = simulate(scenario_path("essay"), c["population"], c["days"], c["seed"], hist_bins=40, hist_every=7)
    assert np.array_equal(plain.tables.daily, with_hist.tables.daily)
    assert np.array_equal(plain.tables.regions, with_hist.tables.regions)
    h = with_hist.tables
    assert h.hist_days == [7, 14, 21, 28, 30]
    assert (h.hist.sum(axis=1) == c["population"]).all()  # every agent counted once per histogram day
    # the histogram's mean bin is consistent with the day's mean public score
    day = 30
    centers = h.hist_lo + h.hist_width * np.arange(40) + (h.hist_width - 1) / 2
    mean_hist = (h.hist[-1] * centers).sum() / c["population"]
    mean_daily = plain.daily.loc[day - 1, "sum_public"] / c["population"]
    assert abs(mean_hist - mean_daily) <= h.hist_width


def test_result_frames_and_region_names():
    r = simulate("essay", 1000, 5, 3)
    assert list(r.daily.columns[:2]) == ["day", "threshold"]
    assert len(r.regions) == 5 * 31 and r.regions["region_name"].iloc[0] == "Guangdong"
    assert (r.regions.groupby("day")["listed"].sum().to_numpy() == r.daily["listed"].to_numpy()).all()
    assert (r.regions.groupby("day")["sum_public"].sum().to_numpy() == r.daily["sum_public"].to_numpy()).all()
