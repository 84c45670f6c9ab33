"""Operating characteristics of every HEALEY scenario (examples/scenarios/healey/*.yaml).

Simulates each scenario ``--n-rep`` times with :func:`alsim.trial.run_trials`, summarises it
with :func:`alsim.results.performance` (every metric with its Monte Carlo SE; Morris, White &
Crowther, Stat Med 2019, doi:10.1002/sim.8086) and writes:

* ``docs/trial-healey-operating-characteristics.md``: date, machine, n_rep, seed, timings and a
  table per scenario (``est ± MCSE``), plus the HEALEY design targets for comparison;
* ``docs/trial-healey-operating-characteristics.csv``: the tidy table (scenario, comparison,
  metric, est, mcse, n_rep);
* with ``--runs DIR``: one run directory per scenario (as ``alsim run`` writes) and
  ``DIR/combined.html`` (:func:`alsim.report.trial.combined_report`).

Usage::

    .venv/bin/python benchmarks/healey_scenarios.py                 # n_rep 10,000 (long)
    .venv/bin/python benchmarks/healey_scenarios.py --quick         # n_rep 200 (CI-sized)
    .venv/bin/python benchmarks/healey_scenarios.py --n-rep 2000 --runs runs/healey

Research and education only, not medical advice.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd

from alsim import DISCLAIMER, __version__
from alsim.fileio import write_text_atomic
from alsim.report.trial import combined_table
from alsim.results import TRIAL_LEVEL, performance, write_run

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "examples" / "scenarios" / "healey"
DOCS = ROOT / "docs"
STEM = "trial-healey-operating-characteristics"
QUICK_N_REP = 200

#: Per-regimen and trial-level metrics of the two Markdown tables.
REGIMEN_METRICS = (
    "power_or_type1",
    "early_futility",
    "expected_n_active",
    "expected_n_control",
    "expected_duration_months",
    "mean_estimate",
    "bias",
    "rmse",
    "coverage",
)
TRIAL_METRICS = (
    "any_success",
    "any_null_success",
    "expected_successes",
    "expected_n_trial",
    "expected_duration_months",
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-rep", type=int, default=10_000, help="replicates per scenario")
    parser.add_argument("--quick", action="store_true", help=f"n_rep {QUICK_N_REP} (CI-sized)")
    parser.add_argument("--seed", type=int, default=20261126, help="seed for every scenario")
    parser.add_argument("--chunk-size", type=int, default=None, help="replicates per chunk")
    parser.add_argument("--scenarios", type=Path, default=SCENARIOS, help="folder of *.yaml")
    parser.add_argument("--docs", type=Path, default=DOCS, help="folder for the .md and .csv")
    parser.add_argument("--runs", type=Path, default=None, help="also write run directories here")
    parser.add_argument("--only", nargs="*", default=None, help="scenario file stems to run")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_rep = QUICK_N_REP
    if args.n_rep < 1:
        parser.error("--n-rep must be a positive integer")
    return args


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def main(argv=None) -> int:
    from alsim.report.trial import trial_report
    from alsim.trial import load_scenario, run_trials

    args = parse_args(argv)
    files = sorted(args.scenarios.glob("*.yaml"))
    if args.only:
        files = [f for f in files if f.stem in set(args.only)]
    if not files:
        print(f"error: {args.scenarios}: no scenario files (*.yaml)", file=sys.stderr)
        return 2
    frames, timings = [], {}
    for path in files:
        scenario = load_scenario(path)
        started = time.perf_counter()
        trials = run_trials(scenario, args.n_rep, args.seed, chunk_size=args.chunk_size)
        seconds = time.perf_counter() - started
        perf = performance(trials)
        timings[scenario.name] = seconds
        frame = perf.copy()
        frame.insert(0, "scenario", scenario.name)
        frame["n_rep"] = args.n_rep
        frames.append(frame)
        print(f"{scenario.name}: {args.n_rep} trials in {seconds:.1f} s", flush=True)
        if args.runs is not None:
            data = scenario.model_dump(mode="json")
            manifest = {"seed": args.seed, "n_rep": args.n_rep}
            write_run(
                args.runs / path.stem,
                scenario=data,
                trials=trials,
                performance=perf,
                report_html=trial_report(data, manifest, trials, perf),
                seed=args.seed,
                n_rep=args.n_rep,
                chunk_size=args.chunk_size,
                timings={"simulate": round(seconds, 3)},
                overwrite=True,
            )
    tidy = pd.concat(frames, ignore_index=True)
    args.docs.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.docs / f"{STEM}.csv", tidy.to_csv(index=False))
    write_text_atomic(args.docs / f"{STEM}.md", markdown(tidy, args, timings, files))
    if args.runs is not None:
        from alsim.report.trial import write_combined_report

        write_combined_report([args.runs / f.stem for f in files], args.runs / "combined.html")
    print(f"wrote {args.docs / (STEM + '.md')} and .csv")
    return 0


def md_table(table: pd.DataFrame) -> list[str]:
    """A DataFrame of display strings as Markdown table lines (numbers right-aligned)."""
    table = table.drop(columns=[c for c in ("n_rep",) if c in table.columns])
    columns = list(table.columns)
    text = {"scenario", "comparison"}
    lines = ["| " + " | ".join(columns) + " |"]
    lines.append("|" + "|".join("---" if c in text else "---:" for c in columns) + "|")
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return lines


def markdown(tidy: pd.DataFrame, args, timings: dict[str, float], files) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# HEALEY scenarios: simulated operating characteristics",
        "",
        f"Generated by `benchmarks/healey_scenarios.py` on {now} with alsim {__version__}.",
        "",
        f"- machine: {machine()}",
        f"- Python {platform.python_version()}",
        f"- n_rep: {args.n_rep:,} simulated trials per scenario; seed {args.seed}",
        f"- scenarios: {len(files)} files in `examples/scenarios/healey/`",
        "",
        "Each cell is a Monte Carlo estimate ± its Monte Carlo standard error (Morris, White & "
        "Crowther, Stat Med 2019, doi:10.1002/sim.8086; formulas in docs/trial-results.md). "
        "`power_or_type1` is Pr(success): type I error for a regimen with no true effect, power "
        "otherwise; `(trial)` rows are trial-level (`any_success`: at least one regimen "
        "succeeds; `any_null_success`: family-wise type I error over the null regimens).",
        "",
        "HEALEY design targets for comparison (M-SAP v3.0 via shared/science/trials.md B1/B3): "
        "final success Pr(DRR < 1) > 0.979, tuned to a one-sided type I error of at most 2.5% "
        "across null scenarios; futility Pr(DRR < 0.9) < 0.05 at interims.",
        "",
        "| scenario | seconds |",
        "|---|---:|",
        *[f"| {name} | {seconds:.1f} |" for name, seconds in timings.items()],
        "",
    ]
    regimens = tidy[tidy["comparison"] != TRIAL_LEVEL]
    trial_level = tidy[tidy["comparison"] == TRIAL_LEVEL]
    lines += ["## Per regimen", "", *md_table(combined_table(regimens, metrics=REGIMEN_METRICS))]
    if not trial_level.empty:
        lines += [
            "",
            "## Whole trial (family-wise)",
            "",
            *md_table(
                combined_table(trial_level, metrics=TRIAL_METRICS).drop(columns="comparison")
            ),
        ]
    lines += ["", f"*{DISCLAIMER}*", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
