"""Training and writing rows a chunk at a time: data larger than memory.

:class:`ChunkStream` hands the blocks of a :class:`~aekit.data.files.RowSource`, scaled and
on the training device, to :func:`aekit.training.loop.fit_loop`. Training shuffles twice: the
order of the blocks (anew every epoch) and the rows within each block. Rows far apart in a
file therefore never share a batch: shuffle a file once when writing it if it is sorted (by
class, by time, ...). :func:`save_npy` writes rows computed chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain

import numpy as np
import torch

from ..core.storage import atomic_path
from .files import RowSource, release_pages

CHUNK_BYTES = 64 * 2**20
"""Size of a chunk of float32 rows when ``chunk_rows`` is not given (64 MiB)."""


def default_chunk_rows(n_features: int) -> int:
    """Rows of ``n_features`` float32 values that fill :data:`CHUNK_BYTES` (at least 1)."""
    return max(1, CHUNK_BYTES // (4 * max(1, int(n_features))))



def to_device(rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """A chunk as float32 on ``device``; to a GPU through pinned (page-locked) host memory.

    A GPU copies from pinned memory by DMA at full bus speed, and the copy overlaps the
    GPU work still queued; from pageable memory the driver stages it first.
    """
    tensor = torch.from_numpy(rows)
    if device.type != "cuda":
        return tensor.to(device, torch.float32)
    return tensor.to(torch.float32).pin_memory().to(device, non_blocking=True)


# --------------------------------------------------------------------------- training
class ChunkStream:
    """Training rows streamed from a :class:`RowSource`, as :func:`~aekit.training.loop.fit_loop`
    takes them in place of a tensor.

    Each epoch reads every row once (except those in ``exclude``): the blocks in a fresh
    random order, seeded by ``seed`` and the epoch, the rows within each block shuffled;
    each chunk is converted to float32 on ``device`` and passed through ``transform`` (the
    fitted in-model scaler) before the loop sees it.

    Parameters
    ----------
    source : RowSource
    chunk_rows : int
        Rows read at once.
    transform : callable
        ``transform(rows) -> rows in network units``, on ``device``.
    device : torch.device
    seed : int
        The same on every process, so all of them read the same chunks in the same order.
    exclude : ndarray of int, optional
        Sorted row indices left out of training (the validation hold-out).
    bounds : torch.Tensor of shape (2, n_features), optional
        Each feature's minimum and maximum in network units: stands in for the rows where
        only their range matters (the bounds of a denoising corruption).
    rank, world_size : int, default=0, 1
        Passed to :meth:`RowSource.iter_chunks`: with ``world_size > 1`` this process reads
        only every ``world_size``-th block.
    """

    def __init__(
        self,
        source: RowSource,
        chunk_rows: int,
        *,
        transform: Callable[[torch.Tensor], torch.Tensor],
        device: torch.device,
        seed: int,
        exclude: np.ndarray | None = None,
        bounds: torch.Tensor | None = None,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.source, self.chunk_rows, self.transform = source, chunk_rows, transform
        self.device, self.seed, self.exclude, self.bounds = device, seed, exclude, bounds
        self.rank, self.world_size = rank, world_size

    def epoch_chunks(self, epoch: int) -> Iterator[torch.Tensor]:
        """The chunks of epoch ``epoch`` (1-based), in network units, on the device."""
        for rows in self.source.iter_chunks(
            self.chunk_rows, shuffle=True, seed=(self.seed, epoch), exclude=self.exclude,
            rank=self.rank, world_size=self.world_size,
        ):
            rows = self.transform(to_device(rows, self.device))
            yield rows
            del rows  # freed (the loop is done with it) before the next chunk is read


# --------------------------------------------------------------------------- writing
def save_npy(path, chunks: Iterable[np.ndarray], n_rows: int) -> tuple[int, ...]:
    """Write chunks of rows, ``n_rows`` in all, to the ``.npy`` file ``path``, atomically.

    The file is filled through a memory map, one chunk at a time, so the rows are never all
    in memory; it replaces ``path`` only once complete. Width and dtype are the first
    chunk's. Returns the shape written.
    """
    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None:
        raise ValueError(f"{path}: no rows to write")
    with atomic_path(path) as tmp:
        out = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=first.dtype, shape=(n_rows, *first.shape[1:])
        )
        done = 0
        for rows in chain([first], chunks):
            if done + len(rows) > n_rows:
                raise ValueError(f"{path}: more than the {n_rows} rows announced")
            out[done : done + len(rows)] = rows
            done += len(rows)
            release_pages(out)  # written pages go to the page cache, not our memory
        if done != n_rows:
            raise ValueError(f"{path}: {done} rows written, {n_rows} announced")
        shape = out.shape
        out.flush()
        del out
    return shape
