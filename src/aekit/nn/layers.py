"""Small building blocks shared by every architecture: the in-model scaler, activations,
the tied linear layer, identity initialisation and the input corruptions of denoising.

The scaler is a module (not a preprocessing step) so that its statistics travel with the
weights: they are saved in the same safetensors file, moved to the same device, and
inverted at the output without the caller having to remember anything.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

SCALERS = ("standard", "minmax", "sample", None)

def _torch_activations() -> dict:
    """Every element-wise activation of ``torch.nn`` that needs no arguments, by its
    lower-case name (``"gelu"``, ``"silu"``, ``"softplus"``, ``"mish"``, ...)."""
    from torch.nn.modules import activation

    not_elementwise = {"Threshold", "GLU", "MultiheadAttention", "Softmin", "Softmax",
                       "Softmax2d", "LogSoftmax"}  # need arguments, or mix units
    words = {"LeakyReLU": "leaky_relu", "LogSigmoid": "log_sigmoid"}
    return {words.get(name, name.lower()): getattr(activation, name)
            for name in activation.__all__ if name not in not_elementwise}


ACTIVATIONS = {
    **_torch_activations(),
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "linear": nn.Identity,
}
"""Hidden-layer activations by name: ``"linear"`` and every element-wise, argument-free
activation of ``torch.nn`` in lower case (``"relu"``, ``"elu"``, ``"gelu"``, ``"silu"``,
``"softplus"``, ``"leaky_relu"``, ``"log_sigmoid"``, ...)."""


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

    @torch.no_grad()
    def fit_chunks(self, chunks: Iterable[torch.Tensor]) -> torch.Tensor:
        """Fit on rows that arrive chunk by chunk, for data larger than memory.

        The statistics are those of :meth:`fit` on all the rows at once, up to float64
        rounding: means and variances are merged chunk by chunk (the pairwise update of
        Chan, Golub & LeVeque, stable where raw sums of squares are not), minima and maxima
        are running ones, and the per-row statistics of ``"sample"`` are summed in float64.

        Parameters
        ----------
        chunks : iterable of torch.Tensor of shape (n_i, n_features)
            On this scaler's device; consumed once.

        Returns
        -------
        bounds : torch.Tensor of shape (2, n_features)
            Each feature's minimum (row 0) and maximum (row 1) over all the rows once
            scaled: what choosing an output activation or bounding a denoising corruption
            needs to know, without the rows.
        """
        n, mean, m2, low, high, row_sums = 0, None, None, None, None, None
        for X in chunks:
            X = X.to(self.offset.dtype)
            m = X.shape[0]
            if m == 0:
                continue
            if self.kind == "sample":  # per-row scaling: the bounds are the scaled rows'
                X_row_mean, X_row_std = _row_stats(X)
                sums = torch.stack([X_row_mean.double().sum(), X_row_std.double().sum()])
                row_sums = sums if row_sums is None else row_sums + sums
                X = self(X)
            low = X.amin(0) if low is None else torch.minimum(low, X.amin(0))
            high = X.amax(0) if high is None else torch.maximum(high, X.amax(0))
            if self.kind == "standard":
                var_m, mean_m = torch.var_mean(X.double(), dim=0, correction=0)
                if mean is None:
                    mean, m2 = mean_m, var_m * m
                else:
                    delta = mean_m - mean
                    mean = mean + delta * (m / (n + m))
                    m2 = m2 + var_m * m + delta.square() * (n * m / (n + m))
            n += m
            del X  # freed before the next chunk arrives
        if n == 0:
            raise ValueError("no rows to fit the scaler on")
        if self.kind == "standard":
            self.offset.copy_(mean)
            self.scale.copy_(_safe_scale((m2 / n).sqrt()))
        elif self.kind == "minmax":
            self.offset.copy_(low)
            self.scale.copy_(_safe_scale((high - low).double()))
        elif self.kind == "sample":
            self.offset.fill_((row_sums[0] / n).item())
            self.scale.fill_((row_sums[1] / n).item())
            return torch.stack([low, high])
        # Affine with a positive scale, so monotone: the raw extremes map to the scaled ones.
        return self(torch.stack([low, high]))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Caller's units -> network units. X: (n, n_features)."""
        # In place on the difference: one temporary the size of X, not two.
        if self.kind == "sample":
            mean, std = _row_stats(X)
            return (X - mean).div_(std)
        if self.kind is None:
            return X
        return (X - self.offset).div_(self.scale)

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


class ScaledAutoEncoder(nn.Module):
    """An encoder and a decoder with the in-model :class:`Scaler` in front and behind.

    Subclasses set ``scaler``, ``encoder`` and ``decoder``. ``encoder`` and ``decoder`` work
    in the network's (scaled) units, which is what the training loop feeds them; ``encode``
    and ``decode`` work in the caller's units.
    """

    scaler: Scaler
    encoder: nn.Module
    decoder: nn.Module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct scaled rows: (n, ...) -> (n, ...), network units."""
        return self.decoder(self.encoder(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Caller's units (n, n_features) -> codes (n, n_components)."""
        return self.encoder(self.scaler(x))

    def decode(self, z: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        """Codes (n, n_components) -> rows in the caller's units (n, n_features).

        ``like`` is the input being reconstructed, needed only by the per-row scaler.
        """
        return self.scaler.inverse(self.decoder(z), like)


class ModuleAutoEncoder(ScaledAutoEncoder):
    """The in-model :class:`Scaler` around an encoder and a decoder given as modules (a
    custom ``torch.nn.Module``, as Keras users bring their own layers).

    ``encoder`` maps scaled rows (n, n_features) to codes (n, n_components); ``decoder``
    maps codes back to rows (n, n_features), in network units.
    """

    def __init__(self, n_features: int, scaler: str | None, encoder: nn.Module,
                 decoder: nn.Module):
        super().__init__()
        self.scaler = Scaler(n_features, scaler)
        self.encoder = encoder
        self.decoder = decoder


def _safe_scale(spread: torch.Tensor) -> torch.Tensor:
    # Constant features (spread 0) are left unscaled rather than divided by zero; a spread
    # below float32 resolution relative to nothing is still a real spread for float64 stats.
    return torch.where(spread > 1e-12, spread, torch.ones_like(spread)).float()


def _row_stats(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # (n, 1) each, so they broadcast over features.
    mean = X.mean(1, keepdim=True)
    std = X.std(1, unbiased=False, keepdim=True)
    return mean, torch.where(std > 1e-12, std, torch.ones_like(std))


# --------------------------------------------------------------------------- tied weights
class TiedLinear(nn.Module):
    """Linear layer that uses the transpose of another ``nn.Linear``'s weight; its bias is its own.

    The decoder of a tied autoencoder is made of these: it has no weight matrices of its own,
    so it trains and stores half the parameters. The source layer is held by reference and
    *not* registered as a submodule, so the shared weight appears once in ``parameters()`` and
    ``state_dict()`` (under the encoder's name); rebuilding the module ties it again.

    Parameters
    ----------
    source : nn.Linear
        The encoder layer mapping ``in -> out``; this layer maps ``out -> in``.
    """

    def __init__(self, source: nn.Linear):
        super().__init__()
        self._source = (source,)  # in a tuple, so nn.Module does not register it as a child
        self.in_features, self.out_features = source.out_features, source.in_features
        self.bias = nn.Parameter(torch.zeros(source.in_features))

    @property
    def weight(self) -> torch.Tensor:
        """The tied weight, (out_features, in_features): a view of the source's transpose."""
        return self._source[0].weight.t()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, tied=True"


@torch.no_grad()
def identity_init_(module: nn.Module) -> nn.Module:
    """Set every linear weight to the identity (zero-padded when not square), biases to zero.

    A square linear autoencoder initialised this way reconstructs its input before any
    training; the usual check that a network can represent the identity.
    """
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.eye_(m.weight)
        if isinstance(m, (nn.Linear, TiedLinear)) and m.bias is not None:
            m.bias.zero_()
    return module


# --------------------------------------------------------------------------- corruption
NOISES = (None, "gaussian", "masking", "salt_pepper")


def gaussian_noise(x: torch.Tensor, std, low=None, high=None) -> torch.Tensor:
    """``x + std * N(0, 1)``, clipped to ``[low, high]`` when given (all broadcast over rows)."""
    out = x + std * torch.randn_like(x)
    if low is not None or high is not None:
        out = torch.clamp(out, min=low, max=high)
    return out


def masking_noise(x: torch.Tensor, fraction: float, fill) -> torch.Tensor:
    """Set a random ``fraction`` of the entries to ``fill`` (a scalar or one value per feature)."""
    hit = torch.rand_like(x) < fraction
    return torch.where(hit, torch.as_tensor(fill, dtype=x.dtype, device=x.device), x)


def salt_and_pepper_noise(x: torch.Tensor, fraction: float, low, high) -> torch.Tensor:
    """Set a random ``fraction`` of the entries to ``low`` or ``high`` (probability 1/2 each)."""
    hit = torch.rand_like(x) < fraction
    salt = torch.rand_like(x) < 0.5
    low = torch.as_tensor(low, dtype=x.dtype, device=x.device)
    high = torch.as_tensor(high, dtype=x.dtype, device=x.device)
    return torch.where(hit, torch.where(salt, high, low), x)


def make_corruption(kind: str | None, level: float, low: torch.Tensor, high: torch.Tensor):
    """The corruption of a denoising autoencoder, as a function of a batch; None for no noise.

    Parameters
    ----------
    kind : {None, "gaussian", "masking", "salt_pepper"}
        ``"gaussian"``: add noise of standard deviation ``level * (high - low)``, then clip
        to ``[low, high]``. ``"masking"``: set a fraction ``level`` of the entries to
        ``low``. ``"salt_pepper"``: set a fraction ``level`` of the entries to ``low`` or
        ``high``, each with probability 1/2.
    level : float
    low, high : torch.Tensor of shape (n_features,)
        Per-feature bounds of the values, in the units of the batches (the network's):
        usually each feature's training minimum and maximum. Random numbers come from
        torch's global generator, so a seeded fit corrupts reproducibly.
    """
    if kind is None:
        return None
    if kind == "gaussian":
        std = level * (high - low)
        return lambda x: gaussian_noise(x, std, low, high)
    if kind == "masking":
        return lambda x: masking_noise(x, level, low)
    if kind == "salt_pepper":
        return lambda x: salt_and_pepper_noise(x, level, low, high)
    raise ValueError(f"noise={kind!r} is not supported; use one of {list(NOISES)}")
