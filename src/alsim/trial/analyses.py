r"""One entry point for every trial analysis, used at interim looks and at the final analysis.

:func:`analyse` takes one comparison's data for many trials (active arm vs its control pool,
padded to a common number of patients with a membership mask) and returns per-trial arrays:

=============  ==================================  ===========================================
name           estimate (estimand)                 success statistic ``stat``
=============  ==================================  ===========================================
healey_drr     posterior median DRR (``drr``)      Pr(DRR < 1) (:func:`healey_fast`)
lmm_slope      slope difference, active - control  1 - one-sided p = Phi(z), z = est / SE
               (``slope_difference``, points/mo)
ols_slope      idem, per-patient OLS + Welch t     1 - one-sided p = T_df(t)
cox            hazard ratio (``hazard_ratio``)      1 - one-sided p = Phi(-z), z = log HR / SE
logrank        Peto HR (``hazard_ratio``)           Phi(-(O - E)/sqrt(V))
cafs           win probability of active            Phi(z) of the Mann-Whitney U with ties
               (``win_probability``)
=============  ==================================  ===========================================

``futility_stat`` is Pr(DRR < 0.9) for healey_drr (futility when below the threshold, HEALEY)
and ``stat`` for the others. Intervals: the 95% credible interval (healey_drr), Wald intervals
(slopes: est ± 1.96 SE; hazard ratios: exp(log HR ± 1.96 SE)), and for CAFS est ± 1.96 SD(U)/(n1 n0).

A trial is analysed only if it has at least two patients with an ALSFRS-R score on each arm and
an active patient with two scores; otherwise every output is NaN (an interim with too little
data is skipped; a final analysis becomes "inconclusive").

CAFS (Berry et al., ALS-FTD 2013;14:162): deaths rank below survivors, deaths by time, survivors
by ALSFRS-R change from baseline to their last visit, survivors without a change between deaths
and the other survivors (alsim.clinical.cafs ``missing="worst_among_survivors"``); the groups are
compared by the Mann-Whitney U normal approximation with tie correction (no continuity
correction), vectorised over trials.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, stdtr
from scipy.stats import rankdata

from alsim.analysis.healey import healey_fast
from alsim.analysis.slope import lmm_slope_test, ols_slope_test
from alsim.analysis.survival_tests import cox_test, logrank_test

__all__ = ["ESTIMANDS", "ComparisonData", "analyse"]

ESTIMANDS = {
    "healey_drr": "drr",
    "lmm_slope": "slope_difference",
    "ols_slope": "slope_difference",
    "cox": "hazard_ratio",
    "logrank": "hazard_ratio",
    "cafs": "win_probability",
}
_Z975 = 1.959963984540054


@dataclass(frozen=True)
class ComparisonData:
    """One comparison in ``n_rep`` trials, padded to ``n`` patients (``member`` marks real ones).

    ``alsfrs`` (n_rep, n, n_visits) NaN where not observed; ``arm`` 1 active / 0 control;
    ``t_obs`` months of survival follow-up; ``event`` death/PAV observed.
    """

    alsfrs: np.ndarray
    visit_months: np.ndarray
    arm: np.ndarray
    t_obs: np.ndarray
    event: np.ndarray
    member: np.ndarray

    def valid(self) -> np.ndarray:
        scores = np.isfinite(self.alsfrs).sum(-1) * self.member
        act = self.arm == 1
        return (
            (((scores >= 1) & act).sum(-1) >= 2)
            & (((scores >= 1) & ~act).sum(-1) >= 2)
            & (((scores >= 2) & act).sum(-1) >= 1)
        )


def analyse(name: str, data: ComparisonData, *, vc_uncertainty: bool = True, n_grid: int = 2000):
    """Run analysis ``name`` on every trial; returns a dict of ``(n_rep,)`` float arrays:
    ``estimate, ci_lower, ci_upper, stat, futility_stat``."""
    n_rep = data.arm.shape[0]
    out = {k: np.full(n_rep, np.nan) for k in _KEYS}
    ok = data.valid()
    if not ok.any():
        return out
    rows = np.flatnonzero(ok)
    sub = ComparisonData(
        alsfrs=np.where(data.member[rows, :, None], data.alsfrs[rows], np.nan),
        visit_months=data.visit_months,
        arm=np.where(data.member[rows], data.arm[rows], 0).astype(np.int8),
        t_obs=np.where(data.member[rows], data.t_obs[rows], 0.0),
        event=data.event[rows] & data.member[rows],
        member=data.member[rows],
    )
    res = _FUNCS[name](sub, vc_uncertainty=vc_uncertainty, n_grid=n_grid)
    for k in _KEYS:
        out[k][rows] = res[k]
    return out


_KEYS = ("estimate", "ci_lower", "ci_upper", "stat", "futility_stat")


def _healey(d: ComparisonData, *, vc_uncertainty: bool, n_grid: int):
    r = healey_fast(
        d.alsfrs, d.visit_months, d.arm, d.t_obs, d.event,
        vc_uncertainty=vc_uncertainty, n_grid=n_grid,
    )  # fmt: skip
    return {
        "estimate": r.drr_median,
        "ci_lower": r.drr_lower,
        "ci_upper": r.drr_upper,
        "stat": r.pr_drr_lt_1,
        "futility_stat": r.pr_drr_lt_0_9,
    }


def _slope(result, stat):
    est, se = result.estimate, result.se
    return {
        "estimate": est,
        "ci_lower": est - _Z975 * se,
        "ci_upper": est + _Z975 * se,
        "stat": stat,
        "futility_stat": stat,
    }


def _lmm(d: ComparisonData, **_):
    r = lmm_slope_test(d.alsfrs, d.visit_months, d.arm)
    return _slope(r, ndtr(r.statistic))


def _ols(d: ComparisonData, **_):
    r = ols_slope_test(d.alsfrs, d.visit_months, d.arm)
    with np.errstate(invalid="ignore"):
        stat = stdtr(r.df, r.statistic)
    return _slope(r, stat)


def _hazard(r, z):
    stat = ndtr(-z)
    with np.errstate(over="ignore"):
        lower, upper = np.exp(r.log_hr - _Z975 * r.se), np.exp(r.log_hr + _Z975 * r.se)
    return {
        "estimate": r.hr,
        "ci_lower": lower,
        "ci_upper": upper,
        "stat": stat,
        "futility_stat": stat,
    }


def _cox(d: ComparisonData, **_):
    r = cox_test(d.t_obs, d.event, d.arm, valid=d.member)
    return _hazard(r, r.z)


def _logrank(d: ComparisonData, **_):
    r = logrank_test(d.t_obs, d.event, d.arm, valid=d.member)
    return _hazard(r, r.z)


def cafs_keys(d: ComparisonData) -> np.ndarray:
    """CAFS ordering key per patient (higher = better; NaN for non-members)."""
    y = d.alsfrs
    finite = np.isfinite(y)
    n_scores = finite.sum(-1)
    first = np.argmax(finite, axis=-1)
    last = y.shape[-1] - 1 - np.argmax(finite[..., ::-1], axis=-1)
    base = np.take_along_axis(y, first[..., None], -1)[..., 0]
    end = np.take_along_axis(y, last[..., None], -1)[..., 0]
    change = end - base
    key = np.where(
        d.event, d.t_obs, np.where(n_scores >= 2, 2000.0 + np.nan_to_num(change), 1000.0)
    )
    return np.where(d.member, key, np.nan)


def _cafs(d: ComparisonData, **_):
    key = cafs_keys(d)
    ranks = rankdata(key, method="average", axis=1, nan_policy="omit")
    act = d.member & (d.arm == 1)
    ctl = d.member & (d.arm == 0)
    n1, n0 = act.sum(1).astype(float), ctl.sum(1).astype(float)
    n = n1 + n0
    r1 = np.where(act, ranks, 0.0).sum(1)
    u1 = r1 - n1 * (n1 + 1) / 2
    # tie correction: sum over tie groups of (t^3 - t)
    s = np.sort(key, axis=1)
    m = s.shape[1]
    new = np.ones_like(s, dtype=bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    gid = np.cumsum(new, axis=1) - 1 + np.arange(s.shape[0])[:, None] * m
    sizes = np.bincount(gid[np.isfinite(s)], minlength=s.shape[0] * m).reshape(-1, m)
    ties = (sizes.astype(float) ** 3 - sizes).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = n1 * n0 / 12.0 * ((n + 1) - ties / (n * (n - 1)))
        sd = np.sqrt(var)
        z = (u1 - n1 * n0 / 2) / sd
        est = u1 / (n1 * n0)
        half = _Z975 * sd / (n1 * n0)
    stat = ndtr(z)
    return {
        "estimate": est,
        "ci_lower": est - half,
        "ci_upper": est + half,
        "stat": stat,
        "futility_stat": stat,
    }


_FUNCS = {
    "healey_drr": _healey,
    "lmm_slope": _lmm,
    "ols_slope": _ols,
    "cox": _cox,
    "logrank": _logrank,
    "cafs": _cafs,
}
