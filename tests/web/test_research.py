"""Research API and pages: submit a run, poll until done, results; another user gets 404;
bad scenarios get one 4xx message; the experiment gallery; pages in both languages."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from alsim.web import jobs

TINY = {
    "alsim": 1,
    "name": "tiny-web",
    "design": "parallel",
    "accrual": {"rate_per_month": 30},
    "schedule": {"followup_weeks": 12, "visit_every_weeks": 4},
    "regimens": [{"name": "drug", "n": 40, "allocation": [1, 1], "product": {"drr": 0.7}}],
}


def poll(client, run_id: int, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
        time.sleep(0.2)


@pytest.fixture
def finished(alice) -> dict[str, Any]:
    r = alice.post(
        "/api/v1/runs", json={"scenario_yaml": yaml.safe_dump(TINY), "n_rep": 20, "seed": 4}
    )
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["status"] in ("queued", "running") and created["source"] == "upload"
    run = poll(alice, created["id"])
    assert run["status"] == "done", run["message"]
    return run


def test_submit_poll_results(alice, finished) -> None:
    assert finished["progress"] == 1.0 and finished["n_rep"] == 20 and finished["seed"] == 4
    assert finished["name"] == "tiny-web"
    r = alice.get(f"/api/v1/runs/{finished['id']}/results")
    assert r.status_code == 200
    results = r.json()["results"]
    assert results["scenario_name"] == "tiny-web" and results["n_rep"] == 20
    rows = {row["metric"]: row for row in results["oc_table"]["rows"]}
    assert "±" in rows["power_or_type1"]["drug"]
    assert [run["id"] for run in alice.get("/api/v1/runs").json()] == [finished["id"]]
    figure = alice.get(f"/research/runs/{finished['id']}/files/{results['figures'][0]}")
    assert figure.status_code == 200
    assert figure.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in figure.content
    report = alice.get(f"/research/runs/{finished['id']}/files/report.html")
    assert report.status_code == 200 and "tiny-web" in report.text
    # one finished run serves the checks below (each run costs seconds)
    check_files_only_listed_ones(alice, finished)
    check_cancel_finished_run_is_409(alice, finished)
    check_pages(alice, finished)


def test_other_user_gets_404(alice, bob, finished) -> None:
    run_id = finished["id"]
    for path in (
        f"/api/v1/runs/{run_id}",
        f"/api/v1/runs/{run_id}/results",
    ):
        r = bob.get(path)
        assert r.status_code == 404 and r.json()["detail"] == f"research run {run_id} not found"
    assert bob.post(f"/api/v1/runs/{run_id}/cancel").status_code == 404
    assert bob.get("/api/v1/runs").json() == []
    assert bob.get(f"/research/runs/{run_id}").status_code == 404
    assert bob.get(f"/research/runs/{run_id}/files/report.html").status_code == 404


def check_files_only_listed_ones(alice, finished) -> None:
    run_id = finished["id"]
    for name in ("trials.parquet", "figures/nope.svg", "chunks/x", "..%2F..%2Falsim.db"):
        assert alice.get(f"/research/runs/{run_id}/files/{name}").status_code == 404
    # a dotted path is normalised by the client and matches no file route
    r = alice.get(f"/research/runs/{run_id}/files/../../alsim.db")
    assert r.status_code in (404, 422) and b"SQLite" not in r.content


def check_cancel_finished_run_is_409(alice, finished) -> None:
    r = alice.post(f"/api/v1/runs/{finished['id']}/cancel")
    assert r.status_code == 409 and "already ended (done)" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"scenario_yaml": "name: x\nregimens: [\n"}, 422, "scenario.yaml: invalid YAML at line"),
        (
            {"scenario_yaml": yaml.safe_dump({**TINY, "accrual": {"rate_per_month": -1}})},
            422,
            "scenario.yaml: accrual.rate_per_month",
        ),
        (
            {"scenario_yaml": yaml.safe_dump({**TINY, "population": {"params": "/etc/passwd"}})},
            422,
            "population.params: file paths are not allowed",
        ),
        ({"example": "demo-platform", "n_rep": 5000}, 422, "limited to 2000 simulated trials"),
        ({"example": "nope"}, 422, "example: unknown example 'nope'"),
        ({}, 422, "give exactly one of them"),
        ({"example": "demo-platform", "scenario_yaml": "x: 1"}, 422, "give exactly one"),
        ({"example": "demo-platform", "n_rep": "many"}, 422, "n_rep"),
        (
            {
                "scenario_yaml": yaml.safe_dump(
                    {**TINY, "regimens": [{**TINY["regimens"][0], "n": 100_000}]}
                ),
                "n_rep": 2000,
            },
            422,
            "web runs are limited to 100,000,000",
        ),
    ],
)
def test_bad_input_is_one_message(alice, body, status, text) -> None:
    r = alice.post("/api/v1/runs", json=body)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and text in detail
    assert alice.get("/api/v1/runs").json() == []  # nothing was queued


def test_auth_and_csrf(client, alice) -> None:
    assert client.get("/api/v1/runs").status_code == 401
    assert client.get("/api/v1/experiments").status_code == 401
    token = alice.headers.pop("X-CSRF-Token")
    try:
        r = alice.post("/api/v1/runs", json={"example": "demo-platform", "n_rep": 5})
        assert r.status_code == 403
    finally:
        alice.headers["X-CSRF-Token"] = token


def test_examples_and_gallery(alice) -> None:
    examples = {e["id"]: e for e in alice.get("/api/v1/scenarios/examples").json()}
    assert set(examples) == set(jobs.example_scenarios())
    gallery = alice.get("/api/v1/experiments").json()
    assert [g["name"] for g in gallery][:2] == ["heterogeneity", "combination"]
    assert alice.post("/api/v1/experiments/nope/runs", json={"seed": 1}).status_code == 404
    assert alice.post("/api/v1/experiments/combination/runs", json={"seed": -1}).status_code == 422


def test_experiment_run(alice) -> None:
    r = alice.post("/api/v1/experiments/early-detection/runs", json={"seed": 3})
    assert r.status_code == 202, r.text
    run = poll(alice, r.json()["id"])
    assert run["status"] == "done" and run["kind"] == "experiment" and run["seed"] == 3
    results = alice.get(f"/api/v1/runs/{run['id']}/results").json()["results"]
    assert results["experiment"] == "early-detection" and results["findings"]
    page = alice.get(f"/research/runs/{run['id']}")
    assert page.status_code == 200 and results["title"] in page.text


def check_pages(alice, finished) -> None:
    index = alice.get("/research")
    assert index.status_code == 200 and "tiny-web" in index.text and "demo-platform" in index.text
    page = alice.get(f"/research/runs/{finished['id']}")
    assert page.status_code == 200
    assert 'id="oc-table"' in page.text and "±" in page.text
    assert f"/research/runs/{finished['id']}/files/figures/figure-1.svg" in page.text
    assert "Refresh" not in page.headers  # finished: no auto-refresh
    zh = alice.get(f"/research/runs/{finished['id']}?lang=zh")
    assert zh.status_code == 200 and "运行特性" in zh.text
    assert "P(宣布成功)" in zh.text  # the metrics' meanings are translated too
    gallery = alice.get("/research/experiments")
    assert gallery.status_code == 200 and "early-detection" in gallery.text


def test_page_forms(alice, monkeypatch) -> None:
    token = alice.headers["X-CSRF-Token"]
    r = alice.post(
        "/research/runs",
        data={
            "csrf_token": token,
            "source": "upload",
            "scenario_yaml": "regimens: [\n",
            "n_rep": "10",
            "seed": "1",
        },
    )
    assert r.status_code == 422 and "invalid YAML at line" in r.text
    r = alice.post(
        "/research/runs",
        files={"scenario_file": ("s.yaml", yaml.safe_dump(TINY).encode(), "text/yaml")},
        data={"csrf_token": token, "source": "upload", "n_rep": "10", "seed": "2"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    run_id = int(location.rsplit("/", 1)[1])
    page = alice.get(location)
    assert page.status_code == 200
    assert poll(alice, run_id)["status"] == "done"
    assert 'id="oc-table"' in alice.get(location).text


def test_page_shows_progress_and_refreshes(alice, monkeypatch) -> None:
    import threading

    release = threading.Event()

    def slow(target, scenario, *, n_rep, seed, progress):
        progress(0.4)
        assert release.wait(30)
        progress(0.9)
        return {"kind": "scenario"}

    monkeypatch.setattr(jobs, "run_scenario", slow)
    run_id = alice.post("/api/v1/runs", json={"example": "demo-platform", "n_rep": 10}).json()["id"]
    deadline = time.monotonic() + 30
    while alice.get(f"/api/v1/runs/{run_id}").json()["progress"] < 0.4:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    page = alice.get(f"/research/runs/{run_id}")
    assert page.headers.get("Refresh") == "2"
    assert 'id="run-progress"' in page.text and 'value="0.4"' in page.text
    token = alice.headers["X-CSRF-Token"]
    r = alice.post(
        f"/research/runs/{run_id}/cancel", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    release.set()
    assert poll(alice, run_id)["status"] == "cancelled"
    # the fixed message goes through its i18n key (English until the catalogue has it)
    page = alice.get(f"/research/runs/{run_id}")
    assert jobs.MESSAGE_KEYS[jobs.CANCELLED_MESSAGE] == "research.message.cancelled"
    assert 'id="run-message">cancelled by the user<' in page.text


def test_oversized_upload_says_too_large(alice) -> None:
    # the cut at the size limit may fall inside a UTF-8 character: still "too large"
    token = alice.headers["X-CSRF-Token"]
    text = "#" * jobs.MAX_SCENARIO_BYTES + "é" * 10
    r = alice.post(
        "/research/runs",
        files={"scenario_file": ("s.yaml", text.encode(), "text/yaml")},
        data={"csrf_token": token, "source": "upload", "n_rep": "10", "seed": "2"},
        follow_redirects=False,
    )
    assert r.status_code == 422 and "larger than 100 kB" in r.text
    assert alice.get("/api/v1/runs").json() == []


def test_files_stay_inside_the_run_folder(alice, app, settings) -> None:
    # even a listed name (from a stored summary) never reaches outside the run's folder
    from alsim.web.models import ResearchRun, User

    (settings.runs_dir / "secret.txt").parent.mkdir(parents=True, exist_ok=True)
    (settings.runs_dir / "secret.txt").write_text("secret")
    folder = settings.runs_dir / "99"
    folder.mkdir()
    (folder / "report.html").write_text("<p>ok</p>")
    with app.state.sessions() as db:
        owner = db.query(User).filter_by(username="alice").one()
        row = ResearchRun(
            owner_id=owner.id,
            kind="scenario",
            name="t",
            spec="{}",
            seed=1,
            status="done",
            progress=1.0,
            message="",
            result_dir=str(folder),
            result_json={"figures": [], "files": ["report.html", "../secret.txt"]},
        )
        db.add(row)
        db.commit()
        run_id = row.id
    assert alice.get(f"/research/runs/{run_id}/files/report.html").status_code == 200
    r = alice.get(f"/research/runs/{run_id}/files/..%2Fsecret.txt")
    assert r.status_code == 404 and "secret" != r.text
