"""The database model (SQLAlchemy 2 typed ORM): users, teams, patients, visits, audit, runs.

This is the contract shared by the JSON API, the pages and the research runs (see
``docs/web-api.md``). Rows that users edit (patients, visits, criteria sets) carry a ``version``
counter used for optimistic locking: an update that names a stale version fails with
:class:`sqlalchemy.orm.exc.StaleDataError`, which the API turns into 409.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: The 12 ALSFRS-R item columns of :class:`Visit`, in ALSFRS-R order (item 5 is 5a or 5b,
#: according to ``gastrostomy``, as :class:`alsim.clinical.ALSFRSR` stores it).
ITEM_FIELDS: tuple[str, ...] = tuple(f"q{i}" for i in range(1, 13))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored naive in UTC and always returned timezone-aware (UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )


class AuthSession(Base):
    """A login session: the cookie holds a random token, the database only its SHA-256."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="joined")


class LoginAttempt(Base):
    """A failed login, kept for throttling (per username and per client address)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    label: Mapped[str] = mapped_column(String(128))
    sex: Mapped[str | None] = mapped_column(String(16))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    onset_date: Mapped[dt.date | None] = mapped_column(Date)
    diagnosis_date: Mapped[dt.date | None] = mapped_column(Date)
    onset_region: Mapped[str | None] = mapped_column(String(32))
    genotype: Mapped[str | None] = mapped_column(String(32))
    el_escorial: Mapped[str | None] = mapped_column(String(32))
    ftd: Mapped[bool | None] = mapped_column(Boolean)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    visits: Mapped[list[Visit]] = relationship(
        back_populates="patient",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Visit.visit_date",
    )

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}


class Visit(Base):
    __tablename__ = "visits"
    __table_args__ = (UniqueConstraint("patient_id", "visit_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    visit_date: Mapped[dt.date] = mapped_column(Date)
    q1: Mapped[int] = mapped_column(SmallInteger)
    q2: Mapped[int] = mapped_column(SmallInteger)
    q3: Mapped[int] = mapped_column(SmallInteger)
    q4: Mapped[int] = mapped_column(SmallInteger)
    q5: Mapped[int] = mapped_column(SmallInteger)
    q6: Mapped[int] = mapped_column(SmallInteger)
    q7: Mapped[int] = mapped_column(SmallInteger)
    q8: Mapped[int] = mapped_column(SmallInteger)
    q9: Mapped[int] = mapped_column(SmallInteger)
    q10: Mapped[int] = mapped_column(SmallInteger)
    q11: Mapped[int] = mapped_column(SmallInteger)
    q12: Mapped[int] = mapped_column(SmallInteger)
    gastrostomy: Mapped[bool] = mapped_column(Boolean, default=False)
    fvc_percent: Mapped[float | None] = mapped_column(Float)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    nfl_pg_ml: Mapped[float | None] = mapped_column(Float)
    nfl_matrix: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    patient: Mapped[Patient] = relationship(back_populates="visits")

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}

    @property
    def items(self) -> tuple[int, ...]:
        """The 12 ALSFRS-R item scores in order (item 5 is 5a or 5b per ``gastrostomy``)."""
        return tuple(getattr(self, name) for name in ITEM_FIELDS)


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    before: Mapped[Any | None] = mapped_column(JSON)
    after: Mapped[Any | None] = mapped_column(JSON)


class CriteriaSet(Base):
    __tablename__ = "criteria_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    spec: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}


class ResearchRun(Base):
    __tablename__ = "research_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[str] = mapped_column(Text)
    seed: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    result_dir: Mapped[str | None] = mapped_column(Text)
    result_json: Mapped[Any | None] = mapped_column(JSON)
