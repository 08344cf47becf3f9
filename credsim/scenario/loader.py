"""Load scenarios from TOML files or built-in presets into validated :class:`Scenario` models.

Files are data only: parsed with :mod:`tomllib`, never executed. Every failure becomes a
:class:`~credsim.errors.ScenarioError` whose message is one line: source, field, problem.
"""

from __future__ import annotations

import hashlib
import tomllib
from importlib import resources
from pathlib import Path

import tomli_w
from pydantic import ValidationError

from credsim.errors import ScenarioError
from credsim.scenario.model import Scenario

#: Largest scenario file we read (a scenario is a few kilobytes; this bounds hostile input).
MAX_FILE_BYTES = 1 << 20


def presets() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    folder = resources.files("credsim.scenario") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


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
        out.append((_field_path(tuple(e["loc"])), msg))
    return out


def _one_line(err: ValidationError, source: str) -> str:
    errors = field_errors(err)
    field, msg = errors[0]
    extra = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return " ".join(f"{source}: {field}: {msg}{extra}".split())


def from_dict(data: dict, source: str = "scenario") -> Scenario:
    """Validate a parsed TOML document. Raises ScenarioError with a one-line message."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_one_line(err, source)) from None


def from_toml(text: str, source: str = "scenario") -> Scenario:
    """Parse and validate TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{source}: not valid TOML: {err}") from None
    return from_dict(data, source)


def load(spec: str | Path) -> tuple[str, Scenario]:
    """Load a preset by name or a TOML file by path; returns ``(name, scenario)``.

    The name of a file's scenario is its stem (``runs/high-spouse.toml`` → ``high-spouse``).
    """
    spec_s = str(spec)
    if spec_s in presets():
        text = (resources.files("credsim.scenario") / "presets" / f"{spec_s}.toml").read_text("utf-8")
        return spec_s, from_toml(text, spec_s)
    path = Path(spec_s)
    if not path.suffix and not path.exists():
        raise ScenarioError(f"scenario: {spec_s!r} is neither a preset ({', '.join(presets())}) nor a file")
    return path.stem, from_toml(read_text_file(path, "scenario", ScenarioError), str(path))


def read_text_file(path: Path, what: str, error: type[Exception] = ScenarioError) -> str:
    """A small UTF-8 text file's contents; every failure is ``error`` with a one-line message."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise error(f"{path}: file is larger than {MAX_FILE_BYTES} bytes; not a {what}")
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a TOML file") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text; not a TOML file") from None
    except OSError as err:
        raise error(f"{path}: cannot read: {err.strerror or err}") from None


#: Extension fields left out of the canonical text at their defaults, so a CSM-1 scenario's text
#: (and hash) is the same as before the extension existed.
_EXTENSION_DEFAULTS = {
    ("population", "participation"): 1.0, ("grade",): [], ("blacklist", "initial_share"): 0.0, ("schedule",): [],
}  # fmt: skip (the CSM-2 tables [exit], [appeals], [adaptive] are None when absent: never written)


def canonical_toml(scenario: Scenario) -> str:
    """A canonical TOML rendering: same scenario, same text (used for hashing and storage)."""
    data = scenario.model_dump(mode="json", exclude_none=True)
    for path, default in _EXTENSION_DEFAULTS.items():
        node = data
        for key in path[:-1]:
            node = node[key]
        if node.get(path[-1]) == default:
            del node[path[-1]]
    return tomli_w.dumps(data)


def scenario_hash(scenario: Scenario) -> str:
    """Short content hash of the canonical TOML."""
    return hashlib.sha256(canonical_toml(scenario).encode()).hexdigest()[:16]
