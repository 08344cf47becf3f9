"""The synthetic population, derived from a scenario and never stored per agent (MODEL.md §2).

Regions are contiguous id ranges, marriage pairs are (2k, 2k+1), disposition classes and marriages
are hashes of the id, and contacts are fixed offsets inside a region: so a population of any size
is a handful of small tables, and the per-agent facts are recomputed (or cached in a state bit).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from importlib import resources
from statistics import NormalDist

import numpy as np

from credsim.errors import ScenarioError
from credsim.kernel.hash import mix64_host, root
from credsim.scenario.model import RegionTable, Scenario


def region_table(name: str) -> tuple[list[str], list[int]]:
    """Names and integer weights of a built-in region table.

    ``china-2020``: the 31 provinces of the 2020 census, weight = (population + 500) // 1000.
    """
    if name != RegionTable.china_2020.value:
        raise ScenarioError(f"population.regions: unknown region table {name!r} (known: china-2020)")
    text = (resources.files("credsim") / "data" / "china-2020-provinces.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    names = [r["region"] for r in rows]
    weights = [(int(r["population"]) + 500) // 1000 for r in rows]
    if any(w <= 0 for w in weights):
        raise ScenarioError(f"population.regions: table {name!r} has a non-positive weight")
    return names, weights


def region_weights(scenario: Scenario) -> tuple[list[str], list[int]]:
    """Region names and weights of a scenario (a table name or an explicit list)."""
    regions = scenario.population.regions
    if isinstance(regions, RegionTable):
        return region_table(regions.value)
    return [f"region_{r}" for r in range(len(regions))], list(regions)


def region_sizes(n: int, weights: list[int]) -> list[int]:
    """Largest-remainder apportionment of n agents to regions; ties go to the lower index."""
    w_total = sum(weights)
    sizes = [n * w // w_total for w in weights]
    left = n - sum(sizes)
    order = sorted(range(len(weights)), key=lambda r: (-(n * weights[r] % w_total), r))
    for r in order[:left]:
        sizes[r] += 1
    return sizes


def class_multipliers(sigma: float) -> list[float]:
    """Disposition multipliers m_k, k = 0..7: lognormal octiles normalised to mean 1."""
    nd = NormalDist()
    e = [math.exp(sigma * nd.inv_cdf((k + 0.5) / 8) - sigma * sigma / 2) for k in range(8)]
    mean = sum(e) / 8
    return [ek / mean for ek in e]


def contact_offsets(seed: int, contacts: int) -> list[int]:
    """Circulant offsets a_j = 1 + (mix64(root(3) ^ j) mod 2^20), j = 0..K/2-1."""
    r3 = root(seed, 3)
    return [1 + (mix64_host(r3 ^ j) % (1 << 20)) for j in range(contacts // 2)]


@dataclass(frozen=True)
class Layout:
    """Region layout of a population of n agents: names, starts and sizes (int64 arrays)."""

    n: int
    names: list[str]
    starts: np.ndarray
    sizes: np.ndarray

    @classmethod
    def build(cls, scenario: Scenario, n: int) -> "Layout":
        names, weights = region_weights(scenario)
        sizes = np.array(region_sizes(n, weights), dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        return cls(n=n, names=names, starts=starts, sizes=sizes)

    @property
    def n_regions(self) -> int:
        return len(self.names)
