"""Calibration targets: the shipped file and its rule, loader errors, statistics, evaluation."""

import copy
import math

import numpy as np
import pandas as pd
import pytest

from alsim.cohort.targets import (
    RESULT_COLUMNS,
    STATISTIC_INFO,
    STATISTICS,
    Cohort,
    TrialLikeDefinition,
    calibration_summary,
    compute_statistic,
    evaluate_targets,
    load_targets,
    max_tolerance,
    nfl_upper_reference,
    parse_targets,
)
from alsim.errors import InputError

# -- the shipped file ---------------------------------------------------------------------------


def test_shipped_targets_load_and_cover_the_required_topics():
    targets = load_targets()
    ids = {t.id for t in targets.targets}
    assert len(ids) == len(targets.targets) >= 30
    statistics = {t.statistic for t in targets.targets}
    for needed in (
        "onset_age_mean",
        "bulbar_onset_share",
        "diagnostic_delay_median",
        "alsfrs_slope_mean",
        "alsfrs_slope_sd",
        "alsfrs_decline_quartile_skewness",
        "survival_median",
        "survival_probability",
        "survival_median_ratio",
        "fvc_slope_mean",
        "nfl_share_above_cutoff_diagnosis",
        "nfl_presymptomatic_lead_median",
        "mu_lead_median",
        "ftd_share",
    ):
        assert needed in statistics, needed
    by_id = {t.id: t for t in targets.targets}
    assert by_id["survival_median_sod1_a4v"].value == pytest.approx(14.4)
    assert by_id["survival_median_sod1_non_a4v"].value == pytest.approx(81.6)
    assert by_id["survival_median_population"].value == pytest.approx(31.2)
    assert by_id["pav_share"].value == pytest.approx(0.106)
    context = {t.id: t for t in targets.context}
    # Published numbers kept beside the calibration, each with the reason it is not a target.
    assert context["survival_median_trial_enrolled"].value == pytest.approx(46.8)
    assert all(entry.reason.strip() and not entry.hard for entry in context.values())
    # The spread of survival is a target through the population-based 5-year survival (with the
    # median); the SEALS and early-death numbers are shown as context with their reasons.
    assert "survival_5y_population" in by_id
    assert {"survival_spread_half_to_double", "death_within_12m_of_diagnosis"} <= set(context)
    assert not set(context) & set(by_id)
    assert by_id["onset_age_mean_c9orf72"].filter == {"genotype": "C9orf72"}
    assert by_id["onset_age_mean_east_asia"].ancestry == "east_asian"


def test_shipped_targets_obey_the_tolerance_rule():
    """Every target has a source and tolerance <= its documented uncertainty or <= 10% of value."""
    for t in load_targets().targets:
        assert t.source.startswith(("https://", "http://", "doi:")), t.id
        assert t.note.strip(), t.id
        assert t.tolerance > 0, t.id
        if t.uncertainty is None:
            assert t.tolerance <= 0.1 * abs(t.value) + 1e-9, t.id
        else:
            assert t.uncertainty.low <= t.value <= t.uncertainty.high, t.id
            widest = max(t.value - t.uncertainty.low, t.uncertainty.high - t.value)
            assert t.tolerance <= widest + 1e-9, t.id
        if t.evidence == "unconfirmed":
            assert not t.hard, t.id
        assert t.statistic in STATISTICS, t.id


def test_statistic_registry_is_documented():
    for name, info in STATISTIC_INFO.items():
        assert STATISTICS[name] is info.func
        assert info.description, name
        assert info.unit, name


# -- loader errors name the key path ------------------------------------------------------------
BASE = {
    "id": "onset",
    "statistic": "onset_age_mean",
    "value": 60.0,
    "tolerance": 1.0,
    "unit": "years",
    "population": "population-based",
    "ancestry": "european",
    "source": "https://example.org/paper",
    "note": "why this tolerance",
}


def _doc(*changes):
    targets = [copy.deepcopy(BASE), {**copy.deepcopy(BASE), "id": "second"}]
    for index, key, value in changes:
        if value is _DELETE:
            del targets[index][key]
        else:
            targets[index][key] = value
    return {"version": 1, "targets": targets}


_DELETE = object()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ([(1, "tolerance", -1.0)], "targets[1].tolerance: must be positive"),
        ([(0, "tolerance", 0.0)], "targets[0].tolerance: must be positive"),
        ([(0, "tolerance", 6.5)], "targets[0].tolerance: 6.5 is wider than 10% of the value"),
        (
            [(0, "uncertainty", {"low": 59, "high": 62, "kind": "95% CI"}), (0, "tolerance", 2.5)],
            "targets[0].tolerance: 2.5 is wider than the source's uncertainty: at most 2",
        ),
        (
            [(0, "uncertainty", {"low": 61, "high": 62, "kind": "95% CI"})],
            "targets[0].uncertainty: [61.0, 62.0] must contain the value 60.0",
        ),
        (
            [(0, "uncertainty", {"low": 62, "high": 61, "kind": "95% CI"})],
            "targets[0].uncertainty.high: must be >= low",
        ),
        ([(0, "statistic", "median_everything")], "targets[0].statistic: unknown statistic"),
        ([(1, "source", _DELETE)], "targets[1].source: is required"),
        ([(0, "source", "a paper")], "targets[0].source: must be a URL"),
        ([(0, "colour", "red")], "targets[0].colour: unknown key"),
        ([(0, "population", "everyone")], "targets[0].population: Input should be"),
        ([(0, "filter", {"genotype": "SOD2"})], "targets[0].filter.genotype: unknown value(s)"),
        ([(0, "filter", {"weather": "rain"})], "targets[0].filter.weather: unknown key"),
        (
            [(0, "statistic", "survival_probability"), (0, "filter", {"event": "death"})],
            "targets[0].filter.months: is required",
        ),
        (
            [(0, "statistic", "survival_median"), (0, "filter", {"event": "dawn"})],
            "targets[0].filter.event: unknown value(s)",
        ),
        ([(0, "evidence", "unconfirmed")], "targets[0].hard: an UNCONFIRMED number cannot be"),
        ([(1, "id", "onset")], "targets: targets[1].id 'onset' repeats targets[0]"),
        ([(0, "id", "Bad id!")], "targets[0].id: must be a non-empty identifier"),
        ([(0, "note", "  ")], "targets[0].note: must justify the tolerance"),
    ],
)
def test_loader_errors_name_the_key_path(changes, message):
    with pytest.raises(InputError) as err:
        parse_targets(_doc(*changes))
    assert str(err.value).startswith(message), str(err.value)


def test_loader_accepts_soft_unconfirmed_and_top_level_errors():
    ok = parse_targets(_doc((0, "evidence", "unconfirmed"), (0, "hard", False)))
    assert not ok.targets[0].hard
    with pytest.raises(InputError, match=r"version: Input should be 1"):
        parse_targets({"version": 2, "targets": [BASE]})
    with pytest.raises(InputError, match=r"\(top level\): must be a mapping"):
        parse_targets([BASE])
    with pytest.raises(InputError, match=r"targets: must list at least one target"):
        parse_targets({"version": 1, "targets": []})


def test_load_targets_from_a_file(tmp_path):
    good = tmp_path / "mine.yaml"
    good.write_text(
        "version: 1\ntargets:\n  - " + "\n    ".join(f"{k}: {v}" for k, v in BASE.items())
    )
    assert load_targets(good).targets[0].id == "onset"
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntargets: [\n")
    with pytest.raises(InputError, match=r"^bad\.yaml: not valid YAML"):
        load_targets(bad)
    wide = tmp_path / "wide.yaml"
    wide.write_text(good.read_text().replace("tolerance: 1.0", "tolerance: 9.0"))
    with pytest.raises(InputError, match=r"^wide\.yaml, targets\[0\]\.tolerance: 9\.0 is wider"):
        load_targets(wide)
    with pytest.raises(InputError, match="cannot read target file"):
        load_targets(tmp_path / "missing.yaml")


def test_max_tolerance():
    assert max_tolerance(64.0, None) == pytest.approx(6.4)
    target = parse_targets(
        _doc((0, "uncertainty", {"low": 58, "high": 61, "kind": "range"}))
    ).targets[0]
    assert max_tolerance(target.value, target.uncertainty) == pytest.approx(2.0)


# -- a hand-made cohort with known answers --------------------------------------------------------
#      sex     ancestry    genotype  variant region      ftd   age  dx   death pav  niv  fvc  nfl
P = [
    ("A", "male", "european", "sporadic", None, "bulbar", True, 50, 6, 10, None, 5, 80, 40),
    ("B", "female", "european", "SOD1", "A4V", "upper_limb", False, 60, 8, 20, None, None, 65, 60),
    ("C", "male", "european", "C9orf72", None, "lower_limb", True, 70, 12, 30, 25, 20, 90, 80),
    (
        "D",
        "female",
        "european",
        "sporadic",
        None,
        "bulbar",
        False,
        80,
        None,
        40,
        None,
        None,
        None,
        None,
    ),
    (
        "E",
        "male",
        "east_asian",
        "sporadic",
        None,
        "trunk",
        False,
        40,
        20,
        None,
        None,
        150,
        100,
        100,
    ),
]
RATE = {"A": 2.0, "B": 1.0, "C": 0.5, "D": 1.0, "E": 0.5}  # ALSFRS-R points lost per month
FVC_RATE = {"A": 3.0, "B": 1.0, "C": 1.0, "D": 1.0, "E": 2.0}
NFL_LEAD = {"A": 12, "B": 6, "C": 30, "D": 0, "E": 24}  # NfL 40 from -lead on, 10 before
M50 = {"A": 3, "B": 5, "C": 8, "D": 10, "E": 30}  # months to mu_fraction 0.5


def hand_cohort():
    cols = (
        "subject_id sex ancestry genotype sod1_variant onset_region ftd age_onset_years "
        "t_diagnosis_months t_death_months t_pav_months t_niv_months fvc_percent_diagnosis "
        "nfl_diagnosis_pg_ml"
    ).split()
    patients = pd.DataFrame(P, columns=cols)
    for col in cols[7:]:
        patients[col] = patients[col].astype(float)
    patients["horizon_months"] = 100.0
    patients["t_gastrostomy_months"] = np.nan
    rows = []
    for sid, *_rest in P:
        death = patients.set_index("subject_id").loc[sid, "t_death_months"]
        for t in range(-24, 61):
            alive = bool(np.isnan(death) or t < death)
            total = max(0.0, 48 - RATE[sid] * max(t, 0))
            rows.append(
                {
                    "subject_id": sid,
                    "t_months": t,
                    "alive": alive,
                    "alsfrs_r_total": total if alive else np.nan,
                    "q3_swallowing": (2 if sid == "C" else 4) if alive else pd.NA,
                    "r3_respiratory_insufficiency": 4 if alive else pd.NA,
                    "fvc_percent": 100 - FVC_RATE[sid] * max(t, 0) if alive else np.nan,
                    "nfl_pg_ml": (40.0 if t >= -NFL_LEAD[sid] else 10.0) if alive else np.nan,
                    "nfl_control_pg_ml": 10.0,
                    "mu_fraction": min(1.0, max(0.0, 1 - max(t, 0) / (2 * M50[sid]))),
                }
            )
    visits = pd.DataFrame(rows)
    for col in ("q3_swallowing", "r3_respiratory_insufficiency"):
        visits[col] = visits[col].astype("Int64")
    return patients, visits


@pytest.fixture(scope="module")
def cohort():
    return Cohort(*hand_cohort())


def stat(cohort, name, **flt):
    return compute_statistic(name, cohort, flt=flt)


def test_descriptive_statistics(cohort):
    assert stat(cohort, "onset_age_mean") == 60
    assert stat(cohort, "onset_age_mean", ancestry="european") == 65
    assert stat(cohort, "onset_age_mean", genotype=["SOD1", "C9orf72"]) == 65
    assert stat(cohort, "male_female_ratio") == 1.5
    assert stat(cohort, "bulbar_onset_share") == pytest.approx(0.4)
    assert stat(cohort, "ftd_share") == pytest.approx(0.4)
    assert stat(cohort, "ftd_share", sex="male") == pytest.approx(2 / 3)
    assert stat(cohort, "diagnostic_delay_median") == 10  # D is undiagnosed
    assert stat(cohort, "milestone_share", event="niv") == pytest.approx(0.4)  # E's NIV > horizon
    assert stat(cohort, "milestone_share", event="gastrostomy") == 0
    assert math.isnan(stat(cohort, "onset_age_mean", genotype="FUS"))


def test_survival_statistics(cohort):
    # deaths 10, 20, 30, 40 and one censored at the 100-month horizon: S = .8 .6 .4 .2
    assert stat(cohort, "survival_median", event="death") == 30
    assert stat(cohort, "survival_median") == 25  # death or PAV: C's PAV at 25
    assert stat(cohort, "survival_probability", event="death", months=25) == pytest.approx(0.6)
    # S(30/2) - S(30*2) = 0.8 - 0.2
    assert stat(cohort, "survival_within_factor", event="death") == pytest.approx(0.6)
    # men: 10, 25, censored -> median 25; women: 20, 40 -> S = .5 on [20, 40): median 30
    ratio = stat(
        cohort, "survival_median_ratio", numerator={"sex": "male"}, denominator={"sex": "female"}
    )
    assert ratio == pytest.approx(25 / 30)


def test_trial_like_eligibility(cohort):
    # A and E are eligible; B has FVC 65 < 70, C has swallowing 2 < 3, D is undiagnosed
    np.testing.assert_array_equal(cohort.eligible, [True, False, False, False, True])
    assert stat(cohort, "trial_eligible_share") == 0.5  # 2 of 4 diagnosed


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("age_onset_years", 76.0, "age above 75 at diagnosis"),
        ("t_diagnosis_months", 36.0, "not < 36 months from onset"),
        ("t_death_months", 5.0, "dead before diagnosis"),
        ("t_pav_months", 6.0, "ventilated at diagnosis"),
    ],
)
def test_trial_like_exclusions(column, value, why):
    patients, visits = hand_cohort()
    patients.loc[0, column] = value  # patient A, otherwise eligible
    assert not Cohort(patients, visits).eligible[0], why


def test_trial_like_definition_is_configurable():
    patients, visits = hand_cohort()
    lax = TrialLikeDefinition(min_fvc_percent=60.0)
    assert Cohort(patients, visits, trial=lax).eligible.tolist() == [True, True, False, False, True]
    with pytest.raises(InputError, match="min_visits"):
        TrialLikeDefinition(min_visits=1)


def test_slope_statistics(cohort):
    np.testing.assert_allclose(
        cohort.slopes("alsfrs_r_total"), [-2.0, -1.0, -0.5, np.nan, -0.5], equal_nan=True
    )
    assert stat(cohort, "alsfrs_slope_mean", selection="diagnosed") == pytest.approx(-1.0)
    assert stat(cohort, "alsfrs_slope_sd", selection="diagnosed") == pytest.approx(math.sqrt(0.5))
    assert stat(cohort, "alsfrs_slope_mean", selection="trial_like") == pytest.approx(-1.25)
    # declines 0.5 0.5 1 2: Q1 0.5, Q2 0.75, Q3 1.25 -> (1.25 + 0.5 - 1.5) / 0.75
    assert stat(cohort, "alsfrs_decline_quartile_skewness") == pytest.approx(1 / 3)
    assert stat(cohort, "fvc_slope_mean", selection="trial_like") == pytest.approx(-2.5)


def test_slopes_need_min_visits():
    patients, visits = hand_cohort()
    patients.loc[0, "t_death_months"] = 8.0  # A alive at 6 and 7 only -> 2 visits < 3
    c = Cohort(patients, visits[~((visits.subject_id == "A") & (visits.t_months >= 8))])
    assert math.isnan(c.slopes("alsfrs_r_total")[0])


def test_nfl_statistics(cohort):
    # NfL at diagnosis 40, 60, 80, 100 vs control 10 -> median ratio 70 / 10
    assert stat(cohort, "nfl_control_ratio_diagnosis") == pytest.approx(7.0)
    assert stat(cohort, "nfl_share_above_cutoff_diagnosis") == 0.5  # 80 and 100 > 62
    assert stat(cohort, "nfl_share_above_cutoff_diagnosis", cutoff=30.0) == 1.0
    # leads 12, 6, 24, 0, 24 (C's 30 and E's 24 are capped by the first visit at -24)
    assert stat(cohort, "nfl_presymptomatic_lead_median") == 12
    assert stat(cohort, "nfl_presymptomatic_lead_median", genotype="SOD1") == 6
    assert stat(cohort, "nfl_presymptomatic_lead_median", genotype="C9orf72") == 24
    assert stat(cohort, "nfl_presymptomatic_lead_median", factor=2.0) == 12  # 40 > 20 > 10
    assert stat(cohort, "nfl_presymptomatic_lead_median", factor=5.0) == 0  # never above 50


def test_nfl_lead_needs_a_continuous_run_to_onset():
    patients, visits = hand_cohort()
    blip = (visits.subject_id == "B") & (visits.t_months == -20)
    visits.loc[blip, "nfl_pg_ml"] = 40.0  # an isolated early high value does not count
    assert (
        compute_statistic("nfl_presymptomatic_lead_median", patients, visits, {"genotype": "SOD1"})
        == 6
    )


def test_nfl_upper_reference_bands():
    np.testing.assert_array_equal(
        nfl_upper_reference([10, 18, 50.9, 51, 60, 61, 70.5, 71, 95]),
        [7, 10, 10, 15, 15, 20, 20, 35, 35],
    )


def test_motor_unit_statistics(cohort):
    # only D (M50 10, ALSFRS-R 24 at 24) and E (M50 30, 24 at 48) reach both while alive
    assert stat(cohort, "mu_lead_median") == pytest.approx(16.0)
    assert stat(cohort, "mu_lead_median", ancestry="east_asian") == pytest.approx(18.0)
    assert stat(cohort, "mu_half_time_ratio") == pytest.approx(20 / 36)


def test_missing_column_is_named():
    patients, visits = hand_cohort()
    with pytest.raises(InputError, match=r"^visits: missing column 'mu_fraction'"):
        compute_statistic("mu_lead_median", patients, visits.drop(columns="mu_fraction"))
    with pytest.raises(InputError, match=r"^patients: missing column 'ftd'"):
        compute_statistic("ftd_share", patients.drop(columns="ftd"), visits)


def test_cohort_table_errors():
    patients, visits = hand_cohort()
    with pytest.raises(InputError, match="duplicate subject 'A'"):
        Cohort(pd.concat([patients, patients.iloc[:1]]), visits)
    extra = pd.concat([visits, visits.iloc[:1].assign(subject_id="Z")])
    with pytest.raises(InputError, match="subject 'Z' is not in patients"):
        Cohort(patients, extra)
    with pytest.raises(InputError, match="unknown statistic"):
        compute_statistic("nope", patients, visits)
    with pytest.raises(InputError, match=r"filter\.selection"):
        compute_statistic("onset_age_mean", patients, visits, {"selection": "vip"})


# -- evaluation -----------------------------------------------------------------------------------
def _eval_targets():
    doc = {
        "version": 1,
        "targets": [
            {**BASE, "id": "edge", "value": 64.0, "tolerance": 1.0},  # simulated 65: |dev| = tol
            {
                **BASE,
                "id": "bulbar",
                "statistic": "bulbar_onset_share",
                "value": 0.5,
                "tolerance": 0.05,
                "ancestry": "any",
                "unit": "fraction",
                "hard": False,
            },
            {**BASE, "id": "fus", "filter": {"genotype": "FUS"}},
            {
                **BASE,
                "id": "surv",
                "statistic": "survival_median",
                "filter": {"event": "death"},
                "value": 31.0,
                "tolerance": 3.0,
                "ancestry": "any",
                "unit": "months",
            },
        ],
    }
    return parse_targets(doc)


def test_evaluate_targets_pass_fail_logic():
    patients, visits = hand_cohort()
    res = evaluate_targets(_eval_targets(), patients, visits)
    assert tuple(res.columns) == RESULT_COLUMNS
    assert list(res.columns[:10]) == [
        "id", "statistic", "population", "value", "tolerance", "simulated", "deviation", "z",
        "passed", "source",
    ]  # fmt: skip
    r = res.set_index("id")
    assert r.loc["edge", "simulated"] == 65  # european only: A-D
    assert r.loc["edge", "n_patients"] == 4
    assert r.loc["edge", "z"] == pytest.approx(1.0)
    assert r.loc["edge", "passed"]
    assert r.loc["bulbar", "simulated"] == pytest.approx(0.4)
    assert r.loc["bulbar", "deviation"] == pytest.approx(-0.1)
    assert r.loc["bulbar", "z"] == pytest.approx(-2.0)
    assert not r.loc["bulbar", "passed"]
    assert math.isnan(r.loc["fus", "simulated"]) and not r.loc["fus", "passed"]
    assert r.loc["fus", "n_patients"] == 0
    assert r.loc["surv", "simulated"] == 30 and r.loc["surv", "passed"]

    summary = calibration_summary(res)
    assert summary["n_hard"] == 3 and summary["n_hard_passed"] == 2
    assert summary["n_soft"] == 1 and summary["n_soft_passed"] == 0
    assert not summary["calibrated"]
    assert math.isnan(summary["rms_z_hard"])  # the FUS target could not be computed


def test_evaluate_accepts_a_cohort_and_a_list():
    c = Cohort(*hand_cohort())
    res = evaluate_targets(_eval_targets().targets[:2], c)
    assert res["id"].tolist() == ["edge", "bulbar"]


# -- context entries ----------------------------------------------------------------------------


def _context_doc(**changes):
    doc = {
        "version": 1,
        "targets": [
            {
                "id": "a",
                "statistic": "onset_age_mean",
                "value": 60.0,
                "tolerance": 1.0,
                "unit": "years",
                "population": "population-based",
                "ancestry": "any",
                "source": "https://example.org/a",
                "note": "n",
            }
        ],
        "context": [
            {
                "id": "b",
                "statistic": "onset_age_mean",
                "value": 50.0,
                "tolerance": 1.0,
                "unit": "years",
                "population": "clinic",
                "ancestry": "any",
                "source": "https://example.org/b",
                "note": "n",
                "reason": "a referral clinic, not the simulated population",
            }
        ],
    }
    for key, value in changes.items():
        doc["context"][0][key] = value
    return doc


def test_context_entries_are_evaluated_but_never_counted():
    targets = parse_targets(_context_doc())
    patients = pd.DataFrame({"subject_id": ["p1", "p2"], "age_onset_years": [60.0, 60.5]})
    visits = pd.DataFrame({"subject_id": ["p1"], "t_months": [0.0]})
    results = evaluate_targets(targets, patients, visits)
    assert list(results["role"]) == ["target", "context"]
    assert results.loc[1, "reason"].startswith("a referral clinic")
    assert not results.loc[1, "passed"]  # 60.25 is far from 50 ...
    summary = calibration_summary(results)
    assert summary["calibrated"] and summary["n_hard"] == 1  # ... but it is not a target


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reason": "  "}, "reason must say why"),
        ({"hard": True}, "cannot be hard"),
        ({"id": "a"}, "is also a target id"),
    ],
)
def test_context_entry_errors(changes, message):
    with pytest.raises(InputError, match=message):
        parse_targets(_context_doc(**changes))


def test_event_within_months_of_diagnosis_is_kaplan_meier_from_diagnosis():
    patients = pd.DataFrame(
        {
            "subject_id": [f"p{i}" for i in range(4)],
            "t_diagnosis_months": [10.0, 10.0, 5.0, np.nan],
            "t_death_months": [15.0, 40.0, np.nan, 20.0],
            "t_pav_months": [np.nan] * 4,
            "horizon_months": [120.0, 120.0, 12.0, 120.0],
        }
    )
    visits = pd.DataFrame({"subject_id": ["p0"], "t_months": [0.0]})
    cohort = Cohort(patients, visits)
    # From diagnosis: death at 5 and 30 months, one censored at 7 months, one never diagnosed.
    # KM: S(5) = 2/3; S(12) = 2/3 (the censoring at 7 removes one at risk) -> 1/3 die by 12.
    value = STATISTICS["event_within_months_of_diagnosis"](cohort, {"months": 12.0})
    assert value == pytest.approx(1.0 / 3.0)


@pytest.mark.parametrize("sigma", [0.6, 1.0])
def test_survival_within_factor_of_prediction_recovers_a_lognormal_spread(sigma):
    """Residual log-SD sigma given the predictors: the share is 2 Phi(ln 2 / sigma) - 1."""
    from scipy.stats import norm

    rng = np.random.default_rng(11)
    n = 6000
    age = rng.normal(62.0, 10.0, n)
    bulbar = rng.random(n) < 0.3
    delay = np.exp(rng.normal(np.log(11.0), 0.5, n))
    log_median = 3.0 - 0.3 * (age - 60.0) / 10.0 - 0.3 * bulbar + 0.4 * np.log(delay / 11.0)
    after = np.exp(log_median + sigma * rng.standard_normal(n))
    death = delay + after
    horizon = 240.0
    patients = pd.DataFrame(
        {
            "subject_id": [f"p{i}" for i in range(n)],
            "age_onset_years": age,
            "onset_region": np.where(bulbar, "bulbar", "lower_limb"),
            "t_diagnosis_months": delay,
            "t_death_months": np.where(death <= horizon, death, np.nan),
            "t_pav_months": np.nan,
            "horizon_months": horizon,
        }
    )
    visits = pd.DataFrame({"subject_id": ["p0"], "t_months": [0.0]})
    value = STATISTICS["survival_within_factor_of_prediction"](Cohort(patients, visits), {})
    expected = 2.0 * norm.cdf(math.log(2.0) / sigma) - 1.0
    se = math.sqrt(expected * (1.0 - expected) / n)
    assert abs(value - expected) < 4.0 * se + 0.01  # + fitted-coefficient error


def test_docs_list_exactly_the_shipped_targets():
    from pathlib import Path

    from alsim.cohort.targets import targets_markdown

    page = Path(__file__).resolve().parents[1] / "docs" / "calibration-targets.md"
    assert targets_markdown(load_targets()) in page.read_text(encoding="utf-8")
