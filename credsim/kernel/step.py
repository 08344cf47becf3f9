"""One day for one marriage pair (CSM-1 and CSM-2), written once and compiled for every backend.

Functions here are ``register_jitable``: numba compiles them into the CPU driver
(:mod:`credsim.kernel.cpu`) and, as device functions, into the CUDA driver
(:mod:`credsim.kernel.cuda_kernels`); under ``NUMBA_ENABLE_CUDASIM=1`` they run as plain Python.
They read and write state arrays in place and add to an aggregate row; they own no generator,
do no I/O and allocate nothing. Step numbers in comments are those of MODEL.md §4; the CSM-2
mechanisms (§8) sit behind ``ip[IP_MECH]``, a bit mask that is 0 for a CSM-1 scenario, so a
CSM-1 day pays a few untaken branches for them and nothing else.

Integer discipline: every draw is converted to int64 at once (values < 2^32), so comparisons
against int64 thresholds never mix signed and unsigned types.
"""

import numpy as np
from numba.core import types
from numba.extending import overload, register_jitable

from credsim.kernel.hash import mix64
from credsim.kernel.layout import (
    A_CH_MASK, A_CH_SHIFT, A_OWES, A_PENDING, AC_CUM, AC_DENY_BL, AC_MIN_SCORE, AP_FILED,
    AP_PENDING, AP_REJECTED, AP_UPHELD, BEH_BLOCK, C_CH0, C_EVER, C_EXITS, C_ENTRIES, C_LISTED,
    C_MAX_P, C_MIN_P, C_SPILL, C_SUM_OWN, C_SUM_P, C_SUM_P2, C_WRONG, CH_DETECT, CH_FALSE_CUM,
    CH_FORCES, CH_POINTS, EV_CLEARED, EV_DETECTED, EV_FILED, EV_FORCED, EV_NEAR, EV_NEG, EV_OUTSIDE,
    EV_REJECTED, EV_SETTLED, EV_TERM, F_BL0, F_CLS_SHIFT, F_EVER, F_FLAGGED, F_MARRIED, IP_ASSOC_PEN, IP_ASSOC_THR,
    IP_BURDEN, IP_COL_ACT, IP_COL_APPEALS, IP_COL_EXIT, IP_COL_GRADE, IP_COL_HIST, IP_COL_NEAR,
    IP_COL_STRESS, IP_DECIDE_THR, IP_DENY_COST, IP_EVENT_COST, IP_FILE_THR, IP_HIST_BINS,
    IP_HIST_LO, IP_HIST_WIDTH, IP_HYST, IP_INIT_SCORE, IP_INIT_THR, IP_K2, IP_LISTED_COST,
    IP_MAX_STAY, IP_MECH, IP_MIN_STAY, IP_N, IP_N_GRADES, IP_NACT, IP_NCH, IP_NEAR_BAND,
    IP_PART_THR, IP_REC_THR, IP_RELIEF, IP_ROOT5, IP_ROOT6, IP_S0, IP_SETTLE_PTS,
    IP_SETTLE_THR, IP_SMAX, IP_SMIN, IP_SPOUSE_W, IP_UPHOLD_THR, M_ADAPTIVE, M_APPEALS, M_AUX,
    M_EXIT, N_IP, PE_ENTERED, PE_FILED, PE_FORCED, PE_LEFT, PE_REJECTED, PE_SETTLED, PE_TERM_OVER,
    PE_UPHELD, PN_ACTIVITY, PN_DENIED, PN_DETECTED, PN_EVENTS, PN_FALSE, PN_LISTED, PN_OWN, PN_PUBLIC,
    PN_STRESS, PN_TRUE, X_OWING, X_SETTLED, X_TERM,
)  # fmt: skip

_G = np.uint64(0x9E3779B97F4A7C15)
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_TWO32 = np.int64(1) << 32


# --- the compile-time switch ----------------------------------------------------------------------
# A kernel is compiled once per combination of its argument types. The dtype of the ``aux`` array
# selects, at compile time, whether CSM-2's and the panel's code is in the kernel at all: uint8
# (the extra state, or a one-byte dummy) when a scenario uses a CSM-2 mechanism or a run keeps a
# panel; an int8 one-byte dummy otherwise. In a CSM-1 run without a panel the switch is a constant
# False and the compiler drops that code: CSM-1 runs the code it ran before CSM-2 existed. So there
# are two compiled kernels, never more (each compiled once, then loaded from numba's cache).


def extended(aux):
    """Is the extended kernel (CSM-2 and the panel) compiled in, i.e. is ``aux`` uint8? Plain Python
    under the CUDA simulator."""
    return aux.dtype == np.uint8


@overload(extended, inline="always")
def _extended(aux):
    on = aux.dtype == types.uint8
    return lambda aux: on


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


@register_jitable
def enrolled(i, ip):
    """Extension (participation): is agent i in the opt-in system? Everyone is when all are enrolled."""
    if ip[IP_PART_THR] >= _TWO32:
        return True
    return np.int64(mix64(np.uint64(ip[IP_ROOT5]) ^ np.uint64(i)) >> _S32) < ip[IP_PART_THR]


@register_jitable
def init_state_agent(li, i, own, flags, since, stress, aux, root1, root2, married_thr, ip):
    """Day-0 state of agent i at index li (MODEL.md §3 and §8.5: a list that already exists).

    An agent outside an opt-in system is never initially listed and never owes."""
    fl = np.int64(init_agent(i, root1, root2, married_thr, ip[IP_N]))
    o = ip[IP_S0]
    ax = 0
    if ip[IP_INIT_THR] > 0 and enrolled(i, ip):
        if np.int64(mix64(np.uint64(ip[IP_ROOT6]) ^ np.uint64(i)) >> _S32) < ip[IP_INIT_THR]:
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
    if (np.int64(flags[la]) & F_MARRIED) != 0:
        return ((10 - w) * oa + w * ob) // 10 + ((10 - w) * ob + w * oa) // 10
    return oa + ob


@register_jitable(inline="always")
def _listed_yesterday(g, pbit, flags, lo, hi, halo):
    """Was global agent g listed yesterday? Local state if this shard holds g, else the halo bitmap."""
    if g >= lo and g < hi:
        return (np.int64(flags[np.uint64(g - lo)]) >> pbit) & 1
    return (np.int64(halo[np.uint64(g >> 3)]) >> (g & 7)) & 1


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
def agent_score(i, r, h1, h2, h3, fl, own_prev, pub_prev, ax, mech, pbit, threshold, flags, lo, hi, halo, ip, beh, chan, reg_start, reg_size, amod, acc):
    """Steps 1-6 for agent i, given its day's hashes h1, h2, h3 (step 1), with the CSM-2 appeals
    (between steps 4 and 5) and settlement (step 5). ``pub_prev`` is P_{t-1} under today's spouse
    weight (read only with [adaptive]), ``ax`` the agent's extra state byte (0 without it),
    ``mech`` the CSM-2 mechanisms on (0: none, a compile-time constant in a CSM-1 kernel).

    Returns (own_t, ev, true channel or -1, false channel or -1, u_act, ax_t); ``ev`` holds the
    day's EV_* bits. Under the participation extension an agent outside the opt-in system behaves
    as with no system (rows 8+ of ``beh``; standing always free) and nothing of theirs is detected,
    attributed, appealed or scored."""
    # 1. draws
    u_beh = np.int64(h1 & _M32)
    u_det = np.int64(h1 >> _S32)
    u_false = np.int64(h2 & _M32)
    u_rec = np.int64(h2 >> _S32)
    u_act = np.int64(h3 & _M32)
    u_assoc = np.int64(h3 >> _S32)
    nch = ip[IP_NCH]
    row = (np.int64(fl) >> F_CLS_SHIFT) & 7
    inside = True
    ev = 0
    if ip[IP_PART_THR] < _TWO32:  # extension: participation
        inside = enrolled(i, ip)
        if not inside:
            row += 8
            ev |= EV_OUTSIDE
    # CSM-2 §8.3: standing at the start of the day picks the behaviour table
    if (mech & M_ADAPTIVE) != 0 and inside:
        if ((np.int64(fl) >> pbit) & 1) != 0:
            row += 2 * BEH_BLOCK  # listed
        elif pub_prev < threshold + ip[IP_NEAR_BAND]:
            row += BEH_BLOCK  # near
            ev |= EV_NEAR
    delta = np.int64(0)
    tc = -1
    # 2. behaviour: smallest c with u_beh < B[row, c]
    if u_beh < beh[np.uint64(row), np.uint64(nch - 1)]:  # unsigned: no wraparound test
        c = 0
        while u_beh >= beh[row, c]:
            c += 1
        tc = c
        acc[C_CH0 + 3 * c] += 1
        # 3. detection
        if inside and u_det < chan[CH_DETECT, c]:
            ev |= EV_DETECTED
            acc[C_CH0 + 3 * c + 1] += 1
            pts = chan[CH_POINTS, c]
            delta += pts
            if pts < 0:
                ev |= EV_NEG
            # 6. forced listing
            if chan[CH_FORCES, c] != 0:
                ev |= EV_FORCED
    fc = -1
    if inside:  # steps 4-5 apply only to agents in the system
        # 4. wrongful attribution: smallest c with u_false < F_c
        if u_false < chan[CH_FALSE_CUM, np.uint64(nch - 1)]:
            c = 0
            while u_false >= chan[CH_FALSE_CUM, c]:
                c += 1
            fc = c
            acc[C_CH0 + 3 * c + 2] += 1
            pts = chan[CH_POINTS, c]
            delta += pts
            if pts < 0:
                ev |= EV_NEG
        if (mech & M_AUX) != 0 and (ax != 0 or fc >= 0):  # owing, pending, or a false event today
            # CSM-2 extra draws, computed only when needed (their values do not depend on when)
            h4 = np.uint64(0)
            have4 = False
            if (mech & M_APPEALS) != 0:
                cap = ip[IP_COL_APPEALS]
                # §8.2.1 decision on a pending appeal
                if (ax & A_PENDING) != 0:
                    h4 = mix64(h3 + _G)
                    have4 = True
                    h5 = mix64(h4 + _G)
                    if np.int64(h5 & _M32) < ip[IP_DECIDE_THR]:  # u_decide
                        ch = (ax & A_CH_MASK) >> A_CH_SHIFT
                        ax &= ~(A_PENDING | A_CH_MASK)
                        if np.int64(h5 >> _S32) < ip[IP_UPHOLD_THR]:  # u_uphold: upheld, refund today's points
                            delta -= chan[CH_POINTS, ch]
                            ev |= EV_CLEARED
                            acc[cap + AP_UPHELD] += 1
                        else:
                            ev |= EV_REJECTED
                            acc[cap + AP_REJECTED] += 1
                # §8.2.2 filing an appeal of today's wrongful attribution
                if fc >= 0 and (ax & A_PENDING) == 0 and chan[CH_POINTS, fc] < 0:
                    if not have4:
                        h4 = mix64(h3 + _G)
                        have4 = True
                    if np.int64(h4 >> _S32) < ip[IP_FILE_THR]:  # u_file
                        ax = (ax & ~A_CH_MASK) | A_PENDING | (fc << A_CH_SHIFT)
                        ev |= EV_FILED
                        acc[cap + AP_FILED] += 1
            # §8.1 settlement (step 5): listed yesterday and owing
            if (mech & M_EXIT) != 0 and (ax & A_OWES) != 0 and ((np.int64(fl) >> pbit) & 1) != 0:
                if not have4:
                    h4 = mix64(h3 + _G)
                if np.int64(h4 & _M32) < ip[IP_SETTLE_THR]:  # u_settle
                    ax &= ~A_OWES
                    delta += ip[IP_SETTLE_PTS]
                    ev |= EV_SETTLED
                    acc[ip[IP_COL_EXIT] + X_SETTLED] += 1
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
    return own, ev, tc, fc, u_act, ax


@register_jitable(inline="always")
def agent_finish(li, t, threshold, pub, own, fl, ev, tc, fc, u_act, ax0, ax, mech, pbit, flags, since, stress, aux, ip, act, acc, hist_on, j, panel):
    """Steps 8-10 for local agent li given its public score; writes state, returns bl_t (0/1).

    Step 8 is CSM-2's (MODEL.md §8.2): with neither [exit] nor [appeals] only CSM-1's rules can
    apply. ``ax0``/``ax``: the extra state byte as read this morning and as steps 1-6 left it.
    An agent outside an opt-in system is never listed or denied and carries no burden.
    ``j >= 0``: the agent is the panel's tracked agent j (§8.7), whose day goes to ``panel[j]``."""
    fl = np.int64(fl)
    if (ev & EV_CLEARED) != 0:  # §8.2: an upheld appeal removes the wrongful record ...
        fl &= ~F_FLAGGED
    if fc >= 0:  # ... and a new false event today stays flagged
        fl |= F_FLAGGED
    forced = (ev & EV_FORCED) != 0
    was = (fl >> pbit) & 1
    cur_bit = 1 << (1 - pbit)  # today's parity bit
    # 8. blacklist
    bl = was
    if (ev & EV_OUTSIDE) != 0:
        bl = 0
    elif was == 0:
        if pub < threshold or forced:
            bl = 1
            since[li] = t
            fl |= F_EVER
            acc[C_ENTRIES] += 1
            if forced and (mech & M_EXIT) != 0:
                ax |= A_OWES
    elif forced:  # rule 1
        since[li] = t
        if (mech & M_EXIT) != 0:
            ax |= A_OWES
    elif (ev & (EV_SETTLED | EV_CLEARED)) == 0 and (ax & A_OWES) == 0:  # rule 6 (CSM-1's)
        if pub >= threshold + ip[IP_HYST] and t - np.int64(since[li]) >= ip[IP_MIN_STAY]:
            bl = 0
            acc[C_EXITS] += 1
    elif (ev & EV_SETTLED) != 0:  # rule 2: settled today
        if pub >= threshold:
            bl = 0
            acc[C_EXITS] += 1
    elif (ax & A_OWES) != 0:
        max_stay = ip[IP_MAX_STAY]
        if max_stay > 0 and t - np.int64(since[li]) >= max_stay:  # rule 3: the term is over
            ax &= ~A_OWES
            ev |= EV_TERM
            if pub >= threshold:
                bl = 0
                acc[C_EXITS] += 1
                acc[ip[IP_COL_EXIT] + X_TERM] += 1
        # rule 4: owing, stay
    elif pub >= threshold:  # rule 5: cleared today
        bl = 0
        acc[C_EXITS] += 1
    if bl == 1:
        fl |= cur_bit
    else:
        fl &= ~cur_bit
    flags[li] = np.uint8(fl)
    if (mech & M_AUX) != 0:
        if ax != ax0:  # rare: most days change no one's byte, so most lines of aux stay clean
            aux[li] = np.uint8(ax)
        if ax != 0:
            if (ax & A_OWES) != 0:
                acc[ip[IP_COL_EXIT] + X_OWING] += 1
            if (ax & A_PENDING) != 0:
                acc[ip[IP_COL_APPEALS] + AP_PENDING] += 1
    if (ev & EV_NEAR) != 0:
        acc[ip[IP_COL_NEAR]] += 1
    # 9. activity: smallest a with u_act < A_a
    denied = 0
    attempted = -1
    nact = ip[IP_NACT]
    if nact > 0 and u_act < act[AC_CUM, np.uint64(nact - 1)]:
        a = 0
        while u_act >= act[AC_CUM, a]:
            a += 1
        attempted = a
        col = ip[IP_COL_ACT] + 2 * a
        acc[col] += 1
        if (ev & EV_OUTSIDE) == 0 and ((act[AC_DENY_BL, a] != 0 and bl == 1) or pub < act[AC_MIN_SCORE, a]):
            denied = 1
            acc[col + 1] += 1
    # 10. stress
    s = np.int64(stress[li]) - ip[IP_RELIEF] + ip[IP_DENY_COST] * denied + ip[IP_LISTED_COST] * bl
    if (ev & EV_OUTSIDE) == 0:
        s += ip[IP_BURDEN]
    if (ev & EV_NEG) != 0:
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
    acc[np.uint64(cs)] += s
    if s >= 128:
        acc[np.uint64(cs + 1)] += 1
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
    # §8.7 the panel: the tracked agent's day
    if extended(aux) and j >= 0:
        panel[j, PN_OWN] = own
        panel[j, PN_PUBLIC] = pub
        panel[j, PN_LISTED] = bl
        panel[j, PN_STRESS] = s
        panel[j, PN_TRUE] = tc
        panel[j, PN_DETECTED] = 1 if (ev & EV_DETECTED) != 0 else 0
        panel[j, PN_FALSE] = fc
        panel[j, PN_ACTIVITY] = attempted
        panel[j, PN_DENIED] = denied
        # the day's events (layout.PE_*), kept out of panel.csv: what the host cannot derive
        pe = 0
        if was == 0 and bl == 1:
            pe |= PE_ENTERED
        elif was == 1 and bl == 0:
            pe |= PE_LEFT
        if forced:
            pe |= PE_FORCED
        if (ev & EV_SETTLED) != 0:
            pe |= PE_SETTLED
        if (ev & EV_FILED) != 0:
            pe |= PE_FILED
        if (ev & EV_CLEARED) != 0:
            pe |= PE_UPHELD
        if (ev & EV_REJECTED) != 0:
            pe |= PE_REJECTED
        if (ev & EV_TERM) != 0:
            pe |= PE_TERM_OVER
        panel[j, PN_EVENTS] = pe
    return bl


@register_jitable(inline="always")
def pair_day(p, ra, rb, t, threshold, key, lo, hi, own, flags, since, stress, aux, halo, ip, beh, chan, act, reg_start, reg_size, amod, acc, hist_on, ja, jb, panel):
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
    if (mech & M_ADAPTIVE) != 0 and (np.int64(fa) & F_MARRIED) != 0:
        w = ip[IP_SPOUSE_W]
        pp_a = ((10 - w) * own_pa + w * own_pb) // 10
        pp_b = ((10 - w) * own_pb + w * own_pa) // 10
    # 1. the day's hashes of both agents, side by side: two independent chains of multiplies
    h1a = mix64(key ^ np.uint64(a))
    h1b = mix64(key ^ np.uint64(b))
    h2a = mix64(h1a + _G)
    h2b = mix64(h1b + _G)
    h3a = mix64(h2a + _G)
    h3b = mix64(h2b + _G)
    own_a, ev_a, tc_a, fc_a, uact_a, axt_a = agent_score(
        a, ra, h1a, h2a, h3a, fa, own_pa, pp_a, ax_a, mech, pbit, threshold, flags, lo, hi, halo, ip, beh, chan,
        reg_start, reg_size, amod, acc,
    )  # fmt: skip
    own_b, ev_b, tc_b, fc_b, uact_b, axt_b = np.int64(0), 0, -1, -1, np.int64(0), ax_b
    if has_b:
        own_b, ev_b, tc_b, fc_b, uact_b, axt_b = agent_score(
            b, rb, h1b, h2b, h3b, fb, own_pb, pp_b, ax_b, mech, pbit, threshold, flags, lo, hi, halo, ip, beh, chan,
            reg_start, reg_size, amod, acc,
        )  # fmt: skip
    # 7. public score: both spouses' own of today
    pub_a = own_a
    pub_b = own_b
    if (np.int64(fa) & F_MARRIED) != 0:
        w = ip[IP_SPOUSE_W]
        pub_a = ((10 - w) * own_a + w * own_b) // 10
        pub_b = ((10 - w) * own_b + w * own_a) // 10
    own[la] = own_a
    bl_a = agent_finish(la, t, threshold, pub_a, own_a, fa, ev_a, tc_a, fc_a, uact_a, ax_a, axt_a, mech, pbit, flags, since,
                        stress, aux, ip, act, acc, hist_on, ja, panel)  # fmt: skip
    bl_b = 0
    if has_b:
        own[lb] = own_b
        bl_b = agent_finish(lb, t, threshold, pub_b, own_b, fb, ev_b, tc_b, fc_b, uact_b, ax_b, axt_b, mech, pbit, flags, since,
                            stress, aux, ip, act, acc, hist_on, jb, panel)  # fmt: skip
    else:
        pub_b = 0
    return bl_a, pub_a, bl_b, pub_b
