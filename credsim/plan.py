"""The scenario compiled to the integers the day kernel reads (MODEL.md §1, §2, §4 preamble, §8).

All floating point of a run happens here, once, on the host, in Python floats and in the order
MODEL.md writes it. What comes out is small int64 tables: the kernel never sees a float. A
scenario with a ``[[schedule]]`` compiles to one :class:`Policy` per policy in force (§8.4), each
with every derived number recomputed from its own scenario; the engine picks day t's.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from credsim.errors import ScenarioError
from credsim.kernel import layout as L
from credsim.kernel.hash import root, thr
from credsim.population import Layout, class_multipliers, contact_offsets
from credsim.scenario.model import Scenario
from credsim.scenario.schedule import policies as policies_in_force

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
class Policy:
    """One policy in force (MODEL.md §8.4) as the kernel's tables; in force from ``day`` on."""

    day: int
    scenario: Scenario  # the policy as a scenario of its own (no schedule)
    ip: np.ndarray  # int64 [N_IP + grades]
    beh: np.ndarray  # int64 [16 or 48, C]: cumulative behaviour thresholds per (standing, class); rows 8+ of a block for the unenrolled
    chan: np.ndarray  # int64 [4, C]: detect, cumulative false, points, forces
    act: np.ndarray  # int64 [3, max(A, 1)]: cumulative attempt, deny listed, min score


@dataclass
class Plan:
    """Everything a backend needs for one run, as int64 arrays and Python ints."""

    scenario: Scenario
    n: int
    seed: int
    layout: Layout
    policies: list[Policy]  # policies[0] is the base scenario's (day 1); then one per schedule entry
    amod: np.ndarray  # int64 [R, max(K/2, 1)]: contact offsets modulo region size
    channels: list[str]
    activities: list[str]
    columns: list[str]  # aggregate columns (daily table without day and threshold)
    hist: Histogram = field(default_factory=Histogram)
    panel: int = 0  # tracked agents of the panel (MODEL.md §8.7); 0: none

    # the base policy's tables (day 1's; the only ones without a schedule)
    @property
    def ip(self) -> np.ndarray:
        return self.policies[0].ip

    @property
    def beh(self) -> np.ndarray:
        return self.policies[0].beh

    @property
    def chan(self) -> np.ndarray:
        return self.policies[0].chan

    @property
    def act(self) -> np.ndarray:
        return self.policies[0].act

    @property
    def n_cols(self) -> int:
        return len(self.columns) + self.hist.bins

    @property
    def mechanisms(self) -> int:
        """Bit mask of the CSM-2 mechanisms on (layout.M_*); 0 for a CSM-1 scenario."""
        return int(self.ip[L.IP_MECH])

    @property
    def has_aux(self) -> bool:
        """Does the state include the extra byte (owes, pending, appeal channel)?"""
        return bool(self.mechanisms & L.M_AUX)

    @property
    def root1(self) -> int:
        return root(self.seed, 1)

    @property
    def root2(self) -> int:
        return root(self.seed, 2)

    @property
    def married_thr(self) -> int:
        return thr(self.scenario.population.married_share)

    def policy_index(self, t: int) -> int:
        """Index in ``policies`` of the policy in force on day t."""
        return bisect.bisect_right([p.day for p in self.policies], t) - 1

    def threshold(self, sum_public_prev: int, k: int = 0) -> int:
        """T_t from yesterday's Σ P under policy k (MODEL.md §4; the mode, value and offset of day t)."""
        bl = self.policies[k].scenario.blacklist
        if bl.mode == "absolute":
            return bl.value
        return sum_public_prev // self.n - bl.offset

    def panel_agents(self) -> np.ndarray:
        """Ids of the panel's tracked agents, i_j = (j * N) // K (MODEL.md §8.7)."""
        k = self.panel
        return np.array([(j * self.n) // k for j in range(k)], np.int64)

    def panel_rows(self, lo: int, hi: int) -> tuple[int, int]:
        """Panel rows ``j0..j1-1``: the tracked agents with ids in ``lo..hi-1``."""
        k = self.panel
        if not k:
            return 0, 0
        return -(-lo * k // self.n), -(-hi * k // self.n)


def _cumulative(thresholds: list[int], what: str, field_name: str) -> list[int]:
    out, total = [], 0
    for x in thresholds:
        total += x
        out.append(total)
    if total > TWO32:
        raise ScenarioError(f"{field_name}: {what} probabilities sum past 1 ({total / TWO32:.6g})")
    return out


def _compile_policy(
    sc: Scenario, base: Scenario, n: int, seed: int, hist: Histogram, panel: int, columns: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ip, beh, chan, act of one policy ``sc``; ``base`` gives what a schedule cannot change."""
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
    ad = sc.adaptive
    factors = [1.0] if ad is None else [1.0, ad.near_factor, ad.listed_factor]
    beh = np.zeros((L.BEH_BLOCK * len(factors), len(chans)), dtype=np.int64)
    for s, f in enumerate(factors):
        standing = "" if s == 0 else f", standing {L.STANDINGS[s]}"
        for k in range(8):
            probs = [c.base * (m[k] if c.dispositional else 1.0) * d for c, d in zip(chans, deter)]
            if s:  # §8.3: one multiplication after section 4's, on channels with negative points
                probs = [p * f if c.points < 0 else p for p, c in zip(probs, chans)]
            beh[L.BEH_BLOCK * s + k] = _cumulative(
                [thr(p) for p in probs], f"behaviour (disposition class {k}{standing})", "channel.base"
            )
    enrolled_all = thr(sc.population.participation) >= TWO32
    for k in range(8):  # extension: agents outside an opt-in system behave as with no system (no deterrence)
        if enrolled_all:
            beh[8 + k] = beh[k]  # never read
        else:
            probs = [c.base * (m[k] if c.dispositional else 1.0) for c in chans]
            beh[8 + k] = _cumulative([thr(p) for p in probs], f"behaviour unenrolled (class {k})", "channel.base")
    for s in range(1, len(factors)):  # standings are for agents in the system: these rows are never read
        beh[L.BEH_BLOCK * s + 8 : L.BEH_BLOCK * (s + 1)] = beh[8:16]
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

    k2 = sc.population.contacts // 2
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
    # CSM-2 (§8): mechanisms, their thresholds and their columns (in §8.6's order after stress)
    col = int(ip[L.IP_COL_STRESS]) + 2
    mech = 0
    ip[L.IP_COL_EXIT] = ip[L.IP_COL_APPEALS] = ip[L.IP_COL_NEAR] = -1
    if sc.exit is not None:
        mech |= L.M_EXIT
        ip[L.IP_SETTLE_THR], ip[L.IP_SETTLE_PTS] = thr(sc.exit.settle_rate), sc.exit.settle_points
        ip[L.IP_MAX_STAY] = sc.exit.max_stay
        ip[L.IP_COL_EXIT], col = col, col + len(L.EXIT_COLUMNS)
    if sc.appeals is not None:
        mech |= L.M_APPEALS
        ap = sc.appeals
        ip[L.IP_FILE_THR], ip[L.IP_DECIDE_THR], ip[L.IP_UPHOLD_THR] = thr(ap.rate), thr(ap.decide_rate), thr(ap.uphold)
        ip[L.IP_COL_APPEALS], col = col, col + len(L.APPEAL_COLUMNS)
    if ad is not None:
        mech |= L.M_ADAPTIVE
        ip[L.IP_NEAR_BAND] = ad.near_band
        ip[L.IP_COL_NEAR], col = col, col + len(L.ADAPTIVE_COLUMNS)
    ip[L.IP_MECH] = mech
    ip[L.IP_INIT_THR] = thr(base.blacklist.initial_share)
    ip[L.IP_INIT_SCORE] = base.initial_score
    ip[L.IP_ROOT6] = np.uint64(root(seed, 6)).view(np.int64)
    ip[L.IP_PANEL_K] = panel
    ip[L.IP_N_GRADES] = len(sc.grade)
    ip[L.IP_COL_GRADE] = col
    ip[L.N_IP : L.N_IP + len(sc.grade)] = [g.min_score for g in sc.grade]
    ip[L.IP_COL_HIST] = ip[L.IP_COL_GRADE] + len(sc.grade)
    assert ip[L.IP_COL_HIST] == len(columns), "columns and column slots disagree"
    if hist.bins:
        lo, width = hist.edges(sc)
        ip[L.IP_HIST_BINS], ip[L.IP_HIST_LO], ip[L.IP_HIST_WIDTH] = hist.bins, lo, width
    return ip, beh, chan, act


def aggregate_columns(sc: Scenario) -> list[str]:
    """The aggregate columns of a scenario's runs: its daily table without day and threshold
    (MODEL.md §5, §8.6, the grade extension), as :func:`credsim.kernel.layout.column_names` orders them."""
    return L.column_names(
        [c.name for c in sc.channel],
        [a.name for a in sc.activity],
        [g.name for g in sc.grade],
        exit=sc.exit is not None,
        appeals=sc.appeals is not None,
        adaptive=sc.adaptive is not None,
    )


def compile_plan(scenario: Scenario, n: int, seed: int, hist: Histogram | None = None, panel: int = 0) -> Plan:
    """Derive the kernel's tables of every policy in force; raises ScenarioError for a scenario
    the model calls invalid (naming the schedule entry when a scheduled policy is the invalid one)."""
    if n < 1:
        raise ScenarioError(f"population: must be at least 1, got {n}")
    if not 0 <= seed < 1 << 64:
        raise ScenarioError(f"seed: must be in 0..2^64-1, got {seed}")
    if isinstance(panel, bool) or not isinstance(panel, int) or not 0 <= panel <= min(n, L.MAX_PANEL):
        raise ScenarioError(
            f"panel: must be in 1..{min(n, L.MAX_PANEL)} (at most the population and {L.MAX_PANEL}), got {panel!r}"
        )
    hist = hist or Histogram()
    sc = scenario
    columns = aggregate_columns(sc)
    compiled = []
    for k, (day, policy) in enumerate(policies_in_force(sc)):
        try:
            compiled.append(Policy(day, policy, *_compile_policy(policy, sc, n, seed, hist, panel, columns)))
        except ScenarioError as err:
            if k == 0:
                raise
            raise ScenarioError(f"schedule[{k - 1}] (in force from day {day}): {err}") from None

    layout = Layout.build(sc, n)
    k2 = sc.population.contacts // 2
    offsets = contact_offsets(seed, sc.population.contacts)
    amod = np.zeros((layout.n_regions, max(1, k2)), dtype=np.int64)
    for r, size in enumerate(layout.sizes.tolist()):
        if size > 0:
            amod[r, :k2] = [a % size for a in offsets]
    return Plan(
        scenario=sc,
        n=n,
        seed=seed,
        layout=layout,
        policies=compiled,
        amod=amod,
        channels=[c.name for c in sc.channel],
        activities=[a.name for a in sc.activity],
        columns=columns,
        hist=hist,
        panel=panel,
    )
