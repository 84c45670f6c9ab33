"""The ``alsim`` command line: a thin layer over the Python API (Typer + Rich).

Every deliberate error (bad flag value, bad file, bad item) is printed as one line on stderr,
``error: <where>: <problem>``, with exit status 2 and no traceback; nothing is written, and
``<where>`` names the flag (not the Python field) or the file, row and column. A successful
command may add plain one-line ``note: ...`` or ``warning: ...`` messages on stderr, printed
only once the work has succeeded. JSON output is strict (no NaN or Infinity).
"""

from __future__ import annotations

import csv
import json
import math
import re
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich import box
from rich.console import Console
from rich.markup import escape
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
def _parse_items(text: str, *, gastrostomy: bool) -> list[int]:
    """``--items``: 12 comma-separated scores, each validated like a file cell.

    Each score is one ASCII digit 0-4, optionally written ``N.0``
    (:data:`alsim.clinical.alsfrs.ITEM_TEXT`); an error names the item's tidy column and its
    position, e.g. ``r3_respiratory_insufficiency (--items position 12)``.
    """
    from alsim.clinical.alsfrs import ITEM_COLUMNS, Q5A, Q5B, check_item

    parts = text.split(",")
    if len(parts) != 12:
        raise InputError(
            "--items", f"expected 12 comma-separated ALSFRS-R scores, got {len(parts)}"
        )
    values = []
    for number, (name, part) in enumerate(zip(ITEM_COLUMNS, parts, strict=True), start=1):
        if name == "q5_cutting":
            name = Q5B if gastrostomy else Q5A
        values.append(check_item(f"{name} (--items position {number})", part))
    return values


def _json(value: Any) -> str:
    """Strict JSON (no NaN or Infinity, which are not JSON)."""
    return json.dumps(value, allow_nan=False)


def _is_missing(value: Any) -> bool:
    import pandas as pd

    return value is None or bool(pd.api.types.is_scalar(value) and pd.isna(value))


def _number_or_none(value: Any, digits: int) -> float | None:
    """A number rounded to ``digits``, or ``None`` for a missing value."""
    return None if _is_missing(value) else round(float(value), digits)


def _text_or_none(value: Any) -> str | None:
    return None if _is_missing(value) else str(value)


def _score_record(row: dict) -> dict:
    record = {key: row.get(key) for key in JSON_SCORE_KEYS}
    record["total"] = int(record["total"])
    for key in ("bulbar", "fine_motor", "gross_motor", "respiratory", "mitos_stage"):
        record[key] = int(record[key])
    record["kings_stage"] = str(record["kings_stage"])
    record["delta_fs"] = _number_or_none(record.get("delta_fs"), 4)
    if "progression" in row:
        progression = row["progression"]
        record["progression"] = progression if isinstance(progression, str) else None
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
        typer.Option(
            help="12 ALSFRS-R item scores in order, e.g. 4,4,4,3,3,3,4,4,3,4,4,4 "
            "(each a digit 0-4; 3.0 is read as 3)."
        ),
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
        result = ALSFRSR.from_items(
            _parse_items(items, gastrostomy=gastrostomy), gastrostomy=gastrostomy
        )
        row: dict = {**result.domains(), "total": result.total}
        row["kings_stage"] = kings_stage(result).label
        row["mitos_stage"] = mitos_stage(result)
        row["delta_fs"] = None
        if months_since_onset is not None:
            if not (math.isfinite(months_since_onset) and months_since_onset > 0):
                raise InputError(
                    "--months-since-onset",
                    f"must be a positive number of months, got {months_since_onset:g}",
                )
            with np.errstate(divide="ignore", over="ignore"):
                rate = delta_fs(result.total, months_since_onset)
            if not math.isfinite(rate):
                raise InputError(
                    "--months-since-onset",
                    f"is too small ({months_since_onset:g} months): ΔFS would be infinite",
                )
            row["delta_fs"] = rate
            row["progression"] = progression_category(rate)
        record = _score_record(row)
        if as_json:
            print(_json(record))
        else:
            _print_scores([record])
        return

    if gastrostomy or months_since_onset is not None:
        raise InputError(
            "--gastrostomy/--months-since-onset", "apply to --items; a FILE carries its own columns"
        )
    scored, notes = _score_file(file, history)
    records = []
    for row in scored.to_dict(orient="records"):
        record: dict[str, Any] = {}
        if "subject_id" in row:
            record["subject_id"] = _text_or_none(row["subject_id"])
        if "visit_months" in row:
            record["visit_months"] = _number_or_none(row["visit_months"], 4)
        if "visit_date" in row:
            record["visit_date"] = _text_or_none(row["visit_date"])
        if "months_since_onset" in row:
            record["months_since_onset"] = _number_or_none(row["months_since_onset"], 4)
        record.update(_score_record(row))
        records.append(record)
    text = _json(records) if as_json else None
    for note in notes:  # only once everything is scored: an error stays the only line
        print(note, file=sys.stderr)
    if text is not None:
        print(text)
    else:
        _print_scores(records)


def _check_input_file(path: Path) -> None:
    if path.is_dir():
        raise InputError(str(path), "is a directory, not a file")
    if not path.is_file():
        raise InputError(str(path), "file not found")


def _csv_header(path: Path) -> list[str]:
    """The first non-blank row of a CSV file (already known to be readable text)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.reader(handle):
            if any(cell.strip() for cell in row):
                return [cell.strip() for cell in row]
    return []


def _score_file(file: Path, history: Path | None):
    """Score a tidy or PRO-ACT file; returns the scored table and notes for stderr."""
    from alsim.clinical.tidy import read_visits_csv, score_visits
    from alsim.io.proact import add_months_since_onset, is_proact_alsfrs, read_alsfrs, read_history
    from alsim.units import DAYS_PER_MONTH

    _check_input_file(file)
    try:
        proact = is_proact_alsfrs(file)
    except OSError as exc:
        raise InputError(str(file), f"cannot be read ({exc.strerror or exc})") from None
    notes = []
    if proact:
        visits = read_alsfrs(file)
        if history is not None:
            _check_input_file(history)
            patients = read_history(history)
            keys = {re.sub(r"[\s_]+", "", c).lower() for c in _csv_header(history)}
            if "onsetdelta" not in keys:
                raise InputError(
                    f"{history.name}, column Onset_Delta", "is missing; ΔFS needs the onset"
                )
            visits = add_months_since_onset(visits, patients)
        if visits.empty:
            raise InputError(file.name, "no visit rows")
        # PRO-ACT mixes original-scale (Q10) records and incomplete ones with ALSFRS-R visits.
        complete = visits["alsfrs_r_total"].notna().to_numpy(bool)
        if not complete.any():
            raise InputError(file.name, "no visit has a complete ALSFRS-R (12 items)")
        if not complete.all():
            notes.append(
                f"note: skipped {int((~complete).sum())} visits without a complete ALSFRS-R "
                "(original 10-item ALSFRS or unanswered items)"
            )
        visits = visits[complete].reset_index(drop=True)
        # The reader sorts the rows, so a visit is named by subject and time, not by row.
        subjects = visits["subject_id"].astype(str).to_numpy()
        days = visits["visit_months"].to_numpy(float) * DAYS_PER_MONTH

        def where(row: int) -> str:
            return f"{file.name}, subject_id {subjects[row]}, ALSFRS_Delta {round(days[row], 6):g}"

        scored = score_visits(visits, source=file.name, row_where=where)
    else:
        if history is not None:
            raise InputError("--history", "only applies to a PRO-ACT ALSFRS file")
        visits = read_visits_csv(file)
        if visits.empty:
            raise InputError(file.name, "no visit rows")
        scored = score_visits(visits, source=file.name)
    if "delta_fs" in scored.columns:
        unknown = int(scored["delta_fs"].isna().sum())
        if unknown:
            notes.append(
                f"note: {unknown} of {len(scored)} visits have no known onset "
                "(blank onset or time): ΔFS left blank"
            )
    return scored, notes


#: Table columns: record key, header, number format (None: text, left-aligned). "domains" is
#: built from the four subscores so that a full row fits in 80 columns.
TABLE_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("subject_id", "subject", None),
    ("visit_date", "date", None),
    ("visit_months", "visit\n(mo)", ".2f"),
    ("months_since_onset", "since\nonset\n(mo)", ".2f"),
    ("total", "total", "d"),
    ("domains", "domains\nB/FM/GM/R", None),
    ("kings_stage", "King's", None),
    ("mitos_stage", "MiToS", "d"),
    ("delta_fs", "ΔFS\n(/mo)", ".2f"),
    ("progression", "progression", None),
)


def _print_scores(records: list[dict]) -> None:
    """A compact table: times and ΔFS to 2 decimals, the four domains in one column.

    A row with a subject id, a date or visit time, the months since onset and ΔFS fits in 80
    columns (what Rich uses when stdout is not a terminal); a longer cell folds, it is never cut.
    """
    has_dfs = any(r.get("delta_fs") is not None for r in records)
    rows = [{**r, "domains": "/".join(str(r[k]) for k in JSON_SCORE_KEYS[1:5])} for r in records]
    columns = [
        (key, header, fmt)
        for key, header, fmt in TABLE_COLUMNS
        if any(key in r for r in rows) and (has_dfs or key not in ("delta_fs", "progression"))
    ]
    table = Table(
        title="ALSFRS-R",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=0,
    )
    ascii_only = not stdout.encoding.lower().startswith("utf")
    for key, header, fmt in columns:
        if ascii_only:  # e.g. PYTHONIOENCODING=ascii: no Δ (Rich already uses an ASCII box)
            header = header.replace("Δ", "d")
        table.add_column(
            header,
            justify="left" if fmt is None else "right",
            overflow="fold",
            no_wrap=key != "subject_id",  # only the subject id folds when space runs out
        )
    for row in rows:
        cells = []
        for key, _header, fmt in columns:
            value = row.get(key)
            cells.append("" if value is None else format(value, fmt) if fmt else str(value))
        table.add_row(*cells)
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
    flags = dict(PROGNOSIS_FLAGS)
    if delta_fs is None:
        if not (math.isfinite(diagnostic_delay) and diagnostic_delay > 0):
            raise InputError("--diagnostic-delay", f"must be positive, got {diagnostic_delay:g}")
        flags["delta_fs"] = "ΔFS from --alsfrs-r-total and --diagnostic-delay"
        with np.errstate(divide="ignore", over="ignore"):
            try:
                delta_fs = compute_delta_fs(alsfrs_r_total, diagnostic_delay)
            except InputError as err:
                raise InputError(flags.get(err.where, err.where), err.problem) from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
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
        except InputError as err:  # name the flag, not the Python field
            raise InputError(flags.get(err.where, err.where), err.problem) from None
    notes = [_flag_names(" ".join(str(w.message).split()), flags) for w in caught]
    summary = result.to_dict()
    summary["warnings"] = notes
    summary["disclaimer"] = DISCLAIMER
    text = _json(summary) if as_json else None
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    if text is not None:
        print(text)
        return
    table = Table(title="ENCALS prognosis (from onset)", title_justify="left")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    median = result.median_months
    reached = median is not None and math.isfinite(median)
    table.add_row("linear predictor", f"{result.linear_predictor:.3f}")
    table.add_row("median survival", f"{median:.1f} months" if reached else "not reached")
    for months, value in result.survival_at.items():
        table.add_row(f"survival at {months} months", f"{value:.1%}")
    table.add_row("risk group", result.risk_group)
    stdout.print(table)
    stdout.print(f"[dim]{DISCLAIMER}[/dim]")


def _flag_names(text: str, flags: dict[str, str]) -> str:
    """``text`` with the numeric predictor fields named by their flags instead."""
    for field in ("age_onset_years", "diagnostic_delay_months", "fvc_percent"):
        text = re.sub(rf"\b{field}\b", flags[field], text)
    return text


#: EncalsPredictors field (as named in its errors) -> the `alsim prognosis` flag that sets it.
PROGNOSIS_FLAGS = {
    "age_onset_years": "--age-onset",
    "delta_fs": "--delta-fs",
    "diagnostic_delay_months": "--diagnostic-delay",
    "fvc_percent": "--fvc",
    "bulbar_onset": "--bulbar-onset/--spinal-onset",
    "definite_als": "--definite/--not-definite",
    "ftd": "--ftd/--no-ftd",
    "c9orf72": "--c9orf72/--no-c9orf72",
    "total": "--alsfrs-r-total",
    "months_since_onset": "--diagnostic-delay",
}


# -- demo ---------------------------------------------------------------------------------------
@app.command()
def demo(
    out: Annotated[str, typer.Option(help="Directory for the report.")] = "demo-output",
) -> None:
    """Score the bundled example patient and write an HTML report (figures, stages, D50, prognosis)."""
    from alsim.report.demo import run_demo

    if not out.strip():
        raise InputError("--out", "must name a directory, got an empty path")
    target = Path(out)
    try:
        report = run_demo(target)
    except OSError as exc:
        detail = exc.strerror or str(exc)
        if exc.filename and Path(exc.filename) != target:
            detail += f": {exc.filename}"
        raise InputError("--out", f"cannot write the report to {target} ({detail})") from None
    stdout.print(f"Report written to [bold]{escape(str(report))}[/bold]", soft_wrap=True)
    stdout.print(f"[dim]{DISCLAIMER}[/dim]")


from alsim.cli.simulation import register as _register_simulation  # noqa: E402

_register_simulation(app)

from alsim.cli.trial import register as _register_trial  # noqa: E402

_register_trial(app)

from alsim.cli.runtime import register as _register_runtime  # noqa: E402

_register_runtime(app)

from alsim.cli.experiment import register as _register_experiment  # noqa: E402

_register_experiment(app)

from alsim.cli.reproduce import register as _register_reproduce  # noqa: E402

_register_reproduce(app)

from alsim.cli.web import register as _register_web  # noqa: E402

_register_web(app)


if __name__ == "__main__":  # pragma: no cover
    main()
