"""What every command of the ``credsim`` command line shares: consoles, one-line errors, progress.

The faces layer's foundation: :mod:`credsim.cli` and each package's ``commands`` module import
these names from here (never from :mod:`credsim.cli`, which imports the commands modules to
register them: a commands module importing the CLI would be an import cycle).
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from credsim.errors import CredsimError

err_console = Console(stderr=True)
out_console = Console()

SCENARIO_HELP = "A preset name (see [bold]credsim presets[/]) or a path to a scenario TOML file."


def fail(message: str) -> None:
    """Print a one-line error and exit with code 2."""
    from rich.text import Text

    # a Text, not markup: the message may quote user input such as "[/]"
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@contextmanager
def user_errors():
    """Turn CredsimError (and Ctrl-C) into a one-line message and an exit code."""
    try:
        yield
    except CredsimError as err:
        fail(str(err))
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(130) from None


#: What the bar says until the first day is reported. Set-up is a second or two once the day
#: kernel is in numba's cache, but a few minutes the first time a machine runs credsim (it
#: compiles the kernel), and a bar standing at 0 days with nothing else said looks like a hang.
SETTING_UP = "setting up (first run: kernel compile, minutes)"


class DayProgress:
    """A rich progress bar of days done, agent-steps per second and time left; until the first day,
    a note of what set-up is doing (:data:`SETTING_UP`)."""

    def __init__(self, label: str, population: int, days: int, enabled: bool = True):
        self.population, self.days = population, days
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("days"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=err_console,
            disable=not enabled,
            transient=False,
        )
        self.task = self.progress.add_task(label, total=days, rate=SETTING_UP)
        self.t0 = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            return self.progress.__exit__(*exc)
        except OSError:  # the terminal is gone (SIGHUP): what is running matters, not the bar
            return False

    def __call__(self, t: int, days: int) -> None:
        now = time.perf_counter()
        if self.t0 is None:
            self.t0, self.t_first = now, t
        rate = ""
        if t > self.t_first:
            steps = (t - self.t_first) * self.population / (now - self.t0)
            rate = f"{steps:.3g} agent-steps/s"
        self.progress.update(self.task, completed=t, rate=rate)

CATALOG_HELP = "Catalog file (default: $CREDSIM_CATALOG, else ./credsim.duckdb)."


def stopped(stop) -> None:
    """After a stop signal: one line saying where the checkpoint is and how to continue; exit code
    128 + the signal (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)."""
    import sys

    line = (
        f"stopped by {stop.signal_name} after day {stop.day} of {stop.days}; checkpoint saved; "
        f"continue with: credsim resume {stop.work}\n"
    )
    try:  # plain write: after SIGHUP the terminal may be gone, and the checkpoint is what matters
        sys.stderr.write(line)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    raise typer.Exit(stop.exit_code)


def end_process(code) -> NoReturn:
    """End the process as ``sys.exit(code)`` would, less the interpreter's teardown.

    Python's shutdown joins the threads, runs the exit handlers and flushes stdout and stderr, then
    frees every module, and its last garbage collections walk every object numba's compiler and
    registries made: 0.3 s on a quiet machine, over 1 s under load, of each `credsim run` that
    follows its day loop (docs/performance.md, "The whole process"). This does the first three, in
    that order, then ``os._exit``: every file credsim writes is closed and fsynced before, and the
    catalog's connection closed, so the teardown has nothing left to save."""
    import atexit
    import os

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): the message on stderr, status 1
        print(code, file=sys.stderr)
        status = 1
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe: what Python's own shutdown reports as 120
            status = status or 120
    os._exit(status & 0xFF if status >= 0 else status % 256)
