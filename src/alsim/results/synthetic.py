r"""A small synthetic trials table that follows the contract (for tests, docs and examples).

It is **not** a disease simulation: each comparison's log-DRR estimate follows a Brownian
motion in information time, so the looks are correlated like those of a real group-sequential
trial. With :math:`I_k \propto n_k` patients at look :math:`k` and true log-DRR :math:`\mu`,

.. math:: \hat\mu_k \sim N(\mu, \sigma^2/n_k),\quad
          \operatorname{Cov}(\hat\mu_j, \hat\mu_k) = \sigma^2/\max(n_j, n_k),

the success statistic is :math:`\Pr(\mathrm{DRR}<1) = \Phi(-\hat\mu_k/\mathrm{se}_k)` (flat
prior), futility at an interim when :math:`\Pr(\mathrm{DRR}<0.9) < 0.05` (HEALEY's rule,
shared/science/trials.md B1), success when the statistic exceeds ``threshold`` (at interims only
when ``early_success``). ``stat_max`` is the largest statistic over the looks at which success
could be claimed (and the stopping look), so ``stat_max > threshold`` reproduces ``success``. Research and education only, not medical advice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from alsim.results.table import TRIAL_COLUMNS


def synthetic_trials(
    n_rep: int = 500,
    seed: int = 1,
    *,
    true_drr: dict[str, float] | None = None,
    looks_n: tuple[int, ...] = (60, 110, 160),
    sigma: float = 2.5,
    threshold: float = 0.979,
    futility: float = 0.05,
    early_success: bool = False,
    design: str = "platform",
) -> pd.DataFrame:
    """A tidy trials table with one row per replicate and comparison (contract columns).

    ``true_drr`` maps comparison names to true DRRs (default ``{"regimen_a": 1.0,
    "regimen_b": 0.7}``); ``looks_n`` gives the patients per comparison at each look (3:1
    active:control); ``sigma`` the per-patient SD of the log-DRR estimate.
    """
    true_drr = {"regimen_a": 1.0, "regimen_b": 0.7} if true_drr is None else dict(true_drr)
    rng = np.random.default_rng(seed)
    n_looks = len(looks_n)
    n_k = np.asarray(looks_n, dtype=float)
    frames = []
    for name, drr in true_drr.items():
        # Brownian motion: S_k = sum of independent increments with variance sigma^2 * dn_k.
        increments = rng.normal(size=(n_rep, n_looks)) * sigma * np.sqrt(np.diff(n_k, prepend=0))
        log_est = np.log(drr) + np.cumsum(increments, axis=1) / n_k
        se = sigma / np.sqrt(n_k)
        stat = ndtr(-log_est / se)
        p_futile = ndtr((np.log(0.9) - log_est) / se)
        interim = np.arange(n_looks) < n_looks - 1
        stop_fut = (p_futile < futility) & interim
        eligible = np.ones(n_looks, bool) if early_success else ~interim
        stop_suc = (stat > threshold) & eligible
        final = ~interim
        stops = stop_fut | stop_suc | final
        stop = np.argmax(stops, axis=1)  # 0-based look at which it stopped
        rows = np.arange(n_rep)
        succeeded = stop_suc[rows, stop]
        futile = stop_fut[rows, stop] & ~succeeded
        # stat_max: over the looks at which success could be claimed, up to the stop
        upto = (np.arange(n_looks)[None, :] <= stop[:, None]) & eligible[None, :]
        upto[rows, stop] = True
        est = log_est[rows, stop]
        n_stop = n_k[stop]
        frames.append(
            pd.DataFrame(
                {
                    "rep": rows.astype(np.int64),
                    "comparison": name,
                    "design": design,
                    "analysis": "healey_drr",
                    "n_active": np.round(n_stop * 0.75).astype(np.int64),
                    "n_control": np.round(n_stop * 0.25).astype(np.int64),
                    "n_trial": np.zeros(n_rep, dtype=np.int64),
                    "duration_months": 6.0 + n_stop / 20.0,
                    "looks": np.full(n_rep, n_looks, dtype=np.int64),
                    "stop_look": (stop + 1).astype(np.int64),
                    "decision": np.where(
                        succeeded, "success", np.where(futile, "futility", "inconclusive")
                    ),
                    "success": succeeded,
                    "early_success": succeeded & (stop < n_looks - 1),
                    "early_futility": futile,
                    "estimate": np.exp(est),
                    "estimand": "drr",
                    "true_value": float(drr),
                    "stat": stat[rows, stop],
                    "stat_max": np.where(upto, stat, -np.inf).max(axis=1),
                    "threshold": float(threshold),
                    "ci_lower": np.exp(est - 1.959964 * se[stop]),
                    "ci_upper": np.exp(est + 1.959964 * se[stop]),
                }
            )
        )
    trials = pd.concat(frames, ignore_index=True)
    n_trial = trials.groupby("rep")["n_active"].transform("sum") + trials.groupby("rep")[
        "n_control"
    ].transform("sum")
    trials["n_trial"] = n_trial.astype(np.int64)
    trials = trials.sort_values(["rep", "comparison"], kind="stable").reset_index(drop=True)
    return trials[list(TRIAL_COLUMNS)]
