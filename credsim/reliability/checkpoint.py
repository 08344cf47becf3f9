"""Checkpoints: a long run survives a crash, a kill or Ctrl-C, and continues to identical tables.

Layout. ``credsim run --out OUT`` works in the sibling folder ``OUT.partial``::

    OUT.partial/inputs.json      what determines the run (scenario as canonical TOML, population,
                                 days, seed, backend, histogram settings, code version)
    OUT.partial/checkpoint.npz   the latest snapshot: state arrays, day reached, yesterday's ΣP,
                                 the tables so far, and a copy of inputs.json (numpy .npz of plain arrays)
    OUT.partial/lock             held (flock) by the one process working there

Every file is written to a temporary name, fsynced and renamed, so each is either the old or the
new version, never half of one. When the run ends, ``OUT`` is written atomically (see
:meth:`credsim.results.run.RunResult.write_dir`) and only then is ``OUT.partial`` removed.

A checkpoint is code plus data: the snapshot continues exactly only under the code that wrote it,
so ``inputs.json`` records :func:`credsim.results.store.code_version` and resume refuses another.
Nothing read from a work folder names a path: the files are fixed names inside it, symlinks that
lead outside it are refused, and the output folder is the work folder's own name less ``.partial``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import shutil
import signal
import threading
import zipfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from credsim.api import MAX_HIST_BINS
from credsim.engine import BACKENDS, Snapshot, Tables, Timing, histogram_days, run_plan
from credsim.errors import CredsimError
from credsim.fsutil import fsync_dir
from credsim.kernel.backend import STATE_BYTES_PER_AGENT, state_fields
from credsim.kernel.layout import MAX_PANEL, N_PANEL
from credsim.plan import Histogram, Plan, compile_plan
from credsim.results.run import MARKER, RunResult
from credsim.scenario import Scenario, canonical_toml, from_toml
from credsim.scenario.model import MAX_DAYS

SUFFIX = ".partial"
INPUTS = "inputs.json"
CHECKPOINT = "checkpoint.npz"
LOCK = "lock"
FORMAT = "credsim-run-inputs/1"
#: inputs.json is a few kilobytes (the scenario file is at most 1 MiB); refuse anything bigger.
MAX_INPUTS_BYTES = 4 << 20

#: Throughput assumed when estimating a run's duration for the default cadence (agent-steps/s).
STEPS_PER_S = 1e8
#: Runs estimated to take longer than this get periodic checkpoints by default (seconds).
AUTO_MIN_RUN_S = 180.0
#: Default spacing of checkpoints in estimated compute time (seconds) ...
AUTO_INTERVAL_S = 120.0
#: ... but at least this many times the time one checkpoint takes to write (so overhead <= 5%),
WRITE_OVERHEAD = 20
#: at this assumed disk bandwidth (bytes/s).
WRITE_BYTES_PER_S = 2e8


class RunStopped(KeyboardInterrupt):
    """A run stopped on request (Ctrl-C) after saving a checkpoint at the end of ``day``."""

    def __init__(self, day: int, days: int, work: Path):
        super().__init__(f"stopped after day {day} of {days}")
        self.day, self.days, self.work = day, days, work


# -- parsing -----------------------------------------------------------------------------------
def parse_int(value: int | str, field: str, lo: int, hi: int) -> int:
    """A whole number in lo..hi, from an int or text; one-line CredsimError otherwise."""
    if isinstance(value, bool):
        raise CredsimError(f"{field}: expected a whole number, got {value!r}")
    if isinstance(value, int):
        n = value
    else:
        try:
            n = int(str(value).strip().replace("_", ""))
        except ValueError:
            raise CredsimError(f"{field}: expected a whole number in {lo}..{hi}, got {value!r}") from None
    if not lo <= n <= hi:
        raise CredsimError(f"{field}: must be in {lo}..{hi}, got {n}")
    return n


def default_every(population: int, days: int) -> int:
    """Checkpoint cadence in days for a run expected to be long (0: none, for short runs).

    The run's duration is estimated at :data:`STEPS_PER_S`; runs over :data:`AUTO_MIN_RUN_S` get a
    checkpoint every :data:`AUTO_INTERVAL_S` of compute, spaced further apart where writing the
    state (6 bytes per agent) would take more than 1/:data:`WRITE_OVERHEAD` of the time.
    """
    day_s = population / STEPS_PER_S
    if day_s * days < AUTO_MIN_RUN_S:
        return 0
    write_s = population * STATE_BYTES_PER_AGENT / WRITE_BYTES_PER_S
    interval_s = max(AUTO_INTERVAL_S, WRITE_OVERHEAD * write_s)
    return max(1, min(days, math.ceil(interval_s / day_s)))


def parse_every(value: str | int, population: int, days: int) -> int:
    """``--checkpoint-every``: a number of days, ``auto`` (by estimated duration) or ``0``/``off``."""
    text = str(value).strip().lower()
    if text == "auto":
        return default_every(population, days)
    if text in ("off", "never", "none"):
        return 0
    try:
        return parse_int(text, "checkpoint-every", 0, MAX_DAYS)
    except CredsimError:
        raise CredsimError(
            f"checkpoint-every: expected a number of days (0 for none) or 'auto', got {value!r}"
        ) from None


# -- inputs --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunInputs:
    """Everything that determines a run's tables (plus the cadence of its checkpoints)."""

    name: str
    scenario_toml: str
    population: int
    days: int
    seed: int
    backend: str
    hist_bins: int = 0
    hist_every: int = 1
    checkpoint_every: int = 0
    code_version: str = ""
    panel: int = 0  # tracked agents of the panel (MODEL.md §8.7); 0: none

    @classmethod
    def new(cls, name: str, scenario: Scenario, population: int, days: int, seed: int, backend: str,
            hist_bins: int = 0, hist_every: int = 1, checkpoint_every: int = 0, panel: int = 0) -> RunInputs:  # fmt: skip
        from credsim.results.store import code_version

        inputs = cls(name, canonical_toml(scenario), population, days, seed, backend, hist_bins, hist_every,
                     checkpoint_every, code_version(), panel)  # fmt: skip
        inputs.validate()
        return inputs

    def validate(self, source: str = "") -> None:
        """Raise CredsimError (one line, prefixed by ``source``) if any field is out of range."""
        from credsim.api import MAX_POPULATION

        pre = f"{source}: " if source else ""

        def need(ok: bool, field: str, what: str) -> None:
            if not ok:
                raise CredsimError(f"{pre}{field}: {what}, got {getattr(self, field)!r}")

        if self.backend not in BACKENDS:
            raise CredsimError(f"{pre}backend: unknown backend {self.backend!r} (choose from {', '.join(BACKENDS)})")

        def whole(x) -> bool:
            return isinstance(x, int) and not isinstance(x, bool)

        need(isinstance(self.name, str) and 0 < len(self.name) <= 256, "name", "expected a short text")
        need(isinstance(self.scenario_toml, str), "scenario_toml", "expected TOML text")
        need(whole(self.population) and 1 <= self.population <= MAX_POPULATION, "population",
             f"must be a whole number in 1..{MAX_POPULATION:.0e}")  # fmt: skip
        need(whole(self.days) and 1 <= self.days <= MAX_DAYS, "days", f"must be in 1..{MAX_DAYS}")
        need(whole(self.seed) and 0 <= self.seed < 1 << 64, "seed", "must be in 0..2^64-1")
        need(whole(self.hist_bins) and 0 <= self.hist_bins <= MAX_HIST_BINS, "hist_bins", f"must be in 0..{MAX_HIST_BINS}")
        need(whole(self.hist_every) and 1 <= self.hist_every <= MAX_DAYS, "hist_every", f"must be in 1..{MAX_DAYS}")
        need(whole(self.checkpoint_every) and 0 <= self.checkpoint_every <= MAX_DAYS, "checkpoint_every",
             f"must be in 0..{MAX_DAYS}")  # fmt: skip
        need(isinstance(self.code_version, str), "code_version", "expected text")
        need(whole(self.panel) and 0 <= self.panel <= min(self.population, MAX_PANEL), "panel",
             f"must be in 0..min(population, {MAX_PANEL})")  # fmt: skip

    def scenario(self, source: str = "inputs") -> Scenario:
        return from_toml(self.scenario_toml, f"{source}: scenario_toml")

    def plan(self) -> Plan:
        return compile_plan(self.scenario(), self.population, self.seed, Histogram(self.hist_bins, self.hist_every),
                            self.panel)  # fmt: skip

    def to_bytes(self) -> bytes:
        from credsim import __version__

        data = {"format": FORMAT, "credsim_version": __version__, **asdict(self), "seed": str(self.seed)}
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, raw: bytes, source: str) -> RunInputs:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise CredsimError(f"{source}: not valid JSON ({err})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CredsimError(f"{source}: not a credsim run-inputs file (format {FORMAT!r} expected)")
        fields = list(cls.__dataclass_fields__)
        data.setdefault("panel", 0)  # inputs written before panels existed
        missing = [f for f in fields if f not in data]
        if missing:
            raise CredsimError(f"{source}: {missing[0]}: missing field")
        values = {f: data[f] for f in fields}
        seed = values["seed"]
        if not isinstance(seed, str) or not seed.isdigit() or len(seed) > 20:
            raise CredsimError(f"{source}: seed: expected decimal digits, got {seed!r}")
        values["seed"] = int(seed)
        inputs = cls(**values)
        inputs.validate(source)
        inputs.scenario(source)  # a one-line ScenarioError if the TOML is not a valid scenario
        return inputs


# -- files -----------------------------------------------------------------------------------------
def atomic_write(path: Path, write: Callable) -> None:
    """Write ``path`` via a temporary file in the same folder: write(fh), fsync, rename, fsync folder.

    On any failure the temporary file is removed and ``path`` is untouched; OSError propagates.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    fsync_dir(path.parent)


def _why(err: OSError) -> str:
    return err.strerror or str(err) or errno.errorcode.get(err.errno or 0, "I/O error")


def work_dir_for(out: str | Path) -> Path:
    """The work folder of output folder ``out``: its sibling ``OUT.partial``."""
    out = Path(os.path.abspath(out))
    if not out.name:
        raise CredsimError(f"out: {out} is not a folder name; choose a folder to create, like runs/essay")
    return out.with_name(out.name + SUFFIX)


def check_out(out: Path) -> None:
    """Refuse early (before any work) an output path that write_dir would refuse at the end."""
    if out.is_symlink() and not out.exists():
        raise CredsimError(f"out: {out} is a dangling symlink; choose another path")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise CredsimError(f"out: {out} exists and is not a credsim run directory; choose another path")


def describe_day(path: Path) -> int:
    """The day a work folder's checkpoint reached (0: none yet); -1 if it cannot be read."""
    f = path / CHECKPOINT
    if not f.exists():
        return 0
    try:
        with np.load(f, allow_pickle=False) as z:
            return int(z["day"])
    except Exception:  # noqa: BLE001 - any unreadable file is "damaged" for a listing
        return -1


class Work:
    """A run's work folder ``OUT.partial``: its inputs, its checkpoint, its lock."""

    def __init__(self, path: Path):
        self.path = path
        self.out = path.with_name(path.name[: -len(SUFFIX)])
        self._lock_fd: int | None = None

    # -- opening --------------------------------------------------------------------------------
    @classmethod
    def create(cls, out: str | Path, inputs: RunInputs) -> Work:
        """Make ``OUT.partial`` (it must not exist), lock it and write inputs.json."""
        path = work_dir_for(out)
        work = cls(path)
        check_out(work.out)
        if path.exists() or path.is_symlink():
            if path.is_dir() and (path / INPUTS).exists():
                day = describe_day(path)
                reached = f"checkpoint at day {day}" if day > 0 else "no checkpoint yet"
                raise CredsimError(
                    f"out: {path} holds an unfinished run of {work.out} ({reached}); continue it with "
                    f"`credsim resume {path}`, or delete that folder to start again"
                )
            raise CredsimError(f"out: {path} exists and is not a credsim work folder; move it away")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # something on the way is a file
            raise CredsimError(f"out: cannot create {path}: {path.parent} is not a folder") from None
        except OSError as err:
            raise CredsimError(f"out: cannot create {path}: {_why(err)}") from None
        try:
            path.mkdir()
        except FileExistsError:
            raise CredsimError(f"out: another credsim process has just started a run into {work.out}") from None
        except OSError as err:
            raise CredsimError(f"out: cannot create {path}: {_why(err)}") from None
        try:
            work.lock()
            atomic_write(path / INPUTS, lambda fh: fh.write(inputs.to_bytes()))
        except OSError as err:
            work.discard()
            raise CredsimError(f"out: cannot write {path / INPUTS}: {_why(err)}") from None
        except BaseException:
            work.discard()
            raise
        return work

    @classmethod
    def open(cls, spec: str | Path) -> Work:
        """The work folder named by ``spec``: ``OUT.partial`` itself, or ``OUT`` if ``OUT.partial`` exists."""
        given = Path(spec)
        path = Path(os.path.abspath(given))
        if not path.name.endswith(SUFFIX) and path.name:
            sibling = work_dir_for(path)
            if sibling.is_dir():
                path = sibling
            elif (path / MARKER).is_file():
                raise CredsimError(f"resume: {spec} is a finished run; there is nothing to resume")
        if not path.is_dir() or not path.name.endswith(SUFFIX) or len(path.name) == len(SUFFIX):
            raise CredsimError(
                f"resume: {spec} is not an unfinished run (expected the OUT{SUFFIX} folder that "
                "`credsim run --out OUT` leaves when it is stopped)"
            )
        work = cls(path.resolve())
        if work.file(INPUTS) is None:
            raise CredsimError(f"resume: {path} has no {INPUTS}; not a credsim work folder")
        return work

    def file(self, name: str) -> Path | None:
        """``name`` inside the work folder if it exists, refusing links out of it and non-files."""
        root = self.path.resolve()
        p = root / name
        if not (p.exists() or p.is_symlink()):
            return None
        real = p.resolve()
        if not real.is_relative_to(root):
            raise CredsimError(f"resume: {p} links outside {root}; refusing to read it")
        if not real.is_file():
            raise CredsimError(f"resume: {p} is not a regular file")
        return real

    def lock(self) -> None:
        """Hold the folder's lock for this process's lifetime (or until :meth:`unlock`)."""
        try:
            fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as err:
            raise CredsimError(f"resume: cannot open {self.path / LOCK}: {_why(err)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise CredsimError(f"resume: another credsim process is working in {self.path}") from None
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def discard(self) -> None:
        """Remove the work folder (nothing in it is worth keeping)."""
        self.unlock()
        shutil.rmtree(self.path, ignore_errors=True)

    def finish(self) -> None:
        """The output folder is complete: remove the work folder."""
        self.discard()
        fsync_dir(self.path.parent)

    # -- reading ----------------------------------------------------------------------------------
    def read_inputs(self) -> tuple[bytes, RunInputs]:
        f = self.file(INPUTS)
        if f is None:
            raise CredsimError(f"resume: {self.path} has no {INPUTS}")
        try:
            if f.stat().st_size > MAX_INPUTS_BYTES:
                raise CredsimError(f"resume: {f} is larger than {MAX_INPUTS_BYTES} bytes; not a credsim file")
            raw = f.read_bytes()
        except OSError as err:
            raise CredsimError(f"resume: cannot read {f}: {_why(err)}") from None
        return raw, RunInputs.from_bytes(raw, str(f))

    def load_snapshot(self, plan: Plan, inputs: RunInputs, inputs_raw: bytes) -> Snapshot | None:
        """The checkpoint, checked against the inputs and the plan; None if there is none yet."""
        f = self.file(CHECKPOINT)
        if f is None:
            return None

        def damaged(why: str) -> CredsimError:
            return CredsimError(f"resume: {f} is damaged ({why}); delete it to restart that run from day 1")

        try:
            z = np.load(f, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise damaged(str(err).splitlines()[0] if str(err) else type(err).__name__) from None
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise damaged("not an .npz archive")
        try:
            with z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
            raise damaged(str(err).splitlines()[0] if str(err) else type(err).__name__) from None
        return snapshot_from_arrays(arrays, plan, inputs, inputs_raw, damaged)


def snapshot_arrays(snap: Snapshot, inputs_raw: bytes) -> dict[str, np.ndarray]:
    """A snapshot as named arrays for ``np.savez`` (state arrays prefixed ``state_``)."""
    arrays = {
        "inputs": np.frombuffer(inputs_raw, np.uint8),
        "day": np.array(snap.day, np.int64),
        "sum_prev": np.array(snap.sum_prev, np.int64),
        "loop_s": np.array(snap.loop_s, np.float64),
        "daily": np.ascontiguousarray(snap.daily, np.int64),
        "regions": np.ascontiguousarray(snap.regions, np.int64),
    }
    if snap.hist is not None:
        arrays["hist"] = np.ascontiguousarray(snap.hist, np.int64)
    if snap.panel is not None:
        arrays["panel"] = np.ascontiguousarray(snap.panel, np.int16)
    arrays["policy"] = np.array(snap.policy, np.int64)
    for name, arr in snap.state.items():
        arrays[f"state_{name}"] = arr
    return arrays


def snapshot_from_arrays(arrays: dict, plan: Plan, inputs: RunInputs, inputs_raw: bytes,
                         damaged: Callable[[str], Exception]) -> Snapshot:  # fmt: skip
    """Check every array's presence, dtype and shape against the plan; build the Snapshot."""

    def get(name: str, dtype, shape: tuple) -> np.ndarray:
        if name not in arrays:
            raise damaged(f"no {name!r} array")
        a = arrays[name]
        if a.dtype != np.dtype(dtype) or a.shape != shape:
            raise damaged(f"{name}: expected {np.dtype(dtype)}{shape}, got {a.dtype}{a.shape}")
        return a

    if "inputs" not in arrays or arrays["inputs"].dtype != np.uint8 or arrays["inputs"].tobytes() != inputs_raw:
        raise damaged(f"it was written for other inputs than this folder's {INPUTS}")
    day = int(get("day", np.int64, ()))
    if not 1 <= day <= inputs.days:
        raise damaged(f"day {day} is outside 1..{inputs.days}")
    sum_prev = int(get("sum_prev", np.int64, ()))
    loop_s = float(get("loop_s", np.float64, ()))
    ncols = 2 + len(plan.columns)
    daily = get("daily", np.int64, (day, ncols))
    if not np.array_equal(daily[:, 0], np.arange(1, day + 1)):
        raise damaged("the daily table's day column is not 1..day")
    regions = get("regions", np.int64, (day, plan.layout.n_regions, 2))
    hist = None
    if plan.hist.bins:
        n_hist = sum(1 for t in histogram_days(plan, inputs.days) if t <= day)
        hist = get("hist", np.int64, (n_hist, plan.hist.bins))
    elif "hist" in arrays:
        raise damaged("it holds a histogram but the inputs have none")
    panel = None
    if plan.panel:
        panel = get("panel", np.int16, (day, plan.panel, N_PANEL))
    elif "panel" in arrays:
        raise damaged("it holds a panel but the inputs have none")
    policy = plan.policy_index(day)
    if int(get("policy", np.int64, ())) != policy:
        raise damaged(f"its policy in force ({int(arrays['policy'])}) is not day {day}'s ({policy})")
    state = {k[len("state_"):]: v for k, v in arrays.items() if k.startswith("state_")}
    fields = state_fields(plan)
    if day < inputs.days:
        for name, dtype in fields.items():
            get(f"state_{name}", dtype, (plan.n,))
        if set(state) != set(fields):
            raise damaged(f"state arrays {sorted(state)}, expected {sorted(fields)}")
        own = state["own"]
        lo, hi = plan.scenario.score.min, plan.scenario.score.max
        if own.size and (int(own.min()) < lo or int(own.max()) > hi):
            raise damaged(f"own scores outside {lo}..{hi}")
    return Snapshot(day, sum_prev, state, daily, regions, hist, loop_s, panel, policy)


# -- the checkpoint policy the engine calls ----------------------------------------------------
class Checkpointer:
    """Saves a snapshot every ``every`` days (0: never) and when a stop was requested (Ctrl-C).

    The engine asks :meth:`due` after each day (O(1)) and calls :meth:`save` when it says so.
    """

    def __init__(self, work: Work, inputs_raw: bytes, days: int, every: int):
        self.work, self.inputs_raw, self.days, self.every = work, inputs_raw, days, every
        self.stop_requested = False
        self.saved_day: int | None = None  # the day of the checkpoint this process last wrote

    def due(self, t: int) -> bool:
        return t < self.days and (self.stop_requested or (self.every > 0 and t % self.every == 0))

    def save(self, snap: Snapshot) -> None:
        self.write(snap)
        if self.stop_requested:
            raise RunStopped(snap.day, self.days, self.work.path)

    def write(self, snap: Snapshot) -> None:
        """Write the checkpoint atomically; CredsimError (one line) if the disk refuses."""
        path = self.work.path / CHECKPOINT
        arrays = snapshot_arrays(snap, self.inputs_raw)
        try:
            atomic_write(path, lambda fh: np.savez(fh, **arrays))
        except OSError as err:
            if self.saved_day is not None:
                kept = (f"the checkpoint of day {self.saved_day} is intact: free space, then "
                        f"`credsim resume {self.work.path}`")  # fmt: skip
            else:
                kept = "no checkpoint was kept"
            raise CredsimError(f"checkpoint: cannot write {path}: {_why(err)} ({kept})") from None
        self.saved_day = snap.day

    def save_final(self, tables: Tables, loop_s: float, policy: int = 0) -> bool:
        """Keep finished tables (no state) when the output folder could not be written; True if kept."""
        snap = Snapshot(self.days, 0, {}, tables.daily, tables.regions, tables.hist, loop_s, tables.panel, policy)
        try:
            self.write(snap)
        except CredsimError:
            return False
        return True


@contextmanager
def stop_on_sigint(cp: Checkpointer):
    """While inside: the first Ctrl-C asks the run to stop after the current day (with a checkpoint);
    a second one interrupts at once (KeyboardInterrupt; the last checkpoint on disk stays valid)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield  # signals go to the main thread only; and a parent that ignores SIGINT means it
        return

    def handler(signum, frame):
        cp.stop_requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# -- running -------------------------------------------------------------------------------------
def execute(work: Work, inputs: RunInputs, inputs_raw: bytes, *, resume: bool = False, every: int | None = None,
            threads: int | None = None, on_day: Callable[[int, int], None] | None = None,
            shards: int = 1, backend: str | None = None) -> RunResult:  # fmt: skip
    """Run (or continue) the run of ``work``, write its output folder, then remove the work folder.

    Raises :class:`RunStopped` after a checkpoint when Ctrl-C was pressed, CredsimError on bad
    input or a refused write. A fresh run that fails before its first checkpoint leaves nothing.
    ``backend`` overrides the one the run was started with (every backend gives the same integers).
    """
    backend = backend or inputs.backend
    cp = Checkpointer(work, inputs_raw, inputs.days, inputs.checkpoint_every if every is None else every)
    try:
        if backend not in BACKENDS:
            raise CredsimError(f"backend: unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
        plan = inputs.plan()
        snap = work.load_snapshot(plan, inputs, inputs_raw) if resume else None
        timing = Timing()
        # Ctrl-C while the output is written only asks for a stop: the run is complete by then
        with stop_on_sigint(cp):
            if snap is not None and snap.day >= inputs.days:  # finished tables kept after a failed write
                lo, width = plan.hist.edges(plan.scenario) if plan.hist.bins else (0, 1)
                tables = Tables(["day", "threshold", *plan.columns], snap.daily, snap.regions, plan.layout.names,
                                histogram_days(plan, inputs.days), snap.hist, lo, width, snap.panel,
                                plan.panel_agents() if plan.panel else None)  # fmt: skip
                timing.loop_s = snap.loop_s
            else:
                tables = run_plan(plan, inputs.days, backend, threads=threads, on_day=on_day, timing=timing,
                                  checkpoint=cp, resume_from=snap, shards=shards)  # fmt: skip
            result = RunResult(inputs.name, plan.scenario, inputs.population, inputs.days, inputs.seed, backend,
                               tables, timing, hist_every=inputs.hist_every)  # fmt: skip
            try:
                result.write_dir(work.out)
            except CredsimError as err:
                if cp.save_final(tables, timing.loop_s, plan.policy_index(inputs.days)):
                    raise CredsimError(
                        f"{err} (the finished tables are kept in {work.path}: free space, then "
                        f"`credsim resume {work.path}`)"
                    ) from None
                raise
    except RunStopped:
        work.unlock()
        raise
    except BaseException:
        if not resume and cp.saved_day is None:
            work.discard()
        else:
            work.unlock()
        raise
    work.finish()
    return result


def start(out: str | Path, inputs: RunInputs, **kw) -> RunResult:
    """``credsim run``: create ``OUT.partial``, run with checkpoints, write ``OUT``."""
    work = Work.create(out, inputs)
    return execute(work, inputs, inputs.to_bytes(), **kw)


def resume(spec: str | Path, **kw) -> RunResult:
    """``credsim resume``: continue the run of a work folder from its checkpoint (or day 1)."""
    from credsim.results.store import code_version

    work = Work.open(spec)
    work.lock()
    try:
        raw, inputs = work.read_inputs()
        if inputs.code_version != code_version():
            raise CredsimError(
                f"resume: {work.path} was started by credsim code {inputs.code_version}, this is {code_version()}; "
                "a checkpoint continues exactly only under the code that wrote it (finish it with that version, "
                "or delete the folder and run again)"
            )
        check_out(work.out)
    except BaseException:
        work.unlock()
        raise
    return execute(work, inputs, raw, resume=True, **kw)


# -- listing -------------------------------------------------------------------------------------
def find_incomplete(folder: str | Path = ".") -> list[dict]:
    """Unfinished work in ``folder``: work folders (``OUT.partial``) and interrupted output writes."""
    folder = Path(folder)
    found = []
    try:
        entries = sorted(folder.iterdir())
    except OSError as err:
        raise CredsimError(f"folder: cannot list {folder}: {_why(err)}") from None
    for p in entries:
        if p.is_symlink() or not p.is_dir():
            continue
        if p.name.endswith(SUFFIX) and len(p.name) > len(SUFFIX) and (p / INPUTS).exists():
            entry = {"kind": "unfinished run", "path": str(p), "out": str(p.with_name(p.name[: -len(SUFFIX)]))}
            try:
                raw = (p / INPUTS).read_bytes()[: MAX_INPUTS_BYTES + 1]
                inputs = RunInputs.from_bytes(raw, str(p / INPUTS))
                entry.update(name=inputs.name, population=inputs.population, days=inputs.days, seed=inputs.seed,
                             backend=inputs.backend, day=describe_day(p))  # fmt: skip
                entry["status"] = "damaged checkpoint" if entry["day"] < 0 else f"resume: credsim resume {p}"
            except (CredsimError, OSError) as err:
                entry["status"] = f"damaged: {err}"
            found.append(entry)
        elif p.name.startswith(".") and not (p / MARKER).exists() and (p / "daily.csv").exists():
            found.append({"kind": "interrupted write", "path": str(p), "status": "never a result; safe to delete"})
    return found
