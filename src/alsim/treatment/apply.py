r"""Per-patient treatment schedules and the empirical outcomes they imply (common random numbers).

Time :math:`t` in months from the patient's randomisation. A patient on treatment from
:math:`s_i` (0 for the active arm; the switch time for a delayed-start placebo patient;
:math:`\infty` for placebo) discontinues at :math:`d_i = s_i + E^S_i/\lambda_s`
(:math:`E^S_i \sim \mathrm{Exp}(1)`; :math:`\infty` when :math:`\lambda_s = 0`). With a product
onset delay :math:`\Delta`, the effect acts on the window

.. math::

    W_i = [e_i, d_i), \qquad e_i = s_i + \Delta

(empty when :math:`e_i \ge d_i`), provided the patient adheres (:math:`U^A_i < p`) and is in the
product's subgroup; otherwise the patient gets no effect. Inside the window the decline rate is
multiplied by :math:`r_i = 1 + f(\mathrm{drr} - 1)` and the death/PAV hazard by
:math:`m_i = r_i^\gamma` (hazard follows the slowing) or :math:`m_i = 1 + f(\mathrm{hr} - 1)`
(explicit hazard ratio), with :math:`f` the adherence fraction.

Empirical outcomes (the model of :mod:`alsim.disease.empirical`, with a per-patient window):

.. math::

    L_i(t) &= b_i\,\bigl[t - (1 - r_i)\,|W_i \cap [0, t)|\bigr]
             && \text{ALSFRS-R points lost by } t\\
    Y_{ij} &= \operatorname{clip}(\operatorname{round}(a_i - L_i(t_j) + \sigma_e\varepsilon_{ij}), 0, 48)\\
    H_i(t) &= h_{0i}\,\bigl[t + (m_i - 1)\,|W_i \cap [0, t)|\bigr],
             \qquad h_{0i} = \lambda_D\, b_i^\gamma / E[b^\gamma]\\
    T^D_i &= H_i^{-1}(E^D_i), \qquad T^O_i = E^O_i/\lambda_O

with :math:`|W \cap [0, t)| = \max(0, \min(t, d_i) - \min(t, e_i))`. :math:`H_i` is piecewise
linear, so :math:`T^D_i` is an exact inverse (:func:`piecewise_event_time`).

**Common random numbers.** :math:`a_i, b_i, \varepsilon_{ij}, E^D_i, E^O_i, U^A_i, E^S_i` are
drawn before allocation and never depend on it. A patient's placebo and treated worlds therefore
coincide for every visit at or before :math:`e_i` and for the event time when
:math:`T^D_i \le e_i`; a patient who is not allocated active (and does not switch) has exactly
the placebo world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alsim.disease.empirical import SCORE_MAX, SCORE_MIN, EmpiricalParams

__all__ = [
    "PatientDraws",
    "TreatmentWindows",
    "empirical_outcomes",
    "piecewise_event_time",
    "treatment_windows",
]


@dataclass(frozen=True)
class PatientDraws:
    """Everything random about patients that an arm cannot change, shape ``(n_rep, n, ...)``.

    ``intercept`` :math:`a_i` (points), ``decline`` :math:`b_i` (points/month, untreated, > 0),
    ``noise`` standard normal per visit ``(n_rep, n, n_visits)``, ``e_death`` and ``e_dropout``
    standard exponential, ``u_adherence`` uniform(0, 1), ``e_discontinuation`` standard
    exponential.
    """

    intercept: np.ndarray
    decline: np.ndarray
    noise: np.ndarray
    e_death: np.ndarray
    e_dropout: np.ndarray
    u_adherence: np.ndarray
    e_discontinuation: np.ndarray


@dataclass(frozen=True)
class TreatmentWindows:
    """Per-patient effect window ``[start, end)`` and multipliers inside it (``(n_rep, n)``).

    ``rate_ratio`` :math:`r_i` multiplies the decline rate, ``hazard_mult`` :math:`m_i` the
    death/PAV hazard; both are 1 for patients without an effect (then the window is irrelevant).
    ``on_treatment_until`` is the discontinuation time :math:`d_i` (``inf`` if never).
    """

    start: np.ndarray
    end: np.ndarray
    rate_ratio: np.ndarray
    hazard_mult: np.ndarray
    on_treatment_until: np.ndarray


def treatment_windows(
    treat_start,
    *,
    drr,
    hr,
    onset_months,
    adherence,
    adherence_probability,
    discontinuation_per_month,
    in_subgroup,
    u_adherence,
    e_discontinuation,
    gamma: float,
) -> TreatmentWindows:
    """Effect windows and multipliers (see the module docstring); every argument broadcasts.

    ``treat_start`` is ``inf`` for patients never treated; ``hr`` is NaN where the hazard
    follows the slowing (:math:`m = r^\\gamma`).
    """
    s = np.asarray(treat_start, dtype=float)
    lam = np.asarray(discontinuation_per_month, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        stop = s + np.where(lam > 0, e_discontinuation / np.where(lam > 0, lam, 1.0), np.inf)
    stop = np.where(np.isfinite(s), stop, np.inf)
    start = s + onset_months
    f = np.asarray(adherence, dtype=float)
    acts = (
        (u_adherence < adherence_probability)
        & np.asarray(in_subgroup, dtype=bool)
        & np.isfinite(start)
        & (start < stop)
    )
    r = np.where(acts, 1.0 + f * (np.asarray(drr, dtype=float) - 1.0), 1.0)
    hr = np.asarray(hr, dtype=float)
    m_explicit = 1.0 + f * (np.where(np.isnan(hr), 1.0, hr) - 1.0)
    m = np.where(acts, np.where(np.isnan(hr), r**gamma, m_explicit), 1.0)
    shape = np.broadcast_shapes(np.shape(r), np.shape(start), np.shape(stop))
    return TreatmentWindows(
        start=np.broadcast_to(start, shape),
        end=np.broadcast_to(stop, shape),
        rate_ratio=np.broadcast_to(r, shape),
        hazard_mult=np.broadcast_to(m, shape),
        on_treatment_until=np.broadcast_to(stop, shape),
    )


def _overlap(t, start, end):
    """:math:`|[start, end) \\cap [0, t)|`, broadcasting (``inf`` allowed)."""
    return np.maximum(0.0, np.minimum(t, end) - np.minimum(t, start))


def piecewise_event_time(e_draw, base_hazard, start, end, mult) -> np.ndarray:
    """Invert :math:`H(t) = h_0[t + (m - 1)|[e, d) \\cap [0, t)|]` at ``e_draw`` (exact).

    ``base_hazard`` 0 gives ``inf``. All arguments broadcast; ``start``/``end`` may be ``inf``.
    """
    h0 = np.asarray(base_hazard, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u = np.where(h0 > 0, e_draw / np.where(h0 > 0, h0, 1.0), np.inf)
        width = np.where(np.isfinite(start), end - start, 0.0)
        inside = np.where(np.isfinite(width), mult * width, np.inf)
        t1 = u  # before the window
        t2 = start + (u - start) / mult  # inside
        t3 = end + (u - start - inside)  # after
        out = np.where(u <= start, t1, np.where(u <= start + inside, t2, t3))
    return np.where(np.isinf(u), np.inf, out)


def empirical_outcomes(
    draws: PatientDraws,
    windows: TreatmentWindows,
    visit_months: np.ndarray,
    params: EmpiricalParams,
    *,
    rate_factor=1.0,
    dropout_per_month: float | None = None,
) -> dict[str, np.ndarray]:
    """ALSFRS-R at the visits and the death/PAV and dropout times of every patient.

    Parameters
    ----------
    draws, windows:
        The patients' arm-independent draws and their treatment windows.
    visit_months:
        Visit times since randomisation, shape ``(n_visits,)``.
    params:
        Empirical-model parameters (:math:`\\lambda_D, \\gamma, \\sigma_e, \\lambda_O`).
    rate_factor:
        Extra multiplier of the decline rate of every patient (e.g. a regimen whose
        population progresses 10% faster: 1.1); broadcasts to ``(n_rep, n)``.
    dropout_per_month:
        Dropout hazard (default ``params.dropout_hazard_per_month``).

    Returns
    -------
    dict
        ``alsfrs`` ``(n_rep, n, n_visits)`` (NaN at and after death/PAV or dropout; no
        administrative censoring), ``t_event_months``, ``t_dropout_months``, ``decline``
        (the untreated rate including ``rate_factor``).
    """
    t = np.asarray(visit_months, dtype=float)
    b = draws.decline * rate_factor
    w = windows
    exposure = t - (1.0 - w.rate_ratio[..., None]) * _overlap(
        t, w.start[..., None], w.end[..., None]
    )
    latent = draws.intercept[..., None] - b[..., None] * exposure + params.residual_sd * draws.noise
    alsfrs = np.clip(np.rint(latent), SCORE_MIN, SCORE_MAX)
    h0 = (
        params.death_hazard_per_month * b**params.death_decline_exponent
    ) / params.mean_decline_power()
    t_event = piecewise_event_time(draws.e_death, h0, w.start, w.end, w.hazard_mult)
    lam = params.dropout_hazard_per_month if dropout_per_month is None else dropout_per_month
    t_drop = draws.e_dropout / lam if lam > 0 else np.full(np.shape(t_event), np.inf)
    stop = np.minimum(t_event, t_drop)
    alsfrs = np.where(t < stop[..., None], alsfrs, np.nan)
    return {
        "alsfrs": alsfrs,
        "t_event_months": t_event,
        "t_dropout_months": t_drop,
        "decline": b,
    }
