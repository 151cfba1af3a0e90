"""The one fit loop: batches, loss, step, history, early stopping, divergence guard.

Everything a variant needs (denoising corruption, sparsity or KL penalties, ...) reaches
the loop as an ``objective`` callable, so the loop itself never branches on model kinds.
Data arrive preloaded as tensors on the training device; a batch is an index gather, never
a NumPy conversion.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import torch
from torch import nn
from tqdm.auto import tqdm

from . import losses

Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor], Mapping[str, torch.Tensor]]
"""``objective(module, x_input, x_target) -> {"loss": scalar, other named scalars...}``.

``x_input`` is the (possibly corrupted) batch the module sees; ``x_target`` the clean batch
it must reconstruct, or the batch's rows of ``Y`` when the loop is given targets. Extra
entries (e.g. ``"kl"``) are averaged per epoch into the history.
"""

Corruption = Callable[[torch.Tensor], torch.Tensor]

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adadelta")


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


def fit_loop(
    module: nn.Module,
    objective: Objective,
    X: torch.Tensor,
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
) -> list[dict]:
    """Train ``module`` in place and return one history record per epoch.

    Parameters
    ----------
    module : torch.nn.Module
        Trained in place; left at its best epoch when ``patience`` is set, else at its last.
    objective : callable
        See :data:`Objective`.
    X : torch.Tensor of shape (n_samples, ...)
        Training rows in network units, already on the training device.
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
    n = X.shape[0]
    history: list[dict] = []
    monitor_best, best_state, stale = math.inf, None, 0
    last_good = _snapshot(module)
    bar = tqdm(range(1, max_epochs + 1), desc=phase, disable=verbose <= 0, leave=verbose > 1)
    for epoch in bar:
        if on_epoch_start is not None:
            on_epoch_start(epoch)
        start = time.perf_counter()
        module.train()
        sums: dict[str, torch.Tensor] = {}
        perm = torch.randperm(n, device=X.device)
        for i in range(0, n, batch_size):
            # draw batch -> corrupt -> forward + loss -> backward -> step
            idx = perm[i : i + batch_size]
            x = X.index_select(0, idx)
            x_in = corrupt(x) if corrupt is not None else x
            target = Y.index_select(0, idx) if Y is not None else x
            terms = objective(module, x_in, target)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            # log: running sums stay on the device; one sync per epoch, not per batch.
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + value.detach() * x.shape[0]
        record = {"phase": phase, "epoch": epoch}
        record.update({k: float(v) / n for k, v in sums.items()})
        # evaluate
        has_val = X_val is not None and len(X_val) > 0
        record["val_loss"] = evaluate(module, objective, X_val, Y_val) if has_val else None
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

    ``[Linear, ELU, Dropout, Linear]`` -> ``[Sequential(Linear, ELU, Dropout), Sequential(Linear)]``.
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
    batch_size, max_epochs, patience, tol, verbose
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
        )
        # The next layer's inputs: this layer's codes, computed once (eval mode: no dropout).
        enc.eval()
        H = infer(enc, H)
        H_val = infer(enc, H_val) if H_val is not None and len(H_val) else H_val
    return history
