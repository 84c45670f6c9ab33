"""`alsim experiment NAME`: the seed's claims as reproducible experiments.

Registered on the main app by :mod:`alsim.cli.main`. ``--json`` prints the key numbers as strict
JSON; ``--out DIR`` writes ``report.html`` and ``results.json`` atomically (a new directory
appears complete; in an empty one, or one written by this command before, each file is
replaced atomically). Errors are one stderr line
``error: <where>: <problem>`` with exit status 2, raised before anything is written.
Research and education only, not medical advice.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from alsim import DISCLAIMER
from alsim.cli.outfolder import check_out_folder, write_out_folder
from alsim.errors import InputError

stdout = Console(highlight=False)

RESULTS_FILE = "results.json"
REPORT_FILE = "report.html"
#: Experiment names (kept here so that `alsim --help` does not import the experiments).
NAMES = (
    "heterogeneity",
    "combination",
    "time-window",
    "precision",
    "presymptomatic-trial",
    "early-detection",
)


def experiment(
    name: Annotated[
        str,
        typer.Argument(help=f"One of: {', '.join(NAMES)}.", show_default=False, metavar="NAME"),
    ],
    seed: Annotated[int, typer.Option(help="Random seed (a non-negative integer).")] = 1,
    out: Annotated[
        str | None, typer.Option(help="Directory for report.html and results.json.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the key numbers as JSON.")] = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="Small cohorts (seconds; the demo's version).")
    ] = False,
) -> None:
    """Run one experiment (heterogeneity, combination, time-window, precision, ...)."""
    if name not in NAMES:
        raise InputError("NAME", f"must be one of {', '.join(NAMES)}, got {name!r}")
    if seed < 0:
        raise InputError("--seed", f"must be a non-negative integer, got {seed}")
    target = check_out_folder(out, (RESULTS_FILE, REPORT_FILE)) if out is not None else None

    from alsim.experiments import run_experiment

    result = run_experiment(name, seed, quick=quick)
    payload = result.to_json()
    text = json.dumps(payload, allow_nan=False)
    if target is not None:
        from alsim.report.experiments import experiments_report

        files = {
            REPORT_FILE: experiments_report([result]),
            RESULTS_FILE: json.dumps(payload, indent=2, allow_nan=False) + "\n",
        }
        write_out_folder(target, files)
    if as_json:
        print(text)
        return
    stdout.print(f"[bold]{escape(result.title)}[/bold] (seed {seed}, {result.seconds:.1f} s)")
    for finding in result.findings:
        stdout.print(f"- {escape(finding)}", soft_wrap=True)
    if target is not None:
        stdout.print(
            f"Written to [bold]{escape(str(target))}[/bold] ({REPORT_FILE}, {RESULTS_FILE}).",
            soft_wrap=True,
        )
    stdout.print(f"[dim]{DISCLAIMER}[/dim]")


def register(app: typer.Typer) -> None:
    """Add the experiment command to the main app."""
    app.command()(experiment)
