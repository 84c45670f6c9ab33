"""The D50 disease-progression model: a sigmoid ALSFRS-R trajectory per patient.

The D50 model (Jena ALS group; Poesen et al., Neurology 2017;88:2302-2309; Steinbach et al.,
NeuroImage Clin 2020, "Applying the D50 disease progression model to gray and white matter
pathology in ALS"; Dreger et al., Front Neurosci 2021;15:651651) describes the ALSFRS-R total as
a sigmoid decay from 48 at symptom onset::

    ALSFRS-R(t) = 48 / (1 + exp((t - D50) / dx))

with ``t`` the time since symptom onset in months,

* ``D50``: months from onset to the loss of half of the functionality (ALSFRS-R = 24); the
  overall measure of disease aggressiveness;
* ``dx``: the time constant of the decline (months); the slope at ``t = D50`` is
  ``-48 / (4 dx) = -12 / dx`` points per month.

Derived quantities (all follow from the formula; see docs/clinical-d50-cafs-criteria.md):

* inverse: the time to reach a score ``y`` (0 < y < 48) is ``t = D50 + dx ln(48 / y - 1)``;
* relative D50, ``rD50 = t / D50`` (0 at onset, 1 at D50): each patient's position in their own
  disease course ("individual disease covered", Dreger 2021 abstract);
* ``cFS(t)`` (calculated functional state) = the model ALSFRS-R at ``t``;
* ``cFL(t)`` (calculated functional loss) = the local rate of functional loss, defined here as
  the negative time derivative of the curve, in points per month (positive = loss)::

      cFL(t) = -d/dt ALSFRS-R(t) = cFS(t) (48 - cFS(t)) / (48 dx)

  Steinbach et al. name cFS and cFL as local descriptors of disease activity; whether the
  originators use this derivative or a finite difference over an interval is UNCONFIRMED
  (platform choice: the derivative, which equals ``12 / dx`` at D50);
* phases I-IV (early semi-stable, early progressive, late progressive, late semi-stable) on
  rD50, see :data:`D50_PHASE_BOUNDARIES` (boundaries UNCONFIRMED).

Fitting (:func:`fit_d50`) is least squares with bounds (``scipy.optimize.least_squares``,
trust-region reflective), started from a grid like the originators' public code (D50 3-120 months,
dx 1-10 months), keeping the best solution. The published method assumes full function (48) at
symptom onset; :func:`fit_d50` adds the point ``(t = 0, ALSFRS-R = 48)`` as one extra
observation of unit weight when ``anchor_onset=True``. How exactly Poesen 2017 entered the anchor
(weight, fixed vs observed) is UNCONFIRMED.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
from scipy.optimize import least_squares
from scipy.special import expit

from alsim.clinical.alsfrs import TOTAL_MAX
from alsim.errors import InputError

FULL_SCORE = float(TOTAL_MAX)  # 48

#: Phase boundaries on rD50 = t / D50: phase I is [0, 0.5), II [0.5, 1.0), III [1.0, 1.5),
#: IV >= 1.5 (half-open intervals). Phase names: I early semi-stable, II early progressive,
#: III late progressive, IV late semi-stable (Steinbach et al. 2020; Dreger et al. 2021).
#: UNCONFIRMED: the numeric boundaries could not be checked against the methods sections of
#: those papers (only abstracts were reachable). They are symmetric about D50 in time, which is
#: what the sigmoid's shape suggests. If a source scales rD50 so that D50 corresponds to 0.5
#: (boundaries 0.25 / 0.5 / 0.75), the phases in *time* are the same as these.
D50_PHASE_BOUNDARIES: tuple[float, float, float] = (0.5, 1.0, 1.5)
D50_PHASES: tuple[str, str, str, str] = ("I", "II", "III", "IV")
D50_PHASE_NAMES: dict[str, str] = {
    "I": "early semi-stable",
    "II": "early progressive",
    "III": "late progressive",
    "IV": "late semi-stable",
}

#: Default parameter bounds for :func:`fit_d50` (months). Platform choice: wide enough for slow
#: patients (D50 up to 25 years) and steep ones; a fit at a bound is reported as not converged.
D50_BOUNDS_MONTHS: tuple[float, float] = (1.0, 300.0)
DX_BOUNDS_MONTHS: tuple[float, float] = (0.5, 60.0)

#: Multi-start grid (months), in the range of the originators' public R code
#: (``nls_multstart`` with D50 3-120 and dx 1-10).
_D50_STARTS = (3.0, 6.0, 12.0, 24.0, 36.0, 60.0, 90.0, 120.0)
_DX_STARTS = (1.0, 2.0, 3.5, 5.0, 7.5, 10.0)
_N_POLISH = 6  # grid points (lowest cost first) refined with least_squares
_DX_FLAT = 5.0  # dx reported when no decline is observed (not identified)


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------
def _as_float_array(value: Any, where: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(where, f"must be a number or an array of numbers, got {value!r}") from None
    if not np.all(np.isfinite(arr)):
        raise InputError(where, f"must be finite numbers, got {value!r}")
    return arr


def _check_params(d50: Any, dx: Any) -> tuple[np.ndarray, np.ndarray]:
    d50_arr = _as_float_array(d50, "d50")
    dx_arr = _as_float_array(dx, "dx")
    if np.any(d50_arr <= 0):
        raise InputError("d50", f"must be a positive number of months, got {d50!r}")
    if np.any(dx_arr <= 0):
        raise InputError("dx", f"must be a positive number of months, got {dx!r}")
    return d50_arr, dx_arr


def _out(arr: np.ndarray) -> Any:
    return float(arr) if np.ndim(arr) == 0 else arr


# --------------------------------------------------------------------------------------------
# the curve
# --------------------------------------------------------------------------------------------
def d50_curve(t: Any, d50: Any, dx: Any) -> Any:
    """Model ALSFRS-R at ``t`` months since onset: ``48 / (1 + exp((t - d50) / dx))``.

    Parameters
    ----------
    t:
        Months since symptom onset (scalar or array; negative values are before onset).
    d50, dx:
        Model parameters in months, both > 0; broadcast against ``t``.

    Returns
    -------
    float or numpy.ndarray
        Values strictly between 0 and 48 (numerically they may round to 0 or 48 far from D50).
        Computed as ``48 * expit(-(t - d50) / dx)``, which never overflows.
    """
    t_arr = _as_float_array(t, "t")
    d50_arr, dx_arr = _check_params(d50, dx)
    return _out(FULL_SCORE * expit(-(t_arr - d50_arr) / dx_arr))


def time_to_score(score: Any, d50: Any, dx: Any) -> Any:
    """Months since onset at which the D50 curve reaches ``score``: ``d50 + dx ln(48/score - 1)``.

    ``score`` must lie in 0-48. The curve only approaches its ends asymptotically, so a score of
    48 gives ``-inf`` and a score of 0 gives ``+inf``. Scores close to 48 give negative times
    (before onset), which is what the model says: it is not exactly 48 at onset.
    """
    y = _as_float_array(score, "score")
    if np.any((y < 0) | (y > FULL_SCORE)):
        raise InputError("score", f"must lie in 0-48, got {score!r}")
    d50_arr, dx_arr = _check_params(d50, dx)
    with np.errstate(divide="ignore"):
        t = d50_arr + dx_arr * np.log(FULL_SCORE / y - 1.0)
    return _out(t)


def _phase_labels(rd50: np.ndarray) -> Any:
    idx = np.searchsorted(np.asarray(D50_PHASE_BOUNDARIES), rd50, side="right")
    labels = np.asarray(D50_PHASES, dtype=object)[idx]
    return str(labels) if np.ndim(labels) == 0 else labels


# --------------------------------------------------------------------------------------------
# fitted model
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class D50Fit:
    """A fitted D50 model for one patient (see :func:`fit_d50`).

    Attributes
    ----------
    d50_months, dx_months:
        Fitted parameters (months).
    rmse:
        Root-mean-square residual over the observed visits (the onset anchor excluded), points.
    n_visits:
        Number of observed visits used (the anchor not counted).
    converged:
        ``False`` when the optimiser failed or a parameter ended at its bound (then the estimate
        is a limit, not an estimate; e.g. a patient still at 48 has D50 "at least" the bound).
    anchored:
        Whether the onset point ``(0, 48)`` was added to the data.
    message:
        Human-readable note on the fit (why it did not converge, when it did not).
    """

    d50_months: float
    dx_months: float
    rmse: float
    n_visits: int
    converged: bool
    anchored: bool
    message: str = ""

    def __post_init__(self) -> None:
        _check_params(self.d50_months, self.dx_months)
        object.__setattr__(self, "d50_months", float(self.d50_months))
        object.__setattr__(self, "dx_months", float(self.dx_months))

    def predict(self, t: Any) -> Any:
        """Model ALSFRS-R at ``t`` months since onset (same as :meth:`cfs`)."""
        return d50_curve(t, self.d50_months, self.dx_months)

    def cfs(self, t: Any) -> Any:
        """Calculated functional state: the model ALSFRS-R at ``t`` (points)."""
        return self.predict(t)

    def cfl(self, t: Any) -> Any:
        """Calculated functional loss at ``t``: ``-d/dt`` of the curve, points per month.

        ``cFL(t) = cFS(t) (48 - cFS(t)) / (48 dx)``; positive means loss; maximal (``12 / dx``)
        at ``t = D50``. Definition is a platform choice (see module docstring).
        """
        f = np.asarray(self.predict(t), dtype=float)
        return _out(f * (FULL_SCORE - f) / (FULL_SCORE * self.dx_months))

    def rd50(self, t: Any) -> Any:
        """Relative D50, ``t / D50`` (0 at onset, 1 at D50; unitless)."""
        t_arr = _as_float_array(t, "t")
        return _out(t_arr / self.d50_months)

    def phase(self, t: Any) -> Any:
        """D50 phase ``"I"``-``"IV"`` at ``t`` months since onset.

        Boundaries on rD50 are :data:`D50_PHASE_BOUNDARIES` (half-open intervals).

        Returns a string for a scalar ``t`` and an object array of strings otherwise. ``t`` must be
        >= 0 (the phases start at onset).
        """
        t_arr = _as_float_array(t, "t")
        if np.any(t_arr < 0):
            raise InputError("t", f"phases start at onset: t must be >= 0 months, got {t!r}")
        return _phase_labels(t_arr / self.d50_months)

    @property
    def slope_at_d50(self) -> float:
        """Slope of the curve at ``t = D50``: ``-12 / dx`` points per month."""
        return -FULL_SCORE / (4.0 * self.dx_months)


# --------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------
def _validate_visits(months_since_onset: Any, totals: Any, anchor: bool) -> tuple[np.ndarray, ...]:
    t = np.asarray(months_since_onset, dtype=object)
    y = np.asarray(totals, dtype=object)
    if t.ndim != 1 or y.ndim != 1:
        raise InputError(
            "months_since_onset/totals", "must be one-dimensional sequences (one value per visit)"
        )
    if t.shape != y.shape:
        raise InputError(
            "months_since_onset/totals",
            f"must have equal lengths, got {t.shape[0]} times and {y.shape[0]} totals",
        )
    t = _as_float_array(t.tolist(), "months_since_onset")
    y = _as_float_array(y.tolist(), "totals")
    if np.any(t <= 0):
        bad = int(np.flatnonzero(t <= 0)[0])
        raise InputError(
            f"months_since_onset[{bad}]",
            f"visits must come after symptom onset (> 0 months), got {t[bad]:g}",
        )
    if np.any((y < 0) | (y > FULL_SCORE)):
        bad = int(np.flatnonzero((y < 0) | (y > FULL_SCORE))[0])
        raise InputError(f"totals[{bad}]", f"must lie in 0-48, got {y[bad]:g}")
    need = 2 if anchor else 3
    if t.size < need:
        raise InputError(
            "totals",
            f"need at least {need} visits to fit D50 "
            f"({'with' if anchor else 'without'} the onset anchor), got {t.size}",
        )
    if np.unique(t).size < 2:
        raise InputError(
            "months_since_onset", "all visits are at the same time; need at least two times"
        )
    return t, y


def fit_d50(
    months_since_onset: Any,
    totals: Any,
    *,
    anchor_onset: bool = True,
    d50_bounds: tuple[float, float] = D50_BOUNDS_MONTHS,
    dx_bounds: tuple[float, float] = DX_BOUNDS_MONTHS,
) -> D50Fit:
    """Fit the D50 model to one patient's ALSFRS-R totals.

    Minimises ``sum_i (48 / (1 + exp((t_i - D50) / dx)) - y_i)^2`` over ``D50`` and ``dx`` within
    the bounds, with ``scipy.optimize.least_squares`` (method ``"trf"``, analytic Jacobian).
    Starts: the cost is evaluated on an 8 x 6 grid (D50 3-120 months, dx 1-10 months), the 6 grid
    points with the lowest cost are refined, and the lowest final cost wins.

    Parameters
    ----------
    months_since_onset:
        Visit times in months since symptom onset, each > 0.
    totals:
        ALSFRS-R totals (0-48), one per visit.
    anchor_onset:
        Add the point ``(0, 48)`` (full function at onset, as the published method assumes) as one
        more observation of unit weight. With it at least 2 visits are needed, without it 3; in
        both cases at least two distinct visit times.
    d50_bounds, dx_bounds:
        Parameter bounds in months (platform defaults :data:`D50_BOUNDS_MONTHS`,
        :data:`DX_BOUNDS_MONTHS`).

    Returns
    -------
    D50Fit
        ``converged`` is ``False`` (with a ``message``) when a parameter ends at a bound, e.g. a
        patient whose totals stay at 48: the D50 is then a lower limit.

    Raises
    ------
    InputError
        Unequal lengths, non-finite values, totals outside 0-48, times <= 0, too few visits, all
        visits at one time, or invalid bounds.
    """
    t_obs, y_obs = _validate_visits(months_since_onset, totals, anchor_onset)
    for name, (lo, hi) in (("d50_bounds", d50_bounds), ("dx_bounds", dx_bounds)):
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
            raise InputError(name, f"need 0 < lower < upper (months), got ({lo}, {hi})")
    if anchor_onset:
        t_fit = np.concatenate(([0.0], t_obs))
        y_fit = np.concatenate(([FULL_SCORE], y_obs))
    else:
        t_fit, y_fit = t_obs, y_obs

    def residuals(p: np.ndarray) -> np.ndarray:
        return FULL_SCORE * expit(-(t_fit - p[0]) / p[1]) - y_fit

    def jacobian(p: np.ndarray) -> np.ndarray:
        z = (t_fit - p[0]) / p[1]
        s = expit(-z)
        common = FULL_SCORE * s * (1.0 - s) / p[1]
        return np.column_stack((common, common * z))

    lower = np.array([d50_bounds[0], dx_bounds[0]])
    upper = np.array([d50_bounds[1], dx_bounds[1]])
    if np.all(y_obs >= FULL_SCORE):
        # No decline observed: the objective is flat (every D50 far enough out fits exactly), so
        # D50 is only bounded below. Report the upper bound, flagged; dx is not identified and is
        # reported as the middle start value.
        dx_flat = float(np.clip(_DX_FLAT, lower[1], upper[1]))
        return D50Fit(
            d50_months=float(upper[0]),
            dx_months=dx_flat,
            rmse=float(np.sqrt(np.mean((d50_curve(t_obs, upper[0], dx_flat) - y_obs) ** 2))),
            n_visits=int(t_obs.size),
            converged=False,
            anchored=bool(anchor_onset),
            message=(
                "all totals are 48 (no decline observed): D50 is set to the upper bound "
                f"({upper[0]:g} months) and is a lower limit, not an estimate; dx is not "
                "identified"
            ),
        )

    # Multi-start: evaluate the cost on the whole grid at once, then polish the best few starts.
    grid = np.clip(np.array(list(product(_D50_STARTS, _DX_STARTS))), lower, upper)
    grid_pred = FULL_SCORE * expit(-(t_fit[None, :] - grid[:, :1]) / grid[:, 1:])
    grid_cost = np.sum((grid_pred - y_fit[None, :]) ** 2, axis=1)
    best = None
    for start in grid[np.argsort(grid_cost, kind="stable")[:_N_POLISH]]:
        res = least_squares(
            residuals, start, jac=jacobian, bounds=(lower, upper), method="trf", x_scale="jac"
        )
        if best is None or res.cost < best.cost - 1e-12:
            best = res
    assert best is not None
    d50_hat, dx_hat = (float(v) for v in best.x)
    rmse = float(np.sqrt(np.mean(residuals(best.x)[-t_obs.size :] ** 2)))

    notes = []
    tol = 1e-6
    if d50_hat >= upper[0] * (1 - tol):
        notes.append(
            f"D50 reached the upper bound ({upper[0]:g} months): no measurable decline, "
            "so D50 is a lower limit, not an estimate"
        )
    if d50_hat <= lower[0] * (1 + tol):
        notes.append(f"D50 reached the lower bound ({lower[0]:g} months)")
    if dx_hat >= upper[1] * (1 - tol):
        notes.append(f"dx reached the upper bound ({upper[1]:g} months)")
    if dx_hat <= lower[1] * (1 + tol):
        notes.append(
            f"dx reached the lower bound ({lower[1]:g} months): the data do not resolve the "
            "shape of the decline"
        )
    if not best.success:
        notes.append(f"optimiser did not converge: {best.message}")
    converged = not notes
    return D50Fit(
        d50_months=d50_hat,
        dx_months=dx_hat,
        rmse=rmse,
        n_visits=int(t_obs.size),
        converged=converged,
        anchored=bool(anchor_onset),
        message="; ".join(notes) if notes else "converged",
    )
