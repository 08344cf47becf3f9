"""Benchmarks of the Ray backend: what crosses shards, what it costs per day, and 1 vs 2 shards.

    python benchmarks/ray_bench.py            # all three parts (the last runs N = 2e7 × 10 days)
    python benchmarks/ray_bench.py --no-big   # bytes and overhead only (about a minute)

1. **Bytes exchanged per day** vs shards K and population N (essay: association on; baseline
   exchanges nothing). Computed from the exchange plan, no Ray needed: payload bytes of the
   packed blacklist bits all shards send per day, and the largest halo one shard receives.
2. **Per-day overhead** on a local Ray instance: driver wall time of a day minus the slowest
   shard's kernel time (Ray calls, object transfer, the driver's ``reduce_rows``), and each
   shard's own exchange work (writing received bytes into its halo and packing its exports).
3. **1 vs 2 shards at N = 2e7, 10 days, essay** on this machine, with the single-process CPU
   backend (all cores) as the reference. Shards get cores // K numba threads each.

Results of the run recorded in the Ray backend's report (2-core VM, shared): see the bottom.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def bytes_table(ns=(10**6, 10**7, 2 * 10**7, 10**8, 1_400_000_000), ks=(2, 4, 8, 16, 64)) -> None:
    from credsim.backends.ray.partition import exchange_plan, shard_bounds
    from credsim.plan import compile_plan
    from credsim.scenario import load

    _, sc = load("essay")
    print("## bytes exchanged per day (essay; payload of packed bits, all shards together)")
    print(f"{'N':>14} {'K':>4} {'bytes/day':>12} {'max halo/shard':>15} {'halo/agent/shard':>17} {'halo RSS max':>13}")
    for n in ns:
        plan = compile_plan(sc, n, 1)
        for k in ks:
            xp = exchange_plan(plan, shard_bounds(n, k))
            halo = max(xp.halo_bytes(i) for i in range(xp.shards))
            rss = max(xp.halo_resident_bytes(i) for i in range(xp.shards))
            per_agent = halo / (n / xp.shards)
            print(f"{n:>14,} {xp.shards:>4} {xp.bytes_per_day:>12,} {halo:>15,} {per_agent:>17.2e} {rss:>13,}")


def overhead(n: int = 10**6, days: int = 20, ks=(1, 2, 4, 7)) -> None:
    from credsim.backends.ray.driver import RayBackend
    from credsim.kernel.hash import day_key
    from credsim.kernel.layout import C_SUM_P
    from credsim.plan import compile_plan
    from credsim.scenario import load

    _, sc = load("essay")
    plan = compile_plan(sc, n, 1)
    print(f"\n## per-day overhead, essay N = {n:,}, {days} days (medians over days 2..{days})")
    print(f"{'K':>3} {'wall ms':>9} {'max kernel ms':>14} {'overhead ms':>12} {'shard exchange ms':>18} {'reduce us':>10} {'bytes/day':>10}")
    for k in ks:
        be = RayBackend(plan, shards=k)
        be.init()
        total = plan.scenario.score.start * n
        for t in range(1, days + 1):
            row, _ = be.day(t, plan.threshold(total), day_key(plan.seed, t), False)
            total = int(row[C_SUM_P])
        tm = be.timings[1:]
        wall = statistics.median(d.wall for d in tm) * 1e3
        kern = statistics.median(max(d.compute) for d in tm) * 1e3
        exch = statistics.median(max(d.exchange) for d in tm) * 1e3
        rows = np.zeros((k, plan.n_cols), np.int64)
        from credsim.backends.base import reduce_rows

        t0 = time.perf_counter()
        for _ in range(1000):
            reduce_rows(rows)
        red = (time.perf_counter() - t0) * 1e3
        print(f"{k:>3} {wall:>9.2f} {kern:>14.2f} {wall - kern:>12.2f} {exch:>18.3f} {red:>10.1f} {be.exchange.bytes_per_day:>10,}")
        be.close()


def big(n: int = 2 * 10**7, days: int = 10) -> None:
    from credsim import simulate

    print(f"\n## essay N = {n:,}, {days} days: day-loop seconds")
    r = simulate("essay", n, days, 1)
    ref = r.timing.loop_s
    print(f"cpu backend (all cores):  loop {ref:7.2f} s  set-up {r.timing.setup_s:6.2f} s  {n * days / ref:.3g} agent-steps/s")
    for k in (1, 2):
        rr = simulate("essay", n, days, 1, backend="ray", shards=k)
        assert np.array_equal(rr.tables.daily, r.tables.daily), "ray result differs from cpu"
        lt = rr.timing.loop_s
        print(
            f"ray, {k} shard{'s' if k > 1 else ' '}:           loop {lt:7.2f} s  set-up {rr.timing.setup_s:6.2f} s  "
            f"{n * days / lt:.3g} agent-steps/s  (identical tables)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-big", action="store_true", help="skip the N = 2e7 run")
    args = ap.parse_args()
    import ray

    bytes_table()
    ray.init(num_cpus=None, include_dashboard=False, logging_level="ERROR")
    try:
        overhead()
        if not args.no_big:
            big()
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
