"""Variational autoencoder: a Gaussian encoder (mean and log-variance heads) and a decoder.

The module computes distributions and decodes codes; the ELBO (reconstruction + KL) is
assembled outside ``forward`` by the estimator, from :mod:`aekit.training.losses`, like every loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .dense import mlp
from .layers import ScaledAutoEncoder, scaled_input

LOG_VAR_BOUNDS = (-10.0, 10.0)
"""The log-variance is clamped to this range: ``exp`` of it can neither overflow nor vanish."""


class GaussianEncoder(nn.Module):
    """Encoder trunk with two linear heads: posterior mean and log-variance.

    Calling it returns the posterior mean, the deterministic code (as the encoder of
    :class:`~aekit.nn.dense.DenseAutoEncoder` returns its code), so anything that uses
    ``module.encoder`` as "rows -> code" works unchanged; :meth:`distribution` gives both.

    Parameters
    ----------
    n_features : int
    n_components : int
        Latent dimensions.
    hidden_layer_sizes : sequence of int
        Trunk widths, outermost first; ``()`` puts the heads straight on the input.
    activation : str
        Trunk activation (also after its last layer: the heads are linear).
    """

    def __init__(
        self,
        n_features: int,
        n_components: int,
        hidden_layer_sizes: Sequence[int] = (),
        activation: str = "elu",
    ):
        super().__init__()
        self.trunk = mlp([n_features, *hidden_layer_sizes], activation, activation)
        width = hidden_layer_sizes[-1] if len(hidden_layer_sizes) else n_features
        self.mean = nn.Linear(width, n_components)
        self.log_var = nn.Linear(width, n_components)

    def distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scaled rows (n, n_features) -> (mean, log_var), each (n, n_components)."""
        h = self.trunk(x)
        return self.mean(h), self.log_var(h).clamp(*LOG_VAR_BOUNDS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled rows (n, n_features) -> posterior mean (n, n_components)."""
        return self.mean(self.trunk(x))


def reparameterize(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """A draw ``z = mean + sigma * eps`` that gradients flow through (torch's global RNG)."""
    return mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)


class DenseVAE(ScaledAutoEncoder):
    """Gaussian encoder, dense decoder, input scaler inside; same interface as the dense AE.

    ``encoder`` and ``decoder`` work in scaled units; ``encode`` (posterior mean) and
    ``decode`` work in the caller's units.

    Parameters
    ----------
    n_features, n_components, hidden_layer_sizes, activation, output_activation, scaler
        As for :class:`~aekit.nn.dense.DenseAutoEncoder` (a table's scaler module
        included); the decoder mirrors the trunk.
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
        self.scaler, n_in, n_out, first = scaled_input(n_features, scaler)
        self.encoder = GaussianEncoder(n_in, n_components, hidden_layer_sizes, activation)
        if first is not None:  # a table's categories, expanded per batch (nn.tabular)
            self.encoder.trunk.insert(0, first)
        self.decoder = mlp([n_components, *hidden_layer_sizes[::-1], n_out], activation,
                           output_activation)
