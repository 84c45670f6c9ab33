r"""Run the reproduced trials through the trial engine and build the reproduction table.

For each :class:`~alsim.reproduce.trials.Reproduction` the scenario (design, eligibility and the
catalogue therapy) is simulated ``n_rep`` times by the trial engine; the per-trial simulated
value is read from the trials table (slope difference, Cox HR, delayed-start difference) or
from the patients of the final analysis (Kaplan-Meier survival at a time, median survival), and
summarised over the simulated trials:

* ``simulated`` — the mean over trials (the geometric mean for a hazard ratio);
* ``mcse`` — its Monte Carlo standard error, SD / sqrt(n) (delta method for the geometric mean);
* ``sim_low``, ``sim_high`` — the central 95% of the simulated trials' values (what a single
  trial of this design could show).

``status``: ``within`` when the simulated value lies in the published (or derived) 95% interval,
or — for rows without an interval — when the published value lies in the simulated 95% range;
``known miss`` when it does not and the row states why the model cannot reproduce it; ``miss``
otherwise (a failure to investigate).

Replicate ``r`` of a row depends only on ``(scenario, seed, r)``: a row's seed is
``seed + 1000 k`` for the ``k``-th row, so rows are independent and the table is reproducible.
Research and education only, not medical advice.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from alsim import DISCLAIMER
from alsim.errors import InputError
from alsim.reproduce.trials import REPRODUCTIONS, Reproduction
from alsim.units import DAYS_PER_MONTH

__all__ = [
    "DEFAULT_N_REP",
    "FULL_N_REP",
    "TABLE_COLUMNS",
    "reproduction_table",
    "simulate_row",
    "table_records",
]

#: Default replicates per trial (the whole table in well under a minute) and the full size.
DEFAULT_N_REP = 500
FULL_N_REP = 5000

TABLE_COLUMNS = (
    "id",
    "trial",
    "therapy",
    "endpoint",
    "unit",
    "published",
    "published_text",
    "ci_low",
    "ci_high",
    "tolerance_kind",
    "simulated",
    "mcse",
    "sim_low",
    "sim_high",
    "n_rep",
    "n_valid",
    "status",
    "role",
    "reason",
    "source",
    "note",
)


def _km(t: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier: sorted times and the survival just after each."""
    order = np.argsort(t, kind="stable")
    t, e = t[order], e[order]
    # events before censorings at tied times (the usual convention)
    order = np.lexsort((~e, t))
    t, e = t[order], e[order]
    at_risk = t.size - np.arange(t.size)
    return t, np.cumprod(np.where(e, 1.0 - 1.0 / at_risk, 1.0))


def km_at(t: np.ndarray, e: np.ndarray, when: float) -> float:
    """Kaplan-Meier survival at ``when`` (NaN if follow-up ends before)."""
    if t.size == 0:
        return math.nan
    ts, s = _km(t, e)
    if ts.max() < when and not e[np.argmax(t)]:
        return math.nan
    k = np.searchsorted(ts, when, side="right")
    return 1.0 if k == 0 else float(s[k - 1])


def km_median(t: np.ndarray, e: np.ndarray) -> float:
    """Kaplan-Meier median (NaN if not reached)."""
    if t.size == 0:
        return math.nan
    ts, s = _km(t, e)
    hit = np.flatnonzero(s <= 0.5)
    return float(ts[hit[0]]) if hit.size else math.nan


def _patient_values(rep: Reproduction, chunk, plan) -> np.ndarray:
    """Per-trial values that need the patients of the final analysis (KM endpoints)."""
    st = chunk.st
    rows = np.arange(chunk.n_rep)
    cutoff = st.last_rand[:, 0] + plan.followup
    data = chunk.comparison(rows, 0, cutoff, plan.followup)
    out = np.full(chunk.n_rep, np.nan)
    for r in rows:
        m = data.member[r]
        t, e, arm = data.t_obs[r][m], data.event[r][m], data.arm[r][m]
        a, c = arm == 1, arm == 0
        if rep.metric == "km_difference":
            when = rep.metric_args["months"]
            out[r] = 100.0 * (km_at(t[a], e[a], when) - km_at(t[c], e[c], when))
        elif rep.metric == "median_gain_days":
            out[r] = DAYS_PER_MONTH * (km_median(t[a], e[a]) - km_median(t[c], e[c]))
    return out


def simulate_row(rep: Reproduction, n_rep: int, seed: int) -> np.ndarray:
    """The simulated value of ``rep`` in each of ``n_rep`` trials (NaN where undefined).

    The trials are simulated by the trial engine exactly as :func:`alsim.trial.run_trials`
    would (one chunk; the table does not depend on the chunking).
    """
    from alsim.rng import check_seed
    from alsim.treatment.catalogue import get_therapy
    from alsim.trial import validate_scenario
    from alsim.trial.engine import _Chunk, make_plan

    if rep.metric == "biomarker":
        therapy = get_therapy(rep.therapy)
        value = 100.0 * float(
            therapy.biomarker_change(rep.metric_args["biomarker"], rep.metric_args["months"])
        )
        return np.full(n_rep, value)
    if rep.metric == "valor_mechanistic":
        from alsim.reproduce.mechanistic import valor_values

        return valor_values(rep.metric_args["endpoint"], n_rep, seed)
    scenario = validate_scenario(rep.scenario, f"reproduction {rep.id}")
    plan = make_plan(scenario)
    chunk = _Chunk(plan, check_seed(seed), 0, n_rep)
    chunk.run_looks()
    chunk.finals()
    if rep.metric in ("km_difference", "median_gain_days"):
        return _patient_values(rep, chunk, plan)
    table = chunk.table()
    if rep.metric == "ds_difference":
        return table["ds_difference"].to_numpy(float)
    est = table["estimate"].to_numpy(float)
    if rep.metric == "slope_points":
        return est * rep.metric_args["months"]
    if rep.metric in ("slope", "hr"):
        return est
    raise InputError(f"reproduction {rep.id}: metric", f"unknown metric {rep.metric!r}")


def _summary(rep: Reproduction, values: np.ndarray) -> dict[str, Any]:
    v = values[np.isfinite(values)]
    n = v.size
    if n == 0:
        return {"simulated": math.nan, "mcse": math.nan, "sim_low": math.nan, "sim_high": math.nan}
    if rep.metric == "hr":
        logs = np.log(v)
        gm = float(np.exp(logs.mean()))
        se = gm * float(logs.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
        mean = gm
    else:
        mean = float(v.mean())
        se = float(v.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
    lo, hi = np.quantile(v, [0.025, 0.975])
    return {"simulated": mean, "mcse": se, "sim_low": float(lo), "sim_high": float(hi)}


def _status(rep: Reproduction, s: dict[str, Any]) -> tuple[str, str]:
    sim = s["simulated"]
    if not math.isfinite(sim):
        ok = False
    elif rep.tolerance_kind == "direction":
        ok = sim < 0
    elif rep.ci is not None:
        ok = rep.ci[0] <= sim <= rep.ci[1]
    else:
        ok = s["sim_low"] <= rep.published <= s["sim_high"]
    if ok:
        return "within", ""
    if rep.known_miss:
        return "known miss", rep.known_miss
    return "miss", "outside the tolerance without a known reason"


def reproduction_table(
    n_rep: int = DEFAULT_N_REP,
    seed: int = 1,
    *,
    rows: Sequence[Reproduction] = REPRODUCTIONS,
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """Simulate every reproduced trial and return the table (columns :data:`TABLE_COLUMNS`).

    ``df.attrs`` holds ``n_rep``, ``seed``, ``seconds`` (per row) and the disclaimer.
    """
    from alsim.rng import check_seed

    if isinstance(n_rep, bool) or not isinstance(n_rep, int) or n_rep < 2:
        raise InputError("n_rep", f"must be an integer >= 2, got {n_rep!r}")
    seed = check_seed(seed)
    records, seconds = [], {}
    for k, rep in enumerate(rows):
        if progress:
            progress(k, len(rows), rep.id)
        started = time.perf_counter()
        values = simulate_row(rep, n_rep, seed + 1000 * k)
        seconds[rep.id] = round(time.perf_counter() - started, 2)
        s = _summary(rep, values)
        status, reason = _status(rep, s)
        records.append(
            {
                "id": rep.id,
                "trial": rep.trial,
                "therapy": rep.therapy,
                "endpoint": rep.endpoint,
                "unit": rep.unit,
                "published": rep.published,
                "published_text": rep.published_text,
                "ci_low": rep.ci[0] if rep.ci else math.nan,
                "ci_high": rep.ci[1] if rep.ci else math.nan,
                "tolerance_kind": rep.tolerance_kind,
                **s,
                "n_rep": n_rep,
                "n_valid": int(np.isfinite(values).sum()),
                "status": status,
                "role": rep.role,
                "reason": reason,
                "source": rep.source,
                "note": "; ".join(x for x in (rep.tolerance_note, rep.note) if x),
            }
        )
    if progress:
        progress(len(rows), len(rows), "")
    df = pd.DataFrame.from_records(records, columns=list(TABLE_COLUMNS))
    df.attrs.update(n_rep=n_rep, seed=seed, seconds=seconds, disclaimer=DISCLAIMER)
    return df


def _json_number(x: Any, digits: int = 4) -> Any:
    if isinstance(x, float | np.floating):
        return round(float(x), digits) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def table_records(df: pd.DataFrame) -> dict[str, Any]:
    """A JSON-ready dict: settings, the rows (NaN as null) and the disclaimer."""
    return {
        "n_rep": int(df.attrs.get("n_rep", 0)),
        "seed": int(df.attrs.get("seed", 0)),
        "seconds": df.attrs.get("seconds", {}),
        "rows": [
            {k: _json_number(v) for k, v in row.items()} for row in df.to_dict(orient="records")
        ],
        "disclaimer": DISCLAIMER,
    }
