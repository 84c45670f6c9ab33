"""Exact (NUTS) vs fast (grid) HEALEY DRR analysis on the same simulated trials.

For each scenario (null, 25%, 30%, 35% slowing of ALSFRS-R decline with the death/PAV hazard
multiplied by the same DRR, as in the M-SAP simulation scenarios; shared/science/trials.md B3)
simulate HEALEY-like regimens with the PRO-ACT-like empirical model (120 active + 40 placebo,
ALSFRS-R every 4 weeks to week 24, 2%/month dropout), analyse every trial with
:func:`alsim.analysis.healey.healey_mcmc` and :func:`alsim.analysis.healey.healey_fast`, and
report:

* the share of identical final decisions, Pr(DRR < 1) > 0.979 (target >= 99%), and of identical
  futility calls, Pr(DRR < 0.9) < 0.05; each disagreement with the exact path's Monte Carlo SE;
* quantiles of exact - fast for Pr(DRR < 1), Pr(DRR < 0.9) and the posterior median DRR;
* wall-clock time per trial of both paths in this run, and their ratio.

Usage::

    .venv/bin/python benchmarks/healey_exact_vs_fast.py            # 4 x 50 = 200 trials
    .venv/bin/python benchmarks/healey_exact_vs_fast.py --quick    # 4 x 5 trials, short chains
    .venv/bin/python benchmarks/healey_exact_vs_fast.py --out results.json

Needs the ``bayes`` extra (NumPyro + JAX). Research and education only, not medical advice.
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

from alsim.analysis.healey import (
    FUTILITY_THRESHOLD,
    SUCCESS_THRESHOLD,
    healey_fast,
    healey_mcmc,
)
from alsim.disease.empirical import SlopeEffect, simulate_empirical

WEEK24 = np.arange(7) * 4 * 12 / 52
ARM = np.r_[np.ones(120, int), np.zeros(40, int)]
SCENARIOS = {"null": 1.0, "25% slowing": 0.75, "30% slowing": 0.70, "35% slowing": 0.65}
QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)


def simulate(n_per: int, seed: int) -> dict[str, np.ndarray]:
    parts = []
    for k, ratio in enumerate(SCENARIOS.values()):
        effect = None if ratio == 1.0 else SlopeEffect(ratio)
        parts.append(simulate_empirical(n_per, 160, WEEK24, seed + k, arm=ARM, effect=effect))
    out = {key: np.concatenate([p[key] for p in parts]) for key in ("alsfrs", "t_obs_months")}
    out["event"] = np.concatenate([p["event"] for p in parts])
    out["scenario"] = np.repeat(list(SCENARIOS), n_per)
    return out


def machine() -> dict[str, str]:
    import jax
    import numpyro

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {
        "date": dt.date.today().isoformat(),
        "cpu": cpu,
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "jax": jax.__version__,
        "numpyro": numpyro.__version__,
        "jax_backend": jax.default_backend(),
    }


def quantiles(x: np.ndarray) -> dict[str, float]:
    out = {f"q{round(q * 100):02d}": float(np.quantile(x, q)) for q in QUANTILES}
    out.update(mean=float(x.mean()), sd=float(x.std(ddof=1)), mean_abs=float(np.abs(x).mean()))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 x 5 trials, short chains")
    ap.add_argument("--n-per-scenario", type=int, default=None, help="trials per scenario")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--num-warmup", type=int, default=None)
    ap.add_argument("--num-samples", type=int, default=None, help="kept draws per chain")
    ap.add_argument("--num-chains", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=20, help="trials per NUTS batch")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--save-npz", default=None, help="write per-trial results (.npz) here")
    args = ap.parse_args(argv)
    n_per = args.n_per_scenario or (5 if args.quick else 50)
    warmup = args.num_warmup or (300 if args.quick else 1000)
    samples = args.num_samples or (700 if args.quick else 5000)

    sim = simulate(n_per, args.seed)
    data = (sim["alsfrs"], WEEK24, ARM, sim["t_obs_months"], sim["event"])
    n = sim["alsfrs"].shape[0]

    tic = time.perf_counter()
    fast = healey_fast(*data)
    fast_s = time.perf_counter() - tic
    # throughput at scale: the same trials repeated 10 times in one call
    big = tuple(np.concatenate([a] * 10) if a is not WEEK24 and a is not ARM else a for a in data)
    tic = time.perf_counter()
    healey_fast(*big)
    fast_big_s = time.perf_counter() - tic

    tic = time.perf_counter()
    exact = healey_mcmc(
        *data,
        num_warmup=warmup,
        num_samples=samples,
        num_chains=args.num_chains,
        batch_size=args.batch_size,
        seed=args.seed % 2**31,
    )
    exact_s = time.perf_counter() - tic

    p_e, p_f = exact.pr_drr_lt_1, fast.pr_drr_lt_1
    mc_se = np.sqrt(p_e * (1 - p_e) / exact.ess_min)
    succ_e, succ_f = exact.success(), fast.success()
    fut_e, fut_f = exact.futile(), fast.futile()
    disagree = np.flatnonzero(succ_e != succ_f)
    clear = np.abs(p_e - SUCCESS_THRESHOLD) > 2 * mc_se
    result = {
        "machine": machine(),
        "settings": {
            "n_trials": n,
            "n_per_scenario": n_per,
            "patients": "120 active + 40 placebo",
            "visits_months": [round(v, 3) for v in WEEK24],
            "seed": args.seed,
            "nuts": f"{args.num_chains} chains x ({warmup} warmup + {samples} draws), "
            f"batch_size {args.batch_size}, target_accept 0.9, random effects marginalised",
        },
        "decisions": {
            "success_identical_share": float(np.mean(succ_e == succ_f)),
            "success_identical_share_where_exact_clear": float(np.mean((succ_e == succ_f)[clear])),
            "n_exact_clear": int(clear.sum()),
            "futility_identical_share": float(np.mean(fut_e == fut_f)),
            "disagreements": [
                {
                    "trial": int(i),
                    "scenario": str(sim["scenario"][i]),
                    "exact": float(p_e[i]),
                    "exact_mc_se": float(mc_se[i]),
                    "fast": float(p_f[i]),
                }
                for i in disagree
            ],
        },
        "diff_exact_minus_fast": {
            "pr_drr_lt_1": quantiles(p_e - p_f),
            "pr_drr_lt_0_9": quantiles(exact.pr_drr_lt_0_9 - fast.pr_drr_lt_0_9),
            "drr_median": quantiles(exact.drr_median - fast.drr_median),
        },
        "per_scenario": {
            name: {
                "success_rate_exact": float(np.mean(succ_e[sim["scenario"] == name])),
                "success_rate_fast": float(np.mean(succ_f[sim["scenario"] == name])),
                "max_abs_diff_pr_drr_lt_1": float(np.abs(p_e - p_f)[sim["scenario"] == name].max()),
            }
            for name in SCENARIOS
        },
        "exact_diagnostics": {
            "rhat_max": float(np.max(exact.rhat_max)),
            "ess_min": float(np.min(exact.ess_min)),
            "ess_median": float(np.median(exact.ess_min)),
            "divergent_trials": int(np.sum(exact.n_divergent > 0)),
            "not_converged": int(np.sum(~exact.converged)),
        },
        "timing_seconds": {
            "fast_total": fast_s,
            "fast_per_trial": fast_s / n,
            "fast_per_trial_at_10x": fast_big_s / (10 * n),
            "exact_total": exact_s,
            "exact_per_trial": exact_s / n,
            "speed_ratio_exact_over_fast": (exact_s / n) / (fast_s / n),
            "speed_ratio_exact_over_fast_at_10x": (exact_s / n) / (fast_big_s / (10 * n)),
        },
        "thresholds": {"success": SUCCESS_THRESHOLD, "futility": FUTILITY_THRESHOLD},
    }
    if args.save_npz:
        fields = ("pr_drr_lt_1", "pr_drr_lt_0_9", "drr_median", "drr_lower", "drr_upper")
        np.savez(
            args.save_npz,
            scenario=sim["scenario"],
            ess_min=exact.ess_min,
            rhat_max=exact.rhat_max,
            **{f"exact_{f}": getattr(exact, f) for f in fields},
            **{f"fast_{f}": getattr(fast, f) for f in fields},
        )
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
