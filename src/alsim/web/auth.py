"""Accounts and sessions: Argon2 password hashes, DB-backed sessions, CSRF tokens, throttling.

* Passwords are hashed with Argon2id (``argon2-cffi``); hashes are upgraded on login when the
  parameters change.
* A session is a random 256-bit token in the HttpOnly, SameSite=Lax cookie ``alsim_session``
  (``Secure`` when configured); the database keeps only its SHA-256, with an expiry. Logging out
  deletes the row.
* Each session has its own CSRF token; before login, a random ``alsim_csrf`` cookie plays that
  role (double submit), so login and registration forms are protected too.
* Login attempts are recorded (before the password is checked, so simultaneous guesses count
  too); too many for one username (or one client address) within the
  window gives 429 until the window has passed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Response
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from alsim.web.config import Settings
from alsim.web.models import AuthSession, LoginAttempt, User, utcnow

SESSION_COOKIE = "alsim_session"
CSRF_COOKIE = "alsim_csrf"

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AuthError(Exception):
    """A login that failed; ``status`` is 401 (bad credentials) or 429 (throttled)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class NewSession:
    token: str
    record: AuthSession


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def username_taken(db: Session, username: str) -> bool:
    """Whether an account has this username, in any letter case ("Alice" takes "alice")."""
    lowered = func.lower(User.username) == username.lower()
    return db.scalar(select(User.id).where(lowered).limit(1)) is not None


def authenticate(
    db: Session, settings: Settings, username: str, password: str, *, client: str = ""
) -> User:
    """The user with these credentials; raises :class:`AuthError` (401 or 429) otherwise.

    Every attempt is recorded (and committed) before the password is checked, so that
    simultaneous attempts count against each other; a successful login deletes the username's
    attempts, a throttled one its own.
    """
    now = utcnow()
    since = now - dt.timedelta(seconds=settings.login_window_seconds)
    attempt = LoginAttempt(username=username[:64], client=client[:64], at=now)
    db.add(attempt)
    db.commit()
    try:
        _check_throttle(db, settings, username, client, since)
    except AuthError:
        db.delete(attempt)
        db.commit()
        raise
    user = db.scalar(select(User).where(User.username == username))
    stored = _DUMMY_HASH if user is None else user.password_hash  # same time when unknown
    db.rollback()  # end the read transaction: no database lock while Argon2 works
    if not verify_password(stored, password) or user is None:
        raise AuthError(401, "wrong username or password")
    if _hasher.check_needs_rehash(stored):
        user.password_hash = hash_password(password)
    db.execute(delete(LoginAttempt).where(LoginAttempt.username == username[:64]))
    return user


def _check_throttle(
    db: Session, settings: Settings, username: str, client: str, since: dt.datetime
) -> None:
    """429 when the attempts in the window, this one included, exceed the limit."""
    limit = settings.login_attempts
    by_user = db.scalar(
        select(func.count(LoginAttempt.id)).where(
            LoginAttempt.username == username[:64], LoginAttempt.at >= since
        )
    )
    by_client = (
        db.scalar(
            select(func.count(LoginAttempt.id)).where(
                LoginAttempt.client == client[:64], LoginAttempt.at >= since
            )
        )
        if client
        else 0
    )
    if (by_user or 0) > limit or (by_client or 0) > 4 * limit:
        minutes = max(1, round(settings.login_window_seconds / 60))
        raise AuthError(
            429, f"too many failed logins; wait {minutes} minute(s) before trying again"
        )


def start_session(db: Session, settings: Settings, user: User) -> NewSession:
    """Create a session row for ``user``; the returned token goes into the cookie only."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    record = AuthSession(
        token_hash=token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + dt.timedelta(hours=settings.session_hours),
    )
    db.add(record)
    db.execute(delete(AuthSession).where(AuthSession.expires_at < now))
    return NewSession(token, record)


def find_session(db: Session, token: str | None) -> AuthSession | None:
    """The live session for a cookie token, or ``None`` (unknown, malformed or expired)."""
    if not token or len(token) > 128:
        return None
    record = db.scalar(select(AuthSession).where(AuthSession.token_hash == token_hash(token)))
    if record is None or record.expires_at <= utcnow():
        return None
    return record


def end_session(db: Session, record: AuthSession) -> None:
    db.delete(record)


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=settings.secure_cookies, path="/"
    )


def set_csrf_cookie(response: Response, settings: Settings, token: str) -> None:
    """The pre-login CSRF cookie (double submit); not HttpOnly-relevant since forms embed it."""
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="lax", secure=settings.secure_cookies, path="/"
    )


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)
