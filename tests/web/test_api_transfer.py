"""Export (tidy CSV, PRO-ACT zip) and import (all or nothing; errors name row and column)."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest
from conftest import add_visit, create_patient

from alsim.clinical.tidy import read_visits_csv, score_visits

API = "/api/v1"
KEYS = ("visit_date", "items", "gastrostomy", "fvc_percent", "weight_kg", "nfl_pg_ml", "nfl_matrix")
PATIENT_KEYS = (
    "label", "sex", "birth_year", "onset_date", "diagnosis_date", "onset_region", "genotype",
    "el_escorial", "ftd", "notes",
)  # fmt: skip


def _record(client, pid):
    patient = client.get(f"{API}/patients/{pid}").json()
    visits = client.get(f"{API}/patients/{pid}/visits").json()
    return {k: patient[k] for k in PATIENT_KEYS}, [{k: v[k] for k in KEYS} for v in visits]


def _fill(client):
    p1 = create_patient(client, notes='said "hello", left')["id"]
    add_visit(client, p1, date="2024-01-10")
    add_visit(
        client,
        p1,
        date="2024-04-10",
        items=[4, 3, 4, 3, 2, 3, 3, 2, 2, 4, 4, 4],
        gastrostomy=True,
        nfl_pg_ml=None,
        nfl_matrix=None,
        weight_kg=None,
    )
    p2 = create_patient(client, label="P-002", sex=None, genotype=None, birth_year=None)["id"]
    p3 = create_patient(client, label="no visits", onset_date=None, diagnosis_date=None)["id"]
    return [p1, p2, p3]


def _upload(client, data, name="x.csv", **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.post(f"{API}/import?{query}", files={"file": (name, data, "text/plain")})


def test_csv_export_is_scoreable_by_the_clinical_toolkit(alice, tmp_path):
    pid = _fill(alice)[0]
    response = alice.get(f"{API}/patients/{pid}/export?format=csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    path = tmp_path / "p.csv"
    path.write_bytes(response.content)
    scores = score_visits(read_visits_csv(path))
    assert scores["total"].tolist() == [41, 38]
    assert scores["gastrostomy"].tolist() == [False, True]
    assert scores["months_since_onset"].iloc[0] == pytest.approx((360) / 30.4375)


def test_csv_round_trip(alice, bob):
    ids = _fill(alice)
    exported = alice.get(f"{API}/export?format=csv")
    assert exported.status_code == 200
    imported = _upload(bob, exported.content)
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert body["patients"] == 3 and body["visits"] == 2
    for old, new in zip(ids, body["patient_ids"], strict=True):
        assert _record(bob, new) == _record(alice, old)
    audit = bob.get(f"{API}/patients/{body['patient_ids'][0]}/audit").json()
    assert [e["action"] for e in audit] == ["import"] and len(audit[0]["after"]["visits"]) == 2


def _csv(rows):
    header = "subject_id,onset_date,visit_date,q1_speech,q2_salivation,q3_swallowing,q4_handwriting,q5a_cutting_without_gastrostomy,q6_dressing_hygiene,q7_turning_in_bed,q8_walking,q9_climbing_stairs,r1_dyspnea,r2_orthopnea,r3_respiratory_insufficiency,fvc_percent"
    return ("\n".join([header, *rows]) + "\n").encode()


GOOD = "A,2023-01-01,2024-01-01,4,4,4,4,4,4,4,4,4,4,4,4,90"


@pytest.mark.parametrize(
    ("row", "where"),
    [
        (
            "B,2023-01-01,2024-01-01,4,4,4,4,5,4,4,4,4,4,4,4,90",
            "row 2, q5a_cutting_without_gastrostomy",
        ),
        (
            "B,2023-01-01,2024-01-01,4,4,4,4,4,4,4,4,4,4,4,,90",
            "row 2, r3_respiratory_insufficiency",
        ),
        ("B,2023-01-01,2024-01-01,4,4,4,4,4,4,4,4,4,4,4,4,lots", "row 2, fvc_percent"),
        ("B,2023-01-01,2999-01-01,4,4,4,4,4,4,4,4,4,4,4,4,90", "row 2, visit_date"),
        ("B,2025-01-01,2024-01-01,4,4,4,4,4,4,4,4,4,4,4,4,90", "visit_date"),
        ("A,2023-02-01,2024-02-01,4,4,4,4,4,4,4,4,4,4,4,4,90", "row 2, onset_date"),
        ("A,2023-01-01,2024-01-01,4,4,4,4,4,4,4,4,4,4,4,4,90", "two visits on 2024-01-01"),
        (",2023-01-01,2024-01-01,4,4,4,4,4,4,4,4,4,4,4,4,90", "row 2, subject_id"),
        ("B,2023-01-01,2024-01-01,4,4,4", "row 2"),
    ],
)
def test_csv_import_errors_name_row_and_column_and_store_nothing(alice, row, where):
    response = _upload(alice, _csv([GOOD, row]))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and where in detail, detail
    assert alice.get(f"{API}/patients").json() == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x00\x01binary", "binary"),
        (b"subject_id,shoe_size\nA,42\n", "unknown column 'shoe_size'"),
        (b"label\nA\n", "unknown column 'label'"),
    ],
)
def test_csv_import_rejects_bad_files(alice, data, message):
    response = _upload(alice, data)
    assert response.status_code == 422 and message in response.json()["detail"]


def test_proact_round_trip(alice, bob):
    ids = _fill(alice)
    exported = alice.get(f"{API}/export?format=proact")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(exported.content)).namelist()
    assert "PROACT_ALSFRS.csv" in names and "PROACT_FVC.csv" in names
    alsfrs = pd.read_csv(zipfile.ZipFile(io.BytesIO(exported.content)).open("PROACT_ALSFRS.csv"))
    assert alsfrs["ALSFRS_R_Total"].tolist() == [41, 38]
    missing_zero = _upload(bob, exported.content, name="p.zip", format="proact")
    assert missing_zero.status_code == 422 and "time_zero" in missing_zero.json()["detail"]
    imported = _upload(bob, exported.content, name="p.zip", format="proact", time_zero="2024-01-10")
    assert imported.status_code == 201, imported.text
    new = imported.json()["patient_ids"]
    old_patient, old_visits = _record(alice, ids[0])
    by_label = {bob.get(f"{API}/patients/{i}").json()["label"]: i for i in new}
    patient, visits = _record(bob, by_label["P-001"])
    assert patient["onset_date"] == old_patient["onset_date"]
    assert patient["birth_year"] == old_patient["birth_year"]
    assert patient["onset_region"] == "spinal" and patient["sex"] == "female"
    assert [(v["visit_date"], v["items"], v["gastrostomy"], v["fvc_percent"]) for v in visits] == [
        (v["visit_date"], v["items"], v["gastrostomy"], v["fvc_percent"]) for v in old_visits
    ]


def test_proact_import_rejects_a_non_zip(alice):
    response = _upload(alice, b"not a zip", name="p.zip", format="proact", time_zero="2024-01-01")
    assert response.status_code == 422 and "zip" in response.json()["detail"]
    assert alice.get(f"{API}/patients").json() == []


def test_export_of_nothing_is_a_header(alice):
    response = alice.get(f"{API}/export?format=csv")
    assert response.status_code == 200 and response.text.count("\n") == 1
    assert alice.get(f"{API}/export?format=xlsx").status_code == 422
