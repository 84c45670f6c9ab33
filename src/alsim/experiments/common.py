"""Shared pieces of the experiments: the result object, seeds, paired statistics, therapies.

Research and education only, not medical advice.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alsim import DISCLAIMER
from alsim.disease.mechanistic.engine import PathwayEffect
from alsim.errors import InputError
from alsim.rng import check_seed

#: Each PathwayEffect factor acts on (misfolding, mitochondrial, transport, inflammation,
#: excitotoxicity), the order of ``alsim.disease.mechanistic.schema.PATHWAYS``.
PATHWAY_LABELS = ("misfolding", "mitochondrial", "transport", "inflammation", "excitotoxicity")


@dataclass
class ExperimentResult:
    """What an experiment returns: tables, key numbers (JSON-ready) and figure data."""

    name: str
    title: str
    question: str
    seed: int
    settings: dict[str, Any]
    key_numbers: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    series: dict[str, Any] = field(default_factory=dict)  # arrays for the figures
    findings: list[str] = field(default_factory=list)
    therapies: list[dict[str, Any]] = field(default_factory=list)  # therapy_record / local_record
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Strict-JSON-ready dict (NaN and infinities become null)."""
        return {
            "experiment": self.name,
            "title": self.title,
            "question": self.question,
            "seed": self.seed,
            "settings": clean(self.settings),
            "therapies": clean(self.therapies),
            "key_numbers": clean(self.key_numbers),
            "tables": {k: clean(v.to_dict(orient="records")) for k, v in self.tables.items()},
            "findings": list(self.findings),
            "disclaimer": DISCLAIMER,
        }


def clean(value: Any) -> Any:
    """Recursively turn NumPy scalars into Python ones and non-finite floats into None."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        v = float(value)
        return round(v, 6) if math.isfinite(v) else None
    if value is None or isinstance(value, str):
        return value
    if pd.isna(value):
        return None
    return str(value)


def experiment_rng(seed: int, name: str) -> np.random.Generator:
    """The experiment's own stream (trial sampling, randomisation, noise), from the seed."""
    check_seed(seed)
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(zlib.crc32(name.encode()),))
    )


def check_positive_int(where: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InputError(where, f"must be an integer >= {low}, got {value!r}")
    return int(value)


def mean_se(x: np.ndarray) -> tuple[float, float]:
    """Mean and its Monte Carlo standard error (finite values only)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan
    se = float(np.std(x, ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
    return float(np.mean(x)), se


def prop_se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1.0 - p), 0.0) / n) if n > 0 else math.nan


def restricted_time(event_months: np.ndarray, horizon: float) -> np.ndarray:
    """Per-patient time alive (event-free) up to ``horizon`` (NaN event: beyond the horizon)."""
    return np.minimum(np.nan_to_num(np.asarray(event_months, float), nan=horizon), horizon)


def km_median(event_months: np.ndarray, horizon: float) -> float:
    """Median event time when everyone is followed to ``horizon`` (NaN: not reached)."""
    t = np.sort(np.nan_to_num(np.asarray(event_months, float), nan=np.inf))
    if t.size == 0:
        return math.nan
    m = t[(t.size - 1) // 2] if t.size % 2 else 0.5 * (t[t.size // 2 - 1] + t[t.size // 2])
    return float(m) if m <= horizon else math.nan


def fmt(est: float, se: float | None = None, digits: int = 2) -> str:
    """``est ± se`` for tables."""
    if est is None or not math.isfinite(est):
        return "n/a"
    if se is None or not math.isfinite(se):
        return f"{est:.{digits}f}"
    return f"{est:.{digits}f} ± {se:.{digits}f}"


# -- therapies -------------------------------------------------------------------------------
# Therapies with a catalogue entry (alsim.treatment.catalogue, params/therapies.yaml) are taken
# from it: their PathwayEffect is the entry's mechanistic action (Therapy.pathway_effect), and
# each result names the entry (therapy_record). Only deliberately hypothetical therapies are
# defined here or in the experiment modules: the single-pathway blockers and the downstream
# neuroprotectant of `combination`, the subgroup-restricted therapies of `heterogeneity`.
# Their magnitudes are illustrative (structural), not fitted to trials.

CATALOGUE_SOURCE = "alsim.treatment.catalogue (src/alsim/params/therapies.yaml)"


def catalogue_effect(
    name: str, start, mask=None, *, start_from: str = "onset", dose_mg: float | None = None
) -> PathwayEffect:
    """The catalogue therapy ``name``'s :class:`PathwayEffect` (its mechanistic action)."""
    from alsim.treatment.catalogue import get_therapy

    therapy = get_therapy(name)
    kwargs = {} if dose_mg is None else {"dose_mg": dose_mg}
    effect = therapy.pathway_effect(start, mask=mask, start_from=start_from, **kwargs)
    if effect is None:
        raise InputError(f"therapy {name}", "has no mechanistic (pathway) action")
    return effect


def tofersen(start, mask=None, *, start_from: str = "onset") -> PathwayEffect:
    """Catalogue ``tofersen`` at its reference dose (100 mg): misfolding input x0.63 and mutant
    SOD1 left at 0.63 (CSF SOD1 37% lower, VALOR phase 1/2), which in carriers also cuts the
    SOD1-dependent neuron-death hazard (disease-model.md §4). ``mask``: who is treated (the
    experiments give it to SOD1 carriers only, the catalogue's subgroup)."""
    return catalogue_effect("tofersen", start, mask, start_from=start_from)


def _factors(effect: PathwayEffect) -> str:
    parts = []
    for kind, values in (("input", effect.input_factor), ("feedback", effect.coupling_factor)):
        parts += [f"{PATHWAY_LABELS[j]} {kind} x{v:g}" for j, v in enumerate(values) if v != 1.0]
    if effect.hazard_factor != 1.0:
        parts.append(f"neuron-death hazard x{effect.hazard_factor:g}")
    return ", ".join(parts) or "none"


def therapy_record(
    name: str, effect: PathwayEffect, *, acts_in: str = "everyone", role: str = ""
) -> dict[str, Any]:
    """What the result says about a catalogue therapy: entry, factors, status, source."""
    from alsim.treatment.catalogue import get_therapy

    therapy = get_therapy(name)
    mech = therapy.mechanistic
    return {
        "therapy": therapy.label,
        "source": f"catalogue entry '{name}' in {CATALOGUE_SOURCE}",
        "factors": _factors(effect),
        "acts_in": acts_in,
        "status": mech.status if mech is not None else "",
        "evidence": mech.source if mech is not None else "",
        "role": role,
    }


def local_record(
    label: str, effect: PathwayEffect, *, module: str, acts_in: str = "everyone", role: str = ""
) -> dict[str, Any]:
    """The same for a hypothetical therapy defined in the experiment (no catalogue entry)."""
    return {
        "therapy": label,
        "source": f"hypothetical, defined in {module} (no catalogue entry)",
        "factors": _factors(effect),
        "acts_in": acts_in,
        "status": "assumed",
        "evidence": "illustrative magnitude, not fitted to a trial",
        "role": role,
    }


def single_pathway(j: int, start, factor: float = 0.5, mask=None) -> PathwayEffect:
    """Hypothetical: a drug that cuts the feedback driving one pathway of the vicious cycle
    (x ``factor``). No catalogue drug is a clean single-pathway blocker."""
    coupling = [1.0] * 5
    coupling[j] = factor
    return PathwayEffect(start_months=start, coupling_factor=tuple(coupling), mask=mask)


def neuroprotectant(start, factor: float = 0.7, mask=None) -> PathwayEffect:
    """Hypothetical downstream neuroprotectant: neuron-death hazard x ``factor`` (outside the
    loop)."""
    return PathwayEffect(start_months=start, hazard_factor=factor, mask=mask)


def combine(effects: list[PathwayEffect]) -> PathwayEffect:
    """One effect whose factors are the products of ``effects`` (same start and mask)."""
    first = effects[0]
    inp = np.prod([e.input_factor for e in effects], axis=0)
    cpl = np.prod([e.coupling_factor for e in effects], axis=0)
    haz = float(np.prod([e.hazard_factor for e in effects]))
    return PathwayEffect(
        start_months=first.start_months,
        input_factor=tuple(float(v) for v in inp),
        coupling_factor=tuple(float(v) for v in cpl),
        hazard_factor=haz,
        mask=first.mask,
        start_from=first.start_from,
        csf_sod1_factor=float(np.prod([getattr(e, "csf_sod1_factor", 1.0) for e in effects])),
    )


def start_at(months: np.ndarray) -> np.ndarray:
    """Per-patient onset-relative start from milestone times (NaN: never treated)."""
    months = np.asarray(months, dtype=float)
    return np.where(np.isfinite(months), np.ceil(months), np.nan)


# -- NfL ----------------------------------------------------------------------------------------
#: One-sided 95th percentile of the standard normal.
Z95 = 1.6448536269514722


def nfl_healthy_p95(age_years: np.ndarray, params) -> np.ndarray:
    """Healthy 95th percentile of measured blood NfL (pg/mL) at ``age_years``.

    The healthy level is log-normal, ``log C = l60 + beta (age - 60) + s_C z`` (disease-model.md
    §6), and a measurement adds log-normal noise with CV ``measurement_cv``; the percentile
    combines both spreads.
    """
    nfl = params.nfl
    sd = math.sqrt(nfl.control_log_sd**2 + math.log1p(nfl.measurement_cv**2))
    return np.exp(
        nfl.control_log_median_at_60
        + nfl.control_age_slope_per_year * (np.asarray(age_years, float) - 60.0)
        + Z95 * sd
    )


def nfl_trigger_months(world, params, *, confirmations: int = 2) -> np.ndarray:
    """Onset-relative month at which measured blood NfL is confirmed above the healthy P95.

    Monthly measurements; the rule fires at the ``confirmations``-th consecutive measurement
    above the age-specific healthy 95th percentile (the month the rise is confirmed, so it
    uses no future data). NaN if it never fires within the observed window. Computed on the
    untreated world: treated and untreated worlds are identical before a therapy starts.
    """
    t = world.t_months
    age = world.age_onset_years[:, None] + t[None, :] / 12.0
    above = world.obs.nfl_pg_ml > nfl_healthy_p95(age, params)
    above &= world.obs.alive | (t[None, :] < 0)
    run = np.zeros(above.shape[0], dtype=np.int64)
    fired = np.full(above.shape[0], np.nan)
    for k in range(t.size):  # over months (vectorised over patients)
        run = np.where(above[:, k], run + 1, 0)
        new = np.isnan(fired) & (run >= confirmations)
        fired[new] = t[k]
    return fired
