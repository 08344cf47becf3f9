"""Reliability: checkpoints and resume give the tables of an uninterrupted run, Ctrl-C stops cleanly,
nothing half-written is ever a result, concurrent catalog writers lose nothing, refused writes
give one line, inputs are data only, and the `run` command line survives fuzzing."""

from __future__ import annotations

import copy
import errno
import io
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import TEST_SEED, scenario_path
from credsim import simulate
from credsim.cli import app
from credsim.engine import run_plan
from credsim.errors import CredsimError
from credsim.plan import Histogram, compile_plan
from credsim.reliability.checkpoint import (
    CHECKPOINT,
    INPUTS,
    RunInputs,
    RunStopped,
    snapshot_arrays,
    snapshot_from_arrays,
    start,
)
from credsim.scenario import load

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

# A run that takes a few seconds in a subprocess on a shared 2-core machine (kill and Ctrl-C tests).
LONG = dict(population=300_000, days=120, seed=7, hist_bins=12, hist_every=9)
LONG_ARGS = [
    "essay",
    "-n",
    str(LONG["population"]),
    "-d",
    str(LONG["days"]),
    "-s",
    str(LONG["seed"]),
    "--hist-bins",
    str(LONG["hist_bins"]),
    "--hist-every",
    str(LONG["hist_every"]),
    "-q",
]
TABLES = ("daily.csv", "regions.csv", "histogram.csv")


def invoke(*args: str):
    """Run the CLI in-process; stderr apart from stdout."""
    return runner.invoke(app, list(args))


def one_line_error(result_or_proc) -> str:
    err = result_or_proc.stderr
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def same_tables(a: Path, b: Path, names=TABLES) -> None:
    for name in names:
        if (b / name).exists() or (a / name).exists():
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def cli_proc(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from credsim.cli import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.005)


def checkpoint_day(work: Path) -> int:
    with np.load(work / CHECKPOINT, allow_pickle=False) as z:
        return int(z["day"])


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory) -> Path:
    """The uninterrupted LONG run, in-process."""
    out = tmp_path_factory.mktemp("ref") / "ref"
    simulate("essay", **LONG).write_dir(out)
    return out


def small_inputs(days=12, every=3, population=501, hist_bins=6, hist_every=4, seed=3) -> RunInputs:
    name, sc = load("essay")
    return RunInputs.new(name, sc, population, days, seed, "cpu", hist_bins, hist_every, every)


def small_reference(out: Path, inputs: RunInputs) -> Path:
    simulate(
        inputs.scenario(),
        inputs.population,
        inputs.days,
        inputs.seed,
        hist_bins=inputs.hist_bins,
        hist_every=inputs.hist_every,
        name=inputs.name,
    ).write_dir(out)
    return out


def stop_at(day: int):
    """An on_day hook that presses Ctrl-C (a real SIGINT to this process) during day ``day``."""

    def on_day(t: int, days: int) -> None:
        if t == day:
            os.kill(os.getpid(), signal.SIGINT)

    return on_day


def stopped_run(tmp_path: Path, inputs: RunInputs, day: int = 5) -> Path:
    """A run of ``inputs`` into tmp_path/o stopped by SIGINT after ``day``: returns its work folder."""
    with pytest.raises(RunStopped) as info:
        start(tmp_path / "o", inputs, on_day=stop_at(day))
    assert info.value.day == day
    return tmp_path / "o.partial"


# --- 1. checkpoints and resume ------------------------------------------------------------------
class Recorder:
    """A checkpoint policy that keeps a deep copy of the snapshot of every day."""

    def __init__(self):
        self.snaps = []

    def due(self, t):
        return True

    def save(self, snap):
        self.snaps.append(copy.deepcopy(snap))


def test_resume_from_every_day_gives_the_uninterrupted_tables():
    _, sc = load(scenario_path("essay"))
    plan = compile_plan(sc, 999, 11, Histogram(5, 3))
    days = 14
    rec = Recorder()
    full = run_plan(plan, days, checkpoint=rec)
    plain = run_plan(plan, days)
    assert np.array_equal(full.daily, plain.daily) and np.array_equal(full.regions, plain.regions)
    assert [s.day for s in rec.snaps] == list(range(1, days + 1))
    inputs = RunInputs.new("essay", sc, 999, days, 11, "cpu", 5, 3, 1)
    raw = inputs.to_bytes()
    for snap in rec.snaps[:-1]:
        # through the file format: .npz written and read back without pickle, checked against the plan
        buf = io.BytesIO()
        np.savez(buf, **snapshot_arrays(snap, raw))
        buf.seek(0)
        with np.load(buf, allow_pickle=False) as z:
            back = snapshot_from_arrays({k: z[k] for k in z.files}, plan, inputs, raw, CredsimError)
        resumed = run_plan(plan, days, resume_from=back)
        assert np.array_equal(resumed.daily, full.daily), snap.day
        assert np.array_equal(resumed.regions, full.regions), snap.day
        assert np.array_equal(resumed.hist, full.hist) and resumed.hist_days == full.hist_days, snap.day


def test_auto_cadence_follows_wall_time_not_an_assumed_speed(tmp_path):
    """``auto`` checkpoints once AUTO_INTERVAL_S of wall time has passed, measured, on any machine."""
    from credsim.reliability.checkpoint import AUTO_INTERVAL_S, WRITE_OVERHEAD, Checkpointer, Work

    now = [0.0]
    cp = Checkpointer(Work(tmp_path / "o.partial"), b"", days=1000, every="auto", clock=lambda: now[0])
    assert not cp.due(1)  # a run shorter than the interval never writes one
    now[0] = AUTO_INTERVAL_S - 0.5
    assert not cp.due(2)
    now[0] = AUTO_INTERVAL_S
    assert cp.due(3) and not cp.due(1000)  # never after the last day
    # slow day (one day longer than the interval): due after that day, however few days have passed
    cp.last_save, now[0] = 0.0, 10 * AUTO_INTERVAL_S
    assert cp.due(4)
    # a checkpoint that takes long to write spaces them out to keep the overhead at 1/WRITE_OVERHEAD
    big = Checkpointer(Work(tmp_path / "p.partial"), b"", days=1000, every="auto", state_bytes=10**11, clock=lambda: 0.0)
    assert big.interval_s == WRITE_OVERHEAD * 10**11 / 2e8 > AUTO_INTERVAL_S
    res = invoke("run", "essay", "-n", "10", "-d", "2", "-o", "/tmp/never", "--checkpoint-every", "soon")
    assert res.exit_code == 2 and "checkpoint-every" in one_line_error(res)


def test_sigkill_at_a_random_day_then_resume_matches(tmp_path, long_reference):
    out = tmp_path / "run"
    work = tmp_path / "run.partial"
    target = random.Random(TEST_SEED).randrange(3, LONG["days"] // 2)
    print(f"kill at the first checkpoint on or after day {target} (CREDSIM_TEST_SEED={TEST_SEED})")
    proc = cli_proc("run", *LONG_ARGS, "--out", str(out), "--checkpoint-every", "3")
    wait_for(work / CHECKPOINT, proc)
    while checkpoint_day(work) < target:  # the file is replaced atomically: always a whole checkpoint
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    day = checkpoint_day(work)
    assert target <= day < LONG["days"] and day % 3 == 0
    assert not out.exists()
    assert not [p for p in work.iterdir() if p.name.startswith(".")]  # no temporary file is ever left visible
    # the interrupted run is listed as unfinished, never as a result
    listed = invoke("incomplete", str(tmp_path))
    assert listed.exit_code == 0 and "run.partial" in listed.stdout and f"{day}/{LONG['days']}" in listed.stdout
    res = invoke("resume", str(work), "-q")
    assert res.exit_code == 0, res.stderr
    assert not work.exists() and (out / "run.json").exists()
    same_tables(out, long_reference)
    assert "no unfinished work" in invoke("incomplete", str(tmp_path)).stdout


# --- 2. Ctrl-C -----------------------------------------------------------------------------------
def test_ctrl_c_stops_at_end_of_day_with_checkpoint_and_exit_130(tmp_path, long_reference):
    out = tmp_path / "run"
    work = tmp_path / "run.partial"
    proc = cli_proc("run", *LONG_ARGS, "--out", str(out), "--checkpoint-every", "40")
    wait_for(work / CHECKPOINT, proc)  # the day loop is running
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    day = checkpoint_day(work)
    assert 40 <= day < LONG["days"]  # saved at the end of the day the signal came in
    assert f"stopped by SIGINT after day {day} of {LONG['days']}" in err and f"credsim resume {work}" in err
    assert not out.exists()
    res = invoke("resume", str(out), "-q")  # OUT itself names its work folder too
    assert res.exit_code == 0, res.stderr
    same_tables(out, long_reference)
    assert not work.exists()


def test_ctrl_c_in_process_and_resume_cadence(tmp_path):
    inputs = small_inputs(days=12, every=0)
    work = stopped_run(tmp_path, inputs, day=5)
    assert checkpoint_day(work) == 5 and not (tmp_path / "o").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    # stop the resumed run again, later
    with pytest.raises(RunStopped):
        from credsim.reliability.checkpoint import resume

        resume(work, on_day=stop_at(9))
    assert checkpoint_day(work) == 9
    assert invoke("resume", str(work), "-q").exit_code == 0
    same_tables(tmp_path / "o", small_reference(tmp_path / "ref", inputs))


# --- 3. complete only when complete; concurrent writers -------------------------------------------
def test_run_refuses_to_start_over_an_unfinished_run(tmp_path):
    work = stopped_run(tmp_path, small_inputs())
    res = invoke("run", "essay", "-n", "501", "-d", "12", "-o", str(tmp_path / "o"), "-q")
    line = one_line_error(res)
    assert res.exit_code == 2 and "holds an unfinished run" in line and "checkpoint at day 5" in line
    assert checkpoint_day(work) == 5  # untouched


def test_one_process_per_work_folder(tmp_path):
    from credsim.reliability.checkpoint import Work

    work = stopped_run(tmp_path, small_inputs())
    held = Work.open(work)
    held.lock()
    try:
        res = invoke("resume", str(work), "-q")
        assert res.exit_code == 2 and "another credsim process is working" in one_line_error(res)
    finally:
        held.unlock()
    assert invoke("resume", str(work), "-q").exit_code == 0


def test_two_processes_adding_runs_to_one_catalog_lose_nothing(tmp_path):
    cat = tmp_path / "cat.duckdb"
    script = (
        "import sys\n"
        "from credsim import simulate\n"
        "from credsim.results.store import Catalog\n"
        "cat = Catalog(sys.argv[1])\n"
        "for i in range(4):\n"
        "    r = simulate('essay', population=100 + int(sys.argv[2]) * 10 + i, days=4, seed=i)\n"
        "    r.run_id = f'p{sys.argv[2]}-{i}'\n"
        "    cat.add(r)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(cat), str(k)], stderr=subprocess.PIPE, text=True)
        for k in (1, 2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    from credsim.results.store import Catalog

    c = Catalog(cat, create=False)
    ids = set(c.runs()["run_id"])
    assert ids == {f"p{k}-{i}" for k in (1, 2) for i in range(4)}
    for k in (1, 2):
        for i in range(4):
            r = c.load(f"p{k}-{i}")
            assert r.population == 100 + k * 10 + i and r.tables.daily.shape[0] == 4


def test_incomplete_catalog_rows_are_listed_but_never_results(tmp_path):
    from credsim.results.store import Catalog

    cat = Catalog(tmp_path / "c.duckdb")
    r = simulate("essay", population=50, days=2, seed=1)
    rid = cat.add(r)
    with cat.connect(write=True) as con:  # a row left incomplete by some writer
        con.execute("UPDATE runs SET complete = false WHERE run_id = ?", [rid])
    assert rid not in set(cat.runs()["run_id"])
    res = invoke("incomplete", str(tmp_path), "--catalog", str(tmp_path / "c.duckdb"))
    assert res.exit_code == 0 and "incomplete catalog row" in res.stdout


# --- 4. refused writes -----------------------------------------------------------------------------
def failing_fsync(fragment: str, nth: int):
    """os.fsync that raises ENOSPC on the nth fsync of a file whose path contains ``fragment``."""
    real = os.fsync
    seen = [0]

    def fake(fd):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if fragment in target:
            seen[0] += 1
            if seen[0] == nth:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    return fake


def test_out_under_a_file_is_one_line_and_creates_nothing(tmp_path):
    (tmp_path / "afile").write_text("x")
    res = invoke("run", "essay", "-n", "50", "-d", "2", "-o", str(tmp_path / "afile" / "sub"), "-q")
    line = one_line_error(res)
    assert res.exit_code == 2 and "cannot create" in line and "is not a folder" in line
    res = invoke("run", "essay", "-n", "50", "-d", "2", "-o", str(tmp_path / "afile" / "sub" / "deeper"), "-q")
    assert res.exit_code == 2 and "Not a directory" in one_line_error(res)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_disk_full_at_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", failing_fsync(".checkpoint.npz.tmp", 2))
    res = invoke(
        "run",
        "essay",
        "-n",
        "501",
        "-d",
        "12",
        "-s",
        "3",
        "--hist-bins",
        "6",
        "--hist-every",
        "4",
        "--checkpoint-every",
        "3",
        "-o",
        str(tmp_path / "o"),
        "-q",
    )
    line = one_line_error(res)
    assert res.exit_code == 2 and "No space left on device" in line and "checkpoint of day 3 is intact" in line
    monkeypatch.undo()
    work = tmp_path / "o.partial"
    assert not (tmp_path / "o").exists()
    assert sorted(p.name for p in work.iterdir()) == [CHECKPOINT, INPUTS, "lock"]
    assert checkpoint_day(work) == 3
    assert invoke("resume", str(work), "-q").exit_code == 0
    same_tables(tmp_path / "o", small_reference(tmp_path / "ref", small_inputs()))


def test_disk_full_on_the_first_checkpoint_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", failing_fsync(".checkpoint.npz.tmp", 1))
    res = invoke("run", "essay", "-n", "501", "-d", "12", "--checkpoint-every", "3", "-o", str(tmp_path / "o"), "-q")
    assert res.exit_code == 2 and "no checkpoint was kept" in one_line_error(res)
    assert list(tmp_path.iterdir()) == []


def test_disk_full_writing_the_output_keeps_the_finished_tables(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", failing_fsync(f"{tmp_path}/.o.", 1))
    res = invoke(
        "run",
        "essay",
        "-n",
        "501",
        "-d",
        "12",
        "-s",
        "3",
        "--hist-bins",
        "6",
        "--hist-every",
        "4",
        "-o",
        str(tmp_path / "o"),
        "-q",
    )
    line = one_line_error(res)
    assert res.exit_code == 2 and "No space left on device" in line and "finished tables are kept" in line
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.partial"]  # no half-written output folder
    assert checkpoint_day(tmp_path / "o.partial") == 12
    assert invoke("resume", str(tmp_path / "o.partial"), "-q").exit_code == 0
    same_tables(tmp_path / "o", small_reference(tmp_path / "ref", small_inputs()))


# --- 5. data only; paths stay inside -------------------------------------------------------------
def test_no_eval_exec_or_pickle_in_the_package():
    pattern = re.compile(r"\beval\(|\bexec\(|pickle")
    offenders = []
    for f in sorted((ROOT / "credsim").rglob("*.py")):
        for i, line in enumerate(f.read_text("utf-8").splitlines(), 1):
            if "allow_pickle=True" in line or pattern.search(line.replace("allow_pickle=False", "")):
                offenders.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("name", [CHECKPOINT, INPUTS])
def test_resume_refuses_symlinks_out_of_the_folder(tmp_path, name):
    work = stopped_run(tmp_path, small_inputs())
    outside = tmp_path / f"outside-{name}"
    (work / name).rename(outside)
    (work / name).symlink_to(outside)
    res = invoke("resume", str(work), "-q")
    assert res.exit_code == 2 and "links outside" in one_line_error(res)
    assert not (tmp_path / "o").exists()


def test_resume_refuses_what_is_not_a_work_folder(tmp_path):
    (tmp_path / "plain").mkdir()
    for target in (tmp_path / "plain", tmp_path / "missing.partial", tmp_path):
        res = invoke("resume", str(target), "-q")
        assert res.exit_code == 2 and "not an unfinished run" in one_line_error(res)
    (tmp_path / "x.partial").mkdir()
    res = invoke("resume", str(tmp_path / "x.partial"), "-q")
    assert res.exit_code == 2 and "has no inputs.json" in one_line_error(res)


def _damage_truncate(work: Path) -> str:
    data = (work / CHECKPOINT).read_bytes()
    (work / CHECKPOINT).write_bytes(data[: len(data) // 2])
    return "is damaged"


def _damage_object_array(work: Path) -> str:
    with np.load(work / CHECKPOINT, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["daily"] = np.array([{"a": 1}], dtype=object)  # np.savez stores this as a pickle
    with open(work / CHECKPOINT, "wb") as fh:
        np.savez(fh, **arrays)
    return "is damaged"


def _damage_shape(work: Path) -> str:
    from credsim.reliability.checkpoint import CHECKSUM_PREFIX, array_digest

    with np.load(work / CHECKPOINT, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["state_own"] = arrays["state_own"][:-1]
    arrays[CHECKSUM_PREFIX + "state_own"] = array_digest("state_own", arrays["state_own"])  # checksums agree
    with open(work / CHECKPOINT, "wb") as fh:
        np.savez(fh, **arrays)
    return "state_own: expected int16(501,)"


def _damage_inputs(work: Path) -> str:
    text = (work / INPUTS).read_text().replace('"population": 501', '"population": 502')
    (work / INPUTS).write_text(text)
    return "other inputs"


def _damage_code_version(work: Path) -> str:
    text = re.sub(r'"code_version": "[^"]*"', '"code_version": "0.0.0+elsewhere"', (work / INPUTS).read_text())
    (work / INPUTS).write_text(text)
    return "continues exactly only under the code that wrote it"


def _damage_inputs_json(work: Path) -> str:
    (work / INPUTS).write_text('{"format": "credsim-run-inputs/1", "name": "x"')
    return "not valid JSON"


@pytest.mark.parametrize(
    "damage",
    [_damage_truncate, _damage_object_array, _damage_shape, _damage_inputs, _damage_code_version, _damage_inputs_json],
)
def test_damaged_work_folders_are_one_line_errors(tmp_path, damage):
    work = stopped_run(tmp_path, small_inputs())
    needle = damage(work)
    res = invoke("resume", str(work), "-q")
    assert res.exit_code == 2 and needle in one_line_error(res)
    assert not (tmp_path / "o").exists() and work.exists()  # the user's work is never deleted on a refusal


# --- 6. fuzz the `run` command line ----------------------------------------------------------------
def no_digits(max_size=6):
    return st.text(max_size=max_size).filter(lambda s: not any(c.isdigit() for c in s))


POPULATION_OK = st.one_of(st.integers(1, 40).map(str), st.sampled_from(["1e1", "2_0", " 7 ", "3.0"]))
DAYS_OK = st.one_of(st.integers(1, 4).map(str), st.just("2e0"))
SEED_OK = st.one_of(st.integers(0, 2**64 - 1).map(str), st.integers(0, 2**64 - 1).map(hex), st.just("1_000"))
HIST_BINS_OK = st.integers(0, 1000).map(str)
HIST_EVERY_OK = st.integers(1, 5).map(str)
POPULATION = st.one_of(
    POPULATION_OK,
    st.sampled_from(
        [
            "0",
            "-5",
            "1.5",
            "1e1",
            "2e1",
            "nan",
            "inf",
            "-inf",
            "1e11",
            "2e11",
            "1_0",
            "",
            " ",
            "[/]",
            "1e",
            "0x10",
            "1e-3",
        ]
    ),
    no_digits(),
)
DAYS = st.one_of(DAYS_OK, st.sampled_from(["0", "70000", "-1", "1.5", "2e0", "", "[red]"]), no_digits())
SEED = st.one_of(
    SEED_OK,
    st.integers(-3, 2**65).map(str),
    st.sampled_from(["0x1f", "010", "1_000", "", "-0", "1e3"]),
    st.text(max_size=6),
)
# (not "ray": where it is installed it is valid, and starting it takes seconds)
BACKEND = st.one_of(st.just("cpu"), st.sampled_from(["cuda", "CPU", "", "gpu", "[/]", "cpu "]), st.text(max_size=4))
HIST_BINS = st.one_of(HIST_BINS_OK, st.integers(-2, 1002).map(str), st.sampled_from(["", "1e1", "[/]"]), no_digits())
HIST_EVERY = st.one_of(HIST_EVERY_OK, st.integers(-1, 5).map(str), st.sampled_from(["70000", "", "x"]), no_digits())


def check_run_arguments(pop, days, seed, backend, bins, every) -> int:
    """Run ``credsim run`` in-process; it succeeds completely or fails in one line leaving nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "o"
        res = invoke(
            "run",
            "essay",
            f"--population={pop}",
            f"--days={days}",
            f"--seed={seed}",
            f"--backend={backend}",
            f"--hist-bins={bins}",
            f"--hist-every={every}",
            "--out",
            str(out),
            "-q",
        )
        assert res.exit_code in (0, 2), (res.exit_code, res.stderr, res.exception)
        event(f"exit {res.exit_code}")
        if res.exit_code == 0:
            assert (out / "run.json").exists()
        else:
            one_line_error(res)
            assert not out.exists()
        assert not (Path(tmp) / "o.partial").exists()
        return res.exit_code


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pop=POPULATION, days=DAYS, seed=SEED, backend=BACKEND, bins=HIST_BINS, every=HIST_EVERY)
def test_fuzz_run_arguments_run_or_fail_in_one_line(pop, days, seed, backend, bins, every):
    check_run_arguments(pop, days, seed, backend, bins, every)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pop=POPULATION_OK, days=DAYS_OK, seed=SEED_OK, bins=HIST_BINS_OK, every=HIST_EVERY_OK)
def test_fuzz_valid_run_arguments_run(pop, days, seed, bins, every):
    assert check_run_arguments(pop, days, seed, "cpu", bins, every) == 0


# --- other backends (the checkpoint uses only .state() / .load_state() of full-population arrays) ---
def test_checkpoints_move_between_cpu_and_ray_backends(tmp_path):
    pytest.importorskip("ray")
    from credsim.reliability.checkpoint import resume

    inputs = small_inputs(days=12, every=0, population=2001)
    work = stopped_run(tmp_path, inputs, day=5)  # cpu
    with pytest.raises(RunStopped):
        resume(work, backend="ray", shards=2, on_day=stop_at(9))  # ray loads the cpu checkpoint, writes its own
    assert checkpoint_day(work) == 9
    res = invoke("resume", str(work), "-b", "cpu", "-q")  # and cpu continues from ray's
    assert res.exit_code == 0, res.stderr
    same_tables(tmp_path / "o", small_reference(tmp_path / "ref", inputs))


def test_interrupted_output_writes_are_listed_never_results(tmp_path):
    stale = tmp_path / ".o.k2j4x9q1"  # what a write_dir killed half-way leaves: no run.json
    stale.mkdir()
    (stale / "daily.csv").write_text("day\n")
    res = invoke("incomplete", str(tmp_path))
    assert res.exit_code == 0 and "interrupted write" in res.stdout and ".o.k2j4x9q1" in res.stdout
    res = invoke("resume", str(tmp_path / "o"), "-q")
    assert res.exit_code == 2 and "not an unfinished run" in one_line_error(res)

