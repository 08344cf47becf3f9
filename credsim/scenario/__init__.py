"""Scenarios: validated data describing a social-credit system (the first stage of the pipeline)."""

from credsim.scenario.loader import canonical_toml, from_dict, from_toml, load, presets, scenario_hash
from credsim.scenario.model import Activity, Channel, Scenario

__all__ = ["Scenario", "Channel", "Activity", "load", "from_toml", "from_dict", "presets", "canonical_toml", "scenario_hash"]
