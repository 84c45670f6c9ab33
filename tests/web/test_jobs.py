"""alsim.web.jobs: validation of web runs, a tiny scenario run end to end, progress,
cancellation, interrupted-run recovery and experiment runs."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alsim.errors import InputError
from alsim.web import jobs
from alsim.web.models import ResearchRun, User

TINY = {
    "alsim": 1,
    "name": "tiny",
    "design": "parallel",
    "accrual": {"rate_per_month": 30},
    "schedule": {"followup_weeks": 12, "visit_every_weeks": 4},
    "regimens": [{"name": "drug", "n": 40, "allocation": [1, 1], "product": {"drr": 0.7}}],
}


# -- pure ---------------------------------------------------------------------------------------
def test_check_n_rep_caps_web_runs() -> None:
    assert jobs.check_n_rep(2000) == 2000
    with pytest.raises(InputError, match="limited to 2000 simulated trials, got 2001"):
        jobs.check_n_rep(2001)
    for bad in (0, -3, True, 2.5, "10"):
        with pytest.raises(InputError) as info:
            jobs.check_n_rep(bad)
        assert info.value.where == "n_rep"


def test_parse_scenario_text_errors_are_one_message() -> None:
    import yaml

    ok = jobs.parse_scenario_text(yaml.safe_dump(TINY))
    assert ok.name == "tiny"
    with pytest.raises(InputError) as info:
        jobs.parse_scenario_text("name: x\nregimens: [\n")
    assert str(info.value).startswith("scenario.yaml: invalid YAML at line")
    bad = {**TINY, "regimens": [{**TINY["regimens"][0], "product": {"drr": -0.3}}]}
    with pytest.raises(InputError) as info:
        jobs.parse_scenario_text(yaml.safe_dump(bad))
    assert info.value.where == "scenario.yaml: regimens[0].product.drr"
    with pytest.raises(InputError) as info:
        jobs.parse_scenario_text(yaml.safe_dump({**TINY, "bogus": 1}))
    assert info.value.where == "scenario.yaml: bogus" and "not an allowed key" in str(info.value)
    with pytest.raises(InputError) as info:
        jobs.parse_scenario_text(yaml.safe_dump({**TINY, "population": {"params": "/etc/x"}}))
    assert info.value.where == "scenario.yaml: population.params"
    with pytest.raises(InputError, match="file paths are not allowed"):
        jobs.parse_scenario_text(yaml.safe_dump({**TINY, "therapies": "t.yaml"}))
    with pytest.raises(InputError, match="is empty"):
        jobs.parse_scenario_text("")
    with pytest.raises(InputError, match="larger than"):
        jobs.parse_scenario_text("#" * (jobs.MAX_SCENARIO_BYTES + 1))


def test_bundled_examples_are_valid() -> None:
    examples = jobs.example_scenarios()
    assert "demo-platform" in examples and "tofersen-valor-28wk" in examples
    for example in examples.values():
        scenario = jobs.validate_scenario_data(example.data, example.id)
        assert scenario.name and example.title


def test_gallery_lists_every_experiment() -> None:
    from alsim.experiments import NAMES

    gallery = jobs.experiment_gallery()
    assert [e.name for e in gallery] == list(NAMES)
    assert all(e.description and e.quick_settings for e in gallery)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list]:
    target = tmp_path_factory.mktemp("runs") / "7"
    seen: list[float] = []
    summary = jobs.run_scenario(
        target, jobs.validate_scenario_data(TINY, "tiny"), n_rep=40, seed=3, progress=seen.append
    )
    return target, summary, seen


def test_run_scenario_writes_a_complete_folder(tiny_run) -> None:
    target, summary, seen = tiny_run
    names = {p.name for p in target.iterdir()}
    assert {"scenario.yaml", "manifest.json", "trials.parquet", "performance.csv"} <= names
    assert {"report.html", "summary.json", "figures"} <= names
    assert not list(target.parent.glob("*.partial"))
    assert json.loads((target / "summary.json").read_text()) == summary
    assert summary["n_rep"] == 40 and summary["seed"] == 3
    assert summary["oc_table"]["columns"][:2] == ["metric", "meaning"]
    power = next(r for r in summary["oc_table"]["rows"] if r["metric"] == "power_or_type1")
    assert "±" in power["drug"]  # estimate ± Monte Carlo SE
    perf = {(r["comparison"], r["metric"]): r for r in summary["performance"]}
    est, mcse = perf[("drug", "power_or_type1")]["est"], perf[("drug", "power_or_type1")]["mcse"]
    assert 0 <= est <= 1 and mcse == pytest.approx((est * (1 - est) / 40) ** 0.5, abs=1e-6)
    assert summary["figures"] and all((target / f).is_file() for f in summary["figures"])
    assert seen == sorted(seen) and len(seen) >= 10 and seen[-1] == 0.99


def test_same_seed_same_numbers(tiny_run, tmp_path: Path) -> None:
    _, summary, _ = tiny_run
    again = jobs.run_scenario(
        tmp_path / "x", jobs.validate_scenario_data(TINY, "tiny"), n_rep=40, seed=3
    )
    assert again["performance"] == summary["performance"]


def test_run_scenario_stopped_leaves_nothing(tmp_path: Path) -> None:
    def stop(fraction: float) -> None:
        if fraction > 0.2:
            raise jobs.RunCancelled("stop")

    with pytest.raises(jobs.RunCancelled):
        jobs.run_scenario(
            tmp_path / "1",
            jobs.validate_scenario_data(TINY, "tiny"),
            n_rep=40,
            seed=1,
            progress=stop,
        )
    assert list(tmp_path.iterdir()) == []


def test_run_gallery_experiment(tmp_path: Path) -> None:
    summary = jobs.run_gallery_experiment(tmp_path / "e", "early-detection", seed=2)
    assert summary["kind"] == "experiment" and summary["seed"] == 2
    assert summary["findings"] and summary["key_numbers"]
    assert json.loads((tmp_path / "e" / "results.json").read_text())["experiment"] == (
        "early-detection"
    )
    assert all((tmp_path / "e" / f).is_file() for f in summary["figures"])
    with pytest.raises(InputError, match="must be one of"):
        jobs.run_gallery_experiment(tmp_path / "f", "nope", seed=1)


# -- the runner (database) ----------------------------------------------------------------------
@pytest.fixture
def sessions(app: Any):
    return app.state.sessions


@pytest.fixture
def owner(sessions) -> int:
    with sessions() as db:
        user = User(username="runner", password_hash="x", display_name="runner")
        db.add(user)
        db.commit()
        return user.id


@pytest.fixture
def runner(sessions, settings):
    r = jobs.JobRunner(sessions, settings.runs_dir)
    yield r
    r.shutdown(wait=True)


def add_run(sessions, owner: int, spec: dict, *, kind="scenario", status="queued") -> int:
    with sessions() as db:
        row = ResearchRun(
            owner_id=owner,
            kind=kind,
            name="t",
            spec=json.dumps(spec),
            seed=5,
            status=status,
            progress=0.0,
            message="",
        )
        db.add(row)
        db.commit()
        return row.id


def get_run(sessions, run_id: int) -> ResearchRun:
    with sessions() as db:
        row = db.get(ResearchRun, run_id)
        db.expunge(row)
        return row


def test_runner_finishes_a_tiny_run(sessions, owner, runner, settings) -> None:
    import yaml

    run_id = add_run(sessions, owner, {"yaml": yaml.safe_dump(TINY), "n_rep": 20})
    runner.submit(run_id)
    runner.wait(run_id, timeout=120)
    row = get_run(sessions, run_id)
    assert row.status == "done", row.message
    assert row.progress == 1.0 and row.started_at and row.finished_at
    assert Path(row.result_dir) == settings.runs_dir / str(run_id)
    assert row.result_json["n_rep"] == 20 and row.result_json["seed"] == 5
    assert any(r["metric"] == "power_or_type1" for r in row.result_json["oc_table"]["rows"])


def test_runner_records_a_failure(sessions, owner, runner) -> None:
    run_id = add_run(sessions, owner, {"example": "no-such-example", "n_rep": 10})
    runner.submit(run_id)
    runner.wait(run_id, timeout=30)
    row = get_run(sessions, run_id)
    assert row.status == "failed" and "unknown example scenario" in row.message


class Blocking:
    """A stand-in for jobs.run_scenario that reports progress until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, target: Path, scenario: Any, *, n_rep: int, seed: int, progress) -> dict:
        progress(0.1)
        self.started.set()
        assert self.release.wait(30)
        progress(0.2)  # raises once the run is cancelled or the runner stops
        return {"kind": "scenario"}


def test_cancel_running_and_queued(sessions, owner, runner, monkeypatch) -> None:
    blocking = Blocking()
    monkeypatch.setattr(jobs, "run_scenario", blocking)
    first = add_run(sessions, owner, {"example": "demo-platform", "n_rep": 10})
    second = add_run(sessions, owner, {"example": "demo-platform", "n_rep": 10})
    runner.submit(first)
    runner.submit(second)  # one worker: waits in the queue
    assert blocking.started.wait(30)
    assert get_run(sessions, first).status == "running"
    assert get_run(sessions, first).progress == pytest.approx(0.1)
    assert runner.cancel(second) is True
    assert runner.cancel(first) is True
    blocking.release.set()
    runner.wait(first, timeout=30)
    runner.wait(second, timeout=30)
    for run_id in (first, second):
        row = get_run(sessions, run_id)
        assert row.status == "cancelled" and row.result_json is None
    assert get_run(sessions, second).started_at is None  # never started
    assert runner.cancel(first) is False  # already ended


def test_shutdown_interrupts_a_running_job(sessions, owner, settings, monkeypatch) -> None:
    blocking = Blocking()
    monkeypatch.setattr(jobs, "run_scenario", blocking)
    runner = jobs.JobRunner(sessions, settings.runs_dir)
    run_id = add_run(sessions, owner, {"example": "demo-platform", "n_rep": 10})
    runner.submit(run_id)
    assert blocking.started.wait(30)
    runner.shutdown(wait=False)
    blocking.release.set()
    runner.wait(run_id, timeout=30)
    row = get_run(sessions, run_id)
    assert row.status == "failed" and row.message == jobs.INTERRUPTED_MESSAGE


def test_recover_interrupted(sessions, owner, settings) -> None:
    running = add_run(sessions, owner, {"example": "demo-platform", "n_rep": 10}, status="running")
    done = add_run(sessions, owner, {"example": "demo-platform", "n_rep": 10}, status="done")
    queued = add_run(sessions, owner, {"example": "demo-platform", "n_rep": 10})
    stale = settings.runs_dir / f".{running}.abc{jobs.STAGING_SUFFIX}"
    stale.mkdir(parents=True)
    (stale / "chunk").write_text("x")
    assert jobs.recover_interrupted(sessions, settings.runs_dir) == 1
    row = get_run(sessions, running)
    assert row.status == "failed" and row.message.startswith("interrupted")
    assert row.finished_at is not None
    assert get_run(sessions, done).status == "done"
    assert get_run(sessions, queued).status == "queued"
    assert not stale.exists()
    with sessions() as db:
        statuses = list(db.scalars(select(ResearchRun.status).order_by(ResearchRun.id)))
    assert statuses == ["failed", "done", "queued"]


def test_resume_queued_after_restart(sessions, owner, runner, monkeypatch) -> None:
    calls: list[int] = []

    def quick(target, scenario, *, n_rep, seed, progress):
        calls.append(n_rep)
        progress(0.5)
        return {"kind": "scenario", "n_rep": n_rep}

    monkeypatch.setattr(jobs, "run_scenario", quick)
    run_id = add_run(sessions, owner, {"example": "demo-platform", "n_rep": 7})
    assert runner.resume_queued() == 1
    runner.wait(run_id, timeout=30)
    assert calls == [7]
    row = get_run(sessions, run_id)
    assert row.status == "done" and row.result_json == {"kind": "scenario", "n_rep": 7}


def test_wait_on_unknown_run_returns(runner) -> None:
    started = time.perf_counter()
    runner.wait(12345, timeout=5)
    assert time.perf_counter() - started < 1


def test_progress_never_goes_back(sessions, owner, runner, monkeypatch) -> None:
    seen: list[float] = []

    def jumpy(target, scenario, *, n_rep, seed, progress):
        progress(0.5)
        progress(0.3)  # an out-of-order report must not move the bar back
        seen.append(get_run(sessions, run_id).progress)
        progress(0.6)
        seen.append(get_run(sessions, run_id).progress)
        return {"kind": "scenario"}

    monkeypatch.setattr(jobs, "run_scenario", jumpy)
    run_id = add_run(sessions, owner, {"example": "demo-platform", "n_rep": 10})
    runner.submit(run_id)
    runner.wait(run_id, timeout=30)
    assert seen == [0.5, 0.6]
    assert get_run(sessions, run_id).status == "done"


def test_recover_removes_an_unrecorded_result_folder(sessions, owner, settings) -> None:
    # the server died after the folder was renamed into place but before the row said "done":
    # the run is failed, so its folder (referenced by nothing) goes too
    running = add_run(sessions, owner, {"example": "demo-platform", "n_rep": 10}, status="running")
    done = add_run(sessions, owner, {"example": "demo-platform", "n_rep": 10}, status="done")
    for run_id in (running, done):
        (settings.runs_dir / str(run_id)).mkdir(parents=True)
        (settings.runs_dir / str(run_id) / SUMMARY).write_text("{}")
    assert jobs.recover_interrupted(sessions, settings.runs_dir) == 1
    assert not (settings.runs_dir / str(running)).exists()
    assert (settings.runs_dir / str(done) / SUMMARY).is_file()


SUMMARY = jobs.SUMMARY_FILE


def test_web_runs_are_bounded_in_size(tmp_path: Path) -> None:
    # n_rep alone does not bound the work: 50 regimens of 100 000 patients are a valid scenario
    big = {**TINY, "regimens": [{**TINY["regimens"][0], "n": 100_000}]}
    scenario = jobs.validate_scenario_data(big, "big")
    with pytest.raises(InputError, match="web runs are limited to") as info:
        jobs.run_scenario(tmp_path / "big", scenario, n_rep=2000, seed=1)
    assert info.value.where == "n_rep"
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []
    for example in jobs.example_scenarios().values():  # every bundled example fits at 2000
        jobs.check_web_size(jobs.validate_scenario_data(example.data, example.id), 2000)
