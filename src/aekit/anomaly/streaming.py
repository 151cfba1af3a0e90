"""Rows larger than memory for :class:`~aekit.OutlierDetector`: a path (``.npy``, Parquet, a
directory of shards), a memmap or a :class:`~aekit.data.RowSource` is read a chunk at a time.

Everything the detector's fit learns from comes from samples: each member's subsample of
``max_samples`` rows, the scaler's statistics, the input columns' quantiles and the training
scores behind the threshold (each at most 20,000 rows). So a fit on rows that do not fit in
memory reads them once, chunk by chunk, keeping a random sample of :func:`sample_size` rows
in file order, and fits on that sample as it would on an array; scores are computed one
chunk at a time. Memory holds one chunk and the sample, whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from sklearn.utils.random import sample_without_replacement

from ..data.files import open_rows
from .robust import SAMPLE_ROWS

FIT_ROWS = SAMPLE_ROWS
"""A streamed fit keeps at most this many rows: as many as any of the fit's samples takes."""

SAMPLE_BYTES = 64 * 2**20
"""... and at most this many bytes of them (fewer rows when rows are wide)."""

CHUNK_BYTES = 8 * 2**20
"""Bytes of float32 rows read at a time (a pass over the file holds about three chunks)."""


def chunk_rows(n_features: int) -> int:
    """Rows of ``n_features`` float32 values in :data:`CHUNK_BYTES` (at least 1)."""
    return max(1, CHUNK_BYTES // (4 * max(1, n_features)))


def sample_size(n_rows: int, n_features: int) -> int:
    """Rows a streamed fit keeps: at most :data:`FIT_ROWS` and :data:`SAMPLE_BYTES` of
    float32 values (at least 2,048 rows), at most ``n_rows``."""
    by_bytes = max(2048, SAMPLE_BYTES // (4 * max(1, n_features)))  # wide rows: fewer
    return int(min(n_rows, FIT_ROWS, by_bytes))


def read_sample(X, rng, size: int | None = None) -> tuple[np.ndarray, int]:
    """A random sample of ``size`` rows (default :func:`sample_size`) of the file, memmap or
    RowSource ``X``, in file order, read one chunk at a time; and the number of rows in ``X``.

    Returns
    -------
    rows : ndarray of shape (sample_size, n_features)
    n_rows : int
    """
    source = open_rows(X).flattened()
    n, d = source.n_rows, source.n_features
    size = sample_size(n, d) if size is None else min(n, size)
    pick = np.sort(sample_without_replacement(n, size, random_state=rng))
    rows = np.empty((len(pick), d), dtype=source.dtype)
    filled = 0
    for chunk in source.scan(chunk_rows(d)):
        lo, hi = np.searchsorted(pick, (chunk.start, chunk.start + len(chunk.rows)))
        rows[filled : filled + hi - lo] = chunk.rows[pick[lo:hi] - chunk.start]
        filled += hi - lo
    return rows, n


def map_chunks(X, method: Callable[[np.ndarray], np.ndarray]) -> Iterator[np.ndarray]:
    """``method`` of the rows of the file, memmap or RowSource ``X``, one chunk at a time,
    in file order."""
    source = open_rows(X).flattened()
    for chunk in source.scan(chunk_rows(source.n_features)):
        yield method(chunk.rows)
