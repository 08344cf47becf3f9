"""A run's inputs (``inputs.json`` in its work folder) and the parsing of the options that make them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from credsim.api import MAX_HIST_BINS
from credsim.engine import BACKENDS
from credsim.errors import CredsimError
from credsim.kernel.layout import MAX_PANEL
from credsim.plan import Histogram, Plan, compile_plan
from credsim.scenario import Scenario, canonical_toml, from_toml
from credsim.scenario.model import MAX_DAYS


INPUTS = "inputs.json"
#: ``--checkpoint-every auto`` (the interval policy is :class:`credsim.reliability.checkpoint.Checkpointer`'s).
AUTO = "auto"
FORMAT = "credsim-run-inputs/1"
#: inputs.json is a few kilobytes (the scenario file is at most 1 MiB); refuse anything bigger.
MAX_INPUTS_BYTES = 4 << 20


# -- parsing -----------------------------------------------------------------------------------
def parse_int(value: int | str, field: str, lo: int, hi: int) -> int:
    """A whole number in lo..hi, from an int or text; one-line CredsimError otherwise."""
    if isinstance(value, bool):
        raise CredsimError(f"{field}: expected a whole number, got {value!r}")
    if isinstance(value, int):
        n = value
    else:
        try:
            n = int(str(value).strip().replace("_", ""))
        except ValueError:
            raise CredsimError(f"{field}: expected a whole number in {lo}..{hi}, got {value!r}") from None
    if not lo <= n <= hi:
        raise CredsimError(f"{field}: must be in {lo}..{hi}, got {n}")
    return n


def parse_every(value: str | int) -> int | str:
    """``--checkpoint-every``: a number of days, ``auto`` (about every 2 minutes of wall time) or ``0``/``off``."""
    text = str(value).strip().lower()
    if text == AUTO:
        return AUTO
    if text in ("off", "never", "none"):
        return 0
    try:
        return parse_int(text, "checkpoint-every", 0, MAX_DAYS)
    except CredsimError:
        raise CredsimError(
            f"checkpoint-every: expected a number of days (0 for none) or 'auto', got {value!r}"
        ) from None


# -- inputs --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunInputs:
    """Everything that determines a run's tables (plus the cadence of its checkpoints)."""

    name: str
    scenario_toml: str
    population: int
    days: int
    seed: int
    backend: str
    hist_bins: int = 0
    hist_every: int = 1
    checkpoint_every: int | str = 0  # days, or "auto" (by wall time)
    code_version: str = ""
    panel: int = 0  # tracked agents of the panel (MODEL.md §8.7); 0: none

    @classmethod
    def new(
        cls,
        name: str,
        scenario: Scenario,
        population: int,
        days: int,
        seed: int,
        backend: str,
        hist_bins: int = 0,
        hist_every: int = 1,
        checkpoint_every: int | str = 0,
        panel: int = 0,
    ) -> RunInputs:
        from credsim.results.store import code_version

        inputs = cls(
            name,
            canonical_toml(scenario),
            population,
            days,
            seed,
            backend,
            hist_bins,
            hist_every,
            checkpoint_every,
            code_version(),
            panel,
        )
        inputs.validate()
        return inputs

    def validate(self, source: str = "") -> None:
        """Raise CredsimError (one line, prefixed by ``source``) if any field is out of range."""
        from credsim.api import MAX_POPULATION

        pre = f"{source}: " if source else ""

        def need(ok: bool, field: str, what: str) -> None:
            if not ok:
                raise CredsimError(f"{pre}{field}: {what}, got {getattr(self, field)!r}")

        if self.backend not in BACKENDS:
            raise CredsimError(f"{pre}backend: unknown backend {self.backend!r} (choose from {', '.join(BACKENDS)})")

        def whole(x) -> bool:
            return isinstance(x, int) and not isinstance(x, bool)

        need(isinstance(self.name, str) and 0 < len(self.name) <= 256, "name", "expected a short text")
        need(isinstance(self.scenario_toml, str), "scenario_toml", "expected TOML text")
        need(
            whole(self.population) and 1 <= self.population <= MAX_POPULATION,
            "population",
            f"must be a whole number in 1..{MAX_POPULATION:.0e}",
        )
        need(whole(self.days) and 1 <= self.days <= MAX_DAYS, "days", f"must be in 1..{MAX_DAYS}")
        need(whole(self.seed) and 0 <= self.seed < 1 << 64, "seed", "must be in 0..2^64-1")
        need(whole(self.hist_bins) and 0 <= self.hist_bins <= MAX_HIST_BINS, "hist_bins", f"must be in 0..{MAX_HIST_BINS}")
        need(whole(self.hist_every) and 1 <= self.hist_every <= MAX_DAYS, "hist_every", f"must be in 1..{MAX_DAYS}")
        need(
            self.checkpoint_every == AUTO or (whole(self.checkpoint_every) and 0 <= self.checkpoint_every <= MAX_DAYS),
            "checkpoint_every",
            f"must be 'auto' or in 0..{MAX_DAYS}",
        )
        need(isinstance(self.code_version, str), "code_version", "expected text")
        need(
            whole(self.panel) and 0 <= self.panel <= min(self.population, MAX_PANEL),
            "panel",
            f"must be in 0..min(population, {MAX_PANEL})",
        )

    def scenario(self, source: str = "inputs") -> Scenario:
        return from_toml(self.scenario_toml, f"{source}: scenario_toml")

    def plan(self) -> Plan:
        return compile_plan(
            self.scenario(), self.population, self.seed, Histogram(self.hist_bins, self.hist_every), self.panel
        )

    def to_bytes(self) -> bytes:
        from credsim.version import __version__

        data = {"format": FORMAT, "credsim_version": __version__, **asdict(self), "seed": str(self.seed)}
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, raw: bytes, source: str) -> RunInputs:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise CredsimError(f"{source}: not valid JSON ({err})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CredsimError(f"{source}: not a credsim run-inputs file (format {FORMAT!r} expected)")
        fields = list(cls.__dataclass_fields__)
        data.setdefault("panel", 0)  # inputs written before panels existed
        missing = [f for f in fields if f not in data]
        if missing:
            raise CredsimError(f"{source}: {missing[0]}: missing field")
        values = {f: data[f] for f in fields}
        seed = values["seed"]
        if not isinstance(seed, str) or not seed.isdigit() or len(seed) > 20:
            raise CredsimError(f"{source}: seed: expected decimal digits, got {seed!r}")
        values["seed"] = int(seed)
        inputs = cls(**values)
        inputs.validate(source)
        inputs.scenario(source)  # a one-line ScenarioError if the TOML is not a valid scenario
        return inputs
