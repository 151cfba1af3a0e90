"""Loss terms as pure functions of tensors, so variants combine freely outside ``forward``.

Every term is computed in float32 whatever precision the network ran in (bfloat16 under
``precision="auto"`` on some hardware): sums over thousands of elements lose too much in
bfloat16, and recorded terms must add up to the recorded loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nn import invariant

RECONSTRUCTION_LOSSES = ("mse", "bce")


def reconstruction(x_hat: torch.Tensor, x: torch.Tensor, kind="mse",
                   weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean reconstruction loss over all elements (each row's mean, weighted by ``weight``).

    Parameters
    ----------
    x_hat, x : torch.Tensor of shape (n, ...)
        Reconstruction and target, both in network units.
    kind : {"mse", "bce"} or callable
        ``"bce"`` needs targets in [0, 1] and ``x_hat`` in (0, 1) (a sigmoid output). A
        callable ``kind(x_hat, x)`` returns the mean loss (a scalar, as
        ``torch.nn.functional.l1_loss`` does) or unreduced losses (shape (n,) or (n, ...),
        as ``torch.nn.L1Loss(reduction="none")`` does); only the latter can be weighted.
    weight : torch.Tensor of shape (n,), optional
        Row weights (``sample_weight``, normalised to mean 1 over the training rows): the
        loss is ``mean(weight * row_loss)``.
    """
    x_hat, x = x_hat.float(), x.float()
    if callable(kind):
        out = kind(x_hat, x)
        if not isinstance(out, torch.Tensor) or (out.ndim and out.shape[0] != len(x)):
            # A (n_features,) result would be cut into rows wrongly; a float has no gradient.
            got = (f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor)
                   else f"a {type(out).__name__}")
            raise ValueError(
                f"the custom loss returned {got} for a batch of {len(x)} rows; return a "
                f"tensor: the mean loss (0-d), or one loss per row or per element (shape "
                f"({len(x)},) or ({len(x)}, ...), e.g. torch.nn.L1Loss(reduction='none')).")
        if out.ndim == 0:
            if weight is not None:
                raise ValueError(
                    "sample_weight needs a loss per row, but the custom loss returned one "
                    "number; return unreduced losses, e.g. torch.nn.L1Loss(reduction='none')."
                )
            return out.float()
        return weighted_mean(out.float().reshape(len(x), -1).mean(1), weight)
    if weight is not None:
        return weighted_mean(reconstruction_per_row(x_hat, x, kind) / x[0].numel(), weight)
    if kind in ("mse", "bce"):
        loss = F.mse_loss if kind == "mse" else binary_cross_entropy
        full = loss(x_hat, x)  # torch's reduction: the gradient of every result so far
        if x.numel() <= invariant.PIECE:  # one thread reduces it
            return full
        with torch.no_grad():
            elements = loss(x_hat, x, reduction="none")
        return invariant.mean(elements, full)  # the value's bits the same on any threads
    raise ValueError(f"loss={kind!r} is not supported; use one of {RECONSTRUCTION_LOSSES}")


def binary_cross_entropy(x_hat: torch.Tensor, x: torch.Tensor,
                         reduction: str = "mean") -> torch.Tensor:
    """torch's ``binary_cross_entropy`` of probabilities ``x_hat`` against targets ``x`` in
    [0, 1], computed in float32 with autocast off.

    Under CUDA autocast (``precision="bfloat16"`` or ``"auto"`` on a GPU) torch refuses
    ``F.binary_cross_entropy`` as "unsafe to autocast" (its gradient overflows half
    precision), with advice to change the model; autocast on the CPU runs it in float32.
    Here it runs as on the CPU on every device: the network's products stay in bfloat16,
    the loss in float32.
    """
    with torch.autocast(x_hat.device.type, enabled=False):
        return F.binary_cross_entropy(x_hat.float(), x.float(), reduction=reduction)


def weighted_mean(values: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """``mean(values)``, or ``mean(weight * values)`` with row weights of mean 1 over the
    data, so that a batch's value estimates the weighted mean over all rows (and a batch
    of zero weights contributes 0, not NaN)."""
    if weight is None:
        return values.mean()
    return (values * weight.to(values.dtype)).mean()


def reconstruction_per_row(x_hat: torch.Tensor, x: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Reconstruction loss of each row, summed over its features: shape (n,).

    ``"mse"`` gives the squared error summed over the features: the negative log-likelihood
    of a Gaussian decoder with variance 1/2, up to an additive constant. ``"bce"`` gives the
    negative Bernoulli log-likelihood exactly (targets in [0, 1], ``x_hat`` in (0, 1)).
    """
    x_hat, x = x_hat.float(), x.float()
    if kind == "mse":
        per_element = F.mse_loss(x_hat, x, reduction="none")
    elif kind == "bce":
        per_element = binary_cross_entropy(x_hat, x, reduction="none")
    else:
        raise ValueError(f"loss={kind!r} is not supported; use one of {RECONSTRUCTION_LOSSES}")
    return per_element.flatten(1).sum(1)


def table_per_row(
    x_hat: torch.Tensor,
    x: torch.Tensor,
    weights: torch.Tensor,
    *,
    n_numeric: int,
    pad_index: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Reconstruction loss of each row of a table: shape (n,).

    ``sum_j w_j (x_hat_j - x_j)^2`` over the numeric columns (cells where ``mask`` is 0
    left out) plus ``sum_c w_c CE_c`` over the categorical columns, ``CE_c`` the
    cross-entropy of column ``c``'s block of logits against its category (an index of
    ``-1``, a category unknown at fit time, is left out).

    Parameters
    ----------
    x_hat : torch.Tensor of shape (n, n_numeric + total categories)
        The numeric columns, then one block of logits per categorical column.
    x : torch.Tensor of shape (n, n_numeric + n_categorical)
        The numeric columns, then each categorical column's category index.
    weights : torch.Tensor of shape (n_numeric + n_categorical,)
    n_numeric : int
    pad_index : torch.Tensor of shape (n_categorical, longest block), optional
        Slot ``i`` of block ``c`` in ``x_hat`` (``x_hat.shape[1]``: padding); None when
        every block has the same size (they are then consecutive and equal).
    mask : torch.Tensor of shape (n, n_numeric), optional
        1 where a numeric cell was observed, 0 where it was imputed.
    """
    x_hat, x = x_hat.float(), x.float()
    numeric = (x_hat[:, :n_numeric] - x[:, :n_numeric]).square()
    if mask is not None:
        numeric = numeric * mask
    loss = numeric @ weights[:n_numeric].float()
    n, n_categorical = len(x), x.shape[1] - n_numeric
    if n_categorical:
        # Every block as one row of a (n * n_categorical, longest block) matrix: one
        # cross-entropy kernel on contiguous rows, however many columns.
        if pad_index is None:
            logits = x_hat[:, n_numeric:].reshape(n * n_categorical, -1)
        else:
            padded = torch.cat([x_hat, x_hat.new_full((n, 1), float("-inf"))], 1)
            logits = padded.gather(1, pad_index.reshape(1, -1).expand(n, -1)).view(
                n * n_categorical, -1)
        ce = F.cross_entropy(logits, x[:, n_numeric:].long().reshape(-1), reduction="none",
                             ignore_index=-1).view(n, n_categorical)
        loss = loss + ce @ weights[n_numeric:].float()
    return loss


def gaussian_kl(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) || N(0, 1)) per element, in nats: shape of ``mean``.

    Sum over the last axis for each row's KL of a diagonal Gaussian posterior to the
    standard normal prior.
    """
    mean, log_var = mean.float(), log_var.float()
    return 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var)


# --------------------------------------------------------------------------- regularisers
SPARSITIES = (None, "l1", "kl")


def l1_activity(z: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute code activity ``mean(|z|)`` over rows and units (L1 sparsity); with
    row weights ``weight`` (mean 1 over the data), the weighted mean over rows of each
    row's mean, as :func:`weighted_mean` weighs the reconstruction."""
    if weight is None:
        return z.float().abs().mean()
    return weighted_mean(z.float().abs().mean(1), weight)


def kl_sparsity(z: torch.Tensor, target: float = 0.05, eps: float = 1e-6,
                weight: torch.Tensor | None = None) -> torch.Tensor:
    """KL sparsity penalty on codes in (0, 1) (Ng's sparse autoencoder).

    ``mean_j KL(target || rho_j)`` where ``rho_j`` is unit ``j``'s mean activation over the
    batch; zero when every unit is active ``target`` of the time on average.

    Parameters
    ----------
    z : torch.Tensor of shape (n, k)
        Sigmoid codes.
    target : float
        Desired mean activation, in (0, 1).
    weight : torch.Tensor of shape (n,), optional
        Row weights (mean 1 over the data): ``rho_j`` is then the weighted mean activation,
        and the penalty is multiplied by the batch's mean weight, as the reconstruction's
        :func:`weighted_mean` is, so both count a row of weight 2 as two copies of it and
        a batch of zero weights adds 0.
    """
    z = z.float()
    if weight is None:
        rho = z.mean(0)
    else:
        weight = weight.to(z.dtype)
        # 0 / tiny, not 0 / 0, for a batch of zero weights (whose penalty is then 0 * KL)
        rho = (weight @ z) / weight.sum().clamp_min(torch.finfo(z.dtype).tiny)
    rho = rho.clamp(eps, 1 - eps)
    t = torch.as_tensor(target, dtype=rho.dtype, device=rho.device)
    kl = (t * torch.log(t / rho) + (1 - t) * torch.log((1 - t) / (1 - rho))).mean()
    return kl if weight is None else kl * weight.mean()


def contractive(z: torch.Tensor, x: torch.Tensor, *, create_graph: bool = True,
                weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over rows of the squared Frobenius norm of the encoder Jacobian ``dz/dx``.

    Exact for any encoder that treats rows independently (no batch normalisation): one
    backward pass per code unit ``i`` gives row ``i`` of every row's Jacobian at once, since
    ``d(sum_n z[n, i]) / dx[n]`` is ``dz[n, i] / dx[n]``.

    Parameters
    ----------
    z : torch.Tensor of shape (n, k)
        Codes computed from ``x``.
    x : torch.Tensor of shape (n, d)
        The encoder's input; must require grad.
    create_graph : bool, default=True
        Keep the graph so the penalty can be minimised (False to only measure it).
    weight : torch.Tensor of shape (n,), optional
        Row weights (mean 1 over the data): the weighted mean over rows (:func:`weighted_mean`).
    """
    per_row = weight is not None
    total = torch.zeros(z.shape[0] if per_row else (), dtype=z.dtype, device=z.device)
    for i in range(z.shape[1]):
        (g,) = torch.autograd.grad(
            z[:, i].sum(), x, create_graph=create_graph, retain_graph=True
        )
        total = total + (g.pow(2).flatten(1).sum(1) if per_row else g.pow(2).sum())
    return weighted_mean(total, weight) if per_row else total / z.shape[0]


def contractive_one_layer(z: torch.Tensor, weight: torch.Tensor, activation: str,
                          row_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Closed form of :func:`contractive` for a one-layer encoder ``z = act(x @ W.T + b)``.

    ``||J||_F^2 = sum_i act'(a_i)^2 * sum_j W_ij^2``, with ``act' = z (1 - z)`` for a
    sigmoid and 1 for a linear code; one matrix product instead of ``k`` backward passes.

    Parameters
    ----------
    z : torch.Tensor of shape (n, k)
        The encoder's output.
    weight : torch.Tensor of shape (k, d)
    activation : {"sigmoid", "linear"}
    row_weight : torch.Tensor of shape (n,), optional
        Row weights (mean 1 over the data): the weighted mean over rows (:func:`weighted_mean`).
    """
    row_norms = weight.pow(2).sum(1)  # (k,)
    if activation == "linear":  # the same for every row
        norm = row_norms.sum()
        return norm if row_weight is None else norm * row_weight.to(norm.dtype).mean()
    if activation == "sigmoid":
        return weighted_mean((z * (1 - z)).pow(2) @ row_norms, row_weight)
    raise ValueError(f"no closed-form contractive penalty for activation={activation!r}")


def l1_weights(weights) -> torch.Tensor:
    """Sum of absolute values of the given weight tensors (L1 weight regularisation)."""
    return sum(w.abs().sum() for w in weights)
