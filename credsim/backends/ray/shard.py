"""The shard actor: one contiguous block of agents, run a day at a time by the CPU or CUDA
backend, with the association halo received from the other shards.
"""

from __future__ import annotations

import mmap
import os
import time

import numpy as np

from credsim.backends.ray.partition import Range
from credsim.plan import Plan


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
        changes = {
            f.name: getattr(obj, f.name).copy()
            for f in dataclasses.fields(obj)
            if isinstance(getattr(obj, f.name), np.ndarray) and not getattr(obj, f.name).flags.writeable
        }
        return dataclasses.replace(obj, **changes) if changes else obj

    return dataclasses.replace(own(plan), layout=own(plan.layout), policies=[own(p) for p in plan.policies])


class ShardWorker:
    """One shard: a CPU (or CUDA) backend for agents lo..hi-1, its halo, and its exports.

    Plain class; the driver wraps it with ``ray.remote``. ``setup`` may be called again to reuse
    the process for another run (actors are pooled: starting one costs seconds).
    """

    def __init__(self):
        self.be = None

    def setup(
        self,
        plan: Plan,
        lo: int,
        hi: int,
        threads: int,
        device: str,
        in_ranges: list[list[Range]],
        out_ranges: list[list[Range]],
    ) -> dict:
        import socket

        self.release()
        plan = writable_plan(plan)
        self.threads = threads
        if device == "cuda":
            from credsim.backends.cuda import CudaBackend

            self.be = CudaBackend(plan, lo, hi)
        else:
            from credsim.backends.cpu import CpuBackend

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

        return [
            {
                "function": fn.__name__,
                "signature": str(sig),
                "readonly": [i for i, ty in enumerate(sig) if isinstance(ty, types.Array) and not ty.mutable],
            }
            for fn in (cpu.run_day, cpu.init_state)
            for sig in fn.signatures
        ]

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.be.load_state(state)
