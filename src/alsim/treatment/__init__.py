"""Treatment effects ("product") and their delivery ("regimen"), applied with common random numbers.

* :class:`Product` — what the drug does to the disease: a disease-rate ratio (DRR) on the
  ALSFRS-R decline rate, a death/PAV hazard ratio, a delay before the effect starts, a subgroup
  it acts in, and (for the mechanistic generator) pathway-level actions.
* :class:`Delivery` — who receives how much of it and when: treatment start, adherence,
  discontinuation, and a placebo switch for randomised delayed-start designs.
* :func:`treatment_windows` and :func:`empirical_outcomes` — per-patient effect schedules and the
  empirical (PRO-ACT-like) outcomes they imply, from draws that never depend on the arm.

Equations: :mod:`alsim.treatment.apply` and ``docs/trial-engine.md``. Research and education
only, not medical advice.
"""

from alsim.treatment.apply import (
    PatientDraws,
    TreatmentWindows,
    empirical_outcomes,
    piecewise_event_time,
    treatment_windows,
)
from alsim.treatment.effects import Criteria, Delivery, PathwayAction, Product, Subgroup

__all__ = [
    "Criteria",
    "Delivery",
    "PathwayAction",
    "PatientDraws",
    "Product",
    "Subgroup",
    "TreatmentWindows",
    "empirical_outcomes",
    "piecewise_event_time",
    "treatment_windows",
]
