"""The layered layout (docs/architecture.md): imports point one way only, down the layers.

Every module of the package is placed in one layer by :data:`LAYERS`; the test reads each module's
import statements with :mod:`ast` (lazy imports inside functions too; ``if TYPE_CHECKING:`` blocks,
which never run, excepted) and fails on an edge to a higher layer, on an import cycle between
modules, on domain code that imports typer or rich, and on a module no layer claims.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "credsim"

#: Layers, lowest first, each a list of module names or prefixes (``credsim.kernel`` claims the
#: package and its submodules); the longest matching prefix wins, and ``*.commands`` or ``*_commands``
#: (a package's CLI commands) always belongs to the faces.
LAYERS: list[tuple[str, list[str]]] = [
    ("foundations", ["credsim.errors", "credsim.fsutil", "credsim.sources", "credsim.version"]),
    (
        "scenario",
        [
            "credsim.scenario.model",
            "credsim.scenario.schedule",
            "credsim.scenario.fields",
            "credsim.scenario.describe",
            "credsim.scenario.schema",
        ],
    ),
    # the loader validates a scenario against the plan's checks (scenario_problems), so reading a
    # scenario file sits at the model layer, above the plan it compiles
    (
        "model",
        [
            "credsim.population",
            "credsim.plan",
            "credsim.tables",
            "credsim.kernel",
            "credsim.scenario.loader",
            "credsim.scenario",
        ],
    ),
    # the backends are plugins, one module (or package) each: backends.cpu, backends.cuda, backends.ray.*;
    # the compiled numerical core they run (step functions, CPU drivers, CUDA kernels) is credsim.kernel
    ("backends", ["credsim.backends"]),
    # the API returns a run's result (results.run: its tables as files; results.events: the panel's
    # events): those two modules are the engine's output, below every workflow that reads runs
    ("engine", ["credsim.engine", "credsim.api", "credsim.results.run", "credsim.results.events"]),
    ("workflows", ["credsim.results", "credsim.reliability", "credsim.library", "credsim.distributed"]),
    ("faces", ["credsim.console", "credsim.cli", "credsim.report", "credsim.dashboard", "credsim.__main__", "credsim"]),
]
RANK = {name: k for k, (name, _) in enumerate(LAYERS)}
#: Libraries only the faces may import: domain code reports errors as CredsimError and never prints.
FACE_ONLY = ("typer", "rich")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def layer_of(module: str) -> str | None:
    if module.endswith((".commands", "_commands")):
        return "faces"
    best, best_len = None, -1
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = name, len(prefix)
    return best


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _import_nodes(tree: ast.AST):
    """Import statements anywhere in the tree except under ``if TYPE_CHECKING:``."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if _type_checking_block(node):
            todo.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        todo.extend(ast.iter_child_nodes(node))


def imports_of(module: str) -> tuple[set[str], set[str]]:
    """(credsim modules ``module`` imports, top-level names of the other packages it imports)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text("utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    inner, outer = set(), set()
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            # `from credsim.kernel import layout` names a module; `from credsim.scenario import load` does not
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for target in targets:
            if target == "credsim" or target.startswith("credsim."):
                while target not in MODULES and "." in target:  # `import credsim.x.y` of a name, not a module
                    target = target.rpartition(".")[0]
                if target != module:
                    inner.add(target)
            else:
                outer.add(target.split(".")[0])
    return inner, outer


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_has_a_layer():
    assert [m for m in MODULES if layer_of(m) is None] == []
    assert len(MODULES) > 40  # the walk found the package


def test_no_module_imports_a_higher_layer():
    upward = []
    for m, (inner, _) in GRAPH.items():
        for target in sorted(inner):
            if RANK[layer_of(target)] > RANK[layer_of(m)]:
                upward.append(f"{m} ({layer_of(m)}) -> {target} ({layer_of(target)})")
    assert upward == [], "imports that point up the layers:\n" + "\n".join(upward)


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v][0]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles() == []


def test_domain_code_never_imports_the_cli_libraries():
    offenders = [
        f"{m} imports {lib}"
        for m, (_, outer) in GRAPH.items()
        if layer_of(m) != "faces"
        for lib in sorted(outer & set(FACE_ONLY))
    ]
    assert offenders == []


def test_backends_never_import_the_engine_and_load_heavy_libraries_lazily():
    """A backend is a plugin under the engine; Ray and numba-cuda are imported only when asked for."""
    for m in MODULES:
        if layer_of(m) == "backends":
            assert not GRAPH[m][0] & {"credsim.engine", "credsim.api"}, m
    top = ast.parse(MODULES["credsim.backends"].read_text("utf-8")).body
    top_level = {a.name.split(".")[0] for n in top if isinstance(n, ast.Import) for a in n.names}
    top_level |= {n.module.split(".")[0] for n in top if isinstance(n, ast.ImportFrom) and n.module}
    assert not top_level & {"ray", "numba"}


@pytest.mark.parametrize(
    "source, edge",
    [
        ("from credsim.engine import run_plan\n", "credsim.engine"),
        ("def f():\n    from credsim.cli import out_console\n", "credsim.cli"),
        ("from credsim.kernel import layout as L\n", "credsim.kernel.layout"),
    ],
)
def test_the_import_reader_sees_edges(tmp_path, monkeypatch, source, edge):
    """The checks above can fail: an upward import planted in a copy of a low module is seen."""
    fake = tmp_path / "credsim" / "errors.py"
    fake.parent.mkdir()
    fake.write_text(source)
    monkeypatch.setitem(MODULES, "credsim.errors", fake)
    inner, _ = imports_of("credsim.errors")
    assert edge in inner
    assert RANK[layer_of(edge)] > RANK["foundations"]  # so test_no_module_imports_a_higher_layer would fail
