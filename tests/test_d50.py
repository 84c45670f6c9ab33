"""D50 model: worked examples (clinical-instruments.md §6, derived), fitting, properties."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsim.clinical.d50 import (
    D50_BOUNDS_MONTHS,
    D50_PHASE_BOUNDARIES,
    D50Fit,
    d50_curve,
    fit_d50,
    time_to_score,
)
from alsim.errors import InputError


# -- worked examples (derived in the notes from the formula) ------------------------------------
@pytest.mark.parametrize(
    ("d50", "dx", "values", "slope", "t40"),
    [
        (30, 5, (47.88, 46.72, 36.89, 11.11, 0.12), -2.4, 21.95),
        (20, 3, (47.94, 44.88, 10.01, 0.23, 0.00), -4.0, 15.17),
        (60, 12, (47.68, 47.14, 45.72, 42.28, 24.00), -1.0, 40.69),
    ],
)
def test_worked_examples(d50, dx, values, slope, t40):
    curve = d50_curve([0, 12, 24, 36, 60], d50, dx)
    np.testing.assert_allclose(curve, values, atol=0.005)  # the notes round to 2 decimals
    assert d50_curve(d50, d50, dx) == pytest.approx(24.0)
    fit = D50Fit(d50, dx, rmse=0.0, n_visits=0, converged=True, anchored=True)
    assert fit.slope_at_d50 == pytest.approx(slope)
    assert time_to_score(40, d50, dx) == pytest.approx(t40, abs=0.005)
    # the slope is the derivative: cFL at D50 is its negative
    assert fit.cfl(d50) == pytest.approx(-slope)


def test_rd50_worked_example_and_phases():
    fit = D50Fit(30.0, 5.0, rmse=0.0, n_visits=0, converged=True, anchored=True)
    assert fit.rd50(15) == pytest.approx(0.5)  # notes: D50 = 30, t = 15 -> 0.5
    assert D50_PHASE_BOUNDARIES == (0.5, 1.0, 1.5)
    # half-open phases: [0, .5) I, [.5, 1) II, [1, 1.5) III, >= 1.5 IV
    assert fit.phase(0) == "I"
    assert fit.phase(14.99) == "I"
    assert fit.phase(15) == "II"
    assert fit.phase(30) == "III"
    assert fit.phase(45) == "IV"
    assert list(fit.phase([1, 20, 40, 100])) == ["I", "II", "III", "IV"]
    with pytest.raises(InputError, match="^t:"):
        fit.phase(-1)


def test_cfs_is_the_curve_and_cfl_is_minus_the_derivative():
    fit = D50Fit(30.0, 5.0, rmse=0.0, n_visits=0, converged=True, anchored=True)
    t = np.linspace(0, 60, 13)
    np.testing.assert_allclose(fit.cfs(t), d50_curve(t, 30, 5))
    h = 1e-5
    numeric = -(fit.cfs(t + h) - fit.cfs(t - h)) / (2 * h)
    np.testing.assert_allclose(fit.cfl(t), numeric, rtol=1e-6, atol=1e-8)


def test_time_to_score_ends():
    assert time_to_score(48, 30, 5) == -math.inf
    assert time_to_score(0, 30, 5) == math.inf
    assert time_to_score(24, 30, 5) == pytest.approx(30)


# -- fitting ------------------------------------------------------------------------------------
VISITS = np.array([6.0, 9, 12, 15, 18, 21, 24, 27, 30, 33])


@pytest.mark.parametrize(("d50", "dx"), [(30, 5), (20, 3), (60, 12)])
def test_fit_recovers_noiseless_parameters_without_anchor(d50, dx):
    fit = fit_d50(VISITS * d50 / 30, d50_curve(VISITS * d50 / 30, d50, dx), anchor_onset=False)
    assert fit.converged and not fit.anchored and fit.n_visits == VISITS.size
    assert fit.d50_months == pytest.approx(d50, rel=1e-6)
    assert fit.dx_months == pytest.approx(dx, rel=1e-6)
    assert fit.rmse < 1e-6


def test_fit_noiseless_with_anchor_is_nearly_unbiased():
    # The anchor (0, 48) sits 0.12 points above the true curve (47.88 at t = 0), so the anchored
    # fit is pulled very slightly; with these visits the measured bias is 6e-5 months (D50) and
    # 1.3e-3 months (dx); with visits only up to 21 months it grows to about 0.04 months.
    t = np.array([6.0, 12, 18, 24, 30, 36])
    fit = fit_d50(t, d50_curve(t, 30, 5))
    assert fit.converged and fit.anchored
    assert fit.d50_months == pytest.approx(30, abs=0.01)
    assert fit.dx_months == pytest.approx(5, abs=0.01)


def test_fit_recovers_parameters_from_noisy_integer_visits():
    # 10 visits 6-33 months, noise SD 1.5 points, totals rounded and clipped to 0-48 like real
    # scores. A 200-replicate Monte Carlo of this design gave SD 0.35-0.37 months for D50 and
    # 0.37-0.39 months for dx (max |error| 0.98 / 1.19), so 1.5 months is about 4 SD.
    rng = np.random.default_rng(20240611)
    errors = []
    for _ in range(20):
        y = np.clip(np.round(d50_curve(VISITS, 30, 5) + rng.normal(0, 1.5, VISITS.size)), 0, 48)
        fit = fit_d50(VISITS, y)
        assert fit.converged
        errors.append((fit.d50_months - 30, fit.dx_months - 5))
    errors = np.array(errors)
    assert np.all(np.abs(errors) < 1.5)
    # mean of 20 errors: SE about 0.37 / sqrt(20) = 0.08; allow 0.3 (about 4 SE)
    assert np.all(np.abs(errors.mean(axis=0)) < 0.3)


def test_fit_minimum_visits():
    fit = fit_d50([12, 24], d50_curve([12, 24], 30, 5))  # 2 visits + anchor
    assert fit.d50_months == pytest.approx(30, abs=0.1)
    with pytest.raises(InputError, match="at least 2 visits"):
        fit_d50([12], [40])
    with pytest.raises(InputError, match="at least 3 visits"):
        fit_d50([12, 24], [40, 30], anchor_onset=False)


def test_flat_patient_is_flagged_not_crashed():
    fit = fit_d50([3, 6, 9, 12], [48, 48, 48, 48])
    assert not fit.converged
    assert fit.d50_months == D50_BOUNDS_MONTHS[1]
    assert "lower limit" in fit.message
    assert fit.predict(12) == pytest.approx(48, abs=1e-6)


def test_fit_at_a_bound_is_flagged():
    fit = fit_d50([3, 6], [48, 47])  # a one-point drop: shape not resolved
    assert not fit.converged
    assert "bound" in fit.message


@pytest.mark.parametrize(
    ("times", "totals", "where"),
    [
        ([6, 12, 18], [40, 30], "months_since_onset/totals"),
        ([6, 12, float("nan")], [40, 30, 20], "months_since_onset"),
        ([6, 12, 18], [40, 30, float("inf")], "totals"),
        ([6, 12, 18], [40, 30, 49], r"totals\[2\]"),
        ([6, 12, 18], [40, -1, 30], r"totals\[1\]"),
        ([0, 12, 18], [48, 30, 20], r"months_since_onset\[0\]"),
        ([-3, 12, 18], [48, 30, 20], r"months_since_onset\[0\]"),
        ([12, 12, 12], [40, 39, 41], "months_since_onset"),
        ([[6, 12]], [[40, 30]], "months_since_onset/totals"),
    ],
)
def test_fit_bad_inputs(times, totals, where):
    with pytest.raises(InputError, match=f"^{where}:"):
        fit_d50(times, totals)


def test_fit_bad_bounds():
    with pytest.raises(InputError, match="^d50_bounds"):
        fit_d50([6, 12], [40, 30], d50_bounds=(10, 5))


@pytest.mark.parametrize(
    ("args", "where"),
    [((10, 0, 5), "d50"), ((10, 30, -1), "dx"), ((float("nan"), 30, 5), "t"), (("x", 30, 5), "t")],
)
def test_curve_bad_inputs(args, where):
    with pytest.raises(InputError, match=f"^{where}:"):
        d50_curve(*args)


@pytest.mark.parametrize("score", [-0.1, 48.1, float("nan")])
def test_time_to_score_bad_inputs(score):
    with pytest.raises(InputError, match="^score:"):
        time_to_score(score, 30, 5)


# -- properties -----------------------------------------------------------------------------------
params = st.tuples(st.floats(1.0, 200.0), st.floats(0.5, 40.0))
times = st.floats(-100.0, 400.0)


@given(params, times, times)
def test_curve_is_monotone_decreasing_and_bounded(p, t1, t2):
    d50, dx = p
    lo, hi = sorted((t1, t2))
    f_lo, f_hi = d50_curve(lo, d50, dx), d50_curve(hi, d50, dx)
    assert 0.0 <= f_hi <= f_lo <= 48.0


@given(params)
def test_curve_is_24_at_d50(p):
    d50, dx = p
    assert d50_curve(d50, d50, dx) == pytest.approx(24.0)


@given(params, st.floats(0.01, 47.99))
def test_time_to_score_inverts_the_curve(p, score):
    d50, dx = p
    t = time_to_score(score, d50, dx)
    assert d50_curve(t, d50, dx) == pytest.approx(score, rel=1e-9, abs=1e-9)


@given(params, st.floats(-50.0, 300.0))
def test_curve_inverts_time_to_score(p, t):
    d50, dx = p
    y = d50_curve(t, d50, dx)
    if 1e-6 < y < 48 - 1e-6:  # away from the flat ends, where the inverse is ill-conditioned
        assert time_to_score(y, d50, dx) == pytest.approx(t, abs=1e-5)
