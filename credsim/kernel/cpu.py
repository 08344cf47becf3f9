"""CPU driver: the shared day step in a ``prange`` over chunks of pairs, on all cores.

Each chunk adds into its own row of the aggregate arrays, so threads never share a counter and
integer sums are exact in any schedule: results do not depend on the thread count.
"""

import os
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange

from credsim.kernel.layout import C_MAX_P, C_MIN_P
from credsim.kernel.step import init_agent, pair_day
from credsim.sources import KERNEL_SOURCES, digest


def _kernel_cache_dir() -> str:
    """Numba invalidates a cached function only when its own file changes, not the files it
    calls into; so the cache lives in a folder named by the hash of every kernel source
    (declared once, in :data:`credsim.sources.KERNEL_SOURCES`)."""
    base = os.environ.get("CREDSIM_CACHE_DIR") or Path.home() / ".cache" / "credsim" / "numba"
    return str(Path(base) / digest(KERNEL_SOURCES)[:16])


_saved_cache_dir = numba.config.CACHE_DIR
numba.config.CACHE_DIR = _kernel_cache_dir()

_BIG = np.int64(1) << 62


@njit(parallel=True, cache=True)
def init_state(lo, hi, own, flags, since, stress, s0, root1, root2, married_thr, n):
    """Day-0 state of agents lo..hi-1 (MODEL.md §3)."""
    for li in prange(hi - lo):
        own[li] = s0
        flags[li] = init_agent(lo + li, root1, root2, married_thr, n)
        since[li] = 0
        stress[li] = 0


@njit(inline="always", _nrt=False)
def _region_of(g, r, reg_start, reg_size):
    while g >= reg_start[r] + reg_size[r]:
        r += 1
    return r


@njit(cache=True, _nrt=False)
def _run_chunk(k, t, threshold, key, hist_on, lo, hi, chunk, own, flags, since, stress, halo, ip, beh, chan, act, reg_start, reg_size, amod, row, rrow):
    """Pairs of chunk k. Compiled without the runtime's reference counting: the per-pair calls
    then pass arrays by pointer, with no atomic incref/decref (which cost 6x in throughput)."""
    row[:] = 0
    rrow[:] = 0
    row[C_MIN_P] = _BIG
    row[C_MAX_P] = -_BIG
    p0 = lo // 2 + k * chunk
    p1 = min(p0 + chunk, (hi + 1) // 2)
    r = 0
    for p in range(p0, p1):
        ra = _region_of(2 * p, r, reg_start, reg_size)
        rb = _region_of(2 * p + 1, ra, reg_start, reg_size) if 2 * p + 1 < hi else ra
        r = ra
        bl_a, pub_a, bl_b, pub_b = pair_day(
            p, ra, rb, t, threshold, key, lo, hi, own, flags, since, stress, halo, ip, beh, chan, act,
            reg_start, reg_size, amod, row, hist_on,
        )
        rrow[2 * ra] += bl_a
        rrow[2 * ra + 1] += pub_a
        rrow[2 * rb] += bl_b
        rrow[2 * rb + 1] += pub_b


@njit(parallel=True, cache=True)
def run_day(t, threshold, key, hist_on, lo, hi, chunk, own, flags, since, stress, halo, ip, beh, chan, act, reg_start, reg_size, amod, acc, racc):
    """Day t for the agents lo..hi-1 (lo even); chunk k of ``chunk`` pairs writes acc[k] and racc[k]."""
    for k in prange(acc.shape[0]):
        _run_chunk(
            k, t, threshold, key, hist_on, lo, hi, chunk, own, flags, since, stress, halo, ip, beh, chan, act,
            reg_start, reg_size, amod, acc[k], racc[k],
        )


numba.config.CACHE_DIR = _saved_cache_dir
