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

All of this assumes that every rank holds the same rows: each estimator's ``fit`` first
compares what the ranks were given (:func:`aekit.data.agreement.check_same_data`).

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

A rank that stops answering (stuck, or killed without torchrun noticing) must not hang the
others for torch's default 30 minutes: the group waits at most ``timeout`` seconds
(:data:`DEFAULT_TIMEOUT`, or ``AEKIT_DIST_TIMEOUT``) for any collective, and a collective that
fails raises :class:`DistributedError` with a message saying so.

The group must be gone before the interpreter shuts down. A gloo group still alive then is
destroyed during Python's finalization, while its threads still run, and the process can
abort there ("terminate called without an active exception", SIGABRT, after a run that
succeeded). :func:`teardown` destroys it, and only can because this module imports, before
any group exists, the torch module that would otherwise keep a reference to it (see below);
a process that joined with :func:`init_from_env` and never calls :func:`teardown` leaves the
group at exit (an atexit handler).
"""

from __future__ import annotations

import atexit
import datetime
import importlib
import math
import os
import secrets
from collections.abc import Iterable, Mapping

import torch
from torch import nn

if torch.distributed.is_available():
    # torch.distributed.nn.functional binds the default group as a default argument
    # (``group=group.WORLD``) when it is imported, and torch imports it lazily: building
    # the first optimizer imports torch._dynamo, which imports it. Imported after a group
    # exists, its ten functions would hold that group for good: destroy_process_group
    # would leave it, and its gloo threads, alive until the interpreter's finalization
    # destroys it (see above). Imported now, before any group, they bind None: the default
    # group at call time, what they mean.
    importlib.import_module("torch.distributed.nn.functional")

_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")

DEFAULT_TIMEOUT = 300.0
"""Seconds a rank waits for the others in any collective before the run fails (5 minutes:
well above one epoch's worth of skew between ranks, far below torch's 30 minutes)."""
TIMEOUT_ENV = "AEKIT_DIST_TIMEOUT"
"""Environment variable that overrides :data:`DEFAULT_TIMEOUT` (seconds)."""

_timeout = DEFAULT_TIMEOUT  # of the group this process joined


class DistributedError(RuntimeError):
    """A collective with the other processes failed: one of them is stuck past the timeout
    or has died."""


def _collective(op, *args):
    """Run ``torch.distributed`` operation ``op``; its failure becomes a DistributedError."""
    try:
        return op(*args)
    except RuntimeError as err:  # torch.distributed.DistError and gloo's own errors
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DistributedError(
            f"another torchrun process did not answer within {_timeout:g} s, or is gone "
            f"({first}); the run stops here. If a rank is legitimately slower (data loading, "
            f"a first CUDA kernel compile), raise the limit with {TIMEOUT_ENV}=SECONDS "
            "(aekit train --dist-timeout)."
        ) from err


def _dist():
    """``torch.distributed`` when a process group is initialised, else None."""
    dist = torch.distributed
    return dist if dist.is_available() and dist.is_initialized() else None


def rank_info() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group; ``(0, 1)`` without one."""
    dist = _dist()
    return (dist.get_rank(), dist.get_world_size()) if dist is not None else (0, 1)


def launched_world_size() -> int:
    """The number of processes ``torchrun`` started, as its environment says (``WORLD_SIZE``,
    with the other variables :func:`init_from_env` reads); 1 outside ``torchrun``. Known
    before, and without, joining their group."""
    if not all(var in os.environ for var in _TORCHRUN_VARS):
        return 1
    try:
        return max(1, int(os.environ["WORLD_SIZE"]))
    except ValueError:
        return 1


def is_main() -> bool:
    """True on rank 0 (and in a single process): the rank that prints and writes files."""
    return rank_info()[0] == 0


def resolve_timeout(timeout: float | None = None) -> float:
    """The process-group timeout in seconds: ``timeout``, else the environment's, checked.

    Parameters
    ----------
    timeout : float, optional
        Seconds asked for (``aekit train --dist-timeout``). None: ``AEKIT_DIST_TIMEOUT``
        from the environment, else :data:`DEFAULT_TIMEOUT`.

    Returns
    -------
    seconds : float
        A finite number of seconds > 0.

    Raises
    ------
    ValueError
        When the value (or ``AEKIT_DIST_TIMEOUT``) is not a finite number of seconds > 0.
    """
    source = "--dist-timeout"
    if timeout is None:
        raw = os.environ.get(TIMEOUT_ENV, "")
        source = TIMEOUT_ENV
        try:
            timeout = float(raw) if raw else DEFAULT_TIMEOUT
        except ValueError:
            raise ValueError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        seconds = math.nan
    # inf would pass "> 0" and then overflow datetime.timedelta deep inside torch.
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError(
            f"the process-group timeout ({source}) must be > 0 seconds and finite, got "
            f"{timeout!r}; pass e.g. {DEFAULT_TIMEOUT:g}")
    return seconds


def init_from_env(device: str = "auto", timeout: float | None = None) -> bool:
    """Join the process group that ``torchrun`` describes in the environment.

    Does nothing (returns False) outside ``torchrun`` (no ``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``), or when a group is already initialised; a bad
    ``timeout`` (or ``AEKIT_DIST_TIMEOUT``) is refused all the same (:func:`resolve_timeout`).

    Parameters
    ----------
    device : str
        The training device asked for ("auto", "cpu", "cuda", ...). CUDA (when asked for, or
        "auto" with a GPU present): each rank takes ``cuda:LOCAL_RANK`` as its current device,
        NCCL moves GPU tensors and gloo CPU ones. Otherwise gloo.
    timeout : float, optional
        Seconds any collective (joining included) waits for the other ranks before it fails
        with :class:`DistributedError`. Default: ``AEKIT_DIST_TIMEOUT`` from the
        environment, else :data:`DEFAULT_TIMEOUT`.

    Returns
    -------
    initialised : bool
        True when this call created the process group.

    Raises
    ------
    ValueError
        When the timeout is not a finite number of seconds > 0, inside torchrun or not.
    """
    global _timeout
    # Checked before anything else: a bad value is refused with or without torchrun, not
    # only in the run where it would first bite.
    seconds = resolve_timeout(timeout)
    dist = torch.distributed
    if not dist.is_available() or dist.is_initialized():
        return False
    if not all(var in os.environ for var in _TORCHRUN_VARS):
        return False
    _timeout = seconds
    limit = datetime.timedelta(seconds=_timeout)
    use_cuda = str(device).startswith(("auto", "cuda")) and torch.cuda.is_available()
    if use_cuda:
        local = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(local)  # "cuda" (no index) now means this rank's GPU
        _collective(lambda: dist.init_process_group(
            "cpu:gloo,cuda:nccl", device_id=local, timeout=limit))
    else:
        _collective(lambda: dist.init_process_group("gloo", timeout=limit))
    # A process that ends without teardown (an exception, sys.exit) still leaves the group
    # while the interpreter is whole; without a barrier, since a peer may never come.
    atexit.unregister(teardown)  # once, however many groups this process joins
    atexit.register(teardown, wait=False)
    return True


def teardown(wait: bool = True) -> None:
    """Leave the process group (no-op without one); every rank calls it once at the end.

    Ranks first meet at a barrier, so that no rank leaves while rank 0 is still writing
    the run. ``wait=False`` skips the barrier: after a failure, when a peer may never come.
    Destroying the group stops its threads (gloo's); a process that ends without calling
    this leaves the group at exit, before the interpreter shuts down.
    """
    if _dist() is not None:
        try:
            if wait:
                barrier()
        finally:
            torch.distributed.destroy_process_group()


def barrier() -> None:
    """Wait until every rank gets here (no-op in a single process)."""
    if _dist() is not None:
        _collective(torch.distributed.barrier)


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
        _collective(torch.distributed.broadcast, tensor, src)
    return tensor


def flag_of_rank_0(flag: bool) -> bool:
    """Rank 0's ``flag`` on every rank (``flag`` itself alone): a decision rank 0 alone can
    take (it writes the files), for every rank to act on at once."""
    if _dist() is None:
        return flag
    return bool(broadcast(torch.tensor(int(flag))))


def same_random_state(random_state):
    """``random_state`` unchanged, except None under several processes: a fresh seed drawn on
    rank 0 and shared, so every rank draws the same hold-out split, restarts and batches."""
    if random_state is not None or rank_info()[1] == 1:
        return random_state
    seed = torch.tensor(secrets.randbits(31) if is_main() else 0)
    return int(broadcast(seed))


def prepare(module: nn.Module, reseed: bool = True) -> None:
    """Make ranks start a fit loop in step (no-op alone).

    Every rank gets rank 0's weights and buffers (they already agree when every rank built
    the module from the same seed; this is the safety net DDP has too). With ``reseed``,
    ranks other than 0 then draw from a torch RNG stream of their own, so corruption noise,
    dropout masks and posterior draws differ across ranks instead of repeating; rank 0
    keeps the caller's stream, and with it the permutations every rank uses. A loop that
    goes on (resumed from a checkpoint) passes ``reseed=False``: each rank's stream is
    already its own, restored where it was, and a new seed would change its draws.
    """
    rank, world = rank_info()
    if world == 1:
        return
    for tensor in module.state_dict().values():
        broadcast(tensor)
    if rank > 0 and reseed:
        torch.manual_seed(int(torch.randint(2**62, ())) + rank)


def all_gather(tensor: torch.Tensor) -> list[torch.Tensor]:
    """``tensor`` as each rank holds it, in rank order (same shape and dtype on every
    rank; on the device the backend reduces on); ``[tensor]`` alone."""
    if _dist() is None:
        return [tensor]
    out = [torch.empty_like(tensor) for _ in range(rank_info()[1])]
    _collective(torch.distributed.all_gather, out, tensor)
    return out


# --------------------------------------------------------------------------- reductions
def sum_gradients(parameters: Iterable[nn.Parameter], weight: float, stop: float = 0) -> float:
    """Replace every gradient by the sum over ranks of ``weight * gradient`` (no-op alone).

    With ``weight`` = this rank's rows / the global batch's rows and a loss that is a mean
    over rows, the result is the gradient of the global batch's mean loss. One flattened
    all-reduce per step. Parameters without a gradient are left alone (they have none on
    any rank: every rank runs the same objective).

    ``stop`` (non-zero: this rank was asked to stop) travels in the same all-reduce; the
    sum over ranks is returned, so every rank takes the same decision after the same step.
    """
    if rank_info()[1] == 1:
        return stop
    grads = [p.grad for p in parameters if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads]).mul_(weight) if grads else None
    device = grads[0].device if grads else torch.device("cpu")
    flag = torch.tensor([float(stop)], device=device, dtype=flat.dtype if grads else None)
    flat = flag if flat is None else torch.cat([flat, flag])
    _collective(torch.distributed.all_reduce, flat)
    for g, summed in zip(grads, flat[:-1].split([g.numel() for g in grads])):
        g.copy_(summed.view_as(g))
    return float(flat[-1])


def all_reduce_sum(values: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each tensor of ``values`` summed over ranks, in float64, in one all-reduce (the
    same tensors alone). Every value has the same shape on every rank."""
    if rank_info()[1] == 1 or not values:
        return dict(values)
    keys = sorted(values)  # the same order on every rank
    tensors = [torch.as_tensor(values[k]) for k in keys]
    summed = torch.cat([t.reshape(-1).double() for t in tensors])
    _collective(torch.distributed.all_reduce, summed)
    parts = summed.split([t.numel() for t in tensors])
    return {k: p.view(t.shape) for k, p, t in zip(keys, parts, tensors)}


def all_reduce_mean(value: torch.Tensor | float) -> torch.Tensor | float:
    """Mean over ranks of ``value`` (a float or a tensor, returned as the same kind).

    Even when every rank computed the same number, this makes it bitwise the same on every
    rank, so decisions taken on it (early stopping, divergence) agree everywhere.
    """
    _, world = rank_info()
    if world == 1:
        return value
    t = torch.as_tensor(value, dtype=torch.float64).clone()
    _collective(torch.distributed.all_reduce, t)
    t /= world
    return float(t) if not isinstance(value, torch.Tensor) else t.to(value.dtype)
