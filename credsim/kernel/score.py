"""An agent's own score today: MODEL.md §4 steps 1-6, with CSM-2's appeals and settlement (§8.1-§8.3).

``register_jitable`` functions, inlined into the day step (:mod:`credsim.kernel.step`) on every
backend. Every draw is converted to int64 at once (values < 2^32), so comparisons against int64
thresholds never mix signed and unsigned types.
"""

import numpy as np
from numba.extending import register_jitable

from credsim.kernel.hash import G64, LOW32, SHIFT32, TWO32, mix64
from credsim.kernel.layout import (
    A_CH_MASK,
    A_CH_SHIFT,
    A_OWES,
    A_PENDING,
    AP_FILED,
    AP_REJECTED,
    AP_UPHELD,
    BEH_BLOCK,
    C_CH0,
    CH_DETECT,
    CH_FALSE_CUM,
    CH_FORCES,
    CH_POINTS,
    EV_CLEARED,
    EV_DETECTED,
    EV_FILED,
    EV_FORCED,
    EV_NEAR,
    EV_NEG,
    EV_OUTSIDE,
    EV_REJECTED,
    EV_SETTLED,
    F_CLS_SHIFT,
    IP_ASSOC_PEN,
    IP_ASSOC_THR,
    IP_COL_APPEALS,
    IP_COL_EXIT,
    IP_DECIDE_THR,
    IP_FILE_THR,
    IP_K2,
    IP_NCH,
    IP_NEAR_BAND,
    IP_PART_THR,
    IP_REC_THR,
    IP_ROOT5,
    IP_S0,
    IP_SETTLE_PTS,
    IP_SETTLE_THR,
    IP_SMAX,
    IP_SMIN,
    IP_UPHOLD_THR,
    M_ADAPTIVE,
    M_APPEALS,
    M_AUX,
    M_EXIT,
    X_SETTLED,
)


@register_jitable
def enrolled(i, ip):
    """Extension (participation): is agent i in the opt-in system? Everyone is when all are enrolled."""
    if ip[IP_PART_THR] >= TWO32:
        return True
    return np.int64(mix64(np.uint64(ip[IP_ROOT5]) ^ np.uint64(i)) >> SHIFT32) < ip[IP_PART_THR]


@register_jitable(inline="always")
def _listed_yesterday(g, pbit, flags, lo, hi, halo):
    """Was global agent g listed yesterday? Local state if this shard holds g, else the halo bitmap."""
    if g >= lo and g < hi:
        return (np.int64(flags[np.uint64(g - lo)]) >> pbit) & 1
    return (np.int64(halo[np.uint64(g >> 3)]) >> (g & 7)) & 1


@register_jitable
def contact_pair(off, a, n):
    """Offsets in its region of the two contacts ±a (0 <= a < n) of the agent at offset ``off``."""
    c1 = off + a
    if c1 >= n:
        c1 -= n
    c2 = off - a
    if c2 < 0:
        c2 += n
    return c1, c2


@register_jitable(inline="always")
def listed_contacts(i, r, pbit, flags, lo, hi, halo, reg_start, reg_size, amod, k2):
    """Number of i's contacts (±a_j inside region r, self skipped) listed yesterday.

    ``amod[r, j]`` is a_j mod n in [0, n), so a contact is i itself exactly when it is 0. When this
    caller holds the whole region (always, on one CPU), the flags are read directly: no halo test
    per contact."""
    s = reg_start[r]
    n = reg_size[r]
    off = i - s
    count = 0
    if s >= lo and s + n <= hi:
        base = s - lo
        for j in range(k2):
            a = amod[r, j]
            c1, c2 = contact_pair(off, a, n)
            if a != 0:
                f1 = np.int64(flags[np.uint64(base + c1)])
                f2 = np.int64(flags[np.uint64(base + c2)])
                count += ((f1 >> pbit) & 1) + ((f2 >> pbit) & 1)
        return count
    for j in range(k2):
        a = amod[r, j]
        c1, c2 = contact_pair(off, a, n)
        if a != 0:
            count += _listed_yesterday(s + c1, pbit, flags, lo, hi, halo)
            count += _listed_yesterday(s + c2, pbit, flags, lo, hi, halo)
    return count


@register_jitable(inline="always")
def agent_score(
    i, r, h1, h2, h3, fl, own_prev, pub_prev, ax, mech, pbit, threshold, flags, lo, hi, halo, ip, beh, chan,
    reg_start, reg_size, amod, acc,
):
    """Steps 1-6 for agent i, given its day's hashes h1, h2, h3 (step 1), with the CSM-2 appeals
    (between steps 4 and 5) and settlement (step 5). ``pub_prev`` is P_{t-1} under today's spouse
    weight (read only with [adaptive]), ``ax`` the agent's extra state byte (0 without it),
    ``mech`` the CSM-2 mechanisms on (0: none, a compile-time constant in a CSM-1 kernel).

    Returns (own_t, ev, true channel or -1, false channel or -1, u_act, ax_t); ``ev`` holds the
    day's EV_* bits. Under the participation extension an agent outside the opt-in system behaves
    as with no system (rows 8+ of ``beh``; standing always free) and nothing of theirs is detected,
    attributed, appealed or scored."""
    # 1. draws
    u_beh = np.int64(h1 & LOW32)
    u_det = np.int64(h1 >> SHIFT32)
    u_false = np.int64(h2 & LOW32)
    u_rec = np.int64(h2 >> SHIFT32)
    u_act = np.int64(h3 & LOW32)
    u_assoc = np.int64(h3 >> SHIFT32)
    nch = ip[IP_NCH]
    row = (np.int64(fl) >> F_CLS_SHIFT) & 7
    inside = True
    ev = 0
    if ip[IP_PART_THR] < TWO32:  # extension: participation
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
        acc[np.uint64(C_CH0 + 3 * c)] += 1
        # 3. detection
        if inside and u_det < chan[CH_DETECT, c]:
            ev |= EV_DETECTED
            acc[np.uint64(C_CH0 + 3 * c + 1)] += 1
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
            acc[np.uint64(C_CH0 + 3 * c + 2)] += 1
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
                    h4 = mix64(h3 + G64)
                    have4 = True
                    h5 = mix64(h4 + G64)
                    if np.int64(h5 & LOW32) < ip[IP_DECIDE_THR]:  # u_decide
                        ch = (ax & A_CH_MASK) >> A_CH_SHIFT
                        ax &= ~(A_PENDING | A_CH_MASK)
                        if np.int64(h5 >> SHIFT32) < ip[IP_UPHOLD_THR]:  # u_uphold: upheld, refund today's points
                            delta -= chan[CH_POINTS, ch]
                            ev |= EV_CLEARED
                            acc[cap + AP_UPHELD] += 1
                        else:
                            ev |= EV_REJECTED
                            acc[cap + AP_REJECTED] += 1
                # §8.2.2 filing an appeal of today's wrongful attribution
                if fc >= 0 and (ax & A_PENDING) == 0 and chan[CH_POINTS, fc] < 0:
                    if not have4:
                        h4 = mix64(h3 + G64)
                        have4 = True
                    if np.int64(h4 >> SHIFT32) < ip[IP_FILE_THR]:  # u_file
                        ax = (ax & ~A_CH_MASK) | A_PENDING | (fc << A_CH_SHIFT)
                        ev |= EV_FILED
                        acc[cap + AP_FILED] += 1
            # §8.1 settlement (step 5): listed yesterday and owing
            if (mech & M_EXIT) != 0 and (ax & A_OWES) != 0 and ((np.int64(fl) >> pbit) & 1) != 0:
                if not have4:
                    h4 = mix64(h3 + G64)
                if np.int64(h4 & LOW32) < ip[IP_SETTLE_THR]:  # u_settle
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
