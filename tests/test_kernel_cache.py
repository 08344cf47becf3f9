"""Importing the CPU kernel has no side effect on numba's global settings: its functions keep their
compiled code in the kernel's own cache folder ($CREDSIM_CACHE_DIR/<hash of the kernel sources>),
set per function, while ``numba.config.CACHE_DIR`` stays what the user (NUMBA_CACHE_DIR) made it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import json, types, numba

writes = []


class Watched(types.ModuleType):  # records every assignment to numba.config's attributes
    def __setattr__(self, name, value):
        writes.append(name)
        super().__setattr__(name, value)


numba.config.__class__ = Watched
before = numba.config.CACHE_DIR
import credsim.kernel.cpu as cpu
from credsim.sources import KERNEL_SOURCES, digest
print(json.dumps({
    "before": before,
    "after": numba.config.CACHE_DIR,
    "writes": writes,
    "digest": digest(KERNEL_SOURCES),
    "paths": {name: getattr(cpu, name)._cache._cache_path
              for name in ("init_state", "sum_public0", "_run_chunk", "run_day")},
}))
"""


def _probe(env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "CREDSIM_CACHE_DIR")}
    env.update(env_extra)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, cwd=ROOT, capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_kernel_leaves_numbas_cache_dir_alone(tmp_path):
    user = tmp_path / "user-numba-cache"
    ours = tmp_path / "credsim-cache"
    got = _probe({"NUMBA_CACHE_DIR": str(user), "CREDSIM_CACHE_DIR": str(ours)})
    assert got["before"] == str(user)
    assert got["after"] == str(user)
    assert "CACHE_DIR" not in got["writes"]  # not even swapped and restored while the kernel was decorated
    # every cached kernel function is located under the kernel's folder, named by the sources' digest
    folder = ours / got["digest"][:16]
    for name, path in got["paths"].items():
        assert Path(path).parent == folder, name
        assert Path(path).is_dir(), name  # numba's locator made (and checked writable) the folder
    assert not user.exists()  # nothing of the kernel went to numba's global folder


def test_without_numba_cache_dir_it_stays_unset(tmp_path):
    got = _probe({"CREDSIM_CACHE_DIR": str(tmp_path)})
    assert got["before"] == got["after"] == ""
    assert got["writes"] == []
    assert all(Path(p).is_relative_to(tmp_path) for p in got["paths"].values())
