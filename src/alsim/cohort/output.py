"""Writing a simulated cohort: Parquet or CSV tables, or PRO-ACT files, plus a manifest.

A cohort directory holds ``patients.<ext>``, ``visits.<ext>`` and ``manifest.json`` (alsim
version, seed, specification, parameter-set digest, timings, row counts). With
``format="proact"`` the cohort is exported as PRO-ACT per-domain CSV files (time zero =
diagnosis, as in a trial enrolling at diagnosis) so that other tools can read it.

Everything is written into a temporary directory beside the target and renamed into place at the
end, so an interrupted run never leaves a half-written cohort.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from alsim import __version__
from alsim.clinical.alsfrs import VISIT_ITEM_COLUMNS
from alsim.cohort.simulate import Cohort
from alsim.errors import InputError
from alsim.fileio import current_umask

FORMATS = ("parquet", "csv", "proact")
PROACT_ONSET_SITE = {
    "bulbar": "bulbar",
    "upper_limb": "limb",
    "lower_limb": "limb",
    "trunk": "other",
}


def cohort_to_proact(cohort: Cohort):
    """The cohort as PRO-ACT-style tidy tables, time zero at diagnosis.

    Patients never diagnosed within the horizon have no time zero and are left out.
    """
    from alsim.io.proact import ProactData

    patients = cohort.patients
    diagnosed = patients[patients["t_diagnosis_months"].notna()]
    zero = diagnosed.set_index("subject_id")["t_diagnosis_months"]
    visits = cohort.visits[cohort.visits["subject_id"].isin(zero.index)]
    visit_months = visits["t_months"].to_numpy() - zero.loc[visits["subject_id"]].to_numpy()
    # PRO-ACT stores whole days; keep visits from the screening month on.
    keep = visit_months >= -1.0
    visits = visits[keep]
    visit_months = visit_months[keep]
    tidy_visits = pd.DataFrame(
        {"subject_id": visits["subject_id"].to_numpy(), "visit_months": visit_months}
    )
    for column in VISIT_ITEM_COLUMNS:
        tidy_visits[column] = visits[column].to_numpy()
    fvc = pd.DataFrame(
        {
            "subject_id": tidy_visits["subject_id"],
            "visit_months": visit_months,
            "fvc_liters": np.nan,
            "fvc_percent": np.round(visits["fvc_percent"].to_numpy(), 1),
        }
    )
    died = diagnosed["t_death_months"].notna().to_numpy()
    tidy_patients = pd.DataFrame(
        {
            "subject_id": diagnosed["subject_id"].to_numpy(),
            "sex": diagnosed["sex"].astype(str).to_numpy(),
            "age_years": np.round(
                diagnosed["age_onset_years"].to_numpy()
                + diagnosed["t_diagnosis_months"].to_numpy() / 12.0,
                1,
            ),
            "onset_months": -diagnosed["t_diagnosis_months"].to_numpy(),
            "diagnosis_months": 0.0,
            "onset_site": diagnosed["onset_region"].astype(str).map(PROACT_ONSET_SITE).to_numpy(),
            "died": died,
            "death_months": np.where(
                died,
                diagnosed["t_death_months"].to_numpy() - diagnosed["t_diagnosis_months"].to_numpy(),
                np.nan,
            ),
        }
    )
    return ProactData(
        visits=tidy_visits, patients=tidy_patients, fvc=fvc.dropna(subset=["fvc_percent"])
    )


def manifest(
    cohort: Cohort, *, fmt: str, timings: dict | None = None, files: list[str] | None = None
) -> dict:
    spec = cohort.spec
    return {
        "alsim_version": __version__,
        "kind": "cohort",
        "seed": spec.seed,
        "spec": {k: v for k, v in spec.__dict__.items()},
        "horizon_months": spec.horizon_months,
        "time_origin": "symptom onset" if fmt != "proact" else "diagnosis (PRO-ACT export)",
        "params_digest": cohort.params_digest,
        "format": fmt,
        "rows": {"patients": len(cohort.patients), "visits": len(cohort.visits)},
        "files": files or [],
        "timings_seconds": timings or {},
        "disclaimer": "Simulated patients for research and education; not medical advice.",
    }


def write_cohort(
    cohort: Cohort,
    out: str | Path,
    *,
    fmt: str = "parquet",
    overwrite: bool = False,
    timings: dict | None = None,
) -> Path:
    """Write ``cohort`` into directory ``out`` atomically; returns ``out``."""
    if fmt not in FORMATS:
        raise InputError("--format", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("--out", f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError("--out", f"{out} is not empty (use --overwrite to replace it)")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise InputError("--out", f"parent directory {parent} does not exist")
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp creates 0700; use the usual permissions
    try:
        files = _write_tables(cohort, staging, fmt)
        meta = manifest(cohort, fmt=fmt, timings=timings, files=[*files, "manifest.json"])
        (staging / "manifest.json").write_text(json.dumps(meta, indent=2, default=str))
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _write_tables(cohort: Cohort, folder: Path, fmt: str) -> list[str]:
    if fmt == "proact":
        from alsim.io.proact import write_proact

        target = folder / "proact"
        write_proact(cohort_to_proact(cohort), target)
        return [f"proact/{p.name}" for p in sorted(target.iterdir())]
    names = []
    for name, table in (("patients", cohort.patients), ("visits", cohort.visits)):
        path = folder / f"{name}.{fmt}"
        if fmt == "parquet":
            table.to_parquet(path, index=False)
        else:
            table.to_csv(path, index=False)
        names.append(path.name)
    return names
