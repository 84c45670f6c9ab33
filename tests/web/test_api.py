"""JSON API: health, accounts, teams, patients and visits, including bad input (4xx, never 500)."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import ITEMS, PATIENT, add_visit, create_patient, visit_body

API = "/api/v1"
TOMORROW = (dt.date.today() + dt.timedelta(days=1)).isoformat()


def test_health_needs_no_login(client):
    response = client.get(f"{API}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_register_me_logout(client):
    body = client.post(
        f"{API}/auth/register",
        json={"username": "carol", "password": "long enough", "display_name": "Dr C"},
    )
    assert body.status_code == 201
    data = body.json()
    assert data["user"]["username"] == "carol" and data["user"]["display_name"] == "Dr C"
    me = client.get(f"{API}/auth/me")
    assert me.status_code == 200 and me.json()["csrf_token"] == data["csrf_token"]
    out = client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": data["csrf_token"]})
    assert out.status_code == 200
    assert client.get(f"{API}/auth/me").status_code == 401


def test_login_with_the_right_password_only(client, alice):
    wrong = client.post(f"{API}/auth/login", json={"username": "alice", "password": "nope nope"})
    assert wrong.status_code == 401 and wrong.json() == {"detail": "wrong username or password"}
    ghost = client.post(f"{API}/auth/login", json={"username": "ghost", "password": "nope nope"})
    assert ghost.status_code == 401 and ghost.json() == wrong.json()
    ok = client.post(
        f"{API}/auth/login", json={"username": "alice", "password": "correct horse battery"}
    )
    assert ok.status_code == 200 and ok.json()["user"]["username"] == "alice"
    assert client.get(f"{API}/auth/me").json()["user"]["username"] == "alice"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"username": "dave", "password": "short"}, "password"),
        ({"username": "", "password": "long enough"}, "username"),
        ({"username": "has space", "password": "long enough"}, "username"),
        ({"username": "\u0430lice", "password": "long enough"}, "username"),  # Cyrillic а
        ({"username": "dave"}, "password"),
        ({"username": "dave", "password": "long enough", "admin": True}, "admin"),
    ],
)
def test_register_rejects_bad_input(client, body, where):
    response = client.post(f"{API}/auth/register", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.startswith(where)


def test_register_duplicate_username_is_409(client, alice):
    response = client.post(f"{API}/auth/register", json={"username": "alice", "password": "x" * 9})
    assert response.status_code == 409 and "taken" in response.json()["detail"]
    # a name differing only in letter case is a look-alike, taken as well
    response = client.post(f"{API}/auth/register", json={"username": "ALICE", "password": "x" * 9})
    assert response.status_code == 409 and "taken" in response.json()["detail"]


def test_malformed_json_is_422_with_one_message(alice):
    response = alice.post(
        f"{API}/patients", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "body: is not valid JSON (at character 1)"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"[1]", "application/json"), (b"label=x", "application/x-www-form-urlencoded")],
)
def test_a_body_that_is_not_an_object_names_the_body(alice, content, content_type):
    response = alice.post(
        f"{API}/patients", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("body: ")


# -- teams --------------------------------------------------------------------------------------
def test_teams_and_membership(alice, bob):
    team = alice.post(f"{API}/teams", json={"name": "Clinic A"})
    assert team.status_code == 201 and team.json()["members"] == ["alice"]
    tid = team.json()["id"]
    assert alice.post(f"{API}/teams", json={"name": "Clinic A"}).status_code == 409
    added = alice.post(f"{API}/teams/{tid}/members", json={"username": "bob"})
    assert added.status_code == 201 and added.json()["members"] == ["alice", "bob"]
    assert alice.post(f"{API}/teams/{tid}/members", json={"username": "bob"}).status_code == 409
    missing = alice.post(f"{API}/teams/{tid}/members", json={"username": "nobody"})
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]
    assert [t["name"] for t in bob.get(f"{API}/teams").json()] == ["Clinic A"]
    removed = bob.delete(f"{API}/teams/{tid}/members/bob")
    assert removed.status_code == 200 and removed.json()["members"] == ["alice"]
    assert bob.get(f"{API}/teams").json() == []
    assert bob.post(f"{API}/teams/{tid}/members", json={"username": "bob"}).status_code == 404
    assert alice.delete(f"{API}/teams/{tid}/members/bob").status_code == 404


# -- patients -----------------------------------------------------------------------------------
def test_patient_crud(alice):
    created = create_patient(alice, notes="first")
    pid = created["id"]
    assert created["version"] == 1 and created["n_visits"] == 0
    assert {k: created[k] for k in PATIENT} == PATIENT
    assert alice.get(f"{API}/patients/{pid}").json()["label"] == "P-001"
    assert [p["id"] for p in alice.get(f"{API}/patients").json()] == [pid]
    update = {**PATIENT, "label": "P-002", "ftd": True, "version": 1}
    updated = alice.put(f"{API}/patients/{pid}", json=update)
    assert updated.status_code == 200
    assert updated.json()["label"] == "P-002" and updated.json()["version"] == 2
    assert updated.json()["notes"] == ""  # PUT replaces every field
    assert alice.delete(f"{API}/patients/{pid}?version=2").status_code == 204
    assert alice.get(f"{API}/patients/{pid}").status_code == 404
    assert alice.get(f"{API}/patients").json() == []


def test_patient_list_counts_visits(alice):
    pid = create_patient(alice)["id"]
    add_visit(alice, pid, date="2024-01-10")
    add_visit(alice, pid, date="2024-04-10")
    assert alice.get(f"{API}/patients").json()[0]["n_visits"] == 2
    assert alice.get(f"{API}/patients/{pid}").json()["n_visits"] == 2


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"label": ""}, "label"),
        ({"label": "   "}, "label"),
        ({"sex": "x"}, "sex"),
        ({"birth_year": 1800}, "birth_year"),
        ({"birth_year": "1960"}, "birth_year"),
        ({"onset_date": TOMORROW}, "onset_date"),
        ({"onset_date": "2023-02-30"}, "onset_date"),
        ({"diagnosis_date": "2022-01-01"}, "is before onset_date"),
        ({"onset_region": "arm"}, "onset_region"),
        ({"genotype": "sod1"}, "genotype"),
        ({"el_escorial": "sure"}, "el_escorial"),
        ({"ftd": "maybe"}, "ftd"),
        ({"notes": "x" * 5001}, "notes"),
        ({"label": "P\x00"}, "label: contains the control character U+0000"),
        ({"notes": "a\x1bb"}, "notes: contains the control character U+001B"),
        ({"team_id": 99}, "team_id"),
        ({"name": "typo"}, "name"),
    ],
)
def test_patient_bad_input_is_one_message(alice, changes, where):
    response = alice.post(f"{API}/patients", json={**PATIENT, **changes})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and where in detail
    assert alice.get(f"{API}/patients").json() == []


def test_patient_update_needs_version_and_rejects_onset_after_a_visit(alice):
    pid = create_patient(alice)["id"]
    add_visit(alice, pid, date="2024-01-10")
    missing = alice.put(f"{API}/patients/{pid}", json=PATIENT)
    assert missing.status_code == 422 and missing.json()["detail"].startswith("version")
    late = alice.put(
        f"{API}/patients/{pid}",
        json={**PATIENT, "onset_date": "2024-02-01", "diagnosis_date": None, "version": 1},
    )
    assert late.status_code == 422 and "2024-01-10" in late.json()["detail"]


def test_stale_patient_update_is_409_and_changes_nothing(make_client, alice):
    pid = create_patient(alice)["id"]
    first = alice.put(f"{API}/patients/{pid}", json={**PATIENT, "label": "A", "version": 1})
    assert first.status_code == 200
    stale = alice.put(f"{API}/patients/{pid}", json={**PATIENT, "label": "B", "version": 1})
    assert stale.status_code == 409 and "reload" in stale.json()["detail"]
    assert alice.get(f"{API}/patients/{pid}").json()["label"] == "A"
    assert alice.delete(f"{API}/patients/{pid}?version=1").status_code == 409


def test_unknown_patient_is_404(alice):
    assert alice.get(f"{API}/patients/12345").status_code == 404
    assert alice.get(f"{API}/patients/abc").status_code == 422
    huge = alice.get(f"{API}/patients/{2**80}")
    assert huge.status_code == 422 and huge.json()["detail"].startswith("path.patient_id")
    shared = alice.post(f"{API}/patients", json={**PATIENT, "team_id": 2**80})
    assert shared.status_code == 422 and "team_id" in shared.json()["detail"]


# -- visits -------------------------------------------------------------------------------------
def test_visit_crud_and_scores(alice):
    pid = create_patient(alice)["id"]
    visit = add_visit(alice, pid)
    vid = visit["id"]
    assert visit["items"] == ITEMS and visit["total"] == sum(ITEMS)
    assert visit["domains"] == {"bulbar": 12, "fine_motor": 9, "gross_motor": 8, "respiratory": 12}
    assert alice.get(f"{API}/patients/{pid}/visits/{vid}").json()["total"] == 41
    g = visit_body(items=[4, 4, 4, 3, 1, 3, 3, 3, 2, 4, 4, 4], gastrostomy=True, version=1)
    updated = alice.put(f"{API}/patients/{pid}/visits/{vid}", json=g)
    assert updated.status_code == 200
    assert updated.json()["gastrostomy"] is True and updated.json()["total"] == 39
    assert updated.json()["version"] == 2
    stale = alice.put(f"{API}/patients/{pid}/visits/{vid}", json=g)
    assert stale.status_code == 409
    second = add_visit(alice, pid, date="2023-12-01")
    dates = [v["visit_date"] for v in alice.get(f"{API}/patients/{pid}/visits").json()]
    assert dates == ["2023-12-01", "2024-01-10"]
    assert alice.delete(f"{API}/patients/{pid}/visits/{second['id']}").status_code == 204
    assert alice.get(f"{API}/patients/{pid}/visits/{second['id']}").status_code == 404


def test_duplicate_visit_date_is_409(alice):
    pid = create_patient(alice)["id"]
    add_visit(alice, pid)
    again = alice.post(f"{API}/patients/{pid}/visits", json=visit_body())
    assert again.status_code == 409 and "2024-01-10" in again.json()["detail"]
    other = add_visit(alice, pid, date="2024-03-01")
    moved = alice.put(f"{API}/patients/{pid}/visits/{other['id']}", json=visit_body(version=1))
    assert moved.status_code == 409


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"items": [*ITEMS[:11], 5]}, "items.11"),
        ({"items": [*ITEMS[:11], -1]}, "items.11"),
        ({"items": ITEMS[:11]}, "items"),
        ({"items": [*ITEMS[:11], 2.5]}, "items.11"),
        ({"items": [*ITEMS[:11], "3"]}, "items.11"),
        ({"items": [*ITEMS[:11], True]}, "items.11"),
        ({"items": [*ITEMS[:11], None]}, "items.11"),
        ({"visit_date": TOMORROW}, "visit_date"),
        ({"visit_date": "2022-12-01"}, "onset date"),
        ({"visit_date": "yesterday"}, "visit_date"),
        ({"fvc_percent": -1}, "fvc_percent"),
        ({"fvc_percent": 250}, "fvc_percent"),
        ({"weight_kg": 0}, "weight_kg"),
        ({"nfl_pg_ml": None, "nfl_matrix": "serum"}, "nfl_matrix"),
        ({"nfl_matrix": "urine"}, "nfl_matrix"),
        ({"gastrostomy": "sometimes"}, "gastrostomy"),
    ],
)
def test_visit_bad_input_is_one_message(alice, changes, where):
    pid = create_patient(alice)["id"]
    response = alice.post(f"{API}/patients/{pid}/visits", json=visit_body(**changes))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and where in detail
    assert alice.get(f"{API}/patients/{pid}/visits").json() == []


def test_visit_of_another_patient_is_404(alice):
    p1 = create_patient(alice)["id"]
    p2 = create_patient(alice, label="P-2")["id"]
    vid = add_visit(alice, p1)["id"]
    assert alice.get(f"{API}/patients/{p2}/visits/{vid}").status_code == 404
    assert alice.delete(f"{API}/patients/{p2}/visits/{vid}").status_code == 404


def test_deleting_a_patient_deletes_its_visits(alice, app):
    from sqlalchemy import func, select

    from alsim.web.models import Visit

    pid = create_patient(alice)["id"]
    add_visit(alice, pid)
    assert alice.delete(f"{API}/patients/{pid}").status_code == 204
    with app.state.sessions() as db:
        assert db.scalar(select(func.count(Visit.id))) == 0


def test_oversized_body_is_413(alice):
    big = b"x" * (11 * 1024 * 1024)
    response = alice.post(f"{API}/import", files={"file": ("big.csv", big, "text/csv")})
    assert response.status_code == 413 and "too large" in response.json()["detail"]


@pytest.mark.parametrize("path", [f"{API}/import", "/import"])
def test_oversized_chunked_body_is_413(alice, app, path):
    """Without a Content-Length header (chunked upload) the limit holds all the same."""
    limit = app.state.settings.max_upload_bytes
    boundary = "alsimboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\nsubject_id\r\n"
    ).encode()

    def chunks():
        yield head
        for _ in range(limit // (1024 * 1024) + 2):
            yield b"x" * (1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = alice.post(
        path,
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413 and "too large" in response.text
