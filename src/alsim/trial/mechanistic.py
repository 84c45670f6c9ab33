r"""Trial data from the mechanistic model (``generator: mechanistic``).

The mechanistic cohort (:mod:`alsim.disease.mechanistic`, as used by
:func:`alsim.cohort.make_cohort`) is aligned on symptom onset, on a monthly grid. It is mapped
onto trial time as follows, per screening candidate *i*:

* **randomisation** at month :math:`m_i = \lceil T^{dx}_i + \delta_i \rceil` after onset, with
  :math:`T^{dx}_i` the model's diagnosis time and :math:`\delta_i \sim U(a, b)`
  (``mechanistic.enrolment_after_diagnosis_months: [a, b]``) the delay from diagnosis to
  enrolment; a candidate is screenable only if diagnosed, alive at :math:`m_i` and with
  :math:`m_i` + follow-up + extension inside the simulated horizon;
* **baseline attributes** for eligibility/subgroups at :math:`m_i`: ALSFRS-R total, FVC %,
  disease duration :math:`m_i`, ΔFS :math:`= (48 - Y_{m_i})/m_i`, genotype (from the
  population model of the cohort's ``ancestry``, or ``mechanistic.genotype`` for everyone;
  ``population.genotype_probs`` does not apply);
* **visits** at :math:`m_i + v_j` (months after randomisation :math:`v_j`): the ALSFRS-R total
  (item scores with measurement noise, from the model) interpolated linearly between monthly
  grid points and rounded; missing after death;
* **death/PAV** at :math:`\min(T^{death}_i, T^{PAV}_i) - m_i`; **dropout** exponential with
  ``population.overrides.dropout_hazard_per_month`` (default 0.02/month), from its own stream.

A treated patient's :class:`~alsim.treatment.effects.PathwayAction` becomes a
:class:`~alsim.disease.mechanistic.engine.PathwayEffect` starting at month
:math:`m_i + \lceil \text{onset\_months} \rceil` after onset (effects switch on at month
ends), with a per-patient mask. Both worlds (untreated, and treated by each regimen) are
simulated from the same per-patient streams, so they coincide before the effect starts (common
random numbers); the engine then picks, per patient, the world of its allocation (adherent
patients in the product's subgroup get the treated world). Each trial's candidates are a cohort
of their own (seed from ``(seed, rep)``); trials are simulated one after another, so keep
``n_rep`` and sizes small.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from alsim.disease.empirical import decision_draws
from alsim.disease.mechanistic.engine import (
    PathwayEffect,
    draw_patient_parameters,
    simulate_trajectories,
)
from alsim.disease.mechanistic.observe import observe
from alsim.disease.mechanistic.params import load_params
from alsim.disease.mechanistic.population import sample_population
from alsim.rng import BlockStreams
from alsim.treatment.apply import PatientDraws
from alsim.trial.population import Candidates

__all__ = ["MechanisticGenerator", "pilot_eligibility"]

_KEY = zlib.crc32(b"trial/mechanistic")


def _rep_seed(entropy: int, rep: int) -> int:
    seq = np.random.SeedSequence(entropy=entropy, spawn_key=(_KEY, rep))
    return int(seq.generate_state(1, dtype=np.uint32)[0])


def _dropout_rate(scenario) -> float:
    return float(scenario.population.overrides.get("dropout_hazard_per_month", 0.02))


def _simulate(scenario, seed: int, n: int, delay_u: np.ndarray, actions) -> dict:
    """One trial's ``n`` candidates: attributes and, per world, outcomes on the monthly grid.

    ``actions``: list of (PathwayAction or None, onset_months) per world (world 0 = untreated).
    """
    mech = scenario.mechanistic
    params = load_params()
    horizon = mech.horizon_months

    def cohort():
        streams = BlockStreams(seed, 0, n)
        pop = sample_population(streams, ancestry=mech.ancestry, genotype=mech.genotype)
        draws = draw_patient_parameters(pop, params, streams)
        return streams, pop, draws

    streams, pop, draws = cohort()
    traj = simulate_trajectories(pop, draws, params, horizon_months=horizon)
    obs = observe(traj, pop, params, streams, horizon_months=horizon, pre_onset_months=0)
    lo, hi = mech.enrolment_after_diagnosis_months
    diag = obs.milestones["t_diagnosis_months"]
    m = np.ceil(np.nan_to_num(diag, nan=np.inf) + lo + (hi - lo) * delay_u)
    span = scenario.followup_months + scenario.extension_months
    ok = np.isfinite(m) & (m + math.ceil(span) + 1 <= horizon) & (m >= 1)
    mi = np.where(ok, m, 1).astype(np.int64)
    rows = np.arange(n)
    total0 = obs.total[rows, mi].astype(float)
    ok &= (total0 >= 0) & obs.alive[rows, mi]
    fvc = obs.fvc_percent[rows, mi]
    attributes = {
        "pre_slope_per_month": np.maximum(48.0 - total0, 0.0) / mi,
        "decline_per_month": np.full(n, np.nan),
        "duration_months": mi.astype(float),
        "fvc_percent": fvc,
        "alsfrs_baseline": total0,
        "genotype": pop.genotype.astype(np.int8),
    }
    worlds = [_world(obs, mi, scenario)]
    for action, onset in actions[1:]:
        if action is None:
            worlds.append(worlds[0])
            continue
        start = mi + math.ceil(onset)
        effects = tuple(
            PathwayEffect(
                start_months=float(month),
                input_factor=tuple(action.input_factor),
                coupling_factor=tuple(action.coupling_factor),
                hazard_factor=action.hazard_factor,
                csf_sod1_factor=action.csf_sod1_factor,
                mask=start == month,
            )
            for month in np.unique(start[ok])
        )
        s2, pop2, draws2 = cohort()
        traj2 = simulate_trajectories(pop2, draws2, params, horizon_months=horizon, effects=effects)
        obs2 = observe(
            traj2, pop2, params, s2, horizon_months=horizon, pre_onset_months=0, effects=effects
        )
        worlds.append(_world(obs2, mi, scenario))
    return {"attributes": attributes, "screenable": ok, "worlds": worlds}


def _world(obs, mi: np.ndarray, scenario) -> dict:
    visits = np.asarray(scenario.visit_months)
    total = obs.total.astype(float)
    total[total < 0] = np.nan
    t = mi[:, None] + visits[None, :]
    k0 = np.clip(np.floor(t).astype(np.int64), 0, total.shape[1] - 1)
    k1 = np.clip(k0 + 1, 0, total.shape[1] - 1)
    frac = t - np.floor(t)
    rows = np.arange(mi.size)[:, None]
    y0, y1 = total[rows, k0], total[rows, k1]
    y = np.where(frac > 0, y0 + frac * (y1 - y0), y0)
    y = np.rint(y)
    death = obs.milestones["t_death_months"]
    pav = obs.milestones["t_pav_months"]
    t_ev = np.fmin(np.nan_to_num(death, nan=np.inf), np.nan_to_num(pav, nan=np.inf)) - mi
    return {"alsfrs": y, "t_event_months": t_ev}


def pilot_eligibility(scenario) -> tuple[float, float]:
    """Eligible fraction of screening candidates from a fixed pilot (and NaN mean decline)."""
    n = 1024
    delay = np.random.default_rng(20_260_101).random(n)
    sim = _simulate(scenario, 20_260_101, n, delay, [(None, 0.0)])
    eligible = sim["screenable"] & scenario.eligibility.mask(sim["attributes"])
    return float(eligible.mean()), math.nan


class MechanisticGenerator:
    """Candidates and precomputed worlds for a chunk of trials (see the module docstring)."""

    def __init__(self, plan, entropy: int, first_rep: int, n_rep: int) -> None:
        s = plan.scenario
        n = plan.n_slots
        self.plan = plan

        def draw(name, method):
            return decision_draws(entropy, f"trial/{name}", first_rep, n_rep, (n,), method)

        delay = draw("enrolment_delay", "random")
        u_adh = draw("adherence", "random")
        e_drop = draw("dropout", "standard_exponential")
        units = plan.units
        actions = [(None, 0.0)] + [(u.product.pathway, u.product.onset_months) for u in units]
        per_rep = [
            _simulate(s, _rep_seed(entropy, first_rep + r), n, delay[r], actions)
            for r in range(n_rep)
        ]
        attrs = {
            k: np.stack([p["attributes"][k] for p in per_rep]) for k in per_rep[0]["attributes"]
        }
        screenable = np.stack([p["screenable"] for p in per_rep])
        eligible = screenable & s.eligibility.mask(attrs)
        n_worlds = len(actions)
        self.alsfrs = np.stack(
            [np.stack([p["worlds"][w]["alsfrs"] for p in per_rep]) for w in range(n_worlds)]
        )
        self.t_event = np.stack(
            [np.stack([p["worlds"][w]["t_event_months"] for p in per_rep]) for w in range(n_worlds)]
        )
        lam = _dropout_rate(s)
        self.t_dropout = e_drop / lam if lam > 0 else np.full(e_drop.shape, np.inf)
        zeros = np.zeros((n_rep, n))
        self.candidates = Candidates(
            attributes=attrs,
            draws=PatientDraws(
                intercept=zeros,
                decline=zeros,
                noise=zeros[..., None],
                e_death=zeros,
                e_dropout=e_drop,
                u_adherence=u_adh,
                e_discontinuation=zeros,
            ),
            eligible=eligible,
            lead_in_decline=None,
        )
        self.sub_masks = [
            np.ones((n_rep, n), dtype=bool)
            if u.product.subgroup is None
            else u.product.subgroup.mask(attrs)
            for u in units
        ]
        self.adh_prob = np.array([u.delivery.adherence_probability for u in units])

    def outcomes(self, rows: np.ndarray, unit: np.ndarray, active: np.ndarray) -> dict:
        enrolled = unit >= 0
        ui = np.where(enrolled, unit, 0).astype(np.int64)
        cols = np.arange(unit.shape[1])
        sub = np.stack(self.sub_masks)[ui, rows[:, None], cols]
        adherent = self.candidates.draws.u_adherence[rows] < self.adh_prob[ui]
        world = np.where(enrolled & active & adherent & sub, ui + 1, 0)
        r = rows[:, None]
        y = self.alsfrs[world, r, cols]
        t_ev = self.t_event[world, r, cols]
        t_dr = self.t_dropout[rows]
        stop = np.minimum(t_ev, t_dr)
        visits = np.asarray(self.plan.visit_months)
        y = np.where(visits < stop[..., None], y, np.nan)
        return {"alsfrs": y, "t_event_months": t_ev, "t_dropout_months": t_dr}
