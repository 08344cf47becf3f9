"""A daily column is declared once (credsim/kernel/layout.py): every reader of the daily table
agrees with the table a run writes, whatever groups of columns the scenario turns on."""

from __future__ import annotations

import pytest

import credsim
from credsim.errors import CredsimError
from credsim.library.calibrate import daily_columns, parse_targets
from credsim.scenario import load

TARGET = """
population = 200
days = 3
[[parameter]]
path = "behaviour.deterrence_scale"
low = 1.0
high = 20.0
[[target]]
metric = "mean_per_capita:{column}"
value = 0.1
"""


@pytest.mark.parametrize("name", ["rongcheng", "court-defaulters", "essay-plus", "baseline"])
def test_calibrate_accepts_every_column_a_run_writes(name):
    """rongcheng has grades (grade_* columns), court-defaulters [exit], essay-plus CSM-2 groups: the
    calibration's columns are those of the daily table a run of the scenario actually writes."""
    _, sc = load(name)
    written = list(credsim.simulate(name, population=200, days=2, seed=1).daily.columns)
    assert daily_columns(sc) == written
    for column in written[2:]:
        parse_targets(TARGET.format(column=column), sc)  # accepted: no error
    with pytest.raises(CredsimError, match="no column 'grade_nosuch'"):
        parse_targets(TARGET.format(column="grade_nosuch"), sc)


def test_a_grade_column_is_a_calibration_target():
    """The bug of issue #13: calibrate kept its own column list without the grade_* columns and
    refused a target on a grade column that exists."""
    _, sc = load("rongcheng")
    grades = [f"grade_{g.name}" for g in sc.grade]
    assert grades  # the preset has grades
    targets = parse_targets(TARGET.format(column=grades[0]), sc)
    assert targets.targets[0].metric == f"mean_per_capita:{grades[0]}"
