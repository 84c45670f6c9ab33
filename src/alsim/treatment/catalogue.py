r"""The therapy catalogue: ALS treatments with mechanism, model effects, dosing and sources.

The catalogue lives in ``alsim/params/therapies.yaml`` (schema and every entry in
``docs/therapies.md``). Each therapy carries

* ``mechanism``, ``pathways``, ``dosing``, ``evidence`` (text) and ``sources`` (URLs/DOIs);
* ``empirical`` — its effect in the empirical model, mapped onto :class:`~alsim.treatment.Product`:
  disease-rate ratio ``drr``, death/PAV hazard ratio ``hr`` (absent: the hazard follows the
  slowing), ``onset_months`` (delayed onset of effect) and the ``subgroup`` it acts in;
* ``mechanistic`` — its :class:`~alsim.disease.mechanistic.engine.PathwayEffect` factors
  (per-pathway input and coupling factors, neuron-death hazard factor), or ``null`` for
  supportive care;
* optional ``biomarkers`` (e.g. tofersen's CSF SOD1 and plasma NfL changes), ``dose_response``
  and ``other`` numbers;
* ``status``: ``literature`` (the effect rests on published trial results) or ``assumed``.

Every number is a :class:`Number` with its own ``status`` and ``source``.

Users add therapies in a YAML file with the same schema (``alsim_therapies: 1`` and a
``therapies:`` mapping); :func:`load_therapies` validates it and merges it with the catalogue (a
name already in the catalogue is an error). Scenario files name a therapy with
``product: {therapy: riluzole}`` (optionally with overrides such as ``drr: 0.9``) and may point to
a user file with the top-level key ``therapies``.

Research and education only, not medical advice.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alsim.disease.mechanistic.schema import PATHWAYS
from alsim.errors import InputError
from alsim.fileio import read_yaml_file
from alsim.treatment.effects import Criteria, PathwayAction, Product

__all__ = [
    "Number",
    "Therapy",
    "catalogue",
    "get_therapy",
    "load_therapies",
    "validate_therapies",
]

#: Statuses of a number (see the header of params/therapies.yaml).
NUMBER_STATUSES = ("literature", "derived", "assumed")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Number(_Frozen):
    """A number with its provenance: ``value``, ``status``, ``source`` (URL, DOI or dossier
    section) and optional ``ci`` (95% interval), ``unit`` and ``note``."""

    value: float
    status: Literal["literature", "derived", "assumed"]
    source: str = Field(min_length=3)
    ci: tuple[float, float] | None = None
    unit: str = ""
    note: str = ""

    @field_validator("value")
    @classmethod
    def _finite(cls, value):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("ci")
    @classmethod
    def _ci(cls, value):
        if value is not None and not (
            math.isfinite(value[0]) and math.isfinite(value[1]) and value[0] <= value[1]
        ):
            raise ValueError("must be [low, high] with finite low <= high")
        return value


class SourcedSubgroup(Criteria):
    """The patients a therapy acts in (keys as :class:`~alsim.treatment.Criteria`) and why."""

    status: Literal["literature", "derived", "assumed"]
    source: str = Field(min_length=3)
    note: str = ""

    def criteria(self) -> dict[str, Any]:
        """The criteria only (the :class:`~alsim.treatment.Subgroup` keys that are set)."""
        return {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in self.model_dump().items()
            if k in Criteria.model_fields and v is not None
        }


class EmpiricalEffect(_Frozen):
    """The therapy's effect in the empirical model (see :class:`~alsim.treatment.Product`)."""

    drr: Number
    hr: Number | None = None
    onset_months: Number
    subgroup: SourcedSubgroup | None = None

    @field_validator("drr")
    @classmethod
    def _drr(cls, value: Number):
        if not 0 < value.value <= 10:
            raise ValueError(f"drr.value must be in (0, 10], got {value.value:g}")
        return value

    @field_validator("hr")
    @classmethod
    def _hr(cls, value: Number | None):
        if value is not None and not 0 < value.value <= 100:
            raise ValueError(f"hr.value must be in (0, 100], got {value.value:g}")
        return value

    @field_validator("onset_months")
    @classmethod
    def _onset(cls, value: Number):
        if not 0 <= value.value <= 600:
            raise ValueError(f"onset_months.value must be in [0, 600], got {value.value:g}")
        return value


def _check_factors(value: dict[str, float]) -> dict[str, float]:
    for name, v in value.items():
        if name not in PATHWAYS:
            raise ValueError(f"{name!r} is not a pathway (one of {', '.join(PATHWAYS)})")
        if not (math.isfinite(v) and 0 <= v <= 10):
            raise ValueError(f"factor of {name} must be in [0, 10], got {v}")
    return value


class MechanisticEffect(_Frozen):
    """PathwayEffect factors by pathway name (omitted pathways: 1) and the hazard factor."""

    input_factor: dict[str, float] = Field(default_factory=dict)
    coupling_factor: dict[str, float] = Field(default_factory=dict)
    hazard_factor: float = Field(1.0, ge=0, le=10)
    status: Literal["literature", "derived", "assumed"]
    source: str = Field(min_length=3)
    note: str = ""

    _in = field_validator("input_factor")(classmethod(lambda cls, v: _check_factors(v)))
    _co = field_validator("coupling_factor")(classmethod(lambda cls, v: _check_factors(v)))

    def action(self) -> PathwayAction:
        """As a scenario's :class:`~alsim.treatment.PathwayAction` (pathway order of the model)."""
        return PathwayAction(
            input_factor=tuple(float(self.input_factor.get(p, 1.0)) for p in PATHWAYS),
            coupling_factor=tuple(float(self.coupling_factor.get(p, 1.0)) for p in PATHWAYS),
            hazard_factor=self.hazard_factor,
        )


class Therapy(_Frozen):
    """One catalogue entry (see the module docstring and ``docs/therapies.md``)."""

    name: str
    label: str = Field(min_length=1)
    kind: str = Field(min_length=1)
    status: Literal["literature", "assumed"]
    mechanism: str = Field(min_length=1)
    pathways: tuple[str, ...] = ()
    dosing: str = Field(min_length=1)
    evidence: str = Field(min_length=1)
    sources: tuple[str, ...] = Field(min_length=1)
    empirical: EmpiricalEffect
    mechanistic: MechanisticEffect | None = None
    biomarkers: dict[str, Number] = Field(default_factory=dict)
    dose_response: dict[str, Number] | None = None
    other: dict[str, Number] = Field(default_factory=dict)

    @field_validator("pathways")
    @classmethod
    def _pathways(cls, value):
        for p in value:
            if p not in PATHWAYS:
                raise ValueError(f"{p!r} is not a pathway (one of {', '.join(PATHWAYS)})")
        return value

    @field_validator("dose_response")
    @classmethod
    def _dose(cls, value):
        if value is None:
            return value
        missing = {"reference_dose_mg", "lowering_at_reference", "ed50_mg"} - set(value)
        if missing:
            raise ValueError(f"needs {', '.join(sorted(missing))}")
        if not 0 < value["lowering_at_reference"].value < 1:
            raise ValueError("lowering_at_reference.value must be in (0, 1)")
        if value["reference_dose_mg"].value <= 0 or value["ed50_mg"].value <= 0:
            raise ValueError("reference_dose_mg and ed50_mg must be > 0")
        return value

    # -- model effects ------------------------------------------------------------------------

    def product_fields(
        self, generator: str = "empirical", dose_mg: float | None = None
    ) -> dict[str, Any]:
        """The :class:`~alsim.treatment.Product` keys of this therapy for a scenario generator.

        ``empirical``: ``drr``, ``hr``, ``onset_months``, ``subgroup``; ``mechanistic``:
        ``pathway``, ``onset_months``, ``subgroup`` (an :class:`InputError` if the therapy has
        no pathway action). ``dose_mg`` (mechanistic generator, therapies with a
        ``dose_response``): each input-factor cut :math:`1 - v` is scaled by
        :math:`L(D)/L(D_{ref})` (:meth:`target_lowering`), so the reference dose gives the
        catalogue factors.
        """
        if dose_mg is not None:
            if generator != "mechanistic":
                raise InputError(
                    "dose_mg", "applies to the mechanistic generator (pathway input factors)"
                )
            if self.dose_response is None:
                raise InputError("dose_mg", f"{self.name} has no dose_response in the catalogue")
        e = self.empirical
        fields: dict[str, Any] = {"onset_months": e.onset_months.value}
        if e.subgroup is not None:
            fields["subgroup"] = e.subgroup.criteria()
        if generator == "mechanistic":
            if self.mechanistic is None:
                raise InputError(
                    f"therapy {self.name}", "has no mechanistic (pathway) action: supportive care"
                )
            action = self._action(dose_mg)
            fields["pathway"] = action.model_dump(mode="json")
            if "subgroup" in fields:
                fields["subgroup"].pop("decline_per_month", None)
                if not fields["subgroup"]:
                    del fields["subgroup"]
            return fields
        fields["drr"] = e.drr.value
        fields["hr"] = None if e.hr is None else e.hr.value
        return fields

    def product(
        self, generator: str = "empirical", *, dose_mg: float | None = None, **overrides: Any
    ) -> Product:
        """A :class:`~alsim.treatment.Product` (catalogue effect, then ``overrides``)."""
        return Product(**{**self.product_fields(generator, dose_mg), **overrides})

    def _action(self, dose_mg: float | None = None):
        """The pathway action at ``dose_mg`` (default: the catalogue's reference dose).

        With a ``dose_response``, each input-factor cut :math:`1 - v` is scaled by
        :math:`L(D)/L(D_{ref})` and CSF SOD1 (target engagement) is left at :math:`1 - L(D)`.
        """
        action = self.mechanistic.action()
        if self.dose_response is None:
            return action
        reference = self.dose_response["reference_dose_mg"].value
        dose = reference if dose_mg is None else dose_mg
        scale = self.target_lowering(dose) / self.target_lowering(reference)
        return action.model_copy(
            update={
                "input_factor": tuple(1.0 - (1.0 - v) * scale for v in action.input_factor),
                "csf_sod1_factor": 1.0 - self.target_lowering(dose),
            }
        )

    def pathway_effect(
        self, start_months=0.0, mask=None, start_from: str = "onset", dose_mg: float | None = None
    ):
        """The mechanistic model's :class:`PathwayEffect` of this therapy (``None`` without)."""
        if self.mechanistic is None:
            return None
        from alsim.disease.mechanistic.engine import PathwayEffect

        action = self._action(dose_mg)
        return PathwayEffect(
            start_months=start_months,
            input_factor=action.input_factor,
            coupling_factor=action.coupling_factor,
            hazard_factor=action.hazard_factor,
            mask=mask,
            start_from=start_from,
            csf_sod1_factor=action.csf_sod1_factor,
        )

    def target_lowering(self, dose_mg: float) -> float:
        """Fraction of the target (CSF SOD1 for tofersen) lowered at ``dose_mg``.

        Emax model through the catalogue's reference point:
        :math:`L(D) = E_{max} D / (ED_{50} + D)`, :math:`E_{max} = L_{ref}(ED_{50} + D_{ref})/D_{ref}`.
        """
        if self.dose_response is None:
            raise InputError(f"therapy {self.name}", "has no dose_response")
        if not (math.isfinite(dose_mg) and dose_mg >= 0):
            raise InputError("dose_mg", f"must be a non-negative number, got {dose_mg!r}")
        dr = self.dose_response
        d_ref, l_ref, ed50 = (
            dr["reference_dose_mg"].value,
            dr["lowering_at_reference"].value,
            dr["ed50_mg"].value,
        )
        emax = min(l_ref * (ed50 + d_ref) / d_ref, 1.0)
        return emax * dose_mg / (ed50 + dose_mg)

    def biomarker_change(self, name: str, months) -> Any:
        """Change of biomarker ``name`` (fraction of baseline) ``months`` after the first dose:
        the plateau change times :math:`1 - 2^{-t/t_{1/2}}` (``nfl_half_time_months``)."""
        import numpy as np

        if name not in self.biomarkers:
            raise InputError(f"therapy {self.name}", f"has no biomarker {name!r}")
        half = self.biomarkers.get("nfl_half_time_months")
        t = np.asarray(months, dtype=float)
        plateau = self.biomarkers[name].value
        if half is None or half.value <= 0:
            return np.where(t > 0, plateau, 0.0)
        return plateau * (1.0 - np.exp2(-np.maximum(t, 0.0) / half.value))

    def numbers(self) -> Iterator[tuple[str, Number]]:
        """Every :class:`Number` of the entry with its key path (``empirical.hr``, ...)."""
        e = self.empirical
        yield "empirical.drr", e.drr
        if e.hr is not None:
            yield "empirical.hr", e.hr
        yield "empirical.onset_months", e.onset_months
        for block in ("biomarkers", "dose_response", "other"):
            for key, number in (getattr(self, block) or {}).items():
                yield f"{block}.{key}", number


# ------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------


def validate_therapies(data: Any, source: str = "therapies") -> dict[str, Therapy]:
    """Validate a therapies mapping (``{alsim_therapies: 1, therapies: {name: entry}}``).

    Raises
    ------
    InputError
        Naming ``source`` and the key path, e.g. ``my.yaml: therapies.x.empirical.drr.value``.
    """
    from alsim.trial.scenario import _message, _path, _strip_loc

    if not isinstance(data, dict):
        raise InputError(source, "must be a mapping with keys alsim_therapies and therapies")
    extra = set(data) - {"alsim_therapies", "therapies"}
    if extra:
        raise InputError(f"{source}: {sorted(extra)[0]}", "is not an allowed key")
    if data.get("alsim_therapies") != 1:
        raise InputError(
            f"{source}: alsim_therapies",
            f"must be 1 (the schema version), got {data.get('alsim_therapies')!r}",
        )
    entries = data.get("therapies")
    if not isinstance(entries, dict) or not entries:
        raise InputError(f"{source}: therapies", "must be a non-empty mapping of name: entry")
    out: dict[str, Therapy] = {}
    for name, entry in entries.items():
        where = f"{source}: therapies.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise InputError(
                where, "name must be lower case letters, digits and _ (starting with a letter)"
            )
        if not isinstance(entry, dict):
            raise InputError(where, "must be a mapping of therapy keys")
        if "name" in entry:
            raise InputError(f"{where}.name", "is not an allowed key (the name is the map key)")
        try:
            out[name] = Therapy(name=name, **entry)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = _strip_loc(tuple(err["loc"]))
            raise InputError(f"{where}.{_path(loc)}", _message(err)) from None
    return out


@functools.lru_cache(maxsize=1)
def _packaged() -> dict[str, Therapy]:
    text = resources.files("alsim.params").joinpath("therapies.yaml").read_text(encoding="utf-8")
    return validate_therapies(yaml.safe_load(text), "therapies.yaml")


def catalogue() -> dict[str, Therapy]:
    """The packaged catalogue, ``{name: Therapy}`` (a new dict; entries are immutable)."""
    return dict(_packaged())


def load_therapies(path: str | Path, base: dict[str, Therapy] | None = None) -> dict[str, Therapy]:
    """Read a user therapies file and merge it with ``base`` (default: the catalogue).

    Raises
    ------
    InputError
        Unreadable file, invalid YAML, a schema error (file name and key path) or a therapy name
        already in ``base``.
    """
    path = Path(path)
    data = read_yaml_file(path, "therapies")
    if data is None:
        raise InputError(path.name, "is empty")
    user = validate_therapies(data, path.name)
    merged = catalogue() if base is None else dict(base)
    for name, therapy in user.items():
        if name in merged:
            raise InputError(
                f"{path.name}: therapies.{name}",
                "clashes with a therapy already in the catalogue (choose another name)",
            )
        merged[name] = therapy
    return merged


def get_therapy(name: str, therapies: dict[str, Therapy] | None = None) -> Therapy:
    """The therapy ``name`` from ``therapies`` (default: the catalogue)."""
    pool = catalogue() if therapies is None else therapies
    if name not in pool:
        raise InputError("therapy", f"unknown therapy {name!r} (known: {', '.join(sorted(pool))})")
    return pool[name]
