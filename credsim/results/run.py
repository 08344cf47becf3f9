"""A finished run: its inputs, its integer tables, and how to write them (CSV, Parquet) atomically.

CSV files follow MODEL.md §5 byte for byte (header, unquoted integers, ``\\n`` after every line).
A new run directory appears complete or not at all: files are written into a temporary sibling,
fsynced, and renamed into place, with ``run.json`` as the completion marker. Writing over an earlier
run folder replaces only the files its ``run.json`` lists as credsim's (see
:func:`credsim.fsutil.write_output_folder`): a user's notebook in the folder survives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from credsim.tables import Tables, Timing
from credsim.errors import CredsimError
from credsim.fsutil import RUN, check_output_folder, write_output_folder
from credsim.kernel.layout import N_PANEL_CSV, PANEL_COLUMNS
from credsim.scenario import Scenario, canonical_toml, scenario_hash

MARKER = RUN.marker  # "run.json"


#: Rows formatted at a time where pyarrow's CSV writer cannot be used: Python lists of a block's ints
#: are short-lived (a whole table's would cost ~200 bytes per row: 600 MB for a 65536-bin histogram
#: of 40 days).
CSV_BLOCK_ROWS = 1 << 16


def csv_bytes(columns: list[str], rows: np.ndarray) -> bytes:
    """Integer rows as CSV bytes: header, comma-separated, unquoted, each line ended by ``\\n``.

    Formatted by pyarrow's C++ CSV writer (about 6x faster than Python and without per-row objects;
    its output for int64 is byte-identical to ``",".join(map(str, row))``)."""
    header = (",".join(columns) + "\n").encode()
    rows = np.asarray(rows, np.int64)
    try:
        import pyarrow as pa
        import pyarrow.csv as pc

        from credsim.results.arrow import int_array  # not pa.array: that imports pandas

        table = pa.Table.from_arrays(
            [int_array(rows[:, i]) for i in range(rows.shape[1])], names=[f"c{i}" for i in range(rows.shape[1])]
        )
        sink = pa.BufferOutputStream()
        pc.write_csv(table, sink, pc.WriteOptions(include_header=False, quoting_style="none"))
        return header + sink.getvalue().to_pybytes()
    except (ImportError, TypeError, AttributeError):  # no pyarrow, or one without quoting_style
        pass
    parts = [header]
    for a in range(0, len(rows), CSV_BLOCK_ROWS):
        block = rows[a : a + CSV_BLOCK_ROWS].tolist()
        parts.append(("\n".join(",".join(map(str, r)) for r in block) + "\n").encode())
        del block
    return b"".join(parts)


def csv_text(columns: list[str], rows: np.ndarray) -> str:
    """Integer rows as CSV text (see :func:`csv_bytes`)."""
    return csv_bytes(columns, rows).decode()


def region_rows(tables: Tables) -> np.ndarray:
    """The region table as rows (day, region, listed, sum_public): days ascending, then regions."""
    days, n_reg, _ = tables.regions.shape
    out = np.empty((days * n_reg, 4), np.int64)
    out[:, 0] = np.repeat(np.arange(1, days + 1), n_reg)
    out[:, 1] = np.tile(np.arange(n_reg), days)
    out[:, 2:] = tables.regions.reshape(-1, 2)
    return out


REGION_COLUMNS = ["day", "region", "listed", "sum_public"]


def panel_rows(tables: Tables) -> np.ndarray:
    """The panel (MODEL.md §8.7) as rows of PANEL_COLUMNS: days ascending, then tracked agents ascending."""
    days, k, _ = tables.panel.shape
    out = np.empty((days * k, len(PANEL_COLUMNS)), np.int64)
    out[:, 0] = np.repeat(np.arange(1, days + 1), k)
    out[:, 1] = np.tile(tables.panel_agents, days)
    out[:, 2:] = tables.panel[:, :, :N_PANEL_CSV].reshape(days * k, N_PANEL_CSV)
    return out


def _read_panel(folder: Path, where: str, tables: Tables, table) -> None:
    """panel.csv (and panel_events.csv, when there) of a run folder into ``tables.panel``."""
    import pandas as pd

    from credsim.kernel.layout import N_PANEL, PN_EVENTS
    from credsim.results.events import EVENT_COLUMNS, event_bits

    days = tables.daily.shape[0]
    _, rows = table("panel.csv", PANEL_COLUMNS)
    agents = np.unique(rows[:, 1])
    k = len(agents)
    expect = np.stack([np.repeat(np.arange(1, days + 1), k), np.tile(agents, days)], axis=1)
    if rows.shape[0] != days * k or rows.shape[1] != len(PANEL_COLUMNS) or not np.array_equal(rows[:, :2], expect):
        raise CredsimError(f"{where}: panel.csv does not hold the same agents on each of {days} days")
    panel = np.zeros((days, k, N_PANEL), np.int16)
    panel[:, :, : len(PANEL_COLUMNS) - 2] = rows[:, 2:].reshape(days, k, -1)
    tables.panel, tables.panel_agents = panel, agents
    file = folder / "panel_events.csv"
    if not file.exists():
        tables.panel_has_events = False
        return
    try:
        events = pd.read_csv(file, keep_default_na=False, dtype={"event": str, "channel_name": str, "detail": str})
        if list(events.columns) != EVENT_COLUMNS:
            raise ValueError(f"columns {list(events.columns)}, expected {EVENT_COLUMNS}")
        panel[:, :, PN_EVENTS] = event_bits(events, days, agents)
    except OSError as err:
        raise CredsimError(f"{where}: cannot read panel_events.csv: {err.strerror or err}") from None
    except (ValueError, TypeError, KeyError, pd.errors.ParserError) as err:
        why = str(err).splitlines()[0]
        raise CredsimError(f"{where}: panel_events.csv is not a table of panel events ({why})") from None


@dataclass
class RunResult:
    """One run of one scenario: the inputs that determine it and the tables it produced."""

    name: str
    scenario: Scenario
    population: int
    days: int
    seed: int
    backend: str
    tables: Tables
    timing: Timing = field(default_factory=Timing)
    run_id: str | None = None
    hist_every: int = 1

    # -- tidy views -------------------------------------------------------------------------------
    @property
    def daily(self):
        """The daily table (MODEL.md §5) as a pandas DataFrame of int64."""
        import pandas as pd

        return pd.DataFrame(self.tables.daily, columns=self.tables.columns)

    @property
    def regions(self):
        """The region table as a DataFrame, with the region's name added."""
        import pandas as pd

        return pd.DataFrame(self._region_columns())

    def _region_columns(self) -> dict:
        rows = region_rows(self.tables)
        cols: dict = {name: rows[:, j] for j, name in enumerate(REGION_COLUMNS)}
        cols["region_name"] = [self.tables.region_names[r] for r in rows[:, 1]]
        return cols

    @property
    def panel(self):
        """The panel's tracked agents day by day (MODEL.md §8.7) as a DataFrame, or None without a panel."""
        import pandas as pd

        if self.tables.panel is None:
            return None
        return pd.DataFrame(panel_rows(self.tables), columns=PANEL_COLUMNS)

    @property
    def panel_events(self):
        """The tracked agents' events (:mod:`credsim.results.events`: panel_events.csv) as a DataFrame,
        or None without a panel or when the panel was read back without its events."""
        from credsim.results.events import panel_events

        t = self.tables
        if t.panel is None or not t.panel_has_events:
            return None
        return panel_events(t.panel, t.panel_agents, t.daily[:, 1], self.scenario)

    @property
    def histogram(self):
        """Public-score histogram (extension) as a long DataFrame: day, bin_lo, bin_hi, count; or None."""
        import pandas as pd

        cols = self._histogram_columns()
        return None if cols is None else pd.DataFrame(cols)

    def _histogram_columns(self) -> dict | None:
        t = self.tables
        if t.hist is None:
            return None
        bins = t.hist.shape[1]
        lo = t.hist_lo + t.hist_width * np.arange(bins)
        return {
            "day": np.repeat(t.hist_days, bins),
            "bin_lo": np.tile(lo, len(t.hist_days)),
            "bin_hi": np.tile(lo + t.hist_width - 1, len(t.hist_days)),
            "count": t.hist.reshape(-1),
        }

    def meta(self) -> dict:
        """Everything that identifies the run, JSON-ready."""
        from credsim.version import __version__

        return {
            "credsim_version": __version__,
            "run_id": self.run_id,
            "name": self.name,
            "scenario_hash": scenario_hash(self.scenario),
            "population": self.population,
            "days": self.days,
            "seed": str(self.seed),
            "backend": self.backend,
            **({"panel": int(self.tables.panel.shape[1])} if self.tables.panel is not None else {}),
            "setup_s": round(self.timing.setup_s, 4),
            "loop_s": round(self.timing.loop_s, 4),
            "agent_steps_per_s": (self.population * self.days / self.timing.loop_s) if self.timing.loop_s else None,
            "complete": True,
        }

    # -- files ------------------------------------------------------------------------------------
    def write_dir(self, out: str | Path, parquet: bool = True) -> Path:
        """Write daily.csv, regions.csv, panel.csv and panel_events.csv with a panel (+ Parquet),
        scenario.toml and run.json into ``out``: a new folder atomically, an earlier run folder file by file (only credsim's own
        files are replaced)."""
        out = Path(out)
        check_output_folder(out, RUN)
        files = {
            "daily.csv": csv_bytes(self.tables.columns, self.tables.daily),
            "regions.csv": csv_bytes(REGION_COLUMNS, region_rows(self.tables)),
            "scenario.toml": canonical_toml(self.scenario).encode(),
        }
        events = None
        if self.tables.panel is not None:
            from credsim.results.events import csv_bytes as events_csv

            files["panel.csv"] = csv_bytes(PANEL_COLUMNS, panel_rows(self.tables))
            events = self.panel_events
            if events is not None:
                files["panel_events.csv"] = events_csv(events)
        hist = self._histogram_columns()  # columns of NumPy arrays, not a DataFrame: `run` needs no pandas
        if hist is not None:
            rows = np.column_stack([np.asarray(c, np.int64) for c in hist.values()])
            files["histogram.csv"] = csv_bytes(list(hist), rows)
            del rows
        if parquet:
            files.update(self._parquet_files(hist, events))
        del hist, events
        try:
            write_output_folder(out, RUN, files, self.meta())
        except OSError as err:
            raise CredsimError(f"out: cannot write {out}: {err.strerror or err}") from None
        return out

    @classmethod
    def read_dir(cls, folder: str | Path) -> RunResult:
        """A run folder written by :meth:`write_dir` (``credsim run --out``), read back from its CSV
        tables, scenario.toml and run.json. One-line CredsimError if it is not a complete run folder."""
        from credsim.fsutil import read_marker
        from credsim.population import region_weights
        from credsim.scenario import from_toml

        folder = Path(folder)
        where = f"run folder {folder}"
        meta = read_marker(folder / MARKER)
        if meta is None or "credsim_version" not in meta:
            raise CredsimError(f"{where}: no {MARKER} written by credsim; not a run folder")
        if meta.get("complete") is not True:
            raise CredsimError(f"{where}: the run folder is incomplete (a write was interrupted); run it again")
        try:
            scenario = from_toml((folder / "scenario.toml").read_text("utf-8"), f"{where}: scenario.toml")
            name, population, days = str(meta["name"]), int(meta["population"]), int(meta["days"])
            seed, backend = int(meta["seed"]), str(meta["backend"])
        except (KeyError, TypeError, ValueError) as err:
            raise CredsimError(f"{where}: {MARKER} lacks or garbles {err}") from None
        except OSError as err:
            raise CredsimError(f"{where}: cannot read scenario.toml: {err.strerror or err}") from None

        def table(file: str, first: list[str] | None = None) -> tuple[list[str], np.ndarray]:
            try:
                with open(folder / file, "rb") as fh:
                    header = fh.readline().decode("utf-8").rstrip("\n").split(",")
                    rows = np.loadtxt(fh, delimiter=",", dtype=np.int64, ndmin=2)
            except OSError as err:
                raise CredsimError(f"{where}: cannot read {file}: {err.strerror or err}") from None
            except (ValueError, UnicodeDecodeError) as err:
                raise CredsimError(f"{where}: {file} is not a table of integers ({str(err).splitlines()[0]})") from None
            if first is not None and header[: len(first)] != first:
                raise CredsimError(f"{where}: {file} starts with columns {header[:len(first)]}, expected {first}")
            if rows.size and rows.shape[1] != len(header):
                raise CredsimError(f"{where}: {file} has rows of {rows.shape[1]} values under {len(header)} columns")
            return header, rows.reshape(-1, len(header))

        columns, daily = table("daily.csv", ["day", "threshold"])
        if daily.shape[0] != days or not np.array_equal(daily[:, 0], np.arange(1, days + 1)):
            raise CredsimError(f"{where}: daily.csv does not hold days 1..{days}")
        names = region_weights(scenario)[0]
        _, reg = table("regions.csv", REGION_COLUMNS)
        n_reg = len(names)
        expect = np.stack([np.repeat(np.arange(1, days + 1), n_reg), np.tile(np.arange(n_reg), days)], axis=1)
        if reg.shape[0] != days * n_reg or not np.array_equal(reg[:, :2], expect):
            raise CredsimError(f"{where}: regions.csv does not hold {n_reg} regions for each of {days} days")
        tables = Tables(columns, daily, reg[:, 2:].reshape(days, n_reg, 2).copy(), names)
        if (folder / "histogram.csv").exists():
            _, h = table("histogram.csv", ["day", "bin_lo", "bin_hi", "count"])
            hist_days = sorted(set(h[:, 0].tolist()))
            if not hist_days or len(h) % len(hist_days):
                raise CredsimError(f"{where}: histogram.csv does not hold the same bins for every day")
            bins = len(h) // len(hist_days)
            tables.hist_days, tables.hist = hist_days, h[:, 3].reshape(len(hist_days), bins).copy()
            tables.hist_lo, tables.hist_width = int(h[0, 1]), int(h[0, 2] - h[0, 1] + 1)
        if (folder / "panel.csv").exists():
            _read_panel(folder, where, tables, table)
        timing = Timing(float(meta.get("setup_s") or 0.0), float(meta.get("loop_s") or 0.0))
        every = tables.hist_days[1] - tables.hist_days[0] if len(tables.hist_days) > 1 else 1
        run_id = meta.get("run_id") if isinstance(meta.get("run_id"), str) else None
        return cls(name, scenario, population, days, seed, backend, tables, timing, run_id, hist_every=every)

    def _parquet_files(self, hist: dict | None = None, events=None) -> dict[str, bytes]:
        """The tables as Parquet, in memory (so they are fsynced with the rest); one table at a time.
        Each table is the one ``pa.Table.from_pandas`` makes of its DataFrame view (pandas metadata
        included), built without pandas (:mod:`credsim.results.arrow`); only a panel's events are a
        DataFrame already."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from credsim.results.arrow import frame_table

        t = self.tables
        frames = {
            "daily.parquet": lambda: frame_table({c: t.daily[:, j] for j, c in enumerate(t.columns)}),
            "regions.parquet": lambda: frame_table(self._region_columns()),
        }
        if t.panel is not None:
            frames["panel.parquet"] = lambda: frame_table(
                {c: col for c, col in zip(PANEL_COLUMNS, panel_rows(t).T)}
            )
            if events is not None:
                frames["panel_events.parquet"] = lambda: pa.Table.from_pandas(events, preserve_index=False)
        if t.hist is not None:
            frames["histogram.parquet"] = lambda: frame_table(self._histogram_columns() if hist is None else hist)
        out = {}
        for name, frame in frames.items():
            sink = pa.BufferOutputStream()
            pq.write_table(frame(), sink)
            out[name] = sink.getvalue().to_pybytes()
        return out
