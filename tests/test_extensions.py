"""Extensions (participation, grades, histogram): off, they leave CSM-1 unchanged; on, they do
what they say, checked against independent quantities (common random numbers, the histogram)."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from credsim import simulate
from credsim.errors import ScenarioError
from credsim.scenario import canonical_toml, load, scenario_hash
from test_science import variant

N, D, SEED = 20_000, 40, 11


def test_defaults_are_csm1_and_canonical_text_unchanged():
    sc = load("essay")[1]
    explicit = variant("essay", population__participation=1.0)
    assert explicit == sc and scenario_hash(explicit) == scenario_hash(sc)
    assert "participation" not in canonical_toml(sc) and "grade" not in canonical_toml(sc)
    a, b = simulate(sc, 5_000, 20, 3), simulate(explicit, 5_000, 20, 3)
    assert np.array_equal(a.tables.daily, b.tables.daily)


def test_nobody_enrolled_behaves_exactly_as_the_baseline():
    # participation 0: everyone is outside the system, so behaviour is the baseline's, draw by draw
    off = simulate(variant("essay", population__participation=0.0), N, D, SEED)
    base = simulate("baseline", N, D, SEED)
    for c in off.scenario.channel:
        assert (off.daily[f"true_{c.name}"] == base.daily[f"true_{c.name}"]).all(), c.name
        assert off.daily[f"detected_{c.name}"].sum() == 0 and off.daily[f"false_{c.name}"].sum() == 0
    assert off.daily["ever_listed"].max() == 0 and off.daily["stress_sum"].max() == 0
    assert (off.daily["sum_public"] == 1000 * N).all()
    assert sum(off.daily[f"denied_{a.name}"].sum() for a in off.scenario.activity) == 0


def test_partial_enrolment_lies_between():
    half = simulate(variant("essay", population__participation=0.5), N, D, SEED)
    full = simulate("essay", N, D, SEED)
    ratio = half.daily["detected_alcohol_purchase"].sum() / full.daily["detected_alcohol_purchase"].sum()
    assert 0.45 < ratio < 0.55  # half the population is watched (alcohol: not dispositional)
    assert 0 < half.daily["ever_listed"].iloc[-1] < full.daily["ever_listed"].iloc[-1]


GRADES = [{"name": "AAA", "min_score": 1003}, {"name": "A", "min_score": 1000}, {"name": "D", "min_score": 0}]


def test_grades_agree_with_a_one_point_histogram():
    sc = variant("essay", grade=GRADES)
    r = simulate(sc, N, 15, SEED, hist_bins=2001, hist_every=5)  # bins of one point: 0..2000
    t = r.tables
    assert t.hist_width == 1 and t.hist_lo == 0
    daily = r.daily
    assert (daily[["grade_AAA", "grade_A", "grade_D"]].sum(axis=1) == N).all()
    for row, day in enumerate(t.hist_days):
        h = t.hist[row]
        got = daily.loc[day - 1, ["grade_AAA", "grade_A", "grade_D"]].tolist()
        assert got == [h[1003:].sum(), h[1000:1003].sum(), h[:1000].sum()]
    # grades are an extension: the CSM-1 columns are unchanged by them
    plain = simulate("essay", N, 15, SEED)
    assert np.array_equal(plain.tables.daily, t.daily[:, : plain.tables.daily.shape[1]])


@pytest.mark.parametrize(
    "grades,needle",
    [
        ([{"name": "A", "min_score": 900}, {"name": "B", "min_score": 950}], "must be below grade[0].min_score"),
        ([{"name": "A", "min_score": 900}, {"name": "B", "min_score": 10}], "every score has a grade"),
        ([{"name": "A", "min_score": 900}, {"name": "A", "min_score": 0}], "appears twice"),
        ([{"name": "A b", "min_score": 0}], "not a valid grade name"),
    ],
)
def test_bad_grades_are_refused(grades, needle):
    with pytest.raises(ScenarioError, match=None) as err:
        variant("essay", grade=grades)
    assert needle in str(err.value) and "\n" not in str(err.value)


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda is not installed")
def test_cuda_simulator_runs_the_extensions_like_the_cpu():
    code = textwrap.dedent(
        f"""
        import numpy as np
        from test_science import variant
        from credsim import simulate
        sc = variant("essay", population__participation=0.6, grade={GRADES!r})
        a = simulate(sc, 301, 6, 5, hist_bins=7)
        b = simulate(sc, 301, 6, 5, hist_bins=7, backend="cuda")
        assert np.array_equal(a.tables.daily, b.tables.daily)
        assert np.array_equal(a.tables.regions, b.tables.regions)
        assert np.array_equal(a.tables.hist, b.tables.hist)
        print("same")
        """
    )
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(__file__), os.path.dirname(os.path.dirname(__file__))])
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0 and "same" in proc.stdout, proc.stderr[-2000:]
