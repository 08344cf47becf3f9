"""The CUDA kernels (see :mod:`credsim.backends.cuda` for how they walk the pairs and sum exactly),
built from the day step's functions (kernel/step.py and the modules it calls), and the PTX tooling
that compiles them for a real GPU without one.
The kernels exist only where numba-cuda imports (``cuda`` is not None).
"""

from __future__ import annotations

import numpy as np

from credsim.errors import CredsimError
from credsim.kernel.args import KERNEL_ARGS, VARIANTS, signature
from credsim.kernel.cuda_compat import SIMULATOR, cuda, unavailable_reason
from credsim.kernel.layout import C_MAX_P, C_MIN_P, IP_N, IP_PANEL_K, IP_SPOUSE_W

if cuda is not None:  # cuda_compat imported numba-cuda (or its simulator)
    from numba.extending import register_jitable

    from credsim.kernel import consequences as _consequences
    from credsim.kernel import score as _score
    from credsim.kernel import step as _step
    from credsim.kernel.initial import init_state_agent, pair_public0
    from credsim.kernel.variant import extended


#: Most aggregate columns a plan may have on this backend (size of each thread's local row).
MAX_COLS = 160
#: Most regions a plan may have on this backend (size of each block's shared region sums).
MAX_REGIONS = 64
_MAX_REG2 = 2 * MAX_REGIONS  # a plain constant: array shapes in kernels must be literals

_BIG = np.int64(1) << np.int64(62)
_NEG_BIG = -_BIG


#: The day step's functions declared ``register_jitable(inline="always")`` (numba-IR inlining,
#: which the CPU kernel needs for speed), by module (names in kernel/score.py, consequences.py,
#: step.py). numba-cuda 0.30 cannot type such overloads (its typing of the inlined IR fails with
#: "xor(omitted, omitted)"), so the CUDA driver compiles its own copies of them: same code
#: objects, same source, other decorator (see :func:`_retarget`).
INLINED_STEP_FUNCTIONS = {
    "score": ("_listed_yesterday", "listed_contacts", "agent_score"),
    "consequences": ("agent_finish",),
    "step": ("pair_day",),
}


def _retarget(modules, decorate):
    """Copies of the functions ``{module: names}`` (their code objects, untouched) whose global
    names resolve to each other's copies, in whichever of the modules they are named, each wrapped
    by ``decorate``; everything else they call (``mix64``, layout constants) is their module's own
    object.

    This keeps one source of the per-agent logic with one decorator per target: the CPU kernel
    compiles the originals (IR-inlined), the CUDA kernel these copies (device functions that
    NVVM inlines). Returns ``{name: copy}``."""
    import types

    envs = []
    out = {}
    for module, names in modules:
        env = dict(vars(module))
        envs.append(env)
        for name in names:
            fn = getattr(module, name)
            fn = getattr(fn, "py_func", fn)  # register_jitable returns the Python function itself
            copy = types.FunctionType(fn.__code__, env, fn.__name__, fn.__defaults__, fn.__closure__)
            copy.__doc__, copy.__qualname__, copy.__module__ = fn.__doc__, fn.__qualname__, fn.__module__
            out[name] = decorate(copy)
    for env in envs:
        env.update(out)
    return out


if cuda is not None:
    _modules = {"score": _score, "consequences": _consequences, "step": _step}
    _inlined = [(_modules[m], names) for m, names in INLINED_STEP_FUNCTIONS.items()]
    if SIMULATOR:  # plain Python: the copies run as they are
        from credsim.kernel.cudasim_fix import install as _fix_simulator_shared

        _fix_simulator_shared()  # the simulator's cuda.shared.array races between threads
        _dev = _retarget(_inlined, lambda f: f)
    else:
        try:
            _device = cuda.jit(device=True, forceinline=True)
        except TypeError:  # an older numba-cuda without forceinline: NVVM inlines small functions anyway
            _device = cuda.jit(device=True)
        _dev = _retarget(_inlined, _device)
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
    def day_kernel(
        t,
        threshold,
        key,
        hist_on,
        lo,
        hi,
        pairs_per_block,
        n_cols,
        n_reg,
        own,
        flags,
        since,
        stress,
        aux,
        halo,
        ip,
        beh,
        chan,
        act,
        reg_start,
        reg_size,
        amod,
        out,
        panel,
    ):
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
                p,
                ra,
                rb,
                t,
                threshold,
                key,
                lo,
                hi,
                own,
                flags,
                since,
                stress,
                aux,
                halo,
                ip,
                beh,
                chan,
                act,
                reg_start,
                reg_size,
                amod,
                row,
                hist_on,
                ja,
                jb,
                panel,
            )
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


#: The kernels' arguments by name and numba type, in order, are declared in credsim.kernel.args
#: (STATE_ARGS, TABLE_ARGS, KERNEL_ARGS, VARIANTS): :func:`kernel_signatures` builds the explicit
#: signatures from them (for ``compile_ptx``), and the launches in :class:`CudaBackend` pass the groups.


def kernel_signatures() -> dict:
    """Explicit signatures of the kernels, as the backend launches them: ``name -> (kernel, sig)``,
    for a CSM-1 run without a panel and for a run with CSM-2 or a panel (``*_extended``).

    For ``cuda.compile_ptx(kernel.py_func, sig)``, which compiles for a real GPU without one."""
    kernels = {
        "day_kernel": day_kernel,
        "init_kernel": init_kernel,
        "sum_public0_kernel": sum_public0_kernel,
        "reset_kernel": reset_kernel,
    }
    out = {}
    for suffix, types_ in VARIANTS.items():
        for name, args in KERNEL_ARGS.items():
            sig = signature(args, **types_)
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
