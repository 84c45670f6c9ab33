"""CAFS (Berry 2013): worked example (clinical-instruments.md §8.4, derived), properties, tests."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import rankdata

from alsim.clinical.cafs import cafs_compare, cafs_pairwise, cafs_ranks, cafs_scores
from alsim.errors import InputError

NAN = float("nan")

# P1 died month 6, P2 died month 9, P3 alive with change -10, P4 alive with change -4 (12-month
# trial; survivors' time is the analysis time and is not used).
TIME = [6.0, 9.0, 12.0, 12.0]
DIED = [True, True, False, False]
CHANGE = [NAN, NAN, -10.0, -4.0]


def test_worked_example():
    np.testing.assert_array_equal(cafs_scores(TIME, DIED, CHANGE), [-3, -1, 1, 3])
    np.testing.assert_array_equal(cafs_ranks(TIME, DIED, CHANGE), [1, 2, 3, 4])
    result = cafs_compare(["A", "B", "B", "A"], TIME, DIED, CHANGE)  # {P1, P4} vs {P2, P3}
    assert result.groups == ("A", "B")
    assert result.n == (2, 2)
    assert result.mean_rank == (2.5, 2.5)
    assert result.difference == 0.0
    assert result.p_value == pytest.approx(1.0)


def test_worked_example_swap():
    change = [NAN, NAN, -3.0, -4.0]  # P3's change becomes -3: P3 now beats P4
    np.testing.assert_array_equal(cafs_scores(TIME, DIED, change), [-3, -1, 3, 1])
    np.testing.assert_array_equal(cafs_ranks(TIME, DIED, change), [1, 2, 4, 3])


def test_pairwise_matrix_of_worked_example():
    m = cafs_pairwise(TIME, DIED, CHANGE)
    expected = np.array([[0, -1, -1, -1], [1, 0, -1, -1], [1, 1, 0, -1], [1, 1, 1, 0]])
    np.testing.assert_array_equal(m, expected)
    assert m.dtype == np.int8


def test_ties_score_zero_and_share_average_ranks():
    scores = cafs_scores([5, 5, 12, 12], [1, 1, 0, 0], [NAN, NAN, -2, -2])
    np.testing.assert_array_equal(scores, [-2, -2, 2, 2])
    np.testing.assert_array_equal(rankdata(scores), [1.5, 1.5, 3.5, 3.5])


def test_reference_label_orders_the_comparison():
    result = cafs_compare([0, 1, 1, 0], TIME, DIED, [NAN, NAN, -3.0, -4.0], reference=1)
    assert result.groups == (1, 0)
    # group 1 = {P2 rank 2, P3 rank 4} -> 3.0; group 0 = {P1 rank 1, P4 rank 3} -> 2.0
    assert result.mean_rank == (3.0, 2.0)
    assert result.difference == -1.0


def test_missing_change_policy():
    change = [NAN, NAN, NAN, -4.0]
    with pytest.raises(InputError, match=r"^alsfrs_change\[2\]: is missing for a survivor"):
        cafs_scores(TIME, DIED, change)
    scores = cafs_scores(TIME, DIED, change, missing="worst_among_survivors")
    np.testing.assert_array_equal(scores, [-3, -1, 1, 3])  # below P4, above both deaths
    both_missing = cafs_scores(
        [6, 12, 12, 12], [1, 0, 0, 0], [NAN, NAN, NAN, 0.0], missing="worst_among_survivors"
    )
    np.testing.assert_array_equal(both_missing, [-3, 0, 0, 3])


def test_group_effect_sanity():
    # Treatment lowers 12-month mortality (30% -> 15%) and halves the mean decline (-12 -> -6).
    rng = np.random.default_rng(2013)
    n = 150
    group = np.repeat(["placebo", "active"], n)
    p_death = np.where(group == "active", 0.15, 0.30)
    died = rng.random(2 * n) < p_death
    time = np.where(died, rng.uniform(0, 12, 2 * n), 12.0)
    mean_decline = np.where(group == "active", -6.0, -12.0)
    change = np.clip(np.round(rng.normal(mean_decline, 5.0)), -48, 48)
    change[died] = NAN
    result = cafs_compare(group, time, died, change, reference="placebo")
    assert result.groups == ("placebo", "active")
    assert result.mean_rank[1] > result.mean_rank[0]
    assert result.difference > 0
    assert result.p_value < 1e-6
    assert result.scores.sum() == 0


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"time_months": [1, 2], "died": [1, 0, 0], "alsfrs_change": [0, 0]}, "died"),
        ({"time_months": [1, 2], "died": [1, 0], "alsfrs_change": [0]}, "alsfrs_change"),
        ({"time_months": [1], "died": [1], "alsfrs_change": [0]}, "time_months"),
        ({"time_months": [1, 2], "died": [2, 0], "alsfrs_change": [0, 0]}, r"died\[0\]"),
        ({"time_months": [1, 2], "died": ["yes", 0], "alsfrs_change": [0, 0]}, "died"),
        ({"time_months": [NAN, 2], "died": [1, 0], "alsfrs_change": [0, 0]}, r"time_months\[0\]"),
        ({"time_months": [-1, 2], "died": [1, 0], "alsfrs_change": [0, 0]}, r"time_months\[0\]"),
        ({"time_months": [1, 2], "died": [0, 0], "alsfrs_change": [0, -49]}, r"alsfrs_change\[1\]"),
        (
            {"time_months": [1, 2], "died": [0, 0], "alsfrs_change": [0, float("inf")]},
            r"alsfrs_change\[1\]",
        ),
        ({"time_months": [[1, 2]], "died": [[1, 0]], "alsfrs_change": [[0, 0]]}, "time_months"),
    ],
)
def test_bad_inputs(kwargs, where):
    with pytest.raises(InputError, match=f"^{where}:"):
        cafs_scores(**kwargs)


def test_bad_missing_policy_and_groups():
    with pytest.raises(InputError, match="^missing:"):
        cafs_scores(TIME, DIED, CHANGE, missing="locf")
    with pytest.raises(InputError, match="^group: must contain exactly two"):
        cafs_compare(["A", "A", "A", "A"], TIME, DIED, CHANGE)
    with pytest.raises(InputError, match="^group: must contain exactly two"):
        cafs_compare(["A", "B", "C", "A"], TIME, DIED, CHANGE)
    with pytest.raises(InputError, match="^group: must have one label per patient"):
        cafs_compare(["A", "B"], TIME, DIED, CHANGE)
    with pytest.raises(InputError, match="^reference:"):
        cafs_compare(["A", "B", "B", "A"], TIME, DIED, CHANGE, reference="C")


# -- properties -----------------------------------------------------------------------------------
@st.composite
def cohorts(draw, min_size=2, max_size=40):
    n = draw(st.integers(min_size, max_size))
    died = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    # few distinct values, so ties are common
    death = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    change = draw(st.lists(st.integers(-20, 3), min_size=n, max_size=n))
    died = np.array(died)
    time = np.where(died, np.array(death, dtype=float), 12.0)
    chg = np.where(died, np.nan, np.array(change, dtype=float))
    return time, died, chg


@given(cohorts())
def test_scores_sum_to_zero_and_match_ranks(cohort):
    scores = cafs_scores(*cohort)
    assert scores.sum() == 0
    n = scores.size
    # the rule is a total preorder: S_i = 2 r_i - (n + 1) with average ranks r_i
    np.testing.assert_allclose(scores, 2 * rankdata(scores) - (n + 1))


@given(cohorts())
def test_pairwise_matrix_is_antisymmetric(cohort):
    m = cafs_pairwise(*cohort)
    np.testing.assert_array_equal(m, -m.T)
    assert not np.any(np.diag(m))
    np.testing.assert_array_equal(m.sum(axis=1), cafs_scores(*cohort))


@given(cohorts(), st.data())
def test_dying_later_never_scores_lower(cohort, data):
    time, died, change = cohort
    if not died.any():
        return
    i = data.draw(st.sampled_from(np.flatnonzero(died).tolist()))
    later = time.copy()
    later[i] += data.draw(st.floats(0.0, 12.0))
    assert cafs_scores(later, died, change)[i] >= cafs_scores(time, died, change)[i]


@given(cohorts(), st.data())
def test_surviving_instead_of_dying_never_scores_lower(cohort, data):
    time, died, change = cohort
    if not died.any():
        return
    i = data.draw(st.sampled_from(np.flatnonzero(died).tolist()))
    alive, chg = died.copy(), change.copy()
    alive[i] = False
    chg[i] = data.draw(st.integers(-48, 48))
    assert cafs_scores(time, alive, chg)[i] >= cafs_scores(time, died, change)[i]


@given(cohorts(), st.data())
def test_smaller_decline_never_scores_lower(cohort, data):
    time, died, change = cohort
    if died.all():
        return
    i = data.draw(st.sampled_from(np.flatnonzero(~died).tolist()))
    better = change.copy()
    better[i] = min(48.0, better[i] + data.draw(st.integers(0, 10)))
    assert cafs_scores(time, died, better)[i] >= cafs_scores(time, died, change)[i]


def test_blocked_computation_matches_full_matrix():
    rng = np.random.default_rng(7)
    n = 700  # more than one block of rows
    died = rng.random(n) < 0.3
    time = np.where(died, rng.integers(0, 12, n), 12).astype(float)
    change = np.where(died, np.nan, rng.integers(-30, 5, n).astype(float))
    np.testing.assert_array_equal(
        cafs_scores(time, died, change), cafs_pairwise(time, died, change).sum(axis=1)
    )
