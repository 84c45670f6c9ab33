"""Clinical scores on a tidy per-visit table (one row per subject and visit).

The table holds the ALSFRS-R items under the tidy names of
:data:`~alsim.clinical.alsfrs.VISIT_ITEM_COLUMNS` (5a and 5b as recorded), or a combined
``q5_cutting`` with a boolean ``gastrostomy`` column. Time since onset comes from, in order of
preference:

* a ``months_since_onset`` column;
* ``visit_months`` minus ``onset_months`` (PRO-ACT style, months from a time zero);
* ``visit_date`` minus ``onset_date`` (ISO dates; partial onset dates completed by the
  :class:`~alsim.clinical.progression.OnsetConvention`).

:func:`score_visits` adds the total, the four domain subscores, King's and MiToS stages and, when
onset is known, ΔFS and its category. Everything is vectorised over rows; a bad row is reported
by its 1-based position and column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsim.clinical.alsfrs import (
    ALSFRSR,
    DOMAINS,
    ITEM_COLUMNS,
    Q5A,
    Q5B,
    TOTAL_MAX,
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


def items_from_table(
    visits: pd.DataFrame, *, source: str = "visits"
) -> tuple[np.ndarray, np.ndarray]:
    """Validated ALSFRS-R items ``(n, 12)`` (int8) and gastrostomy flags ``(n,)`` from a table.

    Raises :class:`~alsim.errors.InputError` naming ``source``, the 1-based row and the column of
    the first invalid value (out of range, missing, not a number, or both 5a and 5b scored).
    """
    n = len(visits)
    has_split = Q5A in visits.columns or Q5B in visits.columns
    if has_split:
        q5a = _numeric(visits, Q5A)
        q5b = _numeric(visits, Q5B)
        both = q5a.notna() & q5b.notna()
        if both.any():
            _raise_row(visits, int(np.flatnonzero(both.to_numpy())[0]), source)
        gastrostomy = q5b.notna().to_numpy()
        q5 = q5b.where(q5b.notna(), q5a)
        if "gastrostomy" in visits.columns:
            recorded = _bool_column(visits, "gastrostomy", source)
            bad = visits["gastrostomy"].notna().to_numpy() & (recorded != gastrostomy)
            if bad.any():
                _raise_row(visits, int(np.flatnonzero(bad)[0]), source)
    elif "q5_cutting" in visits.columns:
        q5 = _numeric(visits, "q5_cutting")
        gastrostomy = (
            _bool_column(visits, "gastrostomy", source)
            if "gastrostomy" in visits.columns
            else np.zeros(n, dtype=bool)
        )
    else:
        raise InputError(f"{source}: column {Q5A}/{Q5B}", "item 5 is missing: score 5a or 5b")

    columns = []
    for name in ITEM_COLUMNS:
        if name == "q5_cutting":
            columns.append(q5.to_numpy(dtype=float))
            continue
        if name not in visits.columns:
            raise InputError(f"{source}: column {name}", "is missing")
        columns.append(_numeric(visits, name).to_numpy(dtype=float))
    values = np.column_stack(columns) if n else np.zeros((0, 12))
    ok = np.isfinite(values) & (values == np.round(values)) & (values >= 0) & (values <= 4)
    if not ok.all():
        _raise_row(visits, int(np.flatnonzero(~ok.all(axis=1))[0]), source)
    return values.astype(np.int8), gastrostomy.astype(bool)


def months_since_onset(
    visits: pd.DataFrame,
    *,
    convention: OnsetConvention | str = OnsetConvention.MID,
    source: str = "visits",
) -> np.ndarray | None:
    """Months from symptom onset to each visit, or ``None`` when the table cannot tell."""
    if "months_since_onset" in visits.columns:
        months = _numeric(visits, "months_since_onset").to_numpy(dtype=float)
    elif {"visit_months", "onset_months"} <= set(visits.columns):
        months = (_numeric(visits, "visit_months") - _numeric(visits, "onset_months")).to_numpy(
            float
        )
    elif {"visit_date", "onset_date"} <= set(visits.columns):
        months = np.empty(len(visits))
        for i, (onset, visit) in enumerate(
            zip(visits["onset_date"], visits["visit_date"], strict=True)
        ):
            where = _row_where(visits, i, source)
            d0 = parse_onset_date(str(onset), convention=convention, where=f"{where}, onset_date")
            d1 = parse_onset_date(str(visit), convention=convention, where=f"{where}, visit_date")
            months[i] = (d1 - d0).days / DAYS_PER_MONTH
    else:
        return None
    bad = ~np.isfinite(months) | (months <= 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{_row_where(visits, row, source)}, months since onset",
            f"must be a positive number of months, got {months[row]:.4g}",
        )
    return months


def score_visits(
    visits: pd.DataFrame,
    *,
    categories: ProgressionCategories | None = None,
    convention: OnsetConvention | str = OnsetConvention.MID,
    source: str = "visits",
) -> pd.DataFrame:
    """Score every visit of a tidy table; returns the identifying columns plus the scores.

    Output columns: any of ``subject_id``, ``visit_months``, ``visit_date`` present in the
    input, then ``total`` (0-48), ``bulbar``, ``fine_motor``, ``gross_motor``, ``respiratory``,
    ``gastrostomy``, ``kings_stage`` (label, e.g. ``"4A"``), ``mitos_stage`` (0-5) and, when onset
    is known, ``months_since_onset``, ``delta_fs`` (points/month) and ``progression``.
    A boolean ``dead`` column, when present, sets both stages to 5.
    """
    items, gastrostomy = items_from_table(visits, source=source)
    dead = (
        visits["dead"].fillna(False).astype(bool).to_numpy() if "dead" in visits.columns else False
    )
    out = visits[
        [c for c in ("subject_id", "visit_months", "visit_date") if c in visits.columns]
    ].copy()
    out = out.reset_index(drop=True)
    out["total"] = items.sum(axis=1, dtype=np.int16)
    for name, idx in DOMAINS.items():
        out[name] = items[:, list(idx)].sum(axis=1, dtype=np.int16)
    out["gastrostomy"] = gastrostomy
    out["kings_stage"] = kings_label_array(items, gastrostomy, dead)
    out["mitos_stage"] = mitos_stage_array(items, dead)
    months = months_since_onset(visits, convention=convention, source=source)
    if months is not None:
        out["months_since_onset"] = months
        out["delta_fs"] = (TOTAL_MAX - out["total"].to_numpy(float)) / months
        out["progression"] = (categories or ProgressionCategories()).classify(
            out["delta_fs"].to_numpy()
        )
    return out


# -- helpers ----------------------------------------------------------------------------------
def _numeric(visits: pd.DataFrame, column: str) -> pd.Series:
    """A column as floats; missing columns are all-NaN; text that is not a number stays NaN."""
    if column not in visits.columns:
        return pd.Series(np.nan, index=visits.index, dtype=float)
    return pd.to_numeric(visits[column], errors="coerce").astype(float)


def _row_where(visits: pd.DataFrame, row: int, source: str) -> str:
    """``"source, row N"`` (1-based data row), with the subject id when the table has one."""
    where = f"{source}, row {row + 1}"
    if "subject_id" in visits.columns:
        where += f" (subject_id {visits['subject_id'].iloc[row]})"
    return where


def _bool_column(visits: pd.DataFrame, column: str, source: str) -> np.ndarray:
    return bool_column(visits[column], lambda row: f"{_row_where(visits, row, source)}, {column}")


def _row_score(visits: pd.DataFrame, row: int, source: str) -> ALSFRSR:
    record = {k: (None if pd.isna(v) else v) for k, v in visits.iloc[row].to_dict().items()}
    return ALSFRSR.from_mapping(record, where=_row_where(visits, row, source))


def _raise_row(visits: pd.DataFrame, row: int, source: str) -> None:
    """Re-validate one row with the scalar validator so the message names the exact column."""
    _row_score(visits, row, source)
    raise InputError(_row_where(visits, row, source), "invalid ALSFRS-R record")  # pragma: no cover
