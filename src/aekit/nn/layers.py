"""Small building blocks shared by every architecture: the in-model scaler and activations.

The scaler is a module (not a preprocessing step) so that its statistics travel with the
weights: they are saved in the same safetensors file, moved to the same device, and
inverted at the output without the caller having to remember anything.
"""

from __future__ import annotations

import torch
from torch import nn

SCALERS = ("standard", "minmax", "sample", None)

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "elu": nn.ELU,
    "selu": nn.SELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "linear": nn.Identity,
}


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module for ``name`` (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"activation={name!r} is not supported; use one of {sorted(ACTIVATIONS)}"
        ) from None


class Scaler(nn.Module):
    """Affine per-feature (or per-row) scaling fitted on the training data.

    ``forward`` maps data from the caller's units to the network's units and ``inverse``
    maps back. Statistics are buffers, so ``state_dict`` carries them.

    Parameters
    ----------
    n_features : int
        Number of input features.
    kind : {"standard", "minmax", "sample", None}
        ``"standard"``: zero mean, unit variance per feature. ``"minmax"``: each feature to
        [0, 1]. ``"sample"``: each row standardised by its own mean and standard deviation
        (``inverse`` of a reconstruction uses that row's statistics; decoding bare codes uses
        the training average of the row statistics). ``None``: identity.
    """

    def __init__(self, n_features: int, kind: str | None = "standard"):
        super().__init__()
        if kind not in SCALERS:
            raise ValueError(f"scaler={kind!r} is not supported; use one of {SCALERS}")
        self.kind = kind
        # For "sample", `offset`/`scale` hold the average row mean / row std (one value,
        # broadcast), used only when decoding codes whose rows' statistics are unknown.
        self.register_buffer("offset", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))

    @torch.no_grad()
    def fit(self, X: torch.Tensor) -> "Scaler":
        """Fit the statistics on ``X`` of shape (n_samples, n_features)."""
        X = X.to(self.offset.dtype)
        if self.kind == "standard":
            # float64 moments: float32 sums lose the spread of data like 1.109 +- 0.001.
            X64 = X.double()
            self.offset.copy_(X64.mean(0))
            self.scale.copy_(_safe_scale(X64.std(0, unbiased=False)))
        elif self.kind == "minmax":
            lo, hi = X.amin(0), X.amax(0)
            self.offset.copy_(lo)
            self.scale.copy_(_safe_scale((hi - lo).double()))
        elif self.kind == "sample":
            mean, std = _row_stats(X)
            self.offset.fill_(mean.mean().item())
            self.scale.fill_(std.mean().item())
        return self

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Caller's units -> network units. X: (n, n_features)."""
        if self.kind == "sample":
            mean, std = _row_stats(X)
            return (X - mean) / std
        if self.kind is None:
            return X
        return (X - self.offset) / self.scale

    def inverse(self, Y: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        """Network units -> caller's units.

        ``like`` is the original input whose rows ``Y`` reconstructs; only the per-row
        ("sample") scaler needs it, to restore each row's own mean and spread.
        """
        if self.kind == "sample" and like is not None:
            mean, std = _row_stats(like)
            return Y * std + mean
        if self.kind is None:
            return Y
        return Y * self.scale + self.offset


def _safe_scale(spread: torch.Tensor) -> torch.Tensor:
    # Constant features (spread 0) are left unscaled rather than divided by zero; a spread
    # below float32 resolution relative to nothing is still a real spread for float64 stats.
    return torch.where(spread > 1e-12, spread, torch.ones_like(spread)).float()


def _row_stats(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # (n, 1) each, so they broadcast over features.
    mean = X.mean(1, keepdim=True)
    std = X.std(1, unbiased=False, keepdim=True)
    return mean, torch.where(std > 1e-12, std, torch.ones_like(std))
