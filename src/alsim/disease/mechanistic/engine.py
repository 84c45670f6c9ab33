r"""The mechanistic engine: motor-neuron pools, five coupled pathways, spread, neuron loss.

Each virtual patient has eight motor-neuron pools ``p`` (upper and lower motor neurons of the
bulbar, upper-limb, trunk/respiratory and lower-limb regions) and in each pool five pathway
burdens ``x[p, j]`` (misfolding, mitochondrial/oxidative stress, axonal transport, glial
inflammation, excitotoxicity). Time ``t`` counts months since the disease was triggered in the
focal region (the last step of the multistep process). For every pool:

.. math::

    \frac{dx_{pj}}{dt} = u_j + a_i G_{gj} + \sigma_i S_p [j = \text{misfolding}]
        + \sum_k W_{jk}\,\varphi(x_{pk}) - \delta\,x_{pj},
    \qquad \varphi(x) = \frac{x^2}{K^2 + x^2}

    S_p = \sum_q A_{pq}\,\varphi(x_{q,\text{misfolding}})

    B_p = \sum_j w_j x_{pj}, \qquad
    \frac{dN_p}{dt} = -\kappa_i\,v_p\,\max(B_p - b_0, 0)\,N_p

``u`` is a small background stress, ``G`` the genotype's sub-threshold input (scaled per patient
by ``a_i``), ``W`` the positive feedback matrix of the vicious cycle (bistable: a healthy state and
a self-sustaining pathological one), ``A`` the connectivity along which misfolding seeds
neighbouring pools (contiguous along the neuraxis, faster between cortical UMN pools), ``N`` the
surviving fraction of neurons (it can only fall: no regeneration), ``v`` pool vulnerability and
``kappa_i`` the patient's vulnerability (log-normal, the main source of heterogeneity in
progression).

Numerics: a fixed step ``dt`` with a semi-implicit update of the burdens (decay implicit, feedback
explicit; burdens stay non-negative) and an exact exponential update of ``N`` for the step's
hazard (``N`` stays in [0, 1] and never increases). The burdens are slow "disease-time-scale"
variables, so the system is not stiff; :mod:`tests.test_mechanistic_reference` bounds the step
error against ``scipy.integrate.solve_ivp``.

Regional function combines collateral reinnervation (surviving lower motor units take over up to
``c_i``-fold their territory) with the cost of UMN loss:

.. math::

    R_r = \left(1 + (c_i N_{\mathrm{lmn},r})^{-s}\right)^{-1/s},\qquad
    F_r = R_r\,\bigl(1 - \omega\,(1 - N_{\mathrm{umn},r})\bigr)

so function stays near normal until a large part of the pool is lost (motor-unit loss leads
functional loss). Symptom onset is the first time any ``F_r`` falls below a threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from alsim.disease.mechanistic.params import MechanisticParams
from alsim.disease.mechanistic.schema import (
    LMN,
    LOWER_LIMB,
    N_POOLS,
    REGIONS,
    SOD1,
    UMN,
    UPPER_LIMB,
    pool_index,
)
from alsim.errors import InputError

FLOAT = np.float64
LIMB_LMN = [pool_index(LMN, UPPER_LIMB), pool_index(LMN, LOWER_LIMB)]


#: Quarters of the within-patient rate walk (40 years from the trigger; the last one holds).
WALK_QUARTERS = 160
WALK_MONTHS_PER_STEP = 3


@dataclass(frozen=True)
class PatientDraws:
    """Per-patient random parameters of the dynamics (from the "progression" stream)."""

    hazard: np.ndarray  # kappa_i, per month per unit burden (genotype, age effects included)
    spread: np.ndarray  # sigma_i, per month
    input_scale: np.ndarray  # a_i
    reinnervation: np.ndarray  # c_i >= 1
    region_factor: np.ndarray | None = None  # (n, 4) u_ir, 1 in the onset region (None: all 1)
    hazard_walk: np.ndarray | None = None  # (n, Q) exp(w_iq - sd^2/2) per quarter (None: all 1)


@dataclass(frozen=True)
class PathwayEffect:
    """A therapy's action on the mechanism, from ``start_months`` on.

    ``input_factor[j]`` multiplies pathway ``j``'s genotype and background input (e.g. 0.3 for
    a 70% cut in mutant SOD1 synthesis acting on misfolding); ``coupling_factor[j]`` multiplies
    every feedback term driving pathway ``j``; ``hazard_factor`` multiplies neuron death
    hazard (neuroprotection). ``mask`` (bool per patient) restricts the effect to some patients.
    Effects never create neurons: they only change rates.

    ``start_months`` is a number or one value per patient (NaN: never), counted from symptom
    onset (``start_from="onset"``, the default: the effect starts at the first month boundary at
    least ``start_months`` after onset) or from the trigger of the disease process
    (``start_from="trigger"``: the effect starts at the month boundary ``ceil(start_months)``
    after the trigger, before or after onset). Trigger-relative starts allow presymptomatic
    treatment, e.g. at the month an untreated patient's NfL first crosses a threshold: before the
    start the treated and untreated worlds are identical (same draws), so that month is the
    same in both.

    ``csf_sod1_factor`` is the fraction of (mutant) SOD1 left at steady state under the therapy
    (e.g. 0.63 for a 37% lowering by an antisense oligonucleotide). In SOD1 carriers the level
    approaches it with time constant ``params.sod1.level_months`` from the start and multiplies
    the neuron-death hazard by :math:`(1 - f) + f S^n` (``params.sod1``; docs/disease-model.md
    §4); the CSF SOD1 readout follows the same kinetics
    (:data:`alsim.disease.mechanistic.observe.CSF_SOD1_MONTHS`). Non-carriers are unaffected.
    """

    start_months: float | np.ndarray = 0.0
    input_factor: tuple[float, ...] = (1.0,) * 5
    coupling_factor: tuple[float, ...] = (1.0,) * 5
    hazard_factor: float = 1.0
    mask: np.ndarray | None = None
    start_from: str = "onset"
    csf_sod1_factor: float = 1.0

    def __post_init__(self) -> None:
        if self.start_from not in ("onset", "trigger"):
            raise InputError(
                "PathwayEffect.start_from", f"must be 'onset' or 'trigger', got {self.start_from!r}"
            )
        if not (0.0 <= float(self.csf_sod1_factor) <= 1.0):
            raise InputError(
                "PathwayEffect.csf_sod1_factor", f"must be in [0, 1], got {self.csf_sod1_factor!r}"
            )


@dataclass
class Trajectories:
    """Monthly snapshots since the trigger, plus the onset month of each patient.

    Arrays have shape ``(n, n_months + 1)`` (and a trailing region axis for ``function``);
    index ``k`` is ``k`` months after the trigger.
    """

    function: np.ndarray  # (n, K, 4) regional function F_r
    lmn_fraction: np.ndarray  # (n, K) mean surviving limb LMN fraction (MUNIX-like)
    umn_fraction: np.ndarray  # (n, K) mean surviving UMN fraction
    release: np.ndarray  # (n, K) axon-weighted neuron-loss rate, fraction per month
    onset_months: np.ndarray  # (n,) months from trigger to symptom onset (interpolated)
    onset_region: np.ndarray  # (n,) region whose function fell first
    neurons: np.ndarray | None = None  # (n, K, 8) pools, only with record_pools
    pathways: np.ndarray | None = None  # (n, K, 8, 5), only with record_pools
    extras: dict = field(default_factory=dict)


def draw_patient_parameters(population, params: MechanisticParams, streams) -> PatientDraws:
    """Draw the per-patient dynamic parameters (fixed order on the "progression" stream)."""
    z = streams.draw("progression", "standard_normal", size_per_patient=(4,))
    neurons, spread, function = params.neurons, params.spread, params.function
    genotype_hazard = np.array([neurons.genotype_hazard[g] for g in _genotype_names()])
    multiplier = genotype_hazard[population.genotype]
    multiplier = np.where(
        (population.genotype == SOD1) & population.sod1_a4v,
        multiplier * neurons.sod1_a4v_hazard,
        multiplier,
    )
    age = (population.age_onset_years - 60.0) / 10.0
    hazard = (
        neurons.hazard_median
        * multiplier
        * np.exp(neurons.age_effect_per_decade * age + neurons.hazard_log_sd * z[:, 0])
    )
    # Drawn after the others (appending left every earlier draw unchanged). The factors act
    # from symptom onset on (the onset site is where the trigger was), and the onset region
    # keeps factor 1: they change how the disease spreads after onset, not where it starts.
    zr = streams.draw("progression", "standard_normal", size_per_patient=(len(REGIONS),))
    region_factor = np.exp(neurons.region_vulnerability_log_sd * zr)
    region_factor[np.arange(region_factor.shape[0]), population.onset_region] = 1.0
    return PatientDraws(
        hazard=hazard,
        spread=spread.rate_median * np.exp(spread.rate_log_sd * z[:, 1]),
        input_scale=np.exp(0.3 * z[:, 2]),
        reinnervation=np.maximum(
            1.0, function.reinnervation_median * np.exp(function.reinnervation_log_sd * z[:, 3])
        ),
        region_factor=region_factor,
        hazard_walk=hazard_walk(
            streams.draw("progression", "standard_normal", size_per_patient=(WALK_QUARTERS,)),
            neurons.hazard_walk_sd,
            neurons.hazard_walk_months,
        ),
    )


def hazard_walk(z: np.ndarray, sd: float, correlation_months: float) -> np.ndarray:
    r"""Within-patient variation of the neuron-loss rate over time: a stationary AR(1) per quarter.

    The patient's rate :math:`\kappa_i` is multiplied by :math:`u_i(t)` below, so the speed of
    progression drifts within a patient (ALSFRS-R decline is not linear in every patient, and
    the slope before diagnosis predicts the later course only in part):

    .. math::

        w_{i0} = \sigma_w z_{i0},\quad
        w_{i,q+1} = \rho\, w_{iq} + \sqrt{1 - \rho^2}\, \sigma_w z_{i,q+1},\quad
        \rho = e^{-3/\tau}

    (an Ornstein-Uhlenbeck process with SD :math:`\sigma_w` and correlation time
    :math:`\tau` months, sampled every 3 months from the trigger; the engine applies it from
    symptom onset on, like the regional factors). Returns the multipliers
    :math:`e^{w_{iq} - \sigma_w^2/2}` (mean 1), constant within each quarter; after the last
    quarter the last one holds.
    """
    rho = math.exp(-3.0 / correlation_months)
    innovation = math.sqrt(max(1.0 - rho * rho, 0.0)) * sd
    w = np.empty_like(z)
    w[:, 0] = sd * z[:, 0]
    for q in range(1, z.shape[1]):
        w[:, q] = rho * w[:, q - 1] + innovation * z[:, q]
    return np.exp(w - 0.5 * sd * sd)


def _genotype_names():
    from alsim.disease.mechanistic.schema import GENOTYPES

    return GENOTYPES


def adjacency(params: MechanisticParams) -> np.ndarray:
    """Seeding weights ``A[p, q]`` from pool ``q`` into pool ``p`` (8 x 8)."""
    s = params.spread
    a = np.zeros((N_POOLS, N_POOLS))
    n_regions = len(REGIONS)
    for r in range(n_regions):
        a[pool_index(LMN, r), pool_index(UMN, r)] = s.umn_to_lmn
        a[pool_index(UMN, r), pool_index(LMN, r)] = s.lmn_to_umn
        for neighbour in (r - 1, r + 1):
            if 0 <= neighbour < n_regions:
                a[pool_index(LMN, r), pool_index(LMN, neighbour)] = s.lmn_contiguous
                a[pool_index(UMN, r), pool_index(UMN, neighbour)] = s.umn_cortical
    return a


def pool_vulnerability(
    params: MechanisticParams, region_factor: np.ndarray | None = None
) -> np.ndarray:
    """``v_ip`` for the eight pools (UMN pools first, then LMN, regions in schema order).

    Without ``region_factor``: the population vector (8,). With the patients' regional factors
    ``u_ir`` (n, 4): ``v_ip = v_p u_{i, r(p)}``, shape (n, 8) (a region's UMN and LMN pools share
    the factor).
    """
    region = np.asarray(params.neurons.region_vulnerability, dtype=float)
    base = np.concatenate([params.neurons.umn_vulnerability * region, region])
    if region_factor is None:
        return base
    factor = np.asarray(region_factor, dtype=float)
    return base * np.concatenate([factor, factor], axis=-1)


def regional_function(
    neurons: np.ndarray, reinnervation: np.ndarray, params: MechanisticParams
) -> np.ndarray:
    """``F_r`` (..., 4) from pool survival ``neurons`` (..., 8) and capacity ``c_i`` (...,)."""
    f = params.function
    lmn = neurons[..., len(REGIONS) :]
    umn = neurons[..., : len(REGIONS)]
    capacity = np.maximum(reinnervation[..., None] * lmn, 1e-12)
    reinnervated = (1.0 + capacity ** (-f.softmin_sharpness)) ** (-1.0 / f.softmin_sharpness)
    return reinnervated * (1.0 - f.umn_weight * (1.0 - umn))


def simulate_trajectories(
    population,
    draws: PatientDraws,
    params: MechanisticParams,
    *,
    horizon_months: float,
    effects: tuple[PathwayEffect, ...] = (),
    record_pools: bool = False,
) -> Trajectories:
    """Integrate the pools from the trigger until each patient has ``horizon_months`` after onset.

    The time loop runs in compiled code (:mod:`alsim.disease.mechanistic.kernel`), patients side
    by side in SIMD slots but each on its own (the result for a patient does not depend on the
    others); months after a patient's horizon repeat the last state.
    """
    from alsim.disease.mechanistic.kernel import LANES, integrate

    n = population.genotype.shape[0]
    p = params
    dt = p.numerics.dt_months
    steps_per_month = round(1.0 / dt)  # validated: dt divides one month
    max_months = int(np.ceil(p.numerics.max_presymptomatic_months + horizon_months))
    inputs0 = (
        np.asarray(p.pathways.baseline_input)
        + p.genotype_input.matrix()[population.genotype] * draws.input_scale[:, None]
    )
    axon_weight = np.concatenate(
        [np.full(len(REGIONS), p.nfl.umn_axon_weight), np.full(len(REGIONS), p.nfl.lmn_axon_weight)]
    )
    eff_start = np.empty((len(effects), n))
    for k, effect in enumerate(effects):
        start = np.asarray(effect.start_months, dtype=float)
        if start.ndim and start.shape != (n,):
            raise InputError(
                "effects.start_months", f"needs one value per patient ({n}), got {start.shape}"
            )
        eff_start[k] = start
    eff_from_trigger = np.array([e.start_from == "trigger" for e in effects], dtype=np.bool_)
    eff_input = np.array([e.input_factor for e in effects], dtype=float).reshape(-1, 5)
    eff_coupling = np.array([e.coupling_factor for e in effects], dtype=float).reshape(-1, 5)
    eff_hazard = np.array([e.hazard_factor for e in effects], dtype=float)
    eff_sod1 = np.array([e.csf_sod1_factor for e in effects], dtype=float)
    sod1_mediated = np.where(population.genotype == SOD1, p.sod1.mediated_fraction, 0.0)
    eff_mask = np.ones((len(effects), n), dtype=np.bool_)
    for k, effect in enumerate(effects):
        if effect.mask is not None:
            eff_mask[k] = np.asarray(effect.mask, dtype=bool)

    size = max_months + 1
    function_rec = np.empty((n, size, len(REGIONS)))
    lmn_rec = np.empty((n, size))
    umn_rec = np.empty((n, size))
    release_rec = np.zeros((n, size))
    pools_rec = np.empty((n, size, N_POOLS) if record_pools else (1, 1, N_POOLS))
    pathways_rec = np.empty((n, size, N_POOLS, 5) if record_pools else (1, 1, N_POOLS, 5))
    onset = np.empty(n)
    onset_region = np.empty(n, dtype=np.int8)
    last_month = np.empty(n, dtype=np.int64)
    integrate(
        np.ascontiguousarray(inputs0),
        np.ascontiguousarray(draws.spread, dtype=float),
        np.ascontiguousarray(draws.hazard, dtype=float),
        np.ascontiguousarray(
            draws.hazard_walk if draws.hazard_walk is not None else np.ones((n, 1)), dtype=float
        ),
        np.ascontiguousarray(draws.reinnervation, dtype=float),
        np.ascontiguousarray(population.onset_region, dtype=np.int64),
        p.pathways.matrix(),
        adjacency(p),
        pool_vulnerability(p),
        np.ascontiguousarray(
            pool_vulnerability(
                p,
                draws.region_factor
                if draws.region_factor is not None
                else np.ones((n, len(REGIONS))),
            )
        ),
        np.asarray(p.pathways.burden_weights, dtype=float),
        axon_weight,
        np.asarray(LIMB_LMN, dtype=np.int64),
        p.pathways.decay_per_month,
        p.pathways.hill_k**2,
        p.neurons.burden_threshold,
        p.pathways.trigger_level,
        p.function.onset_threshold,
        p.function.softmin_sharpness,
        p.function.umn_weight,
        dt,
        steps_per_month,
        max_months,
        float(horizon_months),
        eff_start,
        eff_from_trigger,
        eff_input,
        eff_coupling,
        eff_hazard,
        eff_mask,
        eff_sod1,
        np.ascontiguousarray(sod1_mediated, dtype=float),
        float(p.sod1.toxicity_order),
        float(np.exp(-1.0 / p.sod1.level_months)),
        float(p.sod1.level_months * -np.expm1(-1.0 / p.sod1.level_months)),
        function_rec,
        lmn_rec,
        umn_rec,
        release_rec,
        onset,
        onset_region,
        last_month,
        record_pools,
        pools_rec,
        pathways_rec,
        LANES,
    )
    k = int(last_month.max()) + 1 if n else 1
    # Still presymptomatic at the end of the window: counted as onset at the window's end so
    # that the patient is kept (and flagged); calibration keeps this share ~0.
    never = (last_month == max_months) & (onset == max_months)
    return Trajectories(
        function=function_rec[:, :k],
        lmn_fraction=lmn_rec[:, :k],
        umn_fraction=umn_rec[:, :k],
        release=release_rec[:, :k],
        onset_months=onset,
        onset_region=onset_region,
        neurons=pools_rec[:, :k] if record_pools else None,
        pathways=pathways_rec[:, :k] if record_pools else None,
        extras={"onset_not_reached": never, "last_month": last_month},
    )
