"""`make bench`: day-loop speed and memory of the CPU engine on this machine.

Prints agent-steps per second for essay at N = 2e7 over 30 days (the day loop, and the whole
process including start-up, compile-cache load and writing the tables), and bytes of memory per
agent as the slope of peak RSS between N = 1e7 and N = 5e7 (each in a fresh process).
Options: --quick for a smaller run; --china to also run all 1.4e9 agents for 2 days.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN = [sys.executable, "-c", "from credsim.cli import main; main()", "run"]


def run_child(scenario: str, n: str, days: int, out: Path) -> tuple[float, int, dict]:
    """Run `credsim run` in a fresh process; returns (wall seconds, peak RSS bytes, run.json)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([*RUN, scenario, "-n", n, "-d", str(days), "--out", str(out), "--quiet"])
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: credsim run failed for N={n}")
    return wall, usage.ru_maxrss * 1024, json.loads((out / "run.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 2e6 and a 1e6/5e6 memory slope")
    ap.add_argument("--china", action="store_true", help="also run essay at N = 1.4e9 for 2 days")
    args = ap.parse_args()
    n_speed, n_lo, n_hi = ("2e6", "1e6", "5e6") if args.quick else ("2e7", "1e7", "5e7")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run_child("essay", "1000", 2, tmp / "warm")  # compile once (cached for the runs below)
        wall, rss, meta = run_child("essay", n_speed, 30, tmp / "speed")
        n = float(n_speed)
        print(f"essay N={n:.3g} D=30: day loop {meta['loop_s']:.2f} s = {n * 30 / meta['loop_s']:.3g} agent-steps/s; "
              f"whole process {wall:.2f} s = {n * 30 / wall:.3g} agent-steps/s; peak RSS {rss / 2**30:.2f} GiB")  # fmt: skip
        _, rss_lo, _ = run_child("essay", n_lo, 2, tmp / "lo")
        _, rss_hi, _ = run_child("essay", n_hi, 2, tmp / "hi")
        slope = (rss_hi - rss_lo) / (float(n_hi) - float(n_lo))
        print(f"memory: peak RSS {rss_lo / 2**20:.0f} MiB at N={float(n_lo):.0e}, {rss_hi / 2**20:.0f} MiB at "
              f"N={float(n_hi):.0e}: {slope:.2f} bytes per agent")  # fmt: skip
        if args.china:
            wall, rss, meta = run_child("essay", "1.4e9", 2, tmp / "china")
            print(f"essay N=1.4e9 D=2: day loop {meta['loop_s']:.1f} s ({meta['loop_s'] / 2:.1f} s/day, "
                  f"{1.4e9 * 2 / meta['loop_s']:.3g} agent-steps/s), whole process {wall:.1f} s, "
                  f"peak RSS {rss / 2**30:.2f} GiB")  # fmt: skip


if __name__ == "__main__":
    main()
