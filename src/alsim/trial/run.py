"""run_trials: simulate many trials of a scenario in chunks (optionally in worker processes).

A replicate's random numbers depend only on ``(seed, rep)`` (streams per named decision and per
block of 32 replicates, :func:`alsim.disease.empirical.decision_draws`), and every step of the
engine treats trials independently, so the table is identical for any ``chunk_size`` and any
number of ``workers``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import pandas as pd

from alsim.errors import InputError
from alsim.parallel import process_pool
from alsim.rng import check_seed
from alsim.trial.engine import COLUMNS, make_plan, simulate_chunk
from alsim.trial.scenario import Scenario

__all__ = ["default_chunk_size", "run_trials"]

#: Default memory budget per chunk: slots x visits x replicates (float64 values per array).
_CHUNK_BUDGET = 1_500_000


def default_chunk_size(scenario: Scenario) -> int:
    """Replicates per chunk so that the largest per-chunk array stays around 12 MB."""
    plan = make_plan(scenario)
    per_rep = plan.n_slots * max(plan.visit_months.size, 1)
    return max(32, (_CHUNK_BUDGET // per_rep) // 32 * 32)


def _job(args):
    scenario, entropy, first, n = args
    return simulate_chunk(make_plan(scenario), entropy, first, n)


def run_trials(
    scenario: Scenario,
    n_rep: int,
    seed: int,
    *,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> pd.DataFrame:
    """Simulate ``n_rep`` trials of ``scenario``: the tidy trials table (one row per trial and
    comparison; columns in ``docs/trial-engine.md``, "The trials table").

    Parameters
    ----------
    scenario:
        A validated :class:`Scenario` (:func:`load_scenario`).
    n_rep:
        Number of simulated trials (>= 1).
    seed:
        Non-negative integer; the same ``(scenario, seed)`` gives the same table for any
        ``chunk_size`` and ``workers``.
    chunk_size:
        Trials simulated together (memory ~ chunk x slots x visits x 8 bytes per array);
        default :func:`default_chunk_size`.
    progress:
        Called as ``progress(done_reps, n_rep)`` after each chunk.
    workers:
        Worker processes (1 = in this process).
    """
    if not isinstance(scenario, Scenario):
        raise InputError("scenario", "must be a Scenario (see alsim.trial.load_scenario)")
    if isinstance(n_rep, bool) or not isinstance(n_rep, int) or n_rep < 1:
        raise InputError("n_rep", f"must be an integer >= 1, got {n_rep!r}")
    entropy = check_seed(seed)
    if chunk_size is None:
        chunk_size = default_chunk_size(scenario)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InputError("chunk_size", f"must be an integer >= 1, got {chunk_size!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError("workers", f"must be an integer >= 1, got {workers!r}")
    jobs = [
        (scenario, entropy, first, min(chunk_size, n_rep - first))
        for first in range(0, n_rep, chunk_size)
    ]
    parts: list[pd.DataFrame] = []
    done = 0
    if workers == 1 or len(jobs) == 1:
        plan = make_plan(scenario)
        for job in jobs:
            parts.append(simulate_chunk(plan, *job[1:]))
            done += job[3]
            if progress:
                progress(done, n_rep)
    else:
        n_workers = min(workers, len(jobs), os.cpu_count() or 1)
        with process_pool(n_workers) as pool:
            for job, part in zip(jobs, pool.map(_job, jobs), strict=True):
                parts.append(part)
                done += job[3]
                if progress:
                    progress(done, n_rep)
    df = pd.concat(parts, ignore_index=True)
    df.attrs["scenario"] = scenario.name
    df.attrs["seed"] = entropy
    df.attrs["n_rep"] = n_rep
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    return df


def chunks_for(n_rep: int, chunk_size: int) -> int:
    """Number of chunks (for progress bars)."""
    return math.ceil(n_rep / chunk_size)
