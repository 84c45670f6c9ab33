r"""HEALEY primary analysis: Bayesian shared-parameter model of ALSFRS-R and death/PAV -> DRR.

The HEALEY ALS Platform Trial estimates one number per regimen, the *disease-rate ratio* (DRR):
the factor by which treatment multiplies both the ALSFRS-R decline rate and the hazard of death
or permanent assisted ventilation (PAV) (Paganoni et al., Ann Neurol 2022,
doi:10.1002/ana.26285; Master SAP v3.0 Appendix I, as transcribed in
``shared/science/trials.md`` B1-B2). This module fits that model for **one regimen against its
placebo**, either exactly by MCMC or approximately, and fast, for many simulated trials at once.

Model (patient i, visit j, time t_ij in months, arm T_i = 0 placebo / 1 active)
--------------------------------------------------------------------------------

.. math::

    Y_{ij} &= \alpha_{T_i} + \gamma_i - \beta_i\, e^{\theta T_i}\, t_{ij} + \varepsilon_{ij},
    \qquad \gamma_i \sim N(0, \sigma_\gamma^2),\;
    \beta_i \sim N(\mu_\beta, \sigma_{\beta,T_i}^2),\;
    \varepsilon_{ij} \sim N(0, \sigma_{T_i}^2)\\
    h_i &= \lambda_0\, e^{\theta T_i}
    \qquad\text{(exponential death/PAV hazard, censored at dropout or end of follow-up)}

with the *shared* parameter :math:`\theta = \log \mathrm{DRR}` scaling the treated patients'
decline rate and hazard alike. ALSFRS-R scores recorded after an observed death/PAV are not used
("while alive" strategy); other missingness is taken as missing at random. Priors (M-SAP v3.0
Appendix I, via trials.md B2):

.. math::

    \alpha_T \sim N(38, 10^2),\; \mu_\beta \sim N(1, 1),\; \mathrm{DRR} \sim U(0, 2),\;
    \sigma_\gamma \sim U(0, 10),\; \sigma_{\beta,T} \sim U(0, 2),\; \sigma_T \sim U(0, 4),\;
    \lambda_0 \sim \mathrm{Gamma}(0.01, 1).

The gamma prior is read as shape 0.01 and *rate* 1 per month: that is the only reading that
matches the SAP's stated mean 0.01 and SD 0.1 (shape/rate = 0.01, sqrt(shape)/rate = 0.1).
Outputs are the posterior mean and median DRR, the 95% equal-tailed credible interval,
:math:`\Pr(\mathrm{DRR} < 1)` (final success when above :data:`SUCCESS_THRESHOLD` = 0.979) and
:math:`\Pr(\mathrm{DRR} < 0.9)` (non-binding futility when below :data:`FUTILITY_THRESHOLD`
= 0.05).

Not implemented (documented later extensions, see ``docs/healey-model.md``): covariate effects
:math:`\delta X_i`, the non-analysis-regimen placebo effects :math:`\eta_r` and the time-period
random walk :math:`\rho_d` that the full platform model uses to borrow non-concurrent placebo.

Exact path: :func:`healey_mcmc`
    NUTS (NumPyro, optional extra ``alsim[bayes]``, imported lazily) on the model above, in
    64-bit. By default the random effects :math:`(\gamma_i, \beta_i)` are integrated out
    analytically (an exact identity, Gaussian in the random effects); ``marginalize=False``
    samples them explicitly. :math:`\lambda_0` is always sampled.

Fast path: :func:`healey_fast`
    For ``n_rep`` trials at once (a compiled Numba loop over trials, ~50 microseconds per
    240-patient analysis), the posterior of the DRR on a grid in log DRR placed around its mode
    given the five variance components, which are estimated per
    trial from their restricted likelihood (REML) with the uniform SD priors (empirical Bayes).
    Given the variance components everything else is integrated exactly: the fixed effects
    :math:`(\alpha_0, \alpha_1, \mu_\beta)` are Gaussian (normal priors included) and
    :math:`\lambda_0` is conjugate. By default (``vc_uncertainty=True``) the grid posterior is
    averaged over 10 cubature nodes of the variance components' approximate (Laplace)
    posterior instead of using the plug-in estimate alone. See :func:`healey_fast` for the
    derivation and ``docs/healey-model.md`` for its measured agreement with the exact path.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from alsim.errors import InputError

__all__ = [
    "FUTILITY_DRR",
    "FUTILITY_THRESHOLD",
    "SUCCESS_THRESHOLD",
    "VC_NAMES",
    "HealeyPriors",
    "HealeyResult",
    "healey_fast",
    "healey_mcmc",
]

#: Final-analysis success: Pr(DRR < 1) must exceed this (M-SAP v3.0 p.41; trials.md B1).
SUCCESS_THRESHOLD = 0.979
#: Non-binding futility at interims: stop if Pr(DRR < FUTILITY_DRR) < FUTILITY_THRESHOLD.
FUTILITY_THRESHOLD = 0.05
FUTILITY_DRR = 0.9

#: ALSFRS-R range.
_SCORE_MAX = 48.0
#: Names of the variance components, in the order of ``HealeyResult.variance_components``.
VC_NAMES = (
    "sigma_gamma",
    "sigma_beta_placebo",
    "sigma_beta_active",
    "sigma_placebo",
    "sigma_active",
)


# ------------------------------------------------------------------------------------------------
# Priors and results
# ------------------------------------------------------------------------------------------------


def _positive(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InputError(where, f"must be a number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise InputError(where, f"must be finite and > 0, got {value!r}")
    return value


@dataclass(frozen=True)
class HealeyPriors:
    """Priors of the shared-parameter model (defaults: HEALEY M-SAP v3.0 Appendix I).

    Attributes
    ----------
    alpha_mean, alpha_sd:
        :math:`\\alpha_T \\sim N(\\text{alpha\\_mean}, \\text{alpha\\_sd}^2)`, arm mean baseline.
    mu_beta_mean, mu_beta_sd:
        :math:`\\mu_\\beta \\sim N(\\cdot, \\cdot^2)`, mean decline (points/month, > 0 = decline).
    drr_max:
        :math:`\\mathrm{DRR} \\sim U(0, \\text{drr\\_max})`.
    sigma_gamma_max, sigma_beta_max, sigma_eps_max:
        Upper bounds of the uniform priors on :math:`\\sigma_\\gamma`, :math:`\\sigma_{\\beta,T}`
        and :math:`\\sigma_T` (lower bound 0).
    lambda0_shape, lambda0_rate:
        :math:`\\lambda_0 \\sim \\mathrm{Gamma}(\\text{shape}, \\text{rate})`, rate per month
        (default mean 0.01/month, SD 0.1).
    """

    alpha_mean: float = 38.0
    alpha_sd: float = 10.0
    mu_beta_mean: float = 1.0
    mu_beta_sd: float = 1.0
    drr_max: float = 2.0
    sigma_gamma_max: float = 10.0
    sigma_beta_max: float = 2.0
    sigma_eps_max: float = 4.0
    lambda0_shape: float = 0.01
    lambda0_rate: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.alpha_mean, bool) or not isinstance(
            self.alpha_mean, int | float | np.integer | np.floating
        ):
            raise InputError("HealeyPriors.alpha_mean", "must be a number")
        if not math.isfinite(float(self.alpha_mean)):
            raise InputError("HealeyPriors.alpha_mean", "must be finite")
        if isinstance(self.mu_beta_mean, bool) or not isinstance(
            self.mu_beta_mean, int | float | np.integer | np.floating
        ):
            raise InputError("HealeyPriors.mu_beta_mean", "must be a number")
        if not math.isfinite(float(self.mu_beta_mean)):
            raise InputError("HealeyPriors.mu_beta_mean", "must be finite")
        for name in (
            "alpha_sd",
            "mu_beta_sd",
            "drr_max",
            "sigma_gamma_max",
            "sigma_beta_max",
            "sigma_eps_max",
            "lambda0_shape",
            "lambda0_rate",
        ):
            object.__setattr__(self, name, _positive(f"HealeyPriors.{name}", getattr(self, name)))
        if self.drr_max <= 1.0:
            raise InputError("HealeyPriors.drr_max", f"must be > 1, got {self.drr_max}")


@dataclass(frozen=True)
class HealeyResult:
    """Posterior summaries of the DRR, one entry per trial (arrays of shape ``(n_rep,)``).

    Attributes
    ----------
    drr_mean, drr_median:
        Posterior mean and median of the DRR.
    drr_lower, drr_upper:
        95% equal-tailed credible interval (2.5% and 97.5% posterior quantiles).
    pr_drr_lt_1, pr_drr_lt_0_9:
        :math:`\\Pr(\\mathrm{DRR} < 1)` and :math:`\\Pr(\\mathrm{DRR} < 0.9)`.
    method:
        ``"fast-grid"`` (:func:`healey_fast`) or ``"nuts"`` / ``"nuts-latent"``
        (:func:`healey_mcmc`, random effects integrated out or sampled).
    variance_components:
        Fast path: the plug-in estimates (mode of the restricted likelihood times the uniform
        SD priors), shape ``(n_rep, 5)`` in the order of :data:`VC_NAMES`; exact path: their
        posterior means. Entry 2 is the active arm's effective slope SD
        :math:`e^\\theta\\sigma_{\\beta,1}`.
    converged:
        Fast path: the REML optimiser converged; exact path: max r-hat < 1.01 and no divergence.
    rhat_max, ess_min, n_divergent:
        Exact path only (else None): the largest split r-hat and smallest effective sample size
        over the model's global parameters, and the number of divergent transitions.
    draws:
        Exact path with ``keep_draws=True``: posterior DRR draws, shape ``(n_rep, n_draws)``.
    seconds:
        Wall-clock seconds per trial: fast path, the call's time / ``n_rep``; exact path, the
        time of the trial's batch / its trials (the first batch includes JIT compilation).
    """

    drr_mean: np.ndarray
    drr_median: np.ndarray
    drr_lower: np.ndarray
    drr_upper: np.ndarray
    pr_drr_lt_1: np.ndarray
    pr_drr_lt_0_9: np.ndarray
    method: str
    variance_components: np.ndarray
    converged: np.ndarray
    rhat_max: np.ndarray | None = None
    ess_min: np.ndarray | None = None
    n_divergent: np.ndarray | None = None
    draws: np.ndarray | None = field(default=None, repr=False)
    seconds: np.ndarray | None = None

    def success(self, threshold: float = SUCCESS_THRESHOLD) -> np.ndarray:
        """Final-analysis success per trial: :math:`\\Pr(\\mathrm{DRR} < 1) > \\text{threshold}`."""
        return self.pr_drr_lt_1 > threshold

    def futile(self, threshold: float = FUTILITY_THRESHOLD) -> np.ndarray:
        """Interim futility per trial: :math:`\\Pr(\\mathrm{DRR} < 0.9) < \\text{threshold}`."""
        return self.pr_drr_lt_0_9 < threshold


# ------------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Data:
    y: np.ndarray  # (R, P, V) scores, 0 where not used
    t: np.ndarray  # (R, P, V) times, 0 where not used
    mask: np.ndarray  # (R, P, V) bool, score used
    arm: np.ndarray  # (R, P) int8
    t_obs: np.ndarray  # (R, P) months of survival follow-up
    event: np.ndarray  # (R, P) bool, death/PAV observed


@dataclass(frozen=True)
class _Inputs:
    """Validated inputs with broadcast axes kept at length 1 (no (R, P, V) copies).

    ``y`` (R, P, V) float64 scores (NaN = missing; range not yet checked); ``t`` (Rt, Pt, V) visit
    times with Rt in {1, R}, Pt in {1, P}; ``arm`` (Ra, P) int8 with -1 = not in this analysis;
    ``t_obs`` (Ro, P) and ``event`` (Re, P) (bool) with entries of excluded patients set to 0.
    """

    y: np.ndarray
    t: np.ndarray
    arm: np.ndarray
    t_obs: np.ndarray
    event: np.ndarray


def _compact(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``x`` broadcast to ``shape``, with every broadcast (zero-stride) axis kept at length 1."""
    b = np.broadcast_to(x, shape)
    index = tuple(
        slice(0, 1) if s == 0 and n > 1 else slice(None)
        for s, n in zip(b.strides, shape, strict=True)
    )
    return np.ascontiguousarray(b[index])


def _check_inputs(
    alsfrs: Any, visit_months: Any, arm: Any, t_obs_months: Any, event: Any
) -> _Inputs:
    """Validate shapes and the per-patient inputs (see :func:`healey_fast` for the rules).

    The scores' values (inf, range 0-48) and the per-arm counts are checked by the callers, which
    need a pass over the scores anyway.
    """
    try:
        y = np.asarray(alsfrs, dtype=float)
    except (TypeError, ValueError):
        raise InputError("alsfrs", "must be a numeric array") from None
    if y.ndim == 2:
        y = y[None]
    if y.ndim != 3 or 0 in y.shape:
        raise InputError(
            "alsfrs", f"must have shape (n_rep, n_patients, n_visits), got {np.shape(alsfrs)}"
        )
    n_rep, n_pat, n_vis = y.shape

    try:
        t = np.asarray(visit_months, dtype=float)
    except (TypeError, ValueError):
        raise InputError("visit_months", "must be a numeric array") from None
    if t.ndim == 1 and t.shape != (n_vis,):
        raise InputError("visit_months", f"must have {n_vis} times (one per visit), got {t.size}")
    try:
        t = _compact(t, y.shape)
    except ValueError:
        raise InputError(
            "visit_months", f"must be 1-D or broadcastable to {y.shape}, got {t.shape}"
        ) from None
    if np.any(np.isinf(t)) or np.any(t[np.isfinite(t)] < 0):
        raise InputError("visit_months", "must be finite and >= 0 (NaN = missing visit)")

    a = np.asarray(arm)
    if a.shape not in ((n_pat,), (n_rep, n_pat)):
        raise InputError("arm", f"must have shape ({n_pat},) or ({n_rep}, {n_pat}), got {a.shape}")
    if a.dtype.kind == "b":
        a = a.astype(np.int8)
    if a.dtype.kind == "f":
        a = np.where(np.isnan(a), -1.0, a)
    if a.dtype.kind not in "iuf" or not np.all(np.isin(a, (0, 1, -1))):
        raise InputError(
            "arm", "must contain only 0 (placebo), 1 (active) and -1 or NaN (not in this analysis)"
        )
    a = _compact(a.astype(np.int8), (n_rep, n_pat))
    excluded = a < 0
    pair = (n_rep, n_pat)

    try:
        t_obs = np.asarray(t_obs_months, dtype=float)
    except (TypeError, ValueError):
        raise InputError("t_obs_months", "must be a numeric array") from None
    if t_obs.shape not in ((n_pat,), (n_rep, n_pat)):
        raise InputError(
            "t_obs_months", f"must have shape ({n_pat},) or ({n_rep}, {n_pat}), got {t_obs.shape}"
        )
    bad = ~(np.isfinite(t_obs) & (np.nan_to_num(t_obs, nan=-1.0) >= 0))
    if np.any(bad & ~excluded):
        raise InputError("t_obs_months", "must be finite and >= 0 for every patient (no NaN)")
    if excluded.any():
        t_obs = np.where(excluded, 0.0, t_obs)
    t_obs = _compact(t_obs, pair)

    e = np.asarray(event)
    if e.shape not in ((n_pat,), (n_rep, n_pat)):
        raise InputError(
            "event", f"must have shape ({n_pat},) or ({n_rep}, {n_pat}), got {e.shape}"
        )
    if e.dtype.kind not in "biuf" or not np.all(np.isin(e, (0, 1)) | excluded):
        raise InputError("event", "must be boolean (death/PAV observed) or 0/1")
    if excluded.any():
        e = np.where(excluded, False, e)
    e = _compact(e.astype(bool), pair)
    return _Inputs(y=y, t=t, arm=a, t_obs=t_obs, event=e)


def _prepare(alsfrs: Any, visit_months: Any, arm: Any, t_obs_months: Any, event: Any) -> _Data:
    """Validate and align the inputs of the exact and the uniform-grid paths (full arrays)."""
    c = _check_inputs(alsfrs, visit_months, arm, t_obs_months, event)
    y = c.y
    if np.any(np.isinf(y)):
        raise InputError("alsfrs", "must be finite or NaN (missing), found inf")
    finite = np.isfinite(y)
    if np.any((y[finite] < 0) | (y[finite] > _SCORE_MAX)):
        raise InputError("alsfrs", "ALSFRS-R scores must lie in 0-48")
    shape = y.shape
    t = np.broadcast_to(c.t, shape)
    a = np.broadcast_to(c.arm, shape[:2])
    t_obs = np.broadcast_to(c.t_obs, shape[:2])
    e = np.broadcast_to(c.event, shape[:2])
    # scores after an observed death/PAV are not used ("while alive"); excluded patients not at all
    after_event = e[..., None] & (t > t_obs[..., None])
    mask = finite & np.isfinite(t) & ~after_event & (a >= 0)[..., None]
    used = mask.any(-1)
    _check_counts(
        ((a == 0) & used).sum(-1),
        ((a == 1) & used).sum(-1),
        ((a == 1) & (mask.sum(-1) >= 2)).sum(-1),
    )
    return _Data(
        y=np.where(mask, y, 0.0),
        t=np.where(mask, t, 0.0),
        mask=mask,
        arm=np.maximum(a, 0).astype(np.int8),
        t_obs=np.array(t_obs),
        event=np.array(e),
    )


def _check_counts(n_placebo: np.ndarray, n_active: np.ndarray, n_active_2: np.ndarray) -> None:
    """Every trial needs >= 2 patients with a score per arm and an active patient with >= 2."""
    for n, name in ((n_placebo, "placebo"), (n_active, "active")):
        if np.any(n < 2):
            raise InputError(
                "arm", f"every trial needs >= 2 {name} patients with an ALSFRS-R score"
            )
    if np.any(n_active_2 < 1):
        raise InputError("alsfrs", "every trial needs an active patient with >= 2 scores")


# ------------------------------------------------------------------------------------------------
# Fast path: per-patient GLS statistics with a random intercept and slope (Woodbury, 2x2)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PatientStats:
    """Per-patient sums over used visits, shape (R, P); ``y`` centred at the prior mean of alpha."""

    n: np.ndarray
    st: np.ndarray
    stt: np.ndarray
    sy: np.ndarray
    sty: np.ndarray
    syy: np.ndarray
    arm: np.ndarray  # (R, P) float 0/1

    def take(self, rows: np.ndarray) -> _PatientStats:
        return _PatientStats(**{k: v[rows] for k, v in self.__dict__.items()})


def _patient_stats(d: _Data, centre: float) -> _PatientStats:
    yc = np.where(d.mask, d.y - centre, 0.0)
    return _PatientStats(
        n=d.mask.sum(-1).astype(float),
        st=d.t.sum(-1),
        stt=(d.t * d.t).sum(-1),
        sy=yc.sum(-1),
        sty=(d.t * yc).sum(-1),
        syy=(yc * yc).sum(-1),
        arm=d.arm.astype(float),
    )


@dataclass(frozen=True)
class _ArmGLS:
    """Per-trial, per-arm GLS sums at fixed variance components; each field (R, 2) (arm 0, 1).

    With :math:`Z_i = [1, t_i]` and :math:`V_i` the marginal covariance of patient i's scores:
    ``a11, a12, a22`` = :math:`\\sum Z^\\top V^{-1} Z`, ``c1, c2`` = :math:`\\sum Z^\\top V^{-1} y`,
    ``q`` = :math:`\\sum y^\\top V^{-1} y`, ``logdet`` = :math:`\\sum \\log|V_i|`.
    """

    a11: np.ndarray
    a12: np.ndarray
    a22: np.ndarray
    c1: np.ndarray
    c2: np.ndarray
    q: np.ndarray
    logdet: np.ndarray


def _arm_gls(ps: _PatientStats, sd: np.ndarray) -> _ArmGLS:
    """GLS sums for variance components ``sd`` (R, 5) = SDs in the order of :data:`VC_NAMES`.

    Per patient, :math:`V = s I + Z D Z^\\top` with :math:`D = \\mathrm{diag}(g, b)`. With
    :math:`S = Z^\\top Z`, :math:`u = Z^\\top y` and :math:`K = sI + DS` (2x2), Woodbury gives
    :math:`Z^\\top V^{-1} Z = S K^{-1}`, :math:`Z^\\top V^{-1} y = K^{-\\top} u`,
    :math:`y^\\top V^{-1} y = (y^\\top y - u^\\top K^{-1} D u)/s` and
    :math:`\\log|V| = (n - 2)\\log s + \\log|K|` (valid for n = 0 and 1 too).
    """
    var = sd * sd
    g = var[:, 0:1]
    arm = ps.arm
    b = np.where(arm > 0, var[:, 2:3], var[:, 1:2])
    s = np.where(arm > 0, var[:, 4:5], var[:, 3:4])
    n, st, stt, sy, sty = ps.n, ps.st, ps.stt, ps.sy, ps.sty
    k11, k12, k21, k22 = s + g * n, g * st, b * st, s + b * stt
    det = k11 * k22 - k12 * k21
    inv = 1.0 / det
    delta = n * stt - st * st
    a11 = inv * (n * s + b * delta)
    a12 = inv * (s * st)
    a22 = inv * (s * stt + g * delta)
    c1 = inv * (k22 * sy - k21 * sty)
    c2 = inv * (k11 * sty - k12 * sy)
    uwu = inv * (g * k22 * sy * sy - 2.0 * g * b * st * sy * sty + b * k11 * sty * sty)
    q = (ps.syy - uwu) / s
    logdet = (n - 2.0) * np.log(s) + np.log(det)

    def by_arm(x: np.ndarray) -> np.ndarray:
        x1 = (x * arm).sum(-1)
        return np.stack([x.sum(-1) - x1, x1], axis=-1)

    return _ArmGLS(*(by_arm(x) for x in (a11, a12, a22, c1, c2, q, logdet)))


def _reml_deviance(log_sd: np.ndarray, ps: _PatientStats) -> np.ndarray:
    """-2 x restricted log-likelihood (up to a constant) of each trial at ``log_sd`` (R, 5).

    The REML model has free per-arm intercept and slope (4 fixed effects), so the deviance is a
    sum over arms of :math:`\\sum\\log|V_i| + \\log|A_T| + q_T - c_T^\\top A_T^{-1} c_T`; arms share
    only :math:`\\sigma_\\gamma`.
    """
    s = _arm_gls(ps, np.exp(log_sd))
    det_a = s.a11 * s.a22 - s.a12 * s.a12
    with np.errstate(invalid="ignore", divide="ignore"):
        quad = (s.a22 * s.c1 * s.c1 - 2.0 * s.a12 * s.c1 * s.c2 + s.a11 * s.c2 * s.c2) / det_a
        dev = (s.logdet + np.log(det_a) + s.q - quad).sum(-1)
    ok = np.all(det_a > 0, axis=-1) & np.isfinite(dev)
    return np.where(ok, dev, np.inf)


def _vc_objective(log_sd: np.ndarray, ps: _PatientStats) -> np.ndarray:
    r"""-2 x log posterior of the log-SDs: REML deviance with the SAP's uniform priors on the SDs.

    A uniform prior on an SD is :math:`p(x) \propto e^x` on :math:`x = \log \mathrm{SD}`, so the
    objective is :math:`-2\ell_R(x) - 2\sum_k x_k` (upper bounds of the priors not applied).
    """
    return _reml_deviance(log_sd, ps) - 2.0 * log_sd.sum(-1)


def _start_values(ps: _PatientStats) -> np.ndarray:
    """Moment starting values of the log-SDs from per-patient least-squares lines."""
    n, st, stt, sy, sty, syy = ps.n, ps.st, ps.stt, ps.sy, ps.sty, ps.syy
    delta = n * stt - st * st
    ok = (n >= 2) & (delta > 1e-9 * np.maximum(n * stt, 1e-300))
    safe = np.where(ok, delta, 1.0)
    c0 = np.where(ok, (stt * sy - st * sty) / safe, 0.0)
    c1 = np.where(ok, (n * sty - st * sy) / safe, 0.0)
    rss = np.where(ok & (n >= 3), syy - c0 * sy - c1 * sty, 0.0)
    resid, slope_var = [], []
    icpt_dev2, icpt_cnt, icpt_noise = 0.0, 0.0, 0.0
    for g in (0.0, 1.0):
        sel = ok & (ps.arm == g)
        k = np.maximum(sel.sum(-1), 1)
        dof = np.where(sel & (n >= 3), n - 2, 0).sum(-1)
        s2 = np.where(dof > 0, np.where(sel, rss, 0).sum(-1) / np.maximum(dof, 1), 4.0)
        s2 = np.maximum(s2, 0.01)
        m0 = np.where(sel, c0, 0).sum(-1) / k
        m1 = np.where(sel, c1, 0).sum(-1) / k
        v1 = np.where(sel, (c1 - m1[:, None]) ** 2, 0).sum(-1) / np.maximum(k - 1, 1)
        noise1 = np.where(sel, n / safe, 0).sum(-1) / k
        slope_var.append(np.maximum(v1 - s2 * noise1, 0.1 * v1 + 1e-4))
        icpt_dev2 = icpt_dev2 + np.where(sel, (c0 - m0[:, None]) ** 2, 0).sum(-1)
        icpt_cnt = icpt_cnt + np.maximum(k - 1, 0)
        icpt_noise = icpt_noise + s2 * np.where(sel, stt / safe, 0).sum(-1)
        resid.append(s2)
    v0 = icpt_dev2 / np.maximum(icpt_cnt, 1)
    g2 = np.maximum(v0 - icpt_noise / np.maximum(icpt_cnt + 2, 1), 0.1 * v0 + 1e-2)
    out = np.stack([g2, slope_var[0], slope_var[1], resid[0], resid[1]], axis=-1)
    out = 0.5 * np.log(out)
    return np.where(np.isfinite(out), out, 0.0)


_LOG_SD_BOUNDS = (-9.0, 5.0)


def _deviance_derivatives(
    x: np.ndarray, f0: np.ndarray, ps: _PatientStats, h: float = 1e-4
) -> tuple[np.ndarray, np.ndarray]:
    """Finite-difference gradient (central) and Hessian of :func:`_vc_objective` at ``x`` (R, k)."""
    k = x.shape[1]
    eye = np.eye(k)
    fp = np.stack([_vc_objective(x + h * eye[i], ps) for i in range(k)], -1)
    fm = np.stack([_vc_objective(x - h * eye[i], ps) for i in range(k)], -1)
    grad = (fp - fm) / (2 * h)
    hess = np.empty((x.shape[0], k, k))
    for i in range(k):
        hess[:, i, i] = (fp[:, i] - 2 * f0 + fm[:, i]) / h**2
        for j in range(i + 1, k):
            fij = _vc_objective(x + h * (eye[i] + eye[j]), ps)
            hess[:, i, j] = hess[:, j, i] = (fij - fp[:, i] - fp[:, j] + f0) / h**2
    return grad, hess


def _fit_variance_components(
    ps: _PatientStats, max_iter: int = 60, tol: float = 1e-8
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise :func:`_vc_objective` for every trial by damped Newton -> (log_sd, converged).

    Derivatives are central finite differences; Hessian eigenvalues are made positive, steps are
    capped at 1 (log-SD units) and a backtracking line search makes every step a descent. Only
    trials still iterating are evaluated. Log-SDs are kept in ``[-9, 5]``.
    """
    x = _start_values(ps)
    n_rep, k = x.shape
    f = _vc_objective(x, ps)
    active = np.isfinite(f)
    converged = np.zeros(n_rep, dtype=bool)
    eye = np.eye(k)
    lo, hi = _LOG_SD_BOUNDS
    for _ in range(max_iter):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        sub = ps.take(rows)
        xr, f0 = x[rows], f[rows]
        grad, hess = _deviance_derivatives(xr, f0, sub)
        bad = ~np.all(np.isfinite(grad), -1) | ~np.all(np.isfinite(hess), axis=(-1, -2))
        grad = np.where(bad[:, None], 0.0, grad)
        hess = np.where(bad[:, None, None], eye, hess)
        evals, evecs = np.linalg.eigh(hess)
        evals = np.maximum(np.abs(evals), 1e-6 * np.abs(evals).max(-1, keepdims=True) + 1e-10)
        step = -np.einsum("rij,rj->ri", evecs, np.einsum("rji,rj->ri", evecs, grad) / evals)
        step *= np.minimum(1.0, 1.0 / np.maximum(np.abs(step).max(-1, keepdims=True), 1e-300))
        # at a bound, do not push further outside
        step = np.clip(xr + step, lo, hi) - xr
        decrement = -(grad * step).sum(-1)
        done = bad | (decrement < tol)
        converged[rows[done & ~bad]] = True
        active[rows[done]] = False
        go = ~done
        if not go.any():
            break
        alpha = np.ones(rows.size)
        pending = go.copy()
        new_x, new_f = xr.copy(), f0.copy()
        for _ls in range(30):
            trial = xr + alpha[:, None] * step
            ft = _vc_objective(trial, sub)
            accept = pending & np.isfinite(ft) & (ft <= f0 - 1e-4 * alpha * decrement)
            new_x = np.where(accept[:, None], trial, new_x)
            new_f = np.where(accept, ft, new_f)
            pending &= ~accept
            if not pending.any():
                break
            alpha = np.where(pending, 0.5 * alpha, alpha)
        stalled = go & (pending | (f0 - new_f <= 1e-12 * (1.0 + np.abs(f0))))
        x[rows], f[rows] = new_x, new_f
        converged[rows[stalled]] = True  # no further decrease possible: a numerical minimum
        active[rows[stalled]] = False
    return x, converged & np.isfinite(f)


# ------------------------------------------------------------------------------------------------
# Fast path: posterior of the DRR on a grid
# ------------------------------------------------------------------------------------------------


def _log_posterior_grid(
    gls: _ArmGLS,
    d_events: np.ndarray,
    exposure: np.ndarray,
    sd_beta_active: np.ndarray,
    drr: np.ndarray,
    priors: HealeyPriors,
) -> np.ndarray:
    """Unnormalised log posterior density of the DRR at ``drr`` (G,) for each trial -> (R, G).

    ``gls`` at the fixed variance components (scores centred at ``alpha_mean``); ``d_events`` and
    ``exposure`` (R, 2): events and months at risk per arm; ``sd_beta_active`` (R,): the treated
    arm's *effective* slope SD :math:`e^\\theta\\sigma_{\\beta,1}`.
    """
    c = drr[None, :]  # e^theta, (1, G)
    col = (slice(None), None)

    def arm(x: np.ndarray, k: int) -> np.ndarray:
        return x[:, k][col]

    # functional part: integrate alpha_T (prior N(0, sd^2) after centring), then mu_beta
    pa = 1.0 / priors.alpha_sd**2
    pm, mm = 1.0 / priors.mu_beta_sd**2, priors.mu_beta_mean
    lp = np.zeros((gls.q.shape[0], drr.size))
    prec_mu = pm + arm(gls.a22, 0) + c * c * arm(gls.a22, 1)
    lin_mu = pm * mm - arm(gls.c2, 0) - c * arm(gls.c2, 1)
    for k, ck in ((0, 1.0), (1, c)):
        a = arm(gls.a11, k) + pa  # precision of alpha_k
        h = arm(gls.c1, k)  # prior mean of alpha_k is 0 after centring
        cross = -ck * arm(gls.a12, k)  # alpha_k x mu_beta entry of X'V^-1 X
        lp = lp - 0.5 * np.log(a) + 0.5 * h * h / a
        prec_mu = prec_mu - cross * cross / a
        lin_mu = lin_mu - cross * h / a
    lp = lp - 0.5 * np.log(prec_mu) + 0.5 * lin_mu * lin_mu / prec_mu
    # survival part: lambda0 integrated against its gamma prior
    d_tot = d_events.sum(-1)[:, None]
    shape = priors.lambda0_shape + d_tot
    rate = priors.lambda0_rate + exposure[:, 0][:, None] + c * exposure[:, 1][:, None]
    lp = lp + arm(d_events, 1) * np.log(c) - shape * np.log(rate)
    # prior: DRR ~ U(0, drr_max) is flat on this grid; the treated slope SD enters the likelihood
    # as e^theta * sigma_beta_1, so fixing the effective SD carries the Jacobian 1/DRR and the
    # support DRR > sd_eff / sigma_beta_max of the U(0, sigma_beta_max) prior.
    lp = lp - np.log(c)
    lp = np.where(c * priors.sigma_beta_max > sd_beta_active[:, None], lp, -np.inf)
    return lp


def _grid_masses(lp: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Normalised posterior mass of each grid cell from log densities at the cell midpoints."""
    top = lp.max(-1, keepdims=True)
    w = np.exp(lp - top) * np.diff(edges)
    return w / w.sum(-1, keepdims=True)


def _grid_summaries(w: np.ndarray, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, quantiles and probabilities from cell masses ``w`` (R, G) (piecewise-linear CDF)."""
    mid = 0.5 * (edges[1:] + edges[:-1])
    cdf = np.concatenate([np.zeros((w.shape[0], 1)), np.cumsum(w, -1)], axis=-1)

    def prob_below(x: float) -> np.ndarray:
        return _interp_rows(np.full(cdf.shape[0], x), edges, cdf, inverse=False)

    def quantile(p: float) -> np.ndarray:
        return _interp_rows(np.full(cdf.shape[0], p), edges, cdf, inverse=True)

    return {
        "drr_mean": (w * mid).sum(-1),
        "drr_median": quantile(0.5),
        "drr_lower": quantile(0.025),
        "drr_upper": quantile(0.975),
        "pr_drr_lt_1": prob_below(1.0),
        "pr_drr_lt_0_9": prob_below(FUTILITY_DRR),
    }


def _cubature_points(log_sd: np.ndarray, ps: _PatientStats, max_sd: float = 0.5) -> np.ndarray:
    r"""Spherical-cubature nodes (R, 2k, k) for integrating over the log-SDs' uncertainty.

    The log-SDs are approximated as :math:`N(\hat x, 2 H^{-1})` with :math:`H` the Hessian of
    :func:`_vc_objective` at its minimum :math:`\hat x` (finite differences); the third-degree
    spherical-radial rule (Arasaratnam & Haykin, IEEE TAC 2009;54:1254) puts equal weights on
    :math:`\hat x \pm \sqrt{k}\, L e_i`, :math:`LL^\top = 2H^{-1}`. Eigenvalues of the
    covariance are capped at ``max_sd**2`` (a component estimated at its bound has a nearly flat
    deviance), and nodes are kept within the log-SD bounds.
    """
    k = log_sd.shape[1]
    f0 = _vc_objective(log_sd, ps)
    _, hess = _deviance_derivatives(log_sd, f0, ps)
    hess = np.where(np.all(np.isfinite(hess), axis=(-1, -2))[:, None, None], hess, np.eye(k))
    evals, evecs = np.linalg.eigh(0.5 * (hess + np.swapaxes(hess, -1, -2)))
    var = np.clip(2.0 / np.maximum(evals, 1e-12), 0.0, max_sd**2)
    root = evecs * np.sqrt(var)[:, None, :]  # (R, k, k): columns = scaled eigenvectors
    offsets = math.sqrt(k) * np.swapaxes(root, -1, -2)  # (R, k, k): rows = nodes
    nodes = np.concatenate([log_sd[:, None] + offsets, log_sd[:, None] - offsets], axis=1)
    return np.clip(nodes, *_LOG_SD_BOUNDS)


def _interp_rows(x: np.ndarray, edges: np.ndarray, cdf: np.ndarray, inverse: bool) -> np.ndarray:
    """Row-wise linear interpolation of the piecewise-linear CDF (or of its inverse)."""
    if not inverse:  # CDF at x: the same edge for every row
        k = np.clip(np.searchsorted(edges, x[0], side="right") - 1, 0, edges.size - 2)
        frac = (x[0] - edges[k]) / (edges[k + 1] - edges[k])
        frac = min(max(frac, 0.0), 1.0)
        return cdf[:, k] + frac * (cdf[:, k + 1] - cdf[:, k])
    rows = np.arange(cdf.shape[0])
    k = (cdf < x[:, None]).sum(-1) - 1  # last edge with cdf < p
    k = np.clip(k, 0, edges.size - 2)
    lo, hi = cdf[rows, k], cdf[rows, k + 1]
    frac = np.where(hi > lo, (x - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
    return edges[k] + np.clip(frac, 0.0, 1.0) * (edges[k + 1] - edges[k])


def _check_int(where: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(where, f"must be an integer >= {minimum}, got {value!r}")
    return int(value)


# ------------------------------------------------------------------------------------------------
# Fast path, compiled (default ``grid="adaptive"``): one trial at a time in Numba
# ------------------------------------------------------------------------------------------------
#
# The same model and estimator as the NumPy functions above (``_start_values``,
# ``_vc_objective``, ``_fit_variance_components``, ``_cubature_points``, ``_log_posterior_grid``),
# with changes that only affect speed and quadrature accuracy:
#
# * patients with the same arm and the same (n, sum t, sum t^2) share every variance term, so the
#   REML objective is summed over such groups (about 7 per arm with monotone dropout) using
#   per-group sums of Sy, Sty, Syy, Sy^2, Sy Sty, Sty^2 (exact algebra);
# * the trial loop is compiled (no temporaries); the finite differences re-evaluate only the arm
#   a perturbation touches (the arms share only sigma_gamma); a Newton step is a Cholesky solve
#   when the Hessian is clearly positive definite (the same step as the eigenvalue-modified
#   one); the Hessian of the last Newton iteration is reused for the cubature when the
#   estimate did not move;
# * the DRR posterior at each variance-component node is integrated on its own grid in
#   theta = log DRR, placed around the node's mode (see ``_nb_node_grid``), instead of 2000
#   uniform cells on (0, drr_max].

_NB = {"cache": True, "nogil": True, "error_model": "numpy"}
#: Columns of the per-trial group table.
_G_ARM, _G_K, _G_N, _G_ST, _G_STT, _G_SY, _G_STY, _G_SYY, _G_SY2, _G_SYTY, _G_STY2 = range(11)
_N_GCOL = 11
#: Layout of the parameter vector passed to the kernel.
_P_FIELDS = (
    "centre",
    "alpha_sd",
    "mu_beta_mean",
    "mu_beta_sd",
    "drr_max",
    "sigma_beta_max",
    "lambda0_shape",
    "lambda0_rate",
    "vc_uncertainty",
    "points_per_sd",
    "window_sd",
)
#: Largest number of grid points of one node (more only when a posterior is extremely narrow
#: relative to its support; the spacing then grows instead).
_NB_MAX_POINTS = 4001
#: Grid windows extend until the log density is this far below its maximum (e^-25 ~ 1e-11).
_NB_LOG_DROP = 25.0
#: Coarse points over the support that locate the plug-in posterior's mode.
_NB_COARSE = 32


@njit(**_NB)
def _nb_arm_sums(a, lg, lb, ls, gs, ng, acc):  # pragma: no cover - compiled
    """GLS sums of arm ``a`` (see ``_arm_gls``) into ``acc[a]`` at log-variances lg, lb, ls."""
    g = math.exp(lg)
    b = math.exp(lb)
    s = math.exp(ls)
    for m in range(7):
        acc[a, m] = 0.0
    for i in range(ng):
        if gs[i, _G_ARM] != a:
            continue
        k, n, st, stt = gs[i, _G_K], gs[i, _G_N], gs[i, _G_ST], gs[i, _G_STT]
        sy, sty = gs[i, _G_SY], gs[i, _G_STY]
        k11 = s + g * n
        k12 = g * st
        k21 = b * st
        k22 = s + b * stt
        det = k11 * k22 - k12 * k21
        inv = 1.0 / det
        delta = n * stt - st * st
        acc[a, 0] += k * inv * (n * s + b * delta)
        acc[a, 1] += k * inv * (s * st)
        acc[a, 2] += k * inv * (s * stt + g * delta)
        acc[a, 3] += inv * (k22 * sy - k21 * sty)
        acc[a, 4] += inv * (k11 * sty - k12 * sy)
        uwu = inv * (
            g * k22 * gs[i, _G_SY2] - 2.0 * g * b * st * gs[i, _G_SYTY] + b * k11 * gs[i, _G_STY2]
        )
        acc[a, 5] += (gs[i, _G_SYY] - uwu) / s
        acc[a, 6] += k * ((n - 2.0) * ls + math.log(det))


@njit(**_NB)
def _nb_arm_deviance(a, x0, xb, xs, gs, ng, acc):  # pragma: no cover - compiled
    """Arm ``a``'s part of the REML deviance at log-SDs (sigma_gamma, sigma_beta_a, sigma_a).

    :math:`\\sum\\log|V_i| + \\log|A| + q - c^\\top A^{-1} c` over the arm's patients (inf if
    A is not positive definite); the two arms share only :math:`\\sigma_\\gamma`.
    """
    _nb_arm_sums(a, 2.0 * x0, 2.0 * xb, 2.0 * xs, gs, ng, acc)
    det_a = acc[a, 0] * acc[a, 2] - acc[a, 1] * acc[a, 1]
    if not det_a > 0.0:
        return np.inf
    c1, c2 = acc[a, 3], acc[a, 4]
    quad = (acc[a, 2] * c1 * c1 - 2.0 * acc[a, 1] * c1 * c2 + acc[a, 0] * c2 * c2) / det_a
    dev = acc[a, 6] + math.log(det_a) + acc[a, 5] - quad
    return dev if math.isfinite(dev) else np.inf


@njit(**_NB)
def _nb_objective(x, gs, ng, acc):  # pragma: no cover - compiled
    """:func:`_vc_objective` of one trial from its group table ``gs[:ng]``; ``acc`` (2, 7) scratch
    (left holding both arms' GLS sums)."""
    dev = _nb_arm_deviance(0, x[0], x[1], x[3], gs, ng, acc)
    dev += _nb_arm_deviance(1, x[0], x[2], x[4], gs, ng, acc)
    dev -= 2.0 * (x[0] + x[1] + x[2] + x[3] + x[4])
    return dev if math.isfinite(dev) else np.inf


@njit(**_NB)
def _nb_derivatives(x, gs, ng, acc, grad, hess, fa):  # pragma: no cover - compiled
    """Central finite-difference gradient and Hessian of :func:`_nb_objective` (step 1e-4).

    The same differences as :func:`_deviance_derivatives`, using that the objective is
    F_0(x0, x1, x3) + F_1(x0, x2, x4) - 2 sum(x): each perturbation re-evaluates only the arm(s)
    it touches, and the cross derivatives between the two arms' own components are exactly 0
    (18 one-arm evaluations instead of 20 two-arm ones). ``fa`` (2, 9) scratch. Returns False if
    a value is not finite.
    """
    h = 1e-4
    own = ((1, 3), (2, 4))  # each arm's own components: sigma_beta_a, sigma_a
    base0 = _nb_arm_deviance(0, x[0], x[1], x[3], gs, ng, acc)
    base1 = _nb_arm_deviance(1, x[0], x[2], x[4], gs, ng, acc)
    f0 = base0 + base1
    # shared component x0: both arms; fa[a, 0/1] = arm a at x0 + h / x0 - h
    for a in range(2):
        xb, xs = x[own[a][0]], x[own[a][1]]
        fa[a, 0] = _nb_arm_deviance(a, x[0] + h, xb, xs, gs, ng, acc)
        fa[a, 1] = _nb_arm_deviance(a, x[0] - h, xb, xs, gs, ng, acc)
    fp = fa[0, 0] + fa[1, 0]
    fm = fa[0, 1] + fa[1, 1]
    grad[0] = (fp - fm) / (2.0 * h) - 2.0
    hess[0, 0] = (fp - 2.0 * f0 + fm) / (h * h)
    for a in range(2):
        base = base0 if a == 0 else base1
        ib, is_ = own[a][0], own[a][1]
        # fa[a, 2..5]: own components +h, -h
        fa[a, 2] = _nb_arm_deviance(a, x[0], x[ib] + h, x[is_], gs, ng, acc)
        fa[a, 3] = _nb_arm_deviance(a, x[0], x[ib] - h, x[is_], gs, ng, acc)
        fa[a, 4] = _nb_arm_deviance(a, x[0], x[ib], x[is_] + h, gs, ng, acc)
        fa[a, 5] = _nb_arm_deviance(a, x[0], x[ib], x[is_] - h, gs, ng, acc)
        # mixed: (x0, b), (x0, s), (b, s)
        f0b = _nb_arm_deviance(a, x[0] + h, x[ib] + h, x[is_], gs, ng, acc)
        f0s = _nb_arm_deviance(a, x[0] + h, x[ib], x[is_] + h, gs, ng, acc)
        fbs = _nb_arm_deviance(a, x[0], x[ib] + h, x[is_] + h, gs, ng, acc)
        for ii, col in ((ib, 2), (is_, 4)):
            grad[ii] = (fa[a, col] - fa[a, col + 1]) / (2.0 * h) - 2.0
            hess[ii, ii] = (fa[a, col] - 2.0 * base + fa[a, col + 1]) / (h * h)
        hess[0, ib] = hess[ib, 0] = (f0b - fa[a, 0] - fa[a, 2] + base) / (h * h)
        hess[0, is_] = hess[is_, 0] = (f0s - fa[a, 0] - fa[a, 4] + base) / (h * h)
        hess[ib, is_] = hess[is_, ib] = (fbs - fa[a, 2] - fa[a, 4] + base) / (h * h)
    for i in own[0]:
        for j in own[1]:
            hess[i, j] = hess[j, i] = 0.0
    ok = True
    for i in range(5):
        ok = ok and math.isfinite(grad[i])
        for j in range(5):
            ok = ok and math.isfinite(hess[i, j])
    return ok


@njit(**_NB)
def _nb_cholesky_solve(hess, grad, step, work):  # pragma: no cover - compiled
    """step = -H^-1 grad by Cholesky if H is clearly positive definite; False otherwise.

    Near the optimum the Hessian is positive definite and the eigenvalue-modified Newton step of
    :func:`_fit_variance_components` is the plain Newton step; this avoids an eigendecomposition.
    """
    k = grad.size
    dmax = 0.0
    for i in range(k):
        dmax = max(dmax, abs(hess[i, i]))
    for j in range(k):
        d = hess[j, j]
        for m in range(j):
            d -= work[j, m] * work[j, m]
        if not d > 1e-8 * dmax:
            return False
        work[j, j] = math.sqrt(d)
        for i in range(j + 1, k):
            v = hess[i, j]
            for m in range(j):
                v -= work[i, m] * work[j, m]
            work[i, j] = v / work[j, j]
    for i in range(k):  # L z = -grad
        v = -grad[i]
        for m in range(i):
            v -= work[i, m] * step[m]
        step[i] = v / work[i, i]
    for i in range(k - 1, -1, -1):  # L' step = z
        v = step[i]
        for m in range(i + 1, k):
            v -= work[m, i] * step[m]
        step[i] = v / work[i, i]
    return True


@njit(**_NB)
def _nb_lp(theta, cf):  # pragma: no cover - compiled
    """Log posterior density of theta = log DRR (flat prior in theta, see ``_nb_node_grid``)."""
    c = math.exp(theta)
    p = cf[0] + cf[1] * c * c
    lin = cf[2] + cf[3] * c
    return (
        -0.5 * math.log(p)
        + 0.5 * lin * lin / p
        + cf[4] * theta
        - cf[5] * math.log(cf[6] + cf[7] * c)
    )


@njit(**_NB)
def _nb_lp_d(theta, cf):  # pragma: no cover - compiled
    """:func:`_nb_lp` and its first and second derivatives in theta."""
    c = math.exp(theta)
    p = cf[0] + cf[1] * c * c
    dp = 2.0 * cf[1] * c * c  # P' (and P'' = 2 P')
    lin = cf[2] + cf[3] * c
    dl = cf[3] * c  # L' = L''
    r = cf[6] + cf[7] * c
    u = lin / p
    du = (dl - u * dp) / p
    lp = -0.5 * math.log(p) + 0.5 * lin * u + cf[4] * theta - cf[5] * math.log(r)
    d1 = -0.5 * dp / p + u * dl - 0.5 * u * u * dp + cf[4] - cf[5] * cf[7] * c / r
    q = dp / p
    d2 = -0.5 * (2.0 * q - q * q) + du * (dl - u * dp) + u * dl - u * u * dp
    d2 -= cf[5] * cf[7] * c * cf[6] / (r * r)
    return lp, d1, d2


@njit(**_NB)
def _nb_coefficients(x, gs, ng, prm, d_ev, expo, acc, cf):  # pragma: no cover - compiled
    """Coefficients of :func:`_nb_lp` at log-SDs ``x`` (the algebra of ``_log_posterior_grid``).

    With per-arm GLS sums (a11, a12, a22, c1, c2) at fixed variance components, integrating
    alpha_0, alpha_1 and then mu_beta gives, as a function of c = e^theta,
    -1/2 log(p0 + p2 c^2) + 1/2 (l0 + l1 c)^2 / (p0 + p2 c^2) + const; the gamma prior on
    lambda0 gives D_1 theta - S log(r0 + r1 c).
    """
    _nb_objective(x, gs, ng, acc)  # fills acc with the GLS sums
    pa = 1.0 / (prm[1] * prm[1])
    pm = 1.0 / (prm[3] * prm[3])
    mm = prm[2]
    a0 = acc[0, 0] + pa
    a1 = acc[1, 0] + pa
    h0 = acc[0, 3]
    h1 = acc[1, 3]
    cf[0] = pm + acc[0, 2] - acc[0, 1] * acc[0, 1] / a0
    cf[1] = acc[1, 2] - acc[1, 1] * acc[1, 1] / a1
    cf[2] = pm * mm - acc[0, 4] + acc[0, 1] * h0 / a0
    cf[3] = -acc[1, 4] + acc[1, 1] * h1 / a1
    cf[4] = d_ev[1]
    cf[5] = prm[6] + d_ev[0] + d_ev[1]
    cf[6] = prm[7] + expo[0]
    cf[7] = expo[1]


@njit(**_NB)
def _nb_mode(cf, lo, hi, start, max_step):  # pragma: no cover - compiled
    """Safeguarded Newton for the maximum of :func:`_nb_lp` on [lo, hi] -> (theta, lp, lp'')."""
    th = min(max(start, lo), hi)
    lp, d1, d2 = _nb_lp_d(th, cf)
    for _ in range(100):
        step = -d1 / d2 if d2 < 0.0 else (max_step if d1 > 0.0 else -max_step)
        if abs(step) > max_step:
            step = max_step if step > 0.0 else -max_step
        step = min(max(th + step, lo), hi) - th
        moved = False
        for _bt in range(60):
            if abs(step) < 1e-13:
                break
            lp_n, d1_n, d2_n = _nb_lp_d(th + step, cf)
            if lp_n >= lp:
                th += step
                lp, d1, d2 = lp_n, d1_n, d2_n
                moved = True
                break
            step *= 0.5
        if not moved or abs(step) < 1e-11:
            break
    return th, lp, d2


@njit(**_NB)
def _nb_node_grid(cf, lo, hi, th, lp_max, scale, prm, fv, fd, cum):  # pragma: no cover
    """Normalised density, derivative and CDF of one node on a uniform grid in theta.

    Window [a, b]: the mode +- ``window_sd`` Laplace SDs, widened in steps of 2 SD until the
    log density at each end is ``_NB_LOG_DROP`` below the maximum, clipped to the support
    [lo, hi]. Spacing: ``scale / points_per_sd``. The CDF accumulates the cubic-Hermite
    (corrected trapezoid) rule h/2 (f_k + f_k+1) + h^2/12 (f'_k - f'_k+1), exact for cubics.
    Returns (a, h, n_points, E[DRR]).
    """
    a = max(lo, th - prm[10] * scale)
    b = min(hi, th + prm[10] * scale)
    for _ in range(200):
        if a <= lo or _nb_lp(a, cf) < lp_max - _NB_LOG_DROP:
            break
        a = max(lo, a - 2.0 * scale)
    for _ in range(200):
        if b >= hi or _nb_lp(b, cf) < lp_max - _NB_LOG_DROP:
            break
        b = min(hi, b + 2.0 * scale)
    n = math.ceil((b - a) / (scale / prm[9])) + 1
    n = min(max(n, 17), _NB_MAX_POINTS)
    h = (b - a) / (n - 1)
    for k in range(n):
        theta = a + k * h
        c = math.exp(theta)
        p = cf[0] + cf[1] * c * c
        dp = 2.0 * cf[1] * c * c
        lin = cf[2] + cf[3] * c
        dl = cf[3] * c
        r = cf[6] + cf[7] * c
        u = lin / p
        lp = -0.5 * math.log(p) + 0.5 * lin * u + cf[4] * theta - cf[5] * math.log(r)
        d1 = -0.5 * dp / p + u * dl - 0.5 * u * u * dp + cf[4] - cf[5] * cf[7] * c / r
        f = math.exp(lp - lp_max)
        fv[k] = f
        fd[k] = f * d1
    cum[0] = 0.0
    mean = 0.0
    c0 = math.exp(a)
    eh = math.exp(h)
    hh = h * h / 12.0
    for k in range(n - 1):
        cum[k + 1] = cum[k] + 0.5 * h * (fv[k] + fv[k + 1]) + hh * (fd[k] - fd[k + 1])
        # E[DRR]: the same rule for g = e^theta f, g' = e^theta (f + f')
        c1 = c0 * eh
        g0, g1 = c0 * fv[k], c1 * fv[k + 1]
        mean += 0.5 * h * (g0 + g1) + hh * (g0 + c0 * fd[k] - g1 - c1 * fd[k + 1])
        c0 = c1
    z = cum[n - 1]
    for k in range(n):
        fv[k] /= z
        fd[k] /= z
        cum[k] /= z
    return a, h, n, mean / z


@njit(**_NB)
def _nb_mix_cdf(theta, na, ah, npts, fv, cum):  # pragma: no cover - compiled
    """Mixture CDF and density at theta: the nodes' cubic-Hermite CDFs averaged."""
    tot = 0.0
    dens = 0.0
    for j in range(na):
        a, h, n = ah[j, 0], ah[j, 1], npts[j]
        if theta <= a:
            continue
        u = (theta - a) / h
        if u >= n - 1:
            tot += 1.0
            continue
        k = min(int(u), n - 2)
        u -= k
        u2 = u * u
        u3 = u2 * u
        f0, f1 = h * fv[j, k], h * fv[j, k + 1]
        tot += (
            cum[j, k] * (2 * u3 - 3 * u2 + 1)
            + f0 * (u3 - 2 * u2 + u)
            + cum[j, k + 1] * (3 * u2 - 2 * u3)
            + f1 * (u3 - u2)
        )
        dens += (
            cum[j, k] * (6 * u2 - 6 * u)
            + f0 * (3 * u2 - 4 * u + 1)
            + cum[j, k + 1] * (6 * u - 6 * u2)
            + f1 * (3 * u2 - 2 * u)
        ) / h
    return tot / na, dens / na


@njit(**_NB)
def _nb_quantile(p, na, ah, npts, fv, cum, lo, hi, start):  # pragma: no cover - compiled
    """Solve mixture CDF = p by Newton safeguarded with bisection on [lo, hi]."""
    th = min(max(start, lo), hi)
    for _ in range(200):
        f, d = _nb_mix_cdf(th, na, ah, npts, fv, cum)
        if f < p:
            lo = th
        else:
            hi = th
        if abs(f - p) < 1e-13 or hi - lo < 1e-12:
            break
        new = th - (f - p) / d if d > 0.0 else 0.5 * (lo + hi)
        if not (lo < new < hi):
            new = 0.5 * (lo + hi)
        th = new
    return th


@njit(**_NB)
def _nb_patient_sums(
    y, tt, arm, t_obs, event, r, centre, gs, d_ev, expo, sv, counts
):  # pragma: no cover
    """One trial's data -> (number of groups, status); fills the scratch arrays.

    ``gs`` rows: patients pooled by (arm, n, sum t, sum t^2) with sums of Sy, Sty, Syy, Sy^2,
    Sy Sty, Sty^2 (scores centred at ``centre``); ``d_ev``, ``expo``: deaths/PAV and months at
    risk per arm; ``sv`` (2, 9): per-arm sums for the moment start values; ``counts``: patients
    with a score per arm and active patients with >= 2 scores. Status 1: an infinite score,
    2: a score outside 0-48. Patients with arm < 0 are skipped.
    """
    n_pat, n_vis = y.shape[1], y.shape[2]
    rt = r if tt.shape[0] > 1 else 0
    ra = r if arm.shape[0] > 1 else 0
    ro = r if t_obs.shape[0] > 1 else 0
    re = r if event.shape[0] > 1 else 0
    ng = 0
    bad = 0
    d_ev[:] = 0.0
    expo[:] = 0.0
    sv[:, :] = 0.0
    counts[:] = 0
    for p in range(n_pat):
        a = arm[ra, p]
        if a < 0:
            continue
        pt = p if tt.shape[1] > 1 else 0
        to = t_obs[ro, p]
        ev = event[re, p]
        d_ev[a] += 1.0 if ev else 0.0
        expo[a] += to
        n = 0.0
        st = 0.0
        stt = 0.0
        sy = 0.0
        sty = 0.0
        syy = 0.0
        for v in range(n_vis):
            yv = y[r, p, v]
            if yv != yv:
                continue
            if math.isinf(yv):
                bad = 1
            elif (yv < 0.0 or yv > 48.0) and bad == 0:
                bad = 2
            tv = tt[rt, pt, v]
            if tv != tv or (ev and tv > to):
                continue
            yc = yv - centre
            n += 1.0
            st += tv
            stt += tv * tv
            sy += yc
            sty += tv * yc
            syy += yc * yc
        if n == 0.0:
            continue
        counts[a] += 1
        if a == 1 and n >= 2.0:
            counts[2] += 1
        # moment start values (per-patient least-squares lines), as _start_values
        delta = n * stt - st * st
        if n >= 2.0 and delta > 1e-9 * max(n * stt, 1e-300):
            c0 = (stt * sy - st * sty) / delta
            c1 = (n * sty - st * sy) / delta
            sv[a, 0] += 1.0
            sv[a, 1] += c0
            sv[a, 2] += c0 * c0
            sv[a, 3] += c1
            sv[a, 4] += c1 * c1
            sv[a, 5] += n / delta
            sv[a, 6] += stt / delta
            if n >= 3.0:
                sv[a, 7] += syy - c0 * sy - c1 * sty
                sv[a, 8] += n - 2.0
        # group by (arm, n, St, Stt)
        gi = -1
        for i in range(ng):
            if (
                gs[i, _G_N] == n
                and gs[i, _G_ST] == st
                and gs[i, _G_STT] == stt
                and gs[i, _G_ARM] == a
            ):
                gi = i
                break
        if gi < 0:
            gi = ng
            ng += 1
            gs[gi, _G_ARM] = a
            gs[gi, _G_N] = n
            gs[gi, _G_ST] = st
            gs[gi, _G_STT] = stt
            for m in range(_G_K, _N_GCOL):
                if m != _G_N and m != _G_ST and m != _G_STT:
                    gs[gi, m] = 0.0
        gs[gi, _G_K] += 1.0
        gs[gi, _G_SY] += sy
        gs[gi, _G_STY] += sty
        gs[gi, _G_SYY] += syy
        gs[gi, _G_SY2] += sy * sy
        gs[gi, _G_SYTY] += sy * sty
        gs[gi, _G_STY2] += sty * sty
    return ng, bad


@njit(**_NB)
def _nb_trials(
    y, tt, arm, t_obs, event, prm, lo_rep, hi_rep, out, vc, conv, status
):  # pragma: no cover
    """Fast-path analysis of trials ``lo_rep:hi_rep`` (see :func:`healey_fast`).

    ``out`` (R, 6): mean, median, 2.5%, 97.5% DRR, Pr(DRR < 1), Pr(DRR < 0.9); ``vc`` (R, 5)
    plug-in SDs; ``conv`` the optimiser's flag; ``status`` 0 = analysed, 1 = an infinite score,
    2 = a score outside 0-48, 3 = < 2 placebo patients with a score, 4 = < 2 active ones,
    5 = no active patient with >= 2 scores.
    """
    centre = prm[0]
    gs = np.zeros((y.shape[1], _N_GCOL))
    acc = np.zeros((2, 7))
    x = np.zeros(5)
    xn = np.zeros(5)
    grad = np.zeros(5)
    hess = np.zeros((5, 5))
    work = np.zeros((5, 5))
    fa = np.zeros((2, 9))
    step = np.zeros(5)
    nodes = np.zeros((10, 5))
    cf = np.zeros(8)
    d_ev = np.zeros(2)
    expo = np.zeros(2)
    sv = np.zeros((2, 9))  # per-arm sums for the start values
    fv = np.zeros((10, _NB_MAX_POINTS))
    fd = np.zeros((10, _NB_MAX_POINTS))
    cum = np.zeros((10, _NB_MAX_POINTS))
    ah = np.zeros((10, 2))
    npts = np.zeros(10, np.int64)
    n_used = np.zeros(3, np.int64)
    lo_b, hi_b = _LOG_SD_BOUNDS
    for r in range(lo_rep, hi_rep):
        # -- per-patient sums, groups, survival sums, start-value sums ----------------------
        ng, bad = _nb_patient_sums(y, tt, arm, t_obs, event, r, centre, gs, d_ev, expo, sv, n_used)
        if bad:
            status[r] = bad
            continue
        if n_used[0] < 2:
            status[r] = 3
            continue
        if n_used[1] < 2:
            status[r] = 4
            continue
        if n_used[2] < 1:
            status[r] = 5
            continue
        status[r] = 0
        # -- start values --------------------------------------------------------------------
        dev2 = 0.0
        cnt = 0.0
        inoise = 0.0
        for a in range(2):
            kk = max(sv[a, 0], 1.0)
            s2 = sv[a, 7] / sv[a, 8] if sv[a, 8] > 0 else 4.0
            s2 = max(s2, 0.01)
            m0 = sv[a, 1] / kk
            m1 = sv[a, 3] / kk
            v1 = (sv[a, 4] - 2.0 * m1 * sv[a, 3] + sv[a, 0] * m1 * m1) / max(kk - 1.0, 1.0)
            v1 = max(v1, 0.0)
            slope_var = max(v1 - s2 * sv[a, 5] / kk, 0.1 * v1 + 1e-4)
            dev2 += max(sv[a, 2] - 2.0 * m0 * sv[a, 1] + sv[a, 0] * m0 * m0, 0.0)
            cnt += max(kk - 1.0, 0.0)
            inoise += s2 * sv[a, 6]
            x[1 + a] = 0.5 * math.log(slope_var)
            x[3 + a] = 0.5 * math.log(s2)
        v0 = dev2 / max(cnt, 1.0)
        x[0] = 0.5 * math.log(max(v0 - inoise / max(cnt + 2.0, 1.0), 0.1 * v0 + 1e-2))
        for i in range(5):
            if not math.isfinite(x[i]):
                x[i] = 0.0
        # -- variance components: damped Newton, as _fit_variance_components ----------------
        f = _nb_objective(x, gs, ng, acc)
        converged = False
        have_hess = False
        if math.isfinite(f):
            for _it in range(60):
                if not _nb_derivatives(x, gs, ng, acc, grad, hess, fa):
                    break
                have_hess = True
                if not _nb_cholesky_solve(hess, grad, step, work):
                    # eigenvalues made positive (|lambda|, floored), as _fit_variance_components
                    w, vec = np.linalg.eigh(hess)
                    wmax = 0.0
                    for i in range(5):
                        wmax = max(wmax, abs(w[i]))
                    for i in range(5):
                        step[i] = 0.0
                    for j in range(5):
                        proj = 0.0
                        for i in range(5):
                            proj += vec[i, j] * grad[i]
                        proj /= max(abs(w[j]), 1e-6 * wmax + 1e-10)
                        for i in range(5):
                            step[i] -= vec[i, j] * proj
                big = 0.0
                for i in range(5):
                    big = max(big, abs(step[i]))
                scl = min(1.0, 1.0 / max(big, 1e-300))
                dec = 0.0
                for i in range(5):
                    step[i] = min(max(x[i] + step[i] * scl, lo_b), hi_b) - x[i]
                    dec -= grad[i] * step[i]
                if dec < 1e-8:
                    converged = True
                    break
                alpha = 1.0
                accepted = False
                f_new = f
                for _ls in range(30):
                    for i in range(5):
                        xn[i] = x[i] + alpha * step[i]
                    ft = _nb_objective(xn, gs, ng, acc)
                    if math.isfinite(ft) and ft <= f - 1e-4 * alpha * dec:
                        accepted = True
                        f_new = ft
                        break
                    alpha *= 0.5
                stalled = (not accepted) or (f - f_new <= 1e-12 * (1.0 + abs(f)))
                if accepted:
                    for i in range(5):
                        x[i] = xn[i]
                    f = f_new
                    have_hess = False
                if stalled:
                    converged = True
                    break
        conv[r] = converged and math.isfinite(f)
        for i in range(5):
            vc[r, i] = math.exp(x[i])
        # -- cubature nodes, as _cubature_points ---------------------------------------------
        n_nodes = 1
        for i in range(5):
            nodes[0, i] = x[i]
        if prm[8] > 0.0:
            if not have_hess:
                if not _nb_derivatives(x, gs, ng, acc, grad, hess, fa):
                    for i in range(5):
                        for j in range(5):
                            hess[i, j] = 1.0 if i == j else 0.0
            w, vec = np.linalg.eigh(hess)
            for j in range(5):
                var = min(max(2.0 / max(w[j], 1e-12), 0.0), 0.25)
                sc = math.sqrt(5.0 * var)
                for i in range(5):
                    nodes[j, i] = min(max(x[i] + sc * vec[i, j], lo_b), hi_b)
                    nodes[5 + j, i] = min(max(x[i] - sc * vec[i, j], lo_b), hi_b)
            n_nodes = 10
        # -- DRR posterior per node --------------------------------------------------------
        # support: sigma_beta_1 = sd_eff / DRR < sigma_beta_max and DRR <= drr_max; a node
        # whose support is empty has no posterior mass and is left out of the average
        hi_t = math.log(prm[4])
        log_sb_max = math.log(prm[5])
        th0 = 0.0
        if x[2] - log_sb_max < hi_t:
            # the plug-in mode (from a coarse scan of the support) starts every node's search
            _nb_coefficients(x, gs, ng, prm, d_ev, expo, acc, cf)
            lo_t = x[2] - log_sb_max
            width = (hi_t - lo_t) / _NB_COARSE
            best = -np.inf
            for i in range(_NB_COARSE):
                v = _nb_lp(lo_t + (i + 0.5) * width, cf)
                if v > best:
                    best = v
                    th0 = lo_t + (i + 0.5) * width
            th0 = _nb_mode(cf, lo_t, hi_t, th0, width)[0]
        mean = 0.0
        span_lo = np.inf
        span_hi = -np.inf
        centre_t = 0.0
        used = 0
        for j in range(n_nodes):
            xj = nodes[j]
            lo_t = xj[2] - log_sb_max
            if not lo_t < hi_t:
                continue
            _nb_coefficients(xj, gs, ng, prm, d_ev, expo, acc, cf)
            th, lp_max, d2 = _nb_mode(cf, lo_t, hi_t, th0, 0.25)
            scale = 1.0 / math.sqrt(-d2) if d2 < 0.0 else (hi_t - lo_t) / 8.0
            scale = min(scale, hi_t - lo_t)
            a, h, n, m = _nb_node_grid(
                cf, lo_t, hi_t, th, lp_max, scale, prm, fv[used], fd[used], cum[used]
            )
            ah[used, 0] = a
            ah[used, 1] = h
            npts[used] = n
            mean += m
            centre_t += th
            span_lo = min(span_lo, a)
            span_hi = max(span_hi, a + (n - 1) * h)
            used += 1
        if used == 0:
            for col in range(6):
                out[r, col] = np.nan
            continue
        out[r, 0] = mean / used
        centre_t /= used
        for q, col in ((0.5, 1), (0.025, 2), (0.975, 3)):
            tq = _nb_quantile(q, used, ah, npts, fv, cum, span_lo, span_hi, centre_t)
            out[r, col] = math.exp(tq)
        out[r, 4] = _nb_mix_cdf(0.0, used, ah, npts, fv, cum)[0]
        out[r, 5] = _nb_mix_cdf(math.log(0.9), used, ah, npts, fv, cum)[0]


#: Summary columns of the compiled kernel's output.
_OUT_FIELDS = ("drr_mean", "drr_median", "drr_lower", "drr_upper", "pr_drr_lt_1", "pr_drr_lt_0_9")
#: Window half-width of the adaptive grid, in Laplace SDs of log DRR (then widened, see
#: ``_nb_node_grid``).
_WINDOW_SD = 7.5


def _healey_fast_adaptive(
    alsfrs: Any,
    visit_months: Any,
    arm: Any,
    t_obs_months: Any,
    event: Any,
    *,
    priors: HealeyPriors,
    vc_uncertainty: bool,
    points_per_sd: float,
    n_threads: int,
) -> HealeyResult:
    """:func:`healey_fast` with ``grid="adaptive"``: the compiled kernel, trials split over threads."""
    start = time.perf_counter()
    c = _check_inputs(alsfrs, visit_months, arm, t_obs_months, event)
    n_rep = c.y.shape[0]
    values = {
        "centre": priors.alpha_mean,
        "vc_uncertainty": 1.0 if vc_uncertainty else 0.0,
        "points_per_sd": points_per_sd,
        "window_sd": _WINDOW_SD,
    }
    prm = np.array([values[k] if k in values else getattr(priors, k) for k in _P_FIELDS], float)
    out = np.full((n_rep, 6), np.nan)
    vc = np.full((n_rep, 5), np.nan)
    conv = np.zeros(n_rep, dtype=np.bool_)
    status = np.zeros(n_rep, dtype=np.int8)
    # writable C-contiguous arrays of fixed dtypes: one compiled signature for every input
    args = (
        np.require(c.y, np.float64, ("C", "W")),
        np.require(c.t, np.float64, ("C", "W")),
        np.require(c.arm, np.int8, ("C", "W")),
        np.require(c.t_obs, np.float64, ("C", "W")),
        np.require(c.event, np.uint8, ("C", "W")),
        prm,
    )
    bounds = np.linspace(0, n_rep, min(n_threads, n_rep) + 1).astype(int)
    if bounds.size <= 2:
        _nb_trials(*args, 0, n_rep, out, vc, conv, status)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(bounds.size - 1) as pool:
            jobs = [
                pool.submit(_nb_trials, *args, int(lo), int(hi), out, vc, conv, status)
                for lo, hi in itertools.pairwise(bounds)
            ]
            for job in jobs:
                job.result()
    if np.any(status == 1):
        raise InputError("alsfrs", "must be finite or NaN (missing), found inf")
    if np.any(status == 2):
        raise InputError("alsfrs", "ALSFRS-R scores must lie in 0-48")
    for code, name in ((3, "placebo"), (4, "active")):
        if np.any(status == code):
            raise InputError(
                "arm", f"every trial needs >= 2 {name} patients with an ALSFRS-R score"
            )
    if np.any(status == 5):
        raise InputError("alsfrs", "every trial needs an active patient with >= 2 scores")
    elapsed = time.perf_counter() - start
    return HealeyResult(
        **{name: out[:, k].copy() for k, name in enumerate(_OUT_FIELDS)},
        method="fast-grid",
        variance_components=vc,
        converged=conv,
        seconds=np.full(n_rep, elapsed / n_rep),
    )


def healey_fast(
    alsfrs: Any,
    visit_months: Any,
    arm: Any,
    t_obs_months: Any,
    event: Any,
    *,
    priors: HealeyPriors | None = None,
    n_grid: int = 2000,
    vc_uncertainty: bool = True,
    chunk_size: int = 512,
    grid: str = "adaptive",
    points_per_sd: float = 4.0,
    n_threads: int = 1,
) -> HealeyResult:
    r"""Approximate HEALEY posterior of the DRR for many trials at once (empirical-Bayes grid).

    Parameters
    ----------
    alsfrs:
        ALSFRS-R totals, shape ``(n_rep, n_patients, n_visits)`` (or ``(n_patients, n_visits)``
        for one trial), values in 0-48; NaN = missing. Scores at visits after an observed
        death/PAV (``visit > t_obs`` with ``event``) are ignored.
    visit_months:
        Visit times in months since randomisation: ``(n_visits,)`` or broadcastable to
        ``alsfrs`` (per-patient times; NaN = missing).
    arm:
        0 (placebo) / 1 (active), shape ``(n_patients,)`` or ``(n_rep, n_patients)``; -1 (or NaN
        in a float array) = the slot is not in this analysis (padding, a patient not yet
        randomised at an interim, another regimen's active patient): its scores, ``t_obs`` and
        ``event`` are ignored (and may be NaN). Equivalently, a slot with all scores NaN,
        ``t_obs = 0`` and no event contributes nothing, whatever its arm.
    t_obs_months, event:
        Survival follow-up (months to death/PAV, dropout or end of follow-up, whichever first;
        finite, no NaN) and whether death/PAV was observed; shape as ``arm``. Zero events are
        allowed (the survival part is then the gamma prior integrated against the exposure).
    priors:
        :class:`HealeyPriors` (default: the M-SAP priors).
    n_grid:
        ``grid="uniform"`` only: number of equal cells on :math:`(0, \text{drr\_max}]` (a
        multiple of 20 puts 0.9 and 1 on cell edges for the default ``drr_max = 2``).
    vc_uncertainty:
        Average over the variance components' approximate posterior (10 cubature nodes, see
        Notes) instead of plugging in their estimates (False: ~2x faster with the default grid,
        slightly too narrow posteriors; e.g. for interim futility looks).
    chunk_size:
        ``grid="uniform"`` only: trials per block in the grid step (bounds memory at about
        ``chunk_size * n_grid * 8`` bytes per temporary).
    grid:
        ``"adaptive"`` (default): the compiled kernel, each node's posterior on its own grid in
        log DRR around its mode (step 3 in the Notes), about 50 microseconds per 240-patient
        analysis. ``"uniform"``: the previous NumPy implementation, ``n_grid`` uniform cells in
        DRR (about 30x slower; kept as the reference). Both fit the same variance components.
    points_per_sd:
        ``grid="adaptive"`` only: grid points per posterior SD of log DRR (default 4: results
        within ~1e-5 of a 40,000-cell uniform grid; the error falls as the 4th power).
    n_threads:
        ``grid="adaptive"`` only: split the trials over this many threads (the kernel releases
        the GIL; results are identical for any value).

    Returns
    -------
    HealeyResult
        ``method = "fast-grid"``; ``variance_components`` the plug-in SDs, ``converged`` the
        step-1 optimiser's flag.

    Notes
    -----
    *Step 1: variance components.* Per trial, the five SDs
    :math:`(\sigma_\gamma, \tilde\sigma_{\beta,0}, \tilde\sigma_{\beta,1}, \sigma_0, \sigma_1)`
    are estimated from the restricted (REML) likelihood of the random intercept-and-slope model
    with free per-arm mean intercept and slope, where
    :math:`\tilde\sigma_{\beta,1} = e^\theta\sigma_{\beta,1}` is the treated arm's *effective*
    slope SD (the only identifiable combination), times the SAP's uniform priors on the SDs:
    the estimate is the mode of :math:`L_R(x)\prod_k e^{x_k}` in :math:`x = \log\mathrm{SD}`
    (plain REML drops the :math:`e^{x_k}`; keeping them removed the fast path's small bias
    towards larger Pr(DRR < 1)). Per-patient terms are 2x2 (Woodbury; see ``_arm_gls``), and
    patients with the same arm and the same :math:`(n_i, \sum_j t_{ij}, \sum_j t_{ij}^2)` share
    them, so the objective is a sum over such groups (about 7 per arm with monotone dropout) of
    terms in the group sums of :math:`S_y, S_{ty}, S_{yy}, S_y^2, S_yS_{ty}, S_{ty}^2` (exact
    algebra). It is minimised by damped Newton from moment starting values (central
    finite-difference gradient and Hessian, eigenvalues made positive, steps capped at 1 and a
    backtracking line search; log-SDs kept in [-9, 5]).

    *Step 2: exact integration given the variance components.* With :math:`V` fixed the
    ALSFRS-R mean :math:`\alpha_{T_i} - \mu_\beta e^{\theta T_i} t_{ij}` is linear in
    :math:`\phi = (\alpha_0, \alpha_1, \mu_\beta)`, whose priors are normal, so

    .. math::

        \log p(y \mid \theta) = -\tfrac12\log|\Lambda_0 + X_\theta^\top V^{-1} X_\theta|
        + \tfrac12 h_\theta^\top (\Lambda_0 + X_\theta^\top V^{-1} X_\theta)^{-1} h_\theta
        + \text{const},\quad h_\theta = X_\theta^\top V^{-1} y + \Lambda_0 \phi_0,

    built from per-arm sums :math:`\sum Z^\top V^{-1} Z`, :math:`\sum Z^\top V^{-1} y`. With
    :math:`D_T` deaths and :math:`E_T` months at risk per arm, the gamma prior on
    :math:`\lambda_0` integrates in closed form:

    .. math::

        \log p(\text{surv} \mid \theta) = \theta D_1 - (a_0 + D_0 + D_1)
        \log(b_0 + E_0 + e^\theta E_1) + \text{const}.

    *Step 3: grid.* The DRR prior is uniform; fixing :math:`\tilde\sigma_{\beta,1}` rather than
    :math:`\sigma_{\beta,1}` contributes the Jacobian :math:`1/\mathrm{DRR}` (and the support
    :math:`\mathrm{DRR} > \tilde\sigma_{\beta,1}/2`) that the exact posterior carries after
    integrating :math:`\sigma_{\beta,1} \sim U(0, 2)`. In :math:`\theta = \log\mathrm{DRR}` the
    Jacobian cancels :math:`d\mathrm{DRR} = \mathrm{DRR}\,d\theta`, and steps 2 and 3 reduce to
    (with :math:`c = e^\theta` and per-trial, per-node coefficients from the GLS sums)

    .. math::

        \log p(\theta \mid y, x) = -\tfrac12\log(p_0 + p_2c^2)
        + \frac{(l_0 + l_1c)^2}{2(p_0 + p_2c^2)} + D_1\theta - S\log(r_0 + r_1c) + \text{const},
        \quad \log\frac{\tilde\sigma_{\beta,1}}{2} < \theta \le \log 2,

    :math:`S = a_0 + D_0 + D_1`, :math:`r_0 = b_0 + E_0`, :math:`r_1 = E_1`.
    ``grid="adaptive"`` (default): per node, the mode :math:`\hat\theta` (coarse scan, then
    safeguarded Newton with analytic derivatives) and :math:`s = (-\partial^2_\theta\log p)^{-1/2}`
    place a uniform grid of spacing :math:`s/4` (``points_per_sd``) on
    :math:`\hat\theta \pm 7.5s`, widened until the log density at each end is 25 below the mode
    and clipped to the support. The CDF accumulates the cubic-Hermite (corrected trapezoid) rule
    :math:`\int_{\theta_k}^{\theta_{k+1}} f \approx \frac h2(f_k + f_{k+1}) +
    \frac{h^2}{12}(f'_k - f'_{k+1})` with the analytic :math:`f'`, and is interpolated by cubic
    Hermite polynomials; error :math:`O(h^4)`, ~1e-5 at 4 points per SD. Probabilities are the
    CDF at :math:`\log 0.9` and 0, quantiles solve CDF = p (Newton with bisection), the mean
    integrates :math:`e^\theta f` by the same rule. ``grid="uniform"`` (the previous
    implementation): density at the midpoints of ``n_grid`` equal cells in DRR, piecewise-linear
    CDF.

    *Step 4 (``vc_uncertainty=True``, default): variance-component uncertainty.* Instead of the
    plug-in alone, the normalised grid posteriors at the 10 nodes
    :math:`\hat x \pm \sqrt{5}\,L e_i` of the third-degree spherical cubature rule for
    :math:`x = \log\mathrm{SD} \sim N(\hat x, LL^\top)`, :math:`LL^\top = 2H^{-1}` (H: Hessian of
    the step-1 objective, covariance eigenvalues capped at 0.5^2) are averaged,
    :math:`p(\theta\mid y) \approx \frac{1}{10}\sum_j p(\theta \mid x_j, y)`. This widens the
    posterior as the exact one is widened by integrating the SDs (cf. a t rather than a normal
    reference) and costs about 10 grid evaluations. With ``grid="adaptive"`` a node whose
    support is empty (:math:`\tilde\sigma_{\beta,1} \ge 2\,\mathrm{drr\_max}`, possible only in
    tiny trials) has no posterior mass and is left out of the average (the uniform grid returns
    NaN there).

    What remains approximate: the Laplace approximation of the SDs' posterior (restricted
    likelihood, i.e. flat priors on the fixed effects) and the third-degree rule, the uniform
    SD priors' upper bounds (not applied except the DRR support above), and the quadrature
    (adaptive: ~1e-5; uniform, ``n_grid=2000``: ~1e-5 to 1e-4).
    ``benchmarks/healey_exact_vs_fast.py`` measures the effect against :func:`healey_mcmc`.
    """
    priors = HealeyPriors() if priors is None else priors
    if not isinstance(priors, HealeyPriors):
        raise InputError("priors", "must be a HealeyPriors")
    n_grid = _check_int("n_grid", n_grid, 20)
    chunk_size = _check_int("chunk_size", chunk_size, 1)
    n_threads = _check_int("n_threads", n_threads, 1)
    if not isinstance(vc_uncertainty, bool | np.bool_):
        raise InputError("vc_uncertainty", "must be True or False")
    if grid not in ("adaptive", "uniform"):
        raise InputError("grid", f"must be 'adaptive' or 'uniform', got {grid!r}")
    if (
        isinstance(points_per_sd, bool)
        or not isinstance(points_per_sd, int | float)
        or not 1.0 <= points_per_sd <= 100.0
    ):
        raise InputError("points_per_sd", f"must be a number in [1, 100], got {points_per_sd!r}")
    if grid == "adaptive":
        return _healey_fast_adaptive(
            alsfrs,
            visit_months,
            arm,
            t_obs_months,
            event,
            priors=priors,
            vc_uncertainty=bool(vc_uncertainty),
            points_per_sd=float(points_per_sd),
            n_threads=n_threads,
        )
    start = time.perf_counter()
    d = _prepare(alsfrs, visit_months, arm, t_obs_months, event)
    ps = _patient_stats(d, centre=priors.alpha_mean)
    log_sd, converged = _fit_variance_components(ps)
    sd = np.exp(log_sd)
    arm_f = d.arm.astype(float)
    ev = d.event.astype(float)
    d_events = np.stack([(ev * (1 - arm_f)).sum(-1), (ev * arm_f).sum(-1)], -1)
    exposure = np.stack([(d.t_obs * (1 - arm_f)).sum(-1), (d.t_obs * arm_f).sum(-1)], -1)
    edges = np.linspace(0.0, priors.drr_max, n_grid + 1)
    mid = 0.5 * (edges[1:] + edges[:-1])
    nodes = _cubature_points(log_sd, ps) if vc_uncertainty else log_sd[:, None]
    parts: list[dict[str, np.ndarray]] = []
    n_rep = d.y.shape[0]
    for lo in range(0, n_rep, chunk_size):
        rows = slice(lo, min(lo + chunk_size, n_rep))
        sub = ps.take(rows)
        w = 0.0
        for j in range(nodes.shape[1]):
            sd_j = np.exp(nodes[rows, j])
            lp = _log_posterior_grid(
                _arm_gls(sub, sd_j), d_events[rows], exposure[rows], sd_j[:, 2], mid, priors
            )
            w = w + _grid_masses(lp, edges)
        parts.append(_grid_summaries(w / nodes.shape[1], edges))
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    elapsed = time.perf_counter() - start
    return HealeyResult(
        **out,
        method="fast-grid",
        variance_components=sd,
        converged=converged,
        seconds=np.full(n_rep, elapsed / n_rep),
    )


# ------------------------------------------------------------------------------------------------
# Exact path: NUTS in NumPyro (optional dependency, imported lazily)
# ------------------------------------------------------------------------------------------------


def _import_numpyro():
    try:
        import jax
        import numpyro
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("healey_mcmc needs NumPyro and JAX: pip install 'alsim[bayes]'") from exc
    del numpyro
    return jax


def _x64(jax: Any):
    """A context manager enabling 64-bit JAX inside it only (new and old JAX spellings)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # pragma: no cover - JAX < 0.7

    return enable_x64()  # pragma: no cover


def _group_stats(ps: _PatientStats) -> dict[str, np.ndarray]:
    """Per-patient sums pooled over patients sharing (n, St, Stt, arm); arrays (R, G).

    Patients with the same observed visit times and arm share :math:`Z_i^\top Z_i` and hence
    every variance term, so the Gaussian log-likelihood needs only, per group, the count and
    the sums of :math:`S_y, S_{ty}, S_{yy}, S_y^2, S_y S_{ty}, S_{ty}^2`. Groups are found over
    all trials at once (one shape for every trial; absent groups have count 0). When grouping
    does not reduce the size (e.g. per-patient visit times), every patient is its own group.
    """
    n_rep, n_pat = ps.n.shape
    used = ps.n > 0
    keys = np.stack([ps.n, ps.st, ps.stt, ps.arm], axis=-1)[used]
    uniq, first, inverse = np.unique(
        np.round(keys, 12), axis=0, return_index=True, return_inverse=True
    )
    per_patient = {
        "sy": ps.sy,
        "sty": ps.sty,
        "syy": ps.syy,
        "sy2": ps.sy * ps.sy,
        "systy": ps.sy * ps.sty,
        "sty2": ps.sty * ps.sty,
    }
    if len(uniq) >= n_pat:  # no gain: one group per patient (count 0 for unused ones)
        out = {k: np.where(used, v, 0.0) for k, v in per_patient.items()}
        out.update(g_count=used.astype(float), g_n=ps.n, g_st=ps.st, g_stt=ps.stt)
        out["g_arm"] = ps.arm
        return out
    n_groups = len(uniq)
    rep = np.broadcast_to(np.arange(n_rep)[:, None], (n_rep, n_pat))[used]
    idx = rep * n_groups + inverse.ravel()

    def total(values: np.ndarray | None) -> np.ndarray:
        w = None if values is None else values[used]
        return np.bincount(idx, weights=w, minlength=n_rep * n_groups).reshape(n_rep, n_groups)

    out = {k: total(v) for k, v in per_patient.items()}
    out["g_count"] = total(None).astype(float)
    for j, name in enumerate(("g_n", "g_st", "g_stt", "g_arm")):
        out[name] = np.broadcast_to(keys[first, j], (n_rep, n_groups)).copy()
    return out


def _make_model(priors: HealeyPriors, marginalize: bool):
    """The HEALEY shared-parameter model as a NumPyro model function (data as arguments).

    ``data`` is a dict of arrays with a leading trial dimension ``K``: ``arm, t_obs, event``
    (K, P) and either the group sums of :func:`_group_stats` (K, G) (``marginalize=True``) or
    ``y, t, mask`` (K, P, V). The K trials are independent blocks of one joint model (every
    parameter has shape (K,) or (K, 2)), so the joint posterior is the product of the per-trial
    posteriors and each trial's marginal draws are exact draws from its own posterior.
    """
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    p = priors
    log_2pi = math.log(2.0 * math.pi)

    def model(data):
        arm = data["arm"]
        n_trials, n_pat = arm.shape

        def per_trial(d, *, pair=False):
            return d.expand([n_trials, 2] if pair else [n_trials]).to_event(2 if pair else 1)

        # non-centred alpha so that NumPyro's default initialisation (uniform(-2, 2) on the
        # unconstrained scale) starts near the data
        alpha_z = numpyro.sample("alpha_z", per_trial(dist.Normal(0.0, 1.0), pair=True))
        alpha = numpyro.deterministic("alpha", p.alpha_mean + p.alpha_sd * alpha_z)
        mu_beta = numpyro.sample("mu_beta", per_trial(dist.Normal(p.mu_beta_mean, p.mu_beta_sd)))
        drr = numpyro.sample("drr", per_trial(dist.Uniform(0.0, p.drr_max)))
        sigma_gamma = numpyro.sample("sigma_gamma", per_trial(dist.Uniform(0.0, p.sigma_gamma_max)))
        sigma_beta = numpyro.sample(
            "sigma_beta", per_trial(dist.Uniform(0.0, p.sigma_beta_max), pair=True)
        )
        sigma_eps = numpyro.sample(
            "sigma_eps", per_trial(dist.Uniform(0.0, p.sigma_eps_max), pair=True)
        )
        lambda0 = numpyro.sample("lambda0", per_trial(dist.Gamma(p.lambda0_shape, p.lambda0_rate)))
        active = arm > 0

        def by_arm(x):  # (K, 2) -> (K, P)
            return jnp.where(active, x[:, 1:2], x[:, 0:1])

        c = jnp.where(active, drr[:, None], 1.0)  # e^(theta T_i), (K, P)
        if marginalize:
            # y_i ~ N(alpha_T - mu_beta c_i t_i, s I + Z D Z') with Z = [1, -c_i t_i],
            # D = diag(sigma_gamma^2, sigma_beta_T^2): Woodbury and determinant lemma in 2x2
            # form, from sums of the scores centred at alpha_mean (exact algebra; 64-bit keeps
            # the expansion of sum(r^2) accurate).
            # Patients sharing (visits, arm) share Z'Z, so the data enter through group sums
            # (see _group_stats): k patients, and sums of Sy, Sty, Syy, Sy^2, Sy Sty, Sty^2.
            ga = data["g_arm"] > 0
            k = data["g_count"]
            n, st0, stt0 = data["g_n"], data["g_st"], data["g_stt"]
            cg = jnp.where(ga, drr[:, None], 1.0)
            a_c = jnp.where(ga, alpha[:, 1:2], alpha[:, 0:1]) - p.alpha_mean  # centred
            m = mu_beta[:, None] * cg  # mean decline of the group's arm
            s = jnp.where(ga, sigma_eps[:, 1:2], sigma_eps[:, 0:1]) ** 2
            b = jnp.where(ga, sigma_beta[:, 1:2], sigma_beta[:, 0:1]) ** 2
            g = (sigma_gamma**2)[:, None]
            # residual r = y - a + m t: per patient sr = Sy - e, str0 = Sty - f
            e = a_c * n - m * st0
            f = a_c * st0 - m * stt0
            sy, sty = data["sy"], data["sty"]
            srr = data["syy"] + k * (a_c * a_c * n + m * m * stt0 - 2.0 * a_c * m * st0)
            srr = srr - 2.0 * a_c * sy + 2.0 * m * sty
            sr2 = data["sy2"] - 2.0 * e * sy + k * e * e
            str2 = (data["sty2"] - 2.0 * f * sty + k * f * f) * cg * cg
            srstr = (data["systy"] - e * sty - f * sy + k * e * f) * cg
            st, stt = cg * st0, cg * cg * stt0  # sums of the scaled time c t
            # Z = [1, -c t]: Z'Z = [[n, -st], [-st, stt]], u = Z'r = (sr, -str), K = s I + D Z'Z
            k11, k22 = s + g * n, s + b * stt
            det = k11 * k22 - g * b * st * st
            uwu = (g * k22 * sr2 - 2.0 * g * b * st * srstr + b * k11 * str2) / det
            quad = (srr - uwu) / s
            logdet = k * ((n - 2.0) * jnp.log(s) + jnp.log(det))
            numpyro.factor("alsfrs", -0.5 * jnp.sum(quad + logdet + k * n * log_2pi))
        else:
            y, t, mask = data["y"], data["t"], data["mask"]
            z_gamma = numpyro.sample(
                "z_gamma", dist.Normal(0.0, 1.0).expand([n_trials, n_pat]).to_event(2)
            )
            z_beta = numpyro.sample(
                "z_beta", dist.Normal(0.0, 1.0).expand([n_trials, n_pat]).to_event(2)
            )
            s_eps, s_beta = by_arm(sigma_eps), by_arm(sigma_beta)
            gamma = sigma_gamma[:, None] * z_gamma
            beta = mu_beta[:, None] + s_beta * z_beta
            mean = (by_arm(alpha) + gamma)[..., None] - (beta * c)[..., None] * t
            ll = dist.Normal(mean, s_eps[..., None]).log_prob(y)
            numpyro.factor("alsfrs", jnp.sum(jnp.where(mask, ll, 0.0)))
        hazard = lambda0[:, None] * c
        event = data["event"]
        numpyro.factor("survival", jnp.sum(event * jnp.log(hazard) - hazard * data["t_obs"]))

    return model


_SUMMARY_FIELDS = (
    *("drr_mean", "drr_median", "drr_lower", "drr_upper"),
    *("pr_drr_lt_1", "pr_drr_lt_0_9", "ess_min", "seconds"),
)
#: Global parameters whose r-hat / ESS are reported.
_GLOBAL_SITES = ("drr", "mu_beta", "alpha", "sigma_gamma", "sigma_beta", "sigma_eps", "lambda0")


def _summarise_draws(samples: dict[str, np.ndarray]) -> dict[str, Any]:
    """Posterior summaries and diagnostics of one trial from draws shaped (chains, draws[, 2])."""
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin

    n_chains = samples["drr"].shape[0]
    rhat, ess = [], []
    for site in _GLOBAL_SITES:
        x = samples[site]
        x = x.reshape(x.shape[0], x.shape[1], -1)
        for m in range(x.shape[-1]):
            if n_chains > 1:
                rhat.append(float(split_gelman_rubin(x[..., m])))
            ess.append(float(effective_sample_size(x[..., m])))
    drr = samples["drr"].reshape(-1)
    sb = samples["sigma_beta"].reshape(-1, 2)
    se = samples["sigma_eps"].reshape(-1, 2)
    sg = samples["sigma_gamma"].reshape(-1)
    q = np.quantile(drr, [0.5, 0.025, 0.975])
    return {
        "drr_mean": float(drr.mean()),
        "drr_median": q[0],
        "drr_lower": q[1],
        "drr_upper": q[2],
        "pr_drr_lt_1": float(np.mean(drr < 1.0)),
        "pr_drr_lt_0_9": float(np.mean(drr < FUTILITY_DRR)),
        "rhat_max": max(rhat) if rhat else float("nan"),
        "ess_min": min(ess),
        "variance_components": [sg.mean(), sb[:, 0].mean(), (sb[:, 1] * drr).mean(), *se.mean(0)],
        "draws": drr,
    }


def healey_mcmc(
    alsfrs: Any,
    visit_months: Any,
    arm: Any,
    t_obs_months: Any,
    event: Any,
    *,
    priors: HealeyPriors | None = None,
    num_warmup: int = 1000,
    num_samples: int = 2000,
    num_chains: int = 4,
    seed: int = 0,
    marginalize: bool = True,
    batch_size: int = 1,
    min_ess: float = 1000.0,
    target_accept: float = 0.9,
    keep_draws: bool = False,
) -> HealeyResult:
    r"""Exact HEALEY posterior of the DRR by NUTS (NumPyro).

    Needs the optional extra ``alsim[bayes]`` (NumPyro + JAX, imported on first call). Inputs
    as :func:`healey_fast`. Runs in 64-bit (``jax.enable_x64`` inside the call only).

    Parameters
    ----------
    priors:
        :class:`HealeyPriors` (default: the M-SAP priors).
    num_warmup, num_samples, num_chains:
        NUTS adaptation and kept iterations per chain; chains are vectorised on one device.
        The default 4 x 2000 draws give a Monte Carlo SD of :math:`\Pr(\mathrm{DRR} < 1)` of
        about :math:`\sqrt{p(1-p)/\mathrm{ESS}}`: <= 0.01 at p = 0.5 and about 0.003 near
        0.979. (The M-SAP ran 500,000 draws thinned by 10.)
    seed:
        Seed of the JAX random key (batch ``k`` uses ``fold_in(key, k)``).
    marginalize:
        True (default): integrate the random effects :math:`\gamma_i, \beta_i` out
        analytically, :math:`Y_i \sim N(\alpha_T - \mu_\beta e^{\theta T} t_i,\;
        \sigma_T^2 I + Z_i D Z_i^\top)` with :math:`Z_i = [1, -e^{\theta T} t_i]`,
        :math:`D = \mathrm{diag}(\sigma_\gamma^2, \sigma_{\beta,T}^2)` -- the same posterior
        with 9 sampled dimensions per trial, which mixes faster. False: sample
        :math:`\gamma_i, \beta_i` (non-centred), as the SAP writes the model.
    batch_size:
        Trials sampled together as independent blocks of one joint model (one compiled sampler,
        one step size and diagonal mass matrix per chain for the whole batch). Each trial's draws
        are still exact posterior draws; batching trades some per-trial efficiency for far less
        per-step overhead (useful for simulation studies; 1 = one trial at a time). The last
        batch is padded with copies of its last trial, so every batch has one shape and the
        sampler is compiled once.
    min_ess:
        With ``batch_size > 1``, a trial whose smallest ESS falls below ``min_ess`` or whose
        r-hat reaches 1.01 in its batch is sampled again on its own (a shared step size and
        trajectory length can starve one trial of a batch).
    target_accept:
        NUTS target acceptance probability during adaptation.
    keep_draws:
        Return the DRR draws (``n_rep x num_chains*num_samples``).

    Returns
    -------
    HealeyResult
        ``method = "nuts"`` or ``"nuts-latent"``; per trial the largest split r-hat and smallest
        bulk ESS over the global parameters (:math:`\alpha_T, \mu_\beta`, DRR, the SDs,
        :math:`\lambda_0`), the divergent transitions of its batch, and ``seconds`` = the
        batch's wall time divided by its trials (the first batch includes JIT compilation).
    """
    priors = HealeyPriors() if priors is None else priors
    if not isinstance(priors, HealeyPriors):
        raise InputError("priors", "must be a HealeyPriors")
    num_warmup = _check_int("num_warmup", num_warmup, 1)
    num_samples = _check_int("num_samples", num_samples, 1)
    num_chains = _check_int("num_chains", num_chains, 1)
    seed = _check_int("seed", seed, 0)
    batch_size = _check_int("batch_size", batch_size, 1)
    if isinstance(min_ess, bool) or not isinstance(min_ess, int | float) or min_ess < 0:
        raise InputError("min_ess", f"must be a number >= 0, got {min_ess!r}")
    if not isinstance(marginalize, bool | np.bool_):
        raise InputError("marginalize", "must be True or False")
    if isinstance(target_accept, bool) or not isinstance(target_accept, int | float):
        raise InputError("target_accept", f"must be a number, got {target_accept!r}")
    if not 0.5 <= float(target_accept) < 1.0:
        raise InputError("target_accept", f"must be in [0.5, 1), got {target_accept!r}")
    d = _prepare(alsfrs, visit_months, arm, t_obs_months, event)
    jax = _import_numpyro()
    from numpyro.infer import MCMC, NUTS

    groups = _group_stats(_patient_stats(d, centre=priors.alpha_mean)) if marginalize else {}
    n_rep = d.y.shape[0]
    batch_size = min(batch_size, n_rep)

    def data_for(rows: np.ndarray) -> dict[str, np.ndarray]:
        data = {
            "arm": d.arm[rows].astype(np.int32),
            "t_obs": d.t_obs[rows],
            "event": d.event[rows].astype(float),
        }
        if marginalize:
            data.update({name: v[rows] for name, v in groups.items()})
        else:
            data.update(y=d.y[rows], t=d.t[rows], mask=d.mask[rows])
        return data

    results: list[dict[str, Any]] = [{} for _ in range(n_rep)]
    with _x64(jax):

        def sampler() -> Any:
            kernel = NUTS(_make_model(priors, marginalize), target_accept_prob=float(target_accept))
            return MCMC(
                kernel,
                num_warmup=num_warmup,
                num_samples=num_samples,
                num_chains=num_chains,
                chain_method="vectorized",
                progress_bar=False,
                jit_model_args=True,
            )

        def run(mcmc: Any, trials: np.ndarray, size: int, key: Any) -> None:
            tic = time.perf_counter()
            rows = np.concatenate([trials, np.repeat(trials[-1:], size - trials.size)])
            mcmc.run(key, data_for(rows), extra_fields=("diverging",))
            samples = {
                site: np.asarray(v) for site, v in mcmc.get_samples(group_by_chain=True).items()
            }
            n_div = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
            seconds = (time.perf_counter() - tic) / trials.size
            for j, trial in enumerate(trials):
                out = _summarise_draws({site: x[:, :, j] for site, x in samples.items()})
                out.update(n_divergent=n_div, seconds=seconds)
                results[trial] = out

        key = jax.random.PRNGKey(seed)
        mcmc = sampler()
        for k, lo in enumerate(range(0, n_rep, batch_size)):
            trials = np.arange(lo, min(lo + batch_size, n_rep))
            run(mcmc, trials, batch_size, jax.random.fold_in(key, k))
        if batch_size > 1:  # a trial that mixed poorly in its batch is sampled again alone
            poor = [
                i
                for i, r in enumerate(results)
                if not (r["rhat_max"] < 1.01 or np.isnan(r["rhat_max"])) or r["ess_min"] < min_ess
            ]
            if poor:
                single = sampler()
                retry_key = jax.random.fold_in(key, 2**30)
                for i in poor:
                    run(single, np.array([i]), 1, jax.random.fold_in(retry_key, i))
    cols = {k: [r[k] for r in results] for k in results[0]}
    rhat_max = np.asarray(cols["rhat_max"])
    n_div_arr = np.asarray(cols["n_divergent"], dtype=int)
    converged = ((rhat_max < 1.01) | np.isnan(rhat_max)) & (n_div_arr == 0)
    return HealeyResult(
        **{k: np.asarray(cols[k]) for k in _SUMMARY_FIELDS},
        rhat_max=rhat_max,
        n_divergent=n_div_arr,
        method="nuts" if marginalize else "nuts-latent",
        variance_components=np.asarray(cols["variance_components"]),
        converged=converged,
        draws=np.stack(cols["draws"]) if keep_draws else None,
    )
