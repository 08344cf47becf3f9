"""A whole Sobol design against the day loop it is made of (issue #16's target).

    .venv/bin/python benchmarks/sobol_bench.py                 # 10 parameters, 256 base samples: 3,072 runs
    .venv/bin/python benchmarks/sobol_bench.py --samples 16    # the same design, scaled down: 192 runs

The first ten parameters of ``docs/analysis/essay-plus-ranges.toml`` (none of them describes the
world, so one baseline serves every point) give a Saltelli design of ``samples × 12`` points of
``essay-plus`` at 1e5 agents × 365 days. The script first times one such run's day loop on all
cores (``credsim.simulate``, kernel compiled; the median of three), then runs the whole analysis as
``credsim sensitivity`` does (a pool of one process per core, a fresh catalog, the scorecards and
the indices), and prints its wall time beside ``runs × one run's day loop``. The target: within 1.3×.
Reported only: the script exits 0 whatever it measures (speed on a shared machine is not a test).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import tomllib
from pathlib import Path

RANGES = Path(__file__).resolve().parent.parent / "docs" / "analysis" / "essay-plus-ranges.toml"
TARGET = 1.3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=256, help="Saltelli base samples (runs = samples × 12)")
    ap.add_argument("-n", "--population", default="1e5")
    ap.add_argument("-d", "--days", type=int, default=365)
    ap.add_argument("--params", type=int, default=10, help="parameters: the first ones of the ranges file")
    args = ap.parse_args(argv)

    from credsim.api import parse_count, simulate
    from credsim.results import sensitivity as sa
    from credsim.results.store import Catalog

    n, d = parse_count(args.population), args.days
    ranges = dict(list(tomllib.loads(RANGES.read_text()).items())[: args.params])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ranges.toml"
        path.write_text("".join(f'"{k}" = {v!r}\n' for k, v in ranges.items()).replace("'", '"'))
        prep = sa.prepare("essay-plus", path, method="sobol", samples=args.samples, population=n, days=d)
        loops = [simulate(prep.points[0], n, d, 1).timing.loop_s for _ in range(3)]
        loop = statistics.median(loops)
        runs = len(prep.jobs)
        t0 = time.perf_counter()
        sa.run_analysis(prep, Catalog(Path(tmp) / "sobol.duckdb"))
        wall = time.perf_counter() - t0
    print(f"Sobol design: essay-plus, {args.params} parameters, {args.samples} base samples = {runs:,} runs "
          f"(points and baseline) at {n:,} agents × {d} days, {sa.default_workers()} worker process(es), "
          f"{os.cpu_count()} CPU(s)")
    print(f"  one run's day loop on all cores: {loop:.2f} s (median of {', '.join(f'{x:.2f}' for x in loops)})")
    print(f"  the analysis: {wall:,.0f} s wall = {wall / (runs * loop):.2f} × {runs:,} × the day loop "
          f"({runs * loop:,.0f} s); target ≤ {TARGET}: {'met' if wall <= TARGET * runs * loop else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
