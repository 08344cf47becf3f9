"""Template of the CSM-1 CPU day kernel with each step of MODEL.md §4 behind a compile-time switch.

A copy of credsim/kernel/step.py (as of commit 329e6e4) and of the chunk and day functions of
credsim/kernel/cpu.py, for benchmarks/profile_steps.py only: it writes a copy of this file per
variant with the switch block below rewritten, imports it, and times its day loop. Numba reads
module globals as compile-time constants, so a switch set to False removes its step's code, its
branches and its memory traffic from the compiled loop, as if the step had never been written.
With every switch on, the kernel is the project's and its tables are the project's (checked by
profile_steps.py against credsim.kernel.cpu before any timing).

The prototype switches (P_*) are candidate speed-ups, off in the project's kernel.
"""

import numpy as np
from numba import njit, prange
from numba.extending import register_jitable

from credsim.kernel.hash import mix64
from credsim.kernel.layout import (
    AC_CUM,
    AC_DENY_BL,
    AC_MIN_SCORE,
    C_CH0,
    C_EVER,
    C_EXITS,
    C_ENTRIES,
    C_LISTED,
    C_MAX_P,
    C_MIN_P,
    C_SPILL,
    C_SUM_OWN,
    C_SUM_P,
    C_SUM_P2,
    C_WRONG,
    CH_DETECT,
    CH_FALSE_CUM,
    CH_FORCES,
    CH_POINTS,
    F_CLS_SHIFT,
    F_EVER,
    F_FLAGGED,
    F_MARRIED,
    IP_ASSOC_PEN,
    IP_ASSOC_THR,
    IP_BURDEN,
    IP_COL_ACT,
    IP_COL_HIST,
    IP_COL_STRESS,
    IP_DENY_COST,
    IP_EVENT_COST,
    IP_HIST_BINS,
    IP_HIST_LO,
    IP_HIST_WIDTH,
    IP_HYST,
    IP_K2,
    IP_LISTED_COST,
    IP_MIN_STAY,
    IP_N,
    IP_NACT,
    IP_NCH,
    IP_REC_THR,
    IP_RELIEF,
    IP_S0,
    IP_SMAX,
    IP_SMIN,
    IP_SPOUSE_W,
    IP_PART_THR,
    IP_ROOT5,
    IP_N_GRADES,
    IP_COL_GRADE,
    N_IP,
)
from credsim.kernel.score import contact_pair

# --- switches (profile_steps.py rewrites this block in each variant) ----------------------------
S_EVENTS = True  # steps 2, 3, 6: behaviour, detection, forced listing
S_FALSE = True  # step 4: wrongful attribution
S_ASSOC = True  # step 5: association penalty (reads 8 contacts' flags)
S_RECOVERY = True  # step 5: recovery
S_SPOUSE = True  # step 7: public score from both spouses
S_BLACKLIST = True  # step 8: listing, exits (off: bl_t = bl_t-1)
S_ACTIVITY = True  # step 9: activity and denial
S_STRESS = True  # step 10: stress (off: the stress byte is neither read nor written)
S_DAILY = True  # the daily table's sums and counts (MODEL.md §5), apart from channel/activity counts
S_REGION_SUMS = True  # the region table's sums (the region lookup stays while association needs it)
S_EXT = True  # extension tests: participation, grades, histogram
P_UNSIGNED = False  # prototype: unsigned state indices (numba skips the negative-index wraparound)
P_LOCAL_SUMS = False  # prototype: daily sums in local variables, written to the row once per chunk
INLINE = "always"  # numba-level inlining of the step functions, as in the project
# --- end of switches -----------------------------------------------------------------------------

_G = np.uint64(0x9E3779B97F4A7C15)
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_TWO32 = np.int64(1) << 32
_BIG = np.int64(1) << 62


@register_jitable(inline="always")
def _ix(i):
    """A state index: unsigned under the P_UNSIGNED prototype."""
    if P_UNSIGNED:
        return np.uint64(i)
    return i


@register_jitable(inline="always")
def _listed_yesterday(g, pbit, flags, lo, hi, halo):
    if g >= lo and g < hi:
        return (np.int64(flags[_ix(g - lo)]) >> pbit) & 1
    return (np.int64(halo[g >> 3]) >> (g & 7)) & 1


@register_jitable(inline="always")
def listed_contacts(i, r, pbit, flags, lo, hi, halo, reg_start, reg_size, amod, k2):
    s = reg_start[r]
    n = reg_size[r]
    off = i - s
    count = 0
    for j in range(k2):
        a = amod[r, j]
        c1, c2 = contact_pair(off, a, n)
        if c1 != off:
            count += _listed_yesterday(s + c1, pbit, flags, lo, hi, halo)
        if c2 != off:
            count += _listed_yesterday(s + c2, pbit, flags, lo, hi, halo)
    return count


@register_jitable(inline=INLINE)
def agent_score(i, r, h1, h2, h3, fl, own_prev, pbit, flags, lo, hi, halo, ip, beh, chan, reg_start, reg_size, amod, acc):
    u_beh = np.int64(h1 & _M32)
    u_det = np.int64(h1 >> _S32)
    u_false = np.int64(h2 & _M32)
    u_rec = np.int64(h2 >> _S32)
    u_act = np.int64(h3 & _M32)
    u_assoc = np.int64(h3 >> _S32)
    nch = ip[IP_NCH]
    cls = (np.int64(fl) >> F_CLS_SHIFT) & 7
    enrolled = True
    if S_EXT and ip[IP_PART_THR] < _TWO32:
        enrolled = np.int64(mix64(np.uint64(ip[IP_ROOT5]) ^ np.uint64(i)) >> _S32) < ip[IP_PART_THR]
        if not enrolled:
            cls += 8
    delta = np.int64(0)
    forced = False
    neg = False
    if S_EVENTS and u_beh < beh[cls, nch - 1]:
        c = 0
        while u_beh >= beh[cls, c]:
            c += 1
        acc[C_CH0 + 3 * c] += 1
        if enrolled and u_det < chan[CH_DETECT, c]:
            acc[C_CH0 + 3 * c + 1] += 1
            pts = chan[CH_POINTS, c]
            delta += pts
            if pts < 0:
                neg = True
            if chan[CH_FORCES, c] != 0:
                forced = True
    false_event = False
    if enrolled:
        if S_FALSE and u_false < chan[CH_FALSE_CUM, nch - 1]:
            c = 0
            while u_false >= chan[CH_FALSE_CUM, c]:
                c += 1
            acc[C_CH0 + 3 * c + 2] += 1
            pts = chan[CH_POINTS, c]
            delta += pts
            if pts < 0:
                neg = True
            false_event = True
        if S_ASSOC and u_assoc < ip[IP_ASSOC_THR] and ip[IP_ASSOC_PEN] != 0:
            n_listed = listed_contacts(i, r, pbit, flags, lo, hi, halo, reg_start, reg_size, amod, ip[IP_K2])
            delta -= ip[IP_ASSOC_PEN] * n_listed
        s0 = ip[IP_S0]
        if S_RECOVERY and u_rec < ip[IP_REC_THR]:
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


@register_jitable(inline=INLINE)
def agent_finish(li, t, threshold, pub, own, fl, forced, neg, false_event, u_act, enrolled, pbit, flags, since, stress, ip, act, acc, hist_on):
    """Steps 8-10; returns (bl, s) (s: today's stress, 0 when S_STRESS is off)."""
    fl = np.int64(fl)
    if false_event:
        fl |= F_FLAGGED
    was = (fl >> pbit) & 1
    cur_bit = 1 << (1 - pbit)
    bl = was
    if not S_BLACKLIST:
        pass
    elif not enrolled:
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
    denied = 0
    nact = ip[IP_NACT]
    if S_ACTIVITY and nact > 0 and u_act < act[AC_CUM, nact - 1]:
        a = 0
        while u_act >= act[AC_CUM, a]:
            a += 1
        col = ip[IP_COL_ACT] + 2 * a
        acc[col] += 1
        if enrolled and ((act[AC_DENY_BL, a] != 0 and bl == 1) or pub < act[AC_MIN_SCORE, a]):
            denied = 1
            acc[col + 1] += 1
    s = np.int64(0)
    if S_STRESS:
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
    if S_DAILY and not P_LOCAL_SUMS:
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
    if S_EXT:
        n_grades = ip[IP_N_GRADES]
        if n_grades > 0:
            g = 0
            while g < n_grades - 1 and pub < ip[N_IP + g]:
                g += 1
            acc[ip[IP_COL_GRADE] + g] += 1
        if hist_on:
            b = (pub - ip[IP_HIST_LO]) // ip[IP_HIST_WIDTH]
            if b < 0:
                b = 0
            elif b >= ip[IP_HIST_BINS]:
                b = ip[IP_HIST_BINS] - 1
            acc[ip[IP_COL_HIST] + b] += 1
    return bl, s, fl


@register_jitable(inline="always")
def _local_sums(sums, pub, own, bl, s, fl, threshold):
    """P_LOCAL_SUMS: the §5 sums of one agent added into a tuple of locals (kept in registers)."""
    sp, sp2, mn, mx, so, ev, ls, sl, wr, ss, sh = sums
    sp += pub
    sp2 += pub * pub
    mn = min(mn, pub)
    mx = max(mx, pub)
    so += own
    ev += (fl >> 2) & 1  # F_EVER
    ls += bl
    sl += bl & (pub < threshold) & (own >= threshold)
    wr += bl & ((fl >> 3) & 1)  # F_FLAGGED
    ss += s
    sh += s >= 128
    return sp, sp2, mn, mx, so, ev, ls, sl, wr, ss, sh


@register_jitable(inline="always")
def pair_day(p, ra, rb, t, threshold, key, lo, hi, own, flags, since, stress, halo, ip, beh, chan, act, reg_start, reg_size, amod, acc, hist_on, sums):
    pbit = (t - 1) & 1
    a = 2 * p
    b = a + 1
    la = _ix(a - lo)
    fa = flags[la]
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
    lb = _ix(a - lo + 1)
    fb = fa
    own_b, forced_b, neg_b, false_b, uact_b, enr_b = np.int64(0), False, False, False, np.int64(0), True
    if has_b:
        fb = flags[lb]
        own_b, forced_b, neg_b, false_b, uact_b, enr_b = agent_score(
            b, rb, h1b, h2b, h3b, fb, np.int64(own[lb]), pbit, flags, lo, hi, halo, ip, beh, chan, reg_start, reg_size, amod, acc
        )
    pub_a = own_a
    pub_b = own_b
    if S_SPOUSE and (np.int64(fa) & F_MARRIED) != 0:
        w = ip[IP_SPOUSE_W]
        pub_a = ((10 - w) * own_a + w * own_b) // 10
        pub_b = ((10 - w) * own_b + w * own_a) // 10
    own[la] = own_a
    bl_a, s_a, fl_a = agent_finish(la, t, threshold, pub_a, own_a, fa, forced_a, neg_a, false_a, uact_a, enr_a, pbit, flags, since, stress, ip, act, acc, hist_on)
    if P_LOCAL_SUMS:
        sums = _local_sums(sums, pub_a, own_a, bl_a, s_a, fl_a, threshold)
    bl_b = 0
    if has_b:
        own[lb] = own_b
        bl_b, s_b, fl_b = agent_finish(lb, t, threshold, pub_b, own_b, fb, forced_b, neg_b, false_b, uact_b, enr_b, pbit, flags, since, stress, ip, act, acc, hist_on)
        if P_LOCAL_SUMS:
            sums = _local_sums(sums, pub_b, own_b, bl_b, s_b, fl_b, threshold)
    else:
        pub_b = 0
    return bl_a, pub_a, bl_b, pub_b, sums


@njit(inline="always", _nrt=False)
def _region_of(g, r, reg_start, reg_size):
    while g >= reg_start[r] + reg_size[r]:
        r += 1
    return r


@njit(cache=True, _nrt=False)
def _run_chunk(k, t, threshold, key, hist_on, lo, hi, chunk, own, flags, since, stress, halo, ip, beh, chan, act, reg_start, reg_size, amod, row, rrow):
    row[:] = 0
    rrow[:] = 0
    row[C_MIN_P] = _BIG
    row[C_MAX_P] = -_BIG
    p0 = lo // 2 + k * chunk
    p1 = min(p0 + chunk, (hi + 1) // 2)
    z = np.int64(0)
    sums = (z, z, _BIG, -_BIG, z, z, z, z, z, z, z)
    r = 0
    for p in range(p0, p1):
        ra = _region_of(2 * p, r, reg_start, reg_size)
        rb = _region_of(2 * p + 1, ra, reg_start, reg_size) if 2 * p + 1 < hi else ra
        r = ra
        bl_a, pub_a, bl_b, pub_b, sums = pair_day(
            p, ra, rb, t, threshold, key, lo, hi, own, flags, since, stress, halo, ip, beh, chan, act,
            reg_start, reg_size, amod, row, hist_on, sums,
        )
        if S_REGION_SUMS:
            rrow[2 * ra] += bl_a
            rrow[2 * ra + 1] += pub_a
            rrow[2 * rb] += bl_b
            rrow[2 * rb + 1] += pub_b
    if P_LOCAL_SUMS and S_DAILY:
        sp, sp2, mn, mx, so, ev, ls, sl, wr, ss, sh = sums
        row[C_SUM_P] = sp
        row[C_SUM_P2] = sp2
        row[C_MIN_P] = mn
        row[C_MAX_P] = mx
        row[C_SUM_OWN] = so
        row[C_EVER] = ev
        row[C_LISTED] = ls
        row[C_SPILL] = sl
        row[C_WRONG] = wr
        row[ip[IP_COL_STRESS]] = ss
        row[ip[IP_COL_STRESS] + 1] = sh


@njit(parallel=True, cache=True)
def run_day(t, threshold, key, hist_on, lo, hi, chunk, own, flags, since, stress, halo, ip, beh, chan, act, reg_start, reg_size, amod, acc, racc):
    for k in prange(acc.shape[0]):
        _run_chunk(  # int64(k): the same signature as when run_day is typed, so one compile, not two
            np.int64(k), t, threshold, key, hist_on, lo, hi, chunk, own, flags, since, stress, halo, ip, beh, chan, act,
            reg_start, reg_size, amod, acc[k], racc[k],
        )
