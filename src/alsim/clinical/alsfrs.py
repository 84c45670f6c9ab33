"""ALSFRS-R (revised ALS Functional Rating Scale) and the original 10-item ALSFRS.

ALSFRS-R (Cedarbaum et al., J Neurol Sci 1999;169:13-21, PMID 10540002) has 12 items, each scored
0 (total loss) to 4 (normal); the total ranges 0-48. Item 5 exists in two versions: 5a *cutting
food and handling utensils* for patients without a gastrostomy, 5b for patients with one; exactly
one of them is scored at a visit (scoring both would allow a maximum of 52).

Domain subscores, each 0-12 (standard four-domain structure; Bakker et al., ALS-FTD 2017,
PMC5502060, confirmed four factors):

=========== ============================================== =====
domain      items                                          range
=========== ============================================== =====
bulbar      1 speech, 2 salivation, 3 swallowing           0-12
fine motor  4 handwriting, 5 cutting (5a or 5b), 6 dressing 0-12
gross motor 7 turning in bed, 8 walking, 9 climbing stairs  0-12
respiratory 10 dyspnoea, 11 orthopnoea, 12 resp. insuff.    0-12
=========== ============================================== =====

The original ALSFRS (ALS CNTF Treatment Study Group, Arch Neurol 1996;53:141-147) has items 1-9
plus one respiratory item (``q10_respiratory``), total 0-40. The two totals are *not* comparable
and alsim keeps them in distinct types.

Two representations are provided and share one implementation:

* :class:`ALSFRSR`, one validated visit (frozen dataclass), for clinicians and the CLI;
* array functions (:func:`validate_item_array`, :func:`domain_scores`, :func:`total_score`) over
  an integer array of shape ``(..., 12)`` in ALSFRS-R order, used by the simulator.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from alsim.errors import InputError
from alsim.validation import as_bool

# Canonical tidy column names, in ALSFRS-R order. Item 5 has two columns (5a / 5b).
ITEM_COLUMNS: tuple[str, ...] = (
    "q1_speech",
    "q2_salivation",
    "q3_swallowing",
    "q4_handwriting",
    "q5_cutting",
    "q6_dressing_hygiene",
    "q7_turning_in_bed",
    "q8_walking",
    "q9_climbing_stairs",
    "r1_dyspnea",
    "r2_orthopnea",
    "r3_respiratory_insufficiency",
)
Q5A = "q5a_cutting_without_gastrostomy"
Q5B = "q5b_cutting_with_gastrostomy"
#: Columns of a per-visit table holding item scores (5a and 5b separately, as recorded).
VISIT_ITEM_COLUMNS: tuple[str, ...] = (*ITEM_COLUMNS[:4], Q5A, Q5B, *ITEM_COLUMNS[5:])

ITEM_LABELS: tuple[str, ...] = (
    "Speech",
    "Salivation",
    "Swallowing",
    "Handwriting",
    "Cutting food and handling utensils",
    "Dressing and hygiene",
    "Turning in bed and adjusting bed clothes",
    "Walking",
    "Climbing stairs",
    "Dyspnoea",
    "Orthopnoea",
    "Respiratory insufficiency",
)

#: Domain name -> zero-based item indices (in ALSFRS-R order).
DOMAINS: dict[str, tuple[int, int, int]] = {
    "bulbar": (0, 1, 2),
    "fine_motor": (3, 4, 5),
    "gross_motor": (6, 7, 8),
    "respiratory": (9, 10, 11),
}

N_ITEMS = 12
ITEM_MIN, ITEM_MAX = 0, 4
TOTAL_MAX = N_ITEMS * ITEM_MAX  # 48

ORIGINAL_ITEM_COLUMNS: tuple[str, ...] = (*ITEM_COLUMNS[:9], "q10_respiratory")
ORIGINAL_TOTAL_MAX = 40


#: How an item score may be written as text (a file cell, a command-line value): one ASCII digit
#: 0-4, optionally followed by a decimal point and zeros ("3", "3.0", "3.00"), surrounding spaces
#: ignored. Signs, exponents, underscores, non-ASCII digits and "True"/"False" are not scores.
ITEM_TEXT = re.compile(r"[0-4](?:\.0+)?")
_WHOLE_NUMBER = re.compile(r"(?:0|[1-9][0-9]*)(?:\.0+)?")


def check_item(where: str, value: Any) -> int:
    """Return ``value`` as an int if it is a whole number 0-4, else raise :class:`InputError`.

    Numbers must be whole and in 0-4 (``3`` or ``3.0``); text must follow :data:`ITEM_TEXT`
    (``"3"`` or ``"3.0"``); booleans and missing values are rejected.
    """
    problem = f"must be an integer 0-4, got {_shown(value)}"
    if isinstance(value, str):
        text = value.strip()
        if ITEM_TEXT.fullmatch(text) is not None:
            return int(text[0])
        if _WHOLE_NUMBER.fullmatch(text) and len(text) <= 40:  # out of range, like 5 or 12.0
            raise InputError(where, f"must be an integer 0-4, got {int(text.split('.')[0])}")
        raise InputError(where, problem)
    if isinstance(value, bool | np.bool_) or value is None:
        raise InputError(where, problem)
    try:
        as_float = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(where, problem) from None
    if not np.isfinite(as_float) or as_float != int(as_float):
        raise InputError(where, problem)
    as_int = int(as_float)
    if not ITEM_MIN <= as_int <= ITEM_MAX:
        raise InputError(where, f"must be an integer 0-4, got {as_int}")
    return as_int


@dataclass(frozen=True)
class ALSFRSR:
    """One validated ALSFRS-R assessment.

    Item 5 is stored once, as :attr:`q5_cutting`, together with :attr:`gastrostomy` which says
    whether it was scored on scale 5b (patient has a gastrostomy) or 5a (no gastrostomy).

    Build one with :meth:`from_items` (12 values in ALSFRS-R order) or :meth:`from_mapping`
    (tidy column names, 5a/5b as recorded); both validate every value.
    """

    q1_speech: int
    q2_salivation: int
    q3_swallowing: int
    q4_handwriting: int
    q5_cutting: int
    q6_dressing_hygiene: int
    q7_turning_in_bed: int
    q8_walking: int
    q9_climbing_stairs: int
    r1_dyspnea: int
    r2_orthopnea: int
    r3_respiratory_insufficiency: int
    gastrostomy: bool = False

    def __post_init__(self) -> None:
        for name in ITEM_COLUMNS:
            where = (Q5B if self.gastrostomy else Q5A) if name == "q5_cutting" else name
            object.__setattr__(self, name, check_item(where, getattr(self, name)))
        if not isinstance(self.gastrostomy, bool | np.bool_):
            raise InputError("gastrostomy", f"must be true or false, got {self.gastrostomy!r}")
        object.__setattr__(self, "gastrostomy", bool(self.gastrostomy))

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_items(cls, items: Sequence[Any], *, gastrostomy: bool = False) -> ALSFRSR:
        """Build from 12 values in ALSFRS-R order; item 5 is read as 5b if ``gastrostomy``."""
        values = list(items)
        if len(values) != N_ITEMS:
            raise InputError("items", f"expected 12 ALSFRS-R item scores, got {len(values)}")
        return cls(*values, gastrostomy=gastrostomy)

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any], *, where: str = "") -> ALSFRSR:
        """Build from a mapping with tidy column names (see :data:`VISIT_ITEM_COLUMNS`).

        Exactly one of ``q5a_cutting_without_gastrostomy`` / ``q5b_cutting_with_gastrostomy``
        must be present and not missing. A combined ``q5_cutting`` plus a boolean
        ``gastrostomy`` is accepted as well. ``where`` prefixes error messages (e.g. a file row).
        """
        prefix = f"{where}, " if where else ""

        def present(key: str) -> bool:
            return key in row and not _is_missing(row[key])

        has_a, has_b = present(Q5A), present(Q5B)
        if has_a and has_b:
            raise InputError(
                f"{prefix}{Q5A}/{Q5B}",
                "both 5a and 5b are scored; exactly one is allowed (5b only with a gastrostomy)",
            )
        if has_a or has_b:
            q5, gastrostomy = (row[Q5B], True) if has_b else (row[Q5A], False)
            if (
                present("gastrostomy")
                and as_bool(row["gastrostomy"], f"{prefix}gastrostomy") != gastrostomy
            ):
                raise InputError(
                    f"{prefix}gastrostomy",
                    "contradicts the item 5 scale used (5b means gastrostomy, 5a means none)",
                )
        elif present("q5_cutting"):
            q5 = row["q5_cutting"]
            gastrostomy = (
                as_bool(row["gastrostomy"], f"{prefix}gastrostomy")
                if present("gastrostomy")
                else False
            )
        else:
            raise InputError(f"{prefix}{Q5A}/{Q5B}", "item 5 is missing: score 5a or 5b")
        values: list[Any] = []
        for name in ITEM_COLUMNS:
            if name == "q5_cutting":
                values.append(check_item(f"{prefix}{Q5B if gastrostomy else Q5A}", q5))
                continue
            if not present(name):
                raise InputError(f"{prefix}{name}", "is missing")
            values.append(check_item(f"{prefix}{name}", row[name]))
        return cls(*values, gastrostomy=gastrostomy)

    # -- scores -------------------------------------------------------------------------------
    @property
    def items(self) -> tuple[int, ...]:
        """The 12 item scores in ALSFRS-R order (item 5 is 5a or 5b)."""
        return tuple(getattr(self, name) for name in ITEM_COLUMNS)

    def as_array(self) -> np.ndarray:
        return np.asarray(self.items, dtype=np.int8)

    @property
    def total(self) -> int:
        """ALSFRS-R total, 0-48."""
        return sum(self.items)

    @property
    def bulbar(self) -> int:
        return self.q1_speech + self.q2_salivation + self.q3_swallowing

    @property
    def fine_motor(self) -> int:
        return self.q4_handwriting + self.q5_cutting + self.q6_dressing_hygiene

    @property
    def gross_motor(self) -> int:
        return self.q7_turning_in_bed + self.q8_walking + self.q9_climbing_stairs

    @property
    def respiratory(self) -> int:
        return self.r1_dyspnea + self.r2_orthopnea + self.r3_respiratory_insufficiency

    def domains(self) -> dict[str, int]:
        """The four domain subscores (each 0-12)."""
        return {
            "bulbar": self.bulbar,
            "fine_motor": self.fine_motor,
            "gross_motor": self.gross_motor,
            "respiratory": self.respiratory,
        }

    def to_record(self) -> dict[str, int | bool | None]:
        """Tidy per-visit record: items with 5a/5b as recorded, plus the gastrostomy flag."""
        record: dict[str, int | bool | None] = {}
        for name in VISIT_ITEM_COLUMNS:
            if name == Q5A:
                record[name] = None if self.gastrostomy else self.q5_cutting
            elif name == Q5B:
                record[name] = self.q5_cutting if self.gastrostomy else None
            else:
                record[name] = getattr(self, name)
        record["gastrostomy"] = self.gastrostomy
        return record


@dataclass(frozen=True)
class ALSFRSOriginal:
    """One assessment on the original 10-item ALSFRS (total 0-40), kept distinct from ALSFRS-R.

    Items 1-9 are as in ALSFRS-R; item 10 is a single respiratory item (``q10_respiratory``).
    There is no validated conversion to ALSFRS-R; see :func:`heuristic_respiratory_from_q10`.
    """

    items: tuple[int, ...]
    gastrostomy: bool = False

    def __post_init__(self) -> None:
        values = tuple(self.items)
        if len(values) != len(ORIGINAL_ITEM_COLUMNS):
            raise InputError("items", f"expected 10 ALSFRS item scores, got {len(values)}")
        checked = tuple(
            check_item(name, v) for name, v in zip(ORIGINAL_ITEM_COLUMNS, values, strict=True)
        )
        object.__setattr__(self, "items", checked)

    @property
    def total(self) -> int:
        """Original ALSFRS total, 0-40 (not comparable with an ALSFRS-R total)."""
        return sum(self.items)


def heuristic_respiratory_from_q10(q10: int) -> int:
    """Approximate the ALSFRS-R respiratory domain as 3 x the original item 10.

    This is an ad-hoc heuristic seen in public PRO-ACT pipelines, **not a validated
    conversion**; use it only where a rough bridge is acceptable and label results as such.
    """
    return 3 * check_item("q10_respiratory", q10)


# -- array API (used by the simulator and the pandas helpers) ---------------------------------
def validate_item_array(items: Any, *, where: str = "items") -> np.ndarray:
    """Check an array of shape ``(..., 12)`` of ALSFRS-R items and return it as ``int8``."""
    arr = np.asarray(items)
    if arr.ndim == 0 or arr.shape[-1] != N_ITEMS:
        raise InputError(where, f"last axis must hold the 12 ALSFRS-R items, got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise InputError(where, f"items must be numeric, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
        raise InputError(where, "items must be whole numbers without missing values")
    if np.any(arr < ITEM_MIN) or np.any(arr > ITEM_MAX):
        raise InputError(where, "items must lie in 0-4")
    return arr.astype(np.int8)


def total_score(items: Any) -> np.ndarray:
    """ALSFRS-R totals for an item array of shape ``(..., 12)``."""
    return validate_item_array(items).sum(axis=-1, dtype=np.int16)


def domain_scores(items: Any) -> dict[str, np.ndarray]:
    """The four domain subscores for an item array of shape ``(..., 12)``."""
    arr = validate_item_array(items)
    return {name: arr[..., list(idx)].sum(axis=-1, dtype=np.int16) for name, idx in DOMAINS.items()}


# -- helpers ----------------------------------------------------------------------------------
def _shown(value: Any, limit: int = 40) -> str:
    """``repr(value)``, shortened in the middle when longer than ``limit`` characters."""
    if isinstance(value, int) and abs(value) >= 10**limit:  # repr() may refuse very long ints
        return f"an integer with more than {limit} digits"
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]}…{text[-(limit // 2) :]} ({len(text)} characters)"


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(np.isnan(value))
    except (TypeError, ValueError):
        return isinstance(value, str) and value.strip() == ""
