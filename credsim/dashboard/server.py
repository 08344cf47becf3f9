"""The dashboard's HTTP server: static page, JSON API, one background worker for simulations.

Security model (a local tool, no accounts):

* bound to 127.0.0.1 unless ``--host`` says otherwise; on loopback, requests whose ``Host``
  header names another machine are refused (DNS rebinding), and every POST must come from the
  page's own origin;
* the server only serves its own files, from a fixed table (no request path reaches the
  filesystem); the catalog is read through SQL parameters, and downloads are made in memory
  from a run looked up by id;
* uploads are parsed as TOML data (:func:`credsim.scenario.from_toml`), never executed, and
  bodies are size-limited;
* every value is validated exactly as the CLI validates it before a run is queued; one run at
  a time, a second is refused with a message.
"""

from __future__ import annotations

import io
import ipaddress
import json
import math
import queue
import re
import sys
import threading
import time
import traceback
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from credsim.errors import CredsimError
from credsim.results.store import Catalog
from credsim.scenario import Scenario, canonical_toml, from_toml, presets
from credsim.scenario.loader import MAX_FILE_BYTES, scenario_problems
from credsim.scenario.model import MAX_DAYS

#: The dashboard runs populations up to this size (seconds on a laptop); larger runs belong to the CLI.
MAX_POPULATION = 10**7
#: Largest JSON request body (a scenario is a few kilobytes).
MAX_JSON_BYTES = 256 * 1024
#: Largest uploaded scenario file: the loader's own limit.
MAX_UPLOAD_BYTES = MAX_FILE_BYTES
#: Runs shown together from the catalog at most.
MAX_COMPARE = 8
#: Run names: what a preset or a file stem looks like.
RUN_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,47}$")
DEFAULT_PRESET = "essay"

#: The mechanisms that matter, shown first (the rest are under "more parameters").
KEY_FIELDS = {
    "score": ["spouse_weight", "association_penalty", "association_rate"],
    "blacklist": ["mode", "offset", "value"],
    "channel": ["points", "detect", "false_rate"],
    "activity": ["deny_blacklisted", "min_score"],
}
#: Fields shown but not editable: names key the scorecard (the baseline must have the same ones);
#: regions are a table name or a long list of weights (upload a TOML file to change them).
READ_ONLY = {"channel.name", "activity.name", "population.regions"}
#: Sections shown as a read-only summary: a schedule is a list of dotted paths and values (upload a
#: TOML file to change it); a loaded schedule is kept and run unchanged.
READ_ONLY_SECTIONS = {"schedule"}
#: Groups of fields inside a section that are switched on and off together (off: the fields are
#: absent, so the model's defaults apply), like the optional CSM-2 tables [exit], [appeals], [adaptive].
FIELD_GROUPS = {
    "blacklist": [{"key": "initial", "title": "Initial list", "fields": ["initial_share", "initial_score"],
                   "description": "CSM-2: a list that already exists on day 0 (off: nobody is listed on day 0)"}],
}  # fmt: skip
#: Where a switched-on group's first values come from: the first of these presets that has the table
#: (essay-plus: CSM-2's illustrative values), then any other preset.
DEFAULTS_FROM = ["essay-plus", "court-defaulters"]

STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
}
CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")  # fmt: skip


# -- the form, from the Scenario model --------------------------------------------------------------


def _deref(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    if ref:
        return schema["$defs"][ref.rsplit("/", 1)[1]]
    return node


def _describe(schema: dict, section: str, key: str, prop: dict) -> dict:
    """One input: its path, kind, range and help text, all from the model's JSON schema."""
    out = {"key": key, "path": f"{section}.{key}", "title": prop.get("title") or key.replace("_", " ").title(),
           "description": prop.get("description", ""), "nullable": False}  # fmt: skip
    node = _deref(schema, prop)
    if "anyOf" in prop:
        options = [_deref(schema, o) for o in prop["anyOf"]]
        plain = [o for o in options if o.get("type") != "null"]
        out["nullable"] = len(plain) < len(options)
        node = plain[0] if len(plain) == 1 else {"type": "complex"}
    if "enum" in node:
        out["type"] = "enum"
        out["options"] = list(node["enum"])
    else:
        out["type"] = node.get("type", "complex")
    for src, dst in (("minimum", "min"), ("maximum", "max"), ("exclusiveMinimum", "gt"), ("exclusiveMaximum", "lt")):
        if src in node:
            out[dst] = node[src]
    if "default" in prop:
        out["default"] = prop["default"]
    out["key_field"] = key in KEY_FIELDS.get(section, [])
    out["read_only"] = (f"{section}.{key}" in READ_ONLY or out["type"] in ("complex", "object")
                        or section in READ_ONLY_SECTIONS)  # fmt: skip
    group = next((g["key"] for g in FIELD_GROUPS.get(section, []) if key in g["fields"]), None)
    if group:
        out["group"] = group
    return out


def _optional_table(schema: dict, prop: dict) -> dict | None:
    """The table's schema if ``prop`` is an optional table (``Exit | None``: absent = switched off)."""
    options = prop.get("anyOf") or []
    refs = [o for o in options if "$ref" in o]
    if len(options) == 2 and len(refs) == 1 and any(o.get("type") == "null" for o in options):
        return _deref(schema, refs[0])
    return None


def _defaults() -> dict:
    """First values of each switchable group or table: from the first preset that has it on."""
    from credsim.scenario import load

    names = presets()
    out: dict = {}
    for name in [n for n in DEFAULTS_FROM if n in names] + [n for n in names if n not in DEFAULTS_FROM]:
        data = load(name)[1].model_dump(mode="json")
        for key, value in data.items():
            if isinstance(value, dict) and key not in out and key in ("exit", "appeals", "adaptive"):
                out[key] = value
        for section, groups in FIELD_GROUPS.items():
            for g in groups:
                gk = f"{section}.{g['key']}"
                body = data.get(section) or {}
                if gk not in out and any(body.get(f) not in (None, 0, 0.0) for f in g["fields"]):
                    out[gk] = {f: body.get(f) for f in g["fields"]}
    return out


def form_spec() -> dict:
    """The dashboard's controls: one section per scenario table, built from ``Scenario``'s schema.

    An optional table (the CSM-2 ``[exit]``, ``[appeals]``, ``[adaptive]``) is a section that is
    switched on and off (``optional``; off: the table is absent), with first values from a preset
    (``defaults``); a group of fields inside a section (the initial list) likewise (``groups``).
    The schedule is shown read-only (``read_only``)."""
    schema = Scenario.model_json_schema()
    defaults = _defaults()
    sections = []
    for name, prop in schema["properties"].items():
        optional = _optional_table(schema, prop)
        node = optional or _deref(schema, prop)
        is_list = node.get("type") == "array"
        item = _deref(schema, node["items"]) if is_list else node
        fields = [_describe(schema, name, k, p) for k, p in item["properties"].items()]
        fields.sort(key=lambda f: (not f["key_field"], KEY_FIELDS.get(name, []).index(f["key"]) if f["key_field"] else 0))
        section = {
            "key": name, "title": name.replace("_", " ").capitalize(), "list": is_list,
            "description": (prop.get("description") or item.get("description") or "").split("\n")[0],
            "fields": fields, "optional": optional is not None, "read_only": name in READ_ONLY_SECTIONS,
            "groups": [dict(g, defaults=defaults.get(f"{name}.{g['key']}")) for g in FIELD_GROUPS.get(name, [])],
        }  # fmt: skip
        if optional is not None:
            section["defaults"] = defaults.get(name)
        sections.append(section)
    return {"sections": sections, "limits": {"population": MAX_POPULATION, "days": MAX_DAYS}}


def scenario_payload(name: str, sc: Scenario) -> dict:
    """A scenario as the page loads it: its data, and its schedule in words (shown read-only)."""
    from credsim.scenario.describe import schedule_entries

    return {"name": name, "scenario": sc.model_dump(mode="json"),
            "schedule": [entry.text() for entry in schedule_entries(sc)]}  # fmt: skip


# -- validation -------------------------------------------------------------------------------------


def _field_messages(problems: list[tuple[str, str]], known_paths: set[str]) -> list[dict]:
    """Every problem of a scenario as {field, message}, field paths as the loader writes them."""
    out = []
    for path, msg in problems:
        if path not in known_paths:
            # a check across fields (score.min > score.max ...): put it on the first field it names
            named = [p for p in re.findall(r"[a-z_]+(?:\[\d+\])?\.[a-z_]+", msg) if p in known_paths]
            if named:
                path = named[0]
        out.append({"field": path, "message": " ".join(msg.split())})
    return out


def _known_paths(data) -> set[str]:
    paths = set()
    if not isinstance(data, dict):
        return paths
    for section, body in data.items():
        if isinstance(body, dict):
            paths.update(f"{section}.{k}" for k in body)
        elif isinstance(body, list):
            for i, item in enumerate(body):
                if isinstance(item, dict):
                    paths.update(f"{section}[{i}].{k}" for k in item)
    return paths


@dataclass
class RunRequest:
    name: str
    scenario: Scenario
    baseline: str
    population: int
    days: int
    seed: int


def _field_error(field_name: str, err: CredsimError) -> dict:
    msg = str(err)
    head, sep, rest = msg.partition(": ")
    return {"field": field_name, "message": rest if sep and " " not in head else msg}


def check_request(body) -> tuple[RunRequest | None, list[dict]]:
    """Validate a run request exactly as the CLI would; returns (request or None, field errors)."""
    from credsim.api import parse_count, parse_seed
    from credsim.results.scorecard import check_comparable

    if not isinstance(body, dict):
        return None, [{"field": "request", "message": "expected a JSON object"}]
    errors: list[dict] = []
    data = body.get("scenario")
    scenario = None
    if not isinstance(data, dict):
        errors.append({"field": "scenario", "message": "no scenario: pick a preset or upload a TOML file"})
    else:
        # the CLI's own validation: the model's rules and the plan's (probabilities summing past 1, ...)
        scenario, problems = scenario_problems(data)
        errors += _field_messages(problems, _known_paths(data))
    population = days = seed = None
    try:
        population = parse_count(_text(body.get("population")), "population")
        if population > MAX_POPULATION:
            raise CredsimError(f"population: at most {MAX_POPULATION:,} here (use `credsim run` for more), got {population:,}")
    except CredsimError as err:
        errors.append(_field_error("run.population", err))
    try:
        days = parse_count(_text(body.get("days")), "days")
        if days > MAX_DAYS:
            raise CredsimError(f"days: at most {MAX_DAYS}, got {days}")
    except CredsimError as err:
        errors.append(_field_error("run.days", err))
    try:
        seed = parse_seed(_text(body.get("seed")))
    except CredsimError as err:
        errors.append(_field_error("run.seed", err))
    name = body.get("name")
    if not isinstance(name, str) or not RUN_NAME.fullmatch(name):
        errors.append({"field": "run.name", "message": "lowercase letters, digits, '-' and '_', starting with a letter "
                                                       "(at most 48 characters)"})  # fmt: skip
    baseline = body.get("baseline")
    base_sc = None
    if not isinstance(baseline, str) or baseline not in presets():
        errors.append({"field": "run.baseline", "message": f"choose one of the presets ({', '.join(presets())})"})
    else:
        from credsim.scenario import load

        base_sc = load(baseline)[1]
        if scenario is not None:
            try:
                check_comparable(scenario, base_sc, str(name))
            except CredsimError as err:
                errors.append({"field": "run.baseline", "message": str(err).removeprefix("compare: ")})
            if name == baseline and scenario != base_sc:
                errors.append({"field": "run.name", "message": f"{name!r} is the baseline's name; "
                                                               "give the edited scenario another name"})  # fmt: skip
    if errors:
        return None, errors
    return RunRequest(name, scenario, baseline, population, days, seed), []


def _text(value) -> str | int:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        return repr(value)
    return value if isinstance(value, int) else str(value)


# -- results ------------------------------------------------------------------------------------------


def _clean(obj):
    """JSON-ready: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):
        return _clean(obj.item())
    return obj


#: The CSM-2 daily columns (MODEL.md §8.6) and how the page sums each over a run.
MECHANISM_COLUMNS = [
    ("settlements", "total", "Listings settled (paid)"), ("term_exits", "total", "Left the list at the end of a term"),
    ("owing", "last", "Listed and owing, last day"), ("appeals_filed", "total", "Appeals filed"),
    ("appeals_upheld", "total", "Appeals upheld"), ("appeals_rejected", "total", "Appeals rejected"),
    ("appeals_pending", "last", "Appeals pending, last day"), ("near", "mean", "Near the line, daily mean"),
]  # fmt: skip


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
                values.append(int(d[column].sum()) if how == "total" else int(d[column].iloc[-1]) if how == "last"
                              else round(float(d[column].mean()), 1))  # fmt: skip
        if any(v is not None for v in values):
            rows.append({"column": column, "how": how, "label": label, "values": values})
    return {"columns": list(runs), "rows": rows} if rows else None


def results_payload(inp, reused: dict | None = None) -> dict:
    """What the page draws: the runs, the scorecard (rows of metrics), verdicts and the report's charts."""
    from credsim.report import HIDDEN_METRICS
    from credsim.report.charts import build_charts
    from credsim.results.scorecard import metric_label, metric_order

    charts = build_charts(inp.runs, inp.baseline)
    runs = [{"label": label, "run_id": r.run_id, "name": r.name, "population": r.population, "days": r.days,
             "seed": str(r.seed), "reused": bool((reused or {}).get(label))} for label, r in inp.runs.items()]  # fmt: skip
    card = None
    if inp.cards:
        names = list(inp.cards)
        rows = []
        for metric in metric_order(inp.cards.values()):
            if metric in HIDDEN_METRICS:
                continue
            unit, words = metric_label(metric)
            rows.append({"metric": metric, "unit": unit, "label": words[:1].upper() + words[1:],
                         "values": [inp.cards[n].get(metric, math.nan) for n in names]})  # fmt: skip
        card = {"columns": names, "rows": rows}
    return _clean({
        "runs": runs, "baseline": inp.baseline, "scorecard": card, "verdicts": inp.verdicts, "notes": inp.notes,
        "mechanisms": mechanism_rows(inp.runs),
        "charts": [{"key": c.key, "heading": c.heading, "about": c.about, "notes": c.notes, "spec": c.spec}
                   for c in charts],
    })  # fmt: skip


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
        out = {"id": self.id, "state": self.state, "name": r.name, "baseline": r.baseline, "population": r.population,
               "days": r.days, "stage": self.stage, "day": self.day, "runs_started": self.runs_started,
               "runs_total": self.runs_total, "message": self.message,
               "elapsed_s": round((self.finished or time.time()) - self.created, 2)}  # fmt: skip
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

        comp = compare([(r.name, r.scenario)], r.population, r.days, r.seed, baseline=r.baseline,
                       catalog=self.catalog, progress=progress)  # fmt: skip
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
            rows.append({"run_id": row.run_id, "name": row.name, "population": int(row.population),
                         "days": int(row.days), "seed": str(row.seed), "backend": row.backend,
                         "loop_s": round(float(row.loop_s), 3), "created_at": str(row.created_at)[:19]})  # fmt: skip
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


# -- HTTP -----------------------------------------------------------------------------------------


def _static(name: str) -> bytes:
    return (resources.files("credsim.dashboard") / "static" / name).read_bytes()


def _vega_js() -> bytes:
    from credsim.report import vega_bundle

    return vega_bundle().encode("utf-8")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Handler(BaseHTTPRequestHandler):
    server: "DashboardServer"
    server_version = "credsim-dashboard"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    # -- plumbing
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Frame-Options", "DENY")
        if self.command == "POST" and not getattr(self, "_body_read", True):
            self.close_connection = True  # an unread body would be taken for the next request
            self.send_header("Connection", "close")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if "Cache-Control" not in (extra or {}):
            self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data) -> None:
        body = json.dumps(_clean(data), separators=(",", ":"), allow_nan=False).encode()
        self._send(status, body, "application/json")

    def _error(self, status: int, message: str, **extra) -> None:
        self._json(status, {"error": message, **extra})

    def _host_ok(self) -> bool:
        """On loopback, only requests addressed to a loopback name (no DNS rebinding)."""
        if not is_loopback(self.server.bound_host):
            return True
        host = (self.headers.get("Host") or "").strip()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return is_loopback(name.strip("[]")) if name else False

    def _origin_ok(self) -> bool:
        """A POST from the page itself, or from a non-browser client (which sends no Origin)."""
        if self.headers.get("Sec-Fetch-Site") not in (None, "same-origin", "none"):
            return False
        origin = self.headers.get("Origin")
        if origin is None:
            return True
        parts = urlsplit(origin)
        return parts.scheme == "http" and parts.netloc == (self.headers.get("Host") or "")

    def _body(self, limit: int) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise _HTTPError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        n = int(length)
        if n > limit:
            if n <= 16 * limit:  # read it (and drop it) so that the client sees the answer, not a broken pipe
                for _ in range(0, n, 1 << 16):
                    self.rfile.read(min(1 << 16, n))
                    n -= 1 << 16
                self._body_read = True
            raise _HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the request is larger than {limit:,} bytes")
        self._body_read = True
        return self.rfile.read(n)

    def _json_body(self):
        raw = self._body(MAX_JSON_BYTES)
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise _HTTPError(HTTPStatus.BAD_REQUEST, f"not valid JSON: {err}") from None

    def _dispatch(self, method: str) -> None:
        self._body_read = False
        try:
            if not self._host_ok():
                raise _HTTPError(HTTPStatus.FORBIDDEN, "this server answers to localhost only")
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            if method == "POST":
                if not self._origin_ok():
                    raise _HTTPError(HTTPStatus.FORBIDDEN, "cross-origin request refused")
                route = POST_ROUTES.get(url.path)
            else:
                route = GET_ROUTES.get(url.path)
                if route is None and url.path.startswith("/api/jobs/"):
                    route = Handler.get_job
            if route is None:
                if method == "GET" and url.path in STATIC:
                    return self.get_static(url.path)
                raise _HTTPError(HTTPStatus.NOT_FOUND, f"no such page: {url.path[:100]}")
            route(self, url.path, query)
        except _HTTPError as err:
            self._error(err.status, err.message)
        except NotFound as err:
            self._error(HTTPStatus.NOT_FOUND, str(err))
        except Busy as err:
            self._error(HTTPStatus.CONFLICT, str(err))
        except CredsimError as err:
            self._error(HTTPStatus.BAD_REQUEST, str(err))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as err:
            traceback.print_exc(file=sys.stderr)
            try:
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(err).__name__}")
            except OSError:
                pass

    def do_GET(self):  # noqa: N802
        self._dispatch("GET")

    def do_HEAD(self):  # noqa: N802
        self._dispatch("GET")

    def do_POST(self):  # noqa: N802
        self._dispatch("POST")

    # -- GET
    def get_static(self, path: str) -> None:
        name, ctype = STATIC[path]
        self._send(HTTPStatus.OK, _static(name), ctype)

    def get_vega(self, path, query) -> None:
        self._send(HTTPStatus.OK, self.server.vega_js(), "text/javascript; charset=utf-8",
                   {"Cache-Control": "public, max-age=86400"})  # fmt: skip

    def get_form(self, path, query) -> None:
        self._json(HTTPStatus.OK, form_spec())

    def get_presets(self, path, query) -> None:
        names = presets()
        self._json(HTTPStatus.OK, {"presets": names, "default": DEFAULT_PRESET if DEFAULT_PRESET in names else names[0]})

    def get_preset(self, path, query) -> None:
        from credsim.scenario import load

        name = query.get("name", "")
        if name not in presets():
            raise NotFound(f"preset: no preset {name[:60]!r}")
        _, sc = load(name)
        self._json(HTTPStatus.OK, scenario_payload(name, sc))

    def get_runs(self, path, query) -> None:
        self._json(HTTPStatus.OK, {"catalog": str(self.server.app.catalog.path), "runs": self.server.app.runs()})

    def get_run_scenario(self, path, query) -> None:
        r = self.server.app.load_run(query.get("run", ""))
        self._json(HTTPStatus.OK, {**scenario_payload(r.name, r.scenario), "run_id": r.run_id,
                                   "population": r.population, "days": r.days, "seed": str(r.seed)})  # fmt: skip

    def get_status(self, path, query) -> None:
        app = self.server.app
        job = app.current()
        self._json(HTTPStatus.OK, {"busy": job is not None, "job": job.to_json(False) if job else None,
                                   "started_runs": app.started_runs})  # fmt: skip

    def get_job(self, path, query) -> None:
        tail = path.removeprefix("/api/jobs/")
        job = self.server.app.job(int(tail)) if tail.isdigit() and len(tail) < 12 else None
        if job is None:
            raise NotFound(f"job: no job {tail[:20]!r}")
        self._json(HTTPStatus.OK, job.to_json())

    def get_download(self, path, query) -> None:
        result = self.server.app.load_run(query.get("run", ""))
        table, fmt = query.get("table", "daily"), query.get("format", "csv")
        body, ctype, suffix = table_bytes(result, table, fmt)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", result.run_id or "run")[:120]
        self._send(HTTPStatus.OK, body, ctype, {"Content-Disposition": f'attachment; filename="{safe}-{table}.{suffix}"'})

    # -- POST
    def post_validate(self, path, query) -> None:
        request, errors = check_request(self._json_body())
        answer = {"ok": not errors, "errors": errors}
        if request is not None:  # the schedule in words, with the values before each entry as edited now
            answer["schedule"] = scenario_payload(request.name, request.scenario)["schedule"]
        self._json(HTTPStatus.OK, answer)

    def post_run(self, path, query) -> None:
        request, errors = check_request(self._json_body())
        if errors:
            # an answer, not a failure: the page shows the messages next to the fields (200 keeps the console clean)
            self._json(HTTPStatus.OK, {"ok": False, "error": "fix the marked fields first", "errors": errors})
            return
        job = self.server.app.submit(request)
        self._json(HTTPStatus.ACCEPTED, {"ok": True, "job": job.to_json(False)})

    def post_upload(self, path, query) -> None:
        raw = self._body(MAX_UPLOAD_BYTES)
        filename = Path(query.get("filename", "uploaded.toml")).name[:100] or "uploaded.toml"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CredsimError(f"{filename}: not UTF-8 text; not a TOML file") from None
        sc = from_toml(text, filename)  # data only: tomllib, then the model
        stem = re.sub(r"[^a-z0-9_-]", "-", Path(filename).stem.lower()).strip("-_")
        name = stem if RUN_NAME.fullmatch(stem or "") else "uploaded"
        self._json(HTTPStatus.OK, scenario_payload(name, sc))

    def post_compare(self, path, query) -> None:
        from credsim.report import prepare

        body = self._json_body()
        ids = body.get("run_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise CredsimError("run_ids: pick one or more runs")
        if len(ids) > MAX_COMPARE:
            raise CredsimError(f"run_ids: at most {MAX_COMPARE} runs at once")
        if len(set(ids)) != len(ids):
            raise CredsimError("run_ids: a run appears twice")
        runs = [self.server.app.load_run(i) for i in ids]
        self._json(HTTPStatus.OK, results_payload(prepare(runs)))


GET_ROUTES = {
    "/static/vega.js": Handler.get_vega,
    "/api/form": Handler.get_form,
    "/api/presets": Handler.get_presets,
    "/api/preset": Handler.get_preset,
    "/api/runs": Handler.get_runs,
    "/api/run-scenario": Handler.get_run_scenario,
    "/api/status": Handler.get_status,
    "/api/download": Handler.get_download,
}
POST_ROUTES = {
    "/api/validate": Handler.post_validate,
    "/api/run": Handler.post_run,
    "/api/upload": Handler.post_upload,
    "/api/compare": Handler.post_compare,
}


class _HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = int(status), message


class DashboardServer(ThreadingHTTPServer):
    """A threading HTTP server that carries the dashboard's :class:`App`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, app: App, verbose: bool = False):
        self.app, self.verbose = app, verbose  # before binding: a failed bind calls server_close()
        super().__init__(address, Handler)
        self.bound_host = address[0]
        self._vega: bytes | None = None

    def vega_js(self) -> bytes:
        if self._vega is None:
            self._vega = _vega_js()
        return self._vega

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}/"

    def server_close(self) -> None:
        super().server_close()
        self.app.close()


def make_server(host: str = "127.0.0.1", port: int = 8050, catalog: str | Path | None = None,
                verbose: bool = False) -> DashboardServer:  # fmt: skip
    """A ready-to-serve dashboard (``port=0``: any free port). Raises CredsimError if it cannot listen."""
    import socket

    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise CredsimError(f"port: must be in 0..65535, got {port!r}")
    cls = DashboardServer
    if ":" in host:
        cls = type("DashboardServer6", (DashboardServer,), {"address_family": socket.AF_INET6})
    app = App(catalog)
    try:
        return cls((host, port), app, verbose)
    except OSError as err:
        app.close()
        raise CredsimError(f"serve: cannot listen on {host}:{port}: {err.strerror or err}") from None
