"""alsim.treatment: effect windows, empirical outcomes and common random numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alsim.disease.empirical import load_empirical_params
from alsim.errors import InputError
from alsim.treatment import (
    Delivery,
    PatientDraws,
    Product,
    empirical_outcomes,
    piecewise_event_time,
    treatment_windows,
)
from alsim.trial import validate_scenario
from alsim.trial.engine import _Chunk, make_plan

VISITS = np.arange(14) * 4 * 12 / 52  # every 4 weeks to week 52, months


def _draws(n_rep=4, n=500, seed=0):
    rng = np.random.default_rng(seed)
    p = load_empirical_params()
    shape = (n_rep, n)
    return PatientDraws(
        intercept=p.intercept_mean + p.intercept_sd * rng.standard_normal(shape),
        decline=np.exp(p.log_decline_mu + p.log_decline_sigma * rng.standard_normal(shape)),
        noise=rng.standard_normal((*shape, VISITS.size)),
        e_death=rng.standard_exponential(shape),
        e_dropout=rng.standard_exponential(shape),
        u_adherence=rng.random(shape),
        e_discontinuation=rng.standard_exponential(shape),
    )


def _windows(d, treat_start, **kw):
    args = dict(
        drr=0.6,
        hr=np.nan,
        onset_months=0.0,
        adherence=1.0,
        adherence_probability=1.0,
        discontinuation_per_month=0.0,
        in_subgroup=True,
        u_adherence=d.u_adherence,
        e_discontinuation=d.e_discontinuation,
        gamma=1.0,
    )
    args.update(kw)
    return treatment_windows(treat_start, **args)


def _both_worlds(start=2.0, **kw):
    p = load_empirical_params()
    d = _draws()
    placebo = empirical_outcomes(d, _windows(d, np.inf, **kw), VISITS, p)
    treated = empirical_outcomes(d, _windows(d, start, **kw), VISITS, p)
    return placebo, treated, p


def test_crn_worlds_identical_before_treatment_start():
    """Acceptance test: placebo and treated worlds coincide before treatment starts."""
    start = 2.0
    placebo, treated, _ = _both_worlds(start)
    before = VISITS <= start
    np.testing.assert_array_equal(placebo["alsfrs"][..., before], treated["alsfrs"][..., before])
    early = placebo["t_event_months"] <= start
    assert early.any()
    np.testing.assert_array_equal(
        placebo["t_event_months"][early], treated["t_event_months"][early]
    )
    np.testing.assert_array_equal(placebo["t_dropout_months"], treated["t_dropout_months"])
    # after the start a slowing can only postpone the event and raise (rounded) scores
    assert np.all(treated["t_event_months"] >= placebo["t_event_months"])
    both = np.isfinite(placebo["alsfrs"]) & np.isfinite(treated["alsfrs"])
    assert np.all(treated["alsfrs"][both] >= placebo["alsfrs"][both])


def test_crn_not_allocated_means_placebo_world_in_the_engine():
    """Acceptance test at engine level: same seed, effect vs no effect -> identical allocation,
    identical outcomes for every patient not allocated active, and for active patients before
    the effect starts (delayed onset of 2 months)."""
    base = {
        "name": "crn",
        "design": "platform",
        "regimens": [
            {"name": "A", "n": 80, "product": {"drr": 1.0}},
            {"name": "B", "n": 80, "entry_months": 1},
        ],
    }
    eff = {
        **base,
        "regimens": [
            {"name": "A", "n": 80, "product": {"drr": 0.5, "hr": 0.5, "onset_months": 2.0}},
            base["regimens"][1],
        ],
    }
    worlds = []
    for spec in (base, eff):
        chunk = _Chunk(make_plan(validate_scenario(spec, "crn")), 11, 0, 8)
        chunk.run_looks()
        rows = np.arange(8)
        worlds.append((chunk.st.unit.copy(), chunk.st.active.copy(), chunk.outcomes(rows)))
    (u0, a0, o0), (u1, a1, o1) = worlds
    np.testing.assert_array_equal(u0, u1)
    np.testing.assert_array_equal(a0, a1)
    treated = (u1 == 0) & a1
    assert treated.sum() > 100
    for key in ("alsfrs", "t_event_months", "t_dropout_months"):
        np.testing.assert_array_equal(o0[key][~treated], o1[key][~treated])
    before = VISITS[:7] <= 2.0
    np.testing.assert_array_equal(
        o0["alsfrs"][treated][:, before], o1["alsfrs"][treated][:, before]
    )
    assert np.nansum(o1["alsfrs"][treated][:, ~before]) > np.nansum(
        o0["alsfrs"][treated][:, ~before]
    )


def test_slope_multiplied_inside_window_only():
    p = load_empirical_params()
    d = _draws(n_rep=1, n=50)
    d = PatientDraws(**{**d.__dict__, "noise": np.zeros_like(d.noise)})
    out = empirical_outcomes(d, _windows(d, 0.0, onset_months=3.0), VISITS, p)
    # noise-free, before death: y = a - b * exposure; exposure = 3 + 0.6 * (t - 3) after 3 months
    t = VISITS
    exposure = np.where(t <= 3, t, 3 + 0.6 * (t - 3))
    expected = np.clip(np.rint(d.intercept[..., None] - d.decline[..., None] * exposure), 0, 48)
    ok = np.isfinite(out["alsfrs"])
    np.testing.assert_array_equal(out["alsfrs"][ok], expected[ok])


def test_discontinuation_ends_effect_and_adherence_scales_it():
    d = _draws(n_rep=1, n=2000)
    # adherence 0 -> no effect at all
    w = _windows(d, 0.0, adherence=0.0)
    assert np.all(w.rate_ratio == 1.0) and np.all(w.hazard_mult == 1.0)
    # adherence fraction 0.5 of a DRR 0.6 -> r = 0.8; hazard follows: 0.8 ** gamma
    w = _windows(d, 0.0, adherence=0.5, gamma=2.0)
    np.testing.assert_allclose(w.rate_ratio, 0.8)
    np.testing.assert_allclose(w.hazard_mult, 0.64)
    # explicit HR replaces the link
    w = _windows(d, 0.0, hr=1.3)
    np.testing.assert_allclose(w.hazard_mult, 1.3)
    # adherence probability 0.3: about 30% get the effect
    w = _windows(d, 0.0, adherence_probability=0.3)
    assert abs((w.rate_ratio < 1).mean() - 0.3) < 0.04
    # discontinuation hazard 0.1/month: window ends at Exp(1)/0.1, mean 10 months
    w = _windows(d, 0.0, discontinuation_per_month=0.1)
    assert abs(w.end.mean() - 10.0) < 1.0
    np.testing.assert_allclose(w.end, d.e_discontinuation / 0.1)
    # subgroup: outside patients get nothing
    mask = np.arange(2000) % 2 == 0
    w = _windows(d, 0.0, in_subgroup=mask[None])
    assert np.all(w.rate_ratio[0, ~mask] == 1.0) and np.all(w.rate_ratio[0, mask] == 0.6)
    # an onset delay beyond discontinuation: no effect
    w = _windows(d, 0.0, onset_months=1e6, discontinuation_per_month=0.5)
    assert np.all(w.rate_ratio == 1.0)


def test_piecewise_event_time_inverts_cumulative_hazard():
    rng = np.random.default_rng(3)
    e = rng.standard_exponential(10_000)
    h0, start, end, m = 0.05, 2.0, 7.0, 0.4
    t = piecewise_event_time(e, h0, start, end, m)

    def cum(t):
        overlap = np.maximum(0, np.minimum(t, end) - np.minimum(t, start))
        return h0 * (t + (m - 1) * overlap)

    np.testing.assert_allclose(cum(t), e, rtol=1e-10)
    assert np.all(np.isinf(piecewise_event_time(e, 0.0, start, end, m)))
    # no window (start inf): exponential
    np.testing.assert_allclose(piecewise_event_time(e, h0, np.inf, np.inf, m), e / h0)


def test_survival_hazard_ratio_matches_shared_parameter():
    """DRR 0.6 with gamma 1 multiplies each patient's hazard by 0.6 from randomisation."""
    p = load_empirical_params()
    d = _draws(n_rep=1, n=20_000, seed=5)
    placebo = empirical_outcomes(d, _windows(d, np.inf), VISITS, p)
    treated = empirical_outcomes(d, _windows(d, 0.0), VISITS, p)
    np.testing.assert_allclose(treated["t_event_months"], placebo["t_event_months"] / 0.6)


def test_product_and_delivery_validation():
    assert Product().is_null and Product(drr=1.0, hr=1.0).is_null
    assert not Product(drr=0.7).is_null
    assert Delivery().is_full and not Delivery(adherence=0.5).is_full
    with pytest.raises(ValueError):
        Product(drr=0)
    with pytest.raises(ValueError):
        Delivery(adherence=1.5)
    with pytest.raises(InputError, match=r"regimens\[0\].delivery.adherence_probability"):
        validate_scenario(
            {
                "name": "x",
                "design": "parallel",
                "regimens": [{"name": "A", "n": 10, "delivery": {"adherence_probability": 2}}],
            },
            "x.yaml",
        )
    assert math.isclose(Product(drr=0.7).drr, 0.7)
