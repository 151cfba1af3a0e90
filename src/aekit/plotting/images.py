"""Plots of images: reconstructions, denoising, samples, latent traversals, decoded grids."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import check_random_state

from ..core.checks import seeded_torch_rng
from ..core.fitted import as_fitted
from ..evaluation.errors import row_errors
from ..evaluation.metrics import model_name
from ..nn.layers import make_corruption
from ._common import (
    _figure,
    _grid_shape,
    _images,
    _imshow,
    _mosaic,
    _range,
    _reconstruct,
    _rows,
    _show_mosaic,
    _takes_model,
    _title,
)


@_takes_model
def reconstruction_grid(estimator, X, image_shape, *, pca=None, n_images=10, random_state=0):
    """Originals, PCA reconstructions and autoencoder reconstructions, one row each.

    Parameters
    ----------
    estimator : fitted AutoEncoder
    X : array-like of shape (n_samples, n_features)
        Rows to show (usually test rows); ``n_images`` of them are drawn with ``random_state``.
    image_shape : tuple of int
        (height, width) of one row, or (3, height, width) for RGB rows (channels first, as
        a convolutional model reads them), drawn in colour; it must agree with the images
        ``X`` holds and a convolutional model's ``image_shape_``. The other image plots
        take it alike.
    pca : fitted PCA (or any transformer with inverse_transform), optional
        Adds the PCA row; fit it on the training rows with ``estimator.n_components``.
    n_images : int, default=10

    Returns
    -------
    matplotlib.figure.Figure
        One axes holding one image: the rows labelled with each model's MSE on the shown rows.
    """
    X = _rows(X, n_images, random_state)
    rows = [("original", X)]
    if pca is not None:
        rows.append((f"PCA (k={pca.n_components_ if hasattr(pca, 'n_components_') else '?'})",
                     _reconstruct(pca, X)))
    k = getattr(as_fitted(estimator), "n_components", "?")
    rows.append((f"{model_name(estimator)} (k={k})", _reconstruct(estimator, X)))
    labels = [rows[0][0]] + [f"{name}\nMSE {row_errors(X, R).mean():.4f}" for name, R in rows[1:]]
    images = _images(np.concatenate([R for _, R in rows]), image_shape, estimator)
    h, w = images.shape[1:3]
    fig = _figure(1.0 + 0.75 * len(X) * w / max(h, w), 0.4 + 0.8 * len(rows) * h / max(h, w))
    ax = fig.add_subplot()
    lo, hi = _range(X)
    _show_mosaic(ax, _mosaic(images, len(X)), vmin=lo, vmax=hi, row_labels=labels, cell=(h, w))
    _title(fig, "Reconstructions of test rows")
    return fig


_NOISES = ("gaussian", "masking", "salt_pepper")


def corrupt(X, noise="gaussian", noise_level=0.3, *, reference=None,
            random_state=0) -> np.ndarray:
    """Corrupt rows as a denoising :class:`~aekit.AutoEncoder` does in training.

    ``"gaussian"`` adds noise of standard deviation ``noise_level`` times the range of
    ``reference`` (max - min over all values) and clips to that range; ``"masking"`` sets a
    ``noise_level`` share of the entries to their feature's minimum; ``"salt_pepper"`` sets
    them to their feature's minimum or maximum, each with probability 1/2.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or images (n_samples, H, W) or
        (n_samples, C, H, W)
    reference : array-like of shape (m, n_features), or images of ``X``'s shape, optional
        Rows whose ranges bound the noise (the training data); default ``X``.

    Returns
    -------
    ndarray of ``X``'s shape
    """
    if noise not in _NOISES:
        raise ValueError(f"noise={noise!r} is not supported; use one of {_NOISES}")
    shape = np.shape(X)
    # Images as rows of pixels: the bounds are each pixel's, as in training, not each
    # column of the images' (reshape(-1, X.shape[1]) of images took those).
    X = torch.from_numpy(np.asarray(X, dtype=np.float64).reshape(len(X), -1))
    ref = X if reference is None else torch.as_tensor(
        np.asarray(reference, np.float64).reshape(-1, X.shape[1]))
    if noise == "gaussian":  # one range shared by all features, as in training
        low, high = ref.min().expand(X.shape[1]), ref.max().expand(X.shape[1])
    else:
        low, high = ref.amin(0), ref.amax(0)
    # The training corruption itself, seeded: plots show exactly what the model was fed.
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    with seeded_torch_rng(torch.device("cpu"), seed):
        return make_corruption(noise, noise_level, low, high)(X).numpy().reshape(shape)


@_takes_model
def denoising_rows(estimator, X, image_shape, *, noise=None, noise_level=None, n_images=10,
                   random_state=0):
    """Clean rows, their corrupted versions and the autoencoder's reconstructions of those.

    ``noise`` and ``noise_level`` default to the estimator's own (denoising autoencoders);
    the rows are corrupted as in training (see :func:`corrupt`), within the ranges of ``X``.

    Returns
    -------
    matplotlib.figure.Figure
        One axes, one image with three rows.
    """
    fitted = as_fitted(estimator)  # the noise it was trained with
    noise = noise if noise is not None else getattr(fitted, "noise", None)
    if noise is None:
        raise ValueError("the estimator has no noise parameter; pass noise='gaussian' etc.")
    level = noise_level if noise_level is not None else getattr(fitted, "noise_level", 0.3)
    clean = _rows(X, n_images, random_state)
    noisy = corrupt(clean, noise, level, reference=X, random_state=random_state)
    denoised = _reconstruct(estimator, noisy)
    images = _images(np.concatenate([clean, noisy, denoised]), image_shape, estimator)
    h, w = images.shape[1:3]
    labels = ["clean", f"{noise} ({level:g})\nMSE {row_errors(clean, noisy).mean():.4f}",
              f"denoised\nMSE {row_errors(clean, denoised).mean():.4f}"]
    fig = _figure(1.2 + 0.75 * len(clean) * w / max(h, w), 0.4 + 2.4 * h / max(h, w))
    ax = fig.add_subplot()
    lo, hi = _range(clean)
    _show_mosaic(ax, _mosaic(images, len(clean)), vmin=lo, vmax=hi, row_labels=labels,
                 cell=(h, w))
    _title(fig, "Denoising: clean / corrupted / reconstructed")
    return fig


@_takes_model
def vae_samples(estimator, image_shape, *, n=32, random_state=0, data_range=None):
    """Rows generated by ``estimator.sample(n, random_state=...)`` (variational models).

    Returns
    -------
    matplotlib.figure.Figure
        One axes, one image.
    """
    if not hasattr(estimator, "sample"):
        raise ValueError(f"{type(estimator).__name__} cannot sample; use a variational model")
    S = np.asarray(estimator.sample(n, random_state=random_state), dtype=np.float64)
    images = _images(S.reshape(len(S), -1), image_shape, estimator)
    n_rows, n_cols = _grid_shape(len(images), 16)
    h, w = images.shape[1:3]
    fig = _figure(0.4 + 0.6 * n_cols * w / max(h, w), 0.6 + 0.6 * n_rows * h / max(h, w))
    ax = fig.add_subplot()
    lo, hi = data_range if data_range is not None else _range(S)
    _show_mosaic(ax, _mosaic(images, n_cols), vmin=lo, vmax=hi)
    ax.set_xticks([]), ax.set_yticks([])
    _title(fig, f"{len(images)} samples from the prior")
    return fig


@_takes_model
def latent_traversal(estimator, X, image_shape, *, n_steps=9, span=2.5, max_units=10):
    """Decode codes that move along one code dimension at a time.

    Each row starts from the code of a typical row of ``X`` (the one whose code is nearest
    the median code, in standard deviations) and moves dimension ``j`` from ``-span`` to
    ``+span`` of its standard deviation over ``X``, the others fixed. A real row's code,
    not the mean code: the mean of clustered codes often lies where no row maps, and
    decodes to a blank.

    Returns
    -------
    matplotlib.figure.Figure
        One axes, one image: a row per code dimension; the middle column (``"start"``)
        decodes the typical row's code (an even ``n_steps`` has no middle column: none
        does).
    """
    X = np.asarray(X, dtype=np.float64)
    Z = np.asarray(estimator.transform(X), dtype=np.float64)
    sd = Z.std(axis=0)
    distance = (((Z - np.median(Z, axis=0)) / np.where(sd > 0, sd, 1)) ** 2).sum(axis=1)
    start = int(np.argmin(distance))
    center = Z[start]
    dims = range(min(Z.shape[1], max_units))
    steps = np.linspace(-span, span, n_steps)
    codes = np.repeat(center[None], len(dims) * n_steps, axis=0)
    for r, j in enumerate(dims):
        codes[r * n_steps : (r + 1) * n_steps, j] += steps * sd[j]
    decoded = np.asarray(estimator.inverse_transform(codes), dtype=np.float64)
    images = _images(decoded, image_shape, estimator)
    h, w = images.shape[1:3]
    fig = _figure(1.2 + 0.7 * n_steps * w / max(h, w), 0.8 + 0.7 * len(dims) * h / max(h, w))
    ax = fig.add_subplot()
    lo, hi = _range(X)
    _show_mosaic(ax, _mosaic(images, n_steps), vmin=lo, vmax=hi, cell=(h, w),
                 row_labels=[f"dim {j}" for j in dims],
                 col_labels=[f"{s:+.1f}σ" if s else "start" for s in steps])
    _title(fig, f"Latent traversal: one code dimension at a time, from row {start}'s code")
    return fig


@_takes_model
def decoded_grid(estimator, image_shape, *, X=None, n=12, quantiles=(0.02, 0.98)):
    """Decoded images on a regular grid over a 2-D code space.

    The grid spans the ``quantiles`` of the codes of ``X``; without ``X``, a variational
    model's prior (±1.65, its 5-95 % range) is used.

    Returns
    -------
    matplotlib.figure.Figure
        One axes, one image, its axes in code units.
    """
    if int(getattr(as_fitted(estimator), "n_components", 0)) != 2:
        raise ValueError("decoded_grid needs a 2-D code (n_components=2)")
    if X is not None:
        Z = np.asarray(estimator.transform(X), dtype=np.float64)
        (x0, y0), (x1, y1) = (np.quantile(Z, q, axis=0) for q in quantiles)
    elif hasattr(estimator, "sample"):
        x0 = y0 = -1.645
        x1 = y1 = 1.645
    else:
        raise ValueError("pass X so the grid can span the codes of the data")
    # A collapsed code dimension spans nothing: give it a unit width so the grid still draws.
    if x1 - x0 <= 1e-12:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 - y0 <= 1e-12:
        y0, y1 = y0 - 0.5, y1 + 0.5
    gx, gy = np.linspace(x0, x1, n), np.linspace(y1, y0, n)  # top row = largest code 2
    codes = np.array([(a, b) for b in gy for a in gx])
    decoded = np.asarray(estimator.inverse_transform(codes), dtype=np.float64)
    images = _images(decoded, image_shape, estimator)
    fig = _figure(6.4, 6.0)
    ax = fig.add_subplot()
    lo, hi = _range(X) if X is not None else _range(decoded)
    mosaic = _mosaic(images, n)
    dx, dy = (x1 - x0) / max(n - 1, 1), (y1 - y0) / max(n - 1, 1)
    _imshow(ax, mosaic, vmin=lo, vmax=hi, aspect="auto",
            extent=(x0 - dx / 2, x1 + dx / 2, y0 - dy / 2, y1 + dy / 2))
    ax.set_xlabel("code 0"), ax.set_ylabel("code 1")
    _title(fig, "Decoded grid over the code space")
    return fig
