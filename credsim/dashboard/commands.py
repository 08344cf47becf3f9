"""``credsim serve [--port P] [--host H] [--catalog PATH]``: the web dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    from credsim.console import CATALOG_HELP, err_console, user_errors

    @app.command("serve")
    def serve(
        port: int = typer.Option(8050, "--port", "-p", help="TCP port (0: any free port)."),
        host: str = typer.Option(
            "127.0.0.1",
            "--host",
            help="Address to listen on. Anything but localhost "
            "exposes the dashboard, which has no login, to your network.",
        ),
        catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every request to stderr."),
    ) -> None:
        """Serve a web dashboard to pick, tweak, run and compare scenarios (offline, local by default)."""
        from rich.text import Text

        from credsim.dashboard.server import is_loopback, make_server

        with user_errors():
            server = make_server(host, port, catalog, verbose=verbose)
        if not is_loopback(host):
            err_console.print(
                Text.assemble(
                    ("warning:", "bold yellow"),
                    f" listening on {host}: anyone who can reach this machine can run simulations and read the "
                    "catalog (the dashboard has no login). Use the default --host 127.0.0.1 unless you mean it.",
                ),
                soft_wrap=True,
            )
        err_console.print(f"credsim dashboard: {server.url}  (catalog: {server.app.catalog.path}; Ctrl-C to stop)", soft_wrap=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            err_console.print("stopped")
        finally:
            server.server_close()
