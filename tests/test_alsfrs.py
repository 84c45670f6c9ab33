"""ALSFRS-R scoring: worked examples (clinical-instruments.md §1.6), properties and bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsim.clinical import ALSFRSR, ALSFRSOriginal, domain_scores, total_score
from alsim.clinical.alsfrs import Q5A, Q5B, heuristic_respiratory_from_q10
from alsim.errors import InputError

items_strategy = st.lists(st.integers(0, 4), min_size=12, max_size=12)


@pytest.mark.parametrize(
    ("items", "gastrostomy", "total", "domains"),
    [
        # Case A: all normal.
        ([4] * 12, False, 48, (12, 12, 12, 12)),
        # Case B: 3 4 3 | 4 4(5a) 3 | 4 3 2 | 4 4 4.
        ([3, 4, 3, 4, 4, 3, 4, 3, 2, 4, 4, 4], False, 42, (10, 11, 9, 12)),
        # Case C: 1 2 1 | 3 3(5b) 2 | 3 3 2 | 3 3 3 with gastrostomy.
        ([1, 2, 1, 3, 3, 2, 3, 3, 2, 3, 3, 3], True, 29, (4, 8, 8, 9)),
    ],
)
def test_worked_examples(items, gastrostomy, total, domains):
    score = ALSFRSR.from_items(items, gastrostomy=gastrostomy)
    assert score.total == total
    assert (score.bulbar, score.fine_motor, score.gross_motor, score.respiratory) == domains
    assert score.gastrostomy is gastrostomy


def test_both_5a_and_5b_rejected_case_d():
    row = {name: 4 for name in ALSFRSR.__dataclass_fields__ if name != "gastrostomy"}
    del row["q5_cutting"]
    row[Q5A] = 3
    row[Q5B] = 3
    with pytest.raises(InputError, match="both 5a and 5b"):
        ALSFRSR.from_mapping(row)


def test_from_mapping_reads_5b_as_gastrostomy_and_round_trips():
    score = ALSFRSR.from_items([1, 2, 1, 3, 3, 2, 3, 3, 2, 3, 3, 3], gastrostomy=True)
    record = score.to_record()
    assert record[Q5A] is None and record[Q5B] == 3 and record["gastrostomy"] is True
    assert ALSFRSR.from_mapping(record) == score


def test_from_mapping_rejects_contradicting_gastrostomy_flag():
    record = ALSFRSR.from_items([4] * 12).to_record()
    record["gastrostomy"] = True
    with pytest.raises(InputError, match="gastrostomy"):
        ALSFRSR.from_mapping(record)


def test_from_mapping_names_missing_item_with_prefix():
    record = ALSFRSR.from_items([4] * 12).to_record()
    del record["r2_orthopnea"]
    with pytest.raises(InputError, match=r"^visits.csv, row 3, r2_orthopnea: is missing"):
        ALSFRSR.from_mapping(record, where="visits.csv, row 3")


@pytest.mark.parametrize("bad", [5, -1, 2.5, "x", None, float("nan"), True])
def test_item_out_of_range_names_the_item(bad):
    items = [4] * 12
    items[7] = bad
    with pytest.raises(InputError, match=r"^q8_walking: must be an integer 0-4"):
        ALSFRSR.from_items(items)


def test_item5_error_names_the_scale_used():
    items = [4] * 12
    items[4] = 7
    with pytest.raises(InputError, match=r"^q5b_cutting_with_gastrostomy"):
        ALSFRSR.from_items(items, gastrostomy=True)
    with pytest.raises(InputError, match=r"^q5a_cutting_without_gastrostomy"):
        ALSFRSR.from_items(items, gastrostomy=False)


@pytest.mark.parametrize("n", [0, 10, 11, 13])
def test_wrong_number_of_items(n):
    with pytest.raises(InputError, match="expected 12"):
        ALSFRSR.from_items([4] * n)


def test_integral_floats_accepted():
    assert ALSFRSR.from_items([4.0] * 12).total == 48


def test_original_alsfrs_kept_distinct():
    original = ALSFRSOriginal(items=(4,) * 10)
    assert original.total == 40
    assert not isinstance(original, ALSFRSR)
    with pytest.raises(InputError, match="expected 10"):
        ALSFRSOriginal(items=(4,) * 12)
    with pytest.raises(InputError, match="q10_respiratory"):
        ALSFRSOriginal(items=(4,) * 9 + (5,))
    assert heuristic_respiratory_from_q10(3) == 9


@given(items_strategy, st.booleans())
def test_total_is_sum_of_domains(items, gastrostomy):
    score = ALSFRSR.from_items(items, gastrostomy=gastrostomy)
    assert score.total == sum(score.domains().values()) == sum(items)
    assert 0 <= score.total <= 48
    assert all(0 <= v <= 12 for v in score.domains().values())


@given(st.lists(items_strategy, min_size=1, max_size=20))
def test_array_api_matches_scalar_api(rows):
    arr = np.array(rows)
    totals = total_score(arr)
    domains = domain_scores(arr)
    for i, row in enumerate(rows):
        score = ALSFRSR.from_items(row)
        assert totals[i] == score.total
        assert {k: int(v[i]) for k, v in domains.items()} == score.domains()


def test_array_validation():
    with pytest.raises(InputError, match="12 ALSFRS-R items"):
        total_score(np.zeros((3, 11)))
    with pytest.raises(InputError, match="0-4"):
        total_score(np.full((2, 12), 5))
    with pytest.raises(InputError, match="whole numbers"):
        total_score(np.full((2, 12), np.nan))


@pytest.mark.parametrize("text", ["3", " 3 ", "3.0", "3.00"])
def test_item_text_accepted(text):
    items = [4] * 12
    items[0] = text
    assert ALSFRSR.from_items(items).q1_speech == 3


@pytest.mark.parametrize(
    "text", ["4_0", "٤", "+4", "-0", "04", "4.", "4.5", "4e0", "True", "", " ", "5", "four"]
)
def test_item_text_rejected_with_the_item_name(text):
    """One rule for text (files and --items): a digit 0-4, optionally N.0; nothing else."""
    items = [4] * 12
    items[0] = text
    with pytest.raises(InputError, match=r"^q1_speech: must be an integer 0-4, got "):
        ALSFRSR.from_items(items)


@pytest.mark.parametrize("huge", [10**400, -(10**400), "9" * 400])
def test_huge_item_is_an_input_error_with_a_short_message(huge):
    items = [4] * 12
    items[11] = huge
    with pytest.raises(InputError, match=r"^r3_respiratory_insufficiency: must be") as info:
        ALSFRSR.from_items(items)
    assert len(str(info.value)) < 160


def test_numpy_bool_is_not_a_score():
    items = [4] * 12
    items[2] = np.bool_(True)
    with pytest.raises(InputError, match=r"^q3_swallowing"):
        ALSFRSR.from_items(items)
