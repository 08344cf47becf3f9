"""Shared fixtures: golden cases (copied into tests/ so they travel with the repo), CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
SCENARIOS = HERE / "scenarios"
SHARED = HERE.parent.parent / "shared"
CASES = tomllib.loads((GOLDEN / "cases.toml").read_text())


def scenario_path(name: str) -> Path:
    return SCENARIOS / f"{name}.toml"


def run_cli(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``python -m credsim.cli ARGS`` in a subprocess, capturing text output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", "from credsim.cli import main; main()", *args],
        capture_output=True, text=True, env=full_env, timeout=timeout,
    )  # fmt: skip


@pytest.fixture
def cli():
    return run_cli
