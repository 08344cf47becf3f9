"""The work folder ``OUT.partial``: atomic writes, creating, opening, locking and discarding it,
reading its inputs and its latest checkpoint.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from credsim.reliability.checkpoint_format import CHECKPOINT, snapshot_from_arrays
from credsim.reliability.inputs import INPUTS, MAX_INPUTS_BYTES, RunInputs
from credsim.tables import Snapshot
from credsim.errors import CredsimError
from credsim.fsutil import RUN, check_output_folder, fsync_dir
from credsim.plan import Plan
from credsim.results.run import MARKER


SUFFIX = ".partial"
LOCK = "lock"


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


def why(err: OSError) -> str:
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
                        day, f"checkpoint at day {day}"
                    )
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
            raise CredsimError(f"out: cannot create {path}: {why(err)}") from None
        try:
            path.mkdir()
        except FileExistsError:
            raise CredsimError(f"out: another credsim process has just started a run into {work.out}") from None
        except OSError as err:
            raise CredsimError(f"out: cannot create {path}: {why(err)}") from None
        try:
            work.lock()
            atomic_write(path / INPUTS, lambda fh: fh.write(inputs.to_bytes()))
        except OSError as err:
            work.discard()
            raise CredsimError(f"out: cannot write {path / INPUTS}: {why(err)}") from None
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
            raise CredsimError(f"resume: cannot open {self.path / LOCK}: {why(err)}") from None
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
            others = [
                p.name
                for p in self.path.iterdir()
                if p.name not in ours
                and not (p.name.startswith(f".{CHECKPOINT}.tmp-") or p.name.startswith(f".{INPUTS}.tmp-"))
            ]
            if others:
                raise CredsimError(
                    f"out: {self.path} holds {others[0]!r}, which credsim did not write; move it away before --restart"
                )
            for p in self.path.iterdir():
                if p.name != LOCK:
                    p.unlink()
            (self.path / LOCK).unlink()
            self.path.rmdir()
        except OSError as err:
            raise CredsimError(f"out: cannot remove the unfinished run in {self.path}: {why(err)}") from None
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
            raise CredsimError(f"resume: cannot read {f}: {why(err)}") from None
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
