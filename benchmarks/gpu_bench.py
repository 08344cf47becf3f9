"""credsim on one NVIDIA GPU: docking on the golden cases, then the essay day loop at scale.

Run through ``benchmarks/gpu.sh`` (which picks a Python and sets PYTHONPATH). Steps:

1. **Docking**: every case of ``tests/golden/cases.toml`` (copies of ../shared/golden, so they
   travel with the repo) runs on ``--backend cuda`` through the engine; its daily.csv and
   regions.csv text (the writer the CLI uses) must equal the golden files byte for byte.
2. **Copy bandwidth**: a device-to-device ``cuMemcpyDtoD`` and a numba copy kernel over a large
   buffer, timed with CUDA events: the memory bandwidth this GPU actually reaches.
3. **Scale**: essay at each ``--sizes`` population (default 1e8 and 1.4e9), ``--days`` days
   (default 20): per-day milliseconds, agent-steps/s, achieved bandwidth (state bytes read and
   written per day, 2 x 6 x N, over the day's time) against the copy, and device bytes per agent.
   A short launch sweep (threads per block x waves) at the first size picks the configuration.

Needs numpy, numba, numba-cuda and pydantic (scenario validation builds the Plans); not pandas,
pyarrow, typer, rich or duckdb. tomli_w (used only to write canonical scenario TOML) is stubbed
when missing. Installs nothing and needs no network.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
import tomllib
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
SCENARIOS = ROOT / "tests" / "scenarios"
sys.path.insert(0, str(ROOT))


def fail(msg: str, code: int = 2) -> None:
    print(f"gpu_bench: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def preflight() -> None:
    """Stop with one clear line when a package the kernel path needs is missing."""
    for mod, why in (("numpy", "arrays"), ("numba", "the kernels")):
        if importlib.util.find_spec(mod) is None:
            fail(f"{mod} is not installed ({why}); nothing was run")
    if importlib.util.find_spec("pydantic") is None:
        fail(
            "pydantic is not installed: credsim validates scenarios with pydantic (credsim.scenario) and "
            "builds the kernel's Plans from them (credsim.plan), so no run can be set up here. Install pydantic "
            "(e.g. pip install 'pydantic>=2', or the wheel from another machine with pip install --no-index) "
            "and rerun; nothing was run"
        )
    if importlib.util.find_spec("tomli_w") is None:
        # credsim.scenario.loader imports tomli_w at module level, only to *write* canonical TOML
        stub = types.ModuleType("tomli_w")

        def dumps(*_a, **_k):
            raise RuntimeError("tomli_w is not installed (stubbed by benchmarks/gpu_bench.py)")

        stub.dumps = dumps
        sys.modules["tomli_w"] = stub
        print("note: tomli_w missing; stubbed (not needed to run scenarios)")


def versions() -> str:
    import numba
    import numpy as np

    out = [f"python {sys.version.split()[0]}", f"numpy {np.__version__}", f"numba {numba.__version__}"]
    try:
        from importlib.metadata import version

        out.append(f"numba-cuda {version('numba-cuda')}")
    except Exception:  # noqa: BLE001
        out.append("numba-cuda ?")
    return ", ".join(out)


def dock(kc, names: list[str]) -> bool:
    """Golden cases on the CUDA backend; True when every file is identical."""
    from credsim.engine import run_plan
    from credsim.plan import compile_plan
    from credsim.results.run import REGION_COLUMNS, csv_text, region_rows
    from credsim.scenario import load

    cases = tomllib.loads((GOLDEN / "cases.toml").read_text())
    ok = True
    for name in names:
        c = cases[name]
        _, sc = load(SCENARIOS / f"{c['scenario']}.toml")
        t0 = time.perf_counter()
        tb = run_plan(compile_plan(sc, c["population"], c["seed"]), c["days"], "cuda")
        got = {"daily": csv_text(tb.columns, tb.daily), "regions": csv_text(REGION_COLUMNS, region_rows(tb))}
        verdicts = []
        for table, text in got.items():
            want = (GOLDEN / f"{name}.{table}.csv").read_text()
            if text == want:
                verdicts.append(f"{table} identical")
            else:
                ok = False
                a, b = want.splitlines(), text.splitlines()
                line = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
                verdicts.append(f"{table} DIFFERS from line {line + 1}")
        print(
            f"  {name:14s} N={c['population']:<6} days={c['days']:<3} {', '.join(verdicts)} "
            f"({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
    return ok


def copy_bandwidth(kc, nbytes: int) -> float:
    """Best GB/s (bytes read + written) of a device-to-device copy of ``nbytes``: memcpy and a kernel."""
    import numpy as np

    cuda = kc.cuda
    words = nbytes // 8
    src = cuda.device_array(words, np.uint64)
    dst = cuda.device_array(words, np.uint64)

    @cuda.jit
    def copy_kernel(a, b):
        i = cuda.grid(1)
        stride = cuda.gridsize(1)
        while i < a.shape[0]:
            b[i] = a[i]
            i += stride

    n_sm = cuda.get_current_device().MULTIPROCESSOR_COUNT
    results = {}
    for label, fn in (
        ("memcpy DtoD", lambda: dst.copy_to_device(src)),
        ("numba copy kernel", lambda: copy_kernel[n_sm * 8, 512](src, dst)),
    ):
        fn()  # warm (and compile)
        cuda.synchronize()
        best = float("inf")
        for _ in range(5):
            e0, e1 = cuda.event(), cuda.event()
            e0.record()
            fn()
            e1.record()
            e1.synchronize()
            best = min(best, cuda.event_elapsed_time(e0, e1) / 1e3)
        results[label] = 2 * words * 8 / best / 1e9
        print(
            f"  {label:18s} {words * 8 / 2**30:.1f} GiB: {best * 1e3:7.2f} ms = {results[label]:7.0f} GB/s "
            "(read + write)",
            flush=True,
        )
    del src, dst
    return max(results.values())


def run_days(kc, plan, days: int, **launch):
    """init + ``days`` days of the engine's loop on a fresh CudaBackend; per-day seconds and the backend."""
    from credsim.kernel.hash import day_key
    from credsim.kernel.layout import C_SUM_P

    cuda = kc.cuda
    free0, _ = cuda.current_context().get_memory_info()
    t0 = time.perf_counter()
    be = kc.CudaBackend(plan, **launch)
    be.init()
    setup = time.perf_counter() - t0
    free1, _ = cuda.current_context().get_memory_info()
    per_day = []
    sum_prev = plan.scenario.score.start * plan.n
    row = None
    for t in range(1, days + 1):
        threshold = plan.threshold(sum_prev)
        t1 = time.perf_counter()
        row, _reg = be.day(t, threshold, day_key(plan.seed, t), False)  # ends with the D2H copy: synchronised
        per_day.append(time.perf_counter() - t1)
        sum_prev = int(row[C_SUM_P])
    return be, setup, per_day, free0 - free1, row


def sweep(kc, plan, days: int = 4):
    """ms/day over a few launch configurations at this size; returns the best kwargs."""
    best, best_ms = {}, float("inf")
    for tpb in (128, 256):
        for waves in (1, 2, 4, 8):
            be, _setup, per_day, _used, _row = run_days(kc, plan, days, threads_per_block=tpb, waves=waves)
            ms = statistics.median(per_day[1:] or per_day) * 1e3
            print(
                f"  threads/block {tpb:4d} waves {waves}: {be.n_blocks:6d} blocks x {be.pairs_per_block:6d} pairs, "
                f"{ms:8.2f} ms/day",
                flush=True,
            )
            if ms < best_ms:
                best, best_ms = {"threads_per_block": tpb, "waves": waves}, ms
            del be
    print(f"  best: {best}", flush=True)
    return best


def scale(kc, n: int, days: int, copy_gbs: float, launch: dict) -> None:
    from credsim.plan import compile_plan
    from credsim.scenario import load

    _, sc = load(SCENARIOS / "essay.toml")
    plan = compile_plan(sc, n, 1)
    be, setup, per_day, used, row = run_days(kc, plan, days, **launch)
    ms = [d * 1e3 for d in per_day]
    steady = ms[1:] or ms
    med = statistics.median(steady) / 1e3
    moved = 2 * kc.STATE_BYTES_PER_AGENT * n  # each agent's 6 state bytes read and written once a day
    gbs = moved / med / 1e9
    print(
        f"essay N={n:.3g} x {days} days  (launch: {be.n_blocks} blocks x {be.tpb} threads, "
        f"{be.pairs_per_block} pairs/block; regs/thread {be.regs_per_thread})"
    )
    print(f"  set-up (alloc + init + compile if first): {setup:.2f} s")
    print("  per-day ms: " + " ".join(f"{x:.2f}" for x in ms))
    print(
        f"  per-day ms: min {min(steady):.2f}  median {statistics.median(steady):.2f}  max {max(steady):.2f} "
        f"(day 1 excluded)  total {sum(ms) / 1e3:.3f} s"
    )
    print(f"  agent-steps/s: {n / med:.3g}   (365 days would take {365 * med:.1f} s)")
    print(
        f"  achieved state bandwidth: {gbs:.0f} GB/s = {100 * gbs / copy_gbs:.0f}% of the device copy "
        f"({copy_gbs:.0f} GB/s)"
    )
    print(
        f"  device bytes/agent: {be.device_bytes / n:.3f} held by the backend (state "
        f"{kc.STATE_BYTES_PER_AGENT} B/agent + tables), {used / n:.3f} measured as free-memory drop "
        "(includes the kernel's local-memory reservation)"
    )
    print(f"  day {days}: listed {row[plan.columns.index('listed')]:,}, sum_public {row[0]:,}", flush=True)
    del be


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1e8,1.4e9", help="comma-separated populations (default 1e8,1.4e9)")
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--cases", default="all", help="golden cases to dock (comma-separated, 'all' or 'none')")
    ap.add_argument("--copy-gib", type=float, default=2.0, help="buffer size of the copy-bandwidth test")
    ap.add_argument("--no-sweep", action="store_true", help="skip the launch-configuration sweep")
    args = ap.parse_args()

    preflight()
    print(versions(), flush=True)
    from credsim.backends import cuda as kc  # applies the numpy row_stack shim before numba.cuda

    reason = kc.unavailable_reason()
    if reason is not None:
        fail(reason)
    if kc.SIMULATOR:
        fail("NUMBA_ENABLE_CUDASIM is set: this benchmark needs a real GPU (the test suite covers the simulator)")
    dev = kc.cuda.get_current_device()
    free, total = kc.cuda.current_context().get_memory_info()
    name = dev.name.decode() if isinstance(dev.name, bytes) else dev.name
    print(
        f"device: {name}, compute capability {dev.compute_capability}, {dev.MULTIPROCESSOR_COUNT} SMs, "
        f"{total / 2**30:.1f} GiB ({free / 2**30:.1f} GiB free)",
        flush=True,
    )

    ok = True
    if args.cases != "none":
        names = list(tomllib.loads((GOLDEN / "cases.toml").read_text())) if args.cases == "all" else args.cases.split(",")
        print(f"docking ({len(names)} golden cases, tests/golden):", flush=True)
        t0 = time.perf_counter()
        ok = dock(kc, names)
        print(
            f"docking: {'PASS' if ok else 'FAIL'} ({time.perf_counter() - t0:.1f} s, first case includes compile)",
            flush=True,
        )

    print("device-to-device copy:", flush=True)
    copy_gbs = copy_bandwidth(kc, int(args.copy_gib * 2**30))

    sizes = [int(float(s)) for s in args.sizes.split(",") if s]
    launch: dict = {}
    if sizes and not args.no_sweep:
        from credsim.plan import compile_plan
        from credsim.scenario import load

        _, sc = load(SCENARIOS / "essay.toml")
        n0 = min(sizes)
        print(f"launch sweep (essay N={n0:.3g}, 4 days each):", flush=True)
        launch = sweep(kc, compile_plan(sc, n0, 1))
    for n in sizes:
        need = n * kc.STATE_BYTES_PER_AGENT
        free, _ = kc.cuda.current_context().get_memory_info()
        if need > free:
            print(f"essay N={n:.3g}: skipped, needs {need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free", flush=True)
            continue
        scale(kc, n, args.days, copy_gbs, launch)
    if not ok:
        fail("docking FAILED: the CUDA backend does not reproduce the golden tables", 1)


if __name__ == "__main__":
    main()
