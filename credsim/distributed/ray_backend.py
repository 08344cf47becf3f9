"""The ``"ray"`` backend: one population split over K Ray actors ("shards"), exact for every K.

Partition
    Shard k owns agents ``bounds[k]..bounds[k+1]-1``: contiguous, in id order, every interior
    boundary a multiple of 8. So a shard holds whole marriage pairs (lo even, as the kernel needs)
    *and* whole bytes of the packed blacklist bitmap (bit g of byte g>>3), which is what lets a
    shard export its bits as plain byte ranges. Empty shards (K above N/8) are dropped.

What crosses shards
    CSM-1 couples agents only through association (MODEL.md §4 step 5): agent i reads the
    blacklist bit of yesterday of its contacts ``s_r + (i - s_r ± a_j) mod n_r``, inside its own
    region. For each shard we compute, once, from the region layout and ``plan.amod``, the global
    ids outside the shard that its agents may read (:func:`needed_intervals`: for a region larger
    than the offsets, about ``max a_j`` ids on each side of the shard's slice, plus the wrapped
    ends when the slice touches the region's ends; all of a region smaller than that). The day
    loop then ships only those bits: after computing day t, every shard packs bit ``t & 1`` of its
    flags over the byte ranges each neighbour needs and returns one small array per neighbour;
    the driver hands those object refs (not the bytes) to the neighbours' day t+1 calls, so Ray
    moves them shard to shard. A scenario without association (``association_penalty = 0``, as in
    ``baseline``) exchanges nothing.

The receiving side
    ``_listed_yesterday`` (kernel/step.py) reads a foreign contact's bit as ``halo[g >> 3]``: a
    bitmap indexed by *global* id. Each shard keeps it as an anonymous ``mmap`` of N/8 bytes,
    which costs address space only: pages are committed when written, so resident memory is the
    received bytes (rounded to 4 KiB pages), not N/8. The kernel and ``step.py`` are unchanged.

Reduction
    Each shard returns its aggregate row and region sums; the driver stacks the rows and reduces
    them with :func:`credsim.backends.base.reduce_rows` (sums, min of ``min_public``, max of
    ``max_public``). Integer sums are associative, so every K gives the single-process integers.

Failure
    Every wait has a timeout (``$CREDSIM_RAY_TIMEOUT``, default 600 s per call) and an actor that
    dies raises ``RayActorError``: either way the run stops with a one-line CredsimError naming
    the shard, its agents and the day, and the other shards are killed. Nothing hangs.

Ray is started locally (``ray.init(num_cpus=<cores>)``) unless it is already running in this
process or ``$RAY_ADDRESS`` names a cluster. Shards are placed with the ``SPREAD`` strategy. With
``device="cuda"`` (or ``$CREDSIM_RAY_DEVICE=cuda``) each shard asks Ray for one GPU and runs a
:class:`credsim.kernel.cuda.CudaBackend` on it (same exchange; the halo is copied to the device
each day).
"""

from __future__ import annotations

import bisect
import logging
import mmap
import os
import signal
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from credsim.errors import CredsimError
from credsim.backends.base import default_threads, panel_buffer, reduce_rows, state_fields
from credsim.kernel.layout import IP_ASSOC_PEN, IP_ASSOC_THR, IP_K2
from credsim.plan import Plan

ENV_TIMEOUT = "CREDSIM_RAY_TIMEOUT"
ENV_DEVICE = "CREDSIM_RAY_DEVICE"
DEFAULT_TIMEOUT_S = 600.0
MAX_SHARDS = 4096
#: Idle shard actors kept per device kind for the next run in this process (start-up is seconds).
POOL_SIZE = 16
PAGE = 4096

Range = tuple[int, int]  # half-open [begin, end)


# --- partition and exchange plan: pure functions of the plan, no Ray -------------------------------


def shard_bounds(n: int, shards: int) -> list[int]:
    """Boundaries ``0 = b_0 < ... < b_K' = n`` of K' <= K non-empty shards, interior ones multiples of 8."""
    cuts = [(k * n // shards) // 8 * 8 for k in range(1, shards)] + [n]
    bounds = [0]
    for c in cuts:
        if c > bounds[-1]:
            bounds.append(c)
    return bounds


def association_active(plan: Plan) -> bool:
    """Does any agent ever read a contact's blacklist bit (MODEL.md §4 step 5), under any policy in force?"""
    return int(plan.ip[IP_K2]) > 0 and any(
        int(pol.ip[IP_ASSOC_PEN]) != 0 and int(pol.ip[IP_ASSOC_THR]) > 0 for pol in plan.policies
    )


def _merge(ranges: list[Range]) -> list[Range]:
    out: list[Range] = []
    for b, e in sorted(r for r in ranges if r[1] > r[0]):
        if out and b <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((b, e))
    return out


def needed_intervals(plan: Plan, lo: int, hi: int) -> list[Range]:
    """Global ids outside ``lo..hi-1`` whose blacklist bit agents ``lo..hi-1`` may read (merged ranges).

    A superset is harmless (the kernel reads only real contacts); a missing id would be a wrong
    answer, so every ``±a_j`` shift of the shard's slice of every region it touches is included.
    """
    if lo >= hi or not association_active(plan):
        return []
    lay = plan.layout
    starts, sizes = lay.starts.tolist(), lay.sizes.tolist()
    ends = [s + n for s, n in zip(starts, sizes)]
    k2 = int(plan.ip[IP_K2])
    ranges: list[Range] = []
    r = bisect.bisect_right(ends, lo)
    while r < len(starts) and starts[r] < hi:
        s, n = starts[r], sizes[r]
        a0, a1 = max(lo, s) - s, min(hi, s + n) - s  # the shard's slice of region r, region-local
        if n > 0 and a1 - a0 < n:  # a region wholly inside the shard reads nothing outside it
            for j in range(k2):
                a = int(plan.amod[r, j])
                if a == 0:
                    continue  # every such contact is the agent itself: skipped
                for shift in (a, n - a):  # +a_j and -a_j (mod n)
                    x0, x1 = a0 + shift, a1 + shift
                    if x0 >= n:
                        x0, x1 = x0 - n, x1 - n
                    ranges.append((s + x0, s + min(x1, n)))
                    if x1 > n:
                        ranges.append((s, s + x1 - n))
        r += 1
    out: list[Range] = []
    for b, e in _merge(ranges):  # minus the shard itself
        if b < lo:
            out.append((b, min(e, lo)))
        if e > hi:
            out.append((max(b, hi), e))
    return out


@dataclass
class ExchangePlan:
    """Who sends which bytes of the packed blacklist bitmap to whom, every day.

    ``links[i] = (src, dst, byte_ranges)``; ``outs[src]`` and ``ins[dst]`` list link indices in
    one fixed order (dst ascending, src ascending), which is also the order of the arrays a
    shard returns and receives.
    """

    bounds: list[int]
    needed_agents: list[int]  # per shard: foreign ids it may read
    links: list[tuple[int, int, list[Range]]] = field(default_factory=list)
    outs: list[list[int]] = field(default_factory=list)
    ins: list[list[int]] = field(default_factory=list)

    @property
    def shards(self) -> int:
        return len(self.bounds) - 1

    def link_bytes(self, i: int) -> int:
        return sum(e - b for b, e in self.links[i][2])

    @property
    def bytes_per_day(self) -> int:
        """Payload bytes shipped between shards per day (all links; Ray's framing not included)."""
        return sum(self.link_bytes(i) for i in range(len(self.links)))

    def halo_bytes(self, k: int) -> int:
        """Bytes shard k receives per day (its halo's payload)."""
        return sum(self.link_bytes(i) for i in self.ins[k])

    def halo_resident_bytes(self, k: int) -> int:
        """Upper bound of shard k's halo memory: received bytes rounded out to whole pages."""
        pages: set[int] = set()
        for i in self.ins[k]:
            for b, e in self.links[i][2]:
                pages.update(range(b // PAGE, (e - 1) // PAGE + 1))
        return len(pages) * PAGE


def exchange_plan(plan: Plan, bounds: list[int]) -> ExchangePlan:
    """The static exchange pattern of a partition (see the module docstring)."""
    k = len(bounds) - 1
    xp = ExchangePlan(bounds=bounds, needed_agents=[0] * k, outs=[[] for _ in range(k)], ins=[[] for _ in range(k)])
    byte_lo = [b >> 3 for b in bounds[:-1]]
    byte_hi = [(b + 7) >> 3 for b in bounds[1:]]
    for dst in range(k):
        ivs = needed_intervals(plan, bounds[dst], bounds[dst + 1])
        xp.needed_agents[dst] = sum(e - b for b, e in ivs)
        need = _merge([(b >> 3, ((e - 1) >> 3) + 1) for b, e in ivs])
        for src in range(k):
            if src == dst:
                continue
            part = [(max(b, byte_lo[src]), min(e, byte_hi[src])) for b, e in need]
            part = [(b, e) for b, e in part if e > b]
            if part:
                xp.links.append((src, dst, part))
    for i, (src, dst, _) in enumerate(xp.links):
        xp.outs[src].append(i)
        xp.ins[dst].append(i)
    return xp


# --- the shard actor ------------------------------------------------------------------------------


def _sparse_bitmap(nbytes: int) -> tuple[np.ndarray, mmap.mmap]:
    """A zeroed uint8 array of ``nbytes`` whose pages are committed only when written."""
    buf = mmap.mmap(-1, max(1, nbytes))
    return np.frombuffer(buf, np.uint8)[:nbytes], buf


def writable_plan(plan: Plan) -> Plan:
    """``plan`` with every array writable (copies of the read-only ones).

    Ray hands an actor the plan's arrays as read-only views of its object store, and numba types a
    read-only array differently (``readonly array(int64, 1d, C)``): the cached kernel, compiled for
    writable arrays, would not match, and every actor would compile a second specialisation (about
    a minute each on a busy machine). The plan's arrays are small tables, so copying is free."""
    import dataclasses

    def own(obj):
        changes = {f.name: getattr(obj, f.name).copy() for f in dataclasses.fields(obj)
                   if isinstance(getattr(obj, f.name), np.ndarray) and not getattr(obj, f.name).flags.writeable}  # fmt: skip
        return dataclasses.replace(obj, **changes) if changes else obj

    return dataclasses.replace(own(plan), layout=own(plan.layout), policies=[own(p) for p in plan.policies])


class ShardWorker:
    """One shard: a CPU (or CUDA) backend for agents lo..hi-1, its halo, and its exports.

    Plain class; the driver wraps it with ``ray.remote``. ``setup`` may be called again to reuse
    the process for another run (actors are pooled: starting one costs seconds).
    """

    def __init__(self):
        self.be = None

    def setup(self, plan: Plan, lo: int, hi: int, threads: int, device: str,
              in_ranges: list[list[Range]], out_ranges: list[list[Range]]) -> dict:  # fmt: skip
        import socket

        self.release()
        plan = writable_plan(plan)
        self.threads = threads
        if device == "cuda":
            from credsim.kernel.cuda import CudaBackend

            self.be = CudaBackend(plan, lo, hi)
        else:
            from credsim.kernel.backend import CpuBackend

            self.be = CpuBackend(plan, lo, hi, threads=threads)
        self.lo, self.hi = lo, hi
        self.in_ranges = in_ranges
        # byte ranges → local agent slices (lo is a multiple of 8: byte b is local agents 8b-lo..)
        self.out_slices = [[(8 * b - lo, min(8 * e - lo, hi - lo)) for b, e in rs] for rs in out_ranges]
        self.halo, self._halo_buf = (None, None)
        if in_ranges:
            self.halo, self._halo_buf = _sparse_bitmap((plan.n + 7) >> 3)
        return {"host": socket.gethostname(), "pid": os.getpid()}

    def alive(self) -> bool:
        """Answered by a live actor (the pool checks an idle actor before reusing it)."""
        return True

    def release(self) -> None:
        """Drop the run's arrays (the process stays, idle, in the pool)."""
        self.be = None
        self.halo = None
        if getattr(self, "_halo_buf", None) is not None:
            self._halo_buf.close()
        self._halo_buf = None

    def _set_threads(self) -> None:
        if getattr(self.be, "name", "") == "cpu" and self.threads:
            import numba

            numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))

    def init(self) -> None:
        self._set_threads()
        self.be.init()

    def _flags(self, a: int, b: int) -> np.ndarray:
        if hasattr(self.be, "d_state"):  # CUDA: copy just the slice from the device
            return self.be.d_state["flags"][a:b].copy_to_host()
        return self.be.flags[a:b]

    def _exports(self, pbit: int) -> list[np.ndarray]:
        """Per neighbour: bit ``pbit`` of the flags over its byte ranges, packed (bit g&7 of byte g>>3)."""
        mask = np.uint8(1 << pbit)
        parts = []
        for slices in self.out_slices:
            chunks = [np.packbits(self._flags(a, b) & mask, bitorder="little") for a, b in slices]
            parts.append(chunks[0] if len(chunks) == 1 else np.concatenate(chunks))
        return parts

    def export(self, pbit: int):
        parts = self._exports(pbit)
        return parts[0] if len(parts) == 1 else tuple(parts)

    def sum_public0(self) -> int:
        return self.be.sum_public0()

    def day(self, t: int, threshold: int, key: int, hist_on: bool, policy: int, *parts: np.ndarray):
        """Receive yesterday's bits, run day t under policy ``policy``, export today's. Returns
        ``((row, regions, exchange_s, compute_s, panel_rows), *exports)`` (just the first when this
        shard sends nothing); ``panel_rows`` are this shard's tracked agents' rows (MODEL.md §8.7)."""
        t0 = time.perf_counter()
        for ranges, part in zip(self.in_ranges, parts):
            off = 0
            for b, e in ranges:
                self.halo[b:e] = part[off : off + e - b]
                off += e - b
        self._set_threads()
        t1 = time.perf_counter()
        row, reg = self.be.day(t, threshold, key, hist_on, self.halo, policy)
        t2 = time.perf_counter()
        out = self._exports(t & 1)
        t3 = time.perf_counter()
        j0, j1 = self.be.panel_rows
        head = (row, reg, (t1 - t0) + (t3 - t2), t2 - t1, self.be.panel[j0:j1].copy())
        return (head, *out) if out else head

    def state(self) -> dict[str, np.ndarray]:
        return {k: np.array(v) for k, v in self.be.state().items()}

    def kernel_signatures(self) -> list[dict]:
        """The type signatures the CPU kernel's dispatchers hold in this process, with the positions
        of read-only array arguments (for tests: none means the cached compile was reused)."""
        from numba import types

        from credsim.kernel import cpu

        return [{"function": fn.__name__, "signature": str(sig),
                 "readonly": [i for i, ty in enumerate(sig) if isinstance(ty, types.Array) and not ty.mutable]}
                for fn in (cpu.run_day, cpu.init_state) for sig in fn.signatures]  # fmt: skip

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.be.load_state(state)


# --- Ray session and actor pool -------------------------------------------------------------------


def ensure_ray(num_cpus: int | None = None):
    """The ``ray`` module, initialised: connected to ``$RAY_ADDRESS`` if set, else a local instance."""
    try:
        import ray
    except ModuleNotFoundError:
        raise CredsimError("backend: ray is not installed (pip install 'credsim[ray]')") from None
    if not ray.is_initialized():
        quiet = {"logging_level": logging.ERROR, "log_to_driver": True, "ignore_reinit_error": True}
        address = os.environ.get("RAY_ADDRESS")
        # ray.init replaces the SIGTERM handler with one that exits at once; a run that asked to stop
        # cleanly on SIGTERM (checkpoint first: credsim.reliability.checkpoint) keeps its own
        keep = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
        try:
            if address:
                ray.init(address=address, **quiet)
            else:
                ray.init(num_cpus=num_cpus or default_threads(), include_dashboard=False, **quiet)
        except Exception as err:  # noqa: BLE001 - connection refused, bad address, ...: one line
            where = f"the cluster at RAY_ADDRESS={address}" if address else "a local Ray instance"
            raise CredsimError(f"ray: cannot start {where}: {str(err).splitlines()[0]}") from None
        finally:
            if callable(keep) and signal.getsignal(signal.SIGTERM) is not keep:
                signal.signal(signal.SIGTERM, keep)
    return ray


_POOL: dict = {"job": None, "idle": {}}


def _job_id(ray) -> str:
    return ray.get_runtime_context().get_job_id()


def _acquire(ray, k: int, device: str) -> list:
    if _POOL["job"] != _job_id(ray):  # a new Ray session: old handles are dead
        _POOL["job"], _POOL["idle"] = _job_id(ray), {}
    idle = _POOL["idle"].setdefault(device, [])
    take = _answering(ray, [idle.pop() for _ in range(min(k, len(idle)))])
    opts = {"scheduling_strategy": "SPREAD", "max_restarts": 0, "max_task_retries": 0}
    if device == "cuda":
        opts["num_gpus"] = 1
    cls = ray.remote(ShardWorker).options(**opts)
    return take + [cls.remote() for _ in range(k - len(take))]


def _answering(ray, actors: list, timeout: float = 60.0) -> list:
    """The pooled actors that still answer; the others (a process that died while idle: killed,
    out of memory, its node gone) are dropped, and fresh actors take their place."""
    live = []
    for a, ref in [(a, a.alive.remote()) for a in actors]:
        try:
            ray.get(ref, timeout=timeout)
            live.append(a)
        except Exception:  # noqa: BLE001 - dead, unreachable or silent: never reuse it
            try:
                ray.kill(a, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
    return live


def _release(ray, actors: list, device: str) -> None:
    if not ray.is_initialized() or _POOL["job"] != _job_id(ray):
        return
    idle = _POOL["idle"].setdefault(device, [])
    for a in actors:
        if len(idle) < POOL_SIZE:
            a.release.remote()
            idle.append(a)
        else:
            ray.kill(a, no_restart=True)


def shutdown_pool() -> None:
    """Kill the idle shard actors of this process (``ray.shutdown`` does it too)."""
    import ray

    if ray.is_initialized():
        for actors in _POOL["idle"].values():
            for a in actors:
                ray.kill(a, no_restart=True)
    _POOL["idle"] = {}


def _reason(err: Exception) -> str:
    text = str(err)
    if "ray.kill" in text:
        return "the actor was killed (ray.kill)"
    for hint in ("out of memory", "OOM", "SIGKILL", "SIGSEGV", "node", "exited", "died"):
        for line in text.splitlines():
            if hint in line:
                return " ".join(line.split())[:200]
    return " ".join(text.split())[:200] or type(err).__name__


# --- the driver side ------------------------------------------------------------------------------


@dataclass
class DayTiming:
    """Seconds of one day, for benchmarks: the driver's wall time, and per shard the time spent
    writing the halo and packing exports (``exchange``) and in the kernel (``compute``)."""

    wall: float
    exchange: list[float]
    compute: list[float]


class RayBackend:
    """The population over ``shards`` Ray actors; the backend protocol of :mod:`credsim.backends.base`."""

    name = "ray"

    def __init__(self, plan: Plan, shards: int = 1, *, threads: int | None = None, device: str | None = None,
                 timeout_s: float | None = None):  # fmt: skip
        if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= MAX_SHARDS:
            raise CredsimError(f"shards: must be an integer in 1..{MAX_SHARDS}, got {shards!r}")
        self.device = device or os.environ.get(ENV_DEVICE) or "cpu"
        if self.device not in ("cpu", "cuda"):
            raise CredsimError(f"{ENV_DEVICE}: must be cpu or cuda, got {self.device!r}")
        try:
            self.timeout_s = float(timeout_s or os.environ.get(ENV_TIMEOUT) or DEFAULT_TIMEOUT_S)
        except ValueError:
            raise CredsimError(f"{ENV_TIMEOUT}: expected seconds, got {os.environ.get(ENV_TIMEOUT)!r}") from None
        self.plan = plan
        self.exchange = exchange_plan(plan, shard_bounds(plan.n, shards))
        self.bounds = self.exchange.bounds
        self.shards = self.exchange.shards
        ray = self._ray = ensure_ray()
        if self.device == "cuda" and ray.cluster_resources().get("GPU", 0) < 1:
            raise CredsimError("backend: ray shards on cuda need GPUs, and this Ray cluster has none")
        self.threads = threads or max(1, int(ray.cluster_resources().get("CPU", 1)) // self.shards)
        self.actors = _acquire(ray, self.shards, self.device)
        self.hosts: list[dict] = []
        self.timings: list[DayTiming] = []
        self.panel = panel_buffer(plan)  # the day's rows of the panel's tracked agents, from every shard
        self._pending: list[list] | None = None  # per shard: refs of its exports for the next day
        self._closed = False
        xp = self.exchange
        plan_ref = ray.put(plan)
        self._setup = [
            a.setup.remote(plan_ref, self.bounds[k], self.bounds[k + 1], self.threads, self.device,
                           [xp.links[i][2] for i in xp.ins[k]], [xp.links[i][2] for i in xp.outs[k]])
            for k, a in enumerate(self.actors)
        ]  # fmt: skip
        # where each shard's inputs come from: (src, position in src's exports)
        self._sources = [[(xp.links[i][0], xp.outs[xp.links[i][0]].index(i)) for i in xp.ins[k]] for k in range(self.shards)]

    # -- protocol ---------------------------------------------------------------------------------
    def init(self) -> None:
        """Create the shards' state (MODEL.md §3); compiles or loads the kernel in each actor."""
        self.hosts = self._gather(self._setup, "during set-up")
        self._gather([a.init.remote() for a in self.actors], "during set-up (day 0)")
        self._pending = None

    def sum_public0(self) -> int:
        """Σ P_0 over the shards (MODEL.md §8.5)."""
        return sum(self._gather([a.sum_public0.remote() for a in self.actors], "during set-up (day 0)"))

    def day(self, t: int, threshold: int, key: int, hist_on: bool, halo: np.ndarray | None = None, policy: int = 0):
        """Run day t on every shard under policy ``policy``; returns (aggregate row int64[n_cols], region
        sums int64[R, 2]). The tracked agents' rows are then in ``self.panel``."""
        t0 = time.perf_counter()
        if self._pending is None:  # after init or load_state: yesterday's bits from the state itself
            self._pending = [self._export(k, (t - 1) & 1) for k in range(self.shards)]
        heads, nxt = [], []
        for k, a in enumerate(self.actors):
            parts = [self._pending[src][j] for src, j in self._sources[k]]
            n_out = len(self.exchange.outs[k])
            refs = a.day.options(num_returns=1 + n_out).remote(t, threshold, key, hist_on, policy, *parts)
            heads.append(refs[0] if n_out else refs)
            nxt.append(list(refs[1:]) if n_out else [])
        res = self._gather(heads, f"on day {t}")
        self._pending = nxt
        row = reduce_rows(np.stack([r[0] for r in res]))
        reg = np.sum(np.stack([r[1] for r in res]), axis=0)
        if self.plan.panel:  # shards hold consecutive tracked agents: their rows, in shard order
            self.panel[:] = np.concatenate([r[4] for r in res])
        self.timings.append(DayTiming(time.perf_counter() - t0, [r[2] for r in res], [r[3] for r in res]))
        return row, reg

    def state(self) -> dict[str, np.ndarray]:
        """The whole population's state arrays by name (gathered from the shards, in id order)."""
        parts = self._gather([a.state.remote() for a in self.actors], "while reading state")
        return {name: np.concatenate([p[name] for p in parts]) for name in state_fields(self.plan)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Replace the state with full-population arrays (names and dtypes of ``state_fields(plan)``)."""
        fields = state_fields(self.plan)
        for name, dt in fields.items():
            src = state[name]
            if src.shape != (self.plan.n,) or src.dtype != dt:
                raise ValueError(f"state {name}: expected {np.dtype(dt)}({self.plan.n},), got {src.dtype}{src.shape}")
        b = self.bounds
        refs = [
            a.load_state.remote({name: np.ascontiguousarray(state[name][b[k] : b[k + 1]]) for name in fields})
            for k, a in enumerate(self.actors)
        ]
        self._gather(refs, "while loading state")
        self._pending = None

    def close(self) -> None:
        """Hand the shard actors back to this process's pool (idle, arrays released)."""
        if not self._closed:
            self._closed = True
            _release(self._ray, self.actors, self.device)

    def __del__(self):
        # Not close(): __del__ may run inside a garbage collection, after Ray has already finalised
        # the actor handles (which ends the actors); pooling them then would hand dead actors to the
        # next run ("died during set-up"). The engine closes every backend explicitly; here the
        # handles just go, and Ray ends their actors.
        self._closed = True

    # -- internals --------------------------------------------------------------------------------
    def _export(self, k: int, pbit: int) -> list:
        n_out = len(self.exchange.outs[k])
        if not n_out:
            return []
        refs = self.actors[k].export.options(num_returns=n_out).remote(pbit)
        return list(refs) if n_out > 1 else [refs]

    def _describe(self, k: int) -> str:
        host = self.hosts[k]["host"] if k < len(self.hosts) and self.hosts[k] else None
        where = f" on {host}" if host else ""
        return f"shard {k} of {self.shards} (agents {self.bounds[k]}..{self.bounds[k + 1] - 1}{where})"

    def _abort(self) -> None:
        """Kill every shard (a failed run's actors are never reused)."""
        self._closed = True
        for a in self.actors:
            try:
                self._ray.kill(a, no_restart=True)
            except Exception:  # noqa: BLE001 - already dead
                pass

    def _gather(self, refs: list, when: str) -> list:
        """Results of one call per shard, in shard order; a dead or silent shard is a CredsimError."""
        from ray.exceptions import RayActorError, RayTaskError

        ray = self._ray
        index = {r: k for k, r in enumerate(refs)}
        out: list = [None] * len(refs)
        pending = list(refs)
        deadline = time.monotonic() + self.timeout_s
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=max(0.0, deadline - time.monotonic()))
            if not ready:
                late = ", ".join(self._describe(index[r]) for r in pending)
                self._abort()
                raise CredsimError(f"ray: {late} did not answer {when} within {self.timeout_s:g} s "
                                   f"(set {ENV_TIMEOUT} to wait longer); run aborted")  # fmt: skip
            for r in ready:
                k = index[r]
                try:
                    out[k] = ray.get(r)
                except RayActorError as err:
                    k = self._shard_of(err, k)
                    self._abort()
                    raise CredsimError(f"ray: {self._describe(k)} died {when}: {_reason(err)}; run aborted") from None
                except RayTaskError as err:
                    cause = getattr(err, "cause", None)
                    text = str(cause) if isinstance(cause, CredsimError) else _reason(cause or err)
                    self._abort()
                    raise CredsimError(f"ray: {self._describe(k)} failed {when}: {text}; run aborted") from None
        return out

    def _shard_of(self, err: Exception, default: int) -> int:
        """The shard whose actor ``err`` is about (a failed export surfaces in its neighbour's call)."""
        aid = getattr(err, "actor_id", None)
        if aid:
            for k, a in enumerate(self.actors):
                if a._actor_id.hex() == aid:
                    return k
        return default
