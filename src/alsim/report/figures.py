"""Figures for reports, rendered by matplotlib (Agg) to inline SVG strings.

This is the only package that imports matplotlib; it is imported lazily by the CLI.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

DOMAIN_LABELS = {
    "bulbar": "Bulbar",
    "fine_motor": "Fine motor",
    "gross_motor": "Gross motor",
    "respiratory": "Respiratory",
}
PALETTE = ("#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f")
KINGS_ORDER = ("0", "1", "2", "3", "4A", "4B", "4A+4B", "5")


def to_svg(fig) -> str:
    """Serialise a figure to an SVG string (no XML prolog) and close it."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _axes(title: str, xlabel: str, ylabel: str, size=(6.4, 3.6)):
    fig, ax = plt.subplots(figsize=size)
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def total_trajectory(months, totals, *, fit_months=None, fit_values=None, fit_label=None) -> str:
    """ALSFRS-R total against months since onset, with an optional fitted curve."""
    fig, ax = _axes("ALSFRS-R total", "months since symptom onset", "ALSFRS-R (0-48)")
    ax.plot(months, totals, "o", color=PALETTE[0], label="observed")
    if fit_months is not None:
        ax.plot(fit_months, fit_values, "-", color=PALETTE[1], label=fit_label or "fit")
    ax.set_ylim(0, 49)
    ax.set_xlim(left=0)
    ax.legend(frameon=False)
    return to_svg(fig)


def domain_trajectories(months, domains: dict[str, np.ndarray]) -> str:
    """The four ALSFRS-R domain subscores against months since onset."""
    fig, ax = _axes("ALSFRS-R domains", "months since symptom onset", "subscore (0-12)")
    for color, (name, values) in zip(PALETTE, domains.items(), strict=False):
        ax.plot(months, values, "o-", color=color, label=DOMAIN_LABELS.get(name, name))
    ax.set_ylim(0, 12.5)
    ax.set_xlim(left=0)
    ax.legend(frameon=False, ncol=2)
    return to_svg(fig)


def stage_trajectories(months, kings_labels, mitos_stages) -> str:
    """King's (estimated) and MiToS stages as step plots."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.0, 3.2))
    kings_pos = [KINGS_ORDER.index(str(label)) for label in kings_labels]
    ax1.step(months, kings_pos, where="post", color=PALETTE[0])
    ax1.plot(months, kings_pos, "o", color=PALETTE[0])
    ax1.set_yticks(range(len(KINGS_ORDER)), KINGS_ORDER)
    ax1.set_title("King's stage (from ALSFRS-R)", loc="left", fontsize=11)
    ax2.step(months, mitos_stages, where="post", color=PALETTE[1])
    ax2.plot(months, mitos_stages, "o", color=PALETTE[1])
    ax2.set_yticks(range(6))
    ax2.set_ylim(-0.3, 5.3)
    ax2.set_title("MiToS stage", loc="left", fontsize=11)
    for ax in (ax1, ax2):
        ax.set_xlabel("months since symptom onset")
        ax.grid(alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.tight_layout()
    return to_svg(fig)


def survival_curve(months, survival, *, median=None, now=None, conditional=None) -> str:
    """A predicted survival curve from onset, with its median and (optionally) the present time."""
    fig, ax = _axes(
        "Predicted survival (ENCALS)", "months since symptom onset", "probability event-free"
    )
    ax.plot(months, survival, color=PALETTE[0], label="from onset")
    if conditional is not None:
        ax.plot(
            conditional[0], conditional[1], "--", color=PALETTE[1], label="given event-free today"
        )
    if median is not None:
        ax.axvline(median, color="grey", ls=":", lw=1)
        ax.annotate(
            f"median {median:.0f} mo", (median, 0.5), xytext=(4, 4), textcoords="offset points"
        )
    if now is not None:
        ax.axvline(now, color=PALETTE[1], ls="-", lw=0.8, alpha=0.5)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, float(np.max(months)))
    ax.legend(frameon=False)
    return to_svg(fig)


def why_trace_figure(trace) -> str:
    """Four panels for one virtual patient: pathways, neurons, function and items, NfL."""
    from alsim.disease.mechanistic.schema import PATHWAYS, POOL_NAMES, REGIONS

    frame = trace.timeline
    t = frame["t_months"].to_numpy()
    fig, axes = plt.subplots(2, 2, figsize=(10.0, 6.6), sharex=True)
    focal = trace.profile.get("onset_region", REGIONS[0])
    ax = axes[0, 0]
    for color, pathway in zip(PALETTE, PATHWAYS, strict=False):
        ax.plot(t, frame[f"{pathway}_lmn_{focal}"], color=color, label=pathway)
    ax.set_title(
        f"Pathway burdens, LMN pool of the onset region ({focal})", loc="left", fontsize=10
    )
    ax.legend(frameon=False, fontsize=8)
    ax = axes[0, 1]
    for k, pool in enumerate(POOL_NAMES):
        ax.plot(
            t,
            frame[f"neurons_{pool}"],
            color=PALETTE[k % 4],
            ls="-" if pool.startswith("lmn") else "--",
            label=pool,
        )
    ax.set_ylim(0, 1.02)
    ax.set_title("Surviving motor neurons by pool (never regrow)", loc="left", fontsize=10)
    ax.legend(frameon=False, fontsize=7, ncol=2)
    ax = axes[1, 0]
    for color, region in zip(PALETTE, REGIONS, strict=False):
        ax.plot(t, frame[f"function_{region}"], color=color, label=f"function: {region}")
    total = frame["alsfrs_r_total"].where(frame["alive"])
    twin = ax.twinx()
    twin.step(t, total, where="post", color="black", lw=1, label="ALSFRS-R")
    twin.set_ylim(0, 49)
    twin.set_ylabel("ALSFRS-R")
    ax.set_ylim(0, 1.02)
    ax.set_title(
        "Regional function (reinnervation hides early loss) and ALSFRS-R", loc="left", fontsize=10
    )
    ax.legend(frameon=False, fontsize=7, loc="lower left")
    ax = axes[1, 1]
    ax.plot(t, frame["nfl_pg_ml"], color=PALETTE[1])
    ax.set_title("Blood NfL (pg/mL)", loc="left", fontsize=10)
    for ax in axes.ravel():
        ax.axvline(0, color="grey", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("months from symptom onset")
    fig.tight_layout()
    return to_svg(fig)
