"""The CUDA backend without a GPU: numba's CUDA simulator runs the real kernels (as Python) and must
reproduce the golden tables exactly; without numba-cuda or a GPU the backend refuses in one line.

numba reads NUMBA_ENABLE_CUDASIM when numba.cuda is first imported, so every check runs in a
subprocess with its own environment; this process never imports numba.cuda.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent
GOLDEN = HERE / "golden"
SCENARIOS = HERE / "scenarios"
CASES = tomllib.loads((GOLDEN / "cases.toml").read_text())
GOLDEN2 = HERE / "golden2"
CASES2 = tomllib.loads((GOLDEN2 / "cases.toml").read_text())

#: Days run under the simulator per golden case (it runs ~2e3-1e4 agent-steps/s): the full case where
#: that takes seconds, else a prefix of days compared with the golden rows' prefix. The two 10k cases
#: get 12 of their 90 days: 12 days take ~50 s each here, all 90 would take ~6 minutes each (over the
#: ~60 s a case may cost); benchmarks/gpu.sh docks all their days on a real GPU.
SIM_DAYS = {"essay-1": 10, "essay-37": 30, "edge-1001": 60, "essay-10k": 12, "baseline-10k": 12}

needs_numba_cuda = pytest.mark.skipif(
    importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda is not installed (pip install credsim[cuda])"
)


def _run(args: list[str], *, sim: bool, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [full.get("PYTHONPATH")])])
    if sim:
        full["NUMBA_ENABLE_CUDASIM"] = "1"
    full.update(env or {})
    # -W ignore: under the simulator numpy warns on every (intended) uint64 wrap-around in mix64
    return subprocess.run(
        [sys.executable, "-W", "ignore", *args], capture_output=True, text=True, env=full, timeout=timeout, cwd=ROOT
    )


def _script(code: str, *, sim: bool, timeout: int = 300) -> subprocess.CompletedProcess:
    return _run(["-c", textwrap.dedent(code)], sim=sim, timeout=timeout)


@needs_numba_cuda
@pytest.mark.parametrize("case", list(SIM_DAYS))
def test_cuda_simulator_docks_golden(case):
    """The engine's run on the CUDA backend, under the simulator, gives the golden tables' integers
    (all days for the small cases, the first SIM_DAYS days of the 10k cases) and columns."""
    c = CASES[case]
    days = SIM_DAYS[case]
    assert days <= c["days"]
    res = _script(
        f"""
        import numpy as np
        from credsim.engine import run_plan
        from credsim.backends import cuda as kc
        from credsim.plan import compile_plan
        from credsim.scenario import load

        assert kc.SIMULATOR and kc.unavailable_reason() is None
        _, sc = load({str(SCENARIOS / f"{c['scenario']}.toml")!r})
        tb = run_plan(compile_plan(sc, {c["population"]}, {c["seed"]}), {days}, "cuda")
        daily = np.loadtxt({str(GOLDEN / f"{case}.daily.csv")!r}, delimiter=",", dtype=np.int64, skiprows=1, ndmin=2)
        header = open({str(GOLDEN / f"{case}.daily.csv")!r}).readline().rstrip("\\n").split(",")
        regions = np.loadtxt({str(GOLDEN / f"{case}.regions.csv")!r}, delimiter=",", dtype=np.int64, skiprows=1, ndmin=2)
        R = tb.regions.shape[1]
        assert header == tb.columns, (header, tb.columns)
        assert daily.shape[0] == {c["days"]} and regions.shape[0] == {c["days"]} * R
        bad = np.argwhere(daily[:{days}] != tb.daily)
        assert bad.size == 0, ("daily", bad[:5].tolist(), daily[bad[0][0]].tolist(), tb.daily[bad[0][0]].tolist())
        want = regions[: {days} * R]
        assert np.array_equal(want[:, 0], np.repeat(np.arange(1, {days} + 1), R))
        assert np.array_equal(want[:, 1], np.tile(np.arange(R), {days}))
        assert np.array_equal(want[:, 2:].reshape({days}, R, 2), tb.regions), "regions"
        print("OK", {days}, R)
        """,
        sim=True,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert res.stdout.startswith("OK"), res.stdout


@needs_numba_cuda
@pytest.mark.parametrize("case", sorted(CASES2))
def test_cuda_simulator_docks_golden2(case, tmp_path):
    """CSM-2 (MODEL.md §8) on the CUDA backend under the simulator, all days of every golden2 case:
    the daily, region and panel tables written by the engine are the golden files, byte for byte."""
    c = CASES2[case]
    out = tmp_path / "out"
    res = _script(
        f"""
        import time
        from credsim import simulate
        from credsim.backends import cuda as kc

        assert kc.SIMULATOR and kc.unavailable_reason() is None
        t0 = time.perf_counter()
        r = simulate({str(SCENARIOS / f"{c['scenario']}.toml")!r}, {c["population"]}, {c["days"]}, {c["seed"]},
                     backend="cuda", panel={c["panel"]})
        r.write_dir({str(out)!r}, parquet=False)
        print("OK", round(time.perf_counter() - t0, 1))
        """,
        sim=True,
        timeout=1200,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert res.stdout.startswith("OK"), res.stdout
    for table in ("daily", "regions", "panel"):
        assert (out / f"{table}.csv").read_bytes() == (GOLDEN2 / f"{case}.{table}.csv").read_bytes(), table


@needs_numba_cuda
def test_cli_backend_cuda_simulator(tmp_path):
    """``python -m credsim run ... --backend cuda`` (the docking command of MODEL.md §7) under the
    simulator writes essay-37's golden daily.csv and regions.csv byte for byte."""
    case = "essay-37"
    c = CASES[case]
    out = tmp_path / "out"
    res = _run(
        [
            "-m",
            "credsim",
            "run",
            str(SCENARIOS / f"{c['scenario']}.toml"),
            "--population",
            str(c["population"]),
            "--days",
            str(c["days"]),
            "--seed",
            str(c["seed"]),
            "--out",
            str(out),
            "--backend",
            "cuda",
            "--quiet",
        ],
        sim=True,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert (out / "daily.csv").read_text() == (GOLDEN / f"{case}.daily.csv").read_text()
    assert (out / "regions.csv").read_text() == (GOLDEN / f"{case}.regions.csv").read_text()


@needs_numba_cuda
def test_simulator_matches_cpu_backend_many_blocks(tmp_path):
    """Day by day against the CPU backend on an odd population (an unpaired last agent), with
    pairs straddling regions, many blocks, several pairs per thread and the histogram extension on
    some days: identical aggregate rows, region sums and state arrays; load_state round-trips;
    plans too wide for the kernel are refused in one line."""
    res = _script(
        f"""
        import numpy as np
        from credsim.errors import CredsimError
        from credsim.backends import cuda as kc
        from credsim.backends.cpu import CpuBackend
        from credsim.kernel.hash import day_key
        from credsim.kernel.layout import C_SUM_P
        from credsim.plan import Histogram, compile_plan
        from credsim.scenario import load

        assert kc.SIMULATOR and kc.unavailable_reason() is None
        kc.SIM_PAIRS_PER_THREAD = 2
        _, sc = load({str(SCENARIOS / "essay.toml")!r})
        plan = compile_plan(sc, 301, 7, Histogram(8, 3))
        cpu, gpu = CpuBackend(plan), kc.CudaBackend(plan)
        assert gpu.n_blocks >= 3, gpu.n_blocks
        cpu.init(); gpu.init()
        for k, v in cpu.state().items():
            assert np.array_equal(v, gpu.state()[k]), ("init", k)
        sum_prev = plan.scenario.score.start * plan.n
        for t in range(1, 13):
            thr = plan.threshold(sum_prev)
            hist_on = t % 3 == 0
            rc, regc = cpu.day(t, thr, day_key(plan.seed, t), hist_on)
            rg, regg = gpu.day(t, thr, day_key(plan.seed, t), hist_on)
            assert np.array_equal(rc, rg), (t, rc.tolist(), rg.tolist())
            assert np.array_equal(regc, regg), t
            if hist_on:
                assert rg[len(plan.columns):].sum() == plan.n
            sum_prev = int(rc[C_SUM_P])
        st = gpu.state()
        for k, v in cpu.state().items():
            assert v.dtype == st[k].dtype and np.array_equal(v, st[k]), ("state", k)
        listed = int(rg[plan.columns.index("listed")])
        assert 0 < listed < plan.n, listed  # the comparison saw blacklist dynamics
        zero = {{k: np.zeros_like(v) for k, v in st.items()}}
        gpu.load_state(zero)
        assert all(not a.any() for a in gpu.state().values())
        gpu.load_state(st)
        assert all(np.array_equal(st[k], a) for k, a in gpu.state().items())
        assert gpu.device_bytes >= plan.n * kc.STATE_BYTES_PER_AGENT
        for hist in (Histogram(kc.MAX_COLS, 1),):
            try:
                kc.CudaBackend(compile_plan(sc, 301, 7, hist))
            except CredsimError as err:
                msg = str(err)
                assert msg.startswith("backend: cuda") and "\\n" not in msg and str(kc.MAX_COLS) in msg, msg
            else:
                raise AssertionError("a plan wider than MAX_COLS was accepted")
        print("OK", gpu.n_blocks)
        """,
        sim=True,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert res.stdout.startswith("OK"), res.stdout


def test_unavailable_is_one_line_error():
    """Without numba-cuda (blocked here) importing credsim.backends.cuda still works and the
    backend refuses with a one-line CredsimError; the numpy 2.5 ``row_stack`` shim restores the
    alias before numba.cuda is imported."""
    res = _script(
        """
        import importlib.abc, sys
        import numpy as np

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "numba_cuda" or name.startswith(("numba_cuda.", "numba.cuda")):
                    raise ImportError("blocked for the test: " + name)

        sys.meta_path.insert(0, Block())
        if hasattr(np, "row_stack"):
            del np.row_stack  # as in numpy >= 2.5
        from credsim.errors import CredsimError
        from credsim.backends import cuda as kc
        from credsim.plan import compile_plan
        from credsim.scenario import load

        assert np.row_stack is np.vstack
        assert kc.cuda is None
        _, sc = load("essay")
        try:
            kc.CudaBackend(compile_plan(sc, 10, 1))
        except CredsimError as err:
            msg = str(err)
            assert msg.startswith("backend: cuda is not available") and "\\n" not in msg, msg
            assert "numba-cuda" in msg, msg
        else:
            raise AssertionError("CudaBackend constructed without numba-cuda")
        from credsim.engine import make_backend
        try:
            make_backend(compile_plan(sc, 10, 1), "cuda")
        except CredsimError:
            pass
        else:
            raise AssertionError("make_backend(cuda) without numba-cuda")
        print("OK")
        """,
        sim=False,
    )
    assert res.returncode == 0 and res.stdout.startswith("OK"), res.stdout[-2000:] + res.stderr[-3000:]


@needs_numba_cuda
def test_no_gpu_is_one_line_error():
    """With numba-cuda but no GPU (and no simulator), the backend refuses in one line."""
    res = _script(
        """
        from credsim.errors import CredsimError
        from credsim.backends import cuda as kc
        from credsim.plan import compile_plan
        from credsim.scenario import load

        if kc.unavailable_reason() is None:
            print("SKIP a CUDA GPU is present")
            raise SystemExit(0)
        _, sc = load("essay")
        try:
            kc.CudaBackend(compile_plan(sc, 10, 1))
        except CredsimError as err:
            msg = str(err)
            assert msg.startswith("backend: cuda is not available") and "\\n" not in msg, msg
        else:
            raise AssertionError("CudaBackend constructed without a GPU")
        print("OK")
        """,
        sim=False,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    if res.stdout.startswith("SKIP"):
        pytest.skip(res.stdout.strip()[5:])
    assert res.stdout.startswith("OK"), res.stdout


@needs_numba_cuda
def test_kernels_compile_to_ptx():
    """The real kernels type-check and lower for sm_90 (H100/H200) without a GPU, when libnvvm
    (and libnvrtc, which numba-cuda asks for the supported architectures) can be found;
    skipped otherwise. The per-agent functions must be inlined: no calls left in the PTX."""
    res = _script(
        """
        import sys
        from credsim.kernel.cuda_kernels import compile_ptx

        try:
            ptx = compile_ptx((9, 0))
        except Exception as err:
            text = f"{type(err).__name__}: {err}"
            if any(s in text for s in ("nvvm", "NVVM", "nvrtc", "NVRTC", "DynamicLibNotFound", "CUDA_HOME")):
                print("SKIP no libnvvm/libnvrtc here:", text.splitlines()[0][:200])
                sys.exit(0)
            raise
        for name in ("day_kernel", "init_kernel", "reset_kernel", "sum_public0_kernel", "day_kernel_extended"):
            text = ptx[name]
            assert ".target sm_90" in text and ".entry" in text, name
            assert "call.uni" not in text and "call " not in text, name
        print("OK", {k: len(v) for k, v in ptx.items()})
        """,
        sim=False,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    if res.stdout.startswith("SKIP"):
        pytest.skip(res.stdout.strip()[5:])
    assert res.stdout.startswith("OK"), res.stdout


@needs_numba_cuda
def test_simulator_shared_arrays_are_one_per_block():
    """numba-cuda's simulator hands out a block's ``cuda.shared.array`` without a lock, so two
    simulated threads could get two arrays and the day kernel's block sums lost additions (the
    golden cases failed in ~4% of simulator runs). A tiny kernel where every thread takes the
    shared array and adds 1 atomically: with a thread switch forced at the allocation (a profile
    hook sleeps on ``np.empty``: a legal, if unlucky, schedule) the simulator's own method loses
    additions; credsim's replacement (installed by importing credsim.backends.cuda under the
    simulator) never does, with that switch forced and in a few hundred ordinary launches."""
    res = _script(
        """
        import sys, threading, time
        import numpy as np
        from numba import cuda
        from numba.cuda.simulator import kernelapi
        from credsim.backends import cuda as kc
        from credsim.kernel import cudasim_fix

        assert kc.SIMULATOR and getattr(kernelapi.FakeCUDAShared.array, "credsim_locked", False)
        TPB = 16

        @cuda.jit
        def count(out):
            tx = cuda.threadIdx.x
            a = cuda.shared.array(1, np.int64)
            b = cuda.shared.array(2, np.int64)
            if tx == 0:
                a[0] = 0
                b[0] = 0
                b[1] = 0
            cuda.syncthreads()
            cuda.atomic.add(a, 0, 1)
            cuda.atomic.add(b, 1, 2)
            cuda.syncthreads()
            if tx == 0:
                bx = cuda.blockIdx.x
                out[bx, 0] = a[0]
                out[bx, 1] = b[1]
                out[bx, 2] = b[0]

        def lost(launches):
            out = np.zeros((2, 3), np.int64)
            bad = 0
            for _ in range(launches):
                count[2, TPB](out)
                bad += out.tolist() != [[TPB, 2 * TPB, 0]] * 2
            return bad

        def forced_switch(frame, event, arg):
            if event == "c_call" and arg is np.empty:
                time.sleep(0.0005)  # let the other simulated threads run while this one allocates

        threading.setprofile(forced_switch)  # applies to the simulator's threads, started later
        cudasim_fix.uninstall()
        unpatched = lost(20)
        cudasim_fix.install()
        patched = lost(20)
        threading.setprofile(None)
        sys.setswitchinterval(1e-6)
        t0 = time.perf_counter()
        ordinary = lost(300)
        print("OK", unpatched, patched, ordinary, round(time.perf_counter() - t0, 1))
        """,
        sim=True,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert res.stdout.startswith("OK"), res.stdout
    unpatched, patched, ordinary = map(int, res.stdout.split()[1:4])
    assert unpatched >= 1, "the simulator's own shared arrays did not race even with a forced switch"
    assert patched == 0 and ordinary == 0, res.stdout
