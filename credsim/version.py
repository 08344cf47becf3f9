"""The package's version, declared once (pyproject.toml reads it without importing credsim)."""

__version__ = "0.1.0"
