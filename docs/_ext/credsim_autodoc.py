"""How the API reference reads credsim's docstrings, and which references count as broken.

* Docstrings write parameters as a NumPy-style section whose entries are ``name : what it is``
  (a description, not a type). :func:`parameters_as_fields` turns each entry into a
  ``:param name:`` field and any other NumPy section heading into a rubric (napoleon would read
  the description as a type).
* A pydantic model's signature lists its field names only (:func:`field_signature`).
* The build is nitpicky and offline (no intersphinx). :func:`accept_existing` resolves a Python
  reference that no page documents as plain text **if the name exists** (it can be imported,
  from credsim, the standard library or a dependency); a reference to a name that does not
  exist stays a warning, and the build fails.
"""

from __future__ import annotations

import builtins
import importlib
import re

_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_ENTRY = re.compile(r"^(?P<names>[A-Za-z_*][\w, *]*?)\s+:\s+(?P<text>.*)$")


def parameters_as_fields(app, what, name, obj, options, lines: list[str]) -> None:
    out: list[str] = []
    section = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and line.strip() and _UNDERLINE.match(lines[i + 1]):
            section = line.strip()
            i += 2
            if section.lower() not in ("parameters", "other parameters"):
                out += [f".. rubric:: {section}", ""]
            continue
        if section and section.lower() in ("parameters", "other parameters"):
            m = _ENTRY.match(line)
            if m and not line.startswith(" "):
                for pname in m.group("names").split(","):
                    pname = pname.strip().lstrip("*")
                    out.append(f":param {pname}: {m.group('text')}")
                i += 1
                while i < len(lines) and lines[i].startswith(" ") and lines[i].strip():
                    out.append("   " + lines[i].strip())
                    i += 1
                continue
            if not line.strip():
                out.append("")
                i += 1
                continue
            section = None
        out.append(line)
        i += 1
    lines[:] = out


def exists(target: str) -> bool:
    """Whether a dotted name can be imported (a module, or an attribute chain under one)."""
    target = target.strip().lstrip("~")
    if not target:
        return False
    parts = target.split(".")
    if len(parts) == 1:
        return hasattr(builtins, target) or target == "None"
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True
    return False


def accept_existing(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    module = node.get("py:module")
    candidates = [target] + ([f"{module}.{target}"] if module else [])
    if any(exists(c) for c in candidates):
        return contnode
    return None


def field_signature(app, what, name, obj, options, signature, return_annotation):
    """A pydantic model's signature as its field names (the types are on the scenario page)."""
    from pydantic import BaseModel

    if what == "class" and isinstance(obj, type) and issubclass(obj, BaseModel):
        names = [n if f.is_required() else f"{n}=..." for n, f in obj.model_fields.items()]
        return "(*, " + ", ".join(names) + ")", None
    return None


def setup(app):
    app.connect("autodoc-process-docstring", parameters_as_fields)
    app.connect("autodoc-process-signature", field_signature)
    app.connect("missing-reference", accept_existing)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
