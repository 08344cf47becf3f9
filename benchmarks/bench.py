"""`make bench`: the CPU engine's day loops judged against the floor, side by side, and its memory.

The floor (benchmarks/floor.py) is the unavoidable work of a CSM-1 day, fused and parallel: three
mix64 hashes and 6 bytes of state read and written per agent. Absolute agent-steps/s depend on the
machine and on whatever else runs on it; the fraction of the floor measured in the same minute
travels. In rounds, interleaved, on the same thread count:

- the floor, then each scenario's day loop (essay, baseline, and essay2 when
  tests/scenarios/essay2.toml exists and loads), each followed by the floor again; a day loop's
  fraction is its rate over the mean of the floor runs just before and after it;
- the whole process `credsim run essay -n N -d D` (kernel already compiled), and its time over
  the day loop's time in the same run;

then bytes of memory per agent as the slope of peak RSS between N = 1e7 and 5e7 (fresh processes,
each started by a small launcher so that its peak is its own: see ``LAUNCH``),
for essay (declared: 6 bytes of state per agent) and essay2 (7: CSM-2's extra byte); and, for
issue #14, essay and essay2 day loops at N over --csm2-days (default 90) interleaved, with essay2's
agent-steps/s as a share of essay's in the same round and the cost of a K = 1000 panel on essay2.
Medians with [min..max] over the rounds. Options: --quick (N = 2e6, 10 days, a 1e6/5e6 slope: about
a minute), -n/-d/--rounds, --threads (e.g. 1), --csm2-days, --no-csm2, --china (also essay at 1.4e9
agents for 2 days, with the floor at 1.4e9 just before and just after it).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
ESSAY2 = ROOT / "tests" / "scenarios" / "essay2.toml"
RUN = [sys.executable, "-c", "from credsim.cli import main; main()", "run"]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else what the platform module says)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# A child's peak RSS as its own. Linux keeps ru_maxrss across fork and exec (exec records the
# high-water mark of the memory the process leaves), so a child forked from this process, which by
# then holds the floor's state and numba's runtime (about 570 MiB at N = 2e7), reports at least
# that: every `credsim run` below 5e7 agents read the same. A small launcher forks the child
# instead, and times it and reads its rusage itself.
LAUNCH = (
    "import json, os, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "proc = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(proc.pid, 0)\n"
    "wall = time.perf_counter() - t0\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    json.dump([wall, os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024], f)\n"
)


def launch(cmd: list[str], record: Path) -> tuple[float, int, int]:
    """Run cmd from the small launcher; returns (wall seconds, exit code, peak RSS bytes) of cmd alone."""
    subprocess.run([sys.executable, "-I", "-S", "-c", LAUNCH, str(record), *cmd], check=True)
    wall, code, rss = json.loads(record.read_text())
    return wall, code, rss


def run_child(scenario: str, n: str, days: int, out: Path, threads: int | None) -> tuple[float, int, dict]:
    """Run `credsim run` in a fresh process; returns (wall seconds, peak RSS bytes, run.json)."""
    cmd = [*RUN, scenario, "-n", n, "-d", str(days), "--out", str(out), "--quiet"]
    if threads:
        cmd += ["--threads", str(threads)]
    wall, code, rss = launch(cmd, out.parent / f"{out.name}.launch.json")
    if code != 0:
        sys.exit(f"bench: credsim run {scenario} failed for N={n}")
    return wall, rss, json.loads((out / "run.json").read_text())


def stat(xs: list[float], fmt: str = ".3g") -> str:
    """median [min..max]"""
    return f"{statistics.median(xs):{fmt}} [{min(xs):{fmt}}..{max(xs):{fmt}}]"


def scenarios() -> tuple[list[tuple[str, str]], list[str]]:
    """(label, spec) of the day loops to time, and notes on those skipped."""
    from credsim.api import simulate

    chosen, notes = [("essay", "essay"), ("baseline", "baseline")], []
    if not ESSAY2.exists():
        notes.append(f"essay2 skipped: {ESSAY2.relative_to(ROOT)} does not exist (CSM-2 not here yet)")
        return chosen, notes
    try:
        simulate(ESSAY2, 1000, 2)
    except Exception as err:  # any failure to load or run it: report and go on without it
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        notes.append(f"essay2 skipped: {ESSAY2.relative_to(ROOT)} does not load or run here: {first}")
        return chosen, notes
    return [*chosen, ("essay2", str(ESSAY2))], notes


def day_loop(spec: str, n: int, days: int, threads: int | None, panel: int = 0) -> tuple[float, float]:
    """(wall, process CPU) seconds of days 2..D of `credsim.api.simulate`'s day loop, from the
    ends of day 1 and day D (so set-up is not in it; every day costs the same kind of work)."""
    from credsim.api import simulate

    marks: dict[int, tuple[float, float]] = {}

    def on_day(t: int, _days: int) -> None:
        if t in (1, days):
            marks[t] = (time.perf_counter(), time.process_time())

    simulate(spec, n, days, threads=threads, on_day=on_day, panel=panel)
    return marks[days][0] - marks[1][0], marks[days][1] - marks[1][1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 2e6, 10 days, memory slope 1e6..5e6 (about a minute)")
    ap.add_argument("-n", "--population", type=float, default=None, help="agents (default 2e7; --quick 2e6)")
    ap.add_argument("-d", "--days", type=int, default=None, help="days (default 30; --quick 10)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-RSS slope")
    ap.add_argument(
        "--china", action="store_true", help="also essay at N = 1.4e9 for 2 days, the floor at 1.4e9 beside it (~8.5 GiB)"
    )
    ap.add_argument("--csm2-days", type=int, default=None, help="days of the essay/essay2/panel runs (default 90; --quick 10)")
    ap.add_argument("--no-csm2", action="store_true", help="skip the essay2-vs-essay and panel runs")
    args = ap.parse_args()
    n = int(args.population or (2e6 if args.quick else 2e7))
    days = args.days or (10 if args.quick else 30)
    n_lo, n_hi = ("1e6", "5e6") if args.quick else ("1e7", "5e7")
    if n < 2 or days < 2 or args.rounds < 1 or (args.threads is not None and args.threads < 1):
        ap.error("population and days must be at least 2, rounds and threads at least 1")

    import numba
    from numba.core.errors import NumbaIRAssumptionWarning

    from credsim.api import simulate
    from floor import Floor

    warnings.simplefilter("ignore", NumbaIRAssumptionWarning)
    floor = Floor(n, args.threads)  # sets numba's thread count when --threads is given
    threads = numba.get_num_threads()
    loops, notes = scenarios()
    for _, spec in loops:
        simulate(spec, 1000, 2, threads=args.threads)  # compile or load from cache before timing
    print(
        f"cpu: {cpu_model()}; {os.cpu_count()} cores, {threads} thread(s) used; "
        f"python {platform.python_version()}, numba {numba.__version__}"
    )
    print(f"day loops at N={n:.3g} x D={days}, {args.rounds} rounds interleaved (floor, essay, floor, baseline, "
          f"floor, ...); median [min..max]")

    steps = n * days  # the floor's day loop: days 1..D
    steps_sim = n * (days - 1)  # a scenario's day loop, timed from the end of day 1 (see day_loop)
    floor_runs: list[tuple[float, float]] = []  # (wall, CPU) seconds
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in loops}
    frac: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in loops}
    proc_s: list[float] = []
    proc_ratio: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # credsim's own bytecode, as an installed wheel has it: where PYTHONDONTWRITEBYTECODE is set,
        # each child would otherwise compile the editable checkout's modules from source (0.1-0.2 s)
        compileall.compile_dir(str(ROOT / "credsim"), quiet=1)
        run_child("essay", "1000", 2, tmp / "warm", args.threads)  # the child's kernel cache is warm too
        floor_runs.append(floor.run_timed(days))
        for _ in range(args.rounds):
            for label, spec in loops:
                wall, cpu = day_loop(spec, n, days, args.threads)
                floor_runs.append(floor.run_timed(days))
                runs[label].append((wall, cpu))
                around = floor_runs[-2:]  # the floor runs just before and just after
                frac[label].append(
                    tuple((steps_sim / x) / (sum(steps / f[k] for f in around) / 2) for k, x in enumerate((wall, cpu)))
                )
            wall, _, meta = run_child("essay", str(n), days, tmp / "proc", args.threads)
            proc_s.append(wall)
            proc_ratio.append(wall / meta["loop_s"])
        print(f"  {'':9} {'agent-steps/s (wall)':>30} {'of the floor':>21}   {'per CPU-second':>30} {'of the floor':>21}")
        fw = [steps / w for w, _ in floor_runs]
        fc = [steps / c for _, c in floor_runs]
        print(f"  {'floor':9} {stat(fw):>30} {'1':>21}   {stat(fc):>30} {'1':>21}  ({len(floor_runs)} runs)")
        for label, _ in loops:
            w = [steps_sim / x for x, _ in runs[label]]
            c = [steps_sim / x for _, x in runs[label]]
            print(
                f"  {label:9} {stat(w):>30} {stat([f[0] for f in frac[label]], '.3f'):>21}   "
                f"{stat(c):>30} {stat([f[1] for f in frac[label]], '.3f'):>21}"
            )
        for note in notes:
            print(f"  {note}")
        print(
            "  (fraction: a day loop's rate over the mean of the floor runs just before and after it; the CPU-time\n"
            "  columns count only the cycles this process got, so they hold when the machine is shared)"
        )
        print(
            f"whole process `credsim run essay -n {n:.3g} -d {days}` (kernel compiled): {stat(proc_s, '.2f')} s "
            f"= {stat([steps / s for s in proc_s])} agent-steps/s; {stat(proc_ratio, '.2f')} x its day loop"
        )
        if not args.no_memory:
            mem = [("essay", "essay", 6)] + [(label, spec, 7) for label, spec in loops if label == "essay2"]
            for label, spec, declared in mem:
                # a first tiny run compiles (or loads) this scenario's kernel variant in a process of its own:
                # a compile's peak (~600 MiB) in the 1e7 run would hide the state's slope
                run_child(spec, "1000", 2, tmp / "warm", args.threads)
                _, rss_lo, _ = run_child(spec, n_lo, 2, tmp / "lo", args.threads)
                _, rss_hi, _ = run_child(spec, n_hi, 2, tmp / "hi", args.threads)
                slope = (rss_hi - rss_lo) / (float(n_hi) - float(n_lo))
                print(
                    f"memory {label}: peak RSS {rss_lo / 2**20:.0f} MiB at N={float(n_lo):.0e}, {rss_hi / 2**20:.0f} "
                    f"MiB at N={float(n_hi):.0e}: {slope:.2f} bytes per agent (declared {declared})"
                )
        specs = dict(loops)
        if not args.no_csm2 and "essay2" in specs:
            d2 = args.csm2_days or (10 if args.quick else 90)
            csm2_runs(specs["essay2"], n, d2, args.rounds, args.threads)
        if args.china:
            china(tmp / "china", args.threads)


def china(out: Path, threads: int | None, n: int = 1_400_000_000, days: int = 2) -> None:
    """Issue #15: essay at the whole of China, with the floor at the same N just before and just
    after it. One at a time: the floor's 6 bytes per agent (8.4 GB) are freed before the run starts."""
    from floor import Floor

    before = Floor(n, threads).run(days)  # the Floor and its state are freed as the call returns
    wall, rss, meta = run_child("essay", f"{n:.3g}", days, out, threads)
    after = Floor(n, threads).run(days)
    fl_day = (before + after) / 2 / days
    day = meta["loop_s"] / days
    print(
        f"essay N={n:.3g} D={days}: day loop {meta['loop_s']:.1f} s ({day:.1f} s/day, {n / day:.3g} agent-steps/s), "
        f"whole process {wall:.1f} s, peak RSS {rss / 2**30:.2f} GiB\n"
        f"  floor at the same N: {before / days:.1f} s/day before, {after / days:.1f} s/day after "
        f"({n / fl_day:.3g} agent-steps/s): essay at {fl_day / day:.3f} of the floor"
    )


def csm2_runs(essay2: str, n: int, days: int, rounds: int, threads: int | None, k: int = 1000) -> None:
    """Issue #14: essay, essay2 and essay2 with a K-agent panel, interleaved; essay2's rate as a
    share of essay's in the same round, and the panel's cost as a share of essay2's time."""
    steps = n * (days - 1)
    t: dict[str, list[tuple[float, float]]] = {"essay": [], "essay2": [], "panel": []}
    for _ in range(rounds):
        t["essay"].append(day_loop("essay", n, days, threads))
        t["essay2"].append(day_loop(essay2, n, days, threads))
        t["panel"].append(day_loop(essay2, n, days, threads, panel=k))
    print(f"CSM-2 (issue #14) at N={n:.3g} x D={days}, {rounds} round(s) interleaved; median [min..max]")
    for label, name in (("essay", "essay"), ("essay2", "essay2"), ("panel", f"essay2 + panel K={k}")):
        w = [steps / x for x, _ in t[label]]
        c = [steps / x for _, x in t[label]]
        print(f"  {name:22} {stat(w):>30} agent-steps/s   {stat(c):>30} per CPU-second")
    for k_ in (0, 1):
        what = "wall" if k_ == 0 else "CPU"
        share = [e[k_] / e2[k_] for e, e2 in zip(t["essay"], t["essay2"])]
        cost = [p[k_] / e2[k_] - 1 for p, e2 in zip(t["panel"], t["essay2"])]
        print(
            f"  ({what}) essay2 at {stat(share, '.3f')} of essay's agent-steps/s; the panel adds "
            f"{stat([100 * c for c in cost], '+.1f')} % to essay2's day loop"
        )


if __name__ == "__main__":
    main()
