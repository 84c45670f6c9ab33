"""Research runs and the experiment gallery: JSON API under ``/api/v1`` and pages under
``/research``.

A thin layer over :mod:`alsim.web.jobs` (which validates, runs and stores): scenario runs (a
bundled example or an uploaded scenario YAML, validated like ``alsim validate``) and gallery
experiments (:mod:`alsim.experiments` at a short size) run in the background with progress; each
user sees only their own runs (another user's run is 404). Results: the operating-characteristics
table with Monte Carlo standard errors and the figures, served from the run folder only to the
run's owner. Research and education only, not medical advice.

App hooks: :func:`startup` marks runs left ``running`` by a stopped server as failed
(``interrupted``), starts the :class:`~alsim.web.jobs.JobRunner` and requeues ``queued`` runs;
:func:`shutdown` stops it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from alsim.errors import InputError
from alsim.web import audit, jobs
from alsim.web.deps import CsrfUser, CurrentUser, Db, commit, page_user, require_csrf
from alsim.web.models import ResearchRun, User
from alsim.web.render import render
from alsim.web.schemas import IdPath, errors

router = APIRouter()

PageUser = Annotated[User, Depends(page_user)]
Csrf = Depends(require_csrf)

#: Seconds between automatic reloads of a run page while the run is queued or running.
REFRESH_SECONDS = 2
ACTIVE = ("queued", "running")


# -- schemas ------------------------------------------------------------------------------------
class RunIn(BaseModel):
    """A scenario run: exactly one of ``example`` (an id from ``/api/v1/scenarios/examples``)
    or ``scenario_yaml`` (the text of a scenario file)."""

    model_config = ConfigDict(extra="forbid")

    example: str | None = Field(default=None, max_length=100)
    scenario_yaml: str | None = Field(default=None, max_length=jobs.MAX_SCENARIO_BYTES)
    n_rep: int = Field(default=jobs.DEFAULT_WEB_N_REP, description="1..2000 simulated trials")
    seed: int = Field(default=1, ge=0, le=2**62)


class ExperimentRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(default=1, ge=0, le=2**62)


class RunOut(BaseModel):
    id: int
    kind: Literal["scenario", "experiment"]
    name: str
    seed: int | None
    n_rep: int | None
    source: str  # example id, "upload" or the experiment name
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float
    message: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class ResultsOut(BaseModel):
    run: RunOut
    results: dict[str, Any]


class ExampleOut(BaseModel):
    id: str
    title: str
    description: str


class ExperimentOut(BaseModel):
    name: str
    description: str
    quick_settings: dict[str, Any]


# -- helpers ------------------------------------------------------------------------------------
def get_runner(app: FastAPI) -> jobs.JobRunner:
    """The app's job runner (created on first use if the lifespan hook did not run)."""
    runner = getattr(app.state, "research_jobs", None)
    if runner is None:
        runner = app.state.research_jobs = jobs.JobRunner(
            app.state.sessions, app.state.settings.runs_dir
        )
    return runner


def startup(app: FastAPI) -> None:
    """Lifespan hook: recover interrupted runs, start the runner, requeue queued runs."""
    if getattr(app.state, "research_jobs", None) is not None:
        return  # already started (several test clients share one app)
    jobs.recover_interrupted(app.state.sessions, app.state.settings.runs_dir)
    get_runner(app).resume_queued()


def shutdown(app: FastAPI) -> None:
    """Lifespan hook: stop the runner (unfinished runs are recovered at the next start)."""
    runner = getattr(app.state, "research_jobs", None)
    if runner is not None:
        runner.shutdown(wait=False)
        app.state.research_jobs = None


def _spec(row: ResearchRun) -> dict[str, Any]:
    try:
        spec = json.loads(row.spec)
    except (TypeError, ValueError):
        return {}
    return spec if isinstance(spec, dict) else {}


def run_out(row: ResearchRun) -> RunOut:
    spec = _spec(row)
    if row.kind == "experiment":
        source = str(spec.get("experiment", row.name))
    else:
        source = str(spec.get("example") or "upload")
    return RunOut(
        id=row.id,
        kind=row.kind,  # type: ignore[arg-type]
        name=row.name,
        seed=row.seed,
        n_rep=spec.get("n_rep"),
        source=source,
        status=row.status,  # type: ignore[arg-type]
        progress=float(row.progress or 0.0),
        message=row.message or "",
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def own_run(db: Session, user: User, run_id: int) -> ResearchRun:
    """The run if it belongs to ``user``, else 404 (another user's run is not revealed)."""
    row = db.get(ResearchRun, run_id)
    if row is None or row.owner_id != user.id:
        raise HTTPException(404, f"research run {run_id} not found")
    return row


def _queue(db: Session, user: User, request: Request, **fields: Any) -> ResearchRun:
    row = ResearchRun(owner_id=user.id, status="queued", progress=0.0, message="", **fields)
    db.add(row)
    db.flush()
    audit.record(
        db,
        user,
        "create",
        "research_run",
        row.id,
        after={"kind": row.kind, "name": row.name, "seed": row.seed},
    )
    commit(db)
    get_runner(request.app).submit(row.id)
    return row


def submit_scenario(
    db: Session,
    user: User,
    request: Request,
    *,
    example: str | None,
    scenario_yaml: str | None,
    n_rep: int,
    seed: int,
) -> ResearchRun:
    """Validate and queue a scenario run; 422 with one message naming the problem."""
    try:
        if (example is None) == (scenario_yaml is None):
            raise InputError("example/scenario_yaml", "give exactly one of them")
        n_rep = jobs.check_n_rep(n_rep)
        seed = jobs.check_seed(seed)
        if example is not None:
            examples = jobs.example_scenarios()
            if example not in examples:
                raise InputError(
                    "example", f"unknown example {example!r}; one of {', '.join(examples)}"
                )
            scenario = jobs.validate_scenario_data(examples[example].data, f"{example}.yaml")
            spec = {"example": example, "n_rep": n_rep}
        else:
            assert scenario_yaml is not None
            scenario = jobs.parse_scenario_text(scenario_yaml)
            spec = {"yaml": scenario_yaml, "n_rep": n_rep}
        jobs.check_web_size(scenario, n_rep)
    except InputError as err:
        raise HTTPException(422, str(err)) from None
    return _queue(
        db,
        user,
        request,
        kind="scenario",
        name=str(scenario.name)[:200],
        spec=json.dumps(spec),
        seed=seed,
    )


def submit_experiment(
    db: Session, user: User, request: Request, *, name: str, seed: int
) -> ResearchRun:
    """Queue a gallery experiment run (404 for an unknown experiment)."""
    if name not in {entry.name for entry in jobs.experiment_gallery()}:
        raise HTTPException(404, f"experiment {name!r} not found")
    try:
        seed = jobs.check_seed(seed)
    except InputError as err:
        raise HTTPException(422, str(err)) from None
    return _queue(
        db,
        user,
        request,
        kind="experiment",
        name=name,
        spec=json.dumps({"experiment": name}),
        seed=seed,
    )


def cancel_run(db: Session, user: User, request: Request, run_id: int) -> ResearchRun:
    """Cancel one of ``user``'s runs (404 if not theirs, 409 if it has ended)."""
    row = own_run(db, user, run_id)
    if row.status not in ACTIVE:
        raise HTTPException(409, f"research run {run_id} has already ended ({row.status})")
    audit.record(db, user, "cancel", "research_run", run_id, before={"status": row.status})
    # one transaction with the audit event (the request's session holds SQLite's write lock)
    if not get_runner(request.app).cancel(run_id, db=db):
        db.refresh(row)
        raise HTTPException(409, f"research run {run_id} has already ended ({row.status})")
    db.refresh(row)
    return row


def _my_runs(db: Session, user: User) -> list[ResearchRun]:
    return list(
        db.scalars(
            select(ResearchRun)
            .where(ResearchRun.owner_id == user.id)
            .order_by(ResearchRun.id.desc())
        )
    )


def _results(row: ResearchRun) -> dict[str, Any]:
    if row.status != "done" or not isinstance(row.result_json, dict):
        raise HTTPException(409, f"research run {row.id} has no results yet (status {row.status})")
    return row.result_json


# -- JSON API -----------------------------------------------------------------------------------
@router.get(
    "/api/v1/scenarios/examples",
    response_model=list[ExampleOut],
    responses=errors(401),
    tags=["research"],
)
def list_examples(user: CurrentUser) -> list[ExampleOut]:
    """The bundled example scenarios a run can start from."""
    return [
        ExampleOut(id=e.id, title=e.title, description=e.description)
        for e in jobs.example_scenarios().values()
    ]


@router.post(
    "/api/v1/runs",
    response_model=RunOut,
    status_code=202,
    responses=errors(401, 403, 422),
    tags=["research"],
)
def create_run(body: RunIn, request: Request, user: CsrfUser, db: Db) -> RunOut:
    """Queue a scenario run (an example or an uploaded scenario; at most 2000 trials)."""
    row = submit_scenario(
        db,
        user,
        request,
        example=body.example,
        scenario_yaml=body.scenario_yaml,
        n_rep=body.n_rep,
        seed=body.seed,
    )
    return run_out(row)


@router.get("/api/v1/runs", response_model=list[RunOut], responses=errors(401), tags=["research"])
def list_runs(user: CurrentUser, db: Db) -> list[RunOut]:
    """Your research runs, newest first."""
    return [run_out(row) for row in _my_runs(db, user)]


@router.get(
    "/api/v1/runs/{run_id}", response_model=RunOut, responses=errors(401, 404), tags=["research"]
)
def read_run(run_id: IdPath, user: CurrentUser, db: Db) -> RunOut:
    """One of your runs: status and progress (0..1)."""
    return run_out(own_run(db, user, run_id))


@router.post(
    "/api/v1/runs/{run_id}/cancel",
    response_model=RunOut,
    responses=errors(401, 403, 404, 409),
    tags=["research"],
)
def cancel(run_id: IdPath, request: Request, user: CsrfUser, db: Db) -> RunOut:
    """Cancel a queued or running run (409 if it has ended)."""
    return run_out(cancel_run(db, user, request, run_id))


@router.get(
    "/api/v1/runs/{run_id}/results",
    response_model=ResultsOut,
    responses=errors(401, 404, 409),
    tags=["research"],
)
def run_results(run_id: IdPath, user: CurrentUser, db: Db) -> ResultsOut:
    """A finished run's results (OC table with MCSEs, performance rows, figure names);
    409 while it is not done."""
    row = own_run(db, user, run_id)
    return ResultsOut(run=run_out(row), results=_results(row))


@router.get(
    "/api/v1/experiments",
    response_model=list[ExperimentOut],
    responses=errors(401),
    tags=["research"],
)
def list_experiments(user: CurrentUser) -> list[ExperimentOut]:
    """The experiment gallery (run at a short size from the web app)."""
    return [
        ExperimentOut(name=e.name, description=e.description, quick_settings=e.quick_settings)
        for e in jobs.experiment_gallery()
    ]


@router.post(
    "/api/v1/experiments/{name}/runs",
    response_model=RunOut,
    status_code=202,
    responses=errors(401, 403, 404, 422),
    tags=["research"],
)
def create_experiment_run(
    name: str, body: ExperimentRunIn, request: Request, user: CsrfUser, db: Db
) -> RunOut:
    """Queue a run of a gallery experiment with ``seed``."""
    return run_out(submit_experiment(db, user, request, name=name, seed=body.seed))


# -- files --------------------------------------------------------------------------------------
MEDIA_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".yaml": "text/plain; charset=utf-8",
}


@router.get("/research/runs/{run_id}/files/{name:path}", include_in_schema=False)
def run_file(run_id: IdPath, name: str, request: Request, db: Db, user: PageUser) -> Response:
    """A file of your finished run (figures, report, tables); only the listed files."""
    row = own_run(db, user, run_id)
    results = _results(row)
    allowed = set(results.get("figures", [])) | set(results.get("files", []))
    if name not in allowed or row.result_dir is None:
        raise HTTPException(404, f"file {name!r} not found in run {run_id}")
    folder = Path(row.result_dir).resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(folder):  # a listed name must still stay inside the folder
        raise HTTPException(404, f"file {name!r} not found in run {run_id}")
    if not path.is_file():
        raise HTTPException(404, f"file {name!r} is missing from run {run_id}'s folder")
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"))


# -- pages --------------------------------------------------------------------------------------
def _index(
    request: Request,
    db: Session,
    user: User,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = {
        "runs": [run_out(r) for r in _my_runs(db, user)],
        "examples": list(jobs.example_scenarios().values()),
        "max_n_rep": jobs.MAX_WEB_N_REP,
        "form": form
        or {"example": "demo-platform", "n_rep": jobs.DEFAULT_WEB_N_REP, "seed": 1, "yaml": ""},
        "error": error,
    }
    response = render(request, "research_index.html", ctx, status_code=status_code)
    if any(r.status in ACTIVE for r in ctx["runs"]):
        response.headers["Refresh"] = str(REFRESH_SECONDS * 2)
    return response


@router.get("/research", include_in_schema=False)
def research_page(request: Request, db: Db, user: PageUser) -> Response:
    return _index(request, db, user)


def _int(value: str, name: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise HTTPException(422, f"{name}: must be a whole number, got {value!r}") from None


@router.post("/research/runs", include_in_schema=False, dependencies=[Csrf])
async def research_submit(
    request: Request,
    db: Db,
    user: PageUser,
    source: Annotated[str, Form()] = "example",
    example: Annotated[str, Form()] = "",
    n_rep: Annotated[str, Form()] = str(jobs.DEFAULT_WEB_N_REP),
    seed: Annotated[str, Form()] = "1",
    scenario_yaml: Annotated[str, Form()] = "",
    scenario_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    form = {"example": example, "n_rep": n_rep, "seed": seed, "yaml": scenario_yaml}
    text: str | None = None
    try:
        if source == "upload":
            if scenario_file is not None and scenario_file.filename:
                raw = await scenario_file.read(jobs.MAX_SCENARIO_BYTES + 1)
                if len(raw) > jobs.MAX_SCENARIO_BYTES:  # the cut may split a UTF-8 character
                    raise HTTPException(
                        422,
                        f"scenario file: is larger than {jobs.MAX_SCENARIO_BYTES // 1000} kB",
                    )
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise HTTPException(422, "scenario file: is not UTF-8 text") from None
            else:
                text = scenario_yaml
            if not text.strip():
                raise HTTPException(422, "scenario: choose a file or paste a scenario")
        row = submit_scenario(
            db,
            user,
            request,
            example=None if source == "upload" else (example or None),
            scenario_yaml=text,
            n_rep=_int(n_rep, "n_rep"),
            seed=_int(seed, "seed"),
        )
    except HTTPException as err:
        return _index(request, db, user, error=str(err.detail), form=form, status_code=422)
    return RedirectResponse(f"/research/runs/{row.id}", status_code=303)


@router.get("/research/runs/{run_id}", include_in_schema=False)
def research_run_page(run_id: IdPath, request: Request, db: Db, user: PageUser) -> Response:
    row = own_run(db, user, run_id)
    out = run_out(row)
    results = (
        row.result_json if row.status == "done" and isinstance(row.result_json, dict) else None
    )
    response = render(
        request,
        "research_run.html",
        {"run": out, "results": results, "message_key": jobs.MESSAGE_KEYS.get(out.message)},
    )
    if row.status in ACTIVE:
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


@router.post("/research/runs/{run_id}/cancel", include_in_schema=False, dependencies=[Csrf])
def research_cancel(run_id: IdPath, request: Request, db: Db, user: PageUser) -> Response:
    try:
        cancel_run(db, user, request, run_id)
    except HTTPException as err:
        if err.status_code != 409:
            raise
    return RedirectResponse(f"/research/runs/{run_id}", status_code=303)


@router.get("/research/experiments", include_in_schema=False)
def experiments_page(request: Request, db: Db, user: PageUser) -> Response:
    runs = [run_out(r) for r in _my_runs(db, user) if r.kind == "experiment"]
    return render(
        request,
        "research_experiments.html",
        {"gallery": jobs.experiment_gallery(), "runs": runs},
    )


@router.post("/research/experiments/{name}/runs", include_in_schema=False, dependencies=[Csrf])
def experiment_submit(
    name: str,
    request: Request,
    db: Db,
    user: PageUser,
    seed: Annotated[str, Form()] = "1",
) -> Response:
    row = submit_experiment(db, user, request, name=name, seed=_int(seed, "seed"))
    return RedirectResponse(f"/research/runs/{row.id}", status_code=303)
