"""CLI commands of the scenario library: ``credsim lint`` and ``credsim calibrate``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``lint`` and ``calibrate`` to the credsim app (heavy imports stay inside the commands)."""
    from credsim.console import SCENARIO_HELP

    @app.command()
    def lint(
        scenario: str = typer.Argument(..., help=SCENARIO_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
    ) -> None:
        """Flag features matching the EU AI Act's prohibited social scoring, Art. 5(1)(c).

        Rules: unrelated-context (detriment in unrelated contexts), disproportionate (unjustified or
        disproportionate detriment), lawful-behaviour (scoring lawful behaviour), family-association
        (spouse or contact penalties). Exit code 0: no findings; 1: findings; 2: bad input.
        """
        from credsim.console import out_console, user_errors
        from credsim.library.lint import lint as run_lint
        from credsim.scenario import load

        with user_errors():
            name, sc = load(scenario)
        findings = run_lint(sc)
        if as_json:
            doc = {"scenario": name, "clean": not findings, "findings": [f.to_json() for f in findings]}
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        elif not findings:
            out_console.print(f"{name}: no findings (no feature matches EU AI Act Art. 5(1)(c))", highlight=False)
        else:
            out_console.print(f"{name}: {len(findings)} finding(s) under EU AI Act Art. 5(1)(c)", highlight=False)
            for f in findings:
                out_console.print(f"  [bold]{f.rule}[/]: {f.message}", highlight=False, soft_wrap=True)
                out_console.print(f"    fields: {', '.join(f.fields)}", highlight=False, soft_wrap=True)
                out_console.print(f"    rule: {f.article}", highlight=False, soft_wrap=True)
        if findings:
            raise typer.Exit(1)

    @app.command()
    def calibrate(
        scenario: str = typer.Argument(..., help=SCENARIO_HELP),
        targets: Path = typer.Option(
            ...,
            "--targets",
            "-t",
            help="Targets TOML: parameters with bounds, targets "
            "(scalar or dated), population, days, seed(s), trials (see docs/scenarios/index.md).",
        ),
        out: Path = typer.Option(
            ..., "--out", "-o", help="Output folder: fitted.toml, residuals.json/.csv, trials.csv."
        ),
        trials: int = typer.Option(0, "--trials", help="Override the file's number of trials (0: keep)."),
        backend: str = typer.Option("cpu", "--backend", "-b", help="cpu or cuda."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary."),
    ) -> None:
        """Fit scenario parameters to target figures (Optuna TPE, seeded: same inputs, same fit)."""
        from dataclasses import replace

        from credsim.console import err_console, out_console, user_errors
        from credsim.errors import CredsimError
        from credsim.library.calibrate import MAX_TRIALS, check_out, load_targets, write_calibration
        from credsim.library.calibrate import calibrate as run_calibrate
        from credsim.scenario import load

        with user_errors():
            check_out(out)  # before any trial: a folder that is not credsim's is refused at once
            name, sc = load(scenario)
            tg = load_targets(targets, sc)
            if trials:
                if not 1 <= trials <= MAX_TRIALS:
                    raise CredsimError(f"--trials: must be in 1..{MAX_TRIALS}, got {trials}")
                tg = replace(tg, trials=trials)

            def on_trial(done: int, total: int) -> None:
                if not quiet and (done == total or done % 10 == 0):
                    err_console.print(f"calibrate {name}: trial {done}/{total}", highlight=False)

            cal = run_calibrate(sc, tg, name=name, backend=backend, on_trial=on_trial)
            path = write_calibration(cal, out)
        if not quiet:
            for p, v in cal.params.items():
                sp = cal.spread.get(p)
                seeds = "" if not sp or len(sp["seeds"]) < 2 else f" (seeds' best: {sp['min']:.6g} .. {sp['max']:.6g})"
                out_console.print(f"{p} = {v:.6g}{seeds}", highlight=False, soft_wrap=True)
            for r in cal.residuals:
                off = f"{100 * r['relative_residual']:+.2f}%" if r["target"] else f"residual {r['residual']:+.6g}"
                met = "" if r["met"] is None else (" met" if r["met"] else f" NOT met (tolerance {r['tolerance']:.0%})")
                on = f" on {r['date']}" if r["date"] else ""
                out_console.print(
                    f"{r['metric']}{on}: target {r['target']:.6g}, simulated {r['simulated']:.6g} ({off}){met}",
                    highlight=False,
                    soft_wrap=True,
                )
            out_console.print(f"loss {cal.loss:.6g} → {path}", highlight=False)
