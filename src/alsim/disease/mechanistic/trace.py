"""Why-trace: everything the model did for one virtual patient, month by month.

``trace_patient(spec, index)`` re-simulates the random-number block that holds patient ``index``
of the cohort described by ``spec`` (so the patient is exactly the one in the cohort) while
recording every pool's pathway burdens and surviving neurons, and returns them with the
regional function, the ALSFRS-R items, FVC and NfL on one onset-aligned monthly time axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsim.clinical.alsfrs import ITEM_COLUMNS
from alsim.disease.mechanistic.engine import draw_patient_parameters, simulate_trajectories
from alsim.disease.mechanistic.observe import _align, observe
from alsim.disease.mechanistic.params import MechanisticParams, load_params
from alsim.disease.mechanistic.population import sample_population
from alsim.disease.mechanistic.schema import PATHWAYS, POOL_NAMES, REGIONS
from alsim.errors import InputError
from alsim.rng import BLOCK_SIZE, BlockStreams


@dataclass(frozen=True)
class PatientTrace:
    """One patient's trace: ``profile`` (who) and ``timeline`` (one row per month)."""

    subject_id: str
    profile: dict
    timeline: pd.DataFrame


def trace_patient(spec, index: int, params: MechanisticParams | None = None) -> PatientTrace:
    """Trace patient ``index`` (0-based) of the cohort ``spec`` (a :class:`CohortSpec`)."""
    params = params or load_params()
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < spec.n:
        raise InputError("index", f"must be an integer in 0..{spec.n - 1}, got {index!r}")
    start = (index // BLOCK_SIZE) * BLOCK_SIZE
    stop = min(start + BLOCK_SIZE, spec.n)
    streams = BlockStreams(spec.seed, start, stop)
    population = sample_population(streams, ancestry=spec.ancestry, genotype=spec.genotype)
    draws = draw_patient_parameters(population, params, streams)
    traj = simulate_trajectories(
        population, draws, params, horizon_months=spec.horizon_months, record_pools=True
    )
    obs = observe(
        traj,
        population,
        params,
        streams,
        horizon_months=spec.horizon_months,
        pre_onset_months=spec.pre_onset_months,
    )
    i = index - start
    t = obs.t_months
    times = traj.onset_months[i] + t
    pools = _align(traj.neurons[i : i + 1], times[None, :], 1.0)[0]
    pathways = _align(
        traj.pathways[i : i + 1].reshape(1, traj.pathways.shape[1], -1), times[None, :], 0.0
    )[0].reshape(t.size, len(POOL_NAMES), len(PATHWAYS))
    function = _align(traj.function[i : i + 1], times[None, :], traj.function[i, 0][None, :])[0]
    timeline = {"t_months": t, "alive": obs.alive[i]}
    for k, pool in enumerate(POOL_NAMES):
        timeline[f"neurons_{pool}"] = pools[:, k]
        for j, pathway in enumerate(PATHWAYS):
            timeline[f"{pathway}_{pool}"] = pathways[:, k, j]
    for r, region in enumerate(REGIONS):
        timeline[f"function_{region}"] = function[:, r]
    for k, item in enumerate(ITEM_COLUMNS):
        timeline[item] = np.where(obs.alive[i], obs.items[i, :, k], -1)
    timeline["alsfrs_r_total"] = obs.total[i]
    timeline["fvc_percent"] = obs.fvc_percent[i]
    timeline["nfl_pg_ml"] = obs.nfl_pg_ml[i]
    frame = pd.DataFrame(timeline)
    profile = population.to_frame().iloc[i].to_dict()
    profile.update({k: float(v[i]) for k, v in obs.milestones.items()})
    profile["presymptomatic_months"] = float(traj.onset_months[i])
    profile["hazard_scale"] = float(draws.hazard[i])
    profile["spread_rate"] = float(draws.spread[i])
    profile["reinnervation_capacity"] = float(draws.reinnervation[i])
    return PatientTrace(subject_id=f"VP{index:07d}", profile=profile, timeline=frame)
