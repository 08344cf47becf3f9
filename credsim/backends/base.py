"""What every backend is: the interface, the state it owns, and the small buffers they share.

The bottom of the backends layer: it imports only the model layer (the kernel's column layout, the
plan's type). A backend owns the state arrays of a block of agents and runs one day at a time on
them; the engine (:mod:`credsim.engine`) turns each day's aggregate row into tables and never
looks inside a backend. The backends themselves: :mod:`credsim.backends.cpu` (cpu, all cores),
:mod:`credsim.backends.cuda` (one GPU), :mod:`credsim.backends.ray.driver` (Ray actors); the
lazy registry that picks one by name: :mod:`credsim.backends`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from credsim.kernel.layout import C_MAX_P, C_MIN_P, N_PANEL

if TYPE_CHECKING:
    from credsim.plan import Plan

#: The state of an agent, declared once: array name -> dtype. own (int16), flags (uint8),
#: bl_since (uint16), stress (uint8) ...
STATE_FIELDS = {"own": np.int16, "flags": np.uint8, "since": np.uint16, "stress": np.uint8}
#: ... and with [exit] or [appeals] one more byte (CSM-2: owes, pending, appeal channel).
AUX_FIELDS = {"aux": np.uint8}
#: Bytes of CSM-1 state per agent, derived from :data:`STATE_FIELDS` (6).
STATE_BYTES_PER_AGENT = sum(np.dtype(dt).itemsize for dt in STATE_FIELDS.values())


def state_fields(plan: Plan) -> dict:
    """The state arrays of a plan's agents by name and dtype (one byte more with CSM-2's extra state)."""
    return {**STATE_FIELDS, **AUX_FIELDS} if plan.has_aux else dict(STATE_FIELDS)


def state_bytes_per_agent(plan: Plan) -> int:
    """Bytes of state per agent: 6, or 7 with CSM-2's extra state."""
    return sum(np.dtype(dt).itemsize for dt in state_fields(plan).values())


@runtime_checkable
class Backend(Protocol):
    """A backend for agents ``lo..hi-1`` of a plan (by default all of them).

    ``day(t, threshold, key, hist_on, policy=k)`` answers day t under policy k of the plan
    (MODEL.md §8.4) with that day's aggregate row (int64[n_cols]) and region sums (int64[R, 2] of
    listed, ΣP), and leaves the day's rows of its tracked agents in ``panel`` (§8.7)."""

    name: str
    panel: np.ndarray

    def init(self) -> None:
        """Allocate and compute the day-0 state (MODEL.md §3, §8.5); compile what must be compiled."""

    def sum_public0(self) -> int:
        """Σ P_0 of this backend's agents (day 0's public scores with day 1's spouse weight, §8.5)."""

    def day(
        self, t: int, threshold: int, key: int, hist_on: bool, halo: np.ndarray | None = None, policy: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run day t; returns (aggregate row, region sums)."""

    def state(self) -> dict[str, np.ndarray]:
        """The state arrays by name (:func:`state_fields`): for checkpoints and tests."""

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Replace the state with saved arrays of the same names, dtypes and lengths."""

    def close(self) -> None:
        """Hand back what the backend holds (actors, device memory); the engine always calls it."""


def panel_buffer(plan: Plan) -> np.ndarray:
    """The day's panel rows, int16 [max(K, 1), N_PANEL]: a kernel writes row j of tracked agent j."""
    return np.zeros((max(1, plan.panel), N_PANEL), np.int16)


def aux_buffer(plan: Plan, n_local: int) -> np.ndarray:
    """CSM-2's extra state byte per agent (uint8) when the plan keeps it; a one-byte dummy otherwise:
    uint8 when another CSM-2 mechanism is on or a panel is kept, int8 for CSM-1 without a panel,
    which compiles the kernel without CSM-2's and the panel's code (kernel/variant.py)."""
    if plan.mechanisms == 0 and not plan.panel:
        return np.zeros(1, np.int8)
    return np.zeros(n_local if plan.has_aux else 1, np.uint8)


def reduce_rows(acc: np.ndarray) -> np.ndarray:
    """Sum chunk rows into one aggregate row; min and max columns reduce by min and max."""
    total = acc.sum(axis=0)
    total[C_MIN_P] = acc[:, C_MIN_P].min()
    total[C_MAX_P] = acc[:, C_MAX_P].max()
    return total


def default_threads() -> int:
    """All cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
