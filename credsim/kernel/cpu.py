"""CPU driver: the shared day step in a ``prange`` over chunks of pairs, on all cores.

Each chunk adds into its own row of the aggregate arrays, so threads never share a counter and
integer sums are exact in any schedule: results do not depend on the thread count.
"""

import numpy as np
from numba import njit, prange

from credsim.kernel.layout import C_MAX_P, C_MIN_P
from credsim.kernel.step import init_agent, pair_day

_BIG = np.int64(1) << 62


@njit(parallel=True, cache=True)
def init_state(lo, hi, own, flags, since, stress, s0, root1, root2, married_thr, n):
    """Day-0 state of agents lo..hi-1 (MODEL.md §3)."""
    for li in prange(hi - lo):
        own[li] = s0
        flags[li] = init_agent(lo + li, root1, root2, married_thr, n)
        since[li] = 0
        stress[li] = 0


@njit(inline="always")
def _region_of(g, r, reg_start, reg_size):
    while g >= reg_start[r] + reg_size[r]:
        r += 1
    return r


@njit(parallel=True, cache=True)
def run_day(t, threshold, key, hist_on, lo, hi, chunk, own, flags, since, stress, halo, ip, beh, chan, act, reg_start, reg_size, amod, acc, racc):
    """Day t for the agents lo..hi-1 (lo even); chunk k of ``chunk`` pairs writes acc[k] and racc[k]."""
    p_lo = lo // 2
    p_hi = (hi + 1) // 2
    nchunks = acc.shape[0]
    for k in prange(nchunks):
        row = acc[k]
        rrow = racc[k]
        row[:] = 0
        rrow[:] = 0
        row[C_MIN_P] = _BIG
        row[C_MAX_P] = -_BIG
        p0 = p_lo + k * chunk
        p1 = min(p0 + chunk, p_hi)
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
