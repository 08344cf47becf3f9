"""``credsim sweep``: a grid of scenario variations × seeds on Ray, summarised with intervals.

Registered by :data:`credsim.cli.EXTENSIONS`; Ray is imported only when the command runs.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Optional

import typer


def _fmt(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:,.2f}"


def print_summary(sweep, console) -> None:
    """One row per metric and grid point: the varied values, the mean over seeds and its 95%
    Student-t interval (narrow enough for a terminal however large the grid)."""
    from rich.table import Table

    from credsim.distributed.sweep import COUNT_METRICS
    from credsim.results.scorecard import metric_label

    s = len(sweep.seeds)
    how = f"mean and 95% Student-t interval over {s} seeds" if s > 1 else "one seed: no interval"
    table = Table(title=f"Sweep of {sweep.scenario} against {sweep.baseline} (same seed per run; {how})")
    table.add_column("metric", style="bold", overflow="fold")
    table.add_column("unit")
    fields = list(sweep.points[0])
    for f in fields:
        table.add_column(f, justify="right", overflow="fold")
    table.add_column("mean", justify="right")
    table.add_column("95% interval", justify="right")
    for metric in sweep.summary[0]:
        if metric in COUNT_METRICS:
            continue
        unit, _ = metric_label(metric)
        for i, (point, row) in enumerate(zip(sweep.points, sweep.summary)):
            iv = row[metric]
            interval = f"{_fmt(iv['lo'])} .. {_fmt(iv['hi'])}" if iv["n"] > 1 else "n/a"
            table.add_row(
                metric if i == 0 else "",
                unit if i == 0 else "",
                *(str(point[f]) for f in fields),
                _fmt(iv["mean"]),
                interval,
                end_section=i == len(sweep.points) - 1,
            )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``sweep`` to the credsim command line."""
    from credsim.console import CATALOG_HELP, err_console, out_console, user_errors

    @app.command()
    def sweep(
        scenario: str = typer.Argument(..., help="The scenario to vary (preset name or TOML path)."),
        vary: list[str] = typer.Option(
            [],
            "--vary",
            help="FIELD=V1,V2,...: a dotted scenario path "
            "(score.spouse_weight, channel.public_misconduct.detect); repeat for a grid.",
        ),
        seeds: str = typer.Option("3", "--seeds", help="Seeds per grid point: a count S (seeds 1..S) or a list 1,7,9."),
        population: str = typer.Option("1e5", "--population", "-n", help="Agents per run."),
        days: str = typer.Option("365", "--days", "-d", help="Simulated days per run."),
        baseline: str = typer.Option("baseline", "--baseline", help="The reference scenario (same seed per run)."),
        catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP),
        cpus_per_run: int = typer.Option(1, "--cpus-per-run", help="CPU cores (numba threads) per run task."),
        fresh: bool = typer.Option(False, "--fresh", help="Recompute runs the catalog already holds."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON instead of a table."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Run a grid of variations × seeds as Ray tasks (local, or the cluster at $RAY_ADDRESS); store
        every run in the catalog and print each scorecard metric with a 95% interval across seeds."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from credsim.distributed.sweep import plan_sweep, run_sweep
        from credsim.results.store import Catalog

        with user_errors():
            jobs = plan_sweep(scenario, vary, seeds, population, days, baseline)[-1]  # validate before Ray starts
            cat = Catalog(catalog)
            progress = Progress(
                TextColumn("[bold]sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("runs"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[last]}"),
                console=err_console,
                disable=quiet or as_json,
            )
            with progress:
                task = progress.add_task("sweep", total=len(jobs), last="")

                def on_result(done: int, total: int, label: str) -> None:
                    progress.update(task, completed=done, last=label)

                result = run_sweep(
                    scenario,
                    vary,
                    seeds,
                    population,
                    days,
                    baseline=baseline,
                    catalog=cat,
                    reuse=not fresh,
                    cpus_per_run=cpus_per_run,
                    on_result=on_result,
                )
        if as_json:
            sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
            return
        print_summary(result, out_console)
        ran = len(jobs) - result.reused
        err_console.print(
            f"{len(jobs)} runs ({ran} computed, {result.reused} reused) in {result.wall_s:.1f} s; stored in {cat.path}"
        )

