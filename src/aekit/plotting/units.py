"""What the units learned: first-layer weights, the inputs that drive a unit highest (any
unit of any layer), and synthetic inputs that maximise one (activation maximisation)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..nn.invariant import is_activation
from ._common import (
    _figure,
    _grid_shape,
    _images,
    _module,
    _mosaic,
    _range,
    _show_mosaic,
    _takes_model,
    _title,
)


@_takes_model
def first_layer_weights(estimator, image_shape, *, n_units=32):
    """The first encoder layer's weights, one image per hidden unit.

    Each image is scaled to its own largest absolute weight (red positive, blue negative;
    for RGB rows, ``image_shape=(3, H, W)``, each channel's weight is its colour's
    intensity, mid-grey 0). The weights act on the *scaled* inputs, which is what the
    network sees. For a convolutional encoder the images are the first layer's kernels
    (averaged over input channels), and ``image_shape`` is not used.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: the mosaic (one image) and its colorbar (one axes for RGB weights).
    """
    module = _module(estimator)
    first = next((m for m in module.encoder.modules() if isinstance(m, (nn.Linear, nn.Conv2d))),
                 None)
    if first is None:
        raise ValueError("the encoder has no Linear or Conv2d layer whose weights could be drawn")
    W = first.weight.detach().cpu().double().numpy()[:n_units]
    if isinstance(first, nn.Conv2d):
        images = W.mean(axis=1)  # (out, in, kh, kw) -> one kernel image per output channel
        n_total = first.out_channels
    else:
        images = _images(W, image_shape, estimator)
        n_total = first.out_features
    top = np.abs(images).max(axis=tuple(range(1, images.ndim)), keepdims=True)
    images = images / np.maximum(top, 1e-12)
    n_rows, n_cols = _grid_shape(len(images), 8)
    h, w = images.shape[1:3]
    fig = _figure(1.0 + 1.0 * n_cols * w / max(h, w), 0.7 + 1.0 * n_rows * h / max(h, w))
    ax = fig.add_subplot()
    img = _show_mosaic(ax, _mosaic(images, n_cols), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks([]), ax.set_yticks([])
    if images.ndim == 3:  # a colour map, not colours: an RGB image has no colorbar
        bar = fig.colorbar(img, ax=ax, shrink=0.8, ticks=[-1, 0, 1])
        bar.set_label("relative weight", fontsize=8)
        bar.ax.tick_params(labelsize=8)
    _title(fig, f"First-layer weights ({len(images)} of {n_total} units)"
                + ("" if images.ndim == 3 else "; mid-grey: 0"))
    return fig


@_takes_model
def hidden_layers(estimator) -> list[str]:
    """Names of the activation layers (``"encoder.1"``, ...) whose units
    :func:`top_activating` and :func:`activation_maximization` can show, inputs first; the
    output activation is not among them."""
    module = _module(estimator)
    names = []
    for part in ("encoder", "decoder"):
        sub = getattr(module, part, None)
        leaves = [(f"{part}.{n}", m) for n, m in sub.named_modules() if n] if sub else []
        acts = [n for n, m in leaves if is_activation(m)]
        if part == "decoder" and acts and leaves and leaves[-1][0] == acts[-1]:
            acts = acts[:-1]  # the output activation shapes the reconstruction, not a feature
        names += acts
    return names


def _forward_to(module: nn.Module, layer: str | None, x: torch.Tensor) -> torch.Tensor:
    """Activations (n, units) of ``layer`` (a module name; None: the code) for rows ``x``
    in the caller's units, differentiable. Convolutional maps are averaged over positions."""
    if layer is None:
        z = module.encode(x)
        return z[0] if isinstance(z, (tuple, list)) else z
    target = dict(module.named_modules()).get(layer)
    if target is None:
        raise ValueError(f"layer={layer!r} is not a layer of the model; use one of "
                         f"{[n for n, _ in module.named_modules() if n]}")
    seen = []
    handle = target.register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        h = module.scaler(x) if hasattr(module, "scaler") else x
        z = module.encoder(h)
        if not seen and hasattr(module, "decoder"):
            module.decoder(z)
    finally:
        handle.remove()
    out = seen[0]
    return out.flatten(2).mean(2) if out.dim() > 2 else out


@_takes_model
def unit_activations(estimator, X, layer: str | None = None, batch_size: int = 4096):
    """Activations of the units of ``layer`` (None: the code units) for rows ``X``.

    Parameters
    ----------
    estimator : fitted AutoEncoder
    X : array-like of shape (n_samples, n_features), or the images a convolutional
        model takes
        Checked as ``transform`` checks it (width, image shape, missing values).
    layer : str, optional
        A layer name of ``estimator.module_`` (see :func:`hidden_layers`), e.g.
        ``"encoder.1"``, the first hidden layer's activation.

    Returns
    -------
    A : ndarray of shape (n_samples, n_units)
    """
    if layer is None:
        return np.asarray(estimator.transform(X), dtype=np.float64)
    module = _module(estimator)
    # The estimator's own input check, as transform's: the module takes its flat rows, so
    # images gave a raw torch error and NaN went through to the activations unannounced.
    check = getattr(estimator, "_check_X", None)
    X = np.asarray(check(X, reset=False) if callable(check) else X, dtype=np.float64)
    device = next(module.parameters()).device
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            parts = [_forward_to(module, layer, torch.as_tensor(
                X[i:i + batch_size], dtype=torch.float32, device=device)).cpu()
                for i in range(0, len(X), batch_size)]
    finally:
        module.train(was_training)
    return torch.cat(parts).double().numpy()


def _layer_title(layer: str | None) -> str:
    return "code unit" if layer is None else f"unit of {layer}"


@_takes_model
def top_activating(estimator, X, image_shape, *, layer=None, n_top=8, max_units=16):
    """For each unit of ``layer`` (default: the code), the ``n_top`` rows of ``X`` that
    drive it highest.

    ``layer`` names any hidden layer of the model (:func:`hidden_layers`, e.g.
    ``"encoder.1"``); its first ``max_units`` units are shown.

    Returns
    -------
    matplotlib.figure.Figure
        One axes, one image: a row per unit, highest activation on the left.
    """
    X = np.asarray(X, dtype=np.float64)
    Z = unit_activations(estimator, X, layer)
    units = range(min(Z.shape[1], max_units))
    n_top = min(n_top, len(X))
    top = [np.argsort(-Z[:, j], kind="stable")[:n_top] for j in units]
    images = _images(np.concatenate([X[idx] for idx in top]), image_shape, estimator)
    h, w = images.shape[1:3]
    fig = _figure(1.2 + 0.7 * n_top * w / max(h, w), 0.6 + 0.7 * len(top) * h / max(h, w))
    ax = fig.add_subplot()
    lo, hi = _range(X)
    _show_mosaic(ax, _mosaic(images, n_top), vmin=lo, vmax=hi, cell=(h, w),
                 row_labels=[f"unit {j}" for j in units])
    ax.set_xticks([])
    _title(fig, f"Rows that most activate each {_layer_title(layer)}")
    return fig


def _blur(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """A 3x3 Gaussian blur (sigma 0.8) of rows that are images of ``shape`` (H, W), each
    of their channels (C H x W planes, channels first) alone."""
    g = torch.tensor([0.25, 0.5, 0.25], dtype=x.dtype, device=x.device)
    kernel = (g[:, None] * g[None, :])[None, None]  # (1, 1, 3, 3)
    images = x.reshape(-1, 1, *shape)
    blurred = torch.nn.functional.conv2d(images, kernel, padding=1)
    # Divide by the kernel mass inside the image, so borders are not darkened.
    mass = torch.nn.functional.conv2d(torch.ones_like(images[:1]), kernel, padding=1)
    return (blurred / mass).reshape(len(x), -1)


@_takes_model
def activation_maximization(estimator, image_shape, *, X=None, data_range=None, layer=None,
                            steps=200, learning_rate=0.05, l2=0.5, blur_every=4,
                            max_units=16):
    """Inputs that drive each unit of ``layer`` highest (top row) and, for code units,
    lowest (bottom row).

    Gradient ascent on the input through the network (scaler included), from the mean row
    of ``X``, with two priors that keep the result an image rather than saturated blocks
    (Yosinski et al. 2015): an L2 penalty on the distance from the mean row, and a small
    Gaussian blur every ``blur_every`` steps. The input is clipped to the data range after
    every step. The activation is measured in standard deviations of the unit over ``X``,
    so the penalty weighs the same for every unit.

    Parameters
    ----------
    estimator : fitted AutoEncoder
    image_shape : tuple of int
    X : array-like, optional
        Data: its range bounds the input, its mean row starts the ascent, and its
        activations set each unit's scale; without it ``data_range`` (else (0, 1)) and a
        mid-grey start.
    data_range : (float, float), optional
    layer : str, optional
        Any hidden layer (:func:`hidden_layers`, e.g. ``"encoder.1"``); default: the code.
    steps : int, default=200
        Adam steps.
    learning_rate : float, default=0.05
        Relative to the data range.
    l2 : float, default=0.5
        Weight of the mean squared distance from the mean row (in units of the range).
    blur_every : int, default=4
        Steps between two blurs; 0 for none.
    max_units : int, default=16

    Returns
    -------
    matplotlib.figure.Figure
        One axes, one image.
    """
    module = _module(estimator)
    lo, hi = _range(X) if X is not None else (data_range if data_range is not None else (0.0, 1.0))
    n_features = math.prod(image_shape)
    device = next(module.parameters()).device
    shape = _images(np.zeros((1, n_features)), image_shape, estimator).shape[1:3]
    if X is not None:
        Xd = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        A = unit_activations(estimator, Xd, layer)
        center = torch.as_tensor(Xd.mean(0), dtype=torch.float32, device=device)
        mu, sd = (torch.as_tensor(v, dtype=torch.float32, device=device)
                  for v in (A.mean(0), np.maximum(A.std(0), 1e-6)))
    else:
        center = torch.full((n_features,), (lo + hi) / 2, device=device)
        mu = sd = None
    x, k = _ascend(module, layer, center, mu, sd, lo, hi, steps, learning_rate, l2,
                   blur_every, max_units, shape)
    # A hidden unit's minimum is its activation's floor (0 for ReLU, -1 for ELU), reached by
    # any input far enough out: only its maximum says what it detects.
    rows = ["max", "min"] if layer is None else ["max"]
    images = _images(x[: k * len(rows)], image_shape, estimator)
    h, w = images.shape[1:3]
    fig = _figure(1.3 + 0.75 * k * w / max(h, w), 0.9 + 0.75 * len(rows) * h / max(h, w))
    ax = fig.add_subplot()
    _show_mosaic(ax, _mosaic(images, k), vmin=lo, vmax=hi, cell=(h, w),
                 row_labels=rows, col_labels=[str(j) for j in range(k)])
    ax.set_xlabel(_layer_title(layer))
    _title(fig, f"Inputs that maximise{'' if layer else ' / minimise'} each "
                f"{_layer_title(layer)}")
    return fig


def _ascend(module, layer, center, mu, sd, lo, hi, steps, learning_rate, l2, blur_every,
            max_units, shape) -> tuple[np.ndarray, int]:
    """The gradient ascent of :func:`activation_maximization`: rows (2k, n_features)."""
    flags = [p.requires_grad for p in module.parameters()]
    was_training = module.training
    module.eval()
    try:
        for p in module.parameters():
            p.requires_grad_(False)  # only the input moves; the weights stay untouched
        with torch.no_grad():
            n_units = _forward_to(module, layer, center[None]).shape[1]
        k = min(n_units, max_units)
        # Row i maximises unit i; row k + i minimises it. One batch serves every unit.
        sign = torch.cat([torch.ones(k), -torch.ones(k)]).to(center.device)
        unit = torch.cat([torch.arange(k), torch.arange(k)]).to(center.device)
        x = center.repeat(2 * k, 1).requires_grad_(True)
        optimizer = torch.optim.Adam([x], lr=learning_rate * (hi - lo))
        with torch.enable_grad():
            for step in range(1, steps + 1):
                a = _forward_to(module, layer, x).gather(1, unit[:, None]).squeeze(1)
                if mu is not None:
                    a = (a - mu[unit]) / sd[unit]
                prior = ((x - center) / (hi - lo)).pow(2).mean(1)
                loss = -(sign * a).sum() + l2 * prior.sum() * 100
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                with torch.no_grad():
                    if blur_every and step % blur_every == 0:
                        x.copy_(_blur(x, shape))
                    x.clamp_(lo, hi)
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)
        module.train(was_training)
    return x.detach().cpu().double().numpy(), k
