"""Shared layout of the kernel's inputs and outputs: state bits, parameter slots, aggregate columns.

Host code and every backend import these names, so a column or a parameter is declared once.
"""

# --- state: one flags byte per agent ------------------------------------------------------------
#: bit (t & 1) holds bl_t: a day writes its own bit and leaves yesterday's, so contacts read
#: yesterday's blacklist from the same byte without a second buffer.
F_BL0 = 1
F_BL1 = 2
F_EVER = 4  # ever listed
F_FLAGGED = 8  # ever wrongly attributed
F_CLS_SHIFT = 4  # bits 4..6: disposition class, cached at init
F_MARRIED_BIT = 7
F_MARRIED = 1 << F_MARRIED_BIT  # pair (2k, 2k+1) married, cached at init

# --- integer parameters: slots of one int64 vector ---------------------------------------------
IP_N = 0  # global population
IP_S0 = 1
IP_SMIN = 2
IP_SMAX = 3
IP_SPOUSE_W = 4
IP_ASSOC_PEN = 5
IP_ASSOC_THR = 6
IP_REC_THR = 7
IP_HYST = 8
IP_MIN_STAY = 9
IP_BURDEN = 10
IP_RELIEF = 11
IP_DENY_COST = 12
IP_LISTED_COST = 13
IP_EVENT_COST = 14
IP_NCH = 15
IP_NACT = 16
IP_K2 = 17  # contacts / 2
IP_COL_ACT = 18  # first activity column
IP_COL_STRESS = 19  # stress_sum column (stress_high follows)
IP_COL_HIST = 20  # first score-histogram column (extension)
IP_HIST_BINS = 21  # 0: no histogram
IP_HIST_LO = 22
IP_HIST_WIDTH = 23
IP_PART_THR = 24  # extension: thr(participation); 2^32 when everyone is enrolled
IP_ROOT5 = 25  # root(5) as int64 bits: the enrolment hash key
IP_N_GRADES = 26  # extension: number of grades (0: none)
IP_COL_GRADE = 27  # first grade column
# CSM-2 (MODEL.md §8); every slot below is 0 (or -1 for a column) when its mechanism is off
IP_MECH = 28  # bit mask of the mechanisms on: M_EXIT | M_APPEALS | M_ADAPTIVE (0: CSM-1)
IP_SETTLE_THR = 29  # thr(exit.settle_rate)
IP_SETTLE_PTS = 30  # exit.settle_points
IP_MAX_STAY = 31  # exit.max_stay (0: no term)
IP_FILE_THR = 32  # thr(appeals.rate)
IP_DECIDE_THR = 33  # thr(appeals.decide_rate)
IP_UPHOLD_THR = 34  # thr(appeals.uphold)
IP_NEAR_BAND = 35  # adaptive.near_band
IP_COL_EXIT = 36  # first [exit] column (EXIT_COLUMNS), -1 without [exit]
IP_COL_APPEALS = 37  # first [appeals] column (APPEAL_COLUMNS), -1 without [appeals]
IP_COL_NEAR = 38  # the [adaptive] column, -1 without [adaptive]
IP_INIT_THR = 39  # thr(blacklist.initial_share): 0 when no list exists on day 0
IP_INIT_SCORE = 40  # own score on day 0 of the initially listed
IP_ROOT6 = 41  # root(6) as int64 bits: the initial-listing hash key
IP_PANEL_K = 42  # tracked agents of the panel (0: no panel)
N_IP = 43  # grade g's lowest score follows at ip[N_IP + g]

# --- CSM-2 mechanisms (bits of ip[IP_MECH]) -----------------------------------------------------
M_EXIT = 1
M_APPEALS = 2
M_ADAPTIVE = 4
M_AUX = M_EXIT | M_APPEALS  # mechanisms that keep the extra state byte

# --- CSM-2 extra state: one more byte per agent, allocated only when M_AUX (MODEL.md §8) -----------
A_OWES = 1  # listed for an unpaid obligation
A_PENDING = 2  # an appeal is pending
A_CH_SHIFT = 2  # bits 2..6: channel of the pending appeal (0..30)
A_CH_MASK = 31 << A_CH_SHIFT

# --- one agent's day, as step 1-6 hand it to steps 7-10: bits of an int (kernel-internal) ---------
EV_FORCED = 1  # step 6: a detected true event on a forces_blacklist channel
EV_NEG = 2  # a detected true or a false event with negative points (stress)
EV_DETECTED = 4  # the true event was detected
EV_SETTLED = 8  # §8.1: settled today
EV_CLEARED = 16  # §8.2: an appeal was upheld today
EV_NEAR = 32  # §8.3: standing `near` today
EV_OUTSIDE = 64  # extension: not enrolled in an opt-in system
EV_FILED = 128  # §8.2: an appeal was filed today
EV_REJECTED = 256  # §8.2: a pending appeal was rejected today
EV_TERM = 512  # §8.2 step 8 rule 3: the listing term ran out today (owes cleared, whether or not it left)

# --- standings (§8.3): row blocks of the behaviour table -----------------------------------------
#: beh row of (standing s, class k) is s * BEH_BLOCK + k (k + 8 for agents outside an opt-in system)
BEH_BLOCK = 16
STANDINGS = ("free", "near", "listed")

# --- channel table rows (int64 [4, C]) ----------------------------------------------------------
CH_DETECT = 0  # thr(detect_c)
CH_FALSE_CUM = 1  # F_c, cumulative
CH_POINTS = 2
CH_FORCES = 3

# --- activity table rows (int64 [3, A]) ---------------------------------------------------------
AC_CUM = 0  # A_a, cumulative
AC_DENY_BL = 1
AC_MIN_SCORE = 2

# --- aggregate columns (int64), in the order of MODEL.md §5 after day and threshold -------------
C_SUM_P = 0
C_SUM_P2 = 1
C_MIN_P = 2
C_MAX_P = 3
C_SUM_OWN = 4
C_LISTED = 5
C_ENTRIES = 6
C_EXITS = 7
C_EVER = 8
C_SPILL = 9
C_WRONG = 10
C_CH0 = 11  # then true, detected, false for each channel

BASE_COLUMNS = [
    "sum_public",
    "sum_public_sq",
    "min_public",
    "max_public",
    "sum_own",
    "listed",
    "entries",
    "exits",
    "ever_listed",
    "spillover",
    "listed_wrongly_flagged",
]


#: CSM-2 columns (MODEL.md §8.6), each group only when its table is present, in this order, after
#: §5's columns and before the other extensions'. Offsets in a group are X_*, AP_*.
EXIT_COLUMNS = ["settlements", "term_exits", "owing"]
X_SETTLED, X_TERM, X_OWING = 0, 1, 2
APPEAL_COLUMNS = ["appeals_filed", "appeals_upheld", "appeals_rejected", "appeals_pending"]
AP_FILED, AP_UPHELD, AP_REJECTED, AP_PENDING = 0, 1, 2, 3
ADAPTIVE_COLUMNS = ["near"]


def column_names(
    channels: list[str],
    activities: list[str],
    grades: list[str] = (),
    *,
    exit: bool = False,
    appeals: bool = False,
    adaptive: bool = False,
) -> list[str]:
    """Names of the aggregate columns (the daily table without day and threshold).

    CSM-2 groups follow §5's columns when their tables are present; grade columns (an extension)
    come last and exist only when a scenario defines grades."""
    cols = list(BASE_COLUMNS)
    for c in channels:
        cols += [f"true_{c}", f"detected_{c}", f"false_{c}"]
    for a in activities:
        cols += [f"attempts_{a}", f"denied_{a}"]
    cols += ["stress_sum", "stress_high"]
    cols += (EXIT_COLUMNS if exit else []) + (APPEAL_COLUMNS if appeals else []) + (ADAPTIVE_COLUMNS if adaptive else [])
    return cols + [f"grade_{g}" for g in grades]


# --- the panel (MODEL.md §8.7): the kernel writes these values of tracked agent j to panel[j] -----
PANEL_COLUMNS = [
    "day",
    "agent",
    "own",
    "public",
    "listed",
    "stress",
    "true_channel",
    "detected",
    "false_channel",
    "activity",
    "denied",
]
PN_OWN, PN_PUBLIC, PN_LISTED, PN_STRESS, PN_TRUE, PN_DETECTED, PN_FALSE, PN_ACTIVITY, PN_DENIED = range(9)
N_PANEL_CSV = 9  # of them, the values panel.csv holds (MODEL.md §8.7's columns after day and agent)
#: One more value per tracked agent and day, kept out of panel.csv: the day's events as PE_* bits
#: (what the host cannot derive from the panel row, the threshold and the scenario; see
#: :mod:`credsim.results.events`, which turns them into panel_events.csv).
PN_EVENTS = 9
N_PANEL = 10  # values per tracked agent and day in the kernel's buffer (day and agent are the host's)
PE_ENTERED = 1  # listed today, not yesterday (an entry; initial listings are not entries)
PE_LEFT = 2  # listed yesterday, not today (an exit)
PE_FORCED = 4  # step 6: a detected true event on a forces_blacklist channel (an entry or a renewal)
PE_SETTLED = 8  # §8.1: settled today
PE_FILED = 16  # §8.2: filed an appeal of today's wrongful attribution
PE_UPHELD = 32  # §8.2: a pending appeal was upheld today (the agent is cleared)
PE_REJECTED = 64  # §8.2: a pending appeal was rejected today
PE_TERM_OVER = 128  # §8.2 step 8 rule 3: the listing term ran out today (a term exit if PE_LEFT too)
#: Most tracked agents of a panel.
MAX_PANEL = 100_000
