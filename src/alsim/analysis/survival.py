"""Kaplan-Meier survival estimation (vectorised NumPy, right censoring).

The product-limit estimator (Kaplan & Meier, J Am Stat Assoc 1958;53:457-481) with Greenwood's
variance (Greenwood 1926). Conventions, identical to R ``survival::survfit``:

* at a tied time, events are counted before censorings (a subject censored at ``t`` is still at
  risk at ``t``);
* ``survival[i]`` is S(t) just *after* ``times[i]``; S(t) = 1 before the first event time;
* the median is the smallest event time with S(t) <= 0.5; if S(t) equals 0.5 exactly on an
  interval ``[t_i, t_{i+1})`` the median is the midpoint ``(t_i + t_{i+1}) / 2``; if S(t) never
  falls to 0.5 the median is NaN (not reached).

Times are any non-negative unit (alsim uses months); ``event`` is True for an observed event and
False for a censored observation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from alsim.errors import InputError

_EXACT = 1e-12  # S(t) within this of a quantile level counts as "exactly at" it


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier table at the distinct *event* times.

    Attributes
    ----------
    times:
        Distinct times at which at least one event occurred, increasing.
    n_at_risk:
        Number at risk just before each time.
    n_events:
        Number of events at each time.
    survival:
        S(t) just after each time.
    se:
        Greenwood standard error of ``survival``.
    max_time:
        The largest observed time (event or censoring): beyond it S(t) is not estimated.
    """

    times: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray
    survival: np.ndarray
    se: np.ndarray
    max_time: float

    def at(self, t: Any) -> Any:
        """S(t) for a time or array of times (NaN beyond :attr:`max_time` or for NaN input)."""
        return survival_at(self.times, self.survival, t, max_time=self.max_time)

    def quantile(self, q: float) -> float:
        """Smallest time with S(t) <= 1 - ``q`` (``q=0.5`` gives the median)."""
        return _quantile(self.times, self.survival, q)

    @property
    def median(self) -> float:
        """Median survival time (NaN when not reached)."""
        return self.quantile(0.5)


def _validate(time: Any, event: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float).ravel()
    e = np.asarray(event)
    if e.dtype.kind == "f":
        if np.any(~np.isin(e[np.isfinite(e)], (0.0, 1.0))) or not np.all(np.isfinite(e)):
            raise InputError("event", "must be True/False (or 1/0) without missing values")
    elif e.dtype.kind not in "biu":
        raise InputError("event", f"must be boolean, got dtype {e.dtype}")
    e = e.astype(bool).ravel()
    if t.shape != e.shape:
        raise InputError("event", f"must have one entry per time ({t.size}), got {e.size}")
    if not np.all(np.isfinite(t)):
        raise InputError("time", "must be finite numbers without missing values")
    if np.any(t < 0):
        raise InputError("time", "must be non-negative")
    return t, e


def kaplan_meier_table(time: Any, event: Any) -> KaplanMeier:
    """Kaplan-Meier estimate with number at risk, events and Greenwood standard errors.

    Parameters
    ----------
    time:
        Follow-up time per subject (event or censoring time), non-negative, no NaN.
    event:
        True where the event was observed at ``time``, False where the subject was censored.

    Returns
    -------
    KaplanMeier
        The table at the distinct event times (empty arrays when there is no event).

    Raises
    ------
    InputError
        On NaN or negative times, non-boolean events or mismatched lengths.
    """
    t, e = _validate(time, event)
    if t.size == 0:
        empty = np.empty(0)
        return KaplanMeier(empty, empty, empty, empty, empty, float("nan"))
    uniq, inverse = np.unique(t, return_inverse=True)
    d_all = np.bincount(inverse, weights=e.astype(float), minlength=uniq.size)
    n_all = np.bincount(inverse, minlength=uniq.size).astype(float)
    # at risk just before uniq[i]: everyone with time >= uniq[i]
    at_risk_all = n_all[::-1].cumsum()[::-1]
    keep = d_all > 0
    times, d, n = uniq[keep], d_all[keep], at_risk_all[keep]
    survival = np.cumprod(1.0 - d / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n > d, d / (n * (n - d)), np.inf)
    var_sum = np.cumsum(terms)
    with np.errstate(invalid="ignore"):
        se = np.where(np.isfinite(var_sum), survival * np.sqrt(var_sum), np.nan)
    se = np.where(survival == 0.0, np.nan, se)
    return KaplanMeier(times, n, d, survival, se, float(t.max()))


def kaplan_meier(time: Any, event: Any) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier survival curve.

    Parameters
    ----------
    time, event:
        See :func:`kaplan_meier_table`.

    Returns
    -------
    (times, survival)
        Distinct event times (increasing) and S(t) just after each of them.
    """
    km = kaplan_meier_table(time, event)
    return km.times, km.survival


def greenwood_se(time: Any, event: Any) -> tuple[np.ndarray, np.ndarray]:
    """Greenwood standard error of the Kaplan-Meier estimate at each distinct event time.

    ``SE[S(t)] = S(t) * sqrt(sum_{t_i <= t} d_i / (n_i (n_i - d_i)))``; NaN once S(t) reaches 0.

    Returns
    -------
    (times, se)
    """
    km = kaplan_meier_table(time, event)
    return km.times, km.se


def survival_at(
    times: np.ndarray, survival: np.ndarray, t: Any, *, max_time: float | None = None
) -> Any:
    """Evaluate the Kaplan-Meier step function at ``t`` (scalar or array).

    S(t) = 1 before the first event time; beyond ``max_time`` (the largest observed time, if
    given) the curve is not estimated and NaN is returned.
    """
    tq = np.asarray(t, dtype=float)
    times = np.asarray(times, dtype=float)
    survival = np.asarray(survival, dtype=float)
    if survival.size == 0:
        out = np.ones_like(tq)
    else:
        idx = np.searchsorted(times, tq, side="right") - 1
        out = np.where(idx >= 0, survival[np.clip(idx, 0, None)], 1.0)
    out = np.where(np.isnan(tq), np.nan, out)
    if max_time is not None and np.isfinite(max_time):
        out = np.where(tq > max_time, np.nan, out)
    return float(out) if out.ndim == 0 else out


def _quantile(times: np.ndarray, survival: np.ndarray, q: float) -> float:
    if not 0.0 < q < 1.0:
        raise InputError("q", f"must lie strictly between 0 and 1, got {q!r}")
    level = 1.0 - q
    below = np.nonzero(survival <= level + _EXACT)[0]
    if below.size == 0:
        return float("nan")
    i = int(below[0])
    if abs(survival[i] - level) <= _EXACT:
        # flat exactly at the level: midpoint to the next event time (if any)
        return float((times[i] + times[i + 1]) / 2.0) if i + 1 < times.size else float(times[i])
    return float(times[i])


def km_median(time: Any, event: Any) -> float:
    """Kaplan-Meier median survival time (NaN when S(t) never falls to 0.5).

    Parameters
    ----------
    time, event:
        See :func:`kaplan_meier_table`.
    """
    return kaplan_meier_table(time, event).median


def km_quantile(time: Any, event: Any, q: float) -> float:
    """Time by which a fraction ``q`` has had the event (``q=0.25`` gives the first quartile)."""
    return kaplan_meier_table(time, event).quantile(q)
