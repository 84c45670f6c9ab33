"""`alsim reproduce`: simulate key ALS trials with catalogue therapies and compare with the
published results (the reproduction table).

Registered on the main app by :mod:`alsim.cli.main`. Every error is one stderr line
``error: <where>: <problem>`` with exit status 2, raised before anything is written. With
``--out DIR`` the table is written as ``reproduction.csv``, ``reproduction.json`` and
``report.html`` (each file atomically, all computed first).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alsim import DISCLAIMER
from alsim.cli.outfolder import check_out_folder, write_out_folder
from alsim.errors import InputError

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)

#: Files written by ``alsim reproduce --out DIR``.
OUTPUT_FILES = ("reproduction.csv", "reproduction.json", "report.html")


def reproduce(
    out: Annotated[
        str | None,
        typer.Option(help="Folder for reproduction.csv, reproduction.json and report.html."),
    ] = None,
    n_rep: Annotated[
        int | None,
        typer.Option(
            help="Simulated trials per reproduced result (default 500; full size 5000).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed, a non-negative integer.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Simulate real ALS trials with catalogue therapies and compare with published results."""
    from alsim.reproduce import DEFAULT_N_REP, reproduction_table, table_records

    if n_rep is None:
        n_rep = DEFAULT_N_REP
    if n_rep < 2 or n_rep > 1_000_000:
        raise InputError("--n-rep", f"must be an integer from 2 to 1000000, got {n_rep}")
    if seed < 0:
        raise InputError("--seed", f"must be a non-negative integer, got {seed}")
    target = check_out_folder(out, OUTPUT_FILES) if out is not None else None

    df = reproduction_table(n_rep, seed)
    records = table_records(df)
    text = json.dumps(records, allow_nan=False)
    if target is not None:
        from alsim.report.reproduce import reproduction_report

        contents = {
            "reproduction.csv": df.to_csv(index=False),
            "reproduction.json": json.dumps(records, indent=2, allow_nan=False) + "\n",
            "report.html": reproduction_report(df),
        }
        write_out_folder(target, contents)
    if as_json:
        print(text)
        return
    _print_table(df)
    if target is not None:
        stdout.print(
            f"Written to [bold]{escape(str(target))}[/bold] ({', '.join(OUTPUT_FILES)}).",
            soft_wrap=True,
        )
    stdout.print(f"[dim]{DISCLAIMER}[/dim]")


_SHORT_UNITS = {"percentage points": "pp", "points/month": "pts/mo", "points": "pts"}


def _print_table(df) -> None:
    from alsim.report.reproduce import _fmt

    seconds = sum((df.attrs.get("seconds") or {}).values())
    table = Table(
        title=f"Reproduction of real trials: {int(df.attrs['n_rep']):,} simulated trials per row, "
        f"seed {df.attrs['seed']}, {seconds:.1f} s",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for name, justify in (
        ("result", "left"),
        ("unit", "left"),
        ("published", "right"),
        ("tolerance", "right"),
        ("simulated ± MCSE", "right"),
        ("status", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold", no_wrap=name == "result")
    for r in df.itertuples():
        if r.ci_low == r.ci_low:
            tol = f"[{_fmt(r.ci_low, r.unit)}, {_fmt(r.ci_high, r.unit)}]"
        elif r.tolerance_kind == "direction":
            tol = "< 0"
        else:
            tol = f"sim. [{_fmt(r.sim_low, r.unit)}, {_fmt(r.sim_high, r.unit)}]"
        table.add_row(
            escape(r.id),
            escape(_SHORT_UNITS.get(r.unit, r.unit)),
            _fmt(r.published, r.unit) or "fall",
            tol,
            f"{_fmt(r.simulated, r.unit)} ± {_fmt(r.mcse, r.unit) or '0'}",
            escape(r.status + (f" ({r.role[:4]}.)" if r.role != "validation" else "")),
        )
    stdout.print(table)
    stdout.print(
        "[dim]calib. = the catalogue effect was derived from this result; cons. = effect and "
        "control arm assumed; pp = percentage points.[/dim]"
    )
    for r in df.itertuples():
        if r.status != "within" and isinstance(r.reason, str):
            stdout.print(f"{escape(r.id)}: {escape(r.status)}: {escape(r.reason)}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the reproduce command to the main app."""
    app.command()(reproduce)
