"""``credsim report RUN_ID... --out report.html [--figures DIR] [--catalog PATH]``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    from credsim.cli import CATALOG_HELP, err_console, user_errors

    @app.command("report")
    def report(
        run_ids: list[str] = typer.Argument(..., help="Run ids from `credsim runs` (a run named baseline is scored against)."),
        out: Path = typer.Option(Path("report.html"), "--out", "-o", help="The HTML file to write (one file, works offline)."),
        figures: Optional[Path] = typer.Option(None, "--figures", help="Also write every chart as PNG and SVG into this folder."),
        catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP),
    ) -> None:
        """Write an HTML report with charts of stored runs (and a scorecard against a run named baseline)."""
        from credsim.errors import CredsimError
        from credsim.report import write_report
        from credsim.results.store import Catalog

        with user_errors():
            if len(set(run_ids)) != len(run_ids):
                raise CredsimError("report: a run id appears twice")
            cat = Catalog(catalog, create=False)
            runs = [cat.load(run_id) for run_id in run_ids]
            path = write_report(runs, out, figures=figures)
        err_console.print(f"report: {path.resolve()}")
        if figures is not None:
            err_console.print(f"figures: {figures.resolve()}")
