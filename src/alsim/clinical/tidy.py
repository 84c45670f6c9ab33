"""Clinical scores on a tidy per-visit table (one row per subject and visit).

The table holds the ALSFRS-R items under the tidy names of
:data:`~alsim.clinical.alsfrs.VISIT_ITEM_COLUMNS` (5a and 5b as recorded), or a combined
``q5_cutting`` with a boolean ``gastrostomy`` column. Item cells are whole numbers 0-4; written
as text they follow :data:`~alsim.clinical.alsfrs.ITEM_TEXT` (``"3"`` or ``"3.0"``, nothing
else), and booleans are never scores. Time since onset comes from, in order of preference:

* a ``months_since_onset`` column;
* ``visit_months`` minus ``onset_months`` (PRO-ACT style, months from a time zero);
* ``visit_date`` minus ``onset_date`` (ISO dates; partial onset dates completed by the
  :class:`~alsim.clinical.progression.OnsetConvention`).

A blank cell in those columns means the onset of that visit is unknown: the visit is scored, with
``months_since_onset``, ``delta_fs`` and ``progression`` missing. A known duration that is zero
or negative, or so small that ΔFS would be infinite, is an error.

:func:`read_visits_csv` reads such a table from a CSV file strictly (one value per column on
every row). :func:`score_visits` adds the total, the four domain subscores, King's and MiToS
stages and, when onset is known, ΔFS and its category. Everything is vectorised over rows; a bad
row is reported by its 1-based position among the data rows (header and blank lines not
counted) and its column, or by a caller-supplied label (``row_where``).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from alsim.clinical.alsfrs import (
    ALSFRSR,
    DOMAINS,
    ITEM_COLUMNS,
    ITEM_MAX,
    ITEM_MIN,
    ITEM_TEXT,
    Q5A,
    Q5B,
    TOTAL_MAX,
    _shown,
)
from alsim.clinical.progression import (
    OnsetConvention,
    ProgressionCategories,
    parse_onset_date,
)
from alsim.clinical.staging import kings_label_array, mitos_stage_array
from alsim.errors import InputError
from alsim.units import DAYS_PER_MONTH
from alsim.validation import bool_column

#: Names a data row in an error message, given its 0-based position in the table.
RowWhere = Callable[[int], str]

#: Cell text read as missing by :func:`read_visits_csv` (compared case-insensitively).
MISSING_TEXT = frozenset({"", "na", "n/a", "nan", "null", "none"})

SCORE_COLUMNS = (
    "total",
    "bulbar",
    "fine_motor",
    "gross_motor",
    "respiratory",
    "kings_stage",
    "mitos_stage",
    "months_since_onset",
    "delta_fs",
    "progression",
)


def read_visits_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a tidy per-visit CSV file strictly; every column comes back as text (``string``).

    * UTF-8 text (a byte-order mark is allowed); the first non-blank line is the header and
      blank lines are skipped.
    * Every column needs a distinct, non-empty name, so a header ending in a comma is rejected.
    * Every row needs exactly one field per header column: a row with more or fewer fields is
      rejected, naming the row (a trailing comma on a row adds an empty field and counts).
    * Cells are stripped; blank cells and ``NA``, ``N/A``, ``NaN``, ``null``, ``None`` (any case)
      are missing (``<NA>``).

    A header with no rows gives an empty table. Raises :class:`~alsim.errors.InputError` naming
    the file, and the row (1-based data row: header and blank lines not counted) where it applies.
    """
    path = Path(path)
    name = path.name
    if path.is_dir():
        raise InputError(str(path), "is a directory, not a CSV file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    if b"\x00" in data:
        raise InputError(name, "is not a CSV text file (it contains binary data)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(name, f"is not UTF-8 text (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    try:
        for fields in reader:
            if fields and (len(fields) > 1 or fields[0].strip()):
                rows.append(fields)
    except csv.Error as exc:
        raise InputError(f"{name}, line {reader.line_num}", f"is not valid CSV ({exc})") from None
    if not rows:
        raise InputError(name, "is empty; expected a CSV header row")
    header = [column.strip() for column in rows[0]]
    seen: set[str] = set()
    for j, column in enumerate(header):
        if not column:
            hint = " (a trailing comma?)" if j == len(header) - 1 and j else ""
            raise InputError(
                f"{name}, header", f"column {j + 1} has no name{hint}; every column needs a name"
            )
        if column in seen:
            raise InputError(f"{name}, header", f"column {column!r} appears twice")
        seen.add(column)
    width = len(header)
    for number, fields in enumerate(rows[1:], start=1):
        if len(fields) != width:
            trailing = len(fields) > width and not any(f.strip() for f in fields[width:])
            raise InputError(
                f"{name}, row {number}",
                f"has {len(fields)} fields but the header has {width}"
                + (" (a trailing comma?)" if trailing else "")
                + "; every row needs exactly one value per column",
            )
    cells = np.array(rows[1:], dtype=object).reshape(len(rows) - 1, width)
    frame = pd.DataFrame(
        {column: _text_column(cells[:, j]) for j, column in enumerate(header)},
        index=pd.RangeIndex(len(rows) - 1),
    )
    return frame


def items_from_table(
    visits: pd.DataFrame, *, source: str = "visits", row_where: RowWhere | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validated ALSFRS-R items ``(n, 12)`` (int8) and gastrostomy flags ``(n,)`` from a table.

    Raises :class:`~alsim.errors.InputError` naming ``source``, the 1-based row (or
    ``row_where(row)``) and the column of the first invalid value (out of range, missing, not a
    whole number, text or a boolean, or both 5a and 5b scored).
    """
    n = len(visits)
    where = _row_namer(visits, source, row_where)
    has_split = Q5A in visits.columns or Q5B in visits.columns
    if has_split:
        q5a = _item_column(visits, Q5A)
        q5b = _item_column(visits, Q5B)
        both = ~np.isnan(q5a) & ~np.isnan(q5b)
        if both.any():
            _raise_row(visits, _first(both), where)
        gastrostomy = ~np.isnan(q5b)
        q5 = np.where(gastrostomy, q5b, q5a)
        if "gastrostomy" in visits.columns:
            recorded = _bool_column(visits, "gastrostomy", where)
            bad = visits["gastrostomy"].notna().to_numpy(bool) & (recorded != gastrostomy)
            if bad.any():
                _raise_row(visits, _first(bad), where)
    elif "q5_cutting" in visits.columns:
        q5 = _item_column(visits, "q5_cutting")
        gastrostomy = (
            _bool_column(visits, "gastrostomy", where)
            if "gastrostomy" in visits.columns
            else np.zeros(n, dtype=bool)
        )
    else:
        raise InputError(f"{source}: column {Q5A}/{Q5B}", "item 5 is missing: score 5a or 5b")

    columns = []
    for name in ITEM_COLUMNS:
        if name == "q5_cutting":
            columns.append(q5)
            continue
        if name not in visits.columns:
            raise InputError(f"{source}: column {name}", "is missing")
        columns.append(_item_column(visits, name))
    values = np.column_stack(columns) if n else np.zeros((0, 12))
    ok = np.isfinite(values) & (values >= ITEM_MIN) & (values <= ITEM_MAX)
    if not ok.all():
        _raise_row(visits, _first(~ok.all(axis=1)), where)
    return values.astype(np.int8), gastrostomy.astype(bool)


def months_since_onset(
    visits: pd.DataFrame,
    *,
    convention: OnsetConvention | str = OnsetConvention.MID,
    source: str = "visits",
    row_where: RowWhere | None = None,
) -> np.ndarray | None:
    """Months from symptom onset to each visit, or ``None`` when the table cannot tell.

    NaN where a visit's onset (or time) is blank, i.e. unknown. A known duration must be a
    positive, finite number of months; anything else raises, naming the row.
    """
    where = _row_namer(visits, source, row_where)
    if "months_since_onset" in visits.columns:
        months = _number_column(visits, "months_since_onset", where)
    elif {"visit_months", "onset_months"} <= set(visits.columns):
        visit = _number_column(visits, "visit_months", where)
        onset = _number_column(visits, "onset_months", where)
        with np.errstate(over="ignore", invalid="ignore"):
            months = visit - onset
    elif {"visit_date", "onset_date"} <= set(visits.columns):
        months = np.full(len(visits), np.nan)
        for i, (onset, visit) in enumerate(
            zip(visits["onset_date"], visits["visit_date"], strict=True)
        ):
            if _is_blank(onset) or _is_blank(visit):
                continue
            d0 = parse_onset_date(
                str(onset).strip(), convention=convention, where=f"{where(i)}, onset_date"
            )
            d1 = parse_onset_date(
                str(visit).strip(), convention=convention, where=f"{where(i)}, visit_date"
            )
            months[i] = (d1 - d0).days / DAYS_PER_MONTH
    else:
        return None
    bad = ~np.isnan(months) & (~np.isfinite(months) | (months <= 0))
    if bad.any():
        row = _first(bad)
        raise InputError(
            f"{where(row)}, months since onset",
            f"must be a positive number of months, got {months[row]:.4g}",
        )
    return months


def score_visits(
    visits: pd.DataFrame,
    *,
    categories: ProgressionCategories | None = None,
    convention: OnsetConvention | str = OnsetConvention.MID,
    source: str = "visits",
    row_where: RowWhere | None = None,
) -> pd.DataFrame:
    """Score every visit of a tidy table; returns the identifying columns plus the scores.

    Output columns: any of ``subject_id``, ``visit_months`` (as numbers), ``visit_date`` present
    in the input, then ``total`` (0-48), ``bulbar``, ``fine_motor``, ``gross_motor``,
    ``respiratory``, ``gastrostomy``, ``kings_stage`` (label, e.g. ``"4A"``), ``mitos_stage``
    (0-5) and, when the table has onset columns, ``months_since_onset``, ``delta_fs``
    (points/month) and ``progression`` (all three missing for a visit whose onset is blank).
    A yes/no ``dead`` column (true/false, yes/no, 1/0; blank = no), when present, sets both
    stages to 5.

    Errors name ``source`` and the 1-based row; pass ``row_where`` (row position -> text) when
    the table's rows are not the file's rows, e.g. after sorting or filtering.
    """
    where = _row_namer(visits, source, row_where)
    n = len(visits)
    items, gastrostomy = items_from_table(visits, source=source, row_where=where)
    dead = (
        _bool_column(visits, "dead", where) if "dead" in visits.columns else np.zeros(n, dtype=bool)
    )
    out = pd.DataFrame(index=pd.RangeIndex(n))
    for column in ("subject_id", "visit_months", "visit_date"):
        if column == "visit_months" and column in visits.columns:
            out[column] = _number_column(visits, column, where)
        elif column in visits.columns:
            out[column] = visits[column].to_numpy()
    out["total"] = items.sum(axis=1, dtype=np.int16)
    for name, idx in DOMAINS.items():
        out[name] = items[:, list(idx)].sum(axis=1, dtype=np.int16)
    out["gastrostomy"] = gastrostomy
    out["kings_stage"] = kings_label_array(items, gastrostomy, dead)
    out["mitos_stage"] = mitos_stage_array(items, dead)
    months = months_since_onset(visits, convention=convention, source=source, row_where=where)
    if months is not None:
        known = ~np.isnan(months)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            rate = (TOTAL_MAX - out["total"].to_numpy(float)) / months
        infinite = known & ~np.isfinite(rate)
        if infinite.any():
            row = _first(infinite)
            raise InputError(
                f"{where(row)}, months since onset",
                f"is too small ({months[row]:.4g} months): ΔFS would be infinite",
            )
        progression = np.full(n, None, dtype=object)
        if known.any():
            progression[known] = (categories or ProgressionCategories()).classify(rate[known])
        out["months_since_onset"] = months
        out["delta_fs"] = np.where(known, rate, np.nan)
        out["progression"] = pd.Series(progression, index=out.index, dtype=object)
    return out


# -- helpers ----------------------------------------------------------------------------------
def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _is_blank(value: object) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def _text_column(values: np.ndarray) -> pd.Series:
    """File cells -> stripped ``string`` column, NA where blank or a missing-value token."""
    text = pd.Series(values, dtype="string").str.strip()
    return text.mask(text.str.lower().isin(MISSING_TEXT).to_numpy(bool))


def _item_column(visits: pd.DataFrame, column: str) -> np.ndarray:
    """An item column as floats: NaN where missing, ``inf`` where the cell is not a valid score.

    Valid: whole numbers 0-4 (numeric columns) or :data:`ITEM_TEXT` (text and object columns).
    Booleans, other text, fractions and out-of-range numbers are invalid; a huge integer is
    invalid too (compared as text, so it cannot overflow).
    """
    if column not in visits.columns:
        return np.full(len(visits), np.nan)
    series = visits[column]
    missing = series.isna().to_numpy(bool)
    if pd.api.types.is_bool_dtype(series.dtype):
        return np.where(missing, np.nan, np.inf)
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_complex_dtype(
        series.dtype
    ):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        valid = np.isin(values, np.arange(ITEM_MIN, ITEM_MAX + 1))
        return np.where(missing, np.nan, np.where(valid, values, np.inf))
    text = series.astype("string").str.strip()
    missing = missing | (text == "").fillna(True).to_numpy(bool)
    valid = text.str.fullmatch(ITEM_TEXT.pattern).fillna(False).to_numpy(bool)
    digits = pd.to_numeric(text.str.slice(0, 1).where(valid), errors="coerce")
    values = digits.to_numpy(dtype=float, na_value=np.nan)
    return np.where(missing, np.nan, np.where(valid, values, np.inf))


def _number_column(visits: pd.DataFrame, column: str, where: RowWhere) -> np.ndarray:
    """A column of numbers (months) as floats, NaN where blank; anything else raises."""
    series = visits[column]
    if pd.api.types.is_bool_dtype(series.dtype):
        missing = series.isna().to_numpy(bool)
        values = np.where(missing, np.nan, np.inf)
    elif pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_complex_dtype(
        series.dtype
    ):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(values)
    else:
        text = series.astype("string").str.strip()
        missing = (text.isna() | (text == "")).fillna(True).to_numpy(bool)
        numbers = pd.to_numeric(text.where(~missing), errors="coerce")
        values = numbers.to_numpy(dtype=float, na_value=np.nan)
    bad = ~missing & ~np.isfinite(values)
    if bad.any():
        row = _first(bad)
        raise InputError(
            f"{where(row)}, {column}", f"must be a finite number, got {_shown(series.iloc[row])}"
        )
    return values


def _row_namer(visits: pd.DataFrame, source: str, row_where: RowWhere | None) -> RowWhere:
    """``row_where`` if given, else ``"source, row N"`` (1-based) with the subject id if any."""
    if row_where is not None:
        return row_where
    ids = visits["subject_id"] if "subject_id" in visits.columns else None

    def where(row: int) -> str:
        text = f"{source}, row {row + 1}"
        if ids is not None and not _is_blank(ids.iloc[row]):
            text += f" (subject_id {ids.iloc[row]})"
        return text

    return where


def _bool_column(visits: pd.DataFrame, column: str, where: RowWhere) -> np.ndarray:
    return bool_column(visits[column], lambda row: f"{where(row)}, {column}")


def _raise_row(visits: pd.DataFrame, row: int, where: RowWhere) -> None:
    """Re-validate one row with the scalar validator so the message names the exact column."""
    record = {k: (None if _is_blank(v) else v) for k, v in visits.iloc[row].to_dict().items()}
    ALSFRSR.from_mapping(record, where=where(row))
    raise InputError(where(row), "invalid ALSFRS-R record")  # pragma: no cover
