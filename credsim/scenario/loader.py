"""Load scenarios from TOML files or built-in presets into validated :class:`Scenario` models.

Files are data only: parsed with :mod:`tomllib`, never executed. Every failure becomes a
:class:`~credsim.errors.ScenarioError` whose message is one line: source, field, problem.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import tomllib
from collections import OrderedDict
from importlib import resources
from pathlib import Path

import tomli_w
from pydantic import ValidationError

from credsim.errors import ScenarioError
from credsim.scenario.fields import field_errors  # noqa: F401 (re-exported)
from credsim.scenario.model import Scenario

#: Largest scenario file we read (a scenario is a few kilobytes; this bounds hostile input).
MAX_FILE_BYTES = 1 << 20


def presets() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    folder = resources.files("credsim.scenario") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def plan_problems(scenario: Scenario, population: int = 1, seed: int = 0, hist=None) -> list[tuple[str, str]]:
    """What the model's field rules cannot see and the plan refuses (probabilities that sum past 1
    in some disposition class, a deterrence factor that overflows), as (field, message)."""
    from credsim.plan import compile_plan

    try:
        compile_plan(scenario, population, seed, hist)
    except ScenarioError as err:
        field, sep, msg = str(err).partition(": ")
        return [(field, msg) if sep and " " not in field else ("scenario", str(err))]
    return []


def scenario_problems(
    data, *, population: int = 1, seed: int = 0, hist=None
) -> tuple[Scenario | None, list[tuple[str, str]]]:
    """THE validation of a scenario (the CLI, the API and the dashboard all use it): the pydantic
    model's rules, then the plan's checks. Returns (scenario, []) or (None, [(field, message), ...]).

    ``data`` is a parsed document or a Scenario (already past the model's rules); ``population``,
    ``seed`` and ``hist`` are the run's, when known (the scenario's own checks do not depend on them)."""
    if isinstance(data, Scenario):
        scenario = data
    else:
        try:
            scenario = Scenario.model_validate(data)
        except ValidationError as err:
            return None, field_errors(err)
    problems = plan_problems(scenario, population, seed, hist)
    return (None, problems) if problems else (scenario, [])


def validate(data, source: str = "scenario", *, population: int = 1, seed: int = 0, hist=None) -> Scenario:
    """:func:`scenario_problems` raising ScenarioError with a one-line message: source, field, problem."""
    scenario, problems = scenario_problems(data, population=population, seed=seed, hist=hist)
    if problems:
        field, msg = problems[0]
        extra = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ScenarioError(" ".join(f"{source}: {field}: {msg}{extra}".split()))
    return scenario


def from_dict(data: dict, source: str = "scenario") -> Scenario:
    """Validate a parsed TOML document (:func:`validate`). Raises ScenarioError with a one-line message."""
    return validate(data, source)


def from_toml(text: str, source: str = "scenario") -> Scenario:
    """Parse and validate TOML text."""
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"))  # a byte-order mark (editors on Windows) is not content
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{source}: not valid TOML: {err}") from None
    return from_dict(data, source)


def load(spec: str | Path) -> tuple[str, Scenario]:
    """Load a preset by name or a TOML file by path; returns ``(name, scenario)``.

    The name of a file's scenario is its stem (``runs/high-spouse.toml`` → ``high-spouse``).
    """
    spec_s = str(spec)
    if spec_s in presets():
        text = (resources.files("credsim.scenario") / "presets" / f"{spec_s}.toml").read_text("utf-8")
        return spec_s, from_toml(text, spec_s)
    path = Path(spec_s)
    try:
        exists = path.exists()
    except OSError:  # a name too long for the file system, say: not a file either
        exists = False
    if not path.suffix and not exists:
        raise ScenarioError(f"scenario: {spec_s!r} is neither a preset ({', '.join(presets())}) nor a file")
    return path.stem, from_toml(read_text_file(path, "scenario", ScenarioError), str(path))


_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _not_regular(mode: int) -> str:
    return next((what for test, what in _SPECIAL if test(mode)), "a special file")


def read_text_file(path: Path, what: str, error: type[Exception] = ScenarioError, limit: int = MAX_FILE_BYTES) -> str:
    """A small UTF-8 text file's contents (the one reader of scenario, targets and other input files).

    Regular files only, at most ``limit`` bytes read: a named pipe would block forever and
    /dev/zero or /dev/urandom would never end. A leading UTF-8 byte-order mark is dropped. Every
    failure is ``error`` with a one-line message."""
    path = Path(path)
    where = str(path) if len(str(path)) <= 120 else f"{str(path)[:40]}…{str(path)[-40:]}"  # a path too long to echo
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise error(f"{where}: is a directory, not a {what}")
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{where}: is {_not_regular(info.st_mode)}, not a regular file; not a {what}")
        if info.st_size > limit:
            raise error(f"{where}: file is larger than {limit:,} bytes; not a {what}")
        # O_NONBLOCK: if the path became a FIFO since the stat, opening it must not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise error(f"{where}: is {_not_regular(mode)}, not a regular file; not a {what}")
            data = f.read(limit + 1)
        if len(data) > limit:
            raise error(f"{where}: file is larger than {limit:,} bytes; not a {what}")
        return data.decode("utf-8").removeprefix("\ufeff")
    except FileNotFoundError:
        raise error(f"{where}: no such file") from None
    except IsADirectoryError:
        raise error(f"{where}: is a directory, not a {what}") from None
    except UnicodeDecodeError:
        raise error(f"{where}: not UTF-8 text; not a {what}") from None
    except OSError as err:
        raise error(f"{where}: cannot read: {err.strerror or err}") from None


#: Extension fields left out of the canonical text at their defaults, so a CSM-1 scenario's text
#: (and hash) is the same as before the extension existed.
_EXTENSION_DEFAULTS = {
    ("population", "participation"): 1.0,
    ("grade",): [],
    ("blacklist", "initial_share"): 0.0,
    ("schedule",): [],
}  # the CSM-2 tables [exit], [appeals], [adaptive] are None when absent: never written


#: Recent renderings by scenario object (scenarios are frozen models): a design of thousands of
#: runs hashes and stores each of its scenarios several times, and rendering costs milliseconds.
_RENDERED: OrderedDict[int, tuple[Scenario, str]] = OrderedDict()
_RENDERED_MAX = 1024
_RENDERED_LOCK = threading.Lock()


def canonical_toml(scenario: Scenario) -> str:
    """A canonical TOML rendering: same scenario, same text (used for hashing and storage)."""
    with _RENDERED_LOCK:
        hit = _RENDERED.get(id(scenario))
        if hit is not None and hit[0] is scenario:
            _RENDERED.move_to_end(id(scenario))
            return hit[1]
    text = _render(scenario)
    with _RENDERED_LOCK:  # the entry holds the scenario, so its id cannot be reused while cached
        _RENDERED[id(scenario)] = (scenario, text)
        if len(_RENDERED) > _RENDERED_MAX:
            _RENDERED.popitem(last=False)
    return text


def _render(scenario: Scenario) -> str:
    data = scenario.model_dump(mode="json", exclude_none=True)
    for path, default in _EXTENSION_DEFAULTS.items():
        node = data
        for key in path[:-1]:
            node = node[key]
        if node.get(path[-1]) == default:
            del node[path[-1]]
    return tomli_w.dumps(data)


def scenario_hash(scenario: Scenario) -> str:
    """Short content hash of the canonical TOML."""
    return hashlib.sha256(canonical_toml(scenario).encode()).hexdigest()[:16]
