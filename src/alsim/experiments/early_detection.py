"""`early-detection`: NfL screening and an imaging-feature classifier before symptom onset.

Seed §6 (early diagnosis): plasma NfL and diffusion-tensor imaging could detect disease before
symptoms and widen the window for intervention. How well, how long before onset?
Research and education only, not medical advice.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from alsim.cohort.simulate import CohortSpec
from alsim.disease.mechanistic.params import load_params
from alsim.experiments.common import (
    ExperimentResult,
    check_positive_int,
    experiment_rng,
    nfl_healthy_p95,
    nfl_trigger_months,
)
from alsim.experiments.worlds import simulate_world

NAME = "early-detection"
MONTHS_BEFORE = (36, 24, 18, 12, 9, 6, 3, 0)


def _auc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley-McNeil standard error of an AUC."""
    if not (0 < auc < 1) or n_pos < 2 or n_neg < 2:
        return math.nan
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (
        n_pos * n_neg
    )
    return math.sqrt(max(var, 0.0))


def early_detection(
    seed: int = 1,
    *,
    n: int = 4096,
    months_before: tuple[int, ...] = MONTHS_BEFORE,
) -> ExperimentResult:
    """Cases vs healthy controls at each time before onset; screening lead time.

    Half the cohort (random) are cases, read ``m`` months before their symptom onset; the other
    half are age-matched controls whose readouts are their own healthy (never-triggered)
    counterfactual: blood NfL = healthy level x measurement noise, FA = FA without UMN loss
    (disease-model.md §6). Features: age-adjusted log NfL (log NfL minus the healthy median at
    that age), DTI-like FA of the corticospinal tract, age. NfL screening: positive above the
    age-specific healthy P95. Classifier: scikit-learn logistic regression on the three
    features, trained on half of the patients and evaluated on the other half (AUC).
    Lead time: the confirmed-NfL rule applied monthly to every patient (untreated world).
    """
    started = time.perf_counter()
    check_positive_int("n", n, 64)
    params = load_params()
    rng = experiment_rng(seed, NAME)
    spec = CohortSpec(n=n, seed=seed, horizon_months=24, pre_onset_months=max(months_before) + 12)
    w = simulate_world(spec, params=params)
    t = w.t_months
    nfl_p = params.nfl
    noise_sd = math.sqrt(math.log1p(nfl_p.measurement_cv**2))
    role = rng.permutation(n) % 2  # 0 case, 1 control
    train = rng.random(n) < 0.5
    healthy_nfl = w.obs.nfl_control_pg_ml * np.exp(
        noise_sd * rng.standard_normal(w.obs.nfl_pg_ml.shape)
    )
    healthy_fa = w.obs.fa_cst + params.imaging.fa_umn_loss * (1.0 - w.umn)
    rows = []
    for m in months_before:
        k = int(np.searchsorted(t, -float(m)))
        age = w.age_onset_years + t[k] / 12.0
        case = role == 0
        nfl = np.where(case, w.obs.nfl_pg_ml[:, k], healthy_nfl[:, k])
        fa = np.where(case, w.obs.fa_cst[:, k], healthy_fa[:, k])
        expected = nfl_p.control_log_median_at_60 + nfl_p.control_age_slope_per_year * (age - 60)
        z_nfl = np.log(nfl) - expected
        y = case.astype(int)
        positive = nfl > nfl_healthy_p95(age, params)
        sens = float(positive[case].mean())
        spec_ = float((~positive[~case]).mean())
        x = np.column_stack([z_nfl, fa, age])
        model = make_pipeline(StandardScaler(), LogisticRegression())
        model.fit(x[train], y[train])
        test = ~train
        score = model.predict_proba(x[test])[:, 1]
        n_pos, n_neg = int(y[test].sum()), int((1 - y[test]).sum())
        auc_nfl = float(roc_auc_score(y[test], z_nfl[test]))
        auc_fa = float(roc_auc_score(y[test], -fa[test]))
        auc_cls = float(roc_auc_score(y[test], score))
        # sensitivity of the classifier at the specificity of the NfL rule (threshold on controls)
        cut = np.quantile(score[y[test] == 0], spec_)
        rows.append(
            {
                "months_before_onset": m,
                "nfl_sensitivity": sens,
                "nfl_specificity": spec_,
                "auc_nfl": auc_nfl,
                "auc_nfl_se": _auc_se(auc_nfl, n_pos, n_neg),
                "auc_fa": auc_fa,
                "auc_fa_se": _auc_se(auc_fa, n_pos, n_neg),
                "auc_classifier": auc_cls,
                "auc_classifier_se": _auc_se(auc_cls, n_pos, n_neg),
                "classifier_sensitivity_at_same_specificity": float(
                    (score[y[test] == 1] > cut).mean()
                ),
            }
        )
    table = pd.DataFrame(rows)
    # Screening lead time: confirmed rule, monthly, in every patient (disease world).
    trig = nfl_trigger_months(w, params)
    dx = w.diagnosis
    before = np.isfinite(trig) & (trig < 0)
    lead_onset = np.where(before, -trig, np.nan)
    gain_dx = np.where(np.isfinite(trig) & (trig < dx), dx - trig, np.nan)
    # False alarms: the same rule on healthy counterfactual series over the same window.
    pre = t < 0
    age_grid = w.age_onset_years[:, None] + t[None, pre] / 12.0
    above = healthy_nfl[:, pre] > nfl_healthy_p95(age_grid, params)
    confirmed = np.any(above[:, 1:] & above[:, :-1], axis=1)
    by_genotype = []
    from alsim.disease.mechanistic.schema import GENOTYPES

    for g, name in enumerate(GENOTYPES):
        sel = w.genotype == g
        if sel.sum() < 5:
            continue
        by_genotype.append(
            {
                "genotype": name,
                "n": int(sel.sum()),
                "share_detected_before_onset": float(before[sel].mean()),
                "median_lead_before_onset_months": float(np.nanmedian(lead_onset[sel]))
                if before[sel].any()
                else np.nan,
                "median_gain_vs_diagnosis_months": float(np.nanmedian(gain_dx[sel]))
                if np.isfinite(gain_dx[sel]).any()
                else np.nan,
            }
        )
    genotype_table = pd.DataFrame(by_genotype)
    first, last = table.iloc[0], table.iloc[-1]
    key = {
        "n_patients": n,
        "auc_nfl_by_months_before": {
            str(r.months_before_onset): [r.auc_nfl, r.auc_nfl_se] for r in table.itertuples()
        },
        "auc_classifier_by_months_before": {
            str(r.months_before_onset): [r.auc_classifier, r.auc_classifier_se]
            for r in table.itertuples()
        },
        "auc_fa_by_months_before": {
            str(r.months_before_onset): [r.auc_fa, r.auc_fa_se] for r in table.itertuples()
        },
        "nfl_sensitivity_by_months_before": {
            str(r.months_before_onset): r.nfl_sensitivity for r in table.itertuples()
        },
        "nfl_specificity": float(table.nfl_specificity.mean()),
        "share_detected_before_onset": float(before.mean()),
        "median_lead_before_onset_months": float(np.nanmedian(lead_onset))
        if before.any()
        else None,
        "median_gain_vs_diagnosis_months": float(np.nanmedian(gain_dx)),
        "healthy_false_alarm_share": float(confirmed.mean()),
    }
    findings = [
        f"NfL AUC rises from {first.auc_nfl:.2f} at {int(first.months_before_onset)} months before "
        f"onset to {last.auc_nfl:.2f} at onset; the classifier (NfL, FA, age) "
        f"{first.auc_classifier:.2f} → {last.auc_classifier:.2f}; FA alone "
        f"{first.auc_fa:.2f} → {last.auc_fa:.2f}.",
        f"Monthly NfL screening (2 consecutive values above the healthy P95) detects "
        f"{100 * before.mean():.0f}% of patients before symptom onset, a median "
        f"{key['median_lead_before_onset_months'] or float('nan'):.0f} months before it and "
        f"{np.nanmedian(gain_dx):.0f} months before clinical diagnosis; "
        f"{100 * confirmed.mean():.1f}% of healthy people would also trigger over "
        f"{int(pre.sum())} months.",
    ]
    return ExperimentResult(
        name=NAME,
        title="Early detection: NfL screening and an imaging-feature classifier",
        question="How well do blood NfL and DTI-like imaging separate people who will develop "
        "ALS from healthy people, how long before symptom onset, and how much lead time does "
        "screening gain?",
        seed=seed,
        settings={
            "n": n,
            "population": "unselected European cohort (cases) and their healthy counterfactuals (controls)",
            "features": ["age-adjusted log blood NfL", "DTI-like FA (fa_cst)", "age"],
            "classifier": "scikit-learn StandardScaler + LogisticRegression, 50% train / 50% test",
            "screening_rule": "blood NfL above the age-specific healthy P95; monitoring: 2 consecutive months",
            "months_before_onset": list(months_before),
        },
        key_numbers=key,
        tables={"auc": table, "lead_time_by_genotype": genotype_table},
        series={"lead": lead_onset[np.isfinite(lead_onset)]},
        findings=findings,
        seconds=time.perf_counter() - started,
    )
