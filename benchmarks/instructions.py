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

With ``--annotate DIR`` it also says where: callgrind keeps a count per machine instruction, the
child copies the compiled day loop's code out of its own memory, and `objdump` disassembles it;
DIR/SPEC.annotated.txt lists every instruction with its executions per agent-step (D2 minus D1, so
again without set-up), and the summary splits the count into instructions that run on every pair
and those behind a branch. This is how docs/performance.md attributes the count to the steps.

Usage: python benchmarks/instructions.py [-n 2e5] [--days 2 6] [--annotate DIR] [SPEC ...]
(default SPECs: floor essay baseline). Needs valgrind (`apt install valgrind`), and objdump for
--annotate; the kernel must be in the cache already (compiling under valgrind takes hours).
"""

from __future__ import annotations

import argparse
import collections
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
    w = line.split()
    if w[0] == "code":  # copy [lo, hi) of this process's memory (the compiled day loop) to a file
        import ctypes
        lo, hi = int(w[1], 16), int(w[2], 16)
        open(w[3], "wb").write(ctypes.string_at(lo, hi - lo))
    else:
        run(int(w[0]))
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


def jit_instructions(path: Path) -> dict[int, tuple[int, int]]:
    """(Ir, Bcm) per instruction address of the code callgrind could not name (numba's JIT code),
    from a dump written with --dump-instr=yes and no position or name compression."""
    counts: dict[int, list[int]] = collections.defaultdict(lambda: [0, 0])
    events: list[str] = []
    jit = after_call = False
    for line in path.read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("fn="):
            jit = line.startswith("fn=0x")  # a function without a symbol: JIT code
        elif line.startswith("calls="):
            after_call = True  # the next cost line is the call's inclusive cost: not this instruction's
        elif line.startswith("0x"):
            if after_call:
                after_call = False
            elif jit:
                address, *values = line.split()
                v = dict(zip(events, map(int, values)))
                c = counts[int(address, 16)]
                c[0] += v.get("Ir", 0)
                c[1] += v.get("Bcm", 0)
    return {a: (c[0], c[1]) for a, c in counts.items()}


def hot_range(counts: dict[int, tuple[int, int]], gap: int = 4096) -> tuple[int, int]:
    """[lo, hi) of the contiguous stretch of JIT code that executed the most instructions: the day loop."""
    runs: list[list[int]] = []
    for a in sorted(a for a, (ir, _) in counts.items() if ir > 0):
        if runs and a - runs[-1][-1] < gap:
            runs[-1].append(a)
        else:
            runs.append([a])
    best = max(runs, key=lambda run: sum(counts[a][0] for a in run))
    return best[0], best[-1] + 16  # past the last executed instruction (at most 15 bytes long)


def annotate(spec: str, child: subprocess.Popen, dumps: dict[int, Path], steps: int, pairs: int, outdir: Path) -> str:
    """Write outdir/SPEC.annotated.txt (executions and mispredictions per agent-step, address,
    instruction) for the day loop's code, and return a summary line."""
    d1, d2 = sorted(dumps)
    c1, c2 = jit_instructions(dumps[d1]), jit_instructions(dumps[d2])
    diff = {a: (ir - c1.get(a, (0, 0))[0], m - c1.get(a, (0, 0))[1]) for a, (ir, m) in c2.items()}
    lo, hi = hot_range(diff)
    code = outdir / f"{spec}.code.bin"
    child.stdin.write(f"code {lo:x} {hi:x} {code}\n")
    child.stdin.flush()
    if child.stdout.readline().strip() != "done":
        raise SystemExit(f"instructions: the {spec} child did not copy its code")
    dis = subprocess.run(
        ["objdump", "-D", "-b", "binary", "-m", "i386:x86-64", f"--adjust-vma={lo:#x}", str(code)],
        check=True, capture_output=True, text=True,
    ).stdout
    every_pair = behind_branch = 0.0
    lines = ["# per agent-step: executions, mispredicted branches; address; instruction"]
    for line in dis.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s*(?:[0-9a-f]{2} )+\s*(.*)", line)
        if m and m.group(2):  # not the line holding the rest of a long instruction's bytes
            a = int(m.group(1), 16)
            ir, bcm = diff.get(a, (0, 0))
            lines.append(f"{ir / steps:9.4f} {bcm / steps:8.4f}  {a:x}  {m.group(2)}")
            if ir >= 0.99 * pairs:
                every_pair += ir / steps
            else:
                behind_branch += ir / steps
    (outdir / f"{spec}.annotated.txt").write_text("\n".join(lines) + "\n")
    return f"{spec}: {every_pair:.1f} instructions run at least once per pair, {behind_branch:.1f} less often"


def measure(
    spec: str, n: int, d1: int, d2: int, workdir: Path, annotate_dir: Path | None = None
) -> dict[str, float]:
    """Per agent-step counts of one day loop (or the floor) at population n; with ``annotate_dir``,
    also its annotated code there (the summary line under the key "annotated")."""
    out = workdir / f"{spec}.cg"
    env = dict(os.environ, NUMBA_NUM_THREADS="1", PYTHONPATH=str(HERE.parent))
    valgrind = ["valgrind", "--tool=callgrind", "--branch-sim=yes", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    if annotate_dir is not None:
        valgrind += ["--dump-instr=yes", "--dump-line=no", "--compress-pos=no", "--compress-strings=no"]
    cmd = [*valgrind, sys.executable, "-c", CHILD, str(HERE), spec, str(n)]
    pipes = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    child = subprocess.Popen(cmd, env=env, **pipes)
    try:
        if child.stdout.readline().strip() != "ready":
            raise SystemExit(f"instructions: the {spec} child did not start (is valgrind installed?)")
        counts = {}
        paths = {}
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
            paths[d] = dumps[-1]
        summary = None
        if annotate_dir is not None:
            pairs = (n + 1) // 2 * (d2 - d1)  # the floor has no pairs: its loop runs per agent, more often
            summary = annotate(spec, child, paths, n * (d2 - d1), pairs, annotate_dir)
        child.stdin.close()
        child.wait(timeout=600)
    finally:
        if child.poll() is None:
            child.kill()
    steps = n * (d2 - d1)
    result = {k: (counts[d2].get(k, 0) - counts[d1].get(k, 0)) / steps for k in EVENTS}
    if summary:
        result["annotated"] = summary
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("specs", nargs="*", default=["floor", "essay", "baseline"], help="floor and/or scenario names")
    ap.add_argument("-n", "--population", type=float, default=2e5, help="agents (default 2e5)")
    ap.add_argument("--days", type=int, nargs=2, default=(2, 6), metavar=("D1", "D2"), help="the two run lengths")
    ap.add_argument("--annotate", type=Path, metavar="DIR", help="write each day loop's annotated code to DIR")
    args = ap.parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        raise SystemExit("instructions: needs valgrind and callgrind_control (apt install valgrind)")
    n, (d1, d2) = int(args.population), args.days
    print(f"per agent-step, N={n:.0e}, days {d1} -> {d2}, 1 thread, under callgrind (--branch-sim=yes)")
    print(f"  {'':9} {'instructions':>13} {'cond. branches':>15} {'mispredicted':>13} {'of branches':>12}")
    if args.annotate:
        if not shutil.which("objdump"):
            raise SystemExit("instructions: --annotate needs objdump (apt install binutils)")
        args.annotate.mkdir(parents=True, exist_ok=True)
    notes = []
    with tempfile.TemporaryDirectory(prefix="credsim-cg-") as tmp:
        for spec in args.specs:
            c = measure(spec, n, d1, d2, Path(tmp), args.annotate)
            share = c["Bcm"] / c["Bc"] if c["Bc"] else 0.0
            print(f"  {spec:9} {c['Ir']:13.1f} {c['Bc']:15.1f} {c['Bcm']:13.2f} {share:12.1%}", flush=True)
            notes.append(c.get("annotated"))
    for note in filter(None, notes):
        print(f"  {note}  (per agent-step; listing in {args.annotate})")


if __name__ == "__main__":
    main()
