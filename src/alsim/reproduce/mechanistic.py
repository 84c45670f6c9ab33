"""VALOR-like trials on the mechanistic model: tofersen's biomarker fall and its functional effect.

The trial engine's ``generator: mechanistic`` has no delayed-start design yet, so the VALOR rows
of the reproduction table that check the *disease model* (not the catalogue's empirical effect)
are simulated here, from paired worlds of SOD1 carriers (common random numbers, as in
:mod:`alsim.experiments.trials`):

- a pool of ``n_pool`` SOD1-ALS patients is simulated untreated, treated from randomisation
  (diagnosis + U(0, 6) months, rounded up to the month) and treated from randomisation + 28 weeks
  (the placebo group's switch in the open-label extension);
- a trial draws ``n`` evaluable patients without replacement, as VALOR's enrolment did: 60 of its
  108 patients were faster-progressing (pre-randomisation ΔFS >= 0.7 points/month here; VALOR's
  rule also used the variant type), against about 5% of all SOD1 carriers in the model, so the
  faster and the other patients are drawn separately; it allocates them 2:1 (two thirds of a
  random order get tofersen);
- endpoints: plasma NfL at 28 weeks as a fraction of baseline (tofersen arm, geometric mean);
  ALSFRS-R change at 28 weeks in the faster-progressing subgroup (pre-randomisation ΔFS >=
  0.7 points/month), tofersen minus placebo; ALSFRS-R change at 52 weeks, early minus delayed
  start. Patients who died before the endpoint visit are not evaluable (the trials analysed
  survivors' change).

Research and education only, not medical advice.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from alsim.errors import InputError

__all__ = ["ENDPOINTS", "valor_values"]

SWITCH_MONTHS = 28 * 12.0 / 52.0  # placebo -> tofersen at week 28 (6.46 months)
YEAR_MONTHS = 52 * 12.0 / 52.0
FASTER_DFS = 0.7  # points/month before randomisation (VALOR's rule also used the variant type)
N_POOL = 8192

#: endpoint -> (trial size, of which faster-progressing): VALOR randomised 108, 60 faster
ENDPOINTS = {
    "nfl_fraction_28wk": (108, 60),
    "alsfrs_change_28wk_faster": (60, 60),
    "alsfrs_change_52wk_early_minus_delayed": (108, 60),
}


@functools.lru_cache(maxsize=2)
def _worlds(seed: int, n_pool: int):
    """Per-patient endpoints of the three worlds (untreated, early start, delayed start).

    Cached per (seed, pool size) for the default parameter set: asking again for a row with the
    same seed (a rerun of the table in one process) does not simulate the pool again."""
    from alsim.cohort.simulate import CohortSpec
    from alsim.experiments.common import tofersen
    from alsim.experiments.trials import eligible_at, enrolment_months, rows_at
    from alsim.experiments.worlds import simulate_world

    spec = CohortSpec(n=n_pool, seed=seed, genotype="SOD1", horizon_months=60, pre_onset_months=0)
    base = simulate_world(spec)
    enrol = enrolment_months(base, np.random.default_rng([seed, 28]))
    early = simulate_world(spec, (tofersen(enrol),))
    delayed = simulate_world(spec, (tofersen(enrol + SWITCH_MONTHS),))
    rows = np.arange(base.n)
    k0 = rows_at(base, enrol, 0.0)

    def at(world, attr, months):
        k = rows_at(world, enrol, months)
        alive = world.obs.alive[rows, k] & np.isfinite(enrol)
        value = getattr(world.obs, attr)[rows, k].astype(float)
        return np.where(alive, value, np.nan)

    total0 = base.obs.total[rows, k0].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        dfs = (48.0 - total0) / enrol
        nfl0 = base.obs.nfl_pg_ml[rows, k0]
        out = {
            "eligible": eligible_at(base, enrol, math.ceil(YEAR_MONTHS)),
            "faster": dfs >= FASTER_DFS,
            "nfl_treated": np.log(at(early, "nfl_pg_ml", SWITCH_MONTHS) / nfl0),
            "change28_control": at(base, "total", SWITCH_MONTHS) - total0,
            "change28_treated": at(early, "total", SWITCH_MONTHS) - total0,
            "change52_early": at(early, "total", YEAR_MONTHS) - total0,
            "change52_delayed": at(delayed, "total", YEAR_MONTHS) - total0,
        }
    return out


def valor_values(endpoint: str, n_rep: int, seed: int, *, n_pool: int = N_POOL) -> np.ndarray:
    """The per-trial value of ``endpoint`` (a key of :data:`ENDPOINTS`) in ``n_rep`` trials."""
    if endpoint not in ENDPOINTS:
        raise InputError("metric_args.endpoint", f"unknown VALOR endpoint {endpoint!r}")
    w = _worlds(int(seed), int(n_pool))
    n, n_faster = ENDPOINTS[endpoint]
    if endpoint == "nfl_fraction_28wk":
        active_values, control_values = w["nfl_treated"], None
    elif endpoint == "alsfrs_change_28wk_faster":
        active_values, control_values = w["change28_treated"], w["change28_control"]
    else:
        active_values, control_values = w["change52_early"], w["change52_delayed"]
    rng = np.random.default_rng([seed, 52, n_rep])
    parts = []
    for group, size in ((w["faster"], n_faster), (~w["faster"], n - n_faster)):
        pool = np.flatnonzero(w["eligible"] & group)
        if pool.size < size:
            raise InputError("n_pool", f"{pool.size} eligible patients cannot give {size}")
        if size:
            keys = rng.random((n_rep, pool.size))
            parts.append(pool[np.argpartition(keys, size - 1, axis=1)[:, :size]])
    pick = np.concatenate(parts, axis=1)
    pick = np.take_along_axis(pick, np.argsort(rng.random(pick.shape), axis=1), axis=1)
    n_active = round(n * 2 / 3)
    active = active_values[pick[:, :n_active]]
    if control_values is None:  # tofersen arm's geometric mean fraction of baseline, in %
        return 100.0 * (np.exp(np.nanmean(active, axis=1)) - 1.0)
    control = control_values[pick[:, n_active:]]
    return np.nanmean(active, axis=1) - np.nanmean(control, axis=1)
