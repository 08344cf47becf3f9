"""CUDA driver: the shared day step (:func:`credsim.kernel.step.pair_day`) in a ``cuda.jit`` kernel.

The per-agent logic is not here: the kernels below run step.py's functions, from the same source
as the CPU driver. ``init_agent`` and ``mix64`` are used as they are (``register_jitable``,
compiled by numba-cuda as device functions). ``pair_day``, ``agent_score``, ``agent_finish``,
``listed_contacts`` and ``_listed_yesterday`` are declared ``register_jitable(inline="always")`` for the
CPU's numba-IR inlining, which numba-cuda 0.30 cannot type; :func:`_retarget` gives the CUDA
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
raises :class:`CredsimError` with a one-line reason.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

import numpy as np

from credsim.errors import CredsimError
from credsim.kernel.backend import STATE_BYTES_PER_AGENT, aux_buffer, panel_buffer, state_bytes_per_agent, state_fields
from credsim.kernel.layout import C_MAX_P, C_MIN_P, IP_N, IP_PANEL_K, IP_SPOUSE_W

#: Most aggregate columns a plan may have on this backend (size of each thread's local row).
MAX_COLS = 160
#: Most regions a plan may have on this backend (size of each block's shared region sums).
MAX_REGIONS = 64
_MAX_REG2 = 2 * MAX_REGIONS  # a plain constant: array shapes in kernels must be literals
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

_BIG = np.int64(1) << np.int64(62)
_NEG_BIG = -_BIG


def _numpy_shim() -> None:
    """numpy 2.5 removed ``np.row_stack`` (an alias of ``np.vstack``); numba 0.68.0's CUDA import
    path still references it, so on the GPU machines' image (numba 0.68.0 + numpy 2.5.2) importing
    numba.cuda failed with AttributeError. Restore the alias before the import; a no-op wherever
    numpy still has it."""
    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack


#: numba reads NUMBA_ENABLE_CUDASIM once, when numba.cuda is first imported.
SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")

_IMPORT_ERROR: str | None = None
try:
    _numpy_shim()
    from numba import cuda  # numba-cuda (or the simulator under NUMBA_ENABLE_CUDASIM=1)

    from numba.extending import register_jitable

    from credsim.kernel import step as _step
    from credsim.kernel.step import extended, init_state_agent, pair_public0

    # what numba.cuda actually loaded (the variable may have changed since its first import)
    SIMULATOR = "simulator" in getattr(cuda.jit, "__module__", "")
except Exception as err:  # noqa: BLE001 - any import failure means: no CUDA backend here
    cuda = None
    _IMPORT_ERROR = f"{type(err).__name__}: {err}".splitlines()[0]


#: step.py functions declared ``register_jitable(inline="always")`` (numba-IR inlining, which the
#: CPU kernel needs for speed). numba-cuda 0.30 cannot type such overloads (its typing of the
#: inlined IR fails with "xor(omitted, omitted)"), so the CUDA driver compiles its own copies of
#: them: same code objects, same source, other decorator (see :func:`_retarget`).
INLINED_STEP_FUNCTIONS = ("_listed_yesterday", "listed_contacts", "agent_score", "agent_finish", "pair_day")


def _retarget(module, names, decorate):
    """Copies of ``module``'s functions ``names`` (their code objects, untouched) whose global
    names resolve to each other's copies, each wrapped by ``decorate``; everything else they call
    (``mix64``, layout constants) is the module's own object.

    This keeps one source of the per-agent logic with one decorator per target: the CPU kernel
    compiles the originals (IR-inlined), the CUDA kernel these copies (device functions that
    NVVM inlines). Returns ``{name: copy}``."""
    import types

    env = dict(vars(module))
    out = {}
    for name in names:
        fn = getattr(module, name)
        fn = getattr(fn, "py_func", fn)  # register_jitable returns the Python function itself
        copy = types.FunctionType(fn.__code__, env, fn.__name__, fn.__defaults__, fn.__closure__)
        copy.__doc__, copy.__qualname__, copy.__module__ = fn.__doc__, fn.__qualname__, fn.__module__
        out[name] = decorate(copy)
    env.update(out)
    return out


if cuda is not None:
    if SIMULATOR:  # plain Python: the copies run as they are
        from credsim.kernel.cudasim_fix import install as _fix_simulator_shared

        _fix_simulator_shared()  # the simulator's cuda.shared.array races between threads
        _dev = _retarget(_step, INLINED_STEP_FUNCTIONS, lambda f: f)
    else:
        try:
            _device = cuda.jit(device=True, forceinline=True)
        except TypeError:  # an older numba-cuda without forceinline: NVVM inlines small functions anyway
            _device = cuda.jit(device=True)
        _dev = _retarget(_step, INLINED_STEP_FUNCTIONS, _device)
    pair_day = _dev["pair_day"]

    @register_jitable
    def _region_of(g, r, reg_start, reg_size):
        """Region of global agent g, searching forward from region r (r <= region of g)."""
        while g >= reg_start[r] + reg_size[r]:
            r += 1
        return r

    @cuda.jit
    def init_kernel(lo, hi, own, flags, since, stress, aux, root1, root2, married_thr, ip):
        """Day-0 state of agents lo..hi-1 (MODEL.md §3 and §8.5); grid-stride loop."""
        li = cuda.grid(1)
        stride = cuda.gridsize(1)
        while li < hi - lo:
            init_state_agent(li, lo + li, own, flags, since, stress, aux, root1, root2, married_thr, ip)
            li += stride

    @cuda.jit
    def sum_public0_kernel(lo, hi, own, flags, ip, out):
        """out[0] += Σ P_0 of agents lo..hi-1 (lo even; §8.5): pairs in a grid-stride loop, one atomic per thread."""
        q = cuda.grid(1)
        stride = cuda.gridsize(1)
        w = ip[IP_SPOUSE_W]
        total = np.int64(0)
        while 2 * q < hi - lo:
            total += pair_public0(2 * q, hi - lo, own, flags, w)
            q += stride
        cuda.atomic.add(out, 0, total)

    @register_jitable
    def _panel_row(i, kp, n):
        """Panel row of agent i (MODEL.md §8.7: i_j = (j * N) // K), or -1 when i is not tracked."""
        j = (i * kp + n - 1) // n
        if j < kp and (j * n) // kp == i:
            return j
        return -1

    @cuda.jit
    def reset_kernel(out, n_cols):
        """Zero the day's output row; min and max columns start at +/- 2^62."""
        i = cuda.grid(1)
        if i < out.shape[0]:
            if i == C_MIN_P:
                out[i] = _BIG
            elif i == C_MAX_P:
                out[i] = _NEG_BIG
            else:
                out[i] = 0

    @cuda.jit
    def day_kernel(t, threshold, key, hist_on, lo, hi, pairs_per_block, n_cols, n_reg, own, flags, since, stress,
                   aux, halo, ip, beh, chan, act, reg_start, reg_size, amod, out, panel):  # fmt: skip
        """Day t for agents lo..hi-1 (lo even). ``out[:n_cols]`` is the aggregate row,
        ``out[n_cols + 2r]``/``out[n_cols + 2r + 1]`` region r's listed and ΣP; tracked agent j's
        day goes to ``panel[j]``."""
        tx = cuda.threadIdx.x
        nt = cuda.blockDim.x
        sacc = cuda.shared.array(MAX_COLS, np.int64)
        sreg = cuda.shared.array(_MAX_REG2, np.int64)
        c = tx
        while c < n_cols:
            sacc[c] = _BIG if c == C_MIN_P else (_NEG_BIG if c == C_MAX_P else 0)
            c += nt
        c = tx
        while c < 2 * n_reg:
            sreg[c] = 0
            c += nt
        row = cuda.local.array(MAX_COLS, np.int64)
        for c in range(n_cols):
            row[c] = 0
        row[C_MIN_P] = _BIG
        row[C_MAX_P] = _NEG_BIG
        cuda.syncthreads()

        q0 = lo // 2  # first pair of this caller
        p0 = q0 + cuda.blockIdx.x * pairs_per_block
        p1 = min(p0 + pairs_per_block, (hi + 1) // 2)
        p = p0 + tx
        kp = 0
        if extended(aux):  # a compile-time constant: in the CSM-1 kernel none of this is compiled
            kp = ip[IP_PANEL_K]
        n = ip[IP_N]
        r = 0
        cur = -1  # region whose sums are in (n_l, s_p)
        n_l = np.int64(0)
        s_p = np.int64(0)
        while p < p1:
            ra = _region_of(2 * p, r, reg_start, reg_size)
            rb = ra
            if 2 * p + 1 < hi:
                rb = _region_of(2 * p + 1, ra, reg_start, reg_size)
            r = ra
            ja = -1
            jb = -1
            if kp > 0:
                ja = _panel_row(2 * p, kp, n)
                jb = _panel_row(2 * p + 1, kp, n)
            bl_a, pub_a, bl_b, pub_b = pair_day(
                p, ra, rb, t, threshold, key, lo, hi, own, flags, since, stress, aux, halo, ip, beh, chan, act,
                reg_start, reg_size, amod, row, hist_on, ja, jb, panel,
            )  # fmt: skip
            for k in range(2):  # agents a, b: flush the running sums when the region changes
                rg = ra if k == 0 else rb
                if rg != cur:
                    if cur >= 0:
                        cuda.atomic.add(sreg, 2 * cur, n_l)
                        cuda.atomic.add(sreg, 2 * cur + 1, s_p)
                    cur = rg
                    n_l = np.int64(0)
                    s_p = np.int64(0)
                n_l += bl_a if k == 0 else bl_b
                s_p += pub_a if k == 0 else pub_b
            p += nt
        if cur >= 0:
            cuda.atomic.add(sreg, 2 * cur, n_l)
            cuda.atomic.add(sreg, 2 * cur + 1, s_p)
        # fold this thread's row into the block's, then the block's into the device row
        cuda.atomic.min(sacc, C_MIN_P, row[C_MIN_P])
        cuda.atomic.max(sacc, C_MAX_P, row[C_MAX_P])
        for c in range(n_cols):
            v = row[c]
            if v != 0 and c != C_MIN_P and c != C_MAX_P:
                cuda.atomic.add(sacc, c, v)
        cuda.syncthreads()
        c = tx
        while c < n_cols:
            v = sacc[c]
            if c == C_MIN_P:
                cuda.atomic.min(out, c, v)
            elif c == C_MAX_P:
                cuda.atomic.max(out, c, v)
            elif v != 0:
                cuda.atomic.add(out, c, v)
            c += nt
        c = tx
        while c < 2 * n_reg:
            v = sreg[c]
            if v != 0:
                cuda.atomic.add(out, n_cols + c, v)
            c += nt


#: The kernels' arguments by name and numba type, in order: the one declaration from which
#: :func:`kernel_signatures` builds the explicit signatures (for ``compile_ptx``), and against which
#: the launches in :class:`CudaBackend` are checked by the PTX test.
STATE_ARGS = (("own", "int16[::1]"), ("flags", "uint8[::1]"), ("since", "uint16[::1]"), ("stress", "uint8[::1]"),
              ("aux", "{aux}[::1]"))  # fmt: skip
TABLE_ARGS = (("ip", "int64[::1]"), ("beh", "int64[:, ::1]"), ("chan", "int64[:, ::1]"), ("act", "int64[:, ::1]"))
KERNEL_ARGS = {
    "day_kernel": (("t", "int64"), ("threshold", "int64"), ("key", "uint64"), ("hist_on", "boolean"),
                   ("lo", "int64"), ("hi", "int64"), ("pairs_per_block", "int64"), ("n_cols", "int64"),
                   ("n_reg", "int64"), *STATE_ARGS, ("halo", "uint8[::1]"), *TABLE_ARGS,
                   ("reg_start", "int64[::1]"), ("reg_size", "int64[::1]"), ("amod", "int64[:, ::1]"),
                   ("out", "int64[::1]"), ("panel", "int16[:, ::1]")),
    "init_kernel": (("lo", "int64"), ("hi", "int64"), *STATE_ARGS, ("root1", "uint64"), ("root2", "uint64"),
                    ("married_thr", "int64"), ("ip", "int64[::1]")),
    "sum_public0_kernel": (("lo", "int64"), ("hi", "int64"), ("own", "int16[::1]"), ("flags", "uint8[::1]"),
                           ("ip", "int64[::1]"), ("out", "int64[::1]")),
    "reset_kernel": (("out", "int64[::1]"), ("n_cols", "int64")),
}  # fmt: skip
#: The compiled variants (kernel/step.py's compile-time switch, the dtype of aux): CSM-1 and extended.
VARIANTS = {"": {"aux": "int8"}, "_extended": {"aux": "uint8"}}


def kernel_signatures() -> dict:
    """Explicit signatures of the kernels, as the backend launches them: ``name -> (kernel, sig)``,
    for a CSM-1 run without a panel and for a run with CSM-2 or a panel (``*_extended``).

    For ``cuda.compile_ptx(kernel.py_func, sig)``, which compiles for a real GPU without one."""
    kernels = {"day_kernel": day_kernel, "init_kernel": init_kernel, "sum_public0_kernel": sum_public0_kernel,
               "reset_kernel": reset_kernel}  # fmt: skip
    out = {}
    for suffix, types_ in VARIANTS.items():
        for name, args in KERNEL_ARGS.items():
            sig = f"void({', '.join(ty.format(**types_) for _, ty in args)})"
            if suffix and sig == out.get(name, (None, None))[1]:
                continue  # the same kernel in both variants
            out[name + suffix] = (kernels[name], sig)
    return out


def compile_ptx(cc: tuple[int, int] = (9, 0)) -> dict[str, str]:
    """PTX of the three kernels for compute capability ``cc``: proof that they type-check and lower
    for a real GPU. Needs numba-cuda and libnvvm (a CUDA toolkit or the ``nvidia-nvvm`` wheel),
    not a GPU. Without a GPU, numba-cuda asks the (absent) current device for its compute
    capability when it compiles a device function; that one lookup is answered with ``cc``
    for the duration of the call."""
    if cuda is None:
        raise CredsimError(f"backend: cuda is not available: {unavailable_reason()}")
    if SIMULATOR:
        raise CredsimError("backend: cuda: compile_ptx needs the real CUDA target (unset NUMBA_ENABLE_CUDASIM)")
    import types

    import numba.cuda.dispatcher as disp

    saved = getattr(disp, "get_current_device", None)
    patch = saved is not None and unavailable_reason() is not None
    if patch:
        disp.get_current_device = lambda: types.SimpleNamespace(compute_capability=cc)
    try:
        return {name: cuda.compile_ptx(k.py_func, sig, cc=cc)[0] for name, (k, sig) in kernel_signatures().items()}
    finally:
        if patch:
            disp.get_current_device = saved


def unavailable_reason() -> str | None:
    """Why the CUDA backend cannot run here (one line), or None if it can."""
    if cuda is None:
        return f"numba-cuda could not be imported ({_IMPORT_ERROR}); install credsim[cuda]"
    try:
        if not cuda.is_available():
            return "no CUDA GPU or driver found (set NUMBA_ENABLE_CUDASIM=1 to run on numba's CUDA simulator)"
    except Exception as err:  # noqa: BLE001
        return f"CUDA driver error ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
    return None


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

    def __init__(self, plan, lo: int = 0, hi: int | None = None, threads: int | None = None, *,
                 threads_per_block: int | None = None, waves: int | None = None):  # fmt: skip
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
            # selects the CSM-1 or the extended kernel, see kernel/step.py)
            self.d_aux = self.d_state["aux"] if plan.has_aux else cuda.to_device(aux_buffer(plan, 1))
            # every policy in force, (ip, beh, chan, act) each, resident for the whole run
            self.d_policies = [
                tuple(cuda.to_device(np.ascontiguousarray(a, np.int64)) for a in (pol.ip, pol.beh, pol.chan, pol.act))
                for pol in plan.policies
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
        arrays = [*self.d_state.values(), *(a for pol in self.d_policies for a in pol), self.d_starts,
                  self.d_sizes, self.d_amod, self.d_halo, self.d_out, self.d_panel]  # fmt: skip
        return int(sum(a.size * a.dtype.itemsize for a in arrays))

    def init(self) -> None:
        """Day-0 state (MODEL.md §3 and §8.5) on the device, then compile the day kernel with a no-op day 0."""
        p = self.plan
        s = self.d_state
        n_local = self.hi - self.lo
        blocks = max(1, min(-(-n_local // self.tpb), 65535 if SIMULATOR else 1 << 20))
        if SIMULATOR:
            blocks = max(1, min(blocks, 8))
        with _sim_switch_interval():
            init_kernel[blocks, self.tpb](
                _i64(self.lo), _i64(self.hi), s["own"], s["flags"], s["since"], s["stress"], self.d_aux,
                np.uint64(p.root1), np.uint64(p.root2), _i64(p.married_thr), self.d_policies[0][0],
            )  # fmt: skip
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

    def _launch(self, t, threshold, key, hist_on, halo, hi, policy) -> None:
        s = self.d_state
        n_out = self.d_out.shape[0]
        reset_kernel[-(-n_out // 128), 128](self.d_out, _i64(self.n_cols))
        blocks = self.n_blocks if hi > self.lo else 1
        d_ip, d_beh, d_chan, d_act = self.d_policies[policy]
        day_kernel[blocks, self.tpb](
            _i64(t), _i64(threshold), np.uint64(key), bool(hist_on), _i64(self.lo), _i64(hi),
            _i64(self.pairs_per_block), _i64(self.n_cols), _i64(self.n_reg),
            s["own"], s["flags"], s["since"], s["stress"], self.d_aux, self.d_halo if halo is None else halo,
            d_ip, d_beh, d_chan, d_act, self.d_starts, self.d_sizes, self.d_amod, self.d_out, self.d_panel,
        )  # fmt: skip

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
