"""Executed instructions and simulated branch mispredictions per agent-step, without a PMU.

The VM this project is measured on exposes no hardware counters (docs/performance.md), so wall and
CPU time are all `make bench` has, and they move with whoever else uses the machine. Valgrind's
callgrind counts what a run executes, the same on any x86-64 machine whatever its load: the
instructions (Ir), the conditional branches (Bc) and, with its simple branch predictor, their
mispredictions (Bcm). Valgrind runs the code about 50x slower, so the populations are small.

Each day loop runs in a child process under callgrind with instrumentation off while Python starts,
imports credsim and loads the compiled kernel (a warm-up run); the parent then switches it on
around one run of D1 days and one of D2 days (`callgrind_control`), and a day costs
(count(D2) - count(D1)) / (D2 - D1): the set-up of a run cancels. The floor kernel
(benchmarks/floor.py) is measured the same way. One thread (valgrind runs threads one at a time).

Usage: python benchmarks/instructions.py [-n 2e5] [--days 2 6] [SPEC ...]   (default: floor essay baseline)
Needs valgrind (`apt install valgrind`); a first run compiles nothing if the kernel cache is warm.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EVENTS = ("Ir", "Bc", "Bcm")

CHILD = r"""
import sys
sys.path.insert(0, sys.argv[1])
spec, n = sys.argv[2], int(float(sys.argv[3]))
if spec == "floor":
    from floor import Floor
    fl = Floor(n, 1)
    run = lambda d: fl.run(d)
else:
    from credsim.api import simulate
    run = lambda d: simulate(spec, n, d, threads=1)
run(2)  # imports, the kernel from its cache, first-touch of the state
print("ready", flush=True)
for line in sys.stdin:
    run(int(line))
    print("done", flush=True)
"""


def control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True, timeout=600)


def totals(path: Path) -> dict[str, int]:
    """The event totals of one callgrind dump."""
    text = path.read_text()
    names = re.search(r"^events:\s*(.+)$", text, re.M).group(1).split()
    values = re.search(r"^(?:summary|totals):\s*(.+)$", text, re.M).group(1).split()
    return {k: int(v) for k, v in zip(names, values)}


def measure(spec: str, n: int, d1: int, d2: int, workdir: Path) -> dict[str, float]:
    """Per agent-step counts of one day loop (or the floor) at population n."""
    out = workdir / f"{spec}.cg"
    env = dict(os.environ, NUMBA_NUM_THREADS="1", PYTHONPATH=str(HERE.parent))
    valgrind = ["valgrind", "--tool=callgrind", "--branch-sim=yes", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    cmd = [*valgrind, sys.executable, "-c", CHILD, str(HERE), spec, str(n)]
    pipes = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    child = subprocess.Popen(cmd, env=env, **pipes)
    try:
        if child.stdout.readline().strip() != "ready":
            raise SystemExit(f"instructions: the {spec} child did not start (is valgrind installed?)")
        counts = {}
        for d in (d1, d2):
            control(child.pid, "--zero")
            control(child.pid, "--instr=on")
            child.stdin.write(f"{d}\n")
            child.stdin.flush()
            if child.stdout.readline().strip() != "done":
                raise SystemExit(f"instructions: the {spec} child stopped during a {d}-day run")
            control(child.pid, f"--dump={spec}-{d}")
            control(child.pid, "--instr=off")
            dumps = sorted(workdir.glob(f"{spec}.cg.*"), key=lambda p: p.stat().st_mtime)
            counts[d] = totals(dumps[-1])
        child.stdin.close()
        child.wait(timeout=600)
    finally:
        if child.poll() is None:
            child.kill()
    steps = n * (d2 - d1)
    return {k: (counts[d2].get(k, 0) - counts[d1].get(k, 0)) / steps for k in EVENTS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("specs", nargs="*", default=["floor", "essay", "baseline"], help="floor and/or scenario names")
    ap.add_argument("-n", "--population", type=float, default=2e5, help="agents (default 2e5)")
    ap.add_argument("--days", type=int, nargs=2, default=(2, 6), metavar=("D1", "D2"), help="the two run lengths")
    args = ap.parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        raise SystemExit("instructions: needs valgrind and callgrind_control (apt install valgrind)")
    n, (d1, d2) = int(args.population), args.days
    print(f"per agent-step, N={n:.0e}, days {d1} -> {d2}, 1 thread, under callgrind (--branch-sim=yes)")
    print(f"  {'':9} {'instructions':>13} {'cond. branches':>15} {'mispredicted':>13} {'of branches':>12}")
    with tempfile.TemporaryDirectory(prefix="credsim-cg-") as tmp:
        for spec in args.specs:
            c = measure(spec, n, d1, d2, Path(tmp))
            share = c["Bcm"] / c["Bc"] if c["Bc"] else 0.0
            print(f"  {spec:9} {c['Ir']:13.1f} {c['Bc']:15.1f} {c['Bcm']:13.2f} {share:12.1%}", flush=True)


if __name__ == "__main__":
    main()
