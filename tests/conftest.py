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
GOLDEN2 = HERE / "golden2"  # CSM-2 (MODEL.md §8): daily, regions and panel tables
CASES2 = tomllib.loads((GOLDEN2 / "cases.toml").read_text())


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


#: Debian's Chromium, driven by Playwright (no browser download); flags for a closed network.
CHROMIUM = os.environ.get("CREDSIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (or apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()
