"""ENCALS survival model (Westeneng et al., Lancet Neurol 2018;17:423-33) and the TRICALS profile.

The model predicts the time from **symptom onset** to a composite event (non-invasive ventilation
for more than 23 h/day, tracheostomy, or death) from eight characteristics measured at diagnosis.
It is a Royston-Parmar flexible parametric model on the log cumulative odds scale::

    LP    = sum_k beta_k * x_k                                 (linear predictor)
    s(x)  = g0 + g1 x + g2 v1(x) + g3 v2(x),   x = ln t         (baseline, t in months)
    S(t)  = 1 / (1 + exp(s(ln t) + LP)),        S(0) = 1

with the Royston-Parmar restricted cubic spline basis (knots kmin < k1 < k2 < kmax)::

    v_j(x)   = (x - k_j)+^3 - lambda_j (x - kmin)+^3 - (1 - lambda_j) (x - kmax)+^3
    lambda_j = (kmax - k_j) / (kmax - kmin)

and the transformed predictors (ΔFS in points/month, delay in months, age in years, FVC in %
predicted; binary terms are 0/1)::

    x_ΔFS   = (ΔFS + 0.1)^-0.5
    x_delay = (delay/10)^-0.5 + ln(delay/10)
    x_age   = (age/100)^-2
    x_FVC   = (FVC/100)^-1 + (FVC/100)^-0.5

A higher LP means a worse prognosis. Every coefficient, knot and spline gamma lives in
``alsim/params/encals.toml`` with its source and what it was verified against; the file is read
on first use (never when :mod:`alsim` is imported) and cached. The ``"tricals"`` variant is the
7-predictor TRICALS risk profile (no C9orf72, slightly different betas); it is evaluated on the
same baseline spline (a labelled platform choice: the TRICALS script gives the LP only).

**Risk groups** ("very short" ... "very long") carry the five published group medians, but the
cut-offs that define the groups were not found in any readable source. alsim assigns the group
whose band contains the predicted median, the bands being bounded by the geometric midpoints of
consecutive published medians. This is a *platform choice*, labelled as such in the parameter
file and in ``to_dict()``; see ``docs/prognosis.md``.

Research and education only, not medical advice.
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
import tomllib
import warnings
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from alsim.errors import InputError
from alsim.validation import as_bool

__all__ = [
    "RISK_GROUPS",
    "SURVIVAL_AT_MONTHS",
    "VARIANTS",
    "EncalsExtrapolationWarning",
    "EncalsPredictors",
    "EncalsPrognosis",
    "baseline_spline",
    "conditional_survival",
    "encals_linear_predictor",
    "encals_parameters",
    "encals_prognosis",
    "encals_transforms",
    "risk_group_bands",
]

VARIANTS = ("encals", "tricals")
RISK_GROUPS = ("very short", "short", "intermediate", "long", "very long")
SURVIVAL_AT_MONTHS = (12, 24, 36, 60)

RISK_GROUP_RULE = (
    "platform choice: group = band containing the predicted median; band limits are geometric "
    "midpoints between consecutive published group medians (published cut-offs not found)"
)

# Parameter-file term name -> EncalsPredictors field.
_TERM_FIELD = {
    "delta_fs": "delta_fs",
    "diagnostic_delay": "diagnostic_delay_months",
    "age_onset": "age_onset_years",
    "fvc": "fvc_percent",
    "bulbar_onset": "bulbar_onset",
    "definite_als": "definite_als",
    "ftd": "ftd",
    "c9orf72": "c9orf72",
}


class EncalsExtrapolationWarning(UserWarning):
    """An input lies where the ENCALS model is known to behave against clinical sense."""


# --------------------------------------------------------------------------------------------
# Parameters (lazy, cached)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    name: str
    kind: str  # "fp" (fractional polynomial) or "binary"
    offset: float
    scale: float
    powers: tuple[float, ...]
    beta: dict[str, float]

    def transform(self, value: float) -> float:
        if self.kind == "binary":
            return float(value)
        u = (value + self.offset) / self.scale
        return float(sum(math.log(u) if p == 0 else u**p for p in self.powers))


@dataclass(frozen=True)
class _Params:
    raw: dict[str, Any]
    terms: tuple[_Term, ...]
    gamma: np.ndarray
    knots: np.ndarray
    lambdas: np.ndarray
    horizon_months: float
    group_names: tuple[str, ...]
    group_medians: tuple[float, ...]
    band_limits: tuple[float, ...]  # len(groups) - 1 limits on the predicted median (months)
    guards: dict[str, float]


def _fail(problem: str) -> RuntimeError:
    return RuntimeError(f"alsim/params/encals.toml: {problem}")


@functools.cache
def _params() -> _Params:
    """Read, check and cache ``encals.toml`` (first call only)."""
    text = resources.files("alsim").joinpath("params/encals.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)

    terms = []
    for name, spec in raw["terms"].items():
        if name not in _TERM_FIELD:
            raise _fail(f"unknown term {name!r}")
        for key in ("source", "verified"):
            if not spec.get(key):
                raise _fail(f"term {name!r} has no {key!r}")
        terms.append(
            _Term(
                name=name,
                kind=spec["kind"],
                offset=float(spec.get("offset", 0.0)),
                scale=float(spec.get("scale", 1.0)),
                powers=tuple(float(p) for p in spec.get("powers", ())),
                beta={k: float(v) for k, v in spec["beta"].items()},
            )
        )

    base = raw["baseline"]
    gamma = np.array(base["gamma"], dtype=float)
    knots = np.array(base["knots_log_months"], dtype=float)
    if gamma.size != knots.size or np.any(np.diff(knots) <= 0):
        raise _fail("baseline needs as many gammas as knots and strictly increasing knots")
    kmin, kmax = knots[0], knots[-1]
    lambdas = (kmax - knots[1:-1]) / (kmax - kmin)
    if not np.allclose(lambdas, base["lambda_printed"], atol=5e-7, rtol=0):
        raise _fail(f"lambdas {lambdas} disagree with the printed {base['lambda_printed']}")

    groups = raw["risk_groups"]["group"]
    names = tuple(g["name"] for g in groups)
    medians = tuple(float(g["published_median_months"]) for g in groups)
    if names != RISK_GROUPS:
        raise _fail(f"risk groups must be {RISK_GROUPS}, got {names}")
    if any(b <= a for a, b in itertools.pairwise(medians)):
        raise _fail(f"published group medians must increase strictly, got {medians}")
    if raw["risk_groups"]["boundaries"] != "geometric_midpoint":
        raise _fail("only 'geometric_midpoint' risk-group boundaries are implemented")
    limits = tuple(math.sqrt(a * b) for a, b in itertools.pairwise(medians))

    return _Params(
        raw=raw,
        terms=tuple(terms),
        gamma=gamma,
        knots=knots,
        lambdas=lambdas,
        horizon_months=float(base["median_search_horizon_months"]),
        group_names=names,
        group_medians=medians,
        band_limits=limits,
        guards={k: float(v) for k, v in raw["guards"].items() if k != "verified"},
    )


def encals_parameters() -> dict[str, Any]:
    """The parsed parameter file (a fresh copy): coefficients, baseline, groups, sources."""
    return tomllib.loads(
        resources.files("alsim").joinpath("params/encals.toml").read_text(encoding="utf-8")
    )


def _check_variant(variant: Any) -> str:
    if isinstance(variant, str) and variant.strip().lower() in VARIANTS:
        return variant.strip().lower()
    raise InputError("variant", f"must be one of {', '.join(VARIANTS)}, got {variant!r}")


# --------------------------------------------------------------------------------------------
# Predictors
# --------------------------------------------------------------------------------------------


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise InputError(name, f"must be a number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise InputError(name, f"must be a finite number, got {value!r}")
    return out


def _flag(name: str, value: Any) -> bool:
    return as_bool(value, name, allow_strings=False)


@dataclass(frozen=True)
class EncalsPredictors:
    """The eight ENCALS predictors, measured at diagnosis (or as soon as possible after).

    Parameters
    ----------
    age_onset_years:
        Age at symptom onset, years; 0 < age <= 120.
    delta_fs:
        ΔFS = (48 - ALSFRS-R total) / months from onset, points/month; 0 <= ΔFS <= 48.
    diagnostic_delay_months:
        Months from symptom onset to diagnosis; 0 < delay <= 600. Below 3 months an
        :class:`EncalsExtrapolationWarning` is issued: the delay transform
        ``(d/10)^-0.5 + ln(d/10)`` has its minimum at d = 2.5 months, so below it a shorter delay
        predicts a *better* prognosis, against clinical experience.
    fvc_percent:
        Forced vital capacity, % predicted; 0 < FVC <= 200.
    bulbar_onset, definite_als, ftd, c9orf72:
        Bulbar site of onset; definite ALS by the revised El Escorial criteria (vs probable or
        possible); frontotemporal dementia; C9orf72 repeat expansion (ignored by the TRICALS
        variant). ``True``/``False`` (or 1/0).

    Raises
    ------
    InputError
        Naming the field, for a missing (NaN), non-numeric, non-positive or implausible value.
    """

    age_onset_years: float
    delta_fs: float
    diagnostic_delay_months: float
    fvc_percent: float
    bulbar_onset: bool
    definite_als: bool
    ftd: bool
    c9orf72: bool

    def __post_init__(self) -> None:
        g = _params().guards
        age = _real("age_onset_years", self.age_onset_years)
        if not 0 < age <= g["age_onset_max_years"]:
            raise InputError(
                "age_onset_years",
                f"must be > 0 and <= {g['age_onset_max_years']:g} years, got {age:g}",
            )
        dfs = _real("delta_fs", self.delta_fs)
        if not 0 <= dfs <= g["delta_fs_max_points_per_month"]:
            raise InputError(
                "delta_fs",
                f"must be >= 0 and <= {g['delta_fs_max_points_per_month']:g} points/month "
                f"(positive = decline), got {dfs:g}",
            )
        delay = _real("diagnostic_delay_months", self.diagnostic_delay_months)
        if not 0 < delay <= g["diagnostic_delay_max_months"]:
            raise InputError(
                "diagnostic_delay_months",
                f"must be > 0 and <= {g['diagnostic_delay_max_months']:g} months, got {delay:g}",
            )
        fvc = _real("fvc_percent", self.fvc_percent)
        if not 0 < fvc <= g["fvc_max_percent"]:
            raise InputError(
                "fvc_percent",
                f"must be > 0 and <= {g['fvc_max_percent']:g} % predicted, got {fvc:g}",
            )
        for name, value in (
            ("age_onset_years", age),
            ("delta_fs", dfs),
            ("diagnostic_delay_months", delay),
            ("fvc_percent", fvc),
        ):
            object.__setattr__(self, name, value)
        for name in ("bulbar_onset", "definite_als", "ftd", "c9orf72"):
            object.__setattr__(self, name, _flag(name, getattr(self, name)))
        if delay < g["delay_warn_below_months"]:
            warnings.warn(
                f"diagnostic_delay_months = {delay:g} < {g['delay_warn_below_months']:g}: the "
                "ENCALS delay transform has its minimum at "
                f"{g['delay_transform_minimum_months']:g} months, below which a shorter delay "
                "predicts a better prognosis (model extrapolation)",
                EncalsExtrapolationWarning,
                stacklevel=3,
            )

    def to_dict(self) -> dict[str, float | bool]:
        """Plain ``{field: float | bool}`` for JSON."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _predictors(p: Any) -> EncalsPredictors:
    if not isinstance(p, EncalsPredictors):
        raise InputError("predictors", f"must be EncalsPredictors, got {type(p).__name__}")
    return p


def encals_transforms(p: EncalsPredictors) -> dict[str, float]:
    """Transformed predictor values ``x_k`` (before multiplying by the betas).

    Keys are the parameter-file term names: ``delta_fs``, ``diagnostic_delay``, ``age_onset``,
    ``fvc``, ``bulbar_onset``, ``definite_als``, ``ftd``, ``c9orf72``.
    """
    p = _predictors(p)
    return {t.name: t.transform(getattr(p, _TERM_FIELD[t.name])) for t in _params().terms}


def encals_linear_predictor(p: EncalsPredictors, variant: str = "encals") -> float:
    """Linear predictor ``LP = sum_k beta_k x_k`` of the ENCALS model or the TRICALS profile.

    Parameters
    ----------
    p:
        The predictors.
    variant:
        ``"encals"`` (8 predictors, Westeneng 2018) or ``"tricals"`` (7 predictors, no C9orf72).

    Returns
    -------
    float
        LP; higher means a worse prognosis (shorter survival).
    """
    p = _predictors(p)
    v = _check_variant(variant)
    lp = 0.0
    for term in _params().terms:
        beta = term.beta.get(v)
        if beta is not None:
            lp += beta * term.transform(getattr(p, _TERM_FIELD[term.name]))
    return float(lp)


# --------------------------------------------------------------------------------------------
# Baseline spline and survival
# --------------------------------------------------------------------------------------------


def _spline(x: np.ndarray) -> np.ndarray:
    prm = _params()
    g, k, lam = prm.gamma, prm.knots, prm.lambdas
    kmin, kmax = k[0], k[-1]

    def cube(a: float) -> np.ndarray:
        return np.maximum(x - a, 0.0) ** 3

    out = g[0] + g[1] * x
    for j, (kj, lj) in enumerate(zip(k[1:-1], lam, strict=True)):
        out = out + g[j + 2] * (cube(kj) - lj * cube(kmin) - (1.0 - lj) * cube(kmax))
    return out


def baseline_spline(log_t: Any) -> Any:
    """Baseline log cumulative odds ``s(x)`` at ``x = ln t`` (t in months since onset).

    .. math::

        s(x) = \\gamma_0 + \\gamma_1 x + \\sum_{j=1}^{2} \\gamma_{j+1} v_j(x)

        v_j(x) = (x - k_j)_+^3 - \\lambda_j (x - k_{min})_+^3 - (1 - \\lambda_j)(x - k_{max})_+^3

    with ``lambda_j = (kmax - k_j)/(kmax - kmin)``: the Royston-Parmar (flexsurv "rp") natural
    cubic spline, linear below ``kmin`` and above ``kmax``. The public R script omits the cube on
    the ``(x - kmax)+`` term; that only matters beyond exp(kmax) = 371 months, and is corrected
    here.

    Parameters
    ----------
    log_t:
        ``ln(months)``, scalar or array; ``-inf`` (t = 0) is allowed and gives ``-inf``.

    Returns
    -------
    float or numpy.ndarray
        ``s(ln t)``, same shape as the input.
    """
    try:
        x = np.asarray(log_t, dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            "log_t", f"must be a number or an array of numbers, got {log_t!r}"
        ) from None
    if np.any(np.isnan(x) | np.isposinf(x)):
        raise InputError("log_t", "must be finite (or -inf for t = 0); got NaN or +inf")
    with np.errstate(invalid="ignore"):
        out = _spline(x)
    out = np.where(np.isneginf(x), -np.inf, out)
    return float(out) if out.ndim == 0 else out


def _months_array(name: str, t: Any) -> np.ndarray:
    try:
        arr = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            name, f"must be a number of months or an array of them, got {t!r}"
        ) from None
    if np.any(~np.isfinite(arr)) or np.any(arr < 0):
        raise InputError(name, f"must be finite and >= 0 months, got {t!r}")
    return arr


def _survival(lp: float, t: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        x = np.log(t)
    s = np.where(t > 0, _spline(np.where(t > 0, x, 0.0)), -np.inf)
    return expit(-(s + lp))


def _median(lp: float) -> float:
    """Solve S(t) = 0.5, i.e. s(ln t) + LP = 0, for t in months (inf if not reached)."""
    prm = _params()
    kmin = prm.knots[0]
    g0, g1 = prm.gamma[0], prm.gamma[1]
    x_hi = math.log(prm.horizon_months)

    def f(x: float) -> float:
        return float(_spline(np.asarray(x)) + lp)

    if f(kmin) >= 0:  # below kmin the spline is linear: g0 + g1 x
        return math.exp(-(g0 + lp) / g1)
    if f(x_hi) < 0:
        return math.inf
    return math.exp(brentq(f, kmin, x_hi, xtol=1e-12, rtol=1e-12))


def risk_group_bands() -> list[dict[str, Any]]:
    """The five risk groups with their band on the predicted median (months) and LP cut-offs.

    Each entry: ``name``, ``published_median_months``, ``lower_months``, ``upper_months``
    (band ``[lower, upper)``), ``lp_upper``/``lp_lower`` (equivalent LP limits on the ENCALS
    baseline: the median rises as LP falls). The bands are a **platform choice**.
    """
    prm = _params()
    lows = (0.0, *prm.band_limits)
    highs = (*prm.band_limits, math.inf)
    bands = []
    for name, med, lo, hi in zip(prm.group_names, prm.group_medians, lows, highs, strict=True):
        # median >= lo  <=>  LP <= -s(ln lo);   median < hi  <=>  LP > -s(ln hi)
        lp_upper = math.inf if lo == 0 else -float(_spline(np.asarray(math.log(lo))))
        lp_lower = -math.inf if math.isinf(hi) else -float(_spline(np.asarray(math.log(hi))))
        bands.append(
            {
                "name": name,
                "published_median_months": med,
                "lower_months": lo,
                "upper_months": hi,
                "lp_upper": lp_upper,
                "lp_lower": lp_lower,
            }
        )
    return bands


def _risk_group(median_months: float) -> tuple[str, float]:
    prm = _params()
    idx = int(np.searchsorted(np.asarray(prm.band_limits), median_months, side="right"))
    return prm.group_names[idx], prm.group_medians[idx]


@dataclass(frozen=True)
class EncalsPrognosis:
    """A patient's ENCALS prediction. Build it with :func:`encals_prognosis`.

    Attributes
    ----------
    predictors:
        The inputs.
    variant:
        ``"encals"`` or ``"tricals"``.
    linear_predictor:
        LP (higher = worse).
    median_months:
        Predicted median time from **symptom onset** to the composite event, months: the t with
        S(t) = 0.5. ``math.inf`` when S stays above 0.5 up to the 600-month search horizon
        (``None`` in :meth:`to_dict`).
    risk_group:
        ``"very short"``, ``"short"``, ``"intermediate"``, ``"long"`` or ``"very long"``:
        the band containing ``median_months`` (platform rule; see :func:`risk_group_bands`).
    risk_group_median_months:
        The published median of that group.
    """

    predictors: EncalsPredictors
    variant: str
    linear_predictor: float
    median_months: float
    risk_group: str
    risk_group_median_months: float

    def survival(self, t_months: Any) -> Any:
        """Probability of being event-free at ``t_months`` after symptom onset.

        ``S(t) = 1 / (1 + exp(s(ln t) + LP))``, with ``S(0) = 1``. Vectorised: returns a float
        for a scalar and an array for an array. Raises :class:`InputError` for negative, NaN or
        infinite times.
        """
        t = _months_array("t_months", t_months)
        out = _survival(self.linear_predictor, t)
        return float(out) if out.ndim == 0 else out

    @property
    def survival_at(self) -> dict[int, float]:
        """``{12: S(12), 24: S(24), 36: S(36), 60: S(60)}`` (months since onset)."""
        values = _survival(self.linear_predictor, np.asarray(SURVIVAL_AT_MONTHS, dtype=float))
        return {m: float(v) for m, v in zip(SURVIVAL_AT_MONTHS, values, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of plain floats, bools, strings and ``None``."""
        return {
            "model": "ENCALS (Westeneng et al., Lancet Neurol 2018)",
            "doi": "10.1016/S1474-4422(18)30089-9",
            "variant": self.variant,
            "predictors": self.predictors.to_dict(),
            "linear_predictor": float(self.linear_predictor),
            "time_origin": "symptom onset",
            "time_unit": "months",
            "median_months": None if math.isinf(self.median_months) else float(self.median_months),
            "risk_group": self.risk_group,
            "risk_group_median_months": float(self.risk_group_median_months),
            "risk_group_rule": RISK_GROUP_RULE,
            "survival_at": {str(m): s for m, s in self.survival_at.items()},
        }


def encals_prognosis(p: EncalsPredictors, variant: str = "encals") -> EncalsPrognosis:
    """Evaluate the ENCALS model (or the TRICALS profile on the ENCALS baseline) for a patient.

    Parameters
    ----------
    p:
        The predictors.
    variant:
        ``"encals"`` (default) or ``"tricals"``.

    Returns
    -------
    EncalsPrognosis
        LP, survival curve, median (brentq on ``s(ln t) + LP = 0``) and risk group.

    Examples
    --------
    >>> p = EncalsPredictors(60, 0.5, 12, 90, False, False, False, False)
    >>> round(encals_prognosis(p).median_months, 1)
    38.1
    """
    p = _predictors(p)
    v = _check_variant(variant)
    lp = encals_linear_predictor(p, v)
    median = _median(lp)
    group, group_median = _risk_group(median)
    return EncalsPrognosis(
        predictors=p,
        variant=v,
        linear_predictor=lp,
        median_months=median,
        risk_group=group,
        risk_group_median_months=group_median,
    )


def conditional_survival(prog: EncalsPrognosis, t_now_months: Any, t_months: Any) -> Any:
    """Survival to ``t_months`` given event-free survival to ``t_now_months`` (both from onset).

    ``P(T > t | T > t_now) = S(t) / S(t_now)`` for ``t >= t_now``, and 1 for ``t <= t_now``.
    The model's time origin is symptom onset while a patient is usually seen later, so this is
    the curve to show a patient who is event-free today.

    Parameters
    ----------
    prog:
        A prediction from :func:`encals_prognosis`.
    t_now_months:
        Months from onset to now (scalar, >= 0).
    t_months:
        Months from onset (scalar or array, >= 0).

    Returns
    -------
    float or numpy.ndarray
        Values in [0, 1].
    """
    if not isinstance(prog, EncalsPrognosis):
        raise InputError("prog", f"must be EncalsPrognosis, got {type(prog).__name__}")
    t_now = _months_array("t_now_months", t_now_months)
    if t_now.ndim != 0:
        raise InputError("t_now_months", f"must be a single number of months, got {t_now_months!r}")
    t = _months_array("t_months", t_months)
    s_now = float(_survival(prog.linear_predictor, t_now))
    if s_now <= 0.0:
        raise InputError("t_now_months", "the model gives S(t_now) = 0; conditioning undefined")
    ratio = np.minimum(_survival(prog.linear_predictor, t) / s_now, 1.0)
    out = np.where(t <= t_now, 1.0, ratio)
    return float(out) if out.ndim == 0 else out
