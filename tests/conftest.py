"""Shared fixtures: golden cases (copied into tests/ so they travel with the repo), CLI runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import settings

#: Hypothesis runs the same examples every time (derandomized, no example database), so the suite
#: is deterministic; CREDSIM_HYPOTHESIS=explore draws fresh random examples (and prints the seed).
settings.register_profile("credsim", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
settings.load_profile(os.environ.get("CREDSIM_HYPOTHESIS", "credsim"))
#: Seed of the few seeded random choices in tests (printed in the header; set it to vary them).
TEST_SEED = int(os.environ.get("CREDSIM_TEST_SEED", "1"))


def pytest_report_header(config):
    return f"credsim: hypothesis profile {settings.get_current_profile_name()!r}; CREDSIM_TEST_SEED={TEST_SEED}"

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
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session", autouse=True)
def _private_catalog(tmp_path_factory):
    """`credsim run` records every run in the catalog: keep the tests' runs out of ./credsim.duckdb."""
    if "CREDSIM_CATALOG" not in os.environ:
        os.environ["CREDSIM_CATALOG"] = str(tmp_path_factory.mktemp("catalog") / "tests.duckdb")


#: Debian's Chromium, driven by Playwright (no browser download); flags for a closed network.
CHROMIUM = os.environ.get("CREDSIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


# -- the fault table (tests/test_faults.py): printed at the end of every session that tried faults --
FAULT_LOG: list[tuple[str, str, str]] = []


def record_fault(fault: str, where: str, outcome: str) -> None:
    """Note one injected fault and what credsim did, for the table printed after the tests."""
    FAULT_LOG.append((fault, where, outcome))


def pytest_terminal_summary(terminalreporter):
    if not FAULT_LOG:
        return
    w1 = max(len(f) for f, _, _ in FAULT_LOG + [("fault", "", "")])
    w2 = max(len(b) for _, b, _ in FAULT_LOG + [("", "backend", "")])
    terminalreporter.section("faults tried")
    terminalreporter.write_line(f"{'fault':<{w1}}  {'backend':<{w2}}  outcome")
    for fault, where, outcome in FAULT_LOG:
        terminalreporter.write_line(f"{fault:<{w1}}  {where:<{w2}}  {outcome}")


@pytest.fixture(autouse=True)
def _stop_signals_not_ignored():
    """Tests of stopping runs send SIGHUP and SIGINT. Under ``nohup`` (SIGHUP) or as a background job
    of a non-interactive shell, ``make test &`` (SIGINT), pytest inherits SIG_IGN, and the runs it
    starts inherit it too and, by design, keep ignoring the signal. Each test starts from a
    terminal's dispositions (SIGINT: Python's KeyboardInterrupt handler), put back after it."""
    defaults = {signal.SIGHUP: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}
    before = {sig: signal.getsignal(sig) for sig in defaults}
    for sig, default in defaults.items():
        if before[sig] is signal.SIG_IGN:
            signal.signal(sig, default)
    yield
    for sig, old in before.items():
        signal.signal(sig, old)
