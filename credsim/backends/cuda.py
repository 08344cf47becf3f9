"""CUDA driver: the shared day step (:func:`credsim.kernel.step.pair_day`) in a ``cuda.jit`` kernel.

The per-agent logic is not here: the kernels (:mod:`credsim.kernel.cuda_kernels`) run the day step's
functions, from the same source as the CPU driver. ``init_agent`` and ``mix64`` are used as they
are (``register_jitable``, compiled by numba-cuda as device functions). ``pair_day``, ``agent_score``, ``agent_finish``,
``listed_contacts`` and ``_listed_yesterday`` are declared ``register_jitable(inline="always")`` for the
CPU's numba-IR inlining, which numba-cuda 0.30 cannot type; ``cuda_kernels._retarget`` gives the CUDA
kernel copies of them built from the same code objects with a CUDA decorator
(``cuda.jit(device=True, forceinline=True)``). Under ``NUMBA_ENABLE_CUDASIM=1`` all of them run as
Python. What this module adds is the GPU's way of walking the pairs and summing exactly:

* **State** (own int16, flags uint8, bl_since uint16, stress uint8: 6 bytes per agent; 7 with
  CSM-2's extra byte) lives on the device for the whole run; nothing per agent crosses the bus
  after ``init``. Every policy in force (MODEL.md §8.4) has its tables on the device; a day's
  launch passes the day's.
* **Panel** (§8.7): with K > 0 tracked agents, each thread tests its agents' membership
  arithmetically (``j = ceil(i K / N)``, tracked iff ``j N // K == i``) and writes their rows;
  the K rows are copied to the host after each day.
* **Walk**: block ``b`` owns a contiguous range of pairs; its threads take the pairs of that range
  in steps of the block size, so a warp touches 32 neighbouring pairs (coalesced state access)
  and each thread's pairs ascend (its region index only moves forward, as on the CPU).
* **Exact aggregates**: each thread adds into its own ``cuda.local.array`` row of ``MAX_COLS``
  int64 (the row ``pair_day`` writes, as a CPU chunk does); at the end the block folds the rows
  into shared memory and then into one device row with integer atomics (add for sums, min/max
  for the min/max columns). Integer addition is associative, so any schedule gives the same
  integers. Region sums (listed, ΣP) are kept in registers for the thread's current region and
  flushed when it changes (regions are contiguous id ranges, so rarely).
* **One copy per day**: the aggregate row and the region sums share one device array, reset by a
  tiny kernel and copied to the host once after the day kernel.

Importing this module never fails: without numba-cuda (or without a GPU), ``CudaBackend(plan)``
raises :class:`CredsimError` with a one-line reason (:mod:`credsim.kernel.cuda_compat` says why).
This module is the host side, :class:`CudaBackend`.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

import numpy as np

from credsim.errors import CredsimError
from credsim.backends.base import STATE_BYTES_PER_AGENT, aux_buffer, panel_buffer, state_bytes_per_agent, state_fields
from credsim.kernel.args import STATE_ARGS, table_args
from credsim.kernel.cuda_compat import SIMULATOR, cuda, unavailable_reason
from credsim.kernel.cuda_kernels import MAX_COLS, MAX_REGIONS

if cuda is not None:  # the kernels exist only where numba-cuda imports
    from credsim.kernel.cuda_kernels import day_kernel, init_kernel, reset_kernel, sum_public0_kernel


#: Threads per block on a GPU (a multiple of the warp size).
THREADS_PER_BLOCK = 128
#: Blocks launched = WAVES x the blocks the GPU holds at once (from the compiled kernel's occupancy);
#: every block walks the same number of pairs, so the waves are full and there is no tail.
WAVES = 2
#: Fallback when the occupancy query is unavailable: blocks per multiprocessor.
BLOCKS_PER_SM = 16
#: Threads per block under the simulator (each simulated thread is a Python thread).
SIM_THREADS_PER_BLOCK = 32
#: Pairs per simulated thread (fewer blocks: fewer Python threads to start).
SIM_PAIRS_PER_THREAD = 64
#: GIL switch interval while simulated kernels run. The simulator's block manager polls its
#: threads in a busy loop; with CPython's default 5 ms interval the threads wait for it most of
#: the time (a day of 10k agents took ~3x longer). Set and restored around each launch.
SIM_SWITCH_INTERVAL_S = 1e-4
@contextmanager
def _sim_switch_interval():
    """Under the simulator, a short GIL switch interval while kernels run (see SIM_SWITCH_INTERVAL_S)."""
    if not SIMULATOR:
        yield
        return
    saved = sys.getswitchinterval()
    sys.setswitchinterval(SIM_SWITCH_INTERVAL_S)
    try:
        yield
    finally:
        sys.setswitchinterval(saved)


def _i64(x) -> np.int64:
    return np.int64(int(x))


class CudaBackend:
    """Agents ``lo..hi-1`` on one CUDA GPU; state resident in device memory for the whole run."""

    name = "cuda"
    bytes_per_agent = STATE_BYTES_PER_AGENT
    regs_per_thread: int | None = None

    def __init__(
        self,
        plan,
        lo: int = 0,
        hi: int | None = None,
        threads: int | None = None,
        *,
        threads_per_block: int | None = None,
        waves: int | None = None,
    ):
        """``threads`` is accepted for interface parity with CpuBackend and ignored;
        ``threads_per_block`` and ``waves`` tune the launch (defaults THREADS_PER_BLOCK, WAVES)."""
        reason = unavailable_reason()
        if reason is not None:
            raise CredsimError(f"backend: cuda is not available: {reason}")
        if plan.n_cols > MAX_COLS:
            raise CredsimError(
                f"backend: cuda supports at most {MAX_COLS} aggregate columns, this plan has {plan.n_cols} "
                f"(fewer channels, activities or histogram bins, or use --backend cpu)"
            )
        if plan.layout.n_regions > MAX_REGIONS:
            raise CredsimError(
                f"backend: cuda supports at most {MAX_REGIONS} regions, this plan has {plan.layout.n_regions} "
                f"(use --backend cpu)"
            )
        self.plan = plan
        self.bytes_per_agent = state_bytes_per_agent(plan)
        self.lo, self.hi = lo, plan.n if hi is None else hi
        if self.lo % 2 or not 0 <= self.lo < self.hi <= plan.n:
            raise CredsimError(f"backend: cuda needs 0 <= lo < hi <= N with lo even, got lo={lo}, hi={self.hi}")
        n_local = self.hi - self.lo
        self.n_pairs = (self.hi + 1) // 2 - self.lo // 2
        self.waves = waves or WAVES
        if SIMULATOR:
            self.tpb = threads_per_block or SIM_THREADS_PER_BLOCK
            self._set_grid(-(-self.n_pairs // (self.tpb * SIM_PAIRS_PER_THREAD)))
        else:
            self.tpb = threads_per_block or THREADS_PER_BLOCK
            try:
                n_sm = cuda.get_current_device().MULTIPROCESSOR_COUNT
            except Exception:  # noqa: BLE001
                n_sm = 132
            self._set_grid(n_sm * BLOCKS_PER_SM)  # refined from the kernel's occupancy in init()
        if self.tpb % 32 or not 32 <= self.tpb <= 1024:
            raise CredsimError(f"backend: cuda threads per block must be a multiple of 32 in 32..1024, got {self.tpb}")
        lay = plan.layout
        self.n_cols = plan.n_cols
        self.n_reg = lay.n_regions
        try:
            free, total = cuda.current_context().get_memory_info()
        except Exception:  # noqa: BLE001 - simulator or an old driver: let the allocation decide
            free, total = 1 << 62, 1 << 62
        need = n_local * self.bytes_per_agent + (16 << 20)
        if need > free:
            raise CredsimError(
                f"population: {n_local:.4g} agents need about {need / 2**30:.1f} GiB of GPU memory but only "
                f"{free / 2**30:.1f} GiB of {total / 2**30:.1f} GiB is free"
            )
        try:
            self.d_state = {k: cuda.device_array(n_local, dt) for k, dt in state_fields(plan).items()}
            # without CSM-2's extra state the kernels get a one-byte dummy (never read; its dtype
            # selects the CSM-1 or the extended kernel, see kernel/variant.py)
            self.d_aux = self.d_state["aux"] if plan.has_aux else cuda.to_device(aux_buffer(plan, 1))
            # every policy in force, (ip, beh, chan, act) each, resident for the whole run
            self.d_policies = [  # each in kernel order (credsim.kernel.args.TABLE_ARGS)
                tuple(cuda.to_device(np.ascontiguousarray(a, np.int64)) for a in table_args(pol)) for pol in plan.policies
            ]
            self.panel = panel_buffer(plan)
            self.d_panel = cuda.to_device(self.panel)
            self.panel_rows = plan.panel_rows(self.lo, self.hi)
            self.d_sum0 = cuda.device_array(1, np.int64)
            self.d_starts = cuda.to_device(np.ascontiguousarray(lay.starts, np.int64))
            self.d_sizes = cuda.to_device(np.ascontiguousarray(lay.sizes, np.int64))
            self.d_amod = cuda.to_device(np.ascontiguousarray(plan.amod, np.int64))
            self.d_halo = cuda.to_device(np.zeros(1, np.uint8))
            n_out = self.n_cols + 2 * self.n_reg
            self.d_out = cuda.device_array(n_out, np.int64)
            try:
                self.h_out = cuda.pinned_array(n_out, np.int64)
            except Exception:  # noqa: BLE001
                self.h_out = np.empty(n_out, np.int64)
        except CredsimError:
            raise
        except Exception as err:  # noqa: BLE001 - out of memory, driver trouble: one line
            raise CredsimError(f"backend: cuda allocation failed ({type(err).__name__}: {str(err).splitlines()[0]})")

    def _set_grid(self, n_blocks: int) -> None:
        """Split the pairs into at most ``n_blocks`` equal block ranges, each a multiple of the block size."""
        n_blocks = max(1, min(n_blocks, -(-self.n_pairs // self.tpb)))
        per_block = -(-self.n_pairs // n_blocks)
        self.pairs_per_block = -(-per_block // self.tpb) * self.tpb  # aligned: coalesced warps
        self.n_blocks = -(-self.n_pairs // self.pairs_per_block)

    def _occupancy_grid(self) -> None:
        """After compilation: WAVES x (blocks resident at once on the whole GPU)."""
        try:
            kernel = next(iter(day_kernel.overloads.values()))
            wave = int(kernel.max_cooperative_grid_blocks(self.tpb))
            self.regs_per_thread = int(kernel.regs_per_thread)
        except Exception:  # noqa: BLE001 - keep the fallback grid
            return
        if wave > 0:
            self._set_grid(wave * self.waves)

    @property
    def device_bytes(self) -> int:
        """Device bytes held by this backend (state plus the small tables and the output row)."""
        arrays = [
            *self.d_state.values(),
            *(a for pol in self.d_policies for a in pol),
            self.d_starts,
            self.d_sizes,
            self.d_amod,
            self.d_halo,
            self.d_out,
            self.d_panel,
        ]
        return int(sum(a.size * a.dtype.itemsize for a in arrays))

    def init(self) -> None:
        """Day-0 state (MODEL.md §3 and §8.5) on the device, then compile the day kernel with a no-op day 0."""
        p = self.plan
        n_local = self.hi - self.lo
        blocks = max(1, min(-(-n_local // self.tpb), 65535 if SIMULATOR else 1 << 20))
        if SIMULATOR:
            blocks = max(1, min(blocks, 8))
        with _sim_switch_interval():
            init_kernel[blocks, self.tpb](
                _i64(self.lo),
                _i64(self.hi),
                *self._state_args(),
                np.uint64(p.root1),
                np.uint64(p.root2),
                _i64(p.married_thr),
                self.d_policies[0][0],
            )
            self._launch(0, 0, 0, False, None, self.lo, 0)  # compiles; hi == lo: no pair is touched
        cuda.synchronize()
        if not SIMULATOR:
            self._occupancy_grid()

    def sum_public0(self) -> int:
        """Σ P_0 of this backend's agents (day 0's public scores with day 1's spouse weight, §8.5)."""
        s = self.d_state
        n_pairs = max(1, self.n_pairs)
        blocks = max(1, min(-(-n_pairs // self.tpb), 8 if SIMULATOR else 1 << 16))
        self.d_sum0.copy_to_device(np.zeros(1, np.int64))
        with _sim_switch_interval():
            sum_public0_kernel[blocks, self.tpb](
                _i64(self.lo), _i64(self.hi), s["own"], s["flags"], self.d_policies[0][0], self.d_sum0
            )
        return int(self.d_sum0.copy_to_host()[0])

    def _state_args(self) -> tuple:
        """The device state in kernel order (credsim.kernel.args.STATE_ARGS); aux is the dummy without CSM-2."""
        return tuple(self.d_aux if name == "aux" else self.d_state[name] for name, _ in STATE_ARGS)

    def _launch(self, t, threshold, key, hist_on, halo, hi, policy) -> None:
        n_out = self.d_out.shape[0]
        reset_kernel[-(-n_out // 128), 128](self.d_out, _i64(self.n_cols))
        blocks = self.n_blocks if hi > self.lo else 1
        day_kernel[blocks, self.tpb](
            _i64(t),
            _i64(threshold),
            np.uint64(key),
            bool(hist_on),
            _i64(self.lo),
            _i64(hi),
            _i64(self.pairs_per_block),
            _i64(self.n_cols),
            _i64(self.n_reg),
            *self._state_args(),
            self.d_halo if halo is None else halo,
            *self.d_policies[policy],
            self.d_starts,
            self.d_sizes,
            self.d_amod,
            self.d_out,
            self.d_panel,
        )

    def day(self, t: int, threshold: int, key: int, hist_on: bool, halo: np.ndarray | None = None, policy: int = 0):
        """Run day t under policy ``policy``; returns (aggregate row int64[n_cols], region sums
        int64[R, 2] of listed, ΣP). The tracked agents' rows are then in ``self.panel``."""
        d_halo = None
        if halo is not None:  # a shard's view of its neighbours' blacklist bits (bitmap, global ids)
            if getattr(self, "_halo_size", None) != halo.size:
                self.d_halo_full = cuda.device_array(halo.size, np.uint8)
                self._halo_size = halo.size
            self.d_halo_full.copy_to_device(np.ascontiguousarray(halo, np.uint8))
            d_halo = self.d_halo_full
        with _sim_switch_interval():
            self._launch(t, threshold, key, hist_on, d_halo, self.hi, policy)
        self.d_out.copy_to_host(self.h_out)  # the day's one device-to-host copy (synchronises)
        j0, j1 = self.panel_rows
        if j1 > j0:  # the panel's rows (K x 9 int16: tiny)
            self.panel[j0:j1] = self.d_panel[j0:j1].copy_to_host()
        out = np.array(self.h_out, np.int64)
        return out[: self.n_cols], out[self.n_cols :].reshape(-1, 2)

    def state(self) -> dict[str, np.ndarray]:
        """Host copies of the state arrays by name (for checkpoints and tests)."""
        return {k: a.copy_to_host() for k, a in self.d_state.items()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Replace the device state with saved arrays (same names, dtypes and length), e.g. from a checkpoint."""
        for name, arr in self.d_state.items():
            src = np.ascontiguousarray(state[name])
            if src.shape != arr.shape or src.dtype != arr.dtype:
                raise ValueError(f"state {name}: expected {arr.dtype}{arr.shape}, got {src.dtype}{src.shape}")
            arr.copy_to_device(src)

    def close(self) -> None:
        """Let the device arrays go now (not at the next garbage collection)."""
        self.d_state, self.d_policies, self.d_aux = {}, [], None
