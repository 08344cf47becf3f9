"""The results catalog: every run's inputs, versions, timings and tables in one DuckDB file.

Writers hold the file only for the moment of a write, and retry while another process holds it,
so concurrent runs neither corrupt the catalog nor lose a run. A run is inserted in one
transaction with ``complete = true``; nothing half-written is ever listed as a result.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from credsim.tables import Tables, Timing
from credsim.errors import CredsimError
from credsim.kernel.layout import PANEL_COLUMNS
from credsim.results.arrow import int_array, repeat_string, take_strings, value_array
from credsim.results.run import REGION_COLUMNS, RunResult, panel_rows, region_rows
from credsim.scenario import canonical_toml, from_toml, scenario_hash

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

SCHEMA_VERSION = 1
DEFAULT_CATALOG = "credsim.duckdb"
ENV_CATALOG = "CREDSIM_CATALOG"
LOCK_WAIT_S = 120.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, name VARCHAR, scenario_hash VARCHAR, scenario_toml VARCHAR,
    population BIGINT, days INTEGER, seed UBIGINT, backend VARCHAR, hist_bins INTEGER, hist_every INTEGER,
    code_version VARCHAR, versions VARCHAR, setup_s DOUBLE, loop_s DOUBLE, created_at TIMESTAMP,
    complete BOOLEAN, region_names VARCHAR, hist_lo INTEGER, hist_width INTEGER);
CREATE TABLE IF NOT EXISTS daily (run_id VARCHAR, day INTEGER, metric VARCHAR, value BIGINT, col INTEGER);
CREATE TABLE IF NOT EXISTS regions (run_id VARCHAR, day INTEGER, region INTEGER, listed BIGINT, sum_public BIGINT);
CREATE TABLE IF NOT EXISTS histogram (run_id VARCHAR, day INTEGER, bin INTEGER, count BIGINT);
ALTER TABLE runs ADD COLUMN IF NOT EXISTS panel INTEGER DEFAULT 0;
CREATE TABLE IF NOT EXISTS panel (run_id VARCHAR, day INTEGER, agent BIGINT, own SMALLINT, public SMALLINT,
    listed SMALLINT, stress SMALLINT, true_channel SMALLINT, detected SMALLINT, false_channel SMALLINT,
    activity SMALLINT, denied SMALLINT);
CREATE TABLE IF NOT EXISTS panel_events (run_id VARCHAR, day INTEGER, agent BIGINT, event VARCHAR,
    channel SMALLINT, channel_name VARCHAR, detail VARCHAR);
"""
#: Columns of ``runs`` in insertion order (``panel``, the panel's K, was added after the first catalogs:
#: a catalog opened for writing gains it, with 0 for its older runs).
RUN_COLUMNS = (
    "run_id",
    "name",
    "scenario_hash",
    "scenario_toml",
    "population",
    "days",
    "seed",
    "backend",
    "hist_bins",
    "hist_every",
    "code_version",
    "versions",
    "setup_s",
    "loop_s",
    "created_at",
    "complete",
    "region_names",
    "hist_lo",
    "hist_width",
    "panel",
)


def catalog_path(path: str | Path | None = None) -> Path:
    """The catalog file: the option if given, else $CREDSIM_CATALOG, else ./credsim.duckdb."""
    return Path(path or os.environ.get(ENV_CATALOG) or DEFAULT_CATALOG)


@lru_cache(maxsize=1)
def code_version() -> str:
    """credsim's version plus a digest of the sources that determine a run's integers
    (declared once, in :data:`credsim.sources.RESULT_SOURCES`)."""
    from credsim.version import __version__
    from credsim.sources import RESULT_SOURCES, digest

    return f"{__version__}+{digest(RESULT_SOURCES)[:10]}"


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Versions of the packages a run's results depend on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("credsim", "numba", "llvmlite", "numpy", "duckdb", "pyarrow", "pydantic"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


class Catalog:
    """A DuckDB catalog of runs. Cheap to construct; connections are opened per operation."""

    def __init__(self, path: str | Path | None = None, create: bool = True):
        self.path = catalog_path(path)
        if not create and not self.path.exists():
            raise CredsimError(f"catalog: {self.path} does not exist (run a scenario first, or pass --catalog)")

    @contextmanager
    def connect(self, write: bool = False):
        """A connection, retrying while another process holds the file's lock."""
        import duckdb

        deadline = time.monotonic() + LOCK_WAIT_S
        delay = 0.05
        while True:
            try:
                if not write and not self.path.exists():
                    raise CredsimError(f"catalog: {self.path} does not exist")
                con = duckdb.connect(str(self.path), read_only=not write)
                break
            except duckdb.IOException as err:
                if "lock" not in str(err).lower() or time.monotonic() > deadline:
                    raise CredsimError(f"catalog: cannot open {self.path}: {str(err).splitlines()[0]}") from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
            except duckdb.Error as err:
                raise CredsimError(
                    f"catalog: {self.path} is not a credsim catalog: {str(err).splitlines()[0]}"
                ) from None
        try:
            if write:
                con.execute(_SCHEMA)
                con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
            self._check_version(con)
            yield con
        except duckdb.Error as err:  # a foreign or damaged database: tables we did not make
            raise CredsimError(
                f"catalog: {self.path} is not a usable credsim catalog: {str(err).splitlines()[0]}"
            ) from None
        finally:
            con.close()

    def _check_version(self, con) -> None:
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except Exception:
            raise CredsimError(f"catalog: {self.path} is not a credsim catalog") from None
        if row and not str(row[0]).isdigit():
            raise CredsimError(f"catalog: {self.path} is not a credsim catalog (schema version {row[0]!r})")
        if row and int(row[0]) > SCHEMA_VERSION:
            raise CredsimError(
                f"catalog: {self.path} was written by a newer credsim (schema {row[0]} > {SCHEMA_VERSION}); upgrade credsim"
            )

    # -- writing ----------------------------------------------------------------------------------
    @staticmethod
    def new_run_id(result: RunResult) -> str:
        """A fresh run id: the run's name and 8 random hex digits."""
        return f"{result.name}-{uuid.uuid4().hex[:8]}"

    def add(self, result: RunResult) -> str:
        """Store a finished run in one transaction; returns its run id."""
        return self.add_many([result])[0]

    def add_many(self, results: list[RunResult]) -> list[str]:
        """Store finished runs through one connection and one transaction (the batch is stored
        whole or not at all, so no run is ever half-stored); returns their run ids.

        Opening a DuckDB database, committing, and each statement cost more than a small run's
        rows, so a design of many runs stores them in batches: each table's rows of the whole batch
        go in as one Arrow table (a zero-copy scan), in one statement."""
        import pyarrow as pa

        if not results:
            return []
        ids = [result.run_id or self.new_run_id(result) for result in results]
        parts: dict[str, list] = {}
        for result, run_id in zip(results, ids):
            for table, frame in _run_rows(result, run_id).items():
                parts.setdefault(table, []).append(frame)
        with self.connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for table in ("daily", "regions", "histogram", "panel", "panel_events", "runs"):
                    if table in parts:
                        named = f" ({', '.join(RUN_COLUMNS)})" if table == "runs" else ""
                        # the Arrow table as a relation named rows_in for this one statement (con.register
                        # would import pandas, to ask whether the table is a DataFrame)
                        columns = "*" if not named else named[2:-1]
                        con.from_arrow(pa.concat_tables(parts[table], promote_options="default")).query(
                            "rows_in", f"INSERT INTO {table}{named} SELECT {columns} FROM rows_in"
                        )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        for result, run_id in zip(results, ids):
            result.run_id = run_id
        return ids

    # -- reading ----------------------------------------------------------------------------------
    def runs(self) -> pd.DataFrame:
        """All complete runs, newest first."""
        import pandas as pd  # here, not at the top: storing a run (`credsim run`) needs no pandas

        if not self.path.exists():
            return pd.DataFrame(
                columns=["run_id", "name", "population", "days", "seed", "backend", "loop_s", "created_at"]
            )
        with self.connect() as con:
            return con.execute(
                "SELECT run_id, name, population, days, seed, backend, loop_s, created_at, scenario_hash, code_version "
                "FROM runs WHERE complete ORDER BY created_at DESC"
            ).df()

    def find(
        self, scenario, population: int, days: int, seed: int, hist_bins: int = 0, hist_every: int = 1, panel: int = 0
    ) -> str | None:
        """The id of a stored run with the same inputs and code version, if any; with ``panel`` > 0, one
        that tracked the same K agents (a run's panel changes nothing else, MODEL.md §8.7)."""
        if not self.path.exists():
            return None
        with self.connect() as con:
            with_panel = "panel" in _columns(con, "runs")
            if panel and not with_panel:
                return None  # a catalog from before panels: none of its runs has one
            row = con.execute(
                "SELECT run_id FROM runs WHERE complete AND scenario_hash = ? AND population = ? AND days = ? "
                "AND seed = ? AND code_version = ? AND hist_bins = ? AND (hist_bins = 0 OR hist_every = ?) "
                + ("AND panel = ? " if panel else "")
                + "ORDER BY created_at DESC LIMIT 1",
                [scenario_hash(scenario), population, days, seed, code_version(), hist_bins, hist_every]
                + ([panel] if panel else []),
            ).fetchone()
        return row[0] if row else None

    def load(self, run_id: str) -> RunResult:
        """A stored run, tables included."""
        with self.connect() as con:
            meta = con.execute("SELECT * FROM runs WHERE run_id = ? AND complete", [run_id]).df()
            if meta.empty:
                known = [
                    r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 5").fetchall()
                ]
                hint = f" (recent: {', '.join(known)})" if known else ""
                raise CredsimError(f"run: no run {run_id!r} in {self.path}{hint}")
            m = meta.iloc[0]
            daily = con.execute(
                "SELECT day, col, metric, value FROM daily WHERE run_id = ? ORDER BY day, col", [run_id]
            ).df()
            regions = con.execute(
                "SELECT day, region, listed, sum_public FROM regions WHERE run_id = ? ORDER BY day, region", [run_id]
            ).df()
            hist = con.execute(
                "SELECT day, bin, count FROM histogram WHERE run_id = ? ORDER BY day, bin", [run_id]
            ).df()
            panel = events = None
            if int(m.get("panel", 0) or 0) > 0 and "panel" in _tables(con):
                cols = ", ".join(PANEL_COLUMNS)
                panel = con.execute(
                    f"SELECT {cols} FROM panel WHERE run_id = ? ORDER BY day, agent", [run_id]
                ).fetchnumpy()
                events = con.execute(
                    "SELECT day, agent, event, channel, channel_name, detail FROM panel_events WHERE run_id = ?",
                    [run_id],
                ).df()
        n_cols = int(daily["col"].max()) + 1
        days = int(m["days"])
        columns = daily["metric"].iloc[:n_cols].tolist()
        names = json.loads(m["region_names"])
        tables = Tables(
            columns=columns,
            daily=daily["value"].to_numpy(np.int64).reshape(days, n_cols),
            regions=regions[["listed", "sum_public"]].to_numpy(np.int64).reshape(days, len(names), 2),
            region_names=names,
        )
        if not hist.empty:
            tables.hist_days = sorted(hist["day"].unique().tolist())
            tables.hist = hist["count"].to_numpy(np.int64).reshape(len(tables.hist_days), -1)
            tables.hist_lo, tables.hist_width = int(m["hist_lo"]), int(m["hist_width"])
        if panel is not None:
            _panel_into(tables, panel, events, days, run_id)
        scenario = from_toml(m["scenario_toml"], f"catalog run {run_id}")
        timing = Timing(float(m["setup_s"]), float(m["loop_s"]))
        return RunResult(
            m["name"], scenario, int(m["population"]), days, int(m["seed"]), m["backend"], tables, timing, run_id
        )


def _run_rows(result: RunResult, run_id: str) -> dict[str, "pa.Table"]:
    """One run's rows of each catalog table, as Arrow tables in the tables' column order (built from
    buffers, :mod:`credsim.results.arrow`: ``pa.table`` and ``pa.array`` would import pandas)."""
    import pyarrow as pa

    t = result.tables
    cols = t.columns
    days, n_cols = t.daily.shape[0], len(cols)
    col_index = np.tile(np.arange(n_cols, dtype=np.int32), days)
    frames = {
        "daily": _table(
            {
                "run_id": _repeat(run_id, days * n_cols),
                "day": np.repeat(t.daily[:, 0], n_cols).astype(np.int32),
                "metric": take_strings(cols, col_index),
                "value": t.daily.reshape(-1).astype(np.int64),
                "col": col_index,
            }
        ),
        "regions": _arrow_rows(run_id, region_rows(t), REGION_COLUMNS),
    }
    if t.hist is not None:
        bins, n_days = t.hist.shape[1], len(t.hist_days)
        frames["histogram"] = _table(
            {
                "run_id": _repeat(run_id, bins * n_days),
                "day": np.repeat(np.asarray(t.hist_days, np.int32), bins),
                "bin": np.tile(np.arange(bins, dtype=np.int32), n_days),
                "count": t.hist.reshape(-1).astype(np.int64),
            }
        )
    if t.panel is not None:
        frames["panel"] = _arrow_rows(run_id, panel_rows(t), PANEL_COLUMNS)
        if result.panel_events is not None:
            events = result.panel_events.copy()
            events.insert(0, "run_id", run_id)
            frames["panel_events"] = pa.Table.from_pandas(events, preserve_index=False)
    row = {
        "run_id": run_id,
        "name": result.name,
        "scenario_hash": scenario_hash(result.scenario),
        "scenario_toml": canonical_toml(result.scenario),
        "population": result.population,
        "days": result.days,
        "seed": result.seed,
        "backend": result.backend,
        "hist_bins": 0 if t.hist is None else t.hist.shape[1],
        "hist_every": getattr(result, "hist_every", 1),
        "code_version": code_version(),
        "versions": json.dumps(package_versions()),
        "setup_s": result.timing.setup_s,
        "loop_s": result.timing.loop_s,
        "created_at": datetime.now(timezone.utc).replace(tzinfo=None),
        "complete": True,
        "region_names": json.dumps(t.region_names),
        "hist_lo": t.hist_lo,
        "hist_width": t.hist_width,
        "panel": 0 if t.panel is None else t.panel.shape[1],
    }
    types = {"seed": pa.uint64(), "population": pa.int64(), "hist_lo": pa.int32(), "hist_width": pa.int32()}
    frames["runs"] = _table({k: value_array(v, types.get(k)) for k, v in row.items()})
    return frames


def _repeat(text: str, n: int) -> "pa.Array":
    return repeat_string(text, n)


def _table(columns: dict) -> "pa.Table":
    """Arrow arrays and 1-d NumPy columns by name as an Arrow table (``pa.table`` without pandas)."""
    import pyarrow as pa

    arrays = [col if isinstance(col, (pa.Array, pa.ChunkedArray)) else int_array(col) for col in columns.values()]
    return pa.Table.from_arrays(arrays, names=list(columns))


def _arrow_rows(run_id: str, rows: np.ndarray, columns) -> "pa.Table":
    """Integer rows (one column per name) with the run id in front, as an Arrow table."""
    data = {"run_id": _repeat(run_id, rows.shape[0])}
    data.update({name: rows[:, j] for j, name in enumerate(columns)})
    return _table(data)


def _columns(con, table: str) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
        ).fetchall()
    }


def _tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def _panel_into(tables: Tables, panel: dict, events: pd.DataFrame, days: int, run_id: str) -> None:
    """A stored panel and its events back into ``tables.panel`` (the kernel's layout, events as bits)."""
    from credsim.kernel.layout import N_PANEL, PN_EVENTS
    from credsim.results.events import event_bits

    agents = np.unique(np.asarray(panel["agent"], np.int64))
    k = len(agents)
    if len(panel["day"]) != days * k:
        raise CredsimError(f"catalog: run {run_id}'s panel does not hold {k} agents on each of {days} days")
    out = np.zeros((days, k, N_PANEL), np.int16)
    for i, col in enumerate(PANEL_COLUMNS[2:]):
        out[:, :, i] = np.asarray(panel[col], np.int16).reshape(days, k)
    out[:, :, PN_EVENTS] = event_bits(events, days, agents)
    tables.panel, tables.panel_agents = out, agents
