"""Input files and names as a careless or hostile user gives them: special files, byte-order
marks, names with a newline, very long values. One line, exit code 2, quickly; never a hang."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tomllib

import pytest

from conftest import scenario_path
from credsim.errors import ScenarioError
from credsim.scenario import canonical_toml, from_dict, from_toml

#: Values in messages are cut to their first 40 characters and "…" (issue 12).
SHOWN = 40
ESSAY_TEXT = scenario_path("essay").read_text("utf-8")
TARGETS = """population = 2000\ndays = 5\nseed = 1\ntrials = 1\n
[[parameter]]\npath = "score.spouse_weight"\nlow = 0\nhigh = 5\n
[[target]]\nmetric = "ever_listed_pct"\nvalue = 1.0\n"""


def _limited():
    # a regression that reads /dev/zero to the end must fail here, not fill the machine's memory
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def cli_limited(*args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    """The CLI in a subprocess with 4 GiB of address space and a time limit (a hang fails the test)."""
    return subprocess.run(
        [sys.executable, "-c", "from credsim.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limited,
    )


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.toml"
    os.mkfifo(path)
    return path


SPECIAL = {"fifo": "named pipe", "/dev/zero": "character device", "/dev/urandom": "character device"}


@pytest.mark.parametrize("special", list(SPECIAL))
@pytest.mark.parametrize("command", ["run", "calibrate"])
def test_special_files_are_refused_not_read(special, command, fifo, tmp_path):
    """A FIFO would block the reader forever, /dev/zero and /dev/urandom never end: each is
    refused, as the scenario and as calibration targets, in one line."""
    path = str(fifo) if special == "fifo" else special
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    out = tmp_path / "out"
    if command == "run":
        args = ["run", path, "-n", "100", "-d", "2", "--out", str(out), "--quiet"]
    else:
        args = ["calibrate", "court-defaulters", "--targets", path, "--out", str(out), "--quiet"]
    proc = cli_limited(*args)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert path in lines[0] and SPECIAL[special] in lines[0] and "not a regular file" in lines[0], lines
    assert not out.exists()


def test_oversized_file_is_refused(tmp_path):
    from credsim.scenario.loader import MAX_FILE_BYTES

    big = tmp_path / "big.toml"
    big.write_text(ESSAY_TEXT + "#" * MAX_FILE_BYTES)
    proc = cli_limited("scenario", str(big))
    assert proc.returncode == 2 and "larger than" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_byte_order_mark_is_accepted(tmp_path, cli):
    """Editors on Windows start UTF-8 files with a BOM; the file is still the same valid TOML."""
    plain = from_toml(ESSAY_TEXT, "essay.toml")
    assert from_toml("\ufeff" + ESSAY_TEXT, "essay.toml") == plain  # the dashboard's upload path
    f = tmp_path / "bom.toml"
    f.write_bytes(b"\xef\xbb\xbf" + ESSAY_TEXT.encode())
    proc = cli("scenario", str(f))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == canonical_toml(plain)
    targets = tmp_path / "targets.toml"
    targets.write_bytes(b"\xef\xbb\xbf" + TARGETS.encode())
    from credsim.library.calibrate import load_targets
    from credsim.scenario import load

    assert load_targets(targets, load("court-defaulters")[1]).population == 2000


@pytest.mark.parametrize(
    "section, index, name",
    [
        ("channel", 0, "cameras\n"),
        ("activity", 1, "restaurant\n"),
        ("channel", 2, "late_tax\r\n"),
        ("grade", 0, "AAA\n"),
    ],
)
def test_names_ending_in_a_newline_are_refused(section, index, name):
    """``$`` in a pattern matches before a final newline; names must match in full."""
    data = tomllib.loads(ESSAY_TEXT)
    if section == "grade":
        data["grade"] = [{"name": name, "min_score": data["score"]["min"]}]
    else:
        data[section][index]["name"] = name
    with pytest.raises(ScenarioError) as err:
        from_dict(data, "x.toml")
    msg = str(err.value)
    assert msg.startswith(f"x.toml: {section}[{index}].name: ") and "\n" not in msg, msg


def test_dashboard_run_name_with_a_newline_is_refused():
    from credsim.dashboard.server import check_request
    from credsim.scenario import load

    body = {
        "scenario": load("essay")[1].model_dump(mode="json"),
        "name": "essay\n",
        "baseline": "baseline",
        "population": "1000",
        "days": "3",
        "seed": "1",
    }
    request, errors = check_request(body)
    assert request is None and [e["field"] for e in errors] == ["run.name"]


def test_long_values_are_cut_in_messages(tmp_path, cli):
    """A 5,000-character bad name is not echoed whole: its first characters and "…"."""
    long = "Z" * 5000
    data = tomllib.loads(ESSAY_TEXT)
    data["channel"][0]["name"] = long
    with pytest.raises(ScenarioError) as err:
        from_dict(data, "x.toml")
    msg = str(err.value)
    assert "Z" * SHOWN + "…" in msg and "Z" * (SHOWN + 1) not in msg and len(msg) < 200, msg
    f = tmp_path / "long.toml"
    f.write_text(ESSAY_TEXT.replace('name = "public_misconduct"', f'name = "{long}"'))
    proc = cli("run", str(f), "-n", "100", "-d", "2", "--out", str(tmp_path / "o"), "--quiet")
    assert proc.returncode == 2 and len(proc.stderr) < 300 and "…" in proc.stderr, proc.stderr[:500]
    # the dashboard's field messages too
    from credsim.dashboard.server import check_request

    body = {
        "scenario": data,
        "name": "x",
        "baseline": "baseline",
        "population": "1000",
        "days": "3",
        "seed": "9" * 5000,
    }
    _, errors = check_request(body)
    assert errors and all(len(e["message"]) < 200 for e in errors), errors
    # an unknown preset or file named by a very long argument
    for arg in ("y" * 3000, "y" * 3000 + ".toml"):
        proc = cli("run", arg, "-n", "100", "-d", "2", "--out", str(tmp_path / "o"), "--quiet")
        assert proc.returncode == 2 and len(proc.stderr) < 400 and "Traceback" not in proc.stderr, proc.stderr[:500]


def test_run_help_lists_every_backend(cli):
    proc = cli("run", "--help", env={"COLUMNS": "200", "TERM": "dumb"})
    assert proc.returncode == 0
    line = next(ln for ln in proc.stdout.splitlines() if "--backend" in ln)
    assert "cpu|cuda|ray" in line, line


@pytest.mark.parametrize(
    "message, expected",
    [
        ("channel[0].name: " + repr("a" * 500) + " is bad", "channel[0].name: '" + "a" * SHOWN + "…' is bad"),
        ("x: " + repr("it's " + "b" * 100) + ", more", "x: \"it's " + "b" * (SHOWN - 5) + '…", more'),
        ("seed: got " + "9" * 500, "seed: got " + "9" * SHOWN + "…"),
        # apostrophes in words are not quotes: nothing here is a long quoted value
        (
            "compare: scenario 'edge' has channels that differ from the baseline's;"
            " a scorecard needs the same channels",
            "compare: scenario 'edge' has channels that differ from the baseline's;"
            " a scorecard needs the same channels",
        ),
        ("short 'values' stay whole: " + repr("c" * SHOWN), "short 'values' stay whole: " + repr("c" * SHOWN)),
    ],
)
def test_clip_cuts_long_values_only(message, expected):
    from credsim.errors import CredsimError, clip

    assert clip(message) == expected
    assert str(CredsimError(message)) == expected
