"""``credsim lint``: which features of a scenario match the EU AI Act's prohibited social scoring.

Regulation (EU) 2024/1689 (the AI Act), Article 5(1)(c), prohibits evaluating or classifying people
over time on their social behaviour or personal characteristics, with a social score leading to
(i) detrimental or unfavourable treatment in social contexts unrelated to the contexts in which
the data was generated, or (ii) detrimental or unfavourable treatment that is unjustified or
disproportionate to their social behaviour or its gravity.

The linter reads the scenario only (no simulation), every policy in force of it (a
``[[schedule]]`` changes the policy from a given day, MODEL.md §8.4), and reports four rule families:

``unrelated-context``   Art. 5(1)(c)(i): an activity is gated (``deny_blacklisted`` with a
                        list that can be reached, or ``min_score`` above the score floor) by a score
                        or list fed by channels from other contexts than the activity's.
``disproportionate``    Art. 5(1)(c)(ii): a relative threshold (``below_mean``: a share of people is
                        listed whatever they did), penalties that never expire (``recovery_rate = 0``),
                        or wrongful attributions (``false_rate > 0``) that feed a score with consequences.
``lawful-behaviour``    Art. 5(1)(c): lawful or civic behaviour scored (``points != 0``) where the
                        score has consequences, or forcing a listing.
``family-association``  Art. 5(1)(c)(ii): a spouse's score (``spouse_weight``) or listed contacts
                        (``association_penalty``) change one's own treatment.

Contexts are read from channel and activity names (keywords below), then from a channel's kind.
A finding that holds only from some day on (or until some day) says so and names the schedule
entry whose change brings it (``from day 61 (schedule[1]): ...``); the wrongful-attribution finding
names the appeals in force (rate filed, share upheld, mean review time).
This is a screening aid, not legal advice: a finding names the rule and the fields to look at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from credsim.scenario import Scenario
from credsim.scenario.describe import appeals_text
from credsim.scenario.schedule import LISTS, policies

ARTICLE = "EU AI Act (Regulation (EU) 2024/1689) Art. 5(1)(c)"

RULES: dict[str, str] = {
    "unrelated-context": f"{ARTICLE}(i): detrimental treatment in a social context unrelated to where the data came from",
    "disproportionate": f"{ARTICLE}(ii): detrimental treatment unjustified or disproportionate to the behaviour or its gravity",
    "lawful-behaviour": f"{ARTICLE}: social scoring of lawful behaviour leading to detrimental treatment",
    "family-association": f"{ARTICLE}(ii): detriment for a spouse's or contacts' behaviour, not one's own",
}

FINANCIAL = "financial obligations"
PUBLIC_ORDER = "public order"
SPEECH = "speech"
CONSUMPTION = "consumption"
CIVIC = "civic life"
TRANSPORT = "transport"
FAMILY = "family"
ASSOCIATION = "association"

#: channel-name keyword → context (first match wins)
# fmt: off
CHANNEL_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("mortgage", FINANCIAL), ("loan", FINANCIAL), ("debt", FINANCIAL), ("tax", FINANCIAL),
    ("court", FINANCIAL), ("judg", FINANCIAL), ("default", FINANCIAL), ("payment", FINANCIAL),
    ("bill", FINANCIAL), ("credit", FINANCIAL), ("fare", TRANSPORT), ("ticket", TRANSPORT),
    ("speech", SPEECH), ("online", SPEECH), ("post", SPEECH), ("internet", SPEECH),
    ("purchase", CONSUMPTION), ("shopping", CONSUMPTION), ("alcohol", CONSUMPTION), ("spend", CONSUMPTION),
    ("volunteer", CIVIC), ("donat", CIVIC), ("charity", CIVIC), ("blood", CIVIC),
    ("misconduct", PUBLIC_ORDER), ("traffic", PUBLIC_ORDER), ("jaywalk", PUBLIC_ORDER), ("public", PUBLIC_ORDER),
)
# fmt: on
#: channel kind → context when no keyword matches
KIND_CONTEXT = {"default": FINANCIAL, "offence": PUBLIC_ORDER, "lawful": CONSUMPTION, "civic": CIVIC}
#: activity-name keyword → the channel contexts related to that activity (first match wins)
# fmt: off
ACTIVITY_KEYWORDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("home", frozenset({FINANCIAL})), ("property", frozenset({FINANCIAL})), ("house", frozenset({FINANCIAL})),
    ("estate", frozenset({FINANCIAL})), ("mortgage", frozenset({FINANCIAL})), ("loan", frozenset({FINANCIAL})),
    ("credit", frozenset({FINANCIAL})), ("deposit", frozenset({FINANCIAL})), ("rent", frozenset({FINANCIAL})),
    ("lease", frozenset({FINANCIAL})), ("financ", frozenset({FINANCIAL})), ("insur", frozenset({FINANCIAL})),
    ("travel", frozenset({TRANSPORT})), ("flight", frozenset({TRANSPORT})), ("rail", frozenset({TRANSPORT})),
    ("train", frozenset({TRANSPORT})), ("bus", frozenset({TRANSPORT})), ("taxi", frozenset({TRANSPORT})),
)
# fmt: on


@dataclass(frozen=True)
class Finding:
    """One feature of a scenario that matches a rule: the rule, the fields that trigger it, why."""

    rule: str
    fields: tuple[str, ...]
    message: str
    from_day: int = 1  # the first day it holds (a schedule entry's day, or 1)
    until_day: int | None = None  # the last day it holds (None: to the end of the run)

    @property
    def article(self) -> str:
        return RULES[self.rule]

    def to_json(self) -> dict:
        d = asdict(self)
        d["fields"] = list(self.fields)
        d["article"] = self.article
        return d

    def line(self) -> str:
        return f"{self.rule}: {self.message} [{', '.join(self.fields)}] ({self.article})"


def channel_context(name: str, kind: str) -> str:
    """The social context a channel's data comes from."""
    for word, ctx in CHANNEL_KEYWORDS:
        if word in name:
            return ctx
    return KIND_CONTEXT.get(kind, kind)


def activity_contexts(name: str) -> frozenset[str]:
    """Channel contexts related to an activity (empty: none; any score-based gate is then unrelated)."""
    for word, ctxs in ACTIVITY_KEYWORDS:
        if word in name:
            return ctxs
    return frozenset()


def _score_sources(sc: Scenario, lowering_only: bool) -> list[tuple[str, str, str]]:
    """(field, label, context) of everything that moves the public score (downward only if asked)."""
    out = []
    for i, c in enumerate(sc.channel):
        moves = c.points < 0 if lowering_only else c.points != 0
        if moves and (c.detect > 0 or c.false_rate > 0):
            out.append((f"channel[{i}].points", c.name, channel_context(c.name, c.kind.value)))
    s = sc.score
    if s.spouse_weight > 0:
        out.append(("score.spouse_weight", "spouse's score", FAMILY))
    if s.association_penalty > 0 and s.association_rate > 0 and sc.population.contacts > 0:
        out.append(("score.association_penalty", "listed contacts", ASSOCIATION))
    return out


def score_listing_possible(sc: Scenario) -> bool:
    """Can anyone be listed because of their public score (not only by forced listing)?"""
    b = sc.blacklist
    return b.mode == "below_mean" or (b.value is not None and b.value > sc.score.min)


def _listing_sources(sc: Scenario) -> list[tuple[str, str, str]]:
    out = []
    if score_listing_possible(sc):
        out += _score_sources(sc, lowering_only=sc.blacklist.mode == "absolute")
    for i, c in enumerate(sc.channel):
        if c.forces_blacklist and c.detect > 0:
            out.append((f"channel[{i}].forces_blacklist", c.name, channel_context(c.name, c.kind.value)))
    return out


def consequences(sc: Scenario) -> list[str]:
    """Fields through which the public score leads to a detriment (a listing or a gate)."""
    out = []
    if score_listing_possible(sc):
        out.append("blacklist.mode" if sc.blacklist.mode == "below_mean" else "blacklist.value")
    for i, a in enumerate(sc.activity):
        if a.min_score > sc.score.min and a.base > 0:
            out.append(f"activity[{i}].min_score")
    return out


def lint(sc: Scenario) -> list[Finding]:
    """Every finding for one scenario and every policy in force of it, grouped by rule in the order
    of :data:`RULES` (then by first day).

    A scenario without a schedule has one policy: its findings are :func:`lint_policy`'s. With a
    schedule, each policy is linted on its own; a finding that holds in every policy is reported
    once, as it is; one that starts (or changes its message) on a later policy's day says
    ``from day D (schedule[k]): `` and lists among its fields the entry's paths that touch its
    fields (``schedule[k].set."channel.NAME.FIELD"``, or ``schedule[k]`` when none does); one that
    stops holding says ``until day E``."""
    pols = policies(sc)
    if len(pols) == 1:
        return lint_policy(sc)
    seen: dict[tuple, list[int]] = {}  # (rule, fields, message) -> the policies it holds in
    for k, (_, policy) in enumerate(pols):
        for f in lint_policy(policy):
            seen.setdefault((f.rule, f.fields, f.message), []).append(k)
    out: list[Finding] = []
    for (rule, fields, message), ks in seen.items():
        for first, last in _runs(ks):
            start, end = pols[first][0], (pols[last + 1][0] - 1 if last + 1 < len(pols) else None)
            when, extra = [], []
            if first > 0:
                when.append(f"from day {start} (schedule[{first - 1}])")
                extra += _entry_fields(sc, first - 1, fields)
            if end is not None:
                when.append(f"until day {end}")
                extra += _entry_fields(sc, last, fields)
            prefix = f"{' '.join(when)}: " if when else ""
            out.append(Finding(rule, (*fields, *dict.fromkeys(extra)), prefix + message, start, end))
    order = list(RULES)
    return sorted(out, key=lambda f: (order.index(f.rule), f.from_day))


def _runs(ks: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of policy indexes: [0, 1, 3] -> [(0, 1), (3, 3)]."""
    runs: list[tuple[int, int]] = []
    for k in ks:
        if runs and runs[-1][1] == k - 1:
            runs[-1] = (runs[-1][0], k)
        else:
            runs.append((k, k))
    return runs


def _entry_fields(sc: Scenario, k: int, fields: tuple[str, ...]) -> list[str]:
    """The paths of schedule entry k that set one of a finding's fields (``channel[1].false_rate`` is
    set by ``"channel.online_speech.false_rate"``), as ``schedule[k].set."PATH"``; else ``schedule[k]``."""
    names = {table: [item.name for item in getattr(sc, table)] for table in LISTS}
    wanted = set()
    for f in fields:
        head, _, field = f.partition(".")
        table, _, index = head.partition("[")
        if index and table in names and int(index[:-1]) < len(names[table]):
            wanted.add(f"{table}.{names[table][int(index[:-1])]}.{field}")
        else:
            wanted.add(f)
    hits = [f'schedule[{k}].set."{path}"' for path in sc.schedule[k].set if path in wanted]
    return hits or [f"schedule[{k}]"]


def lint_policy(sc: Scenario) -> list[Finding]:
    """Every finding for one policy (a scenario read without its schedule), grouped by rule."""
    found: list[Finding] = []
    conseq = consequences(sc)

    # (i) unrelated contexts
    for i, a in enumerate(sc.activity):
        if a.base <= 0:
            continue
        related = activity_contexts(a.name)
        gates = []
        if a.deny_blacklisted:
            gates.append((f"activity[{i}].deny_blacklisted", "listing", _listing_sources(sc)))
        if a.min_score > sc.score.min:
            gates.append((f"activity[{i}].min_score", f"public score below {a.min_score}", _score_sources(sc, False)))
        for gate_field, how, sources in gates:
            bad = [s for s in sources if s[2] not in related]
            if bad:
                ctxs = sorted({s[2] for s in bad})
                what = ", ".join(dict.fromkeys(f"{label} ({ctx})" for _, label, ctx in bad))
                found.append(
                    Finding(
                        "unrelated-context",
                        (gate_field, *dict.fromkeys(s[0] for s in bad)),
                        f"activity {a.name!r} (context: {', '.join(sorted(related)) or 'none of the scored ones'}) "
                        f"is denied on {how} fed by {what}: data from {', '.join(ctxs)}",
                    )
                )

    # (ii) disproportionate or unjustified
    if sc.blacklist.mode == "below_mean":
        found.append(
            Finding(
                "disproportionate",
                ("blacklist.mode",),
                "listing below the mean score lists a share of people whatever the gravity of what they did",
            )
        )
    penalties = [
        f"channel[{i}].points" for i, c in enumerate(sc.channel) if c.points < 0 and (c.detect > 0 or c.false_rate > 0)
    ]
    if sc.score.recovery_rate == 0 and penalties and conseq:
        found.append(
            Finding(
                "disproportionate",
                ("score.recovery_rate", *penalties),
                "penalties never expire (recovery_rate = 0): a detriment for life, whatever the gravity",
            )
        )
    wrong = [(i, c) for i, c in enumerate(sc.channel) if c.false_rate > 0 and c.points < 0]
    if wrong and conseq:
        appeal_fields = ("appeals.rate", "appeals.uphold", "appeals.decide_rate") if sc.appeals is not None else ()
        found.append(
            Finding(
                "disproportionate",
                (*(f"channel[{i}].false_rate" for i, _ in wrong), *appeal_fields),
                f"wrongful attributions on {', '.join(f'{c.name} ({c.false_rate:g} a day)' for _, c in wrong)} "
                "cost points in a score with consequences: detriment unjustified by the person's own behaviour; "
                f"{appeals_text(sc.appeals)}",
            )
        )

    # lawful behaviour
    for i, c in enumerate(sc.channel):
        if c.kind.value not in ("lawful", "civic"):
            continue
        fields = []
        if c.points != 0 and conseq and (c.detect > 0 or c.false_rate > 0):
            fields.append(f"channel[{i}].points")
        if c.forces_blacklist and c.detect > 0:
            fields.append(f"channel[{i}].forces_blacklist")
        if fields:
            found.append(
                Finding(
                    "lawful-behaviour",
                    (f"channel[{i}].kind", *fields, *conseq),
                    f"{c.kind.value} behaviour {c.name!r} is scored ({c.points:+d} points"
                    f"{', forces listing' if c.forces_blacklist else ''}) and the score has consequences",
                )
            )

    # family and association
    s = sc.score
    if s.spouse_weight > 0 and conseq:
        found.append(
            Finding(
                "family-association",
                ("score.spouse_weight", *conseq),
                f"{s.spouse_weight * 10}% of the public score is the spouse's: a spouse's behaviour changes one's treatment",
            )
        )
    if s.association_penalty > 0 and s.association_rate > 0 and sc.population.contacts > 0 and conseq:
        found.append(
            Finding(
                "family-association",
                ("score.association_penalty", "score.association_rate", *conseq),
                f"listed contacts cost {s.association_penalty} point(s) each: a penalty for association",
            )
        )
    order = list(RULES)
    return sorted(found, key=lambda f: order.index(f.rule))
