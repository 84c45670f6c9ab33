"""King's (Balendra 2014) and MiToS (Chiò 2015) staging from ALSFRS-R.

Worked examples K1-K8 and M1-M8 are those of clinical-instruments.md §3.3 and §4.2 (derived from
the published rules; unlisted items are 4, item 5 is 5a unless stated).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsim.clinical import (
    ALSFRSR,
    kings_label_array,
    kings_stage,
    kings_stage_array,
    mitos_stage,
    mitos_stage_array,
)

INDEX = {
    "Q1": 0, "Q2": 1, "Q3": 2, "Q4": 3, "Q5": 4, "Q6": 5, "Q7": 6, "Q8": 7, "Q9": 8,
    "R1": 9, "R2": 10, "R3": 11,
}  # fmt: skip


def visit(gastrostomy=False, **changes):
    items = [4] * 12
    for key, value in changes.items():
        items[INDEX[key]] = value
    return ALSFRSR.from_items(items, gastrostomy=gastrostomy)


@pytest.mark.parametrize(
    ("score", "dead", "label", "stage"),
    [
        (visit(Q1=3), False, "1", 1),  # K1 bulbar only
        (visit(Q4=3, Q8=3), False, "2", 2),  # K2 upper + lower limb
        (visit(Q2=3, Q5=2, Q8=2), False, "3", 3),  # K3 three regions
        (visit(Q9=2), False, "0", 0),  # K4 stairs alone involve no region
        (visit(gastrostomy=True, Q1=3), False, "4A", 4),  # K5 5b answered
        (visit(R3=3), False, "4B", 4),  # K6 intermittent BiPAP
        (visit(R1=0), False, "4B", 4),  # K7 dyspnoea 0
        (visit(), True, "5", 5),  # K8 death
        (visit(gastrostomy=True, R3=2), False, "4A+4B", 4),  # both failures
    ],
)
def test_kings_worked_examples(score, dead, label, stage):
    result = kings_stage(score, dead=dead)
    assert result.label == label
    assert result.stage == stage
    assert str(result) == label


def test_kings_ignores_turning_and_stairs():
    assert kings_stage(visit(Q7=0, Q9=0)).label == "0"


@pytest.mark.parametrize(
    ("score", "dead", "expected"),
    [
        (visit(), False, 0),  # M1
        (visit(Q8=1), False, 1),  # M2 movement
        (visit(Q1=0, Q4=3), False, 0),  # M3 communicating needs speech AND handwriting <= 1
        (visit(Q1=1, Q4=1), False, 1),  # M4 communicating lost
        (visit(R3=2), False, 1),  # M5 breathing (continuous night NIV)
        (visit(R3=3, R1=2), False, 0),  # M6 none
        (visit(Q6=1, Q3=1, Q1=0, Q4=0, R1=1), False, 4),  # M7 all four
        (visit(), True, 5),  # M8 death
    ],
)
def test_mitos_worked_examples(score, dead, expected):
    assert mitos_stage(score, dead=dead) == expected


items_strategy = st.lists(st.integers(0, 4), min_size=12, max_size=12)


@given(items_strategy, st.lists(st.integers(0, 4), min_size=12, max_size=12), st.booleans())
def test_stages_never_improve_when_items_only_get_worse(items, drops, gastrostomy_later):
    """Worsening any items (and possibly acquiring a gastrostomy) never lowers either stage."""
    before = np.array(items)
    after = np.maximum(before - np.array(drops), 0)
    k_before = kings_stage_array(before, False)
    k_after = kings_stage_array(after, gastrostomy_later)
    assert k_after >= k_before
    assert mitos_stage_array(after) >= mitos_stage_array(before)


@given(st.lists(items_strategy, min_size=1, max_size=10), st.data())
def test_array_and_scalar_agree(rows, data):
    gastro = data.draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
    arr = np.array(rows)
    labels = kings_label_array(arr, gastro)
    stages = kings_stage_array(arr, gastro)
    mitos = mitos_stage_array(arr)
    for i, row in enumerate(rows):
        score = ALSFRSR.from_items(row, gastrostomy=gastro[i])
        assert labels[i] == kings_stage(score).label
        assert stages[i] == kings_stage(score).stage
        assert mitos[i] == mitos_stage(score)


def test_death_overrides_everything_in_arrays():
    arr = np.array([[4] * 12, [0] * 12])
    assert list(kings_label_array(arr, [False, True], dead=[True, True])) == ["5", "5"]
    assert list(mitos_stage_array(arr, dead=[True, False])) == [5, 4]
