"""The design of a sensitivity analysis: the ranges file (which fields vary, and over what) and the
points SALib draws over them (:mod:`credsim.results.sensitivity` runs and analyses them)."""

from __future__ import annotations

import math
import os
import tomllib
import typing
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from credsim.errors import CredsimError, ScenarioError
from credsim.results.scorecard import WORLD_FIELDS
from credsim.scenario import Scenario
from credsim.scenario.loader import read_text_file, validate

#: Morris grid levels.
MORRIS_LEVELS = 4
#: Ranges files are small; a larger file is refused before it is parsed.
MAX_RANGES_BYTES = 1 << 20


# -- the ranges file -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """One varied field: its schedule path, bounds, whether it is an integer, and whether it describes
    the world (then the baseline gets the same value)."""

    path: str
    low: float
    high: float
    integer: bool = False
    world: bool = False

    def value(self, u: float) -> int | float:
        """The field's value at design coordinate ``u`` (SALib's sample scaled to [low, high])."""
        if not self.integer:
            return float(u)
        return int(min(self.high, math.floor(u)))


def _flatten(doc: dict, prefix: str = "") -> dict:
    """``{"channel": {"x": {"detect": [..]}}}`` (dotted keys unquoted) → ``{"channel.x.detect": [..]}``."""
    out = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, path + "."))
        else:
            out[path] = value
    return out


def _field_type(path: str) -> type | None:
    """int, float or another type of the model field at a (syntactically valid) schedule path."""
    from credsim.scenario import Scenario

    parts = path.split(".")
    info = Scenario.schedule_models()[parts[0]].model_fields[parts[-1]]
    ann = info.annotation
    args = [a for a in typing.get_args(ann) if a is not type(None)] if typing.get_origin(ann) else [ann]
    return args[0] if len(args) == 1 else None


def _set_path(data: dict, path: str, value) -> None:
    """Set ``path`` in a scenario's plain data with the schedule's own rules (MODEL.md §8.4), raising
    CredsimError with the schedule's refusal (``_Refused``) otherwise."""
    from credsim.scenario import Scenario
    from credsim.scenario.schedule import _Refused, _set_one

    try:
        _set_one(data, 0, path, value, Scenario.schedule_models())
    except _Refused as err:
        raise CredsimError(f'"{path}": {err.msg}') from None


def _is_world(path: str) -> bool:
    parts = path.split(".")
    return parts[0] in ("channel", "activity") and parts[-1] in WORLD_FIELDS[parts[0]]


def _plain(scenario: Scenario) -> dict:
    return scenario.model_dump(mode="json", exclude_none=True)


def with_values(scenario: Scenario, values: dict[str, int | float], source: str) -> Scenario:
    """A copy of ``scenario`` with the fields at ``values``' paths set, validated as a scenario file
    (pydantic rules, its schedule, and the plan's checks); ScenarioError naming the field otherwise."""
    data = _plain(scenario)
    for path, value in values.items():
        _set_path(data, path, value)
    return validate(data, source)


def parse_ranges(
    text: str, scenario: Scenario, baseline: Scenario | None = None, source: str = "ranges"
) -> list[Range]:
    """Parse and check a ranges document against the scenario (and the baseline, for world fields)."""
    try:
        doc = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as err:
        raise CredsimError(f"{source}: not valid TOML: {err}") from None
    flat = _flatten(doc)
    if not flat:
        raise CredsimError(f'{source}: no ranges (write one per line: "channel.NAME.FIELD" = [low, high])')
    out: list[Range] = []
    for path, bounds in flat.items():
        where = f'{source}: "{path}"'
        try:
            _set_path(_plain(scenario), path, 0)  # the schedule's refusals: unknown or fixed paths
        except CredsimError as err:
            raise CredsimError(f"{source}: {err}") from None
        kind = _field_type(path)
        if kind is bool or kind not in (int, float):
            raise CredsimError(f"{where}: only a numeric field can vary, and this one is not a number")
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or any(isinstance(b, bool) or not isinstance(b, (int, float)) for b in bounds)
        ):
            raise CredsimError(f"{where}: expected [low, high], two numbers, got {bounds!r}")
        low, high = bounds
        if not all(math.isfinite(b) for b in bounds):
            raise CredsimError(f"{where}: low and high must be finite numbers, got {bounds!r}")
        if not low < high:
            raise CredsimError(f"{where}: low ({low:g}) must be below high ({high:g})")
        integer = kind is int
        if integer and (low != int(low) or high != int(high)):
            raise CredsimError(f"{where}: an integer field: low and high must be whole numbers, got {bounds!r}")
        world = _is_world(path)
        for name, bound in (("low", low), ("high", high)):
            value = int(bound) if integer else float(bound)
            try:
                with_values(scenario, {path: value}, source)
                if world and baseline is not None:
                    with_values(baseline, {path: value}, f"{source} (baseline)")
            except (ScenarioError, CredsimError) as err:
                msg = str(err).split(": ", 1)[-1] if str(err).startswith(source) else str(err)
                raise CredsimError(f"{where}: {name} {value:g} is outside the field's validity: {msg}") from None
        out.append(Range(path, float(low), float(high), integer, world))
    return out


def load_ranges(path: str | os.PathLike, scenario: Scenario, baseline: Scenario | None = None) -> list[Range]:
    """Read and check a ranges TOML file (:func:`parse_ranges`)."""
    try:
        text = read_text_file(Path(path), "ranges", CredsimError, MAX_RANGES_BYTES)
    except CredsimError as err:
        msg = str(err)
        raise CredsimError(msg if msg.startswith("ranges") else f"ranges: {msg}") from None
    return parse_ranges(text, scenario, baseline, f"ranges {path}")


# -- the design -------------------------------------------------------------------------------------


def problem(ranges: list[Range]) -> dict:
    """SALib's problem: integer fields span [low, high + 1) so that flooring gives each whole value
    an equal share of the design."""
    return {
        "num_vars": len(ranges),
        "names": [r.path for r in ranges],
        "bounds": [[r.low, r.high + 1.0 if r.integer else r.high] for r in ranges],
    }


def design(ranges: list[Range], method: str, samples: int, seed: int) -> np.ndarray:
    """The design matrix (points × parameters, SALib's scaled coordinates); deterministic in ``seed``."""
    rng_seed = seed % (1 << 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SALib: "N should be a power of 2" (the docs say so)
        if method == "sobol":
            from SALib.sample import sobol

            return sobol.sample(problem(ranges), samples, calc_second_order=False, seed=rng_seed)
        from SALib.sample import morris

        return morris.sample(problem(ranges), samples, num_levels=MORRIS_LEVELS, seed=rng_seed)


def design_size(n_params: int, method: str, samples: int) -> int:
    return samples * (n_params + 2 if method == "sobol" else n_params + 1)


def point_values(ranges: list[Range], row) -> dict[str, int | float]:
    return {r.path: r.value(u) for r, u in zip(ranges, row)}


def describe_point(values: dict) -> str:
    return ", ".join(f"{p}={v:g}" if isinstance(v, float) else f"{p}={v}" for p, v in values.items())
