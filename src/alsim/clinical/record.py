"""One patient's record summarised: scores per visit, staging, progression, D50 and ENCALS.

:func:`summarize_record` turns a patient's details (:class:`PatientInput`) and visits
(:class:`VisitInput`) into a :class:`RecordSummary`, using only the published instruments in
:mod:`alsim.clinical` (nothing is re-implemented here):

* ALSFRS-R total and domains (:class:`alsim.clinical.ALSFRSR`; Cedarbaum et al., J Neurol Sci
  1999), King's stage (:func:`alsim.clinical.kings_stage`; Balendra et al. 2014 estimation from
  ALSFRS-R), MiToS stage (:func:`alsim.clinical.mitos_stage`; Chiò et al. 2015);
* ΔFS = (48 − total) / months since onset (:func:`alsim.clinical.delta_fs`; Kimura et al.,
  Neurology 2006) and Kimura's slow / intermediate / fast category;
* the D50 model (:func:`alsim.clinical.d50.fit_d50`; Poesen et al., Neurology 2017), with rD50
  and phase today (see docs/clinical-d50-cafs-criteria.md);
* the ENCALS survival model (:func:`alsim.clinical.prognosis.encals_prognosis`; Westeneng et al.,
  Lancet Neurol 2018) with predictors taken at diagnosis as in :mod:`alsim.report.patient`
  (ΔFS and FVC from the visit nearest the diagnosis date; age at onset with a mid-year birth).

Nothing here raises for incomplete data: whatever cannot be computed is ``None`` together with an
explicit reason ("cannot compute because ... missing"); implausible inputs become warnings.
Module is pure (no web imports); research and education only, not medical advice.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alsim.clinical.alsfrs import ALSFRSR
from alsim.clinical.d50 import D50_PHASE_NAMES, fit_d50
from alsim.clinical.prognosis import (
    EncalsExtrapolationWarning,
    EncalsPredictors,
    conditional_survival,
    encals_prognosis,
)
from alsim.clinical.progression import delta_fs, months_between, progression_category
from alsim.clinical.staging import kings_stage, mitos_stage
from alsim.errors import InputError
from alsim.units import DAYS_PER_YEAR

__all__ = [
    "GENOTYPES",
    "GENOTYPE_NOTES",
    "D50Summary",
    "PatientInput",
    "PrognosisSummary",
    "RecordSummary",
    "VisitInput",
    "VisitSummary",
    "age_years",
    "months_between_dates",
    "summarize_record",
]

#: Genotype values a record may carry (``None`` means not recorded).
GENOTYPES = ("sporadic", "SOD1", "C9orf72", "TARDBP", "FUS", "unknown")

#: Genotype-specific notes: i18n key -> source. The texts live in the web catalogues
#: (``genotype.*`` keys); the sources are shown with them.
GENOTYPE_NOTES: dict[str, dict[str, str]] = {
    "SOD1": {
        "genotype.SOD1.tofersen": (
            "Tofersen (Qalsody): FDA accelerated approval 25 April 2023 for SOD1-ALS (FDA news "
            "release; label NDA 215887); EU marketing authorisation under exceptional "
            "circumstances, May 2024 (EMA European public assessment report, Qalsody). VALOR trial: Miller "
            "et al., N Engl J Med 2022;387:1099-1110."
        ),
    },
    "C9orf72": {
        "genotype.C9orf72.info": (
            "C9orf72 repeat expansion: ENCALS predictor of shorter survival (Westeneng et al., "
            "Lancet Neurol 2018;17:423-433); no approved gene-targeted therapy."
        ),
    },
    "TARDBP": {
        "genotype.TARDBP.info": (
            "TARDBP (TDP-43) mutations: no approved gene-targeted therapy (review: Mejzini et "
            "al., Front Neurosci 2019;13:1310)."
        ),
    },
    "FUS": {
        "genotype.FUS.info": (
            "FUS mutations: antisense oligonucleotide ION363 (ulefnersen) in a phase 3 trial, "
            "NCT04768972; not approved."
        ),
    },
    "sporadic": {
        "genotype.sporadic.info": (
            "No known pathogenic variant: standard care (riluzole; edaravone where approved)."
        ),
    },
    "unknown": {
        "genotype.unknown.info": (
            "Genetic testing can identify SOD1-ALS, for which tofersen is approved (see "
            "genotype.SOD1.tofersen), and forms relevant to trials (Roggenbuck et al., "
            "Neurol Genet 2023, ALS genetic testing consensus)."
        ),
    },
}

#: How far (months) the visit used for the ENCALS predictors may lie from the diagnosis date
#: before a warning is given (platform choice).
ENCALS_VISIT_TOLERANCE_MONTHS = 6.0

#: Survival-curve grid for the summary (months since onset): 0 to this horizon (at least).
SURVIVAL_HORIZON_MONTHS = 120.0


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VisitInput:
    """One visit: the 12 ALSFRS-R items (ALSFRS-R order; item 5 is 5b when ``gastrostomy``)
    and optional measurements. ``items`` containing ``None`` means the ALSFRS-R was not scored
    at this visit (the visit still contributes FVC, weight and NfL)."""

    visit_date: dt.date
    items: tuple[int | None, ...]
    gastrostomy: bool = False
    fvc_percent: float | None = None
    weight_kg: float | None = None
    nfl_pg_ml: float | None = None


@dataclass(frozen=True)
class PatientInput:
    """A patient's details (all optional; what is missing limits what can be computed)."""

    onset_date: dt.date | None = None
    diagnosis_date: dt.date | None = None
    birth_year: int | None = None
    sex: str | None = None
    onset_region: str | None = None
    genotype: str | None = None
    el_escorial: str | None = None
    ftd: bool | None = None


# --------------------------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VisitSummary:
    """One visit's computed scores (``None`` where not computable)."""

    visit_date: dt.date
    months_since_onset: float | None
    total: int | None
    domains: dict[str, int] | None
    kings: str | None  # label: "0".."3", "4A", "4B", "4A+4B"
    kings_stage: int | None  # numeric 0-4
    mitos: int | None
    delta_fs: float | None
    gastrostomy: bool
    fvc_percent: float | None
    weight_kg: float | None
    nfl_pg_ml: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "visit_date": self.visit_date.isoformat(),
            "months_since_onset": self.months_since_onset,
            "total": self.total,
            "domains": None if self.domains is None else dict(self.domains),
            "kings": self.kings,
            "kings_stage": self.kings_stage,
            "mitos": self.mitos,
            "delta_fs": self.delta_fs,
            "gastrostomy": self.gastrostomy,
            "fvc_percent": self.fvc_percent,
            "weight_kg": self.weight_kg,
            "nfl_pg_ml": self.nfl_pg_ml,
        }


@dataclass(frozen=True)
class D50Summary:
    """A D50 fit with today's position on the curve."""

    d50_months: float
    dx_months: float
    rmse: float
    n_visits: int
    converged: bool
    message: str
    at_months: float  # months since onset at which rd50 / phase are reported (today)
    rd50: float
    phase: str  # "I".."IV"
    phase_name: str
    curve: list[tuple[float, float]]  # (months since onset, model ALSFRS-R)

    def to_dict(self) -> dict[str, Any]:
        return {
            "d50_months": self.d50_months,
            "dx_months": self.dx_months,
            "rmse": self.rmse,
            "n_visits": self.n_visits,
            "converged": self.converged,
            "message": self.message,
            "at_months": self.at_months,
            "rd50": self.rd50,
            "phase": self.phase,
            "phase_name": self.phase_name,
            "curve": [[t, y] for t, y in self.curve],
        }


@dataclass(frozen=True)
class PrognosisSummary:
    """ENCALS prediction with its survival curve and quantiles (months since onset)."""

    encals: dict[str, Any]  # EncalsPrognosis.to_dict()
    visit_date: dt.date  # the visit whose ΔFS (and FVC) was used
    quantiles_months: dict[str, float | None]  # "0.75"/"0.5"/"0.25" -> t with S(t) = q
    survival_curve: list[tuple[float, float]]  # (months since onset, S)
    conditional_from_months: float | None  # today's months since onset
    conditional_curve: list[tuple[float, float]]  # S(t | event-free today)
    fvc_visit_date: dt.date | None = None  # the visit whose FVC was used

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.encals)
        out.update(
            {
                "predictor_visit_date": self.visit_date.isoformat(),
                "fvc_visit_date": (
                    None if self.fvc_visit_date is None else self.fvc_visit_date.isoformat()
                ),
                "quantiles_months": dict(self.quantiles_months),
                "survival_curve": [[t, s] for t, s in self.survival_curve],
                "conditional_from_months": self.conditional_from_months,
                "conditional_curve": [[t, s] for t, s in self.conditional_curve],
            }
        )
        return out


@dataclass(frozen=True)
class RecordSummary:
    """Everything computed from one record; see :func:`summarize_record`."""

    today: dt.date
    age_years: float | None
    months_since_onset: float | None  # today
    diagnostic_delay_months: float | None
    visits: list[VisitSummary]
    latest: VisitSummary | None  # latest visit with an ALSFRS-R score
    latest_fvc_percent: float | None
    latest_weight_kg: float | None
    latest_nfl_pg_ml: float | None
    weight_change_percent: float | None  # latest vs first recorded weight
    delta_fs: float | None  # at the latest scored visit
    delta_fs_reason: str | None
    progression_category: str | None  # Kimura: "slow"/"intermediate"/"fast"
    d50: D50Summary | None
    d50_reason: str | None
    prognosis: PrognosisSummary | None
    prognosis_missing: list[str]
    prognosis_reason: str | None
    genotype_notes: list[str]
    genotype_sources: dict[str, str]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO text, tuples as lists, non-finite floats as ``None``."""
        return _json_ready(
            {
                "today": self.today.isoformat(),
                "age_years": self.age_years,
                "months_since_onset": self.months_since_onset,
                "diagnostic_delay_months": self.diagnostic_delay_months,
                "visits": [v.to_dict() for v in self.visits],
                "latest": None if self.latest is None else self.latest.to_dict(),
                "latest_fvc_percent": self.latest_fvc_percent,
                "latest_weight_kg": self.latest_weight_kg,
                "latest_nfl_pg_ml": self.latest_nfl_pg_ml,
                "weight_change_percent": self.weight_change_percent,
                "delta_fs": self.delta_fs,
                "delta_fs_reason": self.delta_fs_reason,
                "progression_category": self.progression_category,
                "d50": None if self.d50 is None else self.d50.to_dict(),
                "d50_reason": self.d50_reason,
                "prognosis": None if self.prognosis is None else self.prognosis.to_dict(),
                "prognosis_missing": list(self.prognosis_missing),
                "prognosis_reason": self.prognosis_reason,
                "genotype_notes": list(self.genotype_notes),
                "genotype_sources": dict(self.genotype_sources),
                "warnings": list(self.warnings),
            }
        )


def _json_ready(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# computation
# --------------------------------------------------------------------------------------------
def months_between_dates(start: dt.date, end: dt.date) -> float:
    """Months (30.4375 days) from ``start`` to ``end``: :func:`alsim.clinical.months_between`."""
    return float(months_between(start, end))


def age_years(birth_year: int, on: dt.date) -> float:
    """Age on ``on`` with a mid-year birth (1 July) convention, as :mod:`alsim.report.patient`."""
    frac = (on.timetuple().tm_yday - 1) / DAYS_PER_YEAR
    return on.year + frac - (birth_year + 0.5)


def _score_visit(
    visit: VisitInput, onset: dt.date | None, notes: list[str]
) -> tuple[VisitSummary, ALSFRSR | None]:
    months = None if onset is None else months_between_dates(onset, visit.visit_date)
    score: ALSFRSR | None = None
    if any(item is None for item in visit.items):
        if any(item is not None for item in visit.items):
            notes.append(
                f"visit {visit.visit_date.isoformat()}: ALSFRS-R incomplete "
                f"({sum(i is None for i in visit.items)} of 12 items missing), not scored"
            )
    else:
        try:
            score = ALSFRSR.from_items(visit.items, gastrostomy=bool(visit.gastrostomy))
        except InputError as err:
            notes.append(f"visit {visit.visit_date.isoformat()}: {err}; not scored")
    rate = None
    if score is not None and months is not None:
        if months > 0:
            rate = float(delta_fs(score.total, months))
        else:
            notes.append(f"visit {visit.visit_date.isoformat()} is not after symptom onset: no ΔFS")
    kings = None if score is None else kings_stage(score)
    return (
        VisitSummary(
            visit_date=visit.visit_date,
            months_since_onset=months,
            total=None if score is None else score.total,
            domains=None if score is None else score.domains(),
            kings=None if kings is None else kings.label,
            kings_stage=None if kings is None else kings.stage,
            mitos=None if score is None else mitos_stage(score),
            delta_fs=rate,
            gastrostomy=bool(visit.gastrostomy),
            fvc_percent=visit.fvc_percent,
            weight_kg=visit.weight_kg,
            nfl_pg_ml=visit.nfl_pg_ml,
        ),
        score,
    )


def _fit_d50(
    rows: list[VisitSummary], now_months: float | None
) -> tuple[D50Summary | None, str | None]:
    scored = [r for r in rows if r.total is not None and r.months_since_onset is not None]
    if not any(r.total is not None for r in rows):
        return None, "cannot fit D50 because no visit has a complete ALSFRS-R"
    if not scored:
        return None, "cannot fit D50 because the onset date is missing"
    after = [r for r in scored if r.months_since_onset > 0]  # type: ignore[operator]
    if len(after) < 2:
        return None, (
            "cannot fit D50 because at least 2 scored visits after symptom onset are needed, "
            f"got {len(after)}"
        )
    t = np.array([r.months_since_onset for r in after], dtype=float)
    y = np.array([r.total for r in after], dtype=float)
    try:
        fit = fit_d50(t, y)
    except InputError as err:
        return None, f"cannot fit D50: {err}"
    at = float(now_months if now_months is not None and now_months > 0 else t.max())
    t_end = max(float(t.max()) * 1.3, min(fit.d50_months * 1.5, 300.0), at)
    grid = np.linspace(0.0, t_end, 121)
    curve = [(float(a), float(b)) for a, b in zip(grid, fit.predict(grid), strict=True)]
    phase = str(fit.phase(at))
    return (
        D50Summary(
            d50_months=fit.d50_months,
            dx_months=fit.dx_months,
            rmse=fit.rmse,
            n_visits=fit.n_visits,
            converged=fit.converged,
            message=fit.message,
            at_months=at,
            rd50=float(fit.rd50(at)),
            phase=phase,
            phase_name=D50_PHASE_NAMES[phase],
            curve=curve,
        ),
        None,
    )


def _quantile_times(prog: Any) -> dict[str, float | None]:
    """Times (months since onset) with S(t) = 0.75, 0.5, 0.25 (``None`` if beyond 600 months)."""
    grid = np.concatenate(([0.0], np.geomspace(0.05, 600.0, 4000)))
    s = np.asarray(prog.survival(grid), dtype=float)
    out: dict[str, float | None] = {}
    for q in (0.75, 0.5, 0.25):
        if s[-1] > q:
            out[str(q)] = None
            continue
        # S decreases: interpolate on the reversed arrays
        out[str(q)] = float(np.interp(q, s[::-1], grid[::-1]))
    if math.isfinite(prog.median_months):  # the exact median (brentq) replaces the grid value
        out["0.5"] = float(prog.median_months)
    return out


def _prognosis(
    patient: PatientInput,
    rows: list[VisitSummary],
    now_months: float | None,
    notes: list[str],
) -> tuple[PrognosisSummary | None, list[str], str | None]:
    missing: list[str] = []
    if patient.onset_date is None:
        missing.append("onset_date")
    if patient.diagnosis_date is None:
        missing.append("diagnosis_date")
    if patient.birth_year is None:
        missing.append("birth_year")
    if patient.onset_region is None:
        missing.append("onset_region")
    if patient.el_escorial is None:
        missing.append("el_escorial")
    if patient.ftd is None:
        missing.append("ftd")
    if patient.genotype is None or patient.genotype == "unknown":
        missing.append("c9orf72 (genotype)")
    scored = [r for r in rows if r.delta_fs is not None]
    with_fvc = [r for r in rows if r.fvc_percent is not None]
    if not scored:
        missing.append("alsfrs_r (a scored visit after onset)")
    if not with_fvc:
        missing.append("fvc_percent")
    if missing:
        return None, missing, "cannot compute ENCALS because " + ", ".join(missing) + " missing"
    assert patient.onset_date and patient.diagnosis_date and patient.birth_year is not None
    delay = months_between_dates(patient.onset_date, patient.diagnosis_date)
    if delay <= 0:
        return None, [], "cannot compute ENCALS because the diagnosis is not after symptom onset"

    def nearest(candidates: list[VisitSummary]) -> VisitSummary:
        return min(
            candidates,
            key=lambda r: abs((r.visit_date - patient.diagnosis_date).days),  # type: ignore[operator]
        )

    visit = nearest(scored)
    fvc_visit = nearest(with_fvc)
    for what, row in (("ΔFS", visit), ("FVC", fvc_visit)):
        gap = abs(months_between_dates(patient.diagnosis_date, row.visit_date))
        if gap > ENCALS_VISIT_TOLERANCE_MONTHS:
            notes.append(
                f"ENCALS: the {what} used comes from {row.visit_date.isoformat()}, "
                f"{gap:.1f} months from diagnosis (the model expects values at diagnosis)"
            )
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", EncalsExtrapolationWarning)
            predictors = EncalsPredictors(
                age_onset_years=round(age_years(patient.birth_year, patient.onset_date), 2),
                delta_fs=float(visit.delta_fs),  # type: ignore[arg-type]
                diagnostic_delay_months=delay,
                fvc_percent=float(fvc_visit.fvc_percent),  # type: ignore[arg-type]
                bulbar_onset=str(patient.onset_region).lower() == "bulbar",
                definite_als=str(patient.el_escorial).lower() == "definite",
                ftd=bool(patient.ftd),
                c9orf72=patient.genotype == "C9orf72",
            )
        notes.extend(f"ENCALS: {w.message}" for w in caught)
        prog = encals_prognosis(predictors)
    except InputError as err:
        return None, [], f"cannot compute ENCALS: {err}"
    horizon = max(SURVIVAL_HORIZON_MONTHS, (now_months or 0.0) + 24.0)
    grid = np.linspace(0.0, horizon, 121)
    curve = [(float(t), float(s)) for t, s in zip(grid, prog.survival(grid), strict=True)]
    conditional: list[tuple[float, float]] = []
    cond_from = None
    if now_months is not None and now_months > 0:
        try:
            future = np.concatenate(([now_months], grid[grid > now_months]))
            values = conditional_survival(prog, now_months, future)
            conditional = [
                (float(t), float(s)) for t, s in zip(future, np.atleast_1d(values), strict=True)
            ]
            cond_from = float(now_months)
        except InputError as err:
            notes.append(f"ENCALS: no conditional survival ({err})")
    return (
        PrognosisSummary(
            encals=prog.to_dict(),
            visit_date=visit.visit_date,
            quantiles_months=_quantile_times(prog),
            survival_curve=curve,
            conditional_from_months=cond_from,
            conditional_curve=conditional,
            fvc_visit_date=fvc_visit.visit_date,
        ),
        [],
        None,
    )


def summarize_record(
    patient: PatientInput, visits: Sequence[VisitInput], *, today: dt.date | None = None
) -> RecordSummary:
    """Summarise one patient's record.

    Parameters
    ----------
    patient:
        The patient's details.
    visits:
        The visits in any order (they are sorted by date).
    today:
        The reference date for age, time since onset and today's D50 phase (default: today).

    Returns
    -------
    RecordSummary
        Per-visit scores; the latest values; ΔFS and its Kimura category at the latest scored
        visit; the D50 fit or ``d50_reason``; the ENCALS prognosis or ``prognosis_missing`` /
        ``prognosis_reason``; genotype notes (i18n keys with sources); warnings. Never raises for
        incomplete data.
    """
    today = today or dt.date.today()
    notes: list[str] = []
    ordered = sorted(visits, key=lambda v: v.visit_date)
    rows = [_score_visit(v, patient.onset_date, notes)[0] for v in ordered]
    if patient.onset_date is not None and patient.onset_date > today:
        notes.append("the onset date lies in the future")
    if (
        patient.onset_date is not None
        and patient.diagnosis_date is not None
        and patient.diagnosis_date < patient.onset_date
    ):
        notes.append("the diagnosis date is before the onset date")
    if patient.diagnosis_date is not None and patient.diagnosis_date > today:
        notes.append("the diagnosis date lies in the future")
    if patient.birth_year is not None:
        if patient.birth_year > today.year:
            notes.append("the birth year lies in the future")
        elif patient.onset_date is not None and patient.birth_year > patient.onset_date.year:
            notes.append("the birth year is after the onset date")
    if any(v.visit_date > today for v in ordered):
        notes.append("some visits are dated after today")
    now_months = (
        None if patient.onset_date is None else months_between_dates(patient.onset_date, today)
    )
    delay = (
        None
        if patient.onset_date is None or patient.diagnosis_date is None
        else months_between_dates(patient.onset_date, patient.diagnosis_date)
    )
    scored = [r for r in rows if r.total is not None]
    latest = scored[-1] if scored else None

    rate = None
    rate_reason = None
    category = None
    if latest is None:
        rate_reason = "cannot compute ΔFS because no visit has a complete ALSFRS-R"
    elif patient.onset_date is None:
        rate_reason = "cannot compute ΔFS because the onset date is missing"
    elif latest.delta_fs is None:
        rate_reason = "cannot compute ΔFS because the latest scored visit is not after onset"
    else:
        rate = latest.delta_fs
        category = str(progression_category(rate))

    d50, d50_reason = _fit_d50(rows, now_months)
    prognosis, missing, prognosis_reason = _prognosis(patient, rows, now_months, notes)

    def last(attr: str) -> float | None:
        values = [getattr(r, attr) for r in rows if getattr(r, attr) is not None]
        return float(values[-1]) if values else None

    weights = [r.weight_kg for r in rows if r.weight_kg is not None]
    weight_change = (
        100.0 * (weights[-1] - weights[0]) / weights[0]
        if len(weights) >= 2 and weights[0] > 0
        else None
    )
    genotype = patient.genotype if patient.genotype in GENOTYPE_NOTES else "unknown"
    if patient.genotype is not None and patient.genotype not in GENOTYPE_NOTES:
        notes.append(f"genotype {patient.genotype!r} is not one of {', '.join(GENOTYPES)}")
    sources = dict(GENOTYPE_NOTES[genotype])
    return RecordSummary(
        today=today,
        age_years=None if patient.birth_year is None else age_years(patient.birth_year, today),
        months_since_onset=now_months,
        diagnostic_delay_months=delay,
        visits=rows,
        latest=latest,
        latest_fvc_percent=last("fvc_percent"),
        latest_weight_kg=last("weight_kg"),
        latest_nfl_pg_ml=last("nfl_pg_ml"),
        weight_change_percent=weight_change,
        delta_fs=rate,
        delta_fs_reason=rate_reason,
        progression_category=category,
        d50=d50,
        d50_reason=d50_reason,
        prognosis=prognosis,
        prognosis_missing=missing,
        prognosis_reason=prognosis_reason,
        genotype_notes=list(sources),
        genotype_sources=sources,
        warnings=notes,
    )
