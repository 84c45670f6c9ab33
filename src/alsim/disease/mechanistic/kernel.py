"""The compiled inner loop of the mechanistic engine (Numba).

One call integrates many patients; each patient is integrated on its own (no shared state), so
results do not depend on how patients are grouped into calls. The equations and the scheme are
those documented in :mod:`alsim.disease.mechanistic.engine`; this module only makes them fast.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

N_POOLS = 8
N_PATHWAYS = 5
N_REGIONS = 4
MISFOLDING = 0
# Fast-math without the no-NaN/no-inf assumptions (NaN marks "no onset yet").
FAST = {"contract", "arcp", "nsz", "reassoc"}


@njit(cache=True, nogil=True, fastmath=FAST)
def _rhs(x, out, phi, inputs, w, a, spread, decay, k2, coupling):
    """out = dx/dt for one patient's (8, 5) burdens (``phi`` is scratch space)."""
    for p in range(N_POOLS):
        for j in range(N_PATHWAYS):
            v = x[p, j]
            phi[p, j] = v * v / (k2 + v * v)
    for p in range(N_POOLS):
        seed = 0.0
        for q in range(N_POOLS):
            seed += a[p, q] * phi[q, MISFOLDING]
        for j in range(N_PATHWAYS):
            drive = 0.0
            for k in range(N_PATHWAYS):
                drive += w[j, k] * phi[p, k]
            drive *= coupling[j]
            value = drive + inputs[j] - decay * x[p, j]
            if j == MISFOLDING:
                value += spread * seed
            out[p, j] = value


@njit(cache=True, nogil=True, fastmath=FAST)
def _function(neurons, reinnervation, sharpness, umn_weight, out):
    for r in range(N_REGIONS):
        capacity = max(reinnervation * neurons[N_REGIONS + r], 1e-12)
        reinnervated = (1.0 + capacity ** (-sharpness)) ** (-1.0 / sharpness)
        out[r] = reinnervated * (1.0 - umn_weight * (1.0 - neurons[r]))


@njit(cache=True, nogil=True, fastmath=FAST)
def integrate(
    inputs0,  # (n, 5) background + genotype input
    spread,  # (n,)
    hazard_scale,  # (n,)
    reinnervation,  # (n,)
    focal_region,  # (n,) int
    w,  # (5, 5)
    a,  # (8, 8)
    vulnerability,  # (8,)
    burden_w,  # (5,)
    axon_w,  # (8,)
    limb_lmn,  # (2,) pool indices
    decay,
    k2,
    b0,
    trigger,
    theta,
    sharpness,
    umn_weight,
    dt,
    steps_per_month,
    max_months,
    horizon,
    eff_start,  # (E,)
    eff_input,  # (E, 5)
    eff_coupling,  # (E, 5)
    eff_hazard,  # (E,)
    eff_mask,  # (E, n) bool
    function_rec,  # (n, K, 4)
    lmn_rec,  # (n, K)
    umn_rec,  # (n, K)
    release_rec,  # (n, K)
    onset,  # (n,) out
    onset_region,  # (n,) out
    last_month,  # (n,) out
    record_pools,
    pools_rec,  # (n, K, 8) or (1, 1, 8)
    pathways_rec,  # (n, K, 8, 5) or (1, 1, 8, 5)
):
    n = inputs0.shape[0]
    n_effects = eff_start.shape[0]
    x = np.empty((N_POOLS, N_PATHWAYS))
    x_mid = np.empty((N_POOLS, N_PATHWAYS))
    slope = np.empty((N_POOLS, N_PATHWAYS))
    phi = np.empty((N_POOLS, N_PATHWAYS))
    neurons = np.empty(N_POOLS)
    f = np.empty(N_REGIONS)
    inputs = np.empty(N_PATHWAYS)
    coupling = np.empty(N_PATHWAYS)
    for i in range(n):
        x[:, :] = 0.0
        neurons[:] = 1.0
        for kind in range(2):
            for j in range(N_PATHWAYS):
                x[kind * N_REGIONS + focal_region[i], j] = trigger
        onset_i = math.nan
        region_i = -1
        previous_min = 1.0
        stop = max_months
        month = 0
        while True:
            # -- record the state at the end of `month` ---------------------------------------
            _function(neurons, reinnervation[i], sharpness, umn_weight, f)
            current_min = f[0]
            argmin = 0
            for r in range(1, N_REGIONS):
                if f[r] < current_min:
                    current_min = f[r]
                    argmin = r
            for r in range(N_REGIONS):
                function_rec[i, month, r] = f[r]
            lmn_rec[i, month] = 0.5 * (neurons[limb_lmn[0]] + neurons[limb_lmn[1]])
            umn_mean = 0.0
            for r in range(N_REGIONS):
                umn_mean += neurons[r]
            umn_rec[i, month] = umn_mean / N_REGIONS
            if record_pools:
                for p in range(N_POOLS):
                    pools_rec[i, month, p] = neurons[p]
                    for j in range(N_PATHWAYS):
                        pathways_rec[i, month, p, j] = x[p, j]
            if math.isnan(onset_i) and current_min < theta:
                if month == 0:
                    onset_i = 0.0
                else:
                    frac = (previous_min - theta) / max(previous_min - current_min, 1e-12)
                    onset_i = month - 1 + min(max(frac, 0.0), 1.0)
                region_i = argmin
            previous_min = current_min
            if not math.isnan(onset_i) and month >= horizon and onset_i <= month - horizon:
                stop = month
                break
            if month == max_months:
                break
            # -- advance one month ----------------------------------------------------------
            for j in range(N_PATHWAYS):
                inputs[j] = inputs0[i, j]
                coupling[j] = 1.0
            hazard_factor = 1.0
            for e in range(n_effects):
                if eff_mask[e, i] and not math.isnan(onset_i) and month - onset_i >= eff_start[e]:
                    for j in range(N_PATHWAYS):
                        inputs[j] *= eff_input[e, j]
                        coupling[j] *= eff_coupling[e, j]
                    hazard_factor *= eff_hazard[e]
            released = 0.0
            for _ in range(steps_per_month):
                _rhs(x, slope, phi, inputs, w, a, spread[i], decay, k2, coupling)
                for p in range(N_POOLS):
                    for j in range(N_PATHWAYS):
                        x_mid[p, j] = max(x[p, j] + 0.5 * dt * slope[p, j], 0.0)
                _rhs(x_mid, slope, phi, inputs, w, a, spread[i], decay, k2, coupling)
                for p in range(N_POOLS):
                    burden = 0.0
                    for j in range(N_PATHWAYS):
                        x[p, j] = max(x[p, j] + dt * slope[p, j], 0.0)
                        burden += burden_w[j] * x_mid[p, j]
                    h = hazard_scale[i] * vulnerability[p] * max(burden - b0, 0.0) * hazard_factor
                    survived = neurons[p] * math.exp(-h * dt)
                    released += (neurons[p] - survived) * axon_w[p]
                    neurons[p] = survived
            month += 1
            release_rec[i, month] = released
        # Months after the patient's stop keep the last state (never read by the observers).
        for m in range(stop + 1, function_rec.shape[1]):
            for r in range(N_REGIONS):
                function_rec[i, m, r] = function_rec[i, stop, r]
            lmn_rec[i, m] = lmn_rec[i, stop]
            umn_rec[i, m] = umn_rec[i, stop]
            release_rec[i, m] = 0.0
            if record_pools:
                for p in range(N_POOLS):
                    pools_rec[i, m, p] = pools_rec[i, stop, p]
                    for j in range(N_PATHWAYS):
                        pathways_rec[i, m, p, j] = pathways_rec[i, stop, p, j]
        if math.isnan(onset_i):
            onset_i = float(stop)
            region_i = argmin
        onset[i] = onset_i
        onset_region[i] = region_i
        last_month[i] = stop
