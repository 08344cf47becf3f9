"""The floor: only the unavoidable work of a CSM-1 day, fused and parallel, as a yardstick.

Per agent and day the model cannot do less than this (MODEL.md §4 step 1 and the state layout):
three ``mix64`` hashes, the 6 bytes of state (own int16, flags uint8, bl_since uint16, stress
uint8) read once and written once, and a few exact integer sums. No model logic. The loop has the
day loop's shape (:mod:`credsim.kernel.cpu`): one ``prange`` over chunks of pairs, chunk size from
:func:`credsim.backends.cpu.chunk_pairs`, a ``_nrt=False`` chunk function, per-chunk sum rows,
the same thread count. Its agent-steps/s divided into the day loop's says how far the model is
from what the machine can do; it travels with the project, unlike a number measured elsewhere.

Writes depend on the hashes (a low bit of each flips a low bit of each field), so nothing is
optimised away, and the state stays bounded however many days run.

Usage: ``python benchmarks/floor.py [-n 2e7] [-d 30] [--threads T] [--repeat 3]``, or
``from floor import floor_rate`` (with benchmarks/ on ``sys.path``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange

import credsim.kernel.hash as _hash
from credsim.backends.cpu import chunk_pairs
from credsim.kernel.hash import day_key, mix64

_G = np.uint64(0x9E3779B97F4A7C15)
_ONE = np.uint64(1)
_S32 = np.uint64(32)
N_SUMS = 4  # Σ own, Σ own², count of flags bit 0, Σ stress


def _cache_dir() -> str:
    """Like the kernel's: a folder named by the hash of this file and of mix64's source."""
    digest = hashlib.sha256(Path(__file__).read_bytes() + Path(_hash.__file__).read_bytes())
    base = os.environ.get("CREDSIM_CACHE_DIR") or Path.home() / ".cache" / "credsim" / "numba"
    return str(Path(base) / f"floor-{digest.hexdigest()[:16]}")


_saved_cache_dir = numba.config.CACHE_DIR
numba.config.CACHE_DIR = _cache_dir()


@njit(inline="always", _nrt=False)
def _agent(li, h1, h2, h3, own, flags, since, stress):
    """Read agent li's 6 bytes, write them back changed by the hashes; return (own, flag bit, stress).

    li is unsigned: numba then indexes without the negative-index wraparound test."""
    o = np.int64(own[li]) ^ np.int64(h1 & _ONE)
    f = np.int64(flags[li]) ^ np.int64(h2 & _ONE)
    s = np.int64(since[li]) ^ np.int64(h3 & _ONE)
    st = np.int64(stress[li]) ^ np.int64((h3 >> _S32) & _ONE)
    own[li] = np.int16(o)
    flags[li] = np.uint8(f)
    since[li] = np.uint16(s)
    stress[li] = np.uint8(st)
    return o, f & 1, st


@njit(cache=True, _nrt=False)
def _floor_chunk(k, key, lo, hi, chunk, own, flags, since, stress, row):
    """Pairs of chunk k: both agents' three hashes side by side, state read and written once."""
    p0 = lo // 2 + k * chunk
    p1 = min(p0 + chunk, (hi + 1) // 2)
    s_own = np.int64(0)
    s_own2 = np.int64(0)
    s_flag = np.int64(0)
    s_stress = np.int64(0)
    for p in range(p0, p1):
        a = 2 * p
        b = a + 1
        h1a = mix64(key ^ np.uint64(a))
        h1b = mix64(key ^ np.uint64(b))
        h2a = mix64(h1a + _G)
        h2b = mix64(h1b + _G)
        h3a = mix64(h2a + _G)
        h3b = mix64(h2b + _G)
        o, f, st = _agent(np.uint64(a - lo), h1a, h2a, h3a, own, flags, since, stress)
        s_own += o
        s_own2 += o * o
        s_flag += f
        s_stress += st
        if b < hi:
            o, f, st = _agent(np.uint64(b - lo), h1b, h2b, h3b, own, flags, since, stress)
            s_own += o
            s_own2 += o * o
            s_flag += f
            s_stress += st
    row[0] = s_own
    row[1] = s_own2
    row[2] = s_flag
    row[3] = s_stress


@njit(parallel=True, cache=True)
def floor_day(key, lo, hi, chunk, own, flags, since, stress, acc):
    """One floor day over agents lo..hi-1 (lo even); chunk k of ``chunk`` pairs writes acc[k]."""
    for k in prange(acc.shape[0]):
        # int64(k): prange's index is uint64 once lowered, int64 while run_day is typed; one cast
        # and the chunk function compiles once, not twice (credsim.kernel.cpu compiles it twice)
        _floor_chunk(np.int64(k), key, lo, hi, chunk, own, flags, since, stress, acc[k])


numba.config.CACHE_DIR = _saved_cache_dir


class Floor:
    """State and sum rows of n agents, laid out and chunked as :class:`credsim.backends.cpu.CpuBackend`."""

    def __init__(self, n: int, threads: int | None = None, start: int = 1000):
        if threads:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        self.n = n
        self.own = np.full(n, start, np.int16)
        self.flags = np.zeros(n, np.uint8)
        self.since = np.zeros(n, np.uint16)
        self.stress = np.zeros(n, np.uint8)
        n_pairs = (n + 1) // 2
        self.chunk = chunk_pairs(n_pairs)
        self.acc = np.zeros((-(-n_pairs // self.chunk), N_SUMS), np.int64)
        floor_day(np.uint64(0), 0, 0, self.chunk, self.own, self.flags, self.since, self.stress, self.acc[:0])

    def day(self, t: int, seed: int = 1) -> np.ndarray:
        """Run floor day t; returns the sums (Σ own, Σ own², count of flag bit 0, Σ stress)."""
        floor_day(
            np.uint64(day_key(seed, t)), 0, self.n, self.chunk, self.own, self.flags, self.since, self.stress, self.acc
        )
        return self.acc.sum(axis=0)

    def run(self, days: int) -> float:
        """Seconds for days 1..days (the day loop only: as credsim's ``loop_s``)."""
        return self.run_timed(days)[0]

    def run_timed(self, days: int) -> tuple[float, float]:
        """(wall seconds, process CPU seconds) for days 1..days. CPU time counts only the cycles
        this process got, so it is the steadier measure on a machine shared with other work."""
        w0, c0 = time.perf_counter(), time.process_time()
        for t in range(1, days + 1):
            self.day(t)
        return time.perf_counter() - w0, time.process_time() - c0


def floor_rate(n: int, days: int, threads: int | None = None) -> float:
    """Agent-steps per second of the floor's day loop for n agents over `days` days."""
    return n * days / Floor(n, threads).run(days)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--population", type=float, default=2e7)
    ap.add_argument("-d", "--days", type=int, default=30)
    ap.add_argument("--threads", type=int, default=None, help="default: numba's (all cores)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = int(args.population)
    if n < 1 or args.days < 1 or args.repeat < 1 or (args.threads is not None and args.threads < 1):
        ap.error("population, days, repeat and threads must be at least 1")
    fl = Floor(n, args.threads)
    runs = [fl.run_timed(args.days) for _ in range(args.repeat)]
    wall = [n * args.days / w for w, _ in runs]
    cpu = [n * args.days / c for _, c in runs]
    print(
        f"floor N={n:.3g} D={args.days} threads={numba.get_num_threads()}, {args.repeat} runs, median [min..max]: "
        f"{statistics.median(wall):.3g} [{min(wall):.3g}..{max(wall):.3g}] agent-steps/s, "
        f"{statistics.median(cpu):.3g} [{min(cpu):.3g}..{max(cpu):.3g}] per CPU-second"
    )

if __name__ == "__main__":
    main()
