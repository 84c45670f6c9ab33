r"""Operating characteristics of simulated trials, each with its Monte Carlo standard error.

:func:`performance` turns the tidy trials table (one row per replicate and comparison, see
:mod:`alsim.results.table`) into a tidy table ``comparison, metric, est, mcse``. The estimators
and their Monte Carlo standard errors (MCSE) follow Morris, White & Crowther, "Using simulation
studies to evaluate statistical methods", Stat Med 2019;38:2074-2102
(https://doi.org/10.1002/sim.8086), Table 6. With :math:`n` replicates,
:math:`\hat\theta_i` the estimate of replicate :math:`i`, :math:`\theta_i` its true value and
:math:`\bar{\hat\theta}` the mean estimate:

* a **probability** :math:`\hat p = \frac1n\sum_i 1\{\text{event}_i\}` (success = power or type I
  error, early success, early futility, futility, inconclusive, coverage):
  :math:`\mathrm{MCSE} = \sqrt{\hat p(1-\hat p)/n}`;
* an **expected value** :math:`\bar x = \frac1n\sum_i x_i` (sample sizes, duration, mean
  estimate): :math:`\mathrm{MCSE} = s_x/\sqrt n` with :math:`s_x` the sample SD (ddof 1);
* **bias** :math:`\frac1n\sum_i(\hat\theta_i-\theta_i)`:
  :math:`\mathrm{MCSE} = \sqrt{\frac{1}{n(n-1)}\sum_i(d_i-\bar d)^2}`, :math:`d_i=\hat\theta_i-\theta_i`
  (Morris et al.'s formula when :math:`\theta` is the same in every replicate);
* **empirical SE** :math:`\widehat{\mathrm{EmpSE}}=\sqrt{\frac{1}{n-1}\sum_i(\hat\theta_i-\bar{\hat\theta})^2}`:
  :math:`\mathrm{MCSE} = \widehat{\mathrm{EmpSE}}/\sqrt{2(n-1)}`;
* **MSE** :math:`\frac1n\sum_i d_i^2`:
  :math:`\mathrm{MCSE} = \sqrt{\frac{1}{n(n-1)}\sum_i\left(d_i^2-\widehat{\mathrm{MSE}}\right)^2}`;
* **RMSE** :math:`\sqrt{\widehat{\mathrm{MSE}}}`: MCSE by the delta method,
  :math:`\mathrm{MCSE}(\widehat{\mathrm{MSE}})/(2\,\widehat{\mathrm{RMSE}})`;
* **coverage** of the 95% interval: the share of replicates with
  :math:`\text{ci\_lower}_i \le \theta_i \le \text{ci\_upper}_i` (a probability, as above).

Estimate-based metrics use the replicates with a finite estimate (and, for bias, MSE, RMSE and
coverage, a finite true value and interval); ``n_estimates`` says how many. Estimates are taken
at the look where the comparison stopped, so with early stopping the bias is the design's
conditional bias, not that of a fixed-size trial.

For trials with more than one comparison (multi-arm, platform) trial-level rows are added under
the comparison name :data:`TRIAL_LEVEL`: ``any_success`` (at least one regimen claims success:
the family-wise error rate under the global null), ``any_null_success`` (at least one regimen
whose true value is the null claims success: the family-wise error rate under any configuration
of nulls; only when the table has null comparisons), ``expected_successes`` (regimens per trial
that claim success), and the expected size and duration of the whole trial (largest
``n_trial`` and ``duration_months`` over its comparisons).

Research and education only, not medical advice.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from alsim.results.table import check_trials, is_null

#: The comparison name of trial-level (family-wise) rows.
TRIAL_LEVEL = "(trial)"

#: Per-comparison metrics in output order, with a short description (used in reports and docs).
COMPARISON_METRICS: dict[str, str] = {
    "n_rep": "replicates (simulated trials) with this comparison",
    "power_or_type1": "Pr(success claimed): power, or type I error when the true effect is null",
    "early_success": "Pr(stopped early for success at an interim)",
    "early_futility": "Pr(stopped early for futility at an interim)",
    "futility": "Pr(decision futility, at an interim or the final analysis)",
    "inconclusive": "Pr(ran to the end without success or futility)",
    "expected_n_active": "mean patients on the active arm in the final analysis",
    "expected_n_control": "mean control patients in the final analysis",
    "expected_n_trial": "mean patients randomised in the whole trial by its end",
    "expected_duration_months": "mean months from first randomisation to the last analysis",
    "expected_stop_look": "mean look (1-based) at which the comparison stopped",
    "n_estimates": "replicates with a finite estimate",
    "true_value": "true value of the estimand (scenario)",
    "mean_estimate": "mean of the estimates",
    "bias": "mean(estimate - true value)",
    "empirical_se": "standard deviation of the estimates",
    "mse": "mean squared error",
    "rmse": "root mean squared error",
    "coverage": "Pr(95% interval contains the true value)",
}

#: Trial-level metrics (rows with comparison == TRIAL_LEVEL) in output order.
TRIAL_METRICS: dict[str, str] = {
    "n_rep": "simulated trials",
    "any_success": "Pr(at least one regimen claims success) (family-wise, global null)",
    "any_null_success": "Pr(at least one regimen with a null true effect claims success) (FWER)",
    "expected_successes": "mean number of regimens claiming success per trial",
    "expected_n_trial": "mean patients randomised in the whole trial",
    "expected_duration_months": "mean months from first randomisation to the trial's end",
}

COLUMNS = ("comparison", "metric", "est", "mcse")


def proportion(events) -> tuple[float, float]:
    r"""Share of true values and its MCSE :math:`\sqrt{p(1-p)/n}` (Morris et al. 2019, Table 6)."""
    x = np.asarray(events, dtype=bool)
    n = x.size
    if n == 0:
        return math.nan, math.nan
    p = float(x.mean())
    return p, math.sqrt(p * (1.0 - p) / n)


def mean(values) -> tuple[float, float]:
    r"""Mean and its MCSE :math:`s/\sqrt n` (sample SD with ddof 1; NaN when n < 2)."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n == 0:
        return math.nan, math.nan
    est = float(x.mean())
    if n < 2:
        return est, math.nan
    return est, float(x.std(ddof=1) / math.sqrt(n))


def bias(estimates, truth) -> tuple[float, float]:
    r"""Bias :math:`\overline{\hat\theta-\theta}` and MCSE :math:`\sqrt{\sum(d_i-\bar d)^2/(n(n-1))}`."""
    return mean(np.asarray(estimates, float) - np.asarray(truth, float))


def empirical_se(estimates) -> tuple[float, float]:
    r"""Empirical SE (SD of the estimates, ddof 1) and MCSE :math:`\mathrm{EmpSE}/\sqrt{2(n-1)}`."""
    x = np.asarray(estimates, dtype=float)
    n = x.size
    if n < 2:
        return math.nan, math.nan
    emp = float(x.std(ddof=1))
    return emp, emp / math.sqrt(2.0 * (n - 1))


def mse(estimates, truth) -> tuple[float, float]:
    r"""MSE :math:`\frac1n\sum d_i^2` and MCSE :math:`\sqrt{\sum(d_i^2-\mathrm{MSE})^2/(n(n-1))}`."""
    d2 = (np.asarray(estimates, float) - np.asarray(truth, float)) ** 2
    n = d2.size
    if n == 0:
        return math.nan, math.nan
    est = float(d2.mean())
    if n < 2:
        return est, math.nan
    return est, float(math.sqrt(((d2 - est) ** 2).sum() / (n * (n - 1))))


def rmse(estimates, truth) -> tuple[float, float]:
    r"""RMSE and its delta-method MCSE :math:`\mathrm{MCSE}(\mathrm{MSE})/(2\,\mathrm{RMSE})`."""
    value, se = mse(estimates, truth)
    root = math.sqrt(value) if math.isfinite(value) else math.nan
    if not (math.isfinite(se) and root > 0):
        return root, (0.0 if root == 0 and se == 0 else math.nan)
    return root, se / (2.0 * root)


def _truth(values: np.ndarray) -> tuple[float, float]:
    """Mean true value; its MCSE is 0 when the truth is the same in every replicate."""
    if values.size and np.all(values == values[0]):
        return float(values[0]), 0.0
    return mean(values)


def _comparison_rows(name: str, g: pd.DataFrame) -> list[tuple[str, str, float, float]]:
    n = len(g)
    estimate = g["estimate"].to_numpy(float)
    truth = g["true_value"].to_numpy(float)
    lower = g["ci_lower"].to_numpy(float)
    upper = g["ci_upper"].to_numpy(float)
    has_est = np.isfinite(estimate)
    has_truth = has_est & np.isfinite(truth)
    has_ci = np.isfinite(lower) & np.isfinite(upper) & np.isfinite(truth)
    decision = g["decision"].astype(str).to_numpy()
    values: dict[str, tuple[float, float]] = {
        "n_rep": (float(n), 0.0),
        "power_or_type1": proportion(g["success"].to_numpy(bool)),
        "early_success": proportion(g["early_success"].to_numpy(bool)),
        "early_futility": proportion(g["early_futility"].to_numpy(bool)),
        "futility": proportion(decision == "futility"),
        "inconclusive": proportion(decision == "inconclusive"),
        "expected_n_active": mean(g["n_active"]),
        "expected_n_control": mean(g["n_control"]),
        "expected_n_trial": mean(g["n_trial"]),
        "expected_duration_months": mean(g["duration_months"]),
        "expected_stop_look": mean(g["stop_look"]),
        "n_estimates": (float(has_est.sum()), 0.0),
        "true_value": _truth(truth[np.isfinite(truth)]),
        "mean_estimate": mean(estimate[has_est]),
        "bias": bias(estimate[has_truth], truth[has_truth]),
        "empirical_se": empirical_se(estimate[has_est]),
        "mse": mse(estimate[has_truth], truth[has_truth]),
        "rmse": rmse(estimate[has_truth], truth[has_truth]),
        "coverage": proportion((lower[has_ci] <= truth[has_ci]) & (truth[has_ci] <= upper[has_ci]))
        if has_ci.any()
        else (math.nan, math.nan),
    }
    return [(name, metric, *values[metric]) for metric in COMPARISON_METRICS]


def _trial_rows(trials: pd.DataFrame) -> list[tuple[str, str, float, float]]:
    frame = pd.DataFrame(
        {
            "rep": trials["rep"].to_numpy(),
            "success": trials["success"].to_numpy(bool),
            "null_success": trials["success"].to_numpy(bool) & is_null(trials),
            "n_trial": trials["n_trial"].to_numpy(float),
            "duration": trials["duration_months"].to_numpy(float),
        }
    )
    per_rep = frame.groupby("rep", sort=True).agg(
        any_success=("success", "any"),
        successes=("success", "sum"),
        any_null_success=("null_success", "any"),
        n_trial=("n_trial", "max"),
        duration=("duration", "max"),
    )
    values: dict[str, tuple[float, float]] = {
        "n_rep": (float(len(per_rep)), 0.0),
        "any_success": proportion(per_rep["any_success"]),
        "expected_successes": mean(per_rep["successes"]),
        "expected_n_trial": mean(per_rep["n_trial"]),
        "expected_duration_months": mean(per_rep["duration"]),
    }
    if is_null(trials).any():
        values["any_null_success"] = proportion(per_rep["any_null_success"])
    return [(TRIAL_LEVEL, m, *values[m]) for m in TRIAL_METRICS if m in values]


def performance(trials: pd.DataFrame) -> pd.DataFrame:
    """Operating characteristics with Monte Carlo SEs, one row per comparison and metric.

    Parameters
    ----------
    trials:
        The tidy trials table of :func:`alsim.trial.run_trials` (contract columns, checked by
        :func:`alsim.results.table.check_trials`).

    Returns
    -------
    pandas.DataFrame
        Columns ``comparison`` (regimen name, or :data:`TRIAL_LEVEL` for trial-level rows),
        ``metric`` (see :data:`COMPARISON_METRICS` and :data:`TRIAL_METRICS`), ``est`` and
        ``mcse`` (Monte Carlo SE; 0 for counts, NaN where undefined, e.g. fewer than 2
        replicates). Comparisons keep their order of first appearance; formulas in the module
        docstring (Morris, White & Crowther, Stat Med 2019, doi:10.1002/sim.8086).

    Examples
    --------
    >>> from alsim.results.synthetic import synthetic_trials
    >>> perf = performance(synthetic_trials(n_rep=200, seed=1))
    >>> list(perf.columns)
    ['comparison', 'metric', 'est', 'mcse']
    """
    check_trials(trials)
    rows: list[tuple[str, str, float, float]] = []
    names = pd.unique(trials["comparison"].astype(str))
    comparison = trials["comparison"].astype(str)
    for name in names:
        rows.extend(_comparison_rows(name, trials[comparison == name].sort_values("rep")))
    if len(names) > 1:
        rows.extend(_trial_rows(trials))
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    out["est"] = out["est"].astype(float)
    out["mcse"] = out["mcse"].astype(float)
    return out


def wide_performance(perf: pd.DataFrame, metrics=None) -> pd.DataFrame:
    """``performance`` output as one row per metric and one ``est``/``mcse`` column pair per comparison."""
    frame = perf if metrics is None else perf[perf["metric"].isin(metrics)]
    est = frame.pivot(index="metric", columns="comparison", values="est")
    se = frame.pivot(index="metric", columns="comparison", values="mcse")
    order = [m for m in (*COMPARISON_METRICS, *TRIAL_METRICS) if m in est.index]
    order = list(dict.fromkeys(order))
    columns = list(pd.unique(frame["comparison"]))
    return pd.concat({"est": est.loc[order, columns], "mcse": se.loc[order, columns]}, axis=1)
