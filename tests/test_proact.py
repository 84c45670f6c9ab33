"""PRO-ACT per-domain CSV reader/writer and the synthetic fixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from alsim.errors import InputError
from alsim.io import proact
from alsim.io.proact import (
    FVC_SCHEMA,
    PATIENTS_SCHEMA,
    PROACT_FILE_NAMES,
    VISITS_SCHEMA,
    ProactData,
    add_months_since_onset,
    is_proact_alsfrs,
    read_alsfrs,
    read_deaths,
    read_demographics,
    read_fvc,
    read_history,
    read_proact,
    read_treatment,
    write_proact,
)
from alsim.io.synthetic import FIXTURE_DIR, main, make_synthetic_proact

ITEMS = (
    "Q1_Speech,Q2_Salivation,Q3_Swallowing,Q4_Handwriting,Q5a_Cutting_without_Gastrostomy,"
    "Q5b_Cutting_with_Gastrostomy,Q6_Dressing_and_Hygiene,Q7_Turning_in_Bed,Q8_Walking,"
    "Q9_Climbing_Stairs,Q10_Respiratory,{r}1_Dyspnea,{r}2_Orthopnea,{r}3_Respiratory_Insufficiency"
)
HEADER = "subject_id,ALSFRS_Delta," + ITEMS + ",ALSFRS_Total,ALSFRS_R_Total,Mode_of_Administration"
TINY_ROWS = [
    "329,0,4,4,4,3,3,,3,4,3,3,,4,4,4,,43,",  # 5a, revised scale: total 43
    "329,365,1,2,1,3,,3,2,3,3,2,,3,3,3,,29,",  # clinical-instruments 1.6 case C: 5b
    "17,-3,4,4,4,4,4,,4,4,4,4,3,,,,39,,",  # original ALSFRS (Q10), day -3
]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def tiny_alsfrs(tmp_path: Path, rows=TINY_ROWS, spelling="R_", name="ALSFRS.csv") -> Path:
    """A hand-made ALSFRS file; ``spelling`` "R_" gives R_1_Dyspnea, "R" gives R1_Dyspnea."""
    header = HEADER.replace("{r}", spelling)
    return write_csv(tmp_path / name, "\n".join([header, *rows]) + "\n")


@pytest.fixture(scope="module")
def synthetic() -> ProactData:
    return make_synthetic_proact()


def assert_same(a: ProactData, b: ProactData) -> None:
    pdt.assert_frame_equal(a.visits, b.visits)
    pdt.assert_frame_equal(a.patients, b.patients)
    pdt.assert_frame_equal(a.fvc, b.fvc)


# -- the committed fixture --------------------------------------------------------------------
def test_fixture_is_read_with_tidy_schema():
    data = read_proact(FIXTURE_DIR)
    for table, schema in (
        (data.visits, VISITS_SCHEMA),
        (data.patients, PATIENTS_SCHEMA),
        (data.fvc, FVC_SCHEMA),
    ):
        assert list(table.columns) == list(schema)
        assert [str(t) for t in table.dtypes] == [
            "string" if s == "string" else s for s in schema.values()
        ]
    assert len(data.patients) == 30 and data.patients["subject_id"].is_unique
    assert 150 < len(data.visits) < 400 and 50 < len(data.fvc) < len(data.visits)
    visits, patients = data.visits, data.patients
    assert visits["gastrostomy"].any() and not visits["gastrostomy"].all()
    assert (visits["gastrostomy"] == visits["q5b_cutting_with_gastrostomy"].notna()).all()
    assert visits["q10_respiratory"].notna().any()  # a few original-scale rows
    original = visits["q10_respiratory"].notna()
    assert visits.loc[original, "alsfrs_r_total"].isna().all()
    assert patients["died"].any() and not patients["died"].all()
    assert patients.loc[~patients["died"], "death_months"].isna().all()
    onset = patients["onset_months"]
    assert ((onset <= -6) & (onset >= -36)).all()
    assert set(patients["onset_site"].dropna()) <= set(proact.ONSET_SITES)
    assert set(patients["study_arm"]) == {"active", "placebo"}
    assert set(patients["sex"]) <= {"female", "male"}
    # visits sorted by subject then time; FVC declines on average
    assert (
        visits.groupby("subject_id")["visit_months"]
        .apply(lambda s: s.is_monotonic_increasing)
        .all()
    )
    slope = data.fvc.groupby("subject_id").apply(
        lambda g: g["fvc_percent"].iloc[-1] - g["fvc_percent"].iloc[0], include_groups=False
    )
    assert slope.mean() < 0


def test_fixture_regenerates_byte_for_byte(tmp_path):
    out = tmp_path / "regenerated"
    assert main([str(out)]) == 0
    committed = sorted(p.name for p in FIXTURE_DIR.iterdir())
    assert committed == sorted(PROACT_FILE_NAMES.values())
    assert sorted(p.name for p in out.iterdir()) == committed
    for name in committed:
        assert (out / name).read_bytes() == (FIXTURE_DIR / name).read_bytes(), name
    assert sum((FIXTURE_DIR / n).stat().st_size for n in committed) < 100_000
    assert main([str(out)]) == 2  # refuses to overwrite without --overwrite
    assert main([str(out), "--overwrite", "--n-subjects", "2"]) == 0
    assert len(read_proact(out).patients) == 2


def test_synthetic_is_seeded(synthetic):
    assert_same(synthetic, make_synthetic_proact())
    other = make_synthetic_proact(seed=1)
    assert not other.visits.equals(synthetic.visits)
    small = make_synthetic_proact(n_subjects=3, seed=5)
    assert len(small.patients) == 3
    with pytest.raises(InputError, match="n_subjects"):
        make_synthetic_proact(n_subjects=0)


# -- reading a hand-made file -----------------------------------------------------------------
def test_tiny_file_known_values(tmp_path):
    visits = read_alsfrs(tiny_alsfrs(tmp_path))
    # sorted numerically by subject: 17 before 329
    assert list(visits["subject_id"]) == ["17", "329", "329"]
    assert visits["visit_months"].iloc[2] == pytest.approx(365 / 30.4375)
    assert round(visits["visit_months"].iloc[2], 3) == 11.992
    assert visits["visit_months"].iloc[0] == pytest.approx(-3 / 30.4375)
    assert list(visits["gastrostomy"]) == [False, False, True]
    assert visits["alsfrs_r_total"].tolist() == [pd.NA, 43, 29]
    assert visits["q10_respiratory"].tolist() == [3, pd.NA, pd.NA]
    row = visits.iloc[2]
    assert pd.isna(row["q5a_cutting_without_gastrostomy"])
    assert row["q5b_cutting_with_gastrostomy"] == 3 and row["q1_speech"] == 1
    assert visits["mode_of_administration"].isna().all()


def test_both_respiratory_spellings_read_the_same(tmp_path):
    a = read_alsfrs(tiny_alsfrs(tmp_path, spelling="R_", name="a.csv"))
    b = read_alsfrs(tiny_alsfrs(tmp_path, spelling="R", name="b.csv"))
    assert "R1_Dyspnea" in (tmp_path / "b.csv").read_text()
    assert "R_1_Dyspnea" in (tmp_path / "a.csv").read_text()
    pdt.assert_frame_equal(a, b)
    assert a["r1_dyspnea"].tolist() == [pd.NA, 4, 3]


def test_both_spellings_in_one_file_is_an_error(tmp_path):
    path = write_csv(
        tmp_path / "ALSFRS.csv", "subject_id,ALSFRS_Delta,R_1_Dyspnea,R1_Dyspnea\n1,0,4,4\n"
    )
    with pytest.raises(InputError, match="R_1_Dyspnea and R1_Dyspnea"):
        read_alsfrs(path)


def test_merged_q5_cutting_policy(tmp_path):
    header = "subject_id,ALSFRS_Delta,Q1_Speech,Q5_Cutting,Q5b_Cutting_with_Gastrostomy\n"
    path = write_csv(tmp_path / "ALSFRS.csv", header + "1,0,4,3,\n1,30,4,2,2\n")
    visits = read_alsfrs(path)
    # merged only: stored as 5a (gastrostomy unknown -> none); agreeing with 5b: kept as 5b
    assert visits["q5a_cutting_without_gastrostomy"].tolist() == [3, pd.NA]
    assert visits["q5b_cutting_with_gastrostomy"].tolist() == [pd.NA, 2]
    assert visits["gastrostomy"].tolist() == [False, True]
    write_csv(path, header + "1,0,4,3,\n1,30,4,3,2\n")
    with pytest.raises(InputError, match=r"ALSFRS\.csv, row 2, Q5_Cutting"):
        read_alsfrs(path)


def test_other_domains(tmp_path):
    history = write_csv(
        tmp_path / "h.csv",
        "subject_id,Onset_Delta,Diagnosis_Delta,Site_of_Onset,Site_of_Onset___Bulbar,"
        "Site_of_Onset___Limb,Site_of_Onset___Spine\n"
        "1,-365,-100,Onset: Bulbar,,,\n"
        "2,-400,,,1,1,\n"
        "3,-200,,,,,1\n"
        "4,,,Onset: Limb and Bulbar,,,\n"
        "4,-300,,,,,\n"  # a second row for subject 4 fills in onset
        "5,,,onset: other,,,\n",
    )
    h = read_history(history).set_index("subject_id")
    assert h.loc["1", "onset_months"] == pytest.approx(-365 / 30.4375)
    assert h.loc["1", "diagnosis_months"] == pytest.approx(-100 / 30.4375)
    assert h["onset_site"].tolist() == [
        "bulbar",
        "limb_and_bulbar",
        "limb",
        "limb_and_bulbar",
        "other",
    ]
    assert h.loc["4", "onset_months"] == pytest.approx(-300 / 30.4375)

    deaths = write_csv(
        tmp_path / "d.csv",
        "subject_id,Subject_Died,Death_Days\n1,Yes,400\n2,No,\n3,,250\n4,Yes,\n1,,\n",
    )
    d = read_deaths(deaths).set_index("subject_id")
    assert d["died"].tolist() == [True, False, True, True]
    assert d.loc["1", "death_months"] == pytest.approx(400 / 30.4375)
    assert np.isnan(d.loc["4", "death_months"])

    demographics = write_csv(
        tmp_path / "g.csv",
        "subject_id,Demographics_Delta,Age,Date_of_Birth,Sex,Race_Asian,Race_Caucasian\n"
        "1,0,61.5,,Male,,1\n2,0,,-18262,Female,1,1\n3,0,,,,,\n",
    )
    g = read_demographics(demographics).set_index("subject_id")
    assert g["sex"].tolist() == ["male", "female", pd.NA]
    assert g["age_years"].iloc[:2].tolist() == pytest.approx([61.5, 18262 / 365.25])
    assert g["race"].tolist() == ["caucasian", "asian;caucasian", pd.NA]

    treatment = write_csv(
        tmp_path / "t.csv", "subject_id,Study_Arm,Treatment_Group_Delta\n1,Active,0\n2,PLACEBO,0\n"
    )
    assert read_treatment(treatment)["study_arm"].tolist() == ["active", "placebo"]

    fvc = write_csv(
        tmp_path / "f.csv",
        "subject_id,Forced_Vital_Capacity_Delta,Subject_Liters_Trial_1,pct_of_Normal_Trial_1,"
        "Subject_Liters_Trial_2,pct_of_Normal_Trial_2,Subject_Liters_Trial_3,"
        "pct_of_Normal_Trial_3,Forced_Vital_Capacity_Units\n"
        "1,0,3.1,80,3.4,88,3.2,83,Liters\n"
        "1,91,2.9,,,,,,L\n"
        "2,10,,,,70,,75,\n",
    )
    f = read_fvc(fvc)
    assert f["fvc_liters"].tolist()[:2] == [3.4, 2.9] and np.isnan(f["fvc_liters"].iloc[2])
    assert f["fvc_percent"].tolist()[0] == 88 and np.isnan(f["fvc_percent"].iloc[1])
    assert f["fvc_percent"].iloc[2] == 75
    assert f["visit_months"].tolist() == pytest.approx([0.0, 91 / 30.4375, 10 / 30.4375])


def test_read_proact_finds_files_case_insensitively(tmp_path):
    tiny_alsfrs(tmp_path, name="alsfrs.csv")
    write_csv(
        tmp_path / "DeathData.csv", "subject_id,Subject_Died,Death_Days\n17,Yes,100\n99,No,\n"
    )
    write_csv(tmp_path / "notes.txt", "not a domain file")
    data = read_proact(tmp_path)
    assert data.patients["subject_id"].tolist() == ["17", "99", "329"]
    assert data.patients["died"].tolist() == [True, False, False]
    assert data.patients["onset_months"].isna().all()  # no ALSHISTORY file
    assert len(data.fvc) == 0 and list(data.fvc.columns) == list(FVC_SCHEMA)
    assert str(data.fvc["subject_id"].dtype) == "string"


def test_read_proact_needs_alsfrs_and_one_file_per_domain(tmp_path):
    write_csv(tmp_path / "PROACT_FVC.csv", "subject_id,Forced_Vital_Capacity_Delta\n")
    with pytest.raises(InputError, match="no ALSFRS file"):
        read_proact(tmp_path)
    tiny_alsfrs(tmp_path, name="PROACT_ALSFRS.csv")
    tiny_alsfrs(tmp_path, name="ALSFRS.csv")
    with pytest.raises(InputError, match="several files for the ALSFRS domain"):
        read_proact(tmp_path)
    with pytest.raises(InputError, match="not a directory"):
        read_proact(tmp_path / "missing")


def test_drop_missing_delta(tmp_path):
    path = tiny_alsfrs(tmp_path, rows=[*TINY_ROWS, "5,,4,4,4,4,4,,4,4,4,4,,4,4,4,,48,"])
    with pytest.raises(InputError, match=r"ALSFRS\.csv, row 4, ALSFRS_Delta: is blank"):
        read_alsfrs(path)
    assert len(read_alsfrs(path, drop_missing_delta=True)) == 3


def test_months_since_onset(synthetic):
    out = add_months_since_onset(synthetic.visits, synthetic.patients)
    first = out.iloc[0]
    onset = synthetic.patients.set_index("subject_id").loc[first["subject_id"], "onset_months"]
    assert first["months_since_onset"] == pytest.approx(first["visit_months"] - onset)
    assert (out["months_since_onset"] > 0).all()
    pdt.assert_frame_equal(out, synthetic.months_since_onset())
    assert "months_since_onset" not in synthetic.visits.columns


def test_is_proact_alsfrs(tmp_path):
    assert is_proact_alsfrs(tiny_alsfrs(tmp_path))
    tidy = write_csv(tmp_path / "tidy.csv", "subject_id,visit_months,q1_speech\ns1,0,4\n")
    assert not is_proact_alsfrs(tidy)
    assert is_proact_alsfrs(["SubjectID", "ALSFRS_Delta", "Q1_Speech"])
    assert not is_proact_alsfrs(["subject_id", "ALSFRS_Delta"])
    assert not is_proact_alsfrs(write_csv(tmp_path / "empty.csv", ""))
    with pytest.raises(InputError, match="file not found"):
        is_proact_alsfrs(tmp_path / "nope.csv")


# -- malformed files --------------------------------------------------------------------------
MALFORMED = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00", r"ALSFRS\.csv: is not a CSV text file"),
    "not csv": (
        b'{"subject_id": 1, "visits": []}\n',
        r"ALSFRS\.csv, column subject_id: is missing",
    ),
    "empty": (b"", r"ALSFRS\.csv: is empty"),
    "no subject_id": (b"ALSFRS_Delta,Q1_Speech\n0,4\n", r"ALSFRS\.csv, column subject_id"),
    "no delta": (b"subject_id,Q1_Speech\n1,4\n", r"ALSFRS\.csv, column ALSFRS_Delta: is missing"),
    "no items": (b"subject_id,ALSFRS_Delta\n1,0\n", r"ALSFRS\.csv, column Q1_Speech"),
    "blank subject": (
        b"subject_id,ALSFRS_Delta,Q1_Speech\n1,0,4\n ,3,4\n",
        r"ALSFRS\.csv, row 2, subject_id: is blank",
    ),
    "days not numeric": (
        b"subject_id,ALSFRS_Delta,Q1_Speech\n1,0,4\n1,day 30,4\n",
        r"ALSFRS\.csv, row 2, ALSFRS_Delta: must be a number, got 'day 30'",
    ),
    "item out of range": (
        b"subject_id,ALSFRS_Delta,Q1_Speech,Q2_Salivation\n1,0,4,4\n1,30,4,4\n1,60,4,5\n",
        r"ALSFRS\.csv, row 3, Q2_Salivation: must be an integer 0-4, got 5",
    ),
    "item not whole": (
        b"subject_id,ALSFRS_Delta,Q1_Speech\n1,0,2.5\n",
        r"ALSFRS\.csv, row 1, Q1_Speech: must be an integer 0-4, got '2.5'",
    ),
    "item text": (
        b"subject_id,ALSFRS_Delta,Q1_Speech\n1,0,four\n",
        r"ALSFRS\.csv, row 1, Q1_Speech: must be an integer 0-4, got 'four'",
    ),
    "q10 out of range": (
        b"subject_id,ALSFRS_Delta,Q1_Speech,Q10_Respiratory\n1,0,4,-1\n",
        r"ALSFRS\.csv, row 1, Q10_Respiratory",
    ),
    "5a and 5b": (
        b"subject_id,ALSFRS_Delta,Q5a_Cutting_without_Gastrostomy,Q5b_Cutting_with_Gastrostomy\n"
        b"1,0,3,\n1,30,3,3\n",
        r"ALSFRS\.csv, row 2, Q5a_Cutting_without_Gastrostomy/Q5b_Cutting_with_Gastrostomy: "
        r"both 5a and 5b",
    ),
    "ragged": (
        b"subject_id,ALSFRS_Delta,Q1_Speech\n1,0,4\n1,30,4,4,4\n",
        r"ALSFRS\.csv: is not a valid CSV file",
    ),
    "long format": (
        b"subject_id,form_name,feature_name,feature_value,feature_delta\n1,ALSFRS,Q1,4,0\n",
        r"ALSFRS\.csv: is in the long form_name/feature_name format",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_alsfrs_raises_with_file_row_column(tmp_path, case):
    content, message = MALFORMED[case]
    (tmp_path / "ALSFRS.csv").write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_proact(tmp_path)


MALFORMED_OTHER = {
    "unknown site": (
        "ALSHISTORY.csv",
        "subject_id,Onset_Delta,Site_of_Onset\n329,-300,Onset: Bulbar\n17,-200,Onset: Trunk\n",
        r"ALSHISTORY\.csv, row 2, Site_of_Onset: unknown site of onset 'Onset: Trunk'",
    ),
    "onset after time zero": (
        "ALSHISTORY.csv",
        "subject_id,Onset_Delta\n329,12\n",
        r"ALSHISTORY\.csv, row 1, Onset_Delta: must be <= 0",
    ),
    "conflicting history rows": (
        "ALSHISTORY.csv",
        "subject_id,Onset_Delta\n329,-100\n329,-120\n",
        r"ALSHISTORY\.csv, row 2, Onset_Delta: subject '329'",
    ),
    "bad one-hot": (
        "ALSHISTORY.csv",
        "subject_id,Site_of_Onset___Bulbar\n329,maybe\n",
        r"ALSHISTORY\.csv, row 1, Site_of_Onset___Bulbar: must be yes/no",
    ),
    "died coding": (
        "DEATHDATA.csv",
        "subject_id,Subject_Died,Death_Days\n329,Perhaps,\n",
        r"DEATHDATA\.csv, row 1, Subject_Died: must be yes/no",
    ),
    "alive with death day": (
        "DEATHDATA.csv",
        "subject_id,Subject_Died,Death_Days\n329,No,200\n",
        r"DEATHDATA\.csv, row 1, Death_Days: is given",
    ),
    "death days text": (
        "DEATHDATA.csv",
        "subject_id,Subject_Died,Death_Days\n329,Yes,soon\n",
        r"DEATHDATA\.csv, row 1, Death_Days: must be a number",
    ),
    "sex coding": (
        "DEMOGRAPHICS.csv",
        "subject_id,Age,Sex\n329,50,Male\n17,60,X\n",
        r"DEMOGRAPHICS\.csv, row 2, Sex: unknown value 'X'",
    ),
    "negative age": (
        "DEMOGRAPHICS.csv",
        "subject_id,Age,Sex\n329,-5,Male\n",
        r"DEMOGRAPHICS\.csv, row 1, Age: must be between 0 and 130",
    ),
    "arm coding": (
        "TREATMENT.csv",
        "subject_id,Study_Arm\n329,Drug X\n",
        r"TREATMENT\.csv, row 1, Study_Arm: unknown value 'Drug X'",
    ),
    "fvc negative": (
        "FVC.csv",
        "subject_id,Forced_Vital_Capacity_Delta,Subject_Liters_Trial_1\n329,0,-2\n",
        r"FVC\.csv, row 1, Subject_Liters_Trial_1: must be >= 0",
    ),
    "fvc units": (
        "FVC.csv",
        "subject_id,Forced_Vital_Capacity_Delta,Subject_Liters_Trial_1,"
        "Forced_Vital_Capacity_Units\n329,0,2.5,mL\n",
        r"FVC\.csv, row 1, Forced_Vital_Capacity_Units: FVC must be in liters",
    ),
    "fvc no delta": (
        "FVC.csv",
        "subject_id,Subject_Liters_Trial_1\n329,2.5\n",
        r"FVC\.csv, column Forced_Vital_Capacity_Delta: is missing",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_OTHER))
def test_malformed_other_domains(tmp_path, case):
    name, text, message = MALFORMED_OTHER[case]
    tiny_alsfrs(tmp_path)
    write_csv(tmp_path / name, text)
    with pytest.raises(InputError, match=message):
        read_proact(tmp_path)


# -- writing ----------------------------------------------------------------------------------
def test_round_trip_exact(tmp_path, synthetic):
    target = write_proact(synthetic, tmp_path / "out")
    assert sorted(p.name for p in target.iterdir()) == sorted(PROACT_FILE_NAMES.values())
    assert_same(read_proact(target), synthetic)


def test_round_trip_other_spelling_and_optional_columns(tmp_path, synthetic):
    visits = synthetic.visits.copy()
    modes = np.resize(np.array(["Phone", "Paper"], dtype=object), len(visits))
    visits["mode_of_administration"] = pd.array(modes, dtype="string")
    visits.loc[visits.index[-1], "mode_of_administration"] = pd.NA
    visits["responded_by"] = pd.array(["Patient"] * len(visits), dtype="string")
    data = ProactData(visits, synthetic.patients, synthetic.fvc)
    write_proact(data, tmp_path / "r1", respiratory_spelling="R1")
    header = (tmp_path / "r1" / "PROACT_ALSFRS.csv").read_text().splitlines()[0]
    assert "R1_Dyspnea" in header and "R_1_Dyspnea" not in header
    assert_same(read_proact(tmp_path / "r1"), data)


def test_round_trip_of_hand_made_file(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    tiny_alsfrs(source)
    first = read_proact(source)
    write_proact(first, tmp_path / "out")
    text = (tmp_path / "out" / "PROACT_ALSFRS.csv").read_text().splitlines()
    assert text[1] == "17,-3,4,4,4,4,4,,4,4,4,4,,,,3,39,,,"  # original scale: ALSFRS_Total 39
    assert text[2] == "329,0,4,4,4,3,3,,3,4,3,3,4,4,4,,,43,,"  # ALSFRS_R_Total recomputed
    assert text[3].startswith("329,365,")
    assert_same(read_proact(tmp_path / "out"), first)


def test_writer_rounds_to_whole_days(tmp_path, synthetic):
    visits = synthetic.visits.copy()
    visits.loc[0, "visit_months"] = 1.0  # 30.4375 days -> 30
    write_proact(ProactData(visits, synthetic.patients, synthetic.fvc), tmp_path / "o")
    back = read_proact(tmp_path / "o").visits
    days = back["visit_months"].to_numpy() * 30.4375
    np.testing.assert_allclose(days, np.round(days), atol=1e-9)
    assert back["visit_months"].iloc[0] == 30 / 30.4375


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


BAD_TABLES = {
    "item out of range": (
        "visits",
        "q1_speech",
        7,
        r"visits, row 1, q1_speech: must be an integer 0-4",
    ),
    "5a and 5b": (
        "visits",
        "q5b_cutting_with_gastrostomy",
        3,
        r"visits, row 1, q5a.*both 5a and 5b",
    ),
    "no time": ("visits", "visit_months", np.nan, r"visits, row 1, visit_months"),
    "onset after zero": ("patients", "onset_months", 2.0, r"patients, row 1, onset_months"),
    "sex": ("patients", "sex", "M", r"patients, row 1, sex: must be one of female, male"),
    "site": ("patients", "onset_site", "spinal", r"patients, row 1, onset_site"),
    "arm": ("patients", "study_arm", "drug", r"patients, row 1, study_arm"),
    "race": ("patients", "race", "martian", r"patients, row 1, race: unknown race 'martian'"),
    "death but alive": ("patients", "death_months", 3.0, r"patients, row 1, death_months"),
    "fvc": ("fvc", "fvc_liters", -1.0, r"fvc, row 1, fvc_liters"),
}


@pytest.mark.parametrize("case", sorted(BAD_TABLES))
def test_writer_rejects_bad_tables_and_writes_nothing(tmp_path, synthetic, case):
    table_name, column, value, message = BAD_TABLES[case]
    tables = {k: getattr(synthetic, k).copy() for k in ("visits", "patients", "fvc")}
    table = tables[table_name]
    if table_name == "patients":
        table["died"] = False
        table["death_months"] = np.nan
        for c in ("sex", "onset_site", "study_arm", "race"):
            table[c] = table[c].astype(object)
    table[column] = table[column].astype(object)
    table.loc[0, column] = value
    with pytest.raises(InputError, match=message):
        write_proact(ProactData(**tables), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert leftovers(tmp_path) == []


def test_writer_refuses_non_empty_directory(tmp_path, synthetic):
    target = tmp_path / "out"
    target.mkdir()
    write_proact(synthetic, target)  # an empty directory is fine
    (target / "keep.txt").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        write_proact(synthetic, target)
    assert (target / "keep.txt").exists()
    write_proact(synthetic, target, overwrite=True)
    assert not (target / "keep.txt").exists()
    assert_same(read_proact(target), synthetic)
    assert leftovers(tmp_path) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        write_proact(synthetic, tmp_path / "file")
    with pytest.raises(InputError, match="respiratory_spelling"):
        write_proact(synthetic, tmp_path / "x", respiratory_spelling="R-1")


def test_writer_is_atomic_when_writing_fails(tmp_path, synthetic, monkeypatch):
    target = tmp_path / "out"
    write_proact(synthetic, target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    calls = {"n": 0}
    original = pd.DataFrame.to_csv

    def failing_to_csv(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing_to_csv)
    with pytest.raises(OSError, match="disk full"):
        write_proact(make_synthetic_proact(n_subjects=4, seed=2), target, overwrite=True)
    calls["n"] = 0
    with pytest.raises(OSError, match="disk full"):
        write_proact(synthetic, tmp_path / "new")
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before  # untouched
    assert not (tmp_path / "new").exists()
    assert leftovers(tmp_path) == []


def test_empty_tables_round_trip(tmp_path):
    data = ProactData.empty()
    write_proact(data, tmp_path / "o")
    assert_same(read_proact(tmp_path / "o"), data)
