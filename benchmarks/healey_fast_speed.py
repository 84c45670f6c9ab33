"""Speed of the fast HEALEY DRR analysis: compiled adaptive grid vs the previous NumPy grid.

Two measurements, both in one run on the same machine:

1. **Per analysis, old vs new on the same trials.** HEALEY-like regimen analyses (120 active +
   120 shared placebo, ALSFRS-R every 4 weeks to week 24, PRO-ACT-like empirical model, 30%
   slowing) analysed by ``healey_fast(grid="uniform")`` (the previous default: NumPy, 2000
   uniform DRR cells) and by the new default ``healey_fast()`` (compiled kernel, adaptive grid
   in log DRR), with and without the variance-component cubature. Best of ``--repeats`` runs,
   wall-clock and CPU time. Also the largest difference between the two paths' results.

2. **Operating characteristics of HEALEY-like platform trials, end to end.** ``--n-trials``
   platform trials (default 10,000), each with 3 concurrently enrolling regimens of 120 active
   patients and 120 shared placebo patients (3:1 within regimen; regimen 1 slows decline by
   30%, regimens 2-3 null), enrolment 40/month over the platform in random order, two interims
   (calendar months 8 and 11) and the final analysis (all patients through week 24): 9
   analyses per platform trial. At an interim a patient not yet randomised is a masked slot
   (``arm = -1``), visits after the look are missing and survival is censored at the look.
   Timed: simulation, building the look data sets and every analysis (regimens are analysed at
   every look, stopped or not, so the time is an upper bound); ``--interim-plugin`` also times
   the variant without cubature at interims. The previous path's time for the same workload is
   projected from measurement 1.

Usage::

    .venv/bin/python benchmarks/healey_fast_speed.py                 # 10,000 platform trials
    .venv/bin/python benchmarks/healey_fast_speed.py --quick         # 1,000, fewer old trials
    .venv/bin/python benchmarks/healey_fast_speed.py --out speed.json

Research and education only, not medical advice.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time

import numpy as np

from alsim.analysis.healey import FUTILITY_THRESHOLD, SUCCESS_THRESHOLD, healey_fast
from alsim.disease.empirical import SlopeEffect, simulate_empirical

WEEK24 = np.arange(7) * 4 * 12 / 52
N_ACTIVE = 120  # per regimen
N_PLACEBO = 120  # shared by the three regimens
N_REGIMENS = 3
LOOKS = (8.0, 11.0, None)  # calendar months after the first randomisation; None = final
ENROLMENT_PER_MONTH = 40.0
FIELDS = ("drr_mean", "drr_median", "drr_lower", "drr_upper", "pr_drr_lt_1", "pr_drr_lt_0_9")


def timed(fn, repeats: int):
    """Best wall-clock and CPU seconds over ``repeats`` calls, and the last result."""
    best_wall = best_cpu = np.inf
    out = None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best_wall, best_cpu, out


def per_analysis(n_old: int, n_new: int, repeats: int, seed: int) -> dict:
    arm = np.r_[np.ones(N_ACTIVE, int), np.zeros(N_PLACEBO, int)]
    sim = simulate_empirical(n_new, arm.size, WEEK24, seed, arm=arm, effect=SlopeEffect(0.7))
    data = (sim["alsfrs"], WEEK24, arm, sim["t_obs_months"], sim["event"])
    sub = tuple(x[:n_old] if x is not WEEK24 and x is not arm else x for x in data)
    healey_fast(*(x[:1] if x is not WEEK24 and x is not arm else x for x in data))  # JIT load
    rows = {}
    results = {}
    for name, args, kw in (
        ("old_uniform_grid_cubature", sub, dict(grid="uniform")),
        ("old_uniform_grid_plugin", sub, dict(grid="uniform", vc_uncertainty=False)),
        ("new_on_old_trials_cubature", sub, {}),
        ("new_on_old_trials_plugin", sub, dict(vc_uncertainty=False)),
        ("new_cubature", data, {}),
        ("new_plugin", data, dict(vc_uncertainty=False)),
        ("new_cubature_2_threads", data, dict(n_threads=2)),
    ):
        n = args[0].shape[0]
        wall, cpu, res = timed(lambda args=args, kw=kw: healey_fast(*args, **kw), repeats)
        rows[name] = {"n_analyses": n, "wall_us": 1e6 * wall / n, "cpu_us": 1e6 * cpu / n}
        results[name] = res
    ratio = {
        vc: {
            k: rows[f"old_uniform_grid_{vc}"][k] / rows[f"new_on_old_trials_{vc}"][k]
            for k in ("wall_us", "cpu_us")
        }
        for vc in ("cubature", "plugin")
    }
    diff = {
        vc: {
            f: float(
                np.max(
                    np.abs(
                        getattr(results[f"old_uniform_grid_{vc}"], f)
                        - getattr(results[f"new_on_old_trials_{vc}"], f)
                    )
                )
            )
            for f in FIELDS
        }
        for vc in ("cubature", "plugin")
    }
    return {"timing": rows, "speed_ratio_old_over_new": ratio, "max_abs_diff_old_new": diff}


def look_data(sim_active, sim_null, enrol, regimen: int, look: float | None):
    """One regimen's analysis data set at one look: (alsfrs, arm, t_obs, event)."""
    lo = regimen * N_ACTIVE
    cols = np.r_[lo : lo + N_ACTIVE, N_REGIMENS * N_ACTIVE : N_REGIMENS * N_ACTIVE + N_PLACEBO]
    src = sim_active if regimen == 0 else sim_null
    y = src["alsfrs"][:, cols]
    t_obs = src["t_obs_months"][:, cols]
    event = src["event"][:, cols]
    arm = np.broadcast_to(
        np.r_[np.ones(N_ACTIVE, np.int8), np.zeros(N_PLACEBO, np.int8)], t_obs.shape
    )
    if look is None:
        return y, arm, t_obs, event
    follow = look - enrol[:, cols]  # months of follow-up at the look (< 0: not yet randomised)
    y = np.where(WEEK24 <= follow[..., None], y, np.nan)
    event = event & (t_obs <= follow)
    t_obs = np.clip(np.minimum(t_obs, follow), 0.0, None)
    arm = np.where(follow >= 0, arm, np.int8(-1))
    return y, arm, t_obs, event


def platform_oc(n_trials: int, block: int, seed: int, interim_cubature: bool) -> dict:
    """Simulate and analyse ``n_trials`` platform trials; time everything."""
    n_pat = N_REGIMENS * N_ACTIVE + N_PLACEBO
    arm = np.r_[np.ones(N_REGIMENS * N_ACTIVE, int), np.zeros(N_PLACEBO, int)]
    t_sim = t_data = t_fit = 0.0
    n_fits = 0
    success = np.zeros((n_trials, N_REGIMENS), bool)
    stopped = np.zeros((n_trials, N_REGIMENS), bool)
    tic_all = time.perf_counter()
    for first in range(0, n_trials, block):
        n = min(block, n_trials - first)
        tic = time.perf_counter()
        # common random numbers: the null world and the 30%-slowing world share every draw, so
        # the shared placebo patients are the same patients in both
        kw = dict(arm=arm, first_rep=first)
        sim_null = simulate_empirical(n, n_pat, WEEK24, seed, **kw)
        sim_act = simulate_empirical(n, n_pat, WEEK24, seed, effect=SlopeEffect(0.7), **kw)
        rng = np.random.default_rng([seed, first])
        enrol = rng.permuted(np.tile(np.arange(n_pat) / ENROLMENT_PER_MONTH, (n, 1)), axis=1)
        t_sim += time.perf_counter() - tic
        for look in LOOKS:
            for g in range(N_REGIMENS):
                tic = time.perf_counter()
                y, a, t_obs, event = look_data(sim_act, sim_null, enrol, g, look)
                t_data += time.perf_counter() - tic
                tic = time.perf_counter()
                final = look is None
                res = healey_fast(
                    y, WEEK24, a, t_obs, event, vc_uncertainty=final or interim_cubature
                )
                t_fit += time.perf_counter() - tic
                n_fits += n
                rows = slice(first, first + n)
                if final:
                    success[rows, g] = res.success() & ~stopped[rows, g]
                else:
                    stopped[rows, g] |= res.futile()
    total = time.perf_counter() - tic_all
    return {
        "n_platform_trials": n_trials,
        "n_analyses": n_fits,
        "cubature_at_interims": interim_cubature,
        "seconds_total": total,
        "seconds_simulation": t_sim,
        "seconds_look_data": t_data,
        "seconds_analyses": t_fit,
        "us_per_analysis_amortised_total": 1e6 * total / n_fits,
        "us_per_analysis_fit_only": 1e6 * t_fit / n_fits,
        "success_rate_regimen_30pct": float(success[:, 0].mean()),
        "success_rate_null_regimens": float(success[:, 1:].mean()),
        "futility_stop_rate_30pct": float(stopped[:, 0].mean()),
        "futility_stop_rate_null": float(stopped[:, 1:].mean()),
        "thresholds": {"success": SUCCESS_THRESHOLD, "futility": FUTILITY_THRESHOLD},
    }


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    import numba

    return {
        "date": dt.date.today().isoformat(),
        "cpu": cpu,
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "load_average_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 platform trials, 100 old analyses")
    ap.add_argument("--n-trials", type=int, default=None, help="platform trials (default 10,000)")
    ap.add_argument("--n-old", type=int, default=None, help="analyses timed on the old path")
    ap.add_argument("--n-new", type=int, default=2000, help="analyses timed on the new path")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many timings")
    ap.add_argument("--block", type=int, default=2000, help="platform trials simulated at once")
    ap.add_argument("--interim-plugin", action="store_true", help="also time plug-in interims")
    ap.add_argument("--seed", type=int, default=20241126)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)
    n_trials = args.n_trials or (1000 if args.quick else 10_000)
    n_old = args.n_old or (100 if args.quick else 300)

    result = {"machine": machine()}
    result["per_analysis"] = per_analysis(n_old, max(args.n_new, n_old), args.repeats, args.seed)
    oc = platform_oc(n_trials, args.block, args.seed, interim_cubature=True)
    old_us = result["per_analysis"]["timing"]["old_uniform_grid_cubature"]["wall_us"]
    oc["projected_seconds_old_path_analyses"] = old_us * 1e-6 * oc["n_analyses"]
    result["platform_oc_cubature_every_look"] = oc
    if args.interim_plugin:
        result["platform_oc_plugin_at_interims"] = platform_oc(
            n_trials, args.block, args.seed, interim_cubature=False
        )
    result["machine"]["load_average_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
