r"""Who the virtual patients are, and when their ALS starts (layers 1-2 of the mechanistic model).

Every patient gets a genotype, an age at symptom onset, a sex, an SOD1 variant class (A4V or
other, for SOD1 carriers), an onset region, an FTD flag and a premorbid body weight. All numbers
live in ``alsim/params/population.toml`` with their sources; the model is described in
``docs/population.md``. Research and education only, not medical advice.

Sampling model
--------------
For ancestry :math:`c` (``"european"`` or ``"east_asian"``), each patient is drawn as follows.

1. **Genotype** :math:`G \sim \mathrm{Categorical}(\pi_c)` over sporadic / SOD1 / C9orf72 /
   TARDBP / FUS, the frequencies *among ALS patients* (Chiò et al., Neurology 2018;91:e635 for
   Europe; Chen et al., J Med Genet 2022;59:840 for China). ``genotype=...`` forces one.

2. **Onset age** from a multistep (Armitage-Doll) process. A genotype that supplies some of the
   rate-limiting steps leaves :math:`k_g` steps, and the incidence among the susceptible is

   .. math::

       I_g(a) = a^{k_g - 1} D_g(a), \qquad D_g(a) = \frac{1}{1 + (a/\theta_g)^{m_g}},

   with :math:`k = 6, 2, 3, 4, 2` for sporadic, SOD1, C9orf72, TARDBP, FUS (Al-Chalabi et al.,
   Lancet Neurol 2014;13:1108; Chiò et al. 2018; FUS assumed). :math:`D_g` is a
   susceptible-depletion (frailty) factor that makes incidence fall after its peak: with a
   gamma-distributed frailty it is exactly this log-logistic form with :math:`m = k`; here
   :math:`m` is free. The slope of :math:`\log I` on :math:`\log a` is

   .. math::

       \frac{d \log I_g}{d \log a} = (k_g - 1) - m_g \frac{(a/\theta_g)^{m_g}}
       {1 + (a/\theta_g)^{m_g}} \;\to\; k_g - 1 \quad (a \ll \theta_g).

   The ages of cases have density :math:`f_g(a) \propto I_g(a) P_c(a)` on 15-100 y, where the
   population at risk :math:`P_c` is a stationary population built from Gompertz-Makeham
   survivorship :math:`l(a) = \exp(-A a - (B/c)(e^{c a} - 1))` for each sex,
   :math:`P_c(a) = (r\, l_\mathrm{m}(a) + l_\mathrm{f}(a)) / (1 + r)`, :math:`r = 1.05`.
   Ages are drawn by inverse CDF on a 0.02-year grid. :math:`\theta_g, m_g` are calibrated per
   ancestry so that the onset-age mean and SD match published values (:func:`calibrate_onset`).

3. **Sex**, given age and genotype:
   :math:`\operatorname{logit} P(\mathrm{male}) = \alpha_g + \beta (a - 60)` with
   :math:`\beta < 0` (the male excess falls with age; SEALS register) and :math:`\alpha_g` solved
   so that each genotype's male:female ratio matches its target.

4. **SOD1 A4V**: a SOD1 carrier has A4V with probability :math:`\phi_c`.

5. **Onset region** (bulbar, upper limb, trunk, lower limb), a multinomial logit

   .. math::

       P(r \mid a, s, g) \propto \exp(\gamma_{g r} + \delta_r [s = \mathrm{f}]
       + \lambda_r (a - 60)),

   where only bulbar has an age effect (older patients more often bulbar) and bulbar and trunk
   have a sex effect (women more often bulbar, men more often respiratory onset; PARALS,
   Chiò et al. JNNP 2011;82:740). :math:`\gamma_g` is solved so that each genotype's region
   shares match the table for its ancestry.

6. **FTD** (ALS-FTD at presentation) with probability :math:`p_g` (sporadic 12%, C9orf72 50%;
   Byrne et al., Lancet Neurol 2012;11:232; SOD1, TARDBP and FUS rare, assumed 1-5%).

7. **Premorbid weight** log-normal with the mean and SD of the patient's sex and ancestry.

Randomness
----------
All draws come from the ``"population"`` stream of a :class:`alsim.rng.BlockStreams`, in one
call ``draw("population", "random", size_per_patient=(7,))``: column 0 genotype, 1 onset age,
2 sex, 3 A4V, 4 region, 5 FTD, 6 weight. The same patients therefore get the same values
whatever the chunking, and forcing a genotype changes nothing but the genotype-dependent values.
New attributes must be drawn by a *later* call so that existing ones keep their numbers.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)
from scipy.optimize import brentq, least_squares
from scipy.special import expit, ndtri

from alsim.disease.mechanistic.schema import (
    ANCESTRIES,
    BULBAR,
    GENOTYPES,
    REGIONS,
    SEXES,
    SOD1,
    TRUNK,
)
from alsim.errors import InputError
from alsim.rng import BlockStreams

__all__ = [
    "STATUSES",
    "Penetrance",
    "Population",
    "PopulationParams",
    "calibrate_onset",
    "carrier_penetrance",
    "format_depletion_toml",
    "incidence_log_log_slope",
    "life_expectancy",
    "load_population_params",
    "onset_age_density",
    "onset_age_moments",
    "rising_limb",
    "sample_population",
]

#: Vocabulary of the ``status`` key of every parameter table.
STATUSES = ("confirmed", "partial", "UNCONFIRMED", "derived", "assumed", "calibrated")

#: Columns of the uniform draw matrix (see module docstring).
_U_GENOTYPE, _U_AGE, _U_SEX, _U_A4V, _U_REGION, _U_FTD, _U_WEIGHT = range(7)
_N_UNIFORMS = 7

_PARAMS_FILE = "params/population.toml"

Ancestry = Literal["european", "east_asian"]
Status = Literal["confirmed", "partial", "UNCONFIRMED", "derived", "assumed", "calibrated"]

# --------------------------------------------------------------------------------------------
# Parameter models
# --------------------------------------------------------------------------------------------


def _sources_not_empty(value: str | list[str]) -> str | list[str]:
    items = [value] if isinstance(value, str) else value
    if not items or any(not item.strip() for item in items):
        raise ValueError("must name at least one source (URL/DOI or derivation)")
    return value


Source = Annotated[str | list[str], AfterValidator(_sources_not_empty)]
Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
Real = Annotated[float, Field(allow_inf_nan=False)]
OddsRatio = Annotated[float, Field(ge=0.01, le=100.0)]


def _all_ancestries(table: dict[str, Any]) -> dict[str, Any]:
    missing = [a for a in ANCESTRIES if a not in table]
    if missing:
        raise ValueError(f"missing ancestry {', '.join(repr(a) for a in missing)}")
    return table


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Sourced(_Frozen):
    source: Source
    status: Status = "confirmed"
    note: str = ""
    derivation: str = ""


class _ByGenotype(_Sourced):
    """One number per genotype, in :data:`GENOTYPES` order."""

    sporadic: NonNegative
    SOD1: NonNegative
    C9orf72: NonNegative
    TARDBP: NonNegative
    FUS: NonNegative

    def array(self) -> np.ndarray:
        return np.array([getattr(self, g) for g in GENOTYPES], dtype=float)


class GenotypeFrequencies(_ByGenotype):
    sporadic: Probability
    SOD1: Probability
    C9orf72: Probability
    TARDBP: Probability
    FUS: Probability

    @model_validator(mode="after")
    def _sum_to_one(self) -> GenotypeFrequencies:
        total = float(self.array().sum())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"genotype frequencies must sum to 1, got {total:.6g}")
        return self


class GenotypeProbabilities(_ByGenotype):
    sporadic: Probability
    SOD1: Probability
    C9orf72: Probability
    TARDBP: Probability
    FUS: Probability


class GenotypeRatios(_ByGenotype):
    sporadic: Positive
    SOD1: Positive
    C9orf72: Positive
    TARDBP: Positive
    FUS: Positive


class GenotypeSteps(_Sourced):
    sporadic: Annotated[int, Field(ge=1, le=20)]
    SOD1: Annotated[int, Field(ge=1, le=20)]
    C9orf72: Annotated[int, Field(ge=1, le=20)]
    TARDBP: Annotated[int, Field(ge=1, le=20)]
    FUS: Annotated[int, Field(ge=1, le=20)]

    def array(self) -> np.ndarray:
        return np.array([getattr(self, g) for g in GENOTYPES], dtype=float)


class ScalarProbability(_Sourced):
    value: Probability


class ScalarPositive(_Sourced):
    value: Positive


class Penetrance(_Sourced):
    """Population-level maximum lifetime penetrance of one gene, with its 95% interval."""

    estimate: Probability
    low: Probability
    high: Probability
    carrier_frequency: Probability

    @model_validator(mode="after")
    def _ordered(self) -> Penetrance:
        if not self.low <= self.estimate <= self.high:
            raise ValueError(
                f"need low <= estimate <= high, got {self.low}, {self.estimate}, {self.high}"
            )
        return self


class CarrierPenetrance(_Frozen):
    SOD1: Penetrance
    C9orf72: Penetrance
    TARDBP: Penetrance
    FUS: Penetrance


class SexParams(_Sourced):
    age_log_odds_per_year: Annotated[float, Field(ge=-0.5, le=0.5)]
    reference_age: Positive
    male_to_female: Annotated[dict[Ancestry, GenotypeRatios], AfterValidator(_all_ancestries)]


class RegionShares(_Sourced):
    bulbar: Probability
    upper_limb: Probability
    trunk: Probability
    lower_limb: Probability

    def array(self) -> np.ndarray:
        return np.array([getattr(self, r) for r in REGIONS], dtype=float)

    @model_validator(mode="after")
    def _sum_to_one(self) -> RegionShares:
        total = float(self.array().sum())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"onset-region shares must sum to 1, got {total:.6g}")
        return self


class RegionSharesByGenotype(_Frozen):
    sporadic: RegionShares
    SOD1: RegionShares
    C9orf72: RegionShares
    TARDBP: RegionShares
    FUS: RegionShares

    def array(self) -> np.ndarray:
        return np.stack([getattr(self, g).array() for g in GENOTYPES])


class RegionParams(_Sourced):
    reference_age: Positive
    bulbar_female_odds_ratio: OddsRatio
    bulbar_age_odds_ratio_per_decade: OddsRatio
    trunk_female_odds_ratio: OddsRatio
    shares: Annotated[dict[Ancestry, RegionSharesByGenotype], AfterValidator(_all_ancestries)]

    def female_log_odds(self) -> np.ndarray:
        out = np.zeros(len(REGIONS))
        out[BULBAR] = math.log(self.bulbar_female_odds_ratio)
        out[TRUNK] = math.log(self.trunk_female_odds_ratio)
        return out

    def age_log_odds(self) -> np.ndarray:
        out = np.zeros(len(REGIONS))
        out[BULBAR] = math.log(self.bulbar_age_odds_ratio_per_decade) / 10.0
        return out


class WeightDistribution(_Sourced):
    mean_kg: Annotated[float, Field(gt=20.0, lt=250.0)]
    sd_kg: Annotated[float, Field(gt=0.0, lt=100.0)]


class WeightBySex(_Frozen):
    male: WeightDistribution
    female: WeightDistribution


class LifeTable(_Sourced):
    """Gompertz-Makeham survivorship ``l(a) = exp(-A a - (B/c)(exp(c a) - 1))``."""

    makeham_a: NonNegative
    gompertz_b: Positive
    gompertz_c: Annotated[float, Field(gt=0.0, lt=1.0)]
    life_expectancy_target: Positive | None = None

    def survivorship(self, ages: np.ndarray) -> np.ndarray:
        a, b, c = self.makeham_a, self.gompertz_b, self.gompertz_c
        return np.exp(-a * ages - (b / c) * np.expm1(c * ages))


class LifeTableBySex(_Frozen):
    male: LifeTable
    female: LifeTable


class MeanSd(_Sourced):
    mean: Annotated[float, Field(gt=0.0, lt=120.0)]
    sd: Annotated[float, Field(gt=0.0, lt=60.0)]


class OnsetTargets(_Frozen):
    all: MeanSd
    SOD1: MeanSd
    C9orf72: MeanSd
    TARDBP: MeanSd
    FUS: MeanSd


class Depletion(_Sourced):
    theta: Annotated[float, Field(gt=0.0, lt=1000.0)]
    m: Annotated[float, Field(gt=0.0, le=200.0)]
    achieved_mean: NonNegative = 0.0
    achieved_sd: NonNegative = 0.0


class DepletionByGenotype(_Frozen):
    sporadic: Depletion
    SOD1: Depletion
    C9orf72: Depletion
    TARDBP: Depletion
    FUS: Depletion


class CalibrationSettings(_Sourced):
    mean_tolerance: Positive
    sd_tolerance: Positive
    m_min: Positive
    m_max: Positive

    @model_validator(mode="after")
    def _bounds(self) -> CalibrationSettings:
        if self.m_min >= self.m_max:
            raise ValueError(f"need m_min < m_max, got {self.m_min} and {self.m_max}")
        return self


class OnsetParams(_Frozen):
    age_min: Annotated[float, Field(ge=0.0, lt=120.0)]
    age_max: Annotated[float, Field(gt=0.0, le=120.0)]
    grid_step_years: Annotated[float, Field(gt=0.0, le=1.0)]
    steps: GenotypeSteps
    birth_sex_ratio: ScalarPositive
    life_table: Annotated[dict[Ancestry, LifeTableBySex], AfterValidator(_all_ancestries)]
    calibration: CalibrationSettings
    target: Annotated[dict[Ancestry, OnsetTargets], AfterValidator(_all_ancestries)]
    depletion: Annotated[dict[Ancestry, DepletionByGenotype], AfterValidator(_all_ancestries)]

    @model_validator(mode="after")
    def _age_range(self) -> OnsetParams:
        if self.age_max - self.age_min < 10 * self.grid_step_years:
            raise ValueError(f"need age_min < age_max, got {self.age_min} and {self.age_max}")
        return self


class Meta(_Frozen):
    model: str
    version: int
    population_scope: str = ""


class PopulationParams(_Frozen):
    """Validated contents of ``population.toml`` (frozen).

    Derived tables (onset-age CDFs, sex and region intercepts) are computed on first use and
    cached on the instance.
    """

    meta: Meta
    genotype_frequency: Annotated[
        dict[Ancestry, GenotypeFrequencies], AfterValidator(_all_ancestries)
    ]
    sod1_a4v_fraction: Annotated[dict[Ancestry, ScalarProbability], AfterValidator(_all_ancestries)]
    penetrance: CarrierPenetrance
    sex: SexParams
    ftd: Annotated[dict[Ancestry, GenotypeProbabilities], AfterValidator(_all_ancestries)]
    weight: Annotated[dict[Ancestry, WeightBySex], AfterValidator(_all_ancestries)]
    onset_region: RegionParams
    onset: OnsetParams

    _cache: dict[str, Any] = PrivateAttr(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _where(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc if part != "[key]") or "(top level)"


def _validation_to_input_error(err: ValidationError, label: str) -> InputError:
    first = err.errors(include_url=False)[0]
    loc, kind, msg = first["loc"], first["type"], first["msg"]
    where = _where(loc)
    if loc and loc[-1] == "[key]":
        problem = f"unknown key; expected one of {', '.join(ANCESTRIES)}"
    elif kind == "missing":
        problem = "required key is missing"
    elif kind == "extra_forbidden":
        problem = "unknown key"
    else:
        problem = msg.removeprefix("Value error, ")
        if kind not in ("value_error", "assertion_error") and "input" in first:
            problem += f", got {first['input']!r}"
    more = len(err.errors()) - 1
    suffix = f" ({label}" + (f"; {more} more problem{'s' * (more > 1)})" if more else ")")
    return InputError(where, problem + suffix)


def _parse(raw: dict[str, Any], label: str) -> PopulationParams:
    try:
        return PopulationParams.model_validate(raw)
    except ValidationError as err:
        raise _validation_to_input_error(err, label) from None


@functools.cache
def _default_params() -> PopulationParams:
    text = resources.files("alsim").joinpath(_PARAMS_FILE).read_text(encoding="utf-8")
    return _parse(tomllib.loads(text), "alsim/" + _PARAMS_FILE)


def load_population_params(path: str | Path | None = None) -> PopulationParams:
    """Read and validate a population parameter file.

    Parameters
    ----------
    path:
        A TOML file laid out like ``alsim/params/population.toml``; ``None`` (default) reads the
        packaged file (cached: every call returns the same object).

    Raises
    ------
    InputError
        Naming the key path of the first bad value, e.g.
        ``genotype_frequency.european: genotype frequencies must sum to 1, got 1.05``.
    """
    if path is None:
        return _default_params()
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(str(path), f"cannot read parameter file ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), f"not valid TOML ({exc})") from None
    return _parse(raw, path.name)


def _params_or_default(params: PopulationParams | None) -> PopulationParams:
    if params is None:
        return load_population_params()
    if not isinstance(params, PopulationParams):
        raise InputError("params", f"must be a PopulationParams, got {type(params).__name__}")
    return params


def _check_ancestry(ancestry: Any) -> str:
    if isinstance(ancestry, str) and ancestry in ANCESTRIES:
        return ancestry
    raise InputError("ancestry", f"must be one of {', '.join(ANCESTRIES)}, got {ancestry!r}")


def _check_genotype(genotype: Any, *, allow_all: bool = False) -> int | None:
    """Genotype name -> code; ``"all"`` -> None when ``allow_all``."""
    if allow_all and genotype == "all":
        return None
    if isinstance(genotype, str) and genotype in GENOTYPES:
        return GENOTYPES.index(genotype)
    allowed = (*GENOTYPES, "all") if allow_all else GENOTYPES
    raise InputError("genotype", f"must be one of {', '.join(allowed)}, got {genotype!r}")


# --------------------------------------------------------------------------------------------
# Penetrance
# --------------------------------------------------------------------------------------------


def carrier_penetrance(genotype: str, params: PopulationParams | None = None) -> Penetrance:
    """Population-level maximum lifetime penetrance of a gene (documentation only).

    Returns the gnomAD-based estimate with its 95% interval and the observed carrier frequency
    (J Med Genet 2024;61:294). It is not used by the sampler: the sampler draws *patients*, whose
    genotype frequencies are given directly. ``"sporadic"`` has no penetrance.
    """
    params = _params_or_default(params)
    code = _check_genotype(genotype)
    if code == 0:
        raise InputError("genotype", "penetrance is defined for SOD1, C9orf72, TARDBP, FUS only")
    return getattr(params.penetrance, GENOTYPES[code])


# --------------------------------------------------------------------------------------------
# Onset-age model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    ages: np.ndarray
    log_ages: np.ndarray
    log_risk: np.ndarray  # log P(a), population at risk (unnormalised)


def _grid(params: PopulationParams, ancestry: str) -> _Grid:
    key = ("grid", ancestry)
    if key not in params._cache:
        onset = params.onset
        n = round((onset.age_max - onset.age_min) / onset.grid_step_years)
        ages = np.linspace(onset.age_min, onset.age_max, n + 1)
        tables, r = onset.life_table[ancestry], onset.birth_sex_ratio.value
        risk = (r * tables.male.survivorship(ages) + tables.female.survivorship(ages)) / (1 + r)
        params._cache[key] = _Grid(ages, np.log(ages), np.log(np.maximum(risk, 1e-300)))
    return params._cache[key]


def _log_incidence(log_ages: np.ndarray, k: float, theta: float, m: float) -> np.ndarray:
    """log I(a) = (k-1) log a - log(1 + (a/theta)^m), computed without overflow."""
    return (k - 1.0) * log_ages - np.logaddexp(0.0, m * (log_ages - math.log(theta)))


def _density(grid: _Grid, k: float, theta: float, m: float) -> np.ndarray:
    """Onset-age density of cases on the grid (integrates to 1 by the trapezoid rule)."""
    log_f = _log_incidence(grid.log_ages, k, theta, m) + grid.log_risk
    f = np.exp(log_f - log_f.max())
    return f / np.trapezoid(f, grid.ages)


def _moments(ages: np.ndarray, density: np.ndarray) -> tuple[float, float]:
    mean = float(np.trapezoid(ages * density, ages))
    var = float(np.trapezoid((ages - mean) ** 2 * density, ages))
    return mean, math.sqrt(var)


def _genotype_density(params: PopulationParams, ancestry: str, code: int) -> np.ndarray:
    key = ("density", ancestry, code)
    if key not in params._cache:
        dep = getattr(params.onset.depletion[ancestry], GENOTYPES[code])
        k = float(params.onset.steps.array()[code])
        params._cache[key] = _density(_grid(params, ancestry), k, dep.theta, dep.m)
    return params._cache[key]


def _cdf(params: PopulationParams, ancestry: str, code: int) -> np.ndarray:
    key = ("cdf", ancestry, code)
    if key not in params._cache:
        ages = _grid(params, ancestry).ages
        f = _genotype_density(params, ancestry, code)
        cdf = np.concatenate(([0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(ages))))
        cdf /= cdf[-1]
        params._cache[key] = cdf
    return params._cache[key]


def _mixture_density(params: PopulationParams, ancestry: str) -> np.ndarray:
    weights = params.genotype_frequency[ancestry].array()
    return sum(w * _genotype_density(params, ancestry, g) for g, w in enumerate(weights))


def onset_age_density(
    genotype: str, ancestry: str = "european", params: PopulationParams | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Onset-age density of cases on the sampling grid.

    Returns ``(ages, density)`` with :math:`f_g(a) \propto a^{k_g-1} D_g(a) P(a)` normalised to
    integrate to 1; ``genotype="all"`` gives the genotype mixture of the ancestry.
    """
    params = _params_or_default(params)
    ancestry = _check_ancestry(ancestry)
    code = _check_genotype(genotype, allow_all=True)
    ages = _grid(params, ancestry).ages
    if code is None:
        return ages.copy(), _mixture_density(params, ancestry)
    return ages.copy(), _genotype_density(params, ancestry, code).copy()


def onset_age_moments(
    genotype: str, ancestry: str = "european", params: PopulationParams | None = None
) -> tuple[float, float]:
    """Exact (grid) mean and SD of the onset age of cases; ``genotype="all"`` for the mixture."""
    return _moments(*onset_age_density(genotype, ancestry, params))


def incidence_log_log_slope(
    genotype: str,
    ancestry: str = "european",
    ages: tuple[float, float] = (40, 70),
    params: PopulationParams | None = None,
) -> float:
    r"""Least-squares slope of :math:`\log I(a)` on :math:`\log a` over ``ages``.

    For one genotype, :math:`I_g(a) = a^{k_g-1} D_g(a)` (incidence among the susceptible; it
    does not depend on the population at risk). For ``genotype="all"`` it is the incidence of
    all ALS in the population, :math:`\sum_g \pi_g f_g(a) / P(a)`, which is what registers
    regress (Chiò et al. 2018: 4.65, 95% CI 4.37-4.95). The fit uses 200 ages evenly spaced in
    :math:`\log a`; the slope approaches :math:`k_g - 1` where :math:`a \ll \theta_g`.
    """
    params = _params_or_default(params)
    ancestry = _check_ancestry(ancestry)
    code = _check_genotype(genotype, allow_all=True)
    lo, hi = (float(x) for x in ages)
    onset = params.onset
    if not onset.age_min <= lo < hi <= onset.age_max:
        raise InputError(
            "ages", f"must be (low, high) with {onset.age_min} <= low < high <= {onset.age_max}"
        )
    log_a = np.linspace(math.log(lo), math.log(hi), 200)
    if code is None:
        grid = _grid(params, ancestry)
        log_f = np.log(np.interp(log_a, grid.log_ages, _mixture_density(params, ancestry)))
        log_i = log_f - np.interp(log_a, grid.log_ages, grid.log_risk)
    else:
        dep = getattr(onset.depletion[ancestry], GENOTYPES[code])
        log_i = _log_incidence(log_a, onset.steps.array()[code], dep.theta, dep.m)
    return float(np.polyfit(log_a, log_i, 1)[0])


def rising_limb(
    genotype: str,
    ancestry: str = "european",
    params: PopulationParams | None = None,
    *,
    depletion_floor: float = 0.8,
    width: float = 30.0,
) -> tuple[float, float]:
    r"""A log-log fitting window on the rising limb of a genotype's incidence.

    The window ends where the depletion factor falls to ``depletion_floor``
    (:math:`a_\mathrm{hi} = \theta (1/D - 1)^{1/m}`) and starts ``width`` years earlier (not below
    ``age_min``). For European sporadic ALS it is about 38-68 y, close to the 40-70 y rising limb
    of the registers; carriers' rising limbs end earlier.
    """
    params = _params_or_default(params)
    ancestry = _check_ancestry(ancestry)
    code = _check_genotype(genotype)
    if not 0.0 < depletion_floor < 1.0:
        raise InputError("depletion_floor", f"must be in (0, 1), got {depletion_floor!r}")
    dep = getattr(params.onset.depletion[ancestry], GENOTYPES[code])
    hi = dep.theta * (1.0 / depletion_floor - 1.0) ** (1.0 / dep.m)
    hi = min(hi, params.onset.age_max)
    lo = max(params.onset.age_min, hi - width)
    return float(lo), float(hi)


def life_expectancy(ancestry: str, sex: str, params: PopulationParams | None = None) -> float:
    """Life expectancy at birth implied by a Gompertz-Makeham table (integral of ``l(a)``)."""
    params = _params_or_default(params)
    ancestry = _check_ancestry(ancestry)
    if sex not in SEXES:
        raise InputError("sex", f"must be one of {', '.join(SEXES)}, got {sex!r}")
    ages = np.linspace(0.0, 130.0, 13001)
    table = getattr(params.onset.life_table[ancestry], sex)
    return float(np.trapezoid(table.survivorship(ages), ages))


# --------------------------------------------------------------------------------------------
# Calibration of the depletion parameters
# --------------------------------------------------------------------------------------------


def _fit_depletion(
    grid: _Grid, k: float, mean: float, sd: float, settings: CalibrationSettings
) -> tuple[float, float, float, float]:
    """theta, m minimising the weighted squared misfit of mean and SD; returns moments too."""

    def residuals(x: np.ndarray) -> list[float]:
        theta, m = math.exp(x[0]), math.exp(x[1])
        got_mean, got_sd = _moments(grid.ages, _density(grid, k, theta, m))
        return [(got_mean - mean) / settings.mean_tolerance, (got_sd - sd) / settings.sd_tolerance]

    lower = [math.log(5.0), math.log(settings.m_min)]
    upper = [math.log(500.0), math.log(settings.m_max)]
    best = None
    for theta0 in (mean + 0.5 * sd, mean + 1.5 * sd):
        for m0 in (4.0, 12.0):
            x0 = np.clip([math.log(theta0), math.log(m0)], lower, upper)
            fit = least_squares(residuals, x0, bounds=(lower, upper), x_scale=[0.1, 0.5])
            if best is None or fit.cost < best.cost:
                best = fit
    theta, m = math.exp(best.x[0]), math.exp(best.x[1])
    got_mean, got_sd = _moments(grid.ages, _density(grid, k, theta, m))
    return theta, m, got_mean, got_sd


def calibrate_onset(
    params: PopulationParams | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    r"""Fit :math:`\theta_g, m_g` for every ancestry and genotype to the onset-age targets.

    Carriers are fitted to their own targets. The sporadic targets are derived so that the
    genotype mixture :math:`\sum_g \pi_g f_g` has the ``all`` mean and SD of the ancestry:

    .. math::

        \mu_s = \frac{\mu - \sum_c \pi_c \mu_c}{\pi_s}, \qquad
        \sigma_s^2 = \frac{\sigma^2 + \mu^2 - \sum_c \pi_c (\sigma_c^2 + \mu_c^2)}{\pi_s}
        - \mu_s^2 ,

    using the carriers' *achieved* moments. Where a target SD lies below what
    :math:`a^{k-1} D(a) P(a)` can produce for the target mean (few steps spread onsets widely),
    the fit keeps the mean and returns the smallest SD reachable with :math:`m \le m_{max}`.

    Returns
    -------
    dict
        ``{ancestry: {genotype: {"theta", "m", "mean", "sd", "target_mean", "target_sd"}}}``.
        Paste it into the parameter file with :func:`format_depletion_toml`.
    """
    params = _params_or_default(params)
    settings = params.onset.calibration
    steps = params.onset.steps.array()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for ancestry in ANCESTRIES:
        grid = _grid(params, ancestry)
        targets = params.onset.target[ancestry]
        freq = params.genotype_frequency[ancestry].array()
        results: dict[str, dict[str, float]] = {}
        sum_mean, sum_m2 = 0.0, 0.0
        for code in range(1, len(GENOTYPES)):
            name = GENOTYPES[code]
            target = getattr(targets, name)
            theta, m, mean, sd = _fit_depletion(grid, steps[code], target.mean, target.sd, settings)
            results[name] = {
                "theta": theta,
                "m": m,
                "mean": mean,
                "sd": sd,
                "target_mean": target.mean,
                "target_sd": target.sd,
            }
            sum_mean += freq[code] * mean
            sum_m2 += freq[code] * (sd**2 + mean**2)
        mean_s = float((targets.all.mean - sum_mean) / freq[0])
        m2_s = float((targets.all.sd**2 + targets.all.mean**2 - sum_m2) / freq[0])
        if m2_s - mean_s**2 <= 0:
            raise InputError(
                f"onset.target.{ancestry}.all",
                "the carriers' onset ages are too spread for this SD: no sporadic SD fits",
            )
        sd_s = math.sqrt(m2_s - mean_s**2)
        theta, m, mean, sd = _fit_depletion(grid, steps[0], mean_s, sd_s, settings)
        results = {
            "sporadic": {
                "theta": theta,
                "m": m,
                "mean": mean,
                "sd": sd,
                "target_mean": mean_s,
                "target_sd": sd_s,
            },
            **results,
        }
        out[ancestry] = results
    return out


def format_depletion_toml(calibration: dict[str, dict[str, dict[str, float]]]) -> str:
    """The ``[onset.depletion.*]`` tables of the parameter file for a :func:`calibrate_onset` result."""
    lines = []
    for ancestry, by_genotype in calibration.items():
        for genotype, r in by_genotype.items():
            lines += [
                f"[onset.depletion.{ancestry}.{genotype}]",
                f"theta = {r['theta']:.4f}",
                f"m = {r['m']:.4f}",
                f"achieved_mean = {r['mean']:.3f}",
                f"achieved_sd = {r['sd']:.3f}",
                'status = "calibrated"',
                f'source = "calibrate_onset() to mean {r["target_mean"]:.2f}, SD {r["target_sd"]:.2f}'
                + (" (derived sporadic target)" if genotype == "sporadic" else "")
                + '"',
                "",
            ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Sex and region intercepts (solved on first use)
# --------------------------------------------------------------------------------------------


def _male_probability(alpha: np.ndarray | float, beta: float, ref: float, ages: np.ndarray):
    return expit(alpha + beta * (ages - ref))


def _sex_intercepts(params: PopulationParams, ancestry: str) -> np.ndarray:
    """alpha_g such that each genotype's simulated male:female ratio equals its target."""
    key = ("alpha", ancestry)
    if key not in params._cache:
        sex = params.sex
        ages = _grid(params, ancestry).ages
        ratios = sex.male_to_female[ancestry].array()
        alphas = np.empty(len(GENOTYPES))
        for code in range(len(GENOTYPES)):
            f = _genotype_density(params, ancestry, code)
            share = ratios[code] / (1.0 + ratios[code])

            def gap(alpha: float, f: np.ndarray = f, share: float = share) -> float:
                p = _male_probability(alpha, sex.age_log_odds_per_year, sex.reference_age, ages)
                return float(np.trapezoid(p * f, ages)) - share

            alphas[code] = brentq(gap, -30.0, 30.0, xtol=1e-12)
        params._cache[key] = alphas
    return params._cache[key]


def _region_weights(
    intercepts: np.ndarray, female_effect: np.ndarray, age_effect: np.ndarray, female, centred_age
) -> np.ndarray:
    """Unnormalised P(region) rows, exp(eta), for each patient (or grid cell).

    ``intercepts`` has one row per patient (or a single row); -inf means a share of 0. Only the
    regions with a non-zero sex or age effect get a per-patient factor.
    """
    female = np.asarray(female, dtype=float)
    centred_age = np.asarray(centred_age, dtype=float)
    w = np.exp(np.broadcast_to(intercepts, (*female.shape, intercepts.shape[-1])))
    for r in np.flatnonzero((female_effect != 0) | (age_effect != 0)):
        w[..., r] *= np.exp(female_effect[r] * female + age_effect[r] * centred_age)
    return w


def _region_intercepts(params: PopulationParams, ancestry: str) -> np.ndarray:
    """gamma_g (genotype x region) reproducing the target shares over the age/sex mix."""
    key = ("gamma", ancestry)
    if key not in params._cache:
        reg, sex = params.onset_region, params.sex
        ages = _grid(params, ancestry).ages
        alphas = _sex_intercepts(params, ancestry)
        targets = reg.shares[ancestry].array()
        female_effect, age_effect = reg.female_log_odds(), reg.age_log_odds()
        gammas = np.empty_like(targets)
        for code in range(len(GENOTYPES)):
            f = _genotype_density(params, ancestry, code)
            f = f / f.sum()
            p_male = _male_probability(
                alphas[code], sex.age_log_odds_per_year, sex.reference_age, ages
            )
            weights = np.concatenate([f * p_male, f * (1.0 - p_male)])
            female = np.concatenate([np.zeros_like(ages), np.ones_like(ages)])
            centred = np.concatenate([ages, ages]) - reg.reference_age
            target = targets[code]
            positive = target > 0
            gamma = np.where(positive, np.log(np.where(positive, target, 1.0)), -np.inf)
            for _ in range(200):
                w = _region_weights(gamma, female_effect, age_effect, female, centred)
                got = weights @ (w / w.sum(axis=1, keepdims=True))
                step = np.where(positive, np.log(np.where(positive, target, 1.0) / got), 0.0)
                gamma = gamma + step
                gamma = gamma - gamma[positive].max()
                if np.max(np.abs(step)) < 1e-12:
                    break
            gammas[code] = gamma
        params._cache[key] = gammas
    return params._cache[key]


# --------------------------------------------------------------------------------------------
# The population
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Population:
    """Virtual patients as a struct of NumPy arrays (one entry per patient).

    Attributes
    ----------
    sex_male : bool
    genotype : int8, code into :data:`~alsim.disease.mechanistic.schema.GENOTYPES`
    sod1_a4v : bool, True only for SOD1 carriers with the A4V variant
    age_onset_years : float64, age at symptom onset
    onset_region : int8, code into :data:`~alsim.disease.mechanistic.schema.REGIONS`
    ftd : bool, ALS with frontotemporal dementia at presentation
    weight_kg : float64, premorbid body weight
    ancestry : str, one ancestry for the whole population
    """

    sex_male: np.ndarray
    genotype: np.ndarray
    sod1_a4v: np.ndarray
    age_onset_years: np.ndarray
    onset_region: np.ndarray
    ftd: np.ndarray
    weight_kg: np.ndarray
    ancestry: str

    _ARRAYS = (
        "sex_male",
        "genotype",
        "sod1_a4v",
        "age_onset_years",
        "onset_region",
        "ftd",
        "weight_kg",
    )

    def __post_init__(self) -> None:
        sizes = {name: len(getattr(self, name)) for name in self._ARRAYS}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"Population arrays differ in length: {sizes}")

    def __len__(self) -> int:
        return len(self.genotype)

    @property
    def n(self) -> int:
        """Number of patients."""
        return len(self)

    @classmethod
    def concat(cls, parts: Iterable[Population]) -> Population:
        """Join populations of one ancestry (e.g. chunks drawn with consecutive block ranges)."""
        parts = list(parts)
        if not parts:
            raise InputError("parts", "need at least one population to concatenate")
        ancestries = {p.ancestry for p in parts}
        if len(ancestries) > 1:
            raise InputError(
                "parts", f"populations have different ancestries: {sorted(ancestries)}"
            )
        arrays = {name: np.concatenate([getattr(p, name) for p in parts]) for name in cls._ARRAYS}
        return cls(**arrays, ancestry=parts[0].ancestry)

    def to_frame(self) -> pd.DataFrame:
        """One row per patient with readable categories.

        Columns: ``ancestry``, ``sex`` ("female"/"male"), ``genotype`` (names), ``sod1_variant``
        ("A4V"/"other" for SOD1 carriers, <NA> otherwise), ``age_onset_years``,
        ``onset_region`` (names), ``ftd``, ``weight_kg``.
        """
        variant_codes = np.where(self.genotype == SOD1, np.where(self.sod1_a4v, 0, 1), -1)
        return pd.DataFrame(
            {
                "ancestry": pd.Categorical([self.ancestry] * len(self), categories=ANCESTRIES),
                "sex": pd.Categorical.from_codes(self.sex_male.astype(np.int8), SEXES),
                "genotype": pd.Categorical.from_codes(self.genotype, GENOTYPES),
                "sod1_variant": pd.Categorical.from_codes(variant_codes, ["A4V", "other"]),
                "age_onset_years": self.age_onset_years,
                "onset_region": pd.Categorical.from_codes(self.onset_region, REGIONS),
                "ftd": self.ftd,
                "weight_kg": self.weight_kg,
            }
        )


def sample_population(
    streams: BlockStreams,
    *,
    ancestry: str = "european",
    params: PopulationParams | None = None,
    genotype: str | None = None,
) -> Population:
    """Draw patients ``streams.start .. streams.stop`` (vectorised; see the module docstring).

    Parameters
    ----------
    streams:
        The cohort's block streams; only the ``"population"`` stream is used, by one call.
    ancestry:
        ``"european"`` (population registers) or ``"east_asian"`` (Chinese clinic cohorts).
    params:
        Parameters; default :func:`load_population_params` ().
    genotype:
        Force every patient to this genotype (e.g. ``"SOD1"`` for an SOD1 trial cohort).
        The other draws are unchanged, so forced and unforced cohorts share random numbers.

    Returns
    -------
    Population
    """
    if not isinstance(streams, BlockStreams):
        raise InputError("streams", f"must be a BlockStreams, got {type(streams).__name__}")
    params = _params_or_default(params)
    ancestry = _check_ancestry(ancestry)
    forced = None if genotype is None else _check_genotype(genotype)

    u = streams.draw("population", "random", size_per_patient=(_N_UNIFORMS,))
    n = u.shape[0]

    # 1. genotype
    if forced is None:
        freq = params.genotype_frequency[ancestry].array()
        cum = np.cumsum(freq) / freq.sum()  # exact 1.0 before any trailing zero frequency
        cum[-1] = np.inf
        geno = np.searchsorted(cum, u[:, _U_GENOTYPE], side="right").astype(np.int8)
    else:
        geno = np.full(n, forced, dtype=np.int8)

    # 2. onset age by inverse CDF, genotype by genotype
    ages = _grid(params, ancestry).ages
    age = np.empty(n)
    for code in np.unique(geno):
        mask = geno == code
        age[mask] = np.interp(u[mask, _U_AGE], _cdf(params, ancestry, int(code)), ages)

    # 3. sex given age and genotype
    sex = params.sex
    alpha = _sex_intercepts(params, ancestry)[geno]
    male = u[:, _U_SEX] < _male_probability(
        alpha, sex.age_log_odds_per_year, sex.reference_age, age
    )

    # 4. SOD1 A4V
    a4v = (geno == SOD1) & (u[:, _U_A4V] < params.sod1_a4v_fraction[ancestry].value)

    # 5. onset region
    reg = params.onset_region
    cum = np.cumsum(
        _region_weights(
            _region_intercepts(params, ancestry)[geno],
            reg.female_log_odds(),
            reg.age_log_odds(),
            ~male,
            age - reg.reference_age,
        ),
        axis=1,
    )
    threshold = u[:, _U_REGION] * cum[:, -1]
    region = (threshold[:, None] >= cum[:, :-1]).sum(axis=1).astype(np.int8)

    # 6. FTD
    ftd = u[:, _U_FTD] < params.ftd[ancestry].array()[geno]

    # 7. premorbid weight, log-normal matched to mean and SD
    w = params.weight[ancestry]
    means = np.array([w.female.mean_kg, w.male.mean_kg])
    sds = np.array([w.female.sd_kg, w.male.sd_kg])
    sigma2 = np.log1p((sds / means) ** 2)
    mu = np.log(means) - sigma2 / 2
    z = ndtri(np.clip(u[:, _U_WEIGHT], 1e-12, 1 - 1e-12))
    idx = male.astype(np.intp)
    weight = np.exp(mu[idx] + np.sqrt(sigma2)[idx] * z)

    return Population(
        sex_male=male,
        genotype=geno,
        sod1_a4v=a4v,
        age_onset_years=age,
        onset_region=region,
        ftd=ftd,
        weight_kg=weight,
        ancestry=ancestry,
    )
