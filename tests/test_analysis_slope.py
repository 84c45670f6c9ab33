"""Slope analyses: REML mixed model vs dense GLS/REML and statsmodels, OLS-slope test, power.

The classic-design cross-check: a two-arm slope trial simulated with the empirical model must
have the power predicted by the normal approximation for the slope difference, computed from the
model's variance components and the visit schedule, within Monte Carlo error.
"""

import math
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import norm

from alsim.analysis.slope import lmm_slope_test, ols_slope_test
from alsim.disease.empirical import SlopeEffect, load_empirical_params, simulate_empirical
from alsim.errors import InputError

WEEK24 = np.arange(7) * 4 * 12 / 52  # HEALEY/CENTAUR-like: every 4 weeks to week 24 (months)


# ------------------------------------------------------------------------------------------------
# dense reference implementations (one trial, patient by patient)
# ------------------------------------------------------------------------------------------------


def _blocks(y, t, arm, arm_intercept):
    out = []
    for i in range(y.shape[0]):
        ti = t if t.ndim == 1 else t[i]
        m = np.isfinite(y[i]) & np.isfinite(ti)
        if not m.any():
            continue
        tt, yy = ti[m], y[i][m]
        one = np.ones_like(tt)
        z = np.column_stack([one, tt])
        cols = [one, tt, *([arm[i] * one] if arm_intercept else []), arm[i] * tt]
        out.append((np.column_stack(cols), z, yy))
    return out


def dense_gls(y, t, arm, g, sigma2, arm_intercept=False):
    """GLS estimate and covariance for known variance components: (sum X'V^-1 X)^-1 ..."""
    xvx, xvy = 0.0, 0.0
    for x, z, yy in _blocks(y, t, arm, arm_intercept):
        vinv = np.linalg.inv(z @ g @ z.T + sigma2 * np.eye(len(yy)))
        xvx = xvx + x.T @ vinv @ x
        xvy = xvy + x.T @ vinv @ yy
    cov = np.linalg.inv(xvx)
    return cov @ xvy, cov


def dense_reml_deviance(params, blocks):
    """-2 restricted log-likelihood at (log sigma2, Cholesky of G)."""
    log_s2, l1, l2, l3 = params
    chol = np.array([[l1, 0.0], [l2, l3]])
    g, s2 = chol @ chol.T, math.exp(log_s2)
    xvx, xvy, logdet, n_obs, parts = 0.0, 0.0, 0.0, 0, []
    for x, z, yy in blocks:
        v = z @ g @ z.T + s2 * np.eye(len(yy))
        vinv = np.linalg.inv(v)
        xvx, xvy = xvx + x.T @ vinv @ x, xvy + x.T @ vinv @ yy
        logdet += np.linalg.slogdet(v)[1]
        n_obs += len(yy)
        parts.append((x, yy, vinv))
    beta = np.linalg.solve(xvx, xvy)
    quad = sum((yy - x @ beta) @ vinv @ (yy - x @ beta) for x, yy, vinv in parts)
    p = len(beta)
    return logdet + np.linalg.slogdet(xvx)[1] + quad + (n_obs - p) * math.log(2 * math.pi)


def _to_params(g, sigma2):
    l1 = math.sqrt(g[0, 0])
    l2 = g[0, 1] / l1
    return np.array([math.log(sigma2), l1, l2, math.sqrt(max(g[1, 1] - l2 * l2, 0.0))])


@pytest.fixture(scope="module")
def small_trials():
    """Six 60-patient trials with death/dropout (NaN), 1:1, 25% slowing."""
    arm = np.tile([0, 1], 30)
    out = simulate_empirical(6, 60, WEEK24, seed=7, arm=arm, effect=SlopeEffect(0.75))
    return out["alsfrs"], arm


@pytest.fixture(scope="module")
def unbalanced_trials():
    """Per-patient visit times (jittered +-1 week), intermittent missed visits, unequal arms."""
    rng = np.random.default_rng(3)
    arm = (np.arange(45) % 3 == 0).astype(int)
    out = simulate_empirical(3, 45, WEEK24, seed=9, arm=arm, effect=SlopeEffect(0.7))
    t = WEEK24 + rng.uniform(-0.23, 0.23, size=(3, 45, 7))
    t[..., 0] = 0.0
    # the score at a jittered time: shift by the patient's true slope over the jitter
    y = out["alsfrs"] + np.rint(out["slope_true"][..., None] * (t - WEEK24))
    y[rng.random(y.shape) < 0.1] = np.nan
    return y, t, arm


# ------------------------------------------------------------------------------------------------
# exactness against dense formulas
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arm_intercept", [False, True])
def test_matches_dense_gls_at_fitted_components(small_trials, unbalanced_trials, arm_intercept):
    for y, t, arm in [(*small_trials[:1], WEEK24, small_trials[1]), unbalanced_trials]:
        res = lmm_slope_test(y, t, arm, arm_intercept=arm_intercept)
        assert np.all(res.converged)
        for r in range(y.shape[0]):
            tr = t if t.ndim == 1 else t[r]
            beta, cov = dense_gls(
                y[r], tr, arm, res.re_cov[r], res.residual_sd[r] ** 2, arm_intercept
            )
            assert res.estimate[r] == pytest.approx(beta[-1], abs=1e-9)
            assert res.se[r] == pytest.approx(math.sqrt(cov[-1, -1]), rel=1e-9)
            assert res.slope_control[r] == pytest.approx(beta[1], abs=1e-9)


def test_reml_optimum_matches_dense_minimisation(small_trials, unbalanced_trials):
    """A generic optimiser on the dense REML deviance finds no better point than ours."""
    cases = [
        (small_trials[0][0], WEEK24, small_trials[1]),
        (unbalanced_trials[0][1], unbalanced_trials[1][1], unbalanced_trials[2]),
    ]
    for y, t, arm in cases:
        res = lmm_slope_test(y[None], t if t.ndim == 1 else t[None], arm)
        blocks = _blocks(y, t, arm, False)
        ours = _to_params(res.re_cov[0], res.residual_sd[0] ** 2)
        dev_ours = dense_reml_deviance(ours, blocks)
        start = np.array([0.0, 3.0, 0.0, 0.5])
        ref = minimize(
            dense_reml_deviance,
            start,
            args=(blocks,),
            method="Nelder-Mead",
            options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 20000, "maxfev": 40000},
        )
        assert dev_ours <= ref.fun + 1e-6
        assert dev_ours == pytest.approx(ref.fun, abs=1e-4)
        g_ref = np.array(
            [
                [ref.x[1] ** 2, ref.x[1] * ref.x[2]],
                [ref.x[1] * ref.x[2], ref.x[2] ** 2 + ref.x[3] ** 2],
            ]
        )
        np.testing.assert_allclose(res.re_cov[0], g_ref, rtol=1e-3, atol=1e-4)
        beta, _ = dense_gls(y, t, arm, g_ref, math.exp(ref.x[0]))
        assert res.estimate[0] == pytest.approx(beta[-1], abs=1e-5)


def test_balanced_complete_data_equals_ols_t_test():
    """No missing data, one schedule: LMM with arm intercept = difference of mean OLS slopes, and
    its SE = the pooled two-sample t-test SE (REML = ANOVA estimators for balanced data)."""
    params = load_empirical_params().replace(
        death_hazard_per_month=0.0, dropout_hazard_per_month=0.0
    )
    arm = np.repeat([0, 1], 30)
    out = simulate_empirical(
        200, 60, WEEK24, seed=5, params=params, arm=arm, effect=SlopeEffect(0.75)
    )
    lmm = lmm_slope_test(out["alsfrs"], WEEK24, arm, arm_intercept=True)
    ols = ols_slope_test(out["alsfrs"], WEEK24, arm, equal_var=True)
    np.testing.assert_allclose(lmm.estimate, ols.estimate, atol=1e-10)
    np.testing.assert_allclose(lmm.se, ols.se, rtol=1e-8)
    np.testing.assert_array_equal(ols.df, 58)


def test_vectorised_equals_one_trial_at_a_time(small_trials):
    y, arm = small_trials
    batch = lmm_slope_test(y, WEEK24, arm)
    for r in range(y.shape[0]):
        single = lmm_slope_test(y[r], WEEK24, arm)
        assert single.estimate[0] == pytest.approx(batch.estimate[r], abs=1e-7)
        assert single.se[0] == pytest.approx(batch.se[r], rel=1e-6)


# ------------------------------------------------------------------------------------------------
# statsmodels MixedLM (optional reference)
# ------------------------------------------------------------------------------------------------


def test_against_statsmodels_mixedlm(small_trials, unbalanced_trials):
    pd = pytest.importorskip("pandas")
    smf = pytest.importorskip("statsmodels.formula.api")
    cases = [(small_trials[0][r], WEEK24, small_trials[1]) for r in (1, 2, 4, 5)]
    cases += [
        (unbalanced_trials[0][r], unbalanced_trials[1][r], unbalanced_trials[2]) for r in range(3)
    ]
    matched = 0
    for y, t, arm in cases:
        ours = lmm_slope_test(y[None], t if t.ndim == 1 else t[None], arm)
        tt = np.broadcast_to(t, y.shape)
        keep = np.isfinite(y)
        ids = np.broadcast_to(np.arange(y.shape[0])[:, None], y.shape)[keep]
        frame = pd.DataFrame({"id": ids, "t": tt[keep], "y": y[keep]})
        frame["tx"] = frame["t"] * np.asarray(arm)[frame["id"]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = smf.mixedlm("y ~ t + tx", frame, groups=frame["id"], re_formula="~t").fit(
                reml=True, method=["bfgs"]
            )
        blocks = _blocks(y, t, arm, False)
        dev_sm = dense_reml_deviance(_to_params(fit.cov_re.values, fit.scale), blocks)
        dev_ours = dense_reml_deviance(_to_params(ours.re_cov[0], ours.residual_sd[0] ** 2), blocks)
        assert dev_ours <= dev_sm + 1e-6  # never a worse optimum than statsmodels
        if dev_sm - dev_ours < 1e-5:  # the same optimum: compare the estimates
            matched += 1
            assert ours.estimate[0] == pytest.approx(fit.fe_params["tx"], abs=1e-4 * ours.se[0])
            assert ours.slope_control[0] == pytest.approx(fit.fe_params["t"], abs=1e-4)
            assert ours.residual_sd[0] ** 2 == pytest.approx(fit.scale, rel=1e-3)
            np.testing.assert_allclose(ours.re_cov[0], fit.cov_re.values, rtol=2e-3, atol=1e-4)
            # statsmodels' SE inverts the full observed information (fixed x variance-component
            # cross terms); ours is sigma^2 (X'V^-1 X)^-1 as nlme/lme4: within a few per cent
            assert ours.se[0] == pytest.approx(fit.bse_fe["tx"], rel=0.03)
    assert matched >= 4


# ------------------------------------------------------------------------------------------------
# operating characteristics: power vs the normal approximation, type I error
# ------------------------------------------------------------------------------------------------


def expected_slope_difference_se(params, visit_months, n_per_arm, ratio):
    """SE of the difference of arm-mean slopes for complete data on a common schedule.

    Per patient the OLS slope has variance Var(b) + sigma_e^2 / Sxx, with Sxx = sum (t - tbar)^2
    and sigma_e^2 = residual_sd^2 + 1/12 (rounding to integers adds a uniform(-1/2, 1/2) error);
    on the treated arm the decline rate (and its variance) is multiplied by ``ratio`` (ratio^2).
    """
    sxx = float(np.sum((visit_months - visit_months.mean()) ** 2))
    noise = (params.residual_sd**2 + 1 / 12) / sxx
    var_b = params.decline_sd_per_month**2
    return math.sqrt((var_b + noise + ratio**2 * var_b + noise) / n_per_arm)


def test_power_matches_normal_approximation():
    """Classic design cross-check: 2,000 trials of 100 + 100 patients, 7 visits to week 24, a 25%
    slowing, no death or dropout. Power (p < 0.05) of the LMM and OLS tests vs
    Phi(delta/SE - z_0.975) + Phi(-delta/SE - z_0.975), within 4 Monte Carlo SEs."""
    params = load_empirical_params().replace(
        death_hazard_per_month=0.0, dropout_hazard_per_month=0.0
    )
    n_rep, n_arm, ratio = 2000, 100, 0.75
    arm = np.repeat([0, 1], n_arm)
    out = simulate_empirical(
        n_rep, 2 * n_arm, WEEK24, seed=2024, params=params, arm=arm, effect=SlopeEffect(ratio)
    )
    delta = (1 - ratio) * params.decline_mean_per_month
    se = expected_slope_difference_se(params, WEEK24, n_arm, ratio)
    z = norm.ppf(0.975)
    power = norm.cdf(delta / se - z) + norm.cdf(-delta / se - z)
    mc = math.sqrt(power * (1 - power) / n_rep)
    lmm = lmm_slope_test(out["alsfrs"], WEEK24, arm)
    ols = ols_slope_test(out["alsfrs"], WEEK24, arm)
    assert np.all(lmm.converged)
    for res in (lmm, ols):
        assert abs(np.mean(res.p_value < 0.05) - power) < 4 * mc
        # unbiased estimate and correct SE (both within Monte Carlo error)
        assert abs(res.estimate.mean() - delta) < 4 * se / math.sqrt(n_rep)
        assert res.estimate.std() == pytest.approx(se, rel=0.05)
        assert res.se.mean() == pytest.approx(se, rel=0.03)
    # control slope: -1.03 up to the small ceiling/floor effect of clipping to 0-48 (~0.007)
    assert lmm.slope_control.mean() == pytest.approx(-params.decline_mean_per_month, abs=0.015)


def test_type_one_error_with_death_and_dropout():
    """Null effect, default parameters (slope-dependent death/PAV, 2%/month dropout): the
    rejection rate of both tests is within 4 Monte Carlo SEs of 0.05."""
    n_rep = 2000
    arm = np.tile([0, 1], 100)
    out = simulate_empirical(n_rep, 200, WEEK24, seed=77, arm=arm)
    mc = math.sqrt(0.05 * 0.95 / n_rep)
    lmm = lmm_slope_test(out["alsfrs"], WEEK24, arm)
    ols = ols_slope_test(out["alsfrs"], WEEK24, arm)
    assert np.all(lmm.converged)
    for res in (lmm, ols):
        assert abs(np.mean(res.p_value < 0.05) - 0.05) < 4 * mc
        assert abs(res.estimate.mean()) < 4 * res.estimate.std() / math.sqrt(n_rep)
    # death/PAV depends on the patient's decline rate (shared parameter): the fastest decliners
    # leave early, so the mixed model's control slope is biased toward slower decline (-1.006 in
    # this run vs -1.023 without death; missing not at random); the test stays valid under CRN
    assert -1.03 < lmm.slope_control.mean() < -0.99


# ------------------------------------------------------------------------------------------------
# edge cases and input validation
# ------------------------------------------------------------------------------------------------


def test_non_estimable_trial_gives_nan(small_trials):
    y, arm = small_trials
    y = y[:2].copy()
    y[1][arm == 1, 1:] = np.nan  # trial 1: treated patients only have a baseline
    lmm = lmm_slope_test(y, WEEK24, arm)
    ols = ols_slope_test(y, WEEK24, arm)
    assert np.isfinite(lmm.estimate[0]) and np.isfinite(ols.estimate[0])
    assert np.isnan(ols.estimate[1]) and np.isnan(ols.p_value[1])
    assert np.isnan(lmm.estimate[1]) and not lmm.converged[1]


def test_bad_inputs():
    y = np.zeros((2, 4, 3))
    with pytest.raises(InputError, match="visit_months"):
        lmm_slope_test(y, [0, 1], [0, 1, 0, 1])
    with pytest.raises(InputError, match="arm"):
        lmm_slope_test(y, [0, 1, 2], [0, 1, 2, 1])
    with pytest.raises(InputError, match="arm"):
        ols_slope_test(y, [0, 1, 2], [0, 1])
    with pytest.raises(InputError, match="alsfrs"):
        ols_slope_test(np.zeros(3), [0, 1, 2], [0, 1, 0])
