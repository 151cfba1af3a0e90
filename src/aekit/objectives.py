"""What each family minimises: ``objective(module, batch, epoch) -> {"loss": ..., terms}``.

An objective is a small frozen object holding the family's hyperparameters and nothing
learned; the fit loop calls it on every batch. ``batch`` is a dict of tensors gathered with
the same row indices:

- ``"x"``: the clean rows in network units (what a reconstruction must give back);
- ``"x_in"``: what the module sees, the corrupted rows when denoising, else ``"x"``;
- ``"y"``: targets (class indices) when the loop was given them;
- ``"weight"``: a weight per row (:class:`WeightedCrossEntropy`).

``epoch`` is the 1-based training epoch, or None when the loop evaluates the hold-out: a
schedule (the KL warm-up) is then at its final value, so every epoch is compared on one
fixed yardstick. Extra entries of the returned dict (``"kl"``, ``"sparsity"``, ...) are
averaged per epoch into the history. Losses stay outside ``forward``, so the terms combine
freely.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import losses
from .nn.variational import reparameterize

Batch = dict[str, torch.Tensor]

DEFAULT_SPARSITY_WEIGHT = {"l1": 0.1, "kl": 3.0}
"""``sparsity_weight=None``: the penalties differ in scale, so each kind has its own."""


@dataclass(frozen=True)
class Reconstruction:
    """Reconstruction loss plus the penalties of the classic variants (all off by default).

    Parameters
    ----------
    loss : {"mse", "bce"}
    sparsity : {None, "l1", "kl"}
        Penalty on the codes: their mean absolute value, or the KL divergence of each code
        unit's mean activation from ``sparsity_target``.
    sparsity_weight : float or None
        None: :data:`DEFAULT_SPARSITY_WEIGHT` of the kind.
    sparsity_target : float
    contractive : float
        Weight of the mean squared Frobenius norm of the encoder's Jacobian.
    l1 : float
        Weight of the L1 norm of all weight matrices.
    """

    loss: str = "mse"
    sparsity: str | None = None
    sparsity_weight: float | None = None
    sparsity_target: float = 0.05
    contractive: float = 0.0
    l1: float = 0.0

    def __call__(self, module: nn.Module, batch: Batch, epoch: int | None = None) -> dict:
        x_in, x = batch["x_in"], batch["x"]
        if self.contractive > 0:
            z, jacobian = encode_with_jacobian(module.encoder, x_in)
        else:
            z = module.encoder(x_in)
        reconstruction = losses.reconstruction(module.decoder(z), x, self.loss)
        loss, terms = reconstruction, {}
        if self.sparsity == "l1":
            terms["sparsity"] = losses.l1_activity(z)
        elif self.sparsity == "kl":
            terms["sparsity"] = losses.kl_sparsity(z, self.sparsity_target)
        if "sparsity" in terms:
            weight = self.sparsity_weight
            if weight is None:
                weight = DEFAULT_SPARSITY_WEIGHT[self.sparsity]
            loss = loss + weight * terms["sparsity"]
        if self.contractive > 0:
            terms["contractive"] = jacobian
            loss = loss + self.contractive * jacobian
        if self.l1 > 0:
            terms["l1"] = losses.l1_weights(p for p in module.parameters() if p.ndim > 1)
            loss = loss + self.l1 * terms["l1"]
        if terms:
            terms["reconstruction"] = reconstruction
        return {"loss": loss, **terms}


def encode_with_jacobian(encoder: nn.Module, x_in: torch.Tensor):
    """Codes and the mean squared Frobenius norm of the encoder Jacobian at ``x_in``.

    Also under ``no_grad`` (the validation loss), so early stopping watches the same
    objective; the graph is kept only when training.
    """
    layers = [m for m in encoder if any(True for _ in m.parameters(recurse=False))]
    others = {type(m) for m in encoder if m not in layers}
    if len(layers) == 1 and isinstance(layers[0], nn.Linear) and others <= {nn.Sigmoid}:
        # One-layer linear or sigmoid encoder: closed form, no extra backward passes.
        z = encoder(x_in)
        kind = "sigmoid" if others else "linear"
        return z, losses.contractive_one_layer(z, layers[0].weight, kind)
    grad_enabled = torch.is_grad_enabled()
    with torch.enable_grad():
        x_req = x_in.detach().requires_grad_(True)
        z = encoder(x_req)
        penalty = losses.contractive(z, x_req, create_graph=grad_enabled)
    if not grad_enabled:
        z, penalty = z.detach(), penalty.detach()
    return z, penalty


def kl_weight(epoch: int | None, beta: float, warmup_epochs: int) -> float:
    """Weight of the KL term in ``epoch`` (1-based) of a KL warm-up.

    0 in the first epoch, rising linearly to ``beta``, reached in epoch
    ``warmup_epochs + 1`` and kept from then on; ``warmup_epochs=0`` is ``beta`` throughout,
    and so is ``epoch=None`` (evaluation).
    """
    if warmup_epochs <= 0 or epoch is None:
        return float(beta)
    return float(beta) * min(1.0, (epoch - 1) / warmup_epochs)


@dataclass(frozen=True)
class ELBO:
    """Negative evidence lower bound of a Gaussian-posterior VAE: reconstruction + w * KL.

    Both terms are summed over features (latent dimensions) per row and averaged over rows.
    In training (module in train mode) the decoder sees a reparameterised posterior draw and
    the KL weight follows :func:`kl_weight`; in evaluation it sees the posterior mean and the
    weight is ``beta``.
    """

    loss: str = "mse"
    beta: float = 1.0
    warmup_epochs: int = 0

    def per_row(self, module: nn.Module, x_in: torch.Tensor, x: torch.Tensor, *,
                sample: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-row reconstruction loss and KL, each (n,), scaled units.

        ``sample``: decode a reparameterised posterior draw, else the mean.
        """
        mean, log_var = module.encoder.distribution(x_in)
        z = reparameterize(mean, log_var) if sample else mean
        reconstruction = losses.reconstruction_per_row(module.decoder(z), x, self.loss)
        return reconstruction, losses.gaussian_kl(mean, log_var).sum(1)

    def __call__(self, module: nn.Module, batch: Batch, epoch: int | None = None) -> dict:
        x = batch["x"]
        reconstruction, kl = self.per_row(module, batch["x_in"], x, sample=module.training)
        weight = kl_weight(epoch, self.beta, self.warmup_epochs)
        reconstruction, kl = reconstruction.mean(), kl.mean()
        return {
            "loss": reconstruction + weight * kl,
            "reconstruction": reconstruction,
            "kl": kl,
            "kl_weight": x.new_tensor(weight),
        }


@dataclass(frozen=True)
class CrossEntropy:
    """Cross-entropy of ``module(x_in)``'s logits against the class indices ``y``; the
    training accuracy is recorded beside it."""

    def __call__(self, module: nn.Module, batch: Batch, epoch: int | None = None) -> dict:
        logits = module(batch["x_in"])
        y = batch["y"]
        return {
            "loss": F.cross_entropy(logits, y),
            "accuracy": (logits.argmax(1) == y).float().mean(),
        }


@dataclass(frozen=True)
class WeightedCrossEntropy:
    """Cross-entropy with a weight per row: ``mean(weight * CE(module(x_in), y))``.

    The semi-supervised :class:`~aekit.EncoderClassifier` trains on every row with this:
    labelled rows weigh 1, rows labelled by propagation their certainty times a class
    balance (:func:`aekit.propagation.pseudo_labels`). ``batch["weight"]`` holds the
    weights; a batch without it (a labelled hold-out) weighs every row 1, which is
    :class:`CrossEntropy`. ``label_smoothing`` (torch's) spreads that share of each target
    over all classes. The recorded ``accuracy`` is the unweighted agreement with ``y``.
    """

    label_smoothing: float = 0.0

    def __call__(self, module: nn.Module, batch: Batch, epoch: int | None = None) -> dict:
        logits = module(batch["x_in"])
        y = batch["y"]
        per_row = F.cross_entropy(logits, y, reduction="none",
                                  label_smoothing=self.label_smoothing)
        weight = batch.get("weight")
        loss = per_row.mean() if weight is None else (per_row * weight).mean()
        return {"loss": loss, "accuracy": (logits.argmax(1) == y).float().mean()}
