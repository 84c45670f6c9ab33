"""`alsim validate`, `alsim run` and `alsim report`: simulated trials from the command line.

Registered on the main app by :mod:`alsim.cli.main`. Heavy modules (the trial engine, pandas,
matplotlib) are imported inside the commands so that `alsim --help` stays fast. Every error is
one stderr line ``error: <where>: <problem>`` with exit status 2, raised before anything is
written. `alsim run` writes finished chunks into ``OUT/chunks/`` as they come (so ``--resume``
can continue an interrupted run) and the run's files last, ``manifest.json`` at the very end:
a directory is a complete run only once it has its manifest (see :mod:`alsim.results.store`
and :mod:`alsim.runtime.resume`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from alsim import DISCLAIMER
from alsim.errors import InputError

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)

#: Defaults when neither the command line nor the scenario gives them.
DEFAULT_N_REP = 1000
DEFAULT_SEED = 1

#: Metrics printed after `alsim run` (the report has them all).
SUMMARY_METRICS = (
    ("power_or_type1", "Pr(success)"),
    ("early_futility", "Pr(early futility)"),
    ("expected_n_active", "E[n active]"),
    ("expected_n_control", "E[n control]"),
    ("expected_duration_months", "E[months]"),
    ("bias", "bias"),
    ("coverage", "coverage"),
)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    )


def _check_scenario_file(path: Path) -> None:
    if path.is_dir():
        raise InputError(str(path), "is a directory, not a scenario file")
    if not path.is_file():
        raise InputError(str(path), "file not found")


def _load(path: Path):
    _check_scenario_file(path)
    from alsim.trial import load_scenario

    return load_scenario(path)


def _resolved(scenario) -> dict[str, Any]:
    return scenario.model_dump(mode="json")


def _run_options(out, n_rep, seed, chunk_size, strategy, workers, scheduler):
    """Check the flags shared by ``alsim run`` and ``alsim sweep``; (out path, ExecutionConfig)."""
    from alsim.runtime.strategies import ExecutionConfig

    if not out.strip():
        raise InputError("--out", "must name a directory, got an empty path")
    if n_rep is not None and n_rep < 1:
        raise InputError("--n-rep", f"must be a positive integer, got {n_rep}")
    if seed is not None and seed < 0:
        raise InputError("--seed", f"must be a non-negative integer, got {seed}")
    if chunk_size is not None and chunk_size < 1:
        raise InputError("--chunk-size", f"must be a positive integer, got {chunk_size}")
    config = ExecutionConfig(strategy=strategy, workers=workers, scheduler=scheduler)
    return Path(out), config


def _scenario_setting(resolved: dict[str, Any], key: str) -> Any:
    """``key`` from the scenario's top level or its ``run`` block, if it has one."""
    if resolved.get(key) is not None:
        return resolved[key]
    block = resolved.get("run")
    if isinstance(block, dict) and block.get(key) is not None:
        return block[key]
    return None


def _short(value: Any, width: int = 70) -> str:
    """A one-line summary of a resolved scenario value."""
    if isinstance(value, dict):
        text = ", ".join(f"{k}={_short(v, 20)}" for k, v in value.items())
    elif isinstance(value, list):
        names = [v.get("name") for v in value if isinstance(v, dict) and v.get("name")]
        text = f"{len(value)} items" + (f": {', '.join(map(str, names))}" if names else "")
        if not names and all(not isinstance(v, dict | list) for v in value):
            text = "[" + ", ".join(map(str, value)) + "]"
    else:
        text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _get(data: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if not isinstance(data, dict) or data.get(key) is None:
            return default
        data = data[key]
    return data


def _summary_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Key facts of a resolved scenario, one (label, text) pair per line."""
    rows = [("description", str(data.get("description") or ""))]
    rows.append(("design", f"{data.get('design')} (generator: {data.get('generator', '?')})"))
    analysis = data.get("analysis") or {}
    primary = (
        f"{analysis.get('primary')}, success if statistic > {analysis.get('success_threshold')}"
    )
    if analysis.get("secondary"):
        primary += f"; secondary {', '.join(map(str, analysis['secondary']))}"
    rows.append(("analysis", primary))
    if _get(data, "accrual", "rate_per_month") is not None:
        rows.append(("accrual", f"{_get(data, 'accrual', 'rate_per_month'):g} patients/month"))
    schedule = data.get("schedule") or {}
    if schedule:
        text = f"{schedule.get('followup_weeks', '?'):g} weeks follow-up"
        if schedule.get("visit_weeks"):
            text += f", visits at weeks {', '.join(f'{w:g}' for w in schedule['visit_weeks'])}"
        elif schedule.get("visit_every_weeks"):
            text += f", visits every {schedule['visit_every_weeks']:g} weeks"
        rows.append(("schedule", text))
    interim = data.get("interim")
    if isinstance(interim, dict):
        text = (
            f"first at n={interim.get('first_n')}, then every {interim.get('every_weeks', 0):g} "
            f"weeks (at most {interim.get('max_looks')})"
        )
        if interim.get("futility"):
            text += f"; futility below {interim.get('futility_threshold')}"
        if interim.get("early_success"):
            text += (
                f"; early success above {interim.get('early_success_threshold') or 'the threshold'}"
            )
        rows.append(("interims", text))
    else:
        rows.append(("interims", "none (final analysis only)"))
    control = data.get("control") or {}
    if control:
        rows.append(("control", f"pool {control.get('pool')}"))
    for regimen in data.get("regimens") or []:
        product = regimen.get("product") or {}
        effect = f"DRR {product.get('drr', 1):g}"
        if product.get("hr") is not None:
            effect += f", death/PAV HR {product['hr']:g}"
        elif product.get("drr", 1) != 1:
            effect += " (death/PAV hazard linked to it)"
        if product.get("pathway") is not None:
            effect += ", pathway action"
        alloc = regimen.get("allocation")
        text = f"n {regimen.get('n')}"
        if alloc:
            text += f", allocation {alloc[0]}:{alloc[1]}"
        if regimen.get("entry_months"):
            text += f", enters at month {regimen['entry_months']:g}"
        rows.append((f"regimen {regimen.get('name')}", f"{text}; {effect}"))
    run_block = data.get("run") or {}
    if run_block:
        rows.append(
            ("run defaults", f"n_rep {run_block.get('n_rep')}, seed {run_block.get('seed')}")
        )
    return rows


def validate(
    file: Annotated[Path, typer.Argument(help="A trial scenario file (YAML).", show_default=False)],
    resolved: Annotated[
        bool, typer.Option("--resolved", help="Also print the resolved scenario as YAML.")
    ] = False,
) -> None:
    """Check a trial scenario file and summarise the resolved scenario (defaults filled in)."""
    from alsim.results.store import scenario_digest, scenario_yaml

    scenario = _load(file)
    data = _resolved(scenario)
    table = Table(
        title=f"Scenario {escape(str(scenario.name))}: valid",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        show_header=False,
    )
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold")
    for label, text in _summary_rows(data):
        table.add_row(escape(label), escape(text))
    table.add_row("digest", scenario_digest(data)[:16])
    stdout.print(table)
    if resolved:
        stdout.print(escape(scenario_yaml(data)), end="", soft_wrap=True)
    else:
        stdout.print("[dim]Use --resolved to print every resolved key as YAML.[/dim]")


def run(
    file: Annotated[Path, typer.Argument(help="A trial scenario file (YAML).", show_default=False)],
    out: Annotated[str, typer.Option(help="Run directory to create (must be absent or empty).")],
    n_rep: Annotated[
        int | None,
        typer.Option(
            help=f"Simulated trials (default: the scenario's, else {DEFAULT_N_REP}).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help=f"Random seed, a non-negative integer (default: the scenario's, else {DEFAULT_SEED}).",
            show_default=False,
        ),
    ] = None,
    chunk_size: Annotated[
        int | None,
        typer.Option(help="Replicates simulated together (bounds memory; results do not change)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace an existing run directory at --out.")
    ] = False,
    strategy: Annotated[
        str,
        typer.Option(
            help="How chunks run: serial, vectorized (one process), process (local pool) or dask."
        ),
    ] = "vectorized",
    workers: Annotated[
        int,
        typer.Option(help="Worker processes for --strategy process or dask (LocalCluster)."),
    ] = 1,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler address (tcp://host:8786) instead of a LocalCluster."),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted run at --out (finished chunks are kept).")
    ] = False,
    grow: Annotated[
        int | None,
        typer.Option(
            help="Add this many replicates to the finished run at --out (same seed).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Simulate a trial scenario and write a run directory with tables and an HTML report.

    Replicates are written in chunk files as they finish (OUT/chunks/), so an interrupted run
    continues with --resume; --grow adds replicates to a finished run. The same seed gives the
    same table for every --strategy, --workers and --chunk-size.
    """
    from alsim.results.store import check_out_dir

    target, config = _run_options(out, n_rep, seed, chunk_size, strategy, workers, scheduler)
    if resume and grow is not None:
        raise InputError("--resume/--grow", "give one of them")
    if overwrite and (resume or grow is not None):
        raise InputError("--overwrite", "does not apply with --resume or --grow")
    if not (resume or grow is not None):
        check_out_dir(target, overwrite=overwrite)
    scenario = _load(file)
    data = _resolved(scenario)
    if chunk_size is None and _scenario_setting(data, "chunk_size") is not None:
        chunk_size = int(_scenario_setting(data, "chunk_size"))

    from alsim.runtime.resume import complete_run, prepare_run

    chunked = prepare_run(
        target,
        scenario,
        data,
        n_rep=n_rep,
        seed=seed,
        chunk_size=chunk_size,
        default_n_rep=int(_scenario_setting(data, "n_rep") or DEFAULT_N_REP),
        default_seed=int(_scenario_setting(data, "seed") or DEFAULT_SEED),
        resume=resume,
        grow=grow,
        overwrite=overwrite,
    )
    if chunked is None:
        stdout.print(
            f"{escape(str(target))} is already complete; nothing to resume.", soft_wrap=True
        )
        return
    try:
        with _progress() as bar:
            task = bar.add_task(f"simulating trials ({config.strategy})", total=chunked.n_rep)
            _, perf, simulated = complete_run(
                chunked,
                config,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except KeyboardInterrupt:
        stderr.print(
            f"interrupted: {chunked.done_reps():,} of {chunked.n_rep:,} replicates are kept in "
            f"{escape(str(target / 'chunks'))}; continue with --resume",
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    n_rep, path = chunked.n_rep, target
    _print_summary(perf, str(scenario.name), n_rep, simulated)
    stdout.print(
        f"Run written to [bold]{escape(str(path))}[/bold] (scenario.yaml, manifest.json, "
        "trials.parquet, performance.csv, report.html).",
        soft_wrap=True,
    )
    stdout.print(f"[dim]{DISCLAIMER}[/dim]")


def _print_summary(perf, name: str, n_rep: int, seconds: float) -> None:
    """Main metrics as rows, one column per comparison, cells "est ± MCSE"."""
    from alsim.report.trial import format_mcse, format_value
    from alsim.results.performance import TRIAL_LEVEL

    comparisons = [c for c in perf["comparison"].unique() if c != TRIAL_LEVEL]
    table = Table(
        title=f"{escape(name)}: {n_rep:,} trials, {seconds:.1f} s (est ± MCSE)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    table.add_column("metric", no_wrap=True)
    for comparison in comparisons:
        table.add_column(escape(str(comparison)), justify="right")
    for metric, label in SUMMARY_METRICS:
        cells = []
        for comparison in comparisons:
            hit = perf[(perf["comparison"] == comparison) & (perf["metric"] == metric)]
            if hit.empty:
                cells.append("")
                continue
            est, se = float(hit["est"].iloc[0]), float(hit["mcse"].iloc[0])
            text = format_value(metric, est)
            if text and se == se and se > 0:
                text += f" ± {format_mcse(metric, se)}"
            cells.append(text)
        table.add_row(escape(label), *cells)
    stdout.print(table)
    trial_rows = perf[perf["comparison"] == TRIAL_LEVEL].set_index("metric")
    if "any_success" in trial_rows.index:
        line = (
            f"Pr(any regimen succeeds) {trial_rows.loc['any_success', 'est']:.3f} "
            f"± {trial_rows.loc['any_success', 'mcse']:.3f}"
        )
        if "any_null_success" in trial_rows.index:
            line += (
                f"; family-wise type I error {trial_rows.loc['any_null_success', 'est']:.3f} "
                f"± {trial_rows.loc['any_null_success', 'mcse']:.3f}"
            )
        stdout.print(line + ".")


def report(
    run_dir: Annotated[
        Path, typer.Argument(help="A run directory written by `alsim run`.", show_default=False)
    ],
) -> None:
    """(Re)build report.html of a run directory from its scenario and tables."""
    from alsim.report.trial import trial_report
    from alsim.results.store import read_run, update_report

    loaded = read_run(run_dir)
    html = trial_report(loaded.scenario, loaded.manifest, loaded.trials, loaded.performance)
    path = update_report(loaded, html)
    stdout.print(f"Report written to [bold]{escape(str(path))}[/bold]", soft_wrap=True)
    stdout.print(f"[dim]{DISCLAIMER}[/dim]")


def register(app: typer.Typer) -> None:
    """Add the trial commands to the main app."""
    app.command()(validate)
    app.command()(run)
    app.command()(report)
