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

The parts: :mod:`credsim.reliability.inputs` (the run's inputs, option parsing),
:mod:`credsim.reliability.checkpoint_format` (the snapshot file: checksums and cross-checks),
:mod:`credsim.reliability.workfolder` (atomic writes, the work folder and its lock); this module
holds the checkpoint policy, stop signals and running, resuming and listing runs.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np

from credsim.engine import BACKENDS, finished_tables, run_plan
from credsim.reliability.checkpoint_format import CHECKPOINT, snapshot_arrays
from credsim.reliability.inputs import AUTO, INPUTS, MAX_INPUTS_BYTES, RunInputs
from credsim.reliability.workfolder import SUFFIX, Work, atomic_write, check_out, describe_day, why
# names that moved to the modules above, still imported from here (CLI, tests)
from credsim.reliability.checkpoint_format import CHECKSUM_PREFIX, SAMPLE_AGENTS, array_digest  # noqa: F401
from credsim.reliability.checkpoint_format import cross_check, snapshot_from_arrays, verify_checksums  # noqa: F401
from credsim.reliability.inputs import FORMAT, parse_every, parse_int  # noqa: F401
from credsim.reliability.workfolder import LOCK, work_dir_for  # noqa: F401
from credsim.tables import Snapshot, Tables, Timing
from credsim.errors import CredsimError
from credsim.backends.base import state_bytes_per_agent
from credsim.results.run import MARKER, RunResult


#: ``--checkpoint-every auto``: a checkpoint once this much wall time has passed since the last
#: one (or since the run started), measured as the run goes, whatever the machine's speed (seconds) ...
AUTO_INTERVAL_S = 120.0
#: ... but at least this many times the time the last checkpoint took to write (overhead <= 5%),
WRITE_OVERHEAD = 20
#: the first one estimated at this disk bandwidth (bytes/s).
WRITE_BYTES_PER_S = 2e8
#: The signals that stop a run cleanly (checkpoint, one line, exit 128 + signal).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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


# -- the checkpoint policy the engine calls ----------------------------------------------------
class Checkpointer:
    """Saves a snapshot every ``every`` days (0: never; ``"auto"``: by wall time, see
    :data:`AUTO_INTERVAL_S`) and when a stop was requested (a stop signal).

    The engine asks :meth:`due` after each day (O(1)) and calls :meth:`save` when it says so.
    """

    def __init__(
        self,
        work: Work,
        inputs_raw: bytes,
        days: int,
        every: int | str,
        state_bytes: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ):
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
                kept = (
                    f"the checkpoint of day {self.saved_day} is intact: free space, then "
                    f"`credsim resume {self.work.path}`"
                )
            else:
                kept = "no checkpoint was kept"
            raise CredsimError(f"checkpoint: cannot write {path}: {why(err)} ({kept})") from None
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
def execute(
    work: Work,
    inputs: RunInputs,
    inputs_raw: bytes,
    *,
    resume: bool = False,
    every: int | str | None = None,
    threads: int | None = None,
    on_day: Callable[[int, int], None] | None = None,
    shards: int = 1,
    backend: str | None = None,
    catalog=None,
) -> RunResult:
    """Run (or continue) the run of ``work``, write its output folder, then remove the work folder;
    with ``catalog`` (a :class:`credsim.results.store.Catalog`), also record the run there.

    Raises :class:`RunStopped` after a checkpoint when a stop signal came, CredsimError on bad
    input or a refused write. A fresh run that fails before its first checkpoint leaves nothing.
    ``backend`` overrides the one the run was started with (every backend gives the same integers).
    """
    backend = backend or inputs.backend
    cp = Checkpointer(
        work,
        inputs_raw,
        inputs.days,
        inputs.checkpoint_every if every is None else every,
        inputs.population * state_bytes_per_agent(inputs.plan()),
    )
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
                tables = run_plan(
                    plan,
                    inputs.days,
                    backend,
                    threads=threads,
                    on_day=on_day,
                    timing=timing,
                    checkpoint=cp,
                    resume_from=snap,
                    shards=shards,
                )
            result = RunResult(
                inputs.name,
                plan.scenario,
                inputs.population,
                inputs.days,
                inputs.seed,
                backend,
                tables,
                timing,
                hist_every=inputs.hist_every,
            )
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
        raise CredsimError(f"folder: cannot list {folder}: {why(err)}") from None
    for p in entries:
        if p.is_symlink() or not p.is_dir():
            continue
        if p.name.endswith(SUFFIX) and len(p.name) > len(SUFFIX) and (p / INPUTS).exists():
            entry = {"kind": "unfinished run", "path": str(p), "out": str(p.with_name(p.name[: -len(SUFFIX)]))}
            try:
                raw = (p / INPUTS).read_bytes()[: MAX_INPUTS_BYTES + 1]
                inputs = RunInputs.from_bytes(raw, str(p / INPUTS))
                entry.update(
                    name=inputs.name,
                    population=inputs.population,
                    days=inputs.days,
                    seed=inputs.seed,
                    backend=inputs.backend,
                    day=describe_day(p),
                )
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
