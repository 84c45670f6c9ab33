"""Request and response models of the JSON API (pydantic v2).

Constraints mirror :mod:`alsim.clinical`: ALSFRS-R items are whole numbers 0-4 (12 of them,
item 5 read as 5b when ``gastrostomy``), dates are not in the future, the diagnosis is not before
the onset; the web layer adds the cross-record rules (a visit after the patient's onset) in
:mod:`alsim.web.api`. Unknown fields are rejected so that a typo is an error, not a silent no-op.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from alsim import DISCLAIMER

SEXES = ("male", "female")
ONSET_REGIONS = ("bulbar", "spinal", "respiratory", "generalized")
GENOTYPES = ("sporadic", "SOD1", "C9orf72", "TARDBP", "FUS", "unknown")
EL_ESCORIAL = ("definite", "probable", "probable_lab", "possible")
NFL_MATRICES = ("serum", "plasma", "csf")

Sex = Literal["male", "female"]
OnsetRegion = Literal["bulbar", "spinal", "respiratory", "generalized"]
Genotype = Literal["sporadic", "SOD1", "C9orf72", "TARDBP", "FUS", "unknown"]
ElEscorial = Literal["definite", "probable", "probable_lab", "possible"]
NflMatrix = Literal["serum", "plasma", "csf"]
Item = Annotated[int, Field(ge=0, le=4, strict=True)]
Username = Annotated[
    str,
    # ASCII only: no look-alike names (Cyrillic "а" for "a") when adding a member to a team
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$"
    ),
]
Password = Annotated[str, Field(min_length=8, max_length=256)]


def _no_control(value: str, allowed: str = "") -> str:
    """Refuse control characters (NUL and the like): they break CSV exports and pages."""
    bad = next((c for c in value if (ord(c) < 32 or ord(c) == 127) and c not in allowed), None)
    if bad is not None:
        raise ValueError(f"contains the control character U+{ord(bad):04X}")
    return value


def _no_control_in_text(value: str) -> str:
    return _no_control(value, allowed="\t\n\r")


Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_no_control),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_no_control),
]

EARLIEST_DATE = dt.date(1900, 1, 1)
#: Largest id or version the databases store (signed 64-bit).
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
VersionQuery = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Fail with 409 if the record has changed.")
]


def today() -> dt.date:
    return dt.date.today()


def _not_future(value: dt.date | None) -> dt.date | None:
    """A date that is not in the future and not before 1900 (the message names the date)."""
    if value is None:
        return None
    if value > today():
        raise ValueError(f"{value.isoformat()} is in the future")
    if value < EARLIEST_DATE:
        raise ValueError(f"{value.isoformat()} is before 1900")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- errors -------------------------------------------------------------------------------------
class ErrorOut(BaseModel):
    detail: str = Field(description="One clear message naming the field or record at fault.")


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error status codes."""
    text = {
        400: "Bad request (e.g. an unreadable file)",
        401: "Not logged in",
        403: "Missing or wrong CSRF token, or not allowed",
        404: "Not found (or not yours)",
        409: "Conflict: stale version or duplicate",
        413: "Request body too large",
        422: "Invalid input",
        429: "Too many failed logins",
    }
    return {code: {"model": ErrorOut, "description": text[code]} for code in codes}


# -- accounts -----------------------------------------------------------------------------------
class RegisterIn(Strict):
    username: Username
    password: Password
    display_name: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=128), AfterValidator(_no_control)
    ] = ""


class LoginIn(Strict):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    is_admin: bool
    created_at: dt.datetime


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="Send as the X-CSRF-Token header on unsafe requests.")


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Message(BaseModel):
    detail: str


# -- teams ----------------------------------------------------------------------------------------
class TeamIn(Strict):
    name: Name


class MemberIn(Strict):
    username: Username


class TeamOut(BaseModel):
    id: int
    name: str
    members: list[str]


# -- patients -------------------------------------------------------------------------------------
class PatientFields(Strict):
    label: Label = Field(description="A pseudonym; real names are not needed.")
    sex: Sex | None = None
    birth_year: Annotated[int, Field(ge=1900, le=2100, strict=True)] | None = None
    onset_date: dt.date | None = None
    diagnosis_date: dt.date | None = None
    onset_region: OnsetRegion | None = None
    genotype: Genotype | None = None
    el_escorial: ElEscorial | None = None
    ftd: bool | None = None
    notes: Annotated[str, Field(max_length=5000), AfterValidator(_no_control_in_text)] = ""
    team_id: Id | None = Field(None, description="Share with a team you belong to.")

    @field_validator("onset_date")
    @classmethod
    def _onset(cls, value: dt.date | None) -> dt.date | None:
        return _not_future(value)

    @field_validator("diagnosis_date")
    @classmethod
    def _diagnosis(cls, value: dt.date | None) -> dt.date | None:
        return _not_future(value)

    @field_validator("birth_year")
    @classmethod
    def _birth(cls, value: int | None) -> int | None:
        if value is not None and value > today().year:
            raise ValueError(f"{value} is in the future")
        return value

    @model_validator(mode="after")
    def _order(self) -> PatientFields:
        if self.onset_date and self.diagnosis_date and self.diagnosis_date < self.onset_date:
            raise ValueError(
                f"diagnosis_date {self.diagnosis_date} is before onset_date {self.onset_date}"
            )
        if self.birth_year is not None:
            for name in ("onset_date", "diagnosis_date"):
                value = getattr(self, name)
                if value is not None and value.year < self.birth_year:
                    raise ValueError(f"{name} {value} is before birth year {self.birth_year}")
        return self


class PatientIn(PatientFields):
    pass


class PatientUpdate(PatientFields):
    version: Id = Field(description="The version you loaded; a stale one gives 409.")


class PatientOut(BaseModel):
    id: int
    owner_id: int
    team_id: int | None
    label: str
    sex: str | None
    birth_year: int | None
    onset_date: dt.date | None
    diagnosis_date: dt.date | None
    onset_region: str | None
    genotype: str | None
    el_escorial: str | None
    ftd: bool | None
    notes: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    n_visits: int = 0


# -- visits ---------------------------------------------------------------------------------------
class VisitFields(Strict):
    visit_date: dt.date
    items: Annotated[list[Item], Field(min_length=12, max_length=12)] = Field(
        description="The 12 ALSFRS-R item scores (0-4) in order; item 5 is 5b if gastrostomy."
    )
    gastrostomy: bool = False
    fvc_percent: Annotated[float, Field(ge=0, le=200, allow_inf_nan=False)] | None = None
    weight_kg: Annotated[float, Field(gt=0, le=400, allow_inf_nan=False)] | None = None
    nfl_pg_ml: Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)] | None = None
    nfl_matrix: NflMatrix | None = None

    @field_validator("visit_date")
    @classmethod
    def _date(cls, value: dt.date) -> dt.date:
        _not_future(value)
        return value

    @model_validator(mode="after")
    def _matrix(self) -> VisitFields:
        if self.nfl_matrix is not None and self.nfl_pg_ml is None:
            raise ValueError("nfl_matrix is given without nfl_pg_ml")
        return self


class VisitIn(VisitFields):
    pass


class VisitUpdate(VisitFields):
    version: Id = Field(description="The version you loaded; a stale one gives 409.")


class VisitOut(BaseModel):
    id: int
    patient_id: int
    visit_date: dt.date
    items: list[int]
    gastrostomy: bool
    fvc_percent: float | None
    weight_kg: float | None
    nfl_pg_ml: float | None
    nfl_matrix: str | None
    total: int = Field(description="ALSFRS-R total, 0-48.")
    domains: dict[str, int]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


# -- clinical results -----------------------------------------------------------------------------
class SummaryOut(BaseModel):
    patient_id: int
    summary: dict[str, Any]
    disclaimer: str = DISCLAIMER


class CriteriaSetIn(Strict):
    name: Name
    spec: dict[str, Any] = Field(
        description="A criteria set in the alsim.clinical.eligibility schema."
    )


class CriteriaSetUpdate(CriteriaSetIn):
    version: Id = Field(description="The version you loaded; a stale one gives 409.")


class CriteriaSetOut(BaseModel):
    id: int
    owner_id: int | None
    builtin: bool
    name: str
    spec: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class EligibilityOut(BaseModel):
    patient_id: int
    criteria_set_id: int
    result: dict[str, Any]
    disclaimer: str = DISCLAIMER


# -- audit and import -----------------------------------------------------------------------------
class AuditOut(BaseModel):
    id: int
    at: dt.datetime
    user_id: int | None
    username: str | None
    action: str
    entity: str
    entity_id: int | None
    patient_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ImportOut(BaseModel):
    patients: int
    visits: int
    patient_ids: list[int]
