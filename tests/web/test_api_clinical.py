"""Clinical results through the API (summary, criteria sets, eligibility) and the audit log."""

from __future__ import annotations

import datetime as dt
import json

from conftest import ITEMS, PATIENT, add_visit, create_patient, visit_body

from alsim import DISCLAIMER

API = "/api/v1"


SECOND = [4, 3, 4, 3, 2, 3, 3, 2, 2, 4, 4, 4]


def _toolkit_inputs():
    """The record of :func:`_two_visits` as alsim.clinical.record inputs, built by hand."""
    from alsim.clinical.record import PatientInput, VisitInput

    person = PatientInput(
        onset_date=dt.date(2023, 1, 15),
        diagnosis_date=dt.date(2023, 9, 1),
        birth_year=1960,
        sex="female",
        onset_region="spinal",
        genotype="SOD1",
        el_escorial="probable",
        ftd=False,
    )
    visits = [
        VisitInput(
            visit_date=date,
            items=tuple(items),
            gastrostomy=False,
            fvc_percent=85.0,
            weight_kg=70.5,
            nfl_pg_ml=60.0,
        )
        for date, items in ((dt.date(2024, 1, 10), ITEMS), (dt.date(2024, 7, 10), SECOND))
    ]
    return person, visits


def _two_visits(client):
    pid = create_patient(client)["id"]
    add_visit(client, pid, date="2024-01-10")
    add_visit(client, pid, date="2024-07-10", items=SECOND)
    return pid


def _json(value):
    from alsim.web.records import json_safe

    return json.loads(json.dumps(json_safe(value)))


def test_summary_comes_from_the_clinical_toolkit(alice):
    from alsim.clinical.record import summarize_record

    pid = _two_visits(alice)
    response = alice.get(f"{API}/patients/{pid}/summary")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["patient_id"] == pid and body["disclaimer"] == DISCLAIMER
    person, visits = _toolkit_inputs()
    expected = summarize_record(person, visits, today=dt.date.today()).to_dict()
    assert body["summary"] == _json(expected)


def test_summary_of_a_patient_without_visits_is_not_an_error(alice):
    pid = create_patient(alice, onset_date=None, diagnosis_date=None)["id"]
    response = alice.get(f"{API}/patients/{pid}/summary")
    assert response.status_code == 200, response.text


def test_builtin_criteria_sets_are_listed_and_read_only(alice):
    sets = alice.get(f"{API}/criteria-sets").json()
    assert len(sets) >= 3 and all(c["builtin"] and c["owner_id"] is None for c in sets)
    first = sets[0]
    assert alice.get(f"{API}/criteria-sets/{first['id']}").json() == first
    change = alice.put(
        f"{API}/criteria-sets/{first['id']}",
        json={"name": "x", "spec": first["spec"], "version": first["version"]},
    )
    assert change.status_code == 403 and "copy" in change.json()["detail"]
    assert alice.delete(f"{API}/criteria-sets/{first['id']}").status_code == 403


def test_builtin_criteria_sets_follow_the_shipped_files(app):
    """A built-in set stored by an older alsim is updated at the next start, not kept stale."""
    from sqlalchemy import select

    from alsim.clinical.eligibility import builtin_criteria_sets
    from alsim.web.models import CriteriaSet
    from alsim.web.records import seed_builtin_criteria

    with app.state.sessions() as db:
        seed_builtin_criteria(db)
        row = db.scalars(select(CriteriaSet).where(CriteriaSet.owner_id.is_(None))).first()
        shipped = row.spec
        row.spec = {**shipped, "criteria": shipped["criteria"][:1]}  # as an older alsim had it
        db.commit()
        assert seed_builtin_criteria(db) == 1
        db.refresh(row)
        assert row.spec == shipped
        assert seed_builtin_criteria(db) == 0
        names = list(db.scalars(select(CriteriaSet.name).where(CriteriaSet.owner_id.is_(None))))
        assert sorted(names) == sorted(c.name for c in builtin_criteria_sets().values())


def test_criteria_set_crud_and_stale_version(alice):
    spec = alice.get(f"{API}/criteria-sets").json()[0]["spec"]
    created = alice.post(f"{API}/criteria-sets", json={"name": "Copy", "spec": spec})
    assert created.status_code == 201
    cid = created.json()["id"]
    assert created.json()["builtin"] is False
    renamed = alice.put(
        f"{API}/criteria-sets/{cid}", json={"name": "Renamed", "spec": spec, "version": 1}
    )
    assert renamed.status_code == 200 and renamed.json()["version"] == 2
    stale = alice.put(f"{API}/criteria-sets/{cid}", json={"name": "X", "spec": spec, "version": 1})
    assert stale.status_code == 409
    assert alice.get(f"{API}/criteria-sets/{cid}").json()["name"] == "Renamed"
    assert alice.delete(f"{API}/criteria-sets/{cid}?version=2").status_code == 204
    assert alice.get(f"{API}/criteria-sets/{cid}").status_code == 404


def test_invalid_criteria_set_is_one_message(alice):
    spec = alice.get(f"{API}/criteria-sets").json()[0]["spec"]
    broken = {**spec, "criteria": [{**spec["criteria"][0], "op": "≈"}]}
    response = alice.post(f"{API}/criteria-sets", json={"name": "bad", "spec": broken})
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str) and "spec" in response.json()["detail"]
    nonsense = alice.post(f"{API}/criteria-sets", json={"name": "bad", "spec": {"x": 1}})
    assert nonsense.status_code == 422


def test_eligibility_check_matches_the_toolkit(alice):
    from alsim.clinical.eligibility import check_eligibility, load_criteria_set, patient_facts
    from alsim.clinical.record import summarize_record
    from alsim.web.records import as_dict

    pid = _two_visits(alice)
    person, visits = _toolkit_inputs()
    today = dt.date.today()
    facts = patient_facts(summarize_record(person, visits, today=today), person, today=today)
    sets = alice.get(f"{API}/criteria-sets").json()
    assert sets
    for criteria in sets:
        response = alice.post(f"{API}/patients/{pid}/eligibility/{criteria['id']}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["criteria_set_id"] == criteria["id"] and body["disclaimer"] == DISCLAIMER
        result = check_eligibility(load_criteria_set(criteria["spec"], where="test"), facts)
        assert body["result"] == _json(as_dict(result))
    assert alice.post(f"{API}/patients/{pid}/eligibility/9999").status_code == 404
    assert alice.post(f"{API}/patients/9999/eligibility/{sets[0]['id']}").status_code == 404


def test_audit_log_records_every_change_with_before_and_after(alice):
    pid = create_patient(alice)["id"]
    vid = add_visit(alice, pid)["id"]
    alice.put(f"{API}/patients/{pid}", json={**PATIENT, "label": "renamed", "version": 1})
    alice.put(f"{API}/patients/{pid}/visits/{vid}", json=visit_body(fvc_percent=70.0, version=1))
    # a rejected change writes nothing
    stale = alice.put(f"{API}/patients/{pid}", json={**PATIENT, "version": 1})
    assert stale.status_code == 409
    alice.delete(f"{API}/patients/{pid}/visits/{vid}")
    events = alice.get(f"{API}/patients/{pid}/audit").json()
    assert [(e["action"], e["entity"]) for e in events] == [
        ("create", "patient"),
        ("create", "visit"),
        ("update", "patient"),
        ("update", "visit"),
        ("delete", "visit"),
    ]
    assert all(e["username"] == "alice" and e["patient_id"] == pid for e in events)
    update = events[2]
    assert update["before"]["label"] == "P-001" and update["after"]["label"] == "renamed"
    assert events[3]["before"]["fvc_percent"] == 85.0 and events[3]["after"]["fvc_percent"] == 70.0
    assert events[4]["after"] is None and events[4]["before"]["id"] == vid
    assert events[0]["before"] is None
