"""The benchmarks at a reduced size: they run, and what they check still holds (CI-sized).

Full sizes (1,000,000 patients, 10,000 trials per scenario) are run by hand; their tables are in
docs/benchmarks.md and docs/trial-healey-operating-characteristics.md.
"""

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, tmp_path):
    done = subprocess.run(
        [sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_healey_scenarios_benchmark_at_reduced_size(tmp_path):
    """400 trials of the null and the 30%-slowing scenarios: type I error and power in range."""
    _run(
        [
            str(ROOT / "benchmarks" / "healey_scenarios.py"),
            "--n-rep",
            "400",
            "--only",
            "null",
            "slowing30",
            "--docs",
            str(tmp_path),
            "--scenarios",
            str(ROOT / "examples" / "scenarios" / "healey"),
        ],
        tmp_path,
    )
    table = pd.read_csv(next(tmp_path.glob("*.csv")))
    power = table[table["metric"] == "power_or_type1"].set_index(["scenario", "comparison"])["est"]
    null = power.loc["healey-null"]
    # HEALEY's design keeps each null regimen's type I error at or below 2.5%: with 400 trials,
    # allow 3 Monte Carlo SEs of a true 2.5%.
    assert (null <= 0.025 + 3 * math.sqrt(0.025 * 0.975 / 400)).all()
    # 30% slowing: power ~0.85 at 10,000 trials; 3 SEs at n = 400.
    assert power.loc[("healey-slowing30", "A")] == pytest.approx(0.85, abs=3 * 0.018)


def test_platform_benchmark_runs_small(tmp_path):
    out = _run(
        [str(ROOT / "benchmarks" / "platform_benchmark.py"), "--n-rep", "200", "--workers", "1"],
        tmp_path,
    )
    assert "trials" in out.lower()


def test_cohort_benchmark_quick(tmp_path):
    out = _run([str(ROOT / "benchmarks" / "cohort_benchmark.py"), "--quick"], tmp_path)
    assert "solve_ivp" in out
