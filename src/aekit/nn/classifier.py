"""A classification head on an autoencoder's encoder (scaler included)."""

from __future__ import annotations

import torch
from torch import nn


class EncoderClassifierNet(nn.Module):
    """``logits = head(encoder(scaler(x)))``.

    ``forward`` takes scaled rows (what the training loop feeds it); :meth:`logits` takes
    rows in the caller's units.

    Parameters
    ----------
    scaler : torch.nn.Module
        The autoencoder's in-model scaler.
    encoder : torch.nn.Module
        Scaled rows (n, n_features) -> codes (n, n_components).
    head : torch.nn.Module
        Codes (n, n_components) -> logits (n, n_classes).
    freeze_encoder : bool
        Keep the encoder's weights fixed (no gradients) and the encoder in eval mode while
        the head trains, so it computes exactly the codes it computed before.
    """

    def __init__(
        self, scaler: nn.Module, encoder: nn.Module, head: nn.Module, freeze_encoder: bool = True
    ):
        super().__init__()
        self.scaler = scaler
        self.encoder = encoder
        self.head = head
        self.freeze_encoder = freeze_encoder
        self.encoder.requires_grad_(not freeze_encoder)

    def train(self, mode: bool = True) -> "EncoderClassifierNet":
        super().train(mode)
        if self.freeze_encoder:
            self.encoder.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled rows (n, n_features) -> logits (n, n_classes)."""
        return self.head(self.encoder(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Rows in the caller's units (n, n_features) -> logits (n, n_classes)."""
        return self(self.scaler(x))
