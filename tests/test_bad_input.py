"""Bad input: a one-line error naming the field, exit code 2, no traceback, nothing half-written."""

import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import scenario_path
from credsim.errors import ScenarioError
from credsim.plan import compile_plan
from credsim.scenario import from_dict, from_toml

ESSAY = tomllib.loads(scenario_path("essay").read_text())


def mutated(path: str, value):
    data = tomllib.loads(scenario_path("essay").read_text())
    node = data
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if p.isdigit() else node[p]
    if value is _DELETE:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return data


_DELETE = object()

BAD_SCENARIOS = [
    ("score.colour", "blue", "score.colour: unknown field"),
    ("score.spouse_weight", _DELETE, "score.spouse_weight: missing field"),
    ("score.start", "high", "score.start"),
    ("score.spouse_weight", 11, "score.spouse_weight"),
    ("score.spouse_weight", -1, "score.spouse_weight"),
    ("population.contacts", 7, "population.contacts: must be even"),
    ("population.contacts", 18, "population.contacts"),
    ("score.min", 2500, "score.min (2500) is above score.max"),
    ("score.start", 2500, "score.start (2500) is outside"),
    ("population.regions", [3, 0, 1], "population.regions: weight of region 1 is 0"),
    ("population.regions", "atlantis", "population.regions"),
    ("channel.0.base", 1.5, "channel[0].base"),
    ("channel.0.name", "Bad Name", "channel[0].name"),
    ("blacklist.mode", "random", "blacklist.mode"),
]


@pytest.mark.parametrize("path,value,expected", BAD_SCENARIOS)
def test_bad_field_names_field(path, value, expected):
    with pytest.raises(ScenarioError) as err:
        from_dict(mutated(path, value), "essay.toml")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("essay.toml: ")
    assert expected in msg


def test_probabilities_past_one_in_a_disposition_class(tmp_path, cli):
    # each base is below 1, but the top disposition class multiplies them past 1 in total
    data = mutated("channel.0.base", 0.45)
    data["channel"][1]["base"] = 0.45
    text = tomllib.loads("")  # noqa: F841  (placeholder to keep tomllib imported for readers)
    import tomli_w

    f = tmp_path / "heavy.toml"
    f.write_text(tomli_w.dumps(data))
    proc = cli("run", str(f), "--population", "100", "--days", "2", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "channel.base: behaviour (disposition class" in proc.stderr and "sum past 1" in proc.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--population", "0"], "population: must be at least 1"),
        (["--population", "-5"], "population"),
        (["--population", "lots"], "population: expected a number"),
        (["--population", "1.5"], "population: must be a whole number"),
        (["--population", "1e11"], "population: "),
        (["--days", "0"], "days: must be at least 1"),
        (["--days", "70000"], "days: must be in 1..65535"),
        (["--seed", "-1"], "seed: must be in 0..2^64-1"),
        (["--seed", str(2**64)], "seed: must be in 0..2^64-1"),
        (["--seed", "x"], "seed: expected an integer"),
        (["--backend", "abacus"], "backend: unknown backend"),
    ],
)
def test_bad_numbers_exit_2_one_line(args, needle, cli, tmp_path):
    out = tmp_path / "o"
    proc = cli("run", "essay", "--out", str(out), "--quiet", *args)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_population_too_large_for_memory_says_so_before_allocating(cli, tmp_path):
    proc = cli("run", "essay", "--population", "8e9", "--days", "1", "--out", str(tmp_path / "o"), "--quiet")
    assert proc.returncode == 2
    assert "GiB of state but only" in proc.stderr


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"this is = = not toml", "not valid TOML"),
        (b"\xff\xfe\x00binary", "not UTF-8"),
        (b"[population]\nregions = [1]\n", "missing field"),
    ],
)
def test_unreadable_or_non_toml_files(content, needle, cli, tmp_path):
    f = tmp_path / "s.toml"
    f.write_bytes(content)
    proc = cli("run", str(f), "--days", "2", "--out", str(tmp_path / "o"), "--quiet")
    assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr


def test_missing_file_and_directory(cli, tmp_path):
    assert "no such file" in cli("run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")).stderr
    proc = cli("run", str(tmp_path), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "is a directory" in proc.stderr


def test_out_is_not_a_run_directory(cli, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("precious")
    proc = cli("run", "essay", "--population", "100", "--days", "2", "--out", str(tmp_path / "busy"), "--quiet")
    assert proc.returncode == 2 and "not a credsim run directory" in proc.stderr
    assert (tmp_path / "busy" / "thesis.tex").read_text() == "precious"


# --- fuzz: every generated scenario either loads or fails with one line naming a field ------------

_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.lists(st.integers(-5, 5), max_size=4),
)


def _paths(data, prefix=()):
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(data, list) and data and isinstance(data[0], dict):
        for i, v in enumerate(data):
            yield from _paths(v, prefix + (i,))
    yield prefix


PATHS = [p for p in _paths(ESSAY) if p]


@given(st.lists(st.tuples(st.sampled_from(PATHS), _leaf), min_size=1, max_size=4))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_scenario_loader(edits):
    data = tomllib.loads(scenario_path("essay").read_text())
    for path, value in edits:
        node = data
        try:
            for p in path[:-1]:
                node = node[p]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced a parent
        if not isinstance(node, dict):
            continue  # a parent was replaced by a list or a scalar
        if value is None:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    try:
        sc = from_dict(data, "fuzz.toml")
    except ScenarioError as err:
        msg = str(err)
        assert "\n" not in msg and msg.startswith("fuzz.toml: ")
        return
    try:  # a valid scenario either compiles or is refused in one line (probabilities, overflow)
        compile_plan(sc, 10, 0)
    except ScenarioError as err:
        assert "\n" not in str(err)


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_fuzz_toml_text(text):
    try:
        from_toml(text, "fuzz.toml")
    except ScenarioError as err:
        assert "\n" not in str(err)


def test_deterrence_overflow_is_one_line(tmp_path, cli):
    f = tmp_path / "x.toml"
    f.write_text(scenario_path("essay").read_text().replace("deterrence_scale = 10.0", "deterrence_scale = 1e-300"))
    proc = cli("run", str(f), "-n", "10", "-d", "1", "--out", str(tmp_path / "o"), "--quiet")
    assert proc.returncode == 2 and "overflows" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("value,needle", [("true", "valid integer"), ('"8"', "valid integer")])
def test_no_silent_type_coercion(value, needle):
    text = scenario_path("essay").read_text().replace("contacts = 8 ", f"contacts = {value} ")
    with pytest.raises(ScenarioError, match=needle):
        from_toml(text, "x.toml")
