"""Trial scenarios: pydantic models, YAML loading and validation with key-path errors.

A scenario file is YAML (``alsim: 1`` schema). Every mapping forbids unknown keys, and every error
names the file and the key path, e.g. ``healey.yaml: regimens[1].product.drr: must be > 0, got
-0.3``. :meth:`Scenario.model_dump` (``mode="json"``) gives the fully resolved scenario (every
default filled in, design-dependent defaults resolved) that loads back to an equal scenario.

The meaning of every key is in ``docs/trial-engine.md`` (scenario YAML reference).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alsim.disease.empirical import EmpiricalParams, load_empirical_params
from alsim.disease.mechanistic.schema import ANCESTRIES, GENOTYPES
from alsim.errors import InputError
from alsim.fileio import read_yaml_file
from alsim.treatment.effects import Bound, Criteria, Delivery, Product, _check_bound

__all__ = [
    "ANALYSES",
    "DESIGNS",
    "Scenario",
    "load_scenario",
    "validate_scenario",
]

DESIGNS = ("parallel", "multi_arm", "platform", "delayed_start")
ANALYSES = ("healey_drr", "lmm_slope", "ols_slope", "cox", "logrank", "cafs")
Design = Literal["parallel", "multi_arm", "platform", "delayed_start"]
Analysis = Literal["healey_drr", "lmm_slope", "ols_slope", "cox", "logrank", "cafs"]
#: Weeks to months, the HEALEY convention (M-SAP: time in months = weeks x 12/52).
WEEKS_TO_MONTHS = 12.0 / 52.0

#: Genotype frequencies among incident ALS patients, European register (Chiò et al., Neurology
#: 2018;91:e635, doi:10.1212/WNL.0000000000005996: C9orf72 6.9%, SOD1 1.9%, TARDBP 1.4%, FUS
#: 0.3%; the same numbers as alsim/params/population.toml).
DEFAULT_GENOTYPE_PROBS = {
    "sporadic": 0.895,
    "SOD1": 0.019,
    "C9orf72": 0.069,
    "TARDBP": 0.014,
    "FUS": 0.003,
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ------------------------------------------------------------------------------------------------
# Sections
# ------------------------------------------------------------------------------------------------


class PopulationSpec(_Model):
    """Who enters screening (empirical generator); see docs/trial-engine.md for the equations."""

    params: str | None = None
    overrides: dict[str, float] = Field(default_factory=dict)
    genotype_probs: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_GENOTYPE_PROBS))
    genotype_rate_ratio: dict[str, float] = Field(default_factory=dict)
    pre_slope_median_per_month: float = Field(0.6, gt=0, le=20)
    pre_slope_log_sd: float = Field(0.7, ge=0, le=3)
    pre_slope_decline_corr: float = Field(0.3, ge=-1, le=1)
    fvc_mean_percent: float = Field(90.0, gt=0, le=200)
    fvc_sd_percent: float = Field(15.0, ge=0, le=100)
    fvc_baseline_corr: float = Field(0.3, ge=-1, le=1)

    @field_validator("genotype_probs")
    @classmethod
    def _probs(cls, value):
        for g, p in value.items():
            if g not in GENOTYPES:
                raise ValueError(f"{g!r} is not one of {', '.join(GENOTYPES)}")
            if not (math.isfinite(p) and p >= 0):
                raise ValueError(f"probability of {g} must be >= 0")
        total = sum(value.values())
        if not (abs(total - 1.0) < 1e-6):
            raise ValueError(f"probabilities must sum to 1, got {total:g}")
        return value

    @field_validator("genotype_rate_ratio")
    @classmethod
    def _rate_ratio(cls, value):
        for g, r in value.items():
            if g not in GENOTYPES:
                raise ValueError(f"{g!r} is not one of {', '.join(GENOTYPES)}")
            if not (math.isfinite(r) and 0 < r <= 10):
                raise ValueError(f"rate ratio of {g} must be in (0, 10]")
        return value


class LeadIn(_Model):
    """A pre-randomisation observation period and the ALSFRS-R decline it must show."""

    months: float = Field(gt=0, le=24)
    decline_points: Bound

    _bound = field_validator("decline_points")(classmethod(lambda cls, v: _check_bound(v)))


class EligibilitySpec(Criteria):
    """Enrichment: candidates must meet every criterion (see :class:`Criteria`), and the lead-in."""

    lead_in: LeadIn | None = None


class AccrualSpec(_Model):
    """Enrolment of eligible patients: a Poisson process at ``rate_per_month``."""

    rate_per_month: float = Field(40.0, gt=0, le=10000)


class ScheduleSpec(_Model):
    """Visits after randomisation (weeks; months = weeks x 12/52)."""

    followup_weeks: float = Field(24.0, gt=0, le=520)
    visit_every_weeks: float = Field(4.0, gt=0, le=520)
    visit_weeks: tuple[float, ...] | None = None
    extension_weeks: float = Field(0.0, ge=0, le=520)

    @model_validator(mode="after")
    def _visits(self):
        if self.visit_weeks is not None:
            v = self.visit_weeks
            if len(v) < 2 or v[0] != 0 or any(b <= a for a, b in itertools.pairwise(v)):
                raise ValueError(
                    "visit_weeks must start at 0, be strictly increasing and have >= 2 visits"
                )
            if v[-1] > self.followup_weeks + self.extension_weeks + 1e-9:
                raise ValueError("visit_weeks must end by followup_weeks + extension_weeks")
        return self

    def visit_weeks_resolved(self) -> tuple[float, ...]:
        if self.visit_weeks is not None:
            return tuple(float(w) for w in self.visit_weeks)
        end = self.followup_weeks + self.extension_weeks
        n = math.floor(end / self.visit_every_weeks + 1e-9)
        weeks = [k * self.visit_every_weeks for k in range(n + 1)]
        for w in (self.followup_weeks, end):
            if all(abs(w - x) > 1e-9 for x in weeks):
                weeks.append(w)
        return tuple(sorted(weeks))


class ControlSpec(_Model):
    """Which placebo patients a comparison uses (platform; multi-arm always uses its control)."""

    pool: Literal["own", "concurrent", "all"] = "concurrent"
    concurrent_window_months: float = Field(0.0, ge=0, le=120)


class ControlArmSpec(_Model):
    """The shared control arm of a multi-arm design."""

    name: str = "control"
    n: int = Field(ge=2, le=100000)
    weight: float = Field(1.0, gt=0, le=1000)


class InterimSpec(_Model):
    """Interim looks on a calendar grid (HEALEY: first when a regimen has 40 randomised with the
    opportunity for full follow-up, then every 12 weeks), or, with ``at_n_followed``, when a
    unit's n-th patient has had the opportunity for follow-up (information-based looks)."""

    first_n: int = Field(40, ge=2, le=100000)
    first_followup_weeks: float | None = Field(None, ge=0, le=520)
    every_weeks: float = Field(12.0, gt=0, le=520)
    at_n_followed: tuple[int, ...] | None = None
    futility: bool = True
    futility_threshold: float = Field(0.05, ge=0, le=1)
    early_success: bool = False
    early_success_threshold: float | None = Field(None, gt=0, lt=1)
    while_enrolling_only: bool = True
    max_looks: int = Field(20, ge=1, le=200)

    @field_validator("at_n_followed")
    @classmethod
    def _at_n(cls, value):
        if value is None:
            return value
        if len(value) == 0 or value[0] < 2 or any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError("must be a non-empty, strictly increasing list of counts >= 2")
        return value


class AnalysisSpec(_Model):
    """Primary analysis (one function at interims and at the end) and secondary ones."""

    primary: Analysis = "healey_drr"
    success_threshold: float | None = Field(None, gt=0, lt=1)
    secondary: tuple[Analysis, ...] = ()
    healey_vc_uncertainty: bool = True
    healey_n_grid: int = Field(2000, ge=20, le=20000)

    @model_validator(mode="after")
    def _threshold(self):
        if self.success_threshold is None:
            value = 0.979 if self.primary == "healey_drr" else 0.975
            object.__setattr__(self, "success_threshold", value)
        return self


class RegimenSpec(_Model):
    """One regimen (platform), the active arm (parallel, delayed start) or one active arm
    (multi-arm)."""

    name: str = Field(min_length=1, max_length=60)
    n: int = Field(ge=2, le=100000)
    allocation: tuple[int, int] | None = None
    entry_months: float = Field(0.0, ge=0, le=600)
    weight: float = Field(1.0, gt=0, le=1000)
    population_rate_ratio: float = Field(1.0, gt=0, le=10)
    product: Product = Field(default_factory=Product)
    delivery: Delivery = Field(default_factory=Delivery)
    placebo_switch_months: float | None = Field(None, ge=0, le=600)

    @field_validator("allocation")
    @classmethod
    def _allocation(cls, value):
        if value is None:
            return value
        a, p = value
        if a < 0 or p < 0 or a + p == 0 or a + p > 100:
            raise ValueError("must be [active, placebo] block counts >= 0, summing to 1-100")
        return value


class MechanisticSpec(_Model):
    """Mapping of the onset-aligned mechanistic cohort onto trial time."""

    ancestry: str = "european"
    genotype: str | None = None
    enrolment_after_diagnosis_months: Bound = (0.0, 12.0)
    horizon_months: int = Field(96, ge=12, le=240)

    @field_validator("ancestry")
    @classmethod
    def _ancestry(cls, value):
        if value not in ANCESTRIES:
            raise ValueError(f"must be one of {', '.join(ANCESTRIES)}")
        return value

    @field_validator("genotype")
    @classmethod
    def _genotype(cls, value):
        if value is not None and value not in GENOTYPES:
            raise ValueError(f"must be one of {', '.join(GENOTYPES)}")
        return value

    @field_validator("enrolment_after_diagnosis_months")
    @classmethod
    def _enrol(cls, value):
        lo, hi = value
        if lo is None or hi is None or lo < 0 or hi < lo:
            raise ValueError("must be [min, max] with 0 <= min <= max")
        return value


class RunSpec(_Model):
    """Defaults for running the scenario (the CLI and run_trials arguments override them)."""

    n_rep: int = Field(1000, ge=1, le=10_000_000)
    seed: int = Field(1, ge=0)
    chunk_size: int | None = Field(None, ge=1)


# ------------------------------------------------------------------------------------------------
# Scenario
# ------------------------------------------------------------------------------------------------


class Scenario(_Model):
    """A trial scenario (specify stage). Build with :func:`load_scenario` /
    :func:`validate_scenario`."""

    alsim: Literal[1] = 1
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    sources: tuple[str, ...] = ()
    design: Design
    generator: Literal["empirical", "mechanistic"] = "empirical"
    population: PopulationSpec = Field(default_factory=PopulationSpec)
    mechanistic: MechanisticSpec = Field(default_factory=MechanisticSpec)
    eligibility: EligibilitySpec = Field(default_factory=EligibilitySpec)
    accrual: AccrualSpec = Field(default_factory=AccrualSpec)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    regimens: tuple[RegimenSpec, ...] = Field(min_length=1, max_length=50)
    control: ControlSpec = Field(default_factory=ControlSpec)
    control_arm: ControlArmSpec | None = None
    interim: InterimSpec | None = None
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec)
    run: RunSpec = Field(default_factory=RunSpec)
    base_dir: str | None = Field(None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _design_defaults(cls, data: Any) -> Any:
        """Fill design-dependent defaults so that the dump is fully resolved."""
        if not isinstance(data, dict):
            return data
        data = _resolve_therapies(data)
        design = data.get("design")
        regimens = data.get("regimens")
        default = {"platform": [3, 1], "multi_arm": [1, 0]}.get(design, [1, 1])
        if isinstance(regimens, list):
            data = dict(data)
            data["regimens"] = [
                {**r, "allocation": r.get("allocation") or default} if isinstance(r, dict) else r
                for r in regimens
            ]
        if design in ("parallel", "delayed_start", "multi_arm") and "control" not in data:
            data = dict(data)
            data["control"] = {"pool": "own" if design != "multi_arm" else "all"}
        return data

    @model_validator(mode="after")
    def _checks(self):
        _check_regimen_names(self)
        _check_design(self)
        _check_generator(self)
        return self

    # -- derived quantities -----------------------------------------------------------------------

    @property
    def followup_months(self) -> float:
        return self.schedule.followup_weeks * WEEKS_TO_MONTHS

    @property
    def extension_months(self) -> float:
        return self.schedule.extension_weeks * WEEKS_TO_MONTHS

    @property
    def visit_months(self) -> tuple[float, ...]:
        return tuple(w * WEEKS_TO_MONTHS for w in self.schedule.visit_weeks_resolved())

    def empirical_params(self) -> EmpiricalParams:
        """The empirical-model parameters (file, then overrides)."""
        path = self.population.params
        if path is not None and self.base_dir is not None and not Path(path).is_absolute():
            path = str(Path(self.base_dir) / path)
        params = load_empirical_params(path)
        if self.population.overrides:
            params = params.replace(**self.population.overrides)
        return params


def _resolve_therapies(data: dict) -> dict:
    """Replace ``product: {therapy: NAME, ...overrides}`` by the catalogue therapy's product keys.

    The therapy comes from the catalogue (:mod:`alsim.treatment.catalogue`) merged with the
    scenario's top-level ``therapies`` file (a path relative to the scenario file; the key is
    consumed here, so the resolved scenario has the products' values and no file key); the other
    keys of the product mapping override the catalogue's (``dose_mg`` scales a dose-responsive
    therapy's pathway input factors, mechanistic generator only). The empirical generator takes ``drr``, ``hr``,
    ``onset_months`` and ``subgroup``; the mechanistic one ``pathway``, ``onset_months`` and
    ``subgroup``.
    """
    data = dict(data)
    path = data.pop("therapies", None)  # only read here: the resolved scenario has no file key
    regimens = data.get("regimens")
    if not isinstance(regimens, list) or not any(
        isinstance(r, dict) and isinstance(r.get("product"), dict) and "therapy" in r["product"]
        for r in regimens
    ):
        return data
    from alsim.treatment.catalogue import catalogue, load_therapies

    pool = catalogue()
    if path is not None:
        if not isinstance(path, str) or not path.strip():
            raise _KeyError(("therapies",), "must be the path of a therapies YAML file")
        full = Path(path)
        if not full.is_absolute() and data.get("base_dir"):
            full = Path(data["base_dir"]) / full
        try:
            pool = load_therapies(full)
        except InputError as exc:
            raise _KeyError(("therapies",), str(exc)) from None
    generator = data.get("generator", "empirical")
    out = []
    for i, r in enumerate(regimens):
        product = r.get("product") if isinstance(r, dict) else None
        if not (isinstance(product, dict) and "therapy" in product):
            out.append(r)
            continue
        overrides = dict(product)
        name = overrides.pop("therapy")
        dose = overrides.pop("dose_mg", None)
        where = ("regimens", i, "product", "therapy")
        if not isinstance(name, str) or name not in pool:
            raise _KeyError(where, f"unknown therapy {name!r} (known: {', '.join(sorted(pool))})")
        if dose is not None and (
            isinstance(dose, bool) or not isinstance(dose, int | float) or not 0 <= dose <= 1e4
        ):
            raise _KeyError(
                (*where[:-1], "dose_mg"), f"must be a dose in mg (0-10000), got {dose!r}"
            )
        try:
            fields = pool[name].product_fields(
                "mechanistic" if generator == "mechanistic" else "empirical", dose
            )
        except InputError as exc:
            loc = (*where[:-1], "dose_mg") if exc.where == "dose_mg" else where
            problem = exc.problem if exc.where == "dose_mg" else f"{name} {exc.problem}"
            raise _KeyError(loc, problem) from None
        out.append({**r, "product": {**fields, **overrides}})
    return {**data, "regimens": out}


def _check_regimen_names(s: Scenario) -> None:
    names = [r.name for r in s.regimens]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise _KeyError(("regimens", i, "name"), f"duplicate regimen name {name!r}")
        if s.control_arm is not None and name == s.control_arm.name:
            raise _KeyError(("regimens", i, "name"), "must differ from control_arm.name")


def _check_design(s: Scenario) -> None:
    d = s.design
    if d in ("parallel", "delayed_start") and len(s.regimens) != 1:
        raise _KeyError(("regimens",), f"a {d} design has exactly one regimen (the active arm)")
    if d in ("parallel", "delayed_start", "platform"):
        for i, r in enumerate(s.regimens):
            if r.allocation[0] == 0 or r.allocation[1] == 0:
                raise _KeyError(
                    ("regimens", i, "allocation"), "needs active > 0 and placebo > 0 per block"
                )
    if d in ("parallel", "delayed_start") and s.control.pool != "own":
        raise _KeyError(("control", "pool"), f"must be 'own' for a {d} design")
    if d == "multi_arm":
        if s.control_arm is None:
            raise _KeyError(("control_arm",), "is required for a multi_arm design")
        for i, r in enumerate(s.regimens):
            if tuple(r.allocation) != (1, 0):
                raise _KeyError(
                    ("regimens", i, "allocation"),
                    "must be [1, 0] in a multi_arm design (use weight and control_arm)",
                )
        if s.control.pool == "own":
            raise _KeyError(("control", "pool"), "cannot be 'own' in a multi_arm design")
    elif s.control_arm is not None:
        raise _KeyError(("control_arm",), "is only used by the multi_arm design")
    if d == "delayed_start":
        r = s.regimens[0]
        if s.schedule.extension_weeks <= 0:
            raise _KeyError(
                ("schedule", "extension_weeks"), "must be > 0 for a delayed_start design"
            )
        if r.placebo_switch_months is None:
            raise _KeyError(
                ("regimens", 0, "placebo_switch_months"),
                "is required for a delayed_start design (when placebo switches to active)",
            )
        if r.placebo_switch_months < s.followup_months - 1e-3:
            raise _KeyError(
                ("regimens", 0, "placebo_switch_months"),
                f"must be >= the randomised follow-up ({s.followup_months:.3g} months)",
            )
    else:
        for i, r in enumerate(s.regimens):
            if r.placebo_switch_months is not None:
                raise _KeyError(
                    ("regimens", i, "placebo_switch_months"),
                    "is only used by the delayed_start design",
                )
    if s.interim is not None:
        largest = max(r.n for r in s.regimens)
        if s.interim.at_n_followed is not None:
            if s.interim.at_n_followed[0] > largest:
                raise _KeyError(("interim", "at_n_followed"), "is larger than every regimen's n")
        elif s.interim.first_n > largest:
            raise _KeyError(("interim", "first_n"), "is larger than every regimen's n")


def _check_generator(s: Scenario) -> None:
    if s.generator == "empirical":
        for i, r in enumerate(s.regimens):
            if r.product.pathway is not None:
                raise _KeyError(
                    ("regimens", i, "product", "pathway"),
                    "needs generator: mechanistic (the empirical model has no pathways)",
                )
        try:
            s.empirical_params()
        except InputError as exc:
            key = exc.where.split(": ")[-1]
            loc = (
                ("population", "overrides", key)
                if key in s.population.overrides
                else ("population", "params", key)
            )
            raise _KeyError(loc, exc.problem) from None
        return
    for i, r in enumerate(s.regimens):
        where = ("regimens", i)
        if r.product.drr != 1.0 or r.product.hr is not None:
            raise _KeyError(
                (*where, "product"),
                "drr/hr apply to the empirical generator; the mechanistic generator uses "
                "product.pathway",
            )
        if r.population_rate_ratio != 1.0:
            raise _KeyError((*where, "population_rate_ratio"), "is not supported (mechanistic)")
        d = r.delivery
        if d.start_months or d.adherence != 1 or d.discontinuation_per_month:
            raise _KeyError(
                (*where, "delivery"),
                "the mechanistic generator supports only adherence_probability",
            )
        if r.placebo_switch_months is not None:
            raise _KeyError((*where, "placebo_switch_months"), "is not supported (mechanistic)")
        if r.product.subgroup is not None and r.product.subgroup.decline_per_month is not None:
            raise _KeyError(
                (*where, "product", "subgroup", "decline_per_month"),
                "is not defined for the mechanistic generator",
            )
    if s.eligibility.decline_per_month is not None:
        raise _KeyError(
            ("eligibility", "decline_per_month"), "is not defined for the mechanistic generator"
        )
    if s.eligibility.lead_in is not None:
        raise _KeyError(("eligibility", "lead_in"), "is not supported (mechanistic)")


# ------------------------------------------------------------------------------------------------
# Errors and loading
# ------------------------------------------------------------------------------------------------


class _KeyError(ValueError):
    """A cross-field error with its own key path (converted to InputError by the loader)."""

    def __init__(self, loc: tuple, problem: str) -> None:
        self.loc = loc
        self.problem = problem
        super().__init__(problem)


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(scenario)"


def _message(err: dict[str, Any]) -> str:
    kind, ctx, value = err.get("type", ""), err.get("ctx") or {}, err.get("input")
    got = f", got {value!r}" if not isinstance(value, dict | list) else ""
    if kind == "greater_than":
        return f"must be > {ctx['gt']}{got}"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}{got}"
    if kind == "less_than":
        return f"must be < {ctx['lt']}{got}"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']}{got}"
    if kind == "extra_forbidden":
        return "is not an allowed key (check the spelling; see docs/trial-engine.md)"
    if kind == "missing":
        return "is missing"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{got}"
    msg = str(err.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return f"{msg}{got}" if kind.endswith(("_type", "_parsing")) else msg


def _strip_loc(loc: tuple) -> tuple:
    # pydantic adds the union/tagged member or "function-after[...]" to some locations
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p and "]" in p)))


def validate_scenario(data: dict, source: str = "scenario") -> Scenario:
    """Validate a scenario mapping; :class:`InputError` names ``source`` and the key path."""
    if not isinstance(data, dict):
        raise InputError(source, "must be a mapping of scenario keys (YAML), got a list or value")
    try:
        return Scenario(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        original = (err.get("ctx") or {}).get("error")
        if isinstance(original, _KeyError):
            raise InputError(f"{source}: {_path(original.loc)}", original.problem) from None
        loc = _strip_loc(tuple(err["loc"]))
        raise InputError(f"{source}: {_path(loc)}", _message(err)) from None
    except _KeyError as exc:  # raised outside pydantic's wrapping
        raise InputError(f"{source}: {_path(exc.loc)}", exc.problem) from None


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario YAML file.

    Raises
    ------
    InputError
        Unreadable file, invalid YAML, an unknown or missing key, or an invalid value; the
        message names the file and the key path (``file.yaml: regimens[1].product.drr: ...``).
    """
    path = Path(path)
    data = read_yaml_file(path, "scenario")
    if data is None:
        raise InputError(path.name, "is empty")
    if isinstance(data, dict) and "base_dir" in data:
        raise InputError(f"{path.name}: base_dir", "is not an allowed key")
    scenario = validate_scenario(
        {**data, "base_dir": str(path.parent)} if isinstance(data, dict) else data,
        source=path.name,
    )
    return scenario
