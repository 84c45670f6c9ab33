"""Reproduction of real ALS trials with catalogue therapies (``alsim reproduce``).

Each key trial is simulated with its own design, eligibility and therapy from the catalogue
(:mod:`alsim.treatment.catalogue`) through the trial engine, and set side by side with the
published result and a tolerance (the reproduction table). See ``docs/therapies.md``.

Research and education only, not medical advice.
"""

from alsim.reproduce.examples import example_yaml, write_examples
from alsim.reproduce.table import (
    DEFAULT_N_REP,
    FULL_N_REP,
    TABLE_COLUMNS,
    reproduction_table,
    simulate_row,
    table_records,
)
from alsim.reproduce.trials import REPRODUCTIONS, Reproduction

__all__ = [
    "DEFAULT_N_REP",
    "FULL_N_REP",
    "REPRODUCTIONS",
    "TABLE_COLUMNS",
    "Reproduction",
    "example_yaml",
    "reproduction_table",
    "simulate_row",
    "table_records",
    "write_examples",
]
