r"""Two-group survival tests vectorised over simulated trials: log-rank and Cox (one binary covariate).

Both functions take ``time``, ``event`` and ``group`` arrays of shape ``(n_rep, n)`` (or ``(n,)``
for one trial) and return one result per trial. Trials are ragged through NaN times or a
``valid`` mask: an excluded subject is in no risk set. Conventions (as R ``survival``): at a
tied time, events happen before censorings, so a subject censored at ``t`` is at risk at ``t``.

At each distinct event time :math:`t_j` of a trial let :math:`n_j` subjects be at risk
(:math:`n_{1j}` in group 1), :math:`d_j` events occur (:math:`d_{1j}` in group 1).

Log-rank test (Mantel, Cancer Chemother Rep 1966;50:163; Peto & Peto, JRSS A 1972;135:185)
    :math:`O_1 = \sum_j d_{1j}`, :math:`E_1 = \sum_j d_j n_{1j}/n_j`,
    :math:`V = \sum_j d_j \frac{n_{1j}}{n_j}\bigl(1 - \frac{n_{1j}}{n_j}\bigr)
    \frac{n_j - d_j}{n_j - 1}` (hypergeometric variance, exact for ties);
    :math:`z = (O_1 - E_1)/\sqrt V`, :math:`\chi^2 = z^2` on 1 df. The hazard ratio (group 1 vs
    0) is the Peto one-step estimate :math:`\exp((O_1 - E_1)/V)` with SE of its log
    :math:`1/\sqrt V`.

Cox proportional hazards, binary covariate, Breslow ties (Cox, JRSS B 1972;34:187; Breslow,
Biometrics 1974;30:89)
    log partial likelihood
    :math:`\ell(\beta) = \sum_j \bigl[d_{1j}\beta - d_j \log(n_{0j} + n_{1j}e^\beta)\bigr]`,
    score :math:`U(\beta) = \sum_j (d_{1j} - d_j p_j)`, information
    :math:`I(\beta) = \sum_j d_j p_j (1 - p_j)` with :math:`p_j = n_{1j}e^\beta/(n_{0j} +
    n_{1j}e^\beta)`. Newton-Raphson from :math:`\beta = 0` (step halving if :math:`\ell` falls);
    HR :math:`= e^{\hat\beta}`, SE :math:`= I(\hat\beta)^{-1/2}`, Wald :math:`z`, two-sided
    normal p-value. At :math:`\beta = 0` the score is :math:`O_1 - E_1`, so without ties the
    Cox score test *is* the log-rank test. When every event falls in one group the estimate
    diverges (monotone likelihood); such trials are returned with ``converged = False`` and
    :math:`|\hat\beta|` stopped at :data:`MAX_LOG_HR`.

Vectorisation: each trial's subjects are sorted by time once (``argsort`` along the subject axis,
excluded subjects last); tie blocks, risk sets and event counts come from cumulative sums, so
there is no Python loop over trials, subjects or event times. Newton-Raphson iterates on all
trials together (scalar :math:`\beta` per trial).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

from alsim.errors import InputError

__all__ = ["MAX_LOG_HR", "SurvivalTestResult", "cox_test", "logrank_test"]

#: Largest |log HR| the Cox fit will report (a diverging estimate stops here, unconverged).
MAX_LOG_HR = 20.0


@dataclass(frozen=True)
class SurvivalTestResult:
    """Per-trial result of a two-group survival test (arrays of shape ``(n_rep,)``).

    Attributes
    ----------
    hr, log_hr, se:
        Hazard ratio of group 1 vs group 0, its log and the SE of the log.
    z, p_value:
        The z statistic and its two-sided normal p-value (log-rank: :math:`(O_1 - E_1)/\\sqrt V`;
        Cox: Wald :math:`\\hat\\beta/\\mathrm{SE}`).
    observed, expected, variance:
        :math:`O_1`, :math:`E_1` (under the null) and the log-rank variance :math:`V`.
    n_events:
        Events per trial.
    method:
        ``"logrank"`` or ``"cox-breslow"``.
    converged, n_iter:
        Cox only (else None).
    """

    hr: np.ndarray
    log_hr: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    n_events: np.ndarray
    method: str
    converged: np.ndarray | None = None
    n_iter: np.ndarray | None = None


@dataclass
class _RiskSets:
    """Per trial and distinct time (padded to the subject axis): d, d1, n, n1 and a mask."""

    d: np.ndarray
    d1: np.ndarray
    n: np.ndarray
    n1: np.ndarray
    use: np.ndarray  # True at the last subject of a tie block that holds >= 1 event


def _inputs(time: Any, event: Any, group: Any, valid: Any) -> tuple[np.ndarray, ...]:
    t = np.asarray(time, dtype=float)
    if t.ndim == 1:
        t = t[None]
    if t.ndim != 2:
        raise InputError("time", f"must have shape (n_rep, n) or (n,), got {np.shape(time)}")
    shape = t.shape

    def as_2d(name: str, value: Any) -> np.ndarray:
        a = np.asarray(value)
        if a.ndim == 1 and a.shape[0] == shape[1]:
            a = a[None]
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise InputError(name, f"must match time's shape {shape}, got {a.shape}") from None

    e = as_2d("event", event)
    if e.dtype.kind == "f":
        finite = np.isfinite(e)
        if np.any(~np.isin(e[finite], (0.0, 1.0))):
            raise InputError("event", "must be True/False (or 1/0)")
        e = np.where(finite, e, 0.0)
    elif e.dtype.kind not in "biu" or (e.dtype.kind in "iu" and np.any(~np.isin(e, (0, 1)))):
        raise InputError("event", "must be True/False (or 1/0)")
    g = as_2d("group", group)
    if g.dtype.kind == "b":
        g = g.astype(np.int8)
    if g.dtype.kind not in "iuf" or np.any(~np.isin(g, (0, 1))):
        raise InputError("group", "must contain only 0 and 1")
    keep = np.isfinite(t)
    if valid is not None:
        keep &= as_2d("valid", valid).astype(bool)
    if np.any(t[keep] < 0):
        raise InputError("time", "must be non-negative")
    return t, e.astype(bool), g.astype(bool), keep


def _risk_sets(t: np.ndarray, e: np.ndarray, g: np.ndarray, keep: np.ndarray) -> _RiskSets:
    n_rep, n = t.shape
    tk = np.where(keep, t, np.inf)
    order = np.argsort(tk, axis=1, kind="stable")
    ts = np.take_along_axis(tk, order, 1)
    es = np.take_along_axis(e & keep, order, 1).astype(np.int64)
    gs = np.take_along_axis(g & keep, order, 1).astype(np.int64)
    ks = np.take_along_axis(keep, order, 1)
    pos = np.broadcast_to(np.arange(n), (n_rep, n))
    new_block = np.ones((n_rep, n), dtype=bool)
    new_block[:, 1:] = ts[:, 1:] != ts[:, :-1]
    last = np.ones((n_rep, n), dtype=bool)
    last[:, :-1] = new_block[:, 1:]
    start = np.maximum.accumulate(np.where(new_block, pos, 0), axis=1)  # block start per subject

    def before(x: np.ndarray) -> np.ndarray:  # sum over sorted positions < block start
        c = np.concatenate([np.zeros((n_rep, 1), np.int64), np.cumsum(x, axis=1)], axis=1)
        return np.take_along_axis(c, start, 1), c[:, 1:]

    e_before, e_cum = before(es)
    e1_before, e1_cum = before(es * gs)
    g_before, _ = before(gs)
    n_total = ks.sum(1, keepdims=True)
    n1_total = gs.sum(1, keepdims=True)
    d = (e_cum - e_before).astype(float)
    d1 = (e1_cum - e1_before).astype(float)
    at_risk = (n_total - start).astype(float)
    at_risk1 = (n1_total - g_before).astype(float)
    use = last & ks & (d > 0)
    return _RiskSets(d=d, d1=d1, n=at_risk, n1=at_risk1, use=use)


def logrank_test(time: Any, event: Any, group: Any, *, valid: Any = None) -> SurvivalTestResult:
    """Two-group log-rank test for every trial.

    Parameters
    ----------
    time:
        Follow-up times, shape ``(n_rep, n)`` or ``(n,)``; NaN = subject not in the trial.
    event:
        True for an observed event, False for censoring (same shape).
    group:
        0/1 (or bool) group per subject; the HR is group 1 vs group 0.
    valid:
        Optional boolean mask of subjects to include (for ragged trials).

    Returns
    -------
    SurvivalTestResult
        NaN statistics for a trial with no event or an empty group.
    """
    t, e, g, keep = _inputs(time, event, group, valid)
    rs = _risk_sets(t, e, g, keep)
    u = rs.use
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(u, rs.n1 / rs.n, 0.0)
        ties = np.where(u & (rs.n > 1), (rs.n - rs.d) / (rs.n - 1), 0.0)
        observed = np.where(u, rs.d1, 0.0).sum(1)
        expected = np.where(u, rs.d * frac, 0.0).sum(1)
        variance = np.where(u, rs.d * frac * (1 - frac) * ties, 0.0).sum(1)
        ok = variance > 0
        z = np.where(ok, (observed - expected) / np.sqrt(variance), np.nan)
        log_hr = np.where(ok, (observed - expected) / variance, np.nan)
        se = np.where(ok, 1 / np.sqrt(variance), np.nan)
    return SurvivalTestResult(
        hr=np.exp(log_hr),
        log_hr=log_hr,
        se=se,
        z=z,
        p_value=2 * ndtr(-np.abs(z)),
        observed=observed,
        expected=expected,
        variance=variance,
        n_events=np.where(u, rs.d, 0.0).sum(1).astype(int),
        method="logrank",
    )


def _cox_terms(beta: np.ndarray, rs: _RiskSets) -> tuple[np.ndarray, ...]:
    b = beta[:, None]
    n0 = rs.n - rs.n1
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        w1 = rs.n1 * np.exp(b)
        denom = n0 + w1
        p = np.where(rs.use, w1 / denom, 0.0)
        loglik = np.where(rs.use, rs.d1 * b - rs.d * np.log(denom), 0.0).sum(1)
    score = np.where(rs.use, rs.d1 - rs.d * p, 0.0).sum(1)
    info = np.where(rs.use, rs.d * p * (1 - p), 0.0).sum(1)
    return loglik, score, info


def cox_test(
    time: Any,
    event: Any,
    group: Any,
    *,
    valid: Any = None,
    max_iter: int = 50,
    tol: float = 1e-10,
) -> SurvivalTestResult:
    """Cox proportional-hazards fit with one binary covariate (Breslow ties) for every trial.

    Parameters
    ----------
    time, event, group, valid:
        As :func:`logrank_test`.
    max_iter, tol:
        Newton-Raphson iterations and the convergence threshold on :math:`|\\Delta\\beta|`.

    Returns
    -------
    SurvivalTestResult
        ``hr`` = :math:`e^{\\hat\\beta}` (group 1 vs 0), ``se`` of :math:`\\hat\\beta` from the
        observed information, Wald ``z`` and p-value; ``observed``/``expected``/``variance`` are
        the log-rank quantities of the same data. NaN for a trial with no event or an empty group.
    """
    t, e, g, keep = _inputs(time, event, group, valid)
    rs = _risk_sets(t, e, g, keep)
    n_rep = t.shape[0]
    beta = np.zeros(n_rep)
    loglik, score, info = _cox_terms(beta, rs)
    estimable = info > 0
    active = estimable.copy()
    converged = np.zeros(n_rep, dtype=bool)
    n_iter = np.zeros(n_rep, dtype=int)
    for _ in range(max_iter):
        if not active.any():
            break
        with np.errstate(invalid="ignore", divide="ignore"):
            step = np.where(active & (info > 0), score / info, 0.0)
        step = np.clip(step, -5.0, 5.0)
        n_iter += active
        new = np.clip(beta + step, -MAX_LOG_HR, MAX_LOG_HR)
        new_ll, new_score, new_info = _cox_terms(new, rs)
        for _half in range(30):  # step halving where the likelihood fell
            worse = active & (new_ll < loglik - 1e-12 * (1 + np.abs(loglik)))
            if not worse.any():
                break
            new = np.where(worse, (beta + new) / 2, new)
            new_ll, new_score, new_info = _cox_terms(new, rs)
        delta = np.abs(new - beta)
        beta = np.where(active, new, beta)
        loglik = np.where(active, new_ll, loglik)
        score = np.where(active, new_score, score)
        info = np.where(active, new_info, info)
        done = active & (delta < tol)
        converged |= done & (np.abs(beta) < MAX_LOG_HR)
        at_limit = active & (np.abs(beta) >= MAX_LOG_HR)
        active &= ~(done | at_limit)
    converged &= np.abs(beta) < MAX_LOG_HR - 1e-9
    lr = logrank_test(time, event, group, valid=valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.where(estimable & (info > 0), 1 / np.sqrt(info), np.nan)
        log_hr = np.where(estimable, beta, np.nan)
        z = log_hr / se
    return SurvivalTestResult(
        hr=np.exp(log_hr),
        log_hr=log_hr,
        se=se,
        z=z,
        p_value=2 * ndtr(-np.abs(z)),
        observed=lr.observed,
        expected=lr.expected,
        variance=lr.variance,
        n_events=lr.n_events,
        method="cox-breslow",
        converged=converged,
        n_iter=n_iter,
    )
