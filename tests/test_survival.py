"""Kaplan-Meier estimator: a hand-worked example, censoring and ties, median, Greenwood SE."""

import math

import numpy as np
import pytest

from alsim.analysis.survival import (
    greenwood_se,
    kaplan_meier,
    kaplan_meier_table,
    km_median,
    km_quantile,
    survival_at,
)
from alsim.errors import InputError

# Hand-worked example (8 subjects; events before censorings at tied times):
#   t:     1  2  2  3  4  5  5  6
#   event: 1  1  0  1  0  1  1  0
# t=1: n=8, d=1 -> S = 7/8            = 0.875
# t=2: n=7, d=1 -> S = 0.875 * 6/7    = 0.75   (the subject censored at 2 is still at risk)
# t=3: n=5, d=1 -> S = 0.75 * 4/5     = 0.6
# t=5: n=3, d=2 -> S = 0.6 * 1/3      = 0.2
# Greenwood: sum d/(n(n-d)) = 1/56, +1/42, +1/20, +2/3
TIME = [1, 2, 2, 3, 4, 5, 5, 6]
EVENT = [1, 1, 0, 1, 0, 1, 1, 0]


def test_hand_worked_example():
    km = kaplan_meier_table(TIME, EVENT)
    np.testing.assert_allclose(km.times, [1, 2, 3, 5])
    np.testing.assert_allclose(km.n_at_risk, [8, 7, 5, 3])
    np.testing.assert_allclose(km.n_events, [1, 1, 1, 2])
    np.testing.assert_allclose(km.survival, [0.875, 0.75, 0.6, 0.2])
    var = np.cumsum([1 / 56, 1 / 42, 1 / 20, 2 / 3])
    np.testing.assert_allclose(km.se, km.survival * np.sqrt(var))
    np.testing.assert_allclose(km.se, [0.116927, 0.153093, 0.181659, 0.174165], atol=1e-6)
    assert km.max_time == 6
    times, surv = kaplan_meier(TIME, EVENT)
    np.testing.assert_allclose(times, km.times)
    np.testing.assert_allclose(surv, km.survival)
    _, se = greenwood_se(TIME, EVENT)
    np.testing.assert_allclose(se, km.se)


def test_median_and_quantiles():
    assert km_median(TIME, EVENT) == 5.0  # first time with S <= 0.5
    assert km_quantile(TIME, EVENT, 0.25) == 2.5  # S == 0.75 exactly on [2, 3): midpoint
    assert km_quantile(TIME, EVENT, 0.2) == 2.0  # first S <= 0.8 is S(2) = 0.75


def test_median_flat_at_half_uses_midpoint():
    # all events at 1,2,3,4: S = .75, .5, .25, 0 -> S == 0.5 on [2, 3) -> median 2.5 (as in R)
    assert km_median([1, 2, 3, 4], [1, 1, 1, 1]) == 2.5


def test_median_not_reached_and_no_events():
    assert math.isnan(km_median([1, 2, 3, 10], [1, 0, 0, 0]))
    km = kaplan_meier_table([5, 6], [0, 0])
    assert km.times.size == 0
    assert math.isnan(km.median)
    assert km.at(3.0) == 1.0


def test_censoring_lowers_the_risk_set_not_the_curve():
    # censoring at 1 removes a subject without an event: S(2) = 2/3 (3 at risk), not 3/4
    km = kaplan_meier_table([1, 2, 2, 3], [0, 1, 0, 1])
    np.testing.assert_allclose(km.times, [2, 3])
    np.testing.assert_allclose(km.survival, [2 / 3, 0.0])
    assert math.isnan(km.se[-1])  # Greenwood undefined once S reaches 0


def test_survival_at_step_function_and_horizon():
    km = kaplan_meier_table(TIME, EVENT)
    np.testing.assert_allclose(
        km.at([0.5, 1.0, 1.5, 4.9, 5.0, 6.0]), [1, 0.875, 0.875, 0.6, 0.2, 0.2]
    )
    assert math.isnan(km.at(6.5))  # beyond the last observation
    assert survival_at(km.times, km.survival, 100.0) == pytest.approx(0.2)  # no horizon given


def _reference_km(time, event):
    """Loop implementation straight from the definition."""
    time, event = np.asarray(time, float), np.asarray(event, bool)
    s, out_t, out_s = 1.0, [], []
    for t in np.unique(time[event]):
        n = np.sum(time >= t)
        d = np.sum((time == t) & event)
        s *= 1 - d / n
        out_t.append(t)
        out_s.append(s)
    return np.array(out_t), np.array(out_s)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_reference_on_random_data(seed):
    rng = np.random.default_rng(seed)
    time = np.round(rng.exponential(20, 300))  # many ties
    event = rng.random(300) < 0.7
    t, s = kaplan_meier(time, event)
    rt, rs = _reference_km(time, event)
    np.testing.assert_allclose(t, rt)
    np.testing.assert_allclose(s, rs)


@pytest.mark.parametrize(
    ("time", "event", "where"),
    [
        ([1, np.nan], [1, 1], "time"),
        ([1, -2], [1, 1], "time"),
        ([1, 2], [1], "event"),
        ([1, 2], ["a", "b"], "event"),
    ],
)
def test_bad_input(time, event, where):
    with pytest.raises(InputError) as err:
        kaplan_meier(time, event)
    assert err.value.where == where
