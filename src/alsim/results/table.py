"""The tidy trials table: one row per simulated trial and comparison (the trial-engine contract).

A *comparison* is one active regimen (arm) against its control: a two-arm trial has one per
replicate, a multi-arm or platform trial one per regimen. :func:`check_trials` checks that a
table has every contract column with a usable type before any summary is computed, and raises
one :class:`~alsim.errors.InputError` naming the first problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsim.errors import InputError

#: Contract columns and their kind: "int", "float", "bool" or "str".
TRIAL_COLUMNS: dict[str, str] = {
    "rep": "int",
    "comparison": "str",
    "design": "str",
    "analysis": "str",
    "n_active": "int",
    "n_control": "int",
    "n_trial": "int",
    "duration_months": "float",
    "looks": "int",
    "stop_look": "int",
    "decision": "str",
    "success": "bool",
    "early_success": "bool",
    "early_futility": "bool",
    "estimate": "float",
    "estimand": "str",
    "true_value": "float",
    "stat": "float",
    "stat_max": "float",
    "threshold": "float",
    "ci_lower": "float",
    "ci_upper": "float",
}

#: The values of ``decision``.
DECISIONS = ("success", "futility", "inconclusive")

#: The value of each estimand under "no treatment effect" (used to recognise null comparisons).
NULL_VALUES: dict[str, float] = {
    "drr": 1.0,
    "hazard_ratio": 1.0,
    "slope_difference": 0.0,
    "slope_ratio": 1.0,
    "mean_difference": 0.0,
    "difference": 0.0,
    "ratio": 1.0,
}


def check_trials(trials: pd.DataFrame, where: str = "trials") -> pd.DataFrame:
    """Check ``trials`` against the contract; return it unchanged.

    Raises :class:`~alsim.errors.InputError` (``where`` names the table, e.g. a file) when it is
    not a DataFrame, has no rows, lacks a contract column, has a column of the wrong kind
    (numbers where numbers are needed, booleans for the flags), a ``decision`` outside
    :data:`DECISIONS`, or the same (rep, comparison) twice.
    """
    if not isinstance(trials, pd.DataFrame):
        raise InputError(where, f"must be a pandas DataFrame, got {type(trials).__name__}")
    missing = [name for name in TRIAL_COLUMNS if name not in trials.columns]
    if missing:
        raise InputError(where, f"missing column(s) {', '.join(missing)}")
    if trials.empty:
        raise InputError(where, "has no rows")
    for name, kind in TRIAL_COLUMNS.items():
        column = trials[name]
        if kind == "bool" and not pd.api.types.is_bool_dtype(column):
            raise InputError(f"{where}, column {name}", f"must be boolean, got {column.dtype}")
        if kind in ("int", "float") and (
            pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column)
        ):
            raise InputError(f"{where}, column {name}", f"must be numeric, got {column.dtype}")
        if kind == "int" and column.isna().any():
            raise InputError(f"{where}, column {name}", "has missing values")
    bad = ~trials["decision"].isin(DECISIONS)
    if bad.any():
        value = trials.loc[bad, "decision"].iloc[0]
        raise InputError(
            f"{where}, column decision", f"must be one of {', '.join(DECISIONS)}, got {value!r}"
        )
    if trials.duplicated(["rep", "comparison"]).any():
        raise InputError(where, "has the same (rep, comparison) more than once")
    return trials


def null_value(estimand: str) -> float:
    """The estimand's value under no effect, or NaN when it is not known."""
    return NULL_VALUES.get(str(estimand), np.nan)


def is_null(trials: pd.DataFrame) -> np.ndarray:
    """Rows whose true value equals the estimand's null value (no true effect)."""
    nulls = trials["estimand"].map(lambda e: null_value(e)).to_numpy(float)
    truth = trials["true_value"].to_numpy(float)
    return np.isfinite(nulls) & np.isclose(truth, nulls, rtol=0.0, atol=1e-12)
