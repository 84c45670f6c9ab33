"""Virtual cohorts: sample patients, run the mechanistic model, observe them, as tidy tables.

:func:`make_cohort` splits the cohort into chunks of whole random-number blocks
(:mod:`alsim.rng`), simulates each chunk (in this process or in a pool of worker processes) and
concatenates the chunks in order. Because every draw comes from a per-block stream, the same seed
gives the same cohort for any chunk size and any number of workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from alsim.clinical.alsfrs import ITEM_COLUMNS, Q5A, Q5B, VISIT_ITEM_COLUMNS
from alsim.disease.mechanistic.engine import (
    PathwayEffect,
    draw_patient_parameters,
    simulate_trajectories,
)
from alsim.disease.mechanistic.observe import observe
from alsim.disease.mechanistic.params import MechanisticParams, load_params
from alsim.disease.mechanistic.population import sample_population
from alsim.disease.mechanistic.schema import ANCESTRIES, GENOTYPES, REGIONS
from alsim.errors import InputError
from alsim.parallel import process_pool
from alsim.rng import BLOCK_SIZE, BlockStreams, check_seed

DEFAULT_HORIZON_MONTHS = 120
DEFAULT_PRE_ONSET_MONTHS = 48


@dataclass(frozen=True)
class CohortSpec:
    """What to simulate. Validated on construction."""

    n: int
    seed: int
    ancestry: str = "european"
    genotype: str | None = None
    horizon_months: int = DEFAULT_HORIZON_MONTHS
    pre_onset_months: int = DEFAULT_PRE_ONSET_MONTHS
    visit_every_months: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int | np.integer) or self.n < 1:
            raise InputError("n", f"must be a positive integer, got {self.n!r}")
        check_seed(self.seed)
        if self.ancestry not in ANCESTRIES:
            raise InputError(
                "ancestry", f"must be one of {', '.join(ANCESTRIES)}, got {self.ancestry!r}"
            )
        if self.genotype is not None and self.genotype not in GENOTYPES:
            raise InputError(
                "genotype", f"must be one of {', '.join(GENOTYPES)}, got {self.genotype!r}"
            )
        for name, low in (
            ("horizon_months", 1),
            ("pre_onset_months", 0),
            ("visit_every_months", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise InputError(name, f"must be an integer >= {low}, got {value!r}")


@dataclass
class Cohort:
    """A simulated cohort: ``patients`` (one row each) and ``visits`` (one row per visit)."""

    spec: CohortSpec
    patients: pd.DataFrame
    visits: pd.DataFrame
    params_digest: str = ""
    extras: dict = field(default_factory=dict)


def chunk_state(
    spec: CohortSpec,
    start: int,
    stop: int,
    params: MechanisticParams,
    *,
    effects: tuple[PathwayEffect, ...] = (),
    population_params=None,
    record_pools: bool = False,
):
    """The model state of patients ``start..stop`` (``start`` on a block boundary).

    Returns ``(population, trajectories, observations)``: what :func:`simulate_chunk` turns into
    tables, for callers that need the latent trajectories (e.g. neuron counts per pool with
    ``record_pools``). Effect masks and per-patient starts are given for the whole cohort; each
    chunk sees its own slice.
    """
    streams = BlockStreams(spec.seed, start, stop)
    population = sample_population(
        streams, ancestry=spec.ancestry, genotype=spec.genotype, params=population_params
    )
    draws = draw_patient_parameters(population, params, streams)
    effects = tuple(
        replace(
            e,
            mask=None if e.mask is None else np.asarray(e.mask, dtype=bool)[start:stop],
            start_months=e.start_months
            if np.ndim(e.start_months) == 0
            else np.asarray(e.start_months, dtype=float)[start:stop],
        )
        for e in effects
    )
    trajectories = simulate_trajectories(
        population,
        draws,
        params,
        horizon_months=spec.horizon_months,
        effects=effects,
        record_pools=record_pools,
    )
    obs = observe(
        trajectories,
        population,
        params,
        streams,
        horizon_months=spec.horizon_months,
        pre_onset_months=spec.pre_onset_months,
        effects=effects,
    )
    return population, trajectories, obs


def simulate_chunk(
    spec: CohortSpec,
    start: int,
    stop: int,
    params: MechanisticParams,
    *,
    effects: tuple[PathwayEffect, ...] = (),
    with_visits: bool = True,
    population_params=None,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Simulate patients ``start..stop`` (``start`` on a block boundary) of a cohort."""
    population, trajectories, obs = chunk_state(
        spec, start, stop, params, effects=effects, population_params=population_params
    )
    ids = np.array([f"VP{i:07d}" for i in range(start, stop)], dtype=object)
    patients = _patients_table(ids, population, trajectories, obs, spec)
    visits = _visits_table(ids, obs, spec) if with_visits else None
    return patients, visits


def _patients_table(ids, population, trajectories, obs, spec) -> pd.DataFrame:
    frame = population.to_frame()
    frame.insert(0, "subject_id", ids)
    # The region where function fell first is the clinically observed onset region.
    frame["onset_region"] = pd.Categorical.from_codes(
        trajectories.onset_region, categories=list(REGIONS)
    )
    for name, values in obs.milestones.items():
        frame[name] = values
    frame["horizon_months"] = float(spec.horizon_months)
    frame["presymptomatic_months"] = trajectories.onset_months
    t = obs.t_months
    diag = obs.milestones["t_diagnosis_months"]
    at = np.clip(np.searchsorted(t, np.nan_to_num(diag, nan=t[-1])), 0, t.size - 1)
    rows = np.arange(len(ids))
    has = ~np.isnan(diag)
    total = obs.total[rows, at].astype(float)
    frame["alsfrs_r_diagnosis"] = np.where(has & (total >= 0), total, np.nan)
    frame["fvc_percent_diagnosis"] = np.where(has, obs.fvc_percent[rows, at], np.nan)
    frame["nfl_diagnosis_pg_ml"] = np.where(has, obs.nfl_pg_ml[rows, at], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["delta_fs_diagnosis"] = np.where(
            has & (diag > 0), (48.0 - frame["alsfrs_r_diagnosis"]) / diag, np.nan
        )
    return frame


def _visits_table(ids, obs, spec: CohortSpec) -> pd.DataFrame:
    t = obs.t_months
    keep_times = (t.astype(int) % spec.visit_every_months) == 0
    alive = obs.alive & keep_times[None, :]
    rows, cols = np.nonzero(alive)
    items = obs.items[rows, cols]
    gastro = obs.gastrostomy[rows, cols]
    data = {"subject_id": ids[rows], "t_months": t[cols], "alive": np.ones(rows.size, dtype=bool)}
    for k, name in enumerate(ITEM_COLUMNS):
        if name == "q5_cutting":
            data[Q5A] = pd.array(np.where(gastro, 0, items[:, k]), dtype="Int64")
            data[Q5A][gastro] = pd.NA
            data[Q5B] = pd.array(np.where(gastro, items[:, k], 0), dtype="Int64")
            data[Q5B][~gastro] = pd.NA
        else:
            data[name] = pd.array(items[:, k], dtype="Int64")
    frame = pd.DataFrame(data)
    frame = frame[["subject_id", "t_months", "alive", *VISIT_ITEM_COLUMNS]]
    frame["gastrostomy"] = gastro
    frame["alsfrs_r_total"] = obs.total[rows, cols].astype(np.int16)
    frame["fvc_percent"] = obs.fvc_percent[rows, cols]
    frame["nfl_pg_ml"] = obs.nfl_pg_ml[rows, cols]
    frame["nfl_control_pg_ml"] = obs.nfl_control_pg_ml[rows, cols]
    frame["csf_nfl_pg_ml"] = obs.csf_nfl_pg_ml[rows, cols]
    frame["csf_sod1_relative"] = obs.csf_sod1_relative[rows, cols]
    frame["weight_kg"] = obs.weight_kg[rows, cols]
    frame["mu_fraction"] = obs.mu_fraction[rows, cols]
    frame["fa_cst"] = obs.fa_cst[rows, cols]
    return frame


def chunk_bounds(n: int, chunk_size: int) -> list[tuple[int, int]]:
    """Chunks of whole random-number blocks covering ``0..n``."""
    if chunk_size < 1:
        raise InputError("chunk_size", f"must be positive, got {chunk_size}")
    size = max(BLOCK_SIZE, (chunk_size // BLOCK_SIZE) * BLOCK_SIZE)
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def _run_chunk(args):
    spec, start, stop, params, effects, with_visits, population_params = args
    return simulate_chunk(
        spec,
        start,
        stop,
        params,
        effects=effects,
        with_visits=with_visits,
        population_params=population_params,
    )


def make_cohort(
    spec: CohortSpec,
    *,
    params: MechanisticParams | None = None,
    chunk_size: int = 2 * BLOCK_SIZE,
    workers: int = 1,
    effects: tuple[PathwayEffect, ...] = (),
    with_visits: bool = True,
    population_params=None,
    progress=None,
) -> Cohort:
    """Simulate a cohort; identical for any ``chunk_size`` and ``workers`` given the same seed.

    ``progress``, if given, is called with the number of patients finished after each chunk.
    """
    params = params or load_params()
    for effect in effects:
        if np.ndim(effect.start_months) and np.shape(effect.start_months) != (spec.n,):
            raise InputError(
                "effects.start_months",
                f"needs one value per patient ({spec.n}), got shape "
                f"{np.shape(effect.start_months)}",
            )
        if effect.mask is not None and np.shape(effect.mask) != (spec.n,):
            raise InputError(
                "effects.mask",
                f"needs one value per patient ({spec.n}), got shape {np.shape(effect.mask)}",
            )
    bounds = chunk_bounds(spec.n, chunk_size)
    jobs = [(spec, a, b, params, effects, with_visits, population_params) for a, b in bounds]
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError("workers", f"must be a positive integer, got {workers!r}")
    results = []
    if workers == 1 or len(jobs) == 1:
        for job in jobs:
            results.append(_run_chunk(job))
            if progress:
                progress(job[2] - job[1])
    else:
        with process_pool(min(workers, os.cpu_count() or 1, len(jobs))) as pool:
            for job, result in zip(jobs, pool.map(_run_chunk, jobs), strict=True):
                results.append(result)
                if progress:
                    progress(job[2] - job[1])
    patients = pd.concat([r[0] for r in results], ignore_index=True)
    visits = (
        pd.concat([r[1] for r in results], ignore_index=True) if with_visits else pd.DataFrame()
    )
    return Cohort(spec=spec, patients=patients, visits=visits, params_digest=params.digest())
