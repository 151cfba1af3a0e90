"""A classification head on an autoencoder's encoder (scaler included), or on its lower layers."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .variational import GaussianEncoder


def encoder_layers(encoder: nn.Module) -> list[nn.Sequential]:
    """The layers of an encoder, lowest first, each a module from one representation to the
    next: a weight layer with the activation, dropout and reshaping that follow it.

    Dense encoders give their hidden layers then the code layer; convolutional ones their
    convolutions then the code layer; a variational encoder its trunk's layers then the
    posterior mean. Applying them in turn is the encoder (the mean, for a variational one).
    """
    if isinstance(encoder, GaussianEncoder):
        return [*encoder_layers(encoder.trunk), nn.Sequential(encoder.mean)]
    layers: list[list[nn.Module]] = []
    pending: list[nn.Module] = []  # parameter-free modules before the first weight layer
    for module in encoder:
        if any(True for _ in module.parameters(recurse=False)):
            layers.append([*pending, module])
            pending = []
        elif layers:
            layers[-1].append(module)
        else:
            pending.append(module)
    if pending:  # an encoder without weights (cannot happen for aekit's) keeps its modules
        layers.append(pending)
    return [nn.Sequential(*modules) for modules in layers]


class EncoderClassifierNet(nn.Module):
    """``logits = head(layers(scaler(x)))``: a head on the lower layers of an encoder.

    ``forward`` takes scaled rows (what the training loop feeds it); :meth:`logits` takes
    rows in the caller's units and divides by the ``temperature`` buffer (1 until a
    calibration sets it; saved with the weights); :meth:`features` gives what the head
    reads.

    Parameters
    ----------
    scaler : torch.nn.Module
        The autoencoder's in-model scaler.
    layers : sequence of torch.nn.Module
        The encoder's lowest layers (:func:`encoder_layers`), applied in turn to scaled rows
        (n, n_features); the last one's output, flattened, is what the head reads.
    head : torch.nn.Module
        Features (n, n_features_head) -> logits (n, n_classes).
    n_frozen : int, default=0
        How many of the lowest ``layers`` are frozen: their weights take no gradients and
        they run in eval mode (no dropout) while the rest trains, so they compute exactly
        what they computed before.
    """

    def __init__(
        self, scaler: nn.Module, layers: Sequence[nn.Module], head: nn.Module, n_frozen: int = 0
    ):
        super().__init__()
        if not 0 <= n_frozen <= len(layers):
            raise ValueError(f"n_frozen={n_frozen} must be in [0, {len(layers)}]")
        self.scaler = scaler
        self.encoder = nn.Sequential(*layers)
        self.head = head
        self.n_frozen = n_frozen
        self.register_buffer("temperature", torch.ones(()))
        for i, layer in enumerate(self.encoder):
            layer.requires_grad_(i >= n_frozen)

    def frozen_layers(self) -> list[nn.Module]:
        """The lowest ``n_frozen`` layers of ``encoder``."""
        return list(self.encoder)[: self.n_frozen]

    def train(self, mode: bool = True) -> "EncoderClassifierNet":
        super().train(mode)
        for layer in self.frozen_layers():
            layer.eval()
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled rows (n, n_features) -> what the head reads (n, n_features_head)."""
        return self.encoder(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled rows (n, n_features) -> logits (n, n_classes)."""
        return self.head(self.features(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Rows in the caller's units (n, n_features) -> calibrated logits (n, n_classes):
        ``forward``'s divided by ``temperature``."""
        return self(self.scaler(x)) / self.temperature


def feature_width(layers: Sequence[nn.Module], n_features: int) -> int:
    """Width of the flattened output of ``layers`` applied to rows of ``n_features``."""
    device = next(p for layer in layers for p in layer.parameters()).device
    with torch.no_grad():
        x = torch.zeros(2, n_features, device=device)
        was = [layer.training for layer in layers]
        for layer in layers:
            layer.eval()
            x = layer(x)
        for layer, mode in zip(layers, was):
            layer.train(mode)
    return int(x.flatten(1).shape[1])
