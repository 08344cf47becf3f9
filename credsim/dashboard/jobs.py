"""The dashboard's runs: results payloads, the locked catalog, the job queue with its one worker
(:class:`App`), and table downloads made in memory from a run looked up by id.
"""

from __future__ import annotations

import io
import math
import queue
import sys
import threading
import time
import traceback
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from credsim.errors import CredsimError
from credsim.results.store import Catalog
from credsim.scenario import canonical_toml
from credsim.dashboard.form import RunRequest


# -- results ------------------------------------------------------------------------------------------


def clean(obj):
    """JSON-ready: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):
        return clean(obj.item())
    return obj


#: The CSM-2 daily columns (MODEL.md §8.6) and how the page sums each over a run.
MECHANISM_COLUMNS = [
    ("settlements", "total", "Listings settled (paid)"),
    ("term_exits", "total", "Left the list at the end of a term"),
    ("owing", "last", "Listed and owing, last day"),
    ("appeals_filed", "total", "Appeals filed"),
    ("appeals_upheld", "total", "Appeals upheld"),
    ("appeals_rejected", "total", "Appeals rejected"),
    ("appeals_pending", "last", "Appeals pending, last day"),
    ("near", "mean", "Near the line, daily mean"),
]


def mechanism_rows(runs: dict) -> dict | None:
    """The CSM-2 columns of the runs' daily tables, summed over each run (None: no run has any)."""
    rows = []
    for column, how, label in MECHANISM_COLUMNS:
        values = []
        for r in runs.values():
            d = r.daily
            if column not in d:
                values.append(None)
            else:
                values.append(
                    int(d[column].sum())
                    if how == "total"
                    else int(d[column].iloc[-1])
                    if how == "last"
                    else round(float(d[column].mean()), 1)
                )
        if any(v is not None for v in values):
            rows.append({"column": column, "how": how, "label": label, "values": values})
    return {"columns": list(runs), "rows": rows} if rows else None


def results_payload(inp, reused: dict | None = None) -> dict:
    """What the page draws: the runs, the scorecard (rows of metrics), verdicts and the report's charts."""
    from credsim.report import HIDDEN_METRICS
    from credsim.report.charts import build_charts
    from credsim.results.scorecard import metric_label, metric_order

    charts = build_charts(inp.runs, inp.baseline)
    runs = [
        {
            "label": label,
            "run_id": r.run_id,
            "name": r.name,
            "population": r.population,
            "days": r.days,
            "seed": str(r.seed),
            "reused": bool((reused or {}).get(label)),
        }
        for label, r in inp.runs.items()
    ]
    card = None
    if inp.cards:
        names = list(inp.cards)
        rows = []
        for metric in metric_order(inp.cards.values()):
            if metric in HIDDEN_METRICS:
                continue
            unit, words = metric_label(metric)
            rows.append(
                {
                    "metric": metric,
                    "unit": unit,
                    "label": words[:1].upper() + words[1:],
                    "values": [inp.cards[n].get(metric, math.nan) for n in names],
                }
            )
        card = {"columns": names, "rows": rows}
    return clean(
        {
            "runs": runs,
            "baseline": inp.baseline,
            "scorecard": card,
            "verdicts": inp.verdicts,
            "notes": inp.notes,
            "mechanisms": mechanism_rows(inp.runs),
            "charts": [
                {"key": c.key, "heading": c.heading, "about": c.about, "notes": c.notes, "spec": c.spec} for c in charts
            ],
        }
    )


# -- catalog, jobs ----------------------------------------------------------------------------------


class LockedCatalog(Catalog):
    """A catalog whose connections are taken one at a time within this process.

    DuckDB refuses a second connection to a file with another configuration (read-only vs
    read-write) in the same process; the request threads and the worker share one lock.
    """

    _lock = threading.RLock()

    @contextmanager
    def connect(self, write: bool = False):
        with self._lock, super().connect(write) as con:
            yield con


@dataclass
class Job:
    id: int
    request: RunRequest
    state: str = "queued"  # queued, running, done, error
    stage: str = ""
    day: int = 0
    runs_started: int = 0
    runs_total: int = 2
    message: str = ""
    result: dict | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def to_json(self, with_result: bool = True) -> dict:
        r = self.request
        out = {
            "id": self.id,
            "state": self.state,
            "name": r.name,
            "baseline": r.baseline,
            "population": r.population,
            "days": r.days,
            "stage": self.stage,
            "day": self.day,
            "runs_started": self.runs_started,
            "runs_total": self.runs_total,
            "message": self.message,
            "elapsed_s": round((self.finished or time.time()) - self.created, 2),
        }
        if with_result and self.state == "done":
            out["result"] = self.result
        return out


class App:
    """The dashboard's state: the catalog, the jobs, the one worker thread."""

    def __init__(self, catalog: str | Path | None = None, *, keep_jobs: int = 20):
        self.catalog = LockedCatalog(catalog)
        self.jobs: OrderedDict[int, Job] = OrderedDict()
        self.keep_jobs = keep_jobs
        self.lock = threading.Lock()
        self.queue: queue.Queue[Job | None] = queue.Queue()
        self.next_id = 1
        self.started_runs = 0  # jobs that reached the engine (for tests and /api/status)
        self._cache: OrderedDict[str, object] = OrderedDict()
        self.worker = threading.Thread(target=self._work, name="credsim-dashboard-worker", daemon=True)
        self.worker.start()

    # jobs
    def submit(self, request: RunRequest) -> Job:
        with self.lock:
            busy = next((j for j in self.jobs.values() if j.state in ("queued", "running")), None)
            if busy is not None:
                where = f", day {busy.day} of {busy.request.days}" if busy.state == "running" else ""
                raise Busy(f"a run is already in progress ({busy.request.name}{where}); wait for it to finish")
            job = Job(self.next_id, request, runs_total=1 if request.name == request.baseline else 2)
            self.next_id += 1
            self.jobs[job.id] = job
            while len(self.jobs) > self.keep_jobs:
                self.jobs.popitem(last=False)
        self.queue.put(job)
        return job

    def job(self, job_id: int) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def current(self) -> Job | None:
        with self.lock:
            return next((j for j in reversed(self.jobs.values()) if j.state in ("queued", "running")), None)

    def close(self) -> None:
        self.queue.put(None)

    def _work(self) -> None:
        while True:
            job = self.queue.get()
            if job is None:
                return
            job.state = "running"
            try:
                job.result = self._execute(job)
                job.state = "done"
            except CredsimError as err:
                job.message, job.state = str(err), "error"
            except Exception as err:  # keep the app usable whatever the engine does
                traceback.print_exc(file=sys.stderr)
                job.message, job.state = f"internal error: {type(err).__name__}: {err}", "error"
            finally:
                job.finished = time.time()

    def _execute(self, job: Job) -> dict:
        from credsim.report import prepare
        from credsim.results.compare import compare

        r = job.request

        def progress(name: str):
            job.stage, job.day = name, 0
            job.runs_started += 1
            with self.lock:
                self.started_runs += 1

            def on_day(t: int, days: int) -> None:
                job.day = t

            return on_day

        comp = compare(
            [(r.name, r.scenario)],
            r.population,
            r.days,
            r.seed,
            baseline=r.baseline,
            catalog=self.catalog,
            progress=progress,
        )
        job.stage = "charts"
        return results_payload(prepare(comp), comp.reused)

    # catalog
    def load_run(self, run_id: str):
        if not isinstance(run_id, str) or not 0 < len(run_id) <= 200 or any(ord(c) < 32 for c in run_id):
            raise NotFound("run: no such run")
        with self.lock:
            if run_id in self._cache:
                self._cache.move_to_end(run_id)
                return self._cache[run_id]
        try:
            result = self.catalog.load(run_id)
        except CredsimError as err:
            raise NotFound(str(err)) from None
        with self.lock:
            self._cache[run_id] = result
            while len(self._cache) > 8:
                self._cache.popitem(last=False)
        return result

    def runs(self, limit: int = 200) -> list[dict]:
        df = self.catalog.runs().head(limit)
        rows = []
        for row in df.itertuples():
            rows.append(
                {
                    "run_id": row.run_id,
                    "name": row.name,
                    "population": int(row.population),
                    "days": int(row.days),
                    "seed": str(row.seed),
                    "backend": row.backend,
                    "loop_s": round(float(row.loop_s), 3),
                    "created_at": str(row.created_at)[:19],
                }
            )
        return rows


class Busy(CredsimError):
    """A run is in progress."""


class NotFound(CredsimError):
    """No such run, preset or page."""


# -- downloads ------------------------------------------------------------------------------------

TABLES = {"daily", "regions", "histogram", "scenario"}


def table_bytes(result, table: str, fmt: str) -> tuple[bytes, str, str]:
    """(content, media type, file suffix) of one table of a run, made in memory."""
    import numpy as np

    from credsim.results.run import REGION_COLUMNS, csv_text, region_rows

    if table not in TABLES:
        raise CredsimError(f"table: one of {', '.join(sorted(TABLES))}")
    if table == "scenario":
        if fmt != "toml":
            raise CredsimError("format: the scenario is TOML")
        return canonical_toml(result.scenario).encode(), "application/toml; charset=utf-8", "toml"
    if fmt not in ("csv", "parquet"):
        raise CredsimError("format: csv or parquet")
    t = result.tables
    if table == "histogram" and result.histogram is None:
        raise NotFound("histogram: this run has no score histogram")
    if fmt == "csv":
        if table == "daily":
            text = csv_text(t.columns, t.daily)
        elif table == "regions":
            text = csv_text(REGION_COLUMNS, region_rows(t))
        else:
            hist = result.histogram
            text = csv_text(list(hist.columns), hist.to_numpy(np.int64))
        return text.encode(), "text/csv; charset=utf-8", "csv"
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = {"daily": result.daily, "regions": result.regions, "histogram": result.histogram}[table]
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), buf)
    return buf.getvalue(), "application/vnd.apache.parquet", "parquet"
