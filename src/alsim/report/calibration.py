"""The cohort calibration report: published targets next to the simulated cohort, with figures.

:func:`calibration_report` renders a self-contained HTML page (inline SVG, no external assets)
from the result of :func:`alsim.cohort.targets.evaluate_targets` and the cohort tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alsim.analysis.survival import km_median
from alsim.cohort.targets import (
    CORE_RESULT_COLUMNS,
    TRIAL_LIKE,
    Cohort,
    TrialLikeDefinition,
    calibration_summary,
)
from alsim.disease.mechanistic.schema import GENOTYPES, REGIONS
from alsim.errors import InputError
from alsim.report import calibration_figures as cf
from alsim.report.html import render, table_html

_GENOTYPE_ORDER = GENOTYPES
_REGION_ORDER = REGIONS


def _fmt(value: Any, digits: int = 3) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    if not np.isfinite(v):
        return "—"
    return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:.0f}"


def _rows(results: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for rec in results.to_dict("records"):
        hard = bool(rec.get("hard", True))
        passed = bool(rec["passed"])
        rows.append(
            {
                "id": rec["id"],
                "statistic": rec["statistic"],
                "population": rec["population"],
                "ancestry": rec.get("ancestry", ""),
                "target": f"{_fmt(rec['value'])} ± {_fmt(rec['tolerance'])}",
                "unit": rec.get("unit", ""),
                "simulated": _fmt(rec["simulated"]),
                "z": _fmt(rec["z"], 2),
                "n": "" if pd.isna(rec.get("n_patients")) else int(rec.get("n_patients", 0)),
                "passed": passed,
                "status": ("pass" if passed else "FAIL") if hard else ("pass" if passed else "off"),
                "css": "pass" if passed else ("fail" if hard else "soft"),
                "hard": hard,
                "evidence": rec.get("evidence", ""),
                "source": rec["source"],
                "source_href": rec["source"].replace("doi:", "https://doi.org/", 1)
                if str(rec["source"]).startswith("doi:")
                else rec["source"],
                "note": rec.get("note", ""),
                "reason": rec.get("reason", "") or "",
            }
        )
    return rows


def _split(results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(targets, context entries); tables without a ``role`` column hold only targets."""
    if "role" not in results:
        return results, results.iloc[0:0]
    is_context = results["role"].fillna("target") == "context"
    return results[~is_context], results[is_context]


def _target_value(results: pd.DataFrame, target_id: str) -> float | None:
    hit = results.loc[results["id"] == target_id, "value"]
    return float(hit.iloc[0]) if len(hit) else None


def calibration_report(
    results_df: pd.DataFrame,
    patients: pd.DataFrame,
    visits: pd.DataFrame,
    *,
    parameter_set_name: str,
    seed: int,
    n: int,
    trial: TrialLikeDefinition = TRIAL_LIKE,
    n_trajectories: int = 30,
) -> str:
    """Render the calibration report as HTML.

    Parameters
    ----------
    results_df:
        The table from :func:`alsim.cohort.targets.evaluate_targets`.
    patients, visits:
        The simulated cohort the results were computed on.
    parameter_set_name, seed, n:
        Which parameter set, random seed and cohort size produced the cohort (shown in the
        header so the report can be reproduced).
    trial:
        The trial-like definition used for the eligibility panel.
    n_trajectories:
        How many random patients the trajectory figure shows.

    Returns
    -------
    str
        A self-contained HTML page.
    """
    missing = [c for c in CORE_RESULT_COLUMNS if c not in results_df.columns]
    if missing:
        raise InputError("results_df", f"missing column(s) {missing} (use evaluate_targets)")
    cohort = Cohort(patients, visits, trial=trial)
    summary = calibration_summary(results_df)

    slopes = cohort.slopes("alsfrs_r_total")
    eligible = cohort.eligible
    diagnosed = cohort.diagnosed
    time, event = cohort.survival_data("death_or_pav")
    death_time, death_event = cohort.survival_data("death")
    region = cohort.pstr("onset_region")
    genotype = cohort.pstr("genotype")
    geno_label = np.where(
        (genotype == "SOD1") & (cohort.pstr("sod1_variant") == "A4V"), "SOD1 A4V", genotype
    )
    geno_label = np.where(
        (genotype == "SOD1") & (cohort.pstr("sod1_variant") == "other"), "SOD1 other", geno_label
    )

    figures = {
        "z": cf.target_z_plot(_split(results_df)[0]),
        "trajectories": cf.trajectory_sample(visits, n=n_trajectories, seed=seed),
        "slopes": cf.slope_histogram(
            slopes[eligible], target_mean=_target_value(results_df, "alsfrs_slope_mean_trial")
        ),
        "km_region": cf.km_curves(
            death_time,
            death_event,
            region,
            title="Survival from onset by onset region (death)",
            order=_REGION_ORDER,
        ),
        "km_genotype": cf.km_curves(
            death_time,
            death_event,
            geno_label,
            title="Survival from onset by genotype (death)",
            order=("sporadic", "SOD1 A4V", "SOD1 other", "C9orf72", "TARDBP", "FUS"),
            targets={
                k: v
                for k, v in (
                    ("SOD1 A4V", _target_value(results_df, "survival_median_sod1_a4v")),
                    ("SOD1 other", _target_value(results_df, "survival_median_sod1_non_a4v")),
                )
                if v is not None
            },
        ),
        "onset_age": cf.onset_age_histograms(
            cohort.pcol("age_onset_years"), cohort.pstr("ancestry"), genotype
        ),
        "nfl": cf.nfl_by_time(visits),
        "eligibility": cf.eligibility_effect(
            slopes[diagnosed],
            slopes[eligible],
            (time[diagnosed], event[diagnosed]),
            (time[eligible], event[eligible]),
        ),
    }

    n_diag = int(diagnosed.sum())
    n_elig = int(eligible.sum())
    sel = pd.DataFrame(
        {
            "population": ["all diagnosed", "trial-like"],
            "patients": [n_diag, n_elig],
            "mean slope": [_nanmean(slopes[diagnosed]), _nanmean(slopes[eligible])],
            "SD slope": [_nansd(slopes[diagnosed]), _nansd(slopes[eligible])],
            "median survival (months)": [
                _km_median(time[diagnosed], event[diagnosed]),
                _km_median(time[eligible], event[eligible]),
            ],
            "mean onset age": [
                _nanmean(cohort.pcol("age_onset_years")[diagnosed]),
                _nanmean(cohort.pcol("age_onset_years")[eligible]),
            ],
            "bulbar onset": [
                float(np.mean(region[diagnosed] == "bulbar")) if n_diag else np.nan,
                float(np.mean(region[eligible] == "bulbar")) if n_elig else np.nan,
            ],
        }
    )
    counts = pd.crosstab(
        pd.Series(cohort.pstr("ancestry"), name="ancestry"),
        pd.Series(genotype, name="genotype"),
        margins=True,
        margins_name="total",
    ).reset_index()
    counts.columns = [str(c) for c in counts.columns]

    d = trial
    cards = [
        {"label": "Parameter set", "value": parameter_set_name},
        {"label": "Seed / patients", "value": f"{seed} / {n}"},
        {
            "label": "Hard targets passed",
            "value": f"{summary['n_hard_passed']} / {summary['n_hard']}",
            "note": "calibrated" if summary["calibrated"] else "not calibrated",
        },
        {
            "label": "Soft targets passed",
            "value": f"{summary['n_soft_passed']} / {summary['n_soft']}",
            "note": "shown, not required",
        },
        {
            "label": "RMS z (hard)",
            "value": _fmt(summary["rms_z_hard"], 2),
            "note": "z = (simulated − target) / tolerance",
        },
    ]
    return render(
        "calibration.html",
        title=f"Calibration report — {parameter_set_name}",
        subtitle=(
            f"Simulated cohort of {n} virtual patients (seed {seed}) against published "
            "targets. Hard targets decide whether the parameter set counts as calibrated; "
            "soft targets are shown for context."
        ),
        cards=cards,
        rows=_rows(_split(results_df)[0]),
        context_rows=_rows(_split(results_df)[1]),
        figures=figures,
        selection_table=table_html(sel, float_format="{:.2f}"),
        counts_table=table_html(counts),
        eligibility_text=(
            f"Trial-like = diagnosed, alive without permanent ventilation at diagnosis, age "
            f"{d.min_age_years:g}-{d.max_age_years:g} y, < {d.max_months_from_onset:g} months "
            f"from onset, FVC >= {d.min_fvc_percent:g}% predicted, ALSFRS-R swallowing and "
            f"respiratory-insufficiency items >= {d.min_swallowing_item} (PARALS-ct criteria, "
            "Chiò et al., Neurology 2011; El Escorial category and riluzole not modelled). "
            f"Slopes: OLS over visits 0-{d.window_months:g} months after diagnosis, at least "
            f"{d.min_visits} visits, alive. {n_elig} of {n_diag} diagnosed patients are eligible."
        ),
    )


def _nanmean(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def _nansd(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.std(ddof=1)) if x.size > 1 else float("nan")


def _km_median(time: np.ndarray, event: np.ndarray) -> float:
    return km_median(time, event) if np.asarray(time).size else float("nan")
