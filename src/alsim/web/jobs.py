"""Background research runs for the web app: trial scenarios and gallery experiments.

A run is a :class:`~alsim.web.models.ResearchRun` row. :class:`JobRunner` executes queued runs
on a small thread pool (the simulations spend their time in NumPy/Numba, which release the GIL;
one worker by default so that a shared machine is not swamped), and keeps the row up to date:

* ``queued`` → ``running`` (``started_at``) → ``done`` / ``failed`` / ``cancelled``
  (``finished_at``, ``message``); ``progress`` 0..1 follows chunk completion
  (:func:`alsim.runtime.resume.complete_run` calls back after every chunk);
* every status change is a conditional ``UPDATE ... WHERE status = <expected>``, so a run that
  was cancelled meanwhile is never marked done, and cancelling works across processes: the
  worker's next progress update finds the row no longer ``running`` and stops;
* results are written into a staging folder beside ``settings.runs_dir/<id>`` and renamed into
  place when complete: a run folder is either absent or whole;
* :func:`recover_interrupted` (called at app startup) marks runs that a dead server left
  ``running`` as ``failed`` with the message ``interrupted`` and removes stale staging folders
  and their run folders (published just before the stop but never recorded as ``done``);
* progress never decreases (the conditional update keeps the larger value).

The pure pieces (:func:`example_scenarios`, :func:`parse_scenario_text`, :func:`check_n_rep`,
:func:`run_scenario`, :func:`run_gallery_experiment`) need no database. Research and education
only, not medical advice. See docs/research-runs.md.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alsim.errors import AlsimError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session, sessionmaker

    from alsim.trial.scenario import Scenario

log = logging.getLogger("alsim.web.jobs")

#: Largest number of simulated trials a web run may ask for (``alsim run`` has no limit).
MAX_WEB_N_REP = 2000
#: Simulated trials of a web run when none is given.
DEFAULT_WEB_N_REP = 200
#: Largest simulated work of a web run: simulated trials x patients x scheduled visits (about
#: 13 times the largest bundled example at 2000 trials; a platform choice that keeps a shared
#: server's memory and time bounded, since scenarios allow 50 regimens of 100 000 patients).
MAX_WEB_PATIENT_VISITS = 100_000_000
#: Largest uploaded scenario text (bytes).
MAX_SCENARIO_BYTES = 100_000
#: Progress is reported after each chunk; runs are split into about this many chunks.
PROGRESS_STEPS = 20

FIGURES_DIR = "figures"
SUMMARY_FILE = "summary.json"
STAGING_SUFFIX = ".partial"
INTERRUPTED_MESSAGE = "interrupted: the server stopped while this run was in progress"
CANCELLED_MESSAGE = "cancelled by the user"
#: The fixed run messages and their i18n keys (``research.message.*``; the English text is
#: shown until a catalogue has the key).
MESSAGE_KEYS = {
    INTERRUPTED_MESSAGE: "research.message.interrupted",
    CANCELLED_MESSAGE: "research.message.cancelled",
}

#: Keys that name files on the server: not allowed in an uploaded scenario.
_FILE_KEYS = (("base_dir",), ("therapies",), ("population", "params"))

ProgressFn = Callable[[float], None]


class RunCancelled(AlsimError):
    """Raised inside a run when its row is no longer ``running`` (cancelled)."""


class RunInterrupted(AlsimError):
    """Raised inside a run when the server is shutting down."""


# --------------------------------------------------------------------------------------------
# example scenarios and validation (pure)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExampleScenario:
    """A scenario bundled with the package, offered by the web app."""

    id: str
    title: str
    description: str
    data: dict[str, Any]


def example_scenarios() -> dict[str, ExampleScenario]:
    """The bundled scenarios: the demo's HEALEY-like platform
    (:data:`alsim.report.trial.DEMO_SCENARIO`) and every reproduced trial with a scenario
    (:data:`alsim.reproduce.trials.REPRODUCTIONS`, the same ones ``alsim reproduce`` runs)."""
    from alsim.report.trial import DEMO_SCENARIO
    from alsim.reproduce.trials import REPRODUCTIONS

    out = {
        "demo-platform": ExampleScenario(
            id="demo-platform",
            title="HEALEY-like platform (demo)",
            description=str(DEMO_SCENARIO.get("description", "")),
            data=dict(DEMO_SCENARIO),
        )
    }
    for rep in REPRODUCTIONS:
        if rep.scenario:
            out[rep.id] = ExampleScenario(
                id=rep.id,
                title=rep.trial,
                description=f"{rep.therapy}: {rep.endpoint}. Source: {rep.source}",
                data=dict(rep.scenario),
            )
    return out


def check_n_rep(n_rep: Any) -> int:
    """``n_rep`` for a web run: a whole number 1..:data:`MAX_WEB_N_REP` (InputError otherwise)."""
    if isinstance(n_rep, bool) or not isinstance(n_rep, int):
        raise InputError("n_rep", f"must be a whole number, got {n_rep!r}")
    if n_rep < 1:
        raise InputError("n_rep", f"must be at least 1, got {n_rep}")
    if n_rep > MAX_WEB_N_REP:
        raise InputError(
            "n_rep",
            f"web runs are limited to {MAX_WEB_N_REP} simulated trials, got {n_rep}; "
            "use `alsim run` on the command line for larger runs",
        )
    return n_rep


def patient_visits(scenario: Scenario, n_rep: int) -> int:
    """Simulated work of ``n_rep`` trials of ``scenario``: trials x patients (every regimen and
    the shared control arm) x visits (baseline plus the scheduled ones)."""
    patients = sum(r.n for r in scenario.regimens)
    if scenario.control_arm is not None:
        patients += scenario.control_arm.n
    return n_rep * patients * (len(scenario.visit_months) + 1)


def check_web_size(scenario: Scenario, n_rep: int) -> None:
    """InputError when ``n_rep`` trials of ``scenario`` exceed :data:`MAX_WEB_PATIENT_VISITS`."""
    work = patient_visits(scenario, n_rep)
    if work > MAX_WEB_PATIENT_VISITS:
        raise InputError(
            "n_rep",
            f"{n_rep} simulated trials of this scenario are {work:,} patient-visits; web runs "
            f"are limited to {MAX_WEB_PATIENT_VISITS:,}: use fewer trials or patients, or "
            "`alsim run` on the command line",
        )


def check_seed(seed: Any) -> int:
    """A seed: a whole number 0..2**63-1."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InputError("seed", f"must be a non-negative whole number, got {seed!r}")
    return seed


def validate_scenario_data(data: Any, source: str) -> Scenario:
    """Validate a scenario mapping as ``alsim validate`` does, refusing keys that name server
    files (``base_dir``, ``therapies``, ``population.params``)."""
    from alsim.trial import validate_scenario

    if data is None:
        raise InputError(source, "is empty")
    if isinstance(data, dict):
        for keys in _FILE_KEYS:
            node: Any = data
            for key in keys:
                node = node.get(key) if isinstance(node, dict) else None
            if node is not None:
                raise InputError(
                    f"{source}: {'.'.join(keys)}",
                    "file paths are not allowed in a scenario run from the web app",
                )
    return validate_scenario(data, source=source)


def parse_scenario_text(text: str, *, source: str = "scenario.yaml") -> Scenario:
    """Parse and validate an uploaded scenario (YAML text); one :class:`InputError` naming the
    line (syntax) or the key path (content)."""
    import yaml

    if len(text.encode("utf-8")) > MAX_SCENARIO_BYTES:
        raise InputError(source, f"is larger than {MAX_SCENARIO_BYTES // 1000} kB")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(source, f"invalid YAML{where}") from None
    return validate_scenario_data(data, source)


# --------------------------------------------------------------------------------------------
# running (pure: a folder in, files and a summary out)
# --------------------------------------------------------------------------------------------
def _staging(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=STAGING_SUFFIX, dir=target.parent)
    )


def _publish(staging: Path, target: Path) -> None:
    from alsim.fileio import current_umask

    os.chmod(staging, 0o777 & ~current_umask())
    if target.exists():  # a leftover of an earlier attempt of the same run id
        shutil.rmtree(target)
    os.replace(staging, target)


def _write_figures(folder: Path, svgs: list[str]) -> list[str]:
    from alsim.fileio import write_text_atomic

    names = []
    for i, svg in enumerate(svgs, start=1):
        name = f"{FIGURES_DIR}/figure-{i}.svg"
        write_text_atomic(folder / name, svg)
        names.append(name)
    return names


def _records(frame: Any) -> list[dict[str, Any]]:
    from alsim.experiments.common import clean

    return clean(frame.to_dict(orient="records"))


def run_scenario(
    target: Path,
    scenario: Scenario,
    *,
    n_rep: int,
    seed: int,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Simulate ``scenario`` and write a complete run folder at ``target``.

    The folder is what ``alsim run`` writes (scenario.yaml, manifest.json, trials.parquet,
    performance.csv, report.html) plus ``figures/figure-N.svg`` and ``summary.json``. It appears
    only when complete. ``progress(fraction)`` is called after each chunk; it may raise (e.g.
    :class:`RunCancelled`) to stop the run, and then nothing is left behind.

    Returns the summary: scenario name, n_rep, seed, the operating-characteristics table (cells
    ``est ± MCSE``), the performance rows (est, mcse) and the figure file names.
    """
    from alsim.report.trial import oc_table, trial_figures
    from alsim.runtime.resume import complete_run, prepare_run
    from alsim.runtime.strategies import ExecutionConfig

    n_rep = check_n_rep(n_rep)
    check_web_size(scenario, n_rep)
    seed = check_seed(seed)
    data = scenario.model_dump(mode="json")
    chunk = max(1, math.ceil(n_rep / PROGRESS_STEPS))
    staging = _staging(target)
    try:
        out = staging / "run"
        chunked = prepare_run(
            out,
            scenario,
            data,
            n_rep=n_rep,
            seed=seed,
            chunk_size=chunk,
            default_n_rep=n_rep,
            default_seed=seed,
        )
        assert chunked is not None  # a fresh run is never "already complete"

        def on_chunk(done: int, total: int) -> None:
            if progress is not None:
                progress(0.95 * done / max(total, 1))

        trials, perf, seconds = complete_run(
            chunked, ExecutionConfig(strategy="vectorized"), progress=on_chunk
        )
        for item in out.iterdir():  # flatten: the run's files directly in the folder
            os.replace(item, staging / item.name)
        out.rmdir()
        figures = _write_figures(staging, trial_figures(trials))
        table = oc_table(perf)
        summary = {
            "kind": "scenario",
            "scenario_name": str(scenario.name),
            "description": str(scenario.description or ""),
            "n_rep": n_rep,
            "seed": seed,
            "seconds": round(float(seconds), 3),
            "oc_table": {"columns": [str(c) for c in table.columns], "rows": _records(table)},
            "performance": _records(perf),
            "figures": figures,
            "files": ["report.html", "performance.csv", "scenario.yaml", "manifest.json"],
        }
        from alsim.fileio import write_text_atomic

        write_text_atomic(staging / SUMMARY_FILE, json.dumps(summary, indent=2, allow_nan=False))
        if progress is not None:
            progress(0.99)
        _publish(staging, target)
        return summary
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@dataclass(frozen=True)
class GalleryEntry:
    """One experiment of the gallery."""

    name: str
    description: str
    quick_settings: dict[str, Any]


def experiment_gallery() -> list[GalleryEntry]:
    """The experiments of :mod:`alsim.experiments` (name, description from the function's
    docstring, and the short-size settings the web app runs)."""
    from alsim.experiments import EXPERIMENTS

    out = []
    for name, (function, small) in EXPERIMENTS.items():
        doc = (function.__doc__ or "").strip().split("\n\n")[0]
        out.append(
            GalleryEntry(
                name=name,
                description=" ".join(doc.split()),
                quick_settings={
                    k: list(v) if isinstance(v, tuple) else v for k, v in small.items()
                },
            )
        )
    return out


def run_gallery_experiment(
    target: Path, name: str, *, seed: int, progress: ProgressFn | None = None
) -> dict[str, Any]:
    """Run experiment ``name`` at its short size (``quick``) and write ``results.json``,
    ``report.html`` and ``figures/figure-N.svg`` at ``target`` (appears only when complete)."""
    from alsim.experiments import NAMES, run_experiment
    from alsim.fileio import write_text_atomic
    from alsim.report.experiments import FIGURES, experiments_report

    if name not in NAMES:
        raise InputError("experiment", f"must be one of {', '.join(NAMES)}, got {name!r}")
    seed = check_seed(seed)
    staging = _staging(target)
    try:
        if progress is not None:
            progress(0.05)
        result = run_experiment(name, seed, quick=True)
        if progress is not None:
            progress(0.7)
        payload = result.to_json()
        figures = _write_figures(staging, FIGURES[name](result))
        if progress is not None:
            progress(0.85)
        write_text_atomic(staging / "results.json", json.dumps(payload, indent=2, allow_nan=False))
        write_text_atomic(staging / "report.html", experiments_report([result]))
        summary = {
            "kind": "experiment",
            **payload,
            "seconds": round(float(result.seconds), 3),
            "figures": figures,
            "files": ["report.html", "results.json"],
        }
        write_text_atomic(staging / SUMMARY_FILE, json.dumps(summary, indent=2, allow_nan=False))
        _publish(staging, target)
        return summary
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# --------------------------------------------------------------------------------------------
# the runner (database)
# --------------------------------------------------------------------------------------------
def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def recover_interrupted(sessions: sessionmaker[Session], runs_dir: Path | None = None) -> int:
    """Mark every ``running`` run as ``failed`` (``interrupted``) and remove staging folders
    left in ``runs_dir`` and those runs' folders; returns how many runs were marked. Call once
    at server start, before any run starts."""
    from sqlalchemy import select, update

    from alsim.web.models import ResearchRun

    with sessions() as db:
        ids = list(db.scalars(select(ResearchRun.id).where(ResearchRun.status == "running")))
        result = db.execute(
            update(ResearchRun)
            .where(ResearchRun.id.in_(ids), ResearchRun.status == "running")
            .values(status="failed", message=INTERRUPTED_MESSAGE, finished_at=_now())
        )
        db.commit()
        count = int(result.rowcount or 0)
    if runs_dir is not None and runs_dir.is_dir():
        for item in runs_dir.iterdir():
            if item.name.startswith(".") and item.name.endswith(STAGING_SUFFIX):
                shutil.rmtree(item, ignore_errors=True)
        for run_id in ids:  # published just before the stop, never recorded as done
            shutil.rmtree(runs_dir / str(run_id), ignore_errors=True)
    if count:
        log.warning("%d research run(s) were interrupted by a server stop: marked failed", count)
    return count


class JobRunner:
    """Runs queued :class:`~alsim.web.models.ResearchRun` rows on a thread pool.

    Parameters
    ----------
    sessions:
        The app's session factory (each job opens short sessions of its own).
    runs_dir:
        Where run folders go (``runs_dir/<id>``).
    workers:
        Runs executed at the same time (default 1; more wait in the queue).
    """

    def __init__(self, sessions: sessionmaker[Session], runs_dir: Path, *, workers: int = 1):
        self.sessions = sessions
        self.runs_dir = Path(runs_dir)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="alsim-run")
        self._futures: dict[int, Future[None]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._stopping = threading.Event()

    # -- public --------------------------------------------------------------------------------
    def submit(self, run_id: int) -> None:
        """Queue run ``run_id`` (its row must be ``queued``)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the job runner is shut down")
            self._futures[run_id] = self._pool.submit(self._execute, run_id)

    def resume_queued(self) -> int:
        """Submit every ``queued`` run (e.g. after a restart); returns how many."""
        from sqlalchemy import select

        from alsim.web.models import ResearchRun

        with self.sessions() as db:
            ids = list(
                db.scalars(
                    select(ResearchRun.id)
                    .where(ResearchRun.status == "queued")
                    .order_by(ResearchRun.id)
                )
            )
        for run_id in ids:
            self.submit(run_id)
        return len(ids)

    def cancel(self, run_id: int, db: Session | None = None) -> bool:
        """Cancel a queued or running run; ``False`` if it had already ended.

        The row becomes ``cancelled`` at once (committed in ``db`` when given, e.g. the
        request's session, which holds SQLite's write lock; else in a session of its own); a
        running job notices at its next progress report and removes what it had written.
        """
        from sqlalchemy import update

        from alsim.web.models import ResearchRun

        statement = (
            update(ResearchRun)
            .where(ResearchRun.id == run_id, ResearchRun.status.in_(("queued", "running")))
            .values(status="cancelled", message=CANCELLED_MESSAGE, finished_at=_now())
        )
        if db is not None:
            result = db.execute(statement)
            if result.rowcount:
                db.commit()
            else:
                db.rollback()  # nothing changed: nothing of the caller's either
        else:
            with self.sessions() as own:
                result = own.execute(statement)
                own.commit()
        with self._lock:
            future = self._futures.get(run_id)
        if future is not None:
            future.cancel()  # only succeeds while still waiting in the queue
        return bool(result.rowcount)

    def wait(self, run_id: int, timeout: float | None = None) -> None:
        """Block until run ``run_id``'s job has ended (tests, shutdown)."""
        with self._lock:
            future = self._futures.get(run_id)
        if future is not None:
            try:
                future.result(timeout=timeout)
            except Exception:  # the job records its own failure
                pass

    def shutdown(self, *, wait: bool = False) -> None:
        """Stop: queued jobs are dropped (they stay ``queued`` and are requeued at the next
        start); a running job stops at its next progress report and is marked ``failed``
        (``interrupted``). A process killed outright leaves ``running`` rows, which
        :func:`recover_interrupted` marks the same way at the next start."""
        with self._lock:
            self._closed = True
        self._stopping.set()  # running jobs stop at their next progress report
        self._pool.shutdown(wait=wait, cancel_futures=True)

    # -- the job -------------------------------------------------------------------------------
    def _update(self, run_id: int, expect: str, **values: Any) -> bool:
        from sqlalchemy import update

        from alsim.web.models import ResearchRun

        with self.sessions() as db:
            result = db.execute(
                update(ResearchRun)
                .where(ResearchRun.id == run_id, ResearchRun.status == expect)
                .values(**values)
            )
            db.commit()
            return bool(result.rowcount)

    def _execute(self, run_id: int) -> None:
        from alsim.web.models import ResearchRun

        with self.sessions() as db:
            row = db.get(ResearchRun, run_id)
            if row is None:
                return
            kind, spec, seed = row.kind, row.spec, row.seed
        if not self._update(run_id, "queued", status="running", started_at=_now(), progress=0.0):
            return  # cancelled while queued
        target = self.runs_dir / str(run_id)

        def progress(fraction: float) -> None:
            from sqlalchemy import case

            if self._stopping.is_set():
                raise RunInterrupted(INTERRUPTED_MESSAGE)
            value = min(max(float(fraction), 0.0), 1.0)
            # never backwards: an out-of-order report keeps the stored (larger) value
            monotone = case((ResearchRun.progress < value, value), else_=ResearchRun.progress)
            if not self._update(run_id, "running", progress=monotone):
                raise RunCancelled(f"run {run_id} was cancelled")

        try:
            summary = self._run(kind, spec, seed, target, progress)
        except RunCancelled:
            shutil.rmtree(target, ignore_errors=True)
            return
        except RunInterrupted:
            self._update(
                run_id, "running", status="failed", message=INTERRUPTED_MESSAGE, finished_at=_now()
            )
            return
        except AlsimError as err:
            self._update(run_id, "running", status="failed", message=str(err), finished_at=_now())
            return
        except Exception as err:  # a bug: keep the server alive and say so on the run
            log.exception("research run %s failed", run_id)
            self._update(
                run_id,
                "running",
                status="failed",
                message=f"internal error ({type(err).__name__}); see the server log",
                finished_at=_now(),
            )
            return
        done = self._update(
            run_id,
            "running",
            status="done",
            progress=1.0,
            message="",
            finished_at=_now(),
            result_dir=str(target),
            result_json=summary,
        )
        if not done:  # cancelled at the last moment: nothing of it stays
            shutil.rmtree(target, ignore_errors=True)

    @staticmethod
    def _run(
        kind: str, spec_text: str, seed: int | None, target: Path, progress: ProgressFn
    ) -> dict[str, Any]:
        spec = json.loads(spec_text)
        if kind == "scenario":
            if spec.get("example"):
                examples = example_scenarios()
                if spec["example"] not in examples:
                    raise InputError("example", f"unknown example scenario {spec['example']!r}")
                example = examples[spec["example"]]
                scenario = validate_scenario_data(example.data, f"{example.id}.yaml")
            else:
                scenario = parse_scenario_text(spec.get("yaml", ""))
            return run_scenario(
                target, scenario, n_rep=int(spec["n_rep"]), seed=int(seed or 0), progress=progress
            )
        if kind == "experiment":
            return run_gallery_experiment(
                target, str(spec["experiment"]), seed=int(seed or 0), progress=progress
            )
        raise InputError("kind", f"must be scenario or experiment, got {kind!r}")
