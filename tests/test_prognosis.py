"""ENCALS survival model: derived worked examples (clinical-instruments.md §5.1) and properties.

E1-E4, the spline check values, the TRICALS LPs and the date-based TRICALS example are *derived*
(evaluated from the published-in-code formulas), not printed in the paper. Tolerances: LP ±0.001,
S ±0.005, median ±0.5 months.
"""

import datetime as dt
import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsim.clinical.prognosis import (
    RISK_GROUPS,
    EncalsExtrapolationWarning,
    EncalsPredictors,
    EncalsPrognosis,
    baseline_spline,
    conditional_survival,
    encals_linear_predictor,
    encals_parameters,
    encals_prognosis,
    encals_transforms,
    risk_group_bands,
)
from alsim.clinical.progression import delta_fs, months_between
from alsim.errors import InputError
from alsim.units import DAYS_PER_YEAR

E = {
    # age, ΔFS, delay, FVC, bulbar, definite, FTD, C9
    "E1": (60, 0.5, 12, 90, False, False, False, False),
    "E2": (70, 1.5, 6, 70, True, True, False, False),
    "E3": (45, 0.2, 24, 100, False, False, False, False),
    "E4": (60, 0.5, 12, 90, False, False, True, True),
}


def pred(*args, **kwargs) -> EncalsPredictors:
    return EncalsPredictors(*args, **kwargs)


# ---------------------------------------------------------------- worked examples (derived)


@pytest.mark.parametrize(
    ("case", "transforms", "lp", "surv", "median"),
    [
        ("E1", (1.2910, 1.0952, 2.7778, 2.1652), -4.6793, (0.983, 0.841, 0.550, 0.185), 38.1),
        ("E2", (0.7906, 0.7802, 2.0408, 2.6238), -2.0950, (0.811, 0.286, 0.084, 0.017), 18.5),
        ("E3", (1.8257, 1.5210, 4.9383, 2.0000), -7.3277, (0.999, 0.987, 0.945, 0.762), 89.3),
        ("E4", (1.2910, 1.0952, 2.7778, 2.1652), -4.0353, (0.968, 0.736, 0.391, 0.106), 31.8),
    ],
)
def test_worked_examples(case, transforms, lp, surv, median):
    p = pred(*E[case])
    x = encals_transforms(p)
    got = (x["delta_fs"], x["diagnostic_delay"], x["age_onset"], x["fvc"])
    assert got == pytest.approx(transforms, abs=1e-4)
    prog = encals_prognosis(p)
    assert prog.linear_predictor == pytest.approx(lp, abs=1e-3)
    assert encals_linear_predictor(p) == pytest.approx(lp, abs=1e-3)
    assert list(prog.survival_at) == [12, 24, 36, 60]
    assert list(prog.survival_at.values()) == pytest.approx(surv, abs=5e-3)
    assert prog.survival([12, 24, 36, 60]) == pytest.approx(surv, abs=5e-3)
    assert prog.median_months == pytest.approx(median, abs=0.5)


@pytest.mark.parametrize(
    ("months", "value"), [(12, 0.6359), (24, 3.0110), (36, 4.4797), (60, 6.1648)]
)
def test_baseline_spline_check_values(months, value):
    assert baseline_spline(math.log(months)) == pytest.approx(value, abs=1e-4)


def test_baseline_spline_vectorised():
    x = np.log([12, 24, 36, 60])
    out = baseline_spline(x)
    assert isinstance(out, np.ndarray)
    assert out == pytest.approx([0.6359, 3.0110, 4.4797, 6.1648], abs=1e-4)
    assert baseline_spline(-math.inf) == -math.inf


@pytest.mark.parametrize(("case", "lp"), [("E1", -4.6833), ("E2", -2.0936), ("E3", -7.3271)])
def test_tricals_linear_predictor(case, lp):
    assert encals_linear_predictor(pred(*E[case]), "tricals") == pytest.approx(lp, abs=1e-3)


def test_tricals_ignores_c9orf72():
    base = pred(60, 0.5, 12, 90, False, False, False, False)
    carrier = pred(60, 0.5, 12, 90, False, False, False, True)
    assert encals_linear_predictor(carrier, "tricals") == encals_linear_predictor(base, "tricals")
    assert encals_linear_predictor(carrier) > encals_linear_predictor(base)


def test_tricals_date_based_example():
    birth, onset = dt.date(1960, 1, 1), dt.date(2020, 1, 1)
    diagnosis, screening = dt.date(2021, 1, 1), dt.date(2021, 3, 1)
    age = (onset - birth).days / DAYS_PER_YEAR
    duration = months_between(onset, screening)
    delay = months_between(onset, diagnosis)
    rate = delta_fs(38, duration)
    assert age == pytest.approx(60.00, abs=5e-3)
    assert duration == pytest.approx(13.963, abs=1e-3)
    assert delay == pytest.approx(12.025, abs=1e-3)
    assert rate == pytest.approx(0.7162, abs=1e-4)
    p = pred(age, rate, delay, 85, bulbar_onset=False, definite_als=True, ftd=False, c9orf72=False)
    lp = encals_linear_predictor(p, variant="tricals")
    assert lp == pytest.approx(-4.064, abs=1e-3)
    low, high = encals_parameters()["tricals"]["eligibility_window_lp"]
    assert low <= lp <= high


# ---------------------------------------------------------------- baseline spline structure


def test_spline_is_linear_beyond_last_knot():
    """Correct Royston-Parmar basis: natural spline, linear beyond kmax (the script's missing cube
    on the (x - kmax)+ term would break this)."""
    kmax = encals_parameters()["baseline"]["knots_log_months"][-1]
    x = np.linspace(kmax + 0.1, kmax + 3.0, 30)
    second = np.diff(baseline_spline(x), 2)
    assert np.max(np.abs(second)) < 1e-9


def test_spline_matches_script_below_last_knot():
    prm = encals_parameters()["baseline"]
    g0, g1, g2, g3 = prm["gamma"]
    kmin, k1, k2, _ = prm["knots_log_months"]
    l1, l2 = prm["lambda_printed"]
    x = np.linspace(-2.0, 5.9, 200)

    def c(a):
        return np.maximum(x - a, 0) ** 3

    script = g0 + g1 * x + g2 * (c(k1) - l1 * c(kmin)) + g3 * (c(k2) - l2 * c(kmin))
    assert baseline_spline(x) == pytest.approx(script, abs=1e-4)


def test_lambdas_follow_from_knots():
    prm = encals_parameters()["baseline"]
    kmin, k1, k2, kmax = prm["knots_log_months"]
    lam = [(kmax - k) / (kmax - kmin) for k in (k1, k2)]
    assert lam == pytest.approx(prm["lambda_printed"], abs=5e-7)


def test_spline_increasing():
    s = baseline_spline(np.linspace(-5, math.log(600), 5000))
    assert np.all(np.diff(s) > 0)


# ---------------------------------------------------------------- parameters file


def test_every_parameter_has_source_and_verified():
    prm = encals_parameters()
    sections = [*prm["terms"].values(), prm["scale"], prm["baseline"], prm["risk_groups"]]
    sections += [*prm["risk_groups"]["group"], prm["tricals"]]
    for section in sections:
        assert section.get("source") and section.get("verified"), section
    assert prm["guards"]["verified"].startswith("platform choice")
    assert prm["meta"]["doi"] == "10.1016/S1474-4422(18)30089-9"


def test_risk_group_definition_is_labelled_platform_choice():
    groups = encals_parameters()["risk_groups"]
    assert groups["verified"].startswith("platform choice")
    medians = [g["published_median_months"] for g in groups["group"]]
    assert medians == [17.7, 25.3, 32.2, 43.7, 91.0]  # 32.2, not the web app's "23.3"
    assert [g["name"] for g in groups["group"]] == list(RISK_GROUPS)


def test_risk_group_bands():
    bands = risk_group_bands()
    assert [b["name"] for b in bands] == list(RISK_GROUPS)
    limits = [b["upper_months"] for b in bands[:-1]]
    assert limits == pytest.approx([21.16, 28.54, 37.51, 63.06], abs=0.01)
    assert [b["lp_lower"] for b in bands[:-1]] == pytest.approx(
        [-2.559, -3.643, -4.624, -6.317], abs=1e-3
    )
    for b in bands:
        assert b["lower_months"] <= b["published_median_months"] < b["upper_months"]


@pytest.mark.parametrize(
    ("case", "group", "group_median"),
    [("E1", "long", 43.7), ("E2", "very short", 17.7), ("E3", "very long", 91.0)],
)
def test_risk_group_of_examples(case, group, group_median):
    prog = encals_prognosis(pred(*E[case]))
    assert prog.risk_group == group
    assert prog.risk_group_median_months == group_median


def test_tables_loaded_lazily():
    code = (
        "import sys, alsim, alsim.clinical, alsim.clinical.prognosis as p; "
        "assert p._params.cache_info().currsize == 0; "
        "p.EncalsPredictors(60, 0.5, 12, 90, False, False, False, False); "
        "assert p._params.cache_info().currsize == 1"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- output


def test_to_dict_is_json_ready():
    prog = encals_prognosis(pred(*E["E2"]), variant="TRICALS")
    d = json.loads(json.dumps(prog.to_dict()))
    assert d["variant"] == "tricals"
    assert d["time_origin"] == "symptom onset"
    assert d["risk_group"] in RISK_GROUPS
    assert d["risk_group_rule"].startswith("platform choice")
    assert set(d["survival_at"]) == {"12", "24", "36", "60"}
    assert d["predictors"]["bulbar_onset"] is True
    assert isinstance(d["median_months"], float)


def test_median_never_reached_is_inf_and_none():
    prog = encals_prognosis(pred(5, 0.0, 200, 120, False, False, False, False))
    assert prog.median_months == math.inf
    assert prog.risk_group == "very long"
    assert prog.to_dict()["median_months"] is None
    assert prog.survival(600) > 0.5


def test_median_in_linear_region_below_first_knot():
    prog = encals_prognosis(pred(80, 40, 20, 1.0, True, True, True, True))
    assert prog.median_months < math.exp(encals_parameters()["baseline"]["knots_log_months"][0])
    assert prog.survival(prog.median_months) == pytest.approx(0.5, abs=1e-9)


def test_survival_at_zero_and_scalar_type():
    prog = encals_prognosis(pred(*E["E1"]))
    assert prog.survival(0) == 1.0
    assert isinstance(prog.survival(12), float)
    assert isinstance(prog.survival([0, 12]), np.ndarray)


def test_conditional_survival():
    prog = encals_prognosis(pred(*E["E1"]))
    assert conditional_survival(prog, 20, 10) == 1.0
    assert conditional_survival(prog, 20, 20) == 1.0
    expected = prog.survival(36) / prog.survival(20)
    assert conditional_survival(prog, 20, 36) == pytest.approx(expected)
    out = conditional_survival(prog, 0, [12, 24])
    assert out == pytest.approx(prog.survival([12, 24]))


def test_short_delay_warns():
    with pytest.warns(EncalsExtrapolationWarning, match="diagnostic_delay_months"):
        pred(60, 0.5, 2.0, 90, False, False, False, False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pred(60, 0.5, 3.0, 90, False, False, False, False)


def test_flags_accept_0_1_and_numpy_bool():
    p = pred(60, 0.5, 12, 90, 1, np.bool_(True), 0, False)
    assert p.bulbar_onset is True and p.definite_als is True and p.ftd is False


# ---------------------------------------------------------------- bad input


GOOD = dict(
    age_onset_years=60,
    delta_fs=0.5,
    diagnostic_delay_months=12,
    fvc_percent=90,
    bulbar_onset=False,
    definite_als=False,
    ftd=False,
    c9orf72=False,
)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("age_onset_years", float("nan")),
        ("age_onset_years", 0),
        ("age_onset_years", -5),
        ("age_onset_years", 121),
        ("age_onset_years", "60"),
        ("age_onset_years", None),
        ("age_onset_years", True),
        ("delta_fs", float("nan")),
        ("delta_fs", -0.1),
        ("delta_fs", 49),
        ("delta_fs", float("inf")),
        ("diagnostic_delay_months", 0),
        ("diagnostic_delay_months", -3),
        ("diagnostic_delay_months", float("nan")),
        ("diagnostic_delay_months", 601),
        ("fvc_percent", 0),
        ("fvc_percent", -10),
        ("fvc_percent", 201),
        ("fvc_percent", float("nan")),
        ("bulbar_onset", 2),
        ("definite_als", "yes"),
        ("ftd", None),
        ("c9orf72", 0.5),
    ],
)
def test_bad_predictor_raises_naming_field(field, value):
    with pytest.raises(InputError, match=f"^{field}: ") as info:
        EncalsPredictors(**{**GOOD, field: value})
    assert info.value.where == field


@pytest.mark.parametrize("variant", ["cox", "", None, 1])
def test_bad_variant(variant):
    p = pred(**GOOD)
    with pytest.raises(InputError, match="^variant: "):
        encals_linear_predictor(p, variant)
    with pytest.raises(InputError, match="^variant: "):
        encals_prognosis(p, variant)


def test_predictors_must_be_encals_predictors():
    with pytest.raises(InputError, match="^predictors: "):
        encals_linear_predictor(GOOD)
    with pytest.raises(InputError, match="^predictors: "):
        encals_prognosis((60, 0.5, 12, 90, 0, 0, 0, 0))


@pytest.mark.parametrize("t", [-1, float("nan"), float("inf"), [12, -1], "x"])
def test_bad_times(t):
    prog = encals_prognosis(pred(**GOOD))
    with pytest.raises(InputError, match="^t_months: "):
        prog.survival(t)
    with pytest.raises(InputError, match="^t_months: "):
        conditional_survival(prog, 12, t)


@pytest.mark.parametrize("t_now", [-1, float("nan"), [1, 2], "now"])
def test_bad_t_now(t_now):
    prog = encals_prognosis(pred(**GOOD))
    with pytest.raises(InputError, match="^t_now_months: "):
        conditional_survival(prog, t_now, 24)


def test_conditional_needs_prognosis():
    with pytest.raises(InputError, match="^prog: "):
        conditional_survival(pred(**GOOD), 12, 24)


@pytest.mark.parametrize("x", [float("nan"), float("inf"), [1.0, float("nan")], "x"])
def test_bad_log_t(x):
    with pytest.raises(InputError, match="^log_t: "):
        baseline_spline(x)


# ---------------------------------------------------------------- properties


predictors = st.builds(
    EncalsPredictors,
    age_onset_years=st.floats(18, 95),
    delta_fs=st.floats(0, 5),
    diagnostic_delay_months=st.floats(3, 120),
    fvc_percent=st.floats(20, 150),
    bulbar_onset=st.booleans(),
    definite_als=st.booleans(),
    ftd=st.booleans(),
    c9orf72=st.booleans(),
)
variants = st.sampled_from(["encals", "tricals"])
FAST = settings(max_examples=40, deadline=None)


@FAST
@given(predictors, variants, st.lists(st.floats(0, 600), min_size=2, max_size=20))
def test_survival_bounded_and_decreasing(p, variant, times):
    prog = encals_prognosis(p, variant)
    t = np.sort(np.asarray(times))
    s = prog.survival(t)
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(np.diff(s) <= 1e-15)


@FAST
@given(predictors, variants)
def test_median_solves_half(p, variant):
    prog = encals_prognosis(p, variant)
    if math.isfinite(prog.median_months):
        assert prog.survival(prog.median_months) == pytest.approx(0.5, abs=1e-9)
    else:
        assert prog.survival(600) >= 0.5
    assert prog.risk_group in RISK_GROUPS


def _shift(p: EncalsPredictors, **changes) -> EncalsPredictors:
    return EncalsPredictors(**{**p.to_dict(), **changes})


@FAST
@given(predictors, variants, st.floats(0.05, 3))
def test_lp_direction_continuous(p, variant, step):
    lp = encals_linear_predictor(p, variant)
    # Faster progression, older onset: worse. Longer delay (past 2.5 mo), higher FVC: better.
    assert encals_linear_predictor(_shift(p, delta_fs=p.delta_fs + step), variant) > lp
    assert (
        encals_linear_predictor(_shift(p, age_onset_years=p.age_onset_years + step), variant) > lp
    )
    longer = _shift(p, diagnostic_delay_months=p.diagnostic_delay_months + step)
    assert encals_linear_predictor(longer, variant) < lp
    assert encals_linear_predictor(_shift(p, fvc_percent=p.fvc_percent + step), variant) < lp


@FAST
@given(predictors, variants)
def test_lp_direction_binary(p, variant):
    for name in ("bulbar_onset", "definite_als", "ftd", "c9orf72"):
        on = encals_linear_predictor(_shift(p, **{name: True}), variant)
        off = encals_linear_predictor(_shift(p, **{name: False}), variant)
        if name == "c9orf72" and variant == "tricals":
            assert on == off
        else:
            assert on > off


@FAST
@given(predictors, st.floats(0, 120), st.lists(st.floats(0, 600), min_size=1, max_size=10))
def test_conditional_survival_at_most_one(p, t_now, times):
    prog = encals_prognosis(p)
    c = conditional_survival(prog, t_now, times)
    assert np.all((c >= 0) & (c <= 1))
    t = np.asarray(times)
    assert np.all(c[t <= t_now] == 1.0)


@FAST
@given(predictors, predictors)
def test_risk_group_order_follows_median(p, q):
    a, b = encals_prognosis(p), encals_prognosis(q)
    if a.median_months < b.median_months:
        assert RISK_GROUPS.index(a.risk_group) <= RISK_GROUPS.index(b.risk_group)


def test_prognosis_is_frozen():
    prog = encals_prognosis(pred(**GOOD))
    assert isinstance(prog, EncalsPrognosis)
    with pytest.raises(AttributeError):
        prog.median_months = 1.0  # type: ignore[misc]
