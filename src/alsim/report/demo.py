"""`alsim demo`: the main job end to end on embedded defaults.

It scores the bundled example patient, simulates a small cohort of virtual patients, a small
HEALEY-like platform trial (operating characteristics over a few hundred simulated trials) and
short versions of the experiments (heterogeneity, combination, time window, precision,
presymptomatic trial, early detection), and writes ``report.html`` (plus the scored visits as
CSV and a JSON summary).
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from alsim.errors import InputError
from alsim.report.experiments import experiments_demo_section
from alsim.report.natural_history import natural_history_section
from alsim.report.patient import load_patient, patient_report
from alsim.report.trial import trial_demo_section

#: The files the demo writes, in the order they are moved into place (the report last).
OUTPUT_FILES = ("example_patient_scores.csv", "summary.json", "report.html")


def run_demo(out: Path | str) -> Path:
    """Write the demo outputs into the directory ``out`` and return the report's path.

    Everything is computed before anything is written. The three files are written into a
    temporary folder and moved in together: when ``out`` does not exist yet, the whole folder
    appears at once (one rename); when it exists, each file is replaced atomically, one after
    the other. On failure nothing is left behind: no temporary folder, no partly written file
    and no newly created (empty) directory.

    Raises :class:`~alsim.errors.InputError` for an empty path, and :class:`OSError` when ``out``
    cannot be written (it exists and is not a directory, no permission, disk full, ...).
    """
    if not str(out).strip():
        raise InputError("out", "must name a directory, got an empty path")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "it exists and is not a directory", str(out))
    sections, cohort_summary = natural_history_section()
    trial_sections, trial_summary = trial_demo_section()
    experiment_sections, experiment_summary = experiments_demo_section()
    html, scored, summary = patient_report(
        load_patient(), extra_sections=[*sections, *trial_sections, *experiment_sections]
    )
    summary["virtual_cohort"] = cohort_summary
    summary["virtual_trial"] = trial_summary
    summary["experiments"] = experiment_summary.get("experiments", experiment_summary)
    contents = {
        "example_patient_scores.csv": scored.to_csv(index=False),
        "summary.json": json.dumps(summary, indent=2, allow_nan=False) + "\n",
        "report.html": html,
    }
    if out.is_dir():
        _replace_files(out, contents)
    else:
        _create_folder(out, contents)
    return out / "report.html"


def _write_all(folder: Path, contents: dict[str, str]) -> None:
    for name in OUTPUT_FILES:
        (folder / name).write_text(contents[name], encoding="utf-8")


def _replace_files(out: Path, contents: dict[str, str]) -> None:
    """Stage the files inside ``out``, then replace the old ones (each rename is atomic)."""
    for name in OUTPUT_FILES:
        if (out / name).is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(out / name))
    with tempfile.TemporaryDirectory(dir=out, prefix=".demo-") as tmp:
        _write_all(Path(tmp), contents)
        for name in OUTPUT_FILES:
            os.replace(Path(tmp) / name, out / name)


def _create_folder(out: Path, contents: dict[str, str]) -> None:
    """Build the folder next to ``out`` under a hidden name, then rename it to ``out``."""
    created = [p for p in reversed(out.parents) if not p.exists()]
    staging = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = out.parent / f".{out.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
        staging.mkdir()  # usual permissions (unlike mkdtemp's 0700)
        _write_all(staging, contents)
        os.rename(staging, out)
    except BaseException as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for folder in reversed(created):  # deepest first; only folders this call made
            try:
                folder.rmdir()
            except OSError:
                break
        if isinstance(exc, OSError) and staging is not None and exc.filename == str(staging):
            # Name the folder asked for, not the hidden staging folder that no longer exists.
            raise type(exc)(exc.errno, exc.strerror, str(out)) from None
        raise
