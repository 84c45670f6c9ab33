"""The compiled inner loop of the mechanistic engine (Numba).

The equations and the scheme are those documented in :mod:`alsim.disease.mechanistic.engine`;
this module only makes them fast.

* **Patients side by side.** A call integrates its patients in ``lanes`` slots, one patient per
  slot: the state arrays have the slot as their last axis, so the arithmetic of a time step runs
  in loops over slots that compile to SIMD instructions. Each slot has its own month counter;
  when a patient reaches its horizon, the next patient takes over the slot. Slots never exchange
  data and all execute the same instructions (``lanes`` is a multiple of every vector width), so
  a patient's trajectory does not depend on its slot or on the patients beside it; the tests
  check this bit for bit.
* **Sparsity and constants.** The seeding adjacency ``A`` (8 x 8; 20 non-zero entries with the
  default parameters) is applied as lists of each row's non-zero entries. The feedback matrix
  ``W`` (5 x 5; 17 non-zero) is applied densely: across slots each entry is one vector
  multiply-add, and skipping the zeros measured no faster. What is constant over a month (the
  effect-modified inputs and couplings, each pool's death rate) is computed once per month and
  slot, not once per step.
* **Skipped no-ops.** A pool whose burden is at or below the hazard threshold loses no neurons in
  a step, so its exponential update (a multiplication by exactly 1) is skipped; a region whose
  pools lost no neurons keeps its function value (same inputs, same result); with the default
  sharpness 6 the inner power of the soft minimum is a division and three multiplications
  instead of a second ``pow``.
* **No Python semantics in the loops**: ``error_model="numpy"`` (no division-by-zero checks,
  which would block vectorisation) and fast-math without the no-NaN/no-inf flags.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

N_POOLS = 8
N_PATHWAYS = 5
N_REGIONS = 4
MISFOLDING = 0
#: Patients integrated side by side (a multiple of every SIMD width, see the module docstring).
LANES = 64
# Fast-math without the no-NaN/no-inf assumptions (NaN marks "no onset yet"); division by zero
# follows IEEE rules instead of raising (Python's checks would block vectorisation).
FAST = {"contract", "arcp", "nsz", "reassoc"}
JIT = {"cache": True, "nogil": True, "fastmath": FAST, "error_model": "numpy"}


@njit(**JIT)
def sparse_rows(m):
    """``(index, value, count)``: the non-zero entries of each row of ``m``, in column order."""
    rows, cols = m.shape
    index = np.zeros((rows, cols), dtype=np.int64)
    value = np.zeros((rows, cols))
    count = np.zeros(rows, dtype=np.int64)
    for r in range(rows):
        for c in range(cols):
            if m[r, c] != 0.0:
                index[r, count[r]] = c
                value[r, count[r]] = m[r, c]
                count[r] += 1
    return index, value, count


@njit(**JIT)
def _rhs(x, out, phi, inputs, coupling, w, a_sparse, spread, decay, k2):
    """``out = dx/dt`` for all slots: burdens ``x[j, p, s]`` (pathway, pool, slot).

    ``inputs[j, s]``, ``coupling[j, s]`` (the month's factor on feedback row ``j``) and
    ``spread[s]`` are per slot; ``phi`` is scratch space.
    """
    a_index, a_value, a_count = a_sparse
    lanes = x.shape[2]
    for j in range(N_PATHWAYS):
        for p in range(N_POOLS):
            for s in range(lanes):
                v2 = x[j, p, s] * x[j, p, s]
                phi[j, p, s] = v2 / (k2 + v2)
    for j in range(N_PATHWAYS):
        for p in range(N_POOLS):
            for s in range(lanes):
                drive = 0.0
                for k in range(N_PATHWAYS):
                    drive += w[j, k] * phi[k, p, s]
                out[j, p, s] = coupling[j, s] * drive + inputs[j, s] - decay * x[j, p, s]
    for p in range(N_POOLS):
        for e in range(a_count[p]):
            q = a_index[p, e]
            weight = a_value[p, e]
            for s in range(lanes):
                out[MISFOLDING, p, s] += spread[s] * weight * phi[MISFOLDING, q, s]


@njit(**JIT)
def _region_function(umn, lmn, reinnervation, sharpness, umn_weight):
    """``F_r`` from the region's surviving UMN and LMN fractions."""
    capacity = max(reinnervation * lmn, 1e-12)
    if sharpness == 6.0:  # the default: the inner power by multiplications (one pow fewer)
        inverse = 1.0 / (capacity * capacity)
        penalty = inverse * inverse * inverse
    else:
        penalty = capacity ** (-sharpness)
    reinnervated = (1.0 + penalty) ** (-1.0 / sharpness)
    return reinnervated * (1.0 - umn_weight * (1.0 - umn))


@njit(**JIT)
def integrate(
    inputs0,  # (n, 5) background + genotype input
    spread,  # (n,)
    hazard_scale,  # (n,)
    hazard_walk,  # (n, Q): rate multiplier per quarter from the trigger, used after onset
    reinnervation,  # (n,)
    focal_region,  # (n,) int
    w,  # (5, 5)
    a,  # (8, 8)
    vulnerability_pre,  # (8,): v_p, used until symptom onset
    vulnerability,  # (n, 8): v_p times the patient's regional factor, from the month after onset
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
    eff_start,  # (E, n) start per patient (NaN: never)
    eff_from_trigger,  # (E,) bool: start counted from the trigger (else from onset)
    eff_input,  # (E, 5)
    eff_coupling,  # (E, 5)
    eff_hazard,  # (E,)
    eff_mask,  # (E, n) bool
    eff_sod1,  # (E,) mutant SOD1 level an effect lowers to (1: no lowering)
    sod1_mediated,  # (n,) f: share of the hazard that needs mutant SOD1 (0 for non-carriers)
    sod1_order,  # n: effective order of the toxic species in the SOD1 level
    sod1_keep,  # exp(-1 / level_months): monthly persistence of the SOD1 level's deviation
    sod1_mean,  # level_months (1 - sod1_keep): the deviation's mean over a month, per unit
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
    lanes,  # slots integrated side by side (LANES; a runtime value so loops stay loops)
):
    n = inputs0.shape[0]
    n_effects = eff_start.shape[0]
    a_sparse = sparse_rows(a)
    half_dt = 0.5 * dt
    # State and per-month constants of each slot (idle slots hold the zero-input healthy
    # state, which does not change).
    x = np.zeros((N_PATHWAYS, N_POOLS, lanes))
    x_mid = np.zeros((N_PATHWAYS, N_POOLS, lanes))
    slope = np.zeros((N_PATHWAYS, N_POOLS, lanes))
    phi = np.zeros((N_PATHWAYS, N_POOLS, lanes))
    neurons = np.ones((N_POOLS, lanes))
    burden = np.zeros((N_POOLS, lanes))
    rate_dt = np.zeros((N_POOLS, lanes))
    inputs = np.zeros((N_PATHWAYS, lanes))
    coupling = np.zeros((N_PATHWAYS, lanes))
    spread_s = np.zeros(lanes)
    released = np.zeros(lanes)
    sod1_level = np.ones(lanes)  # mutant SOD1 relative to untreated, at the start of the month
    # Bookkeeping of each slot's patient.
    patient = np.full(lanes, -1, dtype=np.int64)
    month = np.zeros(lanes, dtype=np.int64)
    onset_s = np.full(lanes, np.nan)
    region_s = np.full(lanes, -1, dtype=np.int64)
    previous_min = np.ones(lanes)
    f = np.empty((N_REGIONS, lanes))
    f_from = np.empty((N_POOLS, lanes))  # neurons that f was computed from

    next_patient = 0
    busy = 0
    for s in range(lanes):
        if next_patient < n:
            patient[s] = next_patient
            next_patient += 1
            busy += 1
    fresh = patient >= 0
    while busy > 0:
        for s in range(lanes):
            while patient[s] >= 0:
                i = patient[s]
                if fresh[s]:  # a new patient takes the slot: trigger state
                    fresh[s] = False
                    for j in range(N_PATHWAYS):
                        for p in range(N_POOLS):
                            x[j, p, s] = 0.0
                    for p in range(N_POOLS):
                        neurons[p, s] = 1.0
                        f_from[p, s] = -1.0
                    for kind in range(2):
                        for j in range(N_PATHWAYS):
                            x[j, kind * N_REGIONS + focal_region[i], s] = trigger
                    month[s] = 0
                    sod1_level[s] = 1.0
                    onset_s[s] = math.nan
                    region_s[s] = -1
                    previous_min[s] = 1.0
                m = month[s]
                # -- record the state at the end of month m ----------------------------------------
                current_min = 2.0
                argmin = 0
                for r in range(N_REGIONS):
                    umn, lmn = neurons[r, s], neurons[N_REGIONS + r, s]
                    if umn != f_from[r, s] or lmn != f_from[N_REGIONS + r, s]:
                        f[r, s] = _region_function(
                            umn, lmn, reinnervation[i], sharpness, umn_weight
                        )
                        f_from[r, s] = umn
                        f_from[N_REGIONS + r, s] = lmn
                    function_rec[i, m, r] = f[r, s]
                    if f[r, s] < current_min:
                        current_min = f[r, s]
                        argmin = r
                lmn_rec[i, m] = 0.5 * (neurons[limb_lmn[0], s] + neurons[limb_lmn[1], s])
                umn_mean = 0.0
                for r in range(N_REGIONS):
                    umn_mean += neurons[r, s]
                umn_rec[i, m] = umn_mean / N_REGIONS
                if record_pools:
                    for p in range(N_POOLS):
                        pools_rec[i, m, p] = neurons[p, s]
                        for j in range(N_PATHWAYS):
                            pathways_rec[i, m, p, j] = x[j, p, s]
                onset_i = onset_s[s]
                if math.isnan(onset_i) and current_min < theta:
                    if m == 0:
                        onset_i = 0.0
                    else:
                        frac = (previous_min[s] - theta) / max(previous_min[s] - current_min, 1e-12)
                        onset_i = m - 1 + min(max(frac, 0.0), 1.0)
                    onset_s[s] = onset_i
                    region_s[s] = argmin
                previous_min[s] = current_min
                reached = not math.isnan(onset_i) and m >= horizon and onset_i <= m - horizon
                if not (reached or m == max_months):
                    # -- constants of the coming month (effects switch on at month ends) -----------
                    hazard_factor = 1.0
                    sod1_target = 1.0
                    for j in range(N_PATHWAYS):
                        inputs[j, s] = inputs0[i, j]
                        coupling[j, s] = 1.0
                    for e in range(n_effects):
                        if eff_from_trigger[e]:
                            started = m >= eff_start[e, i]  # False for NaN
                        else:
                            started = not math.isnan(onset_i) and m - onset_i >= eff_start[e, i]
                        if eff_mask[e, i] and started:
                            for j in range(N_PATHWAYS):
                                inputs[j, s] *= eff_input[e, j]
                                coupling[j, s] *= eff_coupling[e, j]
                            hazard_factor *= eff_hazard[e]
                            sod1_target *= eff_sod1[e]
                    # Mutant SOD1 relaxes towards the lowered level (first order); the month's
                    # hazard uses its mean over the month.
                    if sod1_mediated[i] > 0.0 and (sod1_level[s] != 1.0 or sod1_target != 1.0):
                        gap = sod1_level[s] - sod1_target
                        mean_level = sod1_target + gap * sod1_mean
                        sod1_level[s] = sod1_target + gap * sod1_keep
                        hazard_factor *= (
                            1.0
                            - sod1_mediated[i]
                            + sod1_mediated[i] * math.pow(mean_level, sod1_order)
                        )
                    # After onset only: the regional factors and the drift of the rate shape the
                    # course from symptoms on, not when or where the disease starts.
                    walk = 1.0
                    if not math.isnan(onset_i):
                        walk = hazard_walk[i, min(m // 3, hazard_walk.shape[1] - 1)]
                    for p in range(N_POOLS):
                        v_p = vulnerability_pre[p] if math.isnan(onset_i) else vulnerability[i, p]
                        rate_dt[p, s] = hazard_scale[i] * walk * v_p * hazard_factor * dt
                    spread_s[s] = spread[i]
                    break
                # -- the patient is done: months after its stop keep the last state ----------------
                for later in range(m + 1, function_rec.shape[1]):
                    for r in range(N_REGIONS):
                        function_rec[i, later, r] = function_rec[i, m, r]
                    lmn_rec[i, later] = lmn_rec[i, m]
                    umn_rec[i, later] = umn_rec[i, m]
                    release_rec[i, later] = 0.0
                    if record_pools:
                        for p in range(N_POOLS):
                            pools_rec[i, later, p] = pools_rec[i, m, p]
                            for j in range(N_PATHWAYS):
                                pathways_rec[i, later, p, j] = pathways_rec[i, m, p, j]
                if math.isnan(onset_i):  # still presymptomatic at the end of the window
                    onset_i = float(m)
                    region_s[s] = argmin
                onset[i] = onset_i
                onset_region[i] = region_s[s]
                last_month[i] = m
                if next_patient < n:
                    patient[s] = next_patient
                    next_patient += 1
                    fresh[s] = True
                else:  # idle: zero inputs keep the healthy state unchanged
                    patient[s] = -1
                    busy -= 1
                    for j in range(N_PATHWAYS):
                        inputs[j, s] = 0.0
                        for p in range(N_POOLS):
                            x[j, p, s] = 0.0
                        coupling[j, s] = 0.0
                    for p in range(N_POOLS):
                        neurons[p, s] = 1.0
                        rate_dt[p, s] = 0.0
                    spread_s[s] = 0.0
        if busy == 0:
            break
        # -- advance every slot by one month (explicit midpoint; exact exponential update) ---------
        released[:] = 0.0
        for _ in range(steps_per_month):
            _rhs(x, slope, phi, inputs, coupling, w, a_sparse, spread_s, decay, k2)
            for j in range(N_PATHWAYS):
                for p in range(N_POOLS):
                    for s in range(lanes):
                        x_mid[j, p, s] = max(x[j, p, s] + half_dt * slope[j, p, s], 0.0)
            _rhs(x_mid, slope, phi, inputs, coupling, w, a_sparse, spread_s, decay, k2)
            burden[:, :] = 0.0
            for j in range(N_PATHWAYS):
                for p in range(N_POOLS):
                    for s in range(lanes):
                        x[j, p, s] = max(x[j, p, s] + dt * slope[j, p, s], 0.0)
                        burden[p, s] += burden_w[j] * x_mid[j, p, s]
            for p in range(N_POOLS):
                for s in range(lanes):
                    if burden[p, s] > b0:
                        survived = neurons[p, s] * math.exp(-rate_dt[p, s] * (burden[p, s] - b0))
                        released[s] += (neurons[p, s] - survived) * axon_w[p]
                        neurons[p, s] = survived
        for s in range(lanes):
            if patient[s] >= 0:
                month[s] += 1
                release_rec[patient[s], month[s]] = released[s]
