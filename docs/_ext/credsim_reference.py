"""Reference pages generated from the code at every build, so they cannot drift from it.

When Sphinx starts (``builder-inited``) this writes Markdown fragments into ``docs/_generated/``
(ignored by git), which the pages under ``docs/reference/`` include:

* ``cli.md``: every command of ``credsim``, with its usage, arguments and options, read from the
  command line itself (``typer.main.get_command``);
* ``schema.md``: every scenario field, with its type, range, default and help, read from the JSON
  Schema that :func:`credsim.scenario.schema.generate` makes from the pydantic model;
* ``columns.md``: the columns of ``daily.csv`` and ``regions.csv`` in file order, read from
  ``credsim/kernel/layout.py``, ``credsim/engine.py`` and ``credsim/results/run.py``.

A column without a description here, or a description of a column the code no longer writes,
stops the build (:class:`sphinx.errors.ExtensionError`).
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.errors import ExtensionError

# -- helpers -------------------------------------------------------------------------------------


def _plain(text: str | None) -> str:
    """Help text as Markdown: rich markup dropped ("[bold]x[/]" -> "x"), one line, "<" not read as HTML."""
    if not text:
        return ""
    from rich.text import Text

    return " ".join(Text.from_markup(text).plain.split()).replace("<", "\\<")


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    """Inline code, whatever backticks the text holds."""
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# -- the command line ----------------------------------------------------------------------------


def cli_markdown() -> str:
    """Every command of ``credsim`` as Markdown: usage, description, arguments and options."""
    import typer

    from credsim.cli import app

    group = typer.main.get_command(app)  # click's API (typer carries its own copy of click)
    Context = group.context_class
    root = Context(group, info_name="credsim")
    out = [
        "Generated from the command line itself (`typer.main.get_command`); `credsim COMMAND --help` "
        "prints the same.",
        "",
        "```text",
        group.get_usage(root),
        "```",
        "",
    ]
    out += [_plain(p) + "\n" for p in (group.help or "").strip().split("\n\n")]
    out += _params_table(group, root)
    for name, cmd in group.commands.items():
        if cmd.hidden:
            continue
        ctx = Context(cmd, info_name=name, parent=root)
        out += [f"(cli-{name})=", f"## `credsim {name}`", "", "```text", cmd.get_usage(ctx), "```", ""]
        out += [_plain(p) for p in (cmd.help or "").strip().split("\n\n")]
        out += [""]
        out += _params_table(cmd, ctx)
    return "\n".join(out) + "\n"


def _params_table(cmd, ctx) -> list[str]:
    rows = []
    for p in cmd.params:
        if getattr(p, "hidden", False):
            continue
        record = p.get_help_record(ctx)
        if record is None:
            continue
        names = record[0]
        kind = "argument" if p.param_type_name == "argument" else "option"
        default = ""
        if p.required:
            default = "required"
        elif not getattr(p, "is_flag", False) and p.default not in (None, [], ()):
            default = _code(str(p.default))
        rows.append(f"| {_code(names)} | {kind} | {default} | {_cell(_plain(p.help))} |")
    if not rows:
        return []
    return ["| name | kind | default | meaning |", "| --- | --- | --- | --- |", *rows, ""]


# -- the scenario schema -------------------------------------------------------------------------


def schema_markdown() -> str:
    """Every section and field of a scenario file, from the JSON Schema of the pydantic model."""
    from credsim.scenario.schema import generate

    schema = generate()
    defs = schema.get("$defs", {})
    out: list[str] = []
    _schema_table(out, schema, defs, "", "Top level of a scenario file")
    return "\n".join(out) + "\n"


def _ref_name(prop: dict) -> str | None:
    """The $defs name a property refers to (directly, as an optional table, or as array items)."""
    for candidate in (prop, prop.get("items", {}), *prop.get("anyOf", [])):
        ref = candidate.get("$ref") if isinstance(candidate, dict) else None
        if ref:
            return ref.rsplit("/", 1)[1]
    return None


def _is_table(prop: dict, defs: dict) -> bool:
    name = _ref_name(prop)
    return name is not None and defs.get(name, {}).get("type") == "object"


def _schema_table(out: list[str], node: dict, defs: dict, path: str, title: str) -> None:
    props = node.get("properties", {})
    required = set(node.get("required", []))
    fields = [(k, v) for k, v in props.items() if not _is_table(v, defs)]
    tables = [(k, v) for k, v in props.items() if _is_table(v, defs)]
    if path:
        out += [f"(schema-{path.replace('.', '-')})=", f"## `{_header(path, node)}`", ""]
    else:
        out += [f"## {title}", ""]
    if node.get("description"):
        out += [_plain(node["description"]), ""]
    if fields:
        out += ["| field | type | range | default | meaning |", "| --- | --- | --- | --- | --- |"]
        for name, prop in fields:
            default = "required" if name in required else _code(_json(prop.get("default")))
            out.append(f"| `{name}` | {_cell(_type(prop, defs))} | {_cell(_range(prop))} | {default} | "
                       f"{_cell(_plain(prop.get('description', '')))} |")  # fmt: skip
        out.append("")
    if tables:
        out += ["Tables:", ""]
        for name, prop in tables:
            sub = f"{path}.{name}" if path else name
            how = "an array of tables" if prop.get("type") == "array" else "a table"
            need = "required" if name in required else "optional"
            limits = _range(prop)
            extra = f", {limits}" if limits else ""
            out.append(f"- [`{_header(sub, prop)}`](#schema-{sub.replace('.', '-')}): {how}, {need}{extra}. "
                       f"{_plain(prop.get('description', ''))}".rstrip())  # fmt: skip
        out.append("")
    for name, prop in tables:
        sub = f"{path}.{name}" if path else name
        target = dict(defs[_ref_name(prop)])
        if prop.get("type") == "array":
            target["_array"] = True
        _schema_table(out, target, defs, sub, "")


def _header(path: str, node: dict) -> str:
    return f"[[{path}]]" if node.get("_array") or node.get("type") == "array" else f"[{path}]"


def _json(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _type(prop: dict, defs: dict) -> str:
    if "$ref" in prop:
        target = defs[prop["$ref"].rsplit("/", 1)[1]]
        if "enum" in target:
            return " or ".join(_json(v) for v in target["enum"])
        return target.get("type", "object")
    if "enum" in prop:
        return " or ".join(_json(v) for v in prop["enum"])
    if "const" in prop:
        return _json(prop["const"])
    if "anyOf" in prop:
        return " or ".join(_type(p, defs) for p in prop["anyOf"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"array of {_type(prop.get('items', {}), defs)}"
    return {"integer": "integer", "number": "number", "boolean": "boolean", "string": "string", "null": "none"}.get(
        kind, kind
    )


def _range(prop: dict) -> str:
    parts = []
    lo, hi = prop.get("minimum"), prop.get("maximum")
    xlo, xhi = prop.get("exclusiveMinimum"), prop.get("exclusiveMaximum")
    if lo is not None or hi is not None or xlo is not None or xhi is not None:
        left = f"{_num(lo)} ≤ " if lo is not None else (f"{_num(xlo)} < " if xlo is not None else "")
        right = f" ≤ {_num(hi)}" if hi is not None else (f" < {_num(xhi)}" if xhi is not None else "")
        parts.append(f"{left}x{right}")
    if "minItems" in prop or "maxItems" in prop:
        parts.append(f"{prop.get('minItems', 0)}..{prop.get('maxItems', '∞')} entries")
    if "pattern" in prop:
        parts.append(f"pattern `{prop['pattern']}`")
    for sub in prop.get("anyOf", []):
        r = _range(sub)
        if r:
            parts.append(r)
    return "; ".join(parts)


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


# -- the daily and region tables -----------------------------------------------------------------

#: What each column means. Placeholders in angle brackets stand for the names in the scenario.
DAILY = {
    "day": "day number t, 1..D",
    "threshold": "the blacklist threshold T_t of the day (absolute, or yesterday's mean public score minus the offset)",
    "sum_public": "Σ of public scores P_t (64-bit)",
    "sum_public_sq": "Σ of squared public scores P_t² (64-bit)",
    "min_public": "lowest public score",
    "max_public": "highest public score",
    "sum_own": "Σ of own (individual) scores",
    "listed": "agents on the blacklist at the end of the day",
    "entries": "agents who entered the blacklist today",
    "exits": "agents who left the blacklist today",
    "ever_listed": "agents ever listed so far",
    "spillover": "listed agents whose public score is below the threshold while their own score is not: listed by the spouse's pull",
    "listed_wrongly_flagged": "listed agents who were ever wrongly attributed an event",
    "true_<channel>": "true events on this channel (one group of three per channel, in the scenario's order)",
    "detected_<channel>": "true events that were detected",
    "false_<channel>": "wrongful attributions (events that did not happen, attributed to an agent)",
    "attempts_<activity>": "attempts at this activity (one pair per activity, in the scenario's order)",
    "denied_<activity>": "attempts denied (blacklisted, or public score below the activity's minimum)",
    "stress_sum": "Σ of stress levels (0..255 each)",
    "stress_high": "agents with stress ≥ 128",
    "grade_<grade>": "extension: agents in this grade (only when the scenario defines `[[grade]]`)",
}

REGIONS = {
    "day": "day number t",
    "region": "region index, in the order of the scenario's region weights (empty regions included)",
    "listed": "agents of this region on the blacklist",
    "sum_public": "Σ of public scores of this region's agents",
}


def columns_markdown() -> str:
    """The columns of daily.csv and regions.csv, in file order, each with its meaning."""
    import inspect

    from credsim import engine
    from credsim.kernel import layout
    from credsim.results.run import REGION_COLUMNS

    # engine.run_plan puts day and threshold before the kernel's aggregate columns
    first = re.search(r'cols = \[("\w+"), ("\w+"), \*plan\.columns\]', inspect.getsource(engine))
    if not first:
        raise ExtensionError("credsim_reference: cannot find the daily table's first columns in credsim/engine.py")
    lead = [first.group(1).strip('"'), first.group(2).strip('"')]
    daily = lead + layout.column_names(["<channel>"], ["<activity>"], ["<grade>"])
    out = [
        "`daily.csv` has one row per day t = 1..D. Its columns, in file order (generated from "
        "`credsim/kernel/layout.py`; `<channel>`, `<activity>` and `<grade>` stand for the names in the "
        "scenario, repeated in the scenario's order):",
        "",
    ]
    out += _columns_table(daily, DAILY, "daily")
    out += [
        "`regions.csv` has one row per (day, region), days ascending, then regions in index order:",
        "",
    ]
    out += _columns_table(list(REGION_COLUMNS), REGIONS, "regions")
    return "\n".join(out) + "\n"


def _columns_table(columns: list[str], meanings: dict[str, str], table: str) -> list[str]:
    missing = [c for c in columns if c not in meanings]
    stale = [c for c in meanings if c not in columns]
    if missing or stale:
        raise ExtensionError(
            f"credsim_reference: the {table} table's columns and docs/_ext/credsim_reference.py disagree: "
            f"undocumented {missing}, documented but not written {stale}"
        )
    rows = [f"| `{c}` | {_cell(meanings[c])} |" for c in columns]
    return ["| column | meaning |", "| --- | --- |", *rows, ""]


def metrics_markdown() -> str:
    """The scorecard's metrics (``credsim.results.scorecard.METRICS``), each with its unit and meaning."""
    from credsim.results.scorecard import METRICS

    rows = [f"| `{name}` | {_cell(unit)} | {_cell(text)} |" for name, (unit, text) in METRICS.items()]
    head = ["Generated from `credsim/results/scorecard.py`; a per-activity metric is added for each "
            "activity of the scenario, `<activity>_denied_per_1000` (attempts denied per 1000 attempts).", "",
            "| metric | unit | meaning |", "| --- | --- | --- |"]
    return "\n".join(head + rows) + "\n"


# -- Sphinx --------------------------------------------------------------------------------------

GENERATORS = {"cli.md": cli_markdown, "schema.md": schema_markdown, "columns.md": columns_markdown,
              "metrics.md": metrics_markdown}


def write_generated(app) -> None:
    """Write docs/_generated/*.md (only files whose text changed, so incremental builds stay fast)."""
    folder = Path(app.srcdir) / "_generated"
    folder.mkdir(exist_ok=True)
    for name, make in GENERATORS.items():
        text = make()
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def setup(app):
    app.connect("builder-inited", write_generated)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
