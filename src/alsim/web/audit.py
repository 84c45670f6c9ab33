"""The audit trail: one :class:`~alsim.web.models.AuditEvent` per change, in the same transaction.

``before`` and ``after`` are JSON snapshots of the changed row (:func:`snapshot`), so the log
shows exactly what changed; a creation has no ``before``, a deletion no ``after``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from alsim.web.models import AuditEvent, User

#: Columns never copied into the audit log.
_HIDDEN = frozenset({"password_hash"})


def snapshot(row: Any) -> dict[str, Any]:
    """A JSON-ready copy of a mapped row's column values (dates as ISO text)."""
    values: dict[str, Any] = {}
    for column in inspect(row).mapper.column_attrs:
        if column.key in _HIDDEN:
            continue
        value = getattr(row, column.key)
        if isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        values[column.key] = value
    return values


def record(
    db: Session,
    user: User | None,
    action: str,
    entity: str,
    entity_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    *,
    patient_id: int | None = None,
) -> AuditEvent:
    """Add an audit event to ``db`` (committed, or rolled back, with the change itself).

    ``patient_id`` defaults to the patient the entity belongs to, taken from the snapshots.
    """
    if patient_id is None:
        patient_id = _patient_of(entity, entity_id, before or after or {})
    event = AuditEvent(
        user_id=None if user is None else user.id,
        action=action,
        entity=entity,
        entity_id=entity_id,
        patient_id=patient_id,
        before=before,
        after=after,
    )
    db.add(event)
    return event


def _patient_of(entity: str, entity_id: int | None, values: dict[str, Any]) -> int | None:
    if entity == "patient":
        return entity_id
    if entity == "visit":
        return values.get("patient_id")
    return None
