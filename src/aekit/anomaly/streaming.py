"""Rows larger than memory for :class:`~aekit.OutlierDetector`: a path (``.npy``, Parquet, a
directory of shards), a memmap, a :class:`~aekit.data.RowSource` or a delimited text file
(:class:`TextRows`) is read a chunk at a time.

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

from ..core.checks import check_finite
from ..data.delimited import read_table_chunks, table_format, warn_if_row_index
from ..data.files import Chunk, is_streamable, open_rows
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


TEXT_CHUNK_ROWS = 50_000
"""Rows of a delimited text file parsed at a time."""


class TextRows:
    """A delimited text file (``.csv``, ``.tsv``, ``.txt``) read a chunk of rows at a time,
    as DataFrames: its separator and header detected, and each chunk's columns typed, as
    :func:`aekit.data.read_table` does (:func:`aekit.data.delimited.read_table_chunks`),
    ``label`` and ``drop`` columns left out of the rows (the labels kept apart). With
    ``warn_index`` (rows a model is to be fitted on), the first pass warns of a column that
    holds pandas' row index, as :func:`aekit.data.read_table` does
    (:func:`~aekit.data.delimited.warn_if_row_index`), judged on the first chunk.

    Every chunk is typed on its own (a column of numbers in one chunk and of text in another
    is an error when scored): files written by a program, not edited by hand.

    ``select``, when set, takes each chunk's rows (a DataFrame) and returns the rows to
    yield: a fitted model's columns picked by name, as from a file read whole.
    """

    def __init__(self, path, *, label=None, drop=(), header="infer", sep=None,
                 warn_index=False):
        self.path, self.label, self.drop = str(path), label, tuple(drop or ())
        self.warn_index = warn_index
        self._first_pass = True  # what a file says of itself is warned of once, not a pass
        self.sep, self.header = table_format(path, header=header, sep=sep)
        self.select = None

    def frames(self) -> Iterator[tuple[int, object, object]]:
        """``(first row, rows, labels or None)`` of every chunk, in file order."""
        import pandas as pd

        start = 0
        first, self._first_pass = self._first_pass, False
        # The first pass warns of numbers written as spreadsheets format them.
        for frame in read_table_chunks(self.path, self.sep, self.header, TEXT_CHUNK_ROWS,
                                       warn=first):
            if start == 0:
                missing = [c for c in (self.label, *self.drop)
                           if c is not None and c not in frame.columns]
                if missing:
                    raise ValueError(f"{self.path}: no column named "
                                     f"{', '.join(map(repr, missing))}")
            labels = frame[self.label].to_numpy() if self.label is not None else None
            rows = frame.drop(columns=[c for c in (self.label, *self.drop) if c is not None])
            if start == 0 and first and self.warn_index:
                warn_if_row_index(self.path, rows)
            if self.select is not None:
                rows = self.select(rows)
            rows.index = pd.RangeIndex(start, start + len(frame))
            yield start, rows, labels
            start += len(frame)

    def labels(self) -> np.ndarray | None:
        """The label column of every row (None without ``label``)."""
        if self.label is None:
            return None
        return np.concatenate([y for _, _, y in self.frames()])


REPORT_ROWS = 10_000
"""The report of an ``aekit detect`` read in chunks is drawn on a sample of this many rows."""

TEXT_STREAM_BYTES = 256 * 2**20
"""``aekit detect`` and ``score`` read a delimited text file larger than this in chunks."""


def chunked_input(path, *, label=None, drop=(), header="infer", sep=None, warn_index=False):
    """What ``aekit detect`` and ``score`` read a chunk at a time, or None for a file they
    read whole: a ``.npy``/Parquet file or a directory of them (its path), or a text table
    larger than :data:`TEXT_STREAM_BYTES` (a :class:`TextRows`). A detector reading it
    checks its columns (a Parquet file's by name) before the first chunk
    (:func:`iter_chunks`). ``warn_index``: as :class:`TextRows` takes it."""
    from pathlib import Path

    from ..data.delimited import TABLE_SUFFIXES
    from ..data.files import STREAM_SUFFIXES

    path = Path(path)
    if path.is_dir() or path.suffix.lower() in STREAM_SUFFIXES:
        if label is not None or drop:
            raise ValueError(f"{path.name} is read in chunks, as numbers only: --label and "
                             "--drop work on text tables (.csv); leave them out")
        return str(path)
    if path.suffix.lower() in TABLE_SUFFIXES and path.is_file() \
            and path.stat().st_size > TEXT_STREAM_BYTES:
        return TextRows(path, label=label, drop=drop, header=header, sep=sep,
                        warn_index=warn_index)
    return None


def chunked_rows(path, sample: bool, options: dict, normal=None, anomaly=None, *,
                 warn_index: bool = False):
    """``(X, anomaly, sample)`` for a file ``aekit detect`` or ``score`` reads in chunks
    (:func:`chunked_input`; ``options``: its ``label``, ``drop``, ``header`` and ``sep``):
    the rows, the labels as booleans (:func:`aekit.anomaly.metrics.anomaly_labels` with
    ``normal`` / ``anomaly``; None without a label column) and, if ``sample``, a random
    sample of :data:`REPORT_ROWS` rows for the report; None for a file read whole.
    ``warn_index``: warn of a text file's column that holds pandas' row index, for rows a
    model is to be fitted on (:class:`TextRows`)."""
    from .metrics import anomaly_labels

    X = chunked_input(path, **{k: options[k] for k in ("label", "drop", "header", "sep")},
                      warn_index=warn_index)
    if X is None:
        return None
    y = X.labels() if isinstance(X, TextRows) else None
    flags = None if y is None else anomaly_labels(y, normal, anomaly=anomaly)
    rows = read_sample(X, np.random.RandomState(0), REPORT_ROWS)[0] if sample else None
    return X, flags, rows


def is_chunked(X) -> bool:
    """True for rows read a chunk at a time: a path, a memmap, a RowSource, a TextRows."""
    return isinstance(X, TextRows) or is_streamable(X)


def iter_chunks(X, owner=None) -> Iterator[tuple[int, object]]:
    """``(first row, rows)`` of every chunk of ``X`` (see :func:`is_chunked`), file order.

    With ``owner``, a fitted estimator, a file's rows are first checked against the inputs
    it takes (:meth:`~aekit.data.schema.InputSchema.check_stream`: width, and a Parquet
    file's column names by name) and each chunk comes as its methods take it (a DataFrame
    of the file's columns for a model fitted with feature names).
    """
    if isinstance(X, TextRows):  # DataFrames: their columns are checked by name already
        for start, rows, _ in X.frames():
            yield start, rows
        return
    source = open_rows(X).flattened()
    if owner is not None:
        owner._check_stream(source, reset=False)
    for chunk in source.scan(chunk_rows(source.n_features)):
        if owner is not None:
            check_chunk(chunk, owner.missing)
        rows = chunk.rows if owner is None else \
            owner.schema_.stream_chunk(chunk.rows, source, chunk.start)
        yield chunk.start, rows


def n_rows(X) -> int:
    """Rows of ``X`` (see :func:`is_chunked`); a text file is read through to count them."""
    if isinstance(X, TextRows):
        return sum(len(rows) for _, rows in iter_chunks(X))
    return open_rows(X).n_rows


def _sample_text(X: TextRows, rng, size: int | None):
    """A uniform sample of a text file's rows in one pass: each row draws a random key and
    the ``size`` smallest keys are kept (the rows in file order); and the number of rows."""
    import pandas as pd

    kept, total = None, 0
    for start, rows in iter_chunks(X):
        keys = pd.Series(rng.random_sample(len(rows)), index=rows.index)
        part = rows.assign(_key=keys)
        kept = part if kept is None else pd.concat([kept, part])
        kept = kept.nsmallest(size or FIT_ROWS, "_key")
        total += len(rows)
    if kept is None:
        raise ValueError(f"{X.path}: file holds no data rows")
    return kept.sort_index().drop(columns="_key"), total


def sample_size(n_rows: int, n_features: int) -> int:
    """Rows a streamed fit keeps: at most :data:`FIT_ROWS` and :data:`SAMPLE_BYTES` of
    float32 values (at least 2,048 rows), at most ``n_rows``."""
    by_bytes = max(2048, SAMPLE_BYTES // (4 * max(1, n_features)))  # wide rows: fewer
    return int(min(n_rows, FIT_ROWS, by_bytes))


def column_names(X) -> list | None:
    """The column names of the file or RowSource ``X`` (a Parquet file's), else None."""
    return None if isinstance(X, TextRows) else open_rows(X).columns


def check_chunk(chunk: Chunk, missing: str) -> None:
    """A ValueError naming the file and its rows where ``chunk`` holds NaN, infinity or
    values beyond float32's range (:func:`~aekit.core.checks.check_finite`); NaN passes
    with ``missing="impute"``. Checked here, where the rows' place in their file is known:
    the chunk, or a sample of the file, names its rows by their place in itself."""
    rows = chunk.rows
    if missing == "impute" and np.isnan(rows).any():
        rows = np.where(np.isnan(rows), 0, rows)  # imputed later: only the rest is refused
    try:
        check_finite(rows, chunk.file, first_row=chunk.file_row)
    except ValueError as err:
        if missing == "impute" or not np.isnan(rows).any():
            raise
        raise ValueError(f"{err} Or pass missing='impute' to fill missing numbers (NaN) "
                         "with their column's median.") from None


def read_sample(X, rng, size: int | None = None, missing: str | None = None
                ) -> tuple[np.ndarray, int]:
    """A random sample of ``size`` rows (default :func:`sample_size`) of the file, memmap or
    RowSource ``X``, in file order, read one chunk at a time; and the number of rows in ``X``.
    With ``missing`` (the detector's parameter) every row read is checked first
    (:func:`check_chunk`), sampled or not.

    Returns
    -------
    rows : ndarray of shape (sample_size, n_features)
    n_rows : int
    """
    if isinstance(X, TextRows):
        return _sample_text(X, rng, size)
    source = open_rows(X).flattened()
    n, d = source.n_rows, source.n_features
    size = sample_size(n, d) if size is None else min(n, size)
    pick = np.sort(sample_without_replacement(n, size, random_state=rng))
    rows = np.empty((len(pick), d), dtype=source.dtype)
    filled = 0
    for chunk in source.scan(chunk_rows(d)):
        if missing is not None:
            check_chunk(chunk, missing)
        lo, hi = np.searchsorted(pick, (chunk.start, chunk.start + len(chunk.rows)))
        rows[filled : filled + hi - lo] = chunk.rows[pick[lo:hi] - chunk.start]
        filled += hi - lo
    return rows, n


def map_chunks(X, method: Callable[[np.ndarray], np.ndarray], owner=None
               ) -> Iterator[np.ndarray]:
    """``method`` of the rows of ``X`` (see :func:`is_chunked`), one chunk at a time, in file
    order; ``owner``: the fitted estimator whose method it is (see :func:`iter_chunks`)."""
    for _, rows in iter_chunks(X, owner):
        yield method(rows)
