"""Execution strategies: one interface that simulates chunks of replicates serially, vectorised,
in a local process pool or on Dask workers.

A replicate's random numbers depend only on ``(seed, rep)`` (:mod:`alsim.trial.run`), so every
strategy and every worker count gives the same table; strategies differ only in where and how
the chunks are computed. :func:`execute` yields ``(first_rep, table)`` per chunk as chunks
finish (in any order); :func:`run_strategy` gathers them into the ordered trials table.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass

import pandas as pd

from alsim.errors import InputError
from alsim.parallel import process_pool
from alsim.rng import check_seed
from alsim.trial.engine import make_plan, simulate_chunk
from alsim.trial.run import default_chunk_size
from alsim.trial.scenario import Scenario

__all__ = [
    "STRATEGIES",
    "Chunk",
    "ExecutionConfig",
    "execute",
    "plan_chunks",
    "run_strategy",
]

#: serial: one replicate at a time; vectorized: a chunk at a time in this process (default);
#: process: chunks in a local process pool; dask: chunks on Dask workers (LocalCluster or a
#: scheduler).
STRATEGIES = ("serial", "vectorized", "process", "dask")


@dataclass(frozen=True)
class Chunk:
    """Replicates ``first .. first + n - 1``."""

    first: int
    n: int


@dataclass(frozen=True)
class ExecutionConfig:
    """How to run chunks: ``strategy`` (one of :data:`STRATEGIES`), ``workers`` (processes for
    ``process``; worker processes of the LocalCluster for ``dask``) and ``scheduler`` (a Dask
    scheduler address such as ``tcp://host:8786``; only with ``dask``)."""

    strategy: str = "vectorized"
    workers: int = 1
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise InputError(
                "--strategy", f"must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}"
            )
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise InputError("--workers", f"must be a positive integer, got {self.workers!r}")
        if self.scheduler is not None:
            if self.strategy != "dask":
                raise InputError("--scheduler", "only applies to --strategy dask")
            if not self.scheduler.strip() or "://" not in self.scheduler:
                raise InputError(
                    "--scheduler",
                    f"must be an address such as tcp://host:8786, got {self.scheduler!r}",
                )


def plan_chunks(n_rep: int, chunk_size: int, start: int = 0) -> list[Chunk]:
    """Chunks of ``chunk_size`` replicates covering ``start .. n_rep - 1``."""
    return [
        Chunk(first, min(chunk_size, n_rep - first)) for first in range(start, n_rep, chunk_size)
    ]


def _simulate(scenario: Scenario, entropy: int, first: int, n: int, serial: bool) -> pd.DataFrame:
    plan = make_plan(scenario)
    if not serial:
        return simulate_chunk(plan, entropy, first, n)
    parts = [simulate_chunk(plan, entropy, rep, 1) for rep in range(first, first + n)]
    return pd.concat(parts, ignore_index=True)


def _task(args: tuple) -> tuple[int, pd.DataFrame]:
    scenario, entropy, first, n = args
    return first, _simulate(scenario, entropy, first, n, serial=False)


def execute(
    scenario: Scenario,
    seed: int,
    chunks: Sequence[Chunk],
    config: ExecutionConfig | None = None,
) -> Iterator[tuple[Chunk, pd.DataFrame]]:
    """Simulate ``chunks``; yield ``(chunk, table)`` as each chunk finishes (any order)."""
    config = config or ExecutionConfig()
    entropy = check_seed(seed)
    chunks = list(chunks)
    if not chunks:
        return
    if config.strategy in ("serial", "vectorized"):
        for chunk in chunks:
            yield (
                chunk,
                _simulate(scenario, entropy, chunk.first, chunk.n, config.strategy == "serial"),
            )
    elif config.strategy == "process":
        yield from _execute_process(scenario, entropy, chunks, config.workers)
    else:
        yield from _execute_dask(scenario, entropy, chunks, config)


def _execute_process(scenario, entropy, chunks, workers) -> Iterator[tuple[Chunk, pd.DataFrame]]:
    by_first = {c.first: c for c in chunks}
    n_workers = max(1, min(workers, len(chunks)))
    with process_pool(n_workers) as pool:
        # at most 2 chunks per worker in flight: memory stays bounded by the chunk size
        pending: set = set()
        queue = iter(chunks)
        for chunk in queue:
            pending.add(pool.submit(_task, (scenario, entropy, chunk.first, chunk.n)))
            if len(pending) >= 2 * n_workers:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                first, table = future.result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending.add(pool.submit(_task, (scenario, entropy, nxt.first, nxt.n)))
                yield by_first[first], table


def dask_client(config: ExecutionConfig):
    """A ``distributed.Client``: connected to ``config.scheduler``, or to a new LocalCluster of
    ``config.workers`` worker processes (one thread each, no dashboard, quiet logs)."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError(
            "--strategy dask", "needs Dask: pip install 'alsim[scale]' (dask and distributed)"
        ) from None
    if config.scheduler is not None:
        try:
            return Client(config.scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            problem = " ".join(str(exc).split())[:160]
            raise InputError(
                "--scheduler", f"cannot connect to {config.scheduler} ({problem})"
            ) from None
    return Client(local_cluster(config.workers))


def local_cluster(workers: int):
    """A ``distributed.LocalCluster`` of ``workers`` worker processes (one thread each, no
    dashboard, quiet logs)."""
    try:
        from distributed import LocalCluster
    except ImportError:
        raise InputError(
            "--strategy dask", "needs Dask: pip install 'alsim[scale]' (dask and distributed)"
        ) from None
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )


def _execute_dask(scenario, entropy, chunks, config) -> Iterator[tuple[Chunk, pd.DataFrame]]:
    from distributed import as_completed

    by_first = {c.first: c for c in chunks}
    client = dask_client(config)
    cluster = None if config.scheduler is not None else client.cluster
    try:
        # the scenario is shipped once; each task then carries only its chunk's bounds
        [scenario_future] = client.scatter([scenario], broadcast=True)
        window = max(2, 2 * len(client.scheduler_info().get("workers", {})) or 2)
        queue = iter(chunks)
        futures = []
        for chunk in queue:
            futures.append(
                client.submit(
                    _dask_task, scenario_future, entropy, chunk.first, chunk.n, pure=False
                )
            )
            if len(futures) >= window:
                break
        stream = as_completed(futures)
        for future in stream:
            first, table = future.result()
            future.release()
            nxt = next(queue, None)
            if nxt is not None:
                stream.add(
                    client.submit(
                        _dask_task, scenario_future, entropy, nxt.first, nxt.n, pure=False
                    )
                )
            yield by_first[first], table
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _dask_task(scenario, entropy, first, n):
    return first, _simulate(scenario, entropy, first, n, serial=False)


def run_strategy(
    scenario: Scenario,
    n_rep: int,
    seed: int,
    *,
    config: ExecutionConfig | None = None,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """The trials table of ``n_rep`` replicates run with ``config``: identical to
    :func:`alsim.trial.run_trials` with the same ``seed`` for every strategy and worker count."""
    if isinstance(n_rep, bool) or not isinstance(n_rep, int) or n_rep < 1:
        raise InputError("n_rep", f"must be an integer >= 1, got {n_rep!r}")
    chunk_size = chunk_size or default_chunk_size(scenario)
    parts: dict[int, pd.DataFrame] = {}
    done = 0
    for chunk, table in execute(scenario, seed, plan_chunks(n_rep, chunk_size), config):
        parts[chunk.first] = table
        done += chunk.n
        if progress:
            progress(done, n_rep)
    return pd.concat([parts[k] for k in sorted(parts)], ignore_index=True)


def cpu_count() -> int:
    return os.cpu_count() or 1
