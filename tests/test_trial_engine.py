"""The trial engine: contract table, chunk invariance, designs, interims, enrichment."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from alsim.clinical.cafs import cafs_compare
from alsim.errors import InputError
from alsim.trial import COLUMNS, run_trials, validate_scenario
from alsim.trial.analyses import ComparisonData, analyse, cafs_keys
from alsim.trial.engine import _Chunk, make_plan


def parallel(drr=1.0, n=200, primary="healey_drr", **extra):
    data = {
        "name": "par",
        "design": "parallel",
        "analysis": {"primary": primary},
        "regimens": [{"name": "A", "n": n, "product": {"drr": drr}}],
    }
    data.update(extra)
    return validate_scenario(data, "par.yaml")


def platform(drr=1.0, interim=True, pool="all", n=160):
    data = {
        "name": "plat",
        "design": "platform",
        "control": {"pool": pool},
        "regimens": [
            {"name": "A", "n": n, "product": {"drr": drr}},
            {"name": "B", "n": n, "entry_months": 1},
            {"name": "C", "n": n, "entry_months": 2},
        ],
    }
    if interim:
        data["interim"] = {"first_n": 40, "every_weeks": 12}
    return validate_scenario(data, "plat.yaml")


def test_contract_columns_and_dtypes():
    df = run_trials(parallel(primary="lmm_slope"), 5, 1)
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    for col, dtype in COLUMNS.items():
        assert str(df[col].dtype) == dtype, col
    assert df["rep"].tolist() == list(range(5))
    assert set(df["decision"]) <= {"success", "futility", "inconclusive"}
    assert (df["success"] == (df["decision"] == "success")).all()
    assert (df["stop_look"] <= df["looks"]).all()
    assert (df["stat_max"] >= df["stat"]).all()
    assert (df["estimand"] == "slope_difference").all()
    assert df["true_value"].iloc[0] == 0.0


def test_identical_for_any_chunk_size_and_workers():
    s = platform(drr=0.7)
    a = run_trials(s, 40, 9, chunk_size=40)
    b = run_trials(s, 40, 9, chunk_size=7)
    pd.testing.assert_frame_equal(a, b)
    c = run_trials(s, 40, 9, chunk_size=20, workers=2)
    pd.testing.assert_frame_equal(a, c)
    # a prefix of replicates does not depend on n_rep
    d = run_trials(s, 13, 9)
    pd.testing.assert_frame_equal(a[a["rep"] < 13].reset_index(drop=True), d)
    # another seed differs
    e = run_trials(s, 13, 10)
    assert not np.allclose(d["estimate"], e["estimate"])


def test_progress_and_argument_errors():
    calls = []
    run_trials(
        parallel(primary="ols_slope", n=40),
        10,
        1,
        chunk_size=4,
        progress=lambda *a: calls.append(a),
    )
    assert calls == [(4, 10), (8, 10), (10, 10)]
    with pytest.raises(InputError, match="n_rep"):
        run_trials(parallel(), 0, 1)
    with pytest.raises(InputError, match="seed"):
        run_trials(parallel(), 1, -1)
    with pytest.raises(InputError, match="scenario"):
        run_trials({"name": "x"}, 1, 1)


def test_null_drr_estimate_centred_near_one():
    df = run_trials(parallel(drr=1.0, n=200), 200, 3)
    log_drr = np.log(df["estimate"])
    se = log_drr.std() / math.sqrt(len(df))
    assert abs(log_drr.mean()) < 3.5 * se + 0.01
    assert df["success"].mean() < 0.06
    # coverage of the 95% credible interval
    covered = ((df["ci_lower"] <= 1) & (df["ci_upper"] >= 1)).mean()
    assert covered > 0.88
    assert (df["true_value"] == 1.0).all()


def test_strong_effect_gives_success():
    df = run_trials(parallel(drr=0.5, n=240), 40, 4)
    assert df["success"].mean() > 0.9
    assert df["estimate"].median() == pytest.approx(0.5, abs=0.12)
    assert (df["true_value"] == 0.5).all()


def test_slope_and_survival_analyses_point_the_right_way():
    s = parallel(drr=0.6, n=300, primary="lmm_slope")
    s = validate_scenario(
        {**s.model_dump(mode="json"), "analysis": {
            "primary": "lmm_slope", "secondary": ["ols_slope", "cox", "logrank", "cafs"]}},
        "x",
    )  # fmt: skip
    df = run_trials(s, 40, 5)
    assert df["estimate"].mean() > 0  # active slope less negative
    assert df["ols_slope_estimate"].mean() > 0
    assert df["cox_estimate"].median() < 1 and df["logrank_estimate"].median() < 1
    assert df["cafs_estimate"].mean() > 0.5
    assert df["success"].mean() > 0.8
    truth = df["true_value"].iloc[0]
    assert df["estimate"].mean() == pytest.approx(truth, rel=0.3)


def test_cafs_matches_clinical_cafs_on_one_trial():
    rng = np.random.default_rng(1)
    n, v = 60, 5
    y = np.round(40 - rng.random((1, n, 1)) * np.arange(v) * 2)
    y[0, :7, 3:] = np.nan
    t_obs = rng.uniform(1, 6, (1, n))
    event = rng.random((1, n)) < 0.2
    arm = (np.arange(n) % 2)[None].astype(np.int8)
    d = ComparisonData(y, np.arange(v, dtype=float), arm, t_obs, event, np.ones((1, n), bool))
    res = analyse("cafs", d)
    key = cafs_keys(d)[0]
    alive_change = np.where(np.isfinite(y[0]).sum(-1) >= 2, key - 2000, np.nan)
    ref = cafs_compare(
        arm[0], t_obs[0], event[0], np.where(event[0], np.nan, alive_change),
        reference=0, missing="worst_among_survivors",
    )  # fmt: skip
    n1 = n0 = n // 2
    assert res["estimate"][0] == pytest.approx(ref.u_statistic / (n1 * n0))


def test_delayed_start_semantics():
    data = {
        "name": "ds",
        "design": "delayed_start",
        "schedule": {"followup_weeks": 28, "extension_weeks": 24},
        "analysis": {"primary": "lmm_slope"},
        "regimens": [
            {
                "name": "A",
                "n": 150,
                "allocation": [2, 1],
                "placebo_switch_months": 28 * 12 / 52,
                "product": {"drr": 0.5},
            }
        ],
    }
    s = validate_scenario(data, "ds.yaml")
    plan = make_plan(s)
    chunk = _Chunk(plan, 2, 0, 16)
    chunk.run_looks()
    out = chunk.outcomes(np.arange(16))
    # same trials, placebo never switching
    nosw = dataclasses.replace(plan, units=(dataclasses.replace(plan.units[0], switch=math.inf),))
    chunk2 = _Chunk(nosw, 2, 0, 16)
    chunk2.run_looks()
    out2 = chunk2.outcomes(np.arange(16))
    placebo = (chunk.st.unit >= 0) & ~chunk.st.active
    switch = plan.units[0].switch
    before = plan.visit_months <= switch + 1e-9
    a, b = out["alsfrs"][placebo], out2["alsfrs"][placebo]
    np.testing.assert_array_equal(a[:, before], b[:, before])  # identical until the switch
    both = np.isfinite(a) & np.isfinite(b)
    assert (a[both] >= b[both]).all() and (a[both] > b[both]).any()  # slowed after it
    df = run_trials(s, 24, 3)
    assert (df["design"] == "delayed_start").all()
    # early starters keep an advantage at week 52, smaller than without the switch
    assert df["ds_difference"].mean() > 0
    assert (df["ds_change_control"] > df["ds_change_active"] - 30).all()
    par = validate_scenario(
        {**data, "design": "parallel", "schedule": {"followup_weeks": 52},
         "regimens": [{**data["regimens"][0], "placebo_switch_months": None}]},
        "p.yaml",
    )  # fmt: skip
    df_par = run_trials(par, 24, 3)
    # week-52 difference without switch, from the slope estimate: larger than the DS contrast
    assert df_par["estimate"].mean() * 12 > df["ds_difference"].mean()


def _enrolled_decline(s, n_rep=16):
    chunk = _Chunk(make_plan(s), 1, 0, n_rep)
    chunk.run_looks()
    enrolled = chunk.st.unit >= 0
    return chunk.cands.attributes["decline_per_month"][enrolled].mean(), chunk


def test_enrichment_changes_slope_distribution_in_documented_direction():
    base, _ = _enrolled_decline(parallel(n=200))
    fast, chunk = _enrolled_decline(
        parallel(n=200, eligibility={"pre_slope_per_month": [0.8, None]})
    )
    short, _ = _enrolled_decline(parallel(n=200, eligibility={"duration_months": [None, 12]}))
    assert fast > base * 1.1  # ΔFS >= 0.8: faster in-trial progressors
    assert short > base * 1.05  # short disease duration: faster progressors
    enrolled = chunk.st.unit >= 0
    assert (chunk.cands.attributes["pre_slope_per_month"][enrolled] >= 0.8).all()
    # screening: more candidates than patients
    df = run_trials(parallel(n=200, eligibility={"pre_slope_per_month": [0.8, None]}), 3, 1)
    assert (df["n_screened"] > df["n_trial"]).all()
    # lead-in: enrolled patients declined 1-4 points
    s = parallel(n=100, eligibility={"lead_in": {"months": 2.77, "decline_points": [1, 4]}})
    _, chunk = _enrolled_decline(s, 4)
    lead = chunk.cands.lead_in_decline[chunk.st.unit >= 0]
    assert lead.min() >= 1 and lead.max() <= 4


def test_platform_shared_placebo_counts():
    df = run_trials(platform(drr=1.0, interim=False), 8, 2)
    for name, g in df.groupby("comparison"):
        assert (g["n_randomised_regimen"] == 160).all()
        assert (g["n_active"] == 120).all(), name  # 3:1 in permuted blocks of 4
        assert (g["n_control"] == 120).all()  # all 3 x 40 placebo patients shared
    assert (df["n_trial"] == 480).all()
    conc = run_trials(platform(drr=1.0, interim=False, pool="concurrent"), 8, 2)
    assert (conc["n_control"] > 40).all() and (conc["n_control"] <= 120).all()
    own = run_trials(platform(drr=1.0, interim=False, pool="own"), 8, 2)
    assert (own["n_control"] == 40).all()


def test_interim_futility_stops_reduce_n():
    with_looks = run_trials(platform(drr=1.3, interim=True), 40, 6)
    without = run_trials(platform(drr=1.3, interim=False), 40, 6)
    a = with_looks[with_looks["comparison"] == "A"]
    assert a["early_futility"].mean() > 0.5
    stopped = a[a["early_futility"]]
    assert (stopped["decision"] == "futility").all()
    assert (stopped["n_randomised_regimen"] < 160).all()
    assert (stopped["stop_look"] <= stopped["looks"]).all()
    assert with_looks["n_trial"].mean() < without["n_trial"].mean()
    assert (without["looks"] == 1).all()
    # stat_max covers only looks at which success could be claimed: without early success a
    # comparison stopped for futility had none, so success at any threshold is impossible.
    assert stopped["stat_max"].isna().all()
    ran = a[~a["early_futility"]]
    assert (ran["stat_max"] == ran["stat"]).all()
    assert (stopped["duration_months"] < a[~a["early_futility"]]["duration_months"].max()).all()


def test_multi_arm_shares_its_control():
    s = validate_scenario(
        {
            "name": "mams",
            "design": "multi_arm",
            "analysis": {"primary": "lmm_slope"},
            "control_arm": {"n": 100},
            "regimens": [
                {"name": "a", "n": 100, "product": {"drr": 0.5}},
                {"name": "b", "n": 100},
            ],
        },
        "m.yaml",
    )
    df = run_trials(s, 12, 1)
    assert set(df["comparison"]) == {"a", "b"}
    assert (df["n_active"] <= 100).all() and (df["n_control"] >= 60).all()
    a, b = df[df.comparison == "a"], df[df.comparison == "b"]
    np.testing.assert_array_equal(a["n_control"].to_numpy(), b["n_control"].to_numpy())
    assert a["success"].mean() > b["success"].mean()


def test_subgroup_and_adherence_dilute_the_effect():
    full = run_trials(parallel(drr=0.5, n=300, primary="lmm_slope"), 16, 8)
    sub = run_trials(
        validate_scenario(
            {
                "name": "sub",
                "design": "parallel",
                "analysis": {"primary": "lmm_slope"},
                "regimens": [
                    {
                        "name": "A",
                        "n": 300,
                        "product": {"drr": 0.5, "subgroup": {"genotype": ["SOD1"]}},
                    }
                ],
            },
            "s",
        ),
        16,
        8,
    )
    assert sub["estimate"].mean() < 0.3 * full["estimate"].mean()
    assert np.isnan(sub["true_value"]).all()


def test_mechanistic_generator_smoke():
    s = validate_scenario(
        {
            "name": "mech",
            "design": "parallel",
            "generator": "mechanistic",
            "analysis": {"primary": "lmm_slope"},
            "schedule": {"followup_weeks": 24},
            "regimens": [{"name": "A", "n": 30, "product": {"pathway": {"hazard_factor": 0.3}}}],
        },
        "mech.yaml",
    )
    df = run_trials(s, 3, 1)
    assert len(df) == 3 and (df["n_trial"] == 30).all()
    assert df["estimate"].notna().all()
    pd.testing.assert_frame_equal(df, run_trials(s, 3, 1, chunk_size=1))
    # the placebo world is the untreated world: a null pathway action changes nothing
    null = validate_scenario(
        {**s.model_dump(mode="json"), "regimens": [{"name": "A", "n": 30}]}, "mech.yaml"
    )
    chunks = []
    for scen in (s, null):
        chunk = _Chunk(make_plan(scen), 1, 0, 2)
        chunk.run_looks()
        chunks.append((chunk.st.active.copy(), chunk.outcomes(np.arange(2))))
    (act, o1), (act0, o0) = chunks
    np.testing.assert_array_equal(act, act0)
    np.testing.assert_array_equal(o1["alsfrs"][~act], o0["alsfrs"][~act])
    np.testing.assert_array_equal(o1["alsfrs"][..., 0], o0["alsfrs"][..., 0])  # baseline
    with pytest.raises(InputError, match=r"regimens\[0\].product"):
        validate_scenario(
            {
                "name": "m",
                "design": "parallel",
                "generator": "mechanistic",
                "regimens": [{"name": "A", "n": 30, "product": {"drr": 0.7}}],
            },
            "m.yaml",
        )


def test_information_based_looks():
    """Looks when 100 and 200 patients have had 24 weeks of follow-up (then the final)."""
    data = {
        "name": "info",
        "design": "parallel",
        "accrual": {"rate_per_month": 15},
        "analysis": {"primary": "lmm_slope"},
        "interim": {"at_n_followed": [100, 200], "futility": False},
        "regimens": [{"name": "A", "n": 300, "product": {"drr": 1.0}}],
    }
    df = run_trials(validate_scenario(data, "i.yaml"), 12, 2)
    assert (df["looks"] == 3).all() and (df["n_trial"] == 300).all()
    data["interim"] = {"at_n_followed": [100, 200], "futility_threshold": 0.5}
    data["regimens"][0]["product"] = {"drr": 1.4}
    harm = run_trials(validate_scenario(data, "i.yaml"), 12, 2)
    assert harm["early_futility"].mean() > 0.8
    assert (harm.loc[harm["early_futility"], "n_trial"] < 300).all()
    with pytest.raises(InputError, match=r"interim.at_n_followed"):
        validate_scenario({**data, "interim": {"at_n_followed": [200, 100]}}, "i.yaml")
