"""Per-run overhead of a sensitivity design: everything a run costs but the day kernel.

    .venv/bin/python benchmarks/sensitivity_bench.py            # 1e5 agents, 30 days, 16 runs
    .venv/bin/python benchmarks/sensitivity_bench.py -n 1e5 -d 30 --runs 32

For the runs of a small Sobol design of ``essay-plus`` (after one warm-up run: the kernel is
compiled or loaded from numba's cache), it measures, per run and in milliseconds:

* ``point``: making and validating the design point's scenario (pydantic, its schedule, the plan's
  checks), i.e. :func:`credsim.results.sensitivity.prepare`'s time divided by the design points;
* ``setup``: the run's set-up before day 1 (compiling the plan, allocating and initialising the
  state: ``Timing.setup_s``);
* ``host``: the rest of :func:`credsim.simulate` outside the day loop (tables, result);
* ``store``: recording the run in a fresh catalog (DuckDB, one transaction);
* ``score``: the scorecard against the baseline.

The overhead is their sum; the target is under 50 ms per run at 1e5 agents. Reported only: the
script exits 0 whatever it measures (speed on a shared machine is not a test).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

RANGES = """\
"channel.public_misconduct.detect" = [0.2, 0.9]
"channel.public_misconduct.false_rate" = [0.0, 0.0001]
"score.spouse_weight" = [0, 6]
"blacklist.min_stay" = [0, 90]
"""
TARGET_MS = 50.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--population", default="1e5")
    ap.add_argument("-d", "--days", type=int, default=30)
    ap.add_argument("--runs", type=int, default=16, help="design points to run (after one warm-up run)")
    ap.add_argument("--threads", type=int, default=None, help="numba threads per run (default: all cores)")
    args = ap.parse_args(argv)

    from credsim.api import parse_count, simulate
    from credsim.results import sensitivity as sa
    from credsim.results.scorecard import scorecard
    from credsim.results.store import Catalog
    from credsim.scenario import load

    n, d = parse_count(args.population), args.days
    with tempfile.TemporaryDirectory() as tmp:
        ranges = Path(tmp) / "ranges.toml"
        ranges.write_text(RANGES)
        samples = max(1, -(-args.runs // 6))  # 4 parameters: 6 points per base sample
        sa.design(sa.load_ranges(ranges, load("essay-plus")[1]), "sobol", 1, 1)  # SALib and scipy imported: not timed
        t0 = time.perf_counter()
        prep = sa.prepare("essay-plus", ranges, samples=samples, population=n, days=d)
        point_ms = 1e3 * (time.perf_counter() - t0) / len(prep.points)
        cat = Catalog(Path(tmp) / "bench.duckdb")
        base = simulate(prep.base, n, d, 1, threads=args.threads, name="baseline")  # warm-up: the kernel is ready
        base_daily = base.daily
        rows = []
        for i, sc in enumerate(prep.points[: args.runs]):
            t1 = time.perf_counter()
            r = simulate(sc, n, d, 1, threads=args.threads, name=f"point{i}")
            t2 = time.perf_counter()
            cat.add(r)
            t3 = time.perf_counter()
            scorecard(r.daily, sc, base_daily, n)
            t4 = time.perf_counter()
            rows.append({"setup": 1e3 * r.timing.setup_s, "host": 1e3 * (t2 - t1 - r.timing.setup_s - r.timing.loop_s),
                         "store": 1e3 * (t3 - t2), "score": 1e3 * (t4 - t3), "loop": 1e3 * r.timing.loop_s})
    print(f"sensitivity per-run overhead: essay-plus, {n:,} agents × {d} days, {len(rows)} design points "
          f"(after a warm-up run); milliseconds per run, median (mean)")
    print(f"  {'point':<8}{point_ms:>10.1f}")
    total = [point_ms] * len(rows)
    for key in ("setup", "host", "store", "score"):
        vals = [r[key] for r in rows]
        total = [a + b for a, b in zip(total, vals)]
        print(f"  {key:<8}{statistics.median(vals):>10.1f} ({statistics.fmean(vals):.1f})")
    med = statistics.median(total)
    print(f"  {'overhead':<8}{med:>10.1f} ({statistics.fmean(total):.1f})  target < {TARGET_MS:.0f} ms: "
          f"{'met' if med < TARGET_MS else 'NOT met'}")
    loop = [r["loop"] for r in rows]
    print(f"  {'kernel':<8}{statistics.median(loop):>10.1f} ({statistics.fmean(loop):.1f})  the day loop, for scale")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
