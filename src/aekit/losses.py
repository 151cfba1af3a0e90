"""Loss terms as pure functions of tensors, so variants combine freely outside ``forward``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

RECONSTRUCTION_LOSSES = ("mse", "bce")


def reconstruction(x_hat: torch.Tensor, x: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Mean reconstruction loss over all elements.

    Parameters
    ----------
    x_hat, x : torch.Tensor of shape (n, ...)
        Reconstruction and target, both in network units.
    kind : {"mse", "bce"}
        ``"bce"`` needs targets in [0, 1] and ``x_hat`` in (0, 1) (a sigmoid output).
    """
    if kind == "mse":
        return F.mse_loss(x_hat, x)
    if kind == "bce":
        return F.binary_cross_entropy(x_hat, x)
    raise ValueError(f"loss={kind!r} is not supported; use one of {RECONSTRUCTION_LOSSES}")
