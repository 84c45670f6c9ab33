"""FastAPI dependencies shared by the API, the pages and the research routes.

* :func:`get_db`: a database session per request (callers commit; see :func:`commit`);
* :func:`current_user` (API: 401 JSON) and :func:`page_user` (pages: redirect to
  ``/login?next=...``), :func:`optional_user`;
* :func:`require_csrf`: unsafe methods need the session's CSRF token in the ``X-CSRF-Token``
  header or the ``csrf_token`` form field (before login: the ``alsim_csrf`` cookie's value);
* :func:`get_lang`: ``?lang=`` or the ``alsim_lang`` cookie, ``"en"`` by default;
* access rules: :func:`visible_patients` and :func:`get_patient` (another user's patient is
  404, never 403, so its existence is not revealed).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from alsim.web import auth
from alsim.web.config import Settings
from alsim.web.models import AuthSession, Membership, Patient, User

LANGUAGES = ("en", "zh")
LANG_COOKIE = "alsim_lang"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
STALE_MESSAGE = "changed by someone else since you loaded it; reload and try again"


class LoginRequired(Exception):
    """Raised by :func:`page_user`; the app answers with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    """A session for this request; uncommitted work is rolled back when the request ends."""
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        session.close()


Db = Annotated[Session, Depends(get_db)]


def commit(db: Session, *, conflict: str = "conflicts with an existing record") -> None:
    """Commit; a stale version or a broken unique/foreign-key constraint becomes 409."""
    try:
        db.commit()
    except StaleDataError:
        db.rollback()
        raise HTTPException(409, STALE_MESSAGE) from None
    except IntegrityError:
        db.rollback()
        raise HTTPException(409, conflict) from None


def session_record(request: Request, db: Session) -> AuthSession | None:
    """The request's live login session (cached on ``request.state``)."""
    if not hasattr(request.state, "auth_session"):
        request.state.auth_session = auth.find_session(db, request.cookies.get(auth.SESSION_COOKIE))
    return request.state.auth_session


def optional_user(request: Request, db: Db) -> User | None:
    record = session_record(request, db)
    return None if record is None else record.user


def current_user(request: Request, db: Db) -> User:
    record = session_record(request, db)
    if record is None:
        raise HTTPException(401, "not logged in (or the session has expired): log in first")
    return record.user


def page_user(request: Request, db: Db) -> User:
    record = session_record(request, db)
    if record is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return record.user


CurrentUser = Annotated[User, Depends(current_user)]


def login_redirect_url(next_url: str) -> str:
    return f"/login?next={quote(next_url, safe='/')}"


def csrf_token(request: Request) -> str:
    """The CSRF token a page must embed (session token, or a pre-login cookie token).

    For a visitor without a session a new token is made; the app's middleware then sets it as
    the ``alsim_csrf`` cookie on the response.
    """
    record = getattr(request.state, "auth_session", None)
    if record is not None:
        return record.csrf_token
    existing = request.cookies.get(auth.CSRF_COOKIE)
    if existing and 20 <= len(existing) <= 128:
        return existing
    token = getattr(request.state, "new_csrf_token", None)
    if token is None:
        token = request.state.new_csrf_token = auth.new_csrf_token()
    return token


async def require_csrf(request: Request, db: Db) -> None:
    """Reject an unsafe request whose CSRF token is missing or wrong (403).

    The database is only touched in the thread pool: a blocking call on the event loop would
    stall every other request while SQLite waits for a lock.
    """
    if request.method in SAFE_METHODS:
        return
    record = await run_in_threadpool(session_record, request, db)
    expected = record.csrf_token if record is not None else request.cookies.get(auth.CSRF_COOKIE)
    supplied = request.headers.get("x-csrf-token")
    if supplied is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get("csrf_token")
            supplied = value if isinstance(value, str) else None
    if not supplied:
        raise HTTPException(403, "missing CSRF token: send the X-CSRF-Token header")
    if not expected or not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise HTTPException(403, "wrong CSRF token: reload the page and try again")


def get_lang(request: Request) -> str:
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in LANGUAGES:
            return value
    return "en"


# -- access rules ------------------------------------------------------------------------------
def team_ids(db: Session, user: User) -> list[int]:
    return list(db.scalars(select(Membership.team_id).where(Membership.user_id == user.id)))


def visible_patients(db: Session, user: User) -> ColumnElement[bool]:
    """SQL condition: the patient is the user's own or shared with one of the user's teams."""
    teams = team_ids(db, user)
    if not teams:
        return Patient.owner_id == user.id
    return or_(Patient.owner_id == user.id, Patient.team_id.in_(teams))


def get_patient(db: Session, user: User, patient_id: int) -> Patient:
    """The patient if ``user`` may see (and so edit) it, else 404."""
    patient = db.scalar(select(Patient).where(Patient.id == patient_id, visible_patients(db, user)))
    if patient is None:
        raise HTTPException(404, f"patient {patient_id} not found")
    return patient


async def csrf_user(request: Request, db: Db) -> User:
    """The logged-in user of an unsafe request that carries the right CSRF token."""
    user = await run_in_threadpool(current_user, request, db)
    await require_csrf(request, db)
    return user


CsrfUser = Annotated[User, Depends(csrf_user)]
