"""Fingerprints of rows: what tells a file's or an array's rows from other rows, and whether
a file being read is still the one that was opened.

- :func:`file_stamp`: a file's size, modification time and inode, taken when it is opened;
  :func:`check_unchanged` compares it again before each read;
- :func:`sampled_digest`: a hash of blocks spread over a file's bytes, for what its stamp
  misses (another file copied over it with its time kept);
- :func:`map_region`: where a memory map's rows lie in its file;
- :func:`sha256_rows`, :func:`update_rows`: the hash of rows in memory, a block at a time;
- :func:`sampled_rows_digest`: a hash of rows spread over an array, for what a pass over
  all of them would cost too much to compare.

:meth:`aekit.data.files.RowSource.identities` puts them together into a checkpoint's
fingerprint of the rows a fit reads; :mod:`aekit.data.agreement` compares what several
processes read.
"""

from __future__ import annotations

import hashlib
import mmap
import os

import numpy as np

__all__ = [
    "SAMPLED_BLOCKS",
    "SAMPLED_BLOCK_BYTES",
    "SAMPLED_BYTES",
    "check_unchanged",
    "file_stamp",
    "map_region",
    "sampled_digest",
    "sampled_rows",
    "sampled_rows_digest",
    "sha256_rows",
    "update_rows",
]


def file_stamp(path) -> list[int] | None:
    """``[size, modification time (ns), inode]`` of file ``path``, or None if it has none."""
    try:
        st = os.stat(path)
    except (OSError, TypeError, ValueError):
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


SAMPLED_BLOCKS = 64
SAMPLED_BLOCK_BYTES = 1 << 16
SAMPLED_BYTES = SAMPLED_BLOCKS * SAMPLED_BLOCK_BYTES
"""What a sampled digest reads at most (4 MiB), of a file or of rows in memory."""


def sampled_digest(path, blocks: int = SAMPLED_BLOCKS) -> str | None:
    """SHA-256 of ``blocks`` (at least 2) blocks of :data:`SAMPLED_BLOCK_BYTES` spread
    evenly over file ``path`` (its first and last bytes among them; a smaller file whole),
    or None if it cannot be read.

    A file's stamp (:func:`file_stamp`) misses another file of the same size copied over it
    with its modification time kept (``cp -p``, ``rsync -t``): these bytes do not. At most
    4 MiB are read, where hashing a file of rows whole would cost a pass over it; a file
    that differs only in a few rows between the blocks is not told apart.
    """
    blocks = max(2, int(blocks))
    digest = hashlib.sha256()
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if size <= blocks * SAMPLED_BLOCK_BYTES:
                while block := f.read(1 << 20):
                    digest.update(block)
            else:
                step = (size - SAMPLED_BLOCK_BYTES) / (blocks - 1)
                for i in range(blocks):
                    f.seek(round(i * step))
                    digest.update(f.read(SAMPLED_BLOCK_BYTES))
    except (OSError, TypeError, ValueError):
        return None
    return digest.hexdigest()


def check_unchanged(part) -> None:
    """Raise a ValueError when ``part``'s file is not the one opened (rewritten, replaced,
    removed): rows read from it now would mix two versions of the data."""
    if part.stamp is not None and file_stamp(part.file) != part.stamp:
        raise ValueError(
            f"{part.file} changed while it was being read (size, modification time or inode "
            "differ from when it was opened); rows read now would mix two versions of the "
            "data. Leave the file unchanged during training (write new data to a new file), "
            "then fit again."
        )


def map_region(array: np.ndarray) -> list[int] | None:
    """``[byte offset in the file, *strides]`` of a memmap's elements; None when ``array``
    maps no file (a memmap computed from one is a copy in memory)."""
    mapped = getattr(array, "_mmap", None)
    if mapped is None or array.offset is None:
        return None
    # np.memmap maps from the offset rounded down to the allocation granularity.
    start = array.offset - array.offset % mmap.ALLOCATIONGRANULARITY
    base = np.frombuffer(mapped, np.uint8).ctypes.data
    return [int(start + array.ctypes.data - base), *(int(s) for s in array.strides)]


def sha256_rows(array: np.ndarray, block_bytes: int = 1 << 24) -> str:
    """SHA-256 of ``array``'s values in C order (the bytes of ``np.ascontiguousarray``),
    hashed a block of rows at a time so a strided view is never copied whole."""
    digest = hashlib.sha256()
    update_rows(digest, array, block_bytes)
    return digest.hexdigest()


def update_rows(digest, array: np.ndarray, block_bytes: int = 1 << 24) -> None:
    """Feed ``digest`` (a :mod:`hashlib` hash) ``array``'s values in C order, a block of
    rows at a time (see :func:`sha256_rows`)."""
    array = np.atleast_1d(array)
    step = max(1, block_bytes // max(1, array[:1].nbytes))
    for start in range(0, len(array), step):
        digest.update(memoryview(np.ascontiguousarray(array[start:start + step])).cast("B"))


def sampled_rows(n_rows: int, row_bytes: int, budget: int = SAMPLED_BYTES) -> np.ndarray:
    """Indices of the rows a sampled digest reads: all ``n_rows`` when they fit in
    ``budget`` bytes (``row_bytes`` each), else as many as fit, spread evenly from the
    first row to the last."""
    fit = max(2, budget // max(1, row_bytes))
    if n_rows <= fit:
        return np.arange(n_rows)
    return np.unique(np.linspace(0, n_rows - 1, fit).round().astype(np.int64))


def sampled_rows_digest(array, budget: int = SAMPLED_BYTES) -> str:
    """SHA-256 of ``array``'s shape, dtype and the rows :func:`sampled_rows` picks (all of
    them when they fit in ``budget`` bytes): rows in memory told apart without a pass over
    them all, as :func:`sampled_digest` tells files apart. Rows that differ only between
    the sampled ones are not told apart. Object arrays (labels as Python objects) are
    hashed by each value's ``repr``."""
    array = np.asarray(array)
    digest = hashlib.sha256(f"{array.shape}{array.dtype.str}".encode())
    if array.ndim == 0:
        array = array.reshape(1)
    row_bytes = array[:1].nbytes if array.dtype.kind != "O" else 64 * max(1, array[:1].size)
    rows = array[sampled_rows(len(array), row_bytes, budget)]
    if rows.dtype.kind == "O":
        digest.update("\x1f".join(map(repr, rows.ravel().tolist())).encode())
    else:
        update_rows(digest, rows)
    return digest.hexdigest()
