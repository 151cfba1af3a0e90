"""The one fit loop: batches, loss, step, history, early stopping, divergence guard.

Everything a variant needs (denoising corruption, sparsity or KL penalties, ...) reaches
the loop as an ``objective`` callable, so the loop itself never branches on model kinds.
Data arrive preloaded as tensors on the training device, or, when larger than memory, as a
:class:`ChunkedRows` stream of such tensors one chunk at a time; either way a batch is an
index gather, never a NumPy conversion.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

import torch
from torch import nn
from torch.optim import optimizer as _torch_optim
from tqdm.auto import tqdm

from . import _malloc, distributed, losses

Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor], Mapping[str, torch.Tensor]]
"""``objective(module, x_input, x_target) -> {"loss": scalar, other named scalars...}``.

``x_input`` is the (possibly corrupted) batch the module sees; ``x_target`` the clean batch
it must reconstruct, or the batch's rows of ``Y`` when the loop is given targets. Extra
entries (e.g. ``"kl"``) are averaged per epoch into the history.
"""

Corruption = Callable[[torch.Tensor], torch.Tensor]


class ChunkedRows(Protocol):
    """Training rows too large for memory, handed to :func:`fit_loop` one chunk at a time.

    Implemented by :class:`aekit.streaming.ChunkStream`.
    """

    def epoch_chunks(self, epoch: int) -> Iterator[torch.Tensor]:
        """The chunks of epoch ``epoch`` (1-based), each (n_i, ...) in network units on the
        training device; together every training row once, in an order of the epoch's."""
        ...


OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adadelta")


PRECISIONS = ("auto", "float32", "bfloat16")


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware.

    CUDA GPUs from Ampere on; CPUs with AMX tiles or AVX512-BF16 (oneDNN uses them). On
    other CPUs bfloat16 is emulated and slower than float32.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
        # Private probes: absent in some torch builds, hence the getattr fallback.
        return any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    return False


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype training autocasts matrix products to, or None for plain float32.

    ``"auto"`` is bfloat16 where the hardware has it (see :func:`native_bf16`), else
    float32; weights, optimizer state and losses stay float32 either way.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not supported; use one of {PRECISIONS}")
    if precision == "bfloat16" or (precision == "auto" and native_bf16(device)):
        return torch.bfloat16
    return None


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite; the model was restored to its last good state."""


def make_optimizer(
    name: str, params, learning_rate: float, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """Build the optimizer ``name`` (one of :data:`OPTIMIZERS`)."""
    params = [p for p in params if p.requires_grad]
    if name == "adam":
        # fused: one kernel for the whole update instead of several passes per tensor;
        # the update is a third of a small dense step on CPU.
        return torch.optim.Adam(params, lr=learning_rate, weight_decay=weight_decay, fused=True)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay, fused=True)
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=learning_rate, momentum=0.9, nesterov=True, weight_decay=weight_decay
        )
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=learning_rate, weight_decay=weight_decay)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=learning_rate, weight_decay=weight_decay)
    raise ValueError(f"optimizer={name!r} is not supported; use one of {OPTIMIZERS}")


class _Stepper:
    """``optimizer.step()``, minus torch.optim's per-step Python for fused Adam / AdamW.

    torch.optim wraps every step in profiler hooks and rebuilds its tensor lists; on a small
    dense model on the CPU that bookkeeping costs as much as the fused kernel it then calls
    (measured: 0.29 ms of a 3.7 ms step, 784-512-128-2 autoencoder, batch 128). Once the
    first ordinary step has created the state, later steps call that same kernel on the
    same state tensors, so results are bit-identical and the optimizer stays the owner of
    its state. Anything else (other optimizers, amsgrad, several groups, parameters
    without gradients, registered step hooks) takes ``optimizer.step()``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self.kernel = None
        fused = {torch.optim.Adam: "_fused_adam_", torch.optim.AdamW: "_fused_adamw_"}
        name = fused.get(type(optimizer))
        groups = optimizer.param_groups
        if name and hasattr(torch, name) and len(groups) == 1:
            g = groups[0]
            plain = not (g["amsgrad"] or g["maximize"] or g["differentiable"] or g["capturable"])
            if g["fused"] and plain and isinstance(g["lr"], float):
                self.kernel = getattr(torch, name)
        self.params = list(groups[0]["params"]) if self.kernel else []
        self.lists = None  # (exp_avgs, exp_avg_sqs, steps), once the state exists

    def _hooked(self) -> bool:
        opt = self.optimizer
        return bool(
            _torch_optim._global_optimizer_pre_hooks or _torch_optim._global_optimizer_post_hooks
            or opt._optimizer_step_pre_hooks or opt._optimizer_step_post_hooks
        )

    def __call__(self) -> None:
        if self.kernel is None or self._hooked() or any(p.grad is None for p in self.params):
            self.optimizer.step()
            return
        if self.lists is None:
            self.optimizer.step()  # creates the state the kernel updates from now on
            state = [self.optimizer.state[p] for p in self.params]
            self.lists = tuple([st[k] for st in state] for k in ("exp_avg", "exp_avg_sq", "step"))
            return
        g = self.optimizer.param_groups[0]
        exp_avgs, exp_avg_sqs, steps = self.lists
        torch._foreach_add_(steps, 1)
        beta1, beta2 = g["betas"]
        self.kernel(
            self.params, [p.grad for p in self.params], exp_avgs, exp_avg_sqs, [], steps,
            amsgrad=False, lr=g["lr"], beta1=beta1, beta2=beta2,
            weight_decay=g["weight_decay"], eps=g["eps"], maximize=False,
            grad_scale=None, found_inf=None,
        )


def fit_loop(
    module: nn.Module,
    objective: Objective,
    X: torch.Tensor | ChunkedRows,
    X_val: torch.Tensor | None = None,
    *,
    Y: torch.Tensor | None = None,
    Y_val: torch.Tensor | None = None,
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    max_epochs: int,
    patience: int | None = None,
    tol: float = 1e-4,
    corrupt: Corruption | None = None,
    phase: str = "train",
    verbose: int = 0,
    on_epoch_end: Callable[[dict, nn.Module], None] | None = None,
    on_epoch_start: Callable[[int], None] | None = None,
    autocast: torch.dtype | None = None,
) -> list[dict]:
    """Train ``module`` in place and return one history record per epoch.

    Parameters
    ----------
    module : torch.nn.Module
        Trained in place; left at its best epoch when ``patience`` is set, else at its last.
    objective : callable
        See :data:`Objective`.
    X : torch.Tensor of shape (n_samples, ...) or ChunkedRows
        Training rows in network units, already on the training device; or a stream of
        such chunks (:class:`ChunkedRows`, data larger than memory), whose batches are drawn
        within each chunk, in a fresh random order per chunk.
    X_val : torch.Tensor of shape (n_val, ...), optional
        Validation rows; early stopping watches their loss (else the training loss).
    Y, Y_val : torch.Tensor of shape (n_samples, ...) and (n_val, ...), optional
        Targets (e.g. class indices), gathered with the same batch indices as the rows and
        passed to ``objective`` as its target. ``None``: the target is the clean row itself.
    optimizer : torch.optim.Optimizer
    batch_size : int
        Rows per step; the last, smaller batch of an epoch is kept, never dropped.
    max_epochs : int
    patience : int, optional
        Stop after this many epochs without a relative improvement of ``tol``, and restore
        the best weights. ``None`` trains all ``max_epochs``.
    corrupt : callable, optional
        Applied to each training batch only (denoising); the target stays clean.
    phase : str
        Label written into each history record (e.g. "pretrain-1", "train").
    verbose : int
        > 0 shows a progress bar with loss and val_loss.
    on_epoch_end : callable, optional
        ``on_epoch_end(record, module)`` after each epoch's record is appended (e.g. a
        TensorBoard logger); it must leave ``module``'s weights and mode unchanged.
    on_epoch_start : callable, optional
        ``on_epoch_start(epoch)`` before each epoch (1-based), for schedules such as a KL
        warm-up kept in a stateful objective.
    autocast : torch.dtype, optional
        Run the training forward pass and loss under ``torch.autocast`` with this dtype
        (mixed precision: see :func:`autocast_dtype`). Validation stays float32.

    Under several processes (an initialised ``torch.distributed`` group, e.g. ``torchrun``;
    see :mod:`aekit.distributed`) every rank holds the same ``X`` and calls this with the
    same arguments: each global batch of ``batch_size`` rows is split between the ranks,
    their gradients are combined into the global batch's, and the history's losses are
    reduced, so every rank returns the same history and stops in the same epoch. For losses
    that are means over rows the result matches one process up to float rounding; batch
    statistics (``sparsity="kl"``'s mean activation) are taken per rank's share.

    Returns
    -------
    history : list of dict
        Keys ``phase``, ``epoch``, ``loss``, ``val_loss`` (None without validation),
        ``seconds`` and any extra objective terms.

    Raises
    ------
    TrainingDivergedError
        When a loss is NaN or infinite; ``module`` is first restored to its last good state.
    """
    streamed = not isinstance(X, torch.Tensor)
    if streamed and Y is not None:
        raise ValueError("fit_loop takes targets Y with rows in a tensor only, not streamed")
    history: list[dict] = []
    monitor_best, best_state, stale = math.inf, None, 0
    distributed.prepare(module)  # several processes: same start, own noise per rank
    last_good = _snapshot(module)
    bar = tqdm(range(1, max_epochs + 1), desc=phase, disable=verbose <= 0, leave=verbose > 1)
    if not streamed and X.device.type == "cpu":
        # Steps re-allocate same-sized tensors: keep them in the heap instead of
        # faulting them in afresh every step (see aekit._malloc).
        _malloc.keep_freed_blocks()
    step = _Stepper(optimizer)
    for epoch in bar:
        if on_epoch_start is not None:
            on_epoch_start(epoch)
        start = time.perf_counter()
        module.train()
        sums: dict[str, torch.Tensor] = {}
        n = 0
        # Rows in memory are one chunk; a stream reads (and scales) one chunk at a time.
        for chunk in X.epoch_chunks(epoch) if streamed else (X,):
            perm = distributed.broadcast(torch.randperm(len(chunk), device=chunk.device))
            for i in range(0, len(chunk), batch_size):
                # draw batch -> corrupt -> forward + loss -> backward -> step
                batch = perm[i : i + batch_size]  # rank 0's order, shared by every rank
                idx, rows = distributed.shard(batch)  # this process's share (all of it alone)
                x = chunk.index_select(0, idx)
                x_in = corrupt(x) if corrupt is not None else x
                target = Y.index_select(0, idx) if Y is not None else x
                with torch.autocast(chunk.device.type, autocast, enabled=autocast is not None):
                    terms = objective(module, x_in, target)
                optimizer.zero_grad(set_to_none=True)
                terms["loss"].backward()
                distributed.sum_gradients(module.parameters(), rows / len(batch))
                step()
                # log: running sums stay on the device; one sync per epoch, not per batch.
                for key, value in terms.items():
                    sums[key] = sums.get(key, 0.0) + value.detach() * rows
            n += len(chunk)
            del chunk  # a streamed chunk is freed before the next one is read
        if n == 0:
            raise ValueError(f"{phase}: no training rows in epoch {epoch}")
        record = {"phase": phase, "epoch": epoch}
        # Summed over processes too, so every rank logs and stops on the same numbers.
        record.update({k: float(v) / n for k, v in distributed.all_reduce_sum(sums).items()})
        # evaluate
        has_val = X_val is not None and len(X_val) > 0
        val_loss = evaluate(module, objective, X_val, Y_val) if has_val else None
        record["val_loss"] = distributed.all_reduce_mean(val_loss) if has_val else None
        record["seconds"] = time.perf_counter() - start
        monitored = record["val_loss"] if record["val_loss"] is not None else record["loss"]
        if not (math.isfinite(record["loss"]) and math.isfinite(monitored)):
            module.load_state_dict(last_good)
            raise TrainingDivergedError(
                f"{phase}: the loss became {record['loss']} in epoch {epoch}; the model was "
                f"restored to its state after epoch {epoch - 1}. Lower learning_rate (now "
                f"{optimizer.param_groups[0]['lr']:g}), keep a scaler on (scaler='standard') "
                "so inputs are O(1), or use a bounded activation."
            )
        history.append(record)
        last_good = _snapshot(module)
        if on_epoch_end is not None:
            on_epoch_end(record, module)
        if verbose > 0:
            bar.set_postfix({k: record[k] for k in ("loss", "val_loss") if record[k] is not None})
        # stop
        if patience is None:
            continue
        if monitored < monitor_best - tol * abs(monitor_best) or best_state is None:
            monitor_best, best_state, stale = monitored, last_good, 0
        else:
            stale += 1
            if stale >= patience:
                break
    bar.close()
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return history


def kept_val_loss(history: list[dict], restored_best: bool, phase: str = "train"):
    """Validation loss of the weights :func:`fit_loop` left, or None without validation.

    The best epoch's when it restored the best weights (``patience`` set), else the last
    epoch's; only records of ``phase`` count (pretraining losses are on hidden codes).
    """
    val = [r["val_loss"] for r in history if r["phase"] == phase and r["val_loss"] is not None]
    if not val:
        return None
    return min(val) if restored_best else val[-1]


@torch.no_grad()
def evaluate(
    module: nn.Module,
    objective: Objective,
    X: torch.Tensor,
    Y: torch.Tensor | None = None,
    batch_size: int = 4096,
) -> float:
    """Mean ``objective`` loss over ``X`` (targets ``Y``, else ``X``) in eval mode.

    Eval mode: no corruption, no dropout.
    """
    was_training = module.training
    module.eval()
    total = torch.zeros((), device=X.device)
    for i in range(0, X.shape[0], batch_size):
        x = X[i : i + batch_size]
        target = Y[i : i + batch_size] if Y is not None else x
        total += objective(module, x, target)["loss"] * x.shape[0]
    module.train(was_training)
    return float(total) / X.shape[0]


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    # Detached clones: a later optimizer step must not change a saved state.
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def infer(fn: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor, batch_size: int = 4096):
    """Apply ``fn`` to ``X`` in batches under ``no_grad``; returns the concatenation."""
    with torch.no_grad():
        return torch.cat([fn(X[i : i + batch_size]) for i in range(0, X.shape[0], batch_size)])



# --------------------------------------------------------------------------- greedy pretraining
def layer_blocks(seq: nn.Sequential) -> list[nn.Sequential]:
    """Split ``seq`` into blocks, each a layer with parameters and the modules after it.

    ``[Linear, ELU, Dropout, Linear]`` -> ``[Sequential(Linear, ELU, Dropout),
    Sequential(Linear)]``.
    The blocks share the modules of ``seq`` (training a block trains ``seq``).
    """
    blocks: list[list[nn.Module]] = []
    for m in seq:
        if any(True for _ in m.parameters(recurse=False)) or not blocks:
            blocks.append([])
        blocks[-1].append(m)
    return [nn.Sequential(*b) for b in blocks]


def pretrain_greedy(
    encoder: nn.Sequential,
    decoder: nn.Sequential,
    X: torch.Tensor,
    X_val: torch.Tensor | None = None,
    *,
    make_optimizer: Callable[[list], torch.optim.Optimizer],
    batch_size: int,
    max_epochs: int,
    loss: str = "mse",
    corrupt_for: Callable[[int, torch.Tensor], Corruption | None] | None = None,
    patience: int | None = None,
    tol: float = 1e-4,
    verbose: int = 0,
    on_epoch_end: Callable[[dict, nn.Module], None] | None = None,
    autocast: torch.dtype | None = None,
) -> list[dict]:
    """Stacked greedy layer-wise pretraining of a deep autoencoder, in place.

    For encoder layer ``i`` (outermost first), a shallow autoencoder made of that layer and
    its mirror image in the decoder (the decoder's ``i``-th layer from the end) learns to
    reconstruct the previous layer's codes, with :func:`fit_loop`. The codes are computed
    once per layer, without gradients and in eval mode, so the layers below are frozen by
    construction and never recomputed. Because the shallow autoencoders *are* the deep
    model's layers, their trained weights end up stacked in the deep model, decoder layers
    included (mirrored); fine-tune it end to end afterwards with :func:`fit_loop`.

    Parameters
    ----------
    encoder, decoder : nn.Sequential
        The deep model's halves; the decoder mirrors the encoder layer for layer (plain or
        tied linear layers, each followed by its activation and dropout).
    X, X_val : torch.Tensor of shape (n, d) and (n_val, d)
        Training (and validation) rows in network units.
    make_optimizer : callable
        ``make_optimizer(parameters)`` -> a fresh optimizer for each layer.
    batch_size, max_epochs, patience, tol, verbose, autocast
        As in :func:`fit_loop`; ``max_epochs`` is per layer.
    loss : {"mse", "bce"}
        Reconstruction loss of the first layer (which reconstructs the input); the inner
        layers reconstruct hidden codes with ``"mse"``.
    corrupt_for : callable, optional
        ``corrupt_for(layer, H)`` -> the corruption for layer ``layer`` (1-based; layer 1
        sees the input rows) trained on codes ``H``, or None: stacked denoising
        autoencoders (Vincent et al. 2010).
    on_epoch_end : callable, optional
        Passed to :func:`fit_loop` (it receives the shallow autoencoder).

    Returns
    -------
    history : list of dict
        :func:`fit_loop` records with phases ``"pretrain-1"``, ``"pretrain-2"``, ...
    """
    enc_blocks, dec_blocks = layer_blocks(encoder), layer_blocks(decoder)
    if len(enc_blocks) != len(dec_blocks):
        raise ValueError(
            f"greedy pretraining needs a decoder that mirrors the encoder; got {len(enc_blocks)} "
            f"encoder and {len(dec_blocks)} decoder layers"
        )
    history: list[dict] = []
    H, H_val = X, X_val
    for i, (enc, dec) in enumerate(zip(enc_blocks, reversed(dec_blocks))):
        shallow = nn.Sequential(enc, dec)
        kind = loss if i == 0 else "mse"

        def objective(module, x_in, x, kind=kind):
            return {"loss": losses.reconstruction(module(x_in), x, kind)}

        history += fit_loop(
            shallow,
            objective,
            H,
            H_val,
            optimizer=make_optimizer(list(shallow.parameters())),
            batch_size=batch_size,
            max_epochs=max_epochs,
            patience=patience,
            tol=tol,
            corrupt=corrupt_for(i + 1, H) if corrupt_for is not None else None,
            phase=f"pretrain-{i + 1}",
            verbose=verbose,
            on_epoch_end=on_epoch_end,
            autocast=autocast,
        )
        # The next layer's inputs: this layer's codes, computed once (eval mode: no dropout).
        enc.eval()
        H = infer(enc, H)
        H_val = infer(enc, H_val) if H_val is not None and len(H_val) else H_val
    return history
