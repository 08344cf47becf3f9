"""How the Ray backend cuts the population into shards and what crosses between them each day:
pure functions of the plan, no Ray (see :mod:`credsim.backends.ray.driver`).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from credsim.kernel.layout import IP_ASSOC_PEN, IP_ASSOC_THR, IP_K2
from credsim.plan import Plan


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
