"""The ``alsim`` command line: a thin layer over the Python API (Typer + Rich).

Every deliberate error (bad flag value, bad file, bad item) is printed as one line on stderr,
``error: <where>: <problem>``, with exit status 2 and no traceback; nothing is written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alsim import DISCLAIMER, __version__
from alsim.errors import AlsimError, InputError

app = typer.Typer(
    name="alsim",
    help="alsim: ALS clinical toolkit and simulation platform. Research and education only, "
    "not medical advice.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

stdout = Console(highlight=False)

JSON_SCORE_KEYS = (
    "total",
    "bulbar",
    "fine_motor",
    "gross_motor",
    "respiratory",
    "kings_stage",
    "mitos_stage",
    "delta_fs",
)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app and turn every expected error into one line + exit 2."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        status = app(args=args or ["--help"], standalone_mode=False)
    except AlsimError as err:
        _fail(str(err))
    except Exception as err:
        message = _usage_error_message(err)
        if message is None:
            raise
        _fail(message)
    if isinstance(status, int) and status:
        sys.exit(status)


def _usage_error_message(err: Exception) -> str | None:
    """One-line text for a command-line usage error raised by Typer/Click, else ``None``.

    Typer may bundle its own copy of Click, so the exception is recognised by its interface
    (``format_message`` and ``exit_code``) rather than by its class.
    """
    if type(err).__name__ == "Abort":
        return "aborted"
    if not (hasattr(err, "format_message") and hasattr(err, "exit_code")):
        return None
    param = getattr(err, "param", None)
    where = ""
    if param is not None:
        opts = getattr(param, "opts", None) or [getattr(param, "name", "")]
        where = f"{opts[0]}: "
    message = getattr(err, "message", None) if param is not None else None
    return f"{where}{message or err.format_message()}".replace("\n", " ")


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def _version(value: bool) -> None:
    if value:
        print(f"alsim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """alsim: ALS clinical toolkit and simulation platform (research and education only)."""


# -- score --------------------------------------------------------------------------------------
def _parse_items(text: str) -> list[int]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 12:
        raise InputError(
            "--items", f"expected 12 comma-separated ALSFRS-R scores, got {len(parts)}"
        )
    values = []
    for number, part in enumerate(parts, start=1):
        try:
            values.append(int(part))
        except ValueError:
            raise InputError(
                f"--items, item {number}", f"must be an integer 0-4, got {part!r}"
            ) from None
    return values


def _score_record(row: dict) -> dict:
    record = {key: row.get(key) for key in JSON_SCORE_KEYS}
    record["total"] = int(record["total"])
    for key in ("bulbar", "fine_motor", "gross_motor", "respiratory", "mitos_stage"):
        record[key] = int(record[key])
    record["kings_stage"] = str(record["kings_stage"])
    dfs = record.get("delta_fs")
    record["delta_fs"] = None if dfs is None or dfs != dfs else round(float(dfs), 4)
    if "progression" in row and isinstance(row["progression"], str):
        record["progression"] = row["progression"]
    return record


@app.command()
def score(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="A per-visit CSV (tidy columns) or a PRO-ACT ALSFRS file.", show_default=False
        ),
    ] = None,
    items: Annotated[
        str | None,
        typer.Option(help="12 ALSFRS-R item scores in order, e.g. 4,4,4,3,3,3,4,4,3,4,4,4."),
    ] = None,
    gastrostomy: Annotated[
        bool, typer.Option(help="Read item 5 as 5b (patient has a gastrostomy).")
    ] = False,
    months_since_onset: Annotated[
        float | None, typer.Option(help="Months from symptom onset to this visit (for ΔFS).")
    ] = None,
    history: Annotated[
        Path | None,
        typer.Option(help="PRO-ACT ALSHISTORY file giving onset, for ΔFS of a PRO-ACT file."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Score ALSFRS-R: total, domains, King's and MiToS stage, and ΔFS when onset is known."""
    from alsim.clinical import ALSFRSR, delta_fs, kings_stage, mitos_stage, progression_category

    if (file is None) == (items is None):
        raise InputError("score", "give either --items or a FILE, not both and not neither")
    if items is not None:
        if history is not None:
            raise InputError("--history", "only applies to a PRO-ACT ALSFRS file")
        result = ALSFRSR.from_items(_parse_items(items), gastrostomy=gastrostomy)
        row: dict = {**result.domains(), "total": result.total}
        row["kings_stage"] = kings_stage(result).label
        row["mitos_stage"] = mitos_stage(result)
        row["delta_fs"] = None
        if months_since_onset is not None:
            if months_since_onset <= 0:
                raise InputError(
                    "--months-since-onset", f"must be positive, got {months_since_onset:g}"
                )
            row["delta_fs"] = delta_fs(result.total, months_since_onset)
            row["progression"] = progression_category(row["delta_fs"])
        record = _score_record(row)
        if as_json:
            print(json.dumps(record))
        else:
            _print_scores([record])
        return

    if gastrostomy or months_since_onset is not None:
        raise InputError(
            "--gastrostomy/--months-since-onset", "apply to --items; a FILE carries its own columns"
        )
    scored = _score_file(file, history)
    records = []
    for row in scored.to_dict(orient="records"):
        record = {k: row[k] for k in ("subject_id", "visit_months", "visit_date") if k in row}
        if "months_since_onset" in row:
            record["months_since_onset"] = round(float(row["months_since_onset"]), 4)
        record.update(_score_record(row))
        records.append(record)
    if as_json:
        print(json.dumps(records))
    else:
        _print_scores(records)


def _score_file(file: Path, history: Path | None):
    import pandas as pd

    from alsim.clinical.tidy import score_visits
    from alsim.io.proact import add_months_since_onset, is_proact_alsfrs, read_alsfrs, read_history

    if not file.is_file():
        raise InputError(str(file), "file not found")
    if is_proact_alsfrs(file):
        visits = read_alsfrs(file)
        if history is not None:
            visits = add_months_since_onset(visits, read_history(history))
        # PRO-ACT mixes original-scale (Q10) records and incomplete ones with ALSFRS-R visits.
        complete = visits["alsfrs_r_total"].notna()
        if not complete.any():
            raise InputError(file.name, "no visit has a complete ALSFRS-R (12 items)")
        if not complete.all():
            Console(stderr=True).print(
                f"note: skipped {int((~complete).sum())} visits without a complete ALSFRS-R "
                "(original 10-item ALSFRS or unanswered items)"
            )
        return score_visits(visits[complete].reset_index(drop=True), source=file.name)
    if history is not None:
        raise InputError("--history", "only applies to a PRO-ACT ALSFRS file")
    try:
        visits = pd.read_csv(file, dtype={"subject_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(
            file.name, f"not a readable CSV file ({str(exc).splitlines()[0]})"
        ) from None
    return score_visits(visits, source=file.name)


def _print_scores(records: list[dict]) -> None:
    table = Table(title="ALSFRS-R", title_justify="left")
    columns = [
        c
        for c in ("subject_id", "visit_date", "visit_months", "months_since_onset")
        if c in records[0]
    ]
    columns += [
        "total",
        "bulbar",
        "fine_motor",
        "gross_motor",
        "respiratory",
        "kings_stage",
        "mitos_stage",
    ]
    has_dfs = any(r.get("delta_fs") is not None for r in records)
    if has_dfs:
        columns += ["delta_fs", "progression"]
    for name in columns:
        table.add_column(
            name.replace("_", " "),
            justify="left" if name in ("subject_id", "visit_date") else "right",
        )
    for record in records:
        table.add_row(*("" if record.get(c) is None else str(record.get(c)) for c in columns))
    stdout.print(table)


# -- prognosis ----------------------------------------------------------------------------------
@app.command()
def prognosis(
    age_onset: Annotated[float, typer.Option(help="Age at symptom onset (years).")],
    diagnostic_delay: Annotated[
        float, typer.Option(help="Months from symptom onset to diagnosis.")
    ],
    fvc: Annotated[float, typer.Option(help="Forced vital capacity, % predicted.")],
    delta_fs: Annotated[
        float | None,
        typer.Option(help="ΔFS progression rate, points/month (or give --alsfrs-r-total)."),
    ] = None,
    alsfrs_r_total: Annotated[
        int | None, typer.Option(help="ALSFRS-R total at diagnosis, to compute ΔFS with the delay.")
    ] = None,
    bulbar_onset: Annotated[
        bool, typer.Option("--bulbar-onset/--spinal-onset", help="Site of onset.")
    ] = False,
    definite: Annotated[
        bool, typer.Option("--definite/--not-definite", help="Definite ALS (revised El Escorial).")
    ] = False,
    ftd: Annotated[bool, typer.Option("--ftd/--no-ftd", help="Frontotemporal dementia.")] = False,
    c9orf72: Annotated[
        bool, typer.Option("--c9orf72/--no-c9orf72", help="C9orf72 repeat expansion.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """ENCALS survival prognosis (Westeneng 2018): median survival, survival at 1-5 years, risk group."""
    from alsim.clinical import delta_fs as compute_delta_fs
    from alsim.clinical.prognosis import EncalsPredictors, encals_prognosis

    if (delta_fs is None) == (alsfrs_r_total is None):
        raise InputError("--delta-fs/--alsfrs-r-total", "give exactly one of them")
    if delta_fs is None:
        if diagnostic_delay <= 0:
            raise InputError("--diagnostic-delay", f"must be positive, got {diagnostic_delay:g}")
        delta_fs = compute_delta_fs(alsfrs_r_total, diagnostic_delay)
    predictors = EncalsPredictors(
        age_onset_years=age_onset,
        delta_fs=delta_fs,
        diagnostic_delay_months=diagnostic_delay,
        fvc_percent=fvc,
        bulbar_onset=bulbar_onset,
        definite_als=definite,
        ftd=ftd,
        c9orf72=c9orf72,
    )
    result = encals_prognosis(predictors)
    summary = result.to_dict()
    summary["disclaimer"] = DISCLAIMER
    if as_json:
        print(json.dumps(summary))
        return
    table = Table(title="ENCALS prognosis (time from symptom onset)", title_justify="left")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    median = result.median_months
    table.add_row("linear predictor", f"{result.linear_predictor:.3f}")
    table.add_row("median survival", "not reached" if median is None else f"{median:.1f} months")
    for months, value in result.survival_at.items():
        table.add_row(f"survival at {months} months", f"{value:.1%}")
    table.add_row("risk group", result.risk_group)
    stdout.print(table)
    stdout.print(f"[dim]{DISCLAIMER}[/dim]")


# -- demo ---------------------------------------------------------------------------------------
@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Directory for the report.")] = Path("demo-output"),
) -> None:
    """Score the bundled example patient and write an HTML report (figures, stages, D50, prognosis)."""
    from alsim.report.demo import run_demo

    report = run_demo(out)
    stdout.print(f"Report written to [bold]{report}[/bold]")
    stdout.print(f"[dim]{DISCLAIMER}[/dim]")


if __name__ == "__main__":  # pragma: no cover
    main()
