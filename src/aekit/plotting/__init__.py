"""Plots of fitted models and their training, each a function that returns a Figure.

Figures are built with :class:`matplotlib.figure.Figure`, never ``pyplot``: no global state,
no display needed, safe on headless machines and in threads. Save one with
``fig.savefig(path)``; show one in a notebook by leaving it as the cell's value.

- :mod:`~aekit.plotting.training`: ``loss_curves``, ``error_vs_k``;
- :mod:`~aekit.plotting.images`: ``reconstruction_grid``, ``corrupt``, ``denoising_rows``,
  ``vae_samples``, ``latent_traversal``, ``decoded_grid``;
- :mod:`~aekit.plotting.units`: ``first_layer_weights``, ``hidden_layers``, ``unit_activations``,
  ``top_activating``, ``activation_maximization`` (any unit of any hidden layer);
- :mod:`~aekit.plotting.codes`: ``codes_2d``, ``feature_scatter``.
"""

from .codes import codes_2d, feature_scatter
from .images import (
    corrupt,
    decoded_grid,
    denoising_rows,
    latent_traversal,
    reconstruction_grid,
    vae_samples,
)
from .training import error_vs_k, loss_curves
from .units import (
    activation_maximization,
    first_layer_weights,
    hidden_layers,
    top_activating,
    unit_activations,
)

__all__ = [
    "activation_maximization",
    "codes_2d",
    "corrupt",
    "decoded_grid",
    "denoising_rows",
    "error_vs_k",
    "feature_scatter",
    "first_layer_weights",
    "hidden_layers",
    "latent_traversal",
    "loss_curves",
    "reconstruction_grid",
    "top_activating",
    "unit_activations",
    "vae_samples",
]
