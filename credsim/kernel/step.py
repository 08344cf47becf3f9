"""One day for one marriage pair (CSM-1 and CSM-2), written once and compiled for every backend.

The day of one agent is split along MODEL.md §4: steps 1-6 give its own score
(:mod:`credsim.kernel.score`), step 7 (here) the public score of both spouses, steps 8-10 what
that score does to each (:mod:`credsim.kernel.consequences`). Day 0 is :mod:`credsim.kernel.initial`.
Functions are ``register_jitable``: numba compiles them into the CPU driver
(:mod:`credsim.kernel.cpu`) and, as device functions, into the CUDA driver
(:mod:`credsim.kernel.cuda_kernels`); under ``NUMBA_ENABLE_CUDASIM=1`` they run as plain Python.
They read and write state arrays in place and add to an aggregate row; they own no generator,
do no I/O and allocate nothing. The CSM-2 mechanisms (§8) sit behind ``ip[IP_MECH]``, a bit mask
that is 0 for a CSM-1 scenario, and the whole of CSM-2's code behind a compile-time switch
(:mod:`credsim.kernel.variant`), so a CSM-1 kernel runs the code it ran before CSM-2 existed.
"""

import numpy as np
from numba.extending import register_jitable

from credsim.kernel.consequences import agent_finish
from credsim.kernel.hash import G64, mix64
from credsim.kernel.layout import (
    F_MARRIED_BIT,
    IP_MECH,
    IP_N,
    IP_SPOUSE_W,
    M_ADAPTIVE,
    M_AUX,
)
from credsim.kernel.score import agent_score
from credsim.kernel.variant import extended


@register_jitable
def public_scores(own_a, own_b, w):
    """Step 7 for a pair: ``P = ((10 - w) * own + w * own_spouse) // 10`` for both spouses (w = 0:
    unmarried, P = own).

    Computed as ``own_a + d // 10`` and ``own_b - ceil(d / 10)`` with ``d = w * (own_b - own_a)``:
    the same integers (``10 * own`` is a multiple of 10 and leaves the floor unchanged), with one
    division instead of two and no branch on the marriage bit, which a predictor misses for about
    a third of the pairs."""
    d = w * (own_b - own_a)
    q = d // 10
    return own_a + q, own_b - q - np.int64(d != 10 * q)


@register_jitable
def spouse_weight(w, flags_a):
    """Step 7's spouse weight of a pair whose first agent has flags ``flags_a``: w if married, else 0.

    Arithmetic on the marriage bit, not a conditional: LLVM compiles the conditional to a branch
    that a predictor misses on about a third of the pairs."""
    return w * ((np.int64(flags_a) >> F_MARRIED_BIT) & 1)


@register_jitable(inline="always")
def pair_day(
    p, ra, rb, t, threshold, key, lo, hi, own, flags, since, stress, aux, halo, ip, beh, chan, act, reg_start,
    reg_size, amod, acc, hist_on, ja, jb, panel,
):
    """Day t for pair p = agents (2p, 2p+1), synchronous in both (MODEL.md §4 and §8).

    ``lo``/``hi`` bound the global ids this caller holds (state index = id - lo); ``ra``/``rb`` are
    the agents' regions; ``ja``/``jb`` their panel rows (-1: not tracked). Returns
    (bl_a, P_a, bl_b, P_b); the second agent is absent (bl 0, P 0) when 2p+1 is past the population.
    """
    pbit = (t - 1) & 1  # yesterday's blacklist bit
    a = 2 * p
    b = a + 1
    la = np.uint64(a - lo)  # unsigned state indices: no negative-index wraparound per access
    fa = flags[la]
    mech = 0
    if extended(aux):
        mech = ip[IP_MECH]
    has_b = b < ip[IP_N]
    lb = la + np.uint64(1)
    fb = fa
    own_pa = np.int64(own[la])
    own_pb = own_pa
    if has_b:
        fb = flags[lb]
        own_pb = np.int64(own[lb])
    ax_a = 0
    ax_b = 0
    if (mech & M_AUX) != 0:
        ax_a = np.int64(aux[la])
        if has_b:
            ax_b = np.int64(aux[lb])
    # CSM-2 §8.3: P_{t-1} from yesterday's own scores with today's spouse weight
    pp_a = own_pa
    pp_b = own_pb
    w = spouse_weight(ip[IP_SPOUSE_W], fa)
    if (mech & M_ADAPTIVE) != 0:
        pp_a, pp_b = public_scores(own_pa, own_pb, w)
    # 1. the day's hashes of both agents, side by side: two independent chains of multiplies
    h1a = mix64(key ^ np.uint64(a))
    h1b = mix64(key ^ np.uint64(b))
    h2a = mix64(h1a + G64)
    h2b = mix64(h1b + G64)
    h3a = mix64(h2a + G64)
    h3b = mix64(h2b + G64)
    own_a, ev_a, tc_a, fc_a, uact_a, axt_a = agent_score(
        a, ra, h1a, h2a, h3a, fa, own_pa, pp_a, ax_a, mech, pbit, threshold, flags, lo, hi, halo, ip, beh, chan,
        reg_start, reg_size, amod, acc,
    )
    own_b, ev_b, tc_b, fc_b, uact_b, axt_b = np.int64(0), 0, -1, -1, np.int64(0), ax_b
    if has_b:
        own_b, ev_b, tc_b, fc_b, uact_b, axt_b = agent_score(
            b, rb, h1b, h2b, h3b, fb, own_pb, pp_b, ax_b, mech, pbit, threshold, flags, lo, hi, halo, ip, beh, chan,
            reg_start, reg_size, amod, acc,
        )
    # 7. public score: both spouses' own of today
    pub_a, pub_b = public_scores(own_a, own_b, w)
    own[la] = own_a
    bl_a = agent_finish(
        la, t, threshold, pub_a, own_a, fa, ev_a, tc_a, fc_a, uact_a, ax_a, axt_a, mech, pbit, flags, since, stress,
        aux, ip, act, acc, hist_on, ja, panel,
    )
    bl_b = 0
    if has_b:
        own[lb] = own_b
        bl_b = agent_finish(
            lb, t, threshold, pub_b, own_b, fb, ev_b, tc_b, fc_b, uact_b, ax_b, axt_b, mech, pbit, flags, since, stress,
            aux, ip, act, acc, hist_on, jb, panel,
        )
    else:
        pub_b = 0
    return bl_a, pub_a, bl_b, pub_b
