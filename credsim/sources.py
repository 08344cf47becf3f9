"""The sources that define a run's integers, declared once.

* :data:`RESULT_SOURCES`: every file of the package whose change can change a run's tables or their
  bytes on disk — the modules the engine path imports (scenario model and loader, population,
  plan, tables, engine, every backend, the table writer), the region table data, and the checkpoint format.
  :func:`credsim.results.store.code_version` hashes them: the catalog reuses a run, and ``credsim
  resume`` continues a checkpoint, only under the same code.
* :data:`KERNEL_SOURCES`: the subset numba compiles into the CPU day kernel. Numba invalidates a
  cached function only when its own file changes, so :mod:`credsim.kernel.cpu` keeps its cache in a
  folder named by the digest of these files.

``tests/test_faults.py`` checks, by following the import statements from ``credsim/engine.py``
(and from ``credsim/kernel/cpu.py``), that every credsim module reached is declared here.
This module imports nothing of credsim, so the kernel can use it at import time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent

#: Compiled into the CPU kernel (paths relative to the package; globs allowed).
KERNEL_SOURCES = (
    "kernel/cpu.py",
    "kernel/step.py",
    "kernel/score.py",
    "kernel/consequences.py",
    "kernel/initial.py",
    "kernel/variant.py",
    "kernel/hash.py",
    "kernel/layout.py",
)

#: Everything that determines a run's tables (a superset of the kernel's).
RESULT_SOURCES = KERNEL_SOURCES + (
    "__init__.py",
    "api.py",
    "backends/*.py",
    "engine.py",
    "errors.py",
    "fsutil.py",
    "plan.py",
    "population.py",
    "data/*.csv",
    "kernel/*.py",
    "scenario/*.py",
    "backends/ray/*.py",
    "results/__init__.py",
    "results/run.py",
    "results/arrow.py",  # the Arrow tables behind the Parquet files
    "results/events.py",  # panel_events.csv (MODEL.md §8.7's panel, told as events)
    "reliability/checkpoint.py",
    "reliability/checkpoint_format.py",  # the checkpoint file
    "reliability/inputs.py",  # inputs.json
    "reliability/workfolder.py",
    "sources.py",
    "tables.py",
    "version.py",  # written into run.json and checkpoints
)


def expand(patterns: tuple[str, ...]) -> list[Path]:
    """The files the patterns name, sorted, each once (a pattern naming nothing is an error)."""
    files: set[Path] = set()
    for pattern in patterns:
        found = sorted(PACKAGE.glob(pattern))
        if not found:
            raise FileNotFoundError(f"credsim.sources: {pattern!r} names no file in {PACKAGE}")
        files.update(p for p in found if p.is_file())
    return sorted(files)


def digest(patterns: tuple[str, ...]) -> str:
    """SHA-256 (hex) over the declared files: each one's package-relative path and bytes."""
    h = hashlib.sha256()
    for path in expand(patterns):
        rel = path.relative_to(PACKAGE).as_posix().encode()
        data = path.read_bytes()
        h.update(len(rel).to_bytes(8, "little") + rel + len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()
