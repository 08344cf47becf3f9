"""Per-run overhead of a sensitivity design: everything a run costs but the day kernel.

    .venv/bin/python benchmarks/sensitivity_bench.py            # 1e5 agents, 30 days, 64 runs
    .venv/bin/python benchmarks/sensitivity_bench.py -n 1e5 -d 30 --runs 96

It runs the first runs of a small Sobol design of ``essay-plus`` through the analysis's own
pipeline (:func:`credsim.results.sensitivity.execute` in this process on one thread, as each of a
design's pool workers runs it, storing in a fresh catalog in batches, then the scorecards), after one warm-up run (the kernel is compiled or
loaded from numba's cache), and reports, per run and in milliseconds (wall time):

* ``point``: making and validating the design point's scenario (pydantic, its schedule, the plan's
  checks), i.e. :func:`credsim.results.sensitivity.prepare`'s time divided by its runs;
* ``setup``: the run's set-up before day 1 (compiling the plan, allocating and initialising the
  state: ``Timing.setup_s``);
* ``host``: the rest of :func:`credsim.simulate` outside the day loop (tables, result);
* ``store``: recording the runs in the catalog (DuckDB, one connection and transaction per batch);
* ``other``: the rest of ``execute`` (batching, progress);
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
    ap.add_argument("--runs", type=int, default=64, help="runs of the design (after one warm-up run)")
    ap.add_argument("--threads", type=int, default=1,
                    help="numba threads per run (default 1: how a design's pool workers run, one per core)")
    args = ap.parse_args(argv)
    import numba

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))

    from credsim.api import parse_count
    from credsim.results import sensitivity as sa
    from credsim.results import sensitivity_runs
    from credsim.results.scorecard import scorecard
    from credsim.results.store import Catalog
    from credsim.scenario import load, scenario_hash

    n, d = parse_count(args.population), args.days
    timings = []
    simulate = sensitivity_runs.simulate

    def timed_simulate(*a, **k):
        t0 = time.perf_counter()
        r = simulate(*a, **k)
        timings.append((time.perf_counter() - t0, r.timing.setup_s, r.timing.loop_s))
        return r

    with tempfile.TemporaryDirectory() as tmp:
        ranges = Path(tmp) / "ranges.toml"
        ranges.write_text(RANGES)
        samples = max(1, -(-args.runs // 6))  # 4 parameters: 6 points per base sample
        sa.design(sa.load_ranges(ranges, load("essay-plus")[1]), "sobol", 1, 1)  # SALib and scipy imported: not timed
        t0 = time.perf_counter()
        prep = sa.prepare("essay-plus", ranges, samples=samples, population=n, days=d)
        point_ms = 1e3 * (time.perf_counter() - t0) / len(prep.jobs)
        jobs = prep.jobs[1 : args.runs + 1]
        for job in prep.jobs[:1]:  # the baseline: a CSM-1 kernel
            simulate(job.scenario, n, d, 1, name="warm-up")
        warm = simulate(prep.points[0], n, d, 1, name="warm-up")  # the points' CSM-2 kernel is ready
        cat = Catalog(Path(tmp) / "bench.duckdb")
        cat.add(warm)  # DuckDB and pyarrow imported, the catalog created: once per analysis, not per run
        add_many, stored = cat.add_many, []

        def timed_add_many(results):
            t1 = time.perf_counter()
            out = add_many(results)
            stored.append(time.perf_counter() - t1)
            return out

        cat.add_many = timed_add_many
        sensitivity_runs.simulate = timed_simulate
        try:
            t0 = time.perf_counter()
            daily = sa.execute(jobs, n, d, cat, workers=1)
            wall = time.perf_counter() - t0
        finally:
            sensitivity_runs.simulate = simulate
        by_hash = {j.key[0]: j.scenario for j in jobs}
        base_key = (scenario_hash(prep.base), 1)
        base_daily = daily.get(base_key)
        if base_daily is None:
            base_daily = simulate(prep.base, n, d, 1, name="baseline").daily
        t0 = time.perf_counter()
        for key, table in daily.items():
            scorecard(table, by_hash[key[0]], base_daily, n)
        score_ms = 1e3 * (time.perf_counter() - t0) / len(daily)
    runs = len(jobs)
    per = {
        "point": point_ms,
        "setup": 1e3 * sum(t[1] for t in timings) / runs,
        "host": 1e3 * sum(t[0] - t[1] - t[2] for t in timings) / runs,
        "store": 1e3 * sum(stored) / runs,
        "other": 1e3 * (wall - sum(t[0] for t in timings) - sum(stored)) / runs,
        "score": score_ms,
    }
    loop_ms = 1e3 * sum(t[2] for t in timings) / runs
    print(f"sensitivity per-run overhead: essay-plus, {n:,} agents × {d} days, {runs} runs of a Sobol design "
          f"(after a warm-up run), {numba.get_num_threads()} thread(s), stored in {len(stored)} batches; "
          f"milliseconds per run (mean)")
    for key, value in per.items():
        print(f"  {key:<8}{value:>10.1f}")
    total = sum(per.values())
    print(f"  {'overhead':<8}{total:>10.1f}  target < {TARGET_MS:.0f} ms: {'met' if total < TARGET_MS else 'NOT met'}")
    print(f"  {'kernel':<8}{loop_ms:>10.1f}  the day loop, for scale")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
