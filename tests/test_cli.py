"""The command line as a newcomer meets it: help, presets, scenario printing, run summary."""

import tomllib

from credsim.scenario import from_dict, load


def test_help_lists_commands(cli):
    proc = cli("--help")
    assert proc.returncode == 0
    for cmd in ("run", "compare", "runs", "show", "presets", "scenario"):
        assert cmd in proc.stdout


def test_run_help_explains_population_formats(cli):
    proc = cli("run", "--help")
    assert proc.returncode == 0 and "1_000_000" in proc.stdout and "--seed" in proc.stdout


def test_presets_listed(cli):
    names = cli("presets").stdout.split()
    assert "essay" in names and "baseline" in names


def test_scenario_prints_canonical_toml_that_round_trips(cli):
    proc = cli("scenario", "essay")
    assert proc.returncode == 0
    assert from_dict(tomllib.loads(proc.stdout)) == load("essay")[1]


def test_run_prints_summary_and_writes_marker(cli, tmp_path):
    out = tmp_path / "r"
    proc = cli("run", "essay", "-n", "1_000", "-d", "3", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "1,000 agents × 3 days" in proc.stdout and "agent-steps/s" in proc.stdout
    assert (out / "run.json").exists() and (out / "daily.csv").read_text().count("\n") == 4


def test_presets_match_shared_scenarios():
    from conftest import SCENARIOS

    for name in ("essay", "baseline"):
        assert load(name)[1] == load(SCENARIOS / f"{name}.toml")[1]


def test_progress_bar_says_what_set_up_does_until_the_first_day():
    """Before day 1 a first run compiles the kernel for minutes: the bar says so instead of
    standing silent at 0 days, and gives way to the rate once days are reported."""
    from credsim.console import SETTING_UP, DayProgress

    bar = DayProgress("essay", 1_000, 3, enabled=False)
    task = bar.progress.tasks[0]  # rich updates the task in place
    assert "kernel compile" in task.fields["rate"] and task.fields["rate"] == SETTING_UP
    bar(1, 3)
    assert task.fields["rate"] == "" and task.completed == 1
    bar(2, 3)
    assert task.fields["rate"].endswith("agent-steps/s") and task.completed == 2
