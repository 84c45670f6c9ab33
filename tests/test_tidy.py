"""Scoring a tidy per-visit table."""

import numpy as np
import pandas as pd
import pytest

from alsim.clinical import ALSFRSR
from alsim.clinical.tidy import items_from_table, score_visits
from alsim.errors import InputError


def table(rows, **extra):
    frame = pd.DataFrame(
        [ALSFRSR.from_items(items, gastrostomy=g).to_record() for items, g in rows]
    )
    for key, values in extra.items():
        frame[key] = values
    return frame


ROWS = [
    ([4] * 12, False),
    ([3, 4, 3, 4, 4, 3, 4, 3, 2, 4, 4, 4], False),
    ([1, 2, 1, 3, 3, 2, 3, 3, 2, 3, 3, 3], True),
]


def test_scores_match_scalar_api():
    scored = score_visits(table(ROWS, subject_id=["s1"] * 3, months_since_onset=[6.0, 12.0, 24.0]))
    assert list(scored["total"]) == [48, 42, 29]
    assert list(scored["kings_stage"]) == ["0", "2", "4A+4B"]
    assert list(scored["mitos_stage"]) == [0, 0, 1]  # case C: swallowing 1
    np.testing.assert_allclose(scored["delta_fs"], [0.0, 0.5, 19 / 24])
    assert list(scored["progression"]) == ["slow", "intermediate", "intermediate"]
    assert list(scored["gastrostomy"]) == [False, False, True]


def test_onset_from_dates_and_from_months_agree():
    by_dates = score_visits(
        table(ROWS[:2], visit_date=["2021-01-15", "2021-07-15"], onset_date="2020-07")
    )
    days = np.array([184, 365])  # 2020-07-15 -> 2021-01-15 and -> 2021-07-15
    by_months = score_visits(table(ROWS[:2], visit_months=days / 30.4375, onset_months=0.0))
    np.testing.assert_allclose(by_dates["delta_fs"], by_months["delta_fs"])


def test_without_onset_there_is_no_delta_fs():
    scored = score_visits(table(ROWS))
    assert "delta_fs" not in scored.columns


def test_dead_sets_stage_five():
    scored = score_visits(table(ROWS[:1], dead=[True]))
    assert scored.loc[0, "kings_stage"] == "5" and scored.loc[0, "mitos_stage"] == 5


def test_combined_q5_with_gastrostomy_column():
    frame = table(ROWS).drop(
        columns=["q5a_cutting_without_gastrostomy", "q5b_cutting_with_gastrostomy"]
    )
    frame["q5_cutting"] = [4, 4, 3]
    frame["gastrostomy"] = ["no", "no", "yes"]
    items, gastro = items_from_table(frame)
    assert list(gastro) == [False, False, True]
    assert items[2, 4] == 3


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda f: f.__setitem__("q3_swallowing", [4, 5, 1]),
            r"^v.csv, row 2, q3_swallowing: must be",
        ),
        (lambda f: f.__setitem__("q1_speech", [4, 3, "x"]), r"^v.csv, row 3, q1_speech: must be"),
        (
            lambda f: f.__setitem__("q5a_cutting_without_gastrostomy", [4, 4, 2]),
            r"^v.csv, row 3, .*both 5a and 5b",
        ),
        (
            lambda f: f.pop("r2_orthopnea"),
            r"^v.csv: column r2_orthopnea: is missing",
        ),
        (
            lambda f: f.__setitem__("months_since_onset", [3.0, 0.0, 5.0]),
            r"^v.csv, row 2, months since onset",
        ),
        (
            lambda f: f.__setitem__("gastrostomy", ["no", "maybe", "yes"]),
            r"^v.csv, row 2, gastrostomy",
        ),
    ],
)
def test_bad_rows_are_named(mutate, message):
    frame = table(ROWS)
    mutate(frame)
    with pytest.raises(InputError, match=message):
        score_visits(frame, source="v.csv")
