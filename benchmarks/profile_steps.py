"""Where a CSM-1 day goes: the CPU day loop with steps of MODEL.md §4 switched off, side by side.

Builds kernel variants from benchmarks/step_variant.py (a copy of the project's step functions with
a compile-time switch per step). Each of them, the project kernel and the floor (benchmarks/floor.py)
gets its own state; day by day, in an order that rotates, each runs that day (variants on the
project kernel's threshold of the day), so every comparison is between runs a second apart and
a burst of other work on the machine hits them alike. The all-on copy and every prototype must
reproduce the project kernel's rows exactly, every day. A variant's saving, 1 - its time / the
all-on copy's time on the same day, is what its step costs when removed alone (steps interact,
so the savings need not add up to the total). Times are process CPU time (the cycles this process
got: steady on a shared machine) and wall time; medians and quartiles over days x rounds.

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

MODULE = "module"
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
        {
            k: False
            for k in (
                "S_EVENTS",
                "S_FALSE",
                "S_ASSOC",
                "S_RECOVERY",
                "S_SPOUSE",
                "S_BLACKLIST",
                "S_ACTIVITY",
                "S_STRESS",
                "S_DAILY",
                "S_REGION_SUMS",
                "S_EXT",
            )
        },
        "every switch off: hashes, own and flags read and written, chunk rows",
    ),
    "proto:unsigned": ({"P_UNSIGNED": True}, "prototype: unsigned state indices (no wraparound test)"),
    "proto:local-sums": ({"P_LOCAL_SUMS": True}, "prototype: §5 sums in locals, one row write per chunk"),
    "proto:both": ({"P_UNSIGNED": True, "P_LOCAL_SUMS": True}, "prototype: the two above together"),
    "proto:llvm-inline": ({"INLINE": "never"}, "prototype: agent_score/agent_finish inlined by LLVM, not numba"),
    # a variant given as a module of benchmarks/ rather than as switches of the template
    "proto:region-regs": ({MODULE: "proto_region"}, "prototype: region sums in registers, flushed on a region change"),
}
#: run by default: every step whose removal could matter, and the prototypes worth a compile each
DEFAULT = [
    "all-on",
    "-events",
    "-false",
    "-association",
    "-blacklist",
    "-activity",
    "-stress",
    "-daily",
    "-region-sums",
    "skeleton",
    "proto:unsigned",
    "proto:local-sums",
    "proto:region-regs",
]
EXACT = {"all-on", "proto:unsigned", "proto:local-sums", "proto:both", "proto:llvm-inline", "proto:region-regs"}  # must give the project's tables

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
    if MODULE in VARIANTS[name][0]:
        return importlib.import_module(VARIANTS[name][0][MODULE])
    src = variant_source(VARIANTS[name][0])
    digest = hashlib.sha256(
        b"2" + src.encode() + Path(sys.modules["credsim"].__file__).parent.joinpath("kernel", "hash.py").read_bytes()
    ).hexdigest()[:16]
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


class Runner:
    """One kernel's own state for the population, as :class:`credsim.backends.cpu.CpuBackend` lays it out."""

    def __init__(self, name: str, plan, threads: int | None, mod=None):
        from credsim.backends.cpu import CpuBackend

        self.name, self.plan, self.mod = name, plan, mod
        self.be = CpuBackend(plan, threads=threads)
        self.times: list[tuple[float, float]] = []  # (wall, CPU) seconds per day, over rounds

    def start(self) -> None:
        """Day-0 state (compiles or loads the project kernel; a variant's kernel by a no-op day)."""
        self.be.init()
        if self.mod is not None:
            self._call(0, 0, 0, self.be.lo, self.be.acc[:0], self.be.racc[:0])

    def _call(self, t, threshold, key, hi, acc, racc) -> None:
        be, plan = self.be, self.plan
        lay = plan.layout
        self.mod.run_day(
            t,
            threshold,
            np.uint64(key),
            False,
            be.lo,
            hi,
            be.chunk,
            be.own,
            be.flags,
            be.since,
            be.stress,
            be.halo,
            plan.ip,
            plan.beh,
            plan.chan,
            plan.act,
            lay.starts,
            lay.sizes,
            plan.amod,
            acc,
            racc,
        )

    def day(self, t: int, threshold: int, key: int) -> np.ndarray:
        """Run day t, timed; returns the day's aggregate row and region sums, flattened."""
        from credsim.backends.base import reduce_rows

        be = self.be
        w0, c0 = time.perf_counter(), time.process_time()
        if self.mod is None:
            row, reg = be.day(t, threshold, key, False)
            out = np.concatenate([row, reg.ravel()])
        else:
            self._call(t, threshold, key, be.hi, be.acc, be.racc)
            out = np.concatenate([reduce_rows(be.acc), be.racc.sum(axis=0)])
        self.times.append((time.perf_counter() - w0, time.process_time() - c0))
        return out


class FloorRunner:
    """The floor, timed day by day like a :class:`Runner`."""

    def __init__(self, n: int, threads: int | None):
        self.name, self.n, self.threads = "floor", n, threads
        self.floor = Floor(n, threads)
        self.times: list[tuple[float, float]] = []

    def start(self) -> None:
        self.floor = Floor(self.n, self.threads)

    def day(self, t: int, threshold: int, key: int) -> None:
        w0, c0 = time.perf_counter(), time.process_time()
        self.floor.day(t)
        self.times.append((time.perf_counter() - w0, time.process_time() - c0))


def _q(xs: list[float], fmt: str = ".3g", pct: bool = False) -> str:
    """median [lower quartile..upper quartile]"""
    if pct:
        xs = [100 * x for x in xs]
    q1, med, q3 = statistics.quantiles(xs, n=4) if len(xs) > 1 else (xs[0],) * 3
    sign = "+" if pct else ""
    unit = "%" if pct else ""
    return f"{med:{sign}{fmt}}{unit} [{q1:{sign}.0f}..{q3:{sign}.0f}]" if pct else f"{med:{fmt}} [{q1:{fmt}}..{q3:{fmt}}]"


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
    if n < 2 or args.days < 1 or args.rounds < 1:
        ap.error("population must be at least 2, days and rounds at least 1")

    import numba
    from numba.core.errors import NumbaIRAssumptionWarning

    from credsim.kernel.hash import day_key
    from credsim.plan import compile_plan
    from credsim.scenario.loader import load

    plan = compile_plan(load(args.scenario)[1], n, 1)
    project = Runner("project", plan, args.threads)
    runners = [FloorRunner(n, args.threads), project]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaIRAssumptionWarning)
        project.start()  # project kernel: compile or load
        for name in names:
            t0 = time.perf_counter()
            runner = Runner(name, plan, args.threads, load_variant(name))
            runner.start()
            runners.append(runner)
            print(f"# {name}: ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    by_name = {r.name: r for r in runners}
    for rnd in range(args.rounds):
        for r in runners:
            r.start()
        sum_prev = plan.scenario.score.start * plan.n
        for t in range(1, args.days + 1):
            threshold, key = plan.threshold(sum_prev), day_key(1, t)
            k = (rnd * args.days + t) % len(runners)
            ref = project.day(t, threshold, key)  # first: the others need its threshold tomorrow
            for r in runners[k:] + runners[:k]:
                if r is project:
                    continue
                out = r.day(t, threshold, key)
                if r.name in EXACT and not np.array_equal(out, ref):
                    raise SystemExit(f"profile_steps: variant {r.name} does not reproduce the project kernel's day {t}")
            sum_prev = int(ref[0])
    threads = numba.get_num_threads()
    print(f"{args.scenario} N={n:.3g} D={args.days} threads={threads}, {args.rounds} rounds x {args.days} days "
          "interleaved day by day; median [quartiles] over days x rounds.")
    print(
        "'saves' = 1 - time / the all-on copy's time on the same day; 'of floor' = the floor's time / time "
        "on the same day. CPU: process CPU time; wall: elapsed."
    )
    print(
        f"{'variant':18} {'agent-steps per CPU-s':>30} {'of floor (CPU)':>22} {'saves (CPU)':>16} "
        f"{'saves (wall)':>16} {'agent-steps/s (wall)':>30}  removes / changes"
    )
    full, floor_t = by_name["all-on"].times, by_name["floor"].times
    for r in runners:
        cpu = [n / c for _, c in r.times]
        wall = [n / w for w, _ in r.times]
        of_floor = [f[1] / x[1] for x, f in zip(r.times, floor_t)]
        what = (
            "the floor kernel"
            if r.name == "floor"
            else ("credsim.kernel.cpu" if r.name == "project" else VARIANTS[r.name][1])
        )
        if r.name in ("floor", "all-on"):
            sc = sw = ""
        else:
            sc = _q([1 - x[1] / a[1] for x, a in zip(r.times, full)], ".1f", pct=True)
            sw = _q([1 - x[0] / a[0] for x, a in zip(r.times, full)], ".1f", pct=True)
        print(f"{r.name:18} {_q(cpu):>30} {_q(of_floor, '.3f'):>22} {sc:>16} {sw:>16} {_q(wall):>30}  {what}")


if __name__ == "__main__":
    main()
