"""Where a CSM-1 day goes: the CPU day loop with steps of MODEL.md §4 switched off, side by side.

Builds kernel variants from benchmarks/step_variant.py (a copy of the project's step functions with
a compile-time switch per step), checks that the all-on variant and every prototype reproduce the
project kernel's tables exactly, then times, in interleaved rounds, the project kernel, the floor
(benchmarks/floor.py) and each variant on the same initial state and the same thresholds. A
variant's saving over the all-on copy, as a share of its time, is what the step costs when it is
removed alone (steps interact, so the savings need not add up to the total).

Variants compile once (about one kernel compile each, ~1 min on a quiet core) and are cached
under ~/.cache/credsim/profile (or $CREDSIM_CACHE_DIR/profile), keyed by the template's source.

Usage: python benchmarks/profile_steps.py [-n 1e7] [-d 10] [--rounds 3] [--threads T] [--only a,b]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import re
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from floor import Floor  # noqa: E402

#: name → (switches changed from the template, what it removes or changes)
VARIANTS: dict[str, tuple[dict[str, object], str]] = {
    "all-on": ({}, "the copy, every step on (must match the project kernel)"),
    "-events": ({"S_EVENTS": False}, "steps 2, 3, 6: behaviour, detection, forced"),
    "-false": ({"S_FALSE": False}, "step 4: wrongful attribution"),
    "-association": ({"S_ASSOC": False}, "step 5: association (8 contacts' flags, 10% of agent-days)"),
    "-recovery": ({"S_RECOVERY": False}, "step 5: recovery"),
    "-spouse": ({"S_SPOUSE": False}, "step 7: public score from both spouses"),
    "-blacklist": ({"S_BLACKLIST": False}, "step 8: entries and exits"),
    "-activity": ({"S_ACTIVITY": False}, "step 9: activity and denial"),
    "-stress": ({"S_STRESS": False}, "step 10: stress (byte not read or written)"),
    "-daily": ({"S_DAILY": False}, "daily-table sums and counts (§5) but the channel/activity counts"),
    "-region-sums": ({"S_REGION_SUMS": False}, "the region table's sums"),
    "-extensions": ({"S_EXT": False}, "tests for participation, grades, histogram (all off in essay)"),
    "skeleton": (
        {k: False for k in ("S_EVENTS", "S_FALSE", "S_ASSOC", "S_RECOVERY", "S_SPOUSE", "S_BLACKLIST",
                            "S_ACTIVITY", "S_STRESS", "S_DAILY", "S_REGION_SUMS", "S_EXT")},
        "every switch off: hashes, own and flags read and written, chunk rows",
    ),  # fmt: skip
    "proto:unsigned": ({"P_UNSIGNED": True}, "prototype: unsigned state indices (no wraparound test)"),
    "proto:local-sums": ({"P_LOCAL_SUMS": True}, "prototype: §5 sums in locals, one row write per chunk"),
    "proto:both": ({"P_UNSIGNED": True, "P_LOCAL_SUMS": True}, "prototype: the two above together"),
    "proto:llvm-inline": ({"INLINE": "never"}, "prototype: agent_score/agent_finish inlined by LLVM, not numba"),
}
#: run by default: every step whose removal could matter, and the prototypes worth a compile each
DEFAULT = ["all-on", "-events", "-false", "-association", "-blacklist", "-activity", "-stress", "-daily",
           "-region-sums", "skeleton", "proto:unsigned", "proto:local-sums"]  # fmt: skip
EXACT = {"all-on", "proto:unsigned", "proto:local-sums", "proto:both", "proto:llvm-inline"}  # must give the project's tables

TEMPLATE = HERE / "step_variant.py"


def _cache_root() -> Path:
    base = os.environ.get("CREDSIM_CACHE_DIR") or Path.home() / ".cache" / "credsim"
    return Path(base) / "profile"


def variant_source(switches: dict[str, object]) -> str:
    """The template with its switch block rewritten."""
    src = TEMPLATE.read_text()
    for name, value in switches.items():
        src, n = re.subn(rf"^{name} = [^#\n]*", f"{name} = {value!r} ", src, count=1, flags=re.M)
        if n != 1:
            raise SystemExit(f"profile_steps: switch {name} not found in {TEMPLATE.name}")
    return src


def load_variant(name: str):
    """Write (once) and import the module of variant `name`; numba caches it beside the file."""
    src = variant_source(VARIANTS[name][0])
    digest = hashlib.sha256(b"2" + src.encode() + Path(sys.modules["credsim"].__file__).parent.joinpath(
        "kernel", "hash.py").read_bytes()).hexdigest()[:16]  # fmt: skip
    path = _cache_root() / f"v_{digest}.py"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(src)
        tmp.replace(path)
    name = f"_credsim_variant_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # numba records the module's name in its cache and imports it on load
    spec.loader.exec_module(mod)
    return mod


class Bench:
    """One population's plan and state, run by the project kernel, by a variant module or by the floor."""

    def __init__(self, scenario: str, n: int, days: int, threads: int | None, seed: int = 1):
        from credsim.kernel.backend import CpuBackend
        from credsim.plan import compile_plan
        from credsim.scenario.loader import load

        self.plan = compile_plan(load(scenario)[1], n, seed)
        self.n, self.days, self.seed = n, days, seed
        self.be = CpuBackend(self.plan, threads=threads)
        self.floor = Floor(n, threads)
        self.thresholds: list[int] = []
        self.rows: list[np.ndarray] = []

    def project(self) -> tuple[float, float]:
        """Run the project kernel (credsim.kernel.cpu) for days 1..D from day 0; records its
        thresholds and rows for the variants. Returns the day loop's (wall, CPU) seconds."""
        from credsim.kernel.hash import day_key

        be, plan = self.be, self.plan
        be.init()
        sum_prev = plan.scenario.score.start * plan.n
        thresholds, rows = [], []
        t0, c0 = time.perf_counter(), time.process_time()
        for t in range(1, self.days + 1):
            threshold = plan.threshold(sum_prev)
            row, reg = be.day(t, threshold, day_key(self.seed, t), False)
            sum_prev = int(row[0])
            thresholds.append(threshold)
            rows.append(np.concatenate([row, reg.ravel()]))
        dt = time.perf_counter() - t0, time.process_time() - c0
        self.thresholds, self.rows = thresholds, rows
        return dt

    def variant(self, mod) -> tuple[tuple[float, float], list[np.ndarray]]:
        """Run a variant for days 1..D from day 0 on the project's thresholds; ((wall, CPU) s, rows)."""
        from credsim.kernel.hash import day_key
        from credsim.kernel.backend import reduce_rows

        be, plan = self.be, self.plan
        lay = plan.layout
        be.init()
        rows = []
        t0, c0 = time.perf_counter(), time.process_time()
        for t in range(1, self.days + 1):
            mod.run_day(
                t, self.thresholds[t - 1], np.uint64(day_key(self.seed, t)), False, be.lo, be.hi, be.chunk,
                be.own, be.flags, be.since, be.stress, be.halo, plan.ip, plan.beh, plan.chan, plan.act,
                lay.starts, lay.sizes, plan.amod, be.acc, be.racc,
            )  # fmt: skip
            rows.append(np.concatenate([reduce_rows(be.acc), be.racc.sum(axis=0)]))
        return (time.perf_counter() - t0, time.process_time() - c0), rows

    def compile(self, mod) -> None:
        """Compile (or load from cache) a variant's day kernel with a no-op day, as CpuBackend does."""
        be, plan = self.be, self.plan
        lay = plan.layout
        mod.run_day(
            0, 0, np.uint64(0), False, be.lo, be.lo, be.chunk, be.own, be.flags, be.since, be.stress,
            be.halo, plan.ip, plan.beh, plan.chan, plan.act, lay.starts, lay.sizes, plan.amod, be.acc[:0], be.racc[:0],
        )  # fmt: skip

    def floor_s(self) -> tuple[float, float]:
        return self.floor.run_timed(self.days)


def _spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3g} [{min(xs):.3g}..{max(xs):.3g}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--population", type=float, default=1e7)
    ap.add_argument("-d", "--days", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--scenario", default="essay")
    ap.add_argument("--only", default="", help="comma-separated variant names (default: DEFAULT; 'all': every one)")
    ap.add_argument("--list", action="store_true", help="list the variants and exit")
    args = ap.parse_args()
    if args.list:
        for name, (_, what) in VARIANTS.items():
            print(f"{name:18} {what}")
        return
    names = list(VARIANTS) if args.only == "all" else [v for v in args.only.split(",") if v] or list(DEFAULT)
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        ap.error(f"--only: unknown variant(s) {', '.join(unknown)} (see --list)")
    if "all-on" not in names:
        names.insert(0, "all-on")
    n = int(args.population)

    import numba
    from numba.core.errors import NumbaIRAssumptionWarning

    bench = Bench(args.scenario, n, args.days, args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaIRAssumptionWarning)
        bench.be.init()  # project kernel: compile or load
        mods = {}
        for name in names:
            t0 = time.perf_counter()
            mods[name] = load_variant(name)
            bench.compile(mods[name])
            print(f"# {name}: ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    # exactness: the all-on copy and the prototypes give the project's rows, byte for byte
    bench.project()
    for name in names:
        if name in EXACT:
            _, rows = bench.variant(mods[name])
            if not all(np.array_equal(a, b) for a, b in zip(rows, bench.rows)):
                raise SystemExit(f"profile_steps: variant {name} does not reproduce the project kernel's tables")
    steps = n * args.days
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in ["project", "floor", *names]}
    for rnd in range(args.rounds):
        order = ["floor", "project", *names]
        order = order[rnd % len(order):] + order[: rnd % len(order)]  # rotate: no variant always first
        for name in order:
            if name == "project":
                times[name].append(bench.project())
            elif name == "floor":
                times[name].append(bench.floor_s())
            else:
                times[name].append(bench.variant(mods[name])[0])
    threads = numba.get_num_threads()
    print(f"{args.scenario} N={n:.3g} D={args.days} threads={threads}, {args.rounds} rounds, median [min..max]. "
          f"Rates per CPU-second (process CPU time: steady on a shared machine) and per wall second;")
    print("'saves': 1 - time / all-on's time in the same round, by CPU time and by wall time")
    print(f"{'variant':18} {'agent-steps per CPU-s':>28} {'of floor':>8} {'saves (CPU)':>20} {'saves (wall)':>13}"
          f" {'agent-steps/s (wall)':>28}  removes / changes")  # fmt: skip
    full = times["all-on"]
    for name in ["floor", "project", *names]:
        cpu = [steps / c for _, c in times[name]]
        wall = [steps / w for w, _ in times[name]]
        of_floor = statistics.median(f[1] / c for (_, c), f in zip(times[name], times["floor"]))
        save_c = [1 - c / a[1] for (_, c), a in zip(times[name], full)]
        save_w = [1 - w / a[0] for (w, _), a in zip(times[name], full)]
        what = "the floor kernel" if name == "floor" else (
            "credsim.kernel.cpu" if name == "project" else VARIANTS[name][1])  # fmt: skip
        if name in ("floor", "all-on"):
            sc = sw = ""
        else:
            sc = f"{100 * statistics.median(save_c):+.1f}% [{100 * min(save_c):+.0f}..{100 * max(save_c):+.0f}]"
            sw = f"{100 * statistics.median(save_w):+.1f}%"
        print(f"{name:18} {_spread(cpu):>28} {of_floor:8.3f} {sc:>20} {sw:>13} {_spread(wall):>28}  {what}")

if __name__ == "__main__":
    main()
