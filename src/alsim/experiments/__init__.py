"""The seed's claims as reproducible experiments (``alsim experiment NAME``).

Each experiment is a pure function of a seed (and sizes) returning an
:class:`~alsim.experiments.common.ExperimentResult` (tables, key numbers, findings); the same
seed gives the same numbers. :func:`run_experiment` runs one by name, full size or ``quick``
(small cohorts, for ``alsim demo`` and the tests). Documentation: docs/experiments.md.
Research and education only, not medical advice.
"""

from __future__ import annotations

from collections.abc import Callable

from alsim.errors import InputError
from alsim.experiments.combination import combination
from alsim.experiments.common import ExperimentResult
from alsim.experiments.early_detection import early_detection
from alsim.experiments.heterogeneity import heterogeneity
from alsim.experiments.precision import precision
from alsim.experiments.presymptomatic import presymptomatic_trial
from alsim.experiments.time_window import time_window

#: name -> (function, keyword arguments of the quick version)
EXPERIMENTS: dict[str, tuple[Callable[..., ExperimentResult], dict]] = {
    "heterogeneity": (
        heterogeneity,
        dict(n_pool=2048, n_enriched_pool=512, sizes=(100,), n_rep=300),
    ),
    "combination": (combination, dict(n=512)),
    "time-window": (time_window, dict(n=512)),
    "precision": (
        precision,
        dict(n_pool=2048, n_selected_pool=1024, sizes=(100, 200), n_rep=300),
    ),
    "presymptomatic-trial": (presymptomatic_trial, dict(n=512, sizes=(80,), n_rep=300)),
    "early-detection": (early_detection, dict(n=1024)),
}

NAMES = tuple(EXPERIMENTS)


def run_experiment(name: str, seed: int = 1, *, quick: bool = False) -> ExperimentResult:
    """Run experiment ``name`` (one of :data:`NAMES`) from ``seed``."""
    if name not in EXPERIMENTS:
        raise InputError("NAME", f"must be one of {', '.join(NAMES)}, got {name!r}")
    function, small = EXPERIMENTS[name]
    return function(seed, **(small if quick else {}))


__all__ = [
    "EXPERIMENTS",
    "NAMES",
    "ExperimentResult",
    "combination",
    "early_detection",
    "heterogeneity",
    "precision",
    "presymptomatic_trial",
    "run_experiment",
    "time_window",
]
