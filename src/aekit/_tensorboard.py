"""Optional TensorBoard logging for the fit loop (``log_dir=`` on the estimators).

TensorBoard is an optional extra; it is imported only when a ``log_dir`` is given, so aekit
works without it. The logger is a plain ``on_epoch_end(record, module)`` callback for
:func:`aekit.training.fit_loop`: it never changes the module's weights or mode.
"""

from __future__ import annotations

import math
import os

import torch
from torch import nn

_SKIP = ("phase", "epoch", "seconds")


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


class TensorBoardLogger:
    """Log losses every epoch and sample reconstructions every few epochs.

    Scalars: ``loss/train`` and ``loss/validation`` for the main phase, ``<phase>/<term>``
    for other phases (greedy pretraining) and extra objective terms. Images:
    ``reconstructions`` (originals on top, reconstructions below) when rows look like
    square images, else a heat map of the rows (one per line, features across).

    Parameters
    ----------
    log_dir : path-like
        TensorBoard run directory (created if needed).
    samples : torch.Tensor of shape (n, n_features)
        A few rows in the caller's units, on the training device.
    image_shape : tuple of int, optional
        (height, width) of each row; guessed for square images.
    image_every : int, default=5
        Epochs between two image logs (the first and the final epoch are always logged).
    """

    def __init__(self, log_dir: str | os.PathLike, samples: torch.Tensor | None = None, *,
                 image_shape=None, image_every: int = 5):
        self.writer = _summary_writer(log_dir)
        self.samples = samples
        if samples is not None and image_shape is None:
            image_shape = guess_image_shape(samples[0].numel())
        self.image_shape = image_shape
        self.image_every = image_every
        self.step = 0
        self.module: nn.Module | None = None

    def __call__(self, record: dict, module: nn.Module) -> None:
        self.step += 1
        self.module = module
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
            self.log_reconstructions(module)

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
