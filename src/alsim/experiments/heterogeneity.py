"""`heterogeneity`: a therapy that works in one genotype subgroup, unselected vs enriched trial.

Seed §1 ("not one disease"): a therapy can work for a small subgroup and do nothing for the
rest; in an unselected trial its effect is diluted by the subgroup's share.
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
    ExperimentResult,
    check_positive_int,
    experiment_rng,
    fmt,
    mean_se,
)
from alsim.experiments.precision import paired_endpoints
from alsim.experiments.trials import run_parallel_trials

NAME = "heterogeneity"
SUBGROUP = "C9orf72"


def subgroup_therapy(start, mask) -> PathwayEffect:
    """A therapy that acts only in C9orf72 carriers (illustrative; no such drug is approved).

    Stands for a repeat-targeting drug whose downstream benefit is neuroprotection (neuron-death
    hazard x0.7) and less microglial activation (feedback driving inflammation x0.7).
    """
    return PathwayEffect(
        start_months=start,
        coupling_factor=(1.0, 1.0, 1.0, 0.7, 1.0),
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
) -> ExperimentResult:
    """The same subgroup therapy in an unselected and a C9orf72-enriched 1:1 trial."""
    started = time.perf_counter()
    check_positive_int("n_pool", n_pool, 64)
    check_positive_int("n_rep", n_rep, 10)
    params = load_params()
    rng = experiment_rng(seed, NAME)

    def effect_for(world, enrol):
        return subgroup_therapy(enrol, world.genotype == C9ORF72)

    pools = {
        "unselected": CohortSpec(n=n_pool, seed=seed, horizon_months=60, pre_onset_months=0),
        f"{SUBGROUP}-enriched": CohortSpec(
            n=n_enriched_pool, seed=seed, genotype=SUBGROUP, horizon_months=60, pre_onset_months=0
        ),
    }
    rows, true_rows, estimates = [], [], {}
    share = None
    for label, spec in pools.items():
        base, slope, _nfl = paired_endpoints(spec, effect_for, params, rng, followup_months, 6)
        ok = slope.eligible & np.isfinite(slope.control) & np.isfinite(slope.treated)
        diff = slope.treated - slope.control
        in_sub = base.genotype == C9ORF72
        if label == "unselected":
            share = float(in_sub[ok].mean())
            for name, sel in (("in the subgroup", ok & in_sub), ("outside it", ok & ~in_sub)):
                est, se = mean_se(diff[sel])
                true_rows.append(
                    {"population": f"unselected, {name}", "true_effect": est, "se": se}
                )
        est, se = mean_se(diff[ok])
        true_rows.append({"population": label, "true_effect": est, "se": se})
        for n in sizes:
            if ok.sum() < n:
                continue
            s = run_parallel_trials(slope, n, n_rep, rng)
            estimates[(label, n)] = s.estimates
            rows.append(
                {
                    "trial": label,
                    "n": n,
                    "true_effect": est,
                    "mean_estimate": s.mean_estimate,
                    "mean_estimate_se": s.mean_estimate_se,
                    "power": s.power,
                    "power_se": s.power_se,
                }
            )
    table = pd.DataFrame(rows)
    truth = pd.DataFrame(true_rows)
    t = truth.set_index("population")
    sub = float(t.loc["unselected, in the subgroup", "true_effect"])
    unsel = float(t.loc["unselected", "true_effect"])
    enr = float(t.loc[f"{SUBGROUP}-enriched", "true_effect"])
    big = max(sizes)
    pu = table[(table.trial == "unselected") & (table.n == big)]
    pe = table[(table.trial == f"{SUBGROUP}-enriched") & (table.n == big)]
    key = {
        "subgroup": SUBGROUP,
        "subgroup_share_unselected": share,
        "true_slope_effect_in_subgroup": sub,
        "true_slope_effect_unselected": unsel,
        "true_slope_effect_enriched": enr,
        "dilution_ratio": unsel / enr if enr else None,
        "n_rep": n_rep,
        "power": {
            label: {
                str(r.n): [r.power, r.power_se] for r in table[table.trial == label].itertuples()
            }
            for label in pools
        },
    }
    findings = [
        f"True effect on the 12-month ALSFRS-R slope: {sub:.3f} points/month in C9orf72 carriers, "
        f"{unsel:.4f} in the unselected population ({100 * share:.1f}% carriers): diluted to "
        f"{100 * unsel / enr:.0f}% of the enriched trial's {enr:.3f}.",
        f"Power at n = {big}: enriched {fmt(float(pe.power.iloc[0]), float(pe.power_se.iloc[0]))}, "
        f"unselected {fmt(float(pu.power.iloc[0]), float(pu.power_se.iloc[0]))}.",
    ]
    return ExperimentResult(
        name=NAME,
        title="Heterogeneity: a subgroup therapy diluted in an unselected trial",
        question="What does a therapy that works only in C9orf72 carriers show in an unselected "
        "trial and in a trial enriched for the subgroup?",
        seed=seed,
        settings={
            "therapy": "C9orf72 carriers only: neuron-death hazard x0.7, inflammation feedback x0.7",
            "randomisation": "diagnosis + U(0, 6) months, 1:1, therapy from randomisation",
            "endpoint": f"per-patient OLS ALSFRS-R slope over {followup_months} months",
            "analysis": "difference in means, one-sided Welch t-test at 2.5%",
            "pool_sizes": {"unselected": n_pool, "enriched": n_enriched_pool},
            "sizes": list(sizes),
            "n_rep": n_rep,
        },
        key_numbers=key,
        tables={"trials": table, "true_effects": truth},
        series={
            "estimates": {f"{k[0]} (n={k[1]})": v for k, v in estimates.items() if k[1] == big}
        },
        findings=findings,
        seconds=time.perf_counter() - started,
    )
