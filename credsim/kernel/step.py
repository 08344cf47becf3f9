"""One CSM-1 day for one marriage pair, written once and compiled for every backend.

Functions here are ``register_jitable``: numba compiles them into the CPU driver
(:mod:`credsim.kernel.cpu`) and, as device functions, into the CUDA driver
(:mod:`credsim.kernel.cuda`); under ``NUMBA_ENABLE_CUDASIM=1`` they run as plain Python.
They read and write state arrays in place and add to an aggregate row; they own no generator,
do no I/O and allocate nothing. Step numbers in comments are those of MODEL.md §4.

Integer discipline: every draw is converted to int64 at once (values < 2^32), so comparisons
against int64 thresholds never mix signed and unsigned types.
"""

import numpy as np
from numba.extending import register_jitable

from credsim.kernel.hash import mix64
from credsim.kernel.layout import (
    AC_CUM, AC_DENY_BL, AC_MIN_SCORE, C_CH0, C_EVER, C_EXITS, C_ENTRIES, C_LISTED, C_MAX_P,
    C_MIN_P, C_SPILL, C_SUM_OWN, C_SUM_P, C_SUM_P2, C_WRONG, CH_DETECT, CH_FALSE_CUM,
    CH_FORCES, CH_POINTS, F_CLS_SHIFT, F_EVER, F_FLAGGED, F_MARRIED, IP_ASSOC_PEN,
    IP_ASSOC_THR, IP_BURDEN, IP_COL_ACT, IP_COL_HIST, IP_COL_STRESS, IP_DENY_COST,
    IP_EVENT_COST, IP_HIST_BINS, IP_HIST_LO, IP_HIST_WIDTH, IP_HYST, IP_K2, IP_LISTED_COST,
    IP_MIN_STAY, IP_N, IP_NACT, IP_NCH, IP_REC_THR, IP_RELIEF, IP_S0, IP_SMAX, IP_SMIN,
    IP_SPOUSE_W, IP_PART_THR, IP_ROOT5, IP_N_GRADES, IP_COL_GRADE, N_IP,
)  # fmt: skip

_G = np.uint64(0x9E3779B97F4A7C15)
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_TWO32 = np.int64(1) << 32


@register_jitable
def init_agent(i, root1, root2, married_thr, n):
    """Initial flags byte of agent i: cached disposition class and marriage bit (MODEL.md §2)."""
    cls = np.int64(mix64(root1 ^ np.uint64(i)) >> np.uint64(61))
    fl = cls << F_CLS_SHIFT
    k = i >> 1
    if (k << 1) + 1 < n:
        if np.int64(mix64(root2 ^ np.uint64(k)) >> _S32) < married_thr:
            fl |= F_MARRIED
    return np.uint8(fl)


@register_jitable(inline="always")
def _listed_yesterday(g, pbit, flags, lo, hi, halo):
    """Was global agent g listed yesterday? Local state if this shard holds g, else the halo bitmap."""
    if g >= lo and g < hi:
        return (np.int64(flags[g - lo]) >> pbit) & 1
    return (np.int64(halo[g >> 3]) >> (g & 7)) & 1


@register_jitable(inline="always")
def listed_contacts(i, r, pbit, flags, lo, hi, halo, reg_start, reg_size, amod, k2):
    """Number of i's contacts (±a_j inside region r, self skipped) listed yesterday."""
    s = reg_start[r]
    n = reg_size[r]
    off = i - s
    count = 0
    for j in range(k2):
        a = amod[r, j]
        c1 = off + a
        if c1 >= n:
            c1 -= n
        c2 = off - a
        if c2 < 0:
            c2 += n
        if c1 != off:
            count += _listed_yesterday(s + c1, pbit, flags, lo, hi, halo)
        if c2 != off:
            count += _listed_yesterday(s + c2, pbit, flags, lo, hi, halo)
    return count


@register_jitable(inline="always")
def agent_score(i, r, h1, h2, h3, fl, own_prev, pbit, flags, lo, hi, halo, ip, beh, chan, reg_start, reg_size, amod, acc):
    """Steps 1-6 for agent i, given its day's hashes h1, h2, h3 (step 1): events, points.

    Returns (own_t, forced, neg, false_event, u_act, enrolled). ``enrolled`` is False only under the
    participation extension, for agents outside an opt-in system: they behave as with no system
    (rows 8+ of ``beh``), and nothing of theirs is detected, attributed or scored."""
    # 1. draws
    u_beh = np.int64(h1 & _M32)
    u_det = np.int64(h1 >> _S32)
    u_false = np.int64(h2 & _M32)
    u_rec = np.int64(h2 >> _S32)
    u_act = np.int64(h3 & _M32)
    u_assoc = np.int64(h3 >> _S32)
    nch = ip[IP_NCH]
    cls = (np.int64(fl) >> F_CLS_SHIFT) & 7
    enrolled = True
    if ip[IP_PART_THR] < _TWO32:  # extension: participation
        enrolled = np.int64(mix64(np.uint64(ip[IP_ROOT5]) ^ np.uint64(i)) >> _S32) < ip[IP_PART_THR]
        if not enrolled:
            cls += 8
    delta = np.int64(0)
    forced = False
    neg = False
    # 2. behaviour: smallest c with u_beh < B[cls, c]
    if u_beh < beh[cls, nch - 1]:
        c = 0
        while u_beh >= beh[cls, c]:
            c += 1
        acc[C_CH0 + 3 * c] += 1
        # 3. detection
        if enrolled and u_det < chan[CH_DETECT, c]:
            acc[C_CH0 + 3 * c + 1] += 1
            pts = chan[CH_POINTS, c]
            delta += pts
            if pts < 0:
                neg = True
            # 6. forced listing
            if chan[CH_FORCES, c] != 0:
                forced = True
    # 4. wrongful attribution: smallest c with u_false < F_c
    false_event = False
    if enrolled:  # steps 4-5 apply only to agents in the system
        if u_false < chan[CH_FALSE_CUM, nch - 1]:
            c = 0
            while u_false >= chan[CH_FALSE_CUM, c]:
                c += 1
            acc[C_CH0 + 3 * c + 2] += 1
            pts = chan[CH_POINTS, c]
            delta += pts
            if pts < 0:
                neg = True
            false_event = True
        # 5. association penalty and recovery
        if u_assoc < ip[IP_ASSOC_THR] and ip[IP_ASSOC_PEN] != 0:
            n_listed = listed_contacts(i, r, pbit, flags, lo, hi, halo, reg_start, reg_size, amod, ip[IP_K2])
            delta -= ip[IP_ASSOC_PEN] * n_listed
        s0 = ip[IP_S0]
        if u_rec < ip[IP_REC_THR]:
            if own_prev < s0:
                delta += 1
            elif own_prev > s0:
                delta -= 1
    own = own_prev + delta
    if own < ip[IP_SMIN]:
        own = ip[IP_SMIN]
    elif own > ip[IP_SMAX]:
        own = ip[IP_SMAX]
    return own, forced, neg, false_event, u_act, enrolled


@register_jitable(inline="always")
def agent_finish(li, t, threshold, pub, own, fl, forced, neg, false_event, u_act, enrolled, pbit, flags, since, stress, ip, act, acc, hist_on):
    """Steps 8-10 for local agent li given its public score; writes state, returns bl_t (0/1).

    An agent outside an opt-in system (``enrolled`` False) is never listed or denied and carries
    no burden."""
    fl = np.int64(fl)
    if false_event:
        fl |= F_FLAGGED
    was = (fl >> pbit) & 1
    cur_bit = 1 << (1 - pbit)  # today's parity bit
    # 8. blacklist
    bl = was
    if not enrolled:
        bl = 0
    elif was == 0:
        if pub < threshold or forced:
            bl = 1
            since[li] = t
            fl |= F_EVER
            acc[C_ENTRIES] += 1
    elif forced:
        since[li] = t
    elif pub >= threshold + ip[IP_HYST] and t - np.int64(since[li]) >= ip[IP_MIN_STAY]:
        bl = 0
        acc[C_EXITS] += 1
    if bl == 1:
        fl |= cur_bit
    else:
        fl &= ~cur_bit
    flags[li] = np.uint8(fl)
    # 9. activity: smallest a with u_act < A_a
    denied = 0
    nact = ip[IP_NACT]
    if nact > 0 and u_act < act[AC_CUM, nact - 1]:
        a = 0
        while u_act >= act[AC_CUM, a]:
            a += 1
        col = ip[IP_COL_ACT] + 2 * a
        acc[col] += 1
        if enrolled and ((act[AC_DENY_BL, a] != 0 and bl == 1) or pub < act[AC_MIN_SCORE, a]):
            denied = 1
            acc[col + 1] += 1
    # 10. stress
    s = np.int64(stress[li]) - ip[IP_RELIEF] + ip[IP_DENY_COST] * denied + ip[IP_LISTED_COST] * bl
    if enrolled:
        s += ip[IP_BURDEN]
    if neg:
        s += ip[IP_EVENT_COST]
    if s < 0:
        s = 0
    elif s > 255:
        s = 255
    stress[li] = np.uint8(s)
    # daily table (MODEL.md §5)
    acc[C_SUM_P] += pub
    acc[C_SUM_P2] += pub * pub
    if pub < acc[C_MIN_P]:
        acc[C_MIN_P] = pub
    if pub > acc[C_MAX_P]:
        acc[C_MAX_P] = pub
    acc[C_SUM_OWN] += own
    if (fl & F_EVER) != 0:
        acc[C_EVER] += 1
    if bl == 1:
        acc[C_LISTED] += 1
        if pub < threshold and own >= threshold:
            acc[C_SPILL] += 1
        if (fl & F_FLAGGED) != 0:
            acc[C_WRONG] += 1
    cs = ip[IP_COL_STRESS]
    acc[cs] += s
    if s >= 128:
        acc[cs + 1] += 1
    # extension: grades, highest first; the last grade starts at or below score.min
    n_grades = ip[IP_N_GRADES]
    if n_grades > 0:
        g = 0
        while g < n_grades - 1 and pub < ip[N_IP + g]:
            g += 1
        acc[ip[IP_COL_GRADE] + g] += 1
    # extension: public-score histogram (off unless asked for; never touches the columns above)
    if hist_on:
        b = (pub - ip[IP_HIST_LO]) // ip[IP_HIST_WIDTH]
        if b < 0:
            b = 0
        elif b >= ip[IP_HIST_BINS]:
            b = ip[IP_HIST_BINS] - 1
        acc[ip[IP_COL_HIST] + b] += 1
    return bl


@register_jitable(inline="always")
def pair_day(p, ra, rb, t, threshold, key, lo, hi, own, flags, since, stress, halo, ip, beh, chan, act, reg_start, reg_size, amod, acc, hist_on):
    """Day t for pair p = agents (2p, 2p+1), synchronous in both (MODEL.md §4).

    ``lo``/``hi`` bound the global ids this caller holds (state index = id - lo); ``ra``/``rb`` are
    the agents' regions. Returns (bl_a, P_a, bl_b, P_b); the second agent is absent (bl 0, P 0)
    when 2p+1 is past the population.
    """
    pbit = (t - 1) & 1  # yesterday's blacklist bit
    a = 2 * p
    b = a + 1
    la = a - lo
    fa = flags[la]
    # 1. the day's hashes of both agents, side by side: two independent chains of multiplies
    h1a = mix64(key ^ np.uint64(a))
    h1b = mix64(key ^ np.uint64(b))
    h2a = mix64(h1a + _G)
    h2b = mix64(h1b + _G)
    h3a = mix64(h2a + _G)
    h3b = mix64(h2b + _G)
    own_a, forced_a, neg_a, false_a, uact_a, enr_a = agent_score(
        a, ra, h1a, h2a, h3a, fa, np.int64(own[la]), pbit, flags, lo, hi, halo, ip, beh, chan, reg_start, reg_size, amod, acc
    )
    has_b = b < ip[IP_N]
    lb = la + 1
    fb = fa
    own_b, forced_b, neg_b, false_b, uact_b, enr_b = np.int64(0), False, False, False, np.int64(0), True
    if has_b:
        fb = flags[lb]
        own_b, forced_b, neg_b, false_b, uact_b, enr_b = agent_score(
            b, rb, h1b, h2b, h3b, fb, np.int64(own[lb]), pbit, flags, lo, hi, halo, ip, beh, chan, reg_start, reg_size, amod, acc
        )
    # 7. public score: both spouses' own of today
    pub_a = own_a
    pub_b = own_b
    if (np.int64(fa) & F_MARRIED) != 0:
        w = ip[IP_SPOUSE_W]
        pub_a = ((10 - w) * own_a + w * own_b) // 10
        pub_b = ((10 - w) * own_b + w * own_a) // 10
    own[la] = own_a
    bl_a = agent_finish(la, t, threshold, pub_a, own_a, fa, forced_a, neg_a, false_a, uact_a, enr_a, pbit, flags, since, stress, ip, act, acc, hist_on)
    bl_b = 0
    if has_b:
        own[lb] = own_b
        bl_b = agent_finish(lb, t, threshold, pub_b, own_b, fb, forced_b, neg_b, false_b, uact_b, enr_b, pbit, flags, since, stress, ip, act, acc, hist_on)
    else:
        pub_b = 0
    return bl_a, pub_a, bl_b, pub_b
