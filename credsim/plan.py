"""The scenario compiled to the integers the day kernel reads (MODEL.md §1, §2 and §4 preamble).

All floating point of a run happens here, once, on the host, in Python floats and in the order
MODEL.md writes it. What comes out is small int64 tables: the kernel never sees a float.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from credsim.errors import ScenarioError
from credsim.kernel import layout as L
from credsim.kernel.hash import root, thr
from credsim.population import Layout, class_multipliers, contact_offsets
from credsim.scenario.model import Scenario

TWO32 = 1 << 32


def deterrence(elasticity: float, detect: float, points: int, scale: float) -> float:
    """deter_c: how a channel's expected points scale its rate (1.0 when points are zero)."""
    if points < 0:
        return math.exp(-elasticity * detect * (-points) / scale)
    if points > 0:
        return math.exp(elasticity * detect * points / scale)
    return 1.0


@dataclass(frozen=True)
class Histogram:
    """Extension: counts of public scores in ``bins`` fixed-width bins from score.min, every ``every`` days."""

    bins: int = 0
    every: int = 1

    def edges(self, scenario: Scenario) -> tuple[int, int]:
        """(lowest score, bin width) covering score.min..score.max."""
        lo, hi = scenario.score.min, scenario.score.max
        return lo, max(1, -(-(hi - lo + 1) // self.bins))


@dataclass
class Plan:
    """Everything a backend needs for one run, as int64 arrays and Python ints."""

    scenario: Scenario
    n: int
    seed: int
    layout: Layout
    ip: np.ndarray  # int64 [N_IP + grades]
    beh: np.ndarray  # int64 [16, C]: cumulative behaviour thresholds per class; rows 8+ for the unenrolled
    chan: np.ndarray  # int64 [4, C]: detect, cumulative false, points, forces
    act: np.ndarray  # int64 [3, max(A, 1)]: cumulative attempt, deny listed, min score
    amod: np.ndarray  # int64 [R, max(K/2, 1)]: contact offsets modulo region size
    channels: list[str]
    activities: list[str]
    columns: list[str]  # aggregate columns (daily table without day and threshold)
    hist: Histogram = field(default_factory=Histogram)

    @property
    def n_cols(self) -> int:
        return len(self.columns) + self.hist.bins

    @property
    def root1(self) -> int:
        return root(self.seed, 1)

    @property
    def root2(self) -> int:
        return root(self.seed, 2)

    @property
    def married_thr(self) -> int:
        return thr(self.scenario.population.married_share)

    def threshold(self, sum_public_prev: int) -> int:
        """T_t from yesterday's Σ P (MODEL.md §4)."""
        bl = self.scenario.blacklist
        if bl.mode == "absolute":
            return bl.value
        return sum_public_prev // self.n - bl.offset


def _cumulative(thresholds: list[int], what: str, field_name: str) -> list[int]:
    out, total = [], 0
    for x in thresholds:
        total += x
        out.append(total)
    if total > TWO32:
        raise ScenarioError(f"{field_name}: {what} probabilities sum past 1 ({total / TWO32:.6g})")
    return out


def compile_plan(scenario: Scenario, n: int, seed: int, hist: Histogram | None = None) -> Plan:
    """Derive the kernel's tables; raises ScenarioError for a scenario CSM-1 calls invalid."""
    if n < 1:
        raise ScenarioError(f"population: must be at least 1, got {n}")
    if not 0 <= seed < 1 << 64:
        raise ScenarioError(f"seed: must be in 0..2^64-1, got {seed}")
    hist = hist or Histogram()
    sc = scenario
    chans, acts = sc.channel, sc.activity
    m = class_multipliers(sc.population.disposition_sigma)
    deter = []
    for i, c in enumerate(chans):
        try:
            deter.append(deterrence(c.elasticity, c.detect, c.points, sc.behaviour.deterrence_scale))
        except OverflowError:
            raise ScenarioError(
                f"channel[{i}]: the deterrence factor exp(elasticity × detect × points / deterrence_scale) "
                f"overflows for {c.name!r}; lower elasticity or points, or raise behaviour.deterrence_scale"
            ) from None
    beh = np.zeros((16, len(chans)), dtype=np.int64)
    for k in range(8):
        probs = [c.base * (m[k] if c.dispositional else 1.0) * d for c, d in zip(chans, deter)]
        beh[k] = _cumulative([thr(p) for p in probs], f"behaviour (disposition class {k})", "channel.base")
    enrolled_all = thr(sc.population.participation) >= TWO32
    for k in range(8):  # extension: agents outside an opt-in system behave as with no system (no deterrence)
        if enrolled_all:
            beh[8 + k] = beh[k]  # never read
        else:
            probs = [c.base * (m[k] if c.dispositional else 1.0) for c in chans]
            beh[8 + k] = _cumulative([thr(p) for p in probs], f"behaviour unenrolled (class {k})", "channel.base")
    chan = np.zeros((4, len(chans)), dtype=np.int64)
    chan[L.CH_DETECT] = [thr(c.detect) for c in chans]
    chan[L.CH_FALSE_CUM] = _cumulative([thr(c.false_rate) for c in chans], "false-attribution", "channel.false_rate")
    chan[L.CH_POINTS] = [c.points for c in chans]
    chan[L.CH_FORCES] = [int(c.forces_blacklist) for c in chans]
    act = np.zeros((3, max(1, len(acts))), dtype=np.int64)
    if acts:
        act[L.AC_CUM, : len(acts)] = _cumulative([thr(a.base) for a in acts], "activity", "activity.base")
        act[L.AC_DENY_BL, : len(acts)] = [int(a.deny_blacklisted) for a in acts]
        act[L.AC_MIN_SCORE, : len(acts)] = [a.min_score for a in acts]

    layout = Layout.build(sc, n)
    k2 = sc.population.contacts // 2
    offsets = contact_offsets(seed, sc.population.contacts)
    amod = np.zeros((layout.n_regions, max(1, k2)), dtype=np.int64)
    for r, size in enumerate(layout.sizes.tolist()):
        if size > 0:
            amod[r, :k2] = [a % size for a in offsets]

    columns = L.column_names([c.name for c in chans], [a.name for a in acts], [g.name for g in sc.grade])
    ip = np.zeros(L.N_IP + len(sc.grade), dtype=np.int64)
    s = sc.score
    ip[L.IP_N] = n
    ip[L.IP_S0], ip[L.IP_SMIN], ip[L.IP_SMAX] = s.start, s.min, s.max
    ip[L.IP_SPOUSE_W] = s.spouse_weight
    ip[L.IP_ASSOC_PEN] = s.association_penalty
    ip[L.IP_ASSOC_THR] = thr(s.association_rate)
    ip[L.IP_REC_THR] = thr(s.recovery_rate)
    ip[L.IP_HYST] = sc.blacklist.hysteresis
    ip[L.IP_MIN_STAY] = sc.blacklist.min_stay
    st = sc.stress
    ip[L.IP_BURDEN], ip[L.IP_RELIEF] = st.burden, st.relief
    ip[L.IP_DENY_COST], ip[L.IP_LISTED_COST], ip[L.IP_EVENT_COST] = st.deny_cost, st.listed_cost, st.event_cost
    ip[L.IP_NCH], ip[L.IP_NACT], ip[L.IP_K2] = len(chans), len(acts), k2
    ip[L.IP_COL_ACT] = L.C_CH0 + 3 * len(chans)
    ip[L.IP_COL_STRESS] = ip[L.IP_COL_ACT] + 2 * len(acts)
    ip[L.IP_PART_THR] = thr(sc.population.participation)
    ip[L.IP_ROOT5] = np.uint64(root(seed, 5)).view(np.int64)
    ip[L.IP_N_GRADES] = len(sc.grade)
    ip[L.IP_COL_GRADE] = ip[L.IP_COL_STRESS] + 2
    ip[L.N_IP : L.N_IP + len(sc.grade)] = [g.min_score for g in sc.grade]
    ip[L.IP_COL_HIST] = ip[L.IP_COL_GRADE] + len(sc.grade)
    if hist.bins:
        lo, width = hist.edges(sc)
        ip[L.IP_HIST_BINS], ip[L.IP_HIST_LO], ip[L.IP_HIST_WIDTH] = hist.bins, lo, width
    return Plan(
        scenario=sc, n=n, seed=seed, layout=layout, ip=ip, beh=beh, chan=chan, act=act, amod=amod,
        channels=[c.name for c in chans], activities=[a.name for a in acts], columns=columns, hist=hist,
    )
