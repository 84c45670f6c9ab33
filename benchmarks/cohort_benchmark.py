"""Cohort simulation benchmark: wall time, throughput and peak memory of ``make_cohort``.

Simulates ``--n`` virtual patients (default 1,000,000) over ``--horizon`` months after onset
(default 120: ten years) with monthly outputs, in ``--workers`` processes, and compares with a
patient-by-patient solution of the same model by ``scipy.integrate.solve_ivp`` (LSODA, via
:func:`alsim.disease.mechanistic.reference.reference_solution`) timed on a sample in the same run
and extrapolated to ``n``.

The timed run is ``make_cohort(spec, with_visits=False)``: every chunk computes the full monthly
outputs (ALSFRS-R items, totals, FVC, NfL, weight, milestones) and builds the one-row-per-patient
table from them, then discards the monthly arrays, so memory stays bounded by a chunk per worker
plus the patients table. The baseline covers the ODE solve only (no readouts, no milestones), so
it flatters the baseline and understates the speed-up. The speed-up is given against the
baseline run in one process and against the baseline spread perfectly over the same workers.

Run ``python benchmarks/cohort_benchmark.py --help``; ``--quick`` is a CI-sized check.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import sys
import time

import numba
import numpy as np
import scipy

from alsim.cohort.simulate import CohortSpec, make_cohort
from alsim.disease.mechanistic.engine import draw_patient_parameters, simulate_trajectories
from alsim.disease.mechanistic.params import load_params
from alsim.disease.mechanistic.population import sample_population
from alsim.disease.mechanistic.reference import reference_solution
from alsim.rng import BLOCK_SIZE, BlockStreams

QUICK_N = 20_000
QUICK_BASELINE = 5


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def peak_rss_mib() -> tuple[float, float]:
    """Peak resident memory (MiB) of this process and of its largest finished child."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 1024**2  # KiB on Linux, B on macOS
    return own * scale, children * scale


def baseline_per_patient(spec: CohortSpec, params, sample: int, **tolerances) -> float:
    """Seconds per patient to solve the model with solve_ivp, patient by patient.

    The sample is the cohort's first patients; each is solved over exactly the months the
    engine integrates for it (trigger to onset + horizon).
    """
    streams = BlockStreams(spec.seed, 0, min(spec.n, BLOCK_SIZE))
    population = sample_population(streams, ancestry=spec.ancestry, genotype=spec.genotype)
    draws = draw_patient_parameters(population, params, streams)
    trajectories = simulate_trajectories(
        population, draws, params, horizon_months=spec.horizon_months
    )
    months_needed = trajectories.extras["last_month"]
    # The same model: the post-onset regional factors and rate drift switch on at the month
    # boundary at or after onset, as in the engine.
    switch = np.ceil(trajectories.onset_months).astype(int)
    start = time.perf_counter()
    for i in range(sample):
        months = np.arange(months_needed[i] + 1, dtype=float)
        reference_solution(
            i, population, draws, params, months, factor_from_month=int(switch[i]), **tolerances
        )
    return (time.perf_counter() - start) / sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="patients (default 1,000,000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--chunk-size", type=int, default=BLOCK_SIZE, help=f"patients per chunk ({BLOCK_SIZE})"
    )
    parser.add_argument("--horizon", type=int, default=120, help="months after onset (120)")
    parser.add_argument("--pre-onset", type=int, default=48, help="months before onset (48)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--baseline-sample", type=int, default=20, help="patients solved by solve_ivp (20)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"CI-sized run: n={QUICK_N:,}, {QUICK_BASELINE} baseline patients",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.baseline_sample = QUICK_N, QUICK_BASELINE

    params = load_params()
    spec = CohortSpec(
        n=args.n, seed=args.seed, horizon_months=args.horizon, pre_onset_months=args.pre_onset
    )
    print(f"alsim cohort benchmark, {dt.datetime.now().isoformat(timespec='seconds')}")
    print(
        f"machine: {os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}, "
        f"NumPy {np.__version__}, SciPy {scipy.__version__}, Numba {numba.__version__}"
    )
    print(
        f"parameters: {params.name} v{params.version}, digest {params.digest()}"
        f"{' (calibrated set)' if params.calibration else ''}"
    )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    # Warm-up: compile (or load from Numba's cache) the kernels before timing.
    make_cohort(CohortSpec(n=64, seed=1, horizon_months=12, pre_onset_months=0), params=params)

    start = time.perf_counter()
    cpu_start = time.process_time()
    children_start = resource.getrusage(resource.RUSAGE_CHILDREN)
    cohort = make_cohort(
        spec, params=params, chunk_size=args.chunk_size, workers=args.workers, with_visits=False
    )
    wall = time.perf_counter() - start
    children_end = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (
        (time.process_time() - cpu_start)
        + (children_end.ru_utime + children_end.ru_stime)
        - (children_start.ru_utime + children_start.ru_stime)
    )
    load_after = os.getloadavg()
    own_peak, child_peak = peak_rss_mib()
    assert len(cohort.patients) == args.n

    reference = baseline_per_patient(spec, params, args.baseline_sample)
    scipy_defaults = baseline_per_patient(spec, params, args.baseline_sample, rtol=1e-3, atol=1e-6)

    def baseline_rows(label: str, per_patient: float, settings: str):
        one_process = per_patient * args.n
        same_cores = one_process / args.workers  # as if it parallelised perfectly
        return [
            (
                f"solve_ivp ({label})",
                f"{per_patient * 1e3:.1f} ms/patient (LSODA, {settings}; "
                f"{args.baseline_sample} patients) -> {one_process:,.0f} s for n in one process",
            ),
            (
                f"speed-up vs {label}",
                f"{one_process / wall:,.0f}x (baseline in one process), "
                f"{same_cores / wall:,.0f}x (baseline on {args.workers} workers)",
            ),
        ]

    rows = [
        ("patients", f"{args.n:,}"),
        ("horizon", f"{args.horizon} months after onset ({args.pre_onset} before), monthly"),
        ("workers x chunk", f"{args.workers} x {args.chunk_size:,} patients"),
        ("wall time", f"{wall:.1f} s"),
        ("throughput", f"{args.n / wall:,.0f} patients/s"),
        ("per patient", f"{wall / args.n * 1e6:.1f} us wall, {cpu / args.n * 1e6:.1f} us CPU"),
        ("peak memory", f"main {own_peak:,.0f} MiB, largest worker {child_peak:,.0f} MiB"),
        *baseline_rows("reference tol.", reference, "rtol 1e-8, atol 1e-10"),
        *baseline_rows("scipy defaults", scipy_defaults, "rtol 1e-3, atol 1e-6"),
        ("load average after", " ".join(f"{x:.2f}" for x in load_after)),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print()
    print(
        "Timed: make_cohort(..., with_visits=False); monthly items, FVC, NfL and milestones are "
        "computed per chunk and discarded after the patients table is built."
    )
    print(
        "Baseline: ODE solve only (no onset detection, readouts or milestones), timed on the "
        "cohort's first patients over the months the engine integrates for them, extrapolated "
        "to n."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
