"""`presymptomatic-trial`: an ATLAS-like trial in presymptomatic SOD1 carriers.

Seed §4 and §6: carriers are followed with monthly blood NfL; when NfL rises (the trigger rule)
they are randomised to the therapy or placebo, and the primary outcome is the proportion who
develop clinically manifest ALS (symptom onset) within 12 months.
Research and education only, not medical advice.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from alsim.cohort.simulate import CohortSpec
from alsim.disease.mechanistic.params import load_params
from alsim.experiments.common import (
    ExperimentResult,
    check_positive_int,
    experiment_rng,
    fmt,
    mean_se,
    nfl_trigger_months,
    prop_se,
    therapy_record,
    tofersen,
)
from alsim.experiments.trials import Endpoints, run_parallel_trials
from alsim.experiments.worlds import simulate_world

NAME = "presymptomatic-trial"


def presymptomatic_trial(
    seed: int = 1,
    *,
    n: int = 4096,
    sizes: tuple[int, ...] = (40, 80, 150),
    n_rep: int = 1000,
    window_months: int = 12,
    surveillance_months: int = 48,
) -> ExperimentResult:
    """Trigger rule, randomisation at trigger, onset within ``window_months``, treated vs placebo.

    Carriers are in surveillance from ``surveillance_months`` before their (untreated) onset;
    the trigger is two consecutive monthly NfL values above the age-specific healthy P95
    (:func:`nfl_trigger_months`); only carriers still presymptomatic at the trigger are
    randomised. The treated world starts catalogue ``tofersen`` at the trigger month
    (trigger-relative start); onset in that world may move later. Outcome: onset within
    ``window_months`` of randomisation (in the world of the arm).
    """
    started = time.perf_counter()
    check_positive_int("n", n, 64)
    check_positive_int("n_rep", n_rep, 10)
    params = load_params()
    rng = experiment_rng(seed, NAME)
    spec = CohortSpec(
        n=n, seed=seed, genotype="SOD1", horizon_months=36, pre_onset_months=surveillance_months
    )
    base = simulate_world(spec, params=params)
    trig = nfl_trigger_months(base, params)
    randomised = np.isfinite(trig) & (trig < 0)
    start = np.where(randomised, base.onset_from_trigger + trig, np.nan)
    treated = simulate_world(spec, (tofersen(start, start_from="trigger"),), params=params)
    onset_shift = treated.onset_from_trigger - base.onset_from_trigger
    to_onset_placebo = -trig
    to_onset_treated = -trig + onset_shift
    manifest_placebo = (to_onset_placebo <= window_months).astype(float)
    manifest_treated = (to_onset_treated <= window_months).astype(float)
    ok = randomised
    p0, p1 = float(manifest_placebo[ok].mean()), float(manifest_treated[ok].mean())
    m = int(ok.sum())
    diff, diff_se = mean_se(manifest_treated[ok] - manifest_placebo[ok])
    delay, delay_se = mean_se(onset_shift[ok])
    end = Endpoints(manifest_placebo, manifest_treated, ok)
    rows = []
    for size in sizes:
        if m < size:
            continue
        s = run_parallel_trials(end, size, n_rep, rng, higher_is_better=False)
        rows.append(
            {
                "n_randomised": size,
                "mean_risk_difference": s.mean_estimate,
                "mean_risk_difference_se": s.mean_estimate_se,
                "power": s.power,
                "power_se": s.power_se,
            }
        )
    table = pd.DataFrame(rows)
    lead = to_onset_placebo[ok]
    key = {
        "n_carriers_in_surveillance": n,
        "share_randomised_before_onset": float(ok.mean()),
        "median_months_trigger_to_onset_placebo": float(np.median(lead)),
        "manifest_within_window_placebo": [p0, prop_se(p0, m)],
        "manifest_within_window_treated": [p1, prop_se(p1, m)],
        "risk_difference": [diff, diff_se],
        "relative_risk": p1 / p0 if p0 > 0 else None,
        "mean_onset_delay_months": [delay, delay_se],
        "power": {str(r.n_randomised): [r.power, r.power_se] for r in table.itertuples()},
        "n_rep": n_rep,
    }
    findings = [
        f"{100 * ok.mean():.0f}% of carriers triggered (confirmed NfL rise) before symptom onset, "
        f"a median {np.median(lead):.0f} months before it.",
        f"Manifest ALS within {window_months} months of randomisation: placebo "
        f"{fmt(100 * p0, 100 * prop_se(p0, m), 1)}%, treated {fmt(100 * p1, 100 * prop_se(p1, m), 1)}% "
        f"(onset delayed by {fmt(delay, delay_se, 1)} months on average).",
    ]
    if len(table):
        last = table.iloc[-1]
        findings.append(
            f"Power of a {int(last.n_randomised)}-carrier 1:1 trial: "
            f"{fmt(last.power, last.power_se)}."
        )
    return ExperimentResult(
        name=NAME,
        title="Presymptomatic trial (ATLAS-like): NfL trigger, randomise, prevent onset",
        question="In SOD1 carriers followed with monthly NfL, does starting the therapy at an "
        "NfL rise reduce the proportion who develop manifest ALS within 12 months?",
        seed=seed,
        settings={
            "population": "SOD1 carriers in surveillance (all eventually develop ALS in the model)",
            "surveillance_months_before_onset": surveillance_months,
            "trigger_rule": "2 consecutive monthly blood NfL above the age-specific healthy P95",
            "therapy": "tofersen (catalogue entry, 100 mg) from the trigger month",
            "outcome": f"symptom onset within {window_months} months of randomisation",
            "analysis": "difference in proportions, one-sided test at 2.5%",
            "sizes": list(sizes),
            "n_rep": n_rep,
        },
        key_numbers=key,
        tables={"power": table},
        series={
            "time_to_onset": {"placebo": to_onset_placebo[ok], "treated": to_onset_treated[ok]}
        },
        findings=findings,
        therapies=[
            therapy_record(
                "tofersen",
                tofersen(0.0),
                acts_in="SOD1 carriers randomised to the active arm",
                role="started at the NfL trigger (randomisation)",
            )
        ],
        seconds=time.perf_counter() - started,
    )
