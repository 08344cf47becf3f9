"""Nothing a user owns is ever deleted: output folders (run, calibration, figures, report file) keep
every file credsim did not write, and refuse in one line what is not credsim's; tampered or damaged
checkpoints are refused, naming what is wrong; memory is budgeted before a run; `credsim run`
records its run; `report` reads run folders; `threads=` is for one call; and the sources that
define a result are declared once and cover the engine path.

Signals, kills, full disks and the other injected faults are in tests/test_faults.py."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from credsim import simulate
from credsim.cli import app
from credsim.errors import CredsimError
from credsim.fsutil import CALIBRATION, FIGURES, write_output_folder
from credsim.plan import Histogram, compile_plan
from credsim.reliability.checkpoint import (
    CHECKPOINT,
    CHECKSUM_PREFIX,
    INPUTS,
    RunInputs,
    RunStopped,
    array_digest,
    start,
)
from credsim.results.run import RunResult
from credsim.scenario import load

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
SMALL = ["essay", "-n", "301", "-d", "6", "-s", "5", "-q"]


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(res) -> str:
    err = res.stderr
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def listing(folder: Path) -> dict[str, bytes]:
    """Every entry under ``folder`` (hidden ones too) with its bytes: what must survive a refusal."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"<dir>") for p in sorted(folder.rglob("*"))
    }


# --- 1. output folders ----------------------------------------------------------------------------
def test_run_into_its_own_folder_replaces_only_its_files(tmp_path):
    out = tmp_path / "essay"
    res = invoke("run", *SMALL, "--hist-bins", "4", "-o", out)
    assert res.exit_code == 0, res.stderr
    marker = json.loads((out / "run.json").read_text())
    assert marker["complete"] is True and marker["credsim_output"] == "run"
    assert sorted(marker["files"]) == sorted(p.name for p in out.iterdir())  # every file credsim wrote, listed
    (out / "analysis.ipynb").write_text('{"cells": ["my work"]}')
    (out / "notes").mkdir()
    (out / "notes" / "n.txt").write_text("mine")
    res = invoke("run", *SMALL, "-s", "6", "-o", out)  # again, another seed, no histogram
    assert res.exit_code == 0, res.stderr
    assert (out / "analysis.ipynb").read_text() == '{"cells": ["my work"]}'
    assert (out / "notes" / "n.txt").read_text() == "mine"
    assert not (out / "histogram.csv").exists()  # credsim's own file of the earlier run: gone with it
    ref = tmp_path / "ref"
    simulate("essay", 301, 6, 6).write_dir(ref)
    for name in ("daily.csv", "regions.csv"):
        assert (out / name).read_bytes() == (ref / name).read_bytes()
    assert json.loads((out / "run.json").read_text())["seed"] == "6"
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        json.loads((out / "run.json").read_text())["files"] + ["analysis.ipynb", "notes"])  # no temporary left


def test_run_refuses_a_folder_that_is_not_a_credsim_run(tmp_path):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("\\chapter{One}")
    before = listing(tmp_path)
    res = invoke("run", *SMALL, "-o", thesis)
    line = one_line_error(res)
    assert res.exit_code == 2 and "is not a credsim run directory" in line and "chapter1.tex" not in line
    assert listing(tmp_path) == before  # nothing moved, nothing created (no thesis.partial either)


def test_run_refuses_a_file_and_a_dangling_link_where_the_folder_goes(tmp_path):
    (tmp_path / "results").write_text("precious")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    before = listing(tmp_path)
    for target, needle in (("results", "is not a folder"), ("dangling", "link to nothing")):
        res = invoke("run", *SMALL, "-o", tmp_path / target)
        assert res.exit_code == 2 and needle in one_line_error(res)
    assert listing(tmp_path) == before


def test_a_user_file_named_like_a_credsim_file_is_never_replaced(tmp_path):
    out = tmp_path / "o"
    assert invoke("run", *SMALL, "-o", out).exit_code == 0  # no histogram: histogram.csv is not credsim's
    (out / "histogram.csv").write_text("my own histogram")
    res = invoke("run", *SMALL, "--hist-bins", "3", "-o", out)
    assert res.exit_code == 2 and "histogram.csv was not written by credsim" in one_line_error(res)
    assert (out / "histogram.csv").read_text() == "my own histogram"


def test_other_kinds_of_credsim_folders_and_empty_folders(tmp_path):
    cal = tmp_path / "fit"
    write_output_folder(cal, CALIBRATION, {"fitted.toml": b"# fitted by credsim calibrate\n"})
    res = invoke("run", *SMALL, "-o", cal)
    assert res.exit_code == 2 and "is a credsim calibration folder, not a run directory" in one_line_error(res)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke("run", *SMALL, "-o", empty).exit_code == 0 and (empty / "run.json").exists()
    # a link to a folder: written through, the link itself stays
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert invoke("run", *SMALL, "-o", tmp_path / "link").exit_code == 0
    assert (tmp_path / "link").is_symlink() and (real / "run.json").exists()


def test_a_run_folder_from_before_markers_listed_files_is_still_ours(tmp_path):
    out = tmp_path / "old"
    simulate("essay", 301, 6, 5).write_dir(out)
    meta = json.loads((out / "run.json").read_text())
    for key in ("files", "credsim_output"):
        meta.pop(key)
    (out / "run.json").write_text(json.dumps(meta))  # what credsim wrote before this change
    (out / "mine.txt").write_text("keep")
    assert invoke("run", *SMALL, "-s", "7", "-o", out).exit_code == 0
    assert (out / "mine.txt").read_text() == "keep" and json.loads((out / "run.json").read_text())["seed"] == "7"
    # but a run.json that credsim did not write makes the folder foreign
    (out / "run.json").write_text('{"notebook": 1}')
    assert invoke("run", *SMALL, "-o", out).exit_code == 2


def test_an_interrupted_update_leaves_a_folder_credsim_still_owns(tmp_path, monkeypatch):
    import credsim.fsutil as fsutil

    out = tmp_path / "o"
    simulate("essay", 301, 6, 5).write_dir(out)
    (out / "mine.txt").write_text("keep")
    real, calls = fsutil.write_atomic, []

    def failing(path, data):
        calls.append(Path(path).name)
        if len(calls) == 3:  # the marker (incomplete) and one table were written: then the disk fills
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(fsutil, "write_atomic", failing)
    with pytest.raises(CredsimError, match="No space left"):
        simulate("essay", 301, 6, 8).write_dir(out)
    monkeypatch.undo()
    assert json.loads((out / "run.json").read_text())["complete"] is False
    with pytest.raises(CredsimError, match="incomplete"):
        RunResult.read_dir(out)
    listed = invoke("incomplete", tmp_path)
    assert listed.exit_code == 0 and "interrupted write" in listed.stdout and str(out) in listed.stdout
    simulate("essay", 301, 6, 8).write_dir(out)  # after freeing space: the same folder, finished
    assert RunResult.read_dir(out).seed == 8 and (out / "mine.txt").read_text() == "keep"


TARGETS = """
population = 400
days = 5
seed = 1
trials = 2
[[parameter]]
path = "channel.public_misconduct.base"
low = 0.001
high = 0.009
[[target]]
metric = "mean_per_capita:true_public_misconduct"
value = 0.003
"""


def test_calibrate_out_never_deletes_or_moves_user_files(tmp_path):
    targets = tmp_path / "t.toml"
    targets.write_text(TARGETS)
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("\\chapter{One}")
    (tmp_path / "fit.toml").write_text("a file, not a folder")
    before = listing(tmp_path)
    for out, needle in ((thesis, "is not a credsim calibration folder"), (tmp_path / "fit.toml", "is not a folder")):
        res = invoke("calibrate", "baseline", "--targets", targets, "--out", out, "-q")
        assert res.exit_code == 2 and needle in one_line_error(res)
    assert listing(tmp_path) == before  # nothing deleted, nothing moved to a hidden name
    fit = tmp_path / "fit"
    assert invoke("calibrate", "baseline", "--targets", targets, "--out", fit, "-q").exit_code == 0
    assert json.loads((fit / "calibration.json").read_text())["credsim_output"] == "calibration"
    (fit / "plot.py").write_text("mine")
    assert invoke("calibrate", "baseline", "--targets", targets, "--out", fit, "-q").exit_code == 0
    assert (fit / "plot.py").read_text() == "mine" and (fit / "fitted.toml").exists()


def test_report_and_figures_never_replace_files_credsim_did_not_write(tmp_path):
    run = tmp_path / "run"
    assert invoke("run", *SMALL, "-o", run).exit_code == 0
    (tmp_path / "paper.html").write_text("<html>my paper</html>")
    figs = tmp_path / "figs"
    figs.mkdir()
    (figs / "figure1.pdf").write_bytes(b"%PDF")
    before = listing(tmp_path)
    res = invoke("report", run, "--out", tmp_path / "paper.html")
    assert res.exit_code == 2 and "is not a report credsim wrote" in one_line_error(res)
    res = invoke("report", run, "--out", tmp_path / "r.html", "--figures", figs)
    assert res.exit_code == 2 and "is not a credsim figures folder" in one_line_error(res)
    assert listing(tmp_path) == before
    # a figures folder credsim wrote: its own files replaced, the user's kept
    own = tmp_path / "own"
    write_output_folder(own, FIGURES, {"01-listed.svg": b"<svg/>", "02-old.png": b"png"}, field="figures")
    (own / "caption.txt").write_text("mine")
    write_output_folder(own, FIGURES, {"01-listed.svg": b"<svg>new</svg>"}, field="figures")
    assert (own / "caption.txt").read_text() == "mine" and not (own / "02-old.png").exists()
    assert (own / "01-listed.svg").read_bytes() == b"<svg>new</svg>"


# --- 6. run records its run; report takes run folders ---------------------------------------------
def test_run_is_recorded_in_the_catalog_and_report_reads_run_folders(tmp_path):
    cat = tmp_path / "c.duckdb"
    out = tmp_path / "runs" / "essay"
    res = invoke("run", *SMALL, "--hist-bins", "5", "--hist-every", "2", "-o", out, "--catalog", cat)
    assert res.exit_code == 0, res.stderr
    run_id = json.loads((out / "run.json").read_text())["run_id"]
    listed = invoke("runs", "--catalog", cat)
    assert listed.exit_code == 0 and run_id in listed.stdout
    from credsim.results.store import Catalog

    stored, folder = Catalog(cat).load(run_id), RunResult.read_dir(out)
    for a, b in ((stored.tables, folder.tables),):
        assert a.columns == b.columns and np.array_equal(a.daily, b.daily) and np.array_equal(a.regions, b.regions)
        assert np.array_equal(a.hist, b.hist) and a.hist_days == b.hist_days == [2, 4, 6]
        assert (a.hist_lo, a.hist_width, a.region_names) == (b.hist_lo, b.hist_width, b.region_names)
    assert (folder.name, folder.population, folder.days, folder.seed) == ("essay", 301, 6, 5)
    res = invoke("report", out, "--out", tmp_path / "r.html", "--catalog", tmp_path / "absent.duckdb")
    assert res.exit_code == 0, res.stderr
    assert "Made by credsim" in (tmp_path / "r.html").read_text()
    res = invoke("report", tmp_path / "runs" / "nothing", "--out", tmp_path / "r2.html")
    assert res.exit_code == 2 and "is not a folder" in one_line_error(res)


def test_threads_in_one_api_call_do_not_outlive_it():
    import numba

    before = numba.get_num_threads()
    simulate("essay", 300, 2, 1, threads=1)
    assert numba.get_num_threads() == before
    if numba.config.NUMBA_NUM_THREADS > 1:
        numba.set_num_threads(2)
        try:
            simulate("essay", 300, 2, 1, threads=1)
            assert numba.get_num_threads() == 2
        finally:
            numba.set_num_threads(before)


# --- 6. one declaration of the sources that define a result ---------------------------------------
def _imports(path: Path, package_init: bool) -> set[Path]:
    """credsim files that ``path``'s import statements name (anywhere in the file: lazy imports too),
    followed transitively; with ``package_init``, also the ``__init__.py`` of every package on the way."""
    pkg = ROOT / "credsim"
    seen: set[Path] = set()
    todo = [path]

    def files_of(module: str) -> list[Path]:
        parts = module.split(".")
        if parts[0] != "credsim":
            return []
        out = []
        if package_init:
            out += [pkg.joinpath(*parts[1:k], "__init__.py") for k in range(1, len(parts) + 1)]
        base = pkg.joinpath(*parts[1:])
        out += [base.with_suffix(".py"), base / "__init__.py"]
        return [p for p in out if p.is_file()]

    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for node in ast.walk(ast.parse(f.read_text("utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                todo += files_of(name)
    return seen


def test_result_sources_cover_every_module_of_the_engine_path():
    from credsim.sources import KERNEL_SOURCES, RESULT_SOURCES, expand

    result, kernel = set(expand(RESULT_SOURCES)), set(expand(KERNEL_SOURCES))
    engine_path = _imports(ROOT / "credsim" / "engine.py", package_init=True)
    rel = {p.relative_to(ROOT / "credsim").as_posix() for p in engine_path}
    assert rel >= {"backends/cpu.py", "backends/cuda.py", "backends/ray/driver.py", "scenario/loader.py", "scenario/model.py"}
    missing = sorted(str(p.relative_to(ROOT)) for p in engine_path - result)
    assert not missing, f"modules on the engine path that code_version() does not hash: {missing}"
    assert (ROOT / "credsim" / "data" / "china-2020-provinces.csv") in result  # the region table's data
    kernel_path = _imports(ROOT / "credsim" / "kernel" / "cpu.py", package_init=False)
    missing = sorted(str(p.relative_to(ROOT)) for p in kernel_path - kernel - {ROOT / "credsim" / "sources.py"})
    assert not missing, f"modules the CPU kernel compiles that its cache key does not hash: {missing}"
    assert kernel <= result


def test_code_version_changes_with_any_declared_source(tmp_path, monkeypatch):
    import credsim.sources as sources

    copy = tmp_path / "credsim"
    shutil.copytree(ROOT / "credsim", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(sources, "PACKAGE", copy)
    base = sources.digest(sources.RESULT_SOURCES)
    kernel = sources.digest(sources.KERNEL_SOURCES)
    for rel in ("backends/cpu.py", "scenario/loader.py", "data/china-2020-provinces.csv", "backends/ray/driver.py"):
        original = (copy / rel).read_bytes()
        (copy / rel).write_bytes(original + b"\n")
        assert sources.digest(sources.RESULT_SOURCES) != base, rel
        assert sources.digest(sources.KERNEL_SOURCES) == kernel, rel  # the numba cache survives
        (copy / rel).write_bytes(original)
    (copy / "kernel" / "step.py").write_bytes((copy / "kernel" / "step.py").read_bytes() + b"\n")
    assert sources.digest(sources.KERNEL_SOURCES) != kernel


# --- 3. tampered and damaged checkpoints ----------------------------------------------------------
def stopped_work(tmp_path: Path, day: int = 4, seed: int = 3) -> Path:
    name, sc = load("essay")
    inputs = RunInputs.new(name, sc, 501, 9, seed, "cpu", 6, 2, 0)

    def on_day(t, days):
        if t == day:
            os.kill(os.getpid(), 2)

    with pytest.raises(RunStopped):
        start(tmp_path / "o", inputs, on_day=on_day)
    return tmp_path / "o.partial"


def rewrite(work: Path, edit, rehash: bool) -> None:
    with np.load(work / CHECKPOINT, allow_pickle=False) as z:
        arrays = {k: z[k].copy() for k in z.files}
    edit(arrays)
    if rehash:  # a careful forger recomputes every checksum: the cross-checks must still catch it
        for k in [k for k in arrays if not k.startswith(CHECKSUM_PREFIX)]:
            arrays[CHECKSUM_PREFIX + k] = array_digest(k, arrays[k])
    with open(work / CHECKPOINT, "wb") as fh:
        np.savez(fh, **arrays)


def _bump(key, index, by=1):
    def edit(a):
        a[key][index] += by
    return edit


def _seed_in_both_copies(work: Path):
    text = (work / INPUTS).read_text()
    text = text.replace('"seed": "3"', '"seed": "4"')
    (work / INPUTS).write_text(text)

    def edit(a):
        a["inputs"] = np.frombuffer(text.encode(), np.uint8)
    return edit


TAMPERING = [
    # (what, edit of the arrays (or a function of the work folder), needle with checksums recomputed)
    ("a score", _bump("state_own", 17, 3), "sum of own scores"),
    ("the previous sum", lambda a: a.__setitem__("sum_prev", a["sum_prev"] + 1), "yesterday's sum of public scores"),
    ("a flag", _bump("state_flags", 3, 1), "listed count"),
    ("the ever-listed flag", lambda a: a["state_flags"].__setitem__(5, a["state_flags"][5] ^ 4), "ever-listed count"),
    ("a stress", _bump("state_stress", 9, 1), "sum of stress"),
    ("the daily table", _bump("daily", (1, 7), 1), "listed counts do not add up"),
    ("a threshold", _bump("daily", (2, 1), 1), "threshold"),
    ("a region", _bump("regions", (1, 4, 1), 1), "sums of public scores do not add up"),
    ("a histogram count", _bump("hist", (0, 2), 1), "histogram row"),
    ("the seed in both copies", _seed_in_both_copies, "does not follow from seed 4"),
]


@pytest.mark.parametrize("rehash", [False, True], ids=["checksum", "cross-check"])
@pytest.mark.parametrize("what,edit,needle", TAMPERING, ids=[t[0] for t in TAMPERING])
def test_tampered_checkpoints_are_refused_naming_what_is_wrong(tmp_path, what, edit, needle, rehash):
    work = stopped_work(tmp_path)
    if edit is _seed_in_both_copies:
        edit = edit(work)
    rewrite(work, edit, rehash)
    res = invoke("resume", work, "-q")
    line = one_line_error(res)
    assert res.exit_code == 2 and "is damaged" in line, line
    assert (needle if rehash else "does not match its checksum") in line, line
    assert not (tmp_path / "o").exists() and (work / CHECKPOINT).exists()


def test_an_untouched_checkpoint_passes_every_check(tmp_path):
    work = stopped_work(tmp_path)
    rewrite(work, lambda a: None, rehash=True)  # rewritten, same content
    assert invoke("resume", work, "-q").exit_code == 0
    ref = tmp_path / "ref"
    simulate("essay", 501, 9, 3, hist_bins=6, hist_every=2).write_dir(ref)
    for name in ("daily.csv", "regions.csv", "histogram.csv"):
        assert (tmp_path / "o" / name).read_bytes() == (ref / name).read_bytes()


def test_a_flipped_bit_in_any_array_is_refused(tmp_path):
    import random

    work = stopped_work(tmp_path)
    data = (work / CHECKPOINT).read_bytes()
    with np.load(work / CHECKPOINT, allow_pickle=False) as z:
        payloads = {k: z[k].tobytes() for k in ("inputs", "daily", "regions", "hist", "state_own", "state_since")}
    seed = 20240601
    print(f"bit flips seeded with {seed}")
    rng = random.Random(seed)
    for name, payload in payloads.items():
        start_at = data.find(payload)
        assert start_at > 0, name
        i = start_at + rng.randrange(len(payload))
        bad = bytearray(data)
        bad[i] ^= 1 << rng.randrange(8)
        (work / CHECKPOINT).write_bytes(bytes(bad))
        res = invoke("resume", work, "-q")
        assert res.exit_code == 2 and "is damaged" in one_line_error(res), (name, i)
    (work / CHECKPOINT).write_bytes(data)
    assert invoke("resume", work, "-q").exit_code == 0


# --- 2. a leftover OUT.partial does not block -----------------------------------------------------
def test_a_leftover_work_folder_says_how_to_resume_and_restart_discards_it(tmp_path):
    work = stopped_work(tmp_path)
    res = invoke("run", "essay", "-n", "501", "-d", "9", "-s", "3", "-o", tmp_path / "o", "-q")
    line = one_line_error(res)
    assert f"credsim resume {work}" in line and "--restart" in line and "checkpoint at day 4" in line
    (work / "checkpoint.npz").unlink()  # killed before its first checkpoint: same message, "no checkpoint yet"
    res = invoke("run", "essay", "-n", "501", "-d", "9", "-s", "3", "-o", tmp_path / "o", "-q")
    assert "no checkpoint yet" in one_line_error(res)
    (work / "mine.txt").write_text("keep")  # --restart removes only credsim's own files
    res = invoke("run", "essay", "-n", "501", "-d", "9", "-s", "3", "-o", tmp_path / "o", "--restart", "-q")
    assert res.exit_code == 2 and "mine.txt" in one_line_error(res) and (work / "mine.txt").exists()
    (work / "mine.txt").unlink()
    res = invoke("run", "essay", "-n", "501", "-d", "9", "-s", "3", "-o", tmp_path / "o", "--restart", "-q")
    assert res.exit_code == 0, res.stderr
    assert not work.exists() and (tmp_path / "o" / "run.json").exists()


# --- 4. memory is budgeted before a run -----------------------------------------------------------
def _plan(n, bins=0, scenario="essay"):
    _, sc = load(scenario) if isinstance(scenario, str) else (None, scenario)
    return compile_plan(sc, n, 1, Histogram(bins, 1))


def test_memory_estimate_counts_tables_state_and_a_panel():
    from credsim.engine import PANEL_COLUMNS, estimate_memory

    plan = _plan(100, bins=65536)
    est = estimate_memory(plan, 40)
    assert est.tables >= 40 * 65536 * 8 and est.writing >= 40 * 65536 * 100  # the histogram dominates
    assert est.state == 100 * 6
    with_panel = estimate_memory(plan, 40, panel=1000)
    assert with_panel.tables - est.tables == 1000 * 40 * PANEL_COLUMNS * 8
    big = estimate_memory(_plan(10**9), 365)
    assert big.state == 6 * 10**9 and big.peak > 6 * 10**9


def test_accumulator_rows_are_budgeted_and_chunking_never_changes_a_result(monkeypatch):
    import credsim.backends.cpu as kb

    for plan in (_plan(10**9, bins=65536), _plan(10**9)):
        chunk, chunks = kb.accumulator_shape(plan)
        assert chunks * 8 * (plan.n_cols + 2 * plan.layout.n_regions) <= kb.ACC_BUDGET_BYTES
    wide = _plan(10**9, bins=65536)
    assert kb.accumulator_shape(wide)[1] < 16384  # before: 16384 rows of 65565 int64 = 8.6 GB
    plan = _plan(40_000, bins=7)
    assert kb.accumulator_shape(plan)[1] == 5
    from credsim.engine import run_plan

    many = run_plan(plan, 4)
    monkeypatch.setattr(kb, "ACC_BUDGET_BYTES", 1)  # one chunk for everything
    assert kb.accumulator_shape(plan)[1] == 1
    one = run_plan(plan, 4)
    assert np.array_equal(many.daily, one.daily) and np.array_equal(many.regions, one.regions)
    assert np.array_equal(many.hist, one.hist)


def test_a_run_that_will_not_fit_is_refused_before_allocating(tmp_path, monkeypatch):
    import credsim.engine as engine

    monkeypatch.setattr(engine, "available_memory", lambda: 200 << 20)
    res = invoke("run", "essay", "-n", "100", "-d", "40", "--hist-bins", "65536", "-o", tmp_path / "o", "-q")
    line = one_line_error(res)
    assert res.exit_code == 2 and line.startswith("error: hist-bins: ") and "65536 histogram bins" in line
    assert "GiB of memory" in line and "but only 0.20 GiB is available" in line
    assert list(tmp_path.iterdir()) == []
    res = invoke("run", "essay", "-n", "100", "-d", "4", "-o", tmp_path / "o", "-q")  # small: fits
    assert res.exit_code == 0, res.stderr


PEAK = """
import resource, sys
from credsim import simulate
from credsim.engine import estimate_memory
from credsim.plan import Histogram, compile_plan
simulate("essay", 50, 2, 1).write_dir(sys.argv[1] + "-warm")  # imports, kernel, writers loaded: the baseline
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
r = simulate("essay", 100, 40, 1, hist_bins=65536)
r.write_dir(sys.argv[1])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
est = estimate_memory(compile_plan(r.scenario, 100, 1, Histogram(65536, 1)), 40)
print(base, peak, est.peak)
"""


def test_the_histogram_run_that_peaked_at_1_gb_stays_within_its_estimate(tmp_path):
    cmd = [sys.executable, "-c", PEAK, str(tmp_path / "o")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    base, peak, est = map(int, proc.stdout.split())
    print(f"baseline {base >> 20} MiB, peak {peak >> 20} MiB, estimate {est >> 20} MiB")
    assert peak - base <= est  # the estimate is an upper bound of what the run adds
    assert peak - base < 400 << 20  # it added ~850 MB before (per-row Python lists while writing CSV)
