"""alsim.results: operating characteristics with MCSE, threshold calibration, run directories."""

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsim.errors import InputError
from alsim.results import (
    TRIAL_COLUMNS,
    TRIAL_LEVEL,
    calibrate_threshold,
    check_trials,
    combine_runs,
    performance,
    read_run,
    rejection_rate,
    write_run,
)
from alsim.results.synthetic import synthetic_trials


def table(n: int, **columns) -> pd.DataFrame:
    """A one-comparison contract table of ``n`` replicates; ``columns`` override defaults."""
    base = {
        "rep": np.arange(n, dtype=np.int64),
        "comparison": "a",
        "design": "parallel",
        "analysis": "ols_slope",
        "n_active": np.full(n, 100, dtype=np.int64),
        "n_control": np.full(n, 100, dtype=np.int64),
        "n_trial": np.full(n, 200, dtype=np.int64),
        "duration_months": np.full(n, 12.0),
        "looks": np.full(n, 1, dtype=np.int64),
        "stop_look": np.full(n, 1, dtype=np.int64),
        "decision": "inconclusive",
        "success": np.zeros(n, bool),
        "early_success": np.zeros(n, bool),
        "early_futility": np.zeros(n, bool),
        "estimate": np.zeros(n),
        "estimand": "slope_difference",
        "true_value": np.zeros(n),
        "stat": np.full(n, 0.5),
        "stat_max": np.full(n, 0.5),
        "threshold": np.full(n, 0.975),
        "ci_lower": np.full(n, -1.0),
        "ci_upper": np.full(n, 1.0),
    }
    base.update(columns)
    return pd.DataFrame(base)[list(TRIAL_COLUMNS)]


def metric(perf: pd.DataFrame, name: str, comparison: str = "a") -> tuple[float, float]:
    row = perf[(perf["comparison"] == comparison) & (perf["metric"] == name)]
    assert len(row) == 1, (comparison, name)
    return float(row["est"].iloc[0]), float(row["mcse"].iloc[0])


# -- performance: formulas against hand computations ----------------------------------------------
def test_mcse_formulas_match_hand_computation():
    # Morris, White & Crowther 2019, Table 6, computed by hand for five replicates.
    est = np.array([0.1, 0.4, -0.2, 0.3, 0.0])
    truth = 0.1
    lower = est - 0.25
    upper = est + 0.25
    success = np.array([True, True, False, True, False])
    n_active = np.array([90, 100, 110, 120, 80], dtype=np.int64)
    perf = performance(
        table(
            5,
            estimate=est,
            true_value=np.full(5, truth),
            ci_lower=lower,
            ci_upper=upper,
            success=success,
            decision=np.where(success, "success", "inconclusive"),
            n_active=n_active,
        )
    )
    n = 5
    mean_est = 0.12  # (0.1 + 0.4 - 0.2 + 0.3 + 0.0) / 5
    ss = sum((x - mean_est) ** 2 for x in est)  # 0.228
    assert math.isclose(ss, 0.228)
    # bias and its MCSE sqrt(ss / (n (n-1)))
    b, b_se = metric(perf, "bias")
    assert math.isclose(b, 0.02) and math.isclose(b_se, math.sqrt(0.228 / 20))
    # empirical SE sqrt(ss/(n-1)) and MCSE EmpSE / sqrt(2 (n-1))
    e, e_se = metric(perf, "empirical_se")
    assert math.isclose(e, math.sqrt(0.228 / 4)) and math.isclose(e_se, e / math.sqrt(8))
    # MSE = mean (est - truth)^2 = (0 + .09 + .09 + .04 + .01)/5 = 0.046
    d2 = (est - truth) ** 2
    m, m_se = metric(perf, "mse")
    assert math.isclose(m, 0.046)
    assert math.isclose(m_se, math.sqrt(((d2 - 0.046) ** 2).sum() / (n * (n - 1))))
    r, r_se = metric(perf, "rmse")
    assert math.isclose(r, math.sqrt(0.046)) and math.isclose(r_se, m_se / (2 * r))
    # coverage: |est - truth| <= 0.25 for 0.1, 0.0 and ... 0.3 (0.2) -> 3 of 5
    c, c_se = metric(perf, "coverage")
    assert math.isclose(c, 0.6) and math.isclose(c_se, math.sqrt(0.6 * 0.4 / 5))
    p, p_se = metric(perf, "power_or_type1")
    assert math.isclose(p, 0.6) and math.isclose(p_se, math.sqrt(0.24 / 5))
    # expected n: mean 100, MCSE = SD / sqrt(n) = sqrt(250) / sqrt(5)
    en, en_se = metric(perf, "expected_n_active")
    assert math.isclose(en, 100.0) and math.isclose(en_se, math.sqrt(250.0) / math.sqrt(5))
    mean_e, mean_e_se = metric(perf, "mean_estimate")
    assert math.isclose(mean_e, 0.12) and math.isclose(mean_e_se, b_se)
    assert metric(perf, "true_value") == (0.1, 0.0)
    assert metric(perf, "n_rep") == (5.0, 0.0)


@settings(max_examples=60, deadline=None)
@given(
    flags=st.lists(st.booleans(), min_size=1, max_size=300),
    which=st.sampled_from(["success", "early_success", "early_futility"]),
)
def test_binary_metric_mcse_is_binomial(flags, which):
    x = np.array(flags, dtype=bool)
    perf = performance(table(x.size, **{which: x}))
    name = "power_or_type1" if which == "success" else which
    est, mcse = metric(perf, name)
    p = x.mean()
    assert math.isclose(est, p)
    assert math.isclose(mcse, math.sqrt(p * (1 - p) / x.size), abs_tol=1e-15)


def test_estimate_metrics_skip_missing_estimates():
    est = np.array([1.0, np.nan, 3.0, np.nan])
    perf = performance(table(4, estimate=est, true_value=np.full(4, 2.0)))
    assert metric(perf, "n_estimates") == (2.0, 0.0)
    assert metric(perf, "mean_estimate")[0] == 2.0
    assert metric(perf, "bias")[0] == 0.0


def test_single_replicate_has_undefined_mcse_not_an_error():
    perf = performance(table(1))
    est, mcse = metric(perf, "expected_n_active")
    assert est == 100.0 and math.isnan(mcse)
    assert math.isnan(metric(perf, "empirical_se")[0])


def test_platform_rows_and_family_wise_metrics():
    trials = synthetic_trials(n_rep=400, seed=5, true_drr={"x": 1.0, "y": 1.0, "z": 0.6})
    perf = performance(trials)
    assert list(perf.columns) == ["comparison", "metric", "est", "mcse"]
    assert list(pd.unique(perf["comparison"])) == ["x", "y", "z", TRIAL_LEVEL]
    per_rep = trials.groupby("rep")["success"].any()
    est, mcse = metric(perf, "any_success", TRIAL_LEVEL)
    assert math.isclose(est, per_rep.mean())
    assert math.isclose(mcse, math.sqrt(est * (1 - est) / 400))
    null_any = trials[trials["comparison"].isin(["x", "y"])].groupby("rep")["success"].any()
    assert math.isclose(metric(perf, "any_null_success", TRIAL_LEVEL)[0], null_any.mean())
    assert math.isclose(
        metric(perf, "expected_successes", TRIAL_LEVEL)[0],
        trials.groupby("rep")["success"].sum().mean(),
    )
    # per-regimen power is far above the null regimens' type I error
    assert (
        metric(perf, "power_or_type1", "z")[0] > 0.5 > 0.1 > metric(perf, "power_or_type1", "x")[0]
    )


def test_performance_ignores_row_order_and_pivots():
    from alsim.results import wide_performance

    trials = synthetic_trials(n_rep=300, seed=6)
    shuffled = trials.sample(frac=1.0, random_state=1)

    def key(perf):
        return perf.sort_values(["comparison", "metric"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(key(performance(trials)), key(performance(shuffled)))
    wide = wide_performance(performance(trials))
    assert (
        wide.loc["power_or_type1", ("est", "regimen_b")]
        == metric(performance(trials), "power_or_type1", "regimen_b")[0]
    )
    assert math.isnan(wide.loc["power_or_type1", ("est", TRIAL_LEVEL)])


def test_single_comparison_has_no_trial_rows():
    perf = performance(synthetic_trials(n_rep=50, seed=2, true_drr={"only": 0.8}))
    assert set(perf["comparison"]) == {"only"}


def test_type1_error_of_synthetic_null_is_near_nominal():
    # Flat-prior posterior Pr(DRR<1) > 0.975 at a single final look is a one-sided z-test.
    trials = synthetic_trials(
        n_rep=20000, seed=11, true_drr={"a": 1.0}, looks_n=(160,), threshold=0.975
    )
    est, mcse = metric(performance(trials), "power_or_type1")
    assert abs(est - 0.025) < 4 * mcse
    cov, cov_se = metric(performance(trials), "coverage")
    assert abs(cov - 0.95) < 4 * cov_se


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda t: t.drop(columns=["stat_max"]), "missing column(s) stat_max"),
        (lambda t: t.iloc[0:0], "has no rows"),
        (lambda t: t.assign(success=t["success"].astype(int)), "column success: must be boolean"),
        (lambda t: t.assign(estimate="x"), "column estimate: must be numeric"),
        (lambda t: t.assign(decision="maybe"), "column decision: must be one of"),
        (lambda t: pd.concat([t, t.iloc[:1]]), "same (rep, comparison)"),
    ],
)
def test_check_trials_names_the_problem(change, fragment):
    with pytest.raises(InputError, match=None) as info:
        check_trials(change(table(3)))
    assert fragment in str(info.value)


def test_performance_rejects_non_frames():
    with pytest.raises(InputError, match="must be a pandas DataFrame"):
        performance([1, 2, 3])


# -- threshold calibration -----------------------------------------------------------------------
def uniform_null(n: int, seed: int, comparisons=("a",)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for name in comparisons:
        stat = rng.uniform(size=n)
        success = stat > 0.975
        frames.append(
            table(
                n,
                comparison=name,
                stat=stat,
                stat_max=stat,
                success=success,
                decision=np.where(success, "success", "inconclusive"),
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_calibrated_threshold_is_the_order_statistic():
    trials = uniform_null(2000, 1)
    cal = calibrate_threshold(trials, target=0.025)
    s = np.sort(trials["stat_max"].to_numpy())
    assert cal.threshold == s[2000 - 50 - 1]  # exactly 50 of 2000 above it
    assert cal.achieved == 0.025 and math.isclose(
        cal.achieved_mcse, math.sqrt(0.025 * 0.975 / 2000)
    )
    assert cal.ci_lower < cal.threshold < cal.ci_upper
    assert cal.ci_lower < 0.975 < cal.ci_upper  # uniform statistic: true threshold 1 - target
    assert cal.n == 2000 and cal.binding == "a" and cal.n_inexact == 0
    assert json.dumps(cal.to_dict())


def test_threshold_interval_covers_the_true_quantile_at_about_95_percent():
    from alsim.results.calibrate import _quantile_threshold

    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(400):
        _, lo, hi, _, _ = _quantile_threshold(rng.uniform(size=1000), 0.05, 0.05)
        hits += lo <= 0.95 <= hi
    coverage = hits / 400  # distribution-free interval: about 95%, MCSE ~1.1%
    assert 0.92 <= coverage <= 0.99


def test_family_wise_threshold_for_two_independent_nulls():
    trials = uniform_null(20000, 3, comparisons=("a", "b"))
    cal = calibrate_threshold(trials, target=0.025, error="family_wise")
    # P(max(U1, U2) <= c) = c^2 = 0.975
    assert abs(cal.threshold - math.sqrt(0.975)) < 0.002
    assert cal.ci_lower < math.sqrt(0.975) < cal.ci_upper
    per = calibrate_threshold(trials, target=0.025)
    assert per.threshold < cal.threshold and per.binding in ("a", "b")
    assert (per.per_comparison["achieved_at_threshold"] <= 0.025).all()


def test_calibration_on_group_sequential_null_and_rejection_rate():
    trials = synthetic_trials(n_rep=8000, seed=4, true_drr={"a": 1.0, "b": 1.0, "c": 0.7})
    cal = calibrate_threshold(trials, target=0.025)  # nulls found from true_value
    assert cal.comparisons == ("a", "b")
    # three looks with futility stops: above the single-look 0.975, below 1
    assert 0.975 < cal.threshold < 0.995
    rate = rejection_rate(trials, [cal.threshold], comparisons=["a", "b"])
    assert (rate["rate"] <= 0.025).all()
    # at the simulated threshold the recomputed rate equals the simulated success rate
    at_sim = rejection_rate(trials, [0.979])
    perf = performance(trials)
    for name in ("a", "b", "c"):
        got = at_sim.loc[at_sim["comparison"] == name, "rate"].iloc[0]
        assert math.isclose(got, metric(perf, "power_or_type1", name)[0])


def test_early_success_rows_make_calibration_approximate():
    trials = synthetic_trials(
        n_rep=3000, seed=8, true_drr={"a": 1.0}, early_success=True, threshold=0.95
    )
    with pytest.warns(UserWarning, match="stopped early for success"):
        cal = calibrate_threshold(trials, target=0.01)
    assert cal.n_inexact > 0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"target": 0.7}, "target: must be a type I error"),
        ({"target": 0.0001}, "too few for a type I error"),
        ({"comparisons": ["nope"]}, "comparisons: unknown comparison(s) nope"),
        ({"error": "global"}, "error: must be one of"),
        ({"conf_level": 1.5}, "conf_level"),
    ],
)
def test_calibration_bad_input(kwargs, fragment):
    with pytest.raises(InputError) as info:
        calibrate_threshold(uniform_null(200, 1), **kwargs)
    assert fragment in str(info.value)


def test_calibration_needs_null_comparisons():
    trials = synthetic_trials(n_rep=100, seed=1, true_drr={"a": 0.7})
    with pytest.raises(InputError, match="no comparison has a null true value"):
        calibrate_threshold(trials)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert calibrate_threshold(trials, comparisons="a").comparisons == ("a",)


# -- run directories ------------------------------------------------------------------------------
SCENARIO = {"name": "synthetic-platform", "description": "three regimens", "seed": 3}


def write(tmp_path, name="run", **kwargs):
    trials = kwargs.pop("trials", synthetic_trials(n_rep=120, seed=3))
    return write_run(
        tmp_path / name,
        scenario=kwargs.pop("scenario", SCENARIO),
        trials=trials,
        performance=performance(trials),
        report_html="<html>report</html>",
        seed=3,
        n_rep=120,
        timings={"simulate": 0.1},
        **kwargs,
    )


def test_run_directory_round_trip(tmp_path):
    out = write(tmp_path)
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "performance.csv",
        "report.html",
        "scenario.yaml",
        "trials.parquet",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "trial_run" and manifest["n_rep"] == 120 and manifest["seed"] == 3
    assert set(manifest["files"]) == {
        "scenario.yaml",
        "trials.parquet",
        "performance.csv",
        "report.html",
    }
    assert len(manifest["scenario_digest"]) == 64 and manifest["alsim_version"]
    run = read_run(out)
    assert run.scenario == SCENARIO and run.name == "synthetic-platform"
    pd.testing.assert_frame_equal(run.trials, synthetic_trials(n_rep=120, seed=3))
    assert list(run.performance.columns) == ["comparison", "metric", "est", "mcse"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_run_directory_refuses_and_overwrites_safely(tmp_path):
    out = write(tmp_path)
    with pytest.raises(InputError, match="is not empty"):
        write(tmp_path)
    write(tmp_path, overwrite=True)  # a run directory may be replaced
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not an alsim run directory"):
        write(tmp_path, name="other", overwrite=True)
    assert (other / "keep.txt").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        write(tmp_path, name="file")
    assert out.is_dir()


def test_read_run_detects_changes_and_damage(tmp_path):
    out = write(tmp_path)
    (out / "performance.csv").write_text("metric,est,mcse\npower,0.5,0.1\n")
    with pytest.raises(InputError, match="performance.csv: does not match the sha256"):
        read_run(out)
    out = write(tmp_path, name="r2")
    (out / "trials.parquet").unlink()
    with pytest.raises(InputError, match="trials.parquet: file not found"):
        read_run(out)
    out = write(tmp_path, name="r3")
    (out / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="manifest.json: not valid JSON"):
        read_run(out)
    with pytest.raises(InputError, match="run directory not found"):
        read_run(tmp_path / "absent")


def test_combine_runs_keeps_order_and_names(tmp_path):
    a = write(tmp_path, "a", scenario={"name": "null"})
    b = write(tmp_path, "b", scenario={"name": "effect"})
    frame = combine_runs([b, a])
    assert list(pd.unique(frame["scenario"])) == ["effect", "null"]
    assert {"scenario", "comparison", "metric", "est", "mcse", "n_rep"} <= set(frame.columns)


# -- report ---------------------------------------------------------------------------------------
def test_trial_report_has_table_figures_scenario_and_disclaimer(tmp_path):
    from alsim.report.trial import combined_report, oc_table, trial_report

    trials = synthetic_trials(n_rep=200, seed=9)
    perf = performance(trials)
    html = trial_report(SCENARIO, {"seed": 3, "n_rep": 200}, trials, perf)
    assert html.count("<svg") >= 4
    assert "not medical advice" in html and "power_or_type1" in html
    assert "synthetic-platform" in html and "description: three regimens" in html
    assert "10.1002/sim.8086" in html
    table_ = oc_table(perf)
    assert list(table_.columns) == ["metric", "meaning", "regimen_a", "regimen_b", TRIAL_LEVEL]
    assert "±" in table_.loc[table_["metric"] == "power_or_type1", "regimen_b"].iloc[0]
    both = combined_report([write(tmp_path, "x"), write(tmp_path, "y")])
    assert "synthetic-platform" in both and "not medical advice" in both


def test_trial_demo_section_is_small_and_fits_the_patient_report():
    from alsim.report.trial import trial_demo_section

    sections, summary = trial_demo_section(n_rep=40, seed=1)
    assert {"id", "title", "text", "figures", "table", "note"} <= set(sections[0])
    assert summary["n_rep"] == 40 and summary["scenario"] == "demo-platform"
    power = {m["comparison"]: m for m in summary["metrics"] if m["metric"] == "power_or_type1"}
    assert set(power) == {"null", "slowing30", "slowing20"}
    assert power["slowing30"]["est"] > power["null"]["est"]
    assert json.dumps(summary, allow_nan=False)


def test_final_look_statistic_when_interims_cannot_claim_success():
    # No early success: interim crossings (stat_max > threshold) claim nothing; success is
    # decided by the final statistic, and futility-stopped comparisons can never succeed.
    rng = np.random.default_rng(12)
    n = 4000
    final = rng.uniform(size=n)
    interim = rng.uniform(size=n)
    futile = interim < 0.1
    stat = np.where(futile, interim, final)
    stat_max = np.maximum(interim, stat)
    success = ~futile & (final > 0.979)
    trials = table(
        n,
        stat=stat,
        stat_max=stat_max,
        success=success,
        early_futility=futile,
        decision=np.where(success, "success", np.where(futile, "futility", "inconclusive")),
        looks=np.full(n, 2, dtype=np.int64),
        stop_look=np.where(futile, 1, 2).astype(np.int64),
        threshold=np.full(n, 0.979),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cal = calibrate_threshold(trials, target=0.025)
    assert cal.statistic == "final"
    s = np.sort(np.where(futile, -np.inf, final))
    assert cal.threshold == s[n - 100 - 1]
    rate = rejection_rate(trials, [0.979])["rate"].iloc[0]
    assert math.isclose(rate, success.mean())
    with pytest.warns(UserWarning, match="stat_max > threshold does not reproduce"):
        forced = calibrate_threshold(trials, target=0.025, statistic="stat_max")
    assert forced.threshold > cal.threshold


def test_calibration_runs_a_scenario(tmp_path):
    from alsim.trial import load_scenario

    path = tmp_path / "null.yaml"
    path.write_text(
        "alsim: 1\nname: tiny-null\ndesign: parallel\n"
        "regimens: [{name: active, n: 40}]\n"
        "analysis: {primary: healey_drr, healey_n_grid: 200}\n"
    )
    calls = []
    cal = calibrate_threshold(
        load_scenario(path), target=0.1, n_rep=30, seed=2, progress=lambda d, t: calls.append(d)
    )
    assert cal.n == 30 and cal.comparisons == ("active",) and calls[-1] == 30
    again = calibrate_threshold(path, target=0.1, n_rep=30, seed=2)  # a path works too
    assert again.threshold == cal.threshold


def test_report_copes_with_missing_estimates_and_one_replicate():
    from alsim.report.trial import trial_report

    trials = synthetic_trials(n_rep=30, seed=2).assign(
        estimate=np.nan, ci_lower=np.nan, ci_upper=np.nan, true_value=np.nan, estimand="cafs"
    )
    perf = performance(trials)
    assert perf.loc[perf["metric"] == "bias", "est"].isna().all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert trial_report({"name": "x"}, {}, trials, perf).count("<svg") >= 4
        one = synthetic_trials(n_rep=1, seed=2)
        assert trial_report({"name": "y"}, {}, one, performance(one)).count("<svg") >= 4
