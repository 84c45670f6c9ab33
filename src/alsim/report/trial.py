"""HTML reports of simulated trials: one run, many runs (a scenario set), and the demo section.

* :func:`trial_report` renders one run: the resolved scenario, the operating characteristics
  with Monte Carlo SEs (:func:`alsim.results.performance`), four figures (estimates against the
  truth, the look at which comparisons stopped, sample sizes, the success statistic against
  the threshold) and the disclaimer.
* :func:`combined_table` / :func:`combined_report` put many run directories side by side
  (e.g. the HEALEY scenario set of ``benchmarks/healey_scenarios.py``).
* :func:`trial_demo_section` runs a small platform scenario for ``alsim demo``.

Research and education only, not medical advice.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from alsim.report.figures import PALETTE, to_svg
from alsim.report.html import render
from alsim.results.performance import (
    COMPARISON_METRICS,
    TRIAL_LEVEL,
    TRIAL_METRICS,
    performance,
)
from alsim.results.store import scenario_yaml

DECISION_COLORS = {"success": "#2e7d32", "futility": "#c62828", "inconclusive": "#9e9e9e"}

#: Metrics shown in the main operating-characteristics table, in order.
TABLE_METRICS = (
    "power_or_type1",
    "early_success",
    "early_futility",
    "futility",
    "inconclusive",
    "any_success",
    "any_null_success",
    "expected_successes",
    "expected_n_active",
    "expected_n_control",
    "expected_n_trial",
    "expected_duration_months",
    "expected_stop_look",
    "true_value",
    "mean_estimate",
    "bias",
    "empirical_se",
    "rmse",
    "coverage",
)
PROBABILITY_METRICS = {
    "power_or_type1",
    "early_success",
    "early_futility",
    "futility",
    "inconclusive",
    "coverage",
    "any_success",
    "any_null_success",
}
COUNT_METRICS = {
    "expected_n_active",
    "expected_n_control",
    "expected_n_trial",
    "expected_duration_months",
}

#: Metrics of the combined (scenario-set) table.
COMBINED_METRICS = (
    "power_or_type1",
    "early_futility",
    "expected_n_active",
    "expected_n_control",
    "expected_duration_months",
    "bias",
    "rmse",
    "coverage",
    "any_success",
    "any_null_success",
    "expected_n_trial",
)

METHODS = [
    "Every number is a Monte Carlo estimate from simulated trials; the value after ± is its "
    "Monte Carlo standard error (Morris, White & Crowther, Stat Med 2019;38:2074-2102, "
    "https://doi.org/10.1002/sim.8086). Formulas: docs/trial-results.md.",
    "power_or_type1 is Pr(success claimed): power when the regimen truly works, type I error "
    "when its true effect is null. (trial) rows are trial-level: any_success is the family-wise "
    "probability that at least one regimen claims success.",
    "Estimates are taken where each comparison stopped, so with early stopping the bias is the "
    "design's conditional bias.",
    "The trial design and its analyses: docs/healey-model.md and docs/analyses.md; the "
    "resolved scenario above is what was simulated.",
]


def format_value(metric: str, value: float) -> str:
    """A metric value rounded for display (probabilities to 3 decimals, sizes to 1)."""
    if value is None or not math.isfinite(value):
        return ""
    if metric in PROBABILITY_METRICS:
        return f"{value:.3f}"
    if metric in COUNT_METRICS or metric.startswith("n_"):
        return f"{value:.1f}" if not float(value).is_integer() else f"{value:.0f}"
    return f"{value:.3g}"


def format_mcse(metric: str, mcse: float) -> str:
    """A Monte Carlo SE for display (3 decimals for probabilities, else 2 significant digits)."""
    if mcse is None or not math.isfinite(mcse):
        return ""
    return f"{mcse:.3f}" if metric in PROBABILITY_METRICS else f"{mcse:.2g}"


def _cell(metric: str, est: float, mcse: float) -> str:
    text = format_value(metric, est)
    if text and mcse is not None and math.isfinite(mcse) and mcse > 0:
        text += f" ± {format_mcse(metric, mcse)}"
    return text


def oc_table(perf: pd.DataFrame, metrics=TABLE_METRICS) -> pd.DataFrame:
    """Display table: one row per metric, one column per comparison, cells "est ± mcse"."""
    columns = list(pd.unique(perf["comparison"]))
    rows = []
    for metric in metrics:
        sub = perf[perf["metric"] == metric]
        if sub.empty:
            continue
        label = COMPARISON_METRICS.get(metric) or TRIAL_METRICS.get(metric, "")
        row = {"metric": metric, "meaning": label}
        for comparison in columns:
            hit = sub[sub["comparison"] == comparison]
            row[comparison] = (
                ""
                if hit.empty
                else _cell(metric, float(hit["est"].iloc[0]), float(hit["mcse"].iloc[0]))
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=["metric", "meaning", *columns])


def _frame_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, na_rep="", escape=True)


# -- figures --------------------------------------------------------------------------------------
def _grid(n: int, title: str, width: float = 3.2, height: float = 2.6):
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows + 0.5), squeeze=False)
    fig.suptitle(title, x=0.01, ha="left", fontsize=11)
    flat = axes.ravel()
    for ax in flat[n:]:
        ax.set_visible(False)
    for ax in flat[:n]:
        ax.grid(alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig, flat[:n]


def _groups(trials: pd.DataFrame):
    names = list(pd.unique(trials["comparison"].astype(str)))
    key = trials["comparison"].astype(str)
    return [(name, trials[key == name]) for name in names]


def estimates_figure(trials: pd.DataFrame) -> str:
    """Histogram of each comparison's estimates, with the true value and the mean estimate."""
    groups = _groups(trials)
    estimand = str(trials["estimand"].iloc[0])
    fig, axes = _grid(len(groups), f"Distribution of the estimates ({estimand}) against the truth")
    for ax, (name, g) in zip(axes, groups, strict=True):
        est = g["estimate"].to_numpy(float)
        est = est[np.isfinite(est)]
        truth = g["true_value"].to_numpy(float)
        truth = truth[np.isfinite(truth)]
        if est.size:
            lo, hi = np.quantile(est, [0.001, 0.999])
            ax.hist(np.clip(est, lo, hi), bins=40, color=PALETTE[0], alpha=0.75)
            ax.axvline(est.mean(), color=PALETTE[2], lw=1.5, label="mean estimate")
        else:
            ax.text(0.5, 0.5, "no estimates", ha="center", va="center", transform=ax.transAxes)
        if truth.size:
            ax.axvline(truth.mean(), color=PALETTE[1], lw=2, ls="--", label="true value")
        ax.set_title(name, fontsize=10, loc="left")
        ax.set_xlabel(estimand)
    axes[0].set_ylabel("simulated trials")
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return to_svg(fig)


def stop_look_figure(trials: pd.DataFrame) -> str:
    """Look at which each comparison stopped, stacked by decision."""
    groups = _groups(trials)
    fig, axes = _grid(len(groups), "Look at which each comparison stopped")
    max_look = int(trials["looks"].max())
    looks = np.arange(1, max_look + 1)
    for ax, (name, g) in zip(axes, groups, strict=True):
        bottom = np.zeros(looks.size)
        n = len(g)
        for decision, color in DECISION_COLORS.items():
            counts = (
                g.loc[g["decision"] == decision, "stop_look"]
                .value_counts()
                .reindex(looks, fill_value=0)
                .to_numpy(float)
            )
            ax.bar(looks, counts / n, bottom=bottom, color=color, label=decision, width=0.7)
            bottom += counts / n
        ax.set_xticks(looks)
        ax.set_ylim(0, 1)
        ax.set_title(name, fontsize=10, loc="left")
        ax.set_xlabel("look (last = final analysis)")
    axes[0].set_ylabel("share of simulated trials")
    axes[0].legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return to_svg(fig)


def sample_size_figure(trials: pd.DataFrame) -> str:
    """Patients in each comparison's final analysis, and in the whole trial."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    ax.set_title("Sample size distribution", loc="left", fontsize=11)
    groups = _groups(trials)
    all_n = [(g["n_active"] + g["n_control"]).to_numpy(float) for _, g in groups] + [
        trials.groupby("rep")["n_trial"].max().to_numpy(float)
    ]
    lo = min(x.min() for x in all_n)
    hi = max(x.max() for x in all_n)
    bins = np.linspace(lo - 0.5, hi + 0.5, 41) if hi > lo else np.array([lo - 0.5, hi + 0.5])
    for k, (name, g) in enumerate(groups):
        n = (g["n_active"] + g["n_control"]).to_numpy(float)
        ax.hist(
            n,
            bins=bins,
            histtype="step",
            lw=1.6,
            color=PALETTE[k % len(PALETTE)],
            label=f"{name} (active + control)",
            weights=np.full(n.size, 1 / n.size),
        )
    if len(groups) > 1:
        n = all_n[-1]
        ax.hist(
            n,
            bins=bins,
            histtype="step",
            lw=1.6,
            ls="--",
            color="#333333",
            label="whole trial",
            weights=np.full(n.size, 1 / n.size),
        )
    ax.set_xlabel("patients")
    ax.set_ylabel("share of simulated trials")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return to_svg(fig)


def statistic_figure(trials: pd.DataFrame) -> str:
    """Histogram of the largest success statistic over looks, with the success threshold."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    ax.set_title(
        "Success statistic (largest over looks) and the success threshold", loc="left", fontsize=11
    )
    bins = np.linspace(0, 1, 51)
    for k, (name, g) in enumerate(_groups(trials)):
        s = np.clip(g["stat_max"].to_numpy(float), 0, 1)
        s = s[np.isfinite(s)]
        ax.hist(
            s,
            bins=bins,
            histtype="step",
            lw=1.6,
            color=PALETTE[k % len(PALETTE)],
            label=name,
            weights=np.full(s.size, 1 / max(s.size, 1)),
        )
    for threshold in np.unique(trials["threshold"].to_numpy(float)):
        if math.isfinite(threshold):
            ax.axvline(
                threshold,
                color="#2e7d32",
                ls="--",
                lw=1.5,
                label=f"success threshold {threshold:.3g}",
            )
    analysis = str(trials["analysis"].iloc[0])
    label = "posterior Pr(DRR < 1)" if analysis == "healey_drr" else "success statistic"
    ax.set_xlabel(label)
    ax.set_ylabel("share of simulated trials")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return to_svg(fig)


def trial_figures(trials: pd.DataFrame) -> list[str]:
    """The four report figures as inline SVG strings."""
    return [
        estimates_figure(trials),
        stop_look_figure(trials),
        sample_size_figure(trials),
        statistic_figure(trials),
    ]


# -- reports --------------------------------------------------------------------------------------
def _cards(scenario: dict, manifest: dict, trials: pd.DataFrame, perf: pd.DataFrame) -> list[dict]:
    first = trials.iloc[0]
    comparisons = list(pd.unique(trials["comparison"].astype(str)))
    cards = [
        {"label": "scenario", "value": str(scenario.get("name", "(unnamed)"))},
        {"label": "design / analysis", "value": f"{first['design']} / {first['analysis']}"},
        {"label": "simulated trials (n_rep)", "value": f"{trials['rep'].nunique():,}"},
        {"label": "seed", "value": str(manifest.get("seed", ""))},
    ]
    for name in comparisons:
        hit = perf[(perf["comparison"] == name) & (perf["metric"] == "power_or_type1")]
        if not hit.empty:
            est, se = float(hit["est"].iloc[0]), float(hit["mcse"].iloc[0])
            cards.append(
                {"label": f"Pr(success) {name}", "value": f"{est:.3f}", "note": f"MCSE {se:.3f}"}
            )
    hit = perf[(perf["comparison"] == TRIAL_LEVEL) & (perf["metric"] == "any_success")]
    if not hit.empty:
        cards.append(
            {
                "label": "Pr(any regimen succeeds)",
                "value": f"{float(hit['est'].iloc[0]):.3f}",
                "note": f"MCSE {float(hit['mcse'].iloc[0]):.3f}",
            }
        )
    return cards


def trial_sections(
    trials: pd.DataFrame, perf: pd.DataFrame, scenario: dict | None = None
) -> list[dict[str, Any]]:
    """Report sections (operating characteristics, figures, optional resolved scenario)."""
    sections = [
        {
            "id": "operating-characteristics",
            "title": "Operating characteristics",
            "text": "Each cell is a Monte Carlo estimate ± its Monte Carlo standard error.",
            "table": _frame_html(oc_table(perf)),
        },
        {
            "id": "figures",
            "title": "Distributions over the simulated trials",
            "figures": trial_figures(trials),
            "note": "Stacked bars: green success, red futility, grey inconclusive. The "
            "statistic histogram uses a log scale; success is claimed when it exceeds the "
            "threshold at any look.",
        },
    ]
    if scenario is not None:
        sections.append(
            {
                "id": "scenario",
                "title": "Resolved scenario",
                "text": "The scenario as simulated, with every default filled in "
                "(scenario.yaml in the run directory).",
                "pre": scenario_yaml(scenario),
            }
        )
    return sections


def trial_report(
    scenario: dict, manifest: dict, trials: pd.DataFrame, perf: pd.DataFrame | None = None
) -> str:
    """The HTML report of one run (``perf`` defaults to :func:`performance` of ``trials``)."""
    perf = performance(trials) if perf is None else perf
    name = str(scenario.get("name", "trial scenario"))
    description = str(scenario.get("description") or "")
    return render(
        "trial_report.html",
        title=f"Simulated trials: {name}",
        subtitle=description or "Operating characteristics of a simulated trial design.",
        cards=_cards(scenario, manifest, trials, perf),
        sections=trial_sections(trials, perf, scenario),
        methods=[*METHODS, _manifest_line(manifest)],
    )


def _manifest_line(manifest: dict) -> str:
    keys = ("alsim_version", "seed", "n_rep", "chunk_size", "created_utc", "scenario_digest")
    parts = [f"{k} {manifest[k]}" for k in keys if manifest.get(k) is not None]
    timings = manifest.get("timings_seconds") or {}
    if timings:
        parts.append("timings " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return "Run: " + "; ".join(parts) + "."


def combined_table(frame: pd.DataFrame, metrics=COMBINED_METRICS) -> pd.DataFrame:
    """One row per scenario and comparison, one "est ± mcse" column per metric.

    ``frame`` is :func:`alsim.results.combine_runs` output (run, scenario, comparison, metric,
    est, mcse, n_rep); a scenario name used by several runs is followed by the run's name.
    """
    rows = []
    keys = (
        ["run", "scenario", "comparison"] if "run" in frame.columns else ["scenario", "comparison"]
    )
    names = frame.drop_duplicates(keys[:-1])
    ambiguous = names["scenario"].duplicated(keep=False).any()
    for key, g in frame.groupby(keys, sort=False):
        *_, scenario, comparison = key
        values = g.set_index("metric")
        if ambiguous and "run" in keys:
            scenario = f"{scenario} ({key[0]})"
        row = {"scenario": scenario, "comparison": comparison}
        if "n_rep" in g.columns:
            row["n_rep"] = g["n_rep"].iloc[0]
        for metric in metrics:
            if metric in values.index:
                row[metric] = _cell(
                    metric, float(values.loc[metric, "est"]), float(values.loc[metric, "mcse"])
                )
            else:
                row[metric] = ""
        rows.append(row)
    out = pd.DataFrame(rows)
    empty = [m for m in metrics if m in out.columns and (out[m] == "").all()]
    return out.drop(columns=empty)


def combined_report(paths, *, title: str = "Simulated trials: scenario set") -> str:
    """An HTML report with one combined operating-characteristics table over many runs."""
    from alsim.results.store import combine_runs

    frame = combine_runs(paths)
    table = combined_table(frame)
    return render(
        "trial_report.html",
        title=title,
        subtitle=f"{frame['scenario'].nunique()} scenarios side by side.",
        cards=[
            {"label": "scenarios", "value": str(frame["scenario"].nunique())},
            {"label": "comparisons", "value": str(len(table))},
        ],
        sections=[
            {
                "id": "combined",
                "title": "Operating characteristics by scenario",
                "text": "Each cell is a Monte Carlo estimate ± its Monte Carlo standard error; "
                "(trial) rows are trial-level (family-wise).",
                "table": _frame_html(table),
            }
        ],
        methods=METHODS,
    )


# -- demo -----------------------------------------------------------------------------------------
def trial_demo_section(n_rep: int = 300, seed: int = 2026) -> tuple[list[dict[str, Any]], dict]:
    """A small platform trial for ``alsim demo``: report sections and a JSON-ready summary.

    Simulates :data:`DEMO_SCENARIO` (three regimens sharing placebo, one null and two with 30%
    and 20% slowing; the fast HEALEY DRR analysis) ``n_rep`` times and returns sections that fit
    :func:`alsim.report.patient.patient_report`'s ``extra_sections`` (keys id, title, text,
    figures, table, note) and a summary of the key numbers with their MCSE.
    """
    from alsim.trial import run_trials, validate_scenario

    scenario = validate_scenario(DEMO_SCENARIO, "trial demo scenario")
    started = time.perf_counter()
    trials = run_trials(scenario, n_rep, seed)
    seconds = time.perf_counter() - started
    perf = performance(trials)
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "n_rep": n_rep,
        "seed": seed,
        "seconds": round(seconds, 2),
        "metrics": [
            {
                "comparison": r.comparison,
                "metric": r.metric,
                "est": None if not math.isfinite(r.est) else round(float(r.est), 4),
                "mcse": None if not math.isfinite(r.mcse) else round(float(r.mcse), 4),
            }
            for r in perf.itertuples()
            if r.metric
            in (
                "power_or_type1",
                "early_futility",
                "expected_n_active",
                "bias",
                "coverage",
                "any_success",
                "any_null_success",
            )
        ],
    }
    power = perf[perf["metric"] == "power_or_type1"].set_index("comparison")
    text = (
        f"{n_rep} simulated HEALEY-like platform trials ({seconds:.1f} s; three regimens of 160 "
        "patients, 3:1 within regimen, shared placebo, futility interims, success when "
        "Pr(DRR < 1) > 0.979): "
        + "; ".join(
            f"{name} Pr(success) {row.est:.2f} ± {row.mcse:.2f}" for name, row in power.iterrows()
        )
        + ". A regimen with no true effect should succeed about 2.5% of the time (type I "
        "error); one that slows decline should succeed often (power)."
    )
    sections = [
        {
            "id": "trial-demo",
            "title": "Virtual trial: a small platform with shared placebo",
            "text": text,
            "figures": [stop_look_figure(trials), estimates_figure(trials)],
            "table": _frame_html(oc_table(perf, TABLE_METRICS)),
            "note": "Simulated trials on virtual patients, not a real trial. Values after ± "
            "are Monte Carlo standard errors; with a few hundred replicates they are wide. "
            "`alsim run` simulates any scenario file at full size.",
        }
    ]
    return sections, summary


#: The demo's platform scenario: the HEALEY-like base design of examples/scenarios/healey/
#: (shared/science/trials.md B1, B3: 160 per regimen, 3:1 within regimen, shared concurrent
#: placebo, accrual 40/month, 24 weeks, interims from 40 randomised then every 12 weeks with
#: futility Pr(DRR < 0.9) < 0.05, final success Pr(DRR < 1) > 0.979), with one null regimen
#: and two that slow decline by 30% and 20% (same ratio on the death/PAV hazard).
DEMO_SCENARIO: dict[str, Any] = {
    "alsim": 1,
    "name": "demo-platform",
    "description": "HEALEY-like platform: three regimens share placebo (null, 30% and 20% slowing)",
    "design": "platform",
    "accrual": {"rate_per_month": 40},
    "population": {"overrides": {"dropout_hazard_per_month": 0.02}},
    "schedule": {"followup_weeks": 24, "visit_every_weeks": 4},
    "control": {"pool": "concurrent", "concurrent_window_months": 5.92},
    "regimens": [
        {"name": "null", "n": 160, "allocation": [3, 1], "product": {"drr": 1.0}},
        {
            "name": "slowing30",
            "n": 160,
            "allocation": [3, 1],
            "entry_months": 1,
            "product": {"drr": 0.7, "hr": 0.7},
        },
        {
            "name": "slowing20",
            "n": 160,
            "allocation": [3, 1],
            "entry_months": 2,
            "product": {"drr": 0.8, "hr": 0.8},
        },
    ],
    "interim": {"first_n": 40, "every_weeks": 12, "futility_threshold": 0.05},
    "analysis": {"primary": "healey_drr", "success_threshold": 0.979},
}


def write_combined_report(paths, out: str | Path) -> Path:
    """Write :func:`combined_report` to ``out`` atomically."""
    from alsim.fileio import write_text_atomic

    out = Path(out)
    write_text_atomic(out, combined_report(paths))
    return out
