"""The checkpoint file (``checkpoint.npz``): a snapshot's arrays with their checksums, and the
checks that refuse a damaged or foreign one when it is loaded.
"""

from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np

from credsim.engine import histogram_days
from credsim.reliability.inputs import INPUTS, RunInputs
from credsim.tables import Snapshot
from credsim.kernel import layout as L
from credsim.backends.base import state_fields
from credsim.kernel.layout import N_PANEL
from credsim.plan import Plan


CHECKPOINT = "checkpoint.npz"
#: Agents whose cached per-agent facts are recomputed from the seed when a checkpoint is loaded.
SAMPLE_AGENTS = 257
CHECKSUM_PREFIX = "sha256__"
def array_digest(name: str, a: np.ndarray) -> np.ndarray:
    """SHA-256 of one named array (name, dtype, shape and bytes) as uint8[32]."""
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"credsim-checkpoint-array/1\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
    h.update(a.reshape(-1).view(np.uint8))
    return np.frombuffer(h.digest(), np.uint8)


def snapshot_arrays(snap: Snapshot, inputs_raw: bytes) -> dict[str, np.ndarray]:
    """A snapshot as named arrays for ``np.savez`` (state arrays prefixed ``state_``), each with its
    checksum ``sha256__NAME``: generic over whatever arrays the backend's state holds."""
    arrays = {
        "inputs": np.frombuffer(inputs_raw, np.uint8),
        "day": np.array(snap.day, np.int64),
        "sum_prev": np.array(snap.sum_prev, np.int64),
        "loop_s": np.array(snap.loop_s, np.float64),
        "daily": np.ascontiguousarray(snap.daily, np.int64),
        "regions": np.ascontiguousarray(snap.regions, np.int64),
    }
    if snap.hist is not None:
        arrays["hist"] = np.ascontiguousarray(snap.hist, np.int64)
    if snap.panel is not None:
        arrays["panel"] = np.ascontiguousarray(snap.panel, np.int16)
    arrays["policy"] = np.array(snap.policy, np.int64)
    for name, arr in snap.state.items():
        arrays[f"state_{name}"] = np.ascontiguousarray(arr)
    arrays.update({CHECKSUM_PREFIX + name: array_digest(name, a) for name, a in list(arrays.items())})
    return arrays


def verify_checksums(arrays: dict, damaged: Callable[[str], Exception]) -> None:
    """Every array has a checksum and matches it; no checksum lacks its array."""
    for name in sorted(arrays):
        if name.startswith(CHECKSUM_PREFIX):
            if name[len(CHECKSUM_PREFIX):] not in arrays:
                raise damaged(f"it has a checksum of {name[len(CHECKSUM_PREFIX):]!r} but no such array")
            continue
        digest = arrays.get(CHECKSUM_PREFIX + name)
        if digest is None:
            raise damaged(f"{name} has no checksum: not written by this credsim, or edited")
        if digest.dtype != np.uint8 or digest.shape != (32,):
            raise damaged(f"the checksum of {name} is not a SHA-256")
        if not np.array_equal(digest, array_digest(name, arrays[name])):
            raise damaged(f"{name} does not match its checksum: changed or damaged after it was written")


def _chunks(n: int, size: int = 1 << 24):
    for a in range(0, n, size):
        yield a, min(n, a + size)


def cross_check(plan: Plan, inputs: RunInputs, day: int, sum_prev: int, daily: np.ndarray, regions: np.ndarray,
                hist: np.ndarray | None, state: dict[str, np.ndarray], damaged: Callable[[str], Exception]) -> None:
    """The checkpoint's parts must agree with each other (see the module docstring): a snapshot whose
    checksums were recomputed after an edit is still refused when it no longer adds up."""
    cols = ["day", "threshold", *plan.columns]
    col = {c: i for i, c in enumerate(cols)}
    last = daily[day - 1]
    sp = col["sum_public"]
    if sum_prev != int(last[sp]):
        raise damaged(
            f"yesterday's sum of public scores {sum_prev} differs from day {day}'s sum_public {int(last[sp])}"
        )
    # day 1's threshold follows from S0 * N only without a list on day 0 (else from Σ P_0, not stored)
    prev = None if int(plan.ip[L.IP_INIT_THR]) else plan.scenario.score.start * plan.n
    for t in range(day):
        if prev is not None:
            expect = plan.threshold(prev, plan.policy_index(t + 1))
            if int(daily[t, 1]) != expect:
                raise damaged(
                    f"day {t + 1}'s threshold {int(daily[t, 1])} does not follow from the day before "
                    f"(expected {expect})"
                )
        prev = int(daily[t, sp])
    if not np.array_equal(regions[:, :, 0].sum(axis=1), daily[:, col["listed"]]):
        raise damaged("the region table's listed counts do not add up to the daily table's")
    if not np.array_equal(regions[:, :, 1].sum(axis=1), daily[:, sp]):
        raise damaged("the region table's sums of public scores do not add up to the daily table's")
    if hist is not None and len(hist) and not np.all(hist.sum(axis=1) == plan.n):
        raise damaged(f"a histogram row does not count {plan.n} agents")
    if not state:
        return
    own, flags, stress = state.get("own"), state.get("flags"), state.get("stress")
    n = plan.n
    checks = []  # (what, from the state, column)
    if own is not None:
        total_own = sum(int(np.sum(own[a:b], dtype=np.int64)) for a, b in _chunks(n))
        checks.append(("sum of own scores", total_own, "sum_own"))
    if flags is not None:
        bit = np.uint8(1 << (day & 1))
        listed = ever = wrong = 0
        for a, b in _chunks(n):
            f = flags[a:b]
            on = (f & bit) != 0
            listed += int(np.count_nonzero(on))
            ever += int(np.count_nonzero(f & np.uint8(L.F_EVER)))
            wrong += int(np.count_nonzero(on & ((f & np.uint8(L.F_FLAGGED)) != 0)))
        checks += [("listed count of the flags", listed, "listed"),
                   ("ever-listed count of the flags", ever, "ever_listed"),
                   ("wrongly-flagged listed count", wrong, "listed_wrongly_flagged")]
    if stress is not None:
        total = sum(int(np.sum(stress[a:b], dtype=np.int64)) for a, b in _chunks(n))
        high = sum(int(np.count_nonzero(stress[a:b] >= 128)) for a, b in _chunks(n))
        checks += [("sum of stress", total, "stress_sum"), ("high-stress count", high, "stress_high")]
    for what, value, column in checks:
        if column in col and value != int(last[col[column]]):
            raise damaged(f"the state's {what} ({value}) differs from day {day}'s {column} ({int(last[col[column]])})")
    if flags is not None:
        from credsim.kernel.initial import init_agent

        static = np.uint8(L.F_MARRIED | (7 << L.F_CLS_SHIFT))
        r1, r2 = np.uint64(plan.root1), np.uint64(plan.root2)
        for i in sorted({(k * (n - 1)) // max(1, SAMPLE_AGENTS - 1) for k in range(SAMPLE_AGENTS)}):
            with np.errstate(over="ignore"):  # the hash multiplies modulo 2^64 on purpose
                expect = np.uint8(init_agent(i, r1, r2, plan.married_thr, n)) & static
            if (flags[i] & static) != expect:
                raise damaged(f"agent {i}'s cached disposition or marriage does not follow from seed {inputs.seed}")


def snapshot_from_arrays(
    arrays: dict, plan: Plan, inputs: RunInputs, inputs_raw: bytes, damaged: Callable[[str], Exception]
) -> Snapshot:
    """Check every array's checksum, presence, dtype and shape against the plan, then cross-check
    the parts against each other; build the Snapshot."""

    def get(name: str, dtype, shape: tuple) -> np.ndarray:
        if name not in arrays:
            raise damaged(f"no {name!r} array")
        a = arrays[name]
        if a.dtype != np.dtype(dtype) or a.shape != shape:
            raise damaged(f"{name}: expected {np.dtype(dtype)}{shape}, got {a.dtype}{a.shape}")
        return a

    verify_checksums(arrays, damaged)
    if "inputs" not in arrays or arrays["inputs"].dtype != np.uint8 or arrays["inputs"].tobytes() != inputs_raw:
        raise damaged(f"it was written for other inputs than this folder's {INPUTS}")
    day = int(get("day", np.int64, ()))
    if not 1 <= day <= inputs.days:
        raise damaged(f"day {day} is outside 1..{inputs.days}")
    sum_prev = int(get("sum_prev", np.int64, ()))
    loop_s = float(get("loop_s", np.float64, ()))
    ncols = 2 + len(plan.columns)
    daily = get("daily", np.int64, (day, ncols))
    if not np.array_equal(daily[:, 0], np.arange(1, day + 1)):
        raise damaged("the daily table's day column is not 1..day")
    regions = get("regions", np.int64, (day, plan.layout.n_regions, 2))
    hist = None
    if plan.hist.bins:
        n_hist = sum(1 for t in histogram_days(plan, inputs.days) if t <= day)
        hist = get("hist", np.int64, (n_hist, plan.hist.bins))
    elif "hist" in arrays:
        raise damaged("it holds a histogram but the inputs have none")
    panel = None
    if plan.panel:
        panel = get("panel", np.int16, (day, plan.panel, N_PANEL))
    elif "panel" in arrays:
        raise damaged("it holds a panel but the inputs have none")
    policy = plan.policy_index(day)
    if int(get("policy", np.int64, ())) != policy:
        raise damaged(f"its policy in force ({int(arrays['policy'])}) is not day {day}'s ({policy})")
    state = {k[len("state_"):]: v for k, v in arrays.items() if k.startswith("state_")}
    fields = state_fields(plan)
    if day < inputs.days:
        for name, dtype in fields.items():
            get(f"state_{name}", dtype, (plan.n,))
        if set(state) != set(fields):
            raise damaged(f"state arrays {sorted(state)}, expected {sorted(fields)}")
        own = state["own"]
        lo, hi = plan.scenario.score.min, plan.scenario.score.max
        if own.size and (int(own.min()) < lo or int(own.max()) > hi):
            raise damaged(f"own scores outside {lo}..{hi}")
    elif state:
        raise damaged("it holds state arrays but the run is finished")
    cross_check(plan, inputs, day, sum_prev, daily, regions, hist, state, damaged)
    return Snapshot(day, sum_prev, state, daily, regions, hist, loop_s, panel, policy)
