r"""Declarative treatment effects (:class:`Product`) and delivery (:class:`Delivery`).

A **product** says what the drug does to a patient who takes all of it, from the time its
effect starts:

* ``drr`` — disease-rate ratio: the patient's ALSFRS-R decline rate :math:`b_i` is multiplied by
  ``drr`` (0.7 = 30% slowing, 1 = none, > 1 = harm). In the empirical model the death/PAV hazard
  depends on the decline rate, :math:`h \propto b^\gamma`, so by default the hazard follows,
  :math:`h \to h\,\mathrm{drr}^\gamma` (the HEALEY shared-parameter reading of a DRR).
* ``hr`` — death/PAV hazard ratio. ``None`` (default) = the hazard follows the slowing as above;
  a number replaces that link: the hazard is multiplied by ``hr`` and ``drr`` acts on function
  only (e.g. "30% functional slowing with no mortality effect": ``drr: 0.7, hr: 1.0``).
* ``onset_months`` — delayed onset of effect: the effect starts this many months after the
  patient starts treatment (a drug that needs time to act, or an ASO loading phase).
* ``subgroup`` — the effect acts only in patients matching these criteria (e.g. a genotype, or
  fast progressors by their pre-baseline ΔFS); other treated patients get no effect.
* ``pathway`` — pathway-level action for the mechanistic generator, mapped onto
  :class:`alsim.disease.mechanistic.engine.PathwayEffect` (input and coupling factors per
  pathway, a neuron-death hazard factor).

A **delivery** says how the product reaches a randomised patient (intention-to-treat: every
patient stays in the analysis whatever happens to their treatment):

* ``start_months`` — treatment starts this long after randomisation;
* ``adherence`` — the fraction :math:`f` of the full effect an adherent patient receives,
  on the linear scale: :math:`r = 1 + f(\mathrm{drr} - 1)`, :math:`\mathrm{HR} = 1 + f(\mathrm{hr} - 1)`;
* ``adherence_probability`` — the probability :math:`p` that a patient adheres at all
  (non-adherent patients receive no effect);
* ``discontinuation_per_month`` — constant hazard :math:`\lambda_s` of stopping treatment; the
  effect ends at discontinuation, the patient is still followed.

See :mod:`alsim.treatment.apply` for the per-patient schedule these imply.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alsim.disease.mechanistic.schema import GENOTYPES, N_PATHWAYS

__all__ = ["Criteria", "Delivery", "PathwayAction", "Product", "Subgroup"]

Bound = tuple[float | None, float | None]

#: Patient attributes criteria can test (name -> unit), see :class:`Criteria`.
ATTRIBUTES = {
    "pre_slope_per_month": "points/month (ΔFS = (48 - baseline ALSFRS-R) / months since onset)",
    "decline_per_month": "points/month (the patient's true untreated in-trial decline rate)",
    "duration_months": "months from symptom onset to randomisation",
    "fvc_percent": "% predicted (forced vital capacity at screening)",
    "alsfrs_baseline": "points (observed ALSFRS-R total at baseline)",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_bound(value: Any) -> Any:
    if value is None:
        return value
    lo, hi = value
    for v in (lo, hi):
        if v is not None and not math.isfinite(v):
            raise ValueError("bounds must be finite numbers or null")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"lower bound {lo} is above upper bound {hi}")
    return value


class Criteria(_Frozen):
    """Patient criteria: every given criterion must hold (bounds inclusive, null = open).

    Attributes
    ----------
    genotype:
        Allowed genotypes (of ``sporadic, SOD1, C9orf72, TARDBP, FUS``).
    pre_slope_per_month:
        ``[min, max]`` pre-baseline progression rate ΔFS = (48 - ALSFRS-R) / disease duration.
    decline_per_month:
        ``[min, max]`` of the true (latent) untreated decline rate (empirical generator only).
    duration_months:
        ``[min, max]`` months from symptom onset to randomisation.
    fvc_percent:
        ``[min, max]`` FVC, % predicted.
    alsfrs_baseline:
        ``[min, max]`` observed baseline ALSFRS-R total.
    """

    genotype: tuple[str, ...] | None = None
    pre_slope_per_month: Bound | None = None
    decline_per_month: Bound | None = None
    duration_months: Bound | None = None
    fvc_percent: Bound | None = None
    alsfrs_baseline: Bound | None = None

    @field_validator("genotype")
    @classmethod
    def _genotypes(cls, value):
        if value is None:
            return value
        if len(value) == 0:
            raise ValueError("must list at least one genotype (or be omitted)")
        for g in value:
            if g not in GENOTYPES:
                raise ValueError(f"{g!r} is not one of {', '.join(GENOTYPES)}")
        return value

    @field_validator(*ATTRIBUTES)
    @classmethod
    def _bounds(cls, value):
        return _check_bound(value)

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in type(self).model_fields)

    def mask(self, attributes: dict[str, np.ndarray]) -> np.ndarray:
        """Boolean array: which patients meet every criterion.

        ``attributes`` maps the names of :data:`ATTRIBUTES` (and ``"genotype"``, integer codes
        in the order of ``GENOTYPES``) to arrays of one shape.
        """
        shape = np.shape(next(iter(attributes.values())))
        keep = np.ones(shape, dtype=bool)
        if self.genotype is not None:
            codes = [GENOTYPES.index(g) for g in self.genotype]
            keep &= np.isin(attributes["genotype"], codes)
        for name in ATTRIBUTES:
            bound = getattr(self, name)
            if bound is None:
                continue
            x = attributes[name]
            lo, hi = bound
            if lo is not None:
                keep &= x >= lo
            if hi is not None:
                keep &= x <= hi
        return keep


class Subgroup(Criteria):
    """The patients a :class:`Product` acts in (same keys as :class:`Criteria`)."""


def _factors(value: Any) -> Any:
    if len(value) != N_PATHWAYS:
        raise ValueError(f"needs one factor per pathway ({N_PATHWAYS}), got {len(value)}")
    for v in value:
        if not (math.isfinite(v) and 0 <= v <= 10):
            raise ValueError(f"factors must be in [0, 10], got {v}")
    return value


class PathwayAction(_Frozen):
    """Pathway-level action for the mechanistic generator (maps onto ``PathwayEffect``).

    ``input_factor[j]`` multiplies pathway j's genotype and background input,
    ``coupling_factor[j]`` every feedback term driving pathway j, ``hazard_factor`` the neuron
    death hazard. Pathways in the order misfolding, mitochondrial, transport, inflammation,
    excitotoxicity. ``csf_sod1_factor`` is target engagement in the readouts (the fraction of
    CSF SOD1 left under the therapy; it changes no rate).
    """

    input_factor: tuple[float, ...] = (1.0,) * N_PATHWAYS
    coupling_factor: tuple[float, ...] = (1.0,) * N_PATHWAYS
    hazard_factor: float = Field(1.0, ge=0, le=10)
    csf_sod1_factor: float = Field(1.0, ge=0, le=1)

    _check_input = field_validator("input_factor")(classmethod(lambda cls, v: _factors(v)))
    _check_coupling = field_validator("coupling_factor")(classmethod(lambda cls, v: _factors(v)))

    @property
    def is_null(self) -> bool:
        return (
            all(v == 1 for v in self.input_factor)
            and all(v == 1 for v in self.coupling_factor)
            and self.hazard_factor == 1
        )


class Product(_Frozen):
    """What the drug does (see the module docstring for the semantics of each key)."""

    drr: float = Field(1.0, gt=0, le=10, description="disease-rate ratio on the decline rate")
    hr: float | None = Field(None, gt=0, le=100, description="death/PAV hazard ratio")
    onset_months: float = Field(0.0, ge=0, le=600, description="delay from treatment start")
    subgroup: Subgroup | None = None
    pathway: PathwayAction | None = None

    @property
    def is_null(self) -> bool:
        """No effect on anyone (drr 1, hr none or 1, no pathway action)."""
        return (
            self.drr == 1.0
            and (self.hr is None or self.hr == 1.0)
            and (self.pathway is None or self.pathway.is_null)
        )


class Delivery(_Frozen):
    """How the product is delivered to a randomised patient (intention-to-treat)."""

    start_months: float = Field(
        0.0, ge=0, le=600, description="treatment start after randomisation"
    )
    adherence: float = Field(1.0, ge=0, le=1, description="fraction of the full effect received")
    adherence_probability: float = Field(1.0, ge=0, le=1, description="probability of adhering")
    discontinuation_per_month: float = Field(0.0, ge=0, le=10, description="hazard of stopping")

    @model_validator(mode="after")
    def _finite(self):
        for name in type(self).model_fields:
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite")
        return self

    @property
    def is_full(self) -> bool:
        """Every patient gets the full effect from randomisation until the end."""
        return (
            self.start_months == 0
            and self.adherence == 1
            and self.adherence_probability == 1
            and self.discontinuation_per_month == 0
        )
