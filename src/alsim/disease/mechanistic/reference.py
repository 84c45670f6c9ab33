"""A patient-by-patient reference solution of the mechanistic ODEs with an adaptive solver.

Used to bound the fixed-step engine's error (tests) and as the baseline of the performance
benchmark. The right-hand side is the continuous form of :mod:`alsim.disease.mechanistic.engine`.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from alsim.disease.mechanistic.engine import adjacency, pool_vulnerability
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
):
    """Solve one patient's pathway burdens and neuron fractions at ``months`` after the trigger.

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
    vulnerability = pool_vulnerability(p)
    spread = draws.spread[patient]
    hazard_scale = draws.hazard[patient]
    b0 = p.neurons.burden_threshold
    n_x = N_POOLS * N_PATHWAYS

    def rhs(_t, y):
        x = y[:n_x].reshape(N_POOLS, N_PATHWAYS)
        neurons = y[n_x:]
        phi = x * x / (k2 + x * x)
        dx = inputs + phi @ w.T - decay * x
        dx[:, MISFOLDING] += spread * (a @ phi[:, MISFOLDING])
        burden = x @ burden_w
        dn = -hazard_scale * vulnerability * np.maximum(burden - b0, 0.0) * neurons
        return np.concatenate([dx.ravel(), dn])

    x0 = np.zeros((N_POOLS, N_PATHWAYS))
    region = population.onset_region[patient]
    for kind in (UMN, LMN):
        x0[pool_index(kind, region)] = p.pathways.trigger_level
    y0 = np.concatenate([x0.ravel(), np.ones(N_POOLS)])
    solution = solve_ivp(
        rhs, (0.0, float(months[-1])), y0, t_eval=months, rtol=rtol, atol=atol, method="LSODA"
    )
    if not solution.success:  # pragma: no cover - solver failure is a bug in the model
        raise RuntimeError(solution.message)
    y = solution.y.T
    return y[:, :n_x].reshape(-1, N_POOLS, N_PATHWAYS), y[:, n_x:]
