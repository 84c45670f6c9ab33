"""Paired virtual worlds: the same patients simulated with and without a therapy.

Every experiment compares worlds that share all random draws (common random numbers,
``docs/disease-model.md`` §8): the same seed gives the same patients, and a treated world
differs from the untreated one only through the therapy's :class:`PathwayEffect`. This module
runs the mechanistic engine and the readout layer on one cohort and keeps, besides the
observations, the mean surviving fraction of all eight motor-neuron pools on the onset-aligned
monthly grid (the "surviving-neuron count" the experiments compare).

Research and education only, not medical advice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alsim.cohort.simulate import CohortSpec, chunk_state
from alsim.disease.mechanistic.engine import (
    PathwayEffect,
)
from alsim.disease.mechanistic.observe import Observations
from alsim.disease.mechanistic.params import MechanisticParams, load_params
from alsim.rng import BLOCK_SIZE


@dataclass
class World:
    """One simulated world of a cohort (arrays over patients, onset-aligned months ``t``)."""

    spec: CohortSpec
    t_months: np.ndarray  # (T,) months from symptom onset
    genotype: np.ndarray  # (n,) genotype codes (schema.GENOTYPES)
    onset_from_trigger: np.ndarray  # (n,) months from trigger to symptom onset
    neurons: np.ndarray  # (n, T) mean surviving fraction of the 8 pools (1 = none lost)
    neurons_since_trigger: np.ndarray  # (n, K) the same on the trigger-month grid
    umn: np.ndarray  # (n, T) mean surviving UMN fraction (drives the DTI-like FA)
    last_month: np.ndarray  # (n,) last integrated trigger month (later months repeat it)
    age_onset_years: np.ndarray  # (n,)
    obs: Observations
    #: (n, 5) each pathway's share of the neuron-loss burden B = sum_j w_j x_j (summed over the
    #: 8 pools) at diagnosis, pathway order of PATHWAY_LABELS; NaN if never diagnosed
    burden_share_at_diagnosis: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.genotype.shape[0])

    def milestone(self, name: str) -> np.ndarray:
        return self.obs.milestones[name]

    @property
    def death_or_pav(self) -> np.ndarray:
        """Months from onset to death or PAV (NaN: not within the horizon)."""
        death = self.obs.milestones["t_death_months"]
        pav = self.obs.milestones.get("t_pav_months")
        if pav is None:
            return death
        return np.fmin(death, pav)

    @property
    def diagnosis(self) -> np.ndarray:
        return self.obs.milestones["t_diagnosis_months"]

    def neurons_at_trigger_months(self, months: np.ndarray) -> np.ndarray:
        """Mean surviving fraction at ``months`` after each patient's trigger (n, M)."""
        months = np.atleast_2d(np.asarray(months, dtype=float))
        months = np.broadcast_to(months, (self.n, months.shape[-1]))
        zero = np.zeros(self.n)
        return align_on_onset(self.neurons_since_trigger, zero, months)

    def on_reference_onset(self, values: np.ndarray, reference_onset: np.ndarray) -> np.ndarray:
        """Onset-aligned ``values`` (n, T) of this world re-read on another world's onset grid.

        A presymptomatic therapy can move symptom onset; comparing worlds at the same time
        since the (shared) trigger means reading this world at ``t + ref_onset - own_onset``.
        """
        shift = np.asarray(reference_onset, dtype=float) - self.onset_from_trigger
        t = self.t_months
        pos = np.clip((t[None, :] + shift[:, None]) - t[0], 0.0, t.size - 1.0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, t.size - 1)
        frac = pos - lo
        rows = np.arange(self.n)[:, None]
        return values[rows, lo] * (1.0 - frac) + values[rows, hi] * frac


def _chunk(spec, start, stop, params, effects, population_params):
    # The same model state as alsim.cohort.simulate (same draws), with the pools recorded.
    population, traj, obs = chunk_state(
        spec,
        start,
        stop,
        params,
        effects=effects,
        population_params=population_params,
        record_pools=True,
    )
    neurons_k = traj.neurons.mean(axis=2)  # (n, K) mean over the 8 pools
    umn = align_on_onset(traj.umn_fraction, traj.onset_months, obs.t_months)
    share = burden_share_at(traj, params, obs.milestones["t_diagnosis_months"])
    return (
        population.genotype,
        traj.onset_months,
        neurons_k,
        obs,
        umn,
        population.age_onset_years,
        traj.extras["last_month"],
        share,
    )


def burden_share_at(traj, params: MechanisticParams, months_after_onset) -> np.ndarray:
    """Each pathway's share of the burden ``w_j x_j`` (summed over pools) at a time (n, 5).

    ``months_after_onset`` per patient (NaN: the share is NaN); read at the nearest recorded
    month of the trigger-month grid (needs ``record_pools``).
    """
    x = traj.pathways  # (n, K, 8, 5)
    n, k = x.shape[0], x.shape[1]
    when = np.asarray(months_after_onset, dtype=float)
    row = np.clip(np.rint(np.nan_to_num(traj.onset_months + when, nan=0.0)), 0, k - 1)
    at = x[np.arange(n), row.astype(np.int64)]  # (n, 8, 5)
    contrib = (at * np.asarray(params.pathways.burden_weights, dtype=float)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = contrib / contrib.sum(axis=1, keepdims=True)
    return np.where(np.isfinite(when)[:, None], share, np.nan)


def _pad(arrays, fill_last=True):
    width = max(a.shape[1] for a in arrays)
    out = []
    for a in arrays:
        if a.shape[1] < width:
            tail = np.repeat(a[:, -1:], width - a.shape[1], axis=1)
            a = np.concatenate([a, tail], axis=1)
        out.append(a)
    return np.concatenate(out, axis=0)


def _concat_obs(parts: list[Observations]) -> Observations:
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    fields = {}
    for name in (
        "items",
        "gastrostomy",
        "total",
        "fvc_percent",
        "nfl_pg_ml",
        "nfl_control_pg_ml",
        "csf_nfl_pg_ml",
        "csf_sod1_relative",
        "weight_kg",
        "mu_fraction",
        "fa_cst",
        "alive",
    ):
        fields[name] = np.concatenate([getattr(p, name) for p in parts], axis=0)
    milestones = {
        key: np.concatenate([p.milestones[key] for p in parts]) for key in first.milestones
    }

    def expected_total():
        return np.concatenate([p.expected_total for p in parts], axis=0)

    return Observations(
        t_months=first.t_months,
        milestones=milestones,
        compute_expected_total=expected_total,
        **fields,
    )


def align_on_onset(values_k: np.ndarray, onset: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Values on the trigger-month grid (n, K) read at ``onset + t`` (linear interpolation).

    Before the trigger the state is healthy (the first column holds); after the last column
    the last value holds.
    """
    n, k = values_k.shape
    t = np.asarray(t, dtype=float)
    pos = np.clip(onset[:, None] + (t if t.ndim == 2 else t[None, :]), 0.0, k - 1.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, k - 1)
    frac = pos - lo
    rows = np.arange(n)[:, None]
    return values_k[rows, lo] * (1.0 - frac) + values_k[rows, hi] * frac


def simulate_world(
    spec: CohortSpec,
    effects: tuple[PathwayEffect, ...] = (),
    *,
    params: MechanisticParams | None = None,
    population_params=None,
    chunk_size: int = BLOCK_SIZE,
) -> World:
    """Simulate ``spec`` with ``effects`` (masks and per-patient starts cover the whole cohort).

    The patients and all their draws are those of ``make_cohort(spec)``; chunking does not
    change them (per-block streams).
    """
    params = params or load_params()
    size = max(BLOCK_SIZE, (chunk_size // BLOCK_SIZE) * BLOCK_SIZE)
    parts = [
        _chunk(spec, a, min(a + size, spec.n), params, effects, population_params)
        for a in range(0, spec.n, size)
    ]
    genotype = np.concatenate([p[0] for p in parts])
    onset = np.concatenate([p[1] for p in parts])
    neurons_k = _pad([p[2] for p in parts])
    obs = _concat_obs([p[3] for p in parts])
    t = obs.t_months
    umn = np.concatenate([p[4] for p in parts])
    age = np.concatenate([np.asarray(p[5], dtype=float) for p in parts])
    return World(
        spec=spec,
        t_months=t,
        genotype=genotype,
        onset_from_trigger=onset,
        neurons=align_on_onset(neurons_k, onset, t),
        neurons_since_trigger=neurons_k,
        umn=umn,
        last_month=np.concatenate([p[6] for p in parts]),
        age_onset_years=age,
        obs=obs,
        burden_share_at_diagnosis=np.concatenate([p[7] for p in parts]),
    )
