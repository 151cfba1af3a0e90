"""The ladder network (Rasmus, Valpola, Honkala, Berglund & Raiko 2015, "Semi-Supervised
Learning with Ladder Networks", NeurIPS): a classifier whose every layer is also a denoising
autoencoder's, so that unlabelled rows train it too.

Three paths share the encoder's weights ``W`` (Algorithm 1 of the paper):

- the **corrupted encoder**: Gaussian noise on the input and on every batch-normalised
  pre-activation ``z~(l)``; its output gives the supervised cost on the labelled rows;
- the **clean encoder**: no noise; its normalised pre-activations ``z(l)`` are the targets
  of the denoising, and (with running statistics) it is the classifier :meth:`forward` uses;
- the **decoder**, top-down: ``u(L) = BN(h~(L))``, ``u(l) = BN(V(l+1) z^(l+1))`` and
  ``z^(l) = g(z~(l), u(l))``, each layer's reconstruction ``z^(l)`` combining the noisy
  value from the lateral connection with the prediction from above (the vanilla combinator,
  :class:`Combinator`); its error against the clean ``z(l)``, normalised with the clean
  batch statistics, is layer ``l``'s denoising cost.

The decoder is built only down to the lowest layer whose cost counts, so the Gamma model
(cost on the top layer only) has no ``V`` at all.

A convolutional encoder (``conv``: the paper's Conv-Small and Conv-Large are of this kind)
puts convolutional layers below the dense ones: each a convolution, batch normalisation
per channel (and noise) on its pre-activations, a ReLU, then an optional max-pool; the
last one's channels are averaged over the image (global mean pooling) into the first
dense layer. Its layers are not decoded: the denoising costs start above them (the Gamma
model decodes the top layer only, as the paper's convolutional results do).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..core import distributed
from .invariant import in_pieces, mean as invariant_mean, softmax
from .layers import Scaler

EPS = 1e-5
"""Added to the batch variances before their square root (batch normalisation)."""

MOMENTUM = 0.01
"""Weight of each training batch in the running statistics (an average over about the last
100 steps). A finished fit replaces them by the final weights' statistics
(:meth:`LadderNet.set_population_statistics`); they are what the clean classifier of an
interrupted fit's copy predicts with."""


class Combinator(nn.Module):
    """The vanilla combinator ``g(z~, u)`` of the paper (its eq. 2), per unit.

    ``mu(u) = a1 sigmoid(a2 u + a3) + a4 u + a5``, ``v(u) = a6 sigmoid(a7 u + a8) + a9 u
    + a10`` and ``z^ = (z~ - mu(u)) v(u) + mu(u)``: 10 parameters per unit, initialised as
    the reference code does (``a2 = a7 = 1``, the others 0: ``z^ = 0`` at first).
    """

    def __init__(self, width: int):
        super().__init__()
        a = torch.zeros(10, width)
        a[1] = 1.0
        a[6] = 1.0
        self.a = nn.Parameter(a)  # (10, width)

    def forward(self, z_noisy: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 = self.a.unbind(0)  # each (width,)
        mu = torch.addcmul(a5, a1, in_pieces(torch.sigmoid, torch.addcmul(a3, a2, u)))
        mu.addcmul_(a4, u)
        v = torch.addcmul(a10, a6, in_pieces(torch.sigmoid, torch.addcmul(a8, a7, u)))
        v.addcmul_(a9, u)
        return torch.addcmul(mu, z_noisy - mu, v)  # (n, width)


def batch_moments(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-unit (per-channel, for images) mean and biased variance over the rows of ``z``:
    (n, width) or (n, C, H, W) -> two (width,) or (C,)."""
    dims = (0,) if z.dim() == 2 else (0, *range(2, z.dim()))
    var, mean = torch.var_mean(z, dim=dims, correction=0)
    return mean, var


def per_unit(v: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """A (width,) vector shaped to broadcast over ``z``'s units or channels."""
    return v if z.dim() == 2 else v.view(1, -1, *([1] * (z.dim() - 2)))


def normalise(z: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    return (z - per_unit(mean, z)) * per_unit(torch.rsqrt(var + EPS), z)


def check_pools(conv, image_shape) -> None:
    """Raise a ValueError naming the layer and the sizes when the max-pools of ``conv``
    ((filters, kernel, pool) per layer) shrink images of ``image_shape`` (C, H, W) below one
    pixel: the convolutions keep the size, each pool divides it (rounding down)."""
    h, w = image_shape[1:]
    for l, (filters, kernel, pool) in enumerate(conv, 1):
        if h // pool < 1 or w // pool < 1:
            raise ValueError(
                f"convolutional layer {l} ({filters}, {kernel}, {pool}) max-pools its {h}x{w} "
                f"image by {pool}, to {h // pool}x{w // pool} pixels (the "
                f"{image_shape[1]}x{image_shape[2]} input shrinks by each pool before it): "
                "use a smaller pool there (1 for none), fewer pooling layers, or larger "
                "images.")
        h, w = h // pool, w // pool


class LadderNet(nn.Module):
    """A ladder network: encoder ``sizes[0] -> ... -> sizes[-1]`` (classes), ReLU in the
    hidden layers, softmax on top, batch normalisation everywhere; dense, or with
    convolutional layers at the bottom (``conv``).

    Parameters
    ----------
    scaler : aekit.nn.layers.Scaler
        Fitted; maps the caller's rows to network units (:meth:`forward` applies it; the
        training passes take scaled rows).
    sizes : sequence of int
        Widths of layers 0 (the input's features) to L (the classes); a convolutional
        layer's width is its number of channels.
    lowest : int
        The lowest layer the decoder reconstructs (0: every layer, the full ladder;
        ``L``: the top only, the Gamma model). Above the convolutional layers.
    conv : sequence of (filters, kernel, pool), optional
        Convolutional layers 1..len(conv): ``filters`` channels, a square ``kernel``
        (odd, zero-padded to keep the size), then a ``pool`` x ``pool`` max-pool (1: none);
        ``sizes[1:len(conv) + 1]`` are their ``filters``.
    image_shape : (C, H, W), optional
        The images the flat rows hold (with ``conv``).
    features : nn.Module, optional
        Applied to the caller's rows before ``scaler`` (e.g.
        :class:`aekit.nn.histograms.HistogramFeatures`); ``sizes[0]`` is its output's width.
        The training passes take rows already through it and ``scaler``.
    """

    def __init__(self, scaler: Scaler, sizes, lowest: int = 0, conv=(), image_shape=None,
                 features: nn.Module | None = None):
        super().__init__()
        sizes = [int(s) for s in sizes]
        conv = [tuple(int(v) for v in layer) for layer in (conv or ())]
        if len(sizes) < 2 or not 0 <= lowest < len(sizes):
            raise ValueError(f"sizes={sizes} and lowest={lowest} do not describe a ladder")
        if conv and (image_shape is None or lowest <= len(conv) or len(sizes) < len(conv) + 2
                     or [c[0] for c in conv] != sizes[1:len(conv) + 1]):
            raise ValueError(f"conv={conv} with sizes={sizes}, lowest={lowest} and "
                             f"image_shape={image_shape} do not describe a ladder whose "
                             "convolutional layers are below the decoded ones")
        self.sizes, self.lowest, self.conv = sizes, lowest, conv
        self.image_shape = None if image_shape is None else tuple(int(v) for v in image_shape)
        if conv:
            check_pools(conv, self.image_shape)
        n_layers = len(sizes) - 1
        self.features = features
        self.scaler = scaler
        # Encoder: W(l) without bias (batch normalisation removes it), beta(l) the shift
        # after normalisation, gamma the top layer's scale (a ReLU needs none).
        layers = []
        for l in range(1, n_layers + 1):
            if l <= len(conv):
                c_in = self.image_shape[0] if l == 1 else sizes[l - 1]
                k = conv[l - 1][1]
                layers.append(nn.Conv2d(c_in, sizes[l], k, padding=k // 2, bias=False))
            else:
                layers.append(nn.Linear(sizes[l - 1], sizes[l], bias=False))
        self.encoder = nn.ModuleList(layers)
        self.beta = nn.ParameterList(nn.Parameter(torch.zeros(b)) for b in sizes[1:])
        self.gamma = nn.Parameter(torch.ones(sizes[-1]))
        for layer in self.encoder:  # N(0, 1/fan_in), as the reference code
            fan_in = layer.weight[0].numel()
            nn.init.normal_(layer.weight, std=1.0 / math.sqrt(fan_in))
        for l, width in enumerate(sizes[1:], 1):
            self.register_buffer(f"mean_{l}", torch.zeros(width))
            self.register_buffer(f"var_{l}", torch.ones(width))
        # Decoder: V(l) maps layer l down to l - 1, for l = lowest + 1 .. L.
        self.decoder = nn.ModuleList(nn.Linear(sizes[l], sizes[l - 1], bias=False)
                                     for l in range(lowest + 1, n_layers + 1))
        for linear in self.decoder:
            nn.init.normal_(linear.weight, std=1.0 / math.sqrt(linear.in_features))
        self.combinators = nn.ModuleList(Combinator(sizes[l])
                                         for l in range(lowest, n_layers + 1))

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    def running(self, l: int) -> tuple[torch.Tensor, torch.Tensor]:
        return getattr(self, f"mean_{l}"), getattr(self, f"var_{l}")

    def _activate(self, l: int, z: torch.Tensor) -> torch.Tensor:
        """``h(l)`` from the normalised ``z(l)``: ReLU below the top (then a convolutional
        layer's max-pool), logits on top."""
        if l == self.n_layers:
            return self.gamma * (z + self.beta[l - 1])
        h = F.relu(z + per_unit(self.beta[l - 1], z))
        if l <= len(self.conv) and self.conv[l - 1][2] > 1:
            h = F.max_pool2d(h, self.conv[l - 1][2])
        return h

    def _pre_activation(self, l: int, h: torch.Tensor) -> torch.Tensor:
        """``W(l) h(l-1)``: flat rows (n, d) become images (n, C, H, W) before the first
        convolution, and images their channels' means (n, C) before the first dense layer."""
        if self.conv and l == 1:
            # h.shape[0], not len(h): an ONNX trace records len() as a constant row count
            h = h.reshape(h.shape[0], *self.image_shape)
        elif self.conv and l == len(self.conv) + 1:
            h = h.mean((2, 3))  # global mean pooling
        return self.encoder[l - 1](h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of rows in the caller's units, (n, d) -> (n, n_classes)."""
        return self.classify(self.network_units(x))

    def network_units(self, x: torch.Tensor) -> torch.Tensor:
        """Rows in the caller's units as the training passes take them: through
        ``features`` (when set) and the fitted ``scaler``, (n, d) -> (n, sizes[0])."""
        if self.features is not None:
            x = self.features(x)  # (n, sizes[0]): what the scaler takes
        return self.scaler(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward`: the classifier's logits of rows in the caller's units (the
        name :func:`aekit.training.sanity.check_kept_model` calls)."""
        return self.forward(x)

    def classify(self, h: torch.Tensor) -> torch.Tensor:
        """Class logits of scaled rows by the clean encoder with the running statistics."""
        for l in range(1, self.n_layers + 1):
            h = self._activate(l, normalise(self._pre_activation(l, h), *self.running(l)))
        return h

    def encode(self, h: torch.Tensor, n_labelled: int, noise_std: float, *,
               track: bool = False) -> tuple[list, list, torch.Tensor]:
        """One training pass of the encoder over a batch, corrupted when ``noise_std > 0``.

        The first ``n_labelled`` rows of ``h`` (n, d) are labelled, the others not; each
        part is normalised with its own batch statistics (as in the reference code).

        Returns ``(zs, moments, logits)``: the normalised (and noisy) pre-activations of
        layers 0..L, each (n, width); the unlabelled part's batch ``(mean, var)`` of layers
        1..L (``moments[0]`` is None); the top layer's logits (n, n_classes). ``track``
        updates the running statistics from the unlabelled part (the clean pass).
        """
        if noise_std > 0:
            h = h + noise_std * torch.randn_like(h)
        zs, moments = [h], [None]
        for l in range(1, self.n_layers + 1):
            z_pre = self._pre_activation(l, h)  # (n, width) or (n, C, H, W)
            parts, stats = [], None
            for part in (z_pre[:n_labelled], z_pre[n_labelled:]):
                if len(part):
                    stats = batch_moments(part)
                    parts.append(normalise(part, *stats))
            z = torch.cat(parts) if len(parts) > 1 else parts[0]
            if track and len(z_pre) > n_labelled:
                self._track(l, *stats)
            if noise_std > 0:
                z = z + noise_std * torch.randn_like(z)
            zs.append(z)
            moments.append(stats)
            h = self._activate(l, z)
        return zs, moments, h

    @torch.no_grad()
    def set_population_statistics(self, x: torch.Tensor, batch_size: int) -> None:
        """Set the running statistics the clean classifier uses to the average, over the
        batches of ``batch_size`` rows of one shuffled pass over scaled rows ``x`` (n, d),
        of the clean pass's batch moments: the statistics of the final weights (Ioffe &
        Szegedy 2015's inference rule), where the running average of a short fit still
        remembers the first steps' weights. Layer by layer, as training normalises them
        (shuffled with torch's global generator, as training batches are).

        Under several processes (:mod:`aekit.core.distributed`), which hold the same rows
        and weights, the ranks share the batches of one pass in rank 0's order and add up
        their sums: every rank ends with the same statistics, those of the whole pass (a
        rank's own pass would end with its own, and only rank 0's model is saved).
        """
        rank, world = distributed.rank_info()
        order = distributed.broadcast(torch.randperm(len(x), device=x.device))
        starts = [s for s in range(0, len(x) - 1, batch_size)
                  if min(batch_size, len(x) - s) >= 2]  # one row has no batch moments
        # Per layer, the sums of the batch means and variances, (2, width) each.
        sums = {str(l): torch.zeros((2, *self.running(l)[0].shape), device=x.device,
                                    dtype=self.running(l)[0].dtype)
                for l in range(1, self.n_layers + 1)}
        for start in starts[rank::world]:
            _, moments, _ = self.encode(x[order[start:start + batch_size]], 0, 0.0)
            for l, m in enumerate(moments[1:], 1):
                sums[str(l)] += torch.stack(m)
        if not starts:
            return
        sums = distributed.all_reduce_sum(sums)
        for l in range(1, self.n_layers + 1):
            mean, var = self.running(l)
            total = sums[str(l)]
            mean.copy_(total[0] / len(starts))
            var.copy_(total[1] / len(starts))

    @torch.no_grad()
    def _track(self, l: int, mean: torch.Tensor, var: torch.Tensor) -> None:
        running_mean, running_var = self.running(l)
        running_mean.lerp_(mean.detach().float(), MOMENTUM)
        running_var.lerp_(var.detach().float(), MOMENTUM)

    def denoising_errors(self, z_noisy: list, logits_noisy: torch.Tensor, z_clean: list,
                         moments: list) -> dict[int, torch.Tensor]:
        """Each decoded layer's denoising error, ``{l: mean squared error per unit}``.

        ``z_noisy``, ``logits_noisy``: the corrupted pass over the unlabelled rows;
        ``z_clean``, ``moments``: the clean pass over the same rows. Layer ``l``'s error is
        ``|z^(l)_BN - z(l)|^2 / width(l)``, averaged over rows, where ``z^(l)_BN`` is the
        reconstruction normalised with the clean pass's batch statistics of layer ``l``
        (layer 0, the input, is not normalised).
        """
        errors = {}
        u = softmax(logits_noisy, dim=1)  # h~(L), (n, n_classes)
        z_hat = None
        for l in range(self.n_layers, self.lowest - 1, -1):
            if z_hat is not None:  # V(l+1) z^(l+1), from layer l + 1 down to l
                u = self.decoder[l - self.lowest](z_hat)
            u = normalise(u, *batch_moments(u))
            z_hat = self.combinators[l - self.lowest](z_noisy[l], u)
            target = z_clean[l]
            z_hat_bn = z_hat if moments[l] is None else normalise(z_hat, *moments[l])
            errors[l] = invariant_mean((z_hat_bn - target).square())
        return errors

    def ladder_terms(self, x_labelled: torch.Tensor, x_unlabelled: torch.Tensor,
                     noise_std: float, joint: bool = False
                     ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """The corrupted logits of the labelled rows and the denoising errors of the
        unlabelled ones, for one training step; scaled rows in, (n_l, n_classes) out.
        ``joint``: the corrupted pass normalises both parts with one set of batch
        statistics (else each part with its own)."""
        n_l = len(x_labelled)
        z_noisy, _, logits = self.encode(torch.cat([x_labelled, x_unlabelled]),
                                         0 if joint else n_l, noise_std)
        z_clean, moments, _ = self.encode(x_unlabelled, 0, 0.0, track=True)
        if len(x_unlabelled) < 2:  # one row normalises to zeros: nothing to denoise
            return logits[:n_l], {}
        errors = self.denoising_errors([z[n_l:] for z in z_noisy], logits[n_l:], z_clean,
                                       moments)
        return logits[:n_l], errors
