"""Packaging metadata that must agree with the code: version, licence, lock, schema, citation."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import date
from pathlib import Path

import pytest

import credsim
from credsim.scenario import presets
from credsim.scenario.schema import SCHEMA_FILE, render

ROOT = Path(__file__).parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PRESETS = Path(credsim.__file__).parent / "scenario" / "presets"


def test_version_flag_matches_package(cli):
    from importlib.metadata import version

    r = cli("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == credsim.__version__ == version("credsim")
    assert re.fullmatch(r"\d+\.\d+\.\d+", credsim.__version__)


def test_shipped_schema_is_the_models():
    """The shipped JSON Schema is what the pydantic model generates now (`make schema` updates it)."""
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), "run `make schema`"


def test_schema_command_prints_the_shipped_file(cli):
    r = cli("schema")
    assert r.returncode == 0, r.stderr
    assert r.stdout == SCHEMA_FILE.read_text(encoding="utf-8")
    assert json.loads(r.stdout)["properties"].keys() >= {"population", "score", "blacklist", "channel"}
    r = cli("schema", "--path")
    assert r.returncode == 0 and Path(r.stdout.strip()) == SCHEMA_FILE


@pytest.fixture(scope="module")
def validator():
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("name", presets())
def test_every_preset_satisfies_the_schema(validator, name):
    """What credsim accepts, an editor using the schema accepts too."""
    data = tomllib.loads((PRESETS / f"{name}.toml").read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(data)] == []


@pytest.mark.parametrize(
    "path, value, word",
    [
        (("population", "married_share"), 1.5, "maximum"),
        (("score", "spouse_weight"), "3", "type"),
        (("blacklist", "mode"), "above_mean", "enum"),
        (("stress", "colour"), 1, "additional"),
    ],
)
def test_schema_rejects_what_the_model_rejects(validator, path, value, word):
    """The schema flags a wrong value, type, choice or unknown key that credsim itself refuses."""
    from credsim.errors import ScenarioError
    from credsim.scenario import from_dict

    data = tomllib.loads((PRESETS / "essay.toml").read_text(encoding="utf-8"))
    data[path[0]][path[1]] = value
    messages = [f"{e.validator} {e.message}" for e in validator.iter_errors(data)]
    assert any(word in m.lower() for m in messages), messages
    with pytest.raises(ScenarioError):
        from_dict(data)


def test_licence_is_declared_and_shipped():
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text


def test_lock_names_the_uv_the_makefile_bootstraps():
    """make reads uv's version from uv.lock; the lock must hold exactly one uv and every extra."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {p["name"]: p for p in lock["package"]}
    assert sum(p["name"] == "uv" for p in lock["package"]) == 1
    assert re.fullmatch(r"\d+\.\d+\.\d+", packages["uv"]["version"])
    extras = set(packages["credsim"].get("optional-dependencies", {}))
    assert extras == set(PYPROJECT["project"]["optional-dependencies"]) == {"cuda", "ray", "docs", "test"}
    assert "UV_VERSION := $(shell sed" in (ROOT / "Makefile").read_text()


def test_citation_and_changelog_name_this_version():
    import yaml

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert cff["version"] == credsim.__version__
    assert cff["license"] == PYPROJECT["project"]["license"]
    assert cff["authors"] and all("name" in a or "family-names" in a for a in cff["authors"])
    assert {"message", "title", "type"} <= cff.keys()
    date.fromisoformat(str(cff["date-released"]))
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert re.search(rf"^## \[{re.escape(credsim.__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M)
