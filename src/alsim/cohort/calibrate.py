"""Calibration of the mechanistic model's population parameters to published targets.

The fit follows the recipe of docs/disease-model.md: fixed random draws (common random numbers:
the same seeds for every parameter vector, so the objective is a deterministic function of the
parameters), each target scored as ``z = (simulated - value) / tolerance``, a standard
optimiser (:func:`scipy.optimize.least_squares` on log-parameters, finite differences with a
step large enough to step over the monthly resolution of some statistics), then a confirmation
on fresh seeds.

Targets are evaluated on the cohort that matches their population: genotype-specific targets on
a cohort of that genotype (the SOD1 cohort uses the A4V share implied by the source cohort's
three medians, see :data:`SOD1_SOURCE_A4V_FRACTION`), East Asian targets on an East Asian cohort,
everything else on a European population-based cohort.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from alsim.cohort.simulate import CohortSpec, make_cohort
from alsim.cohort.targets import TargetSet, calibration_summary, evaluate_targets, load_targets
from alsim.disease.mechanistic.params import MechanisticParams, parse_params
from alsim.disease.mechanistic.population import PopulationParams, load_population_params
from alsim.fileio import write_text_atomic
from alsim.parallel import process_pool

#: Bali et al. (JNNP 2017) report median survival 1.2 y (A4V), 6.8 y (other SOD1) and 2.7 y
#: (all SOD1) in a North American cohort. For exponential-like survival the mixture median is
#: reached with an A4V share f solving 0.5 = f 0.5^(2.7/1.2) + (1 - f) 0.5^(2.7/6.8): f ~ 0.45.
SOD1_SOURCE_A4V_FRACTION = 0.45

#: Parameters fitted by default: dotted path -> (lower, upper) bounds (all positive, fitted on
#: the log scale except those marked linear).
DEFAULT_FREE: dict[str, tuple[float, float]] = {
    "neurons.hazard_median": (0.02, 0.5),
    "neurons.hazard_log_sd": (0.3, 1.5),
    "spread.rate_median": (0.01, 0.5),
    "diagnosis.loss_median_points": (2.0, 20.0),
    "nfl.release_gain": (20.0, 5000.0),
    "function.reinnervation_median": (1.2, 8.0),
    "mortality.resp_slope": (2.0, 15.0),
    "mortality.bulbar_slope": (0.2, 8.0),
    "neurons.genotype_hazard.SOD1": (0.02, 2.0),
    "neurons.sod1_a4v_hazard": (1.0, 60.0),
    "respiratory.fvc_exponent": (0.5, 4.0),
    "respiratory.fvc_floor": (0.02, 0.5),
    "nfl.release_exponent": (0.2, 1.5),
    "spread.rate_log_sd": (0.1, 1.5),
    "neurons.age_effect_per_decade": (0.01, 0.6),
    "respiratory.pav_uptake": (0.02, 0.9),
    "neurons.region_vulnerability_log_sd": (0.05, 1.5),
    "neurons.hazard_walk_sd": (0.05, 2.0),
    "diagnosis.loss_log_sd": (0.3, 2.0),
    "diagnosis.referral_median_months": (0.5, 30.0),
    "diagnosis.referral_factor_east_asian": (0.5, 4.0),
    "nfl.c9_extramotor_lead_months": (6.0, 96.0),
}
LINEAR = {"mortality.log_rate": (-12.0, -3.0)}


class _BudgetSpent(Exception):
    """Raised inside the objective to stop the optimiser after ``max_evaluations``."""


@dataclass
class CalibrationCohorts:
    """Cohort sizes and seeds used during a fit (fixed: common random numbers)."""

    n_population: int = 3000
    n_east_asian: int = 1000
    n_sod1: int = 1500
    n_c9orf72: int = 800
    seed: int = 20261126
    horizon_months: int = 120


@dataclass
class CalibrationResult:
    params: MechanisticParams
    results: pd.DataFrame
    summary: dict
    history: list[dict] = field(default_factory=list)
    patients: pd.DataFrame | None = None
    visits: pd.DataFrame | None = None


def _set(data: dict, path: str, value: float) -> None:
    node = data
    *parents, leaf = path.split(".")
    for key in parents:
        node = node[key]
    node[leaf] = float(value)


def _get(data: dict, path: str) -> float:
    node = data
    for key in path.split("."):
        node = node[key]
    return float(node)


def with_values(params: MechanisticParams, values: dict[str, float]) -> MechanisticParams:
    """A parameter set with dotted-path values replaced (validated)."""
    data = params.model_dump()
    for path, value in values.items():
        _set(data, path, value)
    return parse_params(data, source="calibration")


def _sod1_population(base: PopulationParams) -> PopulationParams:
    data = base.model_dump()
    data["sod1_a4v_fraction"]["european"]["value"] = SOD1_SOURCE_A4V_FRACTION
    return type(base).model_validate(data)


def _which_cohort(target) -> str:
    genotype = (target.filter or {}).get("genotype")
    if isinstance(genotype, list | tuple):
        genotype = genotype[0] if len(genotype) == 1 else None
    if genotype in ("SOD1", "C9orf72"):
        return genotype
    if target.ancestry == "east_asian":
        return "east_asian"
    return "european"


def simulate_for_targets(
    params: MechanisticParams, setup: CalibrationCohorts, *, seed_offset: int = 0
):
    """The four calibration cohorts as tables, keyed by cohort name."""
    population = load_population_params()
    specs = {
        "european": (CohortSpec(n=setup.n_population, seed=setup.seed + seed_offset), None),
        "east_asian": (
            CohortSpec(
                n=setup.n_east_asian, seed=setup.seed + 1 + seed_offset, ancestry="east_asian"
            ),
            None,
        ),
        "SOD1": (
            CohortSpec(n=setup.n_sod1, seed=setup.seed + 2 + seed_offset, genotype="SOD1"),
            _sod1_population(population),
        ),
        "C9orf72": (
            CohortSpec(n=setup.n_c9orf72, seed=setup.seed + 3 + seed_offset, genotype="C9orf72"),
            None,
        ),
    }
    cohorts = {}
    for name, (spec, population_params) in specs.items():
        spec = CohortSpec(**{**spec.__dict__, "horizon_months": setup.horizon_months})
        cohort = make_cohort(spec, params=params, population_params=population_params)
        cohort.patients["subject_id"] = f"{name}-" + cohort.patients["subject_id"]
        cohort.visits["subject_id"] = f"{name}-" + cohort.visits["subject_id"]
        cohorts[name] = cohort
    return cohorts


def evaluate(
    params: MechanisticParams, targets: TargetSet, setup: CalibrationCohorts, *, seed_offset=0
):
    """Evaluate every target on its cohort; returns (results table, cohorts)."""
    cohorts = simulate_for_targets(params, setup, seed_offset=seed_offset)
    groups: dict[str, list] = {}
    for target in [*targets.targets, *targets.context]:
        groups.setdefault(_which_cohort(target), []).append(target)
    tables = []
    for name, group in groups.items():
        table = evaluate_targets(group, cohorts[name].patients, cohorts[name].visits)
        table["cohort"] = name
        tables.append(table)
    order = {t.id: i for i, t in enumerate([*targets.targets, *targets.context])}
    results = pd.concat(tables, ignore_index=True)
    results = results.sort_values("id", key=lambda s: s.map(order)).reset_index(drop=True)
    return results, cohorts


def _residuals(results: pd.DataFrame, soft_weight: float) -> np.ndarray:
    if "role" in results:  # context entries are shown, never fitted
        results = results[results["role"] == "target"]
    z = results["z"].to_numpy(dtype=float)
    z = np.where(np.isfinite(z), z, 10.0)
    weight = np.where(results["hard"].to_numpy(dtype=bool), 1.0, soft_weight)
    return np.clip(z, -10.0, 10.0) * weight


# Worker-process state of a parallel fit (set once per worker by _init_worker).
_WORKER: dict = {}


def _init_worker(params, targets, setup, soft_weight) -> None:
    _WORKER.update(params=params, targets=targets, setup=setup, soft_weight=soft_weight)


def _worker_residuals(values: dict[str, float]) -> np.ndarray:
    w = _WORKER
    results, _ = evaluate(with_values(w["params"], values), w["targets"], w["setup"])
    return _residuals(results, w["soft_weight"])


def calibrate(
    params: MechanisticParams,
    *,
    targets: TargetSet | None = None,
    setup: CalibrationCohorts | None = None,
    free: dict[str, tuple[float, float]] | None = None,
    confirm: CalibrationCohorts | None = None,
    max_evaluations: int = 120,
    soft_weight: float = 0.3,
    progress=None,
    workers: int = 1,
) -> CalibrationResult:
    """Fit ``free`` parameters to ``targets`` and confirm on fresh seeds.

    ``confirm`` sets the (larger) cohorts of the confirmation run, whose results are reported;
    by default the fit's sizes. With ``max_evaluations=0`` the parameters are only evaluated:
    a set that already carries a ``[calibration]`` record keeps it unchanged. ``max_evaluations`` counts every cohort evaluation, the
    finite-difference Jacobian's included; with ``workers > 1`` the Jacobian's columns are
    evaluated in that many processes (the fit is the same: every evaluation uses the same
    seeds, so results do not depend on ``workers``).
    """

    targets = targets or load_targets()
    setup = setup or CalibrationCohorts()
    confirm = confirm or setup
    free = dict(DEFAULT_FREE if free is None else free)
    data = params.model_dump()
    names = [*free, *LINEAR]
    lower = np.array([np.log(free[k][0]) if k in free else LINEAR[k][0] for k in names])
    upper = np.array([np.log(free[k][1]) if k in free else LINEAR[k][1] for k in names])
    start = np.array([np.log(_get(data, k)) if k in free else _get(data, k) for k in names])
    start = np.clip(start, lower + 1e-9, upper - 1e-9)
    history: list[dict] = []
    diff_step = 0.05
    pool = (
        process_pool(
            workers,
            initializer=_init_worker,
            initargs=(params, targets, setup, soft_weight),
        )
        if workers > 1
        else None
    )

    def unpack(x):
        return {
            k: (float(np.exp(v)) if k in free else float(v)) for k, v in zip(names, x, strict=True)
        }

    def record(values: dict[str, float], residuals: np.ndarray) -> None:
        history.append({"values": values, "cost": float(np.sum(residuals**2))})
        if progress:
            progress(len(history), history[-1]["cost"], values)

    def evaluate_many(points: list[np.ndarray]) -> list[np.ndarray]:
        if len(history) + len(points) > max_evaluations:
            raise _BudgetSpent
        values = [unpack(x) for x in points]
        if pool is None:
            out = [
                _residuals(evaluate(with_values(params, v), targets, setup)[0], soft_weight)
                for v in values
            ]
        else:
            out = list(pool.map(_worker_residuals, values))
        for v, r in zip(values, out, strict=True):
            record(v, r)
        return out

    last: dict[str, np.ndarray] = {}

    def objective(x):
        residuals = evaluate_many([x])[0]
        last["x"], last["r"] = np.array(x), residuals
        return residuals

    def jacobian(x):
        # Forward differences (scipy's 2-point rule), stepping inwards at an upper bound.
        x = np.asarray(x, dtype=float)
        if "x" in last and np.array_equal(last["x"], x):
            r0 = last["r"]
        else:
            r0 = objective(x)
        steps = diff_step * np.maximum(1.0, np.abs(x))
        steps = np.where(x + steps > upper, -steps, steps)
        points = []
        for j in range(x.size):
            point = x.copy()
            point[j] += steps[j]
            points.append(point)
        columns = evaluate_many(points)
        return np.column_stack([(r - r0) / h for r, h in zip(columns, steps, strict=True)])

    try:
        if max_evaluations > 0:
            try:
                least_squares(objective, start, jac=jacobian, bounds=(lower, upper), x_scale=1.0)
            except _BudgetSpent:
                pass
            best = min(history, key=lambda h: h["cost"])["values"] if history else unpack(start)
        else:
            best = unpack(start)
    finally:
        if pool is not None:
            pool.shutdown()
    # Evaluation only (no evaluations): the given set exactly (no log/exp round trip).
    fitted = params if max_evaluations == 0 else with_values(params, best)
    # Confirm on fresh seeds: these are the numbers the report shows.
    results, cohorts = evaluate(fitted, targets, confirm, seed_offset=1000)
    summary = calibration_summary(results)
    provenance = {
        "date": _dt.date.today().isoformat(),
        "fitted": sorted(best),
        "fit_seed": setup.seed,
        "confirmation_seed_offset": 1000,
        "fit_cohort_sizes": {
            "european": setup.n_population,
            "east_asian": setup.n_east_asian,
            "SOD1": setup.n_sod1,
            "C9orf72": setup.n_c9orf72,
        },
        "confirmation_cohort_sizes": {
            "european": confirm.n_population,
            "east_asian": confirm.n_east_asian,
            "SOD1": confirm.n_sod1,
            "C9orf72": confirm.n_c9orf72,
        },
        "evaluations": len(history),
        "hard_passed": f"{summary['n_hard_passed']}/{summary['n_hard']}",
    }
    if max_evaluations > 0 or params.calibration is None:
        fitted = parse_params(
            {**fitted.model_dump(), "calibration": provenance}, source="calibration"
        )
    # else: evaluation only of an already fitted set: keep its own provenance (and digest).
    europe = cohorts["european"]
    return CalibrationResult(fitted, results, summary, history, europe.patients, europe.visits)


def params_to_toml(params: MechanisticParams, *, header: str) -> str:
    """Serialise a parameter set as TOML (comments: the header only)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    data = params.model_dump(mode="json")

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(float(v)) if isinstance(v, float) else str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        raise TypeError(type(v))

    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    for k, v in scalars.items():
        if v is not None:
            lines.append(f"{k} = {value(v)}")
    for section, content in data.items():
        if not isinstance(content, dict):
            continue
        lines.append("")
        lines.append(f"[{section}]")
        for k, v in content.items():
            lines.append(f"{k} = {value(v)}")
    return "\n".join(lines) + "\n"


def write_calibration(result: CalibrationResult, out: Path, *, report_html: str) -> dict[str, Path]:
    """Write the versioned parameter set, the results table and the report into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    version = (
        f"{result.params.name}-{result.params.calibration['date']}-{result.params.digest()[:8]}"
    )
    paths = {
        "params": out / "mechanistic-calibrated.toml",
        "results": out / "calibration-results.csv",
        "report": out / "calibration-report.html",
    }
    header = (
        f"Calibrated parameter set {version}, written by `alsim calibrate`.\n"
        "Structure, meaning and sources of every key: src/alsim/params/mechanistic.toml and\n"
        "docs/disease-model.md; the [calibration] table records how this set was fitted."
    )
    write_text_atomic(paths["params"], params_to_toml(result.params, header=header))
    write_text_atomic(paths["results"], result.results.to_csv(index=False))
    write_text_atomic(paths["report"], report_html)
    return paths
