"""Runtime benchmark: one table of throughputs, each as a ratio against a baseline timed in the
same run.

Rows:

* cohort simulation: ``make_cohort`` (mechanistic engine) patients/s, against the same model
  solved patient by patient with ``scipy.integrate.solve_ivp`` at SciPy's default tolerances
  (the baseline of ``cohort_benchmark.py``, ODE solve only, so the ratio is a lower bound);
* trial operating characteristics: HEALEY-like platform trials/s with the ``vectorized``
  strategy, against the ``serial`` strategy (one replicate at a time);
* analysis: the fast HEALEY DRR analysis (``healey_fast``) trials/s against the exact NumPyro
  NUTS analysis (``healey_mcmc``, short chains: the ratio is a lower bound of the speed-up at
  the chains of ``healey_exact_vs_fast.py``); skipped with ``--skip-exact``;
* scaling from 1 to 2 workers: the ``process`` strategy and the ``dask`` strategy (a
  ``LocalCluster`` of worker processes, started and warmed up before timing) with 2 workers,
  against the same strategy with 1 worker. Tables are checked identical across worker counts.

Usage::

    .venv/bin/python benchmarks/runtime_benchmark.py            # about 2 minutes on 2 CPUs
    .venv/bin/python benchmarks/runtime_benchmark.py --quick    # smaller, about 40 s
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "examples" / "scenarios" / "healey" / "slowing30.yaml"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def cohort_row(n: int, baseline_sample: int) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from cohort_benchmark import baseline_per_patient

    from alsim.cohort.simulate import CohortSpec, make_cohort
    from alsim.disease.mechanistic.params import load_params

    params = load_params()
    make_cohort(CohortSpec(n=64, seed=1, horizon_months=12, pre_onset_months=0), params=params)
    spec = CohortSpec(n=n, seed=2024, horizon_months=120, pre_onset_months=48)
    seconds, _ = timed(make_cohort, spec, params=params, with_visits=False)
    per_patient = baseline_per_patient(spec, params, baseline_sample)
    return {
        "measure": f"cohort simulation ({n:,} patients, 1 process)",
        "baseline": f"solve_ivp patient by patient ({baseline_sample} patients)",
        "baseline_rate": 1 / per_patient,
        "rate": n / seconds,
        "unit": "patients/s",
    }


def trial_rows(scenario, n_rep: int, n_serial: int, chunk_size: int) -> list[dict]:
    from alsim.runtime import ExecutionConfig, run_strategy

    run_strategy(scenario, 4, 1)  # warm-up (compiled kernels, plan cache)
    serial_s, _ = timed(
        run_strategy, scenario, n_serial, 1, config=ExecutionConfig("serial"), chunk_size=n_serial
    )
    vector_s, reference = timed(run_strategy, scenario, n_rep, 1, chunk_size=chunk_size)
    rows = [
        {
            "measure": f"trial OC, vectorized ({n_rep:,} trials)",
            "baseline": f"serial strategy ({n_serial} trials)",
            "baseline_rate": n_serial / serial_s,
            "rate": n_rep / vector_s,
            "unit": "trials/s",
        }
    ]
    one_s, one = timed(
        run_strategy,
        scenario,
        n_rep,
        1,
        config=ExecutionConfig("process", 1),
        chunk_size=chunk_size,
    )
    two_s, two = timed(
        run_strategy,
        scenario,
        n_rep,
        1,
        config=ExecutionConfig("process", 2),
        chunk_size=chunk_size,
    )
    pd.testing.assert_frame_equal(one, two)
    pd.testing.assert_frame_equal(reference, two)
    rows.append(
        {
            "measure": f"process pool, 2 workers ({n_rep:,} trials)",
            "baseline": "process pool, 1 worker",
            "baseline_rate": n_rep / one_s,
            "rate": n_rep / two_s,
            "unit": "trials/s",
        }
    )
    rates = {}
    for workers in (1, 2):
        rates[workers] = dask_rate(scenario, n_rep, chunk_size, workers, reference)
    rows.append(
        {
            "measure": f"Dask LocalCluster, 2 workers ({n_rep:,} trials)",
            "baseline": "Dask LocalCluster, 1 worker",
            "baseline_rate": rates[1],
            "rate": rates[2],
            "unit": "trials/s",
        }
    )
    return rows


def dask_rate(scenario, n_rep, chunk_size, workers, reference) -> float:
    from distributed import LocalCluster

    from alsim.runtime import ExecutionConfig, run_strategy

    with LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as cluster:
        config = ExecutionConfig("dask", scheduler=cluster.scheduler_address)
        run_strategy(scenario, 2 * workers, 1, config=config, chunk_size=1)  # warm the workers
        seconds, table = timed(
            run_strategy, scenario, n_rep, 1, config=config, chunk_size=chunk_size
        )
    pd.testing.assert_frame_equal(reference, table)
    return n_rep / seconds


def analysis_row(n_trials: int) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from healey_exact_vs_fast import ARM, WEEK24, simulate

    from alsim.analysis.healey import healey_fast, healey_mcmc

    n_per = max(1, n_trials // 4)
    sim = simulate(n_per, 20240601)
    data = (sim["alsfrs"], WEEK24, ARM, sim["t_obs_months"], sim["event"])
    n = sim["alsfrs"].shape[0]
    healey_fast(*(a[:1] if a is not WEEK24 and a is not ARM else a for a in data))  # JIT load
    # the fast path on the same trials repeated 50 times: a stable throughput
    big = tuple(np.concatenate([a] * 50) if a is not WEEK24 and a is not ARM else a for a in data)
    fast_s, _ = timed(healey_fast, *big)
    settings = {"num_chains": 2, "batch_size": n, "seed": 1}
    healey_mcmc(*data, num_warmup=20, num_samples=20, **settings)  # compile: same shapes
    exact_s, _ = timed(healey_mcmc, *data, num_warmup=300, num_samples=700, **settings)
    return {
        "measure": f"HEALEY analysis, fast ({n} trials)",
        "baseline": "exact NUTS, 2 chains x (300 + 700)",
        "baseline_rate": n / exact_s,
        "rate": 50 * n / fast_s,
        "unit": "trials/s",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (about 40 s)")
    ap.add_argument("--skip-exact", action="store_true", help="leave out the NUTS analysis row")
    args = ap.parse_args(argv)
    cohort_n, cohort_base = (4096, 2) if args.quick else (20_000, 5)
    n_rep, n_serial = (1024, 16) if args.quick else (4096, 48)
    exact_trials = 4 if args.quick else 8

    from alsim.trial import load_scenario

    print(f"alsim runtime benchmark, {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    print(
        f"machine: {os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    scenario = load_scenario(SCENARIO)
    rows = [cohort_row(cohort_n, cohort_base)]
    rows += trial_rows(scenario, n_rep, n_serial, chunk_size=128)
    if not args.skip_exact:
        rows.append(analysis_row(exact_trials))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print("| measure | baseline (same run) | baseline rate | rate | ratio |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['measure']} | {row['baseline']} | {row['baseline_rate']:,.2f} {row['unit']} "
            f"| {row['rate']:,.1f} {row['unit']} | **{row['rate'] / row['baseline_rate']:,.2f}x** |"
        )
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
