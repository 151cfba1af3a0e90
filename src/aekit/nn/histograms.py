"""Histograms of oriented gradients (Dalal & Triggs 2005) in torch: the computation behind
:class:`aekit.data.OrientationHistograms`, and :class:`HistogramFeatures`, the same with
its defaults as a network's first layer."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..core.checks import channels_last_hint

BATCH = 2048
"""Images transformed at a time (the votes of one batch, bins x H x W floats an image)."""

EPS = 0.01
"""Floor of a cell's histogram length before it is scaled to unit length, in the units of
images divided by ``scale_``: a flat cell (no edge) stays near 0 instead of amplifying
noise."""

CELL, STRIDE, BINS = 6, 3, 9
"""The default cell side, stride and bins (chosen on Fashion-MNIST's validation rows:
docs/decisions.md, "Image features")."""

_SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def orientation_histograms(images: torch.Tensor, cell: int, stride: int,
                           bins: int) -> torch.Tensor:
    """Each cell's unit-length histogram of oriented gradients (see
    :class:`aekit.data.OrientationHistograms`), images in units of its ``scale_``:
    (n, C, H, W) -> (n, rows * cols * bins)."""
    x = images.reshape(-1, 1, *images.shape[2:])  # -1: a traced batch keeps its size free
    kernel = _SOBEL.to(images.device, images.dtype).reshape(1, 1, 3, 3)
    gx = F.conv2d(x, kernel, padding=1).reshape(images.shape)
    gy = F.conv2d(x, kernel.transpose(2, 3), padding=1).reshape(images.shape)
    exporting = torch.onnx.is_in_onnx_export()
    # ONNX has no hypot (this equals it to a float's rounding).
    magnitude = torch.sqrt(gx * gx + gy * gy) if exporting else torch.hypot(gx, gy)
    strongest = magnitude.argmax(1, keepdim=True)  # the channel with the largest gradient
    magnitude = magnitude.gather(1, strongest)[:, 0]  # (n, H, W)
    gx, gy = gx.gather(1, strongest)[:, 0], gy.gather(1, strongest)[:, 0]
    if exporting:  # ONNX's atan2 divides gy by gx: 0 / 0 where there is no gradient
        gx = torch.where((gx == 0) & (gy == 0), torch.ones_like(gx), gx)  # its vote is 0
    angle = torch.atan2(gy, gx) % math.pi
    # Linear voting between the two nearest bin centres, (k + 0.5) * 180 / bins degrees.
    position = angle / math.pi * bins - 0.5
    lower = torch.floor(position)
    upper_share = position - lower
    lower = lower.long() % bins
    votes = (F.one_hot(lower, bins) * ((1 - upper_share) * magnitude)[..., None]
             + F.one_hot((lower + 1) % bins, bins)
             * (upper_share * magnitude)[..., None])  # (n, H, W, bins)
    cells = F.avg_pool2d(votes.permute(0, 3, 1, 2), cell, stride=stride)
    cells = cells / (cells.norm(dim=1, keepdim=True) + EPS)  # (n, bins, rows, cols)
    return cells.permute(0, 2, 3, 1).flatten(1)


class HistogramFeatures(nn.Module):
    """:class:`aekit.data.OrientationHistograms` with its defaults as the first layer of a network
    (``LadderClassifier(image_features="histograms")``): flat rows of images in, the pixels
    followed by their histograms out; the fitted ``scale`` is a buffer, saved with the
    weights.

    Parameters
    ----------
    image_shape : (C, H, W)
        The images the flat rows hold.
    """

    def __init__(self, image_shape):
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        if len(self.image_shape) != 3 or CELL > min(self.image_shape[1:]):
            raise ValueError(
                f"image_features='histograms' takes images of at least {CELL} x "
                f"{CELL} pixels (C, H, W), not {self.image_shape}; for smaller ones put "
                "OrientationHistograms with a smaller cell before the classifier in a "
                f"Pipeline.{channels_last_hint(self.image_shape)}")
        self.register_buffer("scale", torch.ones(()))
        rows, cols = ((side - CELL) // STRIDE + 1 for side in self.image_shape[1:])
        self.n_features = math.prod(self.image_shape) + rows * cols * BINS

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> HistogramFeatures:
        """Set ``scale`` to the largest absolute pixel of flat rows ``x`` (1 when all are
        0), as :meth:`aekit.data.OrientationHistograms.fit` does."""
        top = float(x.abs().max()) if x.numel() else 0.0
        self.scale.fill_(top if top > 0 else 1.0)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(n, C * H * W) -> (n, n_features)."""
        images = x.reshape(-1, *self.image_shape) / self.scale
        return torch.cat([x, orientation_histograms(images, CELL, STRIDE, BINS)], dim=1)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` over many rows, :data:`BATCH` at a time (the votes of a batch
        take ``bins`` floats a pixel)."""
        with torch.no_grad():
            return torch.cat([self(x[i:i + BATCH]) for i in range(0, len(x), BATCH)])


__all__ = ["HistogramFeatures", "orientation_histograms"]
