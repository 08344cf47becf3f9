"""Sphinx configuration of the credsim documentation (``make docs``; tests/test_docs.py builds it with -W)."""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))

import credsim  # noqa: E402

project = "credsim"
author = "credsim contributors"
copyright = "2026, credsim contributors"
release = version = credsim.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "credsim_reference",  # docs/_ext: CLI, scenario schema and daily columns generated from the code
    "credsim_autodoc",  # docs/_ext: reading credsim's docstrings; which references count as broken
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_generated", "notebooks", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

# Every cross-reference must resolve: a link to a missing page or a name that does not exist is a
# warning, and the build runs with warnings as errors. The build is offline (no intersphinx):
# a name that exists but no page documents is shown as plain text (docs/_ext/credsim_autodoc.py).
nitpicky = True

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_default_options = {"exclude-members": "model_config, model_fields, model_computed_fields"}

html_theme = "furo"
html_title = f"credsim {release}"
html_static_path = []
