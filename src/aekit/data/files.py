"""Every reader of rows from files: ``.npy``, ``.npz`` and delimited text (``.csv``,
``.tsv``, ``.txt``, parsed by :mod:`aekit.data.delimited`) read whole (:func:`read_array`),
and ``.npy`` files, memmaps, directories of ``.npy`` shards and Parquet
read a block of rows at a time (:func:`open_rows`).

A :class:`RowSource` reads blocks of at most ``chunk_rows`` consecutive rows of one file,
each as a fresh in-memory copy, and lets go of the file's pages once a block is copied, so
the memory a pass takes is bounded by the chunk size, not by the size of the data. Before
each read it checks that the file is still the one opened, and it fingerprints its rows
for a checkpoint (both from :mod:`aekit.data.fingerprints`).
"""

from __future__ import annotations

import mmap
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..core import compat
from ..core.checks import InputWarning, check_file, check_real, naming, user_warning
from .delimited import COMPRESSIONS, TABLE_SUFFIXES, is_table_file, read_table
from .fingerprints import (SAMPLED_BLOCK_BYTES, SAMPLED_BLOCKS, SAMPLED_BYTES,
                           check_unchanged, file_stamp, map_region, sampled_digest,
                           sampled_rows_digest, sha256_rows)

__all__ = [
    "FILE_SUFFIXES",
    "STREAM_SUFFIXES",
    "ArrayData",
    "Chunk",
    "RowSource",
    "is_streamable",
    "open_rows",
    "read_array",
]

# --------------------------------------------------------------------------- whole files


class ArrayData(NamedTuple):
    """What :func:`read_array` returns; unpacks as ``X, y, feature_names = read_array(path)``."""

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str] | None


FILE_SUFFIXES = (".npy", ".npz", *TABLE_SUFFIXES)


def read_array(path, *, mmap=False):
    """Read a numeric array from a ``.npy``, ``.npz``, ``.csv``, ``.tsv`` or ``.txt`` file.

    Parameters
    ----------
    path : str or path-like
        The file; its type is taken from the extension.
    mmap : bool, default=False
        Memory-map a ``.npy`` file read-only instead of loading it, for arrays larger than
        memory. Other formats cannot be mapped and are loaded whole.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features) (or whatever shape the ``.npy``/``.npz`` holds)
        For ``.npz``: the array under key ``X`` if present, else the first array that is not
        ``y``. For text files (read by :func:`aekit.data.read_table`: header and delimiter
        detected): float64, empty cells NaN.
    y : ndarray of shape (n_samples,) or None
        The ``y`` array of an ``.npz`` file, else None.
    feature_names : list of str or None
        The header row of a text file, else None.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (IsADirectoryError when it is a directory).
    ValueError
        For an unknown extension, an empty file, an ``.npz`` without arrays, or a text cell
        that is not a number (the message gives its line and column) or a ragged row.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES and not is_table_file(path):
        raise ValueError(f"{path}: unsupported file type {suffix or '(no extension)'!r}; "
                         f"expected one of {', '.join(FILE_SUFFIXES)} (text files may be "
                         f"compressed: {', '.join(COMPRESSIONS)})")
    check_file(path)
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: file is empty")
    if suffix == ".npy":
        with naming(path):  # allow_pickle=False: an object array would run code on load
            X = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        return ArrayData(check_real(X, path), None, None)
    if suffix == ".npz":
        return _read_npz(path)
    return _read_text(path)


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            # Only the .npy members are arrays; np.load hands any other member (a
            # readme.txt) back as bytes.
            members = set(archive.zip.namelist())
            keys = [k for k in archive.files if f"{k}.npy" in members]
            if "X" in keys:
                x_key = "X"
            else:
                others = [k for k in keys if k != "y"]
                if not others:
                    raise ValueError(
                        f"{path}: no feature array in the archive (arrays: {keys}, other "
                        f"members: {sorted(members - {f'{k}.npy' for k in keys})}); store "
                        "the features under 'X' (np.savez(path, X=X))")
                x_key = others[0]
            X = archive[x_key]
            y = archive["y"] if "y" in keys else None
            if ignored := [k for k in keys if k not in (x_key, "y")]:
                user_warning(f"{path}: read {x_key!r} as the features{' and y' * (y is not None)}"
                             f", ignored the arrays {ignored}; store the features as 'X' and "
                             "labels as 'y' only (np.savez(path, X=X, y=y))", InputWarning)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as err:
        raise ValueError(f"{path}: not a readable .npz archive ({err}); the file is truncated "
                         "or damaged: write it again (np.savez)") from None
    return ArrayData(check_real(X, path), y, None)


def _read_text(path):
    """A delimited text file (see :func:`aekit.data.read_table`) whose columns are all
    numbers, as float64, and its header."""
    import pandas as pd

    frame = read_table(path)
    for j, name in enumerate(frame.columns, start=1):
        column = frame[name]
        if not pd.api.types.is_numeric_dtype(column.dtype):
            text = column.notna() & pd.to_numeric(column, errors="coerce").isna()
            i = int(np.flatnonzero(text.to_numpy())[0])
            line = frame.index[i]
            where = f"line {line}" if frame.index.name == "line" else f"data row {i + 1}"
            label = f"column {j}" + (f" ({name!r})" if not name.isdigit() else "")
            raise ValueError(f"{path}: {where}, {label}: {column.iloc[i]!r} is not a number; "
                             "read tables with text columns with aekit.data.read_table")
    names = list(frame.columns)
    headerless = names == [str(j) for j in range(1, len(names) + 1)]
    return ArrayData(frame.to_numpy(dtype=np.float64, na_value=np.nan), None,
                     None if headerless else names)


# --------------------------------------------------------------------------- rows a block at a time
NPY_SUFFIXES = (".npy",)
PARQUET_SUFFIXES = (".parquet", ".pq")
STREAM_SUFFIXES = NPY_SUFFIXES + PARQUET_SUFFIXES
"""File types :func:`open_rows` reads (a directory holds files of one of these types)."""


def is_streamable(X) -> bool:
    """True for what is read in chunks: a path (str or path-like), a memmap, a RowSource."""
    return isinstance(X, (str, os.PathLike, np.memmap, RowSource))


class Chunk(NamedTuple):
    """Consecutive rows of one file, and where they come from."""

    rows: np.ndarray
    """(n, n_features), a copy in memory."""
    start: int
    """Index of the first row among all the source's rows (files in order)."""
    file: str
    """The file they were read from."""
    file_row: int
    """Row number of the first row within ``file`` (0-based)."""


# --------------------------------------------------------------------------- source
class RowSource:
    """Rows stored in one or more files, read a block of consecutive rows at a time.

    Made by :func:`open_rows`. Rows are read flattened to ``n_features`` values, as
    ``dtype``: float32 when every file holds float32, else float64 (the dtypes the
    estimators compute with, as for arrays in memory).

    Attributes
    ----------
    n_rows, n_features : int
    sample_shape : tuple of int
        Shape of one row as stored: ``(n_features,)``, or e.g. ``(28, 28)`` for images.
    dtype : numpy.dtype
    name : str
        The path (or ``"X"``), for messages.
    columns : list of str or None
        The column names of Parquet files (which a model fitted with feature names matches
        by name, as a DataFrame's); None for ``.npy`` files and memmaps, whose columns are
        positions.
    """

    def __init__(self, parts: list, sample_shape: tuple[int, ...], dtype, name: str,
                 columns: list[str] | None = None):
        self._parts = parts
        self._offsets = np.cumsum([0] + [p.n_rows for p in parts])
        self.n_rows = int(self._offsets[-1])
        self.sample_shape = tuple(int(s) for s in sample_shape)
        self.n_features = int(np.prod(self.sample_shape))
        self.dtype = np.dtype(dtype)
        self.name = name
        self.columns = None if columns is None else [str(c) for c in columns]
        if self.n_rows == 0:
            raise ValueError(f"{name}: no rows to read")

    def __repr__(self) -> str:
        return (f"RowSource({self.name!r}, n_rows={self.n_rows}, n_features={self.n_features}, "
                f"files={len(self._parts)})")

    def identities(self) -> list:
        """What tells each part's rows from other rows, for a checkpoint's fingerprint:
        ``[file, size, modification time (ns), inode, sampled digest]`` of a file, what
        changes when it is rewritten or another file is copied over it keeping its time
        (:func:`~aekit.data.fingerprints.sampled_digest`; a memory map adds where its rows
        lie in the file); ``["sha256", digest]`` of an array in memory (see
        :meth:`_ArrayPart.identity`)."""
        return [p.identity() if isinstance(p, _ArrayPart)
                else [p.file, *(p.stamp or []), sampled_digest(p.file)] for p in self._parts]

    def sampled_identity(self) -> list:
        """What tells these rows from other rows wherever they are read, on any machine:
        per part, its rows, then a file's size and a digest of blocks sampled from it
        (:func:`~aekit.data.fingerprints.sampled_digest`) or the digest of rows sampled
        from an array (:func:`~aekit.data.fingerprints.sampled_rows_digest`).

        Unlike :meth:`identities`, no modification time or inode: two copies of one file
        differ in those. The parts share one budget of reads (about
        :data:`~aekit.data.fingerprints.SAMPLED_BYTES`; two blocks a file at least), so a
        directory of many shards is not read at length either.
        """
        blocks = max(2, SAMPLED_BLOCKS // len(self._parts))
        budget = max(SAMPLED_BLOCK_BYTES, SAMPLED_BYTES // len(self._parts))
        out = []
        for p in self._parts:
            if isinstance(p, _ArrayPart):
                out.append([p.n_rows, sampled_rows_digest(p.array, budget)])
            else:
                out.append([p.n_rows, (p.stamp or [None])[0], sampled_digest(p.file, blocks)])
        return out

    def flattened(self) -> RowSource:
        """The same rows, each given as ``(n_features,)`` whatever its stored shape."""
        return RowSource(self._parts, (self.n_features,), self.dtype, self.name, self.columns)

    def _blocks(self, chunk_rows: int) -> list[tuple[int, int, int]]:
        """``(part, start, stop)`` of every block, in file order; a block never spans files."""
        if not isinstance(chunk_rows, (int, np.integer)) or chunk_rows < 1:
            raise ValueError(f"chunk_rows must be an integer > 0, got {chunk_rows!r}")
        return [(k, start, min(start + chunk_rows, part.n_rows))
                for k, part in enumerate(self._parts)
                for start in range(0, part.n_rows, chunk_rows)]

    def scan(self, chunk_rows: int) -> Iterator[Chunk]:
        """Every row once, in file order, in chunks of at most ``chunk_rows`` rows."""
        for k, start, stop in self._blocks(chunk_rows):
            part = self._parts[k]
            rows = part.read(start, stop, self.dtype)
            yield Chunk(rows, int(self._offsets[k]) + start, part.file, part.first_row + start)
            del rows
            _trim_heap()

    def iter_chunks(
        self,
        chunk_rows: int,
        *,
        shuffle: bool = False,
        seed=None,
        exclude: np.ndarray | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> Iterator[np.ndarray]:
        """Rows in chunks of at most ``chunk_rows``, each an in-memory array (n, n_features).

        Parameters
        ----------
        chunk_rows : int
        shuffle : bool, default=False
            Visit the blocks in a random order and shuffle the rows within each block.
            False: file order.
        seed : int, sequence of int or None
            Seeds the shuffle (anything :func:`numpy.random.default_rng` takes): the same
            seed gives the same chunks in the same order, on every process.
        exclude : ndarray of int, optional
            Sorted indices (among all rows, files in order) of rows to leave out, such as
            a validation hold-out.
        rank, world_size : int, default=0, 1
            Block ``i`` of the (shuffled) order goes to rank ``i % world_size`` only, so
            processes that share ``seed`` read disjoint blocks that together cover the rows.
        """
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
        exclude = np.zeros(0, dtype=np.int64) if exclude is None else np.asarray(exclude)
        # (block, excluded rows in it); blocks left with no rows are not visited at all.
        blocks = []
        for k, start, stop in self._blocks(chunk_rows):
            first = int(self._offsets[k]) + start
            lo, hi = np.searchsorted(exclude, (first, first + stop - start))
            if hi - lo < stop - start:
                blocks.append((k, start, stop, exclude[lo:hi] - first))
        order, row_seeds = np.arange(len(blocks)), [None] * len(blocks)
        if shuffle:
            rng = np.random.default_rng(seed)
            order = rng.permutation(len(blocks))
            # One seed per block, drawn for all of them: a block is shuffled alike on any rank.
            row_seeds = rng.integers(2**63, size=len(blocks))
        for i in order[rank::world_size]:
            # Yielded as it comes, not bound to a name here: once the consumer lets go of a
            # chunk, it is freed before the next one is read.
            yield self._read_block(*blocks[i], row_seeds[i])
            _trim_heap()

    def _read_block(self, k: int, start: int, stop: int, drop: np.ndarray, seed) -> np.ndarray:
        """Rows ``start:stop`` of part ``k``, less rows ``drop`` (relative to ``start``),
        shuffled when ``seed`` is not None."""
        rows = self._parts[k].read(start, stop, self.dtype)
        if len(drop):
            keep = np.ones(len(rows), dtype=bool)
            keep[drop] = False
            rows = rows[keep]
        if seed is not None:  # in place: no second chunk-sized buffer
            np.random.default_rng(seed).shuffle(rows)
        return rows


def open_rows(spec) -> RowSource:
    """Open a ``.npy`` file, a memmap, a directory of ``.npy`` shards or Parquet file(s).

    Parameters
    ----------
    spec : str, path-like, numpy.ndarray (a memmap) or RowSource
        A directory is read as shards: its ``.npy`` or its Parquet files (hidden files
        and other types ignored) in code-point order of their names, on every platform, as
        ``pyarrow.dataset`` and ``pandas.read_parquet`` read one: ``part-10`` before
        ``part-2`` (an ``InputWarning`` says so), so number shards with zeros.

    Returns
    -------
    source : RowSource

    Raises
    ------
    FileNotFoundError
        When the path does not exist.
    ValueError
        For a file type that cannot be streamed, a directory without shards or with both
        kinds, shards of different widths, or columns that are not numeric.
    ImportError
        For Parquet without pyarrow installed.
    """
    if isinstance(spec, RowSource):
        return spec
    if isinstance(spec, np.ndarray):
        name = str(getattr(spec, "filename", None) or "X")
        return _npy_source([_ArrayPart(spec, name)], name)
    path = Path(spec)
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")),
                       key=lambda p: p.name)  # not by Path: Windows's compare ignoring case
        npy = [p for p in files if p.suffix.lower() in NPY_SUFFIXES]
        parquet = [p for p in files if p.suffix.lower() in PARQUET_SUFFIXES]
        if npy and parquet:
            raise ValueError(
                f"{path}: holds both .npy and Parquet files; put the shards of one data set, "
                "of one type, in a directory of their own"
            )
        if not npy and not parquet:
            raise ValueError(
                f"{path}: no .npy or Parquet ({', '.join(PARQUET_SUFFIXES)}) files to read rows "
                "from"
            )
        _warn_number_order(path, npy or parquet)
        if npy:
            return _npy_source([_NpyFilePart(p) for p in npy], str(path))
        return _parquet_source(parquet, str(path))
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    suffix = path.suffix.lower()
    if suffix in NPY_SUFFIXES:
        return _npy_source([_NpyFilePart(path)], str(path))
    if suffix in PARQUET_SUFFIXES:
        return _parquet_source([path], str(path))
    raise ValueError(
        f"{path}: {suffix or 'a file without extension'} cannot be read in chunks; stream a "
        f".npy file, a directory of .npy shards or Parquet files, or load the file into memory "
        "first (aekit.data.read_array)"
    )


# --------------------------------------------------------------------------- .npy
def _read_rows(array: np.ndarray, start: int, stop: int, dtype) -> np.ndarray:
    # np.array copies (and converts), so nothing refers to the file's pages afterwards.
    return np.array(array[start:stop], dtype=dtype).reshape(stop - start, -1)


class _NpyFilePart:
    """A ``.npy`` file, read with plain file reads: a block of rows is one ``readinto``.

    Not memory-mapped: a mapped file that shrinks under the reader (truncated by another
    process) kills it with SIGBUS at the first page past the new end, whereas a read that
    comes up short is an error it can report. Nothing stays in this process's memory or
    open between reads (the file is opened per read; the header is a few hundred bytes).
    A Fortran-ordered file, whose rows are not contiguous, is memory-mapped instead.
    """

    def __init__(self, path: Path):
        self.file, self.first_row = str(path), 0
        self.stamp = file_stamp(path)
        self.shape, self.dtype, self.fortran, self.offset = _npy_header(self.file)
        self.n_rows = self.shape[0] if len(self.shape) else 0
        self.row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))

    def read(self, start: int, stop: int, dtype) -> np.ndarray:
        check_unchanged(self)
        if self.fortran:
            array = np.load(self.file, mmap_mode="r", allow_pickle=False)
            try:
                return _read_rows(array, start, stop, dtype)
            finally:
                del array
        rows = np.empty((stop - start, *self.shape[1:]), dtype=self.dtype)
        want = rows.nbytes
        with open(self.file, "rb") as f:
            f.seek(self.offset + start * self.row_bytes)
            got = f.readinto(memoryview(rows).cast("B")) if want else 0
        if got != want:
            raise ValueError(
                f"{self.file} changed while it was being read: rows {start} to {stop} end "
                f"past the end of the file (it was truncated or rewritten). Leave the file "
                "unchanged while it is read (write new data to a new file), then try again."
            )
        return rows.astype(dtype, copy=False).reshape(stop - start, -1)


def _npy_header(file: str) -> tuple[tuple, np.dtype, bool, int]:
    """``(shape, dtype, fortran_order, data offset)`` of a ``.npy`` file, read from a map
    of it that is dropped at once (NumPy parses the header of every format version)."""
    try:
        # allow_pickle=False: an object array would run arbitrary code on load.
        array = np.load(file, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        if "pickle" in str(err):
            raise ValueError(f"{file}: holds Python objects, not numbers") from None
        with naming(file):  # mmap cannot map 0 bytes: an empty array, read whole; or truncated
            array = np.load(file, allow_pickle=False)
    try:
        fortran = array.ndim > 1 and not array.flags.c_contiguous
        return array.shape, array.dtype, fortran, int(getattr(array, "offset", 0))
    finally:
        del array


class _ArrayPart:
    """An array the caller holds, typically a memmap; its pages are let go after each read."""

    def __init__(self, array: np.ndarray, name: str):
        self.array, self.file, self.first_row = array, name, 0
        # A memmap's file: rewriting it under the map could also crash the process (SIGBUS).
        self.stamp = file_stamp(name) if isinstance(array, np.memmap) else None
        self.shape, self.dtype = array.shape, array.dtype
        self.n_rows = array.shape[0] if array.ndim else 0

    def read(self, start: int, stop: int, dtype) -> np.ndarray:
        check_unchanged(self)
        rows = _read_rows(self.array, start, stop, dtype)
        release_pages(self.array)
        return rows

    def identity(self) -> list:
        """A memory map's file stamp, then the byte offset and strides of its rows in the
        file, then its :func:`~aekit.data.fingerprints.sampled_digest`: two slices of one
        file (``mm[:800]``, ``mm[800:]``) share its stamp. For rows in memory, which no stamp
        tells apart, their SHA-256: one pass over memory, which costs less than an epoch,
        where refusing would leave such a fit no resume."""
        region = map_region(self.array) if self.stamp is not None else None
        if region is None:
            return ["sha256", sha256_rows(self.array)]
        return [self.file, *self.stamp, *region, sampled_digest(self.file)]


def release_pages(array: np.ndarray) -> None:
    """Drop the pages of ``array``'s memory map from this process's resident memory.

    Pages of a mapped file count as the process's memory once read, until they are
    unmapped; ``MADV_DONTNEED`` unmaps them (they stay in the OS page cache, so reading them
    again costs no disk access). Skipped for copy-on-write maps (``mode="c"``), whose
    changed pages it would discard; a no-op where the OS has no ``madvise``.
    """
    mm = getattr(array, "_mmap", None)
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if mm is None or advice is None or getattr(array, "mode", "c") == "c":
        return
    try:
        mm.madvise(advice)
    except (OSError, ValueError, AttributeError):  # closed map, or no madvise here
        pass


def _trim_heap() -> None:
    """Give the memory the last chunk freed back to the OS.

    After a block as large as a chunk is freed, glibc raises its threshold for serving
    allocations from fresh memory maps and serves later ones from its heap, whose freed
    pages it keeps: without this, a pass's resident memory creeps up chunk after chunk,
    past the bound the chunk size should set.
    """
    compat.trim()


def _npy_source(parts: list, name: str) -> RowSource:
    first = parts[0]
    for part in parts:
        if len(part.shape) < 2:
            raise ValueError(
                f"{part.file}: holds an array of shape {part.shape}; rows to stream must be "
                "stored as (n_rows, n_features) (a single feature as x.reshape(-1, 1))"
            )
        if part.dtype.kind in "USO":  # text: say where, as for an array in memory
            from .schema import not_numbers_message

            cells = part.read(0, part.n_rows, part.dtype)  # an error: read it whole
            raise ValueError(f"{part.file}: {not_numbers_message(cells)}")
        if part.dtype.kind not in "biuf":
            raise ValueError(f"{part.file}: holds {part.dtype} values, not real numbers")
        if part.shape[1:] != first.shape[1:]:
            raise ValueError(
                f"{name}: shard {part.file} holds rows of shape {part.shape[1:]} but "
                f"{first.file} holds rows of shape {first.shape[1:]}; every shard must be "
                "(n_i, n_features) with the same n_features"
            )
    dtype = np.float32 if all(p.dtype == np.float32 for p in parts) else np.float64
    return RowSource(parts, first.shape[1:], dtype, name)


# --------------------------------------------------------------------------- Parquet
def _import_parquet():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as err:
        raise ImportError(
            "reading Parquet files needs pyarrow: pip install aekit[parquet]"
        ) from err
    return pyarrow, pyarrow.parquet


class _ParquetPart:
    """A Parquet file; a read decodes the row groups that hold the rows asked for.

    Memory per read is therefore bounded by the row groups' size too: write files with row
    groups of at most ``chunk_rows`` rows (``row_group_size`` of
    ``pyarrow.parquet.write_table``) for reads of exactly one chunk.
    """

    def __init__(self, path: Path, columns: list[str], group_rows: list[int]):
        self.file, self.first_row, self.columns = str(path), 0, columns
        self.stamp = file_stamp(path)
        self._group_starts = np.cumsum([0] + group_rows)
        self.n_rows = int(self._group_starts[-1])

    def read(self, start: int, stop: int, dtype) -> np.ndarray:
        check_unchanged(self)
        pa, pq = _import_parquet()
        first = int(np.searchsorted(self._group_starts, start, side="right")) - 1
        last = int(np.searchsorted(self._group_starts, stop, side="left"))  # exclusive
        with pq.ParquetFile(self.file) as f:
            table = f.read_row_groups(list(range(first, last)), columns=self.columns)
        table = table.slice(start - int(self._group_starts[first]), stop - start)
        rows = np.empty((stop - start, len(self.columns)), dtype=dtype)
        for j, column in enumerate(table.columns):
            if column.null_count:  # nulls become NaN, which the finiteness checks report
                column = column.cast(pa.float64())
            rows[:, j] = column.to_numpy()
        return rows


def _parquet_source(files: list[Path], name: str) -> RowSource:
    pa, pq = _import_parquet()
    parts, columns, all_float32 = [], None, True
    for path in files:
        with naming(path):  # a file cut short has no footer
            meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema()
        # A DataFrame's index that pandas stored beside its columns is not a feature, as
        # pd.read_parquet does not make it one.
        index = {c for c in (schema.pandas_metadata or {}).get("index_columns", ())
                 if isinstance(c, str)}
        names = [n for n in schema.names if n not in index]
        if columns is None:
            columns, first = names, path
        elif names != columns:
            raise ValueError(
                f"{name}: {path} has the columns {_head(names)} but {first} has "
                f"{_head(columns)}; every Parquet file must have the same columns in the same "
                "order"
            )
        for field in schema:
            if field.name in index:
                continue
            t = field.type
            if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
                raise ValueError(
                    f"{path}: column {field.name!r} holds {t}, not numbers; write the numeric "
                    "features only (drop or encode the other columns first)"
                )
            all_float32 &= pa.types.is_float32(t)
        parts.append(_ParquetPart(path, columns, [meta.row_group(g).num_rows
                                                  for g in range(meta.num_row_groups)]))
    if not columns:
        raise ValueError(f"{name}: the Parquet data have no columns")
    return RowSource(parts, (len(columns),), np.float32 if all_float32 else np.float64, name,
                     columns)


def _warn_number_order(directory: Path, shards: list[Path]) -> None:
    """Warn when the shards' name order (the order their rows are read in) is not the
    order of the numbers in their names (part1, part10, part2): rows would be scored, and
    their scores written, in another order than the caller numbered them."""
    def numbered(p: Path) -> list:
        return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", p.name)]

    by_number = sorted(shards, key=numbered)
    if by_number != shards:
        user_warning(
            f"{directory}: its shards are read in name order ({_head([p.name for p in shards])}"
            "; as pyarrow and pandas read a directory), not in the order of their numbers "
            f"({_head([p.name for p in by_number])}); if "
            "the numbers give the rows' order, pad them with zeros (part01, part02, ..., "
            "part10)", InputWarning)


def _head(names, k: int = 5) -> str:
    names = list(names)
    return str(names[:k])[:-1] + (", ...]" if len(names) > k else "]")
