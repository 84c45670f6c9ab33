"""Validated, versioned parameter sets of the mechanistic model.

A parameter set is a TOML file (default: the packaged ``params/mechanistic.toml``, or the
calibrated set ``params/mechanistic-calibrated.toml`` when present). It is loaded into frozen
pydantic models; a bad file gets one :class:`~alsim.errors.InputError` naming the key path.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alsim.disease.mechanistic.schema import GENOTYPES, PATHWAYS, REGIONS
from alsim.errors import InputError
from alsim.fileio import read_toml_file

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
PathwayVector = Annotated[list[NonNegative], Field(min_length=5, max_length=5)]

DEFAULT_FILE = "mechanistic.toml"
CALIBRATED_FILE = "mechanistic-calibrated.toml"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Numerics(_Frozen):
    dt_months: Annotated[float, Field(gt=0, le=1)]
    max_presymptomatic_months: Annotated[float, Field(gt=0, le=600)]

    @field_validator("dt_months")
    @classmethod
    def _divides_a_month(cls, value):
        if abs(round(1.0 / value) * value - 1.0) > 1e-9:
            raise ValueError(f"must divide one month (1, 0.5, 0.25, ...), got {value}")
        return value


class Pathways(_Frozen):
    hill_k: Positive
    decay_per_month: Positive
    self_coupling: NonNegative
    cross_coupling: NonNegative
    coupling: list[PathwayVector]
    burden_weights: PathwayVector
    baseline_input: PathwayVector
    trigger_level: Positive

    @field_validator("coupling")
    @classmethod
    def _square(cls, value):
        if len(value) != len(PATHWAYS):
            raise ValueError(f"needs {len(PATHWAYS)} rows (one per pathway), got {len(value)}")
        return value

    def matrix(self) -> np.ndarray:
        """The 5x5 feedback matrix W (row = driven pathway, column = driver)."""
        w = self.cross_coupling * np.asarray(self.coupling, dtype=float)
        np.fill_diagonal(w, self.self_coupling)
        return w


class GenotypeInput(_Frozen):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    sporadic: PathwayVector
    SOD1: PathwayVector
    C9orf72: PathwayVector
    TARDBP: PathwayVector
    FUS: PathwayVector

    def matrix(self) -> np.ndarray:
        """Inputs as an array (genotype code, pathway)."""
        return np.asarray([getattr(self, g) for g in GENOTYPES], dtype=float)


class Spread(_Frozen):
    lmn_contiguous: NonNegative
    umn_cortical: NonNegative
    umn_to_lmn: NonNegative
    lmn_to_umn: NonNegative
    rate_median: Positive
    rate_log_sd: NonNegative


class Neurons(_Frozen):
    hazard_median: Positive
    hazard_log_sd: NonNegative
    hazard_walk_sd: NonNegative = 0.0
    hazard_walk_months: Positive = 24.0
    burden_threshold: NonNegative
    umn_vulnerability: Positive
    region_vulnerability: Annotated[list[Positive], Field(min_length=4, max_length=4)]
    region_vulnerability_log_sd: NonNegative = 0.0
    age_effect_per_decade: float
    genotype_hazard: dict[str, Positive]
    sod1_a4v_hazard: Positive

    @field_validator("genotype_hazard")
    @classmethod
    def _all_genotypes(cls, value):
        missing = set(GENOTYPES) - set(value)
        unknown = set(value) - set(GENOTYPES)
        if missing or unknown:
            raise ValueError(
                f"needs exactly the genotypes {GENOTYPES} (missing {sorted(missing)}, unknown {sorted(unknown)})"
            )
        return value


class Function(_Frozen):
    reinnervation_median: Annotated[float, Field(ge=1)]
    reinnervation_log_sd: NonNegative
    softmin_sharpness: Positive
    umn_weight: Fraction
    onset_threshold: Annotated[float, Field(gt=0, lt=1)]


class Items(_Frozen):
    mixing: list[Annotated[list[NonNegative], Field(min_length=4, max_length=4)]]
    thresholds: list[Annotated[list[Fraction], Field(min_length=4, max_length=4)]]
    measurement_sd: NonNegative

    @model_validator(mode="after")
    def _shapes(self):
        if len(self.mixing) != 12 or len(self.thresholds) != 12:
            raise ValueError("mixing and thresholds need 12 rows, one per ALSFRS-R item")
        for i, row in enumerate(self.mixing):
            if abs(sum(row) - 1) > 1e-9:
                raise ValueError(f"mixing row {i + 1} must sum to 1, got {sum(row):g}")
        for i, row in enumerate(self.thresholds):
            if any(b <= a for a, b in itertools.pairwise(row)):
                raise ValueError(f"thresholds row {i + 1} must increase strictly")
        return self


class Respiratory(_Frozen):
    function_mixing: Annotated[list[NonNegative], Field(min_length=4, max_length=4)]
    fvc_baseline_mean: Positive
    fvc_baseline_sd: NonNegative
    fvc_floor: Fraction
    fvc_exponent: Positive
    fvc_measurement_sd: NonNegative
    niv_fvc_threshold: Positive
    niv_uptake: Fraction
    pav_uptake: Fraction
    gastrostomy_threshold: Fraction
    gastrostomy_uptake: Fraction


class Mortality(_Frozen):
    log_rate: float
    resp_slope: NonNegative
    bulbar_slope: NonNegative
    niv_hazard_ratio: Annotated[float, Field(gt=0, le=1)]
    pav_hazard_ratio: Annotated[float, Field(gt=0, le=1)]
    background_gompertz_a_per_year: Positive
    background_gompertz_b_per_year: Positive


class Diagnosis(_Frozen):
    loss_median_points: Positive
    loss_log_sd: NonNegative
    min_months: NonNegative
    referral_median_months: NonNegative = 0.0
    referral_log_sd: NonNegative = 0.0
    referral_factor_east_asian: Positive = 1.0


class Nfl(_Frozen):
    control_log_median_at_60: float
    control_age_slope_per_year: float
    control_log_sd: NonNegative
    release_gain: NonNegative
    release_exponent: Positive
    lmn_axon_weight: NonNegative
    umn_axon_weight: NonNegative
    clearance_months: Positive
    csf_to_blood_ratio: Positive
    measurement_cv: NonNegative
    c9_extramotor_pg_ml: NonNegative = 0.0
    c9_extramotor_lead_months: NonNegative = 0.0
    c9_extramotor_log_sd: NonNegative = 0.0
    c9_extramotor_ramp_months: Positive = 12.0


class Sod1Toxicity(_Frozen):
    r"""Mutant SOD1 as the continuing toxic agent of SOD1-ALS (docs/disease-model.md §4).

    A SOD1 carrier's neuron-death hazard is multiplied by :math:`(1 - f) + f\,S^n`, with
    :math:`S` the mutant SOD1 level relative to the untreated level (1 without a lowering
    therapy), :math:`f` = ``mediated_fraction`` and :math:`n` = ``toxicity_order``; :math:`S`
    follows a lowering therapy's ``csf_sod1_factor`` with time constant ``level_months``.
    """

    mediated_fraction: Fraction
    toxicity_order: Positive
    level_months: Positive


class Weight(_Frozen):
    hypermetabolic_loss_per_month: NonNegative
    dysphagia_loss_per_month: NonNegative


class Imaging(_Frozen):
    fa_baseline: Fraction
    fa_umn_loss: Fraction
    fa_sd: NonNegative


class MechanisticParams(_Frozen):
    """All population parameters of the mechanistic model (see docs/disease-model.md)."""

    name: str
    version: str
    numerics: Numerics
    pathways: Pathways
    genotype_input: GenotypeInput
    spread: Spread
    neurons: Neurons
    function: Function
    items: Items
    respiratory: Respiratory
    mortality: Mortality
    diagnosis: Diagnosis
    nfl: Nfl
    sod1: Sod1Toxicity
    weight: Weight
    imaging: Imaging
    calibration: dict | None = None  # provenance written by `alsim calibrate`

    def digest(self) -> str:
        """A short content hash, recorded in manifests."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]

    def replace(self, updates: dict[str, float]) -> MechanisticParams:
        """A copy with dotted-path values replaced, e.g. ``{"neurons.hazard_median": 0.04}``."""
        data = self.model_dump()
        for path, value in updates.items():
            node = data
            *parents, leaf = path.split(".")
            for key in parents:
                node = node[key]
            if leaf not in node:
                raise InputError(path, "unknown parameter")
            node[leaf] = value
        return parse_params(data, source="updates")


def parse_params(data: dict, *, source: str) -> MechanisticParams:
    """Validate a parameter mapping; errors name ``source`` and the key path."""
    try:
        return MechanisticParams.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(f"{source}: {where}", first["msg"]) from None


def load_params(path: str | Path | None = None) -> MechanisticParams:
    """Load a parameter set; the default is the committed calibrated set, else the base file."""
    if path is None:
        return _default_params()
    path = Path(path)
    return parse_params(read_toml_file(path), source=path.name)


@functools.cache
def _default_params() -> MechanisticParams:
    folder = resources.files("alsim.params")
    name = CALIBRATED_FILE if folder.joinpath(CALIBRATED_FILE).is_file() else DEFAULT_FILE
    data = tomllib.loads(folder.joinpath(name).read_text(encoding="utf-8"))
    return parse_params(data, source=name)


def region_index(name: str) -> int:
    return REGIONS.index(name)
