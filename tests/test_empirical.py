"""Empirical (PRO-ACT-like) natural-history model: parameters, shapes, streams, CRN, calibration."""

import math

import numpy as np
import pytest

from alsim.disease.empirical import (
    REP_BLOCK,
    EmpiricalParams,
    HazardEffect,
    SlopeEffect,
    load_empirical_params,
    simulate_empirical,
)
from alsim.errors import InputError

WEEK24 = np.arange(7) * 4 * 12 / 52  # visits every 4 weeks to week 24 (months)


@pytest.fixture(scope="module")
def params():
    return load_empirical_params()


# ------------------------------------------------------------------------------------------------
# parameters
# ------------------------------------------------------------------------------------------------


def test_default_parameters_have_sources(params):
    assert params.decline_mean_per_month == pytest.approx(1.03)
    assert params.residual_sd == pytest.approx(1.77)
    fields = [f for f in EmpiricalParams.model_fields if f != "provenance"]
    assert set(params.provenance) == set(fields)
    for name, prov in params.provenance.items():
        assert prov["source"], name
        assert prov["status"] in {"confirmed", "partial", "UNCONFIRMED", "derived", "assumed"}
        assert prov["unit"], name


def test_log_normal_moments(params):
    mu, sigma = params.log_decline_mu, params.log_decline_sigma
    mean = math.exp(mu + sigma**2 / 2)
    sd = mean * math.sqrt(math.exp(sigma**2) - 1)
    assert mean == pytest.approx(1.03) and sd == pytest.approx(0.76)
    assert params.mean_decline_power(1.0) == pytest.approx(1.03)
    assert params.decline_median_per_month < 1.03  # right-skewed


def test_invalid_values_name_the_field(params):
    with pytest.raises(InputError, match="residual_sd"):
        params.replace(residual_sd=-1.0)
    with pytest.raises(InputError, match="intercept_decline_corr"):
        EmpiricalParams(**{**params.model_dump(), "intercept_decline_corr": 1.5})
    with pytest.raises(InputError, match="not_a_parameter"):
        params.replace(not_a_parameter=1.0)
    changed = params.replace(dropout_hazard_per_month=0.0)
    assert changed.dropout_hazard_per_month == 0.0
    assert "dropout_hazard_per_month" not in changed.provenance


def _write(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_parameter_file_errors_name_the_key(tmp_path):
    from importlib import resources

    good = resources.files("alsim.params").joinpath("empirical.toml").read_text(encoding="utf-8")
    assert load_empirical_params(_write(tmp_path, good)).residual_sd == pytest.approx(1.77)
    bad_value = good.replace("value = 1.77", "value = -1.77")
    with pytest.raises(InputError, match=r"bad.toml: residual_sd"):
        load_empirical_params(_write(tmp_path, bad_value))
    bad_status = good.replace('status = "assumed"', 'status = "guessed"', 1)
    with pytest.raises(InputError, match=r"intercept_decline_corr.status"):
        load_empirical_params(_write(tmp_path, bad_status))
    missing = good.replace("[dropout_hazard_per_month]", "[dropout_hazard_per_month_x]")
    with pytest.raises(InputError, match="dropout_hazard_per_month"):
        load_empirical_params(_write(tmp_path, missing))
    with pytest.raises(InputError, match="not valid TOML"):
        load_empirical_params(_write(tmp_path, "[oops"))
    with pytest.raises(InputError, match="cannot read"):
        load_empirical_params(tmp_path / "absent.toml")


# ------------------------------------------------------------------------------------------------
# simulation: shapes, ranges, missingness
# ------------------------------------------------------------------------------------------------


def test_shapes_scale_and_missingness(params):
    out = simulate_empirical(40, 50, WEEK24, seed=3, params=params)
    y = out["alsfrs"]
    assert y.shape == (40, 50, 7)
    for key in ("t_event_months", "t_dropout_months", "event", "t_obs_months", "slope_true"):
        assert out[key].shape == (40, 50)
    observed = y[np.isfinite(y)]
    assert np.all((observed >= 0) & (observed <= 48) & (observed == np.round(observed)))
    assert np.all(np.isfinite(y[..., 0]))  # baseline always observed
    # monotone missingness: once missing, missing at every later visit
    missing = np.isnan(y)
    assert np.all(missing[..., 1:] >= missing[..., :-1])
    stop = np.minimum(out["t_event_months"], out["t_dropout_months"])
    np.testing.assert_array_equal(missing, WEEK24 >= stop[..., None])
    np.testing.assert_array_equal(
        out["event"], out["t_event_months"] <= np.minimum(out["t_dropout_months"], WEEK24[-1])
    )
    assert np.all(out["slope_true"] < 0)


def test_reproducible_and_chunk_independent(params):
    a = simulate_empirical(70, 30, WEEK24, seed=11, params=params)
    b = simulate_empirical(70, 30, WEEK24, seed=11, params=params)
    c = simulate_empirical(70, 30, WEEK24, seed=12, params=params)
    np.testing.assert_array_equal(a["alsfrs"], b["alsfrs"])
    assert not np.array_equal(a["slope_true"], c["slope_true"])
    # any chunk of replicates equals the same replicates of a full run
    first = REP_BLOCK - 5
    chunk = simulate_empirical(40, 30, WEEK24, seed=11, params=params, first_rep=first)
    for key in ("alsfrs", "t_event_months", "t_dropout_months", "slope_true"):
        np.testing.assert_array_equal(chunk[key], a[key][first : first + 40])
    # fewer replicates: a prefix; more patients: the first patients keep their draws
    prefix = simulate_empirical(3, 30, WEEK24, seed=11, params=params)
    np.testing.assert_array_equal(prefix["slope_true"], a["slope_true"][:3])
    more = simulate_empirical(3, 45, WEEK24, seed=11, params=params)
    np.testing.assert_array_equal(more["slope_true"][:, :30], a["slope_true"][:3])
    np.testing.assert_array_equal(more["t_event_months"][:, :30], a["t_event_months"][:3])


def test_seed_forms():
    gen_a = simulate_empirical(2, 5, WEEK24, seed=np.random.default_rng(5))
    gen_b = simulate_empirical(2, 5, WEEK24, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(gen_a["slope_true"], gen_b["slope_true"])
    assert simulate_empirical(1, 5, WEEK24, seed=None)["alsfrs"].shape == (1, 5, 7)
    with pytest.raises(InputError, match="seed"):
        simulate_empirical(1, 5, WEEK24, seed=-1)


# ------------------------------------------------------------------------------------------------
# common random numbers and treatment effects
# ------------------------------------------------------------------------------------------------


def test_arm_alone_changes_nothing(params):
    control = simulate_empirical(20, 40, WEEK24, seed=2, params=params)
    treated = simulate_empirical(20, 40, WEEK24, seed=2, params=params, arm=np.ones(40, int))
    np.testing.assert_array_equal(control["alsfrs"], treated["alsfrs"])
    np.testing.assert_array_equal(control["t_event_months"], treated["t_event_months"])


def test_common_random_numbers_slope_effect(params):
    """Placebo and treated worlds share every draw; they differ only through the effect."""
    start = 2.0
    effect = SlopeEffect(ratio=0.6, start_months=start)
    placebo = simulate_empirical(30, 60, WEEK24, seed=4, params=params, arm=np.zeros(60, int))
    world = simulate_empirical(
        30, 60, WEEK24, seed=4, params=params, arm=np.ones(60, int), effect=effect
    )
    for key in ("slope_true", "intercept_true", "t_dropout_months"):
        np.testing.assert_array_equal(placebo[key], world[key])
    before = WEEK24 <= start
    both = np.isfinite(placebo["alsfrs"]) & np.isfinite(world["alsfrs"])
    np.testing.assert_array_equal(
        np.where(both, placebo["alsfrs"], 0)[..., before],
        np.where(both, world["alsfrs"], 0)[..., before],
    )
    # slower decline can only raise a (rounded) score, and postpone death/PAV
    assert np.all(np.where(both, world["alsfrs"] - placebo["alsfrs"], 0) >= 0)
    assert np.any(np.where(both, world["alsfrs"] - placebo["alsfrs"], 0)[..., -1] > 0)
    tp, tw = placebo["t_event_months"], world["t_event_months"]
    assert np.all(tw >= tp)
    # exact shared-parameter inversion (gamma = 1): H(t) = h t before start, h r (t - s) after
    late = tp > start
    np.testing.assert_allclose(tw[late], start + (tp[late] - start) / 0.6)
    np.testing.assert_array_equal(tw[~late], tp[~late])


def test_slope_effect_without_survival_and_hazard_effect(params):
    arm = np.repeat([0, 1], 25)
    base = simulate_empirical(10, 50, WEEK24, seed=8, params=params, arm=arm)
    functional = simulate_empirical(
        10,
        50,
        WEEK24,
        seed=8,
        params=params,
        arm=arm,
        effect=SlopeEffect(0.5, acts_on_survival=False),
    )
    np.testing.assert_array_equal(base["t_event_months"], functional["t_event_months"])
    hazard = simulate_empirical(
        10, 50, WEEK24, seed=8, params=params, arm=arm, effect=HazardEffect(0.7)
    )
    np.testing.assert_allclose(
        hazard["t_event_months"][:, 25:], base["t_event_months"][:, 25:] / 0.7
    )
    np.testing.assert_array_equal(hazard["t_event_months"][:, :25], base["t_event_months"][:, :25])
    np.testing.assert_array_equal(
        np.nan_to_num(hazard["alsfrs"][..., 0]), np.nan_to_num(base["alsfrs"][..., 0])
    )
    both = simulate_empirical(
        10, 50, WEEK24, seed=8, params=params, arm=arm, effect=[SlopeEffect(0.5), HazardEffect(0.5)]
    )
    np.testing.assert_allclose(
        both["t_event_months"][:, 25:], base["t_event_months"][:, 25:] / 0.25
    )


# ------------------------------------------------------------------------------------------------
# calibration to the parameter file (Monte Carlo tolerances)
# ------------------------------------------------------------------------------------------------


def test_marginal_distributions_match_parameters(params):
    out = simulate_empirical(100, 1000, WEEK24, seed=21, params=params)
    n = out["slope_true"].size  # 100,000 patients
    decline = -out["slope_true"]
    assert abs(decline.mean() - 1.03) < 4 * 0.76 / math.sqrt(n)
    assert decline.std() == pytest.approx(0.76, rel=0.03)
    assert np.median(decline) == pytest.approx(params.decline_median_per_month, rel=0.01)
    base = out["intercept_true"]
    assert abs(base.mean() - 36.0) < 4 * 5.2 / math.sqrt(n)
    # observed baseline SD ~ sqrt(5.2^2 + 1.77^2 + 1/12) = 5.50 (CENTAUR: 5.5)
    assert np.std(out["alsfrs"][..., 0]) == pytest.approx(5.5, rel=0.02)
    # dropout: exponential, P(T < 6) = 1 - exp(-0.12)
    p_drop = 1 - math.exp(-0.02 * 6)
    assert abs(np.mean(out["t_dropout_months"] < 6) - p_drop) < 4 * math.sqrt(p_drop / n)
    # death/PAV: mixture of exponentials with mean hazard 0.010/month (exact expectation)
    lam = 0.010 * decline / params.mean_decline_power()
    expected = np.mean(1 - np.exp(-lam * 24 * 12 / 52))
    observed = np.mean(out["t_event_months"] < 24 * 12 / 52)
    assert abs(observed - expected) < 4 * math.sqrt(expected / n)
    assert expected == pytest.approx(1 - math.exp(-0.010 * 24 * 12 / 52), rel=0.02)
    # fast progressors die sooner (shared parameter)
    fast = decline > np.median(decline)
    assert np.mean(out["t_event_months"][fast] < 12) > 2 * np.mean(
        out["t_event_months"][~fast] < 12
    )


# ------------------------------------------------------------------------------------------------
# input validation
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"visit_months": [0, 2, 1]}, "visit_months"),
        ({"visit_months": [-1, 1]}, "visit_months"),
        ({"n_rep": 0}, "n_rep"),
        ({"n_patients": 2.5}, "n_patients"),
        ({"arm": [0, 2, 1]}, "arm"),
        ({"arm": [0, 1]}, "arm"),
        ({"effect": "slow"}, "effect"),
        ({"effect": [SlopeEffect(0.5), SlopeEffect(0.7)]}, "effect"),
        ({"params": {"residual_sd": 1}}, "params"),
        ({"followup_months": -1}, "followup_months"),
    ],
)
def test_bad_input_names_the_argument(kwargs, where):
    args = {"n_rep": 1, "n_patients": 3, "visit_months": [0, 1], "seed": 1}
    args.update(kwargs)
    with pytest.raises(InputError, match=where):
        simulate_empirical(**args)


def test_effect_validation():
    with pytest.raises(InputError, match="SlopeEffect.ratio"):
        SlopeEffect(ratio=-0.1)
    with pytest.raises(InputError, match="HazardEffect.hr"):
        HazardEffect(hr=0)
    with pytest.raises(InputError, match="start_months"):
        HazardEffect(hr=0.5, start_months=float("nan"))
