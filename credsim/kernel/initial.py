"""Day 0: each agent's initial state (MODEL.md §2, §3 and §8.5, a list that already exists) and Σ P_0.

``register_jitable`` functions, called by the CPU and CUDA drivers' initialisation kernels.
"""

import numpy as np
from numba.extending import register_jitable

from credsim.kernel.hash import SHIFT32, mix64
from credsim.kernel.layout import (
    A_OWES,
    F_BL0,
    F_CLS_SHIFT,
    F_EVER,
    F_MARRIED,
    IP_INIT_SCORE,
    IP_INIT_THR,
    IP_MECH,
    IP_N,
    IP_ROOT6,
    IP_S0,
    M_AUX,
    M_EXIT,
)
from credsim.kernel.score import enrolled
from credsim.kernel.step import public_scores, spouse_weight
from credsim.kernel.variant import extended


@register_jitable
def init_agent(i, root1, root2, married_thr, n):
    """Initial flags byte of agent i: cached disposition class and marriage bit (MODEL.md §2)."""
    cls = np.int64(mix64(root1 ^ np.uint64(i)) >> np.uint64(61))
    fl = cls << F_CLS_SHIFT
    k = i >> 1
    if (k << 1) + 1 < n:
        if np.int64(mix64(root2 ^ np.uint64(k)) >> SHIFT32) < married_thr:
            fl |= F_MARRIED
    return np.uint8(fl)


@register_jitable
def init_state_agent(li, i, own, flags, since, stress, aux, root1, root2, married_thr, ip):
    """Day-0 state of agent i at index li (MODEL.md §3 and §8.5: a list that already exists).

    An agent outside an opt-in system is never initially listed and never owes."""
    fl = np.int64(init_agent(i, root1, root2, married_thr, ip[IP_N]))
    o = ip[IP_S0]
    ax = 0
    if ip[IP_INIT_THR] > 0 and enrolled(i, ip):
        if np.int64(mix64(np.uint64(ip[IP_ROOT6]) ^ np.uint64(i)) >> SHIFT32) < ip[IP_INIT_THR]:
            o = ip[IP_INIT_SCORE]
            fl |= F_BL0 | F_EVER  # bl_0 (day 0's parity bit), ever listed; bl_since = 0
            if (ip[IP_MECH] & M_EXIT) != 0:
                ax = A_OWES
    own[li] = o
    flags[li] = np.uint8(fl)
    since[li] = 0
    stress[li] = 0
    if extended(aux):
        if (ip[IP_MECH] & M_AUX) != 0:
            aux[li] = np.uint8(ax)


@register_jitable
def pair_public0(la, n_local, own, flags, w):
    """Σ P_0 of the pair whose first agent is at index la (MODEL.md §8.5: step 7 with day 1's spouse weight)."""
    oa = np.int64(own[la])
    if la + 1 >= n_local:
        return oa
    ob = np.int64(own[la + 1])
    pa, pb = public_scores(oa, ob, spouse_weight(w, flags[la]))
    return pa + pb
