r"""The trial engine: calendar-time enrolment, allocation, interim looks and final analyses.

Every design is run by one engine on **units**. A unit is a regimen of a platform (its active arm
and its own placebo, ``allocation`` active:placebo in permuted blocks), the single regimen of a
parallel or delayed-start trial, an active arm of a multi-arm trial (allocation ``[1, 0]``), or
the shared control arm of a multi-arm trial (``[0, 1]``, not a comparison itself).

Calendar time (months; 0 = the trial opens):

1. **Screening candidates** arrive as a Poisson process at rate :math:`\lambda / \pi_E`
   (:math:`\lambda` = ``accrual.rate_per_month`` of *eligible* patients, :math:`\pi_E` = the
   eligible fraction, estimated once per scenario from a fixed pilot of 32,768 candidates), so
   eligible patients arrive at rate :math:`\lambda`. Ineligible candidates, and eligible ones
   arriving while no unit is open, are not enrolled.
2. **Allocation** (HEALEY two-stage randomisation): stage 1 picks an open unit with probability
   proportional to its ``weight`` (equal for the platform); stage 2 takes the next entry of the
   unit's permuted-block sequence (blocks of ``active + placebo``). A unit is open from its
   ``entry_months`` until it has ``n`` patients or stops at an interim. A multi-arm control is
   open while some active arm is open. Enrolment ends when every comparison unit is closed.
3. **Interim looks** on a calendar grid: the first when some unit first has ``first_n`` patients
   randomised at least ``first_followup_weeks`` (default: the follow-up) earlier, then every
   ``every_weeks``. At a look, each unit with that many followed patients that is still
   enrolling (or, with ``while_enrolling_only: false``, not yet at its final analysis) is
   analysed with the data observed by then; futility or early success closes it. With
   ``at_n_followed`` the looks are information-based instead: a unit is analysed when its
   n-th patient has had the opportunity for follow-up.
4. **Final analysis** of each unit that did not stop, when its last patient completes
   follow-up (last randomisation + follow-up).

Data at an analysis with cutoff :math:`\tau` are what was observed by then: patient *i*
randomised at :math:`c_i \le \tau` contributes visits :math:`v_j \le \min(F, \tau - c_i)`
before death/PAV or dropout, and survival time :math:`\min(T^D_i, T^O_i, F, \tau - c_i)`
(administrative censoring). The control pool of a comparison is its own placebo (``own``),
every placebo patient of the platform (``all``, non-concurrent included), or the placebo
patients randomised from :math:`w` months before the unit's first to :math:`w` after its last
randomisation by :math:`\tau` (``concurrent``).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alsim.disease.empirical import EmpiricalParams, decision_draws
from alsim.errors import InputError
from alsim.treatment.apply import PatientDraws, empirical_outcomes, treatment_windows
from alsim.treatment.effects import Delivery, Product
from alsim.trial.analyses import ESTIMANDS, ComparisonData, analyse
from alsim.trial.population import Candidates, draw_candidates
from alsim.trial.scenario import WEEKS_TO_MONTHS, Scenario

__all__ = ["COLUMNS", "Plan", "Unit", "make_plan", "simulate_chunk"]

#: Fixed entropy of the eligibility pilot (scenario-determined, independent of the run's seed).
PILOT_ENTROPY = 20_260_101
PILOT_REPS, PILOT_SLOTS = 64, 512

#: Columns and dtypes of the trials table (docs/trial-engine.md, "The trials table").
COLUMNS = {
    "rep": "int64",
    "comparison": "object",
    "design": "object",
    "analysis": "object",
    "n_active": "int64",
    "n_control": "int64",
    "n_trial": "int64",
    "duration_months": "float64",
    "looks": "int64",
    "stop_look": "int64",
    "decision": "object",
    "success": "bool",
    "early_success": "bool",
    "early_futility": "bool",
    "estimate": "float64",
    "estimand": "object",
    "true_value": "float64",
    "stat": "float64",
    "stat_max": "float64",
    "threshold": "float64",
    "ci_lower": "float64",
    "ci_upper": "float64",
}


@dataclass(frozen=True)
class Unit:
    """One allocation unit (see the module docstring)."""

    name: str
    n: int
    active: int
    placebo: int
    entry: float
    weight: float
    rate_ratio: float
    product: Product
    delivery: Delivery
    switch: float
    comparison: bool


@dataclass(frozen=True)
class Plan:
    """Everything a chunk needs, derived once from a scenario."""

    scenario: Scenario
    params: EmpiricalParams
    units: tuple[Unit, ...]
    n_slots: int
    candidate_rate: float
    eligible_fraction: float
    mean_decline_eligible: float
    visit_months: np.ndarray
    followup: float
    extension: float
    true_values: dict[str, float] = field(default_factory=dict)


def _units(s: Scenario) -> tuple[Unit, ...]:
    units = []
    for r in s.regimens:
        a, p = r.allocation
        units.append(
            Unit(
                name=r.name,
                n=r.n,
                active=a,
                placebo=p,
                entry=r.entry_months,
                weight=r.weight,
                rate_ratio=r.population_rate_ratio,
                product=r.product,
                delivery=r.delivery,
                switch=math.inf if r.placebo_switch_months is None else r.placebo_switch_months,
                comparison=True,
            )
        )
    if s.design == "multi_arm":
        c = s.control_arm
        units.append(
            Unit(c.name, c.n, 0, 1, 0.0, c.weight, 1.0, Product(), Delivery(), math.inf, False)
        )
    return tuple(units)


def _true_value(unit: Unit, units: tuple[Unit, ...], estimand: str, plan_mean: float, gamma):
    prod = unit.product
    if prod.is_null:
        return {"drr": 1.0, "slope_difference": 0.0, "hazard_ratio": 1.0}.get(estimand, math.nan)
    diluted = (
        prod.subgroup is not None
        or prod.onset_months > 0
        or not unit.delivery.is_full
        or any(u.rate_ratio != 1.0 for u in units)
    )
    if diluted:
        return math.nan
    if estimand == "drr":
        return prod.drr
    if estimand == "slope_difference":
        return plan_mean * (1.0 - prod.drr)
    if estimand == "hazard_ratio":
        return prod.hr if prod.hr is not None else prod.drr**gamma
    return math.nan


@functools.lru_cache(maxsize=32)
def _plan_cached(text: str, base_dir: str | None) -> Plan:
    from alsim.trial.scenario import validate_scenario

    s = validate_scenario({**json.loads(text), "base_dir": base_dir}, "scenario")
    return _build_plan(s)


def make_plan(s: Scenario) -> Plan:
    """The :class:`Plan` of a scenario (cached on its resolved content)."""
    return _plan_cached(json.dumps(s.model_dump(mode="json"), sort_keys=True), s.base_dir)


def _build_plan(s: Scenario) -> Plan:
    params = s.empirical_params() if s.generator == "empirical" else None
    visits = np.asarray(s.visit_months, dtype=float)
    if params is not None:
        pilot = draw_candidates(s, params, PILOT_ENTROPY, 0, PILOT_REPS, PILOT_SLOTS, visits.size)
        frac = float(pilot.eligible.mean())
        mean_decline = (
            float(pilot.attributes["decline_per_month"][pilot.eligible].mean())
            if frac > 0
            else math.nan
        )
    else:
        from alsim.trial.mechanistic import pilot_eligibility

        frac, mean_decline = pilot_eligibility(s)
    if frac < 0.002:
        raise InputError(
            "eligibility", f"only {100 * frac:.2f}% of candidates are eligible (need >= 0.2%)"
        )
    units = _units(s)
    n_enrol = sum(u.n for u in units)
    rate = s.accrual.rate_per_month
    idle = rate * max(u.entry for u in units)
    n_slots = math.ceil((1.15 * n_enrol + 5.0 * math.sqrt(n_enrol) + idle + 16) / frac)
    gamma = params.death_decline_exponent if params is not None else 1.0
    estimand = ESTIMANDS[s.analysis.primary]
    true_values = {u.name: _true_value(u, units, estimand, mean_decline, gamma) for u in units}
    return Plan(
        scenario=s,
        params=params,
        units=units,
        n_slots=n_slots,
        candidate_rate=rate / frac,
        eligible_fraction=frac,
        mean_decline_eligible=mean_decline,
        visit_months=visits,
        followup=s.followup_months,
        extension=s.extension_months,
        true_values=true_values,
    )


# ------------------------------------------------------------------------------------------------
# Chunk simulation
# ------------------------------------------------------------------------------------------------


class _State:
    """Per-trial, per-slot and per-unit state of a chunk of trials."""

    def __init__(self, n_rep: int, n_slots: int, n_units: int) -> None:
        r, n, u = n_rep, n_slots, n_units
        self.unit = np.full((r, n), -1, dtype=np.int16)
        self.active = np.zeros((r, n), dtype=bool)
        self.ptr = np.zeros(r, dtype=np.int64)
        self.done = np.zeros(r, dtype=bool)
        self.exhausted = np.zeros(r, dtype=bool)
        self.count = np.zeros((r, u), dtype=np.int64)
        self.stopped = np.zeros((r, u), dtype=bool)
        self.first_rand = np.full((r, u), np.inf)
        self.last_rand = np.full((r, u), -np.inf)
        self.trial_first = np.full(r, np.inf)
        self.qualify = np.full((r, u), np.inf)
        self.next_look = np.full(r, np.inf)
        self.look_idx = np.zeros(r, dtype=np.int64)
        # results per unit
        self.looks = np.zeros((r, u), dtype=np.int64)
        self.stop_look = np.zeros((r, u), dtype=np.int64)
        self.decision = np.full((r, u), "inconclusive", dtype=object)
        self.early_success = np.zeros((r, u), dtype=bool)
        self.early_futility = np.zeros((r, u), dtype=bool)
        self.stat_max = np.full((r, u), -np.inf)
        self.analysis_time = np.full((r, u), np.nan)
        self.n_act = np.zeros((r, u), dtype=np.int64)
        self.n_ctl = np.zeros((r, u), dtype=np.int64)
        self.res: dict[str, np.ndarray] = {}

    def store(self, key: str, rows, u: int, values) -> None:
        if key not in self.res:
            self.res[key] = np.full(self.stopped.shape, np.nan)
        self.res[key][rows, u] = values


class _Chunk:
    def __init__(self, plan: Plan, entropy: int, first_rep: int, n_rep: int) -> None:
        self.plan = plan
        s = plan.scenario
        self.n_rep = n_rep
        self.first_rep = first_rep
        units = plan.units
        n = plan.n_slots

        def draw(name, shape, method):
            return decision_draws(entropy, f"trial/{name}", first_rep, n_rep, shape, method)

        if s.generator == "empirical":
            self.cands: Candidates = draw_candidates(
                s, plan.params, entropy, first_rep, n_rep, n, plan.visit_months.size
            )
            self.generator = None
        else:
            from alsim.trial.mechanistic import MechanisticGenerator

            self.generator = MechanisticGenerator(plan, entropy, first_rep, n_rep)
            self.cands = self.generator.candidates
        self.arrival = np.cumsum(draw("accrual", (n,), "standard_exponential"), axis=1) / (
            plan.candidate_rate
        )
        self.stage1 = draw("stage1", (n,), "random")
        lmax = max(u.n for u in units) + max(u.active + u.placebo for u in units)
        seqs = np.zeros((n_rep, len(units), lmax), dtype=bool)
        for k, u in enumerate(units):
            size = u.active + u.placebo
            n_blocks = -(-(u.n + size) // size)
            keys = draw(f"blocks/{k}", (n_blocks, size), "random")
            perm = np.argsort(keys, axis=-1, kind="stable")
            pattern = np.array([True] * u.active + [False] * u.placebo)
            seq = pattern[perm].reshape(n_rep, -1)
            seqs[:, k, :] = (
                seq[:, :lmax]
                if seq.shape[1] >= lmax
                else np.pad(seq, ((0, 0), (0, lmax - seq.shape[1])))
            )
        self.seqs = seqs
        self.sub_masks = np.stack(
            [
                np.ones((n_rep, n), dtype=bool)
                if u.product.subgroup is None
                else u.product.subgroup.mask(self.cands.attributes)
                for u in units
            ]
        )
        self.st = _State(n_rep, n, len(units))
        self._u_entry = np.array([u.entry for u in units])
        self._u_n = np.array([u.n for u in units])
        self._u_weight = np.array([u.weight for u in units])
        self._u_comp = np.array([u.comparison for u in units])
        interim = s.interim
        if interim is not None and interim.at_n_followed is not None:
            at = interim.at_n_followed
            self._at_level = np.full(max(max(at), max(u.n for u in units)) + 2, -1)
            self._at_level[list(at)] = np.arange(len(at))
            self.st.target_time = np.full((n_rep, len(units), len(at)), np.inf)
            self.st.info_ptr = np.zeros((n_rep, len(units)), dtype=np.int64)

    # -- enrolment ----------------------------------------------------------------------------

    def advance(self) -> None:
        """Enrol patients in arrival order until each trial reaches its next look or ends."""
        st, plan = self.st, self.plan
        interim = plan.scenario.interim
        n_slots = plan.n_slots
        n_units = len(plan.units)
        first_fu = None
        if interim is not None:
            weeks = interim.first_followup_weeks
            first_fu = plan.followup if weeks is None else weeks * WEEKS_TO_MONTHS
        while True:
            idx = np.flatnonzero(~st.done & (st.ptr < n_slots))
            if idx.size == 0:
                break
            k = st.ptr[idx]
            t = self.arrival[idx, k]
            go = t < st.next_look[idx]
            idx, k, t = idx[go], k[go], t[go]
            if idx.size == 0:
                break
            open_ = (self._u_entry <= t[:, None]) & (st.count[idx] < self._u_n) & ~st.stopped[idx]
            any_comp = (open_ & self._u_comp).any(1)
            open_ &= self._u_comp | any_comp[:, None]
            w = np.where(open_, self._u_weight, 0.0)
            tot = w.sum(1)
            enrol = self.cands.eligible[idx, k] & (tot > 0)
            cum = np.cumsum(w, 1) / np.where(tot > 0, tot, 1.0)[:, None]
            u = np.minimum((self.stage1[idx, k][:, None] >= cum).sum(1), n_units - 1)
            last_open = n_units - 1 - np.argmax(open_[:, ::-1], axis=1)
            u = np.where(open_[np.arange(idx.size), u], u, last_open)
            e_idx, e_k, e_u, e_t = idx[enrol], k[enrol], u[enrol], t[enrol]
            pos = st.count[e_idx, e_u]
            st.unit[e_idx, e_k] = e_u
            st.active[e_idx, e_k] = self.seqs[e_idx, e_u, pos]
            st.count[e_idx, e_u] += 1
            st.first_rand[e_idx, e_u] = np.minimum(st.first_rand[e_idx, e_u], e_t)
            st.last_rand[e_idx, e_u] = e_t
            st.trial_first[e_idx] = np.minimum(st.trial_first[e_idx], e_t)
            if interim is not None and interim.at_n_followed is not None:
                level = self._at_level[np.minimum(st.count[e_idx, e_u], self._at_level.size - 1)]
                hit = (level >= 0) & self._u_comp[e_u]
                if hit.any():
                    h_idx, h_u = e_idx[hit], e_u[hit]
                    q = e_t[hit] + first_fu
                    st.target_time[h_idx, h_u, level[hit]] = q
                    st.next_look[h_idx] = np.minimum(st.next_look[h_idx], q)
            elif interim is not None:
                hit = (st.count[e_idx, e_u] == interim.first_n) & self._u_comp[e_u]
                if hit.any():
                    h_idx, h_u = e_idx[hit], e_u[hit]
                    q = e_t[hit] + first_fu
                    st.qualify[h_idx, h_u] = q
                    first = st.look_idx[h_idx] == 0
                    st.next_look[h_idx[first]] = np.minimum(st.next_look[h_idx[first]], q[first])
            st.ptr[idx] += 1
            closed = (st.count[idx] >= self._u_n) | st.stopped[idx]
            st.done[idx] = (closed | ~self._u_comp).all(1)
            out = idx[(st.ptr[idx] >= n_slots) & ~st.done[idx]]
            st.exhausted[out] = True
            st.done[out] = True

    # -- outcomes and data --------------------------------------------------------------------

    def outcomes(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Outcomes of every slot of trials ``rows`` (dense ``(len(rows), n_slots, ...)``).

        A patient's outcomes depend only on its own draws and allocation, which never change
        once it is enrolled, so they are computed once per enrolled patient and cached;
        slots not (yet) enrolled hold NaN scores and infinite times.
        """
        self._update_outcomes(rows)
        return {k: v[rows] for k, v in self._out.items()}

    def _update_outcomes(self, rows: np.ndarray) -> None:
        st, plan = self.st, self.plan
        if not hasattr(self, "_out"):
            shape = st.unit.shape
            self._out = {
                "alsfrs": np.full((*shape, plan.visit_months.size), np.nan),
                "t_event_months": np.full(shape, np.inf),
                "t_dropout_months": np.full(shape, np.inf),
            }
            self._computed = np.zeros(shape, dtype=bool)
        need = np.zeros(st.unit.shape, dtype=bool)
        need[rows] = (st.unit[rows] >= 0) & ~self._computed[rows]
        r_idx, k_idx = np.nonzero(need)
        if r_idx.size == 0:
            return
        if self.generator is not None:
            res = self.generator.outcomes(rows, st.unit[rows], st.active[rows])
            pos = np.searchsorted(rows, r_idx) if np.all(np.diff(rows) > 0) else None
            if pos is None:
                lookup = {r: i for i, r in enumerate(rows)}
                pos = np.array([lookup[r] for r in r_idx])
            for key, value in res.items():
                self._out[key][r_idx, k_idx] = value[pos, k_idx]
        else:
            res = self._empirical(r_idx, k_idx)
            for key in self._out:
                self._out[key][r_idx, k_idx] = res[key]
        self._computed[r_idx, k_idx] = True

    def _empirical(self, r_idx: np.ndarray, k_idx: np.ndarray) -> dict[str, np.ndarray]:
        """Empirical outcomes of enrolled patients ``(r_idx, k_idx)`` (1-D patient arrays)."""
        st, plan = self.st, self.plan
        units = plan.units
        ui = st.unit[r_idx, k_idx].astype(np.int64)
        act = st.active[r_idx, k_idx]

        def per_unit(values):
            return np.asarray(values, dtype=float)[ui]

        d_start = per_unit([u.delivery.start_months for u in units])
        switch = per_unit([u.switch for u in units])
        treat_start = np.where(act, d_start, switch + d_start)
        hr = [np.nan if u.product.hr is None else u.product.hr for u in units]
        d = self.cands.draws
        windows = treatment_windows(
            treat_start,
            drr=per_unit([u.product.drr for u in units]),
            hr=per_unit(hr),
            onset_months=per_unit([u.product.onset_months for u in units]),
            adherence=per_unit([u.delivery.adherence for u in units]),
            adherence_probability=per_unit([u.delivery.adherence_probability for u in units]),
            discontinuation_per_month=per_unit(
                [u.delivery.discontinuation_per_month for u in units]
            ),
            in_subgroup=self.sub_masks[ui, r_idx, k_idx],
            u_adherence=d.u_adherence[r_idx, k_idx],
            e_discontinuation=d.e_discontinuation[r_idx, k_idx],
            gamma=plan.params.death_decline_exponent,
        )
        draws = PatientDraws(
            intercept=d.intercept[r_idx, k_idx],
            decline=d.decline[r_idx, k_idx],
            noise=d.noise[r_idx, k_idx],
            e_death=d.e_death[r_idx, k_idx],
            e_dropout=d.e_dropout[r_idx, k_idx],
            u_adherence=d.u_adherence[r_idx, k_idx],
            e_discontinuation=d.e_discontinuation[r_idx, k_idx],
        )
        rate = per_unit([u.rate_ratio for u in units])
        return empirical_outcomes(draws, windows, plan.visit_months, plan.params, rate_factor=rate)

    def comparison(self, rows, u: int, cutoff, horizon: float) -> ComparisonData:
        """Data of comparison ``u`` in trials ``rows`` observed by calendar time ``cutoff``."""
        st, plan = self.st, self.plan
        self._update_outcomes(rows)
        out = self._out
        c = self.arrival[rows]
        unit = st.unit[rows]
        act = st.active[rows]
        by = (unit >= 0) & (c <= cutoff[:, None])
        in_u = by & (unit == u)
        m_act = in_u & act
        plc = by & ~act
        pool = plan.scenario.control.pool
        if pool == "own":
            m_ctl = plc & (unit == u)
        elif pool == "all":
            m_ctl = plc
        else:
            w = plan.scenario.control.concurrent_window_months
            lo = st.first_rand[rows, u] - w
            hi = np.where(in_u, c, -np.inf).max(1) + w
            m_ctl = plc & (c >= lo[:, None]) & (c <= hi[:, None])
        member = m_act | m_ctl
        # compact the members of each trial to the front (slot order kept)
        counts = member.sum(1)
        width = max(int(counts.max()), 1)
        r_i, k_i = np.nonzero(member)
        pos = np.arange(r_i.size) - (np.cumsum(counts) - counts)[r_i]
        order = np.zeros((member.shape[0], width), dtype=np.int64)
        order[r_i, pos] = k_i
        mem = np.zeros(order.shape, dtype=bool)
        mem[r_i, pos] = True

        def take(a):
            return np.take_along_axis(a, order, 1)

        fu = np.minimum(horizon, cutoff[:, None] - take(c))
        r2 = rows[:, None]
        y = out["alsfrs"][r2, order]
        y = np.where(plan.visit_months <= fu[..., None] + 1e-9, y, np.nan)
        t_ev, t_dr = out["t_event_months"][r2, order], out["t_dropout_months"][r2, order]
        t_obs = np.maximum(np.minimum(np.minimum(t_ev, t_dr), fu), 0.0)
        event = t_ev <= np.minimum(t_dr, fu)
        return ComparisonData(
            alsfrs=y,
            visit_months=plan.visit_months,
            arm=take(act).astype(np.int8),
            t_obs=t_obs,
            event=event & mem,
            member=mem,
        )

    # -- analyses -----------------------------------------------------------------------------

    def _analyse(self, rows, u, cutoff, *, final: bool) -> None:
        st, plan = self.st, self.plan
        s = plan.scenario
        a = s.analysis
        data = self.comparison(rows, u, cutoff, plan.followup)
        res = analyse(
            a.primary, data, vc_uncertainty=a.healey_vc_uncertainty, n_grid=a.healey_n_grid
        )
        ok = np.isfinite(res["stat"])
        if final:
            ok = np.ones(rows.size, dtype=bool)
        r = rows[ok]
        if r.size == 0:
            return
        st.looks[r, u] += 1
        stat = res["stat"][ok]
        if final or s.interim.early_success:
            # Only looks at which success can be claimed: then "stat_max > threshold" is the
            # success rule for any threshold (the contract's threshold-calibration column).
            st.stat_max[r, u] = np.fmax(st.stat_max[r, u], stat)
        for key, value in res.items():
            st.store(key, r, u, value[ok])
        st.analysis_time[r, u] = cutoff[ok]
        mem = data.member[ok]
        arm = data.arm[ok]
        st.n_act[r, u] = (mem & (arm == 1)).sum(1)
        st.n_ctl[r, u] = (mem & (arm == 0)).sum(1)
        for name in a.secondary:
            sec = analyse(
                name, data, vc_uncertainty=a.healey_vc_uncertainty, n_grid=a.healey_n_grid
            )
            st.store(f"{name}_estimate", r, u, sec["estimate"][ok])
            st.store(f"{name}_stat", r, u, sec["stat"][ok])
        threshold = a.success_threshold
        if final:
            success = stat > threshold
            st.decision[r, u] = np.where(success, "success", "inconclusive")
            st.stop_look[r, u] = st.looks[r, u]
            return
        interim = s.interim
        stop_success = np.zeros(r.size, dtype=bool)
        if interim.early_success:
            thr = interim.early_success_threshold or threshold
            stop_success = stat > thr
        stop_futility = np.zeros(r.size, dtype=bool)
        if interim.futility:
            stop_futility = (res["futility_stat"][ok] < interim.futility_threshold) & ~stop_success
        stop = stop_success | stop_futility
        rs = r[stop]
        st.stopped[rs, u] = True
        st.stop_look[rs, u] = st.looks[rs, u]
        st.decision[r[stop_success], u] = "success"
        st.decision[r[stop_futility], u] = "futility"
        st.early_success[r[stop_success], u] = True
        st.early_futility[r[stop_futility], u] = True

    def run_looks(self) -> None:
        st, plan = self.st, self.plan
        interim = plan.scenario.interim
        if interim is None:
            self.advance()
            return
        if interim.at_n_followed is not None:
            self._run_information_looks()
            return
        every = interim.every_weeks * WEEKS_TO_MONTHS
        comps = [k for k, unit in enumerate(plan.units) if unit.comparison]
        while True:
            self.advance()
            pend = np.flatnonzero(np.isfinite(st.next_look) & (st.look_idx < interim.max_looks))
            if pend.size == 0:
                break
            tau = st.next_look[pend]
            for u in comps:
                enrolling = st.count[pend, u] < plan.units[u].n
                if not interim.while_enrolling_only:
                    enrolling |= st.last_rand[pend, u] + plan.followup > tau
                q = (st.qualify[pend, u] <= tau) & ~st.stopped[pend, u] & enrolling
                if q.any():
                    sel = np.flatnonzero(q)
                    self._analyse(pend[sel], u, tau[sel], final=False)
            st.look_idx[pend] += 1
            st.next_look[pend] = tau + every
            # any unit that can still have an interim?
            nxt = st.next_look[pend]
            alive = ~st.stopped[pend] & self._u_comp
            can = st.count[pend] < self._u_n
            if not interim.while_enrolling_only:
                can |= st.last_rand[pend] + plan.followup > nxt[:, None]
            future = (alive & can).any(1)
            st.next_look[pend[~future]] = np.inf

    def _run_information_looks(self) -> None:
        """Looks when a unit's n-th patient (``at_n_followed``) has had the opportunity for
        follow-up; a look that would coincide with or follow the unit's final analysis is
        skipped (the final analysis takes its place)."""
        st, plan = self.st, self.plan
        interim = plan.scenario.interim
        n_levels = len(interim.at_n_followed)
        comps = [k for k, unit in enumerate(plan.units) if unit.comparison]
        n_u = self._u_n
        while True:
            self.advance()
            pend = np.flatnonzero(np.isfinite(st.next_look) & (st.look_idx < interim.max_looks))
            if pend.size == 0:
                break
            tau = st.next_look[pend]
            for u in comps:
                ptr = st.info_ptr[pend, u]
                tt = np.where(
                    ptr < n_levels,
                    st.target_time[pend, u, np.minimum(ptr, n_levels - 1)],
                    np.inf,
                )
                due = tt <= tau
                final_t = np.where(
                    st.count[pend, u] >= n_u[u], st.last_rand[pend, u] + plan.followup, np.inf
                )
                run = due & ~st.stopped[pend, u] & (tau < final_t - 1e-9)
                if run.any():
                    sel = np.flatnonzero(run)
                    self._analyse(pend[sel], u, tau[sel], final=False)
                st.info_ptr[pend[due], u] += 1
            st.look_idx[pend] += 1
            ptr = np.minimum(st.info_ptr[pend], n_levels - 1)
            tt = np.take_along_axis(st.target_time[pend], ptr[..., None], 2)[..., 0]
            tt = np.where(
                (st.info_ptr[pend] < n_levels) & ~st.stopped[pend] & self._u_comp, tt, np.inf
            )
            st.next_look[pend] = tt.min(1)

    def finals(self) -> None:
        st, plan = self.st, self.plan
        for u, unit in enumerate(plan.units):
            if not unit.comparison:
                continue
            sel = np.flatnonzero(~st.stopped[:, u] & (st.count[:, u] > 0))
            if sel.size:
                cutoff = st.last_rand[sel, u] + plan.followup
                self._analyse(sel, u, cutoff, final=True)
        if plan.scenario.design == "delayed_start":
            self._delayed_start()

    def _delayed_start(self) -> None:
        st, plan = self.st, self.plan
        u = 0
        rows = np.arange(self.n_rep)
        cutoff = st.last_rand[:, u] + plan.followup + plan.extension
        data = self.comparison(rows, u, cutoff, plan.followup + plan.extension)
        y = data.alsfrs
        change = y[..., -1] - y[..., 0]
        ok = np.isfinite(change) & data.member
        for name, arm in (("ds_change_active", 1), ("ds_change_control", 0)):
            sel = ok & (data.arm == arm)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(sel, change, 0.0).sum(1) / sel.sum(1)
            st.store(name, rows, u, mean)
        st.store("ds_difference", rows, u, st.res["ds_change_active"][:, u] - st.res[
            "ds_change_control"][:, u])  # fmt: skip
        st.store("ds_duration_months", rows, u, cutoff - st.trial_first)

    # -- table --------------------------------------------------------------------------------

    def table(self) -> pd.DataFrame:
        st, plan = self.st, self.plan
        s = plan.scenario
        n_trial = (st.unit >= 0).sum(1)
        frames = []
        for u, unit in enumerate(plan.units):
            if not unit.comparison:
                continue

            def res(key, u=u):
                v = st.res.get(key)
                return np.full(self.n_rep, np.nan) if v is None else v[:, u]

            stat = res("stat")
            stat_max = np.where(np.isfinite(st.stat_max[:, u]), st.stat_max[:, u], np.nan)
            decision = st.decision[:, u]
            data = {
                "rep": np.arange(self.first_rep, self.first_rep + self.n_rep, dtype=np.int64),
                "comparison": np.full(self.n_rep, unit.name, dtype=object),
                "design": np.full(self.n_rep, s.design, dtype=object),
                "analysis": np.full(self.n_rep, s.analysis.primary, dtype=object),
                "n_active": st.n_act[:, u],
                "n_control": st.n_ctl[:, u],
                "n_trial": n_trial.astype(np.int64),
                "duration_months": st.analysis_time[:, u] - st.trial_first,
                "looks": st.looks[:, u],
                "stop_look": st.stop_look[:, u],
                "decision": decision.astype(object),
                "success": decision == "success",
                "early_success": st.early_success[:, u],
                "early_futility": st.early_futility[:, u],
                "estimate": res("estimate"),
                "estimand": np.full(self.n_rep, ESTIMANDS[s.analysis.primary], dtype=object),
                "true_value": np.full(self.n_rep, plan.true_values[unit.name]),
                "stat": stat,
                "stat_max": stat_max,
                "threshold": np.full(self.n_rep, s.analysis.success_threshold),
                "ci_lower": res("ci_lower"),
                "ci_upper": res("ci_upper"),
                "futility_stat": res("futility_stat"),
                "n_randomised_regimen": st.count[:, u],
                "n_screened": st.ptr.copy(),
                "slots_exhausted": st.exhausted.copy(),
            }
            for name in s.analysis.secondary:
                data[f"{name}_estimate"] = res(f"{name}_estimate")
                data[f"{name}_stat"] = res(f"{name}_stat")
            if s.design == "delayed_start":
                for key in ("ds_change_active", "ds_change_control", "ds_difference"):
                    data[key] = res(key)
                data["ds_duration_months"] = res("ds_duration_months")
            frames.append(pd.DataFrame(data))
        df = pd.concat(frames, ignore_index=True)
        return df.astype(COLUMNS)


def simulate_chunk(plan: Plan, entropy: int, first_rep: int, n_rep: int) -> pd.DataFrame:
    """Simulate trials ``first_rep .. first_rep + n_rep`` (rows sorted by rep, then comparison)."""
    chunk = _Chunk(plan, entropy, first_rep, n_rep)
    chunk.run_looks()
    chunk.finals()
    df = chunk.table()
    order = {u.name: k for k, u in enumerate(plan.units)}
    df["_o"] = df["comparison"].map(order)
    return df.sort_values(["rep", "_o"], kind="stable").drop(columns="_o").reset_index(drop=True)
