"""Run directories: a simulated trial scenario with its results, written and read atomically.

A run directory holds::

    scenario.yaml      the resolved scenario (every default filled in; re-loadable)
    trials.parquet     the tidy trials table (one row per replicate and comparison)
    performance.csv    operating characteristics: comparison, metric, est, mcse
    report.html        the HTML report (rebuilt by `alsim report DIR`)
    manifest.json      alsim version, seed, n_rep, chunk size, scenario name and digest, UTC
                       date, platform, timings, and every file's size and sha256
    chunks/            only while a run is under way or was interrupted (resumable chunk files
                       and their manifest, :mod:`alsim.runtime.resume`)

:func:`write_run` builds everything in a hidden folder beside the target and renames it into
place, so a reader never sees a half-written run. :func:`read_run` checks every file (present,
readable, matching the manifest's sha256, contract columns) and raises one
:class:`~alsim.errors.InputError` naming the file and the problem.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from alsim import __version__
from alsim.errors import InputError
from alsim.fileio import current_umask, write_text_atomic
from alsim.results.performance import COLUMNS as PERFORMANCE_COLUMNS
from alsim.results.table import check_trials

SCENARIO_FILE = "scenario.yaml"
MANIFEST_FILE = "manifest.json"
TRIALS_FILE = "trials.parquet"
PERFORMANCE_FILE = "performance.csv"
REPORT_FILE = "report.html"
#: Folder of a run under way (or interrupted): chunk files and their manifest.
CHUNKS_DIR = "chunks"
#: Files of a run directory, in the order they are listed in the manifest.
RUN_FILES = (SCENARIO_FILE, TRIALS_FILE, PERFORMANCE_FILE, REPORT_FILE)
DISCLAIMER = "Simulated trials for research and education; not medical advice."


@dataclass(frozen=True)
class TrialRun:
    """A run directory read back by :func:`read_run`."""

    path: Path
    scenario: dict[str, Any]
    manifest: dict[str, Any]
    trials: pd.DataFrame
    performance: pd.DataFrame

    @property
    def name(self) -> str:
        return str(
            self.scenario.get("name") or self.manifest.get("scenario_name") or self.path.name
        )


def scenario_yaml(scenario: dict[str, Any]) -> str:
    """The resolved scenario as YAML (keys in their model order)."""
    return yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True, default_flow_style=False)


def scenario_digest(scenario: dict[str, Any]) -> str:
    """sha256 of the scenario's canonical JSON (sorted keys): equal scenarios, equal digests."""
    text = json.dumps(scenario, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def trials_parquet_bytes(trials: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    trials.to_parquet(buffer, index=False)
    return buffer.getvalue()


def make_manifest(
    scenario: dict[str, Any],
    *,
    seed: int,
    n_rep: int,
    chunk_size: int | None,
    timings: dict[str, float] | None,
    files: dict[str, bytes],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of a run (see the module docstring); ``extra`` keys are added before
    ``files``."""
    return {
        "alsim_version": __version__,
        "kind": "trial_run",
        "scenario_name": scenario.get("name"),
        "scenario_digest": scenario_digest(scenario),
        "seed": seed,
        "n_rep": n_rep,
        "chunk_size": chunk_size,
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "timings_seconds": timings or {},
        **(extra or {}),
        "files": {
            name: {"bytes": len(data), "sha256": _sha256(data)} for name, data in files.items()
        },
        "disclaimer": DISCLAIMER,
    }


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds the manifest of a trial run, or an unfinished one (``chunks/``), so
    that it may be replaced."""
    if is_partial_run(path):
        return True
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(manifest, dict) and manifest.get("kind") == "trial_run"


def is_partial_run(path: Path) -> bool:
    """Whether ``path`` holds the chunks of a run under way or interrupted (``chunks/``)."""
    try:
        manifest = json.loads((path / CHUNKS_DIR / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(manifest, dict) and manifest.get("kind") == "trial_chunks"


def check_out_dir(out: Path, *, overwrite: bool, where: str = "--out") -> None:
    """Refuse an ``out`` that cannot receive a run directory.

    ``out`` may be absent or an empty directory; a non-empty one only with ``overwrite`` and
    only when it is itself a run directory (so that ``--overwrite`` never deletes unrelated
    files); never a file, the working directory or one of its parents.
    """
    if out.exists() and not out.is_dir():
        raise InputError(where, f"{out} exists and is not a directory")
    resolved = out.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise InputError(where, f"{out} is the working directory or contains it; name a new folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite and is_partial_run(out):
            raise InputError(
                where,
                f"{out} holds an unfinished run (use --resume to continue it, --overwrite to start again)",
            )
        if not overwrite:
            raise InputError(where, f"{out} is not empty (use --overwrite to replace a run)")
        if not is_run_dir(out):
            raise InputError(
                where, f"{out} is not empty and is not an alsim run directory; not replacing it"
            )


def write_run(
    out: str | Path,
    *,
    scenario: dict[str, Any],
    trials: pd.DataFrame,
    performance: pd.DataFrame,
    report_html: str,
    seed: int,
    n_rep: int,
    chunk_size: int | None = None,
    timings: dict[str, float] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a run directory atomically and return its path.

    Everything is serialised first, then written into a hidden folder beside ``out`` that is
    renamed into place (replacing ``out`` only when ``overwrite``). On any error the hidden
    folder is removed and ``out`` is left as it was.
    """
    out = Path(out)
    check_out_dir(out, overwrite=overwrite)
    check_trials(trials)
    files = {
        SCENARIO_FILE: scenario_yaml(scenario).encode("utf-8"),
        TRIALS_FILE: trials_parquet_bytes(trials),
        PERFORMANCE_FILE: performance.to_csv(index=False).encode("utf-8"),
        REPORT_FILE: report_html.encode("utf-8"),
    }
    meta = make_manifest(
        scenario, seed=seed, n_rep=n_rep, chunk_size=chunk_size, timings=timings, files=files
    )
    files[MANIFEST_FILE] = (json.dumps(meta, indent=2, allow_nan=False) + "\n").encode("utf-8")
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=parent))
    os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp creates 0700; use the usual permissions
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def finish_run(
    out: str | Path,
    *,
    scenario: dict[str, Any],
    trials: pd.DataFrame,
    performance: pd.DataFrame,
    report_html: str,
    seed: int,
    n_rep: int,
    chunk_size: int | None = None,
    timings: dict[str, float] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the files of a run into the existing folder ``out`` (that holds its ``chunks/``).

    Each file is replaced atomically (temporary file + rename) and ``manifest.json`` comes last,
    so the run counts as complete only once everything is in place; ``chunks/`` is removed
    after that.
    """
    out = Path(out)
    check_trials(trials)
    files = {
        SCENARIO_FILE: scenario_yaml(scenario).encode("utf-8"),
        TRIALS_FILE: trials_parquet_bytes(trials),
        PERFORMANCE_FILE: performance.to_csv(index=False).encode("utf-8"),
        REPORT_FILE: report_html.encode("utf-8"),
    }
    meta = make_manifest(
        scenario,
        seed=seed,
        n_rep=n_rep,
        chunk_size=chunk_size,
        timings=timings,
        files=files,
        extra=extra,
    )
    files[MANIFEST_FILE] = (json.dumps(meta, indent=2, allow_nan=False) + "\n").encode("utf-8")
    for name, data in files.items():
        write_bytes_atomic(out / name, data)
    shutil.rmtree(out / CHUNKS_DIR, ignore_errors=True)
    return out


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder, then rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_bytes(folder: Path, name: str) -> bytes:
    path = folder / name
    if path.is_dir():
        raise InputError(str(path), "is a directory, not a file")
    if not path.is_file():
        raise InputError(str(path), "file not found (not a complete run directory)")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot be read ({exc.strerror or exc})") from None


def read_run(path: str | Path, *, verify: bool = True) -> TrialRun:
    """Read a run directory back; every problem is one :class:`InputError` naming the file.

    With ``verify`` (default) each file's sha256 must match the manifest (``report.html`` is
    exempt: it is rebuilt).
    """
    folder = Path(path)
    if not folder.exists():
        raise InputError(str(folder), "run directory not found")
    if not folder.is_dir():
        raise InputError(str(folder), "is not a directory (give the run directory)")
    manifest_path = folder / MANIFEST_FILE
    try:
        manifest = json.loads(_read_bytes(folder, MANIFEST_FILE).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(manifest_path), f"not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != "trial_run":
        raise InputError(str(manifest_path), "is not the manifest of an `alsim run` directory")
    recorded = manifest.get("files")
    if not isinstance(recorded, dict):
        raise InputError(str(manifest_path), "has no 'files' table")
    data = {
        name: _read_bytes(folder, name) for name in (SCENARIO_FILE, TRIALS_FILE, PERFORMANCE_FILE)
    }
    if verify:
        for name, content in data.items():
            entry = recorded.get(name)
            if not isinstance(entry, dict) or "sha256" not in entry:
                raise InputError(str(manifest_path), f"does not list {name}")
            if _sha256(content) != entry["sha256"]:
                raise InputError(
                    str(folder / name),
                    "does not match the sha256 in manifest.json (changed or corrupted since the run)",
                )
    try:
        scenario = yaml.safe_load(data[SCENARIO_FILE].decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        problem = " ".join(str(exc).split())
        raise InputError(str(folder / SCENARIO_FILE), f"not valid YAML ({problem})") from None
    if not isinstance(scenario, dict):
        raise InputError(str(folder / SCENARIO_FILE), "is not a YAML mapping (key: value)")
    try:
        trials = pd.read_parquet(io.BytesIO(data[TRIALS_FILE]))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        problem = " ".join(str(exc).split())[:200]
        raise InputError(
            str(folder / TRIALS_FILE), f"not a readable Parquet file ({problem})"
        ) from None
    check_trials(trials, where=str(folder / TRIALS_FILE))
    try:
        perf = pd.read_csv(io.BytesIO(data[PERFORMANCE_FILE]), keep_default_na=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        problem = " ".join(str(exc).split())
        raise InputError(
            str(folder / PERFORMANCE_FILE), f"not a readable CSV file ({problem})"
        ) from None
    missing = [c for c in ("metric", "est", "mcse") if c not in perf.columns]
    if missing:
        raise InputError(str(folder / PERFORMANCE_FILE), f"missing column(s) {', '.join(missing)}")
    if "comparison" not in perf.columns:
        perf.insert(0, "comparison", str(scenario.get("name", "")))
    perf = perf[list(PERFORMANCE_COLUMNS)]
    return TrialRun(
        path=folder, scenario=scenario, manifest=manifest, trials=trials, performance=perf
    )


def update_report(run: TrialRun, report_html: str) -> Path:
    """Write ``report.html`` into the run directory and record its sha256 in the manifest.

    Both files are replaced atomically (the report first, then the manifest).
    """
    data = report_html.encode("utf-8")
    write_text_atomic(run.path / REPORT_FILE, report_html)
    manifest = dict(run.manifest)
    files = dict(manifest.get("files") or {})
    files[REPORT_FILE] = {"bytes": len(data), "sha256": _sha256(data)}
    manifest["files"] = files
    manifest["report_rebuilt_utc"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    write_text_atomic(run.path / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return run.path / REPORT_FILE


def combine_runs(paths) -> pd.DataFrame:
    """One tidy table over many run directories: run, scenario, comparison, metric, est, mcse, n_rep.

    ``run`` is the directory's name, ``scenario`` the scenario's name (the directory name when
    it has none); runs are kept in the order given. Each directory is read with :func:`read_run`.
    """
    frames = []
    for path in paths:
        run = read_run(path)
        frame = run.performance.copy()
        frame.insert(0, "scenario", run.name)
        frame.insert(0, "run", run.path.name)
        frame["n_rep"] = run.manifest.get("n_rep")
        frames.append(frame)
    if not frames:
        raise InputError("runs", "no run directories given")
    return pd.concat(frames, ignore_index=True)
