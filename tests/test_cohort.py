"""Virtual cohorts: reproducibility, invariants, frequencies, eligibility effects, outputs."""

import json

import numpy as np
import pandas as pd
import pytest

from alsim.clinical.alsfrs import ITEM_COLUMNS, Q5A, Q5B, VISIT_ITEM_COLUMNS
from alsim.cohort.output import write_cohort
from alsim.cohort.simulate import CohortSpec, make_cohort
from alsim.cohort.targets import TRIAL_LIKE, Cohort
from alsim.disease.mechanistic.params import load_params
from alsim.disease.mechanistic.population import load_population_params
from alsim.disease.mechanistic.schema import GENOTYPES
from alsim.disease.mechanistic.trace import trace_patient
from alsim.errors import InputError
from alsim.rng import BLOCK_SIZE


@pytest.fixture(scope="module")
def cohort():
    return make_cohort(CohortSpec(n=2500, seed=11, horizon_months=96, pre_onset_months=12))


def test_same_seed_same_cohort_for_any_chunking_and_workers():
    spec = CohortSpec(n=2 * BLOCK_SIZE + 300, seed=5, horizon_months=36, pre_onset_months=6)
    reference = make_cohort(spec, chunk_size=10 * BLOCK_SIZE)
    for chunk_size, workers in ((BLOCK_SIZE, 1), (BLOCK_SIZE, 2), (2 * BLOCK_SIZE, 2)):
        other = make_cohort(spec, chunk_size=chunk_size, workers=workers)
        pd.testing.assert_frame_equal(reference.patients, other.patients)
        pd.testing.assert_frame_equal(reference.visits, other.visits)
    different = make_cohort(CohortSpec(n=spec.n, seed=6, horizon_months=36, pre_onset_months=6))
    assert not reference.patients["age_onset_years"].equals(different.patients["age_onset_years"])


def test_items_are_integers_0_to_4_with_exactly_one_item5(cohort):
    visits = cohort.visits
    for column in ITEM_COLUMNS:
        if column == "q5_cutting":
            continue
        values = visits[column].to_numpy(dtype=float)
        assert np.all((values >= 0) & (values <= 4) & (values == np.round(values)))
    assert (visits[Q5A].notna() ^ visits[Q5B].notna()).all()
    total = visits[[c for c in VISIT_ITEM_COLUMNS]].fillna(0).sum(axis=1)
    np.testing.assert_array_equal(total.to_numpy(), visits["alsfrs_r_total"].to_numpy())


def test_function_never_improves_and_neurons_never_return(cohort):
    """Per patient, motor units only fall and the noise-free total never rises."""
    visits = cohort.visits.sort_values(["subject_id", "t_months"])
    steps = visits.groupby("subject_id")["mu_fraction"].diff().dropna()
    assert (steps <= 1e-12).all()


def test_genotype_frequencies_and_onset_sites_match_the_parameter_set(cohort):
    params = load_population_params()
    n = len(cohort.patients)
    frequencies = params.genotype_frequency["european"]
    for genotype in GENOTYPES:
        expected = getattr(frequencies, genotype)
        observed = (cohort.patients["genotype"] == genotype).mean()
        se = np.sqrt(expected * (1 - expected) / n)
        assert abs(observed - expected) < 4 * se + 1e-9, genotype
    # The clinically observed onset region is the sampled focal region for almost everyone.
    bulbar = (cohort.patients["onset_region"] == "bulbar").mean()
    assert abs(bulbar - 0.29) < 0.05


def test_milestones_are_ordered_and_within_horizon(cohort):
    p = cohort.patients
    for column in ("t_diagnosis_months", "t_gastrostomy_months", "t_niv_months", "t_death_months"):
        values = p[column].dropna()
        assert (values >= 0).all() and (values <= 96).all()
    died = p["t_death_months"].notna()
    assert (p.loc[died, "t_diagnosis_months"] <= p.loc[died, "t_death_months"] + 1e-9).all()
    last_visit = cohort.visits.groupby("subject_id")["t_months"].max()
    death = p.set_index("subject_id")["t_death_months"]
    dead = death.dropna()
    assert (last_visit.loc[dead.index] <= dead + 1e-9).all()


def test_trial_like_eligibility_selects_slower_longer_living_patients(cohort):
    """Recent onset and good vital capacity at enrolment: survival from onset longer (PARALS)."""
    c = Cohort(cohort.patients, cohort.visits, trial=TRIAL_LIKE)
    eligible = c.eligible
    assert 0.2 < eligible.mean() < 0.9
    from alsim.analysis.survival import km_median

    p = cohort.patients
    event = p["t_death_months"].notna().to_numpy()
    time = p["t_death_months"].fillna(p["horizon_months"]).to_numpy()
    diagnosed = p["t_diagnosis_months"].notna().to_numpy()
    all_median = km_median(time[diagnosed], event[diagnosed])
    eligible_median = km_median(time[eligible], event[eligible])
    assert eligible_median > all_median
    # ... and their ALSFRS-R declines more slowly over the year after enrolment (trial
    # populations progress more slowly than the population they come from).
    slopes = c.slopes("alsfrs_r_total")
    assert np.nanmean(slopes[eligible]) > np.nanmean(slopes[diagnosed & ~eligible])


def test_trace_is_the_same_patient_as_in_the_cohort(cohort):
    spec = cohort.spec
    trace = trace_patient(spec, 1500)
    row = cohort.patients.iloc[1500]
    assert trace.subject_id == row["subject_id"]
    assert trace.profile["age_onset_years"] == pytest.approx(row["age_onset_years"])
    assert trace.profile["t_death_months"] == pytest.approx(row["t_death_months"], nan_ok=True)
    neurons = trace.timeline.filter(like="neurons_").to_numpy()
    assert np.all(np.diff(neurons, axis=0) <= 1e-12)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "proact"])
def test_write_cohort_formats_and_manifest(tmp_path, fmt):
    cohort = make_cohort(CohortSpec(n=60, seed=3, horizon_months=24, pre_onset_months=3))
    out = write_cohort(cohort, tmp_path / "c", fmt=fmt)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["horizon_months"] == 24
    if fmt == "proact":
        from alsim.io.proact import read_proact

        data = read_proact(out / "proact")
        assert len(data.patients) == cohort.patients["t_diagnosis_months"].notna().sum()
    else:
        reader = pd.read_parquet if fmt == "parquet" else pd.read_csv
        patients = reader(out / f"patients.{fmt}")
        assert list(patients["subject_id"]) == list(cohort.patients["subject_id"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_write_cohort_refuses_a_non_empty_directory(tmp_path):
    cohort = make_cohort(CohortSpec(n=10, seed=3, horizon_months=12, pre_onset_months=0))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "keep.txt").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        write_cohort(cohort, tmp_path / "c")
    assert (tmp_path / "c" / "keep.txt").read_text() == "x"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "^n:"),
        ({"seed": -1}, "^seed:"),
        ({"ancestry": "martian"}, "^ancestry:"),
        ({"genotype": "XYZ"}, "^genotype:"),
        ({"horizon_months": 0}, "^horizon_months:"),
    ],
)
def test_bad_specs_name_the_field(kwargs, message):
    base = {"n": 10, "seed": 1}
    with pytest.raises(InputError, match=message):
        CohortSpec(**{**base, **kwargs})


def _median_survival(cohort):
    from alsim.analysis.survival import km_median

    p = cohort.patients
    return km_median(
        p["t_death_months"].fillna(p["horizon_months"]).to_numpy(),
        p["t_death_months"].notna().to_numpy(),
    )


@pytest.mark.parametrize("change", ["misfolding_input", "feedback"])
def test_pathways_are_causal_for_onset_progression_and_survival(change):
    """Removing an input or the feedback loop: later onset, slower decline, longer survival."""
    from alsim.disease.mechanistic.params import load_params

    params = load_params()
    if change == "misfolding_input":
        updates = {}
        for genotype in GENOTYPES:
            values = list(getattr(params.genotype_input, genotype))
            values[0] = 0.0
            updates[f"genotype_input.{genotype}"] = values
    else:
        updates = {"pathways.cross_coupling": 0.5 * params.pathways.cross_coupling}
    spec = CohortSpec(n=1200, seed=21, horizon_months=120, pre_onset_months=0)
    base = make_cohort(spec, params=params)
    changed = make_cohort(spec, params=params.replace(updates))
    assert (
        changed.patients["presymptomatic_months"].median()
        > base.patients["presymptomatic_months"].median()
    )
    assert _median_survival(changed) > _median_survival(base)
    base_slopes = Cohort(base.patients, base.visits).slopes("alsfrs_r_total")
    changed_slopes = Cohort(changed.patients, changed.visits).slopes("alsfrs_r_total")
    assert np.nanmean(changed_slopes) > np.nanmean(base_slopes)


def test_effect_mask_is_per_patient_across_chunks():
    from alsim.disease.mechanistic.engine import PathwayEffect

    spec = CohortSpec(n=BLOCK_SIZE + 200, seed=8, horizon_months=24, pre_onset_months=0)
    mask = np.zeros(spec.n, dtype=bool)
    mask[BLOCK_SIZE:] = True  # only patients of the second chunk are treated
    effect = PathwayEffect(start_months=0.0, hazard_factor=0.2, mask=mask)
    control = make_cohort(spec, chunk_size=BLOCK_SIZE)
    treated = make_cohort(spec, chunk_size=BLOCK_SIZE, effects=(effect,))
    untreated_rows = slice(0, BLOCK_SIZE)
    pd.testing.assert_frame_equal(
        control.patients.iloc[untreated_rows], treated.patients.iloc[untreated_rows]
    )
    assert treated.patients["t_death_months"].iloc[BLOCK_SIZE:].isna().mean() >= (
        control.patients["t_death_months"].iloc[BLOCK_SIZE:].isna().mean()
    )
    with pytest.raises(InputError, match="effects.mask"):
        make_cohort(spec, effects=(PathwayEffect(mask=np.ones(3, dtype=bool)),))


def test_permanent_ventilation_replaces_death_without_moving_the_end_point():
    """PAV is a choice at disease-caused respiratory failure: death-or-PAV is the same time."""
    from alsim.cohort.calibrate import with_values

    spec = CohortSpec(n=1500, seed=21, horizon_months=120, pre_onset_months=0)
    never = make_cohort(spec, params=with_values(load_params(), {"respiratory.pav_uptake": 0.0}))
    always = make_cohort(spec, params=with_values(load_params(), {"respiratory.pav_uptake": 1.0}))
    a, b = never.patients, always.patients
    assert a["t_pav_months"].isna().all()
    end_a = a["t_death_months"]
    end_b = np.fmin(b["t_pav_months"], b["t_death_months"])
    pd.testing.assert_series_equal(end_a, end_b, check_names=False)
    pav = b["t_pav_months"].notna()
    # Most end points are disease-caused; ventilated patients die later or not within the horizon.
    assert 0.6 < pav.mean() < 1.0
    later = b.loc[pav, "t_death_months"]
    assert (later.isna() | (later > b.loc[pav, "t_pav_months"])).all()
    # Item 12 (respiratory insufficiency) is 0 on permanent ventilation.
    ventilated = always.visits.merge(b.loc[pav, ["subject_id", "t_pav_months"]], on="subject_id")
    on_pav = ventilated[ventilated["t_months"] >= ventilated["t_pav_months"]]
    assert len(on_pav) and (on_pav["r3_respiratory_insufficiency"] == 0).all()


def test_referral_lag_delays_diagnosis_but_never_past_the_end_point():
    from alsim.cohort.calibrate import with_values

    spec = CohortSpec(n=800, seed=23, horizon_months=96, pre_onset_months=0)
    base = load_params()
    short = make_cohort(spec, params=with_values(base, {"diagnosis.referral_median_months": 0.5}))
    long = make_cohort(spec, params=with_values(base, {"diagnosis.referral_median_months": 40.0}))
    a, b = short.patients, long.patients
    # The lag only postpones diagnosis (same draws otherwise), and never beyond death or PAV.
    both = a["t_diagnosis_months"].notna() & b["t_diagnosis_months"].notna()
    assert (b.loc[both, "t_diagnosis_months"] >= a.loc[both, "t_diagnosis_months"] - 1e-9).all()
    assert b["t_diagnosis_months"].median() > a["t_diagnosis_months"].median() + 10
    end = np.fmin(b["t_pav_months"], b["t_death_months"])
    ended = end.notna()
    assert (b.loc[ended, "t_diagnosis_months"] <= end[ended] + 1e-9).all()
    # Survival itself does not depend on when the diagnosis is made.
    pd.testing.assert_series_equal(a["t_death_months"], b["t_death_months"])


def test_east_asian_referral_factor_lengthens_only_east_asian_delays():
    from alsim.cohort.calibrate import with_values

    base = with_values(load_params(), {"diagnosis.referral_median_months": 8.0})
    slow = with_values(base, {"diagnosis.referral_factor_east_asian": 3.0})
    for ancestry, changes in (("east_asian", True), ("european", False)):
        spec = CohortSpec(n=600, seed=29, horizon_months=60, pre_onset_months=0, ancestry=ancestry)
        d0 = make_cohort(spec, params=base).patients["t_diagnosis_months"]
        d1 = make_cohort(spec, params=slow).patients["t_diagnosis_months"]
        if changes:
            assert d1.median() > d0.median() + 3
        else:
            pd.testing.assert_series_equal(d0, d1)


def test_trigger_relative_effects_can_start_before_onset():
    """Presymptomatic treatment: an effect from a per-patient month after the trigger.

    Treated and untreated worlds share every draw, so they are identical until the start, and a
    neuroprotective effect started before onset delays onset; NaN means never treated.
    """
    from alsim.disease.mechanistic.engine import PathwayEffect

    spec = CohortSpec(n=300, seed=31, horizon_months=36, pre_onset_months=0)
    untreated = make_cohort(spec, with_visits=False).patients
    presymptomatic = untreated["presymptomatic_months"].to_numpy()
    start = np.where(np.arange(spec.n) % 2 == 0, 0.0, np.nan)  # every other patient, at trigger
    effect = PathwayEffect(start_months=start, start_from="trigger", hazard_factor=0.3)
    treated = make_cohort(spec, effects=(effect,), with_visits=False).patients
    never = np.isnan(start)
    pd.testing.assert_frame_equal(untreated[never], treated[never])
    later = treated["presymptomatic_months"].to_numpy()[~never] - presymptomatic[~never]
    assert (later >= -1e-9).all() and later.mean() > 1.0
    with pytest.raises(InputError, match="start_from"):
        PathwayEffect(start_from="diagnosis")
    with pytest.raises(InputError, match="one value per patient"):
        make_cohort(spec, effects=(PathwayEffect(start_months=np.zeros(3)),))


def test_c9orf72_extramotor_nfl_rises_years_before_onset_and_changes_nothing_else():
    from alsim.cohort.calibrate import with_values

    spec = CohortSpec(n=300, seed=37, horizon_months=12, pre_onset_months=60, genotype="C9orf72")
    off = make_cohort(spec, params=with_values(load_params(), {"nfl.c9_extramotor_pg_ml": 0.0}))
    on = make_cohort(spec)
    keep = [c for c in off.patients.columns if c != "nfl_diagnosis_pg_ml"]
    pd.testing.assert_frame_equal(off.patients[keep], on.patients[keep])
    early = (on.visits["t_months"] <= -36) & (on.visits["t_months"] >= -40)
    gain = on.visits.loc[early, "nfl_pg_ml"].median() / off.visits.loc[early, "nfl_pg_ml"].median()
    assert gain > 1.3  # a clear rise three years before motor onset

    def median_extra(month):  # pg/mL added by the extra-motor release (noise factor shared)
        at = on.visits["t_months"] == month
        return (on.visits.loc[at, "nfl_pg_ml"] - off.visits.loc[at, "nfl_pg_ml"]).median()

    # The release ramps up over the years before onset (median start 59 months before) to a
    # plateau of about 10 pg/mL (times the visit's measurement-noise factor).
    assert median_extra(-60) < 0.3 * median_extra(-20)
    assert median_extra(-20) == pytest.approx(10.0, rel=0.2)


def test_tofersen_lowers_csf_sod1_towards_its_catalogue_level():
    """Target engagement: CSF SOD1 of treated carriers falls to 1 - lowering(dose), with the
    readout's time constant; untreated patients and visits before the start are unchanged."""
    from alsim.disease.mechanistic.observe import CSF_SOD1_MONTHS
    from alsim.treatment.catalogue import get_therapy

    tofersen = get_therapy("tofersen")
    spec = CohortSpec(n=200, seed=41, horizon_months=24, pre_onset_months=0, genotype="SOD1")
    treated_mask = np.arange(spec.n) % 2 == 0
    effect = tofersen.pathway_effect(start_months=6.0, mask=treated_mask)
    lowering = tofersen.target_lowering(100.0)
    assert effect.csf_sod1_factor == pytest.approx(1.0 - lowering)
    key = ["subject_id", "t_months"]
    both = make_cohort(spec).visits.merge(
        make_cohort(spec, effects=(effect,)).visits, on=key, suffixes=("_u", "_t")
    )  # visits at which the patient is alive in both worlds
    ids = [f"VP{i:07d}" for i in range(spec.n)]
    on = both["subject_id"].isin([ids[i] for i in np.flatnonzero(treated_mask)])
    ratio = both["csf_sod1_relative_t"] / both["csf_sod1_relative_u"]  # shared visit noise
    assert np.allclose(ratio[on & (both["t_months"] <= 6)], 1.0)
    assert np.allclose(ratio[~on], 1.0)
    late = on & (both["t_months"] == 18)
    assert late.sum() > 50
    expected = 1.0 - lowering * (1.0 - np.exp(-12.0 / CSF_SOD1_MONTHS))
    assert np.allclose(ratio[late], expected)


def test_sod1_toxicity_leaves_the_natural_history_unchanged():
    """Without a lowering therapy S = 1 and the [sod1] keys cannot matter (bit for bit)."""
    spec = CohortSpec(n=128, seed=43, horizon_months=36, pre_onset_months=0, genotype="SOD1")
    weak = load_params().replace({"sod1.toxicity_order": 1.0, "sod1.mediated_fraction": 0.3})
    a, b = make_cohort(spec), make_cohort(spec, params=weak)
    pd.testing.assert_frame_equal(a.patients, b.patients)
    pd.testing.assert_frame_equal(a.visits, b.visits)


def test_sod1_lowering_slows_neuron_loss_in_carriers_only():
    """Lowering mutant SOD1 to S* multiplies a carrier's hazard by about S*^n within months:
    blood NfL falls (release follows the loss rate), neurons are saved, and non-carriers given
    the same effect are untouched. A larger order n gives a larger effect (monotone in n)."""
    from alsim.disease.mechanistic.engine import PathwayEffect

    lowering = PathwayEffect(start_months=3.0, csf_sod1_factor=0.63)

    def nfl_ratio(genotype, params=None):
        spec = CohortSpec(n=256, seed=44, horizon_months=18, pre_onset_months=0, genotype=genotype)
        key = ["subject_id", "t_months"]
        both = make_cohort(spec, params=params).visits.merge(
            make_cohort(spec, params=params, effects=(lowering,)).visits,
            on=key,
            suffixes=("_u", "_t"),
        )
        at = both["t_months"] == 12
        ratio = np.exp(np.mean(np.log(both.loc[at, "nfl_pg_ml_t"] / both.loc[at, "nfl_pg_ml_u"])))
        before = both["t_months"] <= 3
        assert np.allclose(both.loc[before, "nfl_pg_ml_t"], both.loc[before, "nfl_pg_ml_u"])
        total_gain = (both["alsfrs_r_total_t"].astype(int) - both["alsfrs_r_total_u"].astype(int))[
            at
        ]
        return ratio, total_gain

    ratio, gain = nfl_ratio("SOD1")
    assert ratio < 0.65  # n = 4.5: hazard x ~0.12 after ~2 months; NfL well below untreated
    assert (gain >= 0).all() and gain.mean() > 0.5  # function never worse, better on average
    weaker, _ = nfl_ratio("SOD1", load_params().replace({"sod1.toxicity_order": 1.0}))
    assert ratio < weaker < 1.0
    sporadic_ratio, sporadic_gain = nfl_ratio("sporadic")
    assert sporadic_ratio == 1.0 and (sporadic_gain == 0).all()
