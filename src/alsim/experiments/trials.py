"""Virtual parallel trials drawn from paired worlds (fast, vectorised over trials).

A pool of virtual patients is simulated twice, untreated and treated from enrolment (common
random numbers: the worlds differ only by the therapy). A trial samples ``n`` eligible patients
without replacement, randomises them 1:1 (the first half of a random order is active) and gives
each patient the world of its arm. The estimate is the difference in mean per-patient endpoint
(active − control) and success is a one-sided Welch t-test at 2.5%. Trials are independent
given the simulated pool; Monte Carlo SEs are conditional on the pool (its size is reported).

This is the same logic as ``alsim.trial`` with ``generator: mechanistic`` (randomisation after
diagnosis, both worlds from the same streams) in a form fast enough for thousands of trials
in seconds. Research and education only, not medical advice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from alsim.experiments.common import prop_se
from alsim.experiments.worlds import World


@dataclass
class Endpoints:
    """Per-patient endpoints in the control and treated worlds (NaN: not evaluable)."""

    control: np.ndarray
    treated: np.ndarray
    eligible: np.ndarray  # bool


def enrolment_months(world: World, rng: np.random.Generator, window=(0.0, 6.0)) -> np.ndarray:
    """Randomisation month after onset: ceil(diagnosis + U(window)) (NaN if never diagnosed)."""
    dx = world.diagnosis
    delay = rng.uniform(window[0], window[1], size=world.n)
    return np.where(np.isfinite(dx), np.ceil(dx + delay), np.nan)


def rows_at(world: World, months: np.ndarray, offset: float) -> np.ndarray:
    """Grid index of each patient's ``months + offset`` after onset (first t at or after it)."""
    t = world.t_months
    k = np.searchsorted(t, np.nan_to_num(months, nan=t[0]) + offset)
    return np.clip(k, 0, t.size - 1)


def slope_endpoint(world: World, enrol: np.ndarray, followup: int) -> np.ndarray:
    """Per-patient OLS slope of the observed ALSFRS-R total, monthly from enrolment (points/mo).

    Visits at enrolment + 0..followup while alive; NaN with fewer than 3 visits.
    """
    t = world.t_months
    k0 = rows_at(world, enrol, 0.0)
    offsets = np.arange(followup + 1)
    cols = np.clip(k0[:, None] + offsets[None, :], 0, t.size - 1)
    rows = np.arange(world.n)[:, None]
    y = world.obs.total[rows, cols].astype(float)
    ok = (y >= 0) & world.obs.alive[rows, cols] & np.isfinite(enrol)[:, None]
    ok &= (k0[:, None] + offsets[None, :]) < t.size
    x = np.broadcast_to(offsets[None, :].astype(float), y.shape)
    m = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = np.where(ok, x, 0).sum(axis=1) / m
        ym = np.where(ok, y, 0).sum(axis=1) / m
        sxy = np.where(ok, (x - xm[:, None]) * (y - ym[:, None]), 0).sum(axis=1)
        sxx = np.where(ok, (x - xm[:, None]) ** 2, 0).sum(axis=1)
        slope = sxy / sxx
    return np.where(m >= 3, slope, np.nan)


def nfl_change_endpoint(
    world: World, enrol: np.ndarray, months: int, readout: str = "nfl_pg_ml"
) -> np.ndarray:
    """log(readout at enrolment + months / at enrolment); NaN if dead by then.

    ``readout``: an :class:`Observations` array, blood NfL by default (``csf_sod1_relative``
    for CSF SOD1).
    """
    rows = np.arange(world.n)
    k0 = rows_at(world, enrol, 0.0)
    k1 = rows_at(world, enrol, float(months))
    alive = world.obs.alive[rows, k1] & np.isfinite(enrol)
    values = getattr(world.obs, readout)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.log(values[rows, k1] / values[rows, k0])
    return np.where(alive, value, np.nan)


def eligible_at(world: World, enrol: np.ndarray, followup: int) -> np.ndarray:
    """Diagnosed, alive at randomisation, follow-up inside the simulated horizon."""
    rows = np.arange(world.n)
    k0 = rows_at(world, enrol, 0.0)
    inside = np.nan_to_num(enrol, nan=np.inf) + followup <= world.t_months[-1]
    return np.isfinite(enrol) & inside & world.obs.alive[rows, k0]


@dataclass
class TrialSummary:
    n: int
    n_rep: int
    mean_estimate: float
    mean_estimate_se: float
    power: float
    power_se: float
    estimates: np.ndarray


def run_parallel_trials(
    endpoints: Endpoints,
    n: int,
    n_rep: int,
    rng: np.random.Generator,
    *,
    higher_is_better: bool = True,
) -> TrialSummary:
    """``n_rep`` 1:1 trials of ``n`` patients from the eligible, evaluable pool."""
    ok = endpoints.eligible & np.isfinite(endpoints.control) & np.isfinite(endpoints.treated)
    pool = np.flatnonzero(ok)
    if pool.size < n:
        raise ValueError(f"pool of {pool.size} evaluable patients is smaller than n={n}")
    keys = rng.random((n_rep, pool.size))
    pick = pool[np.argpartition(keys, n - 1, axis=1)[:, :n]]  # random n, in random order
    half = n // 2
    active = endpoints.treated[pick[:, :half]]
    control = endpoints.control[pick[:, half:]]
    sign = 1.0 if higher_is_better else -1.0
    diff = active.mean(axis=1) - control.mean(axis=1)
    va = active.var(axis=1, ddof=1) / active.shape[1]
    vc = control.var(axis=1, ddof=1) / control.shape[1]
    se = np.sqrt(va + vc)
    with np.errstate(invalid="ignore", divide="ignore"):
        tstat = sign * diff / se
        df = (va + vc) ** 2 / (va**2 / (active.shape[1] - 1) + vc**2 / (control.shape[1] - 1))
    success = stats.t.sf(tstat, df) < 0.025
    success = np.where(np.isfinite(tstat), success, False)
    power = float(success.mean())
    return TrialSummary(
        n=n,
        n_rep=n_rep,
        mean_estimate=float(diff.mean()),
        mean_estimate_se=float(diff.std(ddof=1) / math.sqrt(n_rep)),
        power=power,
        power_se=prop_se(power, n_rep),
        estimates=diff,
    )
