"""The counter-based hash of MODEL.md §1, for the host (Python ints) and for kernels (uint64).

No generator has state: every draw is ``mix64`` of (seed-derived key, day, agent), so any
agent's day can be recomputed anywhere, in any order, on any backend or shard.
"""

import numpy as np
from numba.extending import register_jitable

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
G = 0x9E3779B97F4A7C15

# the same constants as uint64 (and 2^32 as int64) for kernels: mixed with int64 they would go through float64
G64 = np.uint64(G)
LOW32 = np.uint64(M32)
SHIFT32 = np.uint64(32)
TWO32 = np.int64(1) << 32

_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)


def mix64_host(z: int) -> int:
    """SplitMix64 finaliser on Python ints (reference implementation)."""
    z &= M64
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & M64
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & M64
    z ^= z >> 31
    return z


def root(seed: int, k: int) -> int:
    """Stream root ``mix64(seed + G*k)``: 1 disposition, 2 marriage, 3 network, 4 daily, 5+ extensions."""
    return mix64_host((seed + G * k) & M64)


def day_key(seed: int, t: int) -> int:
    """``key_t = mix64(root(4) + G*t)``, the key of day t's draws."""
    return mix64_host((root(seed, 4) + G * t) & M64)


def thr(p: float) -> int:
    """Probability → 32-bit threshold: an event happens iff a uniform u32 < thr(p)."""
    x = p * 4294967296.0
    return 1 << 32 if x >= 4294967296.0 else int(x)  # = min(2^32, int(x)), also for x = inf


@register_jitable(_nrt=False)
def mix64(z):
    """SplitMix64 finaliser on uint64 (compiled for CPU and CUDA; plain numpy under the simulator)."""
    z = np.uint64(z)
    z ^= z >> _S30
    z *= _C1
    z ^= z >> _S27
    z *= _C2
    z ^= z >> _S31
    return z
