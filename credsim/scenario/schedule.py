"""CSM-2 policy over time (MODEL.md §8.4): the base scenario with its ``[[schedule]]`` applied.

A schedule entry sets fields by quoted dotted path (``"channel.cameras.detect" = 0.9``). Day t runs
on the *policy in force*: the base scenario with the ``set`` of every entry whose ``day <= t``
applied in entry order. Each policy is a complete scenario, validated by the same model as the
base, so every range and type rule of a field holds for scheduled values too; all of them are
checked once, when the scenario is loaded (:func:`check_schedule`, called by the model).
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from credsim.errors import ScenarioError
from credsim.scenario.fields import field_errors

#: A scenario (credsim.scenario.model.Scenario, which calls this module: typed by its base class here).
Scenario = BaseModel

#: Tables a schedule may change (``TABLE.FIELD``), and the fields of each it may not.
TABLES = ("score", "blacklist", "behaviour", "stress", "exit", "appeals", "adaptive")
#: Tables of named items (``TABLE.NAME.FIELD``), and the fields of each it may not change.
LISTS = {"channel": ("name", "kind"), "activity": ("name",)}
FIXED = {"score": ("start", "min", "max"), "blacklist": ("initial_share", "initial_score")}
#: Fields of the whole run: the population is fixed, and so are the scores' range and day 0.
WHY_FIXED = "is fixed for the whole run (the population, the score range and day 0 cannot change)"


def _models(scenario_cls) -> dict:
    """The model class of each table a schedule may change, as the scenario class declares them
    (:meth:`credsim.scenario.model.Scenario.schedule_models`: this module never imports the model,
    which calls it)."""
    return scenario_cls.schedule_models()


class _Refused(Exception):
    """One refused entry: ``loc`` inside the schedule list, and the message."""

    def __init__(self, loc: tuple, msg: str):
        super().__init__(msg)
        self.loc, self.msg = loc, msg


def _set_one(plan: dict, k: int, key: str, value, models: dict) -> None:
    """Apply ``key = value`` of entry k to the policy ``plan`` (a dict), refusing what §8.4 refuses."""
    loc = (k, "set", f'"{key}"')
    parts = key.split(".")
    table = parts[0]
    if table == "population":
        raise _Refused(loc, f"population.* {WHY_FIXED}")
    if table not in TABLES and table not in LISTS:
        known = ", ".join([f"{t}.FIELD" for t in TABLES] + [f"{t}.NAME.FIELD" for t in LISTS])
        raise _Refused(loc, f"unknown table {table!r} (a schedule may set {known})")
    want = 3 if table in LISTS else 2
    if len(parts) != want or not all(parts):
        form = f"{table}.NAME.FIELD" if table in LISTS else f"{table}.FIELD"
        raise _Refused(loc, f"expected a path of the form {form}")
    field = parts[-1]
    if field not in models[table].model_fields:
        known = ", ".join(f for f in models[table].model_fields if f not in FIXED.get(table, ()) + LISTS.get(table, ()))
        raise _Refused(loc, f"unknown field {field!r} of {table} (known: {known})")
    if field in FIXED.get(table, ()):
        raise _Refused(loc, f"{table}.{field} {WHY_FIXED}")
    if field in LISTS.get(table, ()):
        raise _Refused(loc, f"{table}.NAME.{field} cannot change (it names a column or a group)")
    if isinstance(value, (dict, list)) or not isinstance(value, (bool, int, float, str)):
        raise _Refused(loc, f"expected a number, a boolean or a text, got {value!r}")
    if table in LISTS:
        items = plan.get(table, [])
        match = [i for i, item in enumerate(items) if item.get("name") == parts[1]]
        if not match:
            names = ", ".join(item.get("name", "?") for item in items) or "none"
            raise _Refused(loc, f"no {table} named {parts[1]!r} (the base scenario has: {names})")
        items[match[0]][field] = value
    else:
        node = plan.get(table)
        if node is None:
            raise _Refused(loc, f"the base scenario has no [{table}] table (a schedule changes tables, never adds one)")
        node[field] = value


def _path_of(loc: tuple, plan: dict) -> str | None:
    """A validation error's location in a policy as a schedule path (``channel.NAME.FIELD``)."""
    if len(loc) >= 2 and loc[0] in TABLES and isinstance(loc[1], str):
        return f"{loc[0]}.{loc[1]}"
    if len(loc) >= 3 and loc[0] in LISTS and isinstance(loc[1], int) and isinstance(loc[2], str):
        items = plan.get(loc[0], [])
        if loc[1] < len(items):
            return f"{loc[0]}.{items[loc[1]].get('name')}.{loc[2]}"
    return None


def _apply(base: dict, entries: list, scenario_cls: type) -> list[tuple[int, Scenario]]:
    """Policies in force: ``[(1, base), (day_0, base + set_0), (day_1, base + set_0 + set_1), ...]``.

    ``base`` is a scenario as a plain dict without its schedule, ``scenario_cls`` the class that
    validates each policy; raises :class:`_Refused`."""
    models = _models(scenario_cls)
    out = []
    plan = {k: v for k, v in base.items() if k != "schedule"}
    prev = 1
    for k, entry in enumerate(entries):
        if entry.day <= prev:
            what = f"schedule[{k - 1}].day ({prev})" if k else "day 1 (the base scenario)"
            raise _Refused((k, "day"), f"must be after {what}: entries are in strictly increasing day order, got {entry.day}")
        prev = entry.day
        plan = _copy(plan)
        for key, value in entry.set.items():
            _set_one(plan, k, key, value, models)
        try:
            policy = scenario_cls.model_validate(plan)
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            where, msg = field_errors(err)[0]
            key = _path_of(tuple(first["loc"]), plan)
            if key is not None and key in entry.set:
                raise _Refused((k, "set", f'"{key}"'), f"{msg}, got {entry.set[key]!r} (in force from day {entry.day})")
            raise _Refused((k,), f"the policy in force from day {entry.day} is not a valid scenario: {where}: {msg}")
        out.append((entry.day, policy))
    return out


def _copy(plan: dict) -> dict:
    return {
        k: ([dict(i) for i in v] if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
        for k, v in plan.items()
    }


def check_schedule(scenario: Scenario) -> None:
    """Validate a scenario's schedule against its base (called by the model once the base is valid);
    a refusal is a pydantic error located at ``schedule[k]...``."""
    try:
        _apply(scenario.model_dump(mode="json", exclude_none=True), scenario.schedule, type(scenario))
    except _Refused as err:
        raise ValidationError.from_exception_data(
            "Scenario",
            [
                InitErrorDetails(
                    type=PydanticCustomError("schedule", "{msg}", {"msg": err.msg}),
                    loc=("schedule", *err.loc),
                    input=None,
                )
            ],
        ) from None


def policies(scenario: Scenario) -> list[tuple[int, Scenario]]:
    """The policies in force of a (validated) scenario, base first: ``[(1, base), (day, policy), ...]``.

    Each policy is a scenario without a schedule. Entries after the last simulated day are
    included (they change no table; the engine never switches to them)."""
    base = scenario.model_copy(update={"schedule": []})
    if not scenario.schedule:
        return [(1, base)]
    try:
        return [(1, base), *_apply(scenario.model_dump(mode="json", exclude_none=True), scenario.schedule, type(scenario))]
    except _Refused as err:  # not reached for a scenario built by the model: it ran the same checks
        where = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in err.loc)
        raise ScenarioError(f"schedule{where}: {err.msg}") from None
