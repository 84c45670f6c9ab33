"""Figures for the cohort calibration report, rendered by matplotlib (Agg) to inline SVG strings.

Every function takes plain arrays (or the cohort tables) and returns an SVG string via
:func:`alsim.report.figures.to_svg`, in the look of the patient report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from alsim.analysis.survival import kaplan_meier_table
from alsim.report.figures import PALETTE, to_svg

_GREY = "#8a94a3"


def _style(ax, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _empty(ax, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=_GREY)


def trajectory_sample(visits: pd.DataFrame, *, n: int = 30, seed: int = 0) -> str:
    """ALSFRS-R totals from onset for ``n`` randomly chosen patients (alive visits only).

    Parameters
    ----------
    visits:
        The cohort's visits table (``subject_id``, ``t_months``, ``alive``, ``alsfrs_r_total``).
    n, seed:
        How many patients to draw, and the seed of the draw (reproducible figure).
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    _style(ax, f"ALSFRS-R trajectories ({n} random patients)", "months since onset", "ALSFRS-R")
    v = visits[["subject_id", "t_months", "alive", "alsfrs_r_total"]]
    v = v[v["alive"].astype(bool) & (v["t_months"] >= 0) & v["alsfrs_r_total"].notna()]
    ids = np.sort(v["subject_id"].astype(str).unique())
    if ids.size == 0:
        _empty(ax)
        return to_svg(fig)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(ids, size=min(n, ids.size), replace=False)
    for i, (_, grp) in enumerate(v[v["subject_id"].astype(str).isin(chosen)].groupby("subject_id")):
        grp = grp.sort_values("t_months")
        ax.plot(
            grp["t_months"], grp["alsfrs_r_total"].astype(float), lw=1, alpha=0.8, color=_color(i)
        )
    ax.set_ylim(0, 49)
    ax.set_xlim(left=0)
    return to_svg(fig)


def slope_histogram(
    slopes: np.ndarray,
    *,
    target_mean: float | None = None,
    title: str = "ALSFRS-R slope, trial-like population",
) -> str:
    """Histogram of per-patient ALSFRS-R slopes with their mean (and the target mean)."""
    x = np.asarray(slopes, dtype=float)
    x = x[np.isfinite(x)]
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    _style(
        ax,
        f"{title} (n={x.size})",
        "slope over 12 months from diagnosis (points/month)",
        "patients",
    )
    if x.size == 0:
        _empty(ax)
        return to_svg(fig)
    ax.hist(x, bins=min(40, max(8, x.size // 8)), color=PALETTE[0], alpha=0.8)
    ax.axvline(x.mean(), color=PALETTE[1], lw=1.5, label=f"simulated mean {x.mean():.2f}")
    if target_mean is not None:
        ax.axvline(
            target_mean, color="black", ls="--", lw=1.2, label=f"target mean {target_mean:.2f}"
        )
    ax.legend(frameon=False)
    return to_svg(fig)


def km_curves(
    time: np.ndarray,
    event: np.ndarray,
    groups: np.ndarray,
    *,
    title: str,
    order: Sequence[str] | None = None,
    min_n: int = 5,
    targets: Mapping[str, float] | None = None,
) -> str:
    """Kaplan-Meier curves from onset, one per group (groups with fewer than ``min_n`` omitted).

    ``targets`` maps a group label to a published median (months), drawn as a marker at S = 0.5.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    groups = np.asarray(groups, dtype=object)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    _style(ax, title, "months since onset", "probability event-free")
    labels = list(order) if order is not None else sorted({str(g) for g in groups})
    drawn = 0
    for i, label in enumerate(labels):
        mask = groups == label
        if mask.sum() < min_n:
            continue
        km = kaplan_meier_table(time[mask], event[mask])
        xs = np.concatenate([[0.0], km.times, [km.max_time]])
        ys = np.concatenate([[1.0], km.survival, [km.survival[-1] if km.survival.size else 1.0]])
        med = km.median
        med_text = f", median {med:.0f}" if np.isfinite(med) else ""
        ax.step(xs, ys, where="post", color=_color(i), label=f"{label} (n={mask.sum()}{med_text})")
        if targets and label in targets:
            ax.plot([targets[label]], [0.5], marker="D", color=_color(i), ms=6, mec="black")
        drawn += 1
    if not drawn:
        _empty(ax)
    else:
        ax.axhline(0.5, color=_GREY, ls=":", lw=1)
        ax.legend(frameon=False, fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    return to_svg(fig)


def onset_age_histograms(ages: np.ndarray, ancestry: np.ndarray, genotype: np.ndarray) -> str:
    """Onset-age distributions by ancestry (left) and by genotype (right), as density outlines."""
    ages = np.asarray(ages, dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.4), sharey=True)
    bins = np.arange(10, 101, 5)
    for ax, labels, title in (
        (axes[0], np.asarray(ancestry, dtype=object), "by ancestry"),
        (axes[1], np.asarray(genotype, dtype=object), "by genotype"),
    ):
        _style(ax, f"Age at onset {title}", "age at onset (years)", "density")
        for i, label in enumerate(sorted({str(v) for v in labels})):
            x = ages[(labels == label) & np.isfinite(ages)]
            if x.size < 2:
                continue
            ax.hist(
                x,
                bins=bins,
                density=True,
                histtype="step",
                lw=1.6,
                color=_color(i),
                label=f"{label} (n={x.size}, mean {x.mean():.1f})",
            )
        ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return to_svg(fig)


def nfl_by_time(visits: pd.DataFrame, *, t_min: float = -48.0, t_max: float = 60.0) -> str:
    """Blood NfL by month from onset: median and IQR, with the age-matched control median."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    _style(ax, "Blood NfL around symptom onset", "months since onset", "NfL (pg/mL, log scale)")
    v = visits[["t_months", "alive", "nfl_pg_ml", "nfl_control_pg_ml"]]
    v = v[v["alive"].astype(bool) & (v["t_months"] >= t_min) & (v["t_months"] <= t_max)]
    v = v[v["nfl_pg_ml"].notna()]
    if v.empty:
        _empty(ax)
        return to_svg(fig)
    month = np.round(v["t_months"].to_numpy(float))
    g = pd.DataFrame(
        {
            "m": month,
            "nfl": v["nfl_pg_ml"].astype(float),
            "ctrl": v["nfl_control_pg_ml"].astype(float),
        }
    ).groupby("m")
    q = g["nfl"].quantile([0.25, 0.5, 0.75]).unstack()
    ctrl = g["ctrl"].median()
    ax.fill_between(q.index, q[0.25], q[0.75], color=PALETTE[0], alpha=0.25, label="ALS IQR")
    ax.plot(q.index, q[0.5], color=PALETTE[0], lw=1.8, label="ALS median")
    ax.plot(ctrl.index, ctrl.to_numpy(), color=_GREY, ls="--", lw=1.4, label="age-matched control")
    ax.axvline(0, color="black", lw=0.8, alpha=0.6)
    ax.set_yscale("log")
    ax.legend(frameon=False, fontsize=8)
    return to_svg(fig)


def eligibility_effect(
    slopes_all: np.ndarray,
    slopes_trial: np.ndarray,
    km_all: tuple[np.ndarray, np.ndarray],
    km_trial: tuple[np.ndarray, np.ndarray],
) -> str:
    """How trial-like selection changes ALSFRS-R slope (left) and survival (right).

    ``km_all`` / ``km_trial`` are (time, event) arrays of the unselected (diagnosed) cohort and
    of the trial-like subset.
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.8, 3.5))
    _style(ax1, "ALSFRS-R slope", "points/month (12 months from diagnosis)", "density")
    _style(
        ax2, "Survival from onset (death or PAV)", "months since onset", "probability event-free"
    )
    for i, (label, slopes, (time, event)) in enumerate(
        (("all diagnosed", slopes_all, km_all), ("trial-like", slopes_trial, km_trial))
    ):
        x = np.asarray(slopes, dtype=float)
        x = x[np.isfinite(x)]
        if x.size > 1:
            ax1.hist(
                x,
                bins=30,
                density=True,
                histtype="step",
                lw=1.6,
                color=_color(i),
                label=f"{label}: mean {x.mean():.2f}, SD {x.std(ddof=1):.2f}",
            )
        time = np.asarray(time, dtype=float)
        if time.size:
            km = kaplan_meier_table(time, np.asarray(event, dtype=bool))
            xs = np.concatenate([[0.0], km.times, [km.max_time]])
            ys = np.concatenate(
                [[1.0], km.survival, [km.survival[-1] if km.survival.size else 1.0]]
            )
            ax2.step(
                xs,
                ys,
                where="post",
                color=_color(i),
                label=f"{label} (n={time.size}, median {km.median:.0f})",
            )
    for ax in (ax1, ax2):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(frameon=False, fontsize=8)
        else:
            _empty(ax)
    ax2.set_ylim(0, 1.02)
    ax2.set_xlim(left=0)
    fig.tight_layout()
    return to_svg(fig)


def target_z_plot(results: pd.DataFrame) -> str:
    """Each target's z = (simulated − target) / tolerance; the band |z| <= 1 passes."""
    n = len(results)
    fig, ax = plt.subplots(figsize=(6.8, max(2.4, 0.24 * n + 0.8)))
    _style(ax, "Targets: deviation in tolerances", "z = (simulated − target) / tolerance", "")
    ax.grid(alpha=0.3, axis="x")
    ax.axvspan(-1, 1, color=PALETTE[4], alpha=0.15)
    z = pd.to_numeric(results["z"], errors="coerce").to_numpy(float)
    hard = results["hard"].astype(bool).to_numpy() if "hard" in results else np.ones(n, bool)
    y = np.arange(n)[::-1]
    shown = np.clip(z, -5, 5)
    for mask, marker, label in ((hard, "o", "hard"), (~hard, "s", "soft")):
        ok = mask & np.isfinite(z)
        colors = [PALETTE[0] if abs(v) <= 1 else PALETTE[1] for v in z[ok]]
        ax.scatter(shown[ok], y[ok], marker=marker, c=colors, s=28, label=label, zorder=3)
    missing = ~np.isfinite(z)
    ax.scatter(np.zeros(missing.sum()), y[missing], marker="x", color=_GREY, label="not computed")
    ax.set_yticks(y, results["id"].astype(str).tolist(), fontsize=7)
    ax.set_xlim(-5.3, 5.3)
    ax.legend(frameon=False, fontsize=7, loc="lower right")
    return to_svg(fig)
