"""Progression rate ΔFS and its categories; months since onset with an explicit date convention.

ΔFS ("pre-slope"; Kimura et al., Neurology 2006;66:265-267) assumes a full score of 48 at symptom
onset::

    ΔFS = (48 - ALSFRS-R total at t) / (months from symptom onset to t)

in points per month, positive = decline. Kimura computed it at diagnosis; others at the first
visit (Kjældgaard et al., BMC Neurol 2021, Table 4). Always record the time point it refers to.

Default categories are Kimura's three groups: slow < 0.5 <= intermediate < 1.0 <= fast; the
cut-offs are parameters (e.g. Labra 2016 tertiles 0.47 / 1.11, Gordon 2006 single cut 0.5).

A month is 30.4375 days (see :mod:`alsim.units`). Partial onset dates ("2021-03" or "2021") are
completed by a configurable convention (default: mid-month, the 15th, and mid-year, 1 July, the
usual registry practice; not a published standard, so it is recorded and configurable).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from alsim.clinical.alsfrs import TOTAL_MAX
from alsim.errors import InputError
from alsim.units import DAYS_PER_MONTH


class OnsetConvention(StrEnum):
    """How a partial onset date (year-month or year only) is completed."""

    MID = "mid"  # 15th of the month; 1 July for a bare year
    START = "start"  # 1st of the month; 1 January for a bare year


_PARTIAL = re.compile(r"^\s*(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?\s*$")


def parse_onset_date(
    value: str | _dt.date, *, convention: OnsetConvention | str = OnsetConvention.MID, where="onset"
) -> _dt.date:
    """Parse a full or partial date ("2021-03-04", "2021-03", "2021") with ``convention``."""
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    convention = OnsetConvention(convention)
    match = _PARTIAL.match(str(value))
    if not match:
        raise InputError(where, f"expected a date YYYY-MM-DD, YYYY-MM or YYYY, got {value!r}")
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        if month is None:
            return (
                _dt.date(year, 7, 1) if convention is OnsetConvention.MID else _dt.date(year, 1, 1)
            )
        if day is None:
            return _dt.date(year, month, 15 if convention is OnsetConvention.MID else 1)
        return _dt.date(year, month, day)
    except ValueError as exc:
        raise InputError(where, f"invalid date {value!r} ({exc})") from None


def months_between(
    start: str | _dt.date,
    end: str | _dt.date,
    *,
    convention: OnsetConvention | str = OnsetConvention.MID,
) -> float:
    """Months (30.4375 days) from ``start`` (e.g. onset) to ``end`` (e.g. a visit)."""
    d0 = parse_onset_date(start, convention=convention, where="onset")
    d1 = parse_onset_date(end, convention=convention, where="visit date")
    return (d1 - d0).days / DAYS_PER_MONTH


def delta_fs(total: Any, months_since_onset: Any, *, full_score: int = TOTAL_MAX) -> Any:
    """ΔFS = (48 - total) / months since onset, in points per month (scalar or array).

    Raises :class:`~alsim.errors.InputError` when a duration is zero, negative or missing, or a
    total lies outside 0-48.
    """
    total_arr = np.asarray(total, dtype=float)
    months = np.asarray(months_since_onset, dtype=float)
    if not np.all(np.isfinite(months)) or np.any(months <= 0):
        raise InputError(
            "months_since_onset", f"must be a positive number of months, got {months_since_onset!r}"
        )
    if not np.all(np.isfinite(total_arr)) or np.any((total_arr < 0) | (total_arr > full_score)):
        raise InputError("total", f"must lie in 0-{full_score}, got {total!r}")
    rate = (full_score - total_arr) / months
    return float(rate) if rate.ndim == 0 else rate


@dataclass(frozen=True)
class ProgressionCategories:
    """Cut-offs for progression groups: slow < ``slow_below`` <= intermediate < ``fast_from``.

    Defaults are Kimura 2006's three groups (0.5 and 1.0 points/month).
    """

    slow_below: float = 0.5
    fast_from: float = 1.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.slow_below) and np.isfinite(self.fast_from)):
            raise InputError("progression cut-offs", "must be finite numbers")
        if not 0 <= self.slow_below <= self.fast_from:
            raise InputError(
                "progression cut-offs",
                f"need 0 <= slow_below <= fast_from, got {self.slow_below} and {self.fast_from}",
            )

    def classify(self, rate: Any) -> Any:
        """``"slow"``, ``"intermediate"`` or ``"fast"`` for a rate or an array of rates."""
        arr = np.asarray(rate, dtype=float)
        if np.any(np.isnan(arr)):
            raise InputError("delta_fs", "cannot classify a missing progression rate")
        labels = np.where(
            arr < self.slow_below, "slow", np.where(arr < self.fast_from, "intermediate", "fast")
        )
        return str(labels) if labels.ndim == 0 else labels.astype(object)


def progression_category(rate: Any, categories: ProgressionCategories | None = None) -> Any:
    """Classify ΔFS with ``categories`` (default: Kimura's slow/intermediate/fast)."""
    return (categories or ProgressionCategories()).classify(rate)
