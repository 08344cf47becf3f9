"""Checkpoints: a long run survives a crash, a kill or Ctrl-C, and continues to identical tables.

Layout. ``credsim run --out OUT`` works in the sibling folder ``OUT.partial``::

    OUT.partial/inputs.json      what determines the run (scenario as canonical TOML, population,
                                 days, seed, backend, histogram settings, code version)
    OUT.partial/checkpoint.npz   the latest snapshot: state arrays, day reached, yesterday's ΣP,
                                 the tables so far, and a copy of inputs.json (numpy .npz of plain arrays),
                                 each array with its SHA-256 (``sha256__NAME``)
    OUT.partial/lock             held (flock) by the one process working there

Every file is written to a temporary name, fsynced and renamed, so each is either the old or the
new version, never half of one. When the run ends, ``OUT`` is written atomically (see
:meth:`credsim.results.run.RunResult.write_dir`) and only then is ``OUT.partial`` removed.

A checkpoint is code plus data: the snapshot continues exactly only under the code that wrote it,
so ``inputs.json`` records :func:`credsim.results.store.code_version` and resume refuses another.
Loading verifies every array against its checksum (so a changed byte anywhere, the copy of the
inputs included, is refused) and then cross-checks the state against the tables: yesterday's ΣP
against the last daily row, Σ own, the listed, ever-listed and wrongly-flagged counts and the
stress sums against that row, every threshold against the previous day's ΣP, the region sums
against the daily columns, each histogram row against the population, and the cached per-agent
facts (disposition class, marriage) of a sample of agents against the seed.

Stops. SIGINT (Ctrl-C), SIGTERM (``kill``, ``timeout``, schedulers, containers, systemd) and SIGHUP
(the terminal closed) all ask the run to stop at the end of the current day: it saves a checkpoint,
prints the command that continues it and exits with 128 + the signal's number (130, 143, 129). A
second signal of the same kind stops at once (the last checkpoint on disk stays valid).
Nothing read from a work folder names a path: the files are fixed names inside it, symlinks that
lead outside it are refused, and the output folder is the work folder's own name less ``.partial``.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import signal
import threading
import time
import zipfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from credsim.api import MAX_HIST_BINS
from credsim.engine import BACKENDS, finished_tables, histogram_days, run_plan
from credsim.tables import Snapshot, Tables, Timing
from credsim.errors import CredsimError
from credsim.fsutil import RUN, check_output_folder, fsync_dir
from credsim.kernel import layout as L
from credsim.kernel.backend import state_bytes_per_agent, state_fields
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

#: ``--checkpoint-every auto``: a checkpoint once this much wall time has passed since the last
#: one (or since the run started), measured as the run goes, whatever the machine's speed (seconds) ...
AUTO = "auto"
AUTO_INTERVAL_S = 120.0
#: ... but at least this many times the time the last checkpoint took to write (overhead <= 5%),
WRITE_OVERHEAD = 20
#: the first one estimated at this disk bandwidth (bytes/s).
WRITE_BYTES_PER_S = 2e8
#: The signals that stop a run cleanly (checkpoint, one line, exit 128 + signal).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: Agents whose cached per-agent facts are recomputed from the seed when a checkpoint is loaded.
SAMPLE_AGENTS = 257
CHECKSUM_PREFIX = "sha256__"


class RunStopped(KeyboardInterrupt):
    """A run stopped on request (a stop signal) after saving a checkpoint at the end of ``day``."""

    def __init__(self, day: int, days: int, work: Path, signum: int = signal.SIGINT):
        super().__init__(f"stopped after day {day} of {days}")
        self.day, self.days, self.work, self.signum = day, days, work, int(signum)

    @property
    def exit_code(self) -> int:
        """128 + the signal's number: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP."""
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


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


def parse_every(value: str | int) -> int | str:
    """``--checkpoint-every``: a number of days, ``auto`` (about every 2 minutes of wall time) or ``0``/``off``."""
    text = str(value).strip().lower()
    if text == AUTO:
        return AUTO
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
    checkpoint_every: int | str = 0  # days, or "auto" (by wall time)
    code_version: str = ""
    panel: int = 0  # tracked agents of the panel (MODEL.md §8.7); 0: none

    @classmethod
    def new(cls, name: str, scenario: Scenario, population: int, days: int, seed: int, backend: str,
            hist_bins: int = 0, hist_every: int = 1, checkpoint_every: int | str = 0,
            panel: int = 0) -> RunInputs:  # fmt: skip
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
        need(self.checkpoint_every == AUTO or (whole(self.checkpoint_every) and 0 <= self.checkpoint_every <= MAX_DAYS),
             "checkpoint_every", f"must be 'auto' or in 0..{MAX_DAYS}")  # fmt: skip
        need(isinstance(self.code_version, str), "code_version", "expected text")
        need(whole(self.panel) and 0 <= self.panel <= min(self.population, MAX_PANEL), "panel",
             f"must be in 0..min(population, {MAX_PANEL})")  # fmt: skip

    def scenario(self, source: str = "inputs") -> Scenario:
        return from_toml(self.scenario_toml, f"{source}: scenario_toml")

    def plan(self) -> Plan:
        return compile_plan(self.scenario(), self.population, self.seed, Histogram(self.hist_bins, self.hist_every),
                            self.panel)  # fmt: skip

    def to_bytes(self) -> bytes:
        from credsim.version import __version__

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
    """Refuse early (before any work) an output path that write_dir would refuse at the end: see
    :func:`credsim.fsutil.write_output_folder` (new, empty, or credsim's own run folder only)."""
    check_output_folder(out, RUN)


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
    def create(cls, out: str | Path, inputs: RunInputs, restart: bool = False) -> Work:
        """Make ``OUT.partial``, lock it and write inputs.json. An unfinished run already there is
        refused in one line that says how to resume it, unless ``restart`` (``credsim run --restart``)
        asks to discard it: then its own files (inputs, checkpoint, lock) are removed, nothing else."""
        path = work_dir_for(out)
        work = cls(path)
        check_out(work.out)
        if path.exists() or path.is_symlink():
            if path.is_dir() and not path.is_symlink() and (path / INPUTS).exists():
                if restart:
                    cls(path).discard_stale()
                else:
                    day = describe_day(path)
                    reached = {0: "no checkpoint yet", -1: "its checkpoint is damaged"}.get(
                        day, f"checkpoint at day {day}")  # fmt: skip
                    raise CredsimError(
                        f"out: {path} holds an unfinished run of {work.out} ({reached}); continue it with "
                        f"`credsim resume {path}`, or run again with --restart to discard it and start from day 1"
                    )
            else:
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

    def discard_stale(self) -> None:
        """``--restart``: remove an unfinished run's own files (never a file credsim did not write);
        refused in one line while another process works there or when the folder holds other files."""
        self.lock()
        try:
            ours = {INPUTS, CHECKPOINT, LOCK}
            others = [p.name for p in self.path.iterdir()
                      if p.name not in ours and not (p.name.startswith(f".{CHECKPOINT}.tmp-") or
                                                     p.name.startswith(f".{INPUTS}.tmp-"))]  # fmt: skip
            if others:
                raise CredsimError(f"out: {self.path} holds {others[0]!r}, which credsim did not write; "
                                   "move it away before --restart")  # fmt: skip
            for p in self.path.iterdir():
                if p.name != LOCK:
                    p.unlink()
            (self.path / LOCK).unlink()
            self.path.rmdir()
        except OSError as err:
            raise CredsimError(f"out: cannot remove the unfinished run in {self.path}: {_why(err)}") from None
        finally:
            self.unlock()

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


def array_digest(name: str, a: np.ndarray) -> np.ndarray:
    """SHA-256 of one named array (name, dtype, shape and bytes) as uint8[32]."""
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"credsim-checkpoint-array/1\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
    h.update(a.reshape(-1).view(np.uint8))
    return np.frombuffer(h.digest(), np.uint8)


def snapshot_arrays(snap: Snapshot, inputs_raw: bytes) -> dict[str, np.ndarray]:
    """A snapshot as named arrays for ``np.savez`` (state arrays prefixed ``state_``), each with its
    checksum ``sha256__NAME``: generic over whatever arrays the backend's state holds."""
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
        arrays[f"state_{name}"] = np.ascontiguousarray(arr)
    arrays.update({CHECKSUM_PREFIX + name: array_digest(name, a) for name, a in list(arrays.items())})
    return arrays


def verify_checksums(arrays: dict, damaged: Callable[[str], Exception]) -> None:
    """Every array has a checksum and matches it; no checksum lacks its array."""
    for name in sorted(arrays):
        if name.startswith(CHECKSUM_PREFIX):
            if name[len(CHECKSUM_PREFIX):] not in arrays:
                raise damaged(f"it has a checksum of {name[len(CHECKSUM_PREFIX):]!r} but no such array")
            continue
        digest = arrays.get(CHECKSUM_PREFIX + name)
        if digest is None:
            raise damaged(f"{name} has no checksum: not written by this credsim, or edited")
        if digest.dtype != np.uint8 or digest.shape != (32,):
            raise damaged(f"the checksum of {name} is not a SHA-256")
        if not np.array_equal(digest, array_digest(name, arrays[name])):
            raise damaged(f"{name} does not match its checksum: changed or damaged after it was written")


def _chunks(n: int, size: int = 1 << 24):
    for a in range(0, n, size):
        yield a, min(n, a + size)


def cross_check(plan: Plan, inputs: RunInputs, day: int, sum_prev: int, daily: np.ndarray, regions: np.ndarray,
                hist: np.ndarray | None, state: dict[str, np.ndarray], damaged: Callable[[str], Exception]) -> None:
    """The checkpoint's parts must agree with each other (see the module docstring): a snapshot whose
    checksums were recomputed after an edit is still refused when it no longer adds up."""
    cols = ["day", "threshold", *plan.columns]
    col = {c: i for i, c in enumerate(cols)}
    last = daily[day - 1]
    sp = col["sum_public"]
    if sum_prev != int(last[sp]):
        raise damaged(f"yesterday's sum of public scores {sum_prev} differs from day {day}'s sum_public "
                      f"{int(last[sp])}")  # fmt: skip
    # day 1's threshold follows from S0 * N only without a list on day 0 (else from Σ P_0, not stored)
    prev = None if int(plan.ip[L.IP_INIT_THR]) else plan.scenario.score.start * plan.n
    for t in range(day):
        if prev is not None:
            expect = plan.threshold(prev, plan.policy_index(t + 1))
            if int(daily[t, 1]) != expect:
                raise damaged(f"day {t + 1}'s threshold {int(daily[t, 1])} does not follow from the day before "
                              f"(expected {expect})")  # fmt: skip
        prev = int(daily[t, sp])
    if not np.array_equal(regions[:, :, 0].sum(axis=1), daily[:, col["listed"]]):
        raise damaged("the region table's listed counts do not add up to the daily table's")
    if not np.array_equal(regions[:, :, 1].sum(axis=1), daily[:, sp]):
        raise damaged("the region table's sums of public scores do not add up to the daily table's")
    if hist is not None and len(hist) and not np.all(hist.sum(axis=1) == plan.n):
        raise damaged(f"a histogram row does not count {plan.n} agents")
    if not state:
        return
    own, flags, stress = state.get("own"), state.get("flags"), state.get("stress")
    n = plan.n
    checks = []  # (what, from the state, column)
    if own is not None:
        total_own = sum(int(np.sum(own[a:b], dtype=np.int64)) for a, b in _chunks(n))
        checks.append(("sum of own scores", total_own, "sum_own"))
    if flags is not None:
        bit = np.uint8(1 << (day & 1))
        listed = ever = wrong = 0
        for a, b in _chunks(n):
            f = flags[a:b]
            on = (f & bit) != 0
            listed += int(np.count_nonzero(on))
            ever += int(np.count_nonzero(f & np.uint8(L.F_EVER)))
            wrong += int(np.count_nonzero(on & ((f & np.uint8(L.F_FLAGGED)) != 0)))
        checks += [("listed count of the flags", listed, "listed"),
                   ("ever-listed count of the flags", ever, "ever_listed"),
                   ("wrongly-flagged listed count", wrong, "listed_wrongly_flagged")]
    if stress is not None:
        total = sum(int(np.sum(stress[a:b], dtype=np.int64)) for a, b in _chunks(n))
        high = sum(int(np.count_nonzero(stress[a:b] >= 128)) for a, b in _chunks(n))
        checks += [("sum of stress", total, "stress_sum"), ("high-stress count", high, "stress_high")]
    for what, value, column in checks:
        if column in col and value != int(last[col[column]]):
            raise damaged(f"the state's {what} ({value}) differs from day {day}'s {column} ({int(last[col[column]])})")
    if flags is not None:
        from credsim.kernel.step import init_agent

        static = np.uint8(L.F_MARRIED | (7 << L.F_CLS_SHIFT))
        r1, r2 = np.uint64(plan.root1), np.uint64(plan.root2)
        for i in sorted({(k * (n - 1)) // max(1, SAMPLE_AGENTS - 1) for k in range(SAMPLE_AGENTS)}):
            with np.errstate(over="ignore"):  # the hash multiplies modulo 2^64 on purpose
                expect = np.uint8(init_agent(i, r1, r2, plan.married_thr, n)) & static
            if (flags[i] & static) != expect:
                raise damaged(f"agent {i}'s cached disposition or marriage does not follow from seed {inputs.seed}")


def snapshot_from_arrays(arrays: dict, plan: Plan, inputs: RunInputs, inputs_raw: bytes,
                         damaged: Callable[[str], Exception]) -> Snapshot:  # fmt: skip
    """Check every array's checksum, presence, dtype and shape against the plan, then cross-check
    the parts against each other; build the Snapshot."""

    def get(name: str, dtype, shape: tuple) -> np.ndarray:
        if name not in arrays:
            raise damaged(f"no {name!r} array")
        a = arrays[name]
        if a.dtype != np.dtype(dtype) or a.shape != shape:
            raise damaged(f"{name}: expected {np.dtype(dtype)}{shape}, got {a.dtype}{a.shape}")
        return a

    verify_checksums(arrays, damaged)
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
    elif state:
        raise damaged("it holds state arrays but the run is finished")
    cross_check(plan, inputs, day, sum_prev, daily, regions, hist, state, damaged)
    return Snapshot(day, sum_prev, state, daily, regions, hist, loop_s, panel, policy)


# -- the checkpoint policy the engine calls ----------------------------------------------------
class Checkpointer:
    """Saves a snapshot every ``every`` days (0: never; ``"auto"``: by wall time, see
    :data:`AUTO_INTERVAL_S`) and when a stop was requested (a stop signal).

    The engine asks :meth:`due` after each day (O(1)) and calls :meth:`save` when it says so.
    """

    def __init__(self, work: Work, inputs_raw: bytes, days: int, every: int | str, state_bytes: int = 0,
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        self.work, self.inputs_raw, self.days, self.every = work, inputs_raw, days, every
        self.clock = clock
        self.stop_signal: int | None = None
        self.saved_day: int | None = None  # the day of the checkpoint this process last wrote
        self.last_save = clock()
        self.write_s = state_bytes / WRITE_BYTES_PER_S  # until one has been timed

    @property
    def stop_requested(self) -> bool:
        return self.stop_signal is not None

    @property
    def interval_s(self) -> float:
        """With ``auto``: wall seconds between checkpoints (at least 20 × the time one takes to write)."""
        return max(AUTO_INTERVAL_S, WRITE_OVERHEAD * self.write_s)

    def due(self, t: int) -> bool:
        if t >= self.days:
            return False
        if self.stop_signal is not None:
            return True
        if self.every == AUTO:
            return self.clock() - self.last_save >= self.interval_s
        return self.every > 0 and t % self.every == 0

    def save(self, snap: Snapshot) -> None:
        self.write(snap)
        if self.stop_signal is not None:
            raise RunStopped(snap.day, self.days, self.work.path, self.stop_signal)

    def write(self, snap: Snapshot) -> None:
        """Write the checkpoint atomically; CredsimError (one line) if the disk refuses."""
        path = self.work.path / CHECKPOINT
        t0 = self.clock()
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
        self.last_save = self.clock()
        self.write_s = self.last_save - t0

    def save_final(self, tables: Tables, loop_s: float, policy: int = 0) -> bool:
        """Keep finished tables (no state) when the output folder could not be written; True if kept."""
        sum_last = int(tables.daily[-1, tables.columns.index("sum_public")])
        snap = Snapshot(self.days, sum_last, {}, tables.daily, tables.regions, tables.hist, loop_s, tables.panel, policy)
        try:
            self.write(snap)
        except CredsimError:
            return False
        return True


@contextmanager
def stop_on_signals(cp: Checkpointer):
    """While inside: the first SIGINT, SIGTERM or SIGHUP asks the run to stop after the current day
    (with a checkpoint; :class:`RunStopped` carries the signal); a second one of the same kind
    acts at once (KeyboardInterrupt for SIGINT, the default action otherwise: the last checkpoint
    on disk stays valid). A signal the parent ignores (``nohup``: SIGHUP) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals go to the main thread only
        return

    def handler(signum, frame):
        if cp.stop_signal is None:
            cp.stop_signal = signum
        signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)

    previous = {}
    try:
        for sig in STOP_SIGNALS:
            if signal.getsignal(sig) is not signal.SIG_IGN:
                previous[sig] = signal.signal(sig, handler)
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


#: The former name (Ctrl-C only); every stop signal is handled now.
stop_on_sigint = stop_on_signals


# -- running -------------------------------------------------------------------------------------
def execute(work: Work, inputs: RunInputs, inputs_raw: bytes, *, resume: bool = False, every: int | str | None = None,
            threads: int | None = None, on_day: Callable[[int, int], None] | None = None,
            shards: int = 1, backend: str | None = None, catalog=None) -> RunResult:  # fmt: skip
    """Run (or continue) the run of ``work``, write its output folder, then remove the work folder;
    with ``catalog`` (a :class:`credsim.results.store.Catalog`), also record the run there.

    Raises :class:`RunStopped` after a checkpoint when a stop signal came, CredsimError on bad
    input or a refused write. A fresh run that fails before its first checkpoint leaves nothing.
    ``backend`` overrides the one the run was started with (every backend gives the same integers).
    """
    backend = backend or inputs.backend
    cp = Checkpointer(work, inputs_raw, inputs.days, inputs.checkpoint_every if every is None else every,
                      inputs.population * state_bytes_per_agent(inputs.plan()))  # fmt: skip
    try:
        # a stop signal while the output is written only asks for a stop: the run is complete by then
        with stop_on_signals(cp):
            if backend not in BACKENDS:
                raise CredsimError(f"backend: unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
            plan = inputs.plan()
            snap = work.load_snapshot(plan, inputs, inputs_raw) if resume else None
            timing = Timing()
            if snap is not None and snap.day >= inputs.days:  # finished tables kept after a failed write
                tables = finished_tables(plan, inputs.days, snap.daily, snap.regions, snap.hist, snap.panel)
                timing.loop_s = snap.loop_s
            else:
                tables = run_plan(plan, inputs.days, backend, threads=threads, on_day=on_day, timing=timing,
                                  checkpoint=cp, resume_from=snap, shards=shards)  # fmt: skip
            result = RunResult(inputs.name, plan.scenario, inputs.population, inputs.days, inputs.seed, backend,
                               tables, timing, hist_every=inputs.hist_every)  # fmt: skip
            if catalog is not None:
                result.run_id = catalog.new_run_id(result)
            try:
                result.write_dir(work.out)
            except CredsimError as err:
                if cp.save_final(tables, timing.loop_s, plan.policy_index(inputs.days)):
                    raise CredsimError(
                        f"{err} (the finished tables are kept in {work.path}: free space or fix that, then "
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
    if catalog is not None:
        try:
            catalog.add(result)
        except CredsimError as err:
            raise CredsimError(f"{err} (the run itself is complete in {work.out})") from None
    return result


def start(out: str | Path, inputs: RunInputs, restart: bool = False, **kw) -> RunResult:
    """``credsim run``: create ``OUT.partial`` (``restart``: discarding an unfinished run there), run
    with checkpoints, write ``OUT``."""
    work = Work.create(out, inputs, restart=restart)
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
        elif not p.name.startswith(".") and _incomplete_marker(p / MARKER):
            status = "an update of this run folder was interrupted: not a result; run it again"
            found.append({"kind": "interrupted write", "path": str(p), "status": status})
    return found


def _incomplete_marker(path: Path) -> bool:
    """Is ``path`` a run folder's marker that says its last update did not finish?"""
    from credsim.fsutil import read_marker

    data = read_marker(path)
    return data is not None and "credsim_version" in data and data.get("complete") is False
