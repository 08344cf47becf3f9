"""`credsim run` as a whole process (docs/performance.md, "The whole process"): what it imports, how it
ends, and that the pandas-free table writers write the bytes pandas would."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SCENARIOS

#: The real command line; an exit handler registered before it runs records what the process imported
#: (the handler runs at the process's end, so this also checks that exit handlers still run).
DRIVER = textwrap.dedent(
    """
    import atexit, json, sys
    record = sys.argv.pop(1)
    atexit.register(lambda: open(record, "w").write(json.dumps(sorted(sys.modules))))
    sys.argv = ["credsim", *sys.argv[1:]]
    from credsim.cli import main
    main()
    """
)

#: Modules `credsim run` has no use for: the report's charts and scorecard (pandas), the dashboard's
#: HTTP server, pyarrow's compute functions, Ray.
NOT_IMPORTED = ("pandas", "credsim.report.charts", "credsim.results.scorecard", "http.server", "pyarrow.compute", "ray")


def drive(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    record = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(record), *args], capture_output=True, text=True, timeout=600
    )
    return proc, set(json.loads(record.read_text())) if record.exists() else set()


@pytest.mark.parametrize("scenario", ["essay", str(SCENARIOS / "essay2.toml")])
def test_run_imports_no_pandas_and_still_writes_everything(tmp_path, scenario):
    out, catalog = tmp_path / "run", tmp_path / "runs.duckdb"
    proc, modules = drive(
        tmp_path,
        "run",
        scenario,
        "-n",
        "3000",
        "-d",
        "4",
        "--out",
        str(out),
        "--catalog",
        str(catalog),
        "--hist-bins",
        "9",
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and proc.stdout == ""
    assert modules, "the exit handler did not run"
    assert {"credsim.engine", "duckdb", "pyarrow.parquet"} <= modules  # the record is of this very run
    assert [m for m in NOT_IMPORTED if m in modules] == []
    meta = json.loads((out / "run.json").read_text())
    assert meta["complete"] and set(meta["files"]) >= {"daily.parquet", "regions.parquet", "histogram.parquet"}
    with duckdb.connect(str(catalog), read_only=True) as con:
        stored = con.execute("SELECT run_id, population, days FROM runs").fetchall()
        n_daily = con.execute("SELECT count(*) FROM daily").fetchone()[0]
    assert stored == [(meta["run_id"], 3000, 4)]
    assert n_daily == 4 * len(pd.read_csv(out / "daily.csv").columns)


def test_a_run_with_a_panel_imports_pandas_for_its_events_only(tmp_path):
    """The panel's events table is built with pandas (results.events); the rest of the run is not."""
    proc, modules = drive(
        tmp_path,
        "run",
        str(SCENARIOS / "essay2.toml"),
        "-n",
        "2000",
        "-d",
        "3",
        "--panel",
        "5",
        "--out",
        str(tmp_path / "run"),
        "--catalog",
        str(tmp_path / "c.duckdb"),
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    assert "credsim.results.events" in modules and "credsim.report.charts" not in modules


def test_bad_input_still_ends_with_status_2_and_one_line(tmp_path):
    proc, modules = drive(tmp_path, "run", "essay", "-n", "-5", "--out", str(tmp_path / "run"))
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error:") and len(proc.stderr.strip().splitlines()) == 1
    assert modules  # exit handlers ran on this path too
    assert not (tmp_path / "run").exists()


def test_output_piped_is_flushed_whole(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", "from credsim.cli import main; main()", "schema"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout)  # all of it arrived: the schema parses


def test_a_thread_left_running_is_waited_for(tmp_path):
    """As at a normal exit, a non-daemon thread still running when the command returns is joined."""
    flag = tmp_path / "done"
    code = textwrap.dedent(
        f"""
        import sys, threading, time
        from pathlib import Path
        threading.Thread(target=lambda: (time.sleep(0.5), Path({str(flag)!r}).write_text("ok"))).start()
        sys.argv = ["credsim", "--version"]
        from credsim.cli import main
        main()
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert flag.read_text() == "ok"


def pandas_parquet(frame: pd.DataFrame) -> bytes:
    """What the writer produced before it built tables without pandas: ``from_pandas``, then Parquet."""
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue().to_pybytes()


def test_parquet_files_are_the_bytes_pandas_writes(tmp_path):
    """daily, regions, histogram and panel .parquet equal ``from_pandas`` of the run's DataFrame views."""
    from credsim.api import simulate

    result = simulate(SCENARIOS / "essay2.toml", 2500, 5, hist_bins=11, hist_every=2, panel=6)
    out = result.write_dir(tmp_path / "run")
    views = {"daily": result.daily, "regions": result.regions, "histogram": result.histogram, "panel": result.panel}
    for name, frame in views.items():
        assert (out / f"{name}.parquet").read_bytes() == pandas_parquet(frame), name
    assert pd.read_parquet(out / "regions.parquet")["region_name"].tolist() == result.regions["region_name"].tolist()


def test_frame_table_matches_from_pandas_on_odd_columns():
    """Empty tables, int32 columns, non-ASCII strings and empty strings: the same table as pandas makes."""
    from credsim.results.arrow import frame_table

    cases = [
        {"a": np.array([], np.int64), "s": []},
        {"a": np.array([], np.int64), "b": np.array([], np.int32)},
        {"x": np.array([3, -1, 2**40], np.int64), "y": np.array([1, 2, 3], np.int32), "s": ["", "Zürich", "北京"]},
    ]
    for cols in cases:
        ours, theirs = frame_table(cols), pa.Table.from_pandas(pd.DataFrame(cols), preserve_index=False)
        assert ours.equals(theirs, check_metadata=True), (ours.schema, theirs.schema)


def test_value_array_is_pa_array_of_one_value():
    """The catalog's `runs` row, built value by value without pandas: the array ``pa.array([v], type)`` makes."""
    from datetime import datetime

    from credsim.results.arrow import repeat_string, value_array

    cases = [
        ("essay-1f2e3d4c", None),
        ("", None),
        (2**64 - 1, pa.uint64()),
        (0, pa.uint64()),
        (20_000_000, pa.int64()),
        (-7, pa.int32()),
        (365, None),
        (True, None),
        (False, None),
        (0.125, None),
        (datetime(2026, 12, 2, 1, 2, 3, 456789), None),
        (None, pa.int32()),
    ]
    for value, arrow_type in cases:
        ours = value_array(value, arrow_type)
        assert ours.equals(pa.array([value], arrow_type)) and ours.type == pa.array([value], arrow_type).type, value
    assert repeat_string("run-é", 4).equals(pa.array(["run-é"] * 4, pa.string()))
    assert repeat_string("x", 0).equals(pa.array([], pa.string()))
