r"""What shows: from latent pool trajectories to ALSFRS-R items, FVC, NfL, weight and milestones.

Everything here works on a monthly grid aligned on symptom onset (``t = 0``), vectorised over
patients; the only loop is over months where a state must be carried (cumulative hazards,
device status).

* **Items**: item ``i`` reads the latent function ``L_i = sum_r M_ir F_r`` plus visit noise and
  scores the number of its four ordered thresholds exceeded (integers 0-4). Item 5 is 5b after a
  gastrostomy; item 12 follows ventilation status (4 none, 3-1 NIV by respiratory function,
  0 permanent ventilation).
* **FVC** (% predicted) ``= FVC0_i (f + (1 - f) F_trunk^gamma)`` plus measurement noise.
* **Blood NfL** ``= control_i(age) + g * s(t)`` where ``s`` is the axon-weighted neuron-loss rate
  smoothed with the clearance time; CSF NfL is ``csf_to_blood_ratio`` times higher.
* **Milestones**: gastrostomy when bulbar function falls below its threshold (accepted with a
  probability), NIV when FVC < 50% (accepted with a probability), permanent ventilation when
  respiratory function falls below its threshold (accepted with a probability), death when the
  cumulative hazard exceeds the patient's Exp(1) draw; hazard
  ``h = h_bg(age) + [exp(l + b_r (1 - F_trunk) + b_b (1 - F_bulbar)) - exp(l)] HR_NIV HR_PAV``.
* **Diagnosis** when the expected ALSFRS-R loss since onset reaches the patient's threshold
  ``q_i`` (log-normal), at least ``min_months`` after onset and no later than death.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from alsim.disease.mechanistic.engine import Trajectories
from alsim.disease.mechanistic.params import MechanisticParams
from alsim.disease.mechanistic.schema import BULBAR, SOD1

ITEM_THRESHOLD_AXIS = 4


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
    expected_total: np.ndarray  # noise-free ALSFRS-R total (float)


def _align(values: np.ndarray, times: np.ndarray, fill_before: np.ndarray | float) -> np.ndarray:
    """Linear interpolation of monthly records ``values`` (n, K[, m]) at float times (n, T)."""
    n, k = values.shape[:2]
    clipped = np.clip(times, 0.0, k - 1.0)
    lo = np.floor(clipped).astype(np.int64)
    hi = np.minimum(lo + 1, k - 1)
    frac = clipped - lo
    rows = np.arange(n)[:, None]
    if values.ndim == 3:
        frac = frac[..., None]
    out = values[rows, lo] * (1.0 - frac) + values[rows, hi] * frac
    before = times < 0
    if np.any(before):
        fill = np.broadcast_to(np.asarray(fill_before, dtype=float), out.shape)
        out = np.where(before[..., None] if values.ndim == 3 else before, fill, out)
    return out


def _first_crossing(condition, t, *, level=None, threshold=None) -> np.ndarray:
    """First time (from ``t``) where ``condition`` (n, T) holds, NaN where it never does.

    With ``level`` (n, T) rising through ``threshold`` (n,), the time is interpolated linearly
    within the month of the crossing, so milestone times are continuous in the parameters.
    """
    hit = condition.any(axis=1)
    first = condition.argmax(axis=1)
    times = t[first].astype(float)
    if level is not None:
        rows = np.arange(first.size)
        before = np.maximum(first - 1, 0)
        lo, hi = level[rows, before], level[rows, first]
        frac = np.where(hi > lo, (threshold - lo) / np.where(hi > lo, hi - lo, 1.0), 1.0)
        interpolate = (first > 0) & ~condition[rows, before]
        times = np.where(interpolate, t[before] + np.clip(frac, 0.0, 1.0), times)
    return np.where(hit, times, np.nan)


def observe(
    trajectories: Trajectories,
    population,
    params: MechanisticParams,
    streams,
    *,
    horizon_months: int,
    pre_onset_months: int,
) -> Observations:
    """Readouts and milestones on the monthly grid ``-pre_onset_months .. horizon_months``."""
    p = params
    n = trajectories.onset_months.shape[0]
    t = np.arange(-pre_onset_months, horizon_months + 1, dtype=float)
    times = trajectories.onset_months[:, None] + t[None, :]  # months since trigger
    healthy_function = trajectories.function[:, 0]
    function = _align(trajectories.function, times, healthy_function[:, None, :])
    lmn = _align(trajectories.lmn_fraction, times, 1.0)
    umn = _align(trajectories.umn_fraction, times, 1.0)

    # Per-patient draws for readouts and milestones, in a fixed order.
    z = streams.draw("milestones", "standard_normal", size_per_patient=(5,))
    u = streams.draw("milestones", "random", size_per_patient=(3,))
    death_e = streams.draw("milestones", "standard_exponential")
    noise = streams.draw(
        "measurement", "standard_normal", size_per_patient=(t.size, 12), dtype=np.float32
    )
    visit_noise = streams.draw(
        "measurement", "standard_normal", size_per_patient=(t.size, 3), dtype=np.float32
    )

    age = population.age_onset_years[:, None] + t[None, :] / 12.0
    post = t >= 0

    # Latent item function and noise-free expected total.
    mixing = np.asarray(p.items.mixing)
    thresholds = np.asarray(p.items.thresholds)
    latent = function @ mixing.T  # (n, T, 12)
    # Expected total under the visit noise: sum over items and thresholds of P(L + e > tau).
    expected = ndtr((latent[..., None] - thresholds) / max(p.items.measurement_sd, 1e-6)).sum(
        axis=(-1, -2)
    )

    # Gastrostomy: bulbar function below threshold, accepted with a probability.
    resp = p.respiratory
    gastro_need = (function[..., BULBAR] < resp.gastrostomy_threshold) & post
    t_gastro = np.where(
        u[:, 0] < resp.gastrostomy_uptake,
        _first_crossing(
            gastro_need, t, level=-function[..., BULBAR], threshold=-resp.gastrostomy_threshold
        ),
        np.nan,
    )
    gastrostomy = t[None, :] >= np.nan_to_num(t_gastro, nan=np.inf)[:, None]

    # FVC, NIV and permanent ventilation.
    fvc0 = np.clip(resp.fvc_baseline_mean + resp.fvc_baseline_sd * z[:, 0], 55.0, 140.0)
    resp_fn = function @ np.asarray(resp.function_mixing)  # respiratory function
    fvc_true = fvc0[:, None] * (
        resp.fvc_floor + (1.0 - resp.fvc_floor) * resp_fn**resp.fvc_exponent
    )
    fvc = np.maximum(fvc_true + resp.fvc_measurement_sd * visit_noise[..., 0], 0.0)
    niv_need = (fvc_true < resp.niv_fvc_threshold) & post
    t_niv = np.where(
        u[:, 1] < resp.niv_uptake,
        _first_crossing(niv_need, t, level=-fvc_true, threshold=-resp.niv_fvc_threshold),
        np.nan,
    )
    pav_need = (resp_fn < resp.pav_function_threshold) & post
    t_pav = np.where(
        u[:, 2] < resp.pav_uptake,
        _first_crossing(pav_need, t, level=-resp_fn, threshold=-resp.pav_function_threshold),
        np.nan,
    )
    on_niv = t[None, :] >= np.nan_to_num(t_niv, nan=np.inf)[:, None]
    on_pav = t[None, :] >= np.nan_to_num(t_pav, nan=np.inf)[:, None]

    # Death: cumulative hazard against an Exp(1) draw, from onset.
    m = p.mortality
    disease = np.exp(
        m.log_rate + m.resp_slope * (1.0 - resp_fn) + m.bulbar_slope * (1.0 - function[..., BULBAR])
    )
    disease = (disease - np.exp(m.log_rate)) * np.where(on_niv, m.niv_hazard_ratio, 1.0)
    disease = disease * np.where(on_pav, m.pav_hazard_ratio, 1.0)
    background = (
        m.background_gompertz_a_per_year / 12.0 * np.exp(m.background_gompertz_b_per_year * age)
    )
    hazard = np.where(post, disease + background, 0.0)
    # The hazard of grid month k applies over (t_k, t_k + 1]; H_k is the cumulative hazard at t_k.
    cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(hazard, axis=1)[:, :-1]], axis=1)
    crossed = cumulative >= death_e[:, None]
    died = crossed.any(axis=1)
    k_after = crossed.argmax(axis=1)  # first grid index with H >= E
    k_before = np.maximum(k_after - 1, 0)
    rows = np.arange(n)
    h_month = hazard[rows, k_before]
    fraction = np.where(
        h_month > 0, (death_e - cumulative[rows, k_before]) / np.maximum(h_month, 1e-300), 0.0
    )
    t_death = np.where(died, t[k_before] + np.clip(fraction, 0.0, 1.0), np.nan)
    alive = t[None, :] < np.nan_to_num(t_death, nan=np.inf)[:, None]

    # Events after death do not happen.
    for series in (t_gastro, t_niv, t_pav):
        series[~np.isnan(t_death) & (series >= t_death)] = np.nan

    # Items: latent + noise through thresholds; item 5 as 5b after gastrostomy; item 12 by device.
    noisy = latent + p.items.measurement_sd * noise
    items = (noisy[..., None] > thresholds).sum(axis=-1).astype(np.int8)
    resp_item = np.where(resp_fn >= 0.35, 3, np.where(resp_fn >= 0.2, 2, 1)).astype(np.int8)
    items[..., 11] = np.where(on_pav, 0, np.where(on_niv, resp_item, 4))
    items[~alive] = -1
    total = np.where(alive, items.sum(axis=-1, dtype=np.int16), -1).astype(np.int16)

    # Diagnosis: expected loss since onset reaches q_i, after min_months, no later than death.
    dx = p.diagnosis
    q = dx.loss_median_points * np.exp(dx.loss_log_sd * z[:, 1])
    expected_total = np.where(post, expected, 48.0)
    diag_need = ((48.0 - expected_total) >= q[:, None]) & (t[None, :] >= dx.min_months)
    t_diag = _first_crossing(diag_need, t, level=48.0 - expected_total, threshold=q)
    t_diag = np.where(np.isnan(t_death), t_diag, np.fmin(t_diag, t_death))

    # NfL: smoothed axon-loss rate on the trigger grid, then aligned.
    nfl = p.nfl
    smooth = np.empty_like(trajectories.release)
    keep = np.exp(-1.0 / nfl.clearance_months)
    smooth[:, 0] = trajectories.release[:, 0]
    for k in range(1, smooth.shape[1]):
        smooth[:, k] = keep * smooth[:, k - 1] + (1.0 - keep) * trajectories.release[:, k]
    release = _align(smooth, times, 0.0)
    control = np.exp(
        nfl.control_log_median_at_60
        + nfl.control_age_slope_per_year * (age - 60.0)
        + nfl.control_log_sd * z[:, 2:3]
    )
    nfl_true = control + nfl.release_gain * np.maximum(release, 0.0) ** nfl.release_exponent
    nfl_blood = nfl_true * np.exp(nfl.measurement_cv * visit_noise[..., 1])
    csf_nfl = nfl_true * nfl.csf_to_blood_ratio

    # Weight: hypermetabolism while the disease is active, dysphagia until gastrostomy.
    w = p.weight
    loss_rate = np.where(post, w.hypermetabolic_loss_per_month, 0.0) + np.where(
        post & ~gastrostomy, w.dysphagia_loss_per_month * (1.0 - function[..., BULBAR]), 0.0
    )
    weight = population.weight_kg[:, None] * np.cumprod(1.0 - loss_rate, axis=1)

    sod1 = population.genotype == SOD1
    csf_sod1 = np.where(sod1[:, None], np.exp(0.08 * visit_noise[..., 2]), np.nan)
    im = p.imaging
    fa = im.fa_baseline - im.fa_umn_loss * (1.0 - umn) + im.fa_sd * z[:, 3:4]

    dead_mask = ~alive
    for series in (fvc, nfl_blood, csf_nfl, weight, fa):
        series[dead_mask] = np.nan
    csf_sod1[dead_mask] = np.nan

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
            "t_diagnosis_months": t_diag,
            "t_gastrostomy_months": t_gastro,
            "t_niv_months": t_niv,
            "t_pav_months": t_pav,
            "t_death_months": t_death,
        },
        expected_total=expected_total,
    )
