r"""Calibrate the success threshold to a target type I error (same threshold at every look).

A comparison claims success when its success statistic (posterior :math:`\Pr(\mathrm{DRR}<1)`,
or one minus a one-sided p-value) exceeds the threshold :math:`c` at any look. The trials table
records :math:`S_i` = ``stat_max``, the largest statistic over the looks the comparison had
(up to a futility stop, or all of them), so on a **null** scenario the type I error at any
threshold is

.. math:: \hat\alpha(c) = \frac1n \sum_{i=1}^n 1\{S_i > c\}

without re-simulating. :func:`calibrate_threshold` returns the smallest :math:`c` with
:math:`\hat\alpha(c) \le` ``target``: with :math:`m = \lfloor n\,\mathrm{target} \rfloor`, the
order statistic :math:`c = S_{(n-m)}` (an estimate of the :math:`1-\mathrm{target}` quantile of
:math:`S`). Its Monte Carlo uncertainty is the distribution-free order-statistic interval for
that quantile: the number of :math:`S_i` below the true quantile is
:math:`\mathrm{Binomial}(n, 1-\mathrm{target})`, so :math:`[S_{(l)}, S_{(u)}]` with
:math:`l = F^{-1}(\beta/2)`, :math:`u = F^{-1}(1-\beta/2)+1` (:math:`F` that binomial's CDF,
:math:`\beta = 1-` ``conf_level``) covers it with probability about ``conf_level``. The achieved
type I error is reported with its MCSE :math:`\sqrt{\hat\alpha(1-\hat\alpha)/n}` (Morris, White &
Crowther, Stat Med 2019, doi:10.1002/sim.8086).

Assumptions (documented in docs/trial-results.md):

* **The same threshold at every look** (interims and final), as in HEALEY's final rule
  :math:`\Pr(\mathrm{DRR}<1) > 0.979` (shared/science/trials.md B1). Look-specific thresholds
  (e.g. O'Brien-Fleming-like) cannot be recomputed from ``stat_max``.
* **Which looks count.** With early success allowed, success can be claimed at every look and
  the statistic is ``stat_max``. Without early success (HEALEY's default) only the final look
  counts: the statistic is ``stat`` for comparisons that reached the final analysis and
  :math:`-\infty` for those stopped early for futility (``statistic="final"``). alsim's
  engine (:func:`alsim.trial.run_trials`) puts only looks at which success can be claimed into
  ``stat_max``, so there both agree; ``"final"`` also protects tables from other sources whose
  ``stat_max`` counts interim crossings that claimed nothing.
  ``statistic="auto"`` (default) uses ``stat_max`` when the table has early successes, else the
  one of the two that reproduces the simulated ``success`` at the simulated threshold
  (``"final"`` when both do); a warning is issued when the chosen statistic does not
  reproduce it.
* **Futility stops do not depend on the success threshold** (contract), so a comparison's looks
  up to its futility stop are the same at every threshold.
* **Early success**: a comparison that stopped early for success at the simulated threshold
  would have continued at a higher one, so its later looks are unknown. Recomputation is exact
  for thresholds up to the simulated one, or when the null run had no early success (simulate
  the null scenario with early success off, or a threshold of 1). Rows where it is not exact
  are counted in ``n_inexact`` and a warning is issued.
* **Error definition**: ``error="per_comparison"`` makes every null comparison's own type I error
  at most the target (the threshold is the largest of the per-comparison thresholds; the
  interval is Bonferroni-adjusted over comparisons so that it covers the largest true
  threshold with probability at least ``conf_level``). ``error="family_wise"`` controls the
  probability that *any* of the null comparisons of a trial claims success (statistic: the
  largest ``stat_max`` over the trial's null comparisons).

Research and education only, not medical advice.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom

from alsim.errors import InputError
from alsim.results.performance import proportion
from alsim.results.table import check_trials, is_null

ERRORS = ("per_comparison", "family_wise")
STATISTICS = ("auto", "stat_max", "final")


@dataclass(frozen=True)
class ThresholdCalibration:
    """Result of :func:`calibrate_threshold` (every probability is one-sided)."""

    threshold: float
    ci_lower: float
    ci_upper: float
    conf_level: float
    target: float
    achieved: float
    achieved_mcse: float
    error: str
    n: int
    comparisons: tuple[str, ...]
    binding: str | None
    n_inexact: int
    statistic: str
    per_comparison: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (the per-comparison table as a list of records)."""
        out = asdict(self)
        out["comparisons"] = list(self.comparisons)
        out["per_comparison"] = self.per_comparison.to_dict(orient="records")
        return out


def _quantile_threshold(sample: np.ndarray, target: float, beta: float) -> tuple:
    """Smallest c with mean(sample > c) <= target, and its order-statistic interval."""
    s = np.sort(np.asarray(sample, dtype=float))
    n = s.size
    m = math.floor(n * target + 1e-9)
    if m < 1:
        raise InputError(
            "n_rep",
            f"{n} null replicates are too few for a type I error of {target:g}: "
            f"need at least {math.ceil(1 / target)} (better 100 times that)",
        )
    c = float(s[n - m - 1])
    p = 1.0 - target
    lower = int(binom.ppf(beta / 2, n, p))  # 1-based order statistic indices
    upper = int(binom.ppf(1 - beta / 2, n, p)) + 1
    lo = float(s[min(max(lower, 1), n) - 1])
    hi = float(s[min(max(upper, 1), n) - 1])
    achieved, mcse = proportion(s > c)
    return c, lo, hi, achieved, mcse


def _null_rows(trials: pd.DataFrame, comparisons) -> pd.DataFrame:
    if comparisons is None:
        rows = trials[is_null(trials)]
        if rows.empty:
            raise InputError(
                "comparisons",
                "no comparison has a null true value (DRR or HR 1, difference 0); run a null "
                "scenario or name the null comparisons",
            )
        return rows
    names = [str(c) for c in ([comparisons] if isinstance(comparisons, str) else comparisons)]
    known = set(trials["comparison"].astype(str))
    unknown = [c for c in names if c not in known]
    if unknown or not names:
        raise InputError(
            "comparisons",
            f"unknown comparison(s) {', '.join(unknown) or '(none given)'}; "
            f"the table has {', '.join(sorted(known))}",
        )
    return trials[trials["comparison"].astype(str).isin(names)]


def calibrate_threshold(
    source,
    target: float = 0.025,
    *,
    comparisons=None,
    error: str = "per_comparison",
    statistic: str = "auto",
    conf_level: float = 0.95,
    n_rep: int = 10_000,
    seed: int = 1,
    chunk_size: int | None = None,
    progress=None,
) -> ThresholdCalibration:
    """Choose the success threshold so that the type I error on a null scenario is ``target``.

    Parameters
    ----------
    source:
        A trials table (contract columns) simulated under a null scenario, or a
        :class:`alsim.trial.Scenario` or the path of a scenario file: then
        :func:`alsim.trial.run_trials` is called with ``n_rep``, ``seed``, ``chunk_size`` and
        ``progress`` first.
    target:
        One-sided type I error to reach, in (0, 0.5); default 0.025.
    comparisons:
        Names of the null comparisons to calibrate on; default: every comparison whose true
        value is the estimand's null value (DRR or HR 1, slope difference 0).
    error:
        ``"per_comparison"`` (each null comparison at most ``target``) or ``"family_wise"``
        (Pr(any null comparison claims success) at most ``target``).
    statistic:
        ``"stat_max"`` (success possible at every look), ``"final"`` (final look only: ``stat``
        unless stopped early for futility) or ``"auto"`` (see the module docstring).
    conf_level:
        Coverage of the threshold's Monte Carlo interval (default 0.95).

    Returns
    -------
    ThresholdCalibration
        ``threshold`` (success when the statistic is *above* it), its order-statistic interval
        ``ci_lower``-``ci_upper``, the ``achieved`` type I error on these replicates with its
        MCSE, ``n`` replicates used, the comparison that sets it (``binding``), ``n_inexact``
        (rows whose recomputation is not exact, see the module docstring) and a per-comparison
        table.

    Examples
    --------
    >>> from alsim.results.synthetic import synthetic_trials
    >>> null = synthetic_trials(n_rep=4000, seed=3, true_drr={"a": 1.0, "b": 1.0})
    >>> cal = calibrate_threshold(null, target=0.025)
    >>> 0.95 < cal.threshold < 1.0 and cal.achieved <= 0.025
    True
    """
    if error not in ERRORS:
        raise InputError("error", f"must be one of {', '.join(ERRORS)}, got {error!r}")
    if statistic not in STATISTICS:
        raise InputError("statistic", f"must be one of {', '.join(STATISTICS)}, got {statistic!r}")
    if isinstance(target, bool) or not (isinstance(target, int | float) and 0 < target < 0.5):
        raise InputError("target", f"must be a type I error in (0, 0.5), got {target!r}")
    if not (isinstance(conf_level, int | float) and 0 < conf_level < 1):
        raise InputError("conf_level", f"must be in (0, 1), got {conf_level!r}")
    if isinstance(source, pd.DataFrame):
        trials = source
    else:
        trials = _simulate(source, n_rep=n_rep, seed=seed, chunk_size=chunk_size, progress=progress)
    check_trials(trials)
    rows = _null_rows(trials, comparisons)
    statistic = _choose_statistic(rows, statistic)
    rows = rows.assign(_s=_statistic(rows, statistic))
    if rows["_s"].isna().any():
        column = "stat_max" if statistic == "stat_max" else "stat"
        raise InputError(f"trials, column {column}", "has missing values in null comparisons")
    names = list(pd.unique(rows["comparison"].astype(str)))
    beta = 1.0 - float(conf_level)
    key = rows["comparison"].astype(str)
    records = []
    for name in names:
        stat = rows.loc[key == name, "_s"].to_numpy(float)
        k = len(names) if error == "per_comparison" else 1
        c, lo, hi, achieved, mcse = _quantile_threshold(stat, target, beta / k)
        records.append(
            {
                "comparison": name,
                "n": stat.size,
                "threshold": c,
                "ci_lower": lo,
                "ci_upper": hi,
                "achieved": achieved,
                "achieved_mcse": mcse,
            }
        )
    table = pd.DataFrame(records)
    if error == "per_comparison":
        best = table.loc[table["threshold"].idxmax()]
        threshold = float(best["threshold"])
        lo, hi = float(table["ci_lower"].max()), float(table["ci_upper"].max())
        # the binding comparison's own error; the others are at or below the target
        achieved, mcse = float(best["achieved"]), float(best["achieved_mcse"])
        binding, n = str(best["comparison"]), int(best["n"])
        table["achieved_at_threshold"] = [
            proportion(rows.loc[key == c, "_s"] > threshold)[0] for c in names
        ]
    else:
        per_rep = rows.groupby("rep")["_s"].max().to_numpy(float)
        threshold, lo, hi, achieved, mcse = _quantile_threshold(per_rep, target, beta)
        binding, n = None, per_rep.size
    stat = rows["_s"].to_numpy(float)
    _check_recomputation(rows, statistic)
    inexact = rows["early_success"].to_numpy(bool) & (stat <= threshold)
    n_inexact = int(inexact.sum())
    if n_inexact:
        warnings.warn(
            f"{n_inexact} null replicates stopped early for success at a statistic at or below "
            f"the calibrated threshold {threshold:.4g}: their later looks were not simulated, so "
            "the achieved type I error is approximate; simulate the null scenario without early "
            "success (or with a success threshold of 1)",
            stacklevel=2,
        )
    return ThresholdCalibration(
        threshold=threshold,
        ci_lower=lo,
        ci_upper=hi,
        conf_level=float(conf_level),
        target=float(target),
        achieved=achieved,
        achieved_mcse=mcse,
        error=error,
        n=n,
        comparisons=tuple(names),
        binding=binding,
        n_inexact=n_inexact,
        statistic=statistic,
        per_comparison=table,
    )


def _statistic(rows: pd.DataFrame, statistic: str) -> np.ndarray:
    """The success statistic per row: ``stat_max``, or the final look's (see the module)."""
    if statistic == "stat_max":
        return rows["stat_max"].to_numpy(float)
    return np.where(rows["early_futility"].to_numpy(bool), -np.inf, rows["stat"].to_numpy(float))


def _mismatches(rows: pd.DataFrame, statistic: str) -> int:
    recomputed = _statistic(rows, statistic) > rows["threshold"].to_numpy(float)
    return int((recomputed != rows["success"].to_numpy(bool)).sum())


def _choose_statistic(rows: pd.DataFrame, statistic: str) -> str:
    if statistic != "auto":
        return statistic
    if rows["early_success"].to_numpy(bool).any():
        return "stat_max"
    final, all_looks = _mismatches(rows, "final"), _mismatches(rows, "stat_max")
    return "stat_max" if all_looks < final else "final"


def _check_recomputation(rows: pd.DataFrame, statistic: str) -> None:
    """Warn when the statistic does not reproduce the simulated ``success``."""
    mismatched = _mismatches(rows, statistic)
    if mismatched:
        warnings.warn(
            f"for {mismatched} of {len(rows)} rows, {statistic} > threshold does not reproduce "
            "the simulated success: the statistic must cover exactly the looks at which success "
            "could be claimed; the recomputed error rates may be wrong",
            stacklevel=3,
        )


def rejection_rate(
    trials: pd.DataFrame,
    thresholds,
    *,
    comparisons=None,
    family_wise: bool = False,
    statistic: str = "auto",
) -> pd.DataFrame:
    """Pr(success) at each threshold, recomputed without re-simulating (assumptions above).

    Returns columns ``threshold``, ``comparison`` (``"(family-wise)"`` when ``family_wise``),
    ``rate`` and ``mcse``. ``comparisons`` defaults to every comparison in the table;
    ``statistic`` as in :func:`calibrate_threshold`.
    """
    check_trials(trials)
    if statistic not in STATISTICS:
        raise InputError("statistic", f"must be one of {', '.join(STATISTICS)}, got {statistic!r}")
    rows = trials if comparisons is None else _null_rows(trials, comparisons)
    statistic = _choose_statistic(rows, statistic)
    rows = rows.assign(_s=_statistic(rows, statistic))
    grid = np.atleast_1d(np.asarray(thresholds, dtype=float))
    groups: dict[str, np.ndarray]
    if family_wise:
        groups = {"(family-wise)": rows.groupby("rep")["_s"].max().to_numpy(float)}
    else:
        groups = {
            str(name): g["_s"].to_numpy(float)
            for name, g in rows.groupby(rows["comparison"].astype(str), sort=False)
        }
    records = []
    for name, stat in groups.items():
        for c in grid:
            rate, mcse = proportion(stat > c)
            records.append({"threshold": float(c), "comparison": name, "rate": rate, "mcse": mcse})
    return pd.DataFrame(records)


def _simulate(source, *, n_rep, seed, chunk_size, progress) -> pd.DataFrame:
    from alsim import trial as trial_api

    scenario = source
    if isinstance(source, str | Path):
        scenario = trial_api.load_scenario(source)
    return trial_api.run_trials(scenario, n_rep, seed, chunk_size=chunk_size, progress=progress)
