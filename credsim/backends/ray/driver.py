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
    ``_listed_yesterday`` (kernel/score.py) reads a foreign contact's bit as ``halo[g >> 3]``: a
    bitmap indexed by *global* id. Each shard keeps it as an anonymous ``mmap`` of N/8 bytes,
    which costs address space only: pages are committed when written, so resident memory is the
    received bytes (rounded to 4 KiB pages), not N/8. The kernel and the day step are unchanged.

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
:class:`credsim.backends.cuda.CudaBackend` on it (same exchange; the halo is copied to the device
each day).

The parts: :mod:`credsim.backends.ray.partition` (bounds and exchange plan),
:mod:`credsim.backends.ray.shard` (the actor), :mod:`credsim.backends.ray.pool` (Ray session, actor
pool); this module is the driver.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from credsim.backends.ray.partition import exchange_plan, shard_bounds
from credsim.backends.ray.pool import acquire, ensure_ray, error_reason, release
from credsim.errors import CredsimError
from credsim.backends.base import panel_buffer, reduce_rows, state_fields
from credsim.plan import Plan


ENV_TIMEOUT = "CREDSIM_RAY_TIMEOUT"
ENV_DEVICE = "CREDSIM_RAY_DEVICE"
DEFAULT_TIMEOUT_S = 600.0
MAX_SHARDS = 4096


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

    def __init__(
        self,
        plan: Plan,
        shards: int = 1,
        *,
        threads: int | None = None,
        device: str | None = None,
        timeout_s: float | None = None,
    ):
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
        self.actors = acquire(ray, self.shards, self.device)
        self.hosts: list[dict] = []
        self.timings: list[DayTiming] = []
        self.panel = panel_buffer(plan)  # the day's rows of the panel's tracked agents, from every shard
        self._pending: list[list] | None = None  # per shard: refs of its exports for the next day
        self._closed = False
        xp = self.exchange
        plan_ref = ray.put(plan)
        self._setup = [
            a.setup.remote(
                plan_ref,
                self.bounds[k],
                self.bounds[k + 1],
                self.threads,
                self.device,
                [xp.links[i][2] for i in xp.ins[k]],
                [xp.links[i][2] for i in xp.outs[k]],
            )
            for k, a in enumerate(self.actors)
        ]
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
            release(self._ray, self.actors, self.device)

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
                raise CredsimError(
                    f"ray: {late} did not answer {when} within {self.timeout_s:g} s "
                    f"(set {ENV_TIMEOUT} to wait longer); run aborted"
                )
            for r in ready:
                k = index[r]
                try:
                    out[k] = ray.get(r)
                except RayActorError as err:
                    k = self._shard_of(err, k)
                    self._abort()
                    raise CredsimError(f"ray: {self._describe(k)} died {when}: {error_reason(err)}; run aborted") from None
                except RayTaskError as err:
                    cause = getattr(err, "cause", None)
                    text = str(cause) if isinstance(cause, CredsimError) else error_reason(cause or err)
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
