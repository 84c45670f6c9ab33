"""`time-window`: the same therapy started presymptomatically, at diagnosis or a year later.

Seed §4 ("time is the harshest limit"): neurons already lost stay lost, so the same therapy
saves more the earlier it starts. Research and education only, not medical advice.
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
    fmt,
    km_median,
    mean_se,
    nfl_trigger_months,
    restricted_time,
    start_at,
    therapy_record,
    tofersen,
)
from alsim.experiments.worlds import simulate_world

NAME = "time-window"
ARMS = ("NfL-triggered (presymptomatic)", "at diagnosis", "diagnosis + 12 months")


def time_window(seed: int = 1, *, n: int = 2048, horizon_months: int = 72) -> ExperimentResult:
    """Start one therapy (catalogue ``tofersen``, SOD1 carriers) at three times; compare worlds.

    Starts: (1) at the month an untreated carrier's monthly blood NfL is confirmed above the
    healthy 95th percentile (two consecutive measurements), if that comes before diagnosis,
    else at diagnosis; (2) at diagnosis; (3) 12 months after diagnosis. The presymptomatic
    start is trigger-relative (``start_from="trigger"``), valid because the worlds are identical
    before the start. Outcomes are read at the same time since the trigger in every world
    (aligned on the untreated onset), so a delayed onset counts as benefit.
    """
    started = time.perf_counter()
    check_positive_int("n", n, 16)
    check_positive_int("horizon_months", horizon_months, 24)
    params = load_params()
    spec = CohortSpec(
        n=n, seed=seed, genotype="SOD1", horizon_months=horizon_months, pre_onset_months=48
    )
    base = simulate_world(spec, params=params)
    t = base.t_months
    dx = base.diagnosis
    trig = nfl_trigger_months(base, params)
    pre = np.isfinite(trig) & (trig < np.nan_to_num(dx, nan=np.inf))
    # Presymptomatic arm: trigger-relative start at the confirmation month (else diagnosis).
    trig_from_trigger = np.where(
        pre, base.onset_from_trigger + trig, base.onset_from_trigger + np.ceil(dx)
    )
    starts = {
        ARMS[0]: dict(start=trig_from_trigger, start_from="trigger"),
        ARMS[1]: dict(start=start_at(dx), start_from="onset"),
        ARMS[2]: dict(start=start_at(dx + 12.0), start_from="onset"),
    }
    ref_onset = base.onset_from_trigger
    horizon = float(horizon_months)
    rows, curves = [], {"t": t.tolist(), "untreated": base.neurons.mean(axis=0).tolist()}
    saved_by_arm = {}
    base_rmst = restricted_time(base.death_or_pav, horizon)
    base_total = np.nan_to_num(base.obs.expected_total, nan=0.0)
    k24 = int(np.searchsorted(t, 24.0))
    k48 = int(np.searchsorted(t, min(48.0, horizon)))
    start_neurons = {}
    per_patient = {}  # arm -> metric -> per-patient gain (paired comparisons between arms)
    for arm, how in starts.items():
        effect = tofersen(how["start"], start_from=how["start_from"])
        world = simulate_world(spec, (effect,), params=params)
        neurons = world.on_reference_onset(world.neurons, ref_onset)
        total = world.on_reference_onset(
            np.nan_to_num(world.obs.expected_total, nan=0.0), ref_onset
        )
        end = world.death_or_pav + world.onset_from_trigger - ref_onset  # on the reference grid
        saved = neurons - base.neurons
        saved_by_arm[arm] = saved
        curves[arm] = neurons.mean(axis=0).tolist()
        per_patient[arm] = {
            "neurons_saved_24m": saved[:, k24],
            "neurons_saved_48m": saved[:, k48],
            "alsfrs_gain_24m": total[:, k24] - base_total[:, k24],
            "rmst_gain_months": restricted_time(end, horizon) - base_rmst,
        }
        s24, se24 = mean_se(per_patient[arm]["neurons_saved_24m"])
        s48, se48 = mean_se(per_patient[arm]["neurons_saved_48m"])
        f24, fse24 = mean_se(per_patient[arm]["alsfrs_gain_24m"])
        r, rse = mean_se(per_patient[arm]["rmst_gain_months"])
        # surviving fraction at the start (trigger-month grid of the untreated world)
        start_tr = how["start"] if how["start_from"] == "trigger" else how["start"] + ref_onset
        at_start = base.neurons_at_trigger_months(np.nan_to_num(start_tr, nan=0.0)[:, None])[:, 0]
        start_neurons[arm] = at_start
        rows.append(
            {
                "start": arm,
                "neurons_left_at_start": float(np.nanmedian(at_start)),
                "neurons_saved_24m": s24,
                "neurons_saved_24m_se": se24,
                "neurons_saved_48m": s48,
                "neurons_saved_48m_se": se48,
                "alsfrs_gain_24m": f24,
                "alsfrs_gain_24m_se": fse24,
                "rmst_gain_months": r,
                "rmst_gain_months_se": rse,
                "median_survival_months": km_median(end, horizon),
                "median_onset_delay_months": float(np.median(world.onset_from_trigger - ref_onset)),
            }
        )
    # Earlier minus the next later start, per patient (the worlds share every draw, so the
    # paired SE is the right one; the last arm has no later one).
    for row, arm, later in zip(rows, ARMS, [*ARMS[1:], None], strict=True):
        for metric in per_patient[arm]:
            if later is None:
                row[f"{metric}_vs_later"] = row[f"{metric}_vs_later_se"] = np.nan
            else:
                d = per_patient[arm][metric] - per_patient[later][metric]
                row[f"{metric}_vs_later"], row[f"{metric}_vs_later_se"] = mean_se(d)
    table = pd.DataFrame(rows)
    lead = np.where(pre, -trig, np.nan)
    key = {
        "n_patients": n,
        "share_triggered_before_diagnosis": float(pre.mean()),
        "share_triggered_before_onset": float((pre & (trig < 0)).mean()),
        "median_nfl_lead_before_onset_months": float(np.nanmedian(np.where(trig < 0, lead, np.nan)))
        if np.any(trig < 0)
        else None,
        "median_diagnosis_months_after_onset": float(np.nanmedian(dx)),
        "untreated_median_survival_months": km_median(base.death_or_pav, horizon),
        "arms": {
            r["start"]: {
                "neurons_saved_24m": [r["neurons_saved_24m"], r["neurons_saved_24m_se"]],
                "neurons_saved_48m": [r["neurons_saved_48m"], r["neurons_saved_48m_se"]],
                "alsfrs_gain_24m": [r["alsfrs_gain_24m"], r["alsfrs_gain_24m_se"]],
                "rmst_gain_months": [r["rmst_gain_months"], r["rmst_gain_months_se"]],
                "neurons_left_at_start": r["neurons_left_at_start"],
            }
            for r in rows
        },
    }
    s = {r["start"]: r for r in rows}
    findings = [
        "Neurons saved 24 months after onset (mean surviving fraction of the 8 pools, "
        "treated − untreated): "
        + "; ".join(
            f"{a} {fmt(s[a]['neurons_saved_24m'], s[a]['neurons_saved_24m_se'], 3)}" for a in ARMS
        )
        + ".",
        f"At diagnosis a median {100 * (1 - s[ARMS[1]]['neurons_left_at_start']):.0f}% of motor "
        "neurons (mean of the 8 pools) are already lost; at the NfL trigger "
        f"{100 * (1 - s[ARMS[0]]['neurons_left_at_start']):.1f}%, a year after diagnosis "
        f"{100 * (1 - s[ARMS[2]]['neurons_left_at_start']):.0f}%.",
        "Restricted mean survival gain to month "
        f"{horizon_months} after onset: "
        + "; ".join(
            f"{a} {fmt(s[a]['rmst_gain_months'], s[a]['rmst_gain_months_se'], 1)} months"
            for a in ARMS
        )
        + ".",
    ]
    return ExperimentResult(
        name=NAME,
        title="Time window: presymptomatic, at diagnosis, a year later",
        question="How much does the same therapy save when started presymptomatically "
        "(NfL-triggered), at diagnosis or 12 months after diagnosis?",
        seed=seed,
        settings={
            "n": n,
            "genotype": "SOD1",
            "horizon_months": horizon_months,
            "therapy": "tofersen (catalogue entry, 100 mg): misfolding input x0.63, mutant SOD1 x0.63",
            "nfl_rule": "2 consecutive monthly blood NfL above the age-specific healthy P95",
        },
        key_numbers=key,
        tables={"arms": table},
        series={"curves": curves, "saved_24m": {a: saved_by_arm[a][:, k24] for a in ARMS}},
        findings=findings,
        therapies=[
            therapy_record(
                "tofersen",
                tofersen(0.0),
                acts_in="SOD1 carriers (the whole cohort)",
                role="started at the NfL trigger, at diagnosis or 12 months later",
            )
        ],
        seconds=time.perf_counter() - started,
    )
