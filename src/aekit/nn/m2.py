"""The M1+M2 semi-supervised VAE's networks (Kingma, Rezende, Mohamed & Welling 2014).

M1 is a plain VAE (:class:`aekit.nn.variational.DenseVAE`) fitted on every row; its posterior
``q(z1|x)`` gives the features. M2 (:class:`M2Net`) is a generative model of those features,
``p(y) p(z2) p(z1|y, z2)``, with the inference networks ``q(y|z1)`` (the classifier) and
``q(z2|z1, y)``. :class:`M1M2Net` chains M1's encoder and M2's classifier for prediction.
The costs are assembled outside the modules (:class:`aekit.training.objectives.M2Cost`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .dense import mlp
from .variational import GaussianEncoder, reparameterize

LOG_2PI = math.log(2 * math.pi)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """``-log N(x; mean, exp(log_var))`` summed over the last axis, per row (n,)."""
    return 0.5 * (LOG_2PI + log_var + (x - mean).square() * torch.exp(-log_var)).sum(-1)


class M2Net(nn.Module):
    """M2 on features ``z1``: the classifier ``q(y|z1)``, the encoder ``q(z2|z1, y)`` and
    the Gaussian decoder ``p(z1|y, z2)``; ``p(y)`` uniform, ``p(z2) = N(0, I)``.

    Parameters
    ----------
    n_features : int
        Dimensions of ``z1``.
    n_classes : int
    n_latent : int
        Dimensions of ``z2``.
    hidden_layer_sizes : sequence of int
        Widths of each of the three networks' hidden layers.
    activation : str
        Their activation (the paper's: softplus).
    """

    def __init__(self, n_features: int, n_classes: int, n_latent: int,
                 hidden_layer_sizes: Sequence[int], activation: str = "softplus"):
        super().__init__()
        self.n_classes = n_classes
        self.classifier = mlp([n_features, *hidden_layer_sizes, n_classes], activation,
                              "linear")
        self.encoder = GaussianEncoder(n_features + n_classes, n_latent, hidden_layer_sizes,
                                    activation)
        self.decoder = GaussianEncoder(n_latent + n_classes, n_features, hidden_layer_sizes,
                                    activation)

    def forward(self, z1: torch.Tensor) -> torch.Tensor:
        """Features (n, n_features) -> class logits of ``q(y|z1)`` (n, n_classes)."""
        return self.classifier(z1)

    def negative_elbo(self, z1: torch.Tensor, y_index: torch.Tensor) -> torch.Tensor:
        """``-L(z1, y)``, the negative evidence lower bound of ``log p(z1, y)``, per row (n,):
        ``-log p(z1|y, z2) + KL(q(z2|z1, y) || p(z2)) - log p(y)`` with one reparameterised
        draw of ``z2`` in training mode, its mean in evaluation mode."""
        y = F.one_hot(y_index, self.n_classes).to(z1.dtype)  # (n, K)
        mean, log_var = self.encoder.distribution(torch.cat([z1, y], 1))  # (n, n_latent) each
        z2 = reparameterize(mean, log_var) if self.training else mean
        x_mean, x_log_var = self.decoder.distribution(torch.cat([z2, y], 1))  # (n, n_features) each
        kl = 0.5 * (mean.square() + log_var.exp() - 1.0 - log_var).sum(1)
        return gaussian_nll(z1, x_mean, x_log_var) + kl + math.log(self.n_classes)

    def unlabelled_terms(self, z1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``-U(z1)`` per row (n,) and the logits of ``q(y|z1)`` (n, K): the negative ELBO
        of ``log p(z1)``, ``sum_y q(y|z1) (-L(z1, y)) - H(q(y|z1))``, the sum over the
        classes taken exactly (every row decoded once per class), as the paper does."""
        n, k = len(z1), self.n_classes
        logits = self.classifier(z1)
        log_q = F.log_softmax(logits, 1)  # (n, K)
        labels = torch.arange(k, device=z1.device).repeat_interleave(n)  # (K*n,)
        per_class = self.negative_elbo(z1.repeat(k, 1), labels).view(k, n).T  # (n, K)
        q = log_q.exp()
        return (q * (per_class + log_q)).sum(1), logits


class M1M2Net(nn.Module):
    """Prediction path of a fitted M1+M2: M1's scaler and encoder (posterior mean), the
    latent dimensions kept, M2's classifier.

    Parameters
    ----------
    scaler : nn.Module
        M1's input scaler (caller's units -> network units).
    encoder : aekit.nn.variational.GaussianEncoder
        M1's encoder.
    kept : sequence of int
        Indices of M1's latent dimensions that M2 models (the active ones).
    m2 : M2Net
    """

    def __init__(self, scaler: nn.Module, encoder: GaussianEncoder, kept: Sequence[int],
                 m2: M2Net):
        super().__init__()
        self.scaler, self.encoder, self.m2 = scaler, encoder, m2
        self.register_buffer("kept", torch.as_tensor(list(kept), dtype=torch.long),
                             persistent=False)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows in the caller's units (n, d) -> mean and log-variance of ``q(z1|x)`` on
        the kept dimensions, each (n, n_kept)."""
        mean, log_var = self.encoder.distribution(self.scaler(x))
        return mean.index_select(1, self.kept), log_var.index_select(1, self.kept)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Rows in the caller's units (n, d) -> class logits (n, n_classes) of
        ``q(y|z1)`` at the posterior mean of ``z1``."""
        return self.m2(self.features(x)[0])

    forward = logits
