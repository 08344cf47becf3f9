"""The built wheel, installed into a fresh environment, is a working credsim.

Builds the sdist and the wheel (``uv build``: the wheel from the sdist, so both must carry the
package data), checks that every data file of the source tree is in both, installs the wheel
into a new virtual environment next to **pandas 3.0** (the other dependencies at the versions
of uv.lock, from uv's cache that ``make install`` filled; pandas 3.0 comes from the registry
the first time), and there docks a golden case, writes a report and starts the dashboard.

The new environment reuses the day kernel that numba compiled for this one (same sources, same
numba; see :func:`reuse_compiled_kernel`), so this takes about a minute; where that fails, the
docking run compiles it (about a minute more on a quiet machine, several on a loaded one).
"""

from __future__ import annotations

import os
import queue
import shutil
import re
import signal
import subprocess
import sys
import tarfile
import threading
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest

import credsim
from credsim.sources import KERNEL_SOURCES
from conftest import CASES, GOLDEN, scenario_path

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent
UV = [sys.executable, "-m", "uv"]


def sh(cmd: list, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r


def package_data() -> set[str]:
    """Every file under credsim/ that is not Python source: what the wheel must ship besides code."""
    try:
        listed = subprocess.run(["git", "ls-files", "credsim"], cwd=ROOT, capture_output=True, text=True, check=True)
        files = listed.stdout.split()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an unpacked sdist)
        files = [str(p.relative_to(ROOT)) for p in (ROOT / "credsim").rglob("*") if p.is_file()]
    return {f for f in files if not f.endswith((".py", ".pyc")) and "__pycache__" not in f}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    dist = tmp_path_factory.mktemp("dist")
    sh([*UV, "build", "--quiet", "--out-dir", dist, ROOT], cwd=ROOT)
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(dist.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


def test_wheel_and_sdist_ship_every_data_file_and_the_licence(built):
    data = package_data()
    assert {
        "credsim/scenario/presets/essay.toml",
        "credsim/data/china-2020-provinces.csv",
        "credsim/dashboard/static/index.html",
        "credsim/scenario/scenario.schema.json",
    } <= data
    wheel = set(zipfile.ZipFile(built["wheel"]).namelist())
    assert not data - wheel, f"missing from the wheel (declare them in [tool.setuptools.package-data]): {data - wheel}"
    with tarfile.open(built["sdist"]) as tar:
        sdist = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert not data - sdist, f"missing from the sdist: {data - sdist}"
    assert {"LICENSE", "pyproject.toml", "README.md"} <= sdist
    version = credsim.__version__
    meta = zipfile.ZipFile(built["wheel"]).read(f"credsim-{version}.dist-info/METADATA").decode()
    assert f"Version: {version}" in meta and "License-Expression: MIT" in meta
    assert f"credsim-{version}.dist-info/licenses/LICENSE" in wheel
    assert not [n for n in wheel if n.startswith(("tests/", "docs/", "benchmarks/"))]


def test_wheel_installs_next_to_pandas_3_0_and_works(built, tmp_path):
    t0 = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = time.monotonic() - t0 - sum(phases.values())

    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env |= {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1", "CREDSIM_CACHE_DIR": str(tmp_path / "numba")}
    venv = tmp_path / "venv"
    py, exe = venv / "bin" / "python", venv / "bin" / "credsim"
    sh([*UV, "venv", "--quiet", "--python", sys.executable, venv], env=env)

    # a different pandas minor version first; everything else at the lock's versions
    sh([*UV, "pip", "install", "--quiet", "--python", py, "pandas==3.0.*"], env=env)
    constraints = tmp_path / "constraints.txt"
    sh(
        [
            *UV,
            "export",
            "--quiet",
            "--frozen",
            "--no-hashes",
            "--no-emit-project",
            "--no-emit-package",
            "pandas",
            "--output-file",
            constraints,
        ],
        cwd=ROOT,
        env=env,
    )
    sh([*UV, "pip", "install", "--quiet", "--python", py, "--constraint", constraints, built["wheel"]], env=env)
    phase("install")

    where = sh(
        [py, "-c", "import credsim, pandas; print(credsim.__file__); print(pandas.__version__)"], cwd=tmp_path, env=env
    ).stdout.split()
    assert Path(where[0]).is_relative_to(venv), f"credsim imported from {where[0]}, not the new environment"
    assert where[1].startswith("3.0."), f"pandas {where[1]} replaced the pre-installed 3.0"
    assert sh([exe, "--version"], env=env).stdout.strip() == credsim.__version__
    assert sh([exe, "presets"], env=env).stdout.split() == credsim.presets()
    shipped = Path(sh([exe, "schema", "--path"], env=env).stdout.strip())
    assert shipped.is_relative_to(venv) and shipped.read_text() == (ROOT / "credsim/scenario/scenario.schema.json").read_text()

    reused = reuse_compiled_kernel(Path(where[0]).parent / "kernel", Path(env["CREDSIM_CACHE_DIR"]))
    phase("kernel cache copied" if reused else "kernel cache not copied")

    # docking: a golden case, byte for byte
    case = CASES["edge-1001"]
    out = tmp_path / "edge"
    sh(
        [
            exe,
            "run",
            scenario_path(case["scenario"]),
            "-n",
            case["population"],
            "-d",
            case["days"],
            "-s",
            case["seed"],
            "--out",
            out,
            "--quiet",
        ],
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    for table in ("daily", "regions"):
        assert (out / f"{table}.csv").read_bytes() == (GOLDEN / f"edge-1001.{table}.csv").read_bytes(), table
    phase("dock")

    # a report of stored runs (presets and the china-2020 region table come from the wheel)
    catalog = tmp_path / "runs.duckdb"
    sh(
        [exe, "compare", "essay", "-n", "2001", "-d", "30", "-s", "3", "--catalog", catalog, "--json"],
        cwd=tmp_path,
        env=env,
    )
    ids = sh(
        [py, "-c", f"from credsim.results.store import Catalog; print(*Catalog({str(catalog)!r}).runs().run_id)"],
        cwd=tmp_path,
        env=env,
    ).stdout.split()
    assert len(ids) == 2
    report = tmp_path / "report.html"
    sh([exe, "report", *ids, "--catalog", catalog, "--out", report], cwd=tmp_path, env=env)
    html = report.read_text()
    assert "vegaEmbed" in html and len(html) > 300_000, "the report lacks the inlined Vega bundle"
    assert "scorecard-table" in html and "<strong>essay:</strong>" in html
    phase("compare + report")

    # the dashboard starts, serves its static files and the Vega bundle, and stops on Ctrl-C
    serve_dashboard(exe, catalog, tmp_path, env)
    phase("serve")
    print("wheel environment:", ", ".join(f"{k} {v:.0f} s" for k, v in phases.items()))


def reuse_compiled_kernel(kernel_dir: Path, cache_root: Path) -> bool:
    """Give the new environment this one's compiled day kernel, if the sources are the same.

    Numba keys its cache folder by the source file's directory and checks the file's mtime and
    size, so the installed copy would compile again (a minute or more) although its code is
    identical. Copy the compiled functions to the folder numba uses for the installed file and
    give that file this one's mtime. Anything unexpected returns False, and numba compiles.
    """
    try:
        from numba.core.caching import _CacheLocator

        from credsim.kernel import cpu

        credsim.simulate("essay", population=2, days=1)  # make sure this environment's cache exists
        here = Path(cpu.__file__).parent
        kernel_files = [Path(f).relative_to("kernel") for f in KERNEL_SOURCES]
        if any((here / n).read_bytes() != (kernel_dir / n).read_bytes() for n in kernel_files):
            return False
        src = Path(cpu._kernel_cache_dir()) / _CacheLocator.get_suitable_cache_subpath(str(here / "cpu.py"))
        dst = cache_root / Path(cpu._kernel_cache_dir()).name / _CacheLocator.get_suitable_cache_subpath(str(kernel_dir / "cpu.py"))
        if not list(src.glob("*.nbi")):
            return False
        shutil.copytree(src, dst)
        target = kernel_dir / "cpu.py"
        text = target.read_bytes()
        target.unlink()  # installers hard-link files from their cache: change a copy's mtime, not theirs
        target.write_bytes(text)
        st = (here / "cpu.py").stat()
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
        return True
    except Exception as err:  # noqa: BLE001 - the docking run then compiles, which is correct, only slower
        print(f"compiled kernel not reused ({type(err).__name__}: {err}); the docking run compiles it")
        return False


def serve_dashboard(exe: Path, catalog: Path, cwd: Path, env: dict) -> None:
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", "0", "--catalog", str(catalog)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    try:
        deadline, url, seen = time.monotonic() + 60, None, []
        while url is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert proc.poll() is None, f"credsim serve exited ({proc.returncode}): {''.join(seen)}"
                continue
            seen.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+)", line)
            url = m and m.group(1)
        assert url, f"credsim serve printed no address in 60 s: {''.join(seen)}"
        for path, needle in (
            ("/", "<html"),
            ("/static/app.js", "function"),
            ("/static/app.css", "{"),
            ("/static/vega.js", "vegaEmbed"),
        ):
            with urllib.request.urlopen(url + path, timeout=30) as resp:
                body = resp.read().decode("utf-8", "replace")
            assert resp.status == 200 and needle in body, path
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail("credsim serve did not stop on SIGINT within 20 s")
    assert proc.returncode in (0, 130, -signal.SIGINT), proc.returncode


def test_lock_is_current():
    """uv.lock matches pyproject.toml (after changing dependencies: `make lock`)."""
    r = subprocess.run([*UV, "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_lock_holds_pandas_3_1_and_the_range_admits_3_0():
    """The range in pyproject.toml admits the 3.0 the wheel test installs; the lock pins a newer one."""
    lock = {p["name"]: p.get("version") for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "pandas>=3.0" in deps
    assert lock["pandas"].startswith("3.") and not lock["pandas"].startswith("3.0.")
