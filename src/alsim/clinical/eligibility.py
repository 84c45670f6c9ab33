"""Trial-eligibility criteria sets and the checker.

A :class:`CriteriaSet` is a list of :class:`Criterion` rules, each comparing one *fact* about a
patient (see :data:`FACTS`) with a value: ``age_years >= 18``, ``el_escorial in [probable,
definite]``... Each rule carries its source (trial registry entry or paper) and whether that
source was confirmed. :func:`check_eligibility` says per rule whether it is met, not met or
unknown (the fact is missing), and overall: *eligible* (all met), *not eligible* (any rule not
met) or *undetermined* (none failed, some unknown).

:func:`patient_facts` derives the facts from a :class:`alsim.clinical.record.RecordSummary`.
Three example sets are bundled (``params/eligibility/*.yaml``): HEALEY-like (NCT04297683),
ALSUMMIT-like (NCT04745299) and ATLAS-like (NCT04856982). They are simplified *examples* built
from the public key criteria; they are not the trials' full protocols. Research and education
only, not medical advice. See docs/eligibility.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alsim.errors import InputError
from alsim.units import DAYS_PER_MONTH

if TYPE_CHECKING:  # pragma: no cover
    from alsim.clinical.record import PatientInput, RecordSummary

__all__ = [
    "BUILTIN_FILES",
    "FACTS",
    "CriteriaSet",
    "Criterion",
    "CriterionResult",
    "EligibilityResult",
    "builtin_criteria_sets",
    "check_eligibility",
    "load_criteria_set",
    "patient_facts",
]

FactKind = Literal["number", "text", "bool"]

#: The facts a criterion may test: name -> (kind, description). Numbers are compared with
#: ``<``, ``<=``, ``>``, ``>=``, ``==``; text with ``==``, ``in``, ``not_in``; booleans with ``==``.
FACTS: dict[str, tuple[FactKind, str]] = {
    "age_years": ("number", "age today, years (mid-year birth)"),
    "sex": ("text", "male / female"),
    "months_since_onset": ("number", "months from symptom onset to today"),
    "months_since_diagnosis": ("number", "months from diagnosis to today"),
    "alsfrs_total": ("number", "ALSFRS-R total at the latest scored visit (0-48)"),
    "delta_fs": ("number", "ΔFS at the latest scored visit, points/month"),
    "recent_decline_per_month": (
        "number",
        "ALSFRS-R points lost per month between the latest scored visit and the earliest scored "
        "visit in the 6 months before it (at least 30 days apart)",
    ),
    "progression_category": ("text", "slow / intermediate / fast (Kimura 2006 ΔFS cut-offs)"),
    "slow_progressor": ("bool", "ΔFS < 0.5 points/month"),
    "fvc_percent": ("number", "latest FVC, % predicted"),
    "nfl_pg_ml": ("number", "latest neurofilament light, pg/mL"),
    "genotype": ("text", "sporadic / SOD1 / C9orf72 / TARDBP / FUS / unknown"),
    "el_escorial": ("text", "definite / probable / probable_lab / possible"),
    "onset_region": ("text", "bulbar / spinal / respiratory / generalized"),
    "ftd": ("bool", "frontotemporal dementia"),
    "gastrostomy": ("bool", "gastrostomy at the latest scored visit"),
    "kings_stage": ("number", "King's stage 0-4 at the latest scored visit"),
    "mitos_stage": ("number", "MiToS stage 0-4 at the latest scored visit"),
    "presymptomatic": (
        "bool",
        "no symptom onset recorded and at least one ALSFRS-R, every one 48 (unknown if no "
        "onset date but a lower score or no score)",
    ),
}

NUMBER_OPS = ("<", "<=", ">", ">=", "==")
TEXT_OPS = ("==", "in", "not_in")
BOOL_OPS = ("==",)

#: The bundled example criteria sets (file names under ``alsim/params/eligibility``).
BUILTIN_FILES = ("healey-like.yaml", "alsummit-like.yaml", "atlas-like.yaml")


class Criterion(BaseModel):
    """One rule: ``<fact> <op> <value>``, with its source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")
    label: str = Field(min_length=1, max_length=300)
    field: str
    op: Literal["<", "<=", ">", ">=", "==", "in", "not_in"]
    value: Any
    source: str = Field(default="", max_length=1000)
    confirmed: bool = True  # False: the rule or its value could not be checked in the source
    note: str = Field(default="", max_length=1000)

    @field_validator("field")
    @classmethod
    def _known_field(cls, name: str) -> str:
        if name not in FACTS:
            raise ValueError(f"unknown field {name!r}; expected one of {', '.join(FACTS)}")
        return name

    @model_validator(mode="after")
    def _check(self) -> Criterion:
        # "@key: problem" names the key the problem belongs to (see _as_input_error)
        kind = FACTS[self.field][0]
        allowed = {"number": NUMBER_OPS, "text": TEXT_OPS, "bool": BOOL_OPS}[kind]
        if self.op not in allowed:
            raise ValueError(
                f"@op: {self.op!r} does not apply to {self.field} ({kind}); "
                f"use one of {', '.join(allowed)}"
            )
        value = self.value
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"@value: {self.field} needs a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"@value: {self.field} needs a finite number, got {value!r}")
            object.__setattr__(self, "value", float(value))
        elif kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"@value: {self.field} needs true or false, got {value!r}")
        elif self.op in ("in", "not_in"):
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, str) and v for v in value)
            ):
                raise ValueError(
                    f"@value: operator {self.op!r} needs a non-empty list of texts, got {value!r}"
                )
        elif not isinstance(value, str) or not value:
            raise ValueError(f"@value: {self.field} needs a text value, got {value!r}")
        return self


class CriteriaSet(BaseModel):
    """A named list of criteria (all must be met)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    source: str = Field(default="", max_length=2000)
    criteria: list[Criterion] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _unique_ids(self) -> CriteriaSet:
        seen: set[str] = set()
        for c in self.criteria:
            if c.id in seen:
                raise ValueError(f"criterion id {c.id!r} is used twice")
            seen.add(c.id)
        return self


Status = Literal["met", "not_met", "unknown"]
Overall = Literal["eligible", "not_eligible", "undetermined"]


@dataclass(frozen=True)
class CriterionResult:
    """One rule's outcome and the fact value it used (``None`` if unknown)."""

    criterion: Criterion
    status: Status
    actual: Any

    def to_dict(self) -> dict[str, Any]:
        c = self.criterion
        actual = self.actual
        if isinstance(actual, float) and not math.isfinite(actual):
            actual = None
        return {
            "id": c.id,
            "label": c.label,
            "field": c.field,
            "op": c.op,
            "value": c.value,
            "status": self.status,
            "actual": actual,
            "source": c.source,
            "confirmed": c.confirmed,
            "note": c.note,
        }


@dataclass(frozen=True)
class EligibilityResult:
    """All rules' outcomes and the overall verdict."""

    name: str
    overall: Overall
    criteria: list[CriterionResult]

    @property
    def counts(self) -> dict[str, int]:
        out = {"met": 0, "not_met": 0, "unknown": 0}
        for r in self.criteria:
            out[r.status] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "overall": self.overall,
            "counts": self.counts,
            "criteria": [r.to_dict() for r in self.criteria],
        }


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
def _where(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "(top level)"


def _as_input_error(err: ValidationError, where: str) -> InputError:
    first = err.errors(include_url=False)[0]
    loc, kind, msg = tuple(first["loc"]), first["type"], first["msg"]
    path = _where(loc)
    if kind == "missing":
        problem = "required key is missing"
    elif kind == "extra_forbidden":
        problem = "unknown key"
    else:
        problem = msg.removeprefix("Value error, ")
        if problem.startswith("@"):
            key, _, problem = problem[1:].partition(": ")
            path = f"{path}.{key}" if loc else key
        elif "input" in first and kind not in ("value_error", "assertion_error"):
            problem += f", got {first['input']!r}"
    prefix = f"{where}: " if where else ""
    return InputError(f"{prefix}{path}", problem)


def load_criteria_set(source: Path | str | Mapping[str, Any], *, where: str = "") -> CriteriaSet:
    """Validate a criteria set from a YAML file path or a mapping.

    Errors are one :class:`~alsim.errors.InputError` naming the key path, e.g.
    ``healey-like.yaml: criteria[2].op: operator 'in' does not apply to age_years (number)...``.
    """
    if isinstance(source, Path | str):
        from alsim.fileio import read_yaml_file

        path = Path(source)
        raw = read_yaml_file(path, "criteria set")
        where = where or path.name
    else:
        raw = source
    if not isinstance(raw, Mapping):
        raise InputError(where or "criteria set", "must be a mapping with name and criteria")
    try:
        return CriteriaSet.model_validate(dict(raw))
    except ValidationError as err:
        raise _as_input_error(err, where) from None


@functools.cache
def _builtin() -> dict[str, CriteriaSet]:
    import yaml

    folder = resources.files("alsim").joinpath("params", "eligibility")
    out: dict[str, CriteriaSet] = {}
    for name in BUILTIN_FILES:
        raw = yaml.safe_load(folder.joinpath(name).read_text(encoding="utf-8"))
        out[name.removesuffix(".yaml")] = load_criteria_set(raw, where=name)
    return out


def builtin_criteria_sets() -> dict[str, CriteriaSet]:
    """The bundled examples, keyed by file stem (``healey-like``, ``alsummit-like``,
    ``atlas-like``)."""
    return dict(_builtin())


# --------------------------------------------------------------------------------------------
# checking
# --------------------------------------------------------------------------------------------
def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _evaluate(c: Criterion, actual: Any) -> bool:
    kind = FACTS[c.field][0]
    if kind == "number":
        a, v = float(actual), float(c.value)  # type: ignore[arg-type]
        return {
            "<": a < v,
            "<=": a <= v,
            ">": a > v,
            ">=": a >= v,
            "==": a == v,
        }[c.op]
    if kind == "bool":
        return bool(actual) is c.value
    text = str(actual)
    if c.op == "==":
        return text == c.value
    values = list(c.value)  # type: ignore[arg-type]
    return (text in values) if c.op == "in" else (text not in values)


def check_eligibility(cs: CriteriaSet, facts: Mapping[str, Any]) -> EligibilityResult:
    """Check every criterion of ``cs`` against ``facts``.

    A fact that is absent or ``None`` (or NaN) makes its criterion *unknown*. Overall: any
    *not met* gives ``"not_eligible"``; otherwise any *unknown* gives ``"undetermined"``;
    otherwise ``"eligible"``.
    """
    results: list[CriterionResult] = []
    for c in cs.criteria:
        actual = facts.get(c.field)
        if _is_missing(actual):
            results.append(CriterionResult(c, "unknown", None))
            continue
        try:
            met = _evaluate(c, actual)
        except (TypeError, ValueError):
            raise InputError(
                f"facts.{c.field}", f"cannot compare {actual!r} with {c.value!r}"
            ) from None
        results.append(CriterionResult(c, "met" if met else "not_met", actual))
    statuses = {r.status for r in results}
    overall: Overall = (
        "not_eligible"
        if "not_met" in statuses
        else "undetermined"
        if "unknown" in statuses
        else "eligible"
    )
    return EligibilityResult(name=cs.name, overall=overall, criteria=results)


#: The window of :func:`_recent_decline`, in days between the earlier visit and the latest
#: scored visit: from 30 days (a calendar month, except February) to 6 months of 30.4375 days
#: (:mod:`alsim.units`) plus half a day (a platform choice).
RECENT_DECLINE_WINDOW_DAYS = (30.0, 6 * DAYS_PER_MONTH + 0.5)


def _recent_decline(summary: RecordSummary) -> float | None:
    from alsim.clinical.record import months_between_dates

    scored = [v for v in summary.visits if v.total is not None]
    if len(scored) < 2:
        return None
    last = scored[-1]
    low, high = RECENT_DECLINE_WINDOW_DAYS
    window = [v for v in scored[:-1] if low <= (last.visit_date - v.visit_date).days <= high]
    if not window:
        return None
    first = window[0]
    months = months_between_dates(first.visit_date, last.visit_date)
    return (first.total - last.total) / months  # type: ignore[operator]


def patient_facts(
    summary: RecordSummary, patient: PatientInput, *, today: dt.date | None = None
) -> dict[str, Any]:
    """The facts of :data:`FACTS` for one patient (``None`` where unknown)."""
    from alsim.clinical.alsfrs import TOTAL_MAX
    from alsim.clinical.record import age_years, months_between_dates

    today = today or summary.today
    latest = summary.latest
    scored_totals = [v.total for v in summary.visits if v.total is not None]
    if patient.onset_date is not None:
        presymptomatic: bool | None = False
    elif scored_totals and all(t == TOTAL_MAX for t in scored_totals):
        presymptomatic = True
    else:  # a lower score, or no ALSFRS-R at all: no evidence either way
        presymptomatic = None
    months_since_diagnosis = (
        None
        if patient.diagnosis_date is None
        else months_between_dates(patient.diagnosis_date, today)
    )
    months_since_onset = (
        None if patient.onset_date is None else months_between_dates(patient.onset_date, today)
    )
    age = None if patient.birth_year is None else age_years(patient.birth_year, today)
    return {
        "age_years": age,
        "sex": patient.sex,
        "months_since_onset": months_since_onset,
        "months_since_diagnosis": months_since_diagnosis,
        "alsfrs_total": None if latest is None else latest.total,
        "delta_fs": summary.delta_fs,
        "recent_decline_per_month": _recent_decline(summary),
        "progression_category": summary.progression_category,
        "slow_progressor": None if summary.delta_fs is None else summary.delta_fs < 0.5,
        "fvc_percent": summary.latest_fvc_percent,
        "nfl_pg_ml": summary.latest_nfl_pg_ml,
        "genotype": None if patient.genotype in (None, "unknown") else patient.genotype,
        "el_escorial": patient.el_escorial,
        "onset_region": patient.onset_region,
        "ftd": patient.ftd,
        "gastrostomy": None if latest is None else latest.gastrostomy,
        "kings_stage": None if latest is None else latest.kings_stage,
        "mitos_stage": None if latest is None else latest.mitos,
        "presymptomatic": presymptomatic,
    }
