"""The dashboard's form and its validation: the form spec built from the Scenario model, and
:func:`check_request`, which checks a run request exactly as the CLI checks its options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from credsim.errors import CredsimError
from credsim.scenario import Scenario, presets
from credsim.scenario.loader import MAX_FILE_BYTES, scenario_problems
from credsim.scenario.model import MAX_DAYS


#: The dashboard runs populations up to this size (seconds on a laptop); larger runs belong to the CLI.
MAX_POPULATION = 10**7
#: Largest JSON request body (a scenario is a few kilobytes).
MAX_JSON_BYTES = 256 * 1024
#: Largest uploaded scenario file: the loader's own limit.
MAX_UPLOAD_BYTES = MAX_FILE_BYTES
#: Runs shown together from the catalog at most.
MAX_COMPARE = 8
#: Run names: what a preset or a file stem looks like.
RUN_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,47}$")
DEFAULT_PRESET = "essay"

#: The mechanisms that matter, shown first (the rest are under "more parameters").
KEY_FIELDS = {
    "score": ["spouse_weight", "association_penalty", "association_rate"],
    "blacklist": ["mode", "offset", "value"],
    "channel": ["points", "detect", "false_rate"],
    "activity": ["deny_blacklisted", "min_score"],
}
#: Fields shown but not editable: names key the scorecard (the baseline must have the same ones);
#: regions are a table name or a long list of weights (upload a TOML file to change them).
READ_ONLY = {"channel.name", "activity.name", "population.regions"}
#: Sections shown as a read-only summary: a schedule is a list of dotted paths and values (upload a
#: TOML file to change it); a loaded schedule is kept and run unchanged.
READ_ONLY_SECTIONS = {"schedule"}
#: Groups of fields inside a section that are switched on and off together (off: the fields are
#: absent, so the model's defaults apply), like the optional CSM-2 tables [exit], [appeals], [adaptive].
FIELD_GROUPS = {
    "blacklist": [
        {
            "key": "initial",
            "title": "Initial list",
            "fields": ["initial_share", "initial_score"],
            "description": "CSM-2: a list that already exists on day 0 (off: nobody is listed on day 0)",
        }
    ],
}
#: Where a switched-on group's first values come from: the first of these presets that has the table
#: (essay-plus: CSM-2's illustrative values), then any other preset.
DEFAULTS_FROM = ["essay-plus", "court-defaulters"]


# -- the form, from the Scenario model --------------------------------------------------------------


def _deref(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    if ref:
        return schema["$defs"][ref.rsplit("/", 1)[1]]
    return node


def _describe(schema: dict, section: str, key: str, prop: dict) -> dict:
    """One input: its path, kind, range and help text, all from the model's JSON schema."""
    out = {
        "key": key,
        "path": f"{section}.{key}",
        "title": prop.get("title") or key.replace("_", " ").title(),
        "description": prop.get("description", ""),
        "nullable": False,
    }
    node = _deref(schema, prop)
    if "anyOf" in prop:
        options = [_deref(schema, o) for o in prop["anyOf"]]
        plain = [o for o in options if o.get("type") != "null"]
        out["nullable"] = len(plain) < len(options)
        node = plain[0] if len(plain) == 1 else {"type": "complex"}
    if "enum" in node:
        out["type"] = "enum"
        out["options"] = list(node["enum"])
    else:
        out["type"] = node.get("type", "complex")
    for src, dst in (("minimum", "min"), ("maximum", "max"), ("exclusiveMinimum", "gt"), ("exclusiveMaximum", "lt")):
        if src in node:
            out[dst] = node[src]
    if "default" in prop:
        out["default"] = prop["default"]
    out["key_field"] = key in KEY_FIELDS.get(section, [])
    out["read_only"] = (
        f"{section}.{key}" in READ_ONLY or out["type"] in ("complex", "object") or section in READ_ONLY_SECTIONS
    )
    group = next((g["key"] for g in FIELD_GROUPS.get(section, []) if key in g["fields"]), None)
    if group:
        out["group"] = group
    return out


def _optional_table(schema: dict, prop: dict) -> dict | None:
    """The table's schema if ``prop`` is an optional table (``Exit | None``: absent = switched off)."""
    options = prop.get("anyOf") or []
    refs = [o for o in options if "$ref" in o]
    if len(options) == 2 and len(refs) == 1 and any(o.get("type") == "null" for o in options):
        return _deref(schema, refs[0])
    return None


def _defaults() -> dict:
    """First values of each switchable group or table: from the first preset that has it on."""
    from credsim.scenario import load

    names = presets()
    out: dict = {}
    for name in [n for n in DEFAULTS_FROM if n in names] + [n for n in names if n not in DEFAULTS_FROM]:
        data = load(name)[1].model_dump(mode="json")
        for key, value in data.items():
            if isinstance(value, dict) and key not in out and key in ("exit", "appeals", "adaptive"):
                out[key] = value
        for section, groups in FIELD_GROUPS.items():
            for g in groups:
                gk = f"{section}.{g['key']}"
                body = data.get(section) or {}
                if gk not in out and any(body.get(f) not in (None, 0, 0.0) for f in g["fields"]):
                    out[gk] = {f: body.get(f) for f in g["fields"]}
    return out


def form_spec() -> dict:
    """The dashboard's controls: one section per scenario table, built from ``Scenario``'s schema.

    An optional table (the CSM-2 ``[exit]``, ``[appeals]``, ``[adaptive]``) is a section that is
    switched on and off (``optional``; off: the table is absent), with first values from a preset
    (``defaults``); a group of fields inside a section (the initial list) likewise (``groups``).
    The schedule is shown read-only (``read_only``)."""
    schema = Scenario.model_json_schema()
    defaults = _defaults()
    sections = []
    for name, prop in schema["properties"].items():
        optional = _optional_table(schema, prop)
        node = optional or _deref(schema, prop)
        is_list = node.get("type") == "array"
        item = _deref(schema, node["items"]) if is_list else node
        fields = [_describe(schema, name, k, p) for k, p in item["properties"].items()]
        fields.sort(key=lambda f: (not f["key_field"], KEY_FIELDS.get(name, []).index(f["key"]) if f["key_field"] else 0))
        section = {
            "key": name,
            "title": name.replace("_", " ").capitalize(),
            "list": is_list,
            "description": (prop.get("description") or item.get("description") or "").split("\n")[0],
            "fields": fields,
            "optional": optional is not None,
            "read_only": name in READ_ONLY_SECTIONS,
            "groups": [dict(g, defaults=defaults.get(f"{name}.{g['key']}")) for g in FIELD_GROUPS.get(name, [])],
        }
        if optional is not None:
            section["defaults"] = defaults.get(name)
        sections.append(section)
    return {"sections": sections, "limits": {"population": MAX_POPULATION, "days": MAX_DAYS}}


def scenario_payload(name: str, sc: Scenario) -> dict:
    """A scenario as the page loads it: its data, and its schedule in words (shown read-only)."""
    from credsim.scenario.describe import schedule_entries

    return {
        "name": name,
        "scenario": sc.model_dump(mode="json"),
        "schedule": [entry.text() for entry in schedule_entries(sc)],
    }


# -- validation -------------------------------------------------------------------------------------


def _field_messages(problems: list[tuple[str, str]], known_paths: set[str]) -> list[dict]:
    """Every problem of a scenario as {field, message}, field paths as the loader writes them."""
    out = []
    for path, msg in problems:
        if path not in known_paths:
            # a check across fields (score.min > score.max ...): put it on the first field it names
            named = [p for p in re.findall(r"[a-z_]+(?:\[\d+\])?\.[a-z_]+", msg) if p in known_paths]
            if named:
                path = named[0]
        out.append({"field": path, "message": " ".join(msg.split())})
    return out


def _known_paths(data) -> set[str]:
    paths = set()
    if not isinstance(data, dict):
        return paths
    for section, body in data.items():
        if isinstance(body, dict):
            paths.update(f"{section}.{k}" for k in body)
        elif isinstance(body, list):
            for i, item in enumerate(body):
                if isinstance(item, dict):
                    paths.update(f"{section}[{i}].{k}" for k in item)
    return paths


@dataclass
class RunRequest:
    name: str
    scenario: Scenario
    baseline: str
    population: int
    days: int
    seed: int


def _field_error(field_name: str, err: CredsimError) -> dict:
    msg = str(err)
    head, sep, rest = msg.partition(": ")
    return {"field": field_name, "message": rest if sep and " " not in head else msg}


def check_request(body) -> tuple[RunRequest | None, list[dict]]:
    """Validate a run request exactly as the CLI would; returns (request or None, field errors)."""
    from credsim.api import parse_count, parse_seed
    from credsim.results.scorecard import check_comparable

    if not isinstance(body, dict):
        return None, [{"field": "request", "message": "expected a JSON object"}]
    errors: list[dict] = []
    data = body.get("scenario")
    scenario = None
    if not isinstance(data, dict):
        errors.append({"field": "scenario", "message": "no scenario: pick a preset or upload a TOML file"})
    else:
        # the CLI's own validation: the model's rules and the plan's (probabilities summing past 1, ...)
        scenario, problems = scenario_problems(data)
        errors += _field_messages(problems, _known_paths(data))
    population = days = seed = None
    try:
        population = parse_count(_text(body.get("population")), "population")
        if population > MAX_POPULATION:
            raise CredsimError(f"population: at most {MAX_POPULATION:,} here (use `credsim run` for more), got {population:,}")
    except CredsimError as err:
        errors.append(_field_error("run.population", err))
    try:
        days = parse_count(_text(body.get("days")), "days")
        if days > MAX_DAYS:
            raise CredsimError(f"days: at most {MAX_DAYS}, got {days}")
    except CredsimError as err:
        errors.append(_field_error("run.days", err))
    try:
        seed = parse_seed(_text(body.get("seed")))
    except CredsimError as err:
        errors.append(_field_error("run.seed", err))
    name = body.get("name")
    if not isinstance(name, str) or not RUN_NAME.fullmatch(name):
        errors.append(
            {
                "field": "run.name",
                "message": "lowercase letters, digits, '-' and '_', starting with a letter (at most 48 characters)",
            }
        )
    baseline = body.get("baseline")
    base_sc = None
    if not isinstance(baseline, str) or baseline not in presets():
        errors.append({"field": "run.baseline", "message": f"choose one of the presets ({', '.join(presets())})"})
    else:
        from credsim.scenario import load

        base_sc = load(baseline)[1]
        if scenario is not None:
            try:
                check_comparable(scenario, base_sc, str(name))
            except CredsimError as err:
                errors.append({"field": "run.baseline", "message": str(err).removeprefix("compare: ")})
            if name == baseline and scenario != base_sc:
                errors.append(
                    {
                        "field": "run.name",
                        "message": f"{name!r} is the baseline's name; give the edited scenario another name",
                    }
                )
    if errors:
        return None, errors
    return RunRequest(name, scenario, baseline, population, days, seed), []


def _text(value) -> str | int:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        return repr(value)
    return value if isinstance(value, int) else str(value)
