"""What a day's public score does to an agent: MODEL.md §4 steps 8-10 (the blacklist with CSM-2's
exit rules, activities denied, stress), the agent's part of the daily table (§5) and the panel (§8.7).

A ``register_jitable`` function, inlined into the day step (:mod:`credsim.kernel.step`) on every backend.
"""

import numpy as np
from numba.extending import register_jitable

from credsim.kernel.layout import (
    A_OWES,
    A_PENDING,
    AC_CUM,
    AC_DENY_BL,
    AC_MIN_SCORE,
    AP_PENDING,
    C_ENTRIES,
    C_EVER,
    C_EXITS,
    C_LISTED,
    C_MAX_P,
    C_MIN_P,
    C_SPILL,
    C_SUM_OWN,
    C_SUM_P,
    C_SUM_P2,
    C_WRONG,
    EV_CLEARED,
    EV_DETECTED,
    EV_FILED,
    EV_FORCED,
    EV_NEAR,
    EV_NEG,
    EV_OUTSIDE,
    EV_REJECTED,
    EV_SETTLED,
    EV_TERM,
    F_EVER,
    F_FLAGGED,
    IP_BURDEN,
    IP_COL_ACT,
    IP_COL_APPEALS,
    IP_COL_EXIT,
    IP_COL_GRADE,
    IP_COL_HIST,
    IP_COL_NEAR,
    IP_COL_STRESS,
    IP_DENY_COST,
    IP_EVENT_COST,
    IP_HIST_BINS,
    IP_HIST_LO,
    IP_HIST_WIDTH,
    IP_HYST,
    IP_LISTED_COST,
    IP_MAX_STAY,
    IP_MIN_STAY,
    IP_N_GRADES,
    IP_NACT,
    IP_RELIEF,
    M_ADAPTIVE,
    M_APPEALS,
    M_AUX,
    M_EXIT,
    N_IP,
    PE_ENTERED,
    PE_FILED,
    PE_FORCED,
    PE_LEFT,
    PE_REJECTED,
    PE_SETTLED,
    PE_TERM_OVER,
    PE_UPHELD,
    PN_ACTIVITY,
    PN_DENIED,
    PN_DETECTED,
    PN_EVENTS,
    PN_FALSE,
    PN_LISTED,
    PN_OWN,
    PN_PUBLIC,
    PN_STRESS,
    PN_TRUE,
    X_OWING,
    X_TERM,
)
from credsim.kernel.variant import extended


@register_jitable(inline="always")
def agent_finish(
    li, t, threshold, pub, own, fl, ev, tc, fc, u_act, ax0, ax, mech, pbit, flags, since, stress, aux, ip, act, acc,
    hist_on, j, panel,
):
    """Steps 8-10 for local agent li given its public score; writes state, returns bl_t (0/1).

    Step 8 is CSM-2's (MODEL.md §8.2): with neither [exit] nor [appeals] only CSM-1's rules can
    apply. ``ax0``/``ax``: the extra state byte as read this morning and as steps 1-6 left it.
    An agent outside an opt-in system is never listed or denied and carries no burden.
    ``j >= 0``: the agent is the panel's tracked agent j (§8.7), whose day goes to ``panel[j]``."""
    fl = np.int64(fl)
    # §8.2: an upheld appeal removes the wrongful record, and a new false event today stays flagged
    # (the mechanism tests are compile-time constants in a CSM-1 kernel: CSM-1 pays for none of it)
    if (mech & M_APPEALS) != 0 and (ev & EV_CLEARED) != 0:
        fl &= ~F_FLAGGED
    if fc >= 0:
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
    elif (mech & M_AUX) == 0 or ((ev & (EV_SETTLED | EV_CLEARED)) == 0 and (ax & A_OWES) == 0):  # rule 6
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
    if (mech & M_ADAPTIVE) != 0 and (ev & EV_NEAR) != 0:
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
        acc[np.uint64(col)] += 1
        if (ev & EV_OUTSIDE) == 0 and ((act[AC_DENY_BL, a] != 0 and bl == 1) or pub < act[AC_MIN_SCORE, a]):
            denied = 1
            acc[np.uint64(col + 1)] += 1
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
        acc[np.uint64(ip[IP_COL_GRADE] + g)] += 1
    # extension: public-score histogram (off unless asked for; never touches the columns above)
    if hist_on:
        b = (pub - ip[IP_HIST_LO]) // ip[IP_HIST_WIDTH]
        if b < 0:
            b = 0
        elif b >= ip[IP_HIST_BINS]:
            b = ip[IP_HIST_BINS] - 1
        acc[np.uint64(ip[IP_COL_HIST] + b)] += 1
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
