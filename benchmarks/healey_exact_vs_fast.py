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
* with ``--recheck-samples N``: the trials whose exact probability lies within 2 Monte Carlo SE
  of a threshold are sampled again with N draws per chain (another seed) and the agreement is
  reported with those decisions resolved;
* wall-clock time per trial of both paths in this run, and their ratio;
* the same for the previous fast path (``grid="uniform"``: 2000 uniform DRR cells, NumPy), so the
  old and new fast paths are compared on the same trials in the same run.

Usage::

    .venv/bin/python benchmarks/healey_exact_vs_fast.py            # 4 x 50 = 200 trials
    .venv/bin/python benchmarks/healey_exact_vs_fast.py --quick    # 4 x 5 trials, short chains
    .venv/bin/python benchmarks/healey_exact_vs_fast.py --out results.json
    .venv/bin/python benchmarks/healey_exact_vs_fast.py --recheck-samples 40000  # + resolve

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


def recheck(exact, fast, data, sim, args, warmup) -> dict:
    """Resolve near-threshold exact decisions with longer chains; agreement after resolving."""
    q1, q9 = exact.pr_drr_lt_1.copy(), exact.pr_drr_lt_0_9.copy()
    ess = exact.ess_min.copy()

    def close(q, thr, ess):
        return np.abs(q - thr) <= 2 * np.sqrt(q * (1 - q) / ess)

    idx = np.flatnonzero(close(q1, SUCCESS_THRESHOLD, ess) | close(q9, FUTILITY_THRESHOLD, ess))
    out: dict = {"n_rechecked": int(idx.size), "num_samples_per_chain": args.recheck_samples}
    if idx.size == 0:
        return out
    sub = tuple(a[idx] if a is not WEEK24 and a is not ARM else a for a in data)
    tic = time.perf_counter()
    again = healey_mcmc(
        *sub,
        num_warmup=warmup,
        num_samples=args.recheck_samples,
        num_chains=args.num_chains,
        batch_size=min(args.batch_size, idx.size),
        seed=(args.seed + 1) % 2**31,
    )
    out["seconds"] = time.perf_counter() - tic
    q1[idx], q9[idx], ess[idx] = again.pr_drr_lt_1, again.pr_drr_lt_0_9, again.ess_min
    succ_e, fut_e = q1 > SUCCESS_THRESHOLD, q9 < FUTILITY_THRESHOLD
    out["trials"] = [
        {
            "trial": int(i),
            "scenario": str(sim["scenario"][i]),
            "exact_pr_drr_lt_1_before": float(exact.pr_drr_lt_1[i]),
            "exact_pr_drr_lt_1": float(q1[i]),
            "exact_pr_drr_lt_1_mc_se": float(np.sqrt(q1[i] * (1 - q1[i]) / ess[i])),
            "fast_pr_drr_lt_1": float(fast.pr_drr_lt_1[i]),
            "exact_pr_drr_lt_0_9_before": float(exact.pr_drr_lt_0_9[i]),
            "exact_pr_drr_lt_0_9": float(q9[i]),
            "exact_pr_drr_lt_0_9_mc_se": float(np.sqrt(q9[i] * (1 - q9[i]) / ess[i])),
            "fast_pr_drr_lt_0_9": float(fast.pr_drr_lt_0_9[i]),
            "ess_min": float(ess[i]),
            "rhat_max": float(again.rhat_max[np.flatnonzero(idx == i)[0]]),
        }
        for i in idx
    ]
    out["success_identical_share_resolved"] = float(np.mean(succ_e == fast.success()))
    out["futility_identical_share_resolved"] = float(np.mean(fut_e == fast.futile()))
    out["still_within_2_se_success"] = int(close(q1, SUCCESS_THRESHOLD, ess).sum())
    out["still_within_2_se_futility"] = int(close(q9, FUTILITY_THRESHOLD, ess).sum())
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
    ap.add_argument(
        "--recheck-samples",
        type=int,
        default=0,
        help="re-run NUTS with this many draws per chain (new seed) for the trials whose exact "
        "Pr(DRR < 1) or Pr(DRR < 0.9) lies within 2 Monte Carlo SE of its threshold, and report "
        "the agreement with those decisions resolved (0 = off)",
    )
    args = ap.parse_args(argv)
    n_per = args.n_per_scenario or (5 if args.quick else 50)
    warmup = args.num_warmup or (300 if args.quick else 1000)
    samples = args.num_samples or (700 if args.quick else 5000)

    sim = simulate(n_per, args.seed)
    data = (sim["alsfrs"], WEEK24, ARM, sim["t_obs_months"], sim["event"])
    n = sim["alsfrs"].shape[0]

    healey_fast(*(a[:1] if a is not WEEK24 and a is not ARM else a for a in data))  # JIT load
    tic = time.perf_counter()
    fast = healey_fast(*data)
    fast_s = time.perf_counter() - tic
    tic = time.perf_counter()
    old = healey_fast(*data, grid="uniform")
    old_s = time.perf_counter() - tic
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
        "previous_fast_path_uniform_grid": {
            "success_identical_share_vs_exact": float(np.mean(exact.success() == old.success())),
            "futility_identical_share_vs_exact": float(np.mean(exact.futile() == old.futile())),
            "success_identical_share_vs_new": float(np.mean(fast.success() == old.success())),
            "max_abs_diff_new_minus_old": {
                f: float(np.max(np.abs(getattr(fast, f) - getattr(old, f))))
                for f in ("pr_drr_lt_1", "pr_drr_lt_0_9", "drr_median", "drr_lower", "drr_upper")
            },
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
            "fast_uniform_grid_per_trial": old_s / n,
            "speed_ratio_uniform_over_adaptive": old_s / fast_s,
            "fast_per_trial_at_10x": fast_big_s / (10 * n),
            "exact_total": exact_s,
            "exact_per_trial": exact_s / n,
            "speed_ratio_exact_over_fast": (exact_s / n) / (fast_s / n),
            "speed_ratio_exact_over_fast_at_10x": (exact_s / n) / (fast_big_s / (10 * n)),
        },
        "thresholds": {"success": SUCCESS_THRESHOLD, "futility": FUTILITY_THRESHOLD},
    }
    if args.recheck_samples > 0:
        result["recheck"] = recheck(exact, fast, data, sim, args, warmup)
    if args.save_npz:
        fields = ("pr_drr_lt_1", "pr_drr_lt_0_9", "drr_median", "drr_lower", "drr_upper")
        np.savez(
            args.save_npz,
            scenario=sim["scenario"],
            ess_min=exact.ess_min,
            rhat_max=exact.rhat_max,
            **{f"exact_{f}": getattr(exact, f) for f in fields},
            **{f"fast_{f}": getattr(fast, f) for f in fields},
            **{f"fast_uniform_{f}": getattr(old, f) for f in fields},
        )
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
