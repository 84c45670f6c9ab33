"""Scale-out and long runs: execution strategies (serial, vectorised, process pool, Dask),
resumable chunked runs and sweeps. See ``docs/runtime.md``."""

from alsim.runtime.strategies import STRATEGIES, ExecutionConfig, execute, plan_chunks, run_strategy

__all__ = ["STRATEGIES", "ExecutionConfig", "execute", "plan_chunks", "run_strategy"]
