"""Benchmark: 10,000 HEALEY-like platform trials (3 concurrent regimens, interims, healey_fast).

Usage::

    .venv/bin/python benchmarks/platform_benchmark.py [--n-rep 10000] [--workers 2]
        [--scenario examples/scenarios/healey/slowing30.yaml] [--profile-reps 1000]

Prints the wall time and trials/s of ``run_trials`` with a process pool over chunks (results do
not depend on the worker count: checked on a small prefix), then where the time goes in one
process (``--profile-reps`` trials, timed per stage by wrapping the engine's stages). Target:
< 30 s for 10,000 trials on 2 cores.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import time
from pathlib import Path

import pandas as pd

import alsim.trial.engine as engine
from alsim.trial import load_scenario, run_trials

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "examples" / "scenarios" / "healey" / "slowing30.yaml"


def _profile(scenario, n_rep: int) -> dict[str, float]:
    """Seconds per stage for ``n_rep`` trials in this process."""
    spent: dict[str, float] = collections.defaultdict(float)
    chunk = engine._Chunk
    originals = {}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0

        return wrapper

    stages = {
        "__init__": "draws (candidates, accrual, blocks)",
        "advance": "enrolment and allocation",
        "outcomes": "outcomes (effects applied)",
        "comparison": "data at a look (cutoffs, pools)",
    }
    for attr, label in stages.items():
        originals[attr] = getattr(chunk, attr)
        setattr(chunk, attr, timed(label, originals[attr]))
    orig_analyse = engine.analyse
    engine.analyse = timed("analysis (healey_fast)", orig_analyse)
    try:
        t0 = time.perf_counter()
        run_trials(scenario, n_rep, 1, workers=1)
        spent["total"] = time.perf_counter() - t0
    finally:
        for attr, fn in originals.items():
            setattr(chunk, attr, fn)
        engine.analyse = orig_analyse
    return dict(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rep", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenario", type=Path, default=DEFAULT)
    parser.add_argument("--profile-reps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    scenario = load_scenario(args.scenario)
    print(f"scenario: {scenario.name} ({args.scenario.name})")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")

    # worker-count invariance on a prefix
    a = run_trials(scenario, 64, args.seed, workers=1)
    b = run_trials(scenario, 64, args.seed, workers=args.workers, chunk_size=32)
    pd.testing.assert_frame_equal(a, b)
    print("identical table with 1 and", args.workers, "workers: yes")

    t0 = time.perf_counter()
    df = run_trials(scenario, args.n_rep, args.seed, workers=args.workers)
    wall = time.perf_counter() - t0
    print(
        f"{args.n_rep} trials ({len(df)} comparisons) with {args.workers} workers: "
        f"{wall:.1f} s, {args.n_rep / wall:.0f} trials/s"
    )
    summary = df.groupby("comparison").agg(
        success=("success", "mean"),
        early_futility=("early_futility", "mean"),
        looks=("looks", "mean"),
        n_trial=("n_trial", "mean"),
        drr_median=("estimate", "median"),
    )
    print(summary.round(3).to_string())

    if args.profile_reps:
        spent = _profile(scenario, args.profile_reps)
        total = spent.pop("total")
        print(f"\nwhere the time goes ({args.profile_reps} trials, 1 process, {total:.2f} s):")
        accounted = 0.0
        for name, sec in sorted(spent.items(), key=lambda kv: -kv[1]):
            print(f"  {name:40s} {sec:6.2f} s  {100 * sec / total:5.1f}%")
            accounted += sec
        print(f"  {'other (tables, finals bookkeeping)':40s} {total - accounted:6.2f} s")


if __name__ == "__main__":
    main()
