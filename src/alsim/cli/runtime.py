"""`alsim sweep`: run a grid (or list) of scenario overrides and gather one tidy table.

Registered on the main app by :mod:`alsim.cli.main`. Every error is one stderr line
``error: <where>: <problem>`` with exit status 2; a bad sweep file is refused before anything
is written. See ``docs/runtime.md``.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from alsim import DISCLAIMER
from alsim.cli.trial import (
    DEFAULT_N_REP,
    DEFAULT_SEED,
    _progress,
    _run_options,
    _scenario_setting,
    stdout,
)
from alsim.errors import InputError

SWEEP_MARKER = "sweep.json"
SWEEP_TABLE = "sweep.csv"
SWEEP_REPORT = "report.html"
POINTS_DIR = "points"


def _check_sweep_out(out: Path, *, resume: bool, overwrite: bool) -> None:
    from alsim.results.store import check_out_dir

    if resume and overwrite:
        raise InputError("--resume/--overwrite", "give one of them")
    if out.exists() and not out.is_dir():
        raise InputError("--out", f"{out} exists and is not a directory")
    is_sweep = (out / SWEEP_MARKER).is_file()
    if resume:
        if not is_sweep:
            raise InputError("--resume", f"{out} is not an alsim sweep directory")
        return
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise InputError(
                "--out", f"{out} is not empty (use --resume to continue, --overwrite to replace)"
            )
        if not is_sweep:
            raise InputError(
                "--out", f"{out} is not empty and is not an alsim sweep directory; not replacing it"
            )
    else:
        check_out_dir(out, overwrite=False)


def sweep(
    file: Annotated[Path, typer.Argument(help="A sweep file (YAML).", show_default=False)],
    out: Annotated[str, typer.Option(help="Sweep directory to create (absent or empty).")],
    n_rep: Annotated[
        int | None,
        typer.Option(
            help="Simulated trials per point (default: the sweep's, the scenario's, 1000).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed, the same for every point.", show_default=False)
    ] = None,
    chunk_size: Annotated[
        int | None, typer.Option(help="Replicates per chunk file.", show_default=False)
    ] = None,
    strategy: Annotated[
        str, typer.Option(help="serial, vectorized, process or dask (see alsim run).")
    ] = "vectorized",
    workers: Annotated[int, typer.Option(help="Worker processes (process, dask).")] = 1,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (tcp://host:8786).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted sweep: finished points are reused.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing sweep directory.")] = False,
) -> None:
    """Run every point of a sweep (base scenario + overrides by key path) as a run directory
    under OUT/points/ and gather OUT/sweep.csv and OUT/report.html."""
    import shutil

    from alsim.fileio import write_text_atomic
    from alsim.results.store import write_bytes_atomic
    from alsim.runtime.strategies import ExecutionConfig
    from alsim.runtime.sweep import load_sweep, sweep_report, tidy_table

    target, config = _run_options(out, n_rep, seed, chunk_size, strategy, workers, scheduler)
    _check_sweep_out(target, resume=resume, overwrite=overwrite)
    plan = load_sweep(file)
    n_rep = n_rep or plan.n_rep or int(_scenario_setting(plan.base, "n_rep") or DEFAULT_N_REP)
    if seed is None:
        seed = plan.seed if plan.seed is not None else _scenario_setting(plan.base, "seed")
        seed = int(seed if seed is not None else DEFAULT_SEED)
    chunk_size = chunk_size or plan.chunk_size or _scenario_setting(plan.base, "chunk_size")
    settings = {"kind": "alsim_sweep", "name": plan.name, "n_rep": n_rep, "seed": seed}
    if resume:
        recorded = json.loads((target / SWEEP_MARKER).read_text(encoding="utf-8"))
        for key in ("n_rep", "seed"):
            if recorded.get(key) != settings[key]:
                raise InputError(
                    "--resume",
                    f"{target} was run with {key} {recorded.get(key)}, not {settings[key]}",
                )
    elif target.is_dir() and any(target.iterdir()):
        shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target / SWEEP_MARKER, json.dumps(settings, indent=2) + "\n")
    write_bytes_atomic(target / "sweep.yaml", Path(file).read_bytes())

    with contextlib.ExitStack() as stack:
        if config.strategy == "dask" and config.scheduler is None:
            # one LocalCluster for every point, closed at the end
            from alsim.runtime.strategies import local_cluster

            cluster = stack.enter_context(local_cluster(config.workers))
            config = ExecutionConfig(
                "dask", workers=config.workers, scheduler=cluster.scheduler_address
            )
        runs = _run_points(
            plan, target, config, n_rep=n_rep, seed=seed, chunk_size=chunk_size, resume=resume
        )
    table = tidy_table(plan, runs)
    write_bytes_atomic(target / SWEEP_TABLE, table.to_csv(index=False).encode("utf-8"))
    write_text_atomic(target / SWEEP_REPORT, sweep_report(table, plan))
    _print_sweep(table, plan)
    stdout.print(
        f"Sweep written to [bold]{escape(str(target))}[/bold] ({len(plan.points)} points: "
        f"{SWEEP_TABLE}, {SWEEP_REPORT}, {POINTS_DIR}/).",
        soft_wrap=True,
    )
    stdout.print(f"[dim]{DISCLAIMER}[/dim]")


def _run_points(plan, target: Path, config, *, n_rep, seed, chunk_size, resume) -> list:
    """Run (or reuse, with ``resume``) every point; ``[(index, performance, n_rep)]``."""
    from alsim.results.store import read_run
    from alsim.runtime.resume import complete_run, prepare_run

    runs = []
    with _progress() as bar:
        points_task = bar.add_task("sweep points", total=len(plan.points))
        reps_task = bar.add_task("simulating trials", total=n_rep)
        for index in range(len(plan.points)):
            scenario = plan.scenario(index)
            data = scenario.model_dump(mode="json")
            folder = target / POINTS_DIR / f"point-{index:03d}"
            exists = folder.is_dir() and any(folder.iterdir())
            chunked = prepare_run(
                folder,
                scenario,
                data,
                n_rep=n_rep,
                seed=seed,
                chunk_size=chunk_size,
                default_n_rep=n_rep,
                default_seed=seed,
                resume=resume and exists,
            )
            if chunked is not None:
                bar.update(reps_task, completed=0, total=chunked.n_rep)
                complete_run(
                    chunked,
                    config,
                    progress=lambda done, total: bar.update(reps_task, completed=done, total=total),
                )
            # always from the run directory: a reused point and a new one read back alike
            runs.append((index, read_run(folder).performance, n_rep))
            bar.update(points_task, completed=index + 1)
    return runs


def _print_sweep(table, plan) -> None:
    from rich import box
    from rich.table import Table

    from alsim.results.performance import TRIAL_LEVEL

    rows = table[(table["metric"] == plan.metric) & (table["comparison"] != TRIAL_LEVEL)]
    out = Table(
        title=f"{escape(plan.name)}: {plan.metric} (est ± MCSE)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for column in ("point", *plan.keys, "comparison", plan.metric):
        out.add_column(escape(str(column)), justify="left" if column == "comparison" else "right")
    for row in rows.to_dict(orient="records"):
        cells = [
            str(row["point"]),
            *(str(row[k]) for k in plan.keys),
            escape(str(row["comparison"])),
        ]
        cells.append(f"{row['est']:.3f} ± {row['mcse']:.3f}")
        out.add_row(*cells)
    stdout.print(out)


def register(app: typer.Typer) -> None:
    """Add `alsim sweep` to the main app."""
    app.command()(sweep)
