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

Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor], Mapping[str, torch.Tensor]]
"""``objective(module, x_input, x_target) -> {"loss": scalar, other named scalars...}``.

``x_input`` is the (possibly corrupted) batch the module sees; ``x_target`` the clean batch
it must reconstruct. Extra entries (e.g. ``"kl"``) are averaged per epoch into the history.
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
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    max_epochs: int,
    patience: int | None = None,
    tol: float = 1e-4,
    corrupt: Corruption | None = None,
    phase: str = "train",
    verbose: int = 0,
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
        start = time.perf_counter()
        module.train()
        sums: dict[str, torch.Tensor] = {}
        perm = torch.randperm(n, device=X.device)
        for i in range(0, n, batch_size):
            # draw batch -> corrupt -> forward + loss -> backward -> step
            x = X.index_select(0, perm[i : i + batch_size])
            x_in = corrupt(x) if corrupt is not None else x
            terms = objective(module, x_in, x)
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
        record["val_loss"] = evaluate(module, objective, X_val) if has_val else None
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
    module: nn.Module, objective: Objective, X: torch.Tensor, batch_size: int = 4096
) -> float:
    """Mean ``objective`` loss over ``X`` in eval mode (no corruption, no dropout)."""
    was_training = module.training
    module.eval()
    total = torch.zeros((), device=X.device)
    for i in range(0, X.shape[0], batch_size):
        x = X[i : i + batch_size]
        total += objective(module, x, x)["loss"] * x.shape[0]
    module.train(was_training)
    return float(total) / X.shape[0]


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    # Detached clones: a later optimizer step must not change a saved state.
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def infer(fn: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor, batch_size: int = 4096):
    """Apply ``fn`` to ``X`` in batches under ``no_grad``; returns the concatenation."""
    with torch.no_grad():
        return torch.cat([fn(X[i : i + batch_size]) for i in range(0, X.shape[0], batch_size)])

