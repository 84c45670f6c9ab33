"""A small synthetic PRO-ACT-style data set (fictional; no real patient data).

:func:`make_synthetic_proact` draws plausible tidy tables from a seeded
:class:`numpy.random.Generator`: patient-specific linear declines spread over the 12 ALSFRS-R
items according to the site of onset, a switch from item 5a to 5b once swallowing fails
(gastrostomy), deaths when the projected total falls below a patient-specific level, dropouts and
missed visits, a few subjects scored on the original 10-item ALSFRS (``q10_respiratory``), onset
6-36 months before time zero and a declining FVC. All times are whole days, so the tables
round-trip exactly through :func:`alsim.io.proact.write_proact` and
:func:`alsim.io.proact.read_proact`.

The numbers are for testing and demonstration only. They are not fitted to any cohort and must not
be used for inference about ALS.

Run ``python -m alsim.io.synthetic OUTDIR`` to write the files; the committed fixture in
``alsim/data/proact_synthetic`` is regenerated with::

    python -m alsim.io.synthetic src/alsim/data/proact_synthetic --overwrite
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from alsim.errors import InputError
from alsim.io.proact import (
    FVC_SCHEMA,
    PATIENTS_SCHEMA,
    VISITS_SCHEMA,
    ProactData,
    as_schema,
    recompute_visit_scores,
    write_proact,
)
from alsim.units import DAYS_PER_MONTH

__all__ = ["DEFAULT_SEED", "FIXTURE_DIR", "main", "make_synthetic_proact"]

DEFAULT_SEED = 20261126
#: The committed fixture, written by ``write_proact(make_synthetic_proact())``.
FIXTURE_DIR = Path(__file__).resolve().parent.parent / "data" / "proact_synthetic"

# Visit schedule (days from time zero) before jitter; baseline is day 0.
_SCHEDULE = np.array([0, 28, 56, 84, 112, 168, 224, 280, 336, 392, 448, 504])
_SITES = ("limb", "bulbar", "limb_and_bulbar", "other")
_SITE_P = (0.62, 0.28, 0.06, 0.04)
# Relative speed of decline of the 12 ALSFRS-R items (ALSFRS-R order, item 5 once) by onset site.
_BULBAR, _FINE, _GROSS, _RESP = slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 12)
_SITE_WEIGHTS = {
    "limb": (0.5, 1.4, 1.4, 0.6),
    "bulbar": (2.2, 0.8, 0.7, 0.6),
    "limb_and_bulbar": (1.4, 1.1, 1.1, 0.6),
    "other": (1.0, 1.0, 1.0, 1.0),
}
_RACES = ("caucasian", "black_african_american", "asian", "other")
_RACE_P = (0.85, 0.06, 0.05, 0.04)


def make_synthetic_proact(n_subjects: int = 30, seed: int = DEFAULT_SEED) -> ProactData:
    """Generate a reproducible synthetic PRO-ACT-style data set.

    Parameters
    ----------
    n_subjects : int
        Number of fictional subjects (ids ``"100001"``, ``"100002"``, ...).
    seed : int
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same tables.

    Returns
    -------
    ProactData
        Tidy tables with the dtypes of :mod:`alsim.io.proact`; every time is a whole number of
        days divided by 30.4375.
    """
    if isinstance(n_subjects, bool) or not isinstance(n_subjects, int | np.integer):
        raise InputError("n_subjects", f"must be a whole number, got {n_subjects!r}")
    if not 1 <= n_subjects <= 99_999:
        raise InputError("n_subjects", f"must be between 1 and 99999, got {n_subjects}")
    rng = np.random.default_rng(seed)
    original_scale = set(
        rng.choice(n_subjects, size=max(1, n_subjects // 10), replace=False).tolist()
    )
    patients, visits, fvc = [], [], []
    for index in range(n_subjects):
        subject = str(100_001 + index)
        patient, subject_visits, subject_fvc = _subject(
            rng, subject, original=index in original_scale
        )
        patients.append(patient)
        visits.extend(subject_visits)
        fvc.extend(subject_fvc)
    visits_frame = recompute_visit_scores(pd.DataFrame(visits, columns=list(VISITS_SCHEMA)[:16]))
    return ProactData(
        visits=as_schema(visits_frame, VISITS_SCHEMA),
        patients=as_schema(pd.DataFrame(patients), PATIENTS_SCHEMA),
        fvc=as_schema(pd.DataFrame(fvc, columns=list(FVC_SCHEMA)), FVC_SCHEMA),
    )


def _subject(
    rng: np.random.Generator, subject: str, *, original: bool
) -> tuple[dict, list[list], list[list]]:
    """One fictional subject: patient record, visit rows and FVC rows."""
    sex = str(rng.choice(("female", "male"), p=(0.4, 0.6)))
    age = float(np.round(np.clip(rng.normal(58.0, 10.0), 30.0, 82.0), 1))
    race = str(rng.choice(_RACES, p=_RACE_P))
    site = str(rng.choice(_SITES, p=_SITE_P))
    arm = "active" if rng.random() < 2 / 3 else "placebo"
    onset_day = -int(rng.integers(183, 1096))  # 6-36 months before time zero
    diagnosis_day = onset_day + int(rng.integers(60, -onset_day - 13))
    months_at_t0 = -onset_day / DAYS_PER_MONTH

    # Decline in ALSFRS-R points per month, capped so the baseline total stays >= 24.
    rate = min(float(rng.lognormal(np.log(0.6), 0.45)), 24.0 / months_at_t0)
    weights = np.empty(12)
    for part, weight in zip((_BULBAR, _FINE, _GROSS, _RESP), _SITE_WEIGHTS[site], strict=True):
        weights[part] = weight
    weights *= rng.uniform(0.6, 1.4, size=12)
    item_rates = rate * weights / weights.sum()  # points per month for each item

    # Death when the projected total reaches a subject-specific level, if within follow-up.
    death_level = float(rng.uniform(6.0, 20.0))
    death_day = round(onset_day + (48.0 - death_level) / rate * DAYS_PER_MONTH)
    died = 0 < death_day <= int(_SCHEDULE[-1]) + 60
    last_day = death_day - 1 if died else int(_SCHEDULE[-1]) + 10
    if rng.random() < 0.2:  # dropout
        last_day = min(last_day, int(rng.choice(_SCHEDULE[2:])))
    jitter = np.concatenate([[0], rng.integers(-4, 5, size=len(_SCHEDULE) - 1)])
    days = _SCHEDULE + jitter
    attended = np.concatenate([[True], rng.random(len(_SCHEDULE) - 1) >= 0.12])
    days = days[attended & (days <= last_day)]

    predicted_liters = (4.3 if sex == "male" else 3.2) * float(rng.uniform(0.9, 1.1))
    fvc_at_t0 = float(np.clip(rng.normal(88.0, 12.0), 55.0, 120.0))
    fvc_rate = rate * float(rng.uniform(1.5, 3.0)) * (2.0 if site != "limb" else 1.0)

    visit_rows: list[list] = []
    fvc_rows: list[list] = []
    gastrostomy = False
    for number, day in enumerate(days):
        months_from_onset = (day - onset_day) / DAYS_PER_MONTH
        latent = 4.0 - item_rates * months_from_onset + rng.normal(0.0, 0.25, size=12)
        items = np.clip(np.rint(latent), 0, 4).astype(int)
        gastrostomy = gastrostomy or items[2] <= 1  # swallowing failed: 5b from now on
        row: list = [subject, day / DAYS_PER_MONTH, *items[:4].tolist()]
        row += [None, int(items[4])] if gastrostomy else [int(items[4]), None]
        row += items[5:9].tolist()
        if original:
            row += [None, None, None, int(np.clip(np.rint(latent[9:].mean()), 0, 4))]
        else:
            row += [*items[9:].tolist(), None]
        if rng.random() < 0.02:  # an unanswered item now and then
            row[2 + int(rng.integers(0, 4))] = None
        visit_rows.append(row)
        if number % 2 == 0:
            percent = fvc_at_t0 - fvc_rate * day / DAYS_PER_MONTH + rng.normal(0.0, 3.0)
            percent = float(np.rint(max(percent, 10.0)))
            liters = float(np.round(percent / 100.0 * predicted_liters, 2))
            fvc_rows.append([subject, day / DAYS_PER_MONTH, liters, percent])

    patient = {
        "subject_id": subject,
        "sex": sex,
        "age_years": age,
        "race": race,
        "onset_months": onset_day / DAYS_PER_MONTH,
        "diagnosis_months": diagnosis_day / DAYS_PER_MONTH,
        "onset_site": site,
        "died": died,
        "death_months": death_day / DAYS_PER_MONTH if died else np.nan,
        "study_arm": arm,
    }
    return patient, visit_rows, fvc_rows


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m alsim.io.synthetic OUTDIR [--n-subjects N] [--seed S]``."""
    parser = argparse.ArgumentParser(
        prog="python -m alsim.io.synthetic",
        description="Write a synthetic PRO-ACT-style data set (fictional patients).",
    )
    parser.add_argument("outdir", type=Path, help="directory to create (must be empty or new)")
    parser.add_argument("--n-subjects", type=int, default=30)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--respiratory-spelling", choices=("R_1", "R1"), default="R_1")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty OUTDIR")
    args = parser.parse_args(argv)
    try:
        data = make_synthetic_proact(args.n_subjects, args.seed)
        write_proact(
            data,
            args.outdir,
            respiratory_spelling=args.respiratory_spelling,
            overwrite=args.overwrite,
        )
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"wrote {len(data.patients)} subjects, {len(data.visits)} ALSFRS visits and "
        f"{len(data.fvc)} FVC assessments to {args.outdir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
