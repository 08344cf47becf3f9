"""The quickstart notebook runs top to bottom, and is stored without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).parent.parent / "docs" / "notebooks" / "quickstart.ipynb"


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "the notebook has no code"
    for i, cell in enumerate(code):
        assert cell.outputs == [], f"code cell {i} has stored outputs: clear them before committing"
        assert cell.execution_count is None, f"code cell {i} has an execution count"
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, f"stray metadata: {sorted(nb.metadata)}"


@pytest.mark.slow
def test_notebook_runs_top_to_bottom(tmp_path):
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    # cwd is a fresh folder: the notebook must not need (or write) files next to it
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "offences_prevented_pct" in text  # the scorecard
    assert "essay prevented" in text  # the verdict
    svgs = [o["data"]["image/svg+xml"] for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) == 1 and svgs[0].lstrip().startswith("<svg") and "listed" in svgs[0].lower()
    assert list(tmp_path.iterdir()) == []
