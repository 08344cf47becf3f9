"""Fault injection: the promises of README "Reliability", each tried for real.

* SIGTERM, SIGHUP and SIGINT at a random day stop the run after that day with a checkpoint, one
  line naming the resume command and exit code 128 + signal; SIGKILL loses at most the days since
  the last checkpoint. Every interrupted run, on cpu and on ray (2 shards), resumes to tables
  byte-identical to an uninterrupted run.
* A full disk (ENOSPC) at a checkpoint and a read-only output folder (EROFS) when the run ends give
  one line and keep the work; a corrupted and a truncated checkpoint are refused in one line.
* A killed Ray shard stops the run in one line, without hanging; two processes writing one catalog
  lose nothing.

Days are drawn from a seeded generator (the seed is printed); faults are injected by a small driver
that wraps the real command line (``python -c DRIVER DAY SIGNAL credsim-args...``): the signal is a
real one, sent by the process to itself at the end of that day's work, and handled by the real
handlers. The table of faults tried and their outcomes is printed at the end of the session.
"""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import record_fault
from typer.testing import CliRunner

from credsim import simulate
from credsim.cli import app
from credsim.reliability.checkpoint import CHECKPOINT

SEED = 20251201
TABLES = ("daily.csv", "regions.csv", "histogram.csv")
runner = CliRunner()

CPU = dict(population=20_001, days=24, seed=9, hist_bins=8, hist_every=5)
RAY = dict(population=2_001, days=14, seed=4, hist_bins=5, hist_every=3)


def args_of(cfg: dict) -> list[str]:
    return [
        "essay",
        "-n",
        str(cfg["population"]),
        "-d",
        str(cfg["days"]),
        "-s",
        str(cfg["seed"]),
        "--hist-bins",
        str(cfg["hist_bins"]),
        "--hist-every",
        str(cfg["hist_every"]),
        "-q",
    ]


#: The real `credsim` command line, with an on_day hook that sends SIGNAL to this very process at the
#: end of day DAY (before that day's checkpoint, if one is due). SIGNAL 0: no signal.
DRIVER = """
import os, sys
import credsim.reliability.checkpoint as cp
day, sig, twice = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "twice"
real = cp.run_plan
def run_plan(*a, on_day=None, **kw):
    def hook(t, days):
        if on_day is not None:
            on_day(t, days)
        if t == day and sig:
            os.kill(os.getpid(), sig)
            if twice:
                os.kill(os.getpid(), sig)
    return real(*a, on_day=hook, **kw)
cp.run_plan = run_plan
sys.argv = ["credsim", *sys.argv[4:]]
from credsim.cli import main
main()
"""


def drive(day: int, sig: int, *args: str, twice: bool = False, env: dict | None = None, timeout: float = 300):
    return subprocess.run(
        [sys.executable, "-c", DRIVER, str(day), str(sig), "twice" if twice else "once", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def checkpoint_day(work: Path) -> int:
    with np.load(work / CHECKPOINT, allow_pickle=False) as z:
        return int(z["day"])


def same_tables(a: Path, b: Path) -> None:
    for name in TABLES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def one_line_error(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert "Traceback" not in text, text
    assert len(lines) == 1 and lines[0].startswith("error: "), text
    return lines[0]


@pytest.fixture
def rng(request) -> random.Random:
    """Each test's own generator, seeded by SEED and the test's name (so -k does not change its draws)."""
    seed = f"{SEED}:{request.node.name}"
    print(f"random days drawn with random.Random({seed!r})")
    return random.Random(seed)


@pytest.fixture(scope="module")
def cpu_reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "cpu"
    simulate("essay", **CPU).write_dir(out)
    return out


@pytest.fixture(scope="module")
def ray_reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "ray"
    simulate("essay", **RAY).write_dir(out)  # the cpu backend: every backend gives the same integers
    return out


# --- stop signals and SIGKILL on the cpu backend --------------------------------------------------
STOPS = [("SIGTERM", signal.SIGTERM, 143), ("SIGHUP", signal.SIGHUP, 129), ("SIGINT", signal.SIGINT, 130)]


def test_a_hangup_the_parent_ignores_stays_ignored(tmp_path, cpu_reference):
    """Started under ``nohup`` (SIGHUP ignored), a run keeps ignoring SIGHUP and finishes whole."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # inherited by the run; the fixture puts it back
    out = tmp_path / "o"
    proc = drive(3, signal.SIGHUP, "run", *args_of(CPU), "-o", str(out), "--checkpoint-every", "0")
    assert proc.returncode == 0, proc.stderr
    same_tables(out, cpu_reference)


@pytest.mark.parametrize("name,sig,code", STOPS, ids=[s[0] for s in STOPS])
def test_stop_signal_at_a_random_day_then_resume_is_identical(tmp_path, cpu_reference, name, sig, code, rng):
    day = rng.randrange(2, CPU["days"] - 1)
    print(f"{name} at the end of day {day}")
    out, work = tmp_path / "o", tmp_path / "o.partial"
    proc = drive(day, sig, "run", *args_of(CPU), "-o", str(out), "--checkpoint-every", "0")
    assert proc.returncode == code, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [
        f"stopped by {name} after day {day} of {CPU['days']}; checkpoint saved; continue with: credsim resume {work}"
    ], proc.stderr
    assert checkpoint_day(work) == day and not out.exists()
    res = invoke("resume", work, "-q")
    assert res.exit_code == 0, res.stderr
    same_tables(out, cpu_reference)
    assert not work.exists()
    record_fault(f"{name} at day {day}/{CPU['days']}", "cpu", f"exit {code}, checkpoint day {day}, resumed identical")


def test_sigkill_at_a_random_day_loses_only_the_days_since_the_last_checkpoint(tmp_path, cpu_reference, rng):
    day = rng.randrange(5, CPU["days"] - 1)
    print(f"SIGKILL at the end of day {day}")
    out, work = tmp_path / "o", tmp_path / "o.partial"
    proc = drive(day, signal.SIGKILL, "run", *args_of(CPU), "-o", str(out), "--checkpoint-every", "3")
    assert proc.returncode == -signal.SIGKILL
    kept = checkpoint_day(work)
    assert kept == 3 * ((day - 1) // 3)  # the last checkpoint before the kill (day's own was not yet due)
    assert not [p for p in work.iterdir() if p.name.startswith(".")]  # no temporary file left visible
    res = invoke("resume", work, "-q")
    assert res.exit_code == 0, res.stderr
    same_tables(out, cpu_reference)
    record_fault(f"SIGKILL at day {day}/{CPU['days']}", "cpu", f"killed; checkpoint day {kept} kept, resumed identical")


def test_a_second_sigterm_stops_at_once_and_the_last_checkpoint_stays_valid(tmp_path, cpu_reference, rng):
    day = rng.randrange(5, CPU["days"] - 1)
    print(f"two SIGTERMs at the end of day {day}")
    out, work = tmp_path / "o", tmp_path / "o.partial"
    proc = drive(day, signal.SIGTERM, "run", *args_of(CPU), "-o", str(out), "--checkpoint-every", "2", twice=True)
    assert proc.returncode == -signal.SIGTERM  # the default action: no second chance to write anything
    kept = checkpoint_day(work)
    assert kept == 2 * ((day - 1) // 2)
    assert invoke("resume", work, "-q").exit_code == 0
    same_tables(out, cpu_reference)
    record_fault(
        f"SIGTERM twice at day {day}/{CPU['days']}",
        "cpu",
        f"died at once; checkpoint day {kept} valid, resumed identical",
    )


def test_sigterm_from_outside_at_a_random_moment(tmp_path, rng):
    """What `kill`, `timeout`, a scheduler or systemd do: SIGTERM from another process, at a moment
    of its choosing (here a seeded delay after the run began: in set-up, or inside some day's kernel)."""
    cfg = dict(population=200_001, days=160, seed=2, hist_bins=3, hist_every=40)
    out, work = tmp_path / "o", tmp_path / "o.partial"
    delay = rng.uniform(0.0, 1.5)
    print(f"SIGTERM {delay:.2f} s after the work folder appeared")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from credsim.cli import main; main()",
            "run",
            *args_of(cfg),
            "-o",
            str(out),
            "--checkpoint-every",
            "0",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (work / "inputs.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    time.sleep(delay)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    day = checkpoint_day(work)
    assert 1 <= day < cfg["days"] and f"stopped by SIGTERM after day {day} of {cfg['days']}" in err
    res = invoke("resume", work, "-q")
    assert res.exit_code == 0, res.stderr
    simulate("essay", **cfg).write_dir(tmp_path / "ref")
    same_tables(out, tmp_path / "ref")
    record_fault(
        f"SIGTERM from outside after {delay:.2f} s (day {day}/{cfg['days']})",
        "cpu",
        "exit 143, checkpoint, resumed identical",
    )


# --- the same on ray (2 shards), connected to one local Ray session -------------------------------
@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    from credsim.backends.ray.pool import shutdown_pool

    if ray.is_initialized():
        ray.shutdown()
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        shutdown_pool()
        ray.shutdown()


RAY_ARGS = ["--backend", "ray", "--shards", "2"]


@pytest.mark.parametrize(
    "name,sig,code", [("SIGTERM", signal.SIGTERM, 143), ("SIGKILL", signal.SIGKILL, -9)], ids=["SIGTERM", "SIGKILL"]
)
def test_ray_driver_signalled_at_a_random_day_resumes_identical(
    tmp_path, ray_session, ray_reference, name, sig, code, rng
):
    day = rng.randrange(3, RAY["days"] - 1)
    print(f"{name} to a ray driver at the end of day {day}")
    out, work = tmp_path / "o", tmp_path / "o.partial"
    proc = drive(
        day,
        sig,
        "run",
        *args_of(RAY),
        *RAY_ARGS,
        "-o",
        str(out),
        "--checkpoint-every",
        "2",
        env={"RAY_ADDRESS": ray_session},
    )
    assert proc.returncode == code, proc.stderr
    kept = checkpoint_day(work)
    if sig == signal.SIGKILL:
        assert kept == 2 * ((day - 1) // 2)
    else:
        assert kept == day and f"stopped by SIGTERM after day {day}" in proc.stderr
    res = invoke("resume", work, *RAY_ARGS, "-q")  # in this process, on the same Ray session
    assert res.exit_code == 0, res.stderr
    same_tables(out, ray_reference)
    record_fault(
        f"{name} at day {day}/{RAY['days']}",
        "ray, 2 shards",
        f"{'exit ' + str(code) if code > 0 else 'killed'}; checkpoint day {kept}, resumed identical",
    )


@pytest.mark.parametrize("name,sig", [("SIGHUP", signal.SIGHUP), ("SIGINT", signal.SIGINT)], ids=["SIGHUP", "SIGINT"])
def test_ray_run_stopped_in_process_resumes_identical(tmp_path, ray_session, ray_reference, name, sig, rng):
    day = rng.randrange(2, RAY["days"] - 1)
    print(f"{name} at the end of day {day} (in this process)")
    from credsim.reliability.checkpoint import RunInputs, RunStopped, start
    from credsim.scenario import load

    _, sc = load("essay")
    inputs = RunInputs.new(
        "essay", sc, RAY["population"], RAY["days"], RAY["seed"], "ray", RAY["hist_bins"], RAY["hist_every"], 0
    )

    def on_day(t, days):
        if t == day:
            os.kill(os.getpid(), sig)

    with pytest.raises(RunStopped) as info:
        start(tmp_path / "o", inputs, on_day=on_day, shards=2)
    assert info.value.signum == sig and info.value.exit_code == 128 + sig and info.value.day == day
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers given back
    res = invoke("resume", tmp_path / "o.partial", *RAY_ARGS, "-q")
    assert res.exit_code == 0, res.stderr
    same_tables(tmp_path / "o", ray_reference)
    record_fault(
        f"{name} at day {day}/{RAY['days']}",
        "ray, 2 shards",
        f"exit {128 + sig}, checkpoint day {day}, resumed identical",
    )


def test_ray_actors_reuse_the_cached_kernel_compile(ray_session):
    """The plan reaches an actor read-only (Ray's object store); the actor copies its arrays, so numba
    finds the cached writable-array compile and adds no read-only specialisation."""
    import ray

    from credsim.backends.ray.driver import RayBackend
    from credsim.engine import run_plan
    from credsim.plan import compile_plan
    from credsim.scenario import load

    _, sc = load("essay")
    plan = compile_plan(sc, 1017, 1)
    t0 = time.monotonic()
    tables = run_plan(plan, 3, "ray", shards=3)
    assert np.array_equal(tables.daily, run_plan(plan, 3).daily)
    be = RayBackend(plan, shards=3)
    be.init()
    try:
        sigs = ray.get([a.kernel_signatures.remote() for a in be.actors])
    finally:
        be.close()
    for k, per_actor in enumerate(sigs):
        assert {s["function"] for s in per_actor} == {"run_day", "init_state"}, per_actor
        assert all(not s["readonly"] for s in per_actor), f"shard {k} compiled for read-only arrays: {per_actor}"
        assert len(per_actor) == 2, per_actor  # one signature each: the cached one
    took = time.monotonic() - t0
    record_fault("plan read-only in 3 actors", "ray, 3 shards", f"no read-only recompile; 3 days in {took:.1f} s")


def test_a_killed_ray_shard_is_one_line_and_no_hang(tmp_path, ray_session, ray_reference, monkeypatch, rng):
    from credsim.backends.ray import driver as ray_backend

    day = rng.randrange(3, RAY["days"] - 1)
    print(f"shard 1 killed (SIGKILL to its process) before day {day}")
    real_day = ray_backend.RayBackend.day

    def day_with_a_kill(self, t, *a, **kw):
        if t == day:
            os.kill(self.hosts[1]["pid"], signal.SIGKILL)
        return real_day(self, t, *a, **kw)

    monkeypatch.setattr(ray_backend.RayBackend, "day", day_with_a_kill)
    t0 = time.monotonic()
    res = invoke("run", *args_of(RAY), *RAY_ARGS, "-o", tmp_path / "o", "--checkpoint-every", "2")
    took = time.monotonic() - t0
    line = one_line_error(res.stderr)
    assert res.exit_code == 2 and "ray: shard 1 of 2" in line and "run aborted" in line, line
    assert took < 120
    monkeypatch.undo()
    kept = checkpoint_day(tmp_path / "o.partial")
    assert kept == 2 * ((day - 1) // 2)
    res = invoke("resume", tmp_path / "o.partial", "-b", "cpu", "-q")
    assert res.exit_code == 0, res.stderr
    same_tables(tmp_path / "o", ray_reference)
    record_fault(
        f"shard process SIGKILLed before day {day}",
        "ray, 2 shards",
        f"exit 2 in {took:.0f} s, one line; checkpoint day {kept}, resumed identical",
    )


# --- full disk, read-only folder, damaged checkpoints -----------------------------------------------
def test_full_disk_at_a_checkpoint_mid_run(tmp_path, cpu_reference, monkeypatch):
    import credsim.reliability.checkpoint as cp

    real, calls = cp.atomic_write, []

    def enospc_on_the_third_checkpoint(path, write):
        if Path(path).name == CHECKPOINT:
            calls.append(path)
            if len(calls) == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, write)

    monkeypatch.setattr(cp, "atomic_write", enospc_on_the_third_checkpoint)
    res = invoke("run", *args_of(CPU), "-o", tmp_path / "o", "--checkpoint-every", "4")
    line = one_line_error(res.stderr)
    assert res.exit_code == 2 and "No space left on device" in line and "checkpoint of day 8 is intact" in line
    monkeypatch.undo()
    assert checkpoint_day(tmp_path / "o.partial") == 8 and not (tmp_path / "o").exists()
    assert invoke("resume", tmp_path / "o.partial", "-q").exit_code == 0
    same_tables(tmp_path / "o", cpu_reference)
    record_fault("ENOSPC at the 3rd checkpoint (day 12)", "cpu", "exit 2, one line; day 8 kept, resumed identical")


def test_read_only_output_folder_when_the_run_ends(tmp_path, cpu_reference, monkeypatch):
    import credsim.fsutil as fsutil

    real = fsutil.make_temp_dir

    def erofs(destination):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(fsutil, "make_temp_dir", erofs)
    res = invoke("run", *args_of(CPU), "-o", tmp_path / "o")
    line = one_line_error(res.stderr)
    assert res.exit_code == 2 and "Read-only file system" in line and "finished tables are kept" in line
    monkeypatch.setattr(fsutil, "make_temp_dir", real)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.partial"]
    assert checkpoint_day(tmp_path / "o.partial") == CPU["days"]
    assert invoke("resume", tmp_path / "o.partial", "-q").exit_code == 0  # after a remount read-write
    same_tables(tmp_path / "o", cpu_reference)
    record_fault("EROFS writing the output folder", "cpu", "exit 2, one line; finished tables kept, resumed identical")


@pytest.mark.parametrize("damage", ["corrupted", "truncated"])
def test_corrupted_and_truncated_checkpoints_are_one_line(tmp_path, damage, rng):
    day = rng.randrange(2, 8)
    out, work = tmp_path / "o", tmp_path / "o.partial"
    proc = drive(day, signal.SIGTERM, "run", *args_of(CPU), "-o", str(out))
    assert proc.returncode == 143, proc.stderr
    data = bytearray((work / CHECKPOINT).read_bytes())
    if damage == "truncated":
        data = data[: len(data) * 2 // 3]
    else:
        with np.load(work / CHECKPOINT, allow_pickle=False) as z:
            own = z["state_own"].tobytes()
        at = data.find(own) + rng.randrange(len(own))
        data[at] ^= 0x10
    (work / CHECKPOINT).write_bytes(bytes(data))
    res = invoke("resume", work, "-q")
    line = one_line_error(res.stderr)
    assert res.exit_code == 2 and "is damaged" in line
    assert work.exists() and not out.exists()
    record_fault(f"{damage} checkpoint", "cpu", "exit 2: " + line.split("(", 1)[-1].split(")")[0][:60])


def test_two_processes_recording_runs_in_one_catalog_lose_nothing(tmp_path):
    cat = tmp_path / "c.duckdb"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from credsim.cli import main; main()",
                "run",
                "essay",
                "-n",
                str(3000 + k),
                "-d",
                "6",
                "-o",
                str(tmp_path / f"o{k}"),
                "--catalog",
                str(cat),
                "-q",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    import json

    from credsim.results.store import Catalog

    ids = {json.loads((tmp_path / f"o{k}" / "run.json").read_text())["run_id"] for k in range(2)}
    assert set(Catalog(cat).runs()["run_id"]) == ids and len(ids) == 2
    for k in range(2):
        rid = json.loads((tmp_path / f"o{k}" / "run.json").read_text())["run_id"]
        stored = Catalog(cat).load(rid)
        assert stored.population == 3000 + k
        assert (tmp_path / f"o{k}" / "daily.csv").read_bytes() == _csv(stored)
    record_fault("2 processes recording runs in one catalog at once", "cpu", "both runs stored, tables identical")


def _csv(result) -> bytes:
    from credsim.results.run import csv_bytes

    return csv_bytes(result.tables.columns, result.tables.daily)
