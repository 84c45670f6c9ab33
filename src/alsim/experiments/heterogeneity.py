"""`heterogeneity`: a subgroup therapy (genotype- or pathway-defined), unselected vs enriched.

Seed §1 ("not one disease"): a therapy can work for a small subgroup and do nothing for the
rest; in an unselected trial its effect is diluted by the subgroup's share. Two variants:

* **genotype**: a therapy that acts only in C9orf72 carriers; the enriched trial enrols carriers;
* **pathway**: a therapy acting on one pathway (glial inflammation) that helps only patients in
  whom that pathway carries an unusually large share of the pathway burden at diagnosis,
  identified from the untreated world's pathway states; the enriched trial enrols them.

Both therapies are deliberately hypothetical (no catalogue entry: no approved drug is
restricted to these subgroups), so they are defined here.
Research and education only, not medical advice.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from alsim.cohort.simulate import CohortSpec
from alsim.disease.mechanistic.engine import PathwayEffect
from alsim.disease.mechanistic.params import load_params
from alsim.disease.mechanistic.schema import C9ORF72
from alsim.experiments.common import (
    PATHWAY_LABELS,
    ExperimentResult,
    check_positive_int,
    experiment_rng,
    fmt,
    local_record,
    mean_se,
)
from alsim.experiments.trials import (
    Endpoints,
    eligible_at,
    enrolment_months,
    run_parallel_trials,
    slope_endpoint,
)
from alsim.experiments.worlds import simulate_world

NAME = "heterogeneity"
SUBGROUP = "C9orf72"
PATHWAY = "inflammation"
PATHWAY_SUBGROUP = f"{PATHWAY}-high"
VARIANTS = (SUBGROUP, PATHWAY_SUBGROUP)


def subgroup_therapy(start, mask) -> PathwayEffect:
    """Hypothetical: a therapy that acts only in C9orf72 carriers (no such drug is approved).

    Stands for a repeat-targeting drug whose downstream benefit is neuroprotection (neuron-death
    hazard x0.7) and less microglial activation (feedback driving inflammation x0.7).
    """
    return PathwayEffect(
        start_months=start,
        coupling_factor=(1.0, 1.0, 1.0, 0.7, 1.0),
        hazard_factor=0.7,
        mask=mask,
    )


def pathway_therapy(start, mask) -> PathwayEffect:
    """Hypothetical: an anti-inflammatory acting on the inflammation pathway (input x0.3,
    feedback driving it x0.3) and on microglial neurotoxicity (neuron-death hazard x0.7),
    effective only in ``mask`` (the inflammation-high subgroup).

    Stands for a drug whose target (e.g. an activated-microglia state) is engaged only where
    inflammation carries a large share of the burden; elsewhere it does nothing. The hazard
    factor matches the C9orf72 therapy's, so the two variants differ mainly in who responds.
    """
    j = PATHWAY_LABELS.index(PATHWAY)
    cut = [1.0] * 5
    cut[j] = 0.3
    return PathwayEffect(
        start_months=start,
        input_factor=tuple(cut),
        coupling_factor=tuple(cut),
        hazard_factor=0.7,
        mask=mask,
    )


def heterogeneity(
    seed: int = 1,
    *,
    n_pool: int = 8192,
    n_enriched_pool: int = 4096,
    sizes: tuple[int, ...] = (100, 200, 400),
    n_rep: int = 1000,
    followup_months: int = 12,
    pathway_quantile: float = 0.8,
) -> ExperimentResult:
    """The same subgroup therapy in an unselected and in an enriched 1:1 trial, two variants.

    Genotype variant: C9orf72-only therapy; enriched trial from a C9orf72-only pool. Pathway
    variant: inflammation therapy acting in the patients whose inflammation share of the
    pathway burden at diagnosis (untreated world) is at or above the ``pathway_quantile`` of the
    unselected pool; the enriched trial samples those patients of the unselected pool.
    """
    started = time.perf_counter()
    check_positive_int("n_pool", n_pool, 64)
    check_positive_int("n_rep", n_rep, 10)
    params = load_params()
    rng = experiment_rng(seed, NAME)
    horizon = 60
    spec = CohortSpec(n=n_pool, seed=seed, horizon_months=horizon, pre_onset_months=0)
    c9_spec = CohortSpec(
        n=n_enriched_pool, seed=seed, genotype=SUBGROUP, horizon_months=horizon, pre_onset_months=0
    )

    # the unselected pool, its randomisation months and subgroups (from the untreated world)
    base = simulate_world(spec, params=params)
    enrol = enrolment_months(base, rng)
    eligible = eligible_at(base, enrol, followup_months)
    control = slope_endpoint(base, enrol, followup_months)
    share = base.burden_share_at_diagnosis[:, PATHWAY_LABELS.index(PATHWAY)]
    diagnosed = np.isfinite(share)
    threshold = float(np.quantile(share[diagnosed], pathway_quantile))
    members = {
        SUBGROUP: base.genotype == C9ORF72,
        PATHWAY_SUBGROUP: diagnosed & (share >= threshold),
    }
    effects = {
        SUBGROUP: subgroup_therapy(enrol, members[SUBGROUP]),
        PATHWAY_SUBGROUP: pathway_therapy(enrol, members[PATHWAY_SUBGROUP]),
    }
    # the C9orf72-only pool (the genotype variant's enriched trial)
    c9_base = simulate_world(c9_spec, params=params)
    c9_enrol = enrolment_months(c9_base, rng)
    c9_treated = simulate_world(
        c9_spec, (subgroup_therapy(c9_enrol, np.ones(c9_spec.n, bool)),), params=params
    )
    c9_end = Endpoints(
        slope_endpoint(c9_base, c9_enrol, followup_months),
        slope_endpoint(c9_treated, c9_enrol, followup_months),
        eligible_at(c9_base, c9_enrol, followup_months),
    )

    rows, true_rows, estimates, key = [], [], {}, {}
    big = max(sizes)
    for variant in VARIANTS:
        treated = simulate_world(spec, (effects[variant],), params=params)
        unsel = Endpoints(control, slope_endpoint(treated, enrol, followup_months), eligible)
        ok = unsel.eligible & np.isfinite(unsel.control) & np.isfinite(unsel.treated)
        diff = unsel.treated - unsel.control
        member = members[variant]
        trials = {
            "unselected": unsel,
            "enriched": c9_end
            if variant == SUBGROUP
            else Endpoints(unsel.control, unsel.treated, unsel.eligible & member),
        }
        truth = {}
        for name, sel in (
            ("unselected, in the subgroup", ok & member),
            ("unselected, outside it", ok & ~member),
        ):
            truth[name] = mean_se(diff[sel])
        for label, e in trials.items():
            good = e.eligible & np.isfinite(e.control) & np.isfinite(e.treated)
            truth[label] = mean_se(e.treated[good] - e.control[good])
            for n in sizes:
                if good.sum() < n:
                    continue
                s = run_parallel_trials(e, n, n_rep, rng)
                if n == big:
                    estimates[f"{variant}: {label} (n={n})"] = s.estimates
                rows.append(
                    {
                        "variant": variant,
                        "trial": label,
                        "n": n,
                        "true_effect": truth[label][0],
                        "mean_estimate": s.mean_estimate,
                        "mean_estimate_se": s.mean_estimate_se,
                        "power": s.power,
                        "power_se": s.power_se,
                    }
                )
        for population, (est, se) in truth.items():
            true_rows.append(
                {"variant": variant, "population": population, "true_effect": est, "se": se}
            )
        sub, unsel_eff, enr = (
            truth["unselected, in the subgroup"][0],
            truth["unselected"][0],
            truth["enriched"][0],
        )
        key[variant] = {
            "subgroup_share_unselected": float(member[ok].mean()),
            "true_slope_effect_in_subgroup": sub,
            "true_slope_effect_outside_subgroup": truth["unselected, outside it"][0],
            "true_slope_effect_unselected": unsel_eff,
            "true_slope_effect_enriched": enr,
            "dilution_ratio": unsel_eff / enr if enr else None,
        }
    table = pd.DataFrame(rows)
    for variant in VARIANTS:
        key[variant]["power"] = {
            label: {
                str(r.n): [r.power, r.power_se]
                for r in table[(table.variant == variant) & (table.trial == label)].itertuples()
            }
            for label in ("unselected", "enriched")
        }
    key[PATHWAY_SUBGROUP]["threshold_share"] = threshold
    key[PATHWAY_SUBGROUP]["median_share_in_pool"] = float(np.median(share[diagnosed]))
    key["n_rep"] = n_rep

    def power_at(variant, label):
        p = key[variant]["power"][label].get(str(big))
        return fmt(p[0], p[1]) if p else "n/a"

    findings = []
    for variant, who in (
        (SUBGROUP, "C9orf72 carriers"),
        (PATHWAY_SUBGROUP, f"the {PATHWAY}-high subgroup"),
    ):
        k = key[variant]
        findings.append(
            f"{variant} therapy: true effect on the 12-month ALSFRS-R slope "
            f"{k['true_slope_effect_in_subgroup']:.3f} points/month in {who}, "
            f"{k['true_slope_effect_unselected']:.4f} in the unselected population "
            f"({100 * k['subgroup_share_unselected']:.1f}% in the subgroup): diluted to "
            f"{100 * k['dilution_ratio']:.0f}% of the enriched trial's "
            f"{k['true_slope_effect_enriched']:.3f}. Power at n = {big}: enriched "
            f"{power_at(variant, 'enriched')}, unselected {power_at(variant, 'unselected')}."
        )
    findings.append(
        f"The {PATHWAY}-high subgroup is relative: misfolding carries the largest share of the "
        f"pathway burden in every simulated patient; {PATHWAY}'s share at diagnosis is "
        f"{threshold:.3f} or more in the subgroup (pool median "
        f"{key[PATHWAY_SUBGROUP]['median_share_in_pool']:.3f})."
    )
    therapies = [
        local_record(
            "C9orf72 subgroup therapy",
            effects[SUBGROUP],
            module="alsim.experiments.heterogeneity",
            acts_in="C9orf72 carriers only",
            role="genotype variant, from randomisation",
        ),
        local_record(
            f"{PATHWAY_SUBGROUP} subgroup therapy",
            effects[PATHWAY_SUBGROUP],
            module="alsim.experiments.heterogeneity",
            acts_in=f"patients with {PATHWAY} share of the burden at diagnosis >= the pool's "
            f"{100 * pathway_quantile:.0f}th percentile",
            role="pathway variant, from randomisation",
        ),
    ]
    return ExperimentResult(
        name=NAME,
        title="Heterogeneity: subgroup therapies diluted in an unselected trial",
        question="What does a therapy that works only in one subgroup (C9orf72 carriers; "
        f"patients with {PATHWAY}-high pathway burden) show in an unselected trial and in a "
        "trial enriched for the subgroup?",
        seed=seed,
        settings={
            "therapies": f"C9orf72 only: neuron-death hazard x0.7, inflammation feedback x0.7; "
            f"{PATHWAY_SUBGROUP} only: {PATHWAY} input and feedback x0.3, neuron-death hazard x0.7 "
            "(both hypothetical)",
            "pathway_subgroup": f"{PATHWAY} share of the burden sum_j w_j x_j (8 pools) at "
            f"diagnosis in the untreated world >= the unselected pool's "
            f"{100 * pathway_quantile:.0f}th percentile",
            "randomisation": "diagnosis + U(0, 6) months, 1:1, therapy from randomisation",
            "endpoint": f"per-patient OLS ALSFRS-R slope over {followup_months} months",
            "analysis": "difference in means, one-sided Welch t-test at 2.5%",
            "pool_sizes": {"unselected": n_pool, "C9orf72-enriched": n_enriched_pool},
            "sizes": list(sizes),
            "n_rep": n_rep,
        },
        key_numbers=key,
        tables={"trials": table, "true_effects": pd.DataFrame(true_rows)},
        series={"estimates": estimates},
        findings=findings,
        therapies=therapies,
        seconds=time.perf_counter() - started,
    )
