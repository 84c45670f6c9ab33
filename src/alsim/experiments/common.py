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
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Strict-JSON-ready dict (NaN and infinities become null)."""
        return {
            "experiment": self.name,
            "title": self.title,
            "question": self.question,
            "seed": self.seed,
            "settings": clean(self.settings),
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
# The therapy catalogue (alsim.treatment.catalogue) is written by another helper; until it is
# in place the experiments define their therapies here as PathwayEffect factors, each with the
# mechanism it stands for. Magnitudes are illustrative (structural), not fitted to trials.


def tofersen_like(start, mask=None, *, start_from: str = "onset") -> PathwayEffect:
    """SOD1 antisense oligonucleotide (tofersen-like), acting in SOD1 carriers only.

    Lowering SOD1 synthesis cuts the mutant-protein input to misfolding by 70% (input factor
    0.3; VALOR's ~35% lower CSF SOD1 protein at 100 mg is a protein level, the synthesis cut
    is an assumption) and halves the feedback driving misfolding (less SOD1 substrate for
    templated aggregation and for oxidative/transport-driven misfolding; coupling factor 0.5).
    """
    return PathwayEffect(
        start_months=start,
        input_factor=(0.3, 1.0, 1.0, 1.0, 1.0),
        coupling_factor=(0.5, 1.0, 1.0, 1.0, 1.0),
        mask=mask,
        start_from=start_from,
    )


def single_pathway(j: int, start, factor: float = 0.5, mask=None) -> PathwayEffect:
    """A drug that halves the feedback driving one pathway of the vicious cycle."""
    coupling = [1.0] * 5
    coupling[j] = factor
    return PathwayEffect(start_months=start, coupling_factor=tuple(coupling), mask=mask)


def neuroprotectant(start, factor: float = 0.7, mask=None) -> PathwayEffect:
    """A downstream neuroprotectant: multiplies the neuron-death hazard (outside the loop)."""
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
