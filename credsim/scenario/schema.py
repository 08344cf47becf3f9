"""The scenario's JSON Schema, generated from the pydantic model, for editors and other tools.

The schema ships as ``credsim/scenario/scenario.schema.json`` (``credsim schema --path`` prints
where). ``python -m credsim.scenario.schema`` (``make schema``) regenerates it after a change to
:mod:`credsim.scenario.model`; a test fails while the shipped file differs from the model's.
Point an editor at it, e.g. with Taplo (VS Code's Even Better TOML) as the first line of a
scenario file: ``#:schema ./scenario.schema.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

#: The shipped schema, next to this module.
SCHEMA_FILE = Path(__file__).with_name("scenario.schema.json")

#: JSON Schema dialect of pydantic's output.
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def generate() -> dict:
    """The JSON Schema of :class:`credsim.scenario.Scenario`, with a dialect and a description."""
    from credsim.scenario.model import Scenario

    schema = Scenario.model_json_schema()
    return {
        "$schema": DIALECT,
        "title": "credsim scenario",
        "description": "A credsim scenario file (TOML): a social-credit system to simulate on synthetic "
        "agents. Generated from credsim.scenario.model.Scenario; credsim itself validates with that model.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def render() -> str:
    """:func:`generate` as the text of the shipped file (sorted keys, two-space indent, final newline)."""
    return json.dumps(generate(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def register(app: typer.Typer) -> None:
    from credsim.cli import out_console

    @app.command("schema")
    def schema(
        path: bool = typer.Option(False, "--path", help="Print where the shipped schema file is instead of its content."),
    ) -> None:
        """Print the JSON Schema of scenario files (for editors: Taplo, VS Code's Even Better TOML)."""
        import sys

        if path:
            out_console.print(str(SCHEMA_FILE), highlight=False, soft_wrap=True)
        else:
            sys.stdout.write(SCHEMA_FILE.read_text(encoding="utf-8"))


def main() -> None:
    """Rewrite the shipped schema from the model (``make schema``)."""
    text = render()
    if SCHEMA_FILE.exists() and SCHEMA_FILE.read_text(encoding="utf-8") == text:
        print(f"{SCHEMA_FILE}: up to date")
        return
    SCHEMA_FILE.write_text(text, encoding="utf-8")
    print(f"{SCHEMA_FILE}: written")


if __name__ == "__main__":
    main()
