"""Every CSV a run writes follows MODEL.md §5, for any scenario the validator accepts.

Names are drawn from the model's own name patterns, read as a search pattern would read them
(``$`` also matches before a final newline), so a validator that accepts a name a column header
cannot hold fails here. Scenarios the validator refuses are skipped; everything it accepts must
give well-formed files: a header row, the columns of §5 in order, unquoted integers, and every
line (the last included) ended by a single ``\\n``.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from credsim import simulate
from credsim.errors import ScenarioError
from credsim.scenario import from_dict, load
from credsim.scenario.model import _GRADE_NAME, _NAME

#: MODEL.md §5, written out here (not taken from the code under test).
DAILY_HEAD = [
    "day",
    "threshold",
    "sum_public",
    "sum_public_sq",
    "min_public",
    "max_public",
    "sum_own",
    "listed",
    "entries",
    "exits",
    "ever_listed",
    "spillover",
    "listed_wrongly_flagged",
]
REGION_HEAD = ["day", "region", "listed", "sum_public"]
INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

probability = st.floats(0.0, 1.0, allow_nan=False)
small_rate = st.floats(0.0, 0.05, allow_nan=False)


@st.composite
def scenarios(draw):
    data = load("essay")[1].model_dump(mode="json")
    data["population"].update(
        regions=draw(st.lists(st.integers(1, 9), min_size=1, max_size=4)),
        married_share=draw(probability),
        contacts=draw(st.sampled_from([0, 2, 4])),
    )
    channels = draw(st.lists(st.from_regex(_NAME), min_size=1, max_size=3, unique=True))
    data["channel"] = [
        {
            "name": name,
            "kind": draw(st.sampled_from(["offence", "default", "lawful", "civic"])),
            "base": draw(small_rate),
            "points": draw(st.integers(-20, 20)),
            "detect": draw(probability),
            "false_rate": draw(small_rate),
            "elasticity": draw(st.floats(0, 2)),
            "dispositional": draw(st.booleans()),
            "forces_blacklist": draw(st.booleans()),
        }
        for name in channels
    ]
    activities = draw(st.lists(st.from_regex(_NAME), max_size=2, unique=True))
    data["activity"] = [
        {
            "name": name,
            "base": draw(small_rate),
            "deny_blacklisted": draw(st.booleans()),
            "min_score": draw(st.integers(900, 1000)),
        }
        for name in activities
    ]
    grades = draw(st.lists(st.from_regex(_GRADE_NAME), max_size=2, unique=True))
    floor = data["score"]["min"]
    data["grade"] = [
        {"name": g, "min_score": (floor if i == len(grades) - 1 else floor + 100 * (len(grades) - i))}
        for i, g in enumerate(grades)
    ]
    return data


def check_csv(path: Path, head: list[str] | None = None) -> list[list[str]]:
    """The file's header and rows; asserts MODEL.md §5's format."""
    raw = path.read_bytes()
    text = raw.decode("ascii")
    assert text.endswith("\n") and not text.endswith("\n\n"), f"{path.name}: the last line must end with one \\n"
    assert "\r" not in text and '"' not in text, f"{path.name}: no \\r, no quotes"
    lines = text[:-1].split("\n")
    header = lines[0].split(",")
    assert all(IDENT.fullmatch(c) for c in header), f"{path.name}: header {header!r}"
    assert len(set(header)) == len(header), f"{path.name}: repeated column in {header!r}"
    if head is not None:
        assert header[: len(head)] == head, (path.name, header)
    rows = [line.split(",") for line in lines[1:]]
    for i, row in enumerate(rows, 2):
        assert len(row) == len(header), f"{path.name}:{i}: {len(row)} fields, header has {len(header)}"
        assert all(INTEGER.fullmatch(v) for v in row), f"{path.name}:{i}: {row!r}"
    return [header, *rows]


@given(
    data=scenarios(),
    n=st.integers(1, 300),
    days=st.integers(1, 5),
    seed=st.integers(0, 2**64 - 1),
    hist_bins=st.sampled_from([0, 0, 7]),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_every_csv_follows_model_section_5(data, n, days, seed, hist_bins):
    try:
        sc = from_dict(data, "random")
    except ScenarioError:
        assume(False)  # the validator refused it: nothing to write
    result = simulate(sc, n, days, seed, hist_bins=hist_bins)
    with tempfile.TemporaryDirectory() as tmp:
        out = result.write_dir(Path(tmp) / "run", parquet=False)
        daily = check_csv(out / "daily.csv")
        header = daily[0]
        expected = list(DAILY_HEAD)
        for c in sc.channel:
            expected += [f"true_{c.name}", f"detected_{c.name}", f"false_{c.name}"]
        for a in sc.activity:
            expected += [f"attempts_{a.name}", f"denied_{a.name}"]
        expected += ["stress_sum", "stress_high"]
        assert header[: len(expected)] == expected
        assert [f"grade_{g.name}" for g in sc.grade] == [c for c in header if c.startswith("grade_")]
        assert [int(r[0]) for r in daily[1:]] == list(range(1, days + 1))
        regions = check_csv(out / "regions.csv", REGION_HEAD)
        assert regions[0] == REGION_HEAD
        n_reg = len(sc.population.regions)
        keys = [(d, k) for d in range(1, days + 1) for k in range(n_reg)]
        assert [(int(r[0]), int(r[1])) for r in regions[1:]] == keys
        for other in set(out.glob("*.csv")) - {out / "daily.csv", out / "regions.csv"}:
            check_csv(other)
