"""A run's data as it leaves the day loop: the tables, the timing and a resumable snapshot.

Model layer: plain dataclasses of integer arrays, importing nothing of credsim. The engine fills
them, the results layer writes and reads them, checkpoints save and restore them; none of those
needs the others (or the kernel) to name these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Tables:
    """A run's results as integer arrays: what the store, scorecard and report read."""

    columns: list[str]  # daily-table columns, "day" and "threshold" first
    daily: np.ndarray  # int64 [days, len(columns)]
    regions: np.ndarray  # int64 [days, R, 2]: listed, sum_public
    region_names: list[str]
    hist_days: list[int] = field(default_factory=list)
    hist: np.ndarray | None = None  # int64 [len(hist_days), bins]
    hist_lo: int = 0
    hist_width: int = 1
    panel: np.ndarray | None = None  # int16 [days, K, N_PANEL]: the tracked agents' days (MODEL.md §8.7)
    panel_agents: np.ndarray | None = None  # int64 [K]: their ids
    #: panel[..., PN_EVENTS] holds the day's events (layout.PE_*); False for a panel read back from a
    #: folder written before panel_events.csv existed (its stories are unknown, not empty)
    panel_has_events: bool = True


@dataclass
class Snapshot:
    """A run at the end of ``day``: all it needs to continue exactly (what a checkpoint holds).

    ``state`` is the backend's ``.state()`` (full-population arrays by name); the tables hold
    rows for days 1..day only (``hist``: the histogram rows of hist days up to ``day``; ``panel``:
    the panel's rows of days 1..day). ``policy`` is the index of the policy in force on ``day``.
    """

    day: int
    sum_prev: int
    state: dict[str, np.ndarray]
    daily: np.ndarray
    regions: np.ndarray
    hist: np.ndarray | None
    loop_s: float = 0.0
    panel: np.ndarray | None = None
    policy: int = 0


@dataclass
class Timing:
    """Seconds spent: set-up (allocation, init, compile) and the day loop."""

    setup_s: float = 0.0
    loop_s: float = 0.0
