r"""PRO-ACT-like empirical natural history of ALS trial participants, vectorised over trials.

A statistical (not mechanistic) model of the quantities an ALS trial measures: the ALSFRS-R
total score at scheduled visits, death or permanent assisted ventilation (PAV), and dropout.
Every array has leading dimensions ``(n_rep, n_patients[, n_visits])``: ``n_rep`` simulated
trials of ``n_patients`` each, drawn at once without per-patient or per-trial Python loops.

Model (time ``t`` in months from randomisation; patient ``i``)
---------------------------------------------------------------

.. math::

    a_i &= \mu_a + \sigma_a z_{ai}                                  && \text{baseline score}\\
    \log b_i &= \mu_b + \sigma_b\,(\rho z_{ai} + \sqrt{1-\rho^2}\, z_{bi}) && \text{decline rate}\\
    L_i(t) &= b_i\,[\min(t, s) + r_i \max(t - s, 0)]                  && \text{points lost}\\
    Y_{ij} &= \operatorname{clip}(\operatorname{round}(a_i - L_i(t_j) + \sigma_e \varepsilon_{ij}), 0, 48)\\
    h_i(t) &= \lambda_D \frac{(b_i\, r_i(t))^{\gamma}}{E[b^{\gamma}]}\, \mathrm{HR}_i(t)
             && \text{death/PAV hazard (shared parameter)}\\
    T^D_i &= H_i^{-1}(E^D_i), \quad T^O_i = E^O_i / \lambda_O           && \text{event and dropout}

with :math:`z, \varepsilon \sim N(0, 1)` and :math:`E \sim \mathrm{Exp}(1)` independent. The
log-normal decline rate has mean ``decline_mean_per_month`` = :math:`m` and SD
``decline_sd_per_month`` = :math:`s`: :math:`\sigma_b^2 = \log(1 + s^2/m^2)`,
:math:`\mu_b = \log m - \sigma_b^2/2`, and :math:`E[b^\gamma] = \exp(\gamma\mu_b + \gamma^2
\sigma_b^2/2)`, so ``death_hazard_per_month`` is the population-mean hazard at baseline.
:math:`r_i = 1` except for treated patients under a :class:`SlopeEffect` (ratio ``r`` from
``start_months`` = :math:`s`); :math:`\mathrm{HR}_i(t)` is 1 except under a :class:`HazardEffect`.
:math:`H_i` is the cumulative hazard (piecewise linear: the hazard is piecewise constant), so the
event time is an exact inverse-CDF draw, not a time-stepped one.

A visit at :math:`t_j` is observed when :math:`t_j < \min(T^D_i, T^O_i)`; later visits are NaN.
The baseline visit (:math:`t = 0`) is always observed.

Common random numbers
---------------------
The draws :math:`z_a, z_b, \varepsilon, E^D, E^O` do not depend on the arm or on the effect: a
patient's placebo and treated worlds share every draw, and differ only through :math:`r_i` and
:math:`\mathrm{HR}_i`. Because the event time is a monotone transform of the same
:math:`E^D_i`, a beneficial effect can only postpone a patient's event.

Random streams
--------------
One :class:`numpy.random.SeedSequence` per named decision (``baseline``, ``slope``, ``noise``,
``death``, ``dropout``) and per block of :data:`REP_BLOCK` replicates, with spawn key
``(crc32("empirical/<decision>"), block)``. A block is always drawn in full, so a replicate's
numbers depend only on the seed, its index and ``n_patients`` (and ``n_visits`` for the noise),
not on ``n_rep`` or on how replicates are chunked (``first_rep``). Patients are drawn
patient-major, so adding patients leaves the first ones unchanged.

Parameters and sources: ``alsim/params/empirical.toml``; equations and discussion:
``docs/empirical-model.md``. Research and education only, not medical advice.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alsim.errors import InputError
from alsim.fileio import read_toml_file
from alsim.rng import stream_key

__all__ = [
    "DECISIONS",
    "REP_BLOCK",
    "SCORE_MAX",
    "EmpiricalParams",
    "HazardEffect",
    "SlopeEffect",
    "decision_draws",
    "load_empirical_params",
    "simulate_empirical",
]

#: Replicates per random-number block (blocks are always drawn in full).
REP_BLOCK = 32
#: Named random decisions, one stream each.
DECISIONS = ("baseline", "slope", "noise", "death", "dropout")
#: ALSFRS-R range.
SCORE_MIN, SCORE_MAX = 0, 48

DEFAULT_FILE = "empirical.toml"
_STATUSES = ("confirmed", "partial", "UNCONFIRMED", "derived", "assumed")


# ------------------------------------------------------------------------------------------------
# Parameters
# ------------------------------------------------------------------------------------------------


class EmpiricalParams(BaseModel):
    """Validated, frozen parameter set of the empirical model (units in the field names).

    Build one with :func:`load_empirical_params`, or directly with keyword arguments (every
    field has the packaged default's meaning; see ``params/empirical.toml``). Invalid values raise
    :class:`~alsim.errors.InputError` naming the field. :meth:`replace` returns a validated copy.

    Attributes
    ----------
    intercept_mean, intercept_sd:
        Mean and SD of the true baseline ALSFRS-R :math:`a_i` (points).
    decline_mean_per_month, decline_sd_per_month:
        Mean and SD of the log-normal decline rate :math:`b_i` (points lost per month, > 0).
    intercept_decline_corr:
        Correlation :math:`\\rho` of :math:`z_a` with :math:`\\log b_i` (Gaussian copula).
    residual_sd:
        SD :math:`\\sigma_e` of the visit-level measurement error (points, before rounding).
    death_hazard_per_month:
        Population-mean hazard :math:`\\lambda_D` of death or PAV at baseline (1/month).
    death_decline_exponent:
        :math:`\\gamma`, the elasticity of the death hazard to the decline rate.
    dropout_hazard_per_month:
        Constant dropout hazard :math:`\\lambda_O` (1/month), independent of disease and arm.
    provenance:
        Per field: unit, status, source (and note/derivation) from the parameter file.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    intercept_mean: float = Field(ge=SCORE_MIN, le=SCORE_MAX)
    intercept_sd: float = Field(ge=0, le=48)
    decline_mean_per_month: float = Field(gt=0, le=48)
    decline_sd_per_month: float = Field(ge=0, le=48)
    intercept_decline_corr: float = Field(ge=-1, le=1)
    residual_sd: float = Field(ge=0, le=48)
    death_hazard_per_month: float = Field(ge=0, le=10)
    death_decline_exponent: float = Field(ge=0, le=10)
    dropout_hazard_per_month: float = Field(ge=0, le=10)
    provenance: dict[str, dict[str, Any]] = Field(default_factory=dict, repr=False)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(parameters)"
            raise InputError(where, first["msg"]) from None

    @model_validator(mode="after")
    def _finite(self):
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{name} must be finite")
        return self

    def replace(self, **changes: Any) -> EmpiricalParams:
        """A validated copy with some values changed (``provenance`` of changed keys dropped)."""
        data = self.model_dump()
        unknown = set(changes) - set(data)
        if unknown:
            raise InputError(sorted(unknown)[0], "is not a parameter of the empirical model")
        data.update(changes)
        data["provenance"] = {k: v for k, v in self.provenance.items() if k not in changes}
        return EmpiricalParams(**data)

    @property
    def log_decline_mu(self) -> float:
        """:math:`\\mu_b`, the mean of :math:`\\log b_i`."""
        return math.log(self.decline_mean_per_month) - 0.5 * self.log_decline_sigma**2

    @property
    def log_decline_sigma(self) -> float:
        """:math:`\\sigma_b`, the SD of :math:`\\log b_i`."""
        cv = self.decline_sd_per_month / self.decline_mean_per_month
        return math.sqrt(math.log1p(cv * cv))

    @property
    def decline_median_per_month(self) -> float:
        """Median decline rate :math:`e^{\\mu_b}` (points/month)."""
        return math.exp(self.log_decline_mu)

    def mean_decline_power(self, gamma: float | None = None) -> float:
        """:math:`E[b^\\gamma] = \\exp(\\gamma\\mu_b + \\gamma^2\\sigma_b^2/2)` (default: own gamma)."""
        g = self.death_decline_exponent if gamma is None else gamma
        return math.exp(g * self.log_decline_mu + 0.5 * (g * self.log_decline_sigma) ** 2)


def _parse_params(data: dict[str, Any], source: str) -> EmpiricalParams:
    fields = [f for f in EmpiricalParams.model_fields if f != "provenance"]
    values: dict[str, Any] = {}
    provenance: dict[str, dict[str, Any]] = {}
    unknown = sorted(set(data) - set(fields) - {"meta"})
    if unknown:
        raise InputError(f"{source}: {unknown[0]}", "is not a parameter of the empirical model")
    for name in fields:
        where = f"{source}: {name}"
        if name not in data:
            raise InputError(where, "is missing")
        entry = data[name]
        if not isinstance(entry, dict):
            raise InputError(where, "must be a table with value, unit, status and source")
        extra = sorted(set(entry) - {"value", "unit", "status", "source", "note", "derivation"})
        if extra:
            raise InputError(f"{where}.{extra[0]}", "is not an allowed key")
        for key in ("value", "unit", "status", "source"):
            if key not in entry:
                raise InputError(f"{where}.{key}", "is missing")
        if entry["status"] not in _STATUSES:
            raise InputError(f"{where}.status", f"must be one of {_STATUSES}")
        if not entry["source"]:
            raise InputError(f"{where}.source", "must name where the value comes from")
        value = entry["value"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{where}.value", f"must be a number, got {value!r}")
        values[name] = float(value)
        provenance[name] = {k: v for k, v in entry.items() if k != "value"}
    try:
        return EmpiricalParams(**values, provenance=provenance)
    except InputError as exc:
        raise InputError(f"{source}: {exc.where}", exc.problem) from None


def load_empirical_params(path: str | Path | None = None) -> EmpiricalParams:
    """Load and validate an empirical-model parameter file.

    Parameters
    ----------
    path:
        A TOML file laid out like the packaged ``params/empirical.toml`` (one table per
        parameter with ``value``, ``unit``, ``status``, ``source``). ``None`` loads the packaged
        file (cached).

    Raises
    ------
    InputError
        Unreadable file, invalid TOML, a missing or unknown key, or an out-of-range value; the
        message names the file and the key.
    """
    if path is None:
        return _default_params()
    path = Path(path)
    return _parse_params(read_toml_file(path), source=path.name)


@functools.cache
def _default_params() -> EmpiricalParams:
    text = resources.files("alsim.params").joinpath(DEFAULT_FILE).read_text(encoding="utf-8")
    return _parse_params(tomllib.loads(text), source=DEFAULT_FILE)


# ------------------------------------------------------------------------------------------------
# Treatment effects
# ------------------------------------------------------------------------------------------------


def _check_number(where: str, value: Any, *, lo: float, hi: float, lo_open: bool = False):
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise InputError(where, f"must be a number, got {value!r}")
    value = float(value)
    bad_lo = value <= lo if lo_open else value < lo
    if not math.isfinite(value) or bad_lo or value > hi:
        bracket = "(" if lo_open else "["
        raise InputError(where, f"must be in {bracket}{lo:g}, {hi:g}], got {value!r}")
    return value


@dataclass(frozen=True)
class SlopeEffect:
    """Multiply the decline rate of treated patients (``arm == 1``) by ``ratio`` from ``start_months``.

    ``ratio`` is the disease-rate ratio (DRR): 0.75 is 25% slowing, 1 no effect, > 1 harm.
    With ``acts_on_survival`` (default) the death/PAV hazard follows the slower rate,
    :math:`h \\to h\\, r^{\\gamma}` (the shared-parameter reading of a DRR, as in HEALEY); set it
    to False for a purely functional effect.
    """

    ratio: float
    start_months: float = 0.0
    acts_on_survival: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "ratio", _check_number("SlopeEffect.ratio", self.ratio, lo=0, hi=10)
        )
        object.__setattr__(
            self,
            "start_months",
            _check_number("SlopeEffect.start_months", self.start_months, lo=0, hi=1200),
        )
        if not isinstance(self.acts_on_survival, bool | np.bool_):
            raise InputError("SlopeEffect.acts_on_survival", "must be True or False")


@dataclass(frozen=True)
class HazardEffect:
    """Multiply the death/PAV hazard of treated patients by ``hr`` from ``start_months``."""

    hr: float
    start_months: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "hr", _check_number("HazardEffect.hr", self.hr, lo=0, hi=100, lo_open=True)
        )
        object.__setattr__(
            self,
            "start_months",
            _check_number("HazardEffect.start_months", self.start_months, lo=0, hi=1200),
        )


Effect = SlopeEffect | HazardEffect


def _effects(
    effect: Effect | Iterable[Effect] | None,
) -> tuple[list[SlopeEffect], list[HazardEffect]]:
    if effect is None:
        items: list[Any] = []
    elif isinstance(effect, SlopeEffect | HazardEffect):
        items = [effect]
    elif isinstance(effect, Iterable) and not isinstance(effect, str | bytes):
        items = list(effect)
    else:
        raise InputError(
            "effect", f"must be a SlopeEffect, a HazardEffect or a list of them, got {effect!r}"
        )
    slopes = [e for e in items if isinstance(e, SlopeEffect)]
    hazards = [e for e in items if isinstance(e, HazardEffect)]
    if len(slopes) + len(hazards) != len(items):
        raise InputError("effect", "must contain only SlopeEffect and HazardEffect objects")
    if len(slopes) > 1 or len(hazards) > 1:
        raise InputError("effect", "at most one SlopeEffect and one HazardEffect")
    return slopes, hazards


# ------------------------------------------------------------------------------------------------
# Random streams
# ------------------------------------------------------------------------------------------------


def _entropy(seed: Any) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(
            "seed", f"must be a non-negative integer, a numpy Generator or None, got {seed!r}"
        )
    return int(seed)


def decision_draws(
    entropy: int,
    decision: str,
    first_rep: int,
    n_rep: int,
    per_rep_shape: tuple[int, ...],
    method: str,
) -> np.ndarray:
    """Draws of one named decision for replicates ``first_rep .. first_rep + n_rep``.

    Each block of :data:`REP_BLOCK` replicates has its own generator, seeded by
    ``SeedSequence(entropy, spawn_key=(crc32("empirical/" + decision), block))`` and always drawn
    in full as ``per_rep_shape + (REP_BLOCK,)`` (patient-major), then moved to the front.

    Returns
    -------
    ndarray of shape ``(n_rep, *per_rep_shape)``.
    """
    key = stream_key(f"empirical/{decision}")
    first_block, last_block = first_rep // REP_BLOCK, (first_rep + n_rep - 1) // REP_BLOCK
    parts = []
    for block in range(first_block, last_block + 1):
        seq = np.random.SeedSequence(entropy=entropy, spawn_key=(key, block))
        gen = np.random.Generator(np.random.PCG64(seq))
        draw = getattr(gen, method)(size=(*per_rep_shape, REP_BLOCK))
        parts.append(np.moveaxis(draw, -1, 0))
    out = np.concatenate(parts, axis=0)
    offset = first_rep - first_block * REP_BLOCK
    return out[offset : offset + n_rep]


# ------------------------------------------------------------------------------------------------
# Simulation
# ------------------------------------------------------------------------------------------------


def _check_count(where: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(where, f"must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _visits(visit_months: Any) -> np.ndarray:
    t = np.asarray(visit_months, dtype=float)
    if t.ndim != 1 or t.size == 0:
        raise InputError("visit_months", "must be a non-empty 1-D list of times (months)")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise InputError("visit_months", "must be finite and non-negative")
    if np.any(np.diff(t) <= 0):
        raise InputError("visit_months", "must be strictly increasing")
    return t


def _arms(arm: Any, n_rep: int, n_patients: int) -> np.ndarray:
    if arm is None:
        return np.zeros((n_rep, n_patients), dtype=np.int8)
    a = np.asarray(arm)
    if a.shape not in ((n_patients,), (n_rep, n_patients)):
        raise InputError(
            "arm", f"must have shape ({n_patients},) or ({n_rep}, {n_patients}), got {a.shape}"
        )
    if a.dtype.kind == "b":
        a = a.astype(np.int8)
    if a.dtype.kind not in "iuf" or not np.all(np.isin(a, (0, 1))):
        raise InputError("arm", "must contain only 0 (control) and 1 (treated)")
    return np.broadcast_to(a.astype(np.int8), (n_rep, n_patients))


def _piecewise_event_time(
    exp_draw: np.ndarray, breaks: np.ndarray, rates: np.ndarray
) -> np.ndarray:
    """Invert a piecewise-constant hazard: the time at which the cumulative hazard hits ``exp_draw``.

    ``breaks`` (K,) increasing change points > 0; ``rates`` (..., K + 1) hazard on
    ``[0, b_1), [b_1, b_2), ..., [b_K, inf)``. Zero hazard everywhere gives ``inf``.
    """
    edges = np.concatenate(([0.0], breaks))  # segment starts
    widths = np.diff(np.concatenate((edges, [np.inf])))
    with np.errstate(invalid="ignore"):
        seg_h = np.where(np.isfinite(widths), rates * widths, np.inf)  # hazard per segment
    seg_h = np.where(rates == 0, 0.0, seg_h)
    cum_before = np.concatenate(
        (np.zeros((*rates.shape[:-1], 1)), np.cumsum(seg_h, axis=-1)[..., :-1]), axis=-1
    )
    # segment k holds the event if cum_before[k] <= E < cum_before[k] + seg_h[k]
    inside = (exp_draw[..., None] >= cum_before) & (exp_draw[..., None] < cum_before + seg_h)
    with np.errstate(divide="ignore", invalid="ignore"):
        cand = edges + (exp_draw[..., None] - cum_before) / rates
    cand = np.where(inside & (rates > 0), cand, np.inf)
    return cand.min(axis=-1)


def simulate_empirical(
    n_rep: int,
    n_patients: int,
    visit_months: Sequence[float] | np.ndarray,
    seed: int | np.random.Generator | None,
    *,
    params: EmpiricalParams | None = None,
    arm: Any = None,
    effect: Effect | Iterable[Effect] | None = None,
    followup_months: float | None = None,
    first_rep: int = 0,
) -> dict[str, np.ndarray]:
    """Simulate ``n_rep`` trials of ``n_patients`` ALS patients from randomisation.

    Parameters
    ----------
    n_rep, n_patients:
        Number of simulated trials and of patients per trial (>= 1).
    visit_months:
        Scheduled visit times in months from randomisation, strictly increasing, >= 0 (e.g.
        ``np.arange(7) * 4 * 12 / 52`` for visits every 4 weeks to week 24).
    seed:
        Non-negative integer (reproducible), a :class:`numpy.random.Generator` (one integer is
        drawn from it) or None (fresh entropy).
    params:
        Model parameters (default: :func:`load_empirical_params`).
    arm:
        0 (control) / 1 (treated) per patient, shape ``(n_patients,)`` or
        ``(n_rep, n_patients)``; default all control. The arm never changes a random draw.
    effect:
        None, a :class:`SlopeEffect`, a :class:`HazardEffect`, or a list with at most one of each;
        applied to patients with ``arm == 1``.
    followup_months:
        End of follow-up for ``event``/``t_obs_months`` (default: the last visit).
    first_rep:
        Index of the first replicate (for chunked runs: replicates ``first_rep ..
        first_rep + n_rep`` are identical whatever the chunking).

    Returns
    -------
    dict of arrays
        ``alsfrs`` (n_rep, n_patients, n_visits) float: observed ALSFRS-R (integers 0-48), NaN
        at and after death/PAV or dropout;
        ``t_event_months`` (n_rep, n_patients): latent time of death/PAV (may exceed follow-up,
        ``inf`` when the hazard is 0);
        ``t_dropout_months``: latent dropout time (``inf`` without dropout);
        ``event`` bool: death/PAV observed, ``t_event <= min(t_dropout, followup)``;
        ``t_obs_months``: ``min(t_event, t_dropout, followup)``, the survival-analysis time;
        ``slope_true``: the patient's untreated slope :math:`-b_i` (points/month, negative);
        ``intercept_true``: true baseline :math:`a_i`; ``arm`` (int8); ``visit_months``.

    Raises
    ------
    InputError
        On invalid counts, visit times, arms, effects or seed.
    """
    n_rep = _check_count("n_rep", n_rep, 1)
    n_patients = _check_count("n_patients", n_patients, 1)
    first_rep = _check_count("first_rep", first_rep, 0)
    t = _visits(visit_months)
    p = params if params is not None else load_empirical_params()
    if not isinstance(p, EmpiricalParams):
        raise InputError("params", "must be an EmpiricalParams (see load_empirical_params)")
    arms = _arms(arm, n_rep, n_patients)
    slopes, hazards = _effects(effect)
    if followup_months is None:
        followup = float(t[-1])
    else:
        followup = _check_number("followup_months", followup_months, lo=0, hi=1e6)
    entropy = _entropy(seed)

    def draws(decision: str, shape: tuple[int, ...], method: str) -> np.ndarray:
        return decision_draws(entropy, decision, first_rep, n_rep, shape, method)

    z_a = draws("baseline", (n_patients,), "standard_normal")
    z_b = draws("slope", (n_patients,), "standard_normal")
    eps = draws("noise", (n_patients, t.size), "standard_normal")
    e_death = draws("death", (n_patients,), "standard_exponential")
    e_drop = draws("dropout", (n_patients,), "standard_exponential")

    rho = p.intercept_decline_corr
    intercept = p.intercept_mean + p.intercept_sd * z_a
    log_b = p.log_decline_mu + p.log_decline_sigma * (rho * z_a + math.sqrt(1 - rho * rho) * z_b)
    decline = np.exp(log_b)
    treated = arms == 1

    # --- ALSFRS-R: points lost by visit time, slowed after the slope effect starts
    if slopes:
        se = slopes[0]
        ratio = np.where(treated, se.ratio, 1.0)[..., None]
        exposure = np.minimum(t, se.start_months) + ratio * np.maximum(t - se.start_months, 0.0)
    else:
        exposure = np.broadcast_to(t, (n_rep, n_patients, t.size))
    latent = intercept[..., None] - decline[..., None] * exposure + p.residual_sd * eps
    alsfrs = np.clip(np.rint(latent), SCORE_MIN, SCORE_MAX)

    # --- death/PAV: piecewise-constant hazard with change points at the effect start times
    base_h = p.death_hazard_per_month * decline**p.death_decline_exponent / p.mean_decline_power()
    starts = {e.start_months for e in slopes if e.acts_on_survival}
    starts |= {e.start_months for e in hazards}
    breaks = sorted(starts - {0.0})
    edges = np.array([0.0, *breaks])
    mult = np.ones((n_rep, n_patients, edges.size))
    for se in slopes:
        if se.acts_on_survival:
            factor = se.ratio**p.death_decline_exponent
            active = edges >= se.start_months
            mult = np.where(treated[..., None] & active, mult * factor, mult)
    for he in hazards:
        active = edges >= he.start_months
        mult = np.where(treated[..., None] & active, mult * he.hr, mult)
    t_event = _piecewise_event_time(
        e_death, np.asarray(breaks, dtype=float), base_h[..., None] * mult
    )

    if p.dropout_hazard_per_month > 0:
        t_dropout = e_drop / p.dropout_hazard_per_month
    else:
        t_dropout = np.full((n_rep, n_patients), np.inf)

    stop = np.minimum(t_event, t_dropout)
    alsfrs = np.where(t < stop[..., None], alsfrs, np.nan)
    t_obs = np.minimum(stop, followup)
    event = t_event <= np.minimum(t_dropout, followup)
    return {
        "alsfrs": alsfrs,
        "t_event_months": t_event,
        "t_dropout_months": t_dropout,
        "event": event,
        "t_obs_months": t_obs,
        "slope_true": -decline,
        "intercept_true": intercept,
        "arm": np.array(arms),
        "visit_months": t.copy(),
    }
