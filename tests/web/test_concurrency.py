"""Many simultaneous writes against a real server (uvicorn, SQLite file): nothing is lost.

8 threads x 25 write operations at once, over 4 accounts sharing a team: creating patients,
adding visits, and read-modify-write updates of one shared patient that retry on 409. Afterwards
every record is present, the shared patient holds every update (no lost update), the audit log
has exactly one event per successful change, and no request got a 5xx.
"""

from __future__ import annotations

import threading
from collections import Counter

import httpx
from conftest import PASSWORD, PATIENT, visit_body
from sqlalchemy import func, select

from alsim.web.models import AuditEvent, Visit

API = "/api/v1"
THREADS = 8
WRITES = 25


def _session(url: str, username: str, *, register: bool) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    path = "register" if register else "login"
    response = client.post(f"{API}/auth/{path}", json={"username": username, "password": PASSWORD})
    assert response.status_code in (200, 201), response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def test_simultaneous_writes_lose_nothing(live_server):
    url = live_server.url
    users = [f"user{k}" for k in range(4)]
    owner = _session(url, users[0], register=True)
    for name in users[1:]:
        _session(url, name, register=True).close()
    team = owner.post(f"{API}/teams", json={"name": "ward"}).json()
    for name in users[1:]:
        owner.post(f"{API}/teams/{team['id']}/members", json={"username": name})
    shared = owner.post(f"{API}/patients", json={**PATIENT, "team_id": team["id"]}).json()
    clients = [_session(url, users[k % 4], register=False) for k in range(THREADS)]
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    errors: list[str] = []
    barrier = threading.Barrier(THREADS)

    def note(response: httpx.Response) -> httpx.Response:
        with lock:
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                errors.append(response.text)
        return response

    def work(k: int) -> None:
        client = clients[k]
        barrier.wait()
        for i in range(WRITES):
            if i % 5 == 0:  # read-modify-write on the shared patient, retrying on 409
                while True:
                    current = note(client.get(f"{API}/patients/{shared['id']}")).json()
                    body = {key: current[key] for key in (*PATIENT, "notes", "team_id")}
                    body |= {
                        "notes": current["notes"] + f"t{k}-{i};",
                        "version": current["version"],
                    }
                    put = note(client.put(f"{API}/patients/{shared['id']}", json=body))
                    if put.status_code != 409:
                        assert put.status_code == 200, put.text
                        break
            else:
                made = note(
                    client.post(
                        f"{API}/patients",
                        json={**PATIENT, "label": f"t{k}-{i}", "team_id": team["id"]},
                    )
                )
                assert made.status_code == 201, made.text
                visit = note(
                    client.post(f"{API}/patients/{made.json()['id']}/visits", json=visit_body())
                )
                assert visit.status_code == 201, visit.text

    failures: list[BaseException] = []

    def guarded(k: int) -> None:
        try:
            work(k)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(k,)) for k in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures, failures[0]
    assert not errors and all(code < 500 for code in statuses), statuses

    per_thread = WRITES - WRITES // 5
    listed = owner.get(f"{API}/patients").json()
    labels = {p["label"] for p in listed}
    expected = {f"t{k}-{i}" for k in range(THREADS) for i in range(WRITES) if i % 5}
    assert expected <= labels and len(listed) == THREADS * per_thread + 1
    assert all(p["n_visits"] == 1 for p in listed if p["label"] != PATIENT["label"])
    final = owner.get(f"{API}/patients/{shared['id']}").json()
    tokens = [t for t in final["notes"].split(";") if t]
    wanted = [f"t{k}-{i}" for k in range(THREADS) for i in range(0, WRITES, 5)]
    assert sorted(tokens) == sorted(wanted)  # every update kept, none twice
    assert final["version"] == 1 + len(wanted)

    audit = owner.get(f"{API}/patients/{shared['id']}/audit").json()
    assert [e["action"] for e in audit] == ["create"] + ["update"] * len(wanted)
    with live_server.app.state.sessions() as db:
        rows = db.execute(
            select(AuditEvent.action, AuditEvent.entity, func.count()).group_by(
                AuditEvent.action, AuditEvent.entity
            )
        ).all()
        n_visits = db.scalar(select(func.count(Visit.id)))
    events = {(action, entity): n for action, entity, n in rows}
    assert events[("create", "patient")] == THREADS * per_thread + 1
    assert events[("create", "visit")] == THREADS * per_thread == n_visits
    assert events[("update", "patient")] == len(wanted)
    for client in (owner, *clients):
        client.close()
