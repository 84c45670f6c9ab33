"""Stored records to and from the clinical toolkit: the web layer's only bridge to
:mod:`alsim.clinical`.

The API and the pages use these helpers so that every number shown comes from
:func:`alsim.clinical.record.summarize_record` and :mod:`alsim.clinical.eligibility`, never
from code in the web layer.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alsim.web.models import CriteriaSet, Patient


def record_inputs(patient: Patient) -> tuple[Any, list[Any]]:
    """The patient and its visits as :mod:`alsim.clinical.record` inputs."""
    from alsim.clinical.record import PatientInput, VisitInput

    person = PatientInput(
        onset_date=patient.onset_date,
        diagnosis_date=patient.diagnosis_date,
        birth_year=patient.birth_year,
        sex=patient.sex,
        onset_region=patient.onset_region,
        genotype=patient.genotype,
        el_escorial=patient.el_escorial,
        ftd=patient.ftd,
    )
    visits = [
        VisitInput(
            visit_date=v.visit_date,
            items=v.items,
            gastrostomy=v.gastrostomy,
            fvc_percent=v.fvc_percent,
            weight_kg=v.weight_kg,
            nfl_pg_ml=v.nfl_pg_ml,
        )
        for v in patient.visits
    ]
    return person, visits


def patient_summary(patient: Patient, *, today: dt.date | None = None) -> Any:
    """:func:`alsim.clinical.record.summarize_record` for a stored patient."""
    from alsim.clinical.record import summarize_record

    person, visits = record_inputs(patient)
    return summarize_record(person, visits, today=today or dt.date.today())


def json_safe(value: Any) -> Any:
    """Strict-JSON copy: non-finite floats become ``None``; dates become ISO text."""
    from fastapi.encoders import jsonable_encoder

    def clean(item: Any) -> Any:
        if isinstance(item, float):
            return item if math.isfinite(item) else None
        if isinstance(item, dict):
            return {str(k): clean(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [clean(v) for v in item]
        return item

    return clean(jsonable_encoder(value, custom_encoder={float: lambda x: x}))


def check_patient(patient: Patient, row: CriteriaSet, *, today: dt.date | None = None) -> Any:
    """:func:`alsim.clinical.eligibility.check_eligibility` for a stored patient."""
    from alsim.clinical.eligibility import check_eligibility, load_criteria_set, patient_facts

    today = today or dt.date.today()
    criteria = load_criteria_set(row.spec, where=f"criteria set {row.name!r}")
    person, _visits = record_inputs(patient)
    facts = patient_facts(patient_summary(patient, today=today), person, today=today)
    return check_eligibility(criteria, facts)


def checked_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A criteria set validated by :mod:`alsim.clinical.eligibility`, as stored JSON."""
    from alsim.clinical.eligibility import load_criteria_set

    return json_safe(load_criteria_set(spec, where="spec").model_dump(mode="json"))


def as_dict(result: Any) -> dict[str, Any]:
    """A service result (``to_dict()``, a pydantic model or a dataclass) as a plain dict."""
    if hasattr(result, "to_dict"):
        return result.to_dict()
    if hasattr(result, "model_dump"):
        return result.model_dump(mode="json")
    import dataclasses

    return dataclasses.asdict(result)


def seed_builtin_criteria(db: Session) -> int:
    """Store the built-in example criteria sets (owner ``None``); returns how many changed.

    A built-in set stored by an older alsim is brought up to date (its criteria or sources may
    have been corrected since); built-in sets cannot be edited by users, so nothing is lost.
    """
    from alsim.clinical.eligibility import builtin_criteria_sets

    existing = {
        row.name: row
        for row in db.scalars(select(CriteriaSet).where(CriteriaSet.owner_id.is_(None)))
    }
    changed = 0
    for criteria in builtin_criteria_sets().values():
        spec = json_safe(criteria.model_dump(mode="json"))
        row = existing.get(criteria.name)
        if row is None:
            db.add(CriteriaSet(owner_id=None, name=criteria.name, spec=spec))
        elif row.spec != spec:
            row.spec = spec
        else:
            continue
        changed += 1
    db.commit()
    return changed
