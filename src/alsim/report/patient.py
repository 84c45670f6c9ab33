"""A single patient's clinical report: ALSFRS-R trajectories, stages, ΔFS, D50 fit, prognosis.

:func:`load_patient` reads a patient description (TOML) and its visits (CSV);
:func:`patient_report` scores them with the clinical toolkit and renders a self-contained HTML
page (inline SVG figures, no external assets).
"""

from __future__ import annotations

import datetime as _dt
import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsim.clinical.d50 import fit_d50
from alsim.clinical.prognosis import EncalsPredictors, conditional_survival, encals_prognosis
from alsim.clinical.progression import parse_onset_date
from alsim.clinical.tidy import score_visits
from alsim.errors import InputError
from alsim.report import figures
from alsim.report.html import render, table_html
from alsim.units import DAYS_PER_MONTH

REQUIRED_KEYS = ("subject_id", "onset_date", "diagnosis_date", "birth_year", "visits_file")


@dataclass(frozen=True)
class Patient:
    """A patient description plus the raw per-visit table."""

    meta: dict[str, Any]
    visits: pd.DataFrame

    @property
    def onset(self) -> _dt.date:
        return parse_onset_date(str(self.meta["onset_date"]), where="onset_date")

    @property
    def diagnosis(self) -> _dt.date:
        return parse_onset_date(str(self.meta["diagnosis_date"]), where="diagnosis_date")


def load_patient(path: Path | None = None) -> Patient:
    """Load a patient TOML (default: the bundled fictional example) and its visits CSV."""
    if path is None:
        base = resources.files("alsim.data")
        meta = tomllib.loads(base.joinpath("example_patient.toml").read_text(encoding="utf-8"))
        visits_text = base.joinpath(meta["visits_file"]).open("r", encoding="utf-8")
        visits = pd.read_csv(visits_text, dtype={"subject_id": str})
        return Patient(meta, visits)
    path = Path(path)
    try:
        meta = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(str(path), f"cannot read patient file ({exc})") from None
    for key in REQUIRED_KEYS:
        if key not in meta:
            raise InputError(f"{path.name}: {key}", "is missing")
    visits = pd.read_csv(path.parent / meta["visits_file"], dtype={"subject_id": str})
    return Patient(meta, visits)


def score_patient(patient: Patient) -> pd.DataFrame:
    """Score every visit of ``patient`` (months since onset from the dates)."""
    visits = patient.visits.copy()
    visits["onset_date"] = patient.onset.isoformat()
    scored = score_visits(visits, source=patient.meta.get("visits_file", "visits"))
    if "fvc_percent" in visits.columns:
        scored["fvc_percent"] = pd.to_numeric(visits["fvc_percent"], errors="coerce").to_numpy()
    return scored


def encals_at_diagnosis(patient: Patient, scored: pd.DataFrame):
    """ENCALS predictors at diagnosis (ΔFS from the visit nearest diagnosis) and the prognosis."""
    delay = (patient.diagnosis - patient.onset).days / DAYS_PER_MONTH
    nearest = int(np.argmin(np.abs(scored["months_since_onset"].to_numpy() - delay)))
    age_onset = patient.onset.year + (patient.onset.timetuple().tm_yday - 1) / 365.25
    age_onset -= float(patient.meta["birth_year"]) + 0.5  # mid-year birth convention
    predictors = EncalsPredictors(
        age_onset_years=round(age_onset, 2),
        delta_fs=float(scored["delta_fs"].iloc[nearest]),
        diagnostic_delay_months=delay,
        fvc_percent=float(
            patient.meta.get("fvc_percent_at_diagnosis", scored["fvc_percent"].iloc[nearest])
        ),
        bulbar_onset=str(patient.meta.get("onset_region", "")).lower() == "bulbar",
        definite_als=str(patient.meta.get("el_escorial", "")).lower() == "definite",
        ftd=bool(patient.meta.get("ftd", False)),
        c9orf72=bool(patient.meta.get("c9orf72", False)),
    )
    return encals_prognosis(predictors)


def patient_report(
    patient: Patient, *, extra_sections: list[dict[str, Any]] | None = None
) -> tuple[str, pd.DataFrame, dict[str, Any]]:
    """Render the report; returns ``(html, scored visits, summary dict)``."""
    scored = score_patient(patient)
    months = scored["months_since_onset"].to_numpy()
    fit = fit_d50(months, scored["total"].to_numpy())
    grid = np.linspace(
        0, max(months.max() * 1.3, fit.d50_months * 1.5 if np.isfinite(fit.d50_months) else 0), 200
    )
    prognosis = encals_at_diagnosis(patient, scored)
    now = float(months.max())
    horizon = np.linspace(0.5, max(120.0, now + 24), 300)
    future = horizon[horizon >= now]
    conditional = (future, conditional_survival(prognosis, now, future))

    last = scored.iloc[-1]
    median = prognosis.median_months  # None or inf when the curve never reaches 50 %
    median_reached = median is not None and math.isfinite(median)
    d50_note = (
        f"dx {fit.dx_months:.1f} months"
        if fit.converged
        else f"fit did not converge: {fit.message or 'no reason given'}"
    )
    cards = [
        {
            "label": "Latest ALSFRS-R",
            "value": f"{int(last['total'])} / 48",
            "note": f"at {now:.1f} months from onset",
        },
        {"label": "King's stage (estimated)", "value": str(last["kings_stage"])},
        {"label": "MiToS stage", "value": str(int(last["mitos_stage"]))},
        {
            "label": "ΔFS (latest)",
            "value": f"{last['delta_fs']:.2f} /month",
            "note": f"{last['progression']} progression",
        },
        {
            "label": "D50 (months)",
            "value": f"{fit.d50_months:.1f}" if fit.converged else f"~{fit.d50_months:.1f}",
            "note": d50_note,
        },
        {
            "label": "ENCALS median survival",
            "value": f"{median:.0f} months" if median_reached else "not reached",
            "note": f"risk group: {prognosis.risk_group}",
        },
    ]

    visit_table = scored.drop(
        columns=[c for c in ("subject_id", "gastrostomy") if c in scored.columns]
    )
    visit_table = visit_table.rename(columns=lambda c: c.replace("_", " "))
    survival_rows = pd.DataFrame(
        {
            "months from onset": list(prognosis.survival_at.keys()),
            "probability event-free": [f"{v:.1%}" for v in prognosis.survival_at.values()],
        }
    )
    predictors = prognosis.predictors
    sections = [
        {
            "id": "trajectory",
            "title": "ALSFRS-R over time",
            "figures": [
                figures.total_trajectory(
                    months,
                    scored["total"],
                    fit_months=grid,
                    fit_values=fit.predict(grid),
                    fit_label=f"D50 model (D50 {fit.d50_months:.1f} mo, dx {fit.dx_months:.1f} mo)",
                ),
                figures.domain_trajectories(months, {d: scored[d] for d in figures.DOMAIN_LABELS}),
            ],
            "table": table_html(visit_table),
            "note": "ΔFS = (48 − ALSFRS-R) / months since onset (Kimura 2006); "
            "categories slow < 0.5 ≤ intermediate < 1.0 ≤ fast points/month.",
        },
        {
            "id": "stages",
            "title": "Stages over time",
            "figures": [
                figures.stage_trajectories(months, scored["kings_stage"], scored["mitos_stage"])
            ],
            "note": "King's stage estimated from ALSFRS-R items (Balendra 2014): regions from items 1-3, "
            "4/5 and 8; 4A gastrostomy (item 5b); 4B dyspnoea 0 or any ventilatory support. "
            "MiToS (Chiò 2015): domains lost, with communicating lost only when speech ≤ 1 AND "
            "handwriting ≤ 1.",
        },
        {
            "id": "d50",
            "title": "D50 disease-progression model",
            "text": f"Fitted ALSFRS-R(t) = 48 / (1 + exp((t − D50)/dx)) with D50 = {fit.d50_months:.1f} months "
            f"and dx = {fit.dx_months:.1f} months (RMSE {fit.rmse:.2f} points, {fit.n_visits} visits, "
            f"onset anchored at 48). Today rD50 = {fit.rd50(now):.2f}, phase {fit.phase(now)}."
            + (
                ""
                if fit.converged
                else " The fit did not converge "
                f"({fit.message or 'no reason given'}): read D50 and dx as rough limits, "
                "not estimates."
            ),
        },
        {
            "id": "prognosis",
            "title": "Survival prognosis (ENCALS)",
            "text": (
                f"Predictors at diagnosis: age at onset {predictors.age_onset_years:.1f} years, "
                f"ΔFS {predictors.delta_fs:.2f}/month, diagnostic delay "
                f"{predictors.diagnostic_delay_months:.1f} months, FVC {predictors.fvc_percent:.0f}%, "
                f"{'bulbar' if predictors.bulbar_onset else 'spinal'} onset, "
                f"{'definite' if predictors.definite_als else 'not definite'} ALS, "
                f"FTD {'yes' if predictors.ftd else 'no'}, C9orf72 {'yes' if predictors.c9orf72 else 'no'}. "
                f"Linear predictor {prognosis.linear_predictor:.2f}; risk group {prognosis.risk_group}."
            ),
            "figures": [
                figures.survival_curve(
                    horizon,
                    prognosis.survival(horizon),
                    median=median if median_reached else None,
                    now=now,
                    conditional=conditional,
                )
            ],
            "table": table_html(survival_rows),
            "note": "Event: death, tracheostomy or non-invasive ventilation > 23 h/day, from symptom onset "
            "(Westeneng et al., Lancet Neurol 2018). A prediction describes groups of similar patients; "
            "any individual can live much shorter or much longer. Research and education only.",
        },
    ]
    methods = [
        "ALSFRS-R: Cedarbaum et al., J Neurol Sci 1999;169:13-21 (12 items 0-4, item 5a/5b by gastrostomy).",
        "ΔFS: Kimura et al., Neurology 2006;66:265-267.",
        "King's staging: Roche et al., Brain 2012; estimated from ALSFRS-R per Balendra et al., ALS-FTD 2014.",
        "MiToS: Chiò et al., JNNP 2015;86:38-44.",
        "D50 model: Poesen et al., Neurology 2017;88:2302.",
        "ENCALS survival model: Westeneng et al., Lancet Neurol 2018;17:423-433.",
        "Months are 30.4375 days; a month-only onset date is completed to the 15th.",
    ]
    html = render(
        "patient.html",
        title=f"alsim patient report: {patient.meta['subject_id']}",
        subtitle="A fictional example patient bundled with alsim"
        if patient.meta.get("subject_id") == "EXAMPLE-001"
        else "",
        cards=cards,
        sections=sections + list(extra_sections or []),
        methods=methods,
    )
    summary = {
        "subject_id": patient.meta["subject_id"],
        "latest": {
            "months_since_onset": round(now, 3),
            "total": int(last["total"]),
            "kings_stage": str(last["kings_stage"]),
            "mitos_stage": int(last["mitos_stage"]),
            "delta_fs": round(float(last["delta_fs"]), 4),
        },
        "d50": {
            "d50_months": _finite_or_none(fit.d50_months),
            "dx_months": _finite_or_none(fit.dx_months),
            "rmse": _finite_or_none(fit.rmse),
            "converged": bool(fit.converged),
            "message": fit.message,
        },
        "prognosis": prognosis.to_dict(),
    }
    return html, scored, summary


def _finite_or_none(value: float) -> float | None:
    """``value`` as a float, or ``None`` when it is not finite (JSON has no NaN or Infinity)."""
    value = float(value)
    return value if math.isfinite(value) else None
