"""Every tutorial and how-to guide runs as written, at small sizes.

The pages' ```sh blocks are commands a reader types; their ```python blocks are code a reader
runs in the same folder afterwards. Both are run here, block by block in page order, in a fresh
folder per page, with sizes capped (population at most 1e5, days at most 60, seeds at most 2) so
the whole set stays cheap. ```text blocks are illustrations (output, a cluster, an edit) and are
not run. A command exits 0 unless its line ends with a comment ``# exits N`` (``credsim lint``
exits 1 when it has findings). A page whose command fails fails the test with its output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted([*DOCS.glob("tutorials/*.md"), *DOCS.glob("howto/*.md")])
BLOCK = re.compile(r"^```(sh|python)\n(.*?)^```$", re.M | re.S)
CAPS = {("--population", "-n"): 1e5, ("--days", "-d"): 60, ("--seeds",): 2}


def blocks(page: Path) -> list[tuple[str, str]]:
    """(language, text) of each runnable block of a page, in order."""
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(page.read_text(encoding="utf-8"))]


def capped(line: str) -> str:
    """``line`` with every size option larger than its cap replaced by the cap."""

    def cap(m: re.Match) -> str:
        for names, limit in CAPS.items():
            if m.group(1) in names and float(m.group(2)) > limit:
                return f"{m.group(1)} {limit:g}"
        return m.group(0)

    return re.sub(r"(--population|-n|--days|-d|--seeds) ([0-9.e_]+)\b", cap, line)


def test_the_pages_have_runnable_blocks():
    assert len(PAGES) >= 8, [p.name for p in PAGES]
    for page in PAGES:
        for lang, text in blocks(page):
            if lang == "sh":
                for line in filter(str.strip, text.splitlines()):
                    assert line.startswith("credsim "), f"{page.name}: not a credsim command: {line}"
    assert capped("credsim compare essay -n 1e6 --days 365 --seeds 5") == "credsim compare essay -n 100000 --days 60 --seeds 2"
    assert capped("credsim run essay --population 2e3 -d 12") == "credsim run essay --population 2e3 -d 12"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_page_runs_as_written(page: Path, tmp_path, monkeypatch):
    env = {k: v for k, v in os.environ.items() if k not in ("CREDSIM_CATALOG", "RAY_ADDRESS")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # this environment's credsim
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CREDSIM_CATALOG", raising=False)
    ran = 0
    for lang, text in blocks(page):
        if lang == "sh":
            for line in filter(str.strip, text.splitlines()):
                cmd = capped(line)
                want = int(m.group(1)) if (m := re.search(r"#\s*exits (\d+)", line)) else 0
                r = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
                assert r.returncode == want, f"{page.name}: `{cmd}` exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
                assert "Traceback" not in r.stderr, f"{page.name}: `{cmd}`:\n{r.stderr[-2000:]}"
                ran += 1
        else:
            exec(compile(text, f"{page.name}:python", "exec"), {"__name__": "__doc__"})
            ran += 1
    assert ran, f"{page.name} has nothing to run"
