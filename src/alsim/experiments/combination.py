"""`combination`: single- vs multi-pathway intervention in the vicious cycle.

Seed §3 and §6 (multi-target "cocktails"): pathways amplify each other, so hitting one link only
helps locally. Each single intervention halves the feedback driving one pathway; combinations
multiply the factors. Synergy is measured on the additive scale of the benefit: a combination
is synergistic when it saves more than the sum of what its parts save.
Research and education only, not medical advice.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pandas as pd

from alsim.cohort.simulate import CohortSpec
from alsim.disease.mechanistic.params import load_params
from alsim.experiments.common import (
    ExperimentResult,
    catalogue_effect,
    check_positive_int,
    combine,
    fmt,
    local_record,
    mean_se,
    neuroprotectant,
    restricted_time,
    single_pathway,
    start_at,
    therapy_record,
)
from alsim.experiments.worlds import simulate_world

NAME = "combination"
SHORT = ("MIS", "MITO", "TRANS", "INFL", "EXC")
#: Catalogue drugs with a pathway action (alsim.treatment.catalogue); their combinations are the
#: real-world counterpart of the hypothetical single-pathway blockers.
CATALOGUE = ("riluzole", "edaravone", "amx0035", "lenzumestrocel")
CATALOGUE_COMBOS = (("riluzole", "edaravone"), CATALOGUE)


def _verdict(ratio: float, excess: float, se: float) -> str:
    """Synergistic: > 5% above additive and excess > 2 SE; sub-additive: excess < -2 SE."""
    if not np.isfinite(ratio):
        return ""
    if ratio > 1.05 and excess > 2 * se:
        return "synergistic"
    if excess < -2 * se:
        return "sub-additive"
    return "about additive"


def combination(
    seed: int = 1,
    *,
    n: int = 4096,
    horizon_months: int = 60,
    readout_months: int = 36,
    factor: float = 0.5,
    pairs: bool = True,
) -> ExperimentResult:
    """Neurons saved, ALSFRS-R and survival for each single pathway, pairs, all five.

    Start at diagnosis (per patient), unselected European cohort. Benefit of an intervention
    ``A`` for patient ``i``: ``d_i(A) = N_i^A(t*) - N_i^0(t*)`` (mean surviving fraction of the
    8 pools at ``t*`` = ``readout_months`` after onset), and the gain in restricted mean
    survival to ``horizon_months``. Excess of a pair: ``d(AB) - d(A) - d(B)`` (paired over
    patients, with its Monte Carlo SE); synergy ratio ``d(AB) / (d(A) + d(B))``.
    A downstream control: two neuroprotectants (hazard x0.7 each) outside the loop. The single
    blockers and the neuroprotectant are hypothetical (defined here); the catalogue drugs
    (:data:`CATALOGUE`, their mechanistic action from ``alsim.treatment.catalogue``, given to
    everyone: the empirical subgroups of edaravone and lenzumestrocel are not applied) are
    run alone, as riluzole + edaravone and all four together.
    """
    started = time.perf_counter()
    check_positive_int("n", n, 16)
    params = load_params()
    spec = CohortSpec(n=n, seed=seed, horizon_months=horizon_months, pre_onset_months=0)
    base = simulate_world(spec, params=params)
    start = start_at(base.diagnosis)
    t = base.t_months
    k = int(np.searchsorted(t, float(readout_months)))
    base_rmst = restricted_time(base.death_or_pav, horizon_months)
    base_total = np.nan_to_num(base.obs.expected_total[:, k], nan=0.0)

    def outcome(effect):
        w = simulate_world(spec, (effect,), params=params)
        return {
            "saved": w.neurons[:, k] - base.neurons[:, k],
            "rmst": restricted_time(w.death_or_pav, horizon_months) - base_rmst,
            "alsfrs": np.nan_to_num(w.obs.expected_total[:, k], nan=0.0) - base_total,
        }

    singles = {SHORT[j]: single_pathway(j, start, factor) for j in range(5)}
    results = {name: outcome(e) for name, e in singles.items()}
    combos = {}
    if pairs:
        for a, b in itertools.combinations(range(5), 2):
            combos[(SHORT[a], SHORT[b])] = combine([singles[SHORT[a]], singles[SHORT[b]]])
    combos[tuple(SHORT)] = combine(list(singles.values()))
    np1 = neuroprotectant(start, 0.7)
    results["NP"] = outcome(np1)
    combos[("NP", "NP")] = combine([np1, np1])
    drugs = {name: catalogue_effect(name, start) for name in CATALOGUE}
    for name, effect in drugs.items():
        results[name] = outcome(effect)
    for parts in CATALOGUE_COMBOS:
        combos[parts] = combine([drugs[p] for p in parts])
    rows = []
    for name, r in results.items():
        s, se = mean_se(r["saved"])
        rm, rse = mean_se(r["rmst"])
        fu, fse = mean_se(r["alsfrs"])
        if name in drugs:
            label, kind = name, "catalogue"
        elif name == "NP":
            label, kind = "neuroprotectant (hazard x0.7)", "single"
        else:
            label, kind = f"{name} feedback x{factor:g}", "single"
        rows.append(
            {
                "intervention": label,
                "kind": kind,
                "neurons_saved": s,
                "neurons_saved_se": se,
                "alsfrs_gain": fu,
                "alsfrs_gain_se": fse,
                "rmst_gain_months": rm,
                "rmst_gain_months_se": rse,
                "sum_of_parts_saved": np.nan,
                "excess_saved": np.nan,
                "excess_saved_se": np.nan,
                "synergy_ratio_saved": np.nan,
                "synergy_ratio_rmst": np.nan,
            }
        )
    for parts, effect in combos.items():
        r = outcome(effect)
        s, se = mean_se(r["saved"])
        rm, rse = mean_se(r["rmst"])
        fu, fse = mean_se(r["alsfrs"])
        sum_saved = sum(results[p]["saved"] for p in parts)
        sum_rmst = sum(results[p]["rmst"] for p in parts)
        ex, exse = mean_se(r["saved"] - sum_saved)
        if parts == ("NP", "NP"):
            label, kind = "two neuroprotectants (hazard x0.49)", "downstream pair"
        elif parts[0] in drugs:
            label, kind = " + ".join(parts), "catalogue combination"
        else:
            label, kind = (
                ("all five" if len(parts) == 5 else " + ".join(parts)),
                (f"{len(parts)} pathways"),
            )
        rows.append(
            {
                "intervention": label,
                "kind": kind,
                "neurons_saved": s,
                "neurons_saved_se": se,
                "alsfrs_gain": fu,
                "alsfrs_gain_se": fse,
                "rmst_gain_months": rm,
                "rmst_gain_months_se": rse,
                "sum_of_parts_saved": float(np.mean(sum_saved)),
                "excess_saved": ex,
                "excess_saved_se": exse,
                "synergy_ratio_saved": s / float(np.mean(sum_saved)),
                "synergy_ratio_rmst": rm / float(np.mean(sum_rmst)),
            }
        )
    table = pd.DataFrame(rows)
    table["verdict"] = [
        _verdict(r.synergy_ratio_saved, r.excess_saved, r.excess_saved_se)
        for r in table.itertuples()
    ]
    combo_rows = table[~table.kind.isin(("single", "catalogue"))]
    synergistic = combo_rows[combo_rows.verdict == "synergistic"]
    not_syn = combo_rows[combo_rows.verdict != "synergistic"]
    singles_only = table[(table.kind == "single") & ~table.intervention.str.startswith("neuro")]
    best_single = singles_only.sort_values("neurons_saved").iloc[-1]
    all5 = table[table.intervention == "all five"].iloc[0]
    key = {
        "n_patients": n,
        "readout_months_after_onset": readout_months,
        "best_single": {
            "intervention": best_single.intervention,
            "neurons_saved": [best_single.neurons_saved, best_single.neurons_saved_se],
        },
        "all_five": {
            "neurons_saved": [all5.neurons_saved, all5.neurons_saved_se],
            "synergy_ratio_saved": all5.synergy_ratio_saved,
            "rmst_gain_months": [all5.rmst_gain_months, all5.rmst_gain_months_se],
        },
        "synergy_ratio_saved": {
            r.intervention: r.synergy_ratio_saved for r in combo_rows.itertuples()
        },
        "synergistic": list(synergistic.intervention),
        "not_synergistic": {r.intervention: r.verdict for r in not_syn.itertuples()},
        "catalogue": {
            r.intervention: {
                "neurons_saved": [r.neurons_saved, r.neurons_saved_se],
                "rmst_gain_months": [r.rmst_gain_months, r.rmst_gain_months_se],
                "synergy_ratio_saved": r.synergy_ratio_saved,
                "verdict": r.verdict,
            }
            for r in table[table.kind.str.startswith("catalogue")].itertuples()
        },
    }
    cat = table[table.kind.str.startswith("catalogue")].set_index("intervention")
    all4 = " + ".join(CATALOGUE)
    findings = [
        f"Best single pathway ({best_single.intervention}) saves "
        f"{fmt(best_single.neurons_saved, best_single.neurons_saved_se, 4)} of the motor-neuron "
        f"pool at {readout_months} months; all five together "
        f"{fmt(all5.neurons_saved, all5.neurons_saved_se, 4)}, {all5.synergy_ratio_saved:.2f}× the "
        "sum of the five singles.",
        "Synergistic (more than 5% above the sum of the parts in neurons saved, excess > 2 SE): "
        + (", ".join(synergistic.intervention) or "none")
        + ". Not synergistic: "
        + (", ".join(f"{r.intervention} ({r.verdict})" for r in not_syn.itertuples()) or "none")
        + ".",
        "Catalogue drugs from diagnosis (mechanistic action, everyone treated): "
        + "; ".join(
            f"{name} {fmt(cat.loc[name, 'neurons_saved'], cat.loc[name, 'neurons_saved_se'], 4)}"
            for name in CATALOGUE
        )
        + f" of the pool saved; all four together "
        f"{fmt(cat.loc[all4, 'neurons_saved'], cat.loc[all4, 'neurons_saved_se'], 4)} "
        f"({cat.loc[all4, 'synergy_ratio_saved']:.2f}× the sum, {cat.loc[all4, 'verdict']}), "
        f"RMST gain {fmt(cat.loc[all4, 'rmst_gain_months'], cat.loc[all4, 'rmst_gain_months_se'], 2)}"
        " months.",
    ]
    therapies = [
        local_record(
            "single-pathway blocker",
            singles[SHORT[0]],
            module="alsim.experiments.common.single_pathway",
            role=f"one per pathway (feedback driving it x{factor:g}); shown for misfolding",
        ),
        local_record("neuroprotectant", np1, module="alsim.experiments.common.neuroprotectant"),
    ] + [therapy_record(name, drugs[name], role="from diagnosis") for name in CATALOGUE]
    return ExperimentResult(
        name=NAME,
        title="Combination: single vs multi-pathway intervention in the vicious cycle",
        question="Does blocking several pathways of the vicious cycle save more than the sum of "
        "blocking each one, and where not?",
        seed=seed,
        settings={
            "n": n,
            "start": "at diagnosis",
            "single": f"feedback driving one pathway x{factor:g}",
            "readout_months_after_onset": readout_months,
            "horizon_months": horizon_months,
            "synergy_scale": "additive on mean neurons saved (and on RMST gain)",
            "catalogue": ", ".join(CATALOGUE) + " (mechanistic action, given to everyone)",
        },
        key_numbers=key,
        tables={"interventions": table},
        findings=findings,
        therapies=therapies,
        seconds=time.perf_counter() - started,
    )
