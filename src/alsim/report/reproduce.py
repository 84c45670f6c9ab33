"""HTML for the reproduction of real trials: a report section and a stand-alone report.

* :func:`reproduction_section` — report sections (keys id, title, text, figures, table, note,
  as :func:`alsim.report.trial.trial_demo_section`) and a JSON-ready summary; usable as
  ``extra_sections`` of :func:`alsim.report.patient.patient_report` or in any template that
  renders sections (``trial_report.html``).
* :func:`reproduction_report` — a whole HTML page (``alsim reproduce --out DIR``).

Research and education only, not medical advice.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from alsim.report.figures import PALETTE, to_svg
from alsim.report.html import render

__all__ = [
    "display_table",
    "markdown_table",
    "reproduction_figure",
    "reproduction_report",
    "reproduction_section",
]

STATUS_COLORS = {"within": "#2e7d32", "known miss": "#8a4b00", "miss": "#c62828"}


def _fmt(x: float, unit: str) -> str:
    if x is None or not math.isfinite(x):
        return ""
    digits = 0 if unit == "days" else 1 if unit in ("%", "percentage points") else 2
    return f"{x:.{digits}f}"


def display_table(df: pd.DataFrame) -> pd.DataFrame:
    """The reproduction table as text columns for display (one row per reproduced result)."""
    rows = []
    for r in df.itertuples():
        if math.isfinite(r.ci_low):
            tol = f"[{_fmt(r.ci_low, r.unit)}, {_fmt(r.ci_high, r.unit)}] ({r.tolerance_kind})"
        elif r.tolerance_kind == "direction":
            tol = "a fall (< 0) (direction)"
        else:
            tol = f"published in [{_fmt(r.sim_low, r.unit)}, {_fmt(r.sim_high, r.unit)}] ({r.tolerance_kind})"
        pub = _fmt(r.published, r.unit) or "fall"
        rows.append(
            {
                "trial": r.trial,
                "endpoint": f"{r.endpoint} ({r.unit})",
                "published": f"{pub}: {r.published_text}",
                "simulated ± MCSE": f"{_fmt(r.simulated, r.unit)} ± {_fmt(r.mcse, r.unit) or '0'}",
                "tolerance": tol,
                "status": r.status
                + (f": {r.reason}" if isinstance(r.reason, str) and r.reason else ""),
                "role": r.role,
                "source": r.source,
            }
        )
    return pd.DataFrame(rows)


def reproduction_figure(df: pd.DataFrame) -> str:
    """One panel per row: the published value and interval against the simulated mean and the
    central 95% of the simulated trials (SVG)."""
    n = len(df)
    fig, axes = plt.subplots(n, 1, figsize=(8.0, 0.62 * n + 0.8), squeeze=False)
    fig.suptitle(
        "Published (black, 95% interval) vs simulated (colour: mean and 95% of simulated trials)",
        x=0.01,
        ha="left",
        fontsize=9,
    )
    for ax, r in zip(axes[:, 0], df.itertuples(), strict=True):
        color = STATUS_COLORS.get(r.status, PALETTE[0])
        if math.isfinite(r.sim_low):
            ax.plot([r.sim_low, r.sim_high], [0.3, 0.3], color=color, lw=3, alpha=0.5)
        if math.isfinite(r.simulated):
            ax.plot([r.simulated], [0.3], "o", color=color, ms=5)
        if math.isfinite(r.ci_low):
            ax.plot([r.ci_low, r.ci_high], [-0.3, -0.3], color="black", lw=1.5)
        if math.isfinite(r.published):
            ax.plot([r.published], [-0.3], "s", color="black", ms=4)
        else:
            ax.axvline(0.0, color="black", lw=0.8, ls=":")
        ax.set_ylim(-0.8, 0.8)
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=7, pad=1)
        ax.text(0.0, 1.0, f"{r.id} ({r.unit})", transform=ax.transAxes, fontsize=7, va="bottom")
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    fig.tight_layout(h_pad=0.6)
    return to_svg(fig)


def _counts(df: pd.DataFrame) -> dict[str, int]:
    return {k: int((df["status"] == k).sum()) for k in ("within", "known miss", "miss")}


def reproduction_section(
    df: pd.DataFrame | None = None, *, n_rep: int | None = None, seed: int = 1
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Report sections for the reproduction table and a JSON-ready summary.

    ``df`` is a :func:`alsim.reproduce.reproduction_table`; without it the table is simulated
    (``n_rep`` per trial, default :data:`alsim.reproduce.DEFAULT_N_REP`, and ``seed``).
    """
    from alsim.reproduce import DEFAULT_N_REP, reproduction_table, table_records

    if df is None:
        df = reproduction_table(n_rep or DEFAULT_N_REP, seed)
    counts = _counts(df)
    n = int(df.attrs.get("n_rep", df["n_rep"].iloc[0]))
    text = (
        f"{len(df)} published results of real ALS trials, each simulated {n:,} times with its own "
        "design, eligibility and the therapy's catalogue effect through the trial engine: "
        f"{counts['within']} within their tolerance, {counts['known miss']} known misses "
        f"(with the reason), {counts['miss']} unexplained misses. The tolerance is the published "
        "95% interval (or one derived from the published SE or p-value); where none exists, the "
        "published value must lie within the central 95% of the simulated trials."
    )
    sections = [
        {
            "id": "reproduction",
            "title": "Reproduction of real trials",
            "text": text,
            "figures": [reproduction_figure(df)],
            "table": display_table(df).to_html(index=False, border=0, escape=True),
            "note": "Simulated values are means over simulated trials ± Monte Carlo SE. "
            "'calibration' rows reproduce the result the catalogue effect was derived from "
            "(agreement by construction up to design and Monte Carlo error); 'validation' rows "
            "were not used to set the effect; 'consistency' rows rest on assumed inputs. "
            "Virtual patients, not real ones; research and education only, not medical advice.",
        }
    ]
    summary = table_records(df)
    summary["counts"] = counts
    return sections, summary


def reproduction_report(df: pd.DataFrame) -> str:
    """A stand-alone HTML report of the reproduction table."""
    sections, summary = reproduction_section(df)
    counts = summary["counts"]
    seconds = sum((df.attrs.get("seconds") or {}).values())
    return render(
        "trial_report.html",
        title="alsim: reproduction of real ALS trials",
        subtitle="Catalogue therapies in simulated trials with each trial's own design, "
        "side by side with the published results.",
        cards=[
            {"label": "reproduced results", "value": str(len(df))},
            {"label": "within tolerance", "value": str(counts["within"])},
            {"label": "known misses", "value": str(counts["known miss"])},
            {"label": "unexplained misses", "value": str(counts["miss"])},
            {
                "label": "simulated trials per row",
                "value": f"{summary['n_rep']:,}",
                "note": f"seed {summary['seed']}, {seconds:.1f} s",
            },
        ],
        sections=sections,
        methods=[
            "Therapy effects: alsim/params/therapies.yaml (every number with its status and "
            "source); trial designs: alsim.reproduce.trials (examples/reproductions/*.yaml).",
            "Simulation: alsim's trial engine (empirical PRO-ACT-like generator), docs/trial-engine.md.",
            "Published results: shared/science/trials.md Part A; numbers marked UNCONFIRMED there "
            "are not used as oracles.",
            "Monte Carlo SE = SD / sqrt(n) over simulated trials (delta method for the geometric "
            "mean hazard ratio).",
        ],
    )


def markdown_table(df: pd.DataFrame) -> str:
    """The reproduction table as Markdown (for docs/therapies.md)."""
    shown = display_table(df).drop(columns=["source"])
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "|".join("---" for _ in shown.columns) + "|"
    lines = [header, rule]
    for row in shown.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "/") for v in row) + " |")
    return "\n".join(lines)
