"""What each family minimises: ``objective(module, batch, epoch) -> {"loss": ..., terms}``.

An objective is a small frozen object holding the family's hyperparameters and nothing
learned; the fit loop calls it on every batch. ``batch`` is a dict of tensors gathered with
the same row indices:

- ``"x"``: the clean rows in network units (what a reconstruction must give back);
- ``"x_in"``: what the module sees, the corrupted rows when denoising, else ``"x"``;
- ``"y"``: targets (class indices) when the loop was given them;
- ``"mask"``: 1 where a numeric cell was observed, 0 where it was imputed
  (``missing="impute"``), for the table objectives, which leave imputed cells out;
- ``"w"``: row weights (``sample_weight``, mean 1 over the training rows) when given:
  losses are then weighted means over rows.

Reconstruction objectives also return ``"caller_mse"``: the mean squared error per element
in the caller's units (the scaled error times each feature's scale), logged so that the
history compares with the MSE people know; it is not optimised.

``epoch`` is the 1-based training epoch, or None when the loop evaluates the hold-out: a
schedule (the KL warm-up) is then at its final value, so every epoch is compared on one
fixed yardstick. A loop that continues a trained model (``warm_start``) passes the model's
epoch, counted on from the epochs trained before (:class:`ContinuedEpochs`). Extra
entries of the returned dict (``"kl"``, ``"sparsity"``, ...) are averaged per epoch into
the history. Losses stay outside ``forward``, so the terms combine freely.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from . import losses
from ..nn import invariant
from ..nn.layers import Scaler
from ..nn.tabular import has_table
from ..nn.variational import reparameterize

Batch = dict[str, torch.Tensor]

DEFAULT_SPARSITY_WEIGHT = {"l1": 0.1, "kl": 3.0}
"""``sparsity_weight=None``: the penalties differ in scale, so each kind has its own."""


@dataclass(frozen=True)
class Reconstruction:
    """Reconstruction loss plus the penalties of the classic variants (all off by default).

    With row weights (``batch["w"]``) the reconstruction and every penalty measured on the
    rows (the sparsities, the contractive term) weigh a row as that many copies of it;
    ``l1``, on the weights, is the same for any rows.

    Parameters
    ----------
    loss : {"mse", "bce"} or callable
        A callable ``loss(x_hat, x)`` (network units); see
        :func:`aekit.training.losses.reconstruction`.
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

    loss: str | Callable = "mse"
    sparsity: str | None = None
    sparsity_weight: float | None = None
    sparsity_target: float = 0.05
    contractive: float = 0.0
    l1: float = 0.0

    def __call__(self, module: nn.Module, batch: Batch, epoch: int | None = None) -> dict:
        x_in, w = batch["x_in"], batch.get("w")
        # Row weights weigh every term that is a mean over rows, penalties included, so a
        # row of weight 2 counts as two copies of it (fit's sample_weight).
        if self.contractive > 0:
            z, jacobian = encode_with_jacobian(module.encoder, x_in, w)
        else:
            z = module.encoder(x_in)
        x_hat = module.decoder(z)
        reconstruction = self.reconstruction_term(module, x_hat, batch)
        loss, terms = reconstruction, {}
        if self.sparsity == "l1":
            terms["sparsity"] = losses.l1_activity(z, w)
        elif self.sparsity == "kl":
            terms["sparsity"] = losses.kl_sparsity(z, self.sparsity_target, weight=w)
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
        return {"loss": loss, **terms, **caller_mse(module, x_hat, batch["x"])}

    def reconstruction_term(self, module: nn.Module, x_hat: torch.Tensor, batch: Batch):
        """The reconstruction loss of ``x_hat`` against ``batch["x"]`` (a scalar; the
        weighted mean over rows when the batch has weights ``"w"``)."""
        return losses.reconstruction(x_hat, batch["x"], self.loss, batch.get("w"))


def caller_mse(module: nn.Module, x_hat: torch.Tensor, x: torch.Tensor) -> dict:
    """``{"caller_mse": ...}``: the mean squared error per element in the caller's units,
    for the history; empty when the module's scaler is not affine per feature
    (``"sample"``, ``"quantile"``, ``"log"``, ``"auto"`` with a logged column) or a table's.

    The scaled error times each feature's scale: exact for the per-feature scalers, and
    not differentiated (a record, not a term of the loss).
    """
    scaler = getattr(module, "scaler", None)
    if not isinstance(scaler, Scaler) or has_table(module):
        return {}
    # Exact for the scalers that are affine per feature; the others bend the units.
    kind = scaler.kind
    if kind not in (None, "standard", "minmax", "robust", "auto") or (
            kind == "auto" and bool(scaler.logged.any())):
        return {}
    with torch.no_grad():
        # (n, d), a new tensor: scaled and squared in place (no further temporaries)
        diff = x_hat.detach().float().reshape(len(x), -1) - x.float().reshape(len(x), -1)
        if kind is not None:
            diff.mul_(scaler.scale)  # (n, d) * (d,): back into each feature's units
        return {"caller_mse": invariant.mean(diff.square_())}


def encode_with_jacobian(encoder: nn.Module, x_in: torch.Tensor,
                         weight: torch.Tensor | None = None):
    """Codes and the mean squared Frobenius norm of the encoder Jacobian at ``x_in`` (the
    mean over rows weighted by ``weight``, row weights of mean 1, when given).

    In closed form (one matrix product) for an encoder that is exactly
    ``Sequential(Linear)`` or ``Sequential(Linear, Sigmoid)``; any other encoder takes one
    backward pass per code unit. Also under ``no_grad`` (the validation loss), so early
    stopping watches the same objective; the graph is kept only when training.
    """
    # The closed form is derived for z = x W^T + b and z = sigmoid(x W^T + b) only: any other
    # order or extra part (a sigmoid before the layer, two sigmoids) gives another Jacobian.
    kinds = [type(m) for m in encoder] if isinstance(encoder, nn.Sequential) else []
    if kinds in ([nn.Linear], [nn.Linear, nn.Sigmoid]):
        z = encoder(x_in)
        kind = "sigmoid" if len(kinds) == 2 else "linear"
        return z, losses.contractive_one_layer(z, encoder[0].weight, kind, weight)
    grad_enabled = torch.is_grad_enabled()
    with torch.enable_grad():
        x_req = x_in.detach().requires_grad_(True)
        z = encoder(x_req)
        penalty = losses.contractive(z, x_req, create_graph=grad_enabled, weight=weight)
    if not grad_enabled:
        z, penalty = z.detach(), penalty.detach()
    return z, penalty


@dataclass(frozen=True)
class ContinuedEpochs:
    """``objective`` in a loop that continues a model already trained ``epochs_before``
    epochs (a ``warm_start`` fit): it sees the model's epoch, numbered on as the history
    numbers it, so a schedule (the KL warm-up) goes on where it was instead of restarting."""

    objective: Callable
    epochs_before: int

    def __call__(self, module: nn.Module, batch: Batch, epoch: int | None = None) -> dict:
        return self.objective(module, batch,
                              None if epoch is None else epoch + self.epochs_before)


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
                sample: bool, mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-row reconstruction loss and KL, each (n,), scaled units.

        ``sample``: decode a reparameterised posterior draw, else the mean. ``mask``: 1
        where a numeric cell was observed (tables with imputed cells).
        """
        reconstruction, kl, _ = self._per_row(module, x_in, x, sample=sample, mask=mask)
        return reconstruction, kl

    def _per_row(self, module, x_in, x, *, sample: bool, mask=None):
        mean, log_var = module.encoder.distribution(x_in)
        z = reparameterize(mean, log_var) if sample else mean
        x_hat = module.decoder(z)
        reconstruction = self.reconstruction_per_row(module, x_hat, x, mask)
        return reconstruction, losses.gaussian_kl(mean, log_var).sum(1), x_hat

    def reconstruction_per_row(self, module: nn.Module, x_hat: torch.Tensor, x: torch.Tensor,
                               mask: torch.Tensor | None = None) -> torch.Tensor:
        """Each row's reconstruction negative log-likelihood (up to a constant), (n,)."""
        return losses.reconstruction_per_row(x_hat, x, self.loss)

    def __call__(self, module: nn.Module, batch: Batch, epoch: int | None = None) -> dict:
        x, w = batch["x"], batch.get("w")
        reconstruction, kl, x_hat = self._per_row(module, batch["x_in"], x,
                                                  sample=module.training,
                                                  mask=batch.get("mask"))
        weight = kl_weight(epoch, self.beta, self.warmup_epochs)
        reconstruction = losses.weighted_mean(reconstruction, w)
        kl = losses.weighted_mean(kl, w)
        return {
            "loss": reconstruction + weight * kl,
            "reconstruction": reconstruction,
            "kl": kl,
            "kl_weight": x.new_tensor(weight),
            **caller_mse(module, x_hat, x),
        }


@dataclass(frozen=True)
class CrossEntropy:
    """Cross-entropy of ``module(x_in)``'s logits against the class indices ``y``, a
    weighted mean over rows when the batch has weights ``"w"``; the (unweighted) training
    accuracy is recorded beside it.

    The semi-supervised :class:`~aekit.EncoderClassifier` weighs labelled rows 1 and rows
    labelled by propagation their certainty times a class balance
    (:func:`aekit.semisupervised.propagation.pseudo_labels`). ``label_smoothing`` (torch's)
    spreads that share of each target over all classes.
    """

    label_smoothing: float = 0.0

    def __call__(self, module: nn.Module, batch: Batch, epoch: int | None = None) -> dict:
        logits = module(batch["x_in"])
        y = batch["y"]
        per_row = F.cross_entropy(logits, y, reduction="none",
                                  label_smoothing=self.label_smoothing)
        return {
            "loss": losses.weighted_mean(per_row, batch.get("w")),
            "accuracy": (logits.argmax(1) == y).float().mean(),
        }


@dataclass(frozen=True)
class LadderCost:
    """The ladder network's cost (Rasmus et al. 2015): the corrupted encoder's
    cross-entropy on a batch of labelled rows plus the weighted denoising errors of a batch
    of unlabelled rows (:class:`aekit.nn.ladder.LadderNet`).

    Training batches carry the unlabelled rows as ``"x_in"`` and the labelled ones as
    ``"paired_x"`` / ``"paired_y"`` (:func:`aekit.training.loop.fit_loop`'s ``paired``
    stream). Without them (evaluation) it is the clean classifier's cross-entropy on
    ``"x_in"`` / ``"y"``.

    Parameters
    ----------
    noise_std : float
        Standard deviation of the Gaussian noise on the input and on every normalised
        pre-activation of the corrupted encoder.
    denoising_costs : tuple of float
        ``lambda(l)`` of layers 0 (the input) to L (the classes); layers below the module's
        ``lowest`` have no decoder and must be 0.
    label_smoothing : float
        Of the training cross-entropy (``F.cross_entropy``'s); the evaluation cost is the
        plain cross-entropy.
    joint_statistics : bool
        Normalise the corrupted pass's labelled and unlabelled rows together (else each
        part with its own batch statistics).
    """

    noise_std: float = 0.3
    denoising_costs: tuple = ()
    label_smoothing: float = 0.0
    joint_statistics: bool = False

    def __call__(self, module: nn.Module, batch: Batch, epoch: int | None = None) -> dict:
        if "paired_x" not in batch:
            logits = module.classify(batch["x_in"])
            y = batch["y"]
            return {"loss": F.cross_entropy(logits, y),
                    "accuracy": (logits.argmax(1) == y).float().mean()}
        y = batch["paired_y"]
        logits, errors = module.ladder_terms(batch["paired_x"], batch["x_in"], self.noise_std,
                                             joint=self.joint_statistics)
        supervised = F.cross_entropy(logits, y, label_smoothing=self.label_smoothing)
        denoising = sum((self.denoising_costs[l] * e for l, e in errors.items()),
                        supervised.new_zeros(()))
        return {"loss": supervised + denoising, "supervised": supervised,
                "denoising": denoising, "accuracy": (logits.argmax(1) == y).float().mean()}


# --------------------------------------------------------------------------- tables
def _table_terms(module: nn.Module, x_hat: torch.Tensor, x: torch.Tensor, mask):
    """Per-row loss of a table (see :func:`aekit.training.losses.table_per_row`) and its number of
    columns. A module without categorical columns (rows with imputed cells) is all
    numeric, each column weighted 1."""
    scaler = module.scaler
    if has_table(module):
        pad = None if scaler.uniform else scaler.pad_index
        per_row = losses.table_per_row(x_hat, x, scaler.weights, n_numeric=scaler.n_numeric,
                                       pad_index=pad, mask=mask)
        return per_row, scaler.n_features
    weights = torch.ones(x.shape[1], device=x.device)
    return losses.table_per_row(x_hat, x, weights, n_numeric=x.shape[1], mask=mask), x.shape[1]


@dataclass(frozen=True)
class TabularReconstruction(Reconstruction):
    """:class:`Reconstruction` of a table: per column type, and imputed cells left out.

    The loss is the mean over rows and columns of each column's term: a numeric column's
    squared error in network units over its training variance (so predicting its mean
    costs 1; imputed cells, where ``batch["mask"]`` is 0, cost 0), a categorical column's
    cross-entropy in nats (predicting its frequencies costs its entropy), divided by
    ``entropy / 3`` beyond 3 nats (:data:`aekit.nn.tabular.ENTROPY_CAP`). No column
    dominates by its units, and no block by its number of categories: a cross-entropy's
    gradient on the logits is bounded, and a column of many categories counts like one
    of 20 (the alternatives tried: ``docs/decisions.md``, "Tables and scaling").
    """

    def reconstruction_term(self, module: nn.Module, x_hat: torch.Tensor, batch: Batch):
        per_row, n_columns = _table_terms(module, x_hat, batch["x"], batch.get("mask"))
        return losses.weighted_mean(per_row, batch.get("w")) / n_columns


@dataclass(frozen=True)
class TabularELBO(ELBO):
    """:class:`ELBO` of a table: the reconstruction term is the sum of the numeric columns'
    squared errors (a Gaussian likelihood, as ``loss="mse"``; imputed cells left out) and
    of the categorical columns' cross-entropies (their exact categorical likelihood)."""

    def reconstruction_per_row(self, module: nn.Module, x_hat: torch.Tensor, x: torch.Tensor,
                               mask: torch.Tensor | None = None) -> torch.Tensor:
        scaler = module.scaler
        if not has_table(module):
            numeric = (x_hat.float() - x.float()).square()
            return (numeric * mask if mask is not None else numeric).sum(1)
        n_num = scaler.n_numeric
        weights = torch.ones_like(scaler.weights)
        pad = None if scaler.uniform else scaler.pad_index
        return losses.table_per_row(x_hat, x, weights, n_numeric=n_num, pad_index=pad, mask=mask)


def for_table(objective):
    """The table version of ``objective`` (same parameters): :class:`TabularReconstruction`
    for a :class:`Reconstruction`, :class:`TabularELBO` for an :class:`ELBO`."""
    if isinstance(objective, (TabularReconstruction, TabularELBO)):
        return objective
    for plain, table in ((Reconstruction, TabularReconstruction), (ELBO, TabularELBO)):
        if isinstance(objective, plain):
            return table(**{f.name: getattr(objective, f.name) for f in fields(objective)})
    raise TypeError(f"{type(objective).__name__} has no version for tables")


@dataclass(frozen=True)
class EnsembleReconstruction:
    """Mean error per column (``module.column_errors``: squared errors) of each member of an
    ensemble on its own rows, averaged over the members
    (:class:`aekit.nn.ensemble.EnsembleAutoEncoder`).

    ``batch["x"]`` is (n, M, d): row ``i`` of member ``m`` is ``x[i, m]``, so one batch draw
    gives every member a batch of its own rows. ``batch["w"]`` (n, M), when given, weighs
    each member's rows (0: a row trimmed from its training). In evaluation (``epoch`` None)
    without weights, each member's ``trim`` share of worst-reconstructed rows is left out
    of the loss: a hold-out that may hold anomalies is judged on its clean-looking rows.
    """

    trim: float = 0.0

    def __call__(self, module: nn.Module, batch: Batch, epoch: int | None = None) -> dict:
        x_in, x = batch["x_in"].transpose(0, 1), batch["x"].transpose(0, 1)  # (M, n, d)
        err = module.column_errors(x_in, x)[0].mean(2)  # (M, n)
        weights = batch.get("w")
        if weights is not None:
            weights = weights.t().to(err.dtype)
        elif epoch is None and self.trim > 0 and err.shape[1] > 1:
            n_kept = max(1, round((1 - self.trim) * err.shape[1]))
            cut = err.detach().kthvalue(n_kept, dim=1, keepdim=True).values
            weights = (err.detach() <= cut).to(err.dtype)
        if weights is None:
            return {"loss": err.mean()}
        per_member = (err * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return {"loss": per_member.mean()}
