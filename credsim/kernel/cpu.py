"""CPU driver: the shared day step in a ``prange`` over chunks of pairs, on all cores.

Each chunk adds into its own row of the aggregate arrays, so threads never share a counter and
integer sums are exact in any schedule: results do not depend on the thread count.
"""

import os
from pathlib import Path

import numpy as np
from numba import njit, prange
from numba.core.caching import CompileResultCacheImpl, FunctionCache, UserProvidedCacheLocator
from numba.core.compiler import Compiler

from credsim.kernel.initial import init_state_agent, pair_public0
from credsim.kernel.layout import C_MAX_P, C_MIN_P, IP_N, IP_PANEL_K, IP_SPOUSE_W
from credsim.kernel.step import pair_day
from credsim.kernel.variant import extended
from credsim.sources import KERNEL_SOURCES, digest


def _kernel_cache_dir() -> str:
    """Numba invalidates a cached function only when its own file changes, not the files it
    calls into; so the cache lives in a folder named by the hash of every kernel source
    (declared once, in :data:`credsim.sources.KERNEL_SOURCES`)."""
    base = os.environ.get("CREDSIM_CACHE_DIR") or Path.home() / ".cache" / "credsim" / "numba"
    return str(Path(base) / digest(KERNEL_SOURCES)[:16])


class _KernelCacheLocator(UserProvidedCacheLocator):
    """numba's locator for a user-given cache folder, with the folder this module's own
    (:func:`_kernel_cache_dir`) instead of the global ``numba.config.CACHE_DIR``: the same
    sub-folder and file names, so the cache is where setting that global would have put it."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = os.path.join(_kernel_cache_dir(), self.get_suitable_cache_subpath(py_file))

    @classmethod
    def from_function(cls, py_func, py_file):
        # the mixin's: the source file must exist and the folder be writable (else numba's next locator);
        # UserProvidedCacheLocator's own would decline whenever numba.config.CACHE_DIR is unset
        return super(UserProvidedCacheLocator, cls).from_function(py_func, py_file)


class _KernelCacheImpl(CompileResultCacheImpl):
    # numba's locators in numba's order, the kernel's folder in place of the user-provided one
    _locator_classes = [
        _KernelCacheLocator if c is UserProvidedCacheLocator else c for c in CompileResultCacheImpl._locator_classes
    ]


class _KernelCache(FunctionCache):
    _impl_class = _KernelCacheImpl


def _cached(dispatcher):
    """``cache=True`` with the kernel's cache folder: what ``Dispatcher.enable_caching`` does, with
    this module's cache class (numba has no per-function cache folder option). Nothing global changes."""
    dispatcher._cache = _KernelCache(dispatcher.py_func)
    return dispatcher


_BIG = np.int64(1) << 62


class _NoAliasCompiler(Compiler):
    """numba's compiler with every pointer argument marked ``noalias`` (numba's own flag, which its
    parfor lowering sets for gufuncs whose arrays cannot alias). The chunk's arrays are distinct
    buffers, so LLVM may keep parameters and table rows in registers across the counters' stores
    instead of reloading them after each one."""

    def __init__(self, typingctx, targetctx, library, args, return_type, flags, locals):
        flags = flags.copy()
        flags.noalias = True
        super().__init__(typingctx, targetctx, library, args, return_type, flags, locals)


@_cached
@njit(parallel=True)
def init_state(lo, hi, own, flags, since, stress, aux, root1, root2, married_thr, ip):
    """Day-0 state of agents lo..hi-1 (MODEL.md §3 and §8.5)."""
    for li in prange(hi - lo):
        init_state_agent(li, lo + li, own, flags, since, stress, aux, root1, root2, married_thr, ip)


@_cached
@njit(parallel=True)
def sum_public0(lo, hi, own, flags, ip):
    """Σ P_0 of agents lo..hi-1 (lo even): day 0's public scores with day 1's spouse weight (§8.5)."""
    total = 0
    w = ip[IP_SPOUSE_W]
    for q in prange((hi - lo + 1) // 2):
        total += pair_public0(2 * q, hi - lo, own, flags, w)
    return total


@njit(inline="always", _nrt=False)
def _region_of(g, r, reg_start, reg_size):
    while g >= reg_start[np.uint64(r)] + reg_size[np.uint64(r)]:  # unsigned: no wraparound test
        r += 1
    return r


@njit(inline="always", _nrt=False)
def _panel_next(j, k, n):
    """Id of the panel's tracked agent j, i_j = (j * N) // K (MODEL.md §8.7); past every id when j = K."""
    return (j * n) // k if j < k else _BIG


@_cached
@njit(_nrt=False, pipeline_class=_NoAliasCompiler)
def _run_chunk(k, t, threshold, key, hist_on, lo, hi, chunk, own, flags, since, stress, aux, halo, ip, beh, chan, act, reg_start, reg_size, amod, row, rrow, panel):
    """Pairs of chunk k. Compiled without the runtime's reference counting: the per-pair calls
    then pass arrays by pointer, with no atomic incref/decref (which cost 6x in throughput).

    The panel costs one comparison per pair: a cursor holds the next tracked id of the chunk."""
    row[:] = 0
    rrow[:] = 0
    row[C_MIN_P] = _BIG
    row[C_MAX_P] = -_BIG
    p0 = lo // 2 + k * chunk
    p1 = min(p0 + chunk, (hi + 1) // 2)
    n = ip[IP_N]
    kp = 0
    if extended(aux):  # a compile-time constant: in the CSM-1 kernel none of this is compiled
        kp = ip[IP_PANEL_K]
    j = 0
    nxt = _BIG
    if kp > 0:
        j = (2 * p0 * kp + n - 1) // n  # the first tracked agent at or after 2 * p0
        nxt = _panel_next(j, kp, n)
    r = 0
    for p in range(p0, p1):
        ra = _region_of(2 * p, r, reg_start, reg_size)
        rb = _region_of(2 * p + 1, ra, reg_start, reg_size) if 2 * p + 1 < hi else ra
        r = ra
        ja = -1
        jb = -1
        if kp > 0 and nxt <= 2 * p + 1:
            if nxt == 2 * p:
                ja = j
                j += 1
                nxt = _panel_next(j, kp, n)
            if nxt == 2 * p + 1:
                jb = j
                j += 1
                nxt = _panel_next(j, kp, n)
        bl_a, pub_a, bl_b, pub_b = pair_day(
            p, ra, rb, t, threshold, key, lo, hi, own, flags, since, stress, aux, halo, ip, beh, chan, act,
            reg_start, reg_size, amod, row, hist_on, ja, jb, panel,
        )
        rrow[np.uint64(2 * ra)] += bl_a
        rrow[np.uint64(2 * ra + 1)] += pub_a
        rrow[np.uint64(2 * rb)] += bl_b
        rrow[np.uint64(2 * rb + 1)] += pub_b


@_cached
@njit(parallel=True)
def run_day(t, threshold, key, hist_on, lo, hi, chunk, own, flags, since, stress, aux, halo, ip, beh, chan, act, reg_start, reg_size, amod, acc, racc, panel):
    """Day t for the agents lo..hi-1 (lo even); chunk k of ``chunk`` pairs writes acc[k] and racc[k],
    and tracked agent j of the panel (if any) writes panel[j]."""
    for k in prange(acc.shape[0]):
        _run_chunk(
            np.int64(k), t, threshold, key, hist_on, lo, hi, chunk, own, flags, since, stress, aux, halo, ip, beh, chan, act,
            reg_start, reg_size, amod, acc[k], racc[k], panel,
        )

