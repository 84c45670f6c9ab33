"""Calibration targets for a simulated ALS cohort: the target file, statistics and evaluation.

A *cohort* is two tables (the contract with :mod:`alsim.disease.mechanistic`):

``patients``
    one row per virtual patient: ``subject_id``, ``sex``, ``ancestry``, ``genotype``,
    ``sod1_variant``, ``onset_region``, ``ftd``, ``age_onset_years``, ``t_diagnosis_months``,
    ``t_gastrostomy_months``, ``t_niv_months``, ``t_pav_months``, ``t_death_months`` (months from
    symptom onset, NaN when the event did not happen within the horizon), ``horizon_months``,
    ``fvc_percent_diagnosis``, ``alsfrs_r_diagnosis``, ``delta_fs_diagnosis``,
    ``nfl_diagnosis_pg_ml``.
``visits``
    one row per patient per month: ``subject_id``, ``t_months`` (from onset; may be negative),
    ``alive``, the 13 item columns of :data:`alsim.clinical.alsfrs.VISIT_ITEM_COLUMNS`,
    ``alsfrs_r_total``, ``fvc_percent``, ``nfl_pg_ml``, ``weight_kg``, ``mu_fraction``,
    ``nfl_control_pg_ml``.

A column is only required when a statistic uses it; a missing one raises
:class:`~alsim.errors.InputError` naming the table and column.

The target file (``alsim/params/targets.yaml``) lists published numbers. Each target names a
statistic from :data:`STATISTICS`, the published ``value``, an absolute ``tolerance`` and where
the number comes from. **Tolerance rule**: a tolerance is no wider than the source's own
uncertainty (``uncertainty``: a printed CI, a printed range, or a CI derived from a printed SD
and n) or, where the source gives none, 10% of the value. UNCONFIRMED numbers may not be hard
targets. :func:`load_targets` enforces both.

:func:`evaluate_targets` computes every statistic on a cohort and compares it with its target.
The trial-like population is defined by :class:`TrialLikeDefinition` (PARALS-ct criteria).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alsim.analysis.survival import kaplan_meier_table
from alsim.clinical.alsfrs import ITEM_COLUMNS
from alsim.errors import InputError
from alsim.validation import bool_column

# -- vocabulary of the cohort tables (the contract) ---------------------------------------------
GENOTYPES: tuple[str, ...] = ("sporadic", "SOD1", "C9orf72", "TARDBP", "FUS")
ANCESTRIES: tuple[str, ...] = ("european", "east_asian")
ONSET_REGIONS: tuple[str, ...] = ("bulbar", "upper_limb", "trunk", "lower_limb")
SEXES: tuple[str, ...] = ("female", "male")
SOD1_VARIANTS: tuple[str, ...] = ("A4V", "other")

#: Populations a published number can come from (see docs/calibration-targets.md).
POPULATIONS: tuple[str, ...] = (
    "population-based",
    "trial-like",
    "clinic",
    "genotype carriers",
    "presymptomatic carriers",
    "systematic review",
)
#: How well the number was checked: CONFIRMED in a readable excerpt, PARTIAL, or UNCONFIRMED.
EVIDENCE: tuple[str, ...] = ("confirmed", "partial", "unconfirmed")
#: Kinds of source uncertainty that bound a tolerance.
UNCERTAINTY_KINDS: tuple[str, ...] = ("95% CI", "derived 95% CI", "range")

SWALLOWING_ITEM = ITEM_COLUMNS[2]  # q3_swallowing
RESP_INSUFFICIENCY_ITEM = ITEM_COLUMNS[11]  # r3_respiratory_insufficiency

#: Healthy blood NfL 95th percentiles (pg/mL) by age band (upper age bound, limit), from
#: https://pmc.ncbi.nlm.nih.gov/articles/PMC9297091 (8 cohorts, Simoa): 5-17 y 7, 18-50 y 10,
#: 51-60 y 15, 61-70 y 20, >70 y 35 pg/mL. Used as the default "above the control range" cut.
NFL_UPPER_REFERENCE: tuple[tuple[float, float], ...] = (
    (18.0, 7.0),
    (51.0, 10.0),
    (61.0, 15.0),
    (71.0, 20.0),
    (math.inf, 35.0),
)

_MILESTONE_COLUMNS = {
    "gastrostomy": "t_gastrostomy_months",
    "niv": "t_niv_months",
    "pav": "t_pav_months",
}


# -- the trial-like population ------------------------------------------------------------------
@dataclass(frozen=True)
class TrialLikeDefinition:
    """Who counts as a trial participant, and how a trial reads slopes.

    The eligibility mirrors the "usual criteria for inclusion in clinical trials" applied to the
    Piemonte register (PARALS-ct; Chiò et al., Neurology 2011;77:1432-1437,
    doi:10.1212/WNL.0b013e318232ab9b): age 18-75 years, disease duration < 36 months, vital
    capacity >= 70% predicted, ALSFRS-R swallowing and respiratory-insufficiency items >= 3, all
    at diagnosis. Two PARALS-ct criteria are not represented in the cohort tables and are not
    applied: El Escorial category (definite / probable / probable laboratory-supported) and
    riluzole use. A patient must also be diagnosed, alive and free of permanent ventilation at
    diagnosis.

    Enrolment is at diagnosis (as in PARALS-ct). The slope of a readout (ALSFRS-R total, FVC) is
    the ordinary least-squares slope over the visits at ``0 <= t - t_enrol <= window_months``
    while alive, needing ``min_visits`` visits, in units per month.

    Attributes
    ----------
    min_age_years, max_age_years:
        Inclusive age range at enrolment.
    max_months_from_onset:
        Disease duration at enrolment must be strictly below this.
    min_fvc_percent:
        FVC (% predicted) at diagnosis must be at least this.
    min_swallowing_item, min_respiratory_insufficiency_item:
        ALSFRS-R items 3 (swallowing) and R3 at the visit nearest diagnosis must be at least
        these.
    window_months, min_visits:
        Slope window after enrolment and the minimum number of visits in it.
    """

    min_age_years: float = 18.0
    max_age_years: float = 75.0
    max_months_from_onset: float = 36.0
    min_fvc_percent: float = 70.0
    min_swallowing_item: int = 3
    min_respiratory_insufficiency_item: int = 3
    window_months: float = 12.0
    min_visits: int = 3

    def __post_init__(self) -> None:
        checks = {
            "min_age_years": 0 <= self.min_age_years <= self.max_age_years,
            "max_months_from_onset": self.max_months_from_onset > 0,
            "window_months": self.window_months > 0,
            "min_visits": self.min_visits >= 2,
        }
        for name, ok in checks.items():
            if not ok:
                raise InputError(
                    f"TrialLikeDefinition.{name}", f"invalid value {getattr(self, name)!r}"
                )


TRIAL_LIKE = TrialLikeDefinition()


# -- the cohort ---------------------------------------------------------------------------------
class Cohort:
    """A simulated cohort (``patients`` and ``visits`` tables) with cached derived quantities.

    Parameters
    ----------
    patients, visits:
        The cohort tables (see the module docstring). Visits are sorted by subject and time.
    trial:
        The trial-like definition used by ``selection: trial_like`` and the slope statistics.

    Raises
    ------
    InputError
        If a table lacks ``subject_id`` (or ``t_months``), a subject appears twice in
        ``patients``, or ``visits`` names a subject that is not in ``patients``.
    """

    def __init__(
        self,
        patients: pd.DataFrame,
        visits: pd.DataFrame,
        *,
        trial: TrialLikeDefinition = TRIAL_LIKE,
    ) -> None:
        for name, frame in (("patients", patients), ("visits", visits)):
            if not isinstance(frame, pd.DataFrame):
                raise InputError(name, f"must be a pandas DataFrame, got {type(frame).__name__}")
            if "subject_id" not in frame.columns:
                raise InputError(name, "missing column 'subject_id'")
        if "t_months" not in visits.columns:
            raise InputError("visits", "missing column 't_months'")
        ids = patients["subject_id"].astype(str)
        if ids.duplicated().any():
            raise InputError(
                "patients.subject_id", f"duplicate subject {ids[ids.duplicated()].iloc[0]!r}"
            )
        self.patients = patients.reset_index(drop=True)
        self.n = len(self.patients)
        position = pd.Series(np.arange(self.n), index=ids.to_numpy())
        vis_ids = visits["subject_id"].astype(str)
        unknown = ~vis_ids.isin(position.index)
        if unknown.any():
            raise InputError(
                "visits.subject_id", f"subject {vis_ids[unknown].iloc[0]!r} is not in patients"
            )
        pi = position.reindex(vis_ids.to_numpy()).to_numpy()
        t = pd.to_numeric(visits["t_months"], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(t)):
            raise InputError("visits.t_months", "must be finite numbers")
        order = np.lexsort((t, pi))
        self.visits = visits.iloc[order].reset_index(drop=True)
        self._pi = pi[order].astype(np.int64)
        self._t = t[order]
        self.trial = trial
        self._cache: dict[Any, Any] = {}

    # -- column access --------------------------------------------------------------------------
    def pcol(self, name: str) -> np.ndarray:
        """A numeric patients column as float (NaN for missing)."""
        return _numeric(self.patients, name, "patients")

    def pstr(self, name: str) -> np.ndarray:
        """A categorical patients column as an object array of str (None for missing)."""
        if name not in self.patients.columns:
            raise InputError("patients", f"missing column {name!r}")
        col = self.patients[name]
        return np.array([None if pd.isna(v) else str(v) for v in col], dtype=object)

    def pbool(self, name: str) -> np.ndarray:
        """A yes/no patients column as bool (missing = False)."""
        if name not in self.patients.columns:
            raise InputError("patients", f"missing column {name!r}")
        return bool_column(self.patients[name], lambda row: f"patients, row {row}, {name}")

    def vcol(self, name: str) -> np.ndarray:
        """A numeric visits column as float (NaN for missing), in sorted visit order."""
        return _numeric(self.visits, name, "visits")

    @property
    def alive(self) -> np.ndarray:
        """Visits' ``alive`` flag as bool (sorted visit order)."""
        if "alive" not in self._cache:
            if "alive" not in self.visits.columns:
                raise InputError("visits", "missing column 'alive'")
            col = self.visits["alive"]
            if pd.api.types.is_bool_dtype(col) and not col.isna().any():
                self._cache["alive"] = col.to_numpy(dtype=bool)  # fast path
            else:
                self._cache["alive"] = bool_column(col, lambda row: f"visits, row {row}, alive")
        return self._cache["alive"]

    # -- derived quantities ----------------------------------------------------------------------
    def first_time(self, condition: np.ndarray) -> np.ndarray:
        """Per patient, the earliest visit time where ``condition`` (visit-aligned) holds."""
        out = np.full(self.n, np.nan)
        pis = self._pi[condition]
        if pis.size:
            first, idx = np.unique(pis, return_index=True)
            out[first] = self._t[condition][idx]
        return out

    def value_at(self, column: str, times: np.ndarray, *, max_gap: float = 1.0) -> np.ndarray:
        """Per patient, ``column`` at the alive visit nearest ``times`` (NaN beyond ``max_gap``)."""
        times = np.asarray(times, dtype=float)
        y = self.vcol(column)
        ok = self.alive & np.isfinite(y)
        pi, t, y = self._pi[ok], self._t[ok], y[ok]
        out = np.full(self.n, np.nan)
        if t.size == 0:
            return out
        tmin = float(min(t.min(), np.nanmin(times, initial=t.min())))
        tmax = float(max(t.max(), np.nanmax(times, initial=t.max())))
        span = tmax - tmin + 2.0 * max_gap + 2.0
        key = pi * span + (t - tmin)
        q = np.isfinite(times)
        qpi = np.nonzero(q)[0]
        qt = times[q]
        qkey = qpi * span + (qt - tmin)
        idx = np.searchsorted(key, qkey)
        best = np.full(qpi.size, np.inf)
        val = np.full(qpi.size, np.nan)
        for cand in (idx - 1, idx):
            c = np.clip(cand, 0, t.size - 1)
            same = (cand >= 0) & (cand < t.size) & (pi[c] == qpi)
            gap = np.where(same, np.abs(t[c] - qt), np.inf)
            better = gap < best
            best = np.where(better, gap, best)
            val = np.where(better, y[c], val)
        out[qpi] = np.where(best <= max_gap + 1e-9, val, np.nan)
        return out

    def at_diagnosis(self, column: str) -> np.ndarray:
        """Per patient, a visits column at the visit nearest diagnosis (cached)."""
        key = ("at_diagnosis", column)
        if key not in self._cache:
            self._cache[key] = self.value_at(column, self.pcol("t_diagnosis_months"))
        return self._cache[key]

    @property
    def diagnosed(self) -> np.ndarray:
        """Patients with a diagnosis time."""
        return np.isfinite(self.pcol("t_diagnosis_months"))

    @property
    def eligible(self) -> np.ndarray:
        """Patients meeting the trial-like eligibility at diagnosis (see :class:`TrialLikeDefinition`)."""
        if "eligible" not in self._cache:
            self._cache["eligible"] = self._eligibility()
        return self._cache["eligible"]

    def _eligibility(self) -> np.ndarray:
        d = self.trial
        tdx = self.pcol("t_diagnosis_months")
        with np.errstate(invalid="ignore"):
            alive_at_dx = ~(self.pcol("t_death_months") <= tdx) & ~(
                self.pcol("t_pav_months") <= tdx
            )
            age = self.pcol("age_onset_years") + tdx / 12.0
            ok = (
                np.isfinite(tdx)
                & alive_at_dx
                & (age >= d.min_age_years)
                & (age <= d.max_age_years)
                & (tdx < d.max_months_from_onset)
                & (self.pcol("fvc_percent_diagnosis") >= d.min_fvc_percent)
                & (self.at_diagnosis(SWALLOWING_ITEM) >= d.min_swallowing_item)
                & (
                    self.at_diagnosis(RESP_INSUFFICIENCY_ITEM)
                    >= d.min_respiratory_insufficiency_item
                )
            )
        return ok

    def slopes(self, column: str) -> np.ndarray:
        """Per patient, the OLS slope (per month) of ``column`` from diagnosis (cached).

        Visits at ``0 <= t - t_diagnosis <= window_months`` while alive with a value; NaN for
        undiagnosed patients and those with fewer than ``min_visits`` such visits.
        """
        key = ("slope", column)
        if key not in self._cache:
            self._cache[key] = self._slopes(column)
        return self._cache[key]

    def _slopes(self, column: str) -> np.ndarray:
        y = self.vcol(column)
        t_en = self.pcol("t_diagnosis_months")[self._pi]
        x = self._t - t_en
        sel = self.alive & np.isfinite(y) & (x >= -1e-9) & (x <= self.trial.window_months + 1e-9)
        pi, x, y = self._pi[sel], x[sel], y[sel]
        n = np.bincount(pi, minlength=self.n).astype(float)
        sx = np.bincount(pi, weights=x, minlength=self.n)
        sy = np.bincount(pi, weights=y, minlength=self.n)
        sxx = np.bincount(pi, weights=x * x, minlength=self.n)
        sxy = np.bincount(pi, weights=x * y, minlength=self.n)
        den = n * sxx - sx * sx
        ok = (n >= self.trial.min_visits) & (den > 1e-12)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = (n * sxy - sx * sy) / den
        return np.where(ok, slope, np.nan)

    def survival_data(self, event: str) -> tuple[np.ndarray, np.ndarray]:
        """Per patient (time from onset, event observed) for ``death`` or ``death_or_pav``.

        Patients without the event are censored at ``horizon_months``.
        """
        t_event = self.pcol("t_death_months")
        if event == "death_or_pav":
            t_event = np.fmin(t_event, self.pcol("t_pav_months"))
        horizon = self.pcol("horizon_months")
        observed = np.isfinite(t_event) & ~(t_event > horizon)
        time = np.where(observed, t_event, horizon)
        return time, observed

    def subset(self, flt: Mapping[str, Any] | None = None) -> np.ndarray:
        """Boolean mask of patients matching the subset keys of a target filter.

        Keys: ``genotype``, ``sod1_variant``, ``onset_region``, ``ancestry``, ``sex`` (a value or
        a list of values), ``ftd`` (bool) and ``selection`` (``"all"``, ``"diagnosed"`` or
        ``"trial_like"``). Other keys (statistic parameters) are ignored.
        """
        mask = np.ones(self.n, dtype=bool)
        for key, value in (flt or {}).items():
            if key in _CATEGORY_KEYS:
                allowed = [value] if isinstance(value, str) else list(value)
                mask &= np.isin(self.pstr(key), allowed)
            elif key == "ftd":
                mask &= self.pbool("ftd") == bool(value)
            elif key == "selection":
                if value == "diagnosed":
                    mask &= self.diagnosed
                elif value == "trial_like":
                    mask &= self.eligible
        return mask


def _numeric(frame: pd.DataFrame, name: str, table: str) -> np.ndarray:
    if name not in frame.columns:
        raise InputError(table, f"missing column {name!r}")
    col = frame[name]
    if not (pd.api.types.is_numeric_dtype(col) or col.isna().all()):
        col = pd.to_numeric(col, errors="coerce")
    return col.to_numpy(dtype=float, na_value=np.nan)


# -- statistics registry ------------------------------------------------------------------------
_CATEGORY_KEYS: dict[str, tuple[str, ...]] = {
    "genotype": GENOTYPES,
    "sod1_variant": SOD1_VARIANTS,
    "onset_region": ONSET_REGIONS,
    "ancestry": ANCESTRIES,
    "sex": SEXES,
}
SELECTIONS: tuple[str, ...] = ("all", "diagnosed", "trial_like")
#: Filter keys every statistic accepts: they select the patients the statistic is computed on.
SUBSET_KEYS: frozenset[str] = frozenset({*_CATEGORY_KEYS, "ftd", "selection"})

Statistic = Callable[["Cohort", Mapping[str, Any]], float]


@dataclass(frozen=True)
class StatisticInfo:
    """A registered statistic: its function, unit, parameters (with defaults) and description."""

    name: str
    func: Statistic
    unit: str
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def description(self) -> str:
        """First paragraph of the function's docstring."""
        doc = (self.func.__doc__ or "").strip()
        return " ".join(doc.split("\n\n")[0].split())


#: Statistic name -> function ``f(cohort, filter) -> float``.
STATISTICS: dict[str, Statistic] = {}
#: Statistic name -> :class:`StatisticInfo` (unit, parameter defaults, description).
STATISTIC_INFO: dict[str, StatisticInfo] = {}


def _statistic(name: str, *, unit: str, **defaults: Any) -> Callable[[Statistic], Statistic]:
    def register(func: Statistic) -> Statistic:
        @functools.wraps(func)
        def wrapper(cohort: Cohort, flt: Mapping[str, Any] | None = None) -> float:
            merged = {**defaults, **(flt or {})}
            return float(func(cohort, merged))

        STATISTICS[name] = wrapper
        STATISTIC_INFO[name] = StatisticInfo(name, wrapper, unit, dict(defaults))
        return wrapper

    return register


def _mean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def _median(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else math.nan


def _share(flag: np.ndarray) -> float:
    return float(flag.mean()) if flag.size else math.nan


@_statistic("onset_age_mean", unit="years")
def onset_age_mean(c: Cohort, f: Mapping[str, Any]) -> float:
    """Mean age at symptom onset (``age_onset_years``)."""
    return _mean(c.pcol("age_onset_years")[c.subset(f)])


@_statistic("male_female_ratio", unit="ratio")
def male_female_ratio(c: Cohort, f: Mapping[str, Any]) -> float:
    """Number of men divided by number of women (case counts)."""
    sex = c.pstr("sex")[c.subset(f)]
    women = int(np.sum(sex == "female"))
    return np.sum(sex == "male") / women if women else math.nan


@_statistic("bulbar_onset_share", unit="fraction")
def bulbar_onset_share(c: Cohort, f: Mapping[str, Any]) -> float:
    """Fraction of patients with bulbar onset (``onset_region == "bulbar"``)."""
    return _share(c.pstr("onset_region")[c.subset(f)] == "bulbar")


@_statistic("ftd_share", unit="fraction")
def ftd_share(c: Cohort, f: Mapping[str, Any]) -> float:
    """Fraction of patients with frontotemporal dementia (``ftd``)."""
    return _share(c.pbool("ftd")[c.subset(f)])


@_statistic("diagnostic_delay_median", unit="months")
def diagnostic_delay_median(c: Cohort, f: Mapping[str, Any]) -> float:
    """Median onset-to-diagnosis time among diagnosed patients (as a clinic would see them)."""
    return _median(c.pcol("t_diagnosis_months")[c.subset(f)])


@_statistic("trial_eligible_share", unit="fraction")
def trial_eligible_share(c: Cohort, f: Mapping[str, Any]) -> float:
    """Fraction of diagnosed patients meeting the trial-like eligibility at diagnosis."""
    m = c.subset(f) & c.diagnosed
    return _share(c.eligible[m])


@_statistic("alsfrs_slope_mean", unit="points/month")
def alsfrs_slope_mean(c: Cohort, f: Mapping[str, Any]) -> float:
    """Mean per-patient ALSFRS-R slope over the 12 months after diagnosis (negative = decline)."""
    return _mean(c.slopes("alsfrs_r_total")[c.subset(f)])


@_statistic("alsfrs_slope_sd", unit="points/month")
def alsfrs_slope_sd(c: Cohort, f: Mapping[str, Any]) -> float:
    """Between-patient standard deviation (ddof 1) of the per-patient ALSFRS-R slopes."""
    x = c.slopes("alsfrs_r_total")[c.subset(f)]
    x = x[np.isfinite(x)]
    return float(np.std(x, ddof=1)) if x.size > 1 else math.nan


@_statistic("alsfrs_decline_quartile_skewness", unit="dimensionless")
def alsfrs_decline_quartile_skewness(c: Cohort, f: Mapping[str, Any]) -> float:
    """Bowley (quartile) skewness of the decline rate (−slope): (Q3 + Q1 − 2·Q2) / (Q3 − Q1).

    Positive when the distribution has a long tail of fast progressors.
    """
    x = -c.slopes("alsfrs_r_total")[c.subset(f)]
    x = x[np.isfinite(x)]
    if x.size < 4:
        return math.nan
    q1, q2, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    return (q3 + q1 - 2.0 * q2) / (q3 - q1) if q3 > q1 else math.nan


@_statistic("fvc_slope_mean", unit="%pred/month")
def fvc_slope_mean(c: Cohort, f: Mapping[str, Any]) -> float:
    """Mean per-patient FVC (% predicted) slope over the 12 months after diagnosis."""
    return _mean(c.slopes("fvc_percent")[c.subset(f)])


def _km(c: Cohort, mask: np.ndarray, event: str):
    time, observed = c.survival_data(event)
    return kaplan_meier_table(time[mask], observed[mask])


@_statistic("survival_median", unit="months", event="death_or_pav")
def survival_median(c: Cohort, f: Mapping[str, Any]) -> float:
    """Kaplan-Meier median time from onset to ``event`` (censored at the horizon)."""
    return _km(c, c.subset(f), f["event"]).median


@_statistic("survival_median_ratio", unit="ratio", event="death_or_pav")
def survival_median_ratio(c: Cohort, f: Mapping[str, Any]) -> float:
    """Ratio of KM medians from onset: ``numerator`` subgroup over ``denominator`` subgroup."""
    base = c.subset(f)
    top = _km(c, base & c.subset(f["numerator"]), f["event"]).median
    bottom = _km(c, base & c.subset(f["denominator"]), f["event"]).median
    return top / bottom if bottom > 0 else math.nan


@_statistic("survival_probability", unit="fraction", event="death_or_pav")
def survival_probability(c: Cohort, f: Mapping[str, Any]) -> float:
    """Kaplan-Meier probability of being event-free ``months`` after onset."""
    return _km(c, c.subset(f), f["event"]).at(float(f["months"]))


@_statistic("survival_within_factor", unit="fraction", event="death_or_pav", factor=2.0)
def survival_within_factor(c: Cohort, f: Mapping[str, Any]) -> float:
    """Share of patients whose event time lies within median/factor to median·factor (KM).

    Computed as S(m / factor) − S(m · factor) from the Kaplan-Meier curve with median m.
    """
    km = _km(c, c.subset(f), f["event"])
    m, k = km.median, float(f["factor"])
    return km.at(m / k) - km.at(m * k) if np.isfinite(m) else math.nan


@_statistic("event_within_months_of_diagnosis", unit="fraction", event="death")
def event_within_months_of_diagnosis(c: Cohort, f: Mapping[str, Any]) -> float:
    """Kaplan-Meier probability of ``event`` within ``months`` after diagnosis (diagnosed patients).

    Time origin: diagnosis; patients diagnosed at their end point count as events at time 0.
    """
    t_diag = c.pcol("t_diagnosis_months")
    time, observed = c.survival_data(f["event"])
    with np.errstate(invalid="ignore"):
        keep = c.subset(f) & np.isfinite(t_diag) & ~(t_diag > time)
    if not keep.any():
        return math.nan
    km = kaplan_meier_table(np.maximum(time - t_diag, 0.0)[keep], observed[keep])
    return 1.0 - km.at(float(f["months"]))


@_statistic("survival_within_factor_of_prediction", unit="fraction", factor=2.0)
def survival_within_factor_of_prediction(c: Cohort, f: Mapping[str, Any]) -> float:
    r"""Share of patients whose survival from diagnosis lies within a factor of its prediction.

    The SEALS reading of prognostic spread (Knibb et al., JNNP 2016, PMC5136716): with their
    prediction from age at onset, site of onset and diagnostic delay, a patient's survival from
    diagnosis has about a 50% chance of falling between half and twice the predicted median.
    alsim repeats the comparison on the simulated cohort: a log-normal accelerated-failure-time
    model with the SEALS predictors available in the cohort (age at onset, bulbar onset, log
    diagnostic delay; riluzole and NIV use are not simulated as choices) is fitted by maximum
    likelihood with right censoring,

    .. math:: \log R_i = x_i^\top \beta + \sigma \varepsilon_i, \quad
              m_i = e^{x_i^\top \beta},

    with :math:`R_i` the time from diagnosis to ``death_or_pav``. The statistic is the share of
    patients with :math:`m_i / k \le R_i \le k\, m_i` (``k`` = ``factor``) among those whose
    status is known (event observed, or followed beyond :math:`k\, m_i`). It measures how much
    of individual survival the usual clinical predictors leave unexplained. Patients never
    diagnosed, or diagnosed at their end point, are left out.
    """
    pt = c.patients
    t_diag = c.pcol("t_diagnosis_months")
    time, event = c.survival_data("death_or_pav")
    with np.errstate(invalid="ignore"):
        keep = c.subset(f) & np.isfinite(t_diag) & (t_diag > 0) & (time > t_diag)
    if keep.sum() < 50:
        return math.nan
    r = (time - t_diag)[keep]
    observed = event[keep].astype(bool)
    x = np.column_stack(
        [
            np.ones(r.size),
            (c.pcol("age_onset_years")[keep] - 60.0) / 10.0,
            (pt["onset_region"].astype(str).to_numpy()[keep] == "bulbar").astype(float),
            np.log(t_diag[keep]),
        ]
    )
    beta, _ = _lognormal_aft(np.log(r), observed, x)
    m = np.exp(x @ beta)
    k = float(f["factor"])
    inside = observed & (r >= m / k) & (r <= m * k)
    known = observed | (r >= m * k)
    return float(inside.sum() / known.sum()) if known.any() else math.nan


def _lognormal_aft(y: np.ndarray, observed: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Maximum-likelihood normal regression of ``y`` with right censoring (``observed`` False)."""
    from scipy.optimize import minimize
    from scipy.special import log_ndtr

    # Constant columns (e.g. no FTD in a subset) other than the intercept are dropped by zeroing.
    usable = np.ptp(x, axis=0) > 0
    usable[0] = True
    xs = x[:, usable]
    start = np.linalg.lstsq(xs[observed], y[observed], rcond=None)[0]
    resid = y[observed] - xs[observed] @ start
    theta0 = np.r_[start, math.log(max(float(np.std(resid)), 1e-3))]

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        b, log_s = theta[:-1], theta[-1]
        s = math.exp(log_s)
        z = (y - xs @ b) / s
        log_sf = log_ndtr(-z)
        ll = np.where(observed, -0.5 * z * z - log_s, log_sf).sum()
        # d/dz of the censored term: phi(z) / (1 - Phi(z)) (inverse Mills ratio).
        mills = np.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi) - log_sf)
        dz = np.where(observed, z, mills)  # d(-ll)/d(y - xb) * s, up to sign
        grad_b = -(xs.T @ dz) / s
        grad_s = -np.sum(np.where(observed, z * z - 1.0, mills * z))
        return -ll, np.r_[grad_b, grad_s]

    res = minimize(nll, theta0, jac=True, method="BFGS")
    beta = np.zeros(x.shape[1])
    beta[usable] = res.x[:-1]
    return beta, math.exp(res.x[-1])


@_statistic("milestone_share", unit="fraction")
def milestone_share(c: Cohort, f: Mapping[str, Any]) -> float:
    """Fraction of patients reaching ``event`` (gastrostomy, niv or pav) within the horizon."""
    t = c.pcol(_MILESTONE_COLUMNS[f["event"]])
    with np.errstate(invalid="ignore"):
        reached = np.isfinite(t) & ~(t > c.pcol("horizon_months"))
    return _share(reached[c.subset(f)])


@_statistic("nfl_control_ratio_diagnosis", unit="ratio")
def nfl_control_ratio_diagnosis(c: Cohort, f: Mapping[str, Any]) -> float:
    """Median blood NfL at diagnosis over the median age-matched control NfL at diagnosis.

    Patients with both values; control NfL is ``nfl_control_pg_ml`` at the visit nearest
    diagnosis.
    """
    nfl = c.pcol("nfl_diagnosis_pg_ml")
    ctrl = c.at_diagnosis("nfl_control_pg_ml")
    m = c.subset(f) & np.isfinite(nfl) & np.isfinite(ctrl)
    bottom = _median(ctrl[m])
    return _median(nfl[m]) / bottom if bottom > 0 else math.nan


@_statistic("nfl_share_above_cutoff_diagnosis", unit="fraction", cutoff=62.0)
def nfl_share_above_cutoff_diagnosis(c: Cohort, f: Mapping[str, Any]) -> float:
    """Fraction of patients whose blood NfL at diagnosis exceeds ``cutoff`` pg/mL."""
    nfl = c.pcol("nfl_diagnosis_pg_ml")
    m = c.subset(f) & np.isfinite(nfl)
    return _share(nfl[m] > float(f["cutoff"]))


def nfl_upper_reference(age_years: np.ndarray) -> np.ndarray:
    """Healthy blood NfL 95th percentile (pg/mL) for each age (:data:`NFL_UPPER_REFERENCE`)."""
    bounds = np.array([b for b, _ in NFL_UPPER_REFERENCE])
    limits = np.array([v for _, v in NFL_UPPER_REFERENCE])
    idx = np.searchsorted(bounds, np.asarray(age_years, dtype=float), side="right")
    return limits[np.clip(idx, 0, limits.size - 1)]


@_statistic("nfl_presymptomatic_lead_median", unit="months", factor=None)
def nfl_presymptomatic_lead_median(c: Cohort, f: Mapping[str, Any]) -> float:
    """Median time before onset from which blood NfL stays above the healthy range until onset.

    Per patient, over visits at ``t <= 0``: the lead is ``-t`` of the earliest visit from which
    every later visit up to onset has NfL above the threshold (0 if the last pre-onset visit is
    not above). Threshold: the age-specific healthy 95th percentile (:func:`nfl_upper_reference`)
    or, if ``factor`` is given, ``factor`` × ``nfl_control_pg_ml``. The lead cannot exceed how
    far the visits reach before onset.
    """
    nfl = c.vcol("nfl_pg_ml")
    sel = (c._t <= 0) & np.isfinite(nfl) & c.subset(f)[c._pi]
    if f["factor"] is None:
        age = c.pcol("age_onset_years")[c._pi] + c._t / 12.0
        threshold = nfl_upper_reference(age)
    else:
        threshold = float(f["factor"]) * c.vcol("nfl_control_pg_ml")
    pi, t = c._pi[sel], c._t[sel]
    above = (nfl[sel] > threshold[sel]).astype(np.int8)
    if pi.size == 0:
        return math.nan
    order = np.lexsort((-t, pi))  # per patient, latest visit first
    pi, t, above = pi[order], t[order], above[order]
    suffix = pd.Series(above).groupby(pi).cummin().to_numpy().astype(bool)
    earliest = pd.Series(np.where(suffix, t, np.inf)).groupby(pi).min()
    lead = np.where(np.isfinite(earliest.to_numpy()), -earliest.to_numpy(), 0.0)
    return _median(np.maximum(lead, 0.0))


def _mu_and_function_times(c: Cohort, f: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    mu = c.vcol("mu_fraction")
    total = c.vcol("alsfrs_r_total")
    alive = c.alive
    with np.errstate(invalid="ignore"):
        t_mu = c.first_time(alive & (mu <= float(f["mu_level"])))
        t_fn = c.first_time(alive & (total <= float(f["alsfrs_level"])))
    m = c.subset(f) & np.isfinite(t_mu) & np.isfinite(t_fn)
    return t_mu[m], t_fn[m]


@_statistic("mu_lead_median", unit="months", mu_level=0.5, alsfrs_level=24.0)
def mu_lead_median(c: Cohort, f: Mapping[str, Any]) -> float:
    """Median time by which motor-unit loss (``mu_fraction <= mu_level``) precedes function loss.

    Per patient: first alive visit with ALSFRS-R total <= ``alsfrs_level`` (50% function, the
    D50 point) minus first alive visit with ``mu_fraction <= mu_level`` (the M50 point); patients
    reaching both within the horizon.
    """
    t_mu, t_fn = _mu_and_function_times(c, f)
    return _median(t_fn - t_mu)


@_statistic("mu_half_time_ratio", unit="ratio", mu_level=0.5, alsfrs_level=24.0)
def mu_half_time_ratio(c: Cohort, f: Mapping[str, Any]) -> float:
    """Median time from onset to M50 over median time from onset to D50 (same patients)."""
    t_mu, t_fn = _mu_and_function_times(c, f)
    bottom = _median(t_fn)
    return _median(t_mu) / bottom if bottom > 0 else math.nan


def compute_statistic(
    name: str,
    patients: pd.DataFrame | Cohort,
    visits: pd.DataFrame | None = None,
    flt: Mapping[str, Any] | None = None,
) -> float:
    """Compute one registered statistic on a cohort (tables or a :class:`Cohort`)."""
    if name not in STATISTICS:
        raise InputError("statistic", f"unknown statistic {name!r}")
    cohort = patients if isinstance(patients, Cohort) else Cohort(patients, visits)
    return STATISTICS[name](cohort, _check_filter(name, dict(flt or {})))


# -- filter validation --------------------------------------------------------------------------
def _check_choice(choices: Sequence[str]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values:
            return f"must be one of {list(choices)} or a non-empty list of them, got {value!r}"
        bad = [v for v in values if v not in choices]
        return f"unknown value(s) {bad}; expected {list(choices)}" if bad else None

    return check


def _check_number(low: float, *, above: bool = True) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or (value <= low if above else value < low):
            return f"must be a number {'>' if above else '>='} {low}, got {value!r}"
        return None

    return check


def _check_subset(value: Any) -> str | None:
    if not isinstance(value, Mapping) or not value:
        return f"must be a mapping of subset keys, got {value!r}"
    for key, sub in value.items():
        if key not in SUBSET_KEYS:
            return f"unknown subset key {key!r}; expected one of {sorted(SUBSET_KEYS)}"
        problem = _PARAM_CHECKS[key](sub)
        if problem:
            return f"{key}: {problem}"
    return None


def _check_optional_factor(value: Any) -> str | None:
    return None if value is None else _check_number(0.0)(value)


#: Checks of the subset keys (shared by every statistic).
_PARAM_CHECKS: dict[str, Callable[[Any], str | None]] = {
    **{key: _check_choice(choices) for key, choices in _CATEGORY_KEYS.items()},
    "ftd": lambda v: None if isinstance(v, bool) else f"must be true or false, got {v!r}",
    "selection": lambda v: None if v in SELECTIONS else f"must be one of {list(SELECTIONS)}",
}
_EVENTS_SURVIVAL = ("death", "death_or_pav")
_STAT_PARAMS: dict[str, dict[str, Callable[[Any], str | None]]] = {
    "survival_median": {"event": _check_choice(_EVENTS_SURVIVAL)},
    "survival_median_ratio": {
        "event": _check_choice(_EVENTS_SURVIVAL),
        "numerator": _check_subset,
        "denominator": _check_subset,
    },
    "survival_probability": {"event": _check_choice(_EVENTS_SURVIVAL), "months": _check_number(0)},
    "survival_within_factor": {
        "event": _check_choice(_EVENTS_SURVIVAL),
        "factor": _check_number(1.0),
    },
    "survival_within_factor_of_prediction": {"factor": _check_number(1.0)},
    "event_within_months_of_diagnosis": {
        "event": _check_choice(_EVENTS_SURVIVAL),
        "months": _check_number(0),
    },
    "milestone_share": {"event": _check_choice(tuple(_MILESTONE_COLUMNS))},
    "nfl_share_above_cutoff_diagnosis": {"cutoff": _check_number(0.0)},
    "nfl_presymptomatic_lead_median": {"factor": _check_optional_factor},
    "mu_lead_median": {"mu_level": _check_number(0.0), "alsfrs_level": _check_number(0.0)},
    "mu_half_time_ratio": {"mu_level": _check_number(0.0), "alsfrs_level": _check_number(0.0)},
}
_REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {
    "survival_median_ratio": ("numerator", "denominator"),
    "survival_probability": ("months",),
    "milestone_share": ("event",),
    "event_within_months_of_diagnosis": ("months",),
}


def _check_filter(statistic: str, flt: dict[str, Any]) -> dict[str, Any]:
    """Check a target filter for ``statistic``; raise ``InputError("filter.<key>", ...)``."""
    params = _STAT_PARAMS.get(statistic, {})
    for key, value in flt.items():
        if key in SUBSET_KEYS:
            problem = _PARAM_CHECKS[key](value)
        elif key in params:
            problem = params[key](value)
        else:
            known = sorted(SUBSET_KEYS | set(params))
            raise InputError(f"filter.{key}", f"unknown key for {statistic!r}; expected {known}")
        if problem:
            raise InputError(f"filter.{key}", problem)
    for key in _REQUIRED_PARAMS.get(statistic, ()):
        if key not in flt:
            raise InputError(f"filter.{key}", f"is required by {statistic!r}")
    return flt


# -- the target file ----------------------------------------------------------------------------
class Uncertainty(BaseModel):
    """The source's own uncertainty around a published value.

    ``kind``: ``"95% CI"`` (printed), ``"derived 95% CI"`` (computed from a printed SD and n, or
    a binomial CI from a printed proportion and n) or ``"range"`` (a printed range, or the
    envelope of the values printed by the cited sources).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    low: float
    high: float
    kind: Literal["95% CI", "derived 95% CI", "range"]

    @field_validator("high")
    @classmethod
    def _ordered(cls, high: float, info: ValidationInfo) -> float:
        low = info.data.get("low")
        if low is not None and high < low:
            raise ValueError(f"must be >= low ({low}), got {high}")
        return high


def max_tolerance(value: float, uncertainty: Uncertainty | None) -> float:
    """The widest tolerance the rule allows.

    With a source uncertainty: the larger distance from ``value`` to its bounds; without: 10%
    of ``|value|``.
    """
    if uncertainty is None:
        return 0.1 * abs(value)
    return max(value - uncertainty.low, uncertainty.high - value)


class Target(BaseModel):
    """One calibration target (see the module docstring and docs/calibration-targets.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    statistic: str
    filter: dict[str, Any] = {}
    value: float
    uncertainty: Uncertainty | None = None
    tolerance: float
    unit: str
    population: Literal[
        "population-based",
        "trial-like",
        "clinic",
        "genotype carriers",
        "presymptomatic carriers",
        "systematic review",
    ]
    ancestry: Literal["european", "east_asian", "any"]
    source: str
    evidence: Literal["confirmed", "partial", "unconfirmed"] = "confirmed"
    hard: bool = Field(True, validate_default=True)
    note: str

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not value or not all(ch.isascii() and (ch.isalnum() or ch == "_") for ch in value):
            raise ValueError(f"must be a non-empty identifier of a-z, 0-9 and _, got {value!r}")
        return value

    @field_validator("statistic")
    @classmethod
    def _statistic_known(cls, value: str) -> str:
        if value not in STATISTICS:
            raise ValueError(f"unknown statistic {value!r}; known: {sorted(STATISTICS)}")
        return value

    @field_validator("filter")
    @classmethod
    def _filter(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        statistic = info.data.get("statistic")
        if statistic is None:
            return value
        try:
            _check_filter(statistic, dict(value))
        except InputError as err:
            # carry the sub-key into the key path (see _as_input_error)
            raise ValueError(
                f"{_SUBKEY}{err.where.removeprefix('filter.')}{_SUBKEY}{err.problem}"
            ) from None
        return value

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {value!r}")
        return value

    @field_validator("uncertainty")
    @classmethod
    def _contains_value(cls, unc: Uncertainty | None, info: ValidationInfo) -> Uncertainty | None:
        value = info.data.get("value")
        if unc is not None and value is not None and not unc.low <= value <= unc.high:
            raise ValueError(f"[{unc.low}, {unc.high}] must contain the value {value}")
        return unc

    @field_validator("tolerance")
    @classmethod
    def _tolerance(cls, tol: float, info: ValidationInfo) -> float:
        if not math.isfinite(tol) or tol <= 0:
            raise ValueError("must be positive")
        value = info.data.get("value")
        if value is not None and "uncertainty" in info.data:
            limit = max_tolerance(value, info.data["uncertainty"])
            if tol > limit + 1e-9:
                basis = (
                    "the source's uncertainty"
                    if info.data["uncertainty"] is not None
                    else "10% of the value (the source gives no uncertainty)"
                )
                raise ValueError(f"{tol} is wider than {basis}: at most {limit:.4g}")
        return tol

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if not value.startswith(("https://", "http://", "doi:")):
            raise ValueError(f"must be a URL (http/https) or a DOI (doi:...), got {value!r}")
        return value

    @field_validator("hard")
    @classmethod
    def _hard(cls, hard: bool, info: ValidationInfo) -> bool:
        if hard and info.data.get("evidence") == "unconfirmed":
            raise ValueError("an UNCONFIRMED number cannot be a hard target (set hard: false)")
        return hard

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must justify the tolerance (non-empty)")
        return value

    def effective_filter(self) -> dict[str, Any]:
        """The filter with the target's ancestry added (unless ``any`` or already given)."""
        flt = dict(self.filter)
        if self.ancestry != "any":
            flt.setdefault("ancestry", self.ancestry)
        return flt


class ContextEntry(Target):
    """A published number shown beside the calibration, deliberately not a target.

    Same fields as :class:`Target` plus ``reason``: why the number cannot serve as a calibration
    target for this simulator (e.g. it describes a selection the simulator does not model, or
    it contradicts a better-matched target). It is evaluated and reported, never fitted, and it
    does not count towards "calibrated".
    """

    hard: bool = False
    reason: str

    @model_validator(mode="after")
    def _never_hard(self) -> ContextEntry:
        if self.hard:
            raise ValueError("a context entry cannot be hard (it is not a target)")
        if not self.reason.strip():
            raise ValueError("reason must say why this number is not a target")
        return self


class TargetSet(BaseModel):
    """A versioned list of calibration targets with unique ids, plus context entries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1]
    targets: list[Target]
    context: list[ContextEntry] = []

    @model_validator(mode="after")
    def _unique_across(self) -> TargetSet:
        ids = {t.id for t in self.targets}
        for i, entry in enumerate(self.context):
            if entry.id in ids:
                raise ValueError(f"context[{i}].id {entry.id!r} is also a target id")
        return self

    @field_validator("targets")
    @classmethod
    def _unique(cls, targets: list[Target]) -> list[Target]:
        if not targets:
            raise ValueError("must list at least one target")
        seen: dict[str, int] = {}
        for i, target in enumerate(targets):
            if target.id in seen:
                raise ValueError(
                    f"targets[{i}].id {target.id!r} repeats targets[{seen[target.id]}]"
                )
            seen[target.id] = i
        return targets

    def by_id(self, target_id: str) -> Target:
        """The target with ``target_id``."""
        for target in self.targets:
            if target.id == target_id:
                return target
        raise KeyError(target_id)


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


_SUBKEY = "\x1f"  # marks a sub-key inside a validator message: "\x1fkey\x1fproblem"


def _as_input_error(exc: ValidationError, prefix: str) -> InputError:
    errors = exc.errors()
    first = errors[0]
    loc = tuple(first["loc"])
    kind = first["type"]
    if kind == "missing":
        problem = "is required"
    elif kind == "extra_forbidden":
        problem = "unknown key"
    else:
        problem = str(first["msg"]).removeprefix("Value error, ")
        if problem.startswith(_SUBKEY):
            _, subkey, problem = problem.split(_SUBKEY, 2)
            loc = (*loc, subkey)
        elif kind != "value_error":
            problem += f" (got {first.get('input')!r})"
    where = _key_path(loc)
    if len(errors) > 1:
        problem += f" (and {len(errors) - 1} more problem(s))"
    return InputError(f"{prefix}{where}", problem)


def parse_targets(data: Any, *, source: str | None = None) -> TargetSet:
    """Validate a parsed target document (the YAML as Python objects).

    Raises
    ------
    InputError
        Naming the key path, e.g. ``targets[3].tolerance: must be positive`` (prefixed with
        ``source, `` when given).
    """
    prefix = f"{source}, " if source else ""
    if not isinstance(data, Mapping):
        raise InputError(f"{prefix}(top level)", "must be a mapping with 'version' and 'targets'")
    try:
        return TargetSet.model_validate(data)
    except ValidationError as exc:
        raise _as_input_error(exc, prefix) from None


def load_targets(path: str | Path | None = None) -> TargetSet:
    """Load and validate a target file (default: the shipped ``alsim/params/targets.yaml``)."""
    if path is None:
        text = resources.files("alsim").joinpath("params/targets.yaml").read_text(encoding="utf-8")
        name = "targets.yaml"
    else:
        path = Path(path)
        name = path.name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(str(path), f"cannot read target file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(name, f"not valid YAML ({exc})") from None
    return parse_targets(data, source=name)


# -- evaluation ---------------------------------------------------------------------------------
#: The columns every results table has (a report needs these).
CORE_RESULT_COLUMNS: tuple[str, ...] = (
    "id",
    "statistic",
    "population",
    "value",
    "tolerance",
    "simulated",
    "deviation",
    "z",
    "passed",
    "source",
)
RESULT_COLUMNS: tuple[str, ...] = (
    *CORE_RESULT_COLUMNS,
    "unit",
    "ancestry",
    "hard",
    "evidence",
    "n_patients",
    "note",
    "role",
    "reason",
)


def evaluate_targets(
    targets: TargetSet | Sequence[Target],
    patients: pd.DataFrame | Cohort,
    visits: pd.DataFrame | None = None,
    *,
    trial: TrialLikeDefinition = TRIAL_LIKE,
) -> pd.DataFrame:
    """Compute every target's statistic on a cohort and compare it with the published value.

    Parameters
    ----------
    targets:
        A :class:`TargetSet` (e.g. from :func:`load_targets`) or a sequence of targets.
    patients, visits:
        The cohort tables, or a :class:`Cohort` as ``patients`` (``visits`` then ignored).
    trial:
        The trial-like definition (used when building the cohort from tables).

    Returns
    -------
    pandas.DataFrame
        One row per target with columns :data:`RESULT_COLUMNS`: ``simulated`` is the statistic
        (NaN when it cannot be computed, e.g. no patients of that genotype), ``deviation =
        simulated - value``, ``z = deviation / tolerance``, ``passed = |deviation| <= tolerance``
        (False for NaN), ``n_patients`` the number of patients in the target's subset.
    """
    cohort = patients if isinstance(patients, Cohort) else Cohort(patients, visits, trial=trial)
    if isinstance(targets, TargetSet):
        items = [*targets.targets, *targets.context]
    else:
        items = list(targets)
    rows = []
    for target in items:
        flt = target.effective_filter()
        simulated = STATISTICS[target.statistic](cohort, flt)
        deviation = simulated - target.value
        rows.append(
            {
                "id": target.id,
                "statistic": target.statistic,
                "population": target.population,
                "value": target.value,
                "tolerance": target.tolerance,
                "simulated": simulated,
                "deviation": deviation,
                "z": deviation / target.tolerance,
                "passed": bool(
                    np.isfinite(deviation) and abs(deviation) <= target.tolerance + 1e-12
                ),
                "source": target.source,
                "unit": target.unit,
                "ancestry": target.ancestry,
                "hard": target.hard,
                "evidence": target.evidence,
                "n_patients": int(cohort.subset(flt).sum()),
                "note": target.note,
                "role": "context" if isinstance(target, ContextEntry) else "target",
                "reason": getattr(target, "reason", ""),
            }
        )
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def calibration_summary(results: pd.DataFrame) -> dict[str, Any]:
    """Counts of passed hard / soft targets and the RMS z of the hard ones.

    ``calibrated`` is True when every hard target passed. Context entries (``role ==
    "context"``) are not targets and are not counted.
    """
    if "role" in results:
        results = results[results["role"].fillna("target") == "target"]
    hard = results["hard"].astype(bool) if "hard" in results else pd.Series(True, results.index)
    passed = results["passed"].astype(bool)
    z = pd.to_numeric(results["z"], errors="coerce")[hard]
    return {
        "n_hard": int(hard.sum()),
        "n_hard_passed": int((passed & hard).sum()),
        "n_soft": int((~hard).sum()),
        "n_soft_passed": int((passed & ~hard).sum()),
        "rms_z_hard": float(np.sqrt(np.mean(np.square(z))))
        if z.notna().all() and len(z)
        else math.nan,
        "calibrated": bool((passed | ~hard).all()),
    }


# -- documentation ------------------------------------------------------------------------------
def _fmt_number(x: float) -> str:
    return f"{x:g}"


def _filter_text(flt: Mapping[str, Any]) -> str:
    parts = []
    for key, value in flt.items():
        if isinstance(value, Mapping):
            inner = ", ".join(
                f"{k} {' or '.join(v) if isinstance(v, list | tuple) else v}"
                for k, v in value.items()
            )
            parts.append(f"{key}: {inner}")
        elif isinstance(value, list | tuple):
            parts.append(f"{key}: {' or '.join(map(str, value))}")
        else:
            parts.append(f"{key}: {value}")
    return f" ({', '.join(parts)})" if parts else ""


def _row(t: Target) -> str:
    if t.uncertainty is None:
        unc = "none → 10%"
    else:
        u = t.uncertainty
        unc = f"{_fmt_number(u.low)} to {_fmt_number(u.high)} ({u.kind})"
    kind = "hard" if t.hard else ("context" if isinstance(t, ContextEntry) else "soft")
    if t.evidence != "confirmed":
        kind += f", {t.evidence}"
    return (
        f"| `{t.id}` | `{t.statistic}`{_filter_text(t.filter)} | "
        f"{_fmt_number(t.value)} ± {_fmt_number(t.tolerance)} {t.unit} | {unc} | "
        f"{t.population} | {t.ancestry} | {kind} | [link]({t.source}) |"
    )


def targets_markdown(targets: TargetSet) -> str:
    """The "The targets" section of docs/calibration-targets.md, generated from the file.

    A test checks that the page contains exactly this text, so the page cannot drift from
    targets.yaml.
    """
    header = (
        "| id | statistic (filter) | value ± tolerance | source uncertainty | population "
        "| ancestry | kind | source |\n"
        "|----|--------------------|-------------------|--------------------|------------"
        "|----------|------|--------|"
    )
    n_hard = sum(t.hard for t in targets.targets)
    lines = [
        "## The targets",
        "",
        f"{len(targets.targets)} targets, {n_hard} hard. Values are as published (times "
        "converted to months: ×12); slopes are negative for decline.",
        "",
        header,
        *(_row(t) for t in targets.targets),
        "",
        "### Why each tolerance",
        "",
        *(f"- **`{t.id}`** — {' '.join(t.note.split())}" for t in targets.targets),
    ]
    if targets.context:
        lines += [
            "",
            "## Published numbers shown but not fitted (context)",
            "",
            f"{len(targets.context)} entries. Each is evaluated and shown in the calibration "
            "report beside the targets, but is not fitted and does not count towards "
            '"calibrated", for the reason given.',
            "",
            header,
            *(_row(t) for t in targets.context),
            "",
            *(
                f"- **`{t.id}`** — {' '.join(t.note.split())} *Why not a target:* "
                f"{' '.join(t.reason.split())}"
                for t in targets.context
            ),
        ]
    return "\n".join(lines) + "\n"
