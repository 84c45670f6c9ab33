"""The seed's claims as experiments: direction-of-effect checks, reproducibility, the CLI.

Quick versions (small cohorts) run by default; the full-size checks are marked slow.
Research and education only, not medical advice.
"""

import json

import numpy as np
import pytest

from alsim.cohort.simulate import CohortSpec
from alsim.disease.mechanistic.params import load_params
from alsim.disease.mechanistic.schema import C9ORF72
from alsim.experiments import NAMES, run_experiment
from alsim.experiments.combination import CATALOGUE
from alsim.experiments.common import (
    PATHWAY_LABELS,
    catalogue_effect,
    combine,
    neuroprotectant,
    nfl_trigger_months,
    single_pathway,
    start_at,
    tofersen,
)
from alsim.experiments.heterogeneity import pathway_therapy, subgroup_therapy
from alsim.experiments.worlds import simulate_world
from clitools import one_error_line, run


@pytest.fixture(scope="module")
def quick():
    """Every experiment's quick version, seed 3 (computed once for the module)."""
    return {name: run_experiment(name, 3, quick=True) for name in NAMES}


# -- reproducibility ------------------------------------------------------------------------------
def test_same_seed_gives_the_same_numbers(quick):
    for name in ("time-window", "precision", "early-detection"):
        again = run_experiment(name, 3, quick=True)
        assert json.dumps(again.to_json()) == json.dumps(quick[name].to_json()), name


def test_another_seed_gives_other_numbers(quick):
    other = run_experiment("time-window", 4, quick=True)
    assert other.key_numbers != quick["time-window"].key_numbers


def test_results_are_strict_json(quick):
    for result in quick.values():
        text = json.dumps(result.to_json(), allow_nan=False)
        assert "not medical advice" in json.loads(text)["disclaimer"]


# -- direction of effect ------------------------------------------------------------------------
def test_earlier_start_saves_more_neurons_function_and_survival(quick):
    arms = quick["time-window"].tables["arms"].set_index("start")
    pre, dx, late = arms.index  # NfL-triggered, at diagnosis, diagnosis + 12
    for col in ("neurons_saved_24m", "neurons_saved_48m", "rmst_gain_months", "alsfrs_gain_24m"):
        # paired differences (the worlds share every draw): earlier minus the next later start
        diff, se = arms[f"{col}_vs_later"], arms[f"{col}_vs_later_se"]
        assert diff[pre] > 3 * se[pre] and diff[dx] > 3 * se[dx], col
        assert np.isnan(diff[late])
    # fewer neurons are left the later the therapy starts
    left = arms["neurons_left_at_start"]
    assert left[pre] > left[dx] > left[late]


def test_earlier_start_saves_more_for_every_patient():
    """Per patient (not only on average): a monotone (cooperative) system, factors <= 1."""
    params = load_params()
    spec = CohortSpec(n=300, seed=11, genotype="SOD1", horizon_months=48, pre_onset_months=48)
    base = simulate_world(spec, params=params)
    dx = base.diagnosis
    early = simulate_world(spec, (tofersen(start_at(dx)),), params=params)
    late = simulate_world(spec, (tofersen(start_at(dx + 12)),), params=params)
    assert np.all(early.neurons >= late.neurons - 1e-12)
    assert np.all(late.neurons >= base.neurons - 1e-12)


def _therapies(world):
    """Every therapy the experiments use, on ``world``'s patients."""
    dx = start_at(world.diagnosis)
    trig = nfl_trigger_months(world, load_params())
    trig_start = np.where(np.isfinite(trig), world.onset_from_trigger + trig, np.nan)
    singles = [single_pathway(j, dx) for j in range(5)]
    drugs = [catalogue_effect(name, dx) for name in CATALOGUE]
    share = world.burden_share_at_diagnosis[:, PATHWAY_LABELS.index("inflammation")]
    high = np.isfinite(share) & (share >= np.nanquantile(share, 0.8))
    return {
        "tofersen from the NfL trigger": tofersen(trig_start, start_from="trigger"),
        "tofersen at diagnosis": tofersen(dx),
        "all five pathways": combine(singles),
        "two neuroprotectants": combine([neuroprotectant(dx), neuroprotectant(dx)]),
        "four catalogue drugs": combine(drugs),
        "C9orf72 subgroup therapy": subgroup_therapy(dx, world.genotype == C9ORF72),
        "inflammation-high subgroup therapy": pathway_therapy(dx, high),
    }


@pytest.mark.parametrize("genotype", ["SOD1", None])
def test_no_therapy_makes_neurons_come_back(genotype):
    """Slowing is not repair: under every therapy, for every patient and month, the surviving
    count never rises, never exceeds what the patient had when the therapy started, and before
    the start equals the untreated world; a therapy never costs neurons either."""
    params = load_params()
    spec = CohortSpec(n=300, seed=5, genotype=genotype, horizon_months=48, pre_onset_months=48)
    base = simulate_world(spec, params=params)
    dx_trigger = base.onset_from_trigger + np.ceil(np.nan_to_num(base.diagnosis, nan=1e4))
    for name, effect in _therapies(base).items():
        treated = simulate_world(spec, (effect,), params=params)
        n_k = treated.neurons_since_trigger
        width = min(n_k.shape[1], base.neurons_since_trigger.shape[1])
        n_k, b_k = n_k[:, :width], base.neurons_since_trigger[:, :width]
        assert np.all(np.diff(n_k, axis=1) <= 1e-12), name
        # both worlds integrated (each stops at its own onset + horizon, then holds)
        both = np.arange(width)[None, :] <= np.minimum(base.last_month, treated.last_month)[:, None]
        deficit = np.where(both, b_k - n_k, 0.0)
        if effect.start_from == "onset":
            assert deficit.max() <= 1e-12, name  # a post-onset therapy never costs neurons
        else:
            # A presymptomatic therapy moves symptom onset; the model switches the patient's
            # hazard walk and regional factors on at onset, so a later onset can cost a few
            # neurons for a month or two (measured <= 0.8% of the pool, few patients).
            assert deficit.max() < 0.01, name
            assert np.mean(n_k[both] - b_k[both]) > 0, name
        if effect.start_from == "trigger":
            start = np.nan_to_num(np.ceil(np.asarray(effect.start_months, float)), nan=width)
        else:
            start = dx_trigger
        k = np.arange(width)[None, :]
        before = k <= np.minimum(start, width - 1)[:, None]
        assert np.array_equal(np.where(before, n_k, 0), np.where(before, b_k, 0)), name
        at_start = np.take_along_axis(
            n_k, np.clip(start, 0, width - 1).astype(int)[:, None], axis=1
        )
        assert np.all(np.where(~before, n_k <= at_start + 1e-12, True)), name


@pytest.mark.parametrize(
    ("variant", "share_range", "max_ratio"),
    [("C9orf72", (0.03, 0.12), 0.2), ("inflammation-high", (0.15, 0.25), 0.35)],
)
def test_subgroup_effect_is_diluted_in_the_unselected_trial(quick, variant, share_range, max_ratio):
    result = quick["heterogeneity"]
    k = result.key_numbers[variant]
    assert share_range[0] < k["subgroup_share_unselected"] < share_range[1]
    assert k["true_slope_effect_in_subgroup"] > 0.1
    assert k["true_slope_effect_outside_subgroup"] == 0.0  # nobody else responds
    # the unselected effect is the subgroup effect times its share
    assert k["true_slope_effect_unselected"] == pytest.approx(
        k["subgroup_share_unselected"] * k["true_slope_effect_in_subgroup"], rel=1e-6
    )
    assert k["true_slope_effect_unselected"] < max_ratio * k["true_slope_effect_enriched"]
    table = result.tables["trials"]
    trials = table[table.variant == variant].set_index("trial")
    assert trials.loc["enriched", "mean_estimate"] > 2 * abs(
        trials.loc["unselected", "mean_estimate"]
    )
    assert trials.loc["enriched", "power"] - trials.loc["unselected", "power"] > 0.3


def test_pathway_subgroup_comes_from_the_untreated_pathway_states():
    """Burden shares are shares (sum to 1) read from the recorded pathway states, and the
    inflammation-high subgroup is where inflammation's share is above the pool's P80."""
    params = load_params()
    spec = CohortSpec(n=256, seed=2, horizon_months=48, pre_onset_months=0)
    world = simulate_world(spec, params=params)
    share = world.burden_share_at_diagnosis
    diagnosed = np.isfinite(world.diagnosis)
    assert np.allclose(share[diagnosed].sum(axis=1), 1.0)
    assert np.all(np.isnan(share[~diagnosed]))
    # misfolding carries the largest share in every patient (so "dominant" is relative)
    assert np.all(share[diagnosed].argmax(axis=1) == PATHWAY_LABELS.index("misfolding"))
    # a therapy never changes the untreated world's state at diagnosis if it starts later
    dx = start_at(world.diagnosis)
    treated = simulate_world(spec, (pathway_therapy(dx + 1, None),), params=params)
    assert np.allclose(treated.burden_share_at_diagnosis, share, equal_nan=True)


def test_results_name_their_therapies_and_sources(quick):
    from alsim.treatment.catalogue import get_therapy

    action = get_therapy("tofersen").mechanistic.action()
    assert tofersen(0.0).input_factor == action.input_factor
    for name in ("time-window", "precision", "presymptomatic-trial"):
        records = quick[name].to_json()["therapies"]
        assert records and "catalogue entry 'tofersen'" in records[0]["source"], name
    sources = [r["source"] for r in quick["combination"].therapies]
    for drug in CATALOGUE:
        assert any(f"catalogue entry '{drug}'" in s for s in sources), drug
    assert any("hypothetical" in s for s in sources)
    assert all("hypothetical" in r["source"] for r in quick["heterogeneity"].therapies)


def test_genotype_selected_trial_has_more_power(quick):
    """Catalogue tofersen barely slows decline after diagnosis in the model, so the contrast
    shows on target engagement (CSF SOD1, measured in carriers only); every unselected trial
    stays at its type I error."""
    table = quick["precision"].tables["power"]
    sod1 = table[table.endpoint.str.contains("CSF SOD1")]
    assert set(sod1.trial) == {"SOD1-selected"}
    assert (sod1.power > 0.9).all()
    unselected = table[table.trial == "unselected"]
    assert (unselected.power < 0.08).all()
    slope = table[(table.trial == "SOD1-selected") & table.endpoint.str.startswith("ALSFRS")]
    assert (slope.true_effect > 0).all()  # a real, if small, functional effect in carriers


def test_nfl_detection_auc_rises_as_onset_approaches(quick):
    auc = quick["early-detection"].tables["auc"].set_index("months_before_onset")
    assert auc.loc[0, "auc_nfl"] > auc.loc[3, "auc_nfl"] > auc.loc[6, "auc_nfl"]
    assert auc.loc[6, "auc_nfl"] > auc.loc[12, "auc_nfl"] - 0.02
    assert auc.loc[3, "auc_nfl"] > auc.loc[24, "auc_nfl"] + 0.2
    assert auc.loc[36, "auc_nfl"] < 0.6  # three years out NfL does not separate
    assert auc.loc[0, "auc_classifier"] > 0.95
    # the healthy P95 rule is ~95% specific on healthy people
    assert 0.9 < auc["nfl_specificity"].mean() < 0.98
    k = quick["early-detection"].key_numbers
    assert k["median_gain_vs_diagnosis_months"] > k["median_lead_before_onset_months"] > 0


def test_combinations_are_synergistic_in_the_loop_not_downstream(quick):
    table = quick["combination"].tables["interventions"].set_index("intervention")
    all5 = table.loc["all five"]
    singles = table[table.kind == "single"].drop(index="neuroprotectant (hazard x0.7)")
    assert all5.neurons_saved > singles.neurons_saved.sum()
    assert all5.verdict == "synergistic"
    assert table.loc["MIS + MITO", "verdict"] == "synergistic"
    assert table.loc["two neuroprotectants (hazard x0.49)", "verdict"] != "synergistic"


def test_presymptomatic_treatment_reduces_manifest_als(quick):
    k = quick["presymptomatic-trial"].key_numbers
    placebo, treated = k["manifest_within_window_placebo"], k["manifest_within_window_treated"]
    assert treated[0] < placebo[0]
    assert k["risk_difference"][0] < -2 * k["risk_difference"][1]
    assert k["mean_onset_delay_months"][0] > 0


def test_demo_section_has_every_experiment():
    from alsim.report.experiments import experiments_demo_section

    sections, summary = experiments_demo_section(seed=7)
    assert [s["id"] for s in sections] == [f"experiment-{n}" for n in NAMES]
    assert all(s["figures"] and "<svg" in s["figures"][0] for s in sections)
    json.dumps(summary, allow_nan=False)
    assert set(summary["experiments"]) == set(NAMES)


# -- command line -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["experiment", "bogus"], "NAME: must be one of"),
        (["experiment", "time-window", "--seed", "-1"], "--seed"),
        (["experiment", "time-window", "--seed", "x"], "--seed"),
        (["experiment", "time-window", "--out", ""], "--out"),
        (["experiment", "time-window", "--bogus"], "bogus"),
        (["experiment"], "NAME"),
    ],
)
def test_bad_name_or_flags_exit_2_with_one_line(capsys, argv, fragment):
    one_error_line(*run(capsys, *argv), fragment)


def test_out_refuses_a_file_or_a_folder_with_other_files(capsys, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    one_error_line(*run(capsys, "experiment", "time-window", "--out", target), "--out")
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.md").write_text("mine")
    one_error_line(*run(capsys, "experiment", "time-window", "--out", folder), "--out")
    assert [p.name for p in folder.iterdir()] == ["notes.md"]


def test_cli_json_and_out(capsys, tmp_path):
    code, out, err = run(capsys, "experiment", "presymptomatic-trial", "--quick", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["experiment"] == "presymptomatic-trial" and data["seed"] == 1
    folder = tmp_path / "run"
    code, out, err = run(
        capsys, "experiment", "presymptomatic-trial", "--quick", "--out", folder, "--json"
    )
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == ["report.html", "results.json"]
    assert json.loads((folder / "results.json").read_text()) == json.loads(out) == data
    html = (folder / "report.html").read_text()
    assert "<svg" in html and "not medical advice" in html
    # writing again into its own output folder is allowed
    code, out, err = run(capsys, "experiment", "presymptomatic-trial", "--quick", "--out", folder)
    assert code == 0, err and "Written to" in out


# -- full size (slow) -----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_full_size_experiments_hold_their_claims(name):
    result = run_experiment(name, 1)
    k = result.key_numbers
    if name == "time-window":
        arms = list(k["arms"].values())
        assert arms[0]["neurons_saved_24m"][0] > arms[1]["neurons_saved_24m"][0]
        assert arms[1]["neurons_saved_48m"][0] > arms[2]["neurons_saved_48m"][0]
    elif name == "heterogeneity":
        assert k["C9orf72"]["dilution_ratio"] < 0.15
        assert k["inflammation-high"]["dilution_ratio"] < 0.3
        for variant in ("C9orf72", "inflammation-high"):
            power = k[variant]["power"]
            assert power["enriched"]["400"][0] > power["unselected"]["400"][0] + 0.3
    elif name == "precision":
        for by_trial in k["power"].values():  # clear in carriers, diluted away in everyone
            assert by_trial["SOD1-selected"]["400"][0] > 0.9
            if by_trial["unselected"]["400"] is not None:
                assert by_trial["unselected"]["400"][0] < 0.15
    elif name == "early-detection":
        auc = k["auc_nfl_by_months_before"]
        assert auc["0"][0] > auc["6"][0] > auc["12"][0] > auc["36"][0] - 0.03
    elif name == "combination":
        assert k["all_five"]["synergy_ratio_saved"] > 1.2
    elif name == "presymptomatic-trial":
        assert k["risk_difference"][0] < 0


@pytest.mark.slow
def test_trial_engine_agrees_that_the_subgroup_effect_is_diluted():
    """Cross-check with alsim.trial (generator: mechanistic): the same C9orf72-only therapy in
    an unselected and in a C9orf72-only parallel trial (lmm_slope, 48 weeks)."""
    from alsim.trial import run_trials, validate_scenario

    def scenario(genotype):
        return validate_scenario(
            {
                "alsim": 1,
                "name": f"subgroup-{genotype or 'unselected'}",
                "design": "parallel",
                "generator": "mechanistic",
                "mechanistic": {"genotype": genotype, "horizon_months": 72},
                "schedule": {"followup_weeks": 48, "visit_every_weeks": 4},
                "accrual": {"rate_per_month": 20},
                "regimens": [
                    {
                        "name": "c9",
                        "n": 80,
                        "product": {
                            "pathway": {
                                "coupling_factor": [1, 1, 1, 0.7, 1],
                                "hazard_factor": 0.7,
                            },
                            "subgroup": {"genotype": ["C9orf72"]},
                        },
                    }
                ],
                "analysis": {"primary": "lmm_slope"},
            },
            "test",
        )

    enriched = run_trials(scenario("C9orf72"), 40, 9)
    unselected = run_trials(scenario(None), 40, 9)
    assert enriched["estimate"].mean() > 0.15
    assert abs(unselected["estimate"].mean()) < 0.5 * enriched["estimate"].mean()
    assert enriched["success"].mean() > unselected["success"].mean() + 0.2


def test_bad_arguments_are_input_errors():
    from alsim.errors import InputError
    from alsim.experiments import time_window

    with pytest.raises(InputError, match="NAME"):
        run_experiment("nope")
    with pytest.raises(InputError, match="n"):
        time_window(1, n=0)
    with pytest.raises(InputError, match="seed"):
        time_window(-1, n=64)


def test_unwritable_out_is_one_error_line(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run(capsys, "experiment", "combination", "--quick", "--out", blocker / "sub")
    one_error_line(code, out, err, "--out")
    assert blocker.read_text() == "x"


def test_riluzole_mechanistic_survival_gain_is_about_three_months():
    """The catalogue's riluzole action, from diagnosis, adds about the Cochrane median survival
    gain (about 3 months; HR 0.84) to the calibrated model's patients (paired worlds)."""
    from alsim.analysis.survival import km_median

    spec = CohortSpec(n=2048, seed=5, horizon_months=96, pre_onset_months=0)
    base = simulate_world(spec)
    dx = base.diagnosis
    treated = simulate_world(spec, (catalogue_effect("riluzole", start_at(dx)),))
    ok = np.isfinite(dx)

    def median_from_diagnosis(world):
        end = world.death_or_pav
        t = np.where(np.isfinite(end), end, 96.0) - dx  # alive at the horizon: censored
        return km_median(t[ok], np.isfinite(end)[ok])

    gain = median_from_diagnosis(treated) - median_from_diagnosis(base)
    assert 2.0 < gain < 4.5
    assert np.all(treated.neurons >= base.neurons - 1e-12)  # slows, never restores
