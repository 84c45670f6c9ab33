"""Scoring a tidy per-visit table."""

import numpy as np
import pandas as pd
import pytest

from alsim.clinical import ALSFRSR
from alsim.clinical.tidy import items_from_table, read_visits_csv, score_visits
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


# -- yes/no, items and onset in the tidy path --------------------------------------------------
@pytest.mark.parametrize("alive", ["no", "0", "False", "false", "N", 0, False, None])
def test_dead_text_no_keeps_the_living_alive(alive):
    scored = score_visits(table(ROWS[:1], dead=pd.Series([alive], dtype=object)))
    assert scored.loc[0, "kings_stage"] == "0" and scored.loc[0, "mitos_stage"] == 0


@pytest.mark.parametrize("dead", ["yes", "1", "True", True, 1])
def test_dead_text_yes_sets_stage_five(dead):
    scored = score_visits(table(ROWS[:1], dead=pd.Series([dead], dtype=object)))
    assert scored.loc[0, "kings_stage"] == "5" and scored.loc[0, "mitos_stage"] == 5


def test_dead_unreadable_value_names_the_row():
    frame = table(ROWS, dead=["no", "maybe", "no"])
    with pytest.raises(InputError, match=r"^v.csv, row 2, dead: must be true or false"):
        score_visits(frame, source="v.csv")


@pytest.mark.parametrize(
    "column",
    [[True, True, True], pd.Series(["4", "True", "4"]), pd.Series([4, True, 4], dtype=object)],
)
def test_booleans_and_text_are_not_item_scores(column):
    frame = table(ROWS)
    frame["q8_walking"] = column
    with pytest.raises(InputError, match=r"^v.csv, row \d, q8_walking: must be an integer 0-4"):
        score_visits(frame, source="v.csv")


@pytest.mark.parametrize("huge", [10**400, "9" * 400])
def test_huge_item_cell_is_an_input_error(huge):
    frame = table(ROWS)
    frame["q1_speech"] = pd.Series([4, huge, 1], dtype=object)
    with pytest.raises(InputError, match=r"^v.csv, row 2, q1_speech: must be an integer 0-4"):
        score_visits(frame, source="v.csv")


def test_huge_duration_cell_is_an_input_error():
    frame = table(ROWS, months_since_onset=pd.Series([6, 10**400, 12], dtype=object))
    with pytest.raises(InputError, match=r"^v.csv, row 2, months_since_onset: must be a finite"):
        score_visits(frame, source="v.csv")


def test_item_text_with_decimal_zero_is_accepted_like_on_the_command_line():
    frame = table(ROWS).astype(object)
    frame["q1_speech"] = ["4.0", "3", "1.00"]
    assert list(score_visits(frame)["total"]) == [48, 42, 29]


@pytest.mark.parametrize(
    "extra",
    [
        {"months_since_onset": [6.0, np.nan, 24.0]},
        {"visit_months": [6.0, 12.0, 24.0], "onset_months": [0.0, None, 0.0]},
        {
            "visit_date": ["2021-01-15", "2021-07-15", "2022-01-15"],
            "onset_date": ["2020-07", "", "2020-07"],
        },
        {"visit_date": ["2021-01-15", None, "2022-01-15"], "onset_date": ["2020-07"] * 3},
    ],
)
def test_unknown_onset_leaves_delta_fs_blank_and_scores_the_rest(extra):
    scored = score_visits(table(ROWS, **extra))
    assert list(scored["total"]) == [48, 42, 29]
    assert scored["delta_fs"].isna().tolist() == [False, True, False]
    assert scored["months_since_onset"].isna().tolist() == [False, True, False]
    assert scored.loc[1, "progression"] is None
    assert scored.loc[0, "progression"] == "slow"


def test_subnormal_duration_is_rejected_not_infinite():
    frame = table(ROWS, months_since_onset=[6.0, 1e-320, 24.0])
    with pytest.raises(InputError, match=r"^v.csv, row 2, months since onset: is too small"):
        score_visits(frame, source="v.csv")


def test_row_where_names_rows_the_caller_way():
    frame = table(ROWS, months_since_onset=[6.0, -1.0, 24.0])
    with pytest.raises(InputError, match=r"^f.csv, subject S, day 7, months since onset"):
        score_visits(frame, source="f.csv", row_where=lambda row: "f.csv, subject S, day 7")


# -- strict CSV reading ------------------------------------------------------------------------
HEADER = "subject_id,months_since_onset,q1_speech"


def test_read_visits_csv_cells_are_text_blank_is_missing(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text(f"\ufeff{HEADER}\n\n 007 , 12 ,4\nP2,NA,\n")
    frame = read_visits_csv(path)
    assert list(frame.columns) == ["subject_id", "months_since_onset", "q1_speech"]
    assert frame["subject_id"].tolist() == ["007", "P2"]  # text, leading zeros kept
    assert frame["months_since_onset"].isna().tolist() == [False, True]
    assert frame["q1_speech"].isna().tolist() == [False, True]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{HEADER}\nP1,12,4,9\n", r"^v.csv, row 1: has 4 fields but the header has 3;"),
        (f"{HEADER}\nP1,12,4\nP1,12\n", r"^v.csv, row 2: has 2 fields but the header has 3;"),
        (f"{HEADER}\nP1,12,4,\n", r"^v.csv, row 1: has 4 fields .* \(a trailing comma\?\)"),
        (f"{HEADER},\nP1,12,4,\n", r"^v.csv, header: column 4 has no name \(a trailing comma\?\)"),
        (
            "subject_id,q1_speech,q1_speech\nP1,4,4\n",
            r"^v.csv, header: column 'q1_speech' appears twice",
        ),
        ("", r"^v.csv: is empty"),
        ('subject_id,q1_speech\n"P1"x,4\n', r"^v.csv, line 2: is not valid CSV"),
    ],
)
def test_read_visits_csv_is_strict(tmp_path, text, message):
    path = tmp_path / "v.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_visits_csv(path)


def test_read_visits_csv_names_a_directory(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        read_visits_csv(tmp_path)


def test_units_cites_an_existing_document():
    import re
    from pathlib import Path

    import alsim.units

    root = Path(__file__).resolve().parents[1]
    cited = re.findall(r"docs/[\w.-]+\.md", alsim.units.__doc__)
    assert cited
    for name in cited:
        assert "30.4375" in (root / name).read_text(encoding="utf-8")
