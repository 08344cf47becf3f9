"""``credsim sensitivity SCENARIO --ranges RANGES.toml``: Sobol or Morris indices of every scorecard metric.

The analysis is :mod:`credsim.results.sensitivity`; the HTML report is :mod:`credsim.report.sensitivity`.
This command only parses, shows progress and prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer


def _cell(x: float, conf: float | None = None) -> str:
    if x != x:
        return "n/a"
    return f"{x:.3f}" if conf is None or conf != conf else f"{x:.3f} ± {conf:.3f}"


def print_sensitivity(result, console) -> None:
    """One ranked table per metric: the parameters, most influential first."""
    from rich.table import Table

    from credsim.results.scorecard import metric_label

    sobol = result.method == "sobol"
    for metric in result.metrics:
        unit, words = metric_label(metric)
        note = result.indices[metric]["note"]
        title = f"{metric} ({words}{', ' + unit if unit else ''})"
        table = Table(title=title, title_justify="left")
        table.add_column("rank", justify="right")
        table.add_column("parameter")
        if sobol:
            table.add_column("total ST ± 95%", justify="right")
            table.add_column("first-order S1 ± 95%", justify="right")
        else:
            table.add_column("mu* ± 95%", justify="right")
            table.add_column("sigma", justify="right")
        for k, row in enumerate(result.ranked(metric), 1):
            if sobol:
                cells = (_cell(row["ST"], row["ST_conf"]), _cell(row["S1"], row["S1_conf"]))
            else:
                cells = (_cell(row["mu_star"], row["mu_star_conf"]), _cell(row["sigma"]))
            table.add_row(str(k), row["parameter"], *cells)
        if note:
            table.caption = f"no indices: the metric is {note}"
        console.print(table)


def register(app: typer.Typer) -> None:
    from credsim.console import CATALOG_HELP, SCENARIO_HELP

    @app.command("sensitivity")
    def sensitivity_command(
        scenario: str = typer.Argument(..., help=SCENARIO_HELP),
        ranges: Path = typer.Option(
            ...,
            "--ranges",
            "-r",
            help='TOML: one "PATH" = [low, high] per varied field, '
            'PATH as in [[schedule]] ("channel.public_misconduct.detect").',
        ),
        method: str = typer.Option(
            "sobol",
            "--method",
            "-m",
            help="sobol (S1 and ST, N×(D+2) points) or morris (mu* and sigma, N×(D+1) points).",
        ),
        samples: str = typer.Option(
            "64", "--samples", "-N", help="N: base samples (Sobol: a power of 2) or Morris trajectories."
        ),
        seeds: str = typer.Option(
            "1", "--seeds", help="Seeds per design point: SEED..SEED+K-1, the metric is the mean."
        ),
        population: str = typer.Option("10000", "--population", "-n", help="Agents per run."),
        days: str = typer.Option("120", "--days", "-d", help="Simulated days per run."),
        seed: str = typer.Option("1", "--seed", "-s", help="First seed (and the design's sampler seed)."),
        baseline: str = typer.Option("baseline", "--baseline", help="The reference scenario: the system switched off."),
        metric: Optional[list[str]] = typer.Option(None, "--metric", help="Only this scorecard metric (repeatable)."),
        workers: Optional[int] = typer.Option(
            None,
            "--workers",
            help="Local processes (default: all cores); "
            "with $RAY_ADDRESS set the runs are Ray tasks on that cluster instead.",
        ),
        catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print the indices as JSON instead of tables."),
        report: Optional[Path] = typer.Option(
            None, "--report", help="Also write an HTML report with a chart per metric."
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Which parameters drive the verdict: Sobol or Morris indices of every scorecard metric over ranges.

        Every run is stored in the catalog and reused: an interrupted analysis resumes where it stopped.
        With $RAY_ADDRESS set, the runs are spread over that Ray cluster."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from credsim.console import err_console, out_console, user_errors
        from credsim.errors import CredsimError
        from credsim.reliability.checkpoint import parse_int
        from credsim.results import sensitivity as sa
        from credsim.results.store import Catalog

        with user_errors():
            if report is not None:
                from credsim.report.sensitivity import check_report

                check_report(report)  # before any run: never replace what credsim did not write
            n_samples = parse_int(samples, "samples", 1, sa.MAX_SAMPLES)
            k_seeds = parse_int(seeds, "seeds", 1, sa.MAX_SEEDS)
            if workers is not None and workers < 1:
                raise CredsimError(f"workers: must be at least 1, got {workers}")
            prep = sa.prepare(
                scenario,
                ranges,
                method=method,
                samples=n_samples,
                seeds=k_seeds,
                population=population,
                days=days,
                seed=seed,
                baseline=baseline,
                metrics=metric or None,
            )
            progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("runs"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=err_console,
                disable=quiet or as_json,
            )
            task = None

            def on_plan(todo: int, reused: int) -> None:
                nonlocal task
                if not (quiet or as_json):
                    err_console.print(
                        f"{prep.name}: {len(prep.design):,} design points × {k_seeds} seed(s): "
                        f"{todo + reused:,} runs, {reused:,} already in the catalog",
                        highlight=False,
                    )
                task = progress.add_task(f"sensitivity {prep.name}", total=max(todo, 1), completed=0 if todo else 1)

            def on_run(done: int, total: int) -> None:
                progress.update(task, completed=done)

            with progress:
                result = sa.run_analysis(prep, Catalog(catalog), workers=workers, on_run=on_run, on_plan=on_plan)
            if as_json:
                sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
            else:
                print_sensitivity(result, out_console)
            if report is not None:
                from credsim.report.sensitivity import write_sensitivity_report

                path = write_sensitivity_report(result, report)
                err_console.print(f"report: {path.resolve()}")
