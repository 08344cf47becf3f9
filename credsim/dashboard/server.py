"""The dashboard's HTTP server: static page, JSON API, one background worker for simulations
(the form and its validation are in :mod:`credsim.dashboard.form`, the jobs and downloads in
:mod:`credsim.dashboard.jobs`).

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

import ipaddress
import json
import re
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from credsim.dashboard.form import (  # form_spec, check_request, MAX_POPULATION: also imported from here
    DEFAULT_PRESET,
    MAX_COMPARE,
    MAX_JSON_BYTES,
    MAX_POPULATION,  # noqa: F401 - re-exported
    MAX_UPLOAD_BYTES,
    RUN_NAME,
    check_request,
    form_spec,
    scenario_payload,
)
from credsim.dashboard.jobs import App, Busy, NotFound, clean, results_payload, table_bytes
from credsim.errors import CredsimError
from credsim.scenario import from_toml, presets


STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
}
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

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
        body = json.dumps(clean(data), separators=(",", ":"), allow_nan=False).encode()
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
        self._send(
            HTTPStatus.OK,
            self.server.vega_js(),
            "text/javascript; charset=utf-8",
            {"Cache-Control": "public, max-age=86400"},
        )

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
        self._json(
            HTTPStatus.OK,
            {
                **scenario_payload(r.name, r.scenario),
                "run_id": r.run_id,
                "population": r.population,
                "days": r.days,
                "seed": str(r.seed),
            },
        )

    def get_status(self, path, query) -> None:
        app = self.server.app
        job = app.current()
        self._json(
            HTTPStatus.OK,
            {"busy": job is not None, "job": job.to_json(False) if job else None, "started_runs": app.started_runs},
        )

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


def make_server(
    host: str = "127.0.0.1", port: int = 8050, catalog: str | Path | None = None, verbose: bool = False
) -> DashboardServer:
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
