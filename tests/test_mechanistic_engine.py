"""The mechanistic engine: step error against an adaptive solver, monotonicity, causality."""

from types import SimpleNamespace

import numpy as np
import pytest

from alsim.disease.mechanistic.engine import (
    PathwayEffect,
    draw_patient_parameters,
    simulate_trajectories,
)
from alsim.disease.mechanistic.params import load_params
from alsim.disease.mechanistic.reference import reference_solution
from alsim.disease.mechanistic.schema import GENOTYPES, PATHWAYS
from alsim.errors import InputError
from alsim.rng import BlockStreams

PARAMS = load_params()


def population(n, seed=0, genotype=None, region=None):
    rng = np.random.default_rng(seed)
    return SimpleNamespace(
        genotype=np.full(n, genotype, np.int8)
        if genotype is not None
        else rng.integers(0, 5, n).astype(np.int8),
        sod1_a4v=rng.random(n) < 0.3,
        age_onset_years=rng.normal(60, 10, n),
        onset_region=np.full(n, region, np.int8)
        if region is not None
        else rng.integers(0, 4, n).astype(np.int8),
    )


def run(pop, params=PARAMS, seed=1, **kwargs):
    draws = draw_patient_parameters(pop, params, BlockStreams(seed, 0, pop.genotype.size))
    return simulate_trajectories(
        pop, draws, params, horizon_months=kwargs.pop("horizon", 60), **kwargs
    ), draws


def test_step_error_against_adaptive_solver_is_bounded_and_second_order():
    pop = population(5, seed=3)
    errors = {}
    for dt in (1.0, 0.5):
        params = PARAMS.replace({"numerics.dt_months": dt})
        traj, draws = run(pop, params, record_pools=True)
        months = np.arange(traj.neurons.shape[1], dtype=float)
        worst_n = worst_x = 0.0
        for i in range(5):
            # Each patient is integrated up to its own horizon; later months repeat the state.
            stop = traj.extras["last_month"][i] + 1
            # The regional factors switch on at the first month boundary after onset.
            switch = int(np.ceil(traj.onset_months[i]))
            x_ref, n_ref = reference_solution(
                i, pop, draws, params, months[:stop], factor_from_month=switch
            )
            worst_n = max(worst_n, np.abs(traj.neurons[i, :stop] - n_ref).max())
            worst_x = max(worst_x, np.abs(traj.pathways[i, :stop] - x_ref).max())
        errors[dt] = (worst_n, worst_x)
    # The default step (1 month), calibrated parameters: surviving-neuron fractions within 0.015
    # of LSODA (measured 0.0094), pathway burdens within 0.12 (measured 0.035, ~2% of the
    # pathological level of ~2). The reference switches the post-onset factors on at the same
    # month as the engine, and integrates piecewise across the quarterly jumps of the drift.
    assert errors[1.0][0] < 0.015 and errors[1.0][1] < 0.12
    # Halving the step cuts the error by ~4 (second order); require at least 3.
    assert errors[0.5][0] < errors[1.0][0] / 3


def test_patients_are_integrated_independently_of_their_companions():
    """A patient's trajectory does not depend on who else is in the batch."""
    pop = population(40, seed=9)
    together, draws = run(pop, record_pools=True)
    for i in (0, 17, 39):
        alone_pop = SimpleNamespace(**{k: v[i : i + 1] for k, v in vars(pop).items()})
        alone_draws = type(draws)(**{k: v[i : i + 1] for k, v in vars(draws).items()})
        alone = simulate_trajectories(
            alone_pop, alone_draws, PARAMS, horizon_months=60, record_pools=True
        )
        stop = together.extras["last_month"][i] + 1
        np.testing.assert_array_equal(alone.neurons[0, :stop], together.neurons[i, :stop])
        assert alone.onset_months[0] == together.onset_months[i]


def test_neurons_never_increase_and_function_never_improves():
    traj, _ = run(population(300, seed=4), record_pools=True, horizon=120)
    assert np.all(np.diff(traj.neurons, axis=1) <= 0)
    assert np.all((traj.neurons >= 0) & (traj.neurons <= 1))
    assert np.all(np.diff(traj.function, axis=1) <= 1e-12)
    assert np.all(traj.pathways >= 0)


def test_onset_in_the_focal_region_for_most_patients():
    pop = population(400, seed=5)
    traj, _ = run(pop)
    assert np.mean(traj.onset_region == pop.onset_region) > 0.95
    assert not traj.extras["onset_not_reached"].any()


def progression_summary(traj):
    """Months to onset, and mean function 24 months after onset."""
    rows = np.arange(traj.onset_months.size)
    at_24 = np.minimum(np.round(traj.onset_months).astype(int) + 24, traj.function.shape[1] - 1)
    return np.median(traj.onset_months), traj.function[rows, at_24].mean()


@pytest.mark.parametrize("pathway", range(len(PATHWAYS)))
def test_removing_a_pathways_input_delays_onset_and_slows_progression(pathway):
    """Causality: zero one pathway's genotype input in every genotype."""
    pop = population(300, seed=6)
    base_onset, base_function = progression_summary(run(pop)[0])
    inputs = {g: list(getattr(PARAMS.genotype_input, g)) for g in GENOTYPES}
    for values in inputs.values():
        values[pathway] = 0.0
    background = list(PARAMS.pathways.baseline_input)
    background[pathway] = 0.0
    updates = {f"genotype_input.{g}": v for g, v in inputs.items()}
    updates["pathways.baseline_input"] = background
    onset, function = progression_summary(run(pop, PARAMS.replace(updates))[0])
    assert onset >= base_onset
    assert function > base_function


def test_cutting_the_feedback_loop_slows_disease():
    pop = population(300, seed=7)
    base_onset, base_function = progression_summary(run(pop)[0])
    onset, function = progression_summary(
        run(pop, PARAMS.replace({"pathways.cross_coupling": 0.0}))[0]
    )
    assert onset > base_onset and function > base_function


def test_effects_slow_but_never_restore_neurons():
    pop = population(200, seed=8)
    control, _ = run(pop, record_pools=True)
    effect = PathwayEffect(start_months=6.0, input_factor=(0.2, 1, 1, 1, 1), hazard_factor=0.5)
    treated, _ = run(pop, record_pools=True, effects=(effect,))
    rows = np.arange(200)
    start = np.ceil(control.onset_months + 6).astype(int)
    for i in rows[:50]:
        # Identical before the effect starts (same draws), at least as many neurons after.
        np.testing.assert_array_equal(
            treated.neurons[i, : start[i]], control.neurons[i, : start[i]]
        )
        assert np.all(treated.neurons[i] >= control.neurons[i] - 1e-12)
    assert np.all(np.diff(treated.neurons, axis=1) <= 0)
    k = min(control.neurons.shape[1], treated.neurons.shape[1])
    assert treated.neurons[:, :k].mean() > control.neurons[:, :k].mean()


def test_bad_parameter_values_name_the_key():
    with pytest.raises(InputError, match=r"updates: neurons.hazard_median"):
        PARAMS.replace({"neurons.hazard_median": -1.0})
    with pytest.raises(InputError, match="unknown parameter"):
        PARAMS.replace({"neurons.no_such_key": 1.0})


def test_rate_walk_is_a_stationary_ar1_with_mean_one():
    from alsim.disease.mechanistic.engine import hazard_walk

    z = np.random.default_rng(3).standard_normal((20000, 40))
    sd, tau = 0.8, 24.0
    u = hazard_walk(z, sd, tau)
    w = np.log(u) + 0.5 * sd * sd
    rho = np.exp(-3.0 / tau)
    se_sd = sd / np.sqrt(2 * z.shape[0])
    for q in (0, 20, 39):  # stationary: the same SD in every quarter
        assert abs(w[:, q].std() - sd) < 4 * se_sd
    lag1 = np.corrcoef(w[:, 10], w[:, 11])[0, 1]
    assert abs(lag1 - rho) < 4 * (1 - rho**2) / np.sqrt(z.shape[0])
    assert abs(u.mean() - 1.0) < 4 * u.std() / np.sqrt(u.size) * 5  # correlated draws: 5x SE
    assert np.all(hazard_walk(z, 0.0, tau) == 1.0)


def test_regional_factors_keep_the_onset_region():
    pop = population(400, seed=4)
    draws = draw_patient_parameters(pop, PARAMS, BlockStreams(2, 0, 400))
    factor = draws.region_factor
    assert factor.shape == (400, 4)
    assert np.all(factor[np.arange(400), pop.onset_region] == 1.0)
    others = np.ones_like(factor, dtype=bool)
    others[np.arange(400), pop.onset_region] = False
    assert np.std(np.log(factor[others])) == pytest.approx(
        PARAMS.neurons.region_vulnerability_log_sd, rel=0.15
    )
