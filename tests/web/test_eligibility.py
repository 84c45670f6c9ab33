"""alsim.clinical.eligibility: criteria sets (validation with key paths), the bundled examples
with sources, check_eligibility verdicts and patient_facts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsim.clinical.eligibility import (
    FACTS,
    CriteriaSet,
    builtin_criteria_sets,
    check_eligibility,
    load_criteria_set,
    patient_facts,
)
from alsim.clinical.record import PatientInput, VisitInput, summarize_record
from alsim.errors import InputError

D = dt.date


def spec(*criteria: dict) -> dict:
    return {"name": "test", "criteria": list(criteria)}


def rule(**kw) -> dict:
    return {"id": "r1", "label": "rule", **kw}


def test_builtin_sets_load_with_sources() -> None:
    sets = builtin_criteria_sets()
    assert set(sets) == {"healey-like", "alsummit-like", "atlas-like"}
    assert "NCT04297683" in sets["healey-like"].source
    assert "NCT04745299" in sets["alsummit-like"].source
    assert "NCT04856982" in sets["atlas-like"].source
    for cs in sets.values():
        for c in cs.criteria:
            assert c.source, f"{cs.name}: {c.id} has no source"
    healey = {c.id: c for c in sets["healey-like"].criteria}
    assert (healey["age"].op, healey["age"].value) == (">=", 18.0)
    # current registry text of NCT04297683 (inclusion 4): <= 24 months (older copies said 36)
    assert (healey["onset"].op, healey["onset"].value) == ("<=", 24.0)
    assert (healey["vital_capacity"].op, healey["vital_capacity"].value) == (">=", 50.0)
    assert set(healey["el_escorial"].value) == {"possible", "probable", "probable_lab", "definite"}
    atlas = {c.id: c for c in sets["atlas-like"].criteria}
    assert atlas["nfl_below_threshold"].confirmed is False  # marked as not confirmed
    assert atlas["adult"].confirmed is False  # 18 years: the registry title only says "adults"


def test_builtin_round_trip_through_json() -> None:
    for cs in builtin_criteria_sets().values():
        again = load_criteria_set(cs.model_dump(mode="json"), where="db")
        assert again == cs


@pytest.mark.parametrize(
    ("bad", "where", "text"),
    [
        (rule(field="age_years", op="in", value=[1]), "spec: criteria[0].op", "does not apply"),
        (rule(field="agex", op="<", value=1), "spec: criteria[0].field", "unknown field"),
        (rule(field="age_years", op="<", value=1, extra=2), "spec: criteria[0].extra", "unknown"),
        (rule(field="age_years", op="<", value="x"), "spec: criteria[0].value", "number"),
        (rule(field="genotype", op="in", value="SOD1"), "spec: criteria[0].value", "list"),
        (rule(field="ftd", op="==", value=1), "spec: criteria[0].value", "true or false"),
        (
            {"label": "l", "field": "ftd", "op": "==", "value": True},
            "spec: criteria[0].id",
            "missing",
        ),
    ],
)
def test_validation_errors_name_the_key_path(bad, where, text) -> None:
    with pytest.raises(InputError) as info:
        load_criteria_set(spec(bad), where="spec")
    assert info.value.where == where
    assert text in info.value.problem


def test_duplicate_ids_and_empty_set_rejected() -> None:
    with pytest.raises(InputError, match="used twice"):
        load_criteria_set(spec(*[rule(field="ftd", op="==", value=False)] * 2))
    with pytest.raises(InputError, match="criteria"):
        load_criteria_set({"name": "x", "criteria": []})


def test_yaml_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("name: x\ncriteria: [\n", encoding="utf-8")
    with pytest.raises(InputError, match="mine.yaml: invalid YAML at line"):
        load_criteria_set(bad)
    bad.write_text(
        "name: x\ncriteria:\n  - id: a\n    label: b\n    field: age_years\n"
        "    op: '>='\n    value: true\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as info:
        load_criteria_set(bad)
    assert info.value.where == "mine.yaml: criteria[0].value"


CS = load_criteria_set(
    spec(
        rule(id="age", field="age_years", op=">=", value=18),
        rule(id="ee", field="el_escorial", op="in", value=["probable", "definite"]),
        rule(id="ftd", field="ftd", op="==", value=False),
        rule(id="gt", field="genotype", op="not_in", value=["SOD1"]),
    )
)


def test_verdicts() -> None:
    ok = check_eligibility(
        CS, {"age_years": 50, "el_escorial": "definite", "ftd": False, "genotype": "sporadic"}
    )
    assert ok.overall == "eligible"
    assert [r.status for r in ok.criteria] == ["met"] * 4
    no = check_eligibility(CS, {"age_years": 17.9, "el_escorial": "possible", "ftd": False})
    assert no.overall == "not_eligible"
    assert [r.status for r in no.criteria] == ["not_met", "not_met", "met", "unknown"]
    assert no.criteria[0].actual == 17.9
    unk = check_eligibility(
        CS, {"age_years": 60, "el_escorial": "probable", "ftd": None, "genotype": "C9orf72"}
    )
    assert unk.overall == "undetermined"
    assert unk.counts == {"met": 3, "not_met": 0, "unknown": 1}
    d = unk.to_dict()
    assert (d["criteria"][2]["status"], d["criteria"][2]["actual"]) == ("unknown", None)
    assert d["overall"] == "undetermined" and d["criteria"][0]["source"] == ""


@settings(max_examples=60, deadline=None)
@given(
    value=st.floats(-1e6, 1e6, allow_nan=False),
    threshold=st.floats(-1e6, 1e6, allow_nan=False),
    op=st.sampled_from(["<", "<=", ">", ">=", "=="]),
)
def test_number_ops_match_python(value, threshold, op) -> None:
    cs = load_criteria_set(spec(rule(field="fvc_percent", op=op, value=threshold)))
    expected = {
        "<": value < threshold,
        "<=": value <= threshold,
        ">": value > threshold,
        ">=": value >= threshold,
        "==": value == threshold,
    }[op]
    status = check_eligibility(cs, {"fvc_percent": value}).criteria[0].status
    assert status == ("met" if expected else "not_met")
    assert check_eligibility(cs, {}).overall == "undetermined"


def _healey_patient(**changes) -> tuple[PatientInput, list[VisitInput]]:
    base = dict(
        onset_date=D(2023, 1, 1),
        diagnosis_date=D(2023, 6, 1),
        birth_year=1970,
        sex="female",
        onset_region="bulbar",
        genotype="sporadic",
        el_escorial="probable_lab",
        ftd=False,
    )
    base.update(changes)
    visits = [
        VisitInput(D(2023, 6, 1), (3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4), fvc_percent=85.0),
        VisitInput(D(2023, 11, 1), (3, 3, 3, 4, 3, 4, 4, 4, 4, 4, 4, 4), fvc_percent=70.0),
    ]
    return PatientInput(**base), visits


def test_patient_facts_and_healey() -> None:
    patient, visits = _healey_patient()
    today = D(2024, 1, 1)
    facts = patient_facts(summarize_record(patient, visits, today=today), patient, today=today)
    assert set(facts) == set(FACTS)
    assert facts["age_years"] == pytest.approx(2024 - 1970.5)
    assert facts["months_since_onset"] == pytest.approx(365 / 30.4375)
    assert facts["alsfrs_total"] == 44 and facts["fvc_percent"] == 70.0
    # decline between 2023-06-01 (47) and 2023-11-01 (44): 3 points over 153 days
    assert facts["recent_decline_per_month"] == pytest.approx(3 / (153 / 30.4375))
    assert facts["presymptomatic"] is False and facts["gastrostomy"] is False
    healey = builtin_criteria_sets()["healey-like"]
    assert check_eligibility(healey, facts).overall == "eligible"
    # onset 28 months ago fails the 24-month rule
    later = D(2025, 5, 1)
    facts = patient_facts(summarize_record(patient, visits, today=later), patient, today=later)
    result = check_eligibility(healey, facts)
    assert result.overall == "not_eligible"
    assert {r.criterion.id: r.status for r in result.criteria}["onset"] == "not_met"


def test_atlas_presymptomatic_carrier() -> None:
    carrier = PatientInput(birth_year=1990, genotype="SOD1")
    visits = [VisitInput(D(2024, 1, 1), (4,) * 12, nfl_pg_ml=12.0)]
    today = D(2024, 2, 1)
    facts = patient_facts(summarize_record(carrier, visits, today=today), carrier, today=today)
    assert facts["presymptomatic"] is True
    atlas = builtin_criteria_sets()["atlas-like"]
    assert check_eligibility(atlas, facts).overall == "eligible"
    facts["nfl_pg_ml"] = 50.0
    assert check_eligibility(atlas, facts).overall == "not_eligible"
    unknown = PatientInput(birth_year=1990, genotype="unknown")
    facts = patient_facts(summarize_record(unknown, visits, today=today), unknown, today=today)
    assert facts["genotype"] is None
    assert check_eligibility(atlas, facts).overall == "undetermined"


def test_criteria_set_model_is_the_schema() -> None:
    schema = CriteriaSet.model_json_schema()
    assert "criteria" in schema["properties"]


def test_presymptomatic_needs_a_score() -> None:
    # no onset date and no ALSFRS-R at all is no evidence of being presymptomatic: unknown
    carrier = PatientInput(birth_year=1990, genotype="SOD1")
    today = D(2024, 2, 1)
    for visits in ([], [VisitInput(D(2024, 1, 1), (None,) * 12, nfl_pg_ml=12.0)]):
        facts = patient_facts(summarize_record(carrier, visits, today=today), carrier, today=today)
        assert facts["presymptomatic"] is None
        result = check_eligibility(builtin_criteria_sets()["atlas-like"], facts)
        assert {r.criterion.id: r.status for r in result.criteria}["presymptomatic"] == "unknown"
        assert result.overall == "undetermined"


def test_facts_use_the_record_conventions() -> None:
    # age and months since onset are the record summary's (one implementation)
    patient, visits = _healey_patient()
    today = D(2024, 3, 7)
    summary = summarize_record(patient, visits, today=today)
    facts = patient_facts(summary, patient, today=today)
    assert facts["age_years"] == summary.age_years
    assert facts["months_since_onset"] == summary.months_since_onset


NUMBER_FACTS = [name for name, (kind, _) in FACTS.items() if kind == "number"]


@settings(max_examples=80, deadline=None)
@given(
    statuses=st.lists(
        st.sampled_from(["met", "not_met", "unknown"]), min_size=1, max_size=len(NUMBER_FACTS)
    )
)
def test_overall_verdict_property(statuses) -> None:
    # one criterion per fact: any not met -> not eligible; else any unknown -> undetermined
    fields = NUMBER_FACTS[: len(statuses)]
    cs = load_criteria_set(
        spec(*(rule(id=f"r{i}", field=f, op=">=", value=10) for i, f in enumerate(fields)))
    )
    value = {"met": 20.0, "not_met": 5.0, "unknown": None}
    result = check_eligibility(cs, {f: value[s] for f, s in zip(fields, statuses, strict=True)})
    assert [r.status for r in result.criteria] == statuses
    expected = (
        "not_eligible"
        if "not_met" in statuses
        else "undetermined"
        if "unknown" in statuses
        else "eligible"
    )
    assert result.overall == expected
    assert result.counts == {k: statuses.count(k) for k in ("met", "not_met", "unknown")}
