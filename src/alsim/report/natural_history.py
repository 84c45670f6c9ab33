"""A report section on virtual patients' natural history (used by `alsim demo`).

Simulates a small cohort with the default (calibrated) parameter set and shows what the seed
article describes: heterogeneous trajectories, survival by onset site and genotype, onset ages,
and neurofilament rising before symptoms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alsim.analysis.survival import km_median
from alsim.cohort.simulate import CohortSpec, make_cohort
from alsim.report import calibration_figures as cf


def natural_history_section(
    n: int = 2000, seed: int = 2026
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Report sections and a JSON summary for a European cohort of ``n`` virtual patients."""
    cohort = make_cohort(CohortSpec(n=n, seed=seed, horizon_months=120, pre_onset_months=36))
    patients, visits = cohort.patients, cohort.visits
    died = patients["t_death_months"].notna().to_numpy()
    time = patients["t_death_months"].fillna(patients["horizon_months"]).to_numpy(dtype=float)
    median_survival = km_median(time, died)
    delay = float(np.nanmedian(patients["t_diagnosis_months"]))
    genotype_share = (
        patients["genotype"].astype(str).value_counts(normalize=True).round(3).to_dict()
    )
    summary = {
        "n": n,
        "seed": seed,
        "params_digest": cohort.params_digest,
        "median_survival_from_onset_months": round(float(median_survival), 1),
        "median_diagnostic_delay_months": round(delay, 1),
        "genotype_share": genotype_share,
    }
    text = (
        f"{n} virtual European patients simulated from seed {seed} with the calibrated mechanistic "
        f"model: median survival from onset {median_survival:.0f} months, median diagnostic delay "
        f"{delay:.0f} months; genotypes "
        + ", ".join(f"{k} {v:.1%}" for k, v in genotype_share.items())
        + ". Each line below is a different person: the same disease, very different courses."
    )
    sections = [
        {
            "id": "natural-history",
            "title": "Virtual patients: natural history",
            "text": text,
            "figures": [
                cf.trajectory_sample(visits[visits["t_months"] >= 0], n=25, seed=seed),
                cf.km_curves(
                    time,
                    died,
                    patients["onset_region"].astype(str).to_numpy(),
                    title="Survival from onset by onset region",
                ),
                cf.km_curves(
                    time,
                    died,
                    patients["genotype"].astype(str).to_numpy(),
                    title="Survival from onset by genotype",
                ),
                cf.onset_age_histograms(
                    patients["age_onset_years"].to_numpy(),
                    patients["ancestry"].astype(str).to_numpy(),
                    patients["genotype"].astype(str).to_numpy(),
                ),
                cf.nfl_by_time(visits, t_min=-36.0, t_max=60.0),
            ],
            "note": "Simulated patients, not real ones; the calibration report (alsim calibrate) "
            "compares such cohorts with published data target by target.",
        }
    ]
    return sections, summary
