"""Reproducible random streams that do not depend on chunking or worker count.

Patients are grouped in fixed-size **blocks** of :data:`BLOCK_SIZE` consecutive patients. Every
block owns one independent stream per named decision (``"population"``, ``"progression"``,
``"measurement"``, …), derived from the user's seed with :class:`numpy.random.SeedSequence`
spawn keys ``(stream, block)``. Any chunk of whole blocks therefore draws exactly the same numbers
whether it is simulated alone, with other blocks, in another process or on another machine; and
two simulations that share a seed share every draw of a named stream (common random numbers).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np

from alsim.errors import InputError

#: Patients per random-number block. Chunk sizes are rounded to whole blocks.
BLOCK_SIZE = 1024


def check_seed(seed) -> int:
    """A non-negative integer seed, or an :class:`InputError` naming ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError("seed", f"must be a non-negative integer, got {seed!r}")
    return int(seed)


def stream_key(name: str) -> int:
    """A stable 32-bit key for a stream name (independent of Python's hash seed)."""
    return zlib.crc32(name.encode("utf-8"))


def block_rng(seed: int, stream: str, block: int) -> np.random.Generator:
    """The generator of one named stream for one block of patients."""
    sequence = np.random.SeedSequence(
        entropy=check_seed(seed), spawn_key=(stream_key(stream), block)
    )
    return np.random.Generator(np.random.PCG64(sequence))


def blocks_for(start: int, stop: int) -> range:
    """Indices of the blocks covering patients ``start`` (inclusive) to ``stop`` (exclusive)."""
    if start % BLOCK_SIZE:
        raise ValueError(f"chunks must start on a block boundary, got {start}")
    return range(start // BLOCK_SIZE, -(-stop // BLOCK_SIZE))


class BlockStreams:
    """Draw arrays for patients ``start..stop`` of a cohort from per-block named streams.

    Each call ``draw(stream, method, *args, size_per_patient=())`` concatenates, block by block,
    ``generator.method(*args, size=(n_block, *size_per_patient))``. The k-th call on a stream
    always draws the k-th batch of that stream, so code must request draws in a fixed order.
    """

    def __init__(self, seed: int, start: int, stop: int) -> None:
        self.seed = check_seed(seed)
        self.start, self.stop = start, stop
        self._blocks = list(blocks_for(start, stop))
        self._generators: dict[str, list[np.random.Generator]] = {}

    @property
    def n(self) -> int:
        return self.stop - self.start

    def _block_sizes(self) -> Iterable[int]:
        for block in self._blocks:
            lo = max(block * BLOCK_SIZE, self.start)
            hi = min((block + 1) * BLOCK_SIZE, self.stop)
            yield hi - lo

    def generators(self, stream: str) -> list[np.random.Generator]:
        if stream not in self._generators:
            self._generators[stream] = [block_rng(self.seed, stream, b) for b in self._blocks]
        return self._generators[stream]

    def draw(
        self, stream: str, method: str, *args, size_per_patient: tuple[int, ...] = (), **kwargs
    ):
        """Concatenate per-block draws of ``generator.method`` along the patient axis."""
        parts = [
            getattr(gen, method)(*args, size=(size, *size_per_patient), **kwargs)
            for gen, size in zip(self.generators(stream), self._block_sizes(), strict=True)
        ]
        return np.concatenate(parts, axis=0) if parts else np.empty((0, *size_per_patient))
