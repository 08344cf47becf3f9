"""The ``credsim`` command line. Host code only: parse, call the API, print.

Every user error (bad scenario, bad number, unwritable folder) is one line on stderr and exit
code 2, with no traceback and nothing half-written.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from credsim.console import (  # noqa: F401 (re-exported: extensions written against credsim.cli)
    CATALOG_HELP,
    SCENARIO_HELP,
    DayProgress,
    end_process,
    err_console,
    fail,
    out_console,
    user_errors,
)
from credsim.errors import CredsimError

app = typer.Typer(
    name="credsim",
    help="Simulate a social-credit system on a synthetic population and measure what it does.\n\n"
    "Agents are integers: credsim reads no real person's data, recognises no face, tracks no one.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

@app.command()
def run(
    scenario: str = typer.Argument(..., help=SCENARIO_HELP),
    population: str = typer.Option("10000", "--population", "-n", help="Agents: 10000, 1e6, 1.4e9 or 1_000_000."),
    days: str = typer.Option("365", "--days", "-d", help="Simulated days (1..65535)."),
    seed: str = typer.Option("1", "--seed", "-s", help="Random seed, 0..2^64-1. Same seed, same integers."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output folder: daily.csv, regions.csv, Parquet copies, run.json."
    ),
    backend: str = typer.Option(
        "cpu", "--backend", "-b", help="cpu|cuda|ray: cpu (all cores), cuda (one GPU) or ray (--shards actors)."
    ),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default: all cores)."),
    shards: int = typer.Option(1, "--shards", help="With --backend ray: split the population over this many actors."),
    hist_bins: str = typer.Option("0", "--hist-bins", help="Also count public scores in this many bins (0: off)."),
    hist_every: str = typer.Option("1", "--hist-every", help="Histogram cadence in days."),
    panel: Optional[str] = typer.Option(
        None,
        "--panel",
        help="Also write panel.csv: the day of K tracked agents, ids (j*N)//K (1..min(N, 100000)).",
    ),
    checkpoint_every: str = typer.Option(
        "auto",
        "--checkpoint-every",
        help="Save a checkpoint in OUT.partial every this many days (0: only when stopped; auto: about every "
        "2 minutes of wall time). Ctrl-C, SIGTERM and SIGHUP stop after the current day with a checkpoint; "
        "continue with `credsim resume`.",
    ),
    restart: bool = typer.Option(
        False, "--restart", help="Discard an unfinished run left in OUT.partial (its checkpoint) and start from day 1."
    ),
    catalog: Optional[Path] = typer.Option(
        None,
        "--catalog",
        help="Also record the run in this catalog (default: $CREDSIM_CATALOG, else ./credsim.duckdb).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Run one scenario and write its daily and region tables (the docking command of MODEL.md §7)."""
    from credsim.api import MAX_HIST_BINS, parse_count, parse_seed, resolve
    from credsim.reliability.checkpoint import RunInputs, RunStopped, parse_every, parse_int, start
    from credsim.console import stopped
    from credsim.kernel.layout import MAX_PANEL
    from credsim.results.store import Catalog
    from credsim.scenario.model import MAX_DAYS

    with user_errors():
        n = parse_count(population)
        d = parse_count(days, "days")
        s = parse_seed(seed)
        hb = parse_int(hist_bins, "hist-bins", 0, MAX_HIST_BINS)
        he = parse_int(hist_every, "hist-every", 1, MAX_DAYS)
        k_panel = 0 if panel is None else parse_int(panel, "panel", 1, min(n, MAX_PANEL))
        if threads is not None and threads < 1:
            raise CredsimError(f"threads: must be at least 1, got {threads}")
        if shards != 1 and backend != "ray":
            raise CredsimError(f"shards: --shards {shards} needs --backend ray")
        name, sc = resolve(scenario)
        inputs = RunInputs.new(name, sc, n, d, s, backend, hb, he, parse_every(checkpoint_every), panel=k_panel)
        try:
            with DayProgress(Path(scenario).stem, n, d, enabled=not quiet) as bar:
                result = start(
                    out, inputs, restart=restart, threads=threads, on_day=bar, shards=shards, catalog=Catalog(catalog)
                )
        except RunStopped as stop:
            stopped(stop)
    if not quiet:
        tm = result.timing
        out_console.print(
            f"{result.name}: {n:,} agents × {d} days in {tm.loop_s:.2f} s "
            f"({n * d / max(tm.loop_s, 1e-9):.3g} agent-steps/s; set-up {tm.setup_s:.2f} s) → {out}"
        )


def _progress_factory(population: int, days: int, quiet: bool):
    """Progress bars for runs started by compare/sweep: one bar per scenario."""
    stack = []

    def make(name: str):
        bar = DayProgress(name, population, days, enabled=not quiet)
        bar.__enter__()
        stack.append(bar)

        def on_day(t: int, total: int) -> None:
            bar(t, total)
            if t == total:
                bar.__exit__(None, None, None)

        return on_day

    return make


def print_scorecard(comparison, console: Console = out_console) -> None:
    """The scorecard as a rich table (metrics × scenarios), then each verdict."""
    from rich.table import Table

    from credsim.results.scorecard import metric_label, metric_order

    names = list(comparison.cards)
    seeds = getattr(comparison, "seeds", None) or []
    title = f"Scorecard against {comparison.baseline} (same seed: common random numbers)"
    if len(seeds) > 1:
        title = (
            f"Scorecard against {comparison.baseline}: mean over {len(seeds)} seeds {seeds[0]}..{seeds[-1]} "
            "[95% Student-t interval over the paired values]; each seed paired with the baseline's "
            "(common random numbers)"
        )
    table = Table(title=title)
    table.add_column("metric", style="bold")
    table.add_column("unit")
    for n in names:
        table.add_column(n + (" (stored)" if comparison.reused.get(n) else ""), justify="right")
    skip = {"offences_prevented", "listed_person_days"}
    for metric in metric_order(comparison.cards.values()):
        if metric in skip:
            continue
        unit, _ = metric_label(metric)
        vals = [comparison.cards[n].get(metric) for n in names]  # absent: the scenario lacks that mechanism
        cells = ["—" if v is None else "n/a" if v != v else f"{v:,.2f}" for v in vals]
        if len(seeds) > 1:  # the interval under the mean
            ivs = [comparison.intervals[n].get(metric) for n in names]
            cells = [c if iv is None or iv[0] != iv[0] else f"{c}\n[{iv[0]:,.2f}, {iv[1]:,.2f}]" for c, iv in zip(cells, ivs)]
        table.add_row(metric, unit, *cells)
    console.print(table)
    for n, text in comparison.verdicts.items():
        console.print(f"[bold]{n}[/]: {text}", soft_wrap=False)


@app.command()
def compare(
    scenarios: list[str] = typer.Argument(..., help="Scenarios to compare (presets or TOML paths)."),
    population: str = typer.Option("1e6", "--population", "-n", help="Agents."),
    days: str = typer.Option("365", "--days", "-d", help="Simulated days."),
    seed: str = typer.Option("1", "--seed", "-s", help="Seed shared by every run (common random numbers)."),
    seeds: str = typer.Option(
        "1",
        "--seeds",
        help="Run seeds SEED..SEED+K-1 (each scenario paired with the baseline "
        "of the same seed) and give every figure as a mean with a 95% Student-t interval.",
    ),
    baseline: str = typer.Option("baseline", "--baseline", help="The reference scenario: the system switched off."),
    backend: str = typer.Option("cpu", "--backend", "-b", help="cpu|cuda|ray."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the scorecard as JSON instead of a table."),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write an HTML report to this file."),
    figures: Optional[Path] = typer.Option(
        None, "--figures", help="Also write the report's charts as PNG and SVG here."
    ),
    fresh: bool = typer.Option(False, "--fresh", help="Recompute even if the catalog holds the same runs."),
    panel: Optional[str] = typer.Option(
        None,
        "--panel",
        help="Track K agents in every run (the same ids, (j*N)//K): the report draws a few of them "
        "and `credsim explain RUN AGENT` tells their stories.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Run what the catalog lacks and print a scorecard of each scenario against the baseline."""
    import json

    from credsim.api import parse_count
    from credsim.kernel.layout import MAX_PANEL
    from credsim.reliability.checkpoint import parse_int
    from credsim.results.compare import compare as do_compare
    from credsim.results.store import Catalog

    with user_errors():
        if report is not None or figures is not None:
            from credsim.report import check_outputs

            check_outputs(report, figures)  # before any run: never replace what credsim did not write
        n, d = parse_count(population), parse_count(days, "days")
        cat = Catalog(catalog)
        k_panel = 0 if panel is None else parse_int(panel, "panel", 1, min(n, MAX_PANEL))
        from credsim.results.compare import MAX_SEEDS

        k_seeds = parse_int(seeds, "seeds", 1, MAX_SEEDS)
        comp = do_compare(
            scenarios,
            n,
            d,
            seed,
            baseline=baseline,
            catalog=cat,
            backend=backend,
            progress=_progress_factory(n, d, quiet or as_json),
            reuse=not fresh,
            panel=k_panel,
            seeds=k_seeds,
        )
        if as_json:
            sys.stdout.write(json.dumps(comp.to_json(), indent=2) + "\n")
        else:
            for name, was in comp.reused.items():
                if comp.seed_reused:
                    k = sum(r[name] for r in comp.seed_reused)
                    if k:
                        err_console.print(f"{name}: reused {k} of {len(comp.seeds)} stored runs (same inputs and code)")
                elif was:
                    err_console.print(f"{name}: reused stored run {comp.results[name].run_id} (same inputs and code)")
            print_scorecard(comp)
        if report is not None:
            from credsim.report import write_report

            path = write_report(comp, report, figures=figures)
            err_console.print(f"report: {path.resolve()}")
        elif figures is not None:
            from credsim.report import write_figures

            write_figures(comp, figures)
        if figures is not None:
            err_console.print(f"figures: {figures.resolve()}")


@app.command()
def runs(catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP)) -> None:
    """List the runs in the catalog, newest first."""
    from rich.table import Table

    from credsim.results.store import Catalog

    with user_errors():
        df = Catalog(catalog, create=False).runs()
    table = Table(title=f"runs in {Catalog(catalog).path}")
    table.add_column("run_id", no_wrap=True, min_width=17)  # whole ids: show and report need them
    for col in ("name", "population", "days", "seed", "backend", "loop_s", "created_at"):
        table.add_column(col)
    for row in df.itertuples():
        table.add_row(
            row.run_id,
            row.name,
            f"{row.population:,}",
            str(row.days),
            str(row.seed),
            row.backend,
            f"{row.loop_s:.2f}",
            str(row.created_at)[:19],
        )
    out_console.print(table)


@app.command()
def show(
    run_id: str = typer.Argument(..., help="A run id from `credsim runs`."),
    catalog: Optional[Path] = typer.Option(None, "--catalog", help=CATALOG_HELP),
    export: Optional[Path] = typer.Option(None, "--export", help="Also write the run's tables (CSV + Parquet) here."),
) -> None:
    """Print one stored run: its inputs and its last day."""
    from credsim.results.store import Catalog

    with user_errors():
        cat = Catalog(catalog, create=False)
        r = cat.load(run_id)
        if export is not None:
            r.write_dir(export)
    out_console.print(
        f"[bold]{r.run_id}[/]: {r.name}, {r.population:,} agents × {r.days} days, seed {r.seed}, "
        f"{r.backend}, day loop {r.timing.loop_s:.2f} s"
    )
    last = r.daily.iloc[-1]
    for col in r.tables.columns:
        out_console.print(f"  {col:<32} {int(last[col]):>20,}")


@app.command()
def presets() -> None:
    """List the built-in scenarios."""
    from credsim.scenario import presets as names

    for name in names():
        out_console.print(name)


@app.command("scenario")
def show_scenario(scenario: str = typer.Argument(..., help=SCENARIO_HELP)) -> None:
    """Validate a scenario and print it as canonical TOML."""
    from credsim.plan import compile_plan
    from credsim.scenario import canonical_toml, load

    with user_errors():
        _, sc = load(scenario)
        compile_plan(sc, 1, 0)  # the derived tables too: rates that sum past 1 in some policy in force
    sys.stdout.write(canonical_toml(sc))


@app.command()
def version() -> None:
    """Print the credsim version."""
    from credsim.version import __version__

    out_console.print(__version__)


def _print_version(value: bool) -> None:
    if value:
        version()
        raise typer.Exit()


@app.callback()
def _options(
    _version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the credsim version and exit."
    ),
) -> None:
    pass


#: Modules that add commands to the app: each defines ``register(app)`` and imports heavy
#: dependencies inside its commands, so ``credsim --help`` stays fast.
EXTENSIONS = (
    "credsim.report.commands",
    "credsim.reliability.commands",
    "credsim.distributed.commands",
    "credsim.library.commands",
    "credsim.dashboard.commands",
    "credsim.results.commands",
    "credsim.results.sensitivity_commands",
)


def _register_extensions() -> None:
    import importlib

    for name in EXTENSIONS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name is not None and name.startswith(err.name):
                continue  # that part of credsim is not present
            raise
        module.register(app)


_register_extensions()


@app.command("schema")
def schema(
    path: bool = typer.Option(False, "--path", help="Print where the shipped schema file is instead of its content."),
) -> None:
    """Print the JSON Schema of scenario files (for editors: Taplo, VS Code's Even Better TOML)."""
    from credsim.scenario.schema import SCHEMA_FILE

    if path:
        out_console.print(str(SCHEMA_FILE), highlight=False, soft_wrap=True)
    else:
        sys.stdout.write(SCHEMA_FILE.read_text(encoding="utf-8"))


def main() -> None:
    """Entry point of the ``credsim`` script: runs the command line, then ends the process."""
    try:
        app()
    except SystemExit as done:
        if threading.current_thread() is not threading.main_thread():
            raise
        end_process(done.code)


if __name__ == "__main__":
    main()
