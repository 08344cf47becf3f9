"""The scenario: one typed, validated description of a social-credit system.

This pydantic model is the single source of field names, types, ranges and help text. The loader,
the CLI, the dashboard and the docs all read it; nothing else declares a scenario field.
Section references (MODEL.md §n) point at the contract the field feeds (§8: the CSM-2 mechanisms).
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Scores live in int16 state arrays (2 bytes per agent); Σ P² then fits int64 even at 1.4e9 agents.
SCORE_LIMIT = 32767
#: ``bl_since`` is a uint16 day number, so a run lasts at most this many days.
MAX_DAYS = 65535
#: With [appeals], a pending appeal's channel is kept in 5 bits of one state byte (MODEL.md §8).
MAX_APPEAL_CHANNELS = 31
#: Most schedule entries (each is a compiled policy: a few kilobytes).
MAX_SCHEDULE = 256

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Score = Annotated[int, Field(ge=-SCORE_LIMIT, le=SCORE_LIMIT)]
Cost = Annotated[int, Field(ge=0, le=255)]
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


def _check_name(value: str, pattern: re.Pattern, what: str) -> str:
    """Names become column names: refuse anything else with a message saying what is allowed."""
    if not pattern.fullmatch(value):  # fullmatch: "$" alone would let a final newline through
        raise ValueError(f"{value!r} is not a valid {what}")
    return value


class _Strict(BaseModel):
    # strict: TOML gives typed values, so `contacts = true` or `married_share = "0.5"` is an error,
    # not a coercion (an int is still accepted where a float is expected)
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RegionTable(str, enum.Enum):
    """Built-in region tables (weights shipped as package data)."""

    china_2020 = "china-2020"


class Population(_Strict):
    """Who the synthetic agents are (MODEL.md §2). Agents are integers, never persons."""

    regions: Union[RegionTable, list[int]] = Field(
        description="region weights: a list of positive integers or a table name ('china-2020')"
    )
    married_share: Probability = Field(description="share of pairs (2k, 2k+1) that are married")
    disposition_sigma: float = Field(
        ge=0.0, le=10.0, allow_inf_nan=False, description="spread of the lognormal propensity to break rules"
    )
    contacts: int = Field(ge=0, le=16, description="social contacts per agent: even, 0..16")
    participation: Probability = Field(
        default=1.0,
        description="extension: share of agents enrolled in the system (opt-in schemes); the others are "
        "never scored, listed or denied and behave as without the system",
    )

    @field_validator("regions", mode="before")
    @classmethod
    def _regions(cls, v):
        if isinstance(v, str):
            known = [t.value for t in RegionTable]
            if v not in known:
                raise ValueError(f"unknown region table {v!r} (known: {', '.join(known)})")
            return RegionTable(v)
        if not isinstance(v, list) or not v:
            raise ValueError("must be a region table name or a non-empty list of positive integer weights")
        for r, w in enumerate(v):
            if isinstance(w, bool) or not isinstance(w, int) or not 0 < w <= 10**12:
                raise ValueError(f"weight of region {r} is {w!r}: weights must be integers in 1..10^12")
        return v

    @field_validator("contacts")
    @classmethod
    def _contacts_even(cls, v: int) -> int:
        if v % 2:
            raise ValueError(f"must be even (contacts come in ± offset pairs), got {v}")
        return v


class ScoreRules(_Strict):
    """How the individual ('own') and public score move (MODEL.md §4 steps 5 and 7)."""

    start: Score = Field(description="everyone's score on day 0 (S0)")
    min: Score = Field(description="lowest possible score")
    max: Score = Field(description="highest possible score")
    recovery_rate: Probability = Field(description="daily chance of one point back towards start")
    spouse_weight: int = Field(ge=0, le=10, description="tenths of the public score that are the spouse's own score")
    association_penalty: int = Field(
        ge=0, le=SCORE_LIMIT, description="points lost per listed contact when association strikes"
    )
    association_rate: Probability = Field(description="daily chance that listed contacts cost points")

    @model_validator(mode="after")
    def _bounds(self):
        if self.min > self.max:
            raise ValueError(f"score.min ({self.min}) is above score.max ({self.max})")
        if not self.min <= self.start <= self.max:
            raise ValueError(f"score.start ({self.start}) is outside score.min..score.max ({self.min}..{self.max})")
        return self


class Blacklist(_Strict):
    """Who is listed (MODEL.md §4 threshold and step 8)."""

    mode: Literal["absolute", "below_mean"] = Field(
        description="'absolute': listed below `value`; 'below_mean': listed below yesterday's mean public score - offset"
    )
    value: Score | None = Field(default=None, description="threshold in absolute mode")
    offset: Score = Field(default=0, description="points below the mean in below_mean mode")
    hysteresis: int = Field(ge=0, le=SCORE_LIMIT, description="points above the threshold needed to leave the list")
    min_stay: int = Field(ge=0, le=MAX_DAYS, description="days on the list before one may leave")
    initial_share: Probability = Field(
        default=0.0, description="CSM-2: share of agents already listed on day 0 (a list that already exists)"
    )
    initial_score: Score | None = Field(
        default=None, description="CSM-2: own score on day 0 of those initially listed (default: score.start)"
    )

    @model_validator(mode="after")
    def _mode_fields(self):
        # A field of the other mode (value under below_mean, offset under absolute) is ignored, not
        # refused: a schedule can switch modes, and TOML cannot unset the base's field (MODEL.md §8.4).
        if self.mode == "absolute" and self.value is None:
            raise ValueError("mode 'absolute' needs blacklist.value")
        return self


class Behaviour(_Strict):
    """How strongly expected points deter or encourage behaviour (MODEL.md §4 deterrence)."""

    deterrence_scale: float = Field(gt=0.0, le=1e9, allow_inf_nan=False, description="points that change a rate by a factor e")


class Stress(_Strict):
    """Daily stress bookkeeping, clamped to 0..255 (MODEL.md §4 step 10)."""

    burden: Cost = Field(description="daily stress of living under the system")
    relief: Cost = Field(description="daily stress that fades")
    deny_cost: Cost = Field(description="stress of being denied an activity")
    listed_cost: Cost = Field(description="daily stress of being on the blacklist")
    event_cost: Cost = Field(description="stress of a day with a negative detected or wrongful event")


class ChannelKind(str, enum.Enum):
    """What a behaviour channel is, for the scorecard's groupings."""

    offence = "offence"
    default = "default"
    lawful = "lawful"
    civic = "civic"


class Channel(_Strict):
    """One observed behaviour: its base daily rate, points, detection and wrongful attributions."""

    name: str = Field(description="column-safe name: lowercase letters, digits, underscores")
    kind: ChannelKind = Field(default=ChannelKind.offence, strict=False, description="offence, default, lawful or civic")
    base: Probability = Field(description="daily probability with no system in place")
    points: Score = Field(description="points added when detected (negative: a penalty)")
    detect: Probability = Field(description="probability that a true event is detected")
    false_rate: Probability = Field(description="daily probability of a wrongful attribution on this channel")
    elasticity: float = Field(ge=0.0, le=1e6, allow_inf_nan=False, description="how strongly expected points change the rate")
    dispositional: bool = Field(description="rate scales with the agent's disposition class")
    forces_blacklist: bool = Field(description="a detected event lists the agent at once")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check_name(v, _NAME, "name (lowercase letters, digits, underscores; starts with a letter)")


class Activity(_Strict):
    """One gated activity of daily life: travel, restaurants, home purchase, ..."""

    name: str = Field(description="column-safe name")
    base: Probability = Field(description="daily probability of attempting it")
    deny_blacklisted: bool = Field(description="listed agents are denied")
    min_score: Score = Field(description="agents whose public score is below this are denied")

    _name = field_validator("name")(Channel._name.__func__)


_GRADE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,15}$")


class Grade(_Strict):
    """Extension: a named band of the public score (AAA, AA, ...), counted every day."""

    name: str = Field(description="grade label: letters, digits, underscores (a column name grade_<name>)")
    min_score: Score = Field(description="lowest public score of this grade")

    @field_validator("name")
    @classmethod
    def _grade_name(cls, v: str) -> str:
        return _check_name(v, _GRADE_NAME, "grade name (letters, digits, underscores; up to 16)")


class Exit(_Strict):
    """CSM-2: settlement and listing terms (MODEL.md §8.1). A forced listing makes the agent owe;
    an owing agent leaves the list only by settling or when its term is over."""

    settle_rate: Probability = Field(description="daily probability that a listed agent who owes settles")
    settle_points: int = Field(ge=0, le=65535, description="points given back on settling (integer >= 0)")
    max_stay: int = Field(ge=0, le=MAX_DAYS, description="days an owing agent stays listed at most (0: no term)")


class Appeals(_Strict):
    """CSM-2: appeals of wrongful attributions (MODEL.md §8.2)."""

    rate: Probability = Field(description="probability that a wrongful attribution with negative points is appealed")
    decide_rate: Probability = Field(
        description="daily probability that a pending appeal is decided (mean review time 1/decide_rate days)"
    )
    uphold: Probability = Field(description="probability that a decided appeal is upheld (points refunded, record cleared)")


class Adaptive(_Strict):
    """CSM-2: behaviour that depends on one's standing (MODEL.md §8.3): free, near the line, or listed."""

    near_band: int = Field(ge=0, le=65535, description="points above the threshold within which an unlisted agent is near")
    near_factor: float = Field(
        ge=0.0, allow_inf_nan=False, description="factor on the rates of negative-point channels for agents near the line"
    )
    listed_factor: float = Field(
        ge=0.0, allow_inf_nan=False, description="factor on the rates of negative-point channels for listed agents"
    )


class ScheduleEntry(_Strict):
    """CSM-2: a policy change in force from ``day`` on (MODEL.md §8.4)."""

    day: int = Field(ge=2, le=MAX_DAYS, description="first day the change is in force (2..65535; entries strictly increasing)")
    set: dict[str, Any] = Field(
        description='new values by quoted dotted path, e.g. {"channel.cameras.detect" = 0.9, "blacklist.min_stay" = 45}'
    )


class Scenario(_Strict):
    """A complete scenario, in the form of ``shared/scenarios/*.toml``: CSM-1 plus the CSM-2 tables."""

    population: Population
    score: ScoreRules
    blacklist: Blacklist
    behaviour: Behaviour
    stress: Stress
    channel: list[Channel] = Field(min_length=1, max_length=64, description="behaviour channels, in table order")
    activity: list[Activity] = Field(default_factory=list, max_length=64, description="gated activities, in table order")
    grade: list[Grade] = Field(
        default_factory=list,
        max_length=16,
        description="extension: grades from highest to lowest; the last must start at or below score.min",
    )
    exit: Exit | None = Field(default=None, description="CSM-2: settlement and listing terms (off when absent)")
    appeals: Appeals | None = Field(default=None, description="CSM-2: appeals of wrongful attributions (off when absent)")
    adaptive: Adaptive | None = Field(default=None, description="CSM-2: behaviour by standing (off when absent)")
    schedule: list[ScheduleEntry] = Field(
        default_factory=list,
        max_length=MAX_SCHEDULE,
        description="CSM-2: policy changes over time, in increasing day order (none: one policy for the whole run)",
    )

    @model_validator(mode="after")
    def _unique_names(self):
        for what, items in (("channel", self.channel), ("activity", self.activity)):
            seen: set[str] = set()
            for item in items:
                if item.name in seen:
                    raise ValueError(f"{what} name {item.name!r} appears twice")
                seen.add(item.name)
        grades = self.grade
        for g in range(len(grades)):
            if grades[g].name in {h.name for h in grades[:g]}:
                raise ValueError(f"grade name {grades[g].name!r} appears twice")
            if g and grades[g].min_score >= grades[g - 1].min_score:
                raise ValueError(f"grade[{g}].min_score must be below grade[{g - 1}].min_score (highest grade first)")
        if grades and grades[-1].min_score > self.score.min:
            raise ValueError(
                f"grade[{len(grades) - 1}].min_score ({grades[-1].min_score}) must be at or below "
                f"score.min ({self.score.min}) so that every score has a grade"
            )
        init = self.blacklist.initial_score
        if init is not None and not self.score.min <= init <= self.score.max:
            raise ValueError(
                f"blacklist.initial_score ({init}) is outside score.min..score.max ({self.score.min}..{self.score.max})"
            )
        if self.appeals is not None and len(self.channel) > MAX_APPEAL_CHANNELS:
            raise ValueError(
                f"appeals: a scenario with [appeals] has at most {MAX_APPEAL_CHANNELS} channels "
                f"(the channel of a pending appeal fits 5 bits), this one has {len(self.channel)}"
            )
        if self.schedule:  # every policy in force must be a valid scenario (MODEL.md §8.4): checked once, here
            from credsim.scenario.schedule import check_schedule

            check_schedule(self)
        return self

    @classmethod
    def schedule_models(cls) -> dict:
        """The model of each table a ``[[schedule]]`` entry may change (:mod:`credsim.scenario.schedule`)."""
        return {
            "score": ScoreRules,
            "blacklist": Blacklist,
            "behaviour": Behaviour,
            "stress": Stress,
            "exit": Exit,
            "appeals": Appeals,
            "adaptive": Adaptive,
            "channel": Channel,
            "activity": Activity,
        }

    @property
    def initial_score(self) -> int:
        """Own score on day 0 of the initially listed (MODEL.md §8.5)."""
        init = self.blacklist.initial_score
        return self.score.start if init is None else init
