"""Fingerprints of rows: what tells a file's or an array's rows from other rows, and whether
a file being read is still the one that was opened.

- :func:`file_stamp`: a file's size, modification time and inode, taken when it is opened;
  :func:`check_unchanged` compares it again before each read;
- :func:`sampled_digest`: a hash of blocks spread over a file's bytes, for what its stamp
  misses (another file copied over it with its time kept);
- :func:`map_region`: where a memory map's rows lie in its file;
- :func:`sha256_rows`, :func:`update_rows`: the hash of rows in memory, a block at a time.

:meth:`aekit.data.files.RowSource.identities` puts them together into a checkpoint's
fingerprint of the rows a fit reads.
"""

from __future__ import annotations

import hashlib
import mmap
import os

import numpy as np

__all__ = [
    "SAMPLED_BLOCKS",
    "SAMPLED_BLOCK_BYTES",
    "check_unchanged",
    "file_stamp",
    "map_region",
    "sampled_digest",
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


def sampled_digest(path) -> str | None:
    """SHA-256 of :data:`SAMPLED_BLOCKS` blocks of :data:`SAMPLED_BLOCK_BYTES` spread evenly
    over file ``path`` (its first and last bytes among them; a smaller file whole), or None
    if it cannot be read.

    A file's stamp (:func:`file_stamp`) misses another file of the same size copied over it
    with its modification time kept (``cp -p``, ``rsync -t``): these bytes do not. At most
    4 MiB are read, where hashing a file of rows whole would cost a pass over it; a file
    that differs only in a few rows between the blocks is not told apart.
    """
    digest = hashlib.sha256()
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if size <= SAMPLED_BLOCKS * SAMPLED_BLOCK_BYTES:
                while block := f.read(1 << 20):
                    digest.update(block)
            else:
                step = (size - SAMPLED_BLOCK_BYTES) / (SAMPLED_BLOCKS - 1)
                for i in range(SAMPLED_BLOCKS):
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
