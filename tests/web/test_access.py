"""Access control: each user sees only their own patients (or their team's); another user's
patient is 404 on every route, and nothing of it changes."""

from __future__ import annotations

from conftest import PATIENT, add_visit, create_patient, visit_body

API = "/api/v1"


def _alice_patient(alice):
    patient = create_patient(alice)
    visit = add_visit(alice, patient["id"])
    return patient["id"], visit["id"]


def test_bob_cannot_read_alices_patient(alice, bob):
    pid, vid = _alice_patient(alice)
    assert bob.get(f"{API}/patients").json() == []
    for path in (
        f"/patients/{pid}",
        f"/patients/{pid}/visits",
        f"/patients/{pid}/visits/{vid}",
        f"/patients/{pid}/summary",
        f"/patients/{pid}/audit",
        f"/patients/{pid}/export?format=csv",
        f"/patients/{pid}/export?format=proact",
    ):
        response = bob.get(f"{API}{path}")
        assert response.status_code == 404, path
        assert response.json()["detail"] == f"patient {pid} not found"
    assert "P-001" not in bob.get(f"{API}/export?format=csv").text


def test_bob_cannot_change_alices_patient(alice, bob):
    pid, vid = _alice_patient(alice)
    before = alice.get(f"{API}/patients/{pid}").json()
    visits = alice.get(f"{API}/patients/{pid}/visits").json()
    calls = [
        ("PUT", f"/patients/{pid}", {**PATIENT, "label": "mine", "version": 1}),
        ("DELETE", f"/patients/{pid}", None),
        ("POST", f"/patients/{pid}/visits", visit_body(date="2024-06-01")),
        ("PUT", f"/patients/{pid}/visits/{vid}", visit_body(version=1)),
        ("DELETE", f"/patients/{pid}/visits/{vid}", None),
        ("POST", f"/patients/{pid}/eligibility/1", None),
    ]
    for method, path, body in calls:
        response = bob.request(method, f"{API}{path}", json=body)
        assert response.status_code == 404, (method, path, response.text)
    assert alice.get(f"{API}/patients/{pid}").json() == before
    assert alice.get(f"{API}/patients/{pid}/visits").json() == visits


def test_team_members_share_patients(alice, bob, login):
    carol = login("carol")
    team = alice.post(f"{API}/teams", json={"name": "ALS clinic"}).json()
    alice.post(f"{API}/teams/{team['id']}/members", json={"username": "bob"})
    pid, vid = _alice_patient(alice)
    assert bob.get(f"{API}/patients/{pid}").status_code == 404
    shared = alice.put(
        f"{API}/patients/{pid}", json={**PATIENT, "team_id": team["id"], "version": 1}
    )
    assert shared.status_code == 200
    assert [p["id"] for p in bob.get(f"{API}/patients").json()] == [pid]
    edited = bob.put(f"{API}/patients/{pid}/visits/{vid}", json=visit_body(version=1))
    assert edited.status_code == 200
    add_visit(bob, pid, date="2024-05-01")
    # members may edit but not delete the patient or move it to another team
    assert bob.delete(f"{API}/patients/{pid}").status_code == 403
    moved = bob.put(f"{API}/patients/{pid}", json={**PATIENT, "team_id": None, "version": 2})
    assert moved.status_code == 403
    assert carol.get(f"{API}/patients/{pid}").status_code == 404
    # leaving the team hides the patient again
    bob.delete(f"{API}/teams/{team['id']}/members/bob")
    assert bob.get(f"{API}/patients/{pid}").status_code == 404


def test_sharing_needs_membership(alice, bob):
    team = bob.post(f"{API}/teams", json={"name": "Bob's"}).json()
    response = alice.post(f"{API}/patients", json={**PATIENT, "team_id": team["id"]})
    assert response.status_code == 422 and "not a member" in response.json()["detail"]


def test_criteria_sets_are_private(alice, bob):
    spec = alice.get(f"{API}/criteria-sets").json()[0]["spec"]
    mine = alice.post(f"{API}/criteria-sets", json={"name": "mine", "spec": spec})
    assert mine.status_code == 201
    cid = mine.json()["id"]
    assert cid not in [c["id"] for c in bob.get(f"{API}/criteria-sets").json()]
    assert bob.get(f"{API}/criteria-sets/{cid}").status_code == 404
    assert (
        bob.put(
            f"{API}/criteria-sets/{cid}", json={"name": "x", "spec": spec, "version": 1}
        ).status_code
        == 404
    )
    assert bob.delete(f"{API}/criteria-sets/{cid}").status_code == 404
    pid = create_patient(bob)["id"]
    assert bob.post(f"{API}/patients/{pid}/eligibility/{cid}").status_code == 404
    # the pages too: neither shown, copied nor edited (never silently another set)
    for url in (
        f"/patients/{pid}/eligibility?set={cid}",
        f"/criteria/new?copy={cid}",
        f"/criteria/{cid}/edit",
    ):
        response = bob.get(url)
        assert response.status_code == 404, url
        assert "mine" not in response.text
    for url in (f"/patients/{pid}/eligibility?set={2**70}", f"/criteria/new?copy={2**70}"):
        assert bob.get(url).status_code == 422, url


def test_audit_of_a_reused_patient_id_hides_the_deleted_patients_history(alice, bob):
    """SQLite reuses a deleted patient's id: the new patient's audit must not show the old one."""
    old = create_patient(alice, label="ALICE-SECRET", notes="private notes")
    add_visit(alice, old["id"])
    assert alice.delete(f"/api/v1/patients/{old['id']}").status_code == 204
    new = create_patient(bob, label="bob's")
    events = bob.get(f"/api/v1/patients/{new['id']}/audit").json()
    assert "ALICE-SECRET" not in str(events) and "private notes" not in str(events)
    assert [e["action"] for e in events] == ["create"]
