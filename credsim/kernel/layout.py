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
F_MARRIED = 128  # pair (2k, 2k+1) married, cached at init

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
N_IP = 28  # grade g's lowest score follows at ip[N_IP + g]

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
    "sum_public", "sum_public_sq", "min_public", "max_public", "sum_own", "listed", "entries",
    "exits", "ever_listed", "spillover", "listed_wrongly_flagged",
]  # fmt: skip


def column_names(channels: list[str], activities: list[str], grades: list[str] = ()) -> list[str]:
    """Names of the aggregate columns (the daily table without day and threshold).

    Grade columns (an extension) come last and exist only when a scenario defines grades."""
    cols = list(BASE_COLUMNS)
    for c in channels:
        cols += [f"true_{c}", f"detected_{c}", f"false_{c}"]
    for a in activities:
        cols += [f"attempts_{a}", f"denied_{a}"]
    return cols + ["stress_sum", "stress_high"] + [f"grade_{g}" for g in grades]
