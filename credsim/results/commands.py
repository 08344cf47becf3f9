"""``credsim explain RUN AGENT [--json]``: a tracked agent's run as a story and a table.

RUN is a run folder (``credsim run ... --panel K --out DIR``) or a run id from the catalog. The
story is built by :mod:`credsim.results.story`; this command only formats it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def load_run(spec: str, catalog: Optional[Path], what: str = "explain"):
    """A run folder or a catalog run id → RunResult (one-line CredsimError otherwise)."""
    from credsim.errors import CredsimError
    from credsim.results.run import RunResult
    from credsim.results.store import Catalog

    if Path(spec).is_dir():
        return RunResult.read_dir(spec)
    if "/" in spec or spec.startswith("."):
        raise CredsimError(f"{what}: {spec} is not a folder (give a run folder or a run id)")
    try:
        cat = Catalog(catalog, create=False)
    except CredsimError:
        raise CredsimError(
            f"{what}: {spec} is not a run folder, and there is no catalog {Catalog(catalog).path} to look its id up in"
        ) from None
    return cat.load(spec)


def register(app: typer.Typer) -> None:
    from credsim.console import CATALOG_HELP, out_console, user_errors

    @app.command("explain")
    def explain(
        run: str = typer.Argument(
            ..., metavar="RUN", help="A run folder written with --panel K, or a run id from `credsim runs`."
        ),
        agent: str = typer.Argument(..., metavar="AGENT", help="A tracked agent's id (the panel's ids are (j*N)//K)."),
        as_json: bool = typer.Option(False, "--json", help="Print the story, its totals and its events as JSON."),
        catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP),
    ) -> None:
        """Tell a tracked agent's run: when and why it entered and left the list, its appeals and settlements."""
        import json
        import sys

        from rich.table import Table

        from credsim.results.story import tell

        with user_errors():
            story = tell(load_run(run, catalog), agent)
        if as_json:
            sys.stdout.write(json.dumps(story.to_json(), indent=2) + "\n")
            return
        out_console.print(story.text, highlight=False, markup=False)
        if not story.events:
            return
        table = Table(title=f"agent {story.agent}: events", title_justify="left")
        for col, just in (
            ("day", "right"),
            ("event", "left"),
            ("channel", "left"),
            ("detail", "left"),
            ("own", "right"),
            ("public", "right"),
            ("line", "right"),
            ("listed", "right"),
        ):
            table.add_column(col, justify=just, overflow="fold")
        for e in story.events:
            table.add_row(
                str(e["day"]),
                e["event"],
                e["channel"] or "",
                e["detail"] or "",
                *(str(e[c]) if c in e else "" for c in ("own", "public", "threshold")),
                ("yes" if e["listed"] else "no") if "listed" in e else "",
            )
        out_console.print(table)
