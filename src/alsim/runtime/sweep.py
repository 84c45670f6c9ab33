"""Sweeps: one base scenario, a grid (or list) of overrides by key path, one run per point.

A sweep file (YAML)::

    alsim_sweep: 1                      # optional format marker
    name: power-vs-n                    # optional (default: the file name)
    base: ../scenarios/healey/slowing30.yaml   # a scenario file (relative to this file) or a mapping
    grid:                               # every combination (cartesian product), first key slowest
      regimens[0].n: [60, 120, 240]
      regimens[0].product.drr: [1.0, 0.7]
    # or, instead of grid, a list of points:
    # points:
    #   - {regimens[0].n: 60, regimens[0].product.drr: 1.0}
    run: {n_rep: 500, seed: 1, chunk_size: 64}   # optional; default: the base scenario's run block
    report: {x: regimens[0].n, metric: power_or_type1}   # optional

Key paths name keys of the *resolved* base scenario (every default filled in, as
``alsim validate --resolved`` prints): dotted keys and ``[i]`` list indices. Each point is run
as a resumable run directory ``OUT/points/point-NNN`` (:mod:`alsim.runtime.resume`) with the
same seed, and the points are gathered into ``OUT/sweep.csv`` (point, one column per key path,
comparison, metric, est, mcse, n_rep) and ``OUT/report.html`` (metric against the x key with
Monte Carlo error bands).
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from alsim.errors import InputError
from alsim.fileio import read_yaml_file

__all__ = ["Sweep", "apply_override", "load_sweep", "parse_key_path"]

_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*")
_TOKEN = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")
_ALLOWED = {"alsim_sweep", "name", "description", "base", "grid", "points", "run", "report"}


def parse_key_path(path: str) -> list[str | int]:
    """``regimens[0].product.drr`` -> ``["regimens", 0, "product", "drr"]``."""
    if not isinstance(path, str) or not _PATH.fullmatch(path):
        raise InputError(str(path), "is not a key path (such as regimens[0].product.drr)")
    return [name if name else int(index) for name, index in _TOKEN.findall(path)]


def apply_override(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``data`` with the value at key ``path`` replaced (the key must exist)."""
    out = copy.deepcopy(data)
    parts = parse_key_path(path)
    node: Any = out
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        so_far = _render(parts[: depth + 1])
        if isinstance(part, int):
            if not isinstance(node, list):
                raise InputError(path, f"{_render(parts[:depth])} is not a list")
            if part >= len(node):
                raise InputError(path, f"{so_far}: index out of range (the list has {len(node)})")
        else:
            if not isinstance(node, dict):
                raise InputError(path, f"{_render(parts[:depth])} is not a mapping")
            if part not in node:
                raise InputError(path, f"{so_far}: no such key in the resolved base scenario")
        if last:
            node[part] = value
        else:
            node = node[part]
    return out


def _render(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass(frozen=True)
class Sweep:
    """A loaded sweep: the resolved base scenario, the points and the run settings."""

    name: str
    source: Path
    base: dict[str, Any]
    base_dir: Path
    keys: tuple[str, ...]
    points: tuple[dict[str, Any], ...]
    n_rep: int | None
    seed: int | None
    chunk_size: int | None
    x: str
    metric: str

    def scenario(self, index: int):
        """The validated scenario of point ``index``."""
        from alsim.trial import validate_scenario

        data = self.base
        for key, value in self.points[index].items():
            data = apply_override(data, key, value)
        label = ", ".join(f"{k}={v}" for k, v in self.points[index].items())
        return validate_scenario(
            {**data, "base_dir": str(self.base_dir)},
            source=f"{self.source.name}: point {index} ({label})",
        )


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file; every problem is one :class:`InputError` naming the key."""
    from alsim.trial import load_scenario, validate_scenario

    path = Path(path)
    name = path.name
    if path.is_dir():
        raise InputError(str(path), "is a directory, not a sweep file")
    if not path.is_file():
        raise InputError(str(path), "file not found")
    raw = read_yaml_file(path, "sweep")
    if not isinstance(raw, dict):
        raise InputError(name, "must be a mapping with base and grid (or points)")
    unknown = sorted(set(raw) - _ALLOWED)
    if unknown:
        raise InputError(
            f"{name}: {unknown[0]}", f"is not an allowed key ({', '.join(sorted(_ALLOWED))})"
        )
    base = raw.get("base")
    if base is None:
        raise InputError(f"{name}: base", "is missing (a scenario file or mapping)")
    if isinstance(base, str):
        base_path = (path.parent / base) if not Path(base).is_absolute() else Path(base)
        if not base_path.is_file():
            raise InputError(f"{name}: base", f"scenario file {base} not found")
        scenario = load_scenario(base_path)
        base_dir = base_path.parent
    elif isinstance(base, dict):
        scenario = validate_scenario({**base, "base_dir": str(path.parent)}, source=f"{name}: base")
        base_dir = path.parent
    else:
        raise InputError(f"{name}: base", "must be a scenario file name or a mapping")
    resolved = scenario.model_dump(mode="json")

    grid, listed = raw.get("grid"), raw.get("points")
    if (grid is None) == (listed is None):
        raise InputError(name, "give exactly one of grid and points")
    if grid is not None:
        if not isinstance(grid, dict) or not grid:
            raise InputError(f"{name}: grid", "must map key paths to lists of values")
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise InputError(f"{name}: grid: {key}", "must be a non-empty list of values")
        keys = tuple(str(k) for k in grid)
        points = tuple(
            dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())
        )
    else:
        if not isinstance(listed, list) or not listed:
            raise InputError(f"{name}: points", "must be a non-empty list of mappings")
        keys_list: list[str] = []
        for i, point in enumerate(listed):
            if not isinstance(point, dict) or not point:
                raise InputError(f"{name}: points[{i}]", "must be a mapping of key paths to values")
            keys_list += [str(k) for k in point if str(k) not in keys_list]
        keys = tuple(keys_list)
        points = tuple({str(k): v for k, v in p.items()} for p in listed)
    for point in points:
        for key, value in point.items():
            try:
                apply_override(resolved, key, value)
            except InputError as err:
                raise InputError(f"{name}: {err.where}", err.problem) from None
    run = raw.get("run") or {}
    if not isinstance(run, dict):
        raise InputError(f"{name}: run", "must be a mapping (n_rep, seed, chunk_size)")
    settings = {}
    for key in ("n_rep", "seed", "chunk_size"):
        value = run.get(key)
        low = 0 if key == "seed" else 1
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < low
        ):
            raise InputError(f"{name}: run.{key}", f"must be an integer >= {low}, got {value!r}")
        settings[key] = value
    extra = sorted(set(run) - set(settings))
    if extra:
        raise InputError(
            f"{name}: run.{extra[0]}", "is not an allowed key (n_rep, seed, chunk_size)"
        )
    report = raw.get("report") or {}
    if not isinstance(report, dict):
        raise InputError(f"{name}: report", "must be a mapping (x, metric)")
    x = str(report.get("x") or keys[0])
    if x not in keys:
        raise InputError(
            f"{name}: report.x", f"must be one of the swept key paths ({', '.join(keys)})"
        )
    metric = str(report.get("metric") or "power_or_type1")
    sweep = Sweep(
        name=str(raw.get("name") or path.stem),
        source=path,
        base=resolved,
        base_dir=base_dir,
        keys=keys,
        points=points,
        n_rep=settings["n_rep"],
        seed=settings["seed"],
        chunk_size=settings["chunk_size"],
        x=x,
        metric=metric,
    )
    for i in range(len(points)):  # every point validates before anything runs
        sweep.scenario(i)
    return sweep


def tidy_table(sweep: Sweep, runs: list[tuple[int, pd.DataFrame, int]]) -> pd.DataFrame:
    """point, one column per key path, comparison, metric, est, mcse, n_rep."""
    records = []
    for index, perf, n_rep in runs:
        point = {key: sweep.points[index].get(key) for key in sweep.keys}
        for row in perf[["comparison", "metric", "est", "mcse"]].to_dict(orient="records"):
            records.append({"point": index, **point, **row, "n_rep": n_rep})
    return pd.DataFrame.from_records(
        records, columns=["point", *sweep.keys, "comparison", "metric", "est", "mcse", "n_rep"]
    )


def sweep_figure(table: pd.DataFrame, sweep: Sweep) -> str:
    """The metric against the x key, one panel per comparison, one line per combination of
    the other keys, with 95% Monte Carlo error bands (est ± 1.96 MCSE)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from alsim.report.figures import PALETTE, to_svg
    from alsim.results.performance import TRIAL_LEVEL

    rows = table[(table["metric"] == sweep.metric) & (table["comparison"] != TRIAL_LEVEL)]
    comparisons = list(dict.fromkeys(rows["comparison"]))
    others = [k for k in sweep.keys if k != sweep.x]
    fig, axes = plt.subplots(
        1, max(1, len(comparisons)), figsize=(3.6 * max(1, len(comparisons)), 3.0), squeeze=False
    )
    for ax, comparison in zip(axes[0], comparisons, strict=False):
        sub = rows[rows["comparison"] == comparison]
        groups = (
            sub.groupby([sub[k].astype(str) for k in others], sort=False) if others else [("", sub)]
        )
        for k, (label, group) in enumerate(groups):
            numeric = pd.to_numeric(group[sweep.x], errors="coerce")
            x = numeric if numeric.notna().all() else group[sweep.x].astype(str)
            order = x.argsort(kind="stable") if numeric.notna().all() else range(len(x))
            xs = list(pd.Series(list(x)).iloc[list(order)])
            est = group["est"].to_numpy()[list(order)]
            se = group["mcse"].fillna(0).to_numpy()[list(order)]
            color = PALETTE[k % len(PALETTE)]
            name = (
                ", ".join(
                    f"{o}={v}"
                    for o, v in zip(
                        others, label if isinstance(label, tuple) else (label,), strict=False
                    )
                )
                if others
                else None
            )
            ax.plot(xs, est, marker="o", color=color, label=name)
            ax.fill_between(
                xs, est - 1.96 * se, est + 1.96 * se, color=color, alpha=0.2, linewidth=0
            )
        ax.set_title(str(comparison), fontsize=9)
        ax.set_xlabel(sweep.x, fontsize=8)
        ax.set_ylabel(sweep.metric, fontsize=8)
        ax.tick_params(labelsize=7)
        if others:
            ax.legend(fontsize=6)
    fig.tight_layout()
    return to_svg(fig)


def sweep_report(table: pd.DataFrame, sweep: Sweep) -> str:
    from alsim.report.html import render
    from alsim.report.trial import METHODS, _frame_html

    shown = table[table["metric"] == sweep.metric].copy()
    return render(
        "trial_report.html",
        title=f"Sweep {sweep.name}",
        subtitle=f"{len(sweep.points)} points over {', '.join(sweep.keys)}.",
        cards=[
            {"label": "points", "value": str(len(sweep.points))},
            {"label": "replicates per point", "value": str(int(table["n_rep"].iloc[0]))},
            {"label": "metric", "value": sweep.metric},
        ],
        sections=[
            {
                "id": "sweep",
                "title": f"{sweep.metric} against {sweep.x}",
                "text": "Shaded bands: estimate ± 1.96 Monte Carlo standard errors. Every point "
                "uses the same seed (common random numbers across points).",
                "figures": [sweep_figure(table, sweep)],
                "table": _frame_html(shown),
            }
        ],
        methods=METHODS,
    )
