"""The JSON API under ``/api/v1``: accounts, teams, patients, visits, clinical results,
criteria sets, export/import and the audit log.

A thin layer: validation is in :mod:`alsim.web.schemas`, clinical computations come from
:mod:`alsim.clinical` (through :mod:`alsim.web.records`), file formats from
:mod:`alsim.clinical.tidy` and :mod:`alsim.io.proact` (through :mod:`alsim.web.transfer`). Every change is written together with its audit event
in one transaction; rows carry a version for optimistic locking (stale → 409). Another user's
patient is 404. Unsafe methods need the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alsim import __version__
from alsim.errors import InputError
from alsim.web import audit, auth
from alsim.web import schemas as s
from alsim.web.deps import (
    CsrfUser,
    CurrentUser,
    Db,
    commit,
    get_patient,
    get_settings,
    session_record,
    team_ids,
    visible_patients,
)
from alsim.web.models import (
    ITEM_FIELDS,
    AuditEvent,
    CriteriaSet,
    Membership,
    Patient,
    Team,
    User,
    Visit,
)
from alsim.web.records import (
    as_dict,
    check_patient,
    checked_spec,
    json_safe,
    patient_summary,
    seed_builtin_criteria,
)

router = APIRouter(prefix="/api/v1", tags=["api"])

PATIENT_FIELDS = (
    "label",
    "sex",
    "birth_year",
    "onset_date",
    "diagnosis_date",
    "onset_region",
    "genotype",
    "el_escorial",
    "ftd",
    "notes",
    "team_id",
)
VISIT_FIELDS = ("visit_date", "gastrostomy", "fvc_percent", "weight_kg", "nfl_pg_ml", "nfl_matrix")


# -- health and accounts ------------------------------------------------------------------------
@router.get("/health", response_model=s.Health)
def health() -> s.Health:
    """Liveness: the server answers (no login needed)."""
    return s.Health(status="ok", version=__version__)


@router.post(
    "/auth/register",
    response_model=s.SessionOut,
    status_code=201,
    responses=s.errors(403, 409, 422),
)
def register(body: s.RegisterIn, request: Request, response: Response, db: Db) -> s.SessionOut:
    """Create an account and log in (only while registration is open)."""
    settings = get_settings(request)
    if not settings.open_registration:
        raise HTTPException(403, "registration is closed; ask an administrator for an account")
    password_hash = auth.hash_password(body.password)  # before the transaction takes its lock
    if auth.username_taken(db, body.username):
        raise HTTPException(409, f"username {body.username!r} is taken")
    user = User(
        username=body.username,
        password_hash=password_hash,
        display_name=body.display_name or body.username,
    )
    db.add(user)
    db.flush()
    audit.record(db, user, "register", "user", user.id, after={"username": user.username})
    previous = session_record(request, db)
    if previous is not None:  # as for a login: the old session ends
        auth.end_session(db, previous)
    new = auth.start_session(db, settings, user)
    commit(db, conflict=f"username {body.username!r} is taken")
    auth.set_session_cookie(response, settings, new.token)
    return s.SessionOut(user=_user_out(user), csrf_token=new.record.csrf_token)


@router.post("/auth/login", response_model=s.SessionOut, responses=s.errors(401, 422, 429))
def login(body: s.LoginIn, request: Request, response: Response, db: Db) -> s.SessionOut:
    """Log in: sets the HttpOnly session cookie and returns the CSRF token."""
    settings = get_settings(request)
    client = request.client.host if request.client else ""
    previous = session_record(request, db)
    try:
        user = auth.authenticate(db, settings, body.username, body.password, client=client)
    except auth.AuthError as err:
        raise HTTPException(err.status, err.message) from None
    if previous is not None:  # a new login never keeps an old session alive
        auth.end_session(db, previous)
    new = auth.start_session(db, settings, user)
    audit.record(db, user, "login", "user", user.id)
    commit(db)
    auth.set_session_cookie(response, settings, new.token)
    return s.SessionOut(user=_user_out(user), csrf_token=new.record.csrf_token)


@router.post("/auth/logout", response_model=s.Message, responses=s.errors(401, 403))
def logout(user: CsrfUser, request: Request, response: Response, db: Db) -> s.Message:
    """End this session (the cookie is cleared)."""
    record = session_record(request, db)
    if record is not None:
        auth.end_session(db, record)
    audit.record(db, user, "logout", "user", user.id)
    commit(db)
    auth.clear_session_cookie(response, get_settings(request))
    return s.Message(detail="logged out")


@router.get("/auth/me", response_model=s.SessionOut, responses=s.errors(401))
def me(user: CurrentUser, request: Request, db: Db) -> s.SessionOut:
    """The logged-in user and the session's CSRF token."""
    record = session_record(request, db)
    assert record is not None
    return s.SessionOut(user=_user_out(user), csrf_token=record.csrf_token)


def _user_out(user: User) -> s.UserOut:
    return s.UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        is_admin=user.is_admin,
        created_at=user.created_at,
    )


# -- teams --------------------------------------------------------------------------------------
@router.get("/teams", response_model=list[s.TeamOut], responses=s.errors(401))
def list_teams(user: CurrentUser, db: Db) -> list[s.TeamOut]:
    """The teams you belong to."""
    teams = db.scalars(select(Team).where(Team.id.in_(team_ids(db, user))).order_by(Team.name))
    return [_team_out(db, team) for team in teams]


@router.post(
    "/teams", response_model=s.TeamOut, status_code=201, responses=s.errors(401, 403, 409, 422)
)
def create_team(body: s.TeamIn, user: CsrfUser, db: Db) -> s.TeamOut:
    """Create a team; you become its first member."""
    if db.scalar(select(Team.id).where(Team.name == body.name)) is not None:
        raise HTTPException(409, f"a team named {body.name!r} exists already")
    team = Team(name=body.name)
    db.add(team)
    db.flush()
    db.add(Membership(user_id=user.id, team_id=team.id))
    audit.record(db, user, "create", "team", team.id, after={"name": team.name})
    commit(db, conflict=f"a team named {body.name!r} exists already")
    return _team_out(db, team)


@router.post(
    "/teams/{team_id}/members",
    response_model=s.TeamOut,
    status_code=201,
    responses=s.errors(401, 403, 404, 409, 422),
)
def add_member(team_id: s.IdPath, body: s.MemberIn, user: CsrfUser, db: Db) -> s.TeamOut:
    """Add a user to a team you belong to."""
    team = _my_team(db, user, team_id)
    member = db.scalar(select(User).where(User.username == body.username))
    if member is None:
        raise HTTPException(404, f"user {body.username!r} not found")
    if db.get(Membership, (member.id, team.id)) is not None:
        raise HTTPException(409, f"{body.username!r} is already a member of {team.name!r}")
    db.add(Membership(user_id=member.id, team_id=team.id))
    audit.record(db, user, "add_member", "team", team.id, after={"username": member.username})
    commit(db, conflict=f"{body.username!r} is already a member of {team.name!r}")
    return _team_out(db, team)


@router.delete(
    "/teams/{team_id}/members/{username}",
    response_model=s.TeamOut,
    responses=s.errors(401, 403, 404),
)
def remove_member(team_id: s.IdPath, username: str, user: CsrfUser, db: Db) -> s.TeamOut:
    """Remove a member (yourself included) from a team you belong to."""
    team = _my_team(db, user, team_id)
    member = db.scalar(select(User).where(User.username == username))
    link = None if member is None else db.get(Membership, (member.id, team.id))
    if member is None or link is None:
        raise HTTPException(404, f"{username!r} is not a member of team {team_id}")
    db.delete(link)
    audit.record(db, user, "remove_member", "team", team.id, before={"username": username})
    commit(db)
    return _team_out(db, team)


def _my_team(db: Session, user: User, team_id: s.IdPath) -> Team:
    team = db.get(Team, team_id)
    if team is None or db.get(Membership, (user.id, team_id)) is None:
        raise HTTPException(404, f"team {team_id} not found")
    return team


def _team_out(db: Session, team: Team) -> s.TeamOut:
    names = db.scalars(
        select(User.username)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.team_id == team.id)
        .order_by(User.username)
    )
    return s.TeamOut(id=team.id, name=team.name, members=list(names))


# -- patients -----------------------------------------------------------------------------------
@router.get("/patients", response_model=list[s.PatientOut], responses=s.errors(401))
def list_patients(user: CurrentUser, db: Db) -> list[s.PatientOut]:
    """Your patients and those shared with your teams, by label."""
    counts = (
        select(Visit.patient_id, func.count(Visit.id).label("n"))
        .group_by(Visit.patient_id)
        .subquery()
    )
    rows = db.execute(
        select(Patient, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.patient_id == Patient.id)
        .where(visible_patients(db, user))
        .order_by(Patient.label, Patient.id)
    )
    return [patient_out(patient, n) for patient, n in rows]


@router.post(
    "/patients",
    response_model=s.PatientOut,
    status_code=201,
    responses=s.errors(401, 403, 422),
)
def create_patient(body: s.PatientIn, user: CsrfUser, db: Db) -> s.PatientOut:
    """Create a patient record owned by you."""
    _check_team(db, user, body.team_id)
    patient = Patient(owner_id=user.id, **body.model_dump(include=set(PATIENT_FIELDS)))
    db.add(patient)
    db.flush()
    audit.record(db, user, "create", "patient", patient.id, after=audit.snapshot(patient))
    commit(db)
    return patient_out(patient, 0)


@router.get("/patients/{patient_id}", response_model=s.PatientOut, responses=s.errors(401, 404))
def read_patient(patient_id: s.IdPath, user: CurrentUser, db: Db) -> s.PatientOut:
    patient = get_patient(db, user, patient_id)
    return patient_out(patient, len(patient.visits))


@router.put(
    "/patients/{patient_id}",
    response_model=s.PatientOut,
    responses=s.errors(401, 403, 404, 409, 422),
)
def update_patient(
    patient_id: s.IdPath, body: s.PatientUpdate, user: CsrfUser, db: Db
) -> s.PatientOut:
    """Replace a patient's fields; ``version`` must be the one you loaded (else 409)."""
    patient = get_patient(db, user, patient_id)
    _check_version(patient.version, body.version)
    if body.team_id != patient.team_id:
        if patient.owner_id != user.id:
            raise HTTPException(403, "only the patient's owner can change its team")
        _check_team(db, user, body.team_id)
    if body.onset_date is not None:
        early = [v.visit_date for v in patient.visits if v.visit_date <= body.onset_date]
        if early:
            raise HTTPException(
                422,
                f"onset_date: {body.onset_date} is not before the visit on {min(early)}; "
                "every visit must come after onset",
            )
    before = audit.snapshot(patient)
    for name in PATIENT_FIELDS:
        setattr(patient, name, getattr(body, name))
    db.flush()
    audit.record(db, user, "update", "patient", patient.id, before, audit.snapshot(patient))
    commit(db)
    return patient_out(patient, len(patient.visits))


@router.delete("/patients/{patient_id}", status_code=204, responses=s.errors(401, 403, 404, 409))
def delete_patient(
    patient_id: s.IdPath,
    user: CsrfUser,
    db: Db,
    version: s.VersionQuery = None,
) -> Response:
    """Delete a patient and its visits (owner only)."""
    patient = get_patient(db, user, patient_id)
    if patient.owner_id != user.id:
        raise HTTPException(403, "only the patient's owner can delete it")
    if version is not None:
        _check_version(patient.version, version)
    before = audit.snapshot(patient)
    before["visits"] = [audit.snapshot(v) for v in patient.visits]
    audit.record(db, user, "delete", "patient", patient.id, before=before)
    db.delete(patient)
    commit(db)
    return Response(status_code=204)


def _check_team(db: Session, user: User, team_id: int | None) -> None:
    if team_id is not None and db.get(Membership, (user.id, team_id)) is None:
        raise HTTPException(422, f"team_id: you are not a member of team {team_id}")


def _check_version(stored: int, given: int) -> None:
    if stored != given:
        raise HTTPException(
            409,
            f"changed by someone else since you loaded it (version {given}, now {stored}); "
            "reload and try again",
        )


def patient_out(patient: Patient, n_visits: int) -> s.PatientOut:
    return s.PatientOut(
        id=patient.id,
        owner_id=patient.owner_id,
        **{name: getattr(patient, name) for name in PATIENT_FIELDS},
        created_at=patient.created_at,
        updated_at=patient.updated_at,
        version=patient.version,
        n_visits=n_visits,
    )


# -- visits -------------------------------------------------------------------------------------
@router.get(
    "/patients/{patient_id}/visits", response_model=list[s.VisitOut], responses=s.errors(401, 404)
)
def list_visits(patient_id: s.IdPath, user: CurrentUser, db: Db) -> list[s.VisitOut]:
    """A patient's visits, oldest first, with ALSFRS-R total and domain subscores."""
    return [visit_out(v) for v in get_patient(db, user, patient_id).visits]


@router.post(
    "/patients/{patient_id}/visits",
    response_model=s.VisitOut,
    status_code=201,
    responses=s.errors(401, 403, 404, 409, 422),
)
def create_visit(patient_id: s.IdPath, body: s.VisitIn, user: CsrfUser, db: Db) -> s.VisitOut:
    """Add a visit (one per date and patient)."""
    patient = get_patient(db, user, patient_id)
    _check_visit(db, patient, body, visit_id=None)
    visit = Visit(patient_id=patient.id, **_visit_values(body))
    db.add(visit)
    db.flush()
    audit.record(db, user, "create", "visit", visit.id, after=audit.snapshot(visit))
    commit(db, conflict=f"patient {patient.id} already has a visit on {body.visit_date}")
    return visit_out(visit)


@router.get(
    "/patients/{patient_id}/visits/{visit_id}",
    response_model=s.VisitOut,
    responses=s.errors(401, 404),
)
def read_visit(patient_id: s.IdPath, visit_id: s.IdPath, user: CurrentUser, db: Db) -> s.VisitOut:
    return visit_out(get_visit(db, user, patient_id, visit_id))


@router.put(
    "/patients/{patient_id}/visits/{visit_id}",
    response_model=s.VisitOut,
    responses=s.errors(401, 403, 404, 409, 422),
)
def update_visit(
    patient_id: s.IdPath, visit_id: s.IdPath, body: s.VisitUpdate, user: CsrfUser, db: Db
) -> s.VisitOut:
    """Replace a visit's values; ``version`` must be the one you loaded (else 409)."""
    visit = get_visit(db, user, patient_id, visit_id)
    _check_version(visit.version, body.version)
    _check_visit(db, visit.patient, body, visit_id=visit.id)
    before = audit.snapshot(visit)
    for name, value in _visit_values(body).items():
        setattr(visit, name, value)
    db.flush()
    audit.record(db, user, "update", "visit", visit.id, before, audit.snapshot(visit))
    commit(db, conflict=f"patient {patient_id} already has a visit on {body.visit_date}")
    return visit_out(visit)


@router.delete(
    "/patients/{patient_id}/visits/{visit_id}",
    status_code=204,
    responses=s.errors(401, 403, 404, 409),
)
def delete_visit(
    patient_id: s.IdPath,
    visit_id: s.IdPath,
    user: CsrfUser,
    db: Db,
    version: s.VersionQuery = None,
) -> Response:
    visit = get_visit(db, user, patient_id, visit_id)
    if version is not None:
        _check_version(visit.version, version)
    audit.record(db, user, "delete", "visit", visit.id, before=audit.snapshot(visit))
    db.delete(visit)
    commit(db)
    return Response(status_code=204)


def get_visit(db: Session, user: User, patient_id: s.IdPath, visit_id: s.IdPath) -> Visit:
    """The visit of a patient ``user`` may see, else 404."""
    patient = get_patient(db, user, patient_id)
    visit = db.get(Visit, visit_id)
    if visit is None or visit.patient_id != patient.id:
        raise HTTPException(404, f"visit {visit_id} of patient {patient_id} not found")
    return visit


def _check_visit(db: Session, patient: Patient, body: s.VisitFields, visit_id: int | None) -> None:
    if patient.onset_date is not None and body.visit_date <= patient.onset_date:
        raise HTTPException(
            422,
            f"visit_date: {body.visit_date} is not after the patient's onset date "
            f"{patient.onset_date}",
        )
    clash = db.scalar(
        select(Visit.id).where(Visit.patient_id == patient.id, Visit.visit_date == body.visit_date)
    )
    if clash is not None and clash != visit_id:
        raise HTTPException(409, f"patient {patient.id} already has a visit on {body.visit_date}")


def _visit_values(body: s.VisitFields) -> dict[str, Any]:
    values = {name: getattr(body, name) for name in VISIT_FIELDS}
    values.update(zip(ITEM_FIELDS, body.items, strict=True))
    return values


def visit_out(visit: Visit) -> s.VisitOut:
    from alsim.clinical import ALSFRSR

    scored = ALSFRSR.from_items(visit.items, gastrostomy=visit.gastrostomy)
    return s.VisitOut(
        id=visit.id,
        patient_id=visit.patient_id,
        **{name: getattr(visit, name) for name in VISIT_FIELDS},
        items=list(visit.items),
        total=scored.total,
        domains=scored.domains(),
        created_at=visit.created_at,
        updated_at=visit.updated_at,
        version=visit.version,
    )


# -- clinical results ---------------------------------------------------------------------------
@router.get(
    "/patients/{patient_id}/summary", response_model=s.SummaryOut, responses=s.errors(401, 404, 422)
)
def summary(patient_id: s.IdPath, user: CurrentUser, db: Db) -> s.SummaryOut:
    """Scores per visit, stages, ΔFS, D50 fit, ENCALS prognosis and genotype notes."""
    patient = get_patient(db, user, patient_id)
    result = patient_summary(patient)
    return s.SummaryOut(patient_id=patient.id, summary=json_safe(result.to_dict()))


# -- criteria sets and eligibility ----------------------------------------------------------------
@router.get("/criteria-sets", response_model=list[s.CriteriaSetOut], responses=s.errors(401))
def list_criteria_sets(user: CurrentUser, db: Db) -> list[s.CriteriaSetOut]:
    """The built-in examples, then your own criteria sets."""
    return [criteria_out(row) for row in criteria_sets_of(db, user)]


def criteria_sets_of(db: Session, user: User) -> list[CriteriaSet]:
    """The criteria sets ``user`` may use: the built-in examples, then their own, by name."""
    return list(
        db.scalars(
            select(CriteriaSet)
            .where((CriteriaSet.owner_id.is_(None)) | (CriteriaSet.owner_id == user.id))
            .order_by(CriteriaSet.owner_id.is_not(None), CriteriaSet.name, CriteriaSet.id)
        )
    )


@router.post(
    "/criteria-sets",
    response_model=s.CriteriaSetOut,
    status_code=201,
    responses=s.errors(401, 403, 422),
)
def create_criteria_set(body: s.CriteriaSetIn, user: CsrfUser, db: Db) -> s.CriteriaSetOut:
    """Save an editable criteria set (e.g. a copy of a built-in example)."""
    row = CriteriaSet(owner_id=user.id, name=body.name, spec=checked_spec(body.spec))
    db.add(row)
    db.flush()
    audit.record(db, user, "create", "criteria_set", row.id, after=audit.snapshot(row))
    commit(db)
    return criteria_out(row)


@router.get(
    "/criteria-sets/{set_id}", response_model=s.CriteriaSetOut, responses=s.errors(401, 404)
)
def read_criteria_set(set_id: s.IdPath, user: CurrentUser, db: Db) -> s.CriteriaSetOut:
    return criteria_out(get_criteria_set(db, user, set_id))


@router.put(
    "/criteria-sets/{set_id}",
    response_model=s.CriteriaSetOut,
    responses=s.errors(401, 403, 404, 409, 422),
)
def update_criteria_set(
    set_id: s.IdPath, body: s.CriteriaSetUpdate, user: CsrfUser, db: Db
) -> s.CriteriaSetOut:
    row = get_criteria_set(db, user, set_id, edit=True)
    _check_version(row.version, body.version)
    before = audit.snapshot(row)
    row.name, row.spec = body.name, checked_spec(body.spec)
    db.flush()
    audit.record(db, user, "update", "criteria_set", row.id, before, audit.snapshot(row))
    commit(db)
    return criteria_out(row)


@router.delete("/criteria-sets/{set_id}", status_code=204, responses=s.errors(401, 403, 404, 409))
def delete_criteria_set(
    set_id: s.IdPath,
    user: CsrfUser,
    db: Db,
    version: s.VersionQuery = None,
) -> Response:
    row = get_criteria_set(db, user, set_id, edit=True)
    if version is not None:
        _check_version(row.version, version)
    audit.record(db, user, "delete", "criteria_set", row.id, before=audit.snapshot(row))
    db.delete(row)
    commit(db)
    return Response(status_code=204)


@router.post(
    "/patients/{patient_id}/eligibility/{set_id}",
    response_model=s.EligibilityOut,
    responses=s.errors(401, 403, 404, 422),
)
def eligibility(patient_id: s.IdPath, set_id: s.IdPath, user: CsrfUser, db: Db) -> s.EligibilityOut:
    """Check a patient against a criteria set: each criterion met, not met or unknown."""
    patient = get_patient(db, user, patient_id)
    row = get_criteria_set(db, user, set_id)
    return s.EligibilityOut(
        patient_id=patient.id,
        criteria_set_id=row.id,
        result=json_safe(as_dict(check_patient(patient, row))),
    )


def get_criteria_set(
    db: Session, user: User, set_id: s.IdPath, *, edit: bool = False
) -> CriteriaSet:
    """A built-in or ``user``'s own criteria set, else 404 (``edit``: built-in ones are 403)."""
    row = db.get(CriteriaSet, set_id)
    if row is None or (row.owner_id is not None and row.owner_id != user.id):
        raise HTTPException(404, f"criteria set {set_id} not found")
    if edit and row.owner_id is None:
        raise HTTPException(
            403, f"criteria set {set_id} is a built-in example; save a copy to change it"
        )
    return row


def criteria_out(row: CriteriaSet) -> s.CriteriaSetOut:
    return s.CriteriaSetOut(
        id=row.id,
        owner_id=row.owner_id,
        builtin=row.owner_id is None,
        name=row.name,
        spec=row.spec,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


def startup(app: FastAPI) -> None:
    """App start: store the built-in criteria sets (idempotent)."""
    with app.state.sessions() as db:
        seed_builtin_criteria(db)


# -- export and import ----------------------------------------------------------------------------
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Tidy CSV (one row per visit) or a zip of PRO-ACT per-domain CSV files",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/zip": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    **s.errors(401, 404, 422),
}
ExportFormat = Annotated[Literal["csv", "proact"], Query(description="tidy CSV or PRO-ACT zip")]


@router.get("/patients/{patient_id}/export", response_class=Response, responses=EXPORT_RESPONSES)
def export_patient(
    patient_id: s.IdPath, user: CurrentUser, db: Db, format: ExportFormat = "csv"
) -> Response:
    """Export one patient as tidy CSV or PRO-ACT (zip)."""
    return _export([get_patient(db, user, patient_id)], format, f"patient-{patient_id}")


@router.get("/export", response_class=Response, responses=EXPORT_RESPONSES)
def export_all(user: CurrentUser, db: Db, format: ExportFormat = "csv") -> Response:
    """Export every patient you can see as tidy CSV or PRO-ACT (zip)."""
    patients = list(
        db.scalars(select(Patient).where(visible_patients(db, user)).order_by(Patient.id))
    )
    return _export(patients, format, "patients")


def _export(patients: list[Patient], format: str, stem: str) -> Response:
    from alsim.web import transfer

    if format == "csv":
        body = transfer.to_tidy_csv(patients).encode("utf-8")
        media, name = "text/csv", f"{stem}.csv"
    else:
        body = transfer.to_proact_zip(patients)
        media, name = "application/zip", f"{stem}-proact.zip"
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.post(
    "/import",
    response_model=s.ImportOut,
    status_code=201,
    responses=s.errors(401, 403, 413, 422),
)
def import_patients(
    user: CsrfUser,
    db: Db,
    file: Annotated[UploadFile, File(description="tidy CSV, or a zip of PRO-ACT CSV files")],
    format: ExportFormat = "csv",
    time_zero: Annotated[
        dt.date | None,
        Query(description="PRO-ACT only: the calendar date of day 0 (times are days from it)"),
    ] = None,
) -> s.ImportOut:
    """Import patients and visits, all or nothing; an error names the row and column."""
    from alsim.web import transfer

    data = file.file.read()
    try:
        if format == "csv":
            records = transfer.from_tidy_csv(data)
        else:
            if time_zero is None:
                raise InputError("time_zero", "is required for a PRO-ACT import")
            records = transfer.from_proact_zip(data, time_zero)
    except InputError as err:
        raise HTTPException(422, str(err)) from None
    ids: list[int] = []
    n_visits = 0
    for record in records:
        patient = Patient(owner_id=user.id, **record.patient)
        patient.visits = [Visit(**values) for values in record.visits]
        db.add(patient)
        db.flush()
        ids.append(patient.id)
        n_visits += len(record.visits)
        after = audit.snapshot(patient)
        after["visits"] = [audit.snapshot(v) for v in patient.visits]
        audit.record(db, user, "import", "patient", patient.id, after=after)
    commit(db)
    return s.ImportOut(patients=len(ids), visits=n_visits, patient_ids=ids)


# -- audit log ------------------------------------------------------------------------------------
@router.get(
    "/patients/{patient_id}/audit", response_model=list[s.AuditOut], responses=s.errors(401, 404)
)
def patient_audit(patient_id: s.IdPath, user: CurrentUser, db: Db) -> list[s.AuditOut]:
    """Every recorded change to a patient and its visits, oldest first."""
    patient = get_patient(db, user, patient_id)
    rows = db.execute(
        select(AuditEvent, User.username)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.patient_id == patient.id, AuditEvent.id >= _first_event(db, patient))
        .order_by(AuditEvent.id)
    )
    return [
        s.AuditOut(
            id=event.id,
            at=event.at,
            user_id=event.user_id,
            username=username,
            action=event.action,
            entity=event.entity,
            entity_id=event.entity_id,
            patient_id=event.patient_id,
            before=event.before,
            after=event.after,
        )
        for event, username in rows
    ]


def _first_event(db: Session, patient: Patient) -> int:
    """The id of the event that created this patient (0 if none was recorded).

    SQLite reuses the id of a deleted patient (the highest one) for the next patient; the events
    of the deleted patient, someone else's perhaps, come before this one and are not its history.
    """
    created = db.scalar(
        select(func.max(AuditEvent.id)).where(
            AuditEvent.entity == "patient",
            AuditEvent.entity_id == patient.id,
            AuditEvent.action.in_(("create", "import")),
        )
    )
    return created or 0
