"""CLI commands of the reliability module: ``credsim resume`` and ``credsim incomplete``.

Registered by :data:`credsim.cli.EXTENSIONS`; heavy imports stay inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def resume(
    folder: Path = typer.Argument(..., help="The work folder OUT.partial of a stopped run (or OUT itself)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default: all cores)."),
    backend: Optional[str] = typer.Option(
        None,
        "--backend",
        "-b",
        help="Continue on another backend (default: the run's own; all give the same integers).",
    ),
    shards: int = typer.Option(1, "--shards", help="With a ray run: split the population over this many actors."),
    checkpoint_every: Optional[str] = typer.Option(
        None,
        "--checkpoint-every",
        help="Checkpoint cadence in days or auto (default: as the run was started; 0: none).",
    ),
    catalog: Optional[Path] = typer.Option(
        None,
        "--catalog",
        help="Also record the finished run in this catalog (default: $CREDSIM_CATALOG, else ./credsim.duckdb).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Continue a stopped or crashed `credsim run` from its last checkpoint and write its output folder.

    The tables are identical to those of an uninterrupted run.
    """
    from credsim.console import DayProgress, out_console, stopped, user_errors
    from credsim.errors import CredsimError
    from credsim.reliability.checkpoint import RunStopped, Work, parse_every, resume as do_resume
    from credsim.results.store import Catalog

    with user_errors():
        if threads is not None and threads < 1:
            raise CredsimError(f"threads: must be at least 1, got {threads}")
        work = Work.open(folder)
        _, inputs = work.read_inputs()
        if shards != 1 and (backend or inputs.backend) != "ray":
            raise CredsimError(f"shards: --shards {shards} needs --backend ray")
        every = None if checkpoint_every is None else parse_every(checkpoint_every)
        try:
            with DayProgress(inputs.name, inputs.population, inputs.days, enabled=not quiet) as bar:
                result = do_resume(
                    folder,
                    every=every,
                    threads=threads,
                    shards=shards,
                    backend=backend,
                    on_day=bar,
                    catalog=Catalog(catalog),
                )
        except RunStopped as stop:
            stopped(stop)
    if not quiet:
        out_console.print(
            f"{result.name}: {result.population:,} agents × {result.days} days (resumed; day loop "
            f"{result.timing.loop_s:.2f} s in all) → {work.out}",
            markup=False,
            highlight=False,
        )


def incomplete(
    folder: Path = typer.Argument(Path("."), help="Folder to look in for unfinished runs (OUT.partial)."),
    catalog: Optional[Path] = typer.Option(
        None,
        "--catalog",
        help="Also list this catalog's incomplete rows (default: $CREDSIM_CATALOG, else ./credsim.duckdb if present).",
    ),
) -> None:
    """List unfinished work (stopped runs, interrupted writes, incomplete catalog rows): never results.

    Stopped runs are shown with the day their checkpoint reached and the command that resumes them.
    """
    from credsim.console import out_console, user_errors
    from credsim.reliability.checkpoint import find_incomplete
    from credsim.results.store import Catalog, catalog_path

    with user_errors():
        found = find_incomplete(folder)
        rows = []
        path = catalog_path(catalog)
        if path.exists():
            with Catalog(path).connect() as con:
                rows = con.execute(
                    "SELECT run_id, name, population, days, created_at FROM runs WHERE NOT complete "
                    "ORDER BY created_at DESC"
                ).fetchall()
    lines = []
    for e in found:
        if e["kind"] == "unfinished run" and "day" in e:
            day = "?" if e["day"] < 0 else str(e["day"])
            lines.append(
                f"unfinished run  {e['path']}  {e['name']}, {e['population']:,} agents, "
                f"day {day}/{e['days']}  ({e['status']})"
            )
        else:
            lines.append(f"{e['kind']}  {e['path']}  ({e['status']})")
    for run_id, name, population, days, _ in rows:
        lines.append(
            f"incomplete catalog row  {path}:{run_id}  {name}, {population:,} agents, {days} days  "
            "(never listed as a result)"
        )
    if not lines:
        lines.append(f"no unfinished work in {folder}")
    for line in lines:
        out_console.print(line, markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("resume")(resume)
    app.command("incomplete")(incomplete)
