"""The scenario library: linting scenarios against the EU AI Act's social-scoring prohibition
(:mod:`credsim.library.lint`) and calibrating scenarios to public figures
(:mod:`credsim.library.calibrate`). The presets themselves live in ``credsim/scenario/presets``."""

from credsim.library.lint import Finding, lint

__all__ = ["Finding", "lint"]
