"""Atomic file writing: a reader sees the old file or the new one, never half of one; and output
folders that never lose a file credsim did not write (see :func:`write_output_folder`).

Temporary files are created next to their destination, fsynced and renamed into place; their
permissions follow the umask like any ordinary file (mkstemp alone would leave them private).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from credsim.errors import CredsimError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (best effort where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary sibling, fsync, rename). Raises OSError."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(parent)
    return path


def make_temp_dir(destination: Path) -> Path:
    """A fresh, empty temporary folder beside ``destination``, with ordinary permissions."""
    parent = destination.parent if str(destination.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=parent))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


# -- output folders: credsim never deletes or moves a file it did not write ------------------------
#
# Rule (README "Reliability"): an output folder credsim writes (a run, a calibration, a folder of
# figures) is either
#   * new (absent, or an empty folder): written into a temporary sibling and renamed into place, so it
#     appears complete or not at all; or
#   * credsim's own output of the same kind (its marker file says so): only the files the marker lists
#     as credsim's are replaced, each atomically, and every other file is left alone; the marker is
#     rewritten first as "complete": false and last as "complete": true with the new list of files.
# Anything else is refused in one line before any work: a file or a dangling link where the folder
# should be, a non-empty folder without a marker, a folder of another kind, or a file credsim would
# have to write that it did not write before.

_TEMP_SUFFIX = re.compile(r"^[a-z0-9_]{8}$")  # what tempfile.mkstemp / mkdtemp add to a prefix
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_MARKER_BYTES = 1 << 20


@dataclass(frozen=True)
class OutputKind:
    """A kind of output folder: its marker file and how to recognise one written before markers listed files."""

    name: str  # "run", "calibration", "figures"
    marker: str  # the marker file: JSON with "files" (credsim's files there) and "complete"
    label: str  # "run folder", for messages
    legacy: Callable[[Path, list[str]], set[str] | None]  # marker-less or list-less folders → owned names

    def owned(self, folder: Path, names: list[str]) -> set[str] | None:
        """The names credsim wrote in ``folder`` if it is this kind's output, else None."""
        data = read_marker(folder / self.marker)
        if data is not None and data.get("credsim_output") == self.name:
            files = data.get("files")
            if isinstance(files, list) and all(isinstance(f, str) and _PLAIN_NAME.match(f) for f in files):
                return set(files) | {self.marker}
            return None
        return self.legacy(folder, names)


def read_marker(path: Path) -> dict | None:
    """A marker's JSON object, or None where there is no regular file or it is not a JSON object."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MARKER_BYTES:
        return None
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


_RUN_FILES = {
    "daily.csv",
    "regions.csv",
    "histogram.csv",
    "daily.parquet",
    "regions.parquet",
    "histogram.parquet",
    "scenario.toml",
    "run.json",
}
_CALIBRATION_FILES = {"fitted.toml", "residuals.json", "residuals.csv", "trials.csv"}
_FIGURE = re.compile(r"^\d\d-[a-z0-9_-]+\.(svg|png)$")


def _legacy_run(folder: Path, names: list[str]) -> set[str] | None:
    """A run folder written before run.json listed its files: run.json written by credsim."""
    data = read_marker(folder / "run.json")
    if data is None or "credsim_version" not in data or "files" in data:
        return None
    return _RUN_FILES & set(names)


def _legacy_calibration(folder: Path, names: list[str]) -> set[str] | None:
    try:
        with open(folder / "fitted.toml", "rb") as fh:
            head = fh.read(64)
    except OSError:
        return None
    if not head.startswith(b"# fitted by credsim calibrate") or "residuals.json" not in names:
        return None
    return _CALIBRATION_FILES & set(names)


def _legacy_figures(folder: Path, names: list[str]) -> set[str] | None:
    visible = [n for n in names if not n.startswith(".")]
    if visible and all(_FIGURE.match(n) for n in visible):
        return set(visible)
    return None


RUN = OutputKind("run", "run.json", "run directory", _legacy_run)
CALIBRATION = OutputKind("calibration", "calibration.json", "calibration folder", _legacy_calibration)
FIGURES = OutputKind("figures", "figures.json", "figures folder", _legacy_figures)
KINDS = (RUN, CALIBRATION, FIGURES)


def _listdir(folder: Path, field: str) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError as err:
        raise CredsimError(f"{field}: cannot read {folder}: {err.strerror or err}") from None


def check_output_folder(out: str | os.PathLike, kind: OutputKind, field: str = "out") -> set[str] | None:
    """May ``out`` take an output of ``kind``? None: it is new (absent or empty); else the set of names
    credsim owns there. Raises a one-line CredsimError (naming ``field``) otherwise."""
    out = Path(out)
    if os.path.islink(out) and not out.exists():
        raise CredsimError(f"{field}: {out} is a link to nothing; choose another path")
    if not out.exists():
        return None
    if not out.is_dir():
        raise CredsimError(
            f"{field}: {out} exists and is not a folder; credsim writes a folder of files there, so choose a new path"
        )
    names = _listdir(out, field)
    if not names:
        return None
    owned = kind.owned(out, names)
    if owned is not None:
        return owned
    for other in KINDS:
        if other is not kind and other.owned(out, names) is not None:
            raise CredsimError(f"{field}: {out} is a credsim {other.label}, not a {kind.label}; choose another path")
    raise CredsimError(
        f"{field}: {out} is not empty and is not a credsim {kind.label} (no {kind.marker}); credsim writes only "
        "into a new or empty folder or its own, and never replaces files it did not write: choose another path"
    )


def write_output_folder(
    out: str | os.PathLike, kind: OutputKind, files: dict[str, bytes], marker: dict | None = None, field: str = "out"
) -> Path:
    """Write ``files`` and the kind's marker (``marker`` plus ``credsim_output``, ``files`` and
    ``complete``) into ``out`` under the rule above. CredsimError (one line) when refused, OSError when
    the disk refuses (nothing of the user's is touched either way)."""
    out = Path(out)
    if os.path.islink(out) and out.exists():
        out = out.resolve()  # write into the folder a link names; never replace the link
    bad = [n for n in files if not _PLAIN_NAME.match(n) or n == kind.marker]
    if bad:
        raise ValueError(f"not a plain output file name: {bad[0]!r}")
    owned = check_output_folder(out, kind, field)
    names = sorted(files) + [kind.marker]

    def marker_bytes(complete: bool, listed: list[str]) -> bytes:
        doc = {**(marker or {}), "credsim_output": kind.name, "files": listed, "complete": complete}
        return (json.dumps(doc, indent=2) + "\n").encode()

    if owned is None:
        tmp = make_temp_dir(out)
        try:
            for name, data in [*files.items(), (kind.marker, marker_bytes(True, names))]:
                with open(tmp / name, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            fsync_dir(tmp)
            try:
                os.rename(tmp, out)  # replaces only an absent path or an empty folder
            except OSError as err:
                if err.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                    raise CredsimError(
                        f"{field}: {out} changed while credsim was writing it (something else "
                        "wrote there); nothing of it was replaced: run again"
                    ) from None
                raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fsync_dir(out.parent if str(out.parent) else Path("."))
        return out

    present = set(_listdir(out, field))
    for name in names:
        if name in present and name not in owned:
            raise CredsimError(
                f"{field}: {out / name} was not written by credsim; credsim will not replace it "
                "(move it, or choose another folder)"
            )
    for name in owned & present:
        if not stat.S_ISREG(os.lstat(out / name).st_mode):
            raise CredsimError(
                f"{field}: {out / name} is not a plain file any more; credsim will not replace it "
                "(move it, or choose another folder)"
            )
    # temporary files a killed writer left: hidden ".NAME.xxxxxxxx" siblings of credsim's own names
    ours = owned | set(names)
    for name in present:
        if name.startswith("."):
            stem, _, suffix = name[1:].rpartition(".")
            if stem in ours and _TEMP_SUFFIX.match(suffix) and stat.S_ISREG(os.lstat(out / name).st_mode):
                (out / name).unlink(missing_ok=True)
    write_atomic(out / kind.marker, marker_bytes(False, sorted(ours)))
    for name, data in files.items():
        write_atomic(out / name, data)
    for name in sorted(owned - set(names)):
        if name in present:
            (out / name).unlink(missing_ok=True)  # credsim's own file the new output no longer has
    write_atomic(out / kind.marker, marker_bytes(True, names))
    return out


def check_replaceable_file(path: str | os.PathLike, is_ours: Callable[[bytes], bool], what: str, field: str) -> None:
    """Refuse (one line) to replace ``path`` unless it is absent or a file credsim wrote (``is_ours``)."""
    path = Path(path)
    if os.path.islink(path) and not path.exists():
        raise CredsimError(f"{field}: {path} is a link to nothing; choose another path")
    if not path.exists():
        return
    if path.is_dir():
        raise CredsimError(f"{field}: {path} is a folder; give a file name such as report.html")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_MARKER_BYTES * 64)
    except OSError as err:
        raise CredsimError(f"{field}: cannot read {path}: {err.strerror or err}") from None
    if not is_ours(data):
        raise CredsimError(
            f"{field}: {path} exists and is not a {what} credsim wrote; credsim never replaces "
            "files it did not write: choose another path"
        )
