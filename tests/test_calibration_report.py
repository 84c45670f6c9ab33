"""The calibration report renders from a synthetic cohort with every figure and the target table.

The cohort below is a crude stand-in for the mechanistic simulator (linear ALSFRS-R decline,
death at a low score, NfL rising before onset); it only has to respect the table contract.
"""

import re
import time

import numpy as np
import pandas as pd
import pytest

from alsim.clinical.alsfrs import Q5A, Q5B, VISIT_ITEM_COLUMNS
from alsim.cohort.targets import RESULT_COLUMNS, evaluate_targets, load_targets
from alsim.errors import InputError
from alsim.report.calibration import calibration_report

GENOTYPES = ["sporadic", "SOD1", "C9orf72", "TARDBP", "FUS"]
REGIONS = ["bulbar", "upper_limb", "trunk", "lower_limb"]
FIRST_MONTH, HORIZON = -48, 120


def synthetic_cohort(n: int = 200, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Patients and monthly visits (from -48 months) following the cohort table contract."""
    rng = np.random.default_rng(seed)
    genotype = rng.choice(GENOTYPES, n, p=[0.78, 0.08, 0.1, 0.02, 0.02])
    sod1_variant = np.where(genotype == "SOD1", rng.choice(["A4V", "other"], n), None)
    region = rng.choice(REGIONS, n, p=[0.29, 0.33, 0.05, 0.33])
    age = np.clip(rng.normal(63, 11, n) - 7 * (genotype != "sporadic"), 25, 90)
    rate = rng.lognormal(np.log(0.7), 0.6, n) * np.where(region == "bulbar", 1.3, 1.0)
    rate *= np.where(sod1_variant == "A4V", 3.0, np.where(sod1_variant == "other", 0.4, 1.0))
    t_dx = np.clip(rng.lognormal(np.log(11), 0.5, n), 2, 60)
    t_dead = (48 - 8) / rate * rng.lognormal(0, 0.15, n)
    t_pav = np.where(rng.random(n) < 0.1, t_dead * 0.9, np.nan)
    t_peg = (48 - 30) / rate
    t_niv = (48 - 26) / rate
    mask = lambda t: np.where(t <= HORIZON, t, np.nan)  # noqa: E731
    t_dead_h = mask(t_dead)
    t_dx = np.where(t_dx < np.nan_to_num(t_dead_h, nan=np.inf), t_dx, np.nan)
    nfl_factor = 4.0 * rate**0.5
    lead = np.where(genotype == "C9orf72", 36.0, 12.0)
    patients = pd.DataFrame(
        {
            "subject_id": [f"VP{i:04d}" for i in range(n)],
            "sex": rng.choice(["female", "male"], n, p=[0.44, 0.56]),
            "ancestry": rng.choice(["european", "east_asian"], n, p=[0.8, 0.2]),
            "genotype": genotype,
            "sod1_variant": pd.array(sod1_variant, dtype="string"),
            "onset_region": region,
            "ftd": rng.random(n) < np.where(genotype == "C9orf72", 0.5, 0.15),
            "age_onset_years": age,
            "t_diagnosis_months": t_dx,
            "t_gastrostomy_months": mask(np.where(t_peg < t_dead, t_peg, np.inf)),
            "t_niv_months": mask(np.where(t_niv < t_dead, t_niv, np.inf)),
            "t_pav_months": mask(t_pav),
            "t_death_months": t_dead_h,
            "horizon_months": float(HORIZON),
            "fvc_percent_diagnosis": 100 - 2.5 * rate * t_dx,
            "alsfrs_r_diagnosis": np.round(np.clip(48 - rate * t_dx, 0, 48)),
            "delta_fs_diagnosis": rate,
            "nfl_diagnosis_pg_ml": np.nan,  # filled from the visits below
        }
    )
    months = np.arange(FIRST_MONTH, HORIZON + 1, dtype=float)
    pi = np.repeat(np.arange(n), months.size)
    t = np.tile(months, n)
    alive = ~(t >= np.nan_to_num(t_dead_h, nan=np.inf)[pi])
    total = np.clip(np.round(48 - rate[pi] * np.maximum(t, 0)), 0, 48)
    deficit = (48 - total).astype(int)
    items = np.stack([np.clip((deficit + 11 - k) // 12, 0, 4) for k in range(12)], axis=1)
    items = 4 - items  # 12 items summing to total, deficit spread evenly
    control = 5.0 * np.exp(0.03 * (age[pi] + t / 12 - 20))
    rise = 1 + (nfl_factor[pi] - 1) / (1 + np.exp(-(t + lead[pi] - 6) / 2.0))
    visits = pd.DataFrame(
        {
            "subject_id": patients["subject_id"].to_numpy()[pi],
            "t_months": t,
            "alive": alive,
        }
    )
    gastro = t >= np.nan_to_num(patients["t_gastrostomy_months"].to_numpy(), nan=np.inf)[pi]
    for k, col in enumerate([c for c in VISIT_ITEM_COLUMNS if c not in (Q5A, Q5B)]):
        visits[col] = pd.array(np.where(alive, items[:, k if k < 4 else k + 1], 0), dtype="Int64")
    visits[Q5A] = pd.array(np.where(alive & ~gastro, items[:, 4], -1), dtype="Int64")
    visits[Q5B] = pd.array(np.where(alive & gastro, items[:, 4], -1), dtype="Int64")
    for col in VISIT_ITEM_COLUMNS:
        visits.loc[~alive | (visits[col] < 0), col] = pd.NA
    visits["alsfrs_r_total"] = np.where(alive, total, np.nan)
    visits["fvc_percent"] = np.where(alive, 100 - 2.5 * rate[pi] * np.maximum(t, 0), np.nan)
    visits["nfl_pg_ml"] = np.where(alive, control * rise * rng.lognormal(0, 0.2, t.size), np.nan)
    visits["weight_kg"] = np.where(alive, 75 - 0.2 * np.maximum(t, 0), np.nan)
    visits["mu_fraction"] = np.clip(1 - rate[pi] * np.maximum(t + 14, 0) / 48, 0, 1)
    visits["nfl_control_pg_ml"] = control
    at_dx = visits.merge(
        patients[["subject_id", "t_diagnosis_months"]].assign(
            t_months=lambda d: np.round(d["t_diagnosis_months"])
        ),
        on=["subject_id", "t_months"],
    )
    patients["nfl_diagnosis_pg_ml"] = (
        patients["subject_id"].map(at_dx.set_index("subject_id")["nfl_pg_ml"]).astype(float)
    )
    return patients, visits


@pytest.fixture(scope="module")
def cohort():
    return synthetic_cohort()


@pytest.fixture(scope="module")
def results(cohort):
    return evaluate_targets(load_targets(), *cohort)


def test_synthetic_cohort_respects_the_contract(cohort):
    patients, visits = cohort
    assert len(patients) == 200
    assert visits["t_months"].min() == FIRST_MONTH
    items = [c for c in VISIT_ITEM_COLUMNS if c not in (Q5A, Q5B)]
    alive = visits[visits["alive"]]
    q5 = alive[Q5A].fillna(alive[Q5B])
    total = alive[items].sum(axis=1) + q5
    assert (total.astype(float) == alive["alsfrs_r_total"]).all()


def test_every_shipped_target_is_evaluated(results):
    targets = load_targets()
    assert tuple(results.columns) == RESULT_COLUMNS
    assert results["id"].tolist() == [t.id for t in [*targets.targets, *targets.context]]
    assert results["role"].tolist() == ["target"] * len(targets.targets) + ["context"] * len(
        targets.context
    )
    # the crude cohort still yields a number for nearly every statistic
    assert results["simulated"].notna().mean() > 0.8
    assert results["passed"].dtype == bool


def test_report_renders_every_figure_and_the_table(cohort, results):
    patients, visits = cohort
    start = time.perf_counter()
    html = calibration_report(
        results, patients, visits, parameter_set_name="synthetic-test", seed=7, n=len(patients)
    )
    assert time.perf_counter() - start < 8
    assert html.startswith("<!DOCTYPE html>")
    for fig in (
        "fig-z",
        "fig-trajectories",
        "fig-slopes",
        "fig-km-region",
        "fig-km-genotype",
        "fig-onset-age",
        "fig-nfl",
        "fig-eligibility",
    ):
        block = re.search(rf'<div class="figure" id="{fig}">(.*?)</div>\n', html, re.S)
        assert block and "<svg" in block.group(1), fig
    assert html.count("<svg") >= 8
    table = re.search(r'<table id="targets-table">(.*?)</table>', html, re.S).group(1)
    for target in load_targets().targets:
        assert f"<td>{target.id}<div" in table
        assert f'href="{target.source}"' in html
    targets_only = results[results["role"] == "target"]
    n_fail_hard = int((~targets_only["passed"] & targets_only["hard"]).sum())
    assert table.count('<tr class="fail">') == n_fail_hard
    assert table.count('<tr class="pass">') == int(targets_only["passed"].sum())
    # Context entries have their own table with the reason each is not a target.
    context = re.search(r'<table id="context-table">(.*?)</table>', html, re.S).group(1)
    for entry in load_targets().context:
        assert f"<td>{entry.id}<div" in context and f"<td>{entry.id}<div" not in table
    assert "Why not a target".lower() in html.lower()
    assert "synthetic-test" in html and "seed 7" in html
    assert "Trial-like selection versus the unselected cohort" in html
    assert "PARALS-ct" in html
    assert "not medical advice" in html


def test_report_rejects_a_foreign_results_table(cohort):
    with pytest.raises(InputError, match="results_df"):
        calibration_report(pd.DataFrame({"id": []}), *cohort, parameter_set_name="x", seed=0, n=0)
