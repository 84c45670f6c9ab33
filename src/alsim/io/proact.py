"""Read and write PRO-ACT per-domain CSV files.

PRO-ACT (Pooled Resource Open-Access ALS Clinical Trials) ships one CSV file per domain
(``PROACT_ALSFRS.csv``, ``PROACT_ALSHISTORY.csv``, ...). Times are whole days (``*_Delta``
columns) from each subject's trial time zero. This module turns six of those files into three
tidy tables with snake_case columns and times in months (30.4375 days, :mod:`alsim.units`), and
writes tidy tables back in the same per-domain format:

* ``visits``: one row per ALSFRS/ALSFRS-R assessment (:data:`VISITS_SCHEMA`);
* ``patients``: one row per subject (:data:`PATIENTS_SCHEMA`);
* ``fvc``: one row per forced-vital-capacity assessment (:data:`FVC_SCHEMA`).

Column names are matched case-insensitively and ignoring underscores, so ``R_1_Dyspnea`` and
``R1_Dyspnea`` (the two spellings seen in the wild) are the same field, as are ``subject_id`` and
``SubjectID``. Only the per-domain *wide* format is supported, not the ``form_name`` /
``feature_name`` long format of some releases. Every bad value raises
:class:`~alsim.errors.InputError` naming the file, the 1-based data row (header not counted) and
the column. Validation is vectorised; a row is revisited on its own only to word the message.

Conventions, their sources and what could not be confirmed are listed in ``docs/data-proact.md``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsim.clinical.alsfrs import (
    ITEM_MAX,
    ITEM_MIN,
    Q5A,
    Q5B,
    VISIT_ITEM_COLUMNS,
    check_item,
)
from alsim.errors import InputError
from alsim.units import DAYS_PER_MONTH
from alsim.validation import FALSE_STRINGS, TRUE_STRINGS, bool_column

__all__ = [
    "FVC_SCHEMA",
    "ONSET_SITES",
    "PATIENTS_SCHEMA",
    "PROACT_FILE_NAMES",
    "RACES",
    "VISITS_SCHEMA",
    "ProactData",
    "add_months_since_onset",
    "as_schema",
    "is_proact_alsfrs",
    "read_alsfrs",
    "read_deaths",
    "read_demographics",
    "read_fvc",
    "read_history",
    "read_proact",
    "read_treatment",
    "recompute_visit_scores",
    "write_proact",
]

# -- tidy schemas -----------------------------------------------------------------------------
#: Column -> dtype of the tidy ``visits`` table, in column order.
VISITS_SCHEMA: dict[str, str] = {
    "subject_id": "string",
    "visit_months": "float64",
    **{name: "Int64" for name in VISIT_ITEM_COLUMNS},
    "q10_respiratory": "Int64",
    "gastrostomy": "bool",
    "alsfrs_r_total": "Int64",
    "mode_of_administration": "string",
    "responded_by": "string",
}
#: Column -> dtype of the tidy ``patients`` table, in column order.
PATIENTS_SCHEMA: dict[str, str] = {
    "subject_id": "string",
    "sex": "string",
    "age_years": "float64",
    "race": "string",
    "onset_months": "float64",
    "diagnosis_months": "float64",
    "onset_site": "string",
    "died": "bool",
    "death_months": "float64",
    "study_arm": "string",
}
#: Column -> dtype of the tidy ``fvc`` table, in column order.
FVC_SCHEMA: dict[str, str] = {
    "subject_id": "string",
    "visit_months": "float64",
    "fvc_liters": "float64",
    "fvc_percent": "float64",
}

#: Tidy onset sites and the PRO-ACT ``Site_of_Onset`` text written for each.
ONSET_SITES: dict[str, str] = {
    "bulbar": "Onset: Bulbar",
    "limb": "Onset: Limb",
    "limb_and_bulbar": "Onset: Limb and Bulbar",
    "other": "Onset: Other",
}
_SITE_TEXT: dict[str, str] = {
    "bulbar": "bulbar",
    "limb": "limb",
    "spine": "limb",  # spinal onset = limb onset (see docs/data-proact.md)
    "spinal": "limb",
    "limb and bulbar": "limb_and_bulbar",
    "bulbar and limb": "limb_and_bulbar",
    "other": "other",
}
#: Tidy race labels and the PRO-ACT DEMOGRAPHICS indicator column of each, in order.
RACES: dict[str, str] = {
    "american_indian_alaska_native": "Race_Americ_Indian_Alaska_Native",
    "asian": "Race_Asian",
    "black_african_american": "Race_Black_African_American",
    "hawaiian_pacific_islander": "Race_Hawaiian_Pacific_Islander",
    "caucasian": "Race_Caucasian",
    "other": "Race_Other",
    "unknown": "Race_Unknown",
}
_SEXES = {"female": "female", "f": "female", "male": "male", "m": "male"}
_ARMS = {"active": "active", "placebo": "placebo"}
_UNITS_LITERS = frozenset({"l", "liter", "liters", "litre", "litres"})

#: File name :func:`write_proact` uses for each domain.
PROACT_FILE_NAMES: dict[str, str] = {
    "alsfrs": "PROACT_ALSFRS.csv",
    "alshistory": "PROACT_ALSHISTORY.csv",
    "fvc": "PROACT_FVC.csv",
    "deathdata": "PROACT_DEATHDATA.csv",
    "demographics": "PROACT_DEMOGRAPHICS.csv",
    "treatment": "PROACT_TREATMENT.csv",
}

# PRO-ACT ALSFRS item columns, aligned with VISIT_ITEM_COLUMNS (respiratory items: "R_1" form).
_PROACT_ITEMS: tuple[str, ...] = (
    "Q1_Speech",
    "Q2_Salivation",
    "Q3_Swallowing",
    "Q4_Handwriting",
    "Q5a_Cutting_without_Gastrostomy",
    "Q5b_Cutting_with_Gastrostomy",
    "Q6_Dressing_and_Hygiene",
    "Q7_Turning_in_Bed",
    "Q8_Walking",
    "Q9_Climbing_Stairs",
    "R_1_Dyspnea",
    "R_2_Orthopnea",
    "R_3_Respiratory_Insufficiency",
)
_Q5_MERGED = "Q5_Cutting"
_Q10 = "Q10_Respiratory"
_RESPIRATORY_SPELLINGS = ("R_1", "R1")
_MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none", "."})
_ITEM_VALUES = np.arange(ITEM_MIN, ITEM_MAX + 1, dtype=float)


# -- the container ----------------------------------------------------------------------------
@dataclass(eq=False)
class ProactData:
    """The three tidy tables read from (or written to) a PRO-ACT directory.

    Attributes
    ----------
    visits : pandas.DataFrame
        One row per ALSFRS assessment; columns :data:`VISITS_SCHEMA`.
    patients : pandas.DataFrame
        One row per subject; columns :data:`PATIENTS_SCHEMA`.
    fvc : pandas.DataFrame
        One row per FVC assessment; columns :data:`FVC_SCHEMA`.
    """

    visits: pd.DataFrame
    patients: pd.DataFrame
    fvc: pd.DataFrame

    @classmethod
    def empty(cls) -> ProactData:
        """Three empty tables with the tidy columns and dtypes."""
        return cls(
            visits=as_schema(pd.DataFrame(), VISITS_SCHEMA),
            patients=as_schema(pd.DataFrame(), PATIENTS_SCHEMA),
            fvc=as_schema(pd.DataFrame(), FVC_SCHEMA),
        )

    def months_since_onset(self) -> pd.DataFrame:
        """The visits table plus ``months_since_onset``; see :func:`add_months_since_onset`."""
        return add_months_since_onset(self.visits, self.patients)


def as_schema(frame: pd.DataFrame, schema: Mapping[str, str]) -> pd.DataFrame:
    """Return ``frame`` with exactly the columns of ``schema``, in order, cast to its dtypes.

    Missing columns are added (all missing; ``False`` for booleans); extra columns are dropped;
    the index is reset to ``0..n-1``.
    """
    n = len(frame)
    out: dict[str, Any] = {}
    for column, dtype in schema.items():
        if column in frame.columns:
            values = frame[column].reset_index(drop=True)
            if dtype == "bool":
                values = values.astype("boolean").fillna(False)
            out[column] = values.astype(dtype)
        elif dtype == "bool":
            out[column] = pd.Series(np.zeros(n, dtype=bool))
        else:
            out[column] = pd.Series(np.full(n, np.nan)).astype(dtype)
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def add_months_since_onset(visits: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``visits`` with ``months_since_onset = visit_months - onset_months``.

    Parameters
    ----------
    visits : pandas.DataFrame
        Tidy visits (needs ``subject_id`` and ``visit_months``).
    patients : pandas.DataFrame
        Tidy patients (needs ``subject_id`` and ``onset_months``, one row per subject).

    Returns
    -------
    pandas.DataFrame
        The visits with a float ``months_since_onset`` column; NaN where onset is unknown.
    """
    for name, table, columns in (
        ("visits", visits, ("subject_id", "visit_months")),
        ("patients", patients, ("subject_id", "onset_months")),
    ):
        for column in columns:
            if column not in table.columns:
                raise InputError(f"{name}: column {column}", "is missing")
    ids = patients["subject_id"].astype("string")
    duplicated = ids.duplicated().to_numpy(bool)
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise InputError(
            f"patients, row {row + 1}, subject_id", f"subject {ids.iloc[row]!r} appears twice"
        )
    onset = pd.Series(
        pd.to_numeric(patients["onset_months"], errors="coerce").to_numpy(float),
        index=ids.to_numpy(object),
    )
    out = visits.copy()
    onset_at_visit = visits["subject_id"].astype("string").map(onset).to_numpy(float)
    out["months_since_onset"] = visits["visit_months"].to_numpy(float) - onset_at_visit
    return out


def recompute_visit_scores(visits: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``visits`` with ``gastrostomy`` and ``alsfrs_r_total`` recomputed.

    ``gastrostomy`` is true where 5b is scored; ``alsfrs_r_total`` is the sum of the 12
    ALSFRS-R items (5a or 5b) where all are present, missing otherwise. Items are not validated
    here (the readers and :func:`write_proact` do that).
    """
    out = visits.copy()
    n = len(out)
    items = np.full((n, len(VISIT_ITEM_COLUMNS)), np.nan)
    for j, column in enumerate(VISIT_ITEM_COLUMNS):
        if column in out.columns:
            items[:, j] = pd.to_numeric(out[column], errors="coerce").to_numpy(
                dtype=float, na_value=np.nan
            )
    i5a, i5b = VISIT_ITEM_COLUMNS.index(Q5A), VISIT_ITEM_COLUMNS.index(Q5B)
    q5 = np.where(np.isnan(items[:, i5b]), items[:, i5a], items[:, i5b])
    twelve = np.column_stack([np.delete(items, [i5a, i5b], axis=1), q5])
    out["gastrostomy"] = ~np.isnan(items[:, i5b])
    out["alsfrs_r_total"] = _complete_sum(twelve).to_numpy()
    return out


# -- reading ----------------------------------------------------------------------------------
def read_proact(
    directory: str | os.PathLike[str], *, drop_missing_delta: bool = False
) -> ProactData:
    """Read a directory of PRO-ACT per-domain CSV files into :class:`ProactData`.

    Files are found by domain name, case-insensitively, with or without a ``PROACT_`` prefix
    (``PROACT_ALSFRS.csv``, ``ALSFRS.csv``, ``alsfrs.csv``; ``AlsHistory.csv``,
    ``DeathData.csv``, ...). The ALSFRS file is required; the others (ALSHISTORY, FVC, DEATHDATA,
    DEMOGRAPHICS, TREATMENT) are optional and give empty columns or tables when absent.

    Parameters
    ----------
    directory : path
        The directory holding the CSV files.
    drop_missing_delta : bool
        Drop ALSFRS/FVC rows whose ``*_Delta`` is blank instead of raising (default: raise).

    Returns
    -------
    ProactData
        ``patients`` has one row per subject seen in any file, sorted by ``subject_id``.

    Raises
    ------
    InputError
        If the directory or the ALSFRS file is missing, two files match one domain, or any file
        is malformed (the message names the file, row and column).
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(str(root), "is not a directory of PRO-ACT CSV files")
    files = _find_domain_files(root)
    if "alsfrs" not in files:
        raise InputError(str(root), "has no ALSFRS file (expected PROACT_ALSFRS.csv or ALSFRS.csv)")
    visits = read_alsfrs(files["alsfrs"], drop_missing_delta=drop_missing_delta)
    fvc = (
        read_fvc(files["fvc"], drop_missing_delta=drop_missing_delta)
        if "fvc" in files
        else as_schema(pd.DataFrame(), FVC_SCHEMA)
    )
    parts = [
        reader(files[domain])
        for domain, reader in (
            ("alshistory", read_history),
            ("deathdata", read_deaths),
            ("demographics", read_demographics),
            ("treatment", read_treatment),
        )
        if domain in files
    ]
    ids = pd.concat(
        [visits["subject_id"], fvc["subject_id"], *(p["subject_id"] for p in parts)],
        ignore_index=True,
    ).drop_duplicates()
    patients = pd.DataFrame({"subject_id": ids.reset_index(drop=True)})
    for part in parts:
        patients = patients.merge(part, on="subject_id", how="left", validate="one_to_one")
    patients = _sort_by_subject(as_schema(patients, PATIENTS_SCHEMA))
    return ProactData(visits=visits, patients=patients, fvc=fvc)


def read_alsfrs(path: str | os.PathLike[str], *, drop_missing_delta: bool = False) -> pd.DataFrame:
    """Read a PRO-ACT ALSFRS file into the tidy visits table (:data:`VISITS_SCHEMA`).

    Items are validated (whole numbers 0-4 or blank). A row with both ``Q5a`` and ``Q5b`` is
    rejected. A merged ``Q5_Cutting`` column is accepted: where 5a and 5b are blank its score is
    stored as 5a (no gastrostomy known); where one of them is filled it must agree with it.
    ``Q10_Respiratory`` (original ALSFRS) is kept as ``q10_respiratory``. The file's
    ``ALSFRS_Total`` and ``ALSFRS_R_Total`` are ignored: ``alsfrs_r_total`` is recomputed.

    Parameters
    ----------
    path : path
        The ALSFRS CSV file.
    drop_missing_delta : bool
        Drop rows with a blank ``ALSFRS_Delta`` instead of raising.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``subject_id`` then ``visit_months`` (file order among ties).
    """
    table = _Csv(path)
    subject = table.subject_ids()
    days_column = table.require("ALSFRS_Delta")
    days = table.numeric(days_column)
    keep = _check_times(table, days_column, days, drop_missing_delta)

    columns = [table.find(name) for name in _PROACT_ITEMS]
    merged = table.find(_Q5_MERGED)
    q10 = table.find(_Q10)
    if all(c is None for c in columns) and merged is None and q10 is None:
        raise InputError(
            f"{table.name}, column Q1_Speech",
            "is missing: no ALSFRS item columns (Q1_Speech ... R_3_Respiratory_Insufficiency)",
        )
    labelled = [(c, table.frame[c] if c else None) for c in columns]
    labelled += [(merged, table.frame[merged] if merged else None)]
    labelled += [(q10, table.frame[q10] if q10 else None)]
    values = _item_values(labelled, table.n, table.name)
    items, q5_merged, q10_values = values[:, :13], values[:, 13], values[:, 14]

    i5a, i5b = VISIT_ITEM_COLUMNS.index(Q5A), VISIT_ITEM_COLUMNS.index(Q5B)
    q5a, q5b = items[:, i5a], items[:, i5b]
    both = ~np.isnan(q5a) & ~np.isnan(q5b)
    if both.any():
        row = _first(both)
        raise InputError(
            f"{table.name}, row {row + 1}, {columns[i5a]}/{columns[i5b]}",
            "both 5a and 5b are scored; exactly one is allowed (5b only with a gastrostomy)",
        )
    split = np.where(np.isnan(q5a), q5b, q5a)
    disagree = ~np.isnan(q5_merged) & ~np.isnan(split) & (q5_merged != split)
    if disagree.any():
        row = _first(disagree)
        raise InputError(
            f"{table.name}, row {row + 1}, {merged}",
            f"is {q5_merged[row]:g} but the 5a/5b column of the same row says {split[row]:g}",
        )
    items[:, i5a] = np.where(np.isnan(split), q5_merged, q5a)

    frame = pd.DataFrame({"subject_id": subject, "visit_months": days / DAYS_PER_MONTH})
    for j, name in enumerate(VISIT_ITEM_COLUMNS):
        frame[name] = pd.Series(items[:, j]).astype("Int64")
    frame["q10_respiratory"] = pd.Series(q10_values).astype("Int64")
    frame["mode_of_administration"] = table.text(table.find("Mode_of_Administration"))
    frame["responded_by"] = table.text(table.find("ALSFRS_Responded_By"))
    frame = recompute_visit_scores(frame[keep])
    return _sort_by_subject(as_schema(frame, VISITS_SCHEMA), "visit_months")


def read_fvc(path: str | os.PathLike[str], *, drop_missing_delta: bool = False) -> pd.DataFrame:
    """Read a PRO-ACT FVC file into the tidy fvc table (:data:`FVC_SCHEMA`).

    The best trial is the one with the most liters (``Subject_Liters_Trial_1..3``; first trial on
    ties); ``fvc_percent`` is that trial's ``pct_of_Normal_Trial_k``, or the highest percentage
    recorded when that one is blank or no volume is recorded. A ``Forced_Vital_Capacity_Units``
    column, when present, must say liters.
    """
    table = _Csv(path)
    subject = table.subject_ids()
    days_column = table.require("Forced_Vital_Capacity_Delta")
    days = table.numeric(days_column)
    keep = _check_times(table, days_column, days, drop_missing_delta)

    def block(stem: str) -> np.ndarray:
        out = np.full((table.n, 3), np.nan)
        for k in range(3):
            column = table.find(f"{stem}_Trial_{k + 1}")
            if column is not None:
                out[:, k] = table.numeric(column, minimum=0.0)
        return out

    liters, percent = block("Subject_Liters"), block("pct_of_Normal")
    units = table.find("Forced_Vital_Capacity_Units")
    if units is not None:
        text = table.text(units)
        bad = text.notna().to_numpy(bool) & ~text.str.lower().isin(_UNITS_LITERS).fillna(
            False
        ).to_numpy(bool)
        if bad.any():
            row = _first(bad)
            raise InputError(
                f"{table.name}, row {row + 1}, {units}",
                f"FVC must be in liters, got {text.iloc[row]!r}",
            )
    has_liters = ~np.isnan(liters).all(axis=1)
    best = np.argmax(np.where(np.isnan(liters), -np.inf, liters), axis=1)
    rows = np.arange(table.n)
    best_liters = np.where(has_liters, liters[rows, best], np.nan)
    best_percent = np.where(has_liters, percent[rows, best], np.nan)
    any_percent = ~np.isnan(percent).all(axis=1)
    max_percent = np.where(
        any_percent, np.max(np.where(np.isnan(percent), -np.inf, percent), axis=1), np.nan
    )
    frame = pd.DataFrame(
        {
            "subject_id": subject,
            "visit_months": days / DAYS_PER_MONTH,
            "fvc_liters": best_liters,
            "fvc_percent": np.where(np.isnan(best_percent), max_percent, best_percent),
        }
    )
    return _sort_by_subject(as_schema(frame[keep], FVC_SCHEMA), "visit_months")


def read_history(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a PRO-ACT ALSHISTORY file: ``subject_id, onset_months, diagnosis_months, onset_site``.

    ``Onset_Delta`` must be <= 0 (onset on or before time zero). ``Site_of_Onset`` text
    ("Onset: Bulbar", "Onset: Limb", "Onset: Limb and Bulbar", "Onset: Other"; also "Onset:
    Spine", read as limb) takes precedence; where it is blank the one-hot
    ``Site_of_Onset___*`` columns are used. Several rows per subject are merged (first non-blank
    value of each column); conflicting values raise.
    """
    table = _Csv(path)
    subject = table.subject_ids()
    onset_column = table.find("Onset_Delta")
    onset = table.numeric(onset_column) if onset_column else np.full(table.n, np.nan)
    if onset_column is not None and (onset > 0).any():
        row = _first(onset > 0)
        raise InputError(
            f"{table.name}, row {row + 1}, {onset_column}",
            f"must be <= 0 (days from onset to time zero, onset first), got {onset[row]:g}",
        )
    diagnosis_column = table.find("Diagnosis_Delta")
    diagnosis = table.numeric(diagnosis_column) if diagnosis_column else np.full(table.n, np.nan)
    site = _onset_site(table)
    frame = pd.DataFrame(
        {
            "subject_id": subject,
            "onset_months": onset / DAYS_PER_MONTH,
            "diagnosis_months": diagnosis / DAYS_PER_MONTH,
            "onset_site": site,
        }
    )
    labels = {
        "onset_months": onset_column or "Onset_Delta",
        "diagnosis_months": diagnosis_column or "Diagnosis_Delta",
        "onset_site": table.find("Site_of_Onset") or "Site_of_Onset",
    }
    return _one_per_subject(frame, table.name, labels)


def read_deaths(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a PRO-ACT DEATHDATA file: ``subject_id, died, death_months``.

    ``Subject_Died`` is "Yes"/"No" (true/false and 1/0 are accepted too); a blank
    ``Subject_Died`` with a ``Death_Days`` counts as died. ``Death_Days`` with ``Subject_Died``
    "No" is rejected.
    """
    table = _Csv(path)
    subject = table.subject_ids()
    died_column = table.find("Subject_Died")
    days_column = table.find("Death_Days")
    if died_column is None and days_column is None:
        raise InputError(f"{table.name}, column Subject_Died", "is missing (and so is Death_Days)")
    days = table.numeric(days_column) if days_column else np.full(table.n, np.nan)
    if died_column is not None:
        flag, known = table.flags(died_column)
    else:
        flag, known = np.zeros(table.n, bool), np.zeros(table.n, bool)
    alive_with_date = known & ~flag & ~np.isnan(days)
    if alive_with_date.any():
        row = _first(alive_with_date)
        raise InputError(
            f"{table.name}, row {row + 1}, {days_column}",
            f"is given ({days[row]:g}) but {died_column} says the subject did not die",
        )
    has_days = ~np.isnan(days)
    died = pd.Series(flag | has_days).astype("boolean")
    died[~(known | has_days)] = pd.NA  # a row saying nothing does not conflict with others
    frame = pd.DataFrame(
        {"subject_id": subject, "died": died, "death_months": days / DAYS_PER_MONTH}
    )
    labels = {"died": died_column or "Death_Days", "death_months": days_column or "Death_Days"}
    out = _one_per_subject(frame, table.name, labels)
    out["died"] = out["died"].fillna(False).astype(bool)
    return out


def read_demographics(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a PRO-ACT DEMOGRAPHICS file: ``subject_id, sex, age_years, race``.

    ``Sex`` is "Female"/"Male" (F/M accepted). ``Age`` is in years; where it is blank and
    ``Date_of_Birth`` (negative days from time zero) is given, age = -Date_of_Birth / 365.25.
    ``race`` is the tidy label of the ``Race_*`` indicator set to 1 (see :data:`RACES`), several
    labels joined by ``;``, or missing.
    """
    table = _Csv(path)
    subject = table.subject_ids()
    sex_column = table.find("Sex")
    sex = table.labels(sex_column, _SEXES, "Female, Male") if sex_column else None
    age_column = table.find("Age")
    age = (
        table.numeric(age_column, minimum=0.0, maximum=130.0)
        if age_column
        else np.full(table.n, np.nan)
    )
    birth_column = table.find("Date_of_Birth")
    if birth_column is not None:
        birth = table.numeric(birth_column, maximum=0.0)
        age = np.where(np.isnan(age), -birth / 365.25, age)
    joined = pd.Series([""] * table.n, dtype=object)
    any_race_column = False
    for label, column_name in RACES.items():
        column = table.find(column_name)
        if column is not None:
            any_race_column = True
            joined = joined + np.where(table.flags(column)[0], f"{label};", "")
    race = joined.str.rstrip(";").replace("", None).astype("string") if any_race_column else None
    frame = pd.DataFrame({"subject_id": subject, "age_years": age})
    frame["sex"] = sex if sex is not None else pd.array([pd.NA] * table.n, dtype="string")
    frame["race"] = race if race is not None else pd.array([pd.NA] * table.n, dtype="string")
    labels = {
        "sex": sex_column or "Sex",
        "age_years": age_column or "Age",
        "race": "Race_*",
    }
    return _one_per_subject(frame[["subject_id", "sex", "age_years", "race"]], table.name, labels)


def read_treatment(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a PRO-ACT TREATMENT file: ``subject_id, study_arm`` ("active"/"placebo")."""
    table = _Csv(path)
    subject = table.subject_ids()
    arm_column = table.require("Study_Arm")
    arm = table.labels(arm_column, _ARMS, "Active, Placebo")
    frame = pd.DataFrame({"subject_id": subject, "study_arm": arm})
    return _one_per_subject(frame, table.name, {"study_arm": arm_column})


def is_proact_alsfrs(path_or_columns: str | os.PathLike[str] | Iterable[str]) -> bool:
    """Tell a PRO-ACT ALSFRS file from a tidy per-visit CSV by its header.

    Parameters
    ----------
    path_or_columns : path or iterable of str
        A CSV file (only its header is read) or its column names.

    Returns
    -------
    bool
        True when the header has ``subject_id``, ``ALSFRS_Delta`` and at least one ALSFRS item
        column (tidy per-visit tables have ``visit_months`` or dates instead of a delta).
    """
    if isinstance(path_or_columns, str | os.PathLike):
        path = Path(path_or_columns)
        if not path.is_file():
            raise InputError(str(path), "file not found")
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                columns = next(csv.reader(handle), [])
        except (UnicodeDecodeError, csv.Error):
            return False
    else:
        columns = [str(c) for c in path_or_columns]
    keys = {_key(c) for c in columns}
    items = {_key(c) for c in (*_PROACT_ITEMS, _Q5_MERGED, _Q10)}
    return "subjectid" in keys and "alsfrsdelta" in keys and bool(keys & items)


# -- writing ----------------------------------------------------------------------------------
def write_proact(
    data: ProactData,
    directory: str | os.PathLike[str],
    *,
    respiratory_spelling: str = "R_1",
    overwrite: bool = False,
) -> Path:
    """Write tidy tables as PRO-ACT per-domain CSV files, atomically.

    Writes the six files of :data:`PROACT_FILE_NAMES` (empty tables give header-only files).
    Months become whole days (``round(months * 30.4375)``), as PRO-ACT stores them, so
    ``read_proact(write_proact(x))`` reproduces ``x`` exactly when all of ``x``'s times are whole
    days. ``gastrostomy`` and ``alsfrs_r_total`` are not read from ``data``: PRO-ACT derives them
    from the items (5b scored; sum of items); ``ALSFRS_Total`` (original scale) and
    ``ALSFRS_R_Total`` are written recomputed.

    Parameters
    ----------
    data : ProactData
        The tables (columns as in the tidy schemas; optional columns may be absent).
    directory : path
        The target directory. It is written as a whole: the files go to a temporary directory
        next to it which is then renamed, so no half-written file is ever visible.
    respiratory_spelling : {"R_1", "R1"}
        ``R_1_Dyspnea`` (raw PRO-ACT export) or ``R1_Dyspnea`` (many derived datasets).
    overwrite : bool
        Replace an existing non-empty directory (its whole content). Without it such a
        directory is an error.

    Returns
    -------
    pathlib.Path
        The directory written.
    """
    if respiratory_spelling not in _RESPIRATORY_SPELLINGS:
        raise InputError(
            "respiratory_spelling", f"must be 'R_1' or 'R1', got {respiratory_spelling!r}"
        )
    if not isinstance(data, ProactData):
        raise InputError("data", f"must be ProactData, got {type(data).__name__}")
    target = Path(directory)
    if target.exists():
        if not target.is_dir():
            raise InputError(str(target), "exists and is not a directory")
        if any(target.iterdir()) and not overwrite:
            raise InputError(
                str(target), "is not empty; choose another directory or pass overwrite=True"
            )
    frames = {
        PROACT_FILE_NAMES["alsfrs"]: _alsfrs_frame(data.visits, respiratory_spelling),
        **{PROACT_FILE_NAMES[k]: v for k, v in _patient_frames(data.patients).items()},
        PROACT_FILE_NAMES["fvc"]: _fvc_frame(data.fvc),
    }
    _write_atomically(target, frames)
    return target


def _alsfrs_frame(visits: pd.DataFrame, spelling: str) -> pd.DataFrame:
    table = _tidy_table(visits, "visits", ("subject_id", "visit_months"))
    subject = _tidy_ids(table, "visits")
    months = _tidy_numbers(table, "visit_months", "visits", required=True)
    names = [
        c.replace("R_", "R", 1) if spelling == "R1" and c.startswith("R_") else c
        for c in _PROACT_ITEMS
    ]
    labelled = [(c, table[c] if c in table.columns else None) for c in VISIT_ITEM_COLUMNS]
    labelled.append(("q10_respiratory", table.get("q10_respiratory")))
    values = _item_values(labelled, len(table), "visits")
    items = values[:, :13]
    i5a, i5b = VISIT_ITEM_COLUMNS.index(Q5A), VISIT_ITEM_COLUMNS.index(Q5B)
    both = ~np.isnan(items[:, i5a]) & ~np.isnan(items[:, i5b])
    if both.any():
        row = _first(both)
        raise InputError(
            f"visits, row {row + 1}, {Q5A}/{Q5B}",
            "both 5a and 5b are scored; exactly one is allowed (5b only with a gastrostomy)",
        )
    q5 = np.where(np.isnan(items[:, i5a]), items[:, i5b], items[:, i5a])
    first_nine = np.column_stack([items[:, :4], q5, items[:, 6:10]])
    respiratory = items[:, 10:13]
    q10 = values[:, 13]
    out = pd.DataFrame({"subject_id": subject, "ALSFRS_Delta": _to_days(months)})
    for name, column in zip(names, items.T, strict=True):
        out[name] = pd.Series(column).astype("Int64")
    out[_Q10] = pd.Series(q10).astype("Int64")
    out["ALSFRS_Total"] = _complete_sum(np.column_stack([first_nine, q10]))
    out["ALSFRS_R_Total"] = _complete_sum(np.column_stack([first_nine, respiratory]))
    out["Mode_of_Administration"] = _tidy_text(table, "mode_of_administration")
    out["ALSFRS_Responded_By"] = _tidy_text(table, "responded_by")
    return out


def _patient_frames(patients: pd.DataFrame) -> dict[str, pd.DataFrame]:
    table = _tidy_table(patients, "patients", ("subject_id",))
    subject = _tidy_ids(table, "patients")
    duplicated = subject.duplicated().to_numpy(bool)
    if duplicated.any():
        row = _first(duplicated)
        raise InputError(
            f"patients, row {row + 1}, subject_id", f"subject {subject.iloc[row]!r} appears twice"
        )
    onset = _tidy_numbers(table, "onset_months", "patients", maximum=0.0)
    diagnosis = _tidy_numbers(table, "diagnosis_months", "patients")
    age = _tidy_numbers(table, "age_years", "patients", minimum=0.0, maximum=130.0)
    death = _tidy_numbers(table, "death_months", "patients")
    sex = _tidy_choice(table, "sex", ("female", "male"))
    site = _tidy_choice(table, "onset_site", tuple(ONSET_SITES))
    arm = _tidy_choice(table, "study_arm", tuple(_ARMS))
    race = _tidy_text(table, "race")
    race_flags = _tidy_races(race)
    died = _tidy_bools(table, "died")
    alive_with_date = ~died & ~np.isnan(death)
    if alive_with_date.any():
        row = _first(alive_with_date)
        raise InputError(f"patients, row {row + 1}, death_months", "is given but died is false")

    has_history = ~np.isnan(onset) | ~np.isnan(diagnosis) | site.notna().to_numpy(bool)
    history = pd.DataFrame(
        {
            "subject_id": subject,
            "Subject_ALS_History_Delta": pd.array([0] * len(table), dtype="Int64"),
            "Onset_Delta": _to_days(onset),
            "Diagnosis_Delta": _to_days(diagnosis),
            "Site_of_Onset": site.map(ONSET_SITES, na_action="ignore").astype("string"),
        }
    )[has_history]

    has_demographics = ~np.isnan(age) | sex.notna().to_numpy(bool) | race.notna().to_numpy(bool)
    demographics = pd.DataFrame(
        {
            "subject_id": subject,
            "Demographics_Delta": pd.array([0] * len(table), dtype="Int64"),
            "Age": age,
            "Sex": sex.map({"female": "Female", "male": "Male"}, na_action="ignore").astype(
                "string"
            ),
        }
    )
    for label, column in RACES.items():
        flags = race_flags[label].to_numpy(bool)
        demographics[column] = pd.Series(np.where(flags, 1.0, np.nan)).astype("Int64")
    demographics = demographics[has_demographics]

    deaths = pd.DataFrame(
        {
            "subject_id": subject,
            "Subject_Died": np.where(died, "Yes", "No"),
            "Death_Days": _to_days(death),
        }
    )
    treatment = pd.DataFrame(
        {
            "subject_id": subject,
            "Study_Arm": arm.map({"active": "Active", "placebo": "Placebo"}, na_action="ignore"),
            "Treatment_Group_Delta": pd.array([0] * len(table), dtype="Int64"),
        }
    )[arm.notna().to_numpy(bool)]
    return {
        "alshistory": history,
        "deathdata": deaths,
        "demographics": demographics,
        "treatment": treatment,
    }


def _fvc_frame(fvc: pd.DataFrame) -> pd.DataFrame:
    table = _tidy_table(fvc, "fvc", ("subject_id", "visit_months"))
    subject = _tidy_ids(table, "fvc")
    months = _tidy_numbers(table, "visit_months", "fvc", required=True)
    liters = _tidy_numbers(table, "fvc_liters", "fvc", minimum=0.0)
    percent = _tidy_numbers(table, "fvc_percent", "fvc", minimum=0.0)
    blank = np.full(len(table), np.nan)
    return pd.DataFrame(
        {
            "subject_id": subject,
            "Forced_Vital_Capacity_Delta": _to_days(months),
            "Subject_Liters_Trial_1": liters,
            "pct_of_Normal_Trial_1": percent,
            "Subject_Liters_Trial_2": blank,
            "pct_of_Normal_Trial_2": blank,
            "Subject_Liters_Trial_3": blank,
            "pct_of_Normal_Trial_3": blank,
        }
    )


def _write_atomically(target: Path, frames: Mapping[str, pd.DataFrame]) -> None:
    """Write ``frames`` as CSV files into a new sibling directory, then rename it to ``target``."""
    parent = target.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    temporary = parent / f".{target.name}.tmp-{secrets.token_hex(6)}"
    temporary.mkdir()
    try:
        for name, frame in frames.items():
            with (temporary / name).open("w", encoding="utf-8", newline="") as handle:
                frame.to_csv(handle, index=False, lineterminator="\n")
                handle.flush()
                os.fsync(handle.fileno())
        if target.exists():
            backup = parent / f".{target.name}.old-{secrets.token_hex(6)}"
            os.replace(target, backup)
            try:
                os.replace(temporary, target)
            except BaseException:
                os.replace(backup, target)
                raise
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


# -- CSV parsing helpers ----------------------------------------------------------------------
def _key(name: str) -> str:
    """Column matching key: lower case, without underscores or whitespace."""
    return re.sub(r"[\s_]+", "", str(name)).lower()


def _find_domain_files(root: Path) -> dict[str, Path]:
    wanted = {d: {d, f"proact{d}"} for d in PROACT_FILE_NAMES}
    found: dict[str, list[Path]] = {}
    for entry in sorted(root.iterdir()):
        if not entry.is_file() or entry.suffix.lower() != ".csv":
            continue
        stem = _key(entry.stem)
        for domain, stems in wanted.items():
            if stem in stems:
                found.setdefault(domain, []).append(entry)
    for domain, paths in found.items():
        if len(paths) > 1:
            raise InputError(
                str(root),
                f"several files for the {domain.upper()} domain: "
                + ", ".join(p.name for p in paths),
            )
    return {domain: paths[0] for domain, paths in found.items()}


class _Csv:
    """One parsed PRO-ACT CSV file: every cell as a stripped string, columns found by key."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.frame = _parse_csv(self.path)
        self.n = len(self.frame)
        self.columns: dict[str, str] = {}
        for column in self.frame.columns:
            key = _key(column)
            if key in self.columns:
                raise InputError(
                    f"{self.name}, columns {self.columns[key]} and {column}",
                    "name the same field (spellings differ only in case or underscores); keep one",
                )
            self.columns[key] = column
        if {"featurename", "formname"} & set(self.columns):
            raise InputError(
                self.name,
                "is in the long form_name/feature_name format; only the per-domain wide format "
                "(one column per field) is supported",
            )
        self.missing = {
            column: self.frame[column].str.lower().isin(_MISSING_TOKENS).to_numpy(bool)
            for column in self.frame.columns
        }

    def find(self, name: str) -> str | None:
        return self.columns.get(_key(name))

    def require(self, name: str) -> str:
        column = self.find(name)
        if column is None:
            raise InputError(f"{self.name}, column {name}", "is missing (required)")
        return column

    def where(self, row: int, column: str) -> str:
        return f"{self.name}, row {row + 1}, {column}"

    def subject_ids(self) -> pd.Series:
        column = self.require("subject_id")
        blank = self.missing[column]
        if blank.any():
            row = _first(blank)
            raise InputError(self.where(row, column), "is blank; every row needs a subject id")
        return self.frame[column].astype("string")

    def numeric(
        self, column: str, *, minimum: float | None = None, maximum: float | None = None
    ) -> np.ndarray:
        """Column as floats (NaN where blank); text, infinities or out-of-range values raise."""
        blank = self.missing[column]
        raw = self.frame[column]
        values = pd.to_numeric(raw.where(~blank), errors="coerce").to_numpy(float)
        bad = ~blank & ~np.isfinite(values)
        if bad.any():
            row = _first(bad)
            raise InputError(self.where(row, column), f"must be a number, got {raw.iloc[row]!r}")
        outside = np.zeros(self.n, dtype=bool)
        if minimum is not None:
            outside |= values < minimum
        if maximum is not None:
            outside |= values > maximum
        if outside.any():
            row = _first(outside)
            raise InputError(
                self.where(row, column),
                f"must be {_range_text(minimum, maximum)}, got {raw.iloc[row]!r}",
            )
        return values

    def text(self, column: str | None) -> pd.Series:
        """Column as ``string`` (NA where blank); all NA when ``column`` is None."""
        if column is None:
            return pd.Series(pd.array([pd.NA] * self.n, dtype="string"))
        return self.frame[column].where(~self.missing[column], None).astype("string")

    def flags(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """Yes/no column -> (value, known); blank is unknown; anything else raises."""
        lower = self.frame[column].str.lower()
        true = lower.isin(TRUE_STRINGS).to_numpy(bool)
        false = lower.isin(FALSE_STRINGS).to_numpy(bool)
        bad = ~(true | false | self.missing[column])
        if bad.any():
            row = _first(bad)
            raise InputError(
                self.where(row, column),
                f"must be yes/no (or 1/0), got {self.frame[column].iloc[row]!r}",
            )
        return true, true | false

    def labels(self, column: str, mapping: Mapping[str, str], expected: str) -> pd.Series:
        """Coded text -> tidy label via ``mapping`` (case-insensitive); unknown codes raise."""
        lower = self.frame[column].str.lower()
        mapped = lower.map(mapping)
        bad = mapped.isna().to_numpy(bool) & ~self.missing[column]
        if bad.any():
            row = _first(bad)
            raise InputError(
                self.where(row, column),
                f"unknown value {self.frame[column].iloc[row]!r}; expected one of {expected}",
            )
        return mapped.astype("string")


def _parse_csv(path: Path) -> pd.DataFrame:
    """Parse a CSV file into a frame of stripped strings (blank lines skipped)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    name = path.name
    if b"\x00" in data:
        raise InputError(name, "is not a CSV text file (it contains binary data)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(name, f"is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise InputError(name, "is empty; expected a CSV header row")
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=object,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else "parse error"
        raise InputError(name, f"is not a valid CSV file ({detail})") from None
    header = [str(h).strip() for h in frame.iloc[0].fillna("")]
    body = {
        j: frame[column].iloc[1:].fillna("").astype(str).str.strip().to_numpy(object)
        for j, column in enumerate(frame.columns)
    }
    out = pd.DataFrame(body, dtype=object)
    out.columns = header
    return out


def _onset_site(table: _Csv) -> pd.Series:
    """Tidy onset site from the ``Site_of_Onset`` text, else from the one-hot columns."""
    site = pd.Series(pd.array([pd.NA] * table.n, dtype="string"))
    hot = {}
    for suffix in ("Bulbar", "Limb", "Limb_and_Bulbar", "Other", "Spine"):
        column = table.find(f"Site_of_Onset___{suffix}")
        hot[suffix] = table.flags(column)[0] if column else np.zeros(table.n, bool)
    other_specify = table.find("Site_of_Onset___Other_Specify")
    if other_specify is not None:  # free text or a flag: anything but blank/no counts
        lower = table.frame[other_specify].str.lower()
        hot["Other"] = hot["Other"] | ~(
            table.missing[other_specify] | lower.isin(FALSE_STRINGS).to_numpy(bool)
        )
    bulbar = hot["Bulbar"] | hot["Limb_and_Bulbar"]
    limb = hot["Limb"] | hot["Spine"] | hot["Limb_and_Bulbar"]
    from_hot = np.select(
        [bulbar & limb, bulbar, limb, hot["Other"]],
        ["limb_and_bulbar", "bulbar", "limb", "other"],
        default="",
    )
    site = pd.Series(from_hot, dtype=object).where(from_hot != "", None).astype("string")
    column = table.find("Site_of_Onset")
    if column is None:
        return site
    normal = (
        table.frame[column]
        .str.lower()
        .str.replace(r"^onset\s*:\s*", "", regex=True)
        .str.replace(r"[\s_]+", " ", regex=True)
        .str.strip()
    )
    mapped = normal.map(_SITE_TEXT)
    bad = mapped.isna().to_numpy(bool) & ~table.missing[column]
    if bad.any():
        row = _first(bad)
        raise InputError(
            table.where(row, column),
            f"unknown site of onset {table.frame[column].iloc[row]!r}; expected one of "
            + ", ".join(repr(v) for v in ONSET_SITES.values()),
        )
    return mapped.astype("string").fillna(site)


def _one_per_subject(frame: pd.DataFrame, name: str, labels: Mapping[str, str]) -> pd.DataFrame:
    """Merge several rows per subject (first non-missing value); conflicting values raise."""
    grouped = frame.groupby("subject_id", sort=False)
    for column in frame.columns.drop("subject_id"):
        first = grouped[column].transform("first")
        values = frame[column]
        conflict = (values.notna() & first.notna() & (values != first)).fillna(False)
        conflict = conflict.to_numpy(bool)
        if conflict.any():
            row = _first(conflict)
            raise InputError(
                f"{name}, row {row + 1}, {labels.get(column, column)}",
                f"subject {frame['subject_id'].iloc[row]!r} has {values.iloc[row]!r} here but "
                f"{first.iloc[row]!r} in an earlier row",
            )
    return _sort_by_subject(grouped.first().reset_index())


def _check_times(table: _Csv, column: str, days: np.ndarray, drop: bool) -> np.ndarray:
    """Rows to keep: blank times raise unless ``drop``."""
    blank = np.isnan(days)
    if blank.any() and not drop:
        row = _first(blank)
        raise InputError(
            table.where(row, column),
            "is blank; every assessment needs a time (days from time zero) "
            "(use drop_missing_delta=True to skip such rows)",
        )
    return ~blank


def _item_values(
    columns: list[tuple[str | None, pd.Series | None]], n: int, source: str
) -> np.ndarray:
    """Validated item scores as floats ``(n, len(columns))``, NaN where blank or absent.

    Works on file cells (strings) and tidy columns alike; the first bad cell is re-checked with
    the scalar validator of :mod:`alsim.clinical.alsfrs` so the message is the same as there.
    """
    out = np.full((n, len(columns)), np.nan)
    bad = np.zeros((n, len(columns)), dtype=bool)
    for j, (_, series) in enumerate(columns):
        if series is None:
            continue
        blank = _blank(series)
        values = _floats(series, blank)
        bad[:, j] = ~blank & ~np.isin(values, _ITEM_VALUES)
        out[:, j] = np.where(blank, np.nan, values)
    if bad.any():
        row = _first(bad.any(axis=1))
        j = int(np.argmax(bad[row]))
        label, series = columns[j]
        raw = series.iloc[row] if series is not None else None
        where = f"{source}, row {row + 1}, {label}"
        check_item(where, raw)
        raise InputError(where, f"must be an integer 0-4, got {raw!r}")  # pragma: no cover
    return out


def _blank(series: pd.Series) -> np.ndarray:
    missing = series.isna().to_numpy(bool)
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        text = series.astype("string").str.strip().str.lower()
        missing = missing | text.isin(_MISSING_TOKENS).fillna(True).to_numpy(bool)
    return missing


def _floats(series: pd.Series, blank: np.ndarray) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series.dtype):
        return np.full(len(series), np.nan)  # booleans are not scores
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        text = series.astype("string").str.strip().where(~blank)
        return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _sort_by_subject(frame: pd.DataFrame, time: str | None = None) -> pd.DataFrame:
    """Sort by subject (numerically when every id is a number) then time; stable."""
    ids = frame["subject_id"]
    numbers = pd.to_numeric(ids.astype(object), errors="coerce")
    key = numbers if len(ids) and numbers.notna().all() else ids.astype(object)
    order = pd.DataFrame({"k": key.to_numpy(), "t": frame[time].to_numpy() if time else 0})
    index = order.sort_values(["k", "t"], kind="stable").index
    return frame.iloc[index].reset_index(drop=True)


def _range_text(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"between {minimum:g} and {maximum:g}"
    return f">= {minimum:g}" if minimum is not None else f"<= {maximum:g}"


def _complete_sum(values: np.ndarray) -> pd.Series:
    complete = ~np.isnan(values).any(axis=1)
    totals = np.where(complete, np.nansum(values, axis=1), np.nan)
    return pd.Series(totals).astype("Int64")


def _to_days(months: np.ndarray) -> pd.Series:
    """Months -> whole days (Int64, NA where missing), rounded to the nearest day."""
    return pd.Series(np.rint(np.asarray(months, float) * DAYS_PER_MONTH)).astype("Int64")


# -- tidy-table validation helpers (writer) ---------------------------------------------------
def _tidy_table(frame: Any, name: str, required: tuple[str, ...]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise InputError(name, f"must be a pandas DataFrame, got {type(frame).__name__}")
    for column in required:
        if column not in frame.columns:
            raise InputError(f"{name}: column {column}", "is missing")
    return frame.reset_index(drop=True)


def _tidy_ids(table: pd.DataFrame, name: str) -> pd.Series:
    ids = table["subject_id"].astype("string").str.strip()
    blank = ids.isna().to_numpy(bool) | (ids == "").fillna(True).to_numpy(bool)
    if blank.any():
        row = _first(blank)
        raise InputError(f"{name}, row {row + 1}, subject_id", "is missing")
    return ids


def _tidy_numbers(
    table: pd.DataFrame,
    column: str,
    name: str,
    *,
    required: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> np.ndarray:
    if column not in table.columns:
        return np.full(len(table), np.nan)
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    given = table[column].notna().to_numpy(bool)
    bad = (given & ~np.isfinite(values)) | (required & np.isnan(values))
    if minimum is not None:
        bad |= values < minimum
    if maximum is not None:
        bad |= values > maximum
    if bad.any():
        row = _first(bad)
        wanted = "a finite number" if required else "missing or a finite number"
        if minimum is not None or maximum is not None:
            wanted += f" ({_range_text(minimum, maximum)})"
        raise InputError(
            f"{name}, row {row + 1}, {column}", f"must be {wanted}, got {table[column].iloc[row]!r}"
        )
    return values


def _tidy_text(table: pd.DataFrame, column: str) -> pd.Series:
    if column not in table.columns:
        return pd.Series(pd.array([pd.NA] * len(table), dtype="string"))
    text = table[column].astype("string").str.strip()
    return text.where(text != "", None).astype("string")


def _tidy_choice(table: pd.DataFrame, column: str, allowed: tuple[str, ...]) -> pd.Series:
    text = _tidy_text(table, column)
    bad = text.notna().to_numpy(bool) & ~text.isin(allowed).fillna(False).to_numpy(bool)
    if bad.any():
        row = _first(bad)
        raise InputError(
            f"patients, row {row + 1}, {column}",
            f"must be one of {', '.join(allowed)} or missing, got {text.iloc[row]!r}",
        )
    return text


def _tidy_races(race: pd.Series) -> pd.DataFrame:
    """``race`` labels (``;``-joined) -> one boolean column per label of :data:`RACES`."""
    parts = race.str.split(";").explode().str.strip()
    unknown = parts.notna().to_numpy(bool) & ~parts.isin(list(RACES)).fillna(False).to_numpy(bool)
    if unknown.any():
        position = _first(unknown)
        row = int(parts.index[position])
        raise InputError(
            f"patients, row {row + 1}, race",
            f"unknown race {parts.iloc[position]!r}; expected labels from "
            + ", ".join(RACES)
            + " joined by ';'",
        )
    flags = pd.DataFrame(
        {label: (parts == label).fillna(False).groupby(level=0).any() for label in RACES}
    )
    return flags.reindex(range(len(race)), fill_value=False)


def _tidy_bools(table: pd.DataFrame, column: str) -> np.ndarray:
    if column not in table.columns:
        return np.zeros(len(table), dtype=bool)
    return bool_column(table[column], lambda row: f"patients, row {row + 1}, {column}")
