"""What the fit loop may do besides training: early stopping, a learning-rate schedule, a
progress bar, TensorBoard.

A callback is an object with four hooks, each given the loop's state dict
(:func:`aekit.training.init_state`); :class:`Callback` has them all as no-ops. They are called
in the order given, after the loop's own work for that moment. A callback must leave the
module's weights and mode as it found them, except :class:`EarlyStopping`, whose kept
weights the loop restores at the end.

- ``on_train_begin(state)``: before the first epoch of a :func:`~aekit.training.fit_loop` call;
- ``on_epoch_begin(state, epoch)``: before each epoch (1-based);
- ``on_epoch_end(state, record)``: after the epoch's record is in ``state["history"]``;
- ``on_train_end(state)``: when the loop ends, also when it raises.
"""

from __future__ import annotations

import math
import os

import torch
from torch import nn
from tqdm.auto import tqdm


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, state: dict) -> None:
        """Before the first epoch."""

    def on_epoch_begin(self, state: dict, epoch: int) -> None:
        """Before epoch ``epoch`` (1-based)."""

    def on_epoch_end(self, state: dict, record: dict) -> None:
        """After each epoch; ``record`` is ``state["history"][-1]``."""

    def on_train_end(self, state: dict) -> None:
        """When the loop ends (also on an error)."""


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without a relative improvement of ``tol``.

    Watches the validation loss, else the training loss. The best weights and their epoch
    are kept in the loop's state (``best_state``, ``best_epoch``, with ``best_monitor`` and
    ``stale``), so the loop restores them at the end and a saved state resumes exactly.
    """

    def __init__(self, patience: int, tol: float = 1e-4):
        self.patience = patience
        self.tol = tol

    def on_epoch_end(self, state: dict, record: dict) -> None:
        monitored = record["val_loss"] if record["val_loss"] is not None else record["loss"]
        best = state["best_monitor"]
        if state["best_state"] is None or monitored < best - self.tol * abs(best):
            state.update(best_monitor=monitored, best_state=state["last_state"],
                         best_epoch=record["epoch"], stale=0)
        else:
            state["stale"] += 1
            if state["stale"] >= self.patience:
                state["stop"] = True


class ReduceLROnPlateau(Callback):
    """Divide the learning rate by ``1 / factor`` after ``patience`` epochs without a
    relative improvement of ``tol`` in the monitored loss (the validation loss, else the
    training loss); never below ``min_lr`` times the starting rate.

    Keras' and PyTorch's ``ReduceLROnPlateau`` as a loop callback. Its memory lives in the
    loop's state (``lr_best``, ``lr_stale``, ``lr_start``), so a saved state resumes exactly.
    Each reduction is recorded in the epoch's history record as ``"lr"``; every record
    carries the rate the epoch trained with.

    Parameters
    ----------
    factor : float, default=0.2
        Multiplier of the rate at each reduction, in (0, 1).
    patience : int, default=5
        Epochs without improvement before a reduction; the count restarts after one.
    tol : float, default=1e-4
        Relative improvement that counts.
    min_lr : float, default=1e-3
        Floor, relative to the starting rate.
    """

    def __init__(self, factor: float = 0.2, patience: int = 5, tol: float = 1e-4,
                 min_lr: float = 1e-3):
        if not 0 < factor < 1:
            raise ValueError(f"factor={factor!r} must be in (0, 1)")
        self.factor, self.patience, self.tol, self.min_lr = factor, patience, tol, min_lr

    def on_train_begin(self, state: dict) -> None:
        groups = state["optimizer"].param_groups
        state.setdefault("lr_start", [g["lr"] for g in groups])
        state.setdefault("lr_best", math.inf)
        state.setdefault("lr_stale", 0)

    def on_epoch_end(self, state: dict, record: dict) -> None:
        groups = state["optimizer"].param_groups
        record["lr"] = groups[0]["lr"]  # the rate this epoch trained with
        monitored = record["val_loss"] if record["val_loss"] is not None else record["loss"]
        best = state["lr_best"]
        if not math.isfinite(best) or monitored < best - self.tol * abs(best):
            state.update(lr_best=monitored, lr_stale=0)
            return
        state["lr_stale"] += 1
        if state["lr_stale"] >= self.patience:
            state["lr_stale"] = 0
            for g, start in zip(groups, state["lr_start"]):
                g["lr"] = max(g["lr"] * self.factor, start * self.min_lr)


class ProgressBar(Callback):
    """A tqdm bar over the epochs with the last loss and val_loss (``leave``: keep it)."""

    def __init__(self, leave: bool = False):
        self.leave = leave
        self.bar = None

    def on_train_begin(self, state: dict) -> None:
        self.bar = tqdm(total=state["max_epochs"], initial=state["epoch"], desc=state["phase"],
                        leave=self.leave)

    def on_epoch_end(self, state: dict, record: dict) -> None:
        self.bar.update(1)
        self.bar.set_postfix({k: record[k] for k in ("loss", "val_loss")
                              if record[k] is not None})

    def on_train_end(self, state: dict) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- TensorBoard
_SKIP = ("phase", "epoch", "seconds", "kept")


def _summary_writer(log_dir):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:  # torch's module imports the tensorboard package itself
        raise ImportError(
            f"log_dir={str(log_dir)!r} asks for TensorBoard logging, but the 'tensorboard' "
            "package is not installed; install it with `pip install aekit[tensorboard]` "
            "(or `pip install tensorboard`), or leave log_dir=None."
        ) from err
    return SummaryWriter(log_dir=str(log_dir))


def guess_image_shape(n_features: int) -> tuple[int, int] | None:
    """(s, s) when the rows look like flattened square images (16 features or more)."""
    side = math.isqrt(n_features)
    return (side, side) if side >= 4 and side * side == n_features else None


class TensorBoard(Callback):
    """Log losses every epoch and sample reconstructions every few epochs.

    TensorBoard is an optional extra, imported only when this callback is made. Scalars:
    ``loss/train`` and ``loss/validation`` for the main phase, ``<phase>/<term>`` for other
    phases (greedy pretraining) and extra objective terms. Images: ``reconstructions``
    (originals on top, reconstructions below) when rows look like square images, else a
    heat map of the rows (one per line, features across). One instance may serve several
    loops (pretraining phases, then training): its step counts on; :meth:`close` it once.

    Parameters
    ----------
    log_dir : path-like
        TensorBoard run directory (created if needed).
    samples : torch.Tensor of shape (n, n_features)
        A few rows in the caller's units, on the training device.
    module : torch.nn.Module, optional
        The model whose ``encode`` / ``decode`` reconstruct the samples; by default the
        loop's module (give the deep model when the loop trains a part of it).
    image_shape : tuple of int, optional
        (height, width) of each row; guessed for square images.
    image_every : int, default=5
        Epochs between two image logs (the first and the final epoch are always logged).
    """

    def __init__(self, log_dir: str | os.PathLike, samples: torch.Tensor | None = None, *,
                 module: nn.Module | None = None, image_shape=None, image_every: int = 5):
        self.writer = _summary_writer(log_dir)
        self.samples = samples
        if samples is not None and image_shape is None:
            image_shape = guess_image_shape(samples[0].numel())
        self.image_shape = image_shape
        self.image_every = image_every
        self.step = 0
        self.module = module

    def on_epoch_end(self, state: dict, record: dict) -> None:
        self.step += 1
        if self.module is None:
            self.module = state["module"]
        main = record.get("phase", "train") == "train"
        for key, value in record.items():
            if key in _SKIP or value is None:
                continue
            if main and key in ("loss", "val_loss"):
                tag = "loss/train" if key == "loss" else "loss/validation"
            else:
                tag = f"{record.get('phase', 'train')}/{key}"
            self.writer.add_scalar(tag, float(value), self.step)
        if record.get("epoch", 1) == 1 or record.get("epoch", 0) % self.image_every == 0:
            self.log_reconstructions(self.module)

    @torch.no_grad()
    def log_reconstructions(self, module: nn.Module) -> None:
        """Add one image of the samples and their reconstructions at the current step."""
        if self.samples is None or not len(self.samples):
            return
        was_training = module.training
        module.eval()
        try:
            x = self.samples
            x_hat = module.decode(module.encode(x), like=x)
        finally:
            module.train(was_training)
        lo, hi = x.min(), x.max()
        scale = (hi - lo) if hi > lo else torch.ones_like(hi)
        x, x_hat = ((t.float() - lo) / scale for t in (x, x_hat.reshape(x.shape)))
        if self.image_shape is not None:
            h, w = self.image_shape
            top = torch.cat(list(x.reshape(-1, h, w)), dim=1)  # (h, n*w)
            bottom = torch.cat(list(x_hat.reshape(-1, h, w)), dim=1)
            gap = torch.ones(1, top.shape[1], device=top.device)
            image = torch.cat([top, gap, bottom], dim=0)
        else:
            gap = torch.ones(1, x.shape[1], device=x.device)
            image = torch.cat([x, gap, x_hat], dim=0)  # rows, features across
        self.writer.add_image("reconstructions", image.clamp(0, 1).cpu()[None], self.step)

    def close(self, final: bool = True) -> None:
        """Log the final reconstructions (unless ``final=False``) and close the writer."""
        if final and self.module is not None:
            self.log_reconstructions(self.module)
        self.writer.close()
