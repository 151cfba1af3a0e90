"""Small building blocks shared by every architecture: the in-model scaler, activations,
the tied linear layer, identity initialisation and the input corruptions of denoising.

The scaler is a module (not a preprocessing step) so that its statistics travel with the
weights: they are saved in the same safetensors file, moved to the same device, and
inverted at the output without the caller having to remember anything.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from ..core.stats import IQR_TO_SIGMA, robust_location_scale
from .invariant import thread_invariant, torch_activations

SCALERS = ("auto", "standard", "robust", "quantile", "log", "minmax", "sample", None)
"""Kinds of :class:`Scaler`. ``"auto"``, ``"robust"``, ``"quantile"`` and ``"log"`` work
column by column from order statistics (medians, quantiles), fitted on a row sample."""

AUTO_KNEE = IQR_TO_SIGMA / 2
"""Where the ``"auto"`` and ``"log"`` maps bend: half the interquartile range, in robust
standard deviations (0.674)."""

TAIL_RATIO = 10.0
"""``"auto"`` log-transforms a column whose values spread more than this many times as far
as their bulk (see :func:`tail_ratios`): standardised, the bulk of its rows would be
squeezed into a sliver of the scaled range."""

POINT_MASS = 0.1
"""A value shared by at least this share of a column's rows is a point mass, which
:func:`tail_ratios` leaves out."""

SPREAD_SHARE = 0.2
""":func:`tail_ratios` judges a column only when at least this share of its rows is left
once its point masses are out: a column that is 80% one value (a border pixel, a rare
flag) is nearly constant, and its tail is a handful of rows."""

N_QUANTILES = 1000
"""Knots of the ``"quantile"`` scaler per column (as scikit-learn's QuantileTransformer)."""

SAMPLE_ELEMENTS = 1 << 20
"""Order statistics are taken on a uniform sample of at most this many values (rows x
columns, at least 1,000 rows): 4 MiB of float32, whatever the size of the data."""

_NORMAL_EPS = 1e-7  # the "quantile" scaler's uniform values are clipped to [eps, 1 - eps]


def _torch_activations() -> dict:
    """Every element-wise activation of ``torch.nn`` that needs no arguments, by its
    lower-case name (``"gelu"``, ``"silu"``, ``"softplus"``, ``"mish"``, ...), each in its
    thread-invariant form (:func:`~aekit.nn.invariant.thread_invariant`)."""
    words = {"LeakyReLU": "leaky_relu", "LogSigmoid": "log_sigmoid"}
    return {words.get(name, name.lower()): thread_invariant(cls)
            for name, cls in torch_activations(elementwise=True).items()
            if name != "Threshold"}  # needs arguments


ACTIVATIONS = {
    **_torch_activations(),
    "leaky_relu": lambda: nn.LeakyReLU(0.01),  # exact arithmetic: no pieces needed
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


def tail_ratios(X: torch.Tensor) -> torch.Tensor:
    """Heavy-tail statistic of each column: how far its values spread (their standard
    deviation) over how far its bulk spreads (half its interquartile range), point masses
    left out.

    A value that at least :data:`POINT_MASS` of the rows share (the zero background of an
    image, the 0 of a duration or a count) is left out first: a log would not spread it,
    and it would make the bulk look narrower than the values are. 1.5 for normal data, 1.2
    for uniform (bounded columns: pixels, rates), 2 for exponential, 3 for a log-normal of
    sigma 1, about 28 for sigma 2, 20 to 1,000 for a ratio a/b of uniforms, thousands for
    byte counts. Columns left with fewer than 20 rows, or than :data:`SPREAD_SHARE` of the
    rows, give 0.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)

    Returns
    -------
    ratios : torch.Tensor of shape (n_features,), float64
    """
    n, d = X.shape
    S = torch.sort(X.double(), 0).values
    start = torch.ones_like(S, dtype=torch.bool)
    start[1:] = S[1:] != S[:-1]
    run = torch.cumsum(start, 0) - 1 + torch.arange(d, device=S.device) * n  # (n, d) ids
    lengths = torch.zeros(n * d, device=S.device).scatter_add_(
        0, run.flatten(), torch.ones(n * d, device=S.device))[run]
    U = torch.where(lengths >= POINT_MASS * n, torch.full_like(S, float("nan")), S)
    count = (~U.isnan()).sum(0)
    mean = U.nansum(0) / count.clamp(min=1)
    std = ((U - mean).square().nansum(0) / count.clamp(min=1)).sqrt()
    q1, q3 = torch.nanquantile(U, torch.tensor([0.25, 0.75], dtype=U.dtype,
                                               device=U.device), dim=0)
    spread = (q3 - q1) / 2
    ok = (count >= max(20, SPREAD_SHARE * n)) & (spread > 0)
    return torch.where(ok, std / torch.where(ok, spread, torch.ones_like(spread)),
                       torch.zeros_like(std))


def _median_spread(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each column's median and the knee of the ``"auto"``/``"log"`` maps: half its
    interquartile range (``AUTO_KNEE`` robust standard deviations, see
    :func:`aekit.core.stats.robust_location_scale` for the fallbacks); both (n_features,)."""
    median, scale = robust_location_scale(X, dim=0)
    return median, scale * AUTO_KNEE


class Scaler(nn.Module):
    """Per-feature (or per-row) scaling fitted on the training data, inverted exactly.

    ``forward`` maps data from the caller's units to the network's units and ``inverse``
    maps back. Statistics are buffers, so ``state_dict`` carries them.

    Parameters
    ----------
    n_features : int
        Number of input features.
    kind : {"auto", "standard", "robust", "quantile", "log", "minmax", "sample", None}
        ``"standard"``: zero mean, unit variance per feature. ``"auto"``: each column
        standardised, after a signed log ``sign(x - m) * log1p(|x - m| / s)`` (``m`` its
        median, ``s`` half its interquartile range) where the column is heavy-tailed
        (:func:`tail_ratios` above :data:`TAIL_RATIO`); ``"log"``: that on every column.
        ``"robust"``: minus the median, over the interquartile range / 1.349 (scikit-learn's
        ``RobustScaler(unit_variance=True)``; the fallbacks of a column that is mostly one
        value are :func:`aekit.core.stats.robust_location_scale`'s). ``"quantile"``: each column
        through its empirical distribution function onto a standard normal (:data:`N_QUANTILES`
        knots, linear between them; values beyond the training range go to its ends). ``"minmax"``:
        each feature to [0, 1]. ``"sample"``: each row standardised by its own mean and standard
        deviation (``inverse`` of a reconstruction uses that row's statistics; decoding bare
        codes uses the training average of the row statistics). ``None``: identity. Every
        kind is monotone per column and inverted exactly within the training range.
    unit_range : bool, default=False
        With ``"auto"``: when every training value lies in [0, 1], leave the data as they
        are (the identity), so that a sigmoid output can reach every value (the model
        asks for one: ``output_activation="sigmoid"``).
    """

    def __init__(self, n_features: int, kind: str | None = "standard", *,
                 unit_range: bool = False):
        super().__init__()
        if kind not in SCALERS:
            raise ValueError(f"scaler={kind!r} is not supported; use one of {SCALERS}")
        self.kind = kind
        self.unit_range = unit_range and kind == "auto"
        # The affine step, last: (x' - offset) / scale, x' the column transform's output.
        # For "sample", `offset`/`scale` hold the average row mean / row std (one value,
        # broadcast), used only when decoding codes whose rows' statistics are unknown.
        self.register_buffer("offset", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        if kind in ("auto", "log"):
            self.register_buffer("center", torch.zeros(n_features))
            self.register_buffer("spread", torch.ones(n_features))
            self.register_buffer("logged", torch.zeros(n_features, dtype=torch.bool))
            # |log-space value| beyond this (10x the largest training deviation) is clipped
            # on the way out, so a wild decoder output cannot overflow expm1.
            self.register_buffer("limit", torch.full((n_features,), 80.0))
        elif kind == "quantile":
            self.register_buffer("quantiles", torch.zeros(n_features, N_QUANTILES))
        self._n_logged = 0  # python-side: skip the log entirely when no column takes it

    def _refresh(self) -> None:
        self._n_logged = int(self.logged.sum()) if hasattr(self, "logged") else 0

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._refresh()  # load_state_dict may bring other logged columns

    @property
    def per_column(self) -> bool:
        """Whether the kind needs order statistics (fitted on a row sample)."""
        return self.kind in ("auto", "log", "quantile", "robust")

    @torch.no_grad()
    def fit(self, X: torch.Tensor) -> "Scaler":
        """Fit the statistics on ``X`` of shape (n_samples, n_features)."""
        X = X.to(self.offset.dtype)
        if self.per_column:
            keys = np.random.default_rng(0).random(len(X))
            self._fit_columns(X[_bottom_k(torch.from_numpy(keys), _sample_rows(X.shape[1]))
                                .to(X.device)])
            if self.kind in ("auto", "log"):  # moments of the transformed columns, all rows
                var, mean = torch.var_mean(self._column_transform(X).double(), 0, correction=0)
                self.offset.copy_(mean)
                self.scale.copy_(_safe_scale(var.sqrt()))
        elif self.kind == "standard":
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
        if self.unit_range and len(X) and X.min() >= 0 and X.max() <= 1:
            self._keep_as_is()
        return self

    def _keep_as_is(self) -> None:
        """The identity: data in [0, 1] stay there for a sigmoid output (``unit_range``)."""
        self.offset.zero_()
        self.scale.fill_(1.0)
        self.logged.fill_(False)
        self._refresh()

    def _fit_columns(self, S: torch.Tensor) -> None:
        """The order statistics of the per-column kinds, from a row sample ``S``."""
        median, spread = _median_spread(S)
        if self.kind == "robust":
            self.offset.copy_(median)
            self.scale.copy_(_safe_scale(spread / AUTO_KNEE))
        elif self.kind == "quantile":
            refs = torch.linspace(0, 1, N_QUANTILES, dtype=S.dtype, device=S.device)
            # Monotone by construction; cummax removes float wobble between equal knots.
            self.quantiles.copy_(torch.quantile(S, refs, dim=0).T.cummax(1).values)
        else:
            self.center.copy_(median)
            self.spread.copy_(spread)
            if self.kind == "log":
                self.logged.fill_(True)
            else:
                self.logged.copy_(tail_ratios(S) > TAIL_RATIO)
            self._refresh()
            deviation = (S - median).abs().amax(0) / spread
            self.limit.copy_(torch.log1p(deviation * 10) + 1)

    @torch.no_grad()
    def fit_chunks(self, chunks: Iterable[torch.Tensor]) -> torch.Tensor:
        """Fit on rows that arrive chunk by chunk, for data larger than memory.

        The statistics are those of :meth:`fit` on all the rows at once, up to float64
        rounding: means and variances are merged chunk by chunk (the pairwise update of
        Chan, Golub & LeVeque, stable where raw sums of squares are not), minima and maxima
        are running ones, the per-row statistics of ``"sample"`` are summed in float64, and
        the order statistics of the per-column kinds come from the same row sample as in
        :meth:`fit` (drawn chunk by chunk). One exception: the moments of the columns that
        ``"auto"`` or ``"log"`` log-transform are those of the sample's rows.

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
        keys, sample = np.random.default_rng(0), None
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
            if self.per_column:  # the rows with the smallest random keys so far
                sample = _merge_sample(sample, X, keys.random(m), _sample_rows(X.shape[1]))
            low = X.amin(0) if low is None else torch.minimum(low, X.amin(0))
            high = X.amax(0) if high is None else torch.maximum(high, X.amax(0))
            if self.kind in ("standard", "auto", "log"):
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
        if self.per_column:
            self._fit_columns(sample[1])
        if self.kind in ("standard", "auto", "log"):
            std = (m2 / n).sqrt()
            if self.kind != "standard" and self._n_logged:
                var_s, mean_s = torch.var_mean(
                    self._column_transform(sample[1]).double(), 0, correction=0)
                mean = torch.where(self.logged, mean_s, mean)
                std = torch.where(self.logged, var_s.sqrt(), std)
            self.offset.copy_(mean)
            self.scale.copy_(_safe_scale(std))
        elif self.kind == "minmax":
            self.offset.copy_(low)
            self.scale.copy_(_safe_scale((high - low).double()))
        elif self.kind == "sample":
            self.offset.fill_((row_sums[0] / n).item())
            self.scale.fill_((row_sums[1] / n).item())
            return torch.stack([low, high])
        if self.unit_range and low.min() >= 0 and high.max() <= 1:
            self._keep_as_is()
        # Monotone per column: the raw extremes map to the scaled ones.
        return self(torch.stack([low, high]))

    # ------------------------------------------------------------------ the maps
    def _column_transform(self, X: torch.Tensor) -> torch.Tensor:
        """The per-column step before the affine one ("auto", "log", "quantile")."""
        if self.kind == "quantile":
            return _to_normal(X, self.quantiles)
        if self._n_logged == 0:
            return X
        logged = _signed_log(X, self.center, self.spread)
        return logged if self._n_logged == len(self.logged) else torch.where(
            self.logged, logged, X)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Caller's units -> network units. X: (n, n_features)."""
        # In place on the difference: one temporary the size of X, not two.
        if self.kind == "sample":
            mean, std = _row_stats(X)
            return (X - mean).div_(std)
        if self.kind is None:
            return X
        if self.kind in ("auto", "log", "quantile"):
            X = self._column_transform(X)
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
        X = Y * self.scale + self.offset
        if self.kind == "quantile":
            return _from_normal(X, self.quantiles)
        if self.kind in ("auto", "log") and self._n_logged:
            X = torch.where(self.logged, _signed_exp(X, self.center, self.spread, self.limit), X)
        return X

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


def scaled_input(n_features: int, scaler) -> tuple[nn.Module, int, int, nn.Module | None]:
    """``(scaler module, encoder input width, decoder output width, first encoder module)``
    for a ``scaler`` given as a :class:`Scaler` kind, or as a table's scaler module (with
    ``width_in``, ``width_out`` and ``input_layer()``, see :mod:`aekit.nn.tabular`)."""
    if isinstance(scaler, nn.Module):
        return scaler, scaler.width_in, scaler.width_out, scaler.input_layer()
    return Scaler(n_features, scaler), n_features, n_features, None


def _safe_scale(spread: torch.Tensor) -> torch.Tensor:
    # Constant features (spread 0) are left unscaled rather than divided by zero; a spread
    # below float32 resolution relative to nothing is still a real spread for float64 stats.
    return torch.where(spread > 1e-12, spread, torch.ones_like(spread)).float()


def _row_stats(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # (n, 1) each, so they broadcast over features.
    mean = X.mean(1, keepdim=True)
    std = X.std(1, unbiased=False, keepdim=True)
    return mean, torch.where(std > 1e-12, std, torch.ones_like(std))


def _sample_rows(n_features: int) -> int:
    return max(1000, SAMPLE_ELEMENTS // max(n_features, 1))


def _bottom_k(keys: torch.Tensor, k: int) -> torch.Tensor:
    """Sorted indices of the ``k`` smallest ``keys`` (all of them when there are fewer)."""
    if len(keys) <= k:
        return torch.arange(len(keys))
    return torch.topk(keys, k, largest=False).indices.sort().values


def _merge_sample(sample, X: torch.Tensor, keys: np.ndarray, k: int):
    """``(keys, rows)``: the ``k`` rows of ``sample`` and ``X`` with the smallest keys, in
    arrival order; the same rows :meth:`Scaler.fit` picks from all the rows at once. Only
    the rows kept are copied (never the sample and the chunk together)."""
    keys = torch.from_numpy(keys)
    old = len(sample[0]) if sample is not None else 0
    all_keys = torch.cat([sample[0], keys]) if sample is not None else keys
    keep = _bottom_k(all_keys, k)
    rows = X[(keep[keep >= old] - old).to(X.device)]
    if sample is not None:
        rows = torch.cat([sample[1][keep[keep < old].to(X.device)], rows])
    return all_keys[keep], rows


def _signed_log(X, center, spread):
    d = X - center
    return torch.sign(d) * torch.log1p(d.abs() / spread)


def _signed_exp(U, center, spread, limit):
    U = torch.maximum(torch.minimum(U, limit), -limit)
    return center + torch.sign(U) * torch.expm1(U.abs()) * spread


def _interp_columns(X: torch.Tensor, knots: torch.Tensor, right: bool) -> torch.Tensor:
    """Uniform values in [0, 1] of ``X`` (n, d) along each column's non-decreasing
    ``knots`` (d, K), linear between knots; at a run of equal knots, its upper end
    (``right``) or its lower end."""
    K = knots.shape[1]
    i = torch.searchsorted(knots, X.T.contiguous(), right=right).clamp_(1, K - 1)  # (d, n)
    x0, x1 = knots.gather(1, i - 1), knots.gather(1, i)
    span = x1 - x0
    inside = (X.T - x0) / torch.where(span > 0, span, torch.ones_like(span))
    t = torch.where(span > 0, inside, torch.full_like(inside, 1.0 if right else 0.0))
    return ((i - 1 + t.clamp(0, 1)) / (K - 1)).T


def _to_normal(X: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
    # float64 inside: the normal's tails are where float32 would lose the round trip.
    # Equal knots (a value many rows share) map to the middle of their run, as in
    # scikit-learn's QuantileTransformer.
    X64, knots = X.double(), knots.double()
    u = 0.5 * (_interp_columns(X64, knots, True) + _interp_columns(X64, knots, False))
    return torch.special.ndtri(u.clamp(_NORMAL_EPS, 1 - _NORMAL_EPS)).to(X.dtype)


def _from_normal(Y: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
    K = knots.shape[1]
    pos = torch.special.ndtr(Y.double()) * (K - 1)  # (n, d), a position along the knots
    i = pos.floor().clamp_(0, K - 2).long()
    t = (pos - i).clamp(0, 1)
    kt = knots.T.double()  # (K, d)
    return (kt.gather(0, i) * (1 - t) + kt.gather(0, i + 1) * t).to(Y.dtype)


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
