"""The panel's events: why a tracked agent entered or left the list, appeals, settlements, terms.

``panel.csv`` holds exactly MODEL.md §8.7's columns. What a story needs beyond them goes in
``panel_events.csv``, beside it: one row per (day, agent, event), days ascending, then agents
ascending, then events in the order the model's day takes them. Columns:

| column | value |
| --- | --- |
| ``day`` | the day (0 only for ``initially_listed``: on the list when the run began, §8.5) |
| ``agent`` | the tracked agent's id |
| ``event`` | one of :data:`EVENTS` |
| ``channel`` | the channel's index in table order, or -1 when the event has none |
| ``channel_name`` | that channel's name (empty when none) |
| ``detail`` | a word or two (:data:`EVENTS` says which) |

Two sources. The kernel hands over what the host cannot know (:data:`credsim.kernel.layout.PE_*`, one
int16 per tracked agent and day beside the panel row): entries and exits (day 1's need the day-0
list), forced listings, settlements, appeals filed, upheld and rejected, and listing terms that ran
out. The host adds what follows from the panel rows, the daily threshold and the policies in force
(§8.4): wrongful attributions with their points, the channel of a decided appeal, and why an entry
or an exit happened. Every kernel bit is an event here, so :func:`event_bits` turns the rows back
into the bits (a run folder or a catalog run read back tells the same story).

Host code only (numpy, pandas); no typer or rich.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from credsim.kernel import layout as L
from credsim.scenario import Scenario
from credsim.scenario.schedule import policies as policies_in_force

EVENT_COLUMNS = ["day", "agent", "event", "channel", "channel_name", "detail"]

#: Event → (channel, detail), in the order the model's day takes them (MODEL.md §4 and §8).
EVENTS: dict[str, tuple[str, str]] = {
    "initially_listed": ("-1", "'owing' with [exit] (an unpaid obligation keeps the listing), else empty; day 0"),
    "wrongful_attribution": ("the channel wrongly attributed (step 4)", "its points that day, e.g. '-5 points'"),
    "appeal_upheld": ("the appealed channel", "'N points refunded' (the agent is cleared, §8.2)"),
    "appeal_rejected": ("the appealed channel", "'rejected'"),
    "appeal_filed": ("the channel of today's wrongful attribution", "'pending'"),
    "settled": ("-1", "'+N points' (§8.1)"),
    "entered": ("the forcing channel (forced), the wrongful attribution's (wrongful_attribution), else -1",
                "why, the first that holds: 'forced' (a detected event on a forces_blacklist channel), "
                "'spouse_pull' (own score at or above the line, public score below it), 'wrongful_attribution' "
                "(below the line while holding a wrongful record with negative points), 'below_line'"),
    "renewed": ("the forcing channel", "'forced' (listed yesterday, forced again today: bl_since = today)"),
    "term_over": ("-1", "'left' or 'stayed' (§8.2 step 8 rule 3: the obligation's term ran out)"),
    "left": ("-1", "why: 'settled', 'term_over', 'appeal_upheld' or 'above_line' (§8.2 step 8 rules 2, 3, 5, 6)"),
}
ORDER = {name: i for i, name in enumerate(EVENTS)}

#: Entry and exit reasons (the ``detail`` of ``entered`` and ``left``).
ENTRY_REASONS = ("forced", "spouse_pull", "wrongful_attribution", "below_line")
EXIT_REASONS = ("settled", "term_over", "appeal_upheld", "above_line")


def policy_tables(scenario: Scenario, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per day t = 1..days of the policy in force: channel points int64 [days, C] and settle points [days]."""
    pol = policies_in_force(scenario)
    points = np.zeros((days, len(scenario.channel)), np.int64)
    settle = np.zeros(days, np.int64)
    for k, (start, sc) in enumerate(pol):
        end = pol[k + 1][0] if k + 1 < len(pol) else days + 1
        a, b = min(start, days + 1) - 1, min(end, days + 1) - 1
        if a < b:
            points[a:b] = [c.points for c in sc.channel]
            settle[a:b] = sc.exit.settle_points if sc.exit is not None else 0
    return points, settle


def _last_index(mask: np.ndarray) -> np.ndarray:
    """For each [day, agent]: the last day index <= that day where ``mask`` holds, or -1."""
    idx = np.where(mask, np.arange(mask.shape[0], dtype=np.int32)[:, None], np.int32(-1))
    return np.maximum.accumulate(idx, axis=0)


def panel_events(panel: np.ndarray, agents: np.ndarray, thresholds: np.ndarray, scenario: Scenario) -> pd.DataFrame:
    """The events of tracked agents as rows of :data:`EVENT_COLUMNS`.

    ``panel``: int16 [days, K, N_PANEL] (the kernel's buffer, events included); ``agents``: their
    ids [K]; ``thresholds``: T_t for t = 1..days. Pass a slice of agents for one agent's story."""
    days, k = panel.shape[0], panel.shape[1]
    names = [c.name for c in scenario.channel]
    if days == 0 or k == 0:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=object if c in ("event", "channel_name", "detail") else np.int64)
                for c in EVENT_COLUMNS
            }
        )
    pe = panel[:, :, L.PN_EVENTS].astype(np.int64)
    own = panel[:, :, L.PN_OWN].astype(np.int64)
    pub = panel[:, :, L.PN_PUBLIC].astype(np.int64)
    listed = panel[:, :, L.PN_LISTED].astype(np.int64)
    tc = panel[:, :, L.PN_TRUE].astype(np.int64)
    fc = panel[:, :, L.PN_FALSE].astype(np.int64)
    thr = np.asarray(thresholds, np.int64)[:, None]
    points, settle = policy_tables(scenario, days)
    has = lambda bit: (pe & bit) != 0  # noqa: E731

    parts: list[tuple] = []  # (day, agent index, event, channel, detail) arrays

    def add(event: str, mask: np.ndarray, channel, detail) -> None:
        """Rows where ``mask`` holds; ``channel`` an array [days, K] or None, ``detail`` a text or a
        function of the rows' (day index, agent index) arrays (computed only where there are rows)."""
        d, j = np.nonzero(mask)
        if len(d) == 0:
            return
        ch = np.full(len(d), -1, np.int64) if channel is None else np.asarray(channel)[d, j]
        det = np.full(len(d), detail, object) if isinstance(detail, str) else np.asarray(detail(d, j), object)
        parts.append((d + 1, j, event, ch, det))

    def texts(fmt: str, values: np.ndarray) -> list[str]:
        """``fmt`` holds ``{}`` (the number) and ``{s}`` (the plural's s): "-1 point", "+20 points"."""
        return [fmt.format(int(v), s="" if abs(int(v)) == 1 else "s") for v in values]

    # day 0: listed on day 1 without entering, or left on day 1 (it was listed yesterday: day 0)
    init = ((listed[0] == 1) & ~has(L.PE_ENTERED)[0]) | has(L.PE_LEFT)[0]
    if init.any():
        j = np.nonzero(init)[0]
        detail = "owing" if scenario.exit is not None else ""
        parts.append(
            (
                np.zeros(len(j), np.int64),
                j,
                "initially_listed",
                np.full(len(j), -1, np.int64),
                np.full(len(j), detail, object),
            )
        )
    # wrongful attributions, with the points of that channel under the day's policy
    wrong = fc >= 0
    add("wrongful_attribution", wrong, fc, lambda d, j: texts("{} point{s}", points[d, fc[d, j]]))
    # appeals: the one decided today is the last one filed before today (one pending at a time)
    filed = has(L.PE_FILED)
    last_filed = _last_index(filed)
    before = np.vstack([np.full((1, k), -1, np.int32), last_filed[:-1]])
    decided_ch = np.where(before >= 0, np.take_along_axis(fc, np.maximum(before, 0), axis=0), -1)
    add(
        "appeal_upheld",
        has(L.PE_UPHELD),
        decided_ch,
        lambda d, j: texts("{} point{s} refunded", -points[d, decided_ch[d, j]]),
    )
    add("appeal_rejected", has(L.PE_REJECTED), decided_ch, "rejected")
    add("appeal_filed", filed, fc, "pending")
    add("settled", has(L.PE_SETTLED), None, lambda d, j: texts("+{} point{s}", settle[d]))
    # why an entry happened: forced, else the spouse's pull, else a wrongful record, else the score
    entered = has(L.PE_ENTERED)
    forced = has(L.PE_FORCED)
    fpts = np.zeros_like(fc)
    fpts[wrong] = points[np.nonzero(wrong)[0], fc[wrong]]
    last_neg = _last_index(wrong & (fpts < 0))
    last_upheld = _last_index(has(L.PE_UPHELD))
    wrongful_record = (last_neg >= 0) & (last_neg >= last_upheld)  # an upheld appeal clears older records
    wrong_ch = np.where(last_neg >= 0, np.take_along_axis(fc, np.maximum(last_neg, 0), axis=0), -1)
    spouse = (pub < thr) & (own >= thr)
    entry_ch = np.where(forced, tc, np.where(~spouse & wrongful_record, wrong_ch, -1))

    def entry_reason(d, j):
        return np.where(
            forced[d, j],
            "forced",
            np.where(
                spouse[d, j], "spouse_pull", np.where(wrongful_record[d, j], "wrongful_attribution", "below_line")
            ),
        )

    add("entered", entered, entry_ch, entry_reason)
    add("renewed", forced & ~entered, tc, "forced")
    left = has(L.PE_LEFT)
    term = has(L.PE_TERM_OVER)
    add("term_over", term, None, lambda d, j: np.where(left[d, j], "left", "stayed"))

    def exit_reason(d, j):
        return np.where(
            has(L.PE_SETTLED)[d, j],
            "settled",
            np.where(term[d, j], "term_over", np.where(has(L.PE_UPHELD)[d, j], "appeal_upheld", "above_line")),
        )

    add("left", left, None, exit_reason)

    if not parts:
        return panel_events(panel[:0], agents, thresholds, scenario)
    day = np.concatenate([p[0] for p in parts])
    j = np.concatenate([p[1] for p in parts])
    order = np.concatenate([np.full(len(p[0]), ORDER[p[2]]) for p in parts])
    event = np.concatenate([np.full(len(p[0]), p[2], object) for p in parts])
    ch = np.concatenate([p[3] for p in parts]).astype(np.int64)
    detail = np.concatenate([p[4] for p in parts])
    s = np.lexsort((order, j, day))
    ch = ch[s]
    lookup = np.array(names + [""], object)
    return pd.DataFrame(
        {
            "day": day[s].astype(np.int64),
            "agent": np.asarray(agents, np.int64)[j[s]],
            "event": event[s],
            "channel": ch,
            "channel_name": lookup[np.where(ch >= 0, ch, len(names))],
            "detail": detail[s],
        }
    )


#: The kernel bits (layout.PE_*) each event stands for.
_BITS = {
    "entered": L.PE_ENTERED,
    "left": L.PE_LEFT,
    "renewed": L.PE_FORCED,
    "settled": L.PE_SETTLED,
    "appeal_filed": L.PE_FILED,
    "appeal_upheld": L.PE_UPHELD,
    "appeal_rejected": L.PE_REJECTED,
    "term_over": L.PE_TERM_OVER,
}


def event_bits(events: pd.DataFrame, days: int, agents: np.ndarray) -> np.ndarray:
    """The kernel's event bits int16 [days, K] back from event rows (the inverse of :func:`panel_events`
    for the bits: every bit is an event). Raises ValueError for a row outside the panel."""
    agents = np.asarray(agents, np.int64)
    out = np.zeros((days, len(agents)), np.int16)
    if events.empty:
        return out
    ev = events[events["event"].isin(list(_BITS))]
    day = ev["day"].to_numpy(np.int64)
    j = np.searchsorted(agents, ev["agent"].to_numpy(np.int64))
    j_ok = np.minimum(j, max(len(agents) - 1, 0))
    if ((day < 1) | (day > days)).any() or (j >= len(agents)).any() or (agents[j_ok] != ev["agent"].to_numpy()).any():
        raise ValueError("an event names a day or an agent that is not in the panel")
    bits = ev["event"].map(_BITS).to_numpy(np.int64)
    bits = np.where(
        (ev["event"] == "entered").to_numpy() & (ev["detail"] == "forced").to_numpy(), bits | L.PE_FORCED, bits
    )
    np.bitwise_or.at(out, (day - 1, j), bits.astype(np.int16))
    return out


def csv_bytes(events: pd.DataFrame) -> bytes:
    """``panel_events.csv``: a header row, comma-separated, every line ended by ``\\n`` (names and details
    hold no commas or quotes, so nothing is quoted)."""
    return events[EVENT_COLUMNS].to_csv(index=False, lineterminator="\n").encode()
