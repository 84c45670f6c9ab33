"""`alsim cohort`, `alsim trace` and `alsim calibrate`: virtual patients from the command line.

Registered on the main app by :mod:`alsim.cli.main`. Heavy modules are imported inside the
commands so that `alsim --help` stays fast.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from alsim.errors import InputError

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    )


def _positive_int(name: str, value: int) -> int:
    if value < 1:
        raise InputError(name, f"must be a positive integer, got {value}")
    return value


def cohort(
    n: Annotated[int, typer.Option("--n", help="Number of virtual patients.")],
    out: Annotated[Path, typer.Option(help="Output directory (created; must be empty or absent).")],
    seed: Annotated[int, typer.Option(help="Random seed (non-negative integer).")] = 1,
    ancestry: Annotated[str, typer.Option(help="european or east_asian.")] = "european",
    genotype: Annotated[
        str | None, typer.Option(help="Force one genotype (sporadic, SOD1, C9orf72, TARDBP, FUS).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet, csv or proact.")] = "parquet",
    horizon_months: Annotated[
        int, typer.Option(help="Follow-up after symptom onset, months.")
    ] = 120,
    pre_onset_months: Annotated[
        int, typer.Option(help="Visits before onset (biomarkers), months.")
    ] = 48,
    params: Annotated[
        Path | None, typer.Option(help="A mechanistic parameter file (TOML).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    chunk_size: Annotated[int, typer.Option(help="Patients per chunk (bounds memory).")] = 2048,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty output directory.")] = False,
) -> None:
    """Simulate a cohort of virtual ALS patients and write patients, visits and a manifest."""
    from alsim.cohort.output import FORMATS, write_cohort
    from alsim.cohort.simulate import CohortSpec, make_cohort
    from alsim.disease.mechanistic.params import load_params

    if fmt not in FORMATS:
        raise InputError("--format", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
    _positive_int("--workers", workers)
    _positive_int("--chunk-size", chunk_size)
    try:
        spec = CohortSpec(
            n=n,
            seed=seed,
            ancestry=ancestry,
            genotype=genotype,
            horizon_months=horizon_months,
            pre_onset_months=pre_onset_months,
        )
    except InputError as err:
        raise InputError(f"--{err.where.replace('_', '-')}", err.problem) from None
    parameter_set = load_params(params)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not overwrite)):
        raise InputError("--out", f"{out} exists and is not an empty directory (use --overwrite)")
    started = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("simulating", total=n)
        result = make_cohort(
            spec,
            params=parameter_set,
            chunk_size=chunk_size,
            workers=workers,
            progress=lambda done: bar.advance(task, done),
        )
    simulated = time.perf_counter() - started
    path = write_cohort(
        result, out, fmt=fmt, overwrite=overwrite, timings={"simulate": round(simulated, 3)}
    )
    patients = result.patients
    stdout.print(
        f"Wrote {len(patients)} patients and {len(result.visits)} visits to [bold]{path}[/bold] "
        f"({fmt}; {simulated:.1f} s)."
    )
    died = patients["t_death_months"].notna().mean()
    stdout.print(
        f"Median onset age {patients['age_onset_years'].median():.1f} y; "
        f"{died:.0%} died within {horizon_months} months of onset."
    )


def trace(
    index: Annotated[int, typer.Argument(help="0-based index of the patient in the cohort.")],
    out: Annotated[Path, typer.Option(help="Directory for trace.csv and trace.html.")],
    n: Annotated[int, typer.Option("--n", help="Cohort size (as given to `alsim cohort`).")] = 1000,
    seed: Annotated[int, typer.Option(help="Cohort seed.")] = 1,
    ancestry: Annotated[str, typer.Option(help="european or east_asian.")] = "european",
    genotype: Annotated[
        str | None, typer.Option(help="Forced genotype, if the cohort had one.")
    ] = None,
    horizon_months: Annotated[int, typer.Option(help="Follow-up after onset, months.")] = 120,
    pre_onset_months: Annotated[
        int, typer.Option(help="Visits before onset, months (as given to `alsim cohort`).")
    ] = 48,
    params: Annotated[
        Path | None, typer.Option(help="A mechanistic parameter file (TOML).")
    ] = None,
) -> None:
    """Why-trace one virtual patient: pathways, neurons, function, items and NfL over time."""
    from alsim.cohort.simulate import CohortSpec
    from alsim.disease.mechanistic.params import load_params
    from alsim.disease.mechanistic.trace import trace_patient
    from alsim.report.figures import why_trace_figure
    from alsim.report.html import render, write_text_atomic

    spec = CohortSpec(
        n=n,
        seed=seed,
        ancestry=ancestry,
        genotype=genotype,
        horizon_months=horizon_months,
        pre_onset_months=pre_onset_months,
    )
    result = trace_patient(spec, index, load_params(params))
    if out.exists() and not out.is_dir():
        raise InputError("--out", f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "trace.csv", result.timeline.to_csv(index=False))
    profile = {k: v for k, v in result.profile.items()}
    cards = [
        {"label": k.replace("_", " "), "value": f"{v:.1f}" if isinstance(v, float) else str(v)}
        for k, v in profile.items()
    ]
    html = render(
        "patient.html",
        title=f"Why-trace of virtual patient {result.subject_id}",
        subtitle="A simulated patient: every number comes from the mechanistic model.",
        cards=cards,
        sections=[
            {
                "id": "trace",
                "title": "What happened inside",
                "figures": [why_trace_figure(result)],
                "note": "Pathway burdens drive neuron death in each pool; surviving lower motor "
                "units reinnervate their neighbours, so function holds until much of a pool is "
                "lost; dead neurons never return.",
            }
        ],
        methods=["Model: docs/disease-model.md."],
    )
    write_text_atomic(out / "trace.html", html)
    stdout.print(
        f"Trace of {result.subject_id} written to [bold]{out}[/bold] (trace.csv, trace.html)."
    )


def calibrate(
    out: Annotated[Path, typer.Option(help="Directory for the parameter set and the report.")],
    targets: Annotated[
        Path | None, typer.Option(help="Targets file (YAML); default: the packaged one.")
    ] = None,
    params: Annotated[Path | None, typer.Option(help="Starting parameter file (TOML).")] = None,
    n: Annotated[int, typer.Option("--n", help="European cohort size per evaluation.")] = 3000,
    seed: Annotated[int, typer.Option(help="Seed of the fit (common random numbers).")] = 20261126,
    max_evaluations: Annotated[
        int, typer.Option(help="Objective evaluations; 0 = evaluate only.")
    ] = 120,
    confirm_n: Annotated[
        int, typer.Option(help="European cohort size of the confirmation run.")
    ] = 20000,
    workers: Annotated[
        int, typer.Option(help="Processes evaluating the Jacobian's columns (same fit).")
    ] = 1,
    soft_weight: Annotated[
        float, typer.Option(help="Weight of soft targets in the objective (hard ones: 1).")
    ] = 0.3,
) -> None:
    """Fit the mechanistic model to the calibration targets; write parameters and a report."""
    from alsim.cohort.calibrate import (
        CalibrationCohorts,
        write_calibration,
    )
    from alsim.cohort.calibrate import (
        calibrate as run_calibration,
    )
    from alsim.cohort.targets import load_targets
    from alsim.disease.mechanistic.params import load_params
    from alsim.report.calibration import calibration_report

    _positive_int("--n", n)
    _positive_int("--confirm-n", confirm_n)
    _positive_int("--workers", workers)
    if not 0.0 <= soft_weight <= 1.0:
        raise InputError("--soft-weight", f"must be in [0, 1], got {soft_weight}")
    if max_evaluations < 0:
        raise InputError("--max-evaluations", f"must be >= 0, got {max_evaluations}")
    target_set = load_targets(targets)
    start = load_params(params)
    setup = CalibrationCohorts(
        n_population=n,
        n_east_asian=max(n // 3, 300),
        n_sod1=max(n // 2, 500),
        n_c9orf72=max(n // 4, 300),
        seed=seed,
    )
    confirm = CalibrationCohorts(
        n_population=confirm_n,
        n_east_asian=max(confirm_n // 3, 300),
        n_sod1=max(confirm_n // 3, 500),
        n_c9orf72=max(confirm_n // 4, 300),
        seed=seed,
    )
    with _progress() as bar:
        task = bar.add_task("fitting", total=max(max_evaluations, 1))
        result = run_calibration(
            start,
            targets=target_set,
            setup=setup,
            confirm=confirm,
            max_evaluations=max_evaluations,
            workers=workers,
            soft_weight=soft_weight,
            progress=lambda k, cost, _values: bar.update(
                task, completed=min(k, max_evaluations), description=f"fitting (cost {cost:.1f})"
            ),
        )
    html = calibration_report(
        result.results,
        result.patients,
        result.visits,
        parameter_set_name=f"{result.params.name} v{result.params.version} ({result.params.digest()[:8]})",
        seed=seed,
        n=confirm_n,
    )
    paths = write_calibration(result, out, report_html=html)
    summary = result.summary
    stdout.print(
        f"Hard targets passed: {summary['n_hard_passed']}/{summary['n_hard']}; "
        f"soft: {summary['n_soft_passed']}/{summary['n_soft']}."
    )
    for name, path in paths.items():
        stdout.print(f"  {name}: {path}")
    stdout.print(
        "To make this the default parameter set, copy mechanistic-calibrated.toml to "
        "src/alsim/params/ and commit it with the report."
    )


def register(app: typer.Typer) -> None:
    """Add the simulation commands to the main app."""
    app.command()(cohort)
    app.command()(trace)
    app.command()(calibrate)
