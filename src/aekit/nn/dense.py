"""Fully connected autoencoder: encoder MLP, linear code, mirrored decoder MLP."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .layers import Scaler, make_activation


def mlp(sizes: Sequence[int], activation: str, last_activation: str) -> nn.Sequential:
    """Linear layers ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``.

    Hidden layers use ``activation``; the last layer uses ``last_activation``.
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        last = i == len(sizes) - 2
        act = last_activation if last else activation
        if act != "linear":
            layers.append(make_activation(act))
    return nn.Sequential(*layers)


class DenseAutoEncoder(nn.Module):
    """Dense autoencoder with the input scaler inside.

    ``encoder`` and ``decoder`` work in the network's (scaled) units, which is what the
    training loop feeds them; ``encode`` and ``decode`` work in the caller's units.

    Parameters
    ----------
    n_features : int
        Width of the input rows.
    n_components : int
        Width of the code (bottleneck). The code layer is linear.
    hidden_layer_sizes : sequence of int
        Encoder hidden widths, outermost first; the decoder mirrors them.
    activation : str
        Hidden-layer activation.
    output_activation : str
        Activation of the decoder's last layer ("sigmoid" or "linear" in practice).
    scaler : str or None
        Kind of :class:`~aekit.nn.layers.Scaler`.
    """

    def __init__(
        self,
        n_features: int,
        n_components: int,
        hidden_layer_sizes: Sequence[int] = (),
        activation: str = "elu",
        output_activation: str = "linear",
        scaler: str | None = "standard",
    ):
        super().__init__()
        sizes = [n_features, *hidden_layer_sizes, n_components]
        self.scaler = Scaler(n_features, scaler)
        self.encoder = mlp(sizes, activation, "linear")
        self.decoder = mlp(sizes[::-1], activation, output_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct scaled rows: (n, n_features) -> (n, n_features), network units."""
        return self.decoder(self.encoder(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Caller's units (n, n_features) -> codes (n, n_components)."""
        return self.encoder(self.scaler(x))

    def decode(self, z: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        """Codes (n, n_components) -> rows in the caller's units (n, n_features).

        ``like`` is the input being reconstructed, needed only by the per-row scaler.
        """
        return self.scaler.inverse(self.decoder(z), like)
