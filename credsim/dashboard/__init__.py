"""``credsim serve``: a local web dashboard to explore scenarios interactively.

Stack: the standard library's :class:`http.server.ThreadingHTTPServer`, a small JSON API, and one
static HTML page with vanilla JavaScript that draws the report's own Vega-Lite charts with the
vega-embed bundle already shipped by ``vl-convert-python``. No new dependency, nothing fetched
from a CDN: the page works offline.

    from credsim.dashboard import make_server
    server = make_server("127.0.0.1", 0, catalog="runs.duckdb")
    server.serve_forever()
"""

from __future__ import annotations

__all__ = ["App", "DashboardServer", "make_server"]


def __getattr__(name: str):
    """The server's names, imported on first use: every `credsim` command line imports this package
    (its `dashboard` command), and the HTTP server's modules are not needed by the others."""
    if name in __all__:
        from credsim.dashboard import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
