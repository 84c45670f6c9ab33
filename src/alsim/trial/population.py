r"""Screening candidates for the empirical generator: baseline attributes and arm-free draws.

Every trial has ``n_slots`` candidate slots, screened in arrival order. A slot's draws come from
named streams (``decision_draws(entropy, "trial/<name>", ...)``, blocks of 32 replicates), so
they depend only on (seed, replicate, slot) and never on the arm, the chunking or the worker
count.

Attributes (patient *i*; :math:`z` standard normal, :math:`U` uniform, all independent):

.. math::

    a_i &= \mu_a + \sigma_a z_{ai}, \qquad
    \zeta_i = \rho z_{ai} + \sqrt{1-\rho^2} z_{bi}, \qquad
    b_i = e^{\mu_b + \sigma_b \zeta_i}\, g_{G_i}
        && \text{(empirical model; } g \text{ = genotype rate ratio)}\\
    Y_{i0} &= \operatorname{clip}(\operatorname{round}(a_i + \sigma_e\varepsilon_{i0}), 0, 48)
        && \text{observed baseline ALSFRS-R}\\
    \Delta FS_i &= m_{FS} \exp\bigl(s_{FS}(c\,\zeta_i + \sqrt{1-c^2}\,z_{Fi})\bigr)
        && \text{pre-baseline progression rate (points/month)}\\
    D_i &= \max(48 - Y_{i0}, 0.5) / \Delta FS_i
        && \text{months from onset (so that } \Delta FS = (48 - Y_0)/D\text{)}\\
    \mathrm{FVC}_i &= \mu_F + \sigma_F(\rho_F z_{ai} + \sqrt{1-\rho_F^2} z_{Vi})
        && \text{\% predicted}\\
    G_i &= \text{categorical}(\pi; U_{Gi})
        && \text{genotype}\\
    \text{lead-in decline}_i &= \operatorname{clip}(\operatorname{round}(a_i + b_i L
        + \sigma_e z_{Li}), 0, 48) - Y_{i0}
        && \text{over an } L\text{-month run-in}

The ΔFS, FVC and genotype parameters are assumptions documented in ``docs/trial-engine.md``
(``population`` keys). The correlation :math:`c` of the pre-baseline with the in-trial rate makes
ΔFS enrichment select faster in-trial progressors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from alsim.disease.empirical import SCORE_MAX, SCORE_MIN, EmpiricalParams, decision_draws
from alsim.disease.mechanistic.schema import GENOTYPES
from alsim.treatment.apply import PatientDraws

__all__ = ["Candidates", "draw_candidates"]


@dataclass(frozen=True)
class Candidates:
    """Screening candidates of ``n_rep`` trials, arrays ``(n_rep, n_slots)``."""

    attributes: dict[str, np.ndarray]
    draws: PatientDraws
    eligible: np.ndarray
    lead_in_decline: np.ndarray | None

    def take(self, rows: np.ndarray) -> Candidates:
        d = self.draws
        return Candidates(
            attributes={k: v[rows] for k, v in self.attributes.items()},
            draws=PatientDraws(
                intercept=d.intercept[rows],
                decline=d.decline[rows],
                noise=d.noise[rows],
                e_death=d.e_death[rows],
                e_dropout=d.e_dropout[rows],
                u_adherence=d.u_adherence[rows],
                e_discontinuation=d.e_discontinuation[rows],
            ),
            eligible=self.eligible[rows],
            lead_in_decline=None if self.lead_in_decline is None else self.lead_in_decline[rows],
        )


def draw_candidates(
    scenario,
    params: EmpiricalParams,
    entropy: int,
    first_rep: int,
    n_rep: int,
    n_slots: int,
    n_visits: int,
) -> Candidates:
    """Draw ``n_slots`` screening candidates for replicates ``first_rep .. first_rep + n_rep``."""

    def draw(name: str, shape: tuple[int, ...], method: str) -> np.ndarray:
        return decision_draws(entropy, f"trial/{name}", first_rep, n_rep, shape, method)

    pop = scenario.population
    slots = (n_slots,)
    z_a = draw("baseline", slots, "standard_normal")
    z_b = draw("slope", slots, "standard_normal")
    noise = draw("noise", (n_slots, n_visits), "standard_normal")
    e_death = draw("death", slots, "standard_exponential")
    e_drop = draw("dropout", slots, "standard_exponential")
    z_fs = draw("pre_slope", slots, "standard_normal")
    z_fvc = draw("fvc", slots, "standard_normal")
    u_gen = draw("genotype", slots, "random")
    u_adh = draw("adherence", slots, "random")
    e_disc = draw("discontinuation", slots, "standard_exponential")

    rho = params.intercept_decline_corr
    intercept = params.intercept_mean + params.intercept_sd * z_a
    zeta = rho * z_a + math.sqrt(1.0 - rho * rho) * z_b
    decline = np.exp(params.log_decline_mu + params.log_decline_sigma * zeta)

    probs = np.array([pop.genotype_probs.get(g, 0.0) for g in GENOTYPES])
    cum = np.cumsum(probs) / probs.sum()
    genotype = np.minimum((u_gen[..., None] >= cum).sum(-1), len(GENOTYPES) - 1).astype(np.int8)
    ratio = np.array([pop.genotype_rate_ratio.get(g, 1.0) for g in GENOTYPES])
    decline = decline * ratio[genotype]

    y0 = np.clip(np.rint(intercept + params.residual_sd * noise[..., 0]), SCORE_MIN, SCORE_MAX)
    c = pop.pre_slope_decline_corr
    pre_slope = pop.pre_slope_median_per_month * np.exp(
        pop.pre_slope_log_sd * (c * zeta + math.sqrt(1.0 - c * c) * z_fs)
    )
    duration = np.maximum(SCORE_MAX - y0, 0.5) / pre_slope
    rf = pop.fvc_baseline_corr
    fvc = pop.fvc_mean_percent + pop.fvc_sd_percent * (rf * z_a + math.sqrt(1 - rf * rf) * z_fvc)

    attributes = {
        "pre_slope_per_month": pre_slope,
        "decline_per_month": decline,
        "duration_months": duration,
        "fvc_percent": fvc,
        "alsfrs_baseline": y0,
        "genotype": genotype,
    }
    eligible = scenario.eligibility.mask(attributes)
    lead_in = None
    spec = scenario.eligibility.lead_in
    if spec is not None:
        z_l = draw("lead_in", slots, "standard_normal")
        start = np.clip(
            np.rint(intercept + decline * spec.months + params.residual_sd * z_l),
            SCORE_MIN,
            SCORE_MAX,
        )
        lead_in = start - y0
        lo, hi = spec.decline_points
        if lo is not None:
            eligible &= lead_in >= lo
        if hi is not None:
            eligible &= lead_in <= hi
    draws = PatientDraws(
        intercept=intercept,
        decline=decline,
        noise=noise,
        e_death=e_death,
        e_dropout=e_drop,
        u_adherence=u_adh,
        e_discontinuation=e_disc,
    )
    return Candidates(
        attributes=attributes, draws=draws, eligible=eligible, lead_in_decline=lead_in
    )
