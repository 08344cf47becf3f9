"""``credsim report RUN... --out report.html [--figures DIR] [--catalog PATH]``: RUN is a run id or a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    from credsim.console import CATALOG_HELP, err_console, user_errors

    @app.command("report")
    def report(
        runs_given: list[str] = typer.Argument(..., metavar="RUN...", help="Run ids from `credsim runs`, or run folders "
                                               "written by `credsim run --out` (a run named baseline is scored against)."),
        out: Path = typer.Option(Path("report.html"), "--out", "-o", help="The HTML file to write (one file, works offline)."),
        figures: Optional[Path] = typer.Option(None, "--figures", help="Also write every chart as PNG and SVG into this folder."),
        catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP),
    ) -> None:
        """Write an HTML report with charts of runs (stored or in run folders), and a scorecard against a run named baseline."""
        from credsim.errors import CredsimError
        from credsim.report import check_outputs, write_report
        from credsim.results.run import RunResult
        from credsim.results.store import Catalog

        with user_errors():
            if len(set(runs_given)) != len(runs_given):
                raise CredsimError("report: a run appears twice")
            check_outputs(out, figures)
            runs, cat = [], None
            for spec in runs_given:
                if Path(spec).is_dir():
                    runs.append(RunResult.read_dir(spec))
                    continue
                if "/" in spec or spec.startswith("."):
                    raise CredsimError(f"report: {spec} is not a folder (give a run folder or a run id)")
                if cat is None:
                    try:
                        cat = Catalog(catalog, create=False)
                    except CredsimError:
                        raise CredsimError(
                            f"report: {spec} is not a run folder, and there is no catalog "
                            f"{Catalog(catalog).path} to look its id up in"
                        ) from None
                runs.append(cat.load(spec))
            path = write_report(runs, out, figures=figures)
        err_console.print(f"report: {path.resolve()}")
        if figures is not None:
            err_console.print(f"figures: {figures.resolve()}")
