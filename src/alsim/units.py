"""Time units. The base unit of time everywhere in alsim is the month (float).

A month is a mean Gregorian month, 365.25 / 12 = 30.4375 days, the convention used by the
ENCALS/TRICALS scripts and by PRO-ACT pipelines (see docs/clinical.md, section "ΔFS and
progression categories").
Conversions happen at the edges (file readers, CLI), never inside models.
"""

from __future__ import annotations

import numpy as np

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0  # 30.4375
DAYS_PER_WEEK = 7.0
WEEKS_PER_MONTH = DAYS_PER_MONTH / DAYS_PER_WEEK


def days_to_months(days):
    """Convert days to months (30.4375 days per month); works on scalars and arrays."""
    return (
        np.asarray(days, dtype=float) / DAYS_PER_MONTH if np.ndim(days) else days / DAYS_PER_MONTH
    )


def months_to_days(months):
    """Convert months to days (30.4375 days per month); works on scalars and arrays."""
    return (
        np.asarray(months, dtype=float) * DAYS_PER_MONTH
        if np.ndim(months)
        else months * DAYS_PER_MONTH
    )


def weeks_to_months(weeks):
    """Convert weeks to months."""
    return (
        np.asarray(weeks, dtype=float) / WEEKS_PER_MONTH
        if np.ndim(weeks)
        else weeks / WEEKS_PER_MONTH
    )


def years_to_months(years):
    """Convert years to months."""
    return np.asarray(years, dtype=float) * 12.0 if np.ndim(years) else years * 12.0
