"""A patient-by-patient reference solution of the mechanistic ODEs with an adaptive solver.

Used to bound the fixed-step engine's error (tests) and as the baseline of the performance
benchmark. The right-hand side is the continuous form of :mod:`alsim.disease.mechanistic.engine`.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from alsim.disease.mechanistic.engine import WALK_MONTHS_PER_STEP, adjacency, pool_vulnerability
from alsim.disease.mechanistic.params import MechanisticParams
from alsim.disease.mechanistic.schema import LMN, MISFOLDING, N_PATHWAYS, N_POOLS, UMN, pool_index


def reference_solution(
    patient: int,
    population,
    draws,
    params: MechanisticParams,
    months: np.ndarray,
    *,
    rtol: float = 1e-8,
    atol: float = 1e-10,
    factor_from_month: int | None = None,
):
    """Solve one patient's pathway burdens and neuron fractions at ``months`` after the trigger.

    The patient's regional factors and rate drift act from month ``factor_from_month`` on (the
    engine switches them on at the first month boundary at or after symptom onset: pass
    ``ceil(onset_months)`` of the engine's trajectory; None: never).

    Returns ``(pathways (T, 8, 5), neurons (T, 8))``.
    """
    p = params
    w = p.pathways.matrix()
    decay = p.pathways.decay_per_month
    k2 = p.pathways.hill_k**2
    burden_w = np.asarray(p.pathways.burden_weights)
    inputs = (
        np.asarray(p.pathways.baseline_input)
        + p.genotype_input.matrix()[population.genotype[patient]] * draws.input_scale[patient]
    )
    a = adjacency(p)
    factor = None if draws.region_factor is None else draws.region_factor[patient]
    vulnerability_pre = pool_vulnerability(p)
    vulnerability_post = pool_vulnerability(p, factor)
    vulnerability = [vulnerability_pre]
    spread = draws.spread[patient]
    hazard_scale = draws.hazard[patient]
    walk = None if draws.hazard_walk is None else draws.hazard_walk[patient]
    scale = [hazard_scale]  # the current quarter's rate (the walk is piecewise constant)
    b0 = p.neurons.burden_threshold
    n_x = N_POOLS * N_PATHWAYS

    def rhs(_t, y):
        x = y[:n_x].reshape(N_POOLS, N_PATHWAYS)
        neurons = y[n_x:]
        phi = x * x / (k2 + x * x)
        dx = inputs + phi @ w.T - decay * x
        dx[:, MISFOLDING] += spread * (a @ phi[:, MISFOLDING])
        burden = x @ burden_w
        dn = -scale[0] * vulnerability[0] * np.maximum(burden - b0, 0.0) * neurons
        return np.concatenate([dx.ravel(), dn])

    x0 = np.zeros((N_POOLS, N_PATHWAYS))
    region = population.onset_region[patient]
    for kind in (UMN, LMN):
        x0[pool_index(kind, region)] = p.pathways.trigger_level
    y0 = np.concatenate([x0.ravel(), np.ones(N_POOLS)])
    # Integrate piece by piece (quarters of the walk, and the month the regional factors switch
    # on) so that the solver never steps across a jump of the right-hand side.
    months = np.asarray(months, dtype=float)
    end = float(months[-1])
    ys = [y0[None, :]] if months[0] == 0.0 else []
    start = 0.0
    while start < end:
        q = round(start) // WALK_MONTHS_PER_STEP
        switch = factor_from_month is not None and start >= factor_from_month
        if switch:  # the walk jumps every quarter
            stop = min((q + 1) * WALK_MONTHS_PER_STEP, end)
        else:  # one piece up to the switch
            stop = end if factor_from_month is None else min(float(factor_from_month), end)
        drift = 1.0 if walk is None or not switch else walk[min(q, walk.shape[0] - 1)]
        scale[0] = hazard_scale * drift
        vulnerability[0] = vulnerability_post if switch else vulnerability_pre
        inside = months[(months > start) & (months <= stop)]
        t_eval = inside if inside.size and inside[-1] == stop else np.append(inside, stop)
        solution = solve_ivp(
            rhs, (start, stop), y0, t_eval=t_eval, rtol=rtol, atol=atol, method="LSODA"
        )
        if not solution.success:  # pragma: no cover - solver failure is a bug in the model
            raise RuntimeError(solution.message)
        ys.append(solution.y.T[: inside.size])
        y0 = solution.y[:, -1]
        start = stop
    y = np.concatenate(ys)
    return y[:, :n_x].reshape(-1, N_POOLS, N_PATHWAYS), y[:, n_x:]
