"""HEALEY shared-parameter DRR model: fast grid path vs dense algebra, NUTS, calibration, inputs.

Checks, from the bottom up:

* the fast path's log posterior of the DRR (variance components fixed) equals a dense computation
  (stacked multivariate normal with the fixed effects integrated, gamma-prior survival integral
  by quadrature) up to a constant, and its variance components (REML x uniform SD priors)
  match a dense fit;
* the NumPyro model's log joint density (grouped and per-patient sufficient statistics, and the
  latent random-effects form) equals a dense scipy computation;
* on simulated trials exact NUTS and the fast path agree on Pr(DRR < 1) and Pr(DRR < 0.9) within
  0.03 and give the same final decision at 0.979 (tolerance: see ``test_exact_and_fast_agree``);
* the fast path recovers a known DRR in a large trial and is calibrated under the null;
* inputs are validated with InputError.
"""

import math
import sys

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.optimize import minimize

from alsim.analysis import healey as H
from alsim.analysis.healey import (
    SUCCESS_THRESHOLD,
    HealeyPriors,
    HealeyResult,
    healey_fast,
    healey_mcmc,
)
from alsim.disease.empirical import SlopeEffect, simulate_empirical
from alsim.errors import InputError

WEEK24 = np.arange(7) * 4 * 12 / 52  # HEALEY schedule: every 4 weeks to week 24 (months)
ARM_160 = np.r_[np.ones(120, int), np.zeros(40, int)]  # 3:1, 120 active + 40 placebo


def _args(sim, arm=ARM_160):
    return sim["alsfrs"], WEEK24, arm, sim["t_obs_months"], sim["event"]


def gaussian_trials(n_rep, n_active, n_placebo, drr, seed, *, t=WEEK24):
    """Trials drawn from the HEALEY analysis model itself (normal random effects, exponential
    death/PAV hazard lambda0 * DRR, 2%/month dropout), scores clipped to 0-48."""
    rng = np.random.default_rng(seed)
    arm = np.r_[np.ones(n_active, int), np.zeros(n_placebo, int)]
    c = np.where(arm == 1, drr, 1.0)
    shape = (n_rep, arm.size)
    gamma = 5.2 * rng.standard_normal(shape)
    beta = 1.03 + 0.76 * rng.standard_normal(shape)
    noise = 1.77 * rng.standard_normal((*shape, t.size))
    y = np.clip(30.0 + gamma[..., None] - (beta * c)[..., None] * t + noise, 0, 48)
    t_event = rng.exponential(1.0 / (0.01 * c), shape)
    t_drop = rng.exponential(1.0 / 0.02, shape)
    stop = np.minimum(t_event, t_drop)
    y = np.where(t < stop[..., None], y, np.nan)
    return y, arm, np.minimum(stop, t[-1]), t_event <= np.minimum(t_drop, t[-1])


# ------------------------------------------------------------------------------------------------
# dense references (one small trial, patient by patient)
# ------------------------------------------------------------------------------------------------


def _small_trial(seed=3, n_pat=14):
    rng = np.random.default_rng(seed)
    arm = np.r_[np.ones(n_pat - 5, int), np.zeros(5, int)]
    t = np.array([0.0, 1.0, 2.5, 4.0, 5.5])
    y = 34 + 4 * rng.standard_normal((n_pat, 1)) - rng.uniform(0.3, 2, (n_pat, 1)) * t
    y = y + 1.5 * rng.standard_normal((n_pat, t.size))
    y[2, 3:] = np.nan  # dropout
    y[4, 1] = np.nan  # intermittent missing visit
    y[7, 1:] = np.nan  # one score only
    t_obs = np.full(n_pat, 5.5)
    event = np.zeros(n_pat, bool)
    t_obs[[2, 9]], event[[2, 9]] = [3.0, 1.2], True
    y[9, 2:] = np.nan
    return y, t, arm, t_obs, event


def _dense_blocks(y, t, arm):
    for i in range(y.shape[0]):
        m = np.isfinite(y[i])
        if m.any():
            yield i, y[i][m], (t[i] if t.ndim == 2 else t)[m], arm[i]


def dense_log_marginal(y, t, arm, t_obs, event, sd, drr, priors):
    """log p(y, surv | DRR, variance components) - log DRR, by brute force."""
    rows_y, rows_x, blocks = [], [], []
    for _, yy, tt, a in _dense_blocks(y, t, arm):
        c = drr if a else 1.0
        x = np.zeros((tt.size, 3))
        x[:, a] = 1.0
        x[:, 2] = -c * tt
        g, b, s = sd[0] ** 2, sd[2 if a else 1] ** 2, sd[4 if a else 3] ** 2
        z = np.column_stack([np.ones_like(tt), tt])
        blocks.append(s * np.eye(tt.size) + z @ np.diag([g, b]) @ z.T)
        rows_y.append(yy)
        rows_x.append(x)
    yv, xm = np.concatenate(rows_y), np.vstack(rows_x)
    v = np.zeros((yv.size, yv.size))
    k = 0
    for blk in blocks:
        v[k : k + len(blk), k : k + len(blk)] = blk
        k += len(blk)
    m0 = np.array([priors.alpha_mean, priors.alpha_mean, priors.mu_beta_mean])
    p0 = np.diag([priors.alpha_sd**2, priors.alpha_sd**2, priors.mu_beta_sd**2])
    func = stats.multivariate_normal(xm @ m0, v + xm @ p0 @ xm.T).logpdf(yv)
    c = np.where(arm == 1, drr, 1.0)

    def integrand(lam):
        loglik = np.sum(event * np.log(lam * c) - lam * c * t_obs)
        return math.exp(loglik + stats.gamma(priors.lambda0_shape, scale=1.0).logpdf(lam) + 30)

    surv = math.log(integrate.quad(integrand, 0, 5, points=[0.01, 0.05, 0.2], limit=200)[0]) - 30
    return func + surv - math.log(drr)


def dense_reml(log_sd, y, t, arm):
    """-2 restricted log-likelihood with a free intercept and slope per arm."""
    sd = np.exp(log_sd)
    total = 0.0
    for g in (0, 1):
        xvx, xvy, yvy, logdet = np.zeros((2, 2)), np.zeros(2), 0.0, 0.0
        for _, yy, tt, a in _dense_blocks(y, t, arm):
            if a != g:
                continue
            z = np.column_stack([np.ones_like(tt), tt])
            v = (
                sd[4 if a else 3] ** 2 * np.eye(tt.size)
                + z @ np.diag([sd[0] ** 2, sd[2 if a else 1] ** 2]) @ z.T
            )
            vi = np.linalg.inv(v)
            xvx += z.T @ vi @ z
            xvy += z.T @ vi @ yy
            yvy += yy @ vi @ yy
            logdet += np.linalg.slogdet(v)[1]
        total += logdet + np.linalg.slogdet(xvx)[1] + yvy - xvy @ np.linalg.solve(xvx, xvy)
    return total


# ------------------------------------------------------------------------------------------------
# fast path: algebra
# ------------------------------------------------------------------------------------------------


def test_fast_log_posterior_matches_dense_computation():
    y, t, arm, t_obs, event = _small_trial()
    priors = HealeyPriors()
    sd = np.array([4.0, 0.6, 0.5, 1.4, 1.7])
    d = H._prepare(y, t, arm, t_obs, event)
    ps = H._patient_stats(d, centre=priors.alpha_mean)
    gls = H._arm_gls(ps, sd[None])
    ev = d.event.astype(float)
    d_events = np.stack([(ev * (1 - d.arm)).sum(-1), (ev * d.arm).sum(-1)], -1)
    exposure = np.stack([(d.t_obs * (1 - d.arm)).sum(-1), (d.t_obs * d.arm).sum(-1)], -1)
    drr = np.array([0.4, 0.7, 1.0, 1.3, 1.9])
    fast = H._log_posterior_grid(gls, d_events, exposure, sd[None, 2], drr, priors)[0]
    dense = np.array([dense_log_marginal(y, t, arm, t_obs, event, sd, r, priors) for r in drr])
    np.testing.assert_allclose(fast - fast[2], dense - dense[2], atol=1e-7)


def dense_objective(log_sd, y, t, arm):
    """REML deviance with the uniform priors on the SDs (density e^x on x = log SD)."""
    return dense_reml(log_sd, y, t, arm) - 2 * np.sum(log_sd)


def test_variance_components_match_dense_fit():
    y, t, arm, t_obs, event = _small_trial(seed=8, n_pat=30)
    d = H._prepare(y, t, arm, t_obs, event)
    ps = H._patient_stats(d, centre=38.0)
    log_sd, converged = H._fit_variance_components(ps)
    assert converged.all()
    dense = minimize(
        dense_objective,
        log_sd[0] + 0.3,
        args=(y, t, arm),
        method="Nelder-Mead",
        options=dict(xatol=1e-7, fatol=1e-10, maxiter=20000, maxfev=20000),
    )
    assert dense_objective(log_sd[0], y, t, arm) <= dense.fun + 1e-6
    np.testing.assert_allclose(log_sd[0], dense.x, atol=1e-3)
    # the vectorised REML deviance equals the dense one up to a constant
    other = log_sd[0] + np.array([0.2, -0.1, 0.3, 0.05, -0.2])
    fast_diff = H._reml_deviance(other[None], ps)[0] - H._reml_deviance(log_sd, ps)[0]
    dense_diff = dense_reml(other, y, t, arm) - dense_reml(log_sd[0], y, t, arm)
    assert fast_diff == pytest.approx(dense_diff, abs=1e-8)


def test_grid_resolution_chunking_and_single_trial_input():
    sim = simulate_empirical(5, 160, WEEK24, seed=4, arm=ARM_160, effect=SlopeEffect(0.7))
    base = healey_fast(*_args(sim), grid="uniform")
    fine = healey_fast(*_args(sim), grid="uniform", n_grid=8000)
    np.testing.assert_allclose(base.pr_drr_lt_1, fine.pr_drr_lt_1, atol=2e-4)
    np.testing.assert_allclose(base.drr_median, fine.drr_median, atol=2e-3)
    chunked = healey_fast(*_args(sim), grid="uniform", chunk_size=2)
    np.testing.assert_array_equal(base.pr_drr_lt_1, chunked.pr_drr_lt_1)
    for grid in ("uniform", "adaptive"):
        res = healey_fast(*_args(sim), grid=grid)
        one = healey_fast(
            sim["alsfrs"][3], WEEK24, ARM_160, sim["t_obs_months"][3], sim["event"][3], grid=grid
        )
        assert one.pr_drr_lt_1.shape == (1,)
        assert one.pr_drr_lt_1[0] == pytest.approx(res.pr_drr_lt_1[3], abs=1e-9)
        assert np.all(res.drr_lower < res.drr_median) and np.all(res.drr_median < res.drr_upper)
        assert np.all(res.pr_drr_lt_0_9 <= res.pr_drr_lt_1)
        assert res.variance_components.shape == (5, 5) and res.converged.all()
        assert res.method == "fast-grid"


# ------------------------------------------------------------------------------------------------
# fast path, compiled kernel (grid="adaptive", the default) against the NumPy reference
# ------------------------------------------------------------------------------------------------


def _kernel_tables(y, t, arm, t_obs, event, centre=38.0):
    """The compiled kernel's group table and sums for trial 0."""
    c = H._check_inputs(y, t, arm, t_obs, event)
    gs = np.zeros((c.y.shape[1], H._N_GCOL))
    d_ev, expo, sv, counts = np.zeros(2), np.zeros(2), np.zeros((2, 9)), np.zeros(3, np.int64)
    arrays = [
        np.require(x, dt, ("C", "W"))
        for x, dt in ((c.y, float), (c.t, float), (c.arm, np.int8), (c.t_obs, float))
    ]
    event = np.require(c.event, np.uint8, ("C", "W"))
    ng, bad = H._nb_patient_sums(*arrays, event, 0, centre, gs, d_ev, expo, sv, counts)
    assert bad == 0
    return gs[:ng], d_ev, expo, counts


@pytest.mark.parametrize("per_patient_times", [False, True])
def test_compiled_objective_and_log_posterior_match_numpy_reference(per_patient_times):
    y, t, arm, t_obs, event = _small_trial(seed=8, n_pat=30)
    if per_patient_times:
        t = t + np.random.default_rng(0).uniform(0, 0.1, (30, t.size))
    priors = HealeyPriors()
    d = H._prepare(y, t, arm, t_obs, event)
    ps = H._patient_stats(d, centre=priors.alpha_mean)
    gs, d_ev, expo, counts = _kernel_tables(y, t, arm, t_obs, event)
    # patients pooled by visit pattern (monotone dropout etc.); none pooled with own times
    assert gs[:, H._G_K].sum() == (d.mask.any(-1)).sum()
    assert (len(gs) == 30) == per_patient_times
    assert counts.tolist() == [5, 25, 24]
    ev = d.event.astype(float)
    np.testing.assert_allclose(d_ev, [(ev * (1 - d.arm)).sum(), (ev * d.arm).sum()])
    np.testing.assert_allclose(expo, [(d.t_obs * (1 - d.arm)).sum(), (d.t_obs * d.arm).sum()])
    acc = np.zeros((2, 7))
    rng = np.random.default_rng(2)
    for _ in range(5):
        x = np.log([4.0, 0.6, 0.5, 1.4, 1.7]) + 0.3 * rng.standard_normal(5)
        ref = H._vc_objective(x[None], ps)[0]
        assert H._nb_objective(x, gs, len(gs), acc) == pytest.approx(ref, rel=1e-12, abs=1e-9)
        # finite-difference derivatives (one-arm evaluations) = the NumPy reference's
        grad, hess = np.zeros(5), np.zeros((5, 5))
        assert H._nb_derivatives(x, gs, len(gs), acc, grad, hess, np.zeros((2, 9)))
        g_ref, h_ref = H._deviance_derivatives(x[None], np.array([ref]), ps)
        np.testing.assert_allclose(grad, g_ref[0], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(hess, h_ref[0], rtol=1e-4, atol=2e-3)
        # log posterior of theta = log DRR: the grid path's density in DRR times DRR
        prm = np.array([38.0, 10.0, 1.0, 1.0, 2.0, 2.0, 0.01, 1.0, 1.0, 4.0, 7.5])
        cf = np.zeros(8)
        H._nb_coefficients(x, gs, len(gs), prm, d_ev, expo, acc, cf)
        drr = np.array([0.45, 0.7, 1.0, 1.3, 1.9])
        gls = H._arm_gls(ps, np.exp(x)[None])
        dens = H._log_posterior_grid(gls, d_ev[None], expo[None], np.exp(x[None, 2]), drr, priors)
        lp = np.array([H._nb_lp(math.log(r), cf) for r in drr])
        ref = dens[0] + np.log(drr)
        np.testing.assert_allclose(lp - lp[2], ref - ref[2], atol=1e-9)
        # analytic first and second derivatives
        for th in np.log(drr):
            v, d1, d2 = H._nb_lp_d(th, cf)
            assert v == pytest.approx(H._nb_lp(th, cf), abs=1e-12)
            e = 1e-5
            fd1 = (H._nb_lp(th + e, cf) - H._nb_lp(th - e, cf)) / (2 * e)
            fd2 = (H._nb_lp_d(th + e, cf)[1] - H._nb_lp_d(th - e, cf)[1]) / (2 * e)
            assert d1 == pytest.approx(fd1, rel=1e-6, abs=1e-5)
            assert d2 == pytest.approx(fd2, rel=1e-6, abs=1e-5)


def test_adaptive_grid_matches_fine_uniform_grid():
    """The default (compiled, adaptive theta grid) equals the NumPy reference on a very fine
    uniform grid: same variance components, probabilities and quantiles to ~1e-5 (4 points per
    SD; the error falls as h^4). At 50 points per SD the two agree to the reference's own error
    (~1e-6: its midpoint cells straddle the support bound DRR = sd_eff / 2 in small trials)."""
    sims = [
        simulate_empirical(8, 160, WEEK24, seed=61, arm=ARM_160, effect=SlopeEffect(0.7)),
        simulate_empirical(8, 160, WEEK24, seed=62, arm=ARM_160),
    ]
    y = np.concatenate([s["alsfrs"] for s in sims])
    t_obs = np.concatenate([s["t_obs_months"] for s in sims])
    event = np.concatenate([s["event"] for s in sims])
    y[:2, 40:120] = np.nan  # two small trials, 40 active + 10 placebo (interim-like)
    y[:2, 130:] = np.nan
    data = (y, WEEK24, ARM_160, t_obs, event)
    fields = ("drr_mean", "drr_median", "drr_lower", "drr_upper", "pr_drr_lt_1", "pr_drr_lt_0_9")
    for vc in (True, False):
        ref = healey_fast(*data, grid="uniform", n_grid=40000, vc_uncertainty=vc)
        new = healey_fast(*data, vc_uncertainty=vc)
        np.testing.assert_allclose(
            np.log(new.variance_components), np.log(ref.variance_components), atol=1e-5
        )
        np.testing.assert_array_equal(new.converged, ref.converged)
        for f in fields:
            np.testing.assert_allclose(getattr(new, f), getattr(ref, f), atol=3e-5, err_msg=f)
        fine = healey_fast(*data, vc_uncertainty=vc, points_per_sd=50)
        for f in fields:
            np.testing.assert_allclose(getattr(fine, f), getattr(ref, f), atol=2e-6, err_msg=f)


def test_threads_give_identical_results():
    sim = simulate_empirical(7, 160, WEEK24, seed=9, arm=ARM_160, effect=SlopeEffect(0.8))
    one = healey_fast(*_args(sim))
    two = healey_fast(*_args(sim), n_threads=3)
    for f in ("drr_median", "pr_drr_lt_1", "pr_drr_lt_0_9", "variance_components"):
        np.testing.assert_array_equal(getattr(one, f), getattr(two, f))


@pytest.mark.parametrize("grid", ["adaptive", "uniform"])
def test_excluded_patient_slots_and_zero_events(grid):
    """arm = -1 (or NaN) removes a patient slot from the analysis; so does NaN scores with
    t_obs = 0 and no event. Zero deaths/PAV are allowed."""
    sim = simulate_empirical(3, 160, WEEK24, seed=12, arm=ARM_160, effect=SlopeEffect(0.75))
    base = healey_fast(*_args(sim), grid=grid)
    pad = 25
    y = np.concatenate([sim["alsfrs"], np.full((3, pad, 7), np.nan)], axis=1)
    y[:, 160:170] = 20.0  # junk in excluded slots is ignored
    t_obs = np.concatenate([sim["t_obs_months"], np.full((3, pad), np.nan)], axis=1)
    event = np.concatenate([sim["event"], np.zeros((3, pad), bool)], axis=1)
    arm = np.r_[ARM_160, -np.ones(pad, int)]
    masked = healey_fast(y, WEEK24, arm, t_obs, event, grid=grid)
    arm_nan = np.r_[ARM_160.astype(float), np.full(pad, np.nan)]
    masked_nan = healey_fast(y, WEEK24, arm_nan, t_obs, event, grid=grid)
    y2 = y.copy()
    y2[:, 160:] = np.nan
    t_obs2 = np.where(np.isnan(t_obs), 0.0, t_obs)
    empty = healey_fast(y2, WEEK24, np.r_[ARM_160, np.ones(pad, int)], t_obs2, event, grid=grid)
    for res in (masked, masked_nan, empty):
        for f in ("drr_median", "pr_drr_lt_1", "pr_drr_lt_0_9", "variance_components"):
            np.testing.assert_allclose(getattr(res, f), getattr(base, f), rtol=1e-7, atol=1e-7)
    # per-trial masks: trial 1 drops 30 active patients = analysing it without them
    arm2 = np.tile(ARM_160, (3, 1))
    arm2[1, :30] = -1
    part = healey_fast(sim["alsfrs"], WEEK24, arm2, sim["t_obs_months"], sim["event"], grid=grid)
    alone = healey_fast(
        sim["alsfrs"][1, 30:],
        WEEK24,
        ARM_160[30:],
        sim["t_obs_months"][1, 30:],
        sim["event"][1, 30:],
        grid=grid,
    )
    assert part.pr_drr_lt_1[1] == pytest.approx(alone.pr_drr_lt_1[0], abs=1e-7)
    assert part.pr_drr_lt_1[0] == pytest.approx(base.pr_drr_lt_1[0], abs=1e-7)
    # no deaths/PAV at all: the survival part is the prior, still a proper posterior
    none = healey_fast(
        sim["alsfrs"], WEEK24, ARM_160, sim["t_obs_months"], np.zeros(160, bool), grid=grid
    )
    assert np.all(np.isfinite(none.pr_drr_lt_1)) and none.converged.all()
    assert np.all((none.pr_drr_lt_1 > 0) & (none.pr_drr_lt_1 < 1))
    assert np.all(none.drr_lower < none.drr_median)


def test_prepare_excludes_masked_patients_for_the_exact_path():
    y, t, arm, t_obs, event = _small_trial()
    arm = arm.copy()
    arm[0] = -1
    t_obs = t_obs.copy()
    t_obs[0] = np.nan
    d = H._prepare(y, t, arm, t_obs, event)
    assert not d.mask[0, 0].any() and d.t_obs[0, 0] == 0 and not d.event[0, 0]
    assert d.arm[0, 0] in (0, 1) and d.mask[0, 1:].any(-1).all()


def test_scores_after_death_are_ignored_and_nan_is_missing():
    sim = simulate_empirical(3, 160, WEEK24, seed=6, arm=ARM_160, effect=SlopeEffect(0.8))
    base = healey_fast(*_args(sim))
    y = sim["alsfrs"].copy()
    after = sim["event"][..., None] & (WEEK24 > sim["t_obs_months"][..., None])
    assert after.any()
    y[after] = 40.0  # scores "recorded" after death/PAV must not count
    again = healey_fast(y, WEEK24, ARM_160, sim["t_obs_months"], sim["event"])
    np.testing.assert_allclose(again.pr_drr_lt_1, base.pr_drr_lt_1, atol=1e-12)
    y = sim["alsfrs"].copy()
    y[:, 5, 2] = np.nan  # an intermittent missed visit changes the data, not the validity
    assert np.all(
        np.isfinite(healey_fast(y, WEEK24, ARM_160, sim["t_obs_months"], sim["event"]).pr_drr_lt_1)
    )


def test_success_and_futility_rules():
    res = HealeyResult(
        *(np.array([0.5, 0.8]),) * 4,
        pr_drr_lt_1=np.array([0.98, 0.979]),
        pr_drr_lt_0_9=np.array([0.2, 0.04]),
        method="fast-grid",
        variance_components=np.zeros((2, 5)),
        converged=np.ones(2, bool),
    )
    np.testing.assert_array_equal(res.success(), [True, False])
    np.testing.assert_array_equal(res.futile(), [False, True])
    assert SUCCESS_THRESHOLD == 0.979


# ------------------------------------------------------------------------------------------------
# fast path: statistical behaviour
# ------------------------------------------------------------------------------------------------


def test_fast_path_recovers_known_drr_in_a_large_trial():
    arm = np.r_[np.ones(3000, int), np.zeros(1000, int)]
    y, arm, t_obs, event = gaussian_trials(1, 3000, 1000, 0.7, seed=3)
    res = healey_fast(y, WEEK24, arm, t_obs, event)
    assert res.drr_median[0] == pytest.approx(0.7, abs=0.03)
    assert res.drr_lower[0] < 0.7 < res.drr_upper[0]
    assert res.drr_upper[0] - res.drr_lower[0] < 0.12
    # PRO-ACT-like data (log-normal slopes, death tied to the individual slope): still close
    sim = simulate_empirical(1, 4000, WEEK24, seed=5, arm=arm, effect=SlopeEffect(0.7))
    res = healey_fast(*_args(sim, arm))
    assert res.drr_median[0] == pytest.approx(0.7, abs=0.05)
    assert res.drr_lower[0] < 0.7 < res.drr_upper[0]


def test_null_posterior_probability_is_uniform_and_type_one_error_near_nominal():
    # data from the analysis model: Pr(DRR < 1) ~ U(0, 1), so Pr(> 0.979) = 2.1% (SE 0.37% at
    # n = 1500; bounds = 2.1% +- 3 SE)
    y, arm, t_obs, event = gaussian_trials(1500, 120, 40, 1.0, seed=7)
    p = healey_fast(y, WEEK24, arm, t_obs, event).pr_drr_lt_1
    assert stats.kstest(p, "uniform").pvalue > 0.001
    assert 0.010 <= np.mean(p > SUCCESS_THRESHOLD) <= 0.032
    # PRO-ACT-like data: skewed (log-normal) slopes make the placebo arm's mean and SD estimates
    # correlate, which thins the upper tail (about 1.5% over 5,000 trials, docs/healey-model.md)
    sim = simulate_empirical(1000, 160, WEEK24, seed=8, arm=ARM_160)
    p = healey_fast(*_args(sim)).pr_drr_lt_1
    assert stats.kstest(p, "uniform").pvalue > 0.001
    assert 0.003 <= np.mean(p > SUCCESS_THRESHOLD) <= 0.035


# ------------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_sim():
    return simulate_empirical(2, 160, WEEK24, seed=1, arm=ARM_160)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (dict(alsfrs=np.zeros((2, 160))), "visit_months"),  # 2-D: one trial of 160 visits
        (dict(alsfrs=np.zeros(5)), "alsfrs"),
        (dict(alsfrs="abc"), "alsfrs"),
        (dict(visit_months=WEEK24[:-1]), "visit_months"),
        (dict(visit_months=-WEEK24), "visit_months"),
        (dict(arm=ARM_160[:-1]), "arm"),
        (dict(arm=ARM_160 * 2), "arm"),
        (dict(arm=np.ones(160, int)), "arm"),
        (dict(t_obs_months=np.full(160, np.nan)), "t_obs_months"),
        (dict(t_obs_months=np.ones(159)), "t_obs_months"),
        (dict(event=np.full(160, 2)), "event"),
        (dict(event=np.zeros(3, bool)), "event"),
    ],
)
def test_invalid_inputs_raise_input_error(small_sim, change, where):
    kw = dict(
        alsfrs=small_sim["alsfrs"],
        visit_months=WEEK24,
        arm=ARM_160,
        t_obs_months=small_sim["t_obs_months"],
        event=small_sim["event"],
    )
    kw.update(change)
    with pytest.raises(InputError) as err:
        healey_fast(**kw)
    assert err.value.where == where


def test_invalid_scores_options_and_priors(small_sim):
    args = list(_args(small_sim))
    y = small_sim["alsfrs"].copy()
    y[0, 0, 0] = np.inf
    with pytest.raises(InputError, match="inf"):
        healey_fast(y, *args[1:])
    y[0, 0, 0] = 49
    with pytest.raises(InputError, match="0-48"):
        healey_fast(y, *args[1:])
    for kw in (
        dict(n_grid=10),
        dict(n_grid=2.5),
        dict(chunk_size=0),
        dict(priors=3),
        dict(grid="fine"),
        dict(points_per_sd=0.5),
        dict(points_per_sd=True),
        dict(n_threads=0),
        dict(vc_uncertainty="yes"),
    ):
        with pytest.raises(InputError):
            healey_fast(*args, **kw)
    for kw in (dict(drr_max=1.0), dict(alpha_sd=0), dict(lambda0_shape=-1), dict(alpha_mean="x")):
        with pytest.raises(InputError):
            HealeyPriors(**kw)
    for kw in (dict(num_chains=0), dict(batch_size=0), dict(target_accept=1.5), dict(seed=-1)):
        with pytest.raises(InputError):
            healey_mcmc(*args, **kw)  # validated before NumPyro is imported


def test_mcmc_without_numpyro_names_the_extra(small_sim, monkeypatch):
    monkeypatch.setitem(sys.modules, "numpyro", None)
    with pytest.raises(ImportError, match=r"alsim\[bayes\]"):
        healey_mcmc(*_args(small_sim))


# ------------------------------------------------------------------------------------------------
# exact path (NumPyro): log density and agreement with the fast path
# ------------------------------------------------------------------------------------------------

PARAMS = dict(
    alpha_z=np.array([[-0.35, -0.4]]),
    mu_beta=np.array([0.9]),
    drr=np.array([0.8]),
    sigma_gamma=np.array([4.0]),
    sigma_beta=np.array([[0.6, 0.5]]),
    sigma_eps=np.array([[1.4, 1.7]]),
    lambda0=np.array([0.02]),
)


def dense_log_joint(y, t, arm, t_obs, event, priors, prm, latent=None):
    alpha = priors.alpha_mean + priors.alpha_sd * prm["alpha_z"][0]
    mu, drr, sg = prm["mu_beta"][0], prm["drr"][0], prm["sigma_gamma"][0]
    sb, se, lam = prm["sigma_beta"][0], prm["sigma_eps"][0], prm["lambda0"][0]
    lp = stats.norm.logpdf(prm["alpha_z"]).sum()
    lp += stats.norm.logpdf(mu, priors.mu_beta_mean, priors.mu_beta_sd)
    lp -= math.log(priors.drr_max) + math.log(priors.sigma_gamma_max)
    lp -= 2 * math.log(priors.sigma_beta_max) + 2 * math.log(priors.sigma_eps_max)
    lp += stats.gamma(priors.lambda0_shape, scale=1 / priors.lambda0_rate).logpdf(lam)
    for i, yy, tt, a in _dense_blocks(y, t, arm):
        c = drr if a else 1.0
        if latent is None:
            z = np.column_stack([np.ones_like(tt), -c * tt])
            cov = se[a] ** 2 * np.eye(tt.size) + z @ np.diag([sg**2, sb[a] ** 2]) @ z.T
            lp += stats.multivariate_normal(alpha[a] - mu * c * tt, cov).logpdf(yy)
        else:
            zg, zb = latent["z_gamma"][0, i], latent["z_beta"][0, i]
            mean = alpha[a] + sg * zg - (mu + sb[a] * zb) * c * tt
            lp += stats.norm.logpdf(yy, mean, se[a]).sum()
    if latent is not None:
        lp += stats.norm.logpdf(latent["z_gamma"]).sum() + stats.norm.logpdf(latent["z_beta"]).sum()
    c = np.where(arm == 1, drr, 1.0)
    return lp + np.sum(event * np.log(lam * c) - lam * c * t_obs)


@pytest.mark.parametrize("per_patient_times", [False, True])
def test_numpyro_log_density_matches_dense(per_patient_times):
    pytest.importorskip("numpyro")
    import jax
    from numpyro.infer.util import log_density

    y, t, arm, t_obs, event = _small_trial(n_pat=20)
    if per_patient_times:  # every patient its own visit times: no grouping possible
        t = t + np.random.default_rng(0).uniform(0, 0.1, (20, t.size))
    priors = HealeyPriors()
    d = H._prepare(y, t, arm, t_obs, event)
    groups = H._group_stats(H._patient_stats(d, centre=priors.alpha_mean))
    assert (groups["g_count"].shape[1] == 20) == per_patient_times
    base = dict(arm=d.arm.astype(np.int32), t_obs=d.t_obs, event=d.event.astype(float))
    with jax.enable_x64(True):
        model = H._make_model(priors, marginalize=True)
        lp, _ = log_density(model, ({**base, **groups},), {}, PARAMS)
        t_full = np.broadcast_to(t, y.shape)
        assert float(lp) == pytest.approx(
            dense_log_joint(y, t_full, arm, t_obs, event, priors, PARAMS), abs=1e-8
        )
        if not per_patient_times:
            rng = np.random.default_rng(1)
            latent = dict(z_gamma=rng.standard_normal((1, 20)), z_beta=rng.standard_normal((1, 20)))
            data = {**base, "y": d.y, "t": d.t, "mask": d.mask}
            lp, _ = log_density(H._make_model(priors, False), (data,), {}, {**PARAMS, **latent})
            assert float(lp) == pytest.approx(
                dense_log_joint(y, t_full, arm, t_obs, event, priors, PARAMS, latent), abs=1e-8
            )


def _agree(exact, fast, tol=0.03):
    d1 = np.abs(exact.pr_drr_lt_1 - fast.pr_drr_lt_1)
    d09 = np.abs(exact.pr_drr_lt_0_9 - fast.pr_drr_lt_0_9)
    assert d1.max() < tol, d1
    assert d09.max() < tol, d09
    np.testing.assert_allclose(exact.drr_median, fast.drr_median, atol=0.02)
    # decisions must agree unless the fast probability is within tol of the threshold
    clear = np.abs(fast.pr_drr_lt_1 - SUCCESS_THRESHOLD) > tol
    np.testing.assert_array_equal(exact.success()[clear], fast.success()[clear])


def test_exact_and_fast_agree():
    """Tolerance 0.03 on probabilities: NUTS Monte Carlo SD <= sqrt(0.25 / ESS) ~ 0.008 at
    ESS >= 4000 (3-4 SD), plus the fast path's plug-in error (mean |diff| ~ 0.003 in the
    benchmark). The benchmark measures the full distribution on >= 200 trials."""
    pytest.importorskip("numpyro")
    sims = [
        simulate_empirical(2, 160, WEEK24, seed=31, arm=ARM_160, effect=SlopeEffect(0.7)),
        simulate_empirical(1, 160, WEEK24, seed=32, arm=ARM_160, effect=SlopeEffect(0.75)),
        simulate_empirical(1, 160, WEEK24, seed=33, arm=ARM_160),
    ]
    y = np.concatenate([s["alsfrs"] for s in sims])
    t_obs = np.concatenate([s["t_obs_months"] for s in sims])
    event = np.concatenate([s["event"] for s in sims])
    fast = healey_fast(y, WEEK24, ARM_160, t_obs, event)
    exact = healey_mcmc(
        y, WEEK24, ARM_160, t_obs, event, num_warmup=500, num_samples=1500, batch_size=4
    )
    assert exact.method == "nuts" and exact.converged.all()
    assert np.all(exact.rhat_max < 1.01) and np.all(exact.ess_min > 1000)
    _agree(exact, fast)
    # the fast path's plug-in variance components sit near their posterior means
    np.testing.assert_allclose(exact.variance_components, fast.variance_components, rtol=0.1)


@pytest.mark.slow
def test_exact_latent_random_effects_match_marginalised_and_fast():
    pytest.importorskip("numpyro")
    sim = simulate_empirical(1, 160, WEEK24, seed=41, arm=ARM_160, effect=SlopeEffect(0.7))
    fast = healey_fast(*_args(sim))
    marg = healey_mcmc(*_args(sim), num_samples=3000)
    latent = healey_mcmc(*_args(sim), marginalize=False, num_warmup=1500, num_samples=3000)
    assert latent.method == "nuts-latent" and latent.converged.all()
    assert abs(latent.pr_drr_lt_1[0] - marg.pr_drr_lt_1[0]) < 0.03
    assert abs(latent.drr_median[0] - marg.drr_median[0]) < 0.02
    _agree(latent, fast)


@pytest.mark.slow
def test_exact_and_fast_agree_on_more_trials():
    pytest.importorskip("numpyro")
    y, arm, t_obs, event = gaussian_trials(20, 120, 40, 0.7, seed=51)
    fast = healey_fast(y, WEEK24, arm, t_obs, event)
    exact = healey_mcmc(y, WEEK24, arm, t_obs, event, batch_size=10, keep_draws=True)
    assert exact.draws.shape == (20, 8000)
    _agree(exact, fast)
