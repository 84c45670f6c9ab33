"""ΔFS and progression categories: worked examples (clinical-instruments.md §2) and properties."""

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsim.clinical import ProgressionCategories, delta_fs, months_between, progression_category
from alsim.clinical.progression import parse_onset_date
from alsim.errors import InputError


@pytest.mark.parametrize(
    ("total", "months", "rate", "group"),
    [
        (36, 12.0, 1.00, "fast"),
        (39, 12.0, 0.75, "intermediate"),
        (44, 16.0, 0.25, "slow"),
        (40, 400 / 30.4375, 0.609, "intermediate"),  # PRO-ACT Onset_Delta -400 d, visit day 0
        (48, 7.0, 0.0, "slow"),
    ],
)
def test_worked_examples(total, months, rate, group):
    assert delta_fs(total, months) == pytest.approx(rate, abs=5e-4)
    assert progression_category(delta_fs(total, months)) == group


@pytest.mark.parametrize("months", [0, -1.0, float("nan"), float("inf")])
def test_zero_or_negative_duration_rejected(months):
    with pytest.raises(InputError, match="^months_since_onset: must be a positive"):
        delta_fs(40, months)


@pytest.mark.parametrize("total", [-1, 49, float("nan")])
def test_total_out_of_range_rejected(total):
    with pytest.raises(InputError, match="^total"):
        delta_fs(total, 12)


def test_cut_offs_are_configurable_and_boundaries_are_half_open():
    assert progression_category(0.5) == "intermediate"
    assert progression_category(1.0) == "fast"
    assert progression_category(0.4999) == "slow"
    labra = ProgressionCategories(slow_below=0.47, fast_from=1.11)
    assert progression_category(0.5, labra) == "intermediate"
    assert progression_category(1.1, labra) == "intermediate"
    assert progression_category(1.11, labra) == "fast"
    assert list(labra.classify([0.1, 0.5, 2.0])) == ["slow", "intermediate", "fast"]
    with pytest.raises(InputError, match="progression cut-offs"):
        ProgressionCategories(slow_below=1.0, fast_from=0.5)


def test_onset_conventions():
    assert parse_onset_date("2021-03") == dt.date(2021, 3, 15)
    assert parse_onset_date("2021-03", convention="start") == dt.date(2021, 3, 1)
    assert parse_onset_date("2021") == dt.date(2021, 7, 1)
    assert parse_onset_date("2021", convention="start") == dt.date(2021, 1, 1)
    assert months_between("2020-01-01", "2021-01-01") == pytest.approx(366 / 30.4375)
    with pytest.raises(InputError, match="^onset: expected a date"):
        parse_onset_date("March 2021")
    with pytest.raises(InputError, match="^onset: invalid date"):
        parse_onset_date("2021-13")


@given(st.integers(0, 48), st.floats(0.1, 200), st.floats(0.1, 200))
def test_rate_decreases_with_duration_for_a_fixed_total(total, m1, m2):
    lo, hi = sorted((m1, m2))
    assert delta_fs(total, hi) <= delta_fs(total, lo) + 1e-12
    assert delta_fs(total, lo) >= 0


def test_vectorised():
    rates = delta_fs(np.array([36, 48]), np.array([12.0, 6.0]))
    np.testing.assert_allclose(rates, [1.0, 0.0])
