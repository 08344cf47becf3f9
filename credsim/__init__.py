"""credsim: measure what a social-credit system does to a society, on synthetic populations.

Pipeline (one module per stage): scenario → population → kernel → engine → results.
Agents are integers; credsim reads no real person's data.
"""

from credsim.api import simulate
from credsim.errors import CredsimError, ScenarioError
from credsim.results.run import RunResult
from credsim.scenario import Scenario, load, presets
from credsim.version import __version__

__all__ = ["simulate", "load", "presets", "Scenario", "RunResult", "CredsimError", "ScenarioError", "__version__"]
