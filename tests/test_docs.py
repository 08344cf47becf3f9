"""The documentation site builds with warnings as errors, and its reference is the code's."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"


def sphinx(src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """sphinx-build -W (warnings are errors) into a fresh folder."""
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-q",
        "-b",
        "html",
        "-d",
        str(out / ".doctrees"),
        *extra,
        str(src),
        str(out / "html"),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)


def text_of(page: Path) -> str:
    """A built page's text, with Sphinx's typographic quotes and dashes made plain again."""
    text = unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
    return text.translate(str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "--"}))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    r = sphinx(DOCS, out)
    assert r.returncode == 0, f"sphinx-build -W failed:\n{r.stdout}\n{r.stderr}"
    return out / "html"


@pytest.mark.slow
def test_every_page_is_built(site):
    for page in [
        "index",
        "model",
        "scenarios/index",
        "scenarios/camera-matching",
        "changelog",
        "reference/cli",
        "reference/scenario",
        "reference/columns",
        "reference/api",
    ]:
        assert (site / f"{page}.html").exists(), page
    assert "What credsim is not" in text_of(site / "index.html")
    assert "## [Unreleased]" not in text_of(site / "changelog.html")  # the changelog is rendered, not quoted


@pytest.mark.slow
def test_cli_reference_lists_every_command_and_option(site):
    import typer

    from credsim.cli import app

    page = text_of(site / "reference" / "cli.html")
    group = typer.main.get_command(app)
    assert len(group.commands) >= 10
    for name, cmd in group.commands.items():
        assert f"credsim {name}" in page, name
        for param in cmd.params:
            for opt in param.opts:
                if opt.startswith("-"):
                    assert opt in page, f"{name} {opt}"


@pytest.mark.slow
def test_scenario_reference_lists_every_field(site):
    from pydantic import BaseModel

    from credsim.scenario.model import Scenario

    page = text_of(site / "reference" / "scenario.html")

    def walk(model: type[BaseModel], path: str):
        for name, field in model.model_fields.items():
            inner = field.annotation
            args = getattr(inner, "__args__", ())
            sub = next((a for a in (inner, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
            if sub is not None:
                assert f"{path}{name}]" in page, f"section [{path}{name}]"
                walk(sub, f"{path}{name}.")
            else:
                assert name in page, f"{path}{name}"
                if field.description:
                    assert field.description.replace("`", "") in page, f"{path}{name}: help text"

    walk(Scenario, "[")


@pytest.mark.slow
def test_columns_reference_matches_a_real_run(site):
    """Every column of a real run's daily table is documented, with the scenario's names generic."""
    import credsim

    r = credsim.simulate("essay", population=37, days=1, seed=5)
    generic = {f"_{c.name}": "_<channel>" for c in r.scenario.channel}
    generic |= {f"_{a.name}": "_<activity>" for a in r.scenario.activity}
    page = text_of(site / "reference" / "columns.html")
    assert len(r.daily.columns) > 20
    for col in r.daily.columns:
        name = next((col[: -len(s)] + g for s, g in generic.items() if col.endswith(s)), col)
        assert f"{name}" in page, col
    for col in r.regions.columns.drop("region_name"):
        assert col in page, col


@pytest.mark.slow
def test_broken_references_fail_the_build(tmp_path):
    """A link to a missing page, a missing Python name or a missing heading stops the build."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.md").write_text(
        "# Broken\n\n"
        "A real name: {func}`credsim.simulate`. Missing ones: {func}`credsim.no_such_function`, "
        "{doc}`no-such-page`, [a link](no-such-file.md), [an anchor](#no-such-heading).\n"
    )
    r = sphinx(src, tmp_path / "out", "-c", str(DOCS))
    assert r.returncode != 0
    for target in ["credsim.no_such_function", "no-such-page", "no-such-file.md", "no-such-heading"]:
        assert target in r.stderr, target
    assert "credsim.simulate" not in r.stderr
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
