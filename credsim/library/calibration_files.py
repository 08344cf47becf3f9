"""A calibration's output folder: the fitted scenario, its residuals and trials, written all at once
(:func:`credsim.library.calibrate.calibrate` makes the :class:`~credsim.library.calibrate.Calibration`)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

from credsim.errors import CredsimError
from credsim.fsutil import CALIBRATION, check_output_folder, write_output_folder
from credsim.scenario import canonical_toml

if TYPE_CHECKING:
    from credsim.library.calibrate import Calibration


def check_out(out: str | Path) -> None:
    """Refuse early (before any trial) an output folder :func:`write_calibration` would refuse."""
    check_output_folder(Path(out), CALIBRATION)


def write_calibration(cal: Calibration, out: str | Path) -> Path:
    """Write ``fitted.toml``, ``residuals.json``, ``residuals.csv``, ``trials.csv`` and the marker
    ``calibration.json`` into ``out``: a new folder all at once (a temporary sibling renamed into
    place); an earlier calibration folder file by file, replacing only credsim's own files."""
    out = Path(out)
    header = [
        f"# fitted by credsim calibrate from {cal.settings.get('scenario')!s}: "
        f"population {cal.settings.get('population')}, days {cal.settings.get('days')}, "
        f"seeds {_seeds(cal.settings)}, {cal.settings.get('trials')} TPE trials "
        f"(sampler seed {cal.settings.get('sampler_seed')}), loss {cal.loss:.6g}"
    ]
    header += [f"# {path} = {value!r}" for path, value in cal.params.items()]
    files = {
        "fitted.toml": "\n".join(header) + "\n" + canonical_toml(cal.scenario),
        "residuals.json": json.dumps(cal.to_json(), indent=2) + "\n",
        "residuals.csv": _csv_text(
            [
                "metric",
                "last_days",
                "target",
                "simulated",
                "residual",
                "relative_residual",
                "weight",
                "date",
                "day",
                "tolerance",
                "met",
                "seed_min",
                "seed_max",
            ],
            cal.residuals,
        ),
    }
    if cal.trials:
        rows = [
            {k: (" ".join(f"{x:.6g}" for x in v) if k == "seed_losses" else v) for k, v in r.items()}
            for r in cal.trials
        ]
        files["trials.csv"] = _csv_text(list(dict.fromkeys(k for row in rows for k in row)), rows)
    try:
        write_output_folder(
            out,
            CALIBRATION,
            {name: text.encode("utf-8") for name, text in files.items()},
            {"scenario": cal.settings.get("scenario"), "loss": cal.loss},
        )
    except OSError as err:
        raise CredsimError(f"{out}: cannot write the calibration: {err.strerror or err}") from None
    return out


def _seeds(settings: dict) -> str:
    seeds = settings.get("seeds") or [settings.get("seed")]
    return f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}..{seeds[-1]} (mean)"


def _csv_text(columns: list[str], rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
