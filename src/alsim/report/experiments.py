"""Report sections, figures and the HTML report of ``alsim experiment`` (and the demo's version).

* :func:`experiment_sections` turns an :class:`~alsim.experiments.ExperimentResult` into report
  sections (text, figures, tables with Monte Carlo SEs);
* :func:`experiments_report` renders one or more results as a standalone HTML page;
* :func:`experiments_demo_section` runs the quick version of every experiment for
  ``alsim demo`` and returns sections plus a JSON-ready summary.

Research and education only, not medical advice.
"""

from __future__ import annotations

import math
import time
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from alsim.report.figures import PALETTE, to_svg
from alsim.report.html import render, table_html

METHODS = [
    "Virtual patients from the calibrated mechanistic model (docs/disease-model.md); treated and "
    "untreated worlds share every random draw, so differences are caused by the therapy only.",
    "Values after ± are Monte Carlo standard errors (paired over patients, or over simulated "
    "trials; trial SEs are conditional on the simulated patient pool).",
    "Therapies are PathwayEffect factors: catalogue therapies (tofersen, riluzole, edaravone, "
    "AMX0035, lenzumestrocel) take the mechanistic action of their entry in "
    "alsim.treatment.catalogue; the deliberately hypothetical ones (single-pathway blockers, "
    "neuroprotectant, subgroup-restricted therapies) are defined in the experiment with "
    "illustrative magnitudes (docs/experiments.md). Each section lists its therapies and sources.",
    "Experiments and their equations: docs/experiments.md.",
]


def _axes(title: str, xlabel: str, ylabel: str, size=(6.4, 3.4)):
    fig, ax = plt.subplots(figsize=size)
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _merge_se(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns ``x`` and ``x_se`` (or ``x`` and ``se``) as one text column ``x ± se``."""
    out = frame.copy()
    for col in list(out.columns):
        se_col = f"{col}_se" if f"{col}_se" in out.columns else None
        if se_col is None and col.endswith("_effect") and "se" in out.columns:
            se_col = "se"
        if se_col is None:
            continue
        out[col] = [_pm(v, s) for v, s in zip(out[col], out[se_col], strict=True)]
        out = out.drop(columns=se_col)
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = [_num(v) for v in out[col]]
    return out


def _num(v: float) -> str:
    if v is None or not np.isfinite(v):
        return ""
    return f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}"


def _pm(v: float, s: float) -> str:
    if v is None or not np.isfinite(v):
        return ""
    if s is None or not np.isfinite(s) or s == 0:
        return _num(v)
    digits = max(0, min(5, 1 - math.floor(math.log10(abs(s)))))
    return f"{v:.{digits}f} ± {s:.{digits}f}"


def _table(frame: pd.DataFrame) -> str:
    return table_html(_merge_se(frame))


# -- figures ----------------------------------------------------------------------------------
def _time_window_figures(result) -> list[str]:
    c = result.series["curves"]
    t = np.asarray(c["t"])
    keep = t >= -12
    fig, ax = _axes(
        "Surviving motor neurons (mean of 8 pools), SOD1 carriers",
        "months since (untreated) symptom onset",
        "surviving fraction",
    )
    ax.plot(t[keep], np.asarray(c["untreated"])[keep], color="#555555", label="untreated")
    for i, arm in enumerate(result.tables["arms"]["start"]):
        ax.plot(t[keep], np.asarray(c[arm])[keep], color=PALETTE[i], label=arm)
    ax.axvline(result.key_numbers["median_diagnosis_months_after_onset"], color="#999999", ls=":")
    ax.legend(fontsize=8, frameon=False)
    arms = result.tables["arms"]
    fig2, ax2 = _axes("Neurons saved 24 months after onset", "", "treated − untreated")
    ax2.bar(
        range(len(arms)),
        arms["neurons_saved_24m"],
        yerr=2 * arms["neurons_saved_24m_se"],
        color=PALETTE[: len(arms)],
    )
    ax2.set_xticks(range(len(arms)), [a.replace(" (", "\n(") for a in arms["start"]], fontsize=8)
    return [to_svg(fig), to_svg(fig2)]


def _combination_figures(result) -> list[str]:
    tab = result.tables["interventions"]
    combos = tab[tab.kind != "single"]
    fig, ax = _axes(
        "Neurons saved: combination vs sum of its parts",
        "mean neurons saved (fraction of the pool)",
        "",
        size=(6.4, 0.32 * len(combos) + 1.2),
    )
    y = np.arange(len(combos))
    ax.barh(y + 0.2, combos["neurons_saved"], height=0.4, color=PALETTE[0], label="combination")
    ax.barh(
        y - 0.2,
        combos["sum_of_parts_saved"],
        height=0.4,
        color="#bbbbbb",
        label="sum of the parts (additive)",
    )
    ax.set_yticks(y, combos["intervention"], fontsize=8)
    ax.invert_yaxis()
    ax.legend(fontsize=8, frameon=False)
    return [to_svg(fig)]


def _heterogeneity_figures(result) -> list[str]:
    fig, ax = _axes(
        "Estimated slope difference in simulated trials",
        "active − control ALSFRS-R slope (points/month)",
        "trials",
    )
    for i, (label, est) in enumerate(result.series["estimates"].items()):
        ax.hist(est, bins=40, alpha=0.5, color=PALETTE[i % len(PALETTE)], label=label)
    styles = (":", "--")
    for i, (variant, k) in enumerate(
        (v, k) for v, k in result.key_numbers.items() if isinstance(k, dict)
    ):
        ax.axvline(
            k["true_slope_effect_in_subgroup"],
            color="#333333",
            ls=styles[i % 2],
            label=f"true effect in the {variant} subgroup",
        )
    ax.legend(fontsize=8, frameon=False)
    return [to_svg(fig)]


def _precision_figures(result) -> list[str]:
    tab = result.tables["power"]
    fig, ax = _axes("Power vs trial size", "patients randomised (1:1)", "Pr(success)")
    styles = {"unselected": "--", "SOD1-selected": "-"}
    for i, endpoint in enumerate(tab.endpoint.unique()):
        for label, ls in styles.items():
            sub = tab[(tab.endpoint == endpoint) & (tab.trial == label)]
            ax.errorbar(
                sub.n,
                sub.power,
                yerr=2 * sub.power_se,
                ls=ls,
                marker="o",
                color=PALETTE[i],
                label=f"{label}: {endpoint}",
            )
    ax.axhline(0.025, color="#999999", ls=":")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, frameon=False)
    return [to_svg(fig)]


def _presymptomatic_figures(result) -> list[str]:
    fig, ax = _axes(
        "Manifest ALS after randomisation at the NfL trigger",
        "months since randomisation",
        "cumulative share with symptom onset",
    )
    grid = np.linspace(0, 36, 145)
    for i, (label, times) in enumerate(result.series["time_to_onset"].items()):
        times = np.asarray(times)
        ax.step(
            grid,
            (times[None, :] <= grid[:, None]).mean(axis=1),
            where="post",
            color=PALETTE[i],
            label=label,
        )
    ax.axvline(12, color="#999999", ls=":")
    ax.legend(fontsize=8, frameon=False)
    return [to_svg(fig)]


def _early_detection_figures(result) -> list[str]:
    tab = result.tables["auc"]
    fig, ax = _axes("Discrimination before symptom onset", "months before onset", "AUC")
    for i, (col, label) in enumerate(
        (("auc_nfl", "blood NfL"), ("auc_fa", "DTI-like FA"), ("auc_classifier", "classifier"))
    ):
        ax.errorbar(
            tab.months_before_onset,
            tab[col],
            yerr=2 * tab[f"{col}_se"],
            marker="o",
            color=PALETTE[i],
            label=label,
        )
    ax.invert_xaxis()
    ax.set_ylim(0.4, 1.02)
    ax.legend(fontsize=8, frameon=False)
    fig2, ax2 = _axes(
        "Lead time of monthly NfL screening", "months before symptom onset", "patients"
    )
    lead = np.asarray(result.series["lead"])
    if lead.size:
        ax2.hist(lead, bins=np.arange(0, lead.max() + 2), color=PALETTE[0])
    return [to_svg(fig), to_svg(fig2)]


FIGURES = {
    "time-window": _time_window_figures,
    "combination": _combination_figures,
    "heterogeneity": _heterogeneity_figures,
    "precision": _precision_figures,
    "presymptomatic-trial": _presymptomatic_figures,
    "early-detection": _early_detection_figures,
}


def experiment_sections(result, *, figures: bool = True) -> list[dict[str, Any]]:
    """Report sections for one result (keys id, title, text, figures, table, note)."""
    settings = "; ".join(f"{k}: {v}" for k, v in result.settings.items())
    tables = "".join(
        f"<h3>{name.replace('_', ' ')}</h3><div class='scroll'>{_table(frame)}</div>"
        for name, frame in result.tables.items()
    )
    findings = "".join(f"<li>{_escape(f)}</li>" for f in result.findings)
    therapies = getattr(result, "therapies", None)
    if therapies:
        tables = (
            "<h3>therapies</h3><div class='scroll'>"
            + table_html(pd.DataFrame(therapies))
            + "</div>"
            + tables
        )
    return [
        {
            "id": f"experiment-{result.name}",
            "title": result.title,
            "text": result.question,
            "html": f"<ul>{findings}</ul>{tables}",
            "figures": FIGURES[result.name](result) if figures else [],
            "note": f"Seed {result.seed}; {settings}. Simulated virtual patients, not real "
            "patients; research and education only, not medical advice.",
        }
    ]


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def experiments_report(results) -> str:
    """A standalone HTML report of one or more experiment results."""
    results = list(results)
    cards = []
    for r in results:
        cards.append(
            {"label": r.title, "value": r.name, "note": r.findings[0] if r.findings else ""}
        )
    sections = [s for r in results for s in experiment_sections(r)]
    title = (
        f"Experiment: {results[0].name}" if len(results) == 1 else "Experiments: the seed's claims"
    )
    return render(
        "trial_report.html",  # the same page layout as trial and reproduction reports
        title=title,
        subtitle="The seed's claims made computable on calibrated virtual patients.",
        cards=cards,
        sections=sections,
        methods=METHODS,
    )


def experiments_demo_section(seed: int = 2026) -> tuple[list[dict[str, Any]], dict]:
    """Quick versions of all six experiments for ``alsim demo``: sections and a summary.

    Small cohorts (a few seconds in all); the summary maps each experiment to its key numbers.
    """
    from alsim.experiments import NAMES, run_experiment

    started = time.perf_counter()
    sections, summary = [], {"seed": seed, "experiments": {}}
    for name in NAMES:
        result = run_experiment(name, seed, quick=True)
        for section in experiment_sections(result):
            section["note"] = (
                "Quick version with small cohorts (`alsim experiment "
                f"{name}` runs the full size). " + section["note"]
            )
            sections.append(section)
        summary["experiments"][name] = result.to_json()["key_numbers"]
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return sections, summary
