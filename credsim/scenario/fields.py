"""Pydantic validation errors as users read them: (field path as written in TOML, plain message).

Shared by the loader and the schedule's checks; imports nothing of the scenario model.
"""

from __future__ import annotations

from pydantic import ValidationError

from credsim.errors import clip


def _field_path(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
        elif item in ("list[...]", "RegionTable", "function-after[_regions_nonempty(), union[...]]"):
            continue
        elif str(item).startswith(("list[", "union[", "function-")):
            continue
        else:
            parts.append(str(item))
    return ".".join(parts) or "scenario"


def field_errors(err: ValidationError) -> list[tuple[str, str]]:
    """Every error of a validation as (field path as users write it, plain message)."""
    out = []
    for e in err.errors(include_url=False):
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif e["type"] == "missing":
            msg = "missing field"
        out.append((_field_path(tuple(e["loc"])), clip(msg)))
    return out
