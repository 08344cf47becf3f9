"""Interleaved A/B of two source trees' day loops against the floor (docs/performance.md).

Each tree runs in a long-lived worker process (PYTHONPATH = the tree, its own numba cache folder,
compiled on start); this process runs the floor between every two day loops and alternates which
tree goes first. Prints CPU-time and wall fractions of the floor and the same-round speed-up of
CAND over BASE (CPU time), medians [min..max].

Usage: python benchmarks/ab_kernel.py BASE_TREE BASE_CACHE CAND_TREE CAND_CACHE N DAYS ROUNDS [THREADS]
(THREADS 0: all cores; AB_SPEC=essay by default). A tree is a checkout, e.g. `git archive main | tar -x -C /tmp/base`.
"""
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if len(sys.argv) < 8:
    print(__doc__.strip().splitlines()[-2], file=sys.stderr)
    sys.exit(2)
N = int(float(sys.argv[5]))
D = int(sys.argv[6])
R = int(sys.argv[7])
T = int(sys.argv[8]) if len(sys.argv) > 8 else 0
SPEC = os.environ.get("AB_SPEC", "essay")
VARIANTS = {"base": (sys.argv[1], sys.argv[2]), "cand": (sys.argv[3], sys.argv[4])}
WORKER = r'''
import sys, time, warnings, json
sys.path.insert(1, sys.argv[5])
from bench import day_loop
from credsim.api import simulate
import credsim; print(json.dumps(credsim.__file__), flush=True)
N, D, T, SPEC = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) or None, sys.argv[4]
simulate(SPEC, 1000, 2, threads=T)
print("ready", flush=True)
for line in sys.stdin:
    w, c = day_loop(SPEC, N, D, T)
    print(json.dumps([w, c]), flush=True)
'''
procs = {}
for name, (path, cache) in VARIANTS.items():
    env = dict(os.environ, PYTHONPATH=path, CREDSIM_CACHE_DIR=cache)
    p = subprocess.Popen([sys.executable, "-c", WORKER, str(N), str(D), str(T), SPEC, str(HERE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    print(name, p.stdout.readline().strip(), p.stdout.readline().strip(), flush=True)
    procs[name] = p
from floor import Floor
fl = Floor(N, T or None)
steps, steps_sim = N * D, N * (D - 1)
floors = [fl.run_timed(D)]
frac = {k: [] for k in procs}; fracw = {k: [] for k in procs}; rate = {k: [] for k in procs}; ratio = []
for r in range(R):
    order = list(procs) if r % 2 == 0 else list(procs)[::-1]
    got = {}
    for name in order:
        p = procs[name]; p.stdin.write("go\n"); p.stdin.flush()
        w, c = json.loads(p.stdout.readline())
        floors.append(fl.run_timed(D))
        around = floors[-2:]
        fc = sum(steps / f[1] for f in around) / 2; fw = sum(steps / f[0] for f in around) / 2
        frac[name].append(steps_sim / c / fc); fracw[name].append(steps_sim / w / fw); rate[name].append(steps_sim / c)
        got[name] = c
    ratio.append(got["base"] / got["cand"])
    print(f"round {r}: " + "  ".join(f"{k} cpu-frac {frac[k][-1]:.3f} wall-frac {fracw[k][-1]:.3f}" for k in procs) + f"  speedup(cpu) {ratio[-1]:.3f}  load {os.getloadavg()[0]:.1f}", flush=True)
med = statistics.median
q = lambda xs: f"{med(xs):.3f} [{min(xs):.3f}..{max(xs):.3f}]"
print(f"N={N:.3g} D={D} rounds={R} threads={T or 'all'} spec={SPEC}")
print(f"floor per CPU-s {q([steps / c for _, c in floors])}")
for k in procs:
    print(f"{k}: of floor (CPU) {q(frac[k])}  (wall) {q(fracw[k])}  rate/CPU-s {med(rate[k]):.3g}")
print(f"speedup cand/base (CPU time, same round): {q(ratio)}")
for p in procs.values(): p.stdin.close(); p.wait()
