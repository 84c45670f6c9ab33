"""Process pools that are safe to start from any alsim process.

Forking a process in which JAX (the exact HEALEY analysis) has started its threads may
deadlock the child. :func:`process_pool` therefore starts workers with ``fork`` (fast) unless JAX
is loaded, and from a ``forkserver`` then. Results never depend on the start method: every
worker draws its random numbers from streams keyed by seed and index (alsim.rng).
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def mp_context():
    """The multiprocessing context for worker pools (None: the platform default)."""
    if "jax" in sys.modules and "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return None


def process_pool(max_workers: int, **kwargs: Any) -> ProcessPoolExecutor:
    """A :class:`~concurrent.futures.ProcessPoolExecutor` with :func:`mp_context`."""
    return ProcessPoolExecutor(max_workers=max_workers, mp_context=mp_context(), **kwargs)
