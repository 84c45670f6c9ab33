"""Small shared validators for user-supplied values (one place for yes/no parsing)."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from alsim.errors import InputError

#: Text accepted as yes / no in files and forms (compared lower-case, stripped).
TRUE_STRINGS = frozenset({"1", "1.0", "true", "yes", "y", "t"})
FALSE_STRINGS = frozenset({"0", "0.0", "false", "no", "n", "f"})


def as_bool(value: Any, where: str, *, allow_strings: bool = True) -> bool:
    """``value`` as a bool: True/False, 1/0 and (if ``allow_strings``) yes/no-like text."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, numbers.Real) and value in (0, 1):
        return bool(value)
    if allow_strings and isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE_STRINGS:
            return True
        if text in FALSE_STRINGS:
            return False
    expected = "true or false" + (" (yes/no, 1/0)" if allow_strings else " (or 1/0)")
    raise InputError(where, f"must be {expected}, got {value!r}")


def bool_column(column: pd.Series, where: Callable[[int], str]) -> np.ndarray:
    """A yes/no column as booleans (missing = False); ``where(row)`` names a bad row."""
    text = column.astype("string").str.strip().str.lower()
    true = text.isin(TRUE_STRINGS).fillna(False).to_numpy(bool)
    false = (text.isin(FALSE_STRINGS).fillna(False) | column.isna()).to_numpy(bool)
    bad = ~(true | false)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(where(row), f"must be true or false, got {column.iloc[row]!r}")
    return true
