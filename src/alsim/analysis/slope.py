r"""ALSFRS-R slope analyses of two-arm trials, vectorised over simulated trials.

Two tests of a treatment effect on the rate of change of a longitudinal score (points/month),
each applied to ``n_rep`` trials at once; missing visits are NaN and every trial may have its own
visit pattern.

:func:`lmm_slope_test` — random-slope linear mixed model fitted by REML
    (Laird & Ware, Biometrics 1982;38:963; Harville, JASA 1977;72:320). For patient ``i`` with
    observed visits at times :math:`t_{ij}` and arm :math:`g_i \in \{0, 1\}`:

    .. math::

        y_{ij} = \beta_0 + \beta_1 t_{ij} + \delta\, g_i t_{ij}
                 + u_{0i} + u_{1i} t_{ij} + e_{ij},\qquad
        u_i \sim N(0, G),\; e_{ij} \sim N(0, \sigma^2)

    (optionally with an arm main effect :math:`\beta_2 g_i`, ``arm_intercept=True``). The
    treatment effect is :math:`\delta` (points/month, positive = slower decline on the treated
    arm), with the model-based SE :math:`\sqrt{[\hat\sigma^2 A^{-1}]_{\delta\delta}}`, a Wald
    :math:`z` and a two-sided normal p-value.

:func:`ols_slope_test` — two-stage "summary measure" test: each patient's least-squares slope
    (patients with >= 2 distinct visit times), compared between arms with Welch's (default) or
    the pooled two-sample t-test.

How the REML fit is vectorised
------------------------------
Write :math:`Z_i = [1, t_i]` and :math:`G = \sigma^2\Psi`. The fixed-effects design is
:math:`X_i = Z_i C_i` with :math:`C_i = \begin{pmatrix}1&0&0\\0&1&g_i\end{pmatrix}`, so with
:math:`M_i = Z_i^\top Z_i`, :math:`s_i = Z_i^\top y_i` and :math:`P_i = I + \Psi M_i` the
push-through and Sylvester identities give every term of the restricted likelihood from 2x2
per-patient sufficient statistics:

.. math::

    Z^\top H Z = M P^{-1},\quad Z^\top H y = P^{-\top} s,\quad
    y^\top H y = y^\top y - s^\top \Psi P^{-\top} s,\quad
    \log\lvert I + Z\Psi Z^\top\rvert = \log\lvert P\rvert,

where :math:`H = (I + Z\Psi Z^\top)^{-1}`. With :math:`A = \sum_i C_i^\top M_i P_i^{-1} C_i`,
:math:`b = \sum_i C_i^\top P_i^{-\top} s_i`, :math:`\hat\beta = A^{-1} b`,
:math:`r^\top H r = \sum_i y_i^\top H_i y_i - b^\top\hat\beta`, :math:`N` observations and
:math:`p` fixed effects, the profiled restricted deviance is

.. math::

    -2\ell_R(\Psi) = (N - p)\log\hat\sigma^2 + \sum_i \log\lvert P_i\rvert + \log\lvert A\rvert
    + \text{const},\qquad \hat\sigma^2 = r^\top H r / (N - p).

Patients sharing :math:`(M_i, g_i)` (the same observed-visit pattern and arm — a handful of
patterns under monotone dropout on a common schedule) share :math:`P_i`, so the statistics are
first summed within patterns (:math:`\sum s_i`, :math:`\sum s_i s_i^\top`, :math:`\sum y^\top y`);
an evaluation then costs O(patterns) per trial instead of O(patients). :math:`\Psi = LL^\top` is
parametrised by its Cholesky factor (3 unconstrained numbers, so :math:`G` stays positive
semi-definite) and minimised for all trials at once by damped Newton iterations with central
finite-difference gradients, a finite-difference Hessian (eigenvalues made positive) and a
backtracking line search, started from moment estimates (per-patient OLS coefficients).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr, stdtr

from alsim.errors import InputError

__all__ = ["SlopeTestResult", "lmm_slope_test", "ols_slope_test"]


@dataclass(frozen=True)
class SlopeTestResult:
    """Per-trial result of a slope test (arrays of shape ``(n_rep,)``).

    Attributes
    ----------
    estimate:
        Treatment effect on the slope, treated minus control (points/month; > 0 = slower decline).
    se, statistic, p_value:
        Its standard error, the test statistic (z or t) and the two-sided p-value.
    df:
        Degrees of freedom of the t reference distribution (``inf`` for a z-test).
    slope_control:
        Estimated control-arm slope (points/month).
    n_patients:
        Patients contributing (LMM: >= 1 observation; OLS: >= 2 distinct visit times).
    method:
        ``"lmm-reml"``, ``"ols-welch"`` or ``"ols-pooled"``.
    residual_sd, re_cov, converged, n_iter:
        LMM only (else None): :math:`\\hat\\sigma`, the random-effects covariance :math:`\\hat G`
        (n_rep, 2, 2) for (intercept, slope), whether the optimiser converged, iterations used.
    """

    estimate: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    df: np.ndarray
    slope_control: np.ndarray
    n_patients: np.ndarray
    method: str
    residual_sd: np.ndarray | None = None
    re_cov: np.ndarray | None = None
    converged: np.ndarray | None = None
    n_iter: np.ndarray | None = None


# ------------------------------------------------------------------------------------------------
# Input handling and per-patient sufficient statistics
# ------------------------------------------------------------------------------------------------


def _inputs(y: Any, t: Any, arm: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    y = np.asarray(y, dtype=float)
    if y.ndim == 2:
        y = y[None]
    if y.ndim != 3:
        raise InputError("alsfrs", f"must have shape (n_rep, n_patients, n_visits), got {y.shape}")
    n_rep, n_pat, n_vis = y.shape
    t = np.asarray(t, dtype=float)
    shared = t.ndim == 1
    if shared and t.shape != (n_vis,):
        raise InputError("visit_months", f"must have {n_vis} times (one per visit), got {t.size}")
    if not shared:
        try:
            t = np.broadcast_to(t, y.shape)
        except ValueError:
            raise InputError(
                "visit_months", f"must be 1-D or broadcastable to {y.shape}, got {t.shape}"
            ) from None
    a = np.asarray(arm)
    if a.shape not in ((n_pat,), (n_rep, n_pat)):
        raise InputError("arm", f"must have shape ({n_pat},) or ({n_rep}, {n_pat}), got {a.shape}")
    if a.dtype.kind == "b":
        a = a.astype(np.int8)
    if a.dtype.kind not in "iuf" or not np.all(np.isin(a, (0, 1))):
        raise InputError("arm", "must contain only 0 (control) and 1 (treated)")
    return y, t, np.broadcast_to(a.astype(float), (n_rep, n_pat)), shared


@dataclass
class _PatientStats:
    n: np.ndarray  # (R, P) observations
    St: np.ndarray
    Stt: np.ndarray
    Sy: np.ndarray
    Sty: np.ndarray
    Syy: np.ndarray
    mask: np.ndarray  # (R, P, V) observed


def _patient_stats(y: np.ndarray, t: np.ndarray, center: bool = False) -> _PatientStats:
    mask = np.isfinite(y) & np.isfinite(t)
    yz = np.where(mask, y, 0.0)
    if center:  # subtract each trial's mean score: only the intercept changes, cancellation less
        k = np.maximum(mask.sum(axis=(1, 2)), 1)
        yz = np.where(mask, yz - (yz.sum(axis=(1, 2)) / k)[:, None, None], 0.0)
    tz = np.where(mask, t, 0.0)
    return _PatientStats(
        n=mask.sum(-1).astype(float),
        St=tz.sum(-1),
        Stt=(tz * tz).sum(-1),
        Sy=yz.sum(-1),
        Sty=(tz * yz).sum(-1),
        Syy=(yz * yz).sum(-1),
        mask=mask,
    )


def _ols_coefficients(ps: _PatientStats) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-patient OLS intercept and slope, the valid mask (>= 2 distinct times) and det(M)."""
    det = ps.n * ps.Stt - ps.St * ps.St
    ok = (ps.n >= 2) & (det > 1e-10 * np.maximum(ps.n * ps.Stt, 1e-300))
    safe = np.where(ok, det, 1.0)
    c0 = np.where(ok, (ps.Stt * ps.Sy - ps.St * ps.Sty) / safe, np.nan)
    c1 = np.where(ok, (ps.n * ps.Sty - ps.St * ps.Sy) / safe, np.nan)
    return c0, c1, ok, det


@dataclass
class _Groups:
    """Sufficient statistics summed within (visit pattern, arm) groups; arrays broadcast to (R, K)."""

    count: np.ndarray  # (R, K) patients
    n: np.ndarray  # (1|R, K) per-patient design statistics (shared within a group)
    St: np.ndarray
    Stt: np.ndarray
    g: np.ndarray  # (1|R, K) arm
    s1: np.ndarray  # (R, K) sums of Z'y
    s2: np.ndarray
    S11: np.ndarray  # (R, K) sums of (Z'y)(Z'y)'
    S12: np.ndarray
    S22: np.ndarray
    Syy: np.ndarray  # (R, K) sums of y'y
    n_obs: np.ndarray  # (R,)

    def take(self, rows: np.ndarray) -> _Groups:
        """The statistics of trials ``rows`` only."""
        n_rep = self.count.shape[0]
        if rows.size == n_rep:
            return self
        out = {}
        for name, value in self.__dict__.items():
            out[name] = value[rows] if value.shape[0] == n_rep and n_rep > 1 else value
        return _Groups(**out)


def _group(ps: _PatientStats, arm: np.ndarray, shared: bool) -> _Groups:
    n_rep, n_pat = ps.n.shape
    used = ps.n > 0
    per_patient = dict(
        s1=ps.Sy, s2=ps.Sty, S11=ps.Sy * ps.Sy, S12=ps.Sy * ps.Sty, S22=ps.Sty * ps.Sty, Syy=ps.Syy
    )
    n_obs = ps.n.sum(-1)
    if shared and ps.mask.shape[-1] <= 62:
        # a pattern is the set of observed visits: encode it (and the arm) as one integer
        bits = (ps.mask.astype(np.int64) << np.arange(ps.mask.shape[-1], dtype=np.int64)).sum(-1)
        code = bits * 2 + arm.astype(np.int64)
        keys, first, inverse = np.unique(code[used], return_index=True, return_inverse=True)
    else:
        rows = np.stack([ps.n, ps.St, ps.Stt, arm], axis=-1)[used]
        keys, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    n_groups = len(keys)
    if n_groups >= n_pat:  # grouping does not help: one "group" per patient
        w = used.astype(float)
        return _Groups(
            count=w,
            n=ps.n,
            St=ps.St,
            Stt=ps.Stt,
            g=arm,
            n_obs=n_obs,
            **{k: np.where(used, v, 0.0) for k, v in per_patient.items()},
        )
    rep = np.broadcast_to(np.arange(n_rep)[:, None], (n_rep, n_pat))[used]
    idx = rep * n_groups + inverse.ravel()
    size = n_rep * n_groups

    def total(values: np.ndarray | None) -> np.ndarray:
        weights = None if values is None else values[used]
        return np.bincount(idx, weights=weights, minlength=size).reshape(n_rep, n_groups)

    def design(values: np.ndarray) -> np.ndarray:
        return values[used][first][None, :]

    return _Groups(
        count=total(None).astype(float),
        n=design(ps.n),
        St=design(ps.St),
        Stt=design(ps.Stt),
        g=design(arm),
        n_obs=n_obs,
        **{k: total(v) for k, v in per_patient.items()},
    )


# ------------------------------------------------------------------------------------------------
# Profiled REML deviance
# ------------------------------------------------------------------------------------------------


def _reml(theta: np.ndarray, d: _Groups, arm_intercept: bool, full: bool = False):
    """Profiled restricted deviance -2 l_R (up to a constant) for each trial at ``theta``.

    ``theta`` (R, 3) holds the Cholesky factor of Psi = G / sigma^2: L = [[l1, 0], [l2, l3]].
    """
    l1, l2, l3 = theta[:, 0:1], theta[:, 1:2], theta[:, 2:3]
    psi11, psi12, psi22 = l1 * l1, l1 * l2, l2 * l2 + l3 * l3
    n, St, Stt = d.n, d.St, d.Stt
    p11 = 1.0 + psi11 * n + psi12 * St
    p12 = psi11 * St + psi12 * Stt
    p21 = psi12 * n + psi22 * St
    p22 = 1.0 + psi12 * St + psi22 * Stt
    det = p11 * p22 - p12 * p21
    inv = 1.0 / det
    # W = M P^-1 (symmetric), u = P^-T s (summed s), Q = Psi P^-T (symmetric)
    c = d.count * inv
    w11 = c * (n * p22 - St * p21)
    w12 = c * (St * p11 - n * p12)
    w22 = c * (Stt * p11 - St * p12)
    u1 = inv * (p22 * d.s1 - p21 * d.s2)
    u2 = inv * (p11 * d.s2 - p12 * d.s1)
    q11 = inv * (psi11 * p22 - psi12 * p12)
    q12 = inv * (psi12 * p11 - psi11 * p21)
    q22 = inv * (psi22 * p11 - psi12 * p21)
    yhy = (d.Syy - (q11 * d.S11 + 2.0 * q12 * d.S12 + q22 * d.S22)).sum(-1)
    logdet_p = (d.count * np.log(det)).sum(-1)
    g = d.g
    sw11, sw12, sw22 = w11.sum(-1), w12.sum(-1), w22.sum(-1)
    gw11, gw12, gw22 = (g * w11).sum(-1), (g * w12).sum(-1), (g * w22).sum(-1)
    su1, su2, gu1, gu2 = u1.sum(-1), u2.sum(-1), (g * u1).sum(-1), (g * u2).sum(-1)
    if arm_intercept:  # beta = (intercept, time, arm, time x arm)
        rows = [
            [sw11, sw12, gw11, gw12],
            [sw12, sw22, gw12, gw22],
            [gw11, gw12, gw11, gw12],
            [gw12, gw22, gw12, gw22],
        ]
        rhs = [su1, su2, gu1, gu2]
    else:  # beta = (intercept, time, time x arm)
        rows = [[sw11, sw12, gw12], [sw12, sw22, gw22], [gw12, gw22, gw22]]
        rhs = [su1, su2, gu2]
    a = np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)  # (R, p, p)
    b = np.stack(rhs, axis=-1)
    n_fe = b.shape[-1]
    sign, logdet_a = np.linalg.slogdet(a)
    ok = (sign > 0) & np.all(det > 0, axis=-1)
    a_safe = np.where(ok[:, None, None], a, np.eye(n_fe))
    beta = np.linalg.solve(a_safe, np.where(ok[:, None], b, 0.0)[..., None])[..., 0]
    rhr = yhy - (b * beta).sum(-1)
    dof = d.n_obs - n_fe
    ok &= (rhr > 0) & (dof > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma2 = rhr / dof
        dev = dof * np.log(sigma2) + logdet_p + logdet_a
    dev = np.where(ok, dev, np.inf)
    if not full:
        return dev
    cov = sigma2[:, None, None] * np.linalg.inv(a_safe)
    psi = np.stack([np.stack([psi11, psi12], -1), np.stack([psi12, psi22], -1)], -2)[:, 0]
    return dev, beta, cov, sigma2, sigma2[:, None, None] * psi, ok


def _start(ps: _PatientStats, arm: np.ndarray) -> np.ndarray:
    """Moment starting values for theta from per-patient OLS fits (two-stage estimator)."""
    c0, c1, ok, det = _ols_coefficients(ps)
    rss = ps.Syy - (np.nan_to_num(c0) * ps.Sy + np.nan_to_num(c1) * ps.Sty)
    ok3 = ok & (ps.n >= 3)
    dof = np.where(ok3, ps.n - 2, 0).sum(-1)
    sigma2 = np.where(dof > 0, np.where(ok3, rss, 0).sum(-1) / np.maximum(dof, 1), 1.0)
    sigma2 = np.maximum(sigma2, 1e-6)
    # covariance of OLS coefficients within arms, minus their average sampling covariance
    okf = ok.astype(float)
    cov = np.zeros((ps.n.shape[0], 2, 2))
    count = np.zeros(ps.n.shape[0])
    for g in (0.0, 1.0):
        sel = okf * (arm == g)
        k = sel.sum(-1)
        m0 = np.where(k > 0, (sel * np.nan_to_num(c0)).sum(-1) / np.maximum(k, 1), 0)
        m1 = np.where(k > 0, (sel * np.nan_to_num(c1)).sum(-1) / np.maximum(k, 1), 0)
        d0 = np.where(sel > 0, np.nan_to_num(c0) - m0[:, None], 0)
        d1 = np.where(sel > 0, np.nan_to_num(c1) - m1[:, None], 0)
        cov[:, 0, 0] += (d0 * d0).sum(-1)
        cov[:, 0, 1] += (d0 * d1).sum(-1)
        cov[:, 1, 1] += (d1 * d1).sum(-1)
        count += np.maximum(k - 1, 0)
    cov /= np.maximum(count, 1)[:, None, None]
    safe = np.where(ok, det, 1.0)
    k = np.maximum(okf.sum(-1), 1)
    minv11 = (okf * ps.Stt / safe).sum(-1) / k
    minv12 = -(okf * ps.St / safe).sum(-1) / k
    minv22 = (okf * ps.n / safe).sum(-1) / k
    g11 = np.maximum(cov[:, 0, 0] - sigma2 * minv11, 0.1 * cov[:, 0, 0])
    g22 = np.maximum(cov[:, 1, 1] - sigma2 * minv22, 0.1 * cov[:, 1, 1])
    g11, g22 = np.maximum(g11, 1e-4 * sigma2), np.maximum(g22, 1e-4 * sigma2)
    lim = 0.9 * np.sqrt(g11 * g22)
    g12 = np.clip(cov[:, 0, 1] - sigma2 * minv12, -lim, lim)
    psi11, psi12, psi22 = g11 / sigma2, g12 / sigma2, g22 / sigma2
    l1 = np.sqrt(psi11)
    l2 = psi12 / l1
    l3 = np.sqrt(np.maximum(psi22 - l2 * l2, 1e-8))
    theta = np.stack([l1, l2, l3], axis=-1)
    return np.where(np.isfinite(theta), theta, np.array([1.0, 0.0, 0.1]))


def _newton(theta: np.ndarray, fun, max_iter: int, tol: float):
    """Damped Newton minimisation of ``fun(theta_rows, rows)`` for every row of ``theta``.

    Only the trials still iterating are evaluated. Derivatives are finite differences (central
    gradient, forward mixed second differences); negative Hessian eigenvalues are flipped, the
    step is capped and a backtracking (Armijo) line search keeps every iteration a descent.
    A trial stops when the Newton decrement falls below ``tol`` or a step no longer lowers the
    deviance beyond rounding.
    """
    n_rep, k = theta.shape
    theta = theta.copy()
    f = fun(theta, np.arange(n_rep))
    active = np.isfinite(f)
    converged = np.zeros(n_rep, dtype=bool)
    n_iter = np.zeros(n_rep, dtype=int)
    eye = np.eye(k)
    for _ in range(max_iter):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        th, f0 = theta[rows], f[rows]

        def at(x: np.ndarray, rows=rows) -> np.ndarray:
            return fun(x, rows)

        h = 1e-4 * (1.0 + np.abs(th))
        f_plus = np.stack([at(th + h * eye[i]) for i in range(k)], axis=-1)
        f_minus = np.stack([at(th - h * eye[i]) for i in range(k)], axis=-1)
        grad = (f_plus - f_minus) / (2 * h)
        hess = np.empty((rows.size, k, k))
        for i in range(k):
            hess[:, i, i] = (f_plus[:, i] - 2 * f0 + f_minus[:, i]) / h[:, i] ** 2
            for j in range(i + 1, k):
                f_ij = at(th + h * (eye[i] + eye[j]))
                hess[:, i, j] = hess[:, j, i] = (f_ij - f_plus[:, i] - f_plus[:, j] + f0) / (
                    h[:, i] * h[:, j]
                )
        bad = ~np.all(np.isfinite(grad), -1) | ~np.all(np.isfinite(hess), axis=(-1, -2))
        grad = np.where(bad[:, None], 0.0, grad)
        hess = np.where(bad[:, None, None], eye, hess)
        evals, evecs = np.linalg.eigh(hess)
        floor = 1e-8 * np.abs(evals).max(-1, keepdims=True) + 1e-12
        evals = np.maximum(np.abs(evals), floor)
        step = -np.einsum("rij,rj->ri", evecs, np.einsum("rji,rj->ri", evecs, grad) / evals)
        norm = np.linalg.norm(step, axis=-1, keepdims=True)
        cap = 2.0 * (1.0 + np.linalg.norm(th, axis=-1, keepdims=True))
        step *= np.minimum(1.0, cap / np.maximum(norm, 1e-300))
        slope = (grad * step).sum(-1)  # the (negative) Newton decrement
        done = (-slope < tol) | bad
        converged[rows[done & ~bad]] = True
        active[rows[done]] = False
        go = ~done
        if not go.any():
            break
        n_iter[rows[go]] += 1
        alpha = np.ones(rows.size)
        pending = go.copy()
        new_th, new_f = th.copy(), f0.copy()
        for _ls in range(40):
            trial = th + alpha[:, None] * step
            f_try = at(trial)
            accept = pending & np.isfinite(f_try) & (f_try <= f0 + 1e-4 * alpha * slope)
            new_th = np.where(accept[:, None], trial, new_th)
            new_f = np.where(accept, f_try, new_f)
            pending &= ~accept
            if not pending.any():
                break
            alpha = np.where(pending, alpha * 0.5, alpha)
        stalled = go & (pending | (f0 - new_f <= 1e-13 * (1.0 + np.abs(f0))))
        theta[rows], f[rows] = new_th, new_f
        converged[rows[stalled]] = True  # no further decrease possible: a numerical minimum
        active[rows[stalled]] = False
    return theta, converged, n_iter


def lmm_slope_test(
    alsfrs: Any,
    visit_months: Any,
    arm: Any,
    *,
    arm_intercept: bool = False,
    max_iter: int = 50,
    tol: float = 1e-9,
) -> SlopeTestResult:
    """Treatment effect on slope from a random intercept-and-slope mixed model (REML).

    Parameters
    ----------
    alsfrs:
        Scores, shape ``(n_rep, n_patients, n_visits)`` (or ``(n_patients, n_visits)`` for one
        trial); NaN = missing (after death, dropout or a missed visit).
    visit_months:
        Visit times: ``(n_visits,)`` shared by all patients, or an array broadcastable to
        ``alsfrs`` for per-patient (unbalanced) times; NaN time = missing.
    arm:
        0 (control) / 1 (treated), shape ``(n_patients,)`` or ``(n_rep, n_patients)``.
    arm_intercept:
        Also fit an arm main effect (default False: a common intercept, as baseline is
        pre-randomisation in a randomised trial).
    max_iter, tol:
        Newton iterations and the stopping threshold on the Newton decrement of -2 l_R.

    Returns
    -------
    SlopeTestResult
        ``estimate`` = :math:`\\hat\\delta` (time x arm, points/month), its model-based SE
        :math:`\\sqrt{\\hat\\sigma^2 [A^{-1}]_{\\delta\\delta}}` (as R ``nlme``/``lme4``), the Wald
        z and two-sided normal p-value (``df = inf``); NaN for a trial whose model is not
        estimable (e.g. no treated patient with two visits).
    """
    y, t, a, shared = _inputs(alsfrs, visit_months, arm)
    ps = _patient_stats(y, t, center=True)
    groups = _group(ps, a, shared)
    theta0 = _start(ps, a)

    def fun(th: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return _reml(th, groups.take(rows), arm_intercept)

    theta, converged, n_iter = _newton(theta0, fun, max_iter, tol)
    _, beta, cov, sigma2, re_cov, ok = _reml(theta, groups, arm_intercept, full=True)
    est = np.where(ok, beta[:, -1], np.nan)
    se = np.where(ok, np.sqrt(np.maximum(cov[:, -1, -1], 0.0)), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = est / se
    p = 2.0 * ndtr(-np.abs(z))
    nan = np.where(ok, 1.0, np.nan)
    return SlopeTestResult(
        estimate=est,
        se=se,
        statistic=z,
        p_value=p,
        df=np.full(est.shape, np.inf),
        slope_control=beta[:, 1] * nan,
        n_patients=(ps.n > 0).sum(-1),
        method="lmm-reml",
        residual_sd=np.sqrt(sigma2) * nan,
        re_cov=re_cov * nan[:, None, None],
        converged=converged & ok,
        n_iter=n_iter,
    )


def ols_slope_test(
    alsfrs: Any, visit_months: Any, arm: Any, *, equal_var: bool = False
) -> SlopeTestResult:
    """Two-sample t-test on per-patient least-squares slopes (a fast, assumption-light test).

    Each patient with at least two distinct observed visit times gets the OLS slope
    :math:`\\hat b_i = \\sum (t_{ij} - \\bar t_i)(y_{ij} - \\bar y_i) / \\sum (t_{ij} - \\bar t_i)^2`;
    the arms' mean slopes are compared with Welch's t-test (``equal_var=False``, Welch-Satterthwaite
    df) or the pooled-variance t-test (df :math:`n_0 + n_1 - 2`). Patients dying or dropping out
    before their second visit are excluded, and every slope counts equally whatever its
    precision, so this test loses power to the LMM under dropout.

    Parameters and returns as :func:`lmm_slope_test` (``statistic`` is t, ``df`` finite).
    """
    y, t, a, _ = _inputs(alsfrs, visit_months, arm)
    ps = _patient_stats(y, t)
    _, slope, ok, _ = _ols_coefficients(ps)
    stats = []
    for g in (0.0, 1.0):
        sel = ok & (a == g)
        k = sel.sum(-1).astype(float)
        s = np.where(sel, slope, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s.sum(-1) / k
            var = (np.where(sel, slope - mean[:, None], 0.0) ** 2).sum(-1) / (k - 1)
        stats.append((k, mean, var))
    (k0, m0, v0), (k1, m1, v1) = stats
    with np.errstate(invalid="ignore", divide="ignore"):
        if equal_var:
            df = k0 + k1 - 2
            pooled = ((k0 - 1) * v0 + (k1 - 1) * v1) / df
            se = np.sqrt(pooled * (1 / k0 + 1 / k1))
        else:
            e0, e1 = v0 / k0, v1 / k1
            se = np.sqrt(e0 + e1)
            df = (e0 + e1) ** 2 / (e0**2 / (k0 - 1) + e1**2 / (k1 - 1))
        bad = (k0 < 2) | (k1 < 2) | ~(se > 0)
        est = np.where(bad, np.nan, m1 - m0)
        se = np.where(bad, np.nan, se)
        tstat = est / se
        df = np.where(bad, np.nan, df)
        p = 2.0 * stdtr(df, -np.abs(tstat))
    return SlopeTestResult(
        estimate=est,
        se=se,
        statistic=tstat,
        p_value=p,
        df=df,
        slope_control=np.where(k0 >= 1, m0, np.nan),
        n_patients=(k0 + k1).astype(int),
        method="ols-pooled" if equal_var else "ols-welch",
    )
