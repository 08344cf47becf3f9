"""A finished run: its inputs, its integer tables, and how to write them (CSV, Parquet) atomically.

CSV files follow MODEL.md §5 byte for byte (header, unquoted integers, ``\\n`` after every line).
A run directory appears complete or not at all: files are written into a temporary sibling,
fsynced, and renamed into place, with ``run.json`` as the completion marker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from credsim.engine import Tables, Timing
from credsim.errors import CredsimError
from credsim.fsutil import write_folder_atomic
from credsim.kernel.layout import PANEL_COLUMNS
from credsim.scenario import Scenario, canonical_toml, scenario_hash

MARKER = "run.json"


def csv_text(columns: list[str], rows: np.ndarray) -> str:
    """Integer rows as CSV: header, comma-separated, unquoted, each line ended by ``\\n``."""
    lines = [",".join(columns)]
    lines += [",".join(map(str, r)) for r in rows.tolist()]
    return "\n".join(lines) + "\n"


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
    out[:, 2:] = tables.panel.reshape(days * k, -1)
    return out


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

        df = pd.DataFrame(region_rows(self.tables), columns=REGION_COLUMNS)
        df["region_name"] = [self.tables.region_names[r] for r in df["region"]]
        return df

    @property
    def panel(self):
        """The panel's tracked agents day by day (MODEL.md §8.7) as a DataFrame, or None without a panel."""
        import pandas as pd

        if self.tables.panel is None:
            return None
        return pd.DataFrame(panel_rows(self.tables), columns=PANEL_COLUMNS)

    @property
    def histogram(self):
        """Public-score histogram (extension) as a long DataFrame: day, bin_lo, bin_hi, count; or None."""
        import pandas as pd

        t = self.tables
        if t.hist is None:
            return None
        bins = t.hist.shape[1]
        lo = t.hist_lo + t.hist_width * np.arange(bins)
        return pd.DataFrame(
            {
                "day": np.repeat(t.hist_days, bins),
                "bin_lo": np.tile(lo, len(t.hist_days)),
                "bin_hi": np.tile(lo + t.hist_width - 1, len(t.hist_days)),
                "count": t.hist.reshape(-1),
            }
        )

    def meta(self) -> dict:
        """Everything that identifies the run, JSON-ready."""
        from credsim import __version__

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
        """Write daily.csv, regions.csv, panel.csv with a panel (+ Parquet), scenario.toml and run.json
        into ``out`` atomically."""
        out = Path(out)
        if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
            raise CredsimError(f"out: {out} exists and is not a credsim run directory; choose another path")
        files = {
            "daily.csv": csv_text(self.tables.columns, self.tables.daily).encode(),
            "regions.csv": csv_text(REGION_COLUMNS, region_rows(self.tables)).encode(),
            "scenario.toml": canonical_toml(self.scenario).encode(),
        }
        if self.tables.panel is not None:
            files["panel.csv"] = csv_text(PANEL_COLUMNS, panel_rows(self.tables)).encode()
        hist = self.histogram
        if hist is not None:
            files["histogram.csv"] = csv_text(list(hist.columns), hist.to_numpy(np.int64)).encode()
        if parquet:
            files.update(self._parquet_files())
        files[MARKER] = (json.dumps(self.meta(), indent=2) + "\n").encode()
        try:
            write_folder_atomic(out, files)
        except OSError as err:
            raise CredsimError(f"out: cannot write {out}: {err.strerror or err}") from None
        return out

    def _parquet_files(self) -> dict[str, bytes]:
        """The tables as Parquet, in memory (so they are fsynced with the rest)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        frames = {"daily.parquet": self.daily, "regions.parquet": self.regions}
        if self.panel is not None:
            frames["panel.parquet"] = self.panel
        if self.histogram is not None:
            frames["histogram.parquet"] = self.histogram
        out = {}
        for name, frame in frames.items():
            sink = pa.BufferOutputStream()
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
            out[name] = sink.getvalue().to_pybytes()
        return out
