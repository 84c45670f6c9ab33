"""Log-rank and Cox (binary covariate, Breslow ties), vectorised: worked examples, references,
ragged trials and null calibration."""

import math
import warnings

import numpy as np
import pytest

from alsim.analysis.survival_tests import MAX_LOG_HR, cox_test, logrank_test
from alsim.errors import InputError

# Worked example A (no ties, no censoring):
#   group 0 dies at 1 and 3, group 1 at 2 and 4.
#   t=1: n0=2 n1=2, event in 0     t=2: n0=1 n1=2, event in 1
#   t=3: n0=1 n1=1, event in 0     t=4: n0=0 n1=1, event in 1
# Log-rank: O1 = 2, E1 = 2/4 + 2/3 + 1/2 + 1 = 8/3,
#   V = 1/4 + 2/9 + 1/4 + 0 = 13/18, z = (2 - 8/3) / sqrt(13/18)
# Cox: with x = e^beta the score is
#   -x/(1+x) + (1 - 2x/(1+2x)) - x/(1+x) + 0 = 0  <=>  1 - x - 4x^2 = 0,
#   so x = (sqrt(17) - 1) / 8 and I = 2x/(1+x)^2 + 2x/(1+2x)^2.
TIME_A = [1.0, 3.0, 2.0, 4.0]
EVENT_A = [1, 1, 1, 1]
GROUP_A = [0, 0, 1, 1]

# Worked example B (ties and censoring):
#   group 0: 2, 2, 5+, 6      group 1: 2, 4+, 5, 7+       (+ = censored)
#   t=2: n=8, n1=4, d=3 (d1=1): E = 3*4/8 = 1.5, V = 3 (1/2)(1/2)(5/7) = 15/28
#   t=5: n=4, n1=2, d=1 (d1=1) (the censored 5+ is still at risk): E = 1/2, V = 1/4
#   t=6: n=2, n1=1, d=1 (d1=0): E = 1/2, V = 1/4
#   O1 = 2, E1 = 2.5, V = 15/28 + 1/2 = 29/28
TIME_B = [2, 2, 5, 6, 2, 4, 5, 7]
EVENT_B = [1, 1, 0, 1, 1, 0, 1, 0]
GROUP_B = [0, 0, 0, 0, 1, 1, 1, 1]


def test_logrank_worked_example_a():
    res = logrank_test(TIME_A, EVENT_A, GROUP_A)
    assert res.observed[0] == pytest.approx(2.0)
    assert res.expected[0] == pytest.approx(8 / 3)
    assert res.variance[0] == pytest.approx(13 / 18)
    assert res.z[0] == pytest.approx((2 - 8 / 3) / math.sqrt(13 / 18))
    assert res.p_value[0] == pytest.approx(math.erfc(abs(res.z[0]) / math.sqrt(2)))
    assert res.log_hr[0] == pytest.approx((2 - 8 / 3) / (13 / 18))
    assert res.n_events[0] == 4


def test_logrank_worked_example_b_with_ties():
    res = logrank_test(TIME_B, EVENT_B, GROUP_B)
    assert res.observed[0] == pytest.approx(2.0)
    assert res.expected[0] == pytest.approx(2.5)
    assert res.variance[0] == pytest.approx(29 / 28)
    assert res.z[0] == pytest.approx(-0.5 / math.sqrt(29 / 28))
    # swapping the groups flips the sign, not the p-value
    flipped = logrank_test(TIME_B, EVENT_B, 1 - np.asarray(GROUP_B))
    assert flipped.z[0] == pytest.approx(-res.z[0])
    assert flipped.p_value[0] == pytest.approx(res.p_value[0])


def test_cox_worked_example_a():
    res = cox_test(TIME_A, EVENT_A, GROUP_A)
    x = (math.sqrt(17) - 1) / 8
    info = 2 * x / (1 + x) ** 2 + 2 * x / (1 + 2 * x) ** 2
    assert res.converged[0]
    assert res.hr[0] == pytest.approx(x, rel=1e-10)
    assert res.log_hr[0] == pytest.approx(math.log(x), rel=1e-10)
    assert res.se[0] == pytest.approx(1 / math.sqrt(info), rel=1e-10)
    assert res.z[0] == pytest.approx(math.log(x) * math.sqrt(info), rel=1e-10)


def test_cox_breslow_worked_example_b():
    """Breslow partial likelihood with the risk sets of example B, solved by bisection."""
    risk = [(8, 4, 3, 1), (4, 2, 1, 1), (2, 1, 1, 0)]  # (n, n1, d, d1)

    def score(beta):
        return sum(
            d1 - d * n1 * math.exp(beta) / (n - n1 + n1 * math.exp(beta)) for n, n1, d, d1 in risk
        )

    lo, hi = -5.0, 5.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if score(mid) > 0 else (lo, mid)
    beta = (lo + hi) / 2
    res = cox_test(TIME_B, EVENT_B, GROUP_B)
    assert res.log_hr[0] == pytest.approx(beta, abs=1e-9)
    p = [n1 * math.exp(beta) / (n - n1 + n1 * math.exp(beta)) for n, n1, _, _ in risk]
    info = sum(d * pj * (1 - pj) for (_, _, d, _), pj in zip(risk, p, strict=True))
    assert res.se[0] == pytest.approx(1 / math.sqrt(info), rel=1e-8)


def test_cox_information_at_zero_is_logrank_variance():
    """Without ties, I(0) equals the log-rank variance, so the Cox score test (score at 0 =
    O1 - E1) is the log-rank test; with max_iter=0 the fit stays at beta = 0."""
    rng = np.random.default_rng(0)
    time = rng.exponential(1.0, size=(50, 40))
    event = rng.random((50, 40)) < 0.7
    group = rng.integers(0, 2, size=(50, 40))
    lr = logrank_test(time, event, group)
    at_zero = cox_test(time, event, group, max_iter=0)
    np.testing.assert_array_equal(at_zero.log_hr, 0.0)
    np.testing.assert_allclose(at_zero.se, 1 / np.sqrt(lr.variance), rtol=1e-12)


def test_ragged_trials_equal_separate_fits():
    """NaN padding and a ``valid`` mask exclude subjects from every risk set."""
    rng = np.random.default_rng(5)
    sizes = [12, 30, 21]
    time = np.full((3, 30), np.nan)
    event = np.zeros((3, 30), bool)
    group = np.zeros((3, 30), int)
    for r, n in enumerate(sizes):
        time[r, :n] = np.round(rng.exponential(5.0, n))  # ties
        event[r, :n] = rng.random(n) < 0.8
        group[r, :n] = np.arange(n) % 2
    lr, cx = logrank_test(time, event, group), cox_test(time, event, group)
    valid = np.isfinite(time)
    masked = cox_test(np.nan_to_num(time, nan=1e9), event, group, valid=valid)
    for r, n in enumerate(sizes):
        one_lr = logrank_test(time[r, :n], event[r, :n], group[r, :n])
        one_cx = cox_test(time[r, :n], event[r, :n], group[r, :n])
        assert lr.z[r] == pytest.approx(one_lr.z[0], rel=1e-12)
        assert cx.log_hr[r] == pytest.approx(one_cx.log_hr[0], rel=1e-10)
        assert masked.log_hr[r] == pytest.approx(one_cx.log_hr[0], rel=1e-10)


def test_against_statsmodels_and_lifelines():
    sm_reg = pytest.importorskip("statsmodels.duration.hazard_regression")
    sm_surv = pytest.importorskip("statsmodels.duration.survfunc")
    rng = np.random.default_rng(1)
    n_rep, n = 5, 80
    group = rng.integers(0, 2, (n_rep, n))
    latent = np.round(rng.exponential(10 / np.where(group == 1, 0.7, 1.0)))  # integer: ties
    censor = np.round(rng.uniform(0, 15, (n_rep, n)))
    time, event = np.minimum(latent, censor), latent <= censor
    lr, cx = logrank_test(time, event, group), cox_test(time, event, group)
    for r in range(n_rep):
        chi2, p = sm_surv.survdiff(time[r], event[r].astype(int), group[r])
        assert lr.z[r] ** 2 == pytest.approx(chi2, rel=1e-10)
        assert lr.p_value[r] == pytest.approx(p, rel=1e-8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm_reg.PHReg(
                time[r],
                group[r][:, None].astype(float),
                status=event[r].astype(int),
                ties="breslow",
            ).fit()
        assert cx.log_hr[r] == pytest.approx(fit.params[0], abs=1e-8)
        assert cx.se[r] == pytest.approx(fit.bse[0], rel=1e-8)
    lifelines = pytest.importorskip("lifelines")
    from lifelines.statistics import logrank_test as ll_logrank

    for r in range(n_rep):
        g0, g1 = group[r] == 0, group[r] == 1
        ref = ll_logrank(time[r][g0], time[r][g1], event[r][g0], event[r][g1])
        assert lr.z[r] ** 2 == pytest.approx(ref.test_statistic, rel=1e-10)
    # without ties, Efron (lifelines' default) equals Breslow
    pd = pytest.importorskip("pandas")
    cont = rng.exponential(10.0, n)
    frame = pd.DataFrame({"T": cont, "E": event[0].astype(int), "g": group[0]})
    fit = lifelines.CoxPHFitter().fit(frame, duration_col="T", event_col="E")
    ours = cox_test(cont, event[0], group[0])
    assert ours.log_hr[0] == pytest.approx(fit.params_["g"], abs=1e-6)
    assert ours.se[0] == pytest.approx(fit.standard_errors_["g"], rel=1e-5)


def test_null_calibration():
    """2,000 trials of 200 subjects (exponential times, uniform censoring, equal hazards): both
    tests reject at 5% within 4 Monte Carlo SEs, and the mean log HR is ~0."""
    rng = np.random.default_rng(2024)
    n_rep, n = 2000, 200
    group = np.tile([0, 1], n // 2)
    latent = rng.exponential(12.0, (n_rep, n))
    censor = rng.uniform(3.0, 18.0, (n_rep, n))
    time, event = np.minimum(latent, censor), latent <= censor
    mc = math.sqrt(0.05 * 0.95 / n_rep)
    lr, cx = logrank_test(time, event, group), cox_test(time, event, group)
    assert np.all(cx.converged)
    for res in (lr, cx):
        assert abs(np.mean(res.p_value < 0.05) - 0.05) < 4 * mc
        assert abs(res.log_hr.mean()) < 4 * res.log_hr.std() / math.sqrt(n_rep)
    # the Wald SE describes the spread of the estimates
    assert cx.log_hr.std() == pytest.approx(cx.se.mean(), rel=0.05)


def test_hazard_ratio_recovered():
    rng = np.random.default_rng(7)
    n_rep, n, hr = 400, 400, 0.6
    group = np.tile([0, 1], n // 2)
    latent = rng.exponential(1.0 / np.where(group == 1, hr, 1.0), (n_rep, n))
    res = cox_test(latent, np.ones((n_rep, n), bool), group)
    assert abs(res.log_hr.mean() - math.log(hr)) < 4 * res.log_hr.std() / math.sqrt(n_rep)


def test_monotone_likelihood_and_degenerate_trials():
    time = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]])
    event = np.array([[0, 1, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]], bool)
    group = np.array([[0, 1, 0, 1], [0, 1, 0, 1], [0, 0, 0, 0]])
    cx = cox_test(time, event, group)
    lr = logrank_test(time, event, group)
    # trial 0: every event in group 1 -> the estimate diverges upwards, flagged unconverged
    assert not cx.converged[0] and cx.log_hr[0] == pytest.approx(MAX_LOG_HR)
    assert np.isfinite(lr.z[0]) and lr.z[0] > 0
    # trial 1: no events; trial 2: one group empty -> not estimable
    for r in (1, 2):
        assert np.isnan(cx.log_hr[r]) and np.isnan(lr.z[r]) and not cx.converged[r]


def test_bad_inputs():
    with pytest.raises(InputError, match="event"):
        logrank_test([1, 2], [1, 2], [0, 1])
    with pytest.raises(InputError, match="group"):
        cox_test([1, 2], [1, 0], [0, 2])
    with pytest.raises(InputError, match="time"):
        logrank_test([-1, 2], [1, 0], [0, 1])
    with pytest.raises(InputError, match="event"):
        logrank_test(np.ones((2, 3)), np.ones((2, 4)), np.zeros(3))
