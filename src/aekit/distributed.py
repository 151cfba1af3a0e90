"""Several processes, one model: what the fit loop needs from ``torch.distributed``.

``torchrun --nproc-per-node 2 -m aekit train ...`` starts the same command in several
processes (ranks), on one machine or several. The CLI calls :func:`init_from_env`; from then
on the one fit loop trains data-parallel:

- every rank uses the same global permutation each epoch (rank 0's, broadcast), and of each
  global batch of ``batch_size`` rows, rank ``r`` takes its contiguous share
  (:func:`batch_slice`);
- after ``backward``, :func:`sum_gradients` replaces each rank's gradient by the
  row-weighted sum over ranks, so every rank steps with the gradient of the whole global
  batch (exactly, up to float rounding, for losses that are means over rows);
- epoch losses and the validation loss are reduced across ranks, so every rank sees the
  same numbers, takes the same early-stopping decision and stops in the same epoch.

Without an initialised process group every function here is a no-op (rank 0 of 1), so the
single-process path costs nothing and stays bitwise unchanged.

Why gradients are all-reduced by hand rather than by ``DistributedDataParallel``: DDP only
synchronises gradients when the forward pass goes through ``DDP.forward``, but objectives
reach into submodules (``module.encoder(x)``, ``module.encoder.distribution(x)``,
``module.decoder(z)``, the contractive penalty's own encoder pass). One flattened
``all_reduce`` per step after ``backward`` works for every objective and every family, and
lets ranks with unequal shares of the last batch weight their gradients by their rows.

Backends: gloo on CPU; on CUDA, NCCL for tensors on the GPU (gloo for the few CPU scalars),
each rank on ``cuda:LOCAL_RANK``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping

import torch
from torch import nn

_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def _dist():
    """``torch.distributed`` when a process group is initialised, else None."""
    dist = torch.distributed
    return dist if dist.is_available() and dist.is_initialized() else None


def rank_info() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group; ``(0, 1)`` without one."""
    dist = _dist()
    return (dist.get_rank(), dist.get_world_size()) if dist is not None else (0, 1)


def is_main() -> bool:
    """True on rank 0 (and in a single process): the rank that prints and writes files."""
    return rank_info()[0] == 0


def init_from_env(device: str = "auto") -> bool:
    """Join the process group that ``torchrun`` describes in the environment.

    Does nothing (returns False) outside ``torchrun`` (no ``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``), or when a group is already initialised.

    Parameters
    ----------
    device : str
        The training device asked for ("auto", "cpu", "cuda", ...). CUDA (when asked for, or
        "auto" with a GPU present): each rank takes ``cuda:LOCAL_RANK`` as its current device,
        NCCL moves GPU tensors and gloo CPU ones. Otherwise gloo.

    Returns
    -------
    initialised : bool
        True when this call created the process group.
    """
    dist = torch.distributed
    if not dist.is_available() or dist.is_initialized():
        return False
    if not all(var in os.environ for var in _TORCHRUN_VARS):
        return False
    use_cuda = str(device).startswith(("auto", "cuda")) and torch.cuda.is_available()
    if use_cuda:
        local = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(local)  # "cuda" (no index) now means this rank's GPU
        dist.init_process_group("cpu:gloo,cuda:nccl", device_id=local)
    else:
        dist.init_process_group("gloo")
    return True


def teardown() -> None:
    """Leave the process group (no-op without one); every rank calls it once at the end.

    Ranks first meet at a barrier: rank 0 is still writing the run while the others are
    done, and a rank that destroys its gloo group while a peer still holds it open can
    abort ("terminate called without an active exception", seen in CI-like runs).
    """
    if _dist() is not None:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def barrier() -> None:
    """Wait until every rank gets here (no-op in a single process)."""
    if _dist() is not None:
        torch.distributed.barrier()


# --------------------------------------------------------------------------- data
def batch_slice(n_rows: int, rank: int, world_size: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s contiguous share of a batch of ``n_rows`` rows.

    Shares differ by one row at most, the first ``n_rows % world_size`` ranks taking the
    extra rows; with fewer rows than ranks the last ranks get empty shares.
    """
    per_rank, extra = divmod(n_rows, world_size)
    start = rank * per_rank + min(rank, extra)
    return start, start + per_rank + (rank < extra)


def shard(batch: torch.Tensor) -> tuple[torch.Tensor, int]:
    """This rank's share of a global batch of indices, and the number of rows it stands for.

    A rank whose share is empty (the last batch has fewer rows than there are ranks) gets
    the batch's first row standing for 0 rows: it still runs forward and backward and joins
    the gradient all-reduce, with weight 0. In a single process: ``(batch, len(batch))``.
    """
    rank, world = rank_info()
    if world == 1:
        return batch, len(batch)
    start, stop = batch_slice(len(batch), rank, world)
    if start == stop:
        return batch[:1], 0
    return batch[start:stop], stop - start


def broadcast(tensor: torch.Tensor, src: int = 0) -> torch.Tensor:
    """``tensor`` as rank ``src`` holds it, on every rank (in place; no-op alone)."""
    if _dist() is not None:
        torch.distributed.broadcast(tensor, src)
    return tensor


def same_random_state(random_state):
    """``random_state`` unchanged, except None under several processes: a fresh seed drawn on
    rank 0 and shared, so every rank draws the same hold-out split, restarts and batches."""
    if random_state is not None or rank_info()[1] == 1:
        return random_state
    seed = torch.tensor(secrets.randbits(31) if is_main() else 0)
    return int(broadcast(seed))


def prepare(module: nn.Module) -> None:
    """Make ranks start a fit loop in step (no-op alone).

    Every rank gets rank 0's weights and buffers (they already agree when every rank built
    the module from the same seed; this is the safety net DDP has too). Ranks other than 0
    then draw from a torch RNG stream of their own, so corruption noise, dropout masks and
    posterior draws differ across ranks instead of repeating; rank 0 keeps the caller's
    stream, and with it the permutations every rank uses.
    """
    rank, world = rank_info()
    if world == 1:
        return
    for tensor in module.state_dict().values():
        broadcast(tensor)
    if rank > 0:
        torch.manual_seed(int(torch.randint(2**62, ())) + rank)


# --------------------------------------------------------------------------- reductions
def sum_gradients(parameters: Iterable[nn.Parameter], weight: float) -> None:
    """Replace every gradient by the sum over ranks of ``weight * gradient`` (no-op alone).

    With ``weight`` = this rank's rows / the global batch's rows and a loss that is a mean
    over rows, the result is the gradient of the global batch's mean loss. One flattened
    all-reduce per step. Parameters without a gradient are left alone (they have none on
    any rank: every rank runs the same objective).
    """
    if rank_info()[1] == 1:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads]).mul_(weight)
    torch.distributed.all_reduce(flat)
    for g, summed in zip(grads, flat.split([g.numel() for g in grads])):
        g.copy_(summed.view_as(g))


def all_reduce_sum(values: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each scalar of ``values`` summed over ranks, in one all-reduce (unchanged alone)."""
    if rank_info()[1] == 1 or not values:
        return dict(values)
    keys = sorted(values)  # the same order on every rank
    summed = torch.stack([torch.as_tensor(values[k]).reshape(()) for k in keys]).double()
    torch.distributed.all_reduce(summed)
    return dict(zip(keys, summed.unbind()))


def all_reduce_mean(value: torch.Tensor | float) -> torch.Tensor | float:
    """Mean over ranks of ``value`` (a float or a tensor, returned as the same kind).

    Even when every rank computed the same number, this makes it bitwise the same on every
    rank, so decisions taken on it (early stopping, divergence) agree everywhere.
    """
    _, world = rank_info()
    if world == 1:
        return value
    t = torch.as_tensor(value, dtype=torch.float64).clone()
    torch.distributed.all_reduce(t)
    t /= world
    return float(t) if not isinstance(value, torch.Tensor) else t.to(value.dtype)
