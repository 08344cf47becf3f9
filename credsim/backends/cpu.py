"""The ``"cpu"`` backend: agents on all CPU cores (numba ``prange`` over chunks of pairs).

A backend (the interface: :class:`credsim.backends.base.Backend`) owns the state arrays of a block
of agents and answers ``day(t, threshold, key, hist_on, policy=k)`` with that day's aggregate row
and region sums, under policy k of the plan (MODEL.md §8.4), keeping the day's panel rows of its
tracked agents in ``panel`` (§8.7). The CUDA one is in :mod:`credsim.backends.cuda`, Ray's in
:mod:`credsim.backends.ray.driver`; :mod:`credsim.backends` picks one by name.
"""

from __future__ import annotations

import warnings

import numpy as np
from numba.core.errors import NumbaIRAssumptionWarning

from credsim.backends.base import STATE_FIELDS, aux_buffer, panel_buffer, reduce_rows, state_fields
from credsim.kernel.args import state_args, table_args
from credsim.plan import Plan

#: Bytes of per-chunk accumulator rows at most (beyond one chunk): with wide rows (many histogram
#: bins or regions) 16384 chunks would cost gigabytes (65536 bins: 8.6 GB; 150,000 regions: 39 GB).
ACC_BUDGET_BYTES = 128 << 20


def chunk_pairs(n_pairs: int, row_bytes: int = 0) -> int:
    """Pairs per chunk: small enough for load balance, large enough that rows stay tiny, and few
    enough chunks that their rows (``row_bytes`` each) fit :data:`ACC_BUDGET_BYTES`. The chunking
    never changes a result: each chunk sums into its own row and integer sums are exact."""
    max_chunks = max(1, ACC_BUDGET_BYTES // max(1, row_bytes))
    return max(4096, -(-n_pairs // 16384), -(-n_pairs // max_chunks))


def accumulator_shape(plan: Plan, lo: int = 0, hi: int | None = None) -> tuple[int, int]:
    """(pairs per chunk, chunks) of a CPU backend for agents lo..hi-1."""
    hi = plan.n if hi is None else hi
    n_pairs = (hi + 1) // 2 - lo // 2
    chunk = chunk_pairs(n_pairs, 8 * (plan.n_cols + 2 * plan.layout.n_regions))
    return chunk, -(-n_pairs // chunk)


class CpuBackend:
    """Agents ``lo..hi-1`` on all CPU cores (numba ``prange``); state resident in host memory."""

    name = "cpu"

    def __init__(self, plan: Plan, lo: int = 0, hi: int | None = None, threads: int | None = None):
        import numba

        from credsim.kernel import cpu

        self._k = cpu
        self.plan = plan
        self.lo, self.hi = lo, plan.n if hi is None else hi
        if threads:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        n_local = self.hi - self.lo
        for name, dtype in STATE_FIELDS.items():  # own, flags, since, stress
            setattr(self, name, np.empty(n_local, dtype))
        self.aux = aux_buffer(plan, n_local)  # the state's aux field, or a dummy that picks the CSM-1 kernel
        self.chunk, n_chunks = accumulator_shape(plan, self.lo, self.hi)
        self.acc = np.zeros((n_chunks, plan.n_cols), np.int64)
        self.racc = np.zeros((n_chunks, 2 * plan.layout.n_regions), np.int64)
        self.halo = np.zeros(1, np.uint8)
        self.panel = panel_buffer(plan)
        self.panel_rows = plan.panel_rows(self.lo, self.hi)  # the rows of this backend's tracked agents

    def init(self) -> None:
        """Day-0 state (MODEL.md §3 and §8.5)."""
        p = self.plan
        with warnings.catch_warnings():  # first call compiles: numba's inliner is chatty
            warnings.simplefilter("ignore", NumbaIRAssumptionWarning)
            self._compile()
        self._k.init_state(
            self.lo,
            self.hi,
            *state_args(self),
            np.uint64(p.root1),
            np.uint64(p.root2),
            p.married_thr,
            p.ip,
        )

    def sum_public0(self) -> int:
        """Σ P_0 of this backend's agents (day 0's public scores with day 1's spouse weight, §8.5)."""
        return int(self._k.sum_public0(self.lo, self.hi, self.own, self.flags, self.plan.ip))

    def _compile(self) -> None:
        """Compile (or load from cache) the kernels for this plan's types by running a no-op day 0."""
        p = self.plan
        lay = p.layout
        empty = self.acc[:0]
        self._k.run_day(
            0,
            0,
            np.uint64(0),
            False,
            self.lo,
            self.lo,
            self.chunk,
            *state_args(self),
            self.halo,
            *table_args(p),
            lay.starts,
            lay.sizes,
            p.amod,
            empty,
            self.racc[:0],
            self.panel,
        )

    def day(self, t: int, threshold: int, key: int, hist_on: bool, halo: np.ndarray | None = None, policy: int = 0):
        """Run day t under policy ``policy`` of the plan; returns (aggregate row int64[n_cols], region
        sums int64[R, 2] of listed, ΣP). The tracked agents' rows are then in ``self.panel``."""
        p = self.plan
        pol = p.policies[policy]
        lay = p.layout
        self._k.run_day(
            t,
            threshold,
            np.uint64(key),
            hist_on,
            self.lo,
            self.hi,
            self.chunk,
            *state_args(self),
            self.halo if halo is None else halo,
            *table_args(pol),
            lay.starts,
            lay.sizes,
            p.amod,
            self.acc,
            self.racc,
            self.panel,
        )
        return reduce_rows(self.acc), self.racc.sum(axis=0).reshape(-1, 2)

    def state(self) -> dict[str, np.ndarray]:
        """The state arrays by name (views of agents lo..hi-1, for checkpoints and tests)."""
        return {name: getattr(self, name) for name in state_fields(self.plan)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Replace the state with saved arrays (same names, dtypes and length), e.g. from a checkpoint."""
        for name, arr in self.state().items():
            src = state[name]
            if src.shape != arr.shape or src.dtype != arr.dtype:
                raise ValueError(f"state {name}: expected {arr.dtype}{arr.shape}, got {src.dtype}{src.shape}")
            arr[...] = src

    def close(self) -> None:
        """Nothing to hand back: the state is host memory, freed with the backend."""
