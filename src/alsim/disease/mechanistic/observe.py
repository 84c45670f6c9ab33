r"""What shows: from latent pool trajectories to ALSFRS-R items, FVC, NfL, weight and milestones.

Everything here works on a monthly grid aligned on symptom onset (``t = 0``). After the draws,
all the work (aligning the monthly records on the onset grid, item scores, supportive-care
milestones, death, diagnosis, the measured readouts) runs in compiled code one patient at a
time, writing straight into the output arrays (no ``(n, T, 12, 4)`` or other temporaries).
The visit noise is drawn in single precision, as before; the single-precision ``exp`` of the
log-normal noise factors (blood NfL, CSF SOD1) may differ from NumPy's in the last bit.

* **Items**: item ``i`` reads the latent function ``L_i = sum_r M_ir F_r`` plus visit noise and
  scores the number of its four ordered thresholds exceeded (integers 0-4). Item 5 is 5b after a
  gastrostomy; item 12 follows ventilation status (4 none, 3-1 NIV by respiratory function,
  0 permanent ventilation).
* **FVC** (% predicted) ``= FVC0_i (f + (1 - f) F_trunk^gamma)`` plus measurement noise.
* **Blood NfL** ``= control_i(age) + g * s(t)`` where ``s`` is the axon-weighted neuron-loss rate
  smoothed with the clearance time; CSF NfL is ``csf_to_blood_ratio`` times higher. C9orf72
  carriers add extra-motor (frontotemporal) release, ``A * clip((t + L_i) / R, 0, 1)``, rising
  over ``R`` months from ``L_i`` months before motor onset (log-normal): the long prodrome seen
  in C9orf72 carriers.
* **Milestones**: gastrostomy when bulbar function falls below its threshold (accepted with a
  probability), NIV when FVC < 50% (accepted with a probability). The end point (death or
  respiratory failure) comes when the cumulative hazard
  ``h = h_bg(age) + h_d``, ``h_d = [exp(l + b_r (1 - F_resp) + b_b (1 - F_bulbar)) - exp(l)] HR_NIV``
  exceeds the patient's Exp(1) draw. It is disease-caused with probability ``h_d / h`` (competing
  risks); a disease-caused end point in a patient who accepts tracheostomy (probability
  ``pav_uptake``) is permanent assisted ventilation (PAV) instead of death, after which the
  patient dies when a second Exp(1) draw is exceeded by the cumulative hazard
  ``h_bg + h_d HR_PAV`` from the PAV time. Death-or-PAV is therefore the same time whether or not
  a patient accepts PAV.
* **Diagnosis** when the expected ALSFRS-R loss since onset reaches the patient's threshold
  ``q_i`` (log-normal), at least ``min_months`` after onset, not before the patient's referral
  lag ``l_i`` (log-normal, independent of progression: the care pathway) and no later than the
  end point (death or PAV).

The expected (noise-free) total ``E = sum_i sum_k Phi((L_i - tau_ik) / s_e)`` is evaluated only
as far as the diagnosis needs it; :attr:`Observations.expected_total` computes the whole series
on first use, with the same compiled code. Terms whose argument is beyond +-8.3 standard
deviations are not evaluated (``Phi`` is exactly 1 there in double precision, or below 6e-17),
so ``E`` equals the full sum up to rounding.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numba import njit

from alsim.disease.mechanistic.engine import Trajectories
from alsim.disease.mechanistic.kernel import FAST
from alsim.disease.mechanistic.params import MechanisticParams
from alsim.disease.mechanistic.schema import BULBAR, C9ORF72, SOD1

ITEM_THRESHOLD_AXIS = 4
N_ITEMS = 12
N_REGIONS = 4
MAX_TOTAL = 48.0
RESPIRATORY_ITEM = 11  # item 12 (R3), set by ventilation status
CSF_SOD1_NOISE_SD = (
    0.08  # log-scale visit noise of CSF SOD1 (relative to the carrier's own baseline)
)
#: Time constant (months) with which CSF SOD1 approaches its treated level after a therapy with a
#: ``csf_sod1_factor`` starts (structural: tofersen's CSF SOD1 fall was measured at 28 weeks in
#: VALOR, after three loading doses; shared/science/trials.md A4).
CSF_SOD1_MONTHS = 2.0
#: |z| beyond which Phi(z) is 1 (or 0) to double precision in the expected total.
PHI_CUTOFF = 8.3
INV_SQRT2 = 1.0 / math.sqrt(2.0)
JIT = {"cache": True, "nogil": True, "fastmath": FAST, "error_model": "numpy"}


@dataclass
class Observations:
    """Onset-aligned monthly observations; arrays are ``(n, n_times)`` unless noted."""

    t_months: np.ndarray  # (T,) months from onset
    items: np.ndarray  # (n, T, 12) int8; -1 after death
    gastrostomy: np.ndarray  # bool
    total: np.ndarray  # int16, -1 after death
    fvc_percent: np.ndarray
    nfl_pg_ml: np.ndarray
    nfl_control_pg_ml: np.ndarray
    csf_nfl_pg_ml: np.ndarray
    csf_sod1_relative: np.ndarray  # NaN for non-carriers
    weight_kg: np.ndarray
    mu_fraction: np.ndarray
    fa_cst: np.ndarray  # DTI-like fractional anisotropy of the corticospinal tract
    alive: np.ndarray  # bool
    milestones: dict[str, np.ndarray]  # months from onset, NaN if not within the horizon
    compute_expected_total: Callable[[], np.ndarray] = field(repr=False, compare=False)

    @cached_property
    def expected_total(self) -> np.ndarray:
        """Noise-free ALSFRS-R total (float): 48 before onset, NaN after death (on first use)."""
        return self.compute_expected_total()


# Scalars of the compiled observer, by name (a namedtuple reaches Numba as a record).
Constants = namedtuple(
    "Constants",
    [
        "item_sd",
        "item_noise_sd",  # float32, as the visit noise is drawn in single precision
        "fvc_floor",
        "fvc_exponent",
        "niv_fvc_threshold",
        "gastrostomy_threshold",
        "log_rate",
        "resp_slope",
        "bulbar_slope",
        "niv_hazard_ratio",
        "pav_hazard_ratio",
        "gompertz_a_per_month",
        "gompertz_b_per_year",
        "hypermetabolic_loss",
        "dysphagia_loss",
        "nfl_keep",
        "fvc_noise_sd",  # float32, like the visit noise it scales
        "nfl_log_median_at_60",
        "nfl_age_slope_per_year",
        "nfl_log_sd",
        "nfl_release_gain",
        "nfl_release_exponent",
        "nfl_noise_cv",  # float32
        "csf_to_blood_ratio",
        "csf_sod1_noise_sd",  # float32
        "fa_baseline",
        "fa_umn_loss",
        "fa_sd",
        "c9_extramotor_pg_ml",
        "c9_ramp_months",
        "first_post",  # grid index of t = 0
        "first_diagnosis",  # grid index of the first t >= diagnosis.min_months
    ],
)


@njit(**JIT)
def _first_passage(t, hazard, start, offset, e):
    """When the cumulative hazard from ``t[start] + offset`` first reaches ``e``.

    ``hazard[m]`` is constant over ``(t_m, t_m + 1]`` (a unit grid). Returns ``(time, k, m)``:
    the event time, the first grid index at or after it and the month ``m`` it falls in;
    ``(nan, T - 1, T - 1)`` when the hazard does not accumulate ``e`` within the grid.
    """
    n = t.shape[0]
    cumulative = 0.0
    for m in range(start, n - 1):
        lead = offset if m == start else 0.0
        step = hazard[m] * (1.0 - lead)
        if step > 0 and cumulative + step >= e:
            return t[m] + lead + (e - cumulative) / hazard[m], m + 1, m
        cumulative += step
    return math.nan, n - 1, n - 1


@njit(**JIT)
def _grid_point(time, k_max):
    """``(lo, hi, frac)`` to interpolate monthly records ``0..k_max`` at ``time`` (clipped)."""
    clipped = min(max(time, 0.0), float(k_max))
    lo = math.floor(clipped)
    return lo, min(lo + 1, k_max), clipped - lo


@njit(**JIT)
def _align_rows(values, times, fill, out):
    """out[i, t, :] = values (n, K, m) of row i interpolated at times[i, t]; ``fill`` before 0."""
    k_max = values.shape[1] - 1
    for i in range(values.shape[0]):
        for t in range(times.shape[1]):
            if times[i, t] < 0:
                out[i, t, :] = fill[i, t, :]
                continue
            lo, hi, frac = _grid_point(times[i, t], k_max)
            for c in range(values.shape[2]):
                out[i, t, c] = values[i, lo, c] * (1.0 - frac) + values[i, hi, c] * frac


def _align(values: np.ndarray, times: np.ndarray, fill_before: np.ndarray | float) -> np.ndarray:
    """Linear interpolation of monthly records ``values`` (n, K[, m]) at float times (n, T)."""
    squeeze = values.ndim == 2
    values3 = np.asarray(values[..., None] if squeeze else values, dtype=float)
    n, m = values3.shape[0], values3.shape[2]
    fill = np.asarray(fill_before, dtype=float)
    fill = np.broadcast_to(fill[..., None] if squeeze else fill, (n, times.shape[1], m))
    out = np.empty((n, times.shape[1], m))
    _align_rows(values3, np.asarray(times, dtype=float), np.ascontiguousarray(fill), out)
    return out[..., 0] if squeeze else out


@njit(**JIT)
def _function_at(function_rec, i, time, out):
    """Patient ``i``'s regional function (4,) at ``time`` months after the trigger."""
    if time < 0:  # before the trigger: the healthy state
        for r in range(N_REGIONS):
            out[r] = function_rec[i, 0, r]
        return
    lo, hi, frac = _grid_point(time, function_rec.shape[1] - 1)
    for r in range(N_REGIONS):
        out[r] = function_rec[i, lo, r] * (1.0 - frac) + function_rec[i, hi, r] * frac


@njit(**JIT)
def _crossing_time(t, k, before, now, threshold, falling):
    """Time of a threshold crossing first seen at grid index ``k`` (``before`` and ``now`` are
    the values at ``k - 1`` and ``k``), interpolated linearly within the month."""
    if k == 0:
        return t[0]
    sign = -1.0 if falling else 1.0
    lo, hi, level = sign * before, sign * now, sign * threshold
    frac = (level - lo) / (hi - lo) if hi > lo else 1.0
    return t[k - 1] + min(max(frac, 0.0), 1.0)


@njit(**JIT)
def _crossing(t, values, threshold, first, falling):
    """First grid time from index ``first`` where ``values`` falls below (``falling``) or
    reaches ``threshold``, interpolated within the month; NaN if never."""
    for k in range(first, t.shape[0]):
        if values[k] < threshold if falling else values[k] >= threshold:
            return _crossing_time(t, k, values[max(k - 1, 0)], values[k], threshold, falling)
    return math.nan


@njit(**JIT)
def _expected(function, rows, pair_row, pair_tau, pair_weight, sd, latent):
    """Expected total at one time: sum over the distinct (mixing row, threshold) pairs of
    ``weight * Phi((L_row - tau) / sd)``; ``latent`` is scratch space."""
    for row in range(rows.shape[0]):
        value = 0.0
        for r in range(N_REGIONS):
            value += rows[row, r] * function[r]
        latent[row] = value
    total = 0.0
    for e in range(pair_row.shape[0]):
        z = (latent[pair_row[e]] - pair_tau[e]) / sd
        if z >= PHI_CUTOFF:
            total += pair_weight[e]
        elif z > -PHI_CUTOFF:
            total += pair_weight[e] * 0.5 * math.erfc(-z * INV_SQRT2)
    return total


@njit(**JIT)
def _item_score(function, mixing, thresholds, noise_sd, noise):
    """Thresholds exceeded by the item's latent function plus its visit noise (float32)."""
    level = 0.0
    for r in range(N_REGIONS):
        level += mixing[r] * function[r]
    noisy = level + noise_sd * noise
    score = 0
    for q in range(ITEM_THRESHOLD_AXIS):
        if noisy > thresholds[q]:
            score += 1
    return score


@njit(**JIT)
def _observe_patients(
    function_rec,  # (n, K, 4) regional function on the trigger grid
    lmn_rec,  # (n, K)
    umn_rec,  # (n, K)
    release_rec,  # (n, K)
    onset,  # (n,) months from trigger to onset
    t,  # (T,) grid, months from onset
    mixing,  # (12, 4)
    thresholds,  # (12, 4)
    expected_terms,  # (rows, pair_row, pair_tau, pair_weight) of the expected total
    resp_mixing,  # (4,)
    noise,  # (n, T, 12) float32 item noise
    visit_noise,  # (n, T, 3) float32 noise of FVC, blood NfL and CSF SOD1
    z,  # (n, 5) per-patient normal draws (2: NfL control level, 3: FA offset, 4: C9 lead)
    sod1,  # (n,) bool: SOD1 carrier
    c9,  # (n,) bool: C9orf72 carrier
    c9_lead,  # (n,) months before motor onset at which extra-motor NfL release starts
    sod1_start,  # (n, E) months from onset at which each CSF SOD1 lowering starts (inf: never)
    sod1_factor,  # (E,) fraction of CSF SOD1 left at steady state
    sod1_tau,  # months: approach to the treated level
    fvc0,  # (n,)
    uptake,  # (n, 3) bool: gastrostomy, NIV, PAV accepted
    death_e,  # (n,) Exp(1)
    cause_u,  # (n,) U(0, 1): which cause ends the first event (disease vs background)
    pav_e,  # (n,) Exp(1): survival on permanent ventilation
    diagnosis_q,  # (n,) expected-loss threshold
    referral,  # (n,) months from onset before which no diagnosis is made (care pathway)
    age_onset,  # (n,) years
    weight0,  # (n,) kg
    c,  # Constants
    # outputs
    items,  # (n, T, 12) int8
    total,  # (n, T) int16
    alive,  # (n, T) bool
    gastrostomy,  # (n, T) bool
    lmn,  # (n, T) motor units (mean surviving limb LMN fraction)
    fvc,  # (n, T) measured, NaN after death
    nfl_control,  # (n, T) healthy NfL level
    nfl_blood,  # (n, T) measured, NaN after death
    csf_nfl,  # (n, T) NaN after death
    csf_sod1,  # (n, T) NaN for non-carriers and after death
    fa,  # (n, T) NaN after death
    weight,  # (n, T) NaN after death
    milestones,  # (n, 5): diagnosis, gastrostomy, NIV, PAV, death
):
    n, n_times = items.shape[0], items.shape[1]
    k_max = function_rec.shape[1] - 1
    rows, pair_row, pair_tau, pair_weight = expected_terms
    latent = np.empty(rows.shape[0])
    function = np.empty((n_times, N_REGIONS))
    bulbar = np.empty(n_times)
    resp = np.empty(n_times)
    fvc_true = np.empty(n_times)
    umn = np.empty(n_times)
    release = np.empty(n_times)
    hazard = np.empty(n_times)
    disease_h = np.empty(n_times)
    smooth = np.empty(k_max + 1)
    for i in range(n):
        # NfL: axon-loss rate smoothed with the clearance time, on the trigger grid.
        smooth[0] = release_rec[i, 0]
        for m in range(1, k_max + 1):
            smooth[m] = c.nfl_keep * smooth[m - 1] + (1.0 - c.nfl_keep) * release_rec[i, m]

        # -- latent readouts on the onset grid -----------------------------------------------------
        for k in range(n_times):
            time = onset[i] + t[k]
            _function_at(function_rec, i, time, function[k])
            if time < 0:
                lmn[i, k] = 1.0
                umn[k] = 1.0
                release[k] = 0.0
            else:
                lo, hi, frac = _grid_point(time, k_max)
                lmn[i, k] = lmn_rec[i, lo] * (1.0 - frac) + lmn_rec[i, hi] * frac
                umn[k] = umn_rec[i, lo] * (1.0 - frac) + umn_rec[i, hi] * frac
                release[k] = smooth[lo] * (1.0 - frac) + smooth[hi] * frac
            bulbar[k] = function[k, BULBAR]
            value = 0.0
            for r in range(N_REGIONS):
                value += resp_mixing[r] * function[k, r]
            resp[k] = value
            shape = value if c.fvc_exponent == 1.0 else value**c.fvc_exponent
            fvc_true[k] = fvc0[i] * (c.fvc_floor + (1.0 - c.fvc_floor) * shape)

        # -- supportive care: first post-onset crossings, taken up with a probability --------------
        t_gastro = _crossing(t, bulbar, c.gastrostomy_threshold, c.first_post, True)
        t_niv = _crossing(t, fvc_true, c.niv_fvc_threshold, c.first_post, True)
        t_gastro = t_gastro if uptake[i, 0] else math.nan
        t_niv = t_niv if uptake[i, 1] else math.nan

        # -- end point: the cumulative hazard (from onset) reaches the patient's Exp(1) draw -------
        # The hazard of grid month k applies over (t_k, t_k + 1]; `cumulative` is H(t_k).
        baseline = math.exp(c.log_rate)
        for k in range(n_times):
            h = 0.0
            disease_h[k] = 0.0
            if k >= c.first_post:
                disease = math.exp(
                    c.log_rate + c.resp_slope * (1.0 - resp[k]) + c.bulbar_slope * (1.0 - bulbar[k])
                )
                disease_h[k] = (disease - baseline) * (c.niv_hazard_ratio if t[k] >= t_niv else 1.0)
                age = age_onset[i] + t[k] / 12.0
                h = disease_h[k] + c.gompertz_a_per_month * math.exp(c.gompertz_b_per_year * age)
            hazard[k] = h
        t_end, k_end, month = _first_passage(t, hazard, 0, 0.0, death_e[i])
        t_pav = math.nan
        t_death = t_end
        if not math.isnan(t_end) and uptake[i, 2] and hazard[month] > 0:
            # Disease-caused (probability h_d / h over the month of the event) and accepted:
            # permanent ventilation instead of death; the disease hazard falls by HR_PAV.
            if cause_u[i] * hazard[month] < disease_h[month]:
                t_pav = t_end
                for k in range(n_times):
                    hazard[k] = hazard[k] - disease_h[k] * (1.0 - c.pav_hazard_ratio)
                t_death, _, _ = _first_passage(t, hazard, month, t_end - t[month], pav_e[i])

        # -- status on the grid; what is measured while alive (nothing after death) ----------------
        product = 1.0
        for k in range(n_times):
            alive[i, k] = not t[k] >= t_death
            gastrostomy[i, k] = t[k] >= t_gastro
            age = age_onset[i] + t[k] / 12.0
            nfl_control[i, k] = math.exp(
                c.nfl_log_median_at_60
                + c.nfl_age_slope_per_year * (age - 60.0)
                + c.nfl_log_sd * z[i, 2]
            )
            # Weight: hypermetabolism while the disease is active, dysphagia until gastrostomy.
            rate = 0.0
            if k >= c.first_post:
                rate = c.hypermetabolic_loss
                if not gastrostomy[i, k]:
                    rate += c.dysphagia_loss * (1.0 - bulbar[k])
            product *= 1.0 - rate
            if not alive[i, k]:
                items[i, k, :] = -1
                total[i, k] = -1
                fvc[i, k] = math.nan
                nfl_blood[i, k] = math.nan
                csf_nfl[i, k] = math.nan
                csf_sod1[i, k] = math.nan
                fa[i, k] = math.nan
                weight[i, k] = math.nan
            else:
                weight[i, k] = weight0[i] * product
                fvc[i, k] = max(fvc_true[k] + c.fvc_noise_sd * visit_noise[i, k, 0], 0.0)
                nfl_true = (
                    nfl_control[i, k]
                    + c.nfl_release_gain * max(release[k], 0.0) ** c.nfl_release_exponent
                )
                if c9[i]:  # extra-motor (frontotemporal) neurodegeneration before motor onset
                    ramp = (t[k] + c9_lead[i]) / c.c9_ramp_months
                    nfl_true += c.c9_extramotor_pg_ml * min(max(ramp, 0.0), 1.0)
                nfl_blood[i, k] = nfl_true * math.exp(c.nfl_noise_cv * visit_noise[i, k, 1])
                csf_nfl[i, k] = nfl_true * c.csf_to_blood_ratio
                csf_sod1[i, k] = (
                    math.exp(c.csf_sod1_noise_sd * visit_noise[i, k, 2]) if sod1[i] else math.nan
                )
                for e in range(sod1_start.shape[1]):  # target engagement (readout only)
                    since = t[k] - sod1_start[i, e]
                    if since > 0:
                        kept = 1.0 - (1.0 - sod1_factor[e]) * (1.0 - math.exp(-since / sod1_tau))
                        csf_sod1[i, k] *= kept
                fa[i, k] = c.fa_baseline - c.fa_umn_loss * (1.0 - umn[k]) + c.fa_sd * z[i, 3]
                score = 0
                for m in range(RESPIRATORY_ITEM):
                    items[i, k, m] = _item_score(
                        function[k], mixing[m], thresholds[m], c.item_noise_sd, noise[i, k, m]
                    )
                    score += items[i, k, m]
                # Item 12 follows ventilation status, not its latent.
                if t[k] >= t_pav:
                    items[i, k, RESPIRATORY_ITEM] = 0
                elif t[k] >= t_niv:
                    items[i, k, RESPIRATORY_ITEM] = (
                        3 if resp[k] >= 0.35 else (2 if resp[k] >= 0.2 else 1)
                    )
                else:
                    items[i, k, RESPIRATORY_ITEM] = 4
                total[i, k] = score + items[i, k, RESPIRATORY_ITEM]

        # -- diagnosis: the expected loss 48 - E first reaches q_i (after min_months) --------------
        # E is evaluated only up to the crossing, and no further than the first grid point at
        # or after death: a later crossing would be cut to the death time anyway.
        t_diag = math.nan
        previous = 0.0  # the loss at the grid point before (0 before onset)
        for k in range(max(c.first_diagnosis - 1, 0), k_end + 1):
            loss = 0.0
            if k >= c.first_post:
                loss = MAX_TOTAL - _expected(
                    function[k], rows, pair_row, pair_tau, pair_weight, c.item_sd, latent
                )
            if k >= c.first_diagnosis and loss >= diagnosis_q[i]:
                t_diag = _crossing_time(t, k, previous, loss, diagnosis_q[i], False)
                break
            previous = loss
        # Not before the patient's referral lag; no later than the end point (death or PAV).
        if not math.isnan(t_diag):
            t_diag = max(t_diag, referral[i])
        if not math.isnan(t_end):
            t_diag = t_end if math.isnan(t_diag) else min(t_diag, t_end)
        if not math.isnan(t_death):
            # Events at or after death do not happen.
            t_gastro = math.nan if t_gastro >= t_death else t_gastro
            t_niv = math.nan if t_niv >= t_death else t_niv
        milestones[i, 0] = t_diag
        milestones[i, 1] = t_gastro
        milestones[i, 2] = t_niv
        milestones[i, 3] = t_pav
        milestones[i, 4] = t_death


@njit(**JIT)
def _expected_totals(function_rec, onset, t, alive, expected_terms, sd, first_post, out):
    """``out[i, k]``: the expected total on the onset grid (48 before onset, NaN after death)."""
    rows, pair_row, pair_tau, pair_weight = expected_terms
    latent = np.empty(rows.shape[0])
    function = np.empty(N_REGIONS)
    for i in range(out.shape[0]):
        for k in range(out.shape[1]):
            if not alive[i, k]:
                out[i, k] = math.nan
            elif k < first_post:
                out[i, k] = MAX_TOTAL
            else:
                _function_at(function_rec, i, onset[i] + t[k], function)
                out[i, k] = _expected(function, rows, pair_row, pair_tau, pair_weight, sd, latent)


def _expected_total_terms(mixing: np.ndarray, thresholds: np.ndarray):
    """Distinct mixing rows and the distinct (row, threshold) pairs of the expected total with
    their multiplicities (items that share both count once, with weight 2)."""
    rows, item_row = np.unique(mixing, axis=0, return_inverse=True)
    pairs: dict[tuple[int, float], int] = {}
    for m, row in enumerate(np.ravel(item_row)):
        for tau in thresholds[m]:
            key = (int(row), float(tau))
            pairs[key] = pairs.get(key, 0) + 1
    return (
        np.ascontiguousarray(rows),
        np.array([k[0] for k in pairs], dtype=np.int64),
        np.array([k[1] for k in pairs], dtype=float),
        np.array(list(pairs.values()), dtype=float),
    )


def _sod1_lowering(effects, onset_from_trigger, n):
    """(start months from onset per patient and effect, steady-state factor per effect)."""
    lowering = [e for e in effects if float(e.csf_sod1_factor) < 1.0]
    start = np.full((n, len(lowering)), np.inf)
    for j, e in enumerate(lowering):
        s = np.broadcast_to(np.asarray(e.start_months, dtype=float), (n,)).copy()
        if e.start_from == "trigger":
            s = np.ceil(s) - onset_from_trigger  # the engine switches at month boundaries
        s = np.where(np.isnan(s), np.inf, s)
        if e.mask is not None:
            s = np.where(np.asarray(e.mask, dtype=bool), s, np.inf)
        start[:, j] = s
    factor = np.array([float(e.csf_sod1_factor) for e in lowering], dtype=float)
    return start, factor


def observe(
    trajectories: Trajectories,
    population,
    params: MechanisticParams,
    streams,
    *,
    horizon_months: int,
    pre_onset_months: int,
    effects: tuple = (),
) -> Observations:
    """Readouts and milestones on the monthly grid ``-pre_onset_months .. horizon_months``.

    ``effects`` (the same :class:`~alsim.disease.mechanistic.engine.PathwayEffect` objects as the
    engine got) only matter here through ``csf_sod1_factor``: the CSF SOD1 readout of treated
    patients falls towards that fraction from the effect's start.
    """
    p = params
    n = trajectories.onset_months.shape[0]
    t = np.arange(-pre_onset_months, horizon_months + 1, dtype=float)
    n_times = t.size

    # Per-patient draws for readouts and milestones, in a fixed order.
    z = streams.draw("milestones", "standard_normal", size_per_patient=(5,))
    u = streams.draw("milestones", "random", size_per_patient=(3,))
    death_e = streams.draw("milestones", "standard_exponential")
    # Drawn after the others so that adding them left every earlier draw unchanged.
    cause_u = streams.draw("milestones", "random")
    pav_e = streams.draw("milestones", "standard_exponential")
    referral_z = streams.draw("milestones", "standard_normal")
    noise = streams.draw(
        "measurement", "standard_normal", size_per_patient=(n_times, 12), dtype=np.float32
    )
    visit_noise = streams.draw(
        "measurement", "standard_normal", size_per_patient=(n_times, 3), dtype=np.float32
    )

    resp, m, dx, nfl = p.respiratory, p.mortality, p.diagnosis, p.nfl
    mixing = np.asarray(p.items.mixing, dtype=float)
    thresholds = np.asarray(p.items.thresholds, dtype=float)
    expected_terms = _expected_total_terms(mixing, thresholds)
    constants = Constants(
        item_sd=max(p.items.measurement_sd, 1e-6),
        item_noise_sd=np.float32(p.items.measurement_sd),
        fvc_floor=resp.fvc_floor,
        fvc_exponent=resp.fvc_exponent,
        niv_fvc_threshold=resp.niv_fvc_threshold,
        gastrostomy_threshold=resp.gastrostomy_threshold,
        log_rate=m.log_rate,
        resp_slope=m.resp_slope,
        bulbar_slope=m.bulbar_slope,
        niv_hazard_ratio=m.niv_hazard_ratio,
        pav_hazard_ratio=m.pav_hazard_ratio,
        gompertz_a_per_month=m.background_gompertz_a_per_year / 12.0,
        gompertz_b_per_year=m.background_gompertz_b_per_year,
        hypermetabolic_loss=p.weight.hypermetabolic_loss_per_month,
        dysphagia_loss=p.weight.dysphagia_loss_per_month,
        nfl_keep=float(np.exp(-1.0 / nfl.clearance_months)),
        fvc_noise_sd=np.float32(resp.fvc_measurement_sd),
        nfl_log_median_at_60=nfl.control_log_median_at_60,
        nfl_age_slope_per_year=nfl.control_age_slope_per_year,
        nfl_log_sd=nfl.control_log_sd,
        nfl_release_gain=nfl.release_gain,
        nfl_release_exponent=nfl.release_exponent,
        nfl_noise_cv=np.float32(nfl.measurement_cv),
        csf_to_blood_ratio=nfl.csf_to_blood_ratio,
        csf_sod1_noise_sd=np.float32(CSF_SOD1_NOISE_SD),
        fa_baseline=p.imaging.fa_baseline,
        fa_umn_loss=p.imaging.fa_umn_loss,
        fa_sd=p.imaging.fa_sd,
        c9_extramotor_pg_ml=nfl.c9_extramotor_pg_ml,
        c9_ramp_months=nfl.c9_extramotor_ramp_months,
        first_post=int(np.searchsorted(t, 0.0)),
        first_diagnosis=int(np.searchsorted(t, dx.min_months)),
    )
    fvc0 = np.clip(resp.fvc_baseline_mean + resp.fvc_baseline_sd * z[:, 0], 55.0, 140.0)
    uptake = u < np.array([resp.gastrostomy_uptake, resp.niv_uptake, resp.pav_uptake])
    q = dx.loss_median_points * np.exp(dx.loss_log_sd * z[:, 1])
    referral = dx.referral_median_months * np.exp(dx.referral_log_sd * referral_z)
    if getattr(population, "ancestry", None) == "east_asian":
        referral = referral * dx.referral_factor_east_asian  # another health-care pathway
    onset = np.asarray(trajectories.onset_months, dtype=float)

    items = np.empty((n, n_times, 12), dtype=np.int8)
    total = np.empty((n, n_times), dtype=np.int16)
    alive = np.empty((n, n_times), dtype=bool)
    gastrostomy = np.empty((n, n_times), dtype=bool)
    lmn, fvc, control, nfl_blood, csf_nfl, csf_sod1, fa, weight = (
        np.empty((n, n_times)) for _ in range(8)
    )
    milestones = np.empty((n, 5))
    _observe_patients(
        trajectories.function,
        trajectories.lmn_fraction,
        trajectories.umn_fraction,
        trajectories.release,
        onset,
        t,
        mixing,
        thresholds,
        expected_terms,
        np.asarray(resp.function_mixing, dtype=float),
        noise,
        visit_noise,
        z,
        np.asarray(population.genotype == SOD1),
        np.asarray(population.genotype == C9ORF72),
        nfl.c9_extramotor_lead_months * np.exp(nfl.c9_extramotor_log_sd * z[:, 4]),
        *_sod1_lowering(effects, trajectories.onset_months, n),
        CSF_SOD1_MONTHS,
        fvc0,
        uptake,
        death_e,
        cause_u,
        pav_e,
        q,
        referral,
        np.asarray(population.age_onset_years, dtype=float),
        np.asarray(population.weight_kg, dtype=float),
        constants,
        items,
        total,
        alive,
        gastrostomy,
        lmn,
        fvc,
        control,
        nfl_blood,
        csf_nfl,
        csf_sod1,
        fa,
        weight,
        milestones,
    )

    def expected_total() -> np.ndarray:
        out = np.empty((n, n_times))
        _expected_totals(
            trajectories.function,
            onset,
            t,
            alive,
            expected_terms,
            constants.item_sd,
            constants.first_post,
            out,
        )
        return out

    return Observations(
        t_months=t,
        items=items,
        gastrostomy=gastrostomy,
        total=total,
        fvc_percent=fvc,
        nfl_pg_ml=nfl_blood,
        nfl_control_pg_ml=control,
        csf_nfl_pg_ml=csf_nfl,
        csf_sod1_relative=csf_sod1,
        weight_kg=weight,
        mu_fraction=lmn,
        fa_cst=fa,
        alive=alive,
        milestones={
            "t_diagnosis_months": milestones[:, 0],
            "t_gastrostomy_months": milestones[:, 1],
            "t_niv_months": milestones[:, 2],
            "t_pav_months": milestones[:, 3],
            "t_death_months": milestones[:, 4],
        },
        compute_expected_total=expected_total,
    )
