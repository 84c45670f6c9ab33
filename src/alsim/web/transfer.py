"""Patients and visits to and from files: tidy CSV and PRO-ACT per-domain CSV (zipped).

* **Tidy CSV**: one row per visit (:data:`CSV_COLUMNS`): the patient's fields repeated on each of
  its rows, the visit date, the ALSFRS-R items under their tidy names (5a or 5b as recorded, see
  :data:`alsim.clinical.alsfrs.VISIT_ITEM_COLUMNS`), gastrostomy, FVC, weight and NfL. A patient
  without visits is one row with a blank ``visit_date``. The file is scoreable as it is by
  :func:`alsim.clinical.tidy.score_visits` and read back with
  :func:`alsim.clinical.tidy.read_visits_csv`.
* **PRO-ACT**: the six per-domain files of :func:`alsim.io.proact.write_proact`, zipped. PRO-ACT
  has no calendar dates: each patient's first visit (else diagnosis, else onset) is day 0 on
  export, and an import places day 0 of every patient at a given ``time_zero``. PRO-ACT has no
  place for weight, NfL, genotype, El Escorial category, FTD or notes; respiratory and
  generalized onset are written as "Other" onset.

Imports validate everything before anything is stored (the caller stores all records in one
transaction) and an error names the file, the row and the column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from alsim.clinical.alsfrs import ALSFRSR, VISIT_ITEM_COLUMNS
from alsim.errors import InputError
from alsim.units import DAYS_PER_MONTH
from alsim.validation import as_bool
from alsim.web.schemas import PatientFields, VisitFields

if TYPE_CHECKING:  # pragma: no cover
    from alsim.web.models import Patient

PATIENT_COLUMNS = (
    "subject_id",
    "sex",
    "birth_year",
    "onset_date",
    "diagnosis_date",
    "onset_region",
    "genotype",
    "el_escorial",
    "ftd",
    "notes",
)
VISIT_COLUMNS = (
    "visit_date",
    *VISIT_ITEM_COLUMNS,
    "gastrostomy",
    "fvc_percent",
    "weight_kg",
    "nfl_pg_ml",
    "nfl_matrix",
)
CSV_COLUMNS = (*PATIENT_COLUMNS, *VISIT_COLUMNS)
CSV_NAME = "import.csv"
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024

M = TypeVar("M", bound=BaseModel)

_TO_PROACT_SITE = {
    "bulbar": "bulbar",
    "spinal": "limb",
    "respiratory": "other",
    "generalized": "other",
}
_FROM_PROACT_SITE = {"bulbar": "bulbar", "limb": "spinal", "limb_and_bulbar": "generalized"}


@dataclass
class ImportRecord:
    """One patient to store: column values for ``Patient`` and for each of its ``Visit`` rows."""

    patient: dict[str, Any]
    visits: list[dict[str, Any]] = field(default_factory=list)


# -- tidy CSV -------------------------------------------------------------------------------------
def to_tidy_csv(patients: list[Patient]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for patient in patients:
        head = [
            patient.label,
            patient.sex,
            patient.birth_year,
            patient.onset_date,
            patient.diagnosis_date,
            patient.onset_region,
            patient.genotype,
            patient.el_escorial,
            _bool_text(patient.ftd),
            patient.notes,
        ]
        if not patient.visits:
            writer.writerow([_cell(v) for v in head] + [""] * len(VISIT_COLUMNS))
        for visit in patient.visits:
            record = ALSFRSR.from_items(visit.items, gastrostomy=visit.gastrostomy).to_record()
            row = [
                *head,
                visit.visit_date,
                *(record[name] for name in VISIT_ITEM_COLUMNS),
                _bool_text(visit.gastrostomy),
                visit.fvc_percent,
                visit.weight_kg,
                visit.nfl_pg_ml,
                visit.nfl_matrix,
            ]
            writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def from_tidy_csv(data: bytes) -> list[ImportRecord]:
    """Validated records from a tidy CSV file (see the module docstring)."""
    from alsim.clinical.tidy import read_visits_csv

    with tempfile.TemporaryDirectory(prefix="alsim-import-") as tmp:
        path = Path(tmp) / CSV_NAME
        path.write_bytes(data)
        table = read_visits_csv(path)
    unknown = [c for c in table.columns if c not in CSV_COLUMNS]
    if unknown:
        raise InputError(
            f"{CSV_NAME}, header",
            f"unknown column {unknown[0]!r}; the columns are: {', '.join(CSV_COLUMNS)}",
        )
    if "subject_id" not in table.columns:
        raise InputError(f"{CSV_NAME}, header", "column 'subject_id' is missing")
    records: dict[str, ImportRecord] = {}
    seen: dict[str, dict[str, tuple[str, int]]] = {}
    for number, raw in enumerate(table.to_dict("records"), start=1):
        row = {k: (None if _missing(v) else str(v)) for k, v in raw.items()}
        where = f"{CSV_NAME}, row {number}"
        subject = row.get("subject_id")
        if subject is None:
            raise InputError(f"{where}, subject_id", "is missing")
        merged = seen.setdefault(subject, {})
        for column in PATIENT_COLUMNS[1:]:
            value = row.get(column)
            if value is None:
                continue
            if column in merged and merged[column][0] != value:
                raise InputError(
                    f"{where}, {column}",
                    f"is {value!r} but row {merged[column][1]} has {merged[column][0]!r} "
                    f"for subject {subject!r}",
                )
            merged.setdefault(column, (value, number))
        record = records.setdefault(subject, ImportRecord(patient={}))
        record.patient = _patient_values(subject, merged, where)
        visit = _csv_visit(row, where)
        if visit is not None:
            _add_visit(record, visit, where, subject)
    for subject, record in records.items():
        _check_onset(record, f"{CSV_NAME}, subject {subject!r}")
    return list(records.values())


def _patient_values(subject: str, merged: dict[str, tuple[str, int]], where: str) -> dict[str, Any]:
    values: dict[str, Any] = {"label": subject}
    for column in PATIENT_COLUMNS[1:]:
        if column in merged:
            text = merged[column][0]
            if column == "ftd":
                values[column] = as_bool(text, f"{where}, ftd")
            elif column == "birth_year":
                values[column] = _integer(text, f"{where}, birth_year")
            else:
                values[column] = text
    checked = _validate(PatientFields, values, where)
    return checked.model_dump(exclude={"team_id"})


def _csv_visit(row: dict[str, str | None], where: str) -> dict[str, Any] | None:
    if row.get("visit_date") is None:
        filled = [c for c in VISIT_COLUMNS if row.get(c) is not None]
        if filled:
            raise InputError(f"{where}, visit_date", f"is blank but {filled[0]} is filled in")
        return None
    scored = ALSFRSR.from_mapping({k: v for k, v in row.items() if v is not None}, where=where)
    values: dict[str, Any] = {
        "visit_date": row["visit_date"],
        "items": list(scored.items),
        "gastrostomy": scored.gastrostomy,
    }
    for column in ("fvc_percent", "weight_kg", "nfl_pg_ml"):
        if row.get(column) is not None:
            values[column] = _number(row[column], f"{where}, {column}")
    if row.get("nfl_matrix") is not None:
        values["nfl_matrix"] = row["nfl_matrix"]
    return _visit_columns(_validate(VisitFields, values, where))


# -- PRO-ACT --------------------------------------------------------------------------------------
def to_proact_zip(patients: list[Patient]) -> bytes:
    """The patients as zipped PRO-ACT per-domain CSV files (see the module docstring)."""
    import pandas as pd

    from alsim.io.proact import ProactData, write_proact

    labels = [p.label for p in patients]
    visits: list[dict[str, Any]] = []
    people: list[dict[str, Any]] = []
    fvc: list[dict[str, Any]] = []
    for patient in patients:
        subject = (
            patient.label if labels.count(patient.label) == 1 else f"{patient.label} ({patient.id})"
        )
        zero = _day_zero(patient)
        people.append(
            {
                "subject_id": subject,
                "sex": patient.sex,
                "age_years": (
                    float(zero.year - patient.birth_year)
                    if zero is not None and patient.birth_year is not None
                    else None
                ),
                "onset_months": _months(patient.onset_date, zero),
                "diagnosis_months": _months(patient.diagnosis_date, zero),
                "onset_site": _TO_PROACT_SITE.get(patient.onset_region or ""),
                "died": False,
            }
        )
        for visit in patient.visits:
            record = ALSFRSR.from_items(visit.items, gastrostomy=visit.gastrostomy).to_record()
            months = _months(visit.visit_date, zero)
            visits.append(
                {"subject_id": subject, "visit_months": months}
                | {name: record[name] for name in VISIT_ITEM_COLUMNS}
            )
            if visit.fvc_percent is not None:
                fvc.append(
                    {
                        "subject_id": subject,
                        "visit_months": months,
                        "fvc_percent": visit.fvc_percent,
                    }
                )
    data = ProactData(
        visits=pd.DataFrame(visits, columns=["subject_id", "visit_months", *VISIT_ITEM_COLUMNS]),
        patients=pd.DataFrame(people),
        fvc=pd.DataFrame(fvc, columns=["subject_id", "visit_months", "fvc_percent"]),
    )
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="alsim-export-") as tmp:
        target = write_proact(data, Path(tmp) / "proact")
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(target.iterdir()):
                archive.write(path, path.name)
    return buffer.getvalue()


def from_proact_zip(data: bytes, time_zero: dt.date) -> list[ImportRecord]:
    """Validated records from zipped PRO-ACT CSV files; day 0 is ``time_zero`` for everyone."""
    from alsim.io.proact import read_proact

    with tempfile.TemporaryDirectory(prefix="alsim-import-") as tmp:
        root = Path(tmp)
        _unzip_csv(data, root)
        proact = read_proact(root)
    records: dict[str, ImportRecord] = {}
    for row in proact.patients.to_dict("records"):
        subject = str(row["subject_id"])
        where = f"PRO-ACT subject {subject!r}"
        values: dict[str, Any] = {"label": subject}
        if not _missing(row.get("sex")):
            values["sex"] = row["sex"]
        if not _missing(row.get("age_years")):
            values["birth_year"] = time_zero.year - round(float(row["age_years"]))
        for name, column in (
            ("onset_date", "onset_months"),
            ("diagnosis_date", "diagnosis_months"),
        ):
            if not _missing(row.get(column)):
                values[name] = _date_at(time_zero, float(row[column]), f"{where}, {column}")
        site = None if _missing(row.get("onset_site")) else _FROM_PROACT_SITE.get(row["onset_site"])
        if site is not None:
            values["onset_region"] = site
        checked = _validate(PatientFields, values, where)
        records[subject] = ImportRecord(patient=checked.model_dump(exclude={"team_id"}))
    fvc: dict[tuple[str, int], float] = {}
    for row in proact.fvc.to_dict("records"):
        if not _missing(row.get("fvc_percent")):
            key = (str(row["subject_id"]), round(float(row["visit_months"]) * DAYS_PER_MONTH))
            fvc[key] = float(row["fvc_percent"])
    for row in proact.visits.to_dict("records"):
        subject = str(row["subject_id"])
        day = round(float(row["visit_months"]) * DAYS_PER_MONTH)
        where = f"PRO-ACT visits, subject {subject!r}, day {day}"
        items = {k: row[k] for k in VISIT_ITEM_COLUMNS if not _missing(row.get(k))}
        if not any(k.startswith("r") for k in items) and not _missing(row.get("q10_respiratory")):
            raise InputError(where, "is an original ALSFRS assessment (Q10), which is not ALSFRS-R")
        scored = ALSFRSR.from_mapping(items, where=where)
        values = {
            "visit_date": _date_at(time_zero, float(row["visit_months"]), f"{where}, visit date"),
            "items": list(scored.items),
            "gastrostomy": scored.gastrostomy,
            "fvc_percent": fvc.get((subject, day)),
        }
        record = records.setdefault(subject, ImportRecord(patient={"label": subject}))
        _add_visit(record, _visit_columns(_validate(VisitFields, values, where)), where, subject)
    for subject, record in records.items():
        _check_onset(record, f"PRO-ACT subject {subject!r}")
    return list(records.values())


def _unzip_csv(data: bytes, root: Path) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError("file", "is not a zip archive of PRO-ACT CSV files") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
            raise InputError("file", "unpacks to more than 100 MiB")
        names: set[str] = set()
        for member in members:
            name = PurePosixPath(member.filename).name
            if not name.lower().endswith(".csv") or name.startswith("."):
                continue
            if name.lower() in names:
                raise InputError("file", f"holds two files named {name!r}")
            names.add(name.lower())
            try:
                (root / name).write_bytes(archive.read(member))
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
                raise InputError(
                    f"file, {member.filename}", f"cannot be unpacked ({exc})"
                ) from None
        if not names:
            raise InputError("file", "holds no CSV files")


# -- shared helpers -------------------------------------------------------------------------------
def _add_visit(record: ImportRecord, visit: dict[str, Any], where: str, subject: str) -> None:
    if any(v["visit_date"] == visit["visit_date"] for v in record.visits):
        raise InputError(
            f"{where}, visit_date",
            f"subject {subject!r} has two visits on {visit['visit_date']}",
        )
    record.visits.append(visit)


def _check_onset(record: ImportRecord, where: str) -> None:
    onset = record.patient.get("onset_date")
    for visit in record.visits:
        if onset is not None and visit["visit_date"] <= onset:
            raise InputError(
                f"{where}, visit_date",
                f"the visit on {visit['visit_date']} is not after the onset date {onset}",
            )


def _visit_columns(visit: VisitFields) -> dict[str, Any]:
    values = visit.model_dump(exclude={"items"})
    values.update({f"q{i + 1}": score for i, score in enumerate(visit.items)})
    return values


def _validate(model: type[M], values: dict[str, Any], where: str) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as err:
        first = err.errors()[0]
        column = ".".join(str(p) for p in first.get("loc", ()) if p != "items") or "row"
        message = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
        raise InputError(f"{where}, {column}", message) from None


def _day_zero(patient: Patient) -> dt.date | None:
    if patient.visits:
        return patient.visits[0].visit_date
    return patient.diagnosis_date or patient.onset_date


def _months(date: dt.date | None, zero: dt.date | None) -> float | None:
    if date is None or zero is None:
        return None
    return (date - zero).days / DAYS_PER_MONTH


def _date_at(zero: dt.date, months: float, where: str) -> dt.date:
    try:
        return zero + dt.timedelta(days=round(months * DAYS_PER_MONTH))
    except (OverflowError, ValueError):
        raise InputError(where, f"{months:.4g} months from {zero} is not a valid date") from None


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _integer(text: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(where, f"must be a whole number, got {text!r}") from None


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(where, f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise InputError(where, f"must be a finite number, got {text!r}")
    return value


def _bool_text(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)
