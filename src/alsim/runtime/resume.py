"""Resumable runs: replicates are written in atomic chunk files inside the run directory.

Layout of a run under way (or interrupted)::

    OUT/chunks/manifest.json              kind "trial_chunks": alsim version, scenario name and
                                          digest, seed, chunk size, n_rep, base_reps
    OUT/chunks/base.parquet               (--grow only) the finished run's replicates 0..base_reps-1
    OUT/chunks/chunk-000000120.parquet    replicates 120 .. 120 + chunk_size - 1 (first rep, 9 digits)

Chunk files are written to a temporary file and renamed (``os.replace``), so a chunk file is
either complete or absent: a killed run loses at most the chunks in flight. A chunk covers
``base_reps + k * chunk_size ..`` and a replicate's numbers depend only on ``(seed, rep)``, so
resuming or growing gives exactly the table of one uninterrupted run of the final ``n_rep``.
When every chunk is on disk the run's files are written (:func:`alsim.results.store.finish_run`)
and ``chunks/`` is removed.

A run refuses to mix results from a different scenario (digest), seed, chunk size or alsim
version: one :class:`~alsim.errors.InputError` naming the flag.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from alsim import __version__
from alsim.errors import InputError
from alsim.fileio import write_text_atomic
from alsim.results.store import (
    CHUNKS_DIR,
    MANIFEST_FILE,
    TRIALS_FILE,
    check_out_dir,
    is_partial_run,
    read_run,
    scenario_digest,
    write_bytes_atomic,
)
from alsim.runtime.strategies import Chunk, ExecutionConfig, execute, plan_chunks
from alsim.trial.run import default_chunk_size
from alsim.trial.scenario import Scenario

__all__ = ["ChunkedRun", "prepare_run"]

BASE_FILE = "base.parquet"
#: Test hook: seconds to sleep after each chunk is written (lets a test kill a run mid-way).
_DELAY_ENV = "ALSIM_TEST_CHUNK_DELAY"


def chunk_name(first: int) -> str:
    return f"chunk-{first:09d}.parquet"


@dataclass
class ChunkedRun:
    """A run directory whose replicates are simulated chunk by chunk (see the module docstring)."""

    out: Path
    scenario: Scenario
    data: dict[str, Any]
    seed: int
    n_rep: int
    chunk_size: int
    base_reps: int = 0
    mode: str = "new"
    done: set[int] = field(default_factory=set)

    @property
    def folder(self) -> Path:
        return self.out / CHUNKS_DIR

    def chunks(self) -> list[Chunk]:
        return plan_chunks(self.n_rep, self.chunk_size, start=self.base_reps)

    def missing(self) -> list[Chunk]:
        return [c for c in self.chunks() if c.first not in self.done]

    def done_reps(self) -> int:
        return self.base_reps + sum(c.n for c in self.chunks() if c.first in self.done)

    def manifest(self) -> dict[str, Any]:
        return {
            "kind": "trial_chunks",
            "alsim_version": __version__,
            "scenario_name": self.data.get("name"),
            "scenario_digest": scenario_digest(self.data),
            "seed": self.seed,
            "chunk_size": self.chunk_size,
            "n_rep": self.n_rep,
            "base_reps": self.base_reps,
            "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def start(self, base: bytes | None = None) -> None:
        """Create ``chunks/`` with its manifest (and the base replicates when growing)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if base is not None:
            write_bytes_atomic(self.folder / BASE_FILE, base)
        write_text_atomic(self.folder / MANIFEST_FILE, json.dumps(self.manifest(), indent=2) + "\n")

    def write_chunk(self, chunk: Chunk, table: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        write_bytes_atomic(self.folder / chunk_name(chunk.first), buffer.getvalue())
        self.done.add(chunk.first)

    def simulate(
        self,
        config: ExecutionConfig | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Simulate the missing chunks with ``config``, writing each as it finishes."""
        delay = float(os.environ.get(_DELAY_ENV, "0") or 0)
        if progress:
            progress(self.done_reps(), self.n_rep)
        for chunk, table in execute(self.scenario, self.seed, self.missing(), config):
            self.write_chunk(chunk, table)
            if progress:
                progress(self.done_reps(), self.n_rep)
            if delay:
                time.sleep(delay)

    def gather(self) -> pd.DataFrame:
        """The trials table: base replicates, then every chunk in replicate order."""
        parts = []
        if self.base_reps:
            parts.append(_read_parquet(self.folder / BASE_FILE))
        for chunk in self.chunks():
            parts.append(_read_parquet(self.folder / chunk_name(chunk.first)))
        trials = pd.concat(parts, ignore_index=True)
        reps = trials["rep"].drop_duplicates().to_numpy()
        if len(reps) != self.n_rep or (reps != range(self.n_rep)).any():
            raise InputError(str(self.folder), "the chunk files do not hold replicates 0..n_rep-1")
        return trials

    def discard(self) -> None:
        """Remove a fresh run that produced nothing (an error before the first chunk)."""
        if self.mode == "new" and not self.done:
            shutil.rmtree(self.out, ignore_errors=True)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        problem = " ".join(str(exc).split())[:160]
        raise InputError(str(path), f"not a readable chunk file ({problem})") from None


def _scan(folder: Path) -> set[int]:
    """First replicates of the chunk files on disk; stale temporary files are removed."""
    done = set()
    for path in folder.iterdir():
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)
        elif path.name.startswith("chunk-") and path.name.endswith(".parquet"):
            try:
                done.add(int(path.name[6:-8]))
            except ValueError:
                continue
    return done


def _check_same(
    where: str, recorded: dict[str, Any], data: dict[str, Any], seed, chunk_size, out: Path
) -> None:
    """Refuse to mix results from another scenario, seed, chunk size or alsim version."""
    version = recorded.get("alsim_version")
    if version != __version__:
        raise InputError(
            where, f"{out} was run with alsim {version}, this is {__version__}; not mixing results"
        )
    if recorded.get("scenario_digest") != scenario_digest(data):
        raise InputError(
            where,
            f"{out} was run from a different scenario (digest {str(recorded.get('scenario_digest'))[:12]}, "
            f"this file {scenario_digest(data)[:12]}); not mixing results",
        )
    if seed is not None and recorded.get("seed") != seed:
        raise InputError("--seed", f"{out} was run with seed {recorded.get('seed')}, not {seed}")
    if chunk_size is not None and recorded.get("chunk_size") != chunk_size:
        raise InputError(
            "--chunk-size",
            f"{out} was run with chunk size {recorded.get('chunk_size')}, not {chunk_size}",
        )


def prepare_run(
    out: Path,
    scenario: Scenario,
    data: dict[str, Any],
    *,
    n_rep: int | None,
    seed: int | None,
    chunk_size: int | None,
    default_n_rep: int,
    default_seed: int,
    resume: bool = False,
    grow: int | None = None,
    overwrite: bool = False,
) -> ChunkedRun | None:
    """Check everything, then create ``chunks/`` and return the run to simulate; nothing is
    written or removed before every check has passed (a fresh run with ``overwrite`` then
    replaces the old directory). Returns ``None`` when ``resume`` finds the run complete.

    ``n_rep``, ``seed`` and ``chunk_size`` are the values given on the command line (``None``
    when not given); a new run falls back on ``default_n_rep``/``default_seed``, a resumed or
    grown run on what it recorded.
    """
    if resume and grow is not None:
        raise InputError("--resume/--grow", "give one of them")
    if resume or grow is not None:
        where = "--resume" if resume else "--grow"
        if not out.is_dir():
            raise InputError(where, f"{out} is not a run directory (run without {where} first)")
    if resume:
        if not is_partial_run(out):
            if (out / MANIFEST_FILE).is_file():
                finished = read_run(out)  # a complete run: nothing to do if it is the same run
                _check_same("--resume", finished.manifest, data, seed, chunk_size, out)
                if n_rep is not None and n_rep != finished.manifest.get("n_rep"):
                    raise InputError(
                        "--n-rep",
                        f"{out} is a finished run of {finished.manifest.get('n_rep')} replicates "
                        "(use --grow to add replicates)",
                    )
                return None
            raise InputError("--resume", f"{out} holds no unfinished run (no chunks/manifest.json)")
        try:
            recorded = json.loads((out / CHUNKS_DIR / MANIFEST_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(str(out / CHUNKS_DIR / MANIFEST_FILE), f"unreadable ({exc})") from None
        _check_same("--resume", recorded, data, seed, chunk_size, out)
        if n_rep is not None and n_rep != recorded.get("n_rep"):
            raise InputError(
                "--n-rep",
                f"{out} is a run of {recorded.get('n_rep')} replicates (use --grow after it finishes)",
            )
        run = ChunkedRun(
            out,
            scenario,
            data,
            seed=int(recorded["seed"]),
            n_rep=int(recorded["n_rep"]),
            chunk_size=int(recorded["chunk_size"]),
            base_reps=int(recorded.get("base_reps") or 0),
            mode="resume",
        )
        run.done = _scan(run.folder) & {c.first for c in run.chunks()}
        return run
    if grow is not None:
        if grow < 1:
            raise InputError("--grow", f"must be a positive number of replicates, got {grow}")
        if n_rep is not None:
            raise InputError("--n-rep", "does not apply with --grow (it adds to the run's n_rep)")
        if is_partial_run(out):
            raise InputError("--grow", f"{out} holds an unfinished run; --resume it first")
        finished = read_run(out)
        recorded = finished.manifest
        _check_same("--grow", recorded, data, seed, None, out)
        recorded_chunk = recorded.get("chunk_size")
        if chunk_size is not None and recorded_chunk is not None and chunk_size != recorded_chunk:
            raise InputError(
                "--chunk-size", f"{out} was run with chunk size {recorded_chunk}, not {chunk_size}"
            )
        size = recorded_chunk or chunk_size or default_chunk_size(scenario)
        base_reps = int(recorded["n_rep"])
        run = ChunkedRun(
            out,
            scenario,
            data,
            seed=int(recorded["seed"]),
            n_rep=base_reps + grow,
            chunk_size=int(size),
            base_reps=base_reps,
            mode="grow",
        )
        run.start(base=(out / TRIALS_FILE).read_bytes())
        return run
    check_out_dir(out, overwrite=overwrite)
    run = ChunkedRun(
        out,
        scenario,
        data,
        seed=seed if seed is not None else default_seed,
        n_rep=n_rep if n_rep is not None else default_n_rep,
        chunk_size=chunk_size or default_chunk_size(scenario),
    )
    if out.is_dir() and any(out.iterdir()):  # check_out_dir allowed it: an alsim run, --overwrite
        shutil.rmtree(out)
    run.out.mkdir(parents=True, exist_ok=True)
    run.start()
    return run


def complete_run(
    chunked: ChunkedRun,
    config: ExecutionConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Simulate the missing chunks, then write the run's files (tables, report, manifest).

    Returns ``(trials, performance, simulate_seconds)``. An error before the first chunk of a
    fresh run removes the directory again; otherwise finished chunks stay for ``--resume``.
    """
    from alsim.report.trial import trial_report
    from alsim.results import performance
    from alsim.results.store import finish_run

    config = config or ExecutionConfig()
    started = time.perf_counter()
    try:
        chunked.simulate(config, progress=progress)
    except Exception:
        chunked.discard()
        raise
    simulated = time.perf_counter() - started
    trials = chunked.gather()
    started = time.perf_counter()
    perf = performance(trials)
    timings = {
        "simulate": round(simulated, 3),
        "summarise": round(time.perf_counter() - started, 3),
    }
    manifest = {
        "seed": chunked.seed,
        "n_rep": chunked.n_rep,
        "chunk_size": chunked.chunk_size,
        "timings_seconds": timings,
    }
    started = time.perf_counter()
    report = trial_report(chunked.data, manifest, trials, perf)
    timings["report"] = round(time.perf_counter() - started, 3)
    finish_run(
        chunked.out,
        scenario=chunked.data,
        trials=trials,
        performance=perf,
        report_html=report,
        seed=chunked.seed,
        n_rep=chunked.n_rep,
        chunk_size=chunked.chunk_size,
        timings=timings,
        extra={
            "execution": {
                "strategy": config.strategy,
                "workers": config.workers,
                "scheduler": config.scheduler,
                "mode": chunked.mode,
            }
        },
    )
    return trials, perf, simulated
