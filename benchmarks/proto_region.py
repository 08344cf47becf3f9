"""Prototype for benchmarks/profile_steps.py: the region table's sums kept in registers.

The project's chunk adds each agent's (bl, P) into ``rrow[2r]``, ``rrow[2r+1]`` in memory: four
read-modify-writes per pair, each waiting on the previous store to the same address, and numba
cannot keep them in registers because ``rrow`` may alias the state arrays. Regions are contiguous
ranges of ids, so a chunk meets few of them: here the sums of the current region stay in two
locals and go to ``rrow`` when the region changes and at the chunk's end. The day step is the
all-on copy of benchmarks/step_variant.py, unchanged; only the chunk loop differs.
"""

import hashlib
import os
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange

import credsim.kernel.hash as _hash
import step_variant as _sv
from step_variant import _BIG, C_MAX_P, C_MIN_P, _region_of, pair_day


def _cache_dir() -> str:
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for path in (Path(__file__), here / "step_variant.py", Path(_hash.__file__)):
        digest.update(path.read_bytes())
    base = os.environ.get("CREDSIM_CACHE_DIR") or Path.home() / ".cache" / "credsim"
    return str(Path(base) / "profile" / f"region-{digest.hexdigest()[:16]}")


assert _sv.S_REGION_SUMS and not _sv.P_LOCAL_SUMS and not _sv.P_UNSIGNED  # the template's defaults: all on
_saved_cache_dir = numba.config.CACHE_DIR
numba.config.CACHE_DIR = _cache_dir()


@njit(cache=True, _nrt=False)
def _run_chunk(k, t, threshold, key, hist_on, lo, hi, chunk, own, flags, since, stress, halo, ip, beh, chan, act, reg_start, reg_size, amod, row, rrow):
    row[:] = 0
    rrow[:] = 0
    row[C_MIN_P] = _BIG
    row[C_MAX_P] = -_BIG
    p0 = lo // 2 + k * chunk
    p1 = min(p0 + chunk, (hi + 1) // 2)
    z = np.int64(0)
    sums = (z, z, _BIG, -_BIG, z, z, z, z, z, z, z)
    r = 0
    cur = 0  # region whose sums are in (n_listed, sum_p)
    n_listed = np.int64(0)
    sum_p = np.int64(0)
    for p in range(p0, p1):
        ra = _region_of(2 * p, r, reg_start, reg_size)
        rb = _region_of(2 * p + 1, ra, reg_start, reg_size) if 2 * p + 1 < hi else ra
        r = ra
        bl_a, pub_a, bl_b, pub_b, sums = pair_day(
            p, ra, rb, t, threshold, key, lo, hi, own, flags, since, stress, halo, ip, beh, chan, act,
            reg_start, reg_size, amod, row, hist_on, sums,
        )
        if ra != cur:
            rrow[2 * cur] += n_listed
            rrow[2 * cur + 1] += sum_p
            cur, n_listed, sum_p = ra, np.int64(0), np.int64(0)
        n_listed += bl_a
        sum_p += pub_a
        if rb != cur:
            rrow[2 * cur] += n_listed
            rrow[2 * cur + 1] += sum_p
            cur, n_listed, sum_p = rb, np.int64(0), np.int64(0)
        n_listed += bl_b
        sum_p += pub_b
    rrow[2 * cur] += n_listed
    rrow[2 * cur + 1] += sum_p


@njit(parallel=True, cache=True)
def run_day(t, threshold, key, hist_on, lo, hi, chunk, own, flags, since, stress, halo, ip, beh, chan, act, reg_start, reg_size, amod, acc, racc):
    for k in prange(acc.shape[0]):
        _run_chunk(
            np.int64(k), t, threshold, key, hist_on, lo, hi, chunk, own, flags, since, stress, halo, ip, beh, chan, act,
            reg_start, reg_size, amod, acc[k], racc[k],
        )


numba.config.CACHE_DIR = _saved_cache_dir
