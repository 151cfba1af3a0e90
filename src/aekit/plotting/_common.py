"""What the plots share: the figure factory, image mosaics, colours, row sampling."""

from __future__ import annotations

import functools
import math

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from ..evaluation.diagnostics import check_not_pipeline
from ..evaluation.errors import reconstruction

_INK = "gray_r"  # dark ink on white paper, like the digits themselves


_AE, _PCA = "#1f6fb2", "#9a9a9a"


def _figure(width: float, height: float) -> Figure:
    # Figure() rather than pyplot: no global state, no GUI backend, safe in threads and CI.
    # A floor on the width keeps left-aligned titles of narrow mosaics from being cut.
    return Figure(figsize=(max(width, 4.8), height), layout="constrained", dpi=100)


_COLOURS = 3
"""Channels of the images drawn in colour (RGB); one channel is drawn in grey."""


def _grey(shape: tuple) -> tuple:
    """(H, W) of an image shape (H, W) or (1, H, W); other shapes unchanged."""
    shape = tuple(int(s) for s in shape)
    return shape[1:] if len(shape) == 3 and shape[0] == 1 else shape


def _images(X, image_shape, estimator=None) -> np.ndarray:
    """Rows (n, n_features), or images, -> images (n, h, w), or (n, h, w, 3) for RGB rows
    of ``image_shape=(3, h, w)`` (channels first, as a conv model reads them).

    ``image_shape`` must agree with what knows the images' shape better: the images ``X``
    holds, and the fitted ``estimator``'s ``image_shape_`` (a convolutional model's). Any
    (h, w) of the right pixel count reshapes, so a wrong one silently drew scrambled
    images (8 x 8 digits as 4 x 16 strips)."""
    X = np.asarray(X, dtype=np.float64)
    shape = _grey(image_shape)
    colour = len(shape) == 3 and shape[0] == _COLOURS
    if len(shape) == 3 and not colour and math.prod(shape) == X[0].size:
        raise ValueError(f"image_shape={tuple(image_shape)}: images of {shape[0]} channels "
                         "cannot be drawn; grey (1 channel) and RGB (3) images can.")
    if not (len(shape) == 2 or colour) or math.prod(shape) != X[0].size:
        raise ValueError(
            f"image_shape={tuple(image_shape)} does not fit rows of {X[0].size} features; "
            "pass (height, width) with height * width == n_features, or (3, height, width) "
            "for RGB images."
        )
    # AttributeError (a dense model's, an unfitted one's) is the property's "none".
    known = [("X holds images of shape", X.shape[1:])] if X.ndim > 2 else []
    fitted = getattr(estimator, "image_shape_", None)
    if fitted is not None:
        known.append((f"{type(estimator).__name__} was fitted on images of shape", fitted))
    for what, other in known:
        if _grey(other) != shape:
            raise ValueError(f"image_shape={tuple(image_shape)} does not match: {what} "
                             f"{tuple(other)}; pass image_shape={_grey(other)}.")
    images = X.reshape(len(X), *shape)
    return images.transpose(0, 2, 3, 1) if colour else images  # imshow's (h, w, RGB)


def _mosaic(images: np.ndarray, n_cols: int, pad: int = 1) -> np.ndarray:
    """Tile images (n, h, w) or (n, h, w, 3) row-major into one array; gaps are NaN (drawn
    as paper)."""
    n, h, w = images.shape[:3]
    n_rows = max(1, math.ceil(n / n_cols))
    out = np.full((n_rows * (h + pad) - pad, n_cols * (w + pad) - pad, *images.shape[3:]),
                  np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, n_cols)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = img
    return out


def _imshow(ax, mosaic, *, cmap=_INK, vmin=None, vmax=None, **kwargs):
    """``ax.imshow`` of a grey mosaic in ``cmap``, or of an RGB one with its values mapped
    from [vmin, vmax] to colours; gaps (NaN) white either way."""
    if mosaic.ndim == 2:
        return ax.imshow(mosaic, cmap=colormaps[cmap].with_extremes(bad="white"), vmin=vmin,
                         vmax=vmax, interpolation="nearest", **kwargs)
    lo = np.nanmin(mosaic) if vmin is None else vmin
    hi = np.nanmax(mosaic) if vmax is None else vmax
    rgb = np.clip((mosaic - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    return ax.imshow(np.nan_to_num(rgb, nan=1.0), interpolation="nearest", **kwargs)


def _show_mosaic(ax, mosaic, *, cmap=_INK, vmin=None, vmax=None, row_labels=(),
                 col_labels=(), cell=None):
    """Draw a mosaic without frame; label rows (y ticks) and columns (x ticks) if given."""
    image = _imshow(ax, mosaic, cmap=cmap, vmin=vmin, vmax=vmax)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.tick_params(length=0)
    h, w = cell if cell is not None else mosaic.shape[:2]
    ax.set_yticks([i * (h + 1) + (h - 1) / 2 for i in range(len(row_labels))], list(row_labels))
    ax.set_xticks([i * (w + 1) + (w - 1) / 2 for i in range(len(col_labels))], list(col_labels))
    return image


def _open_axes(ax, grid: float | None = None) -> None:
    """Axes without the top and right frame lines; a light grid of that alpha if given."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if grid is not None:
        ax.grid(alpha=grid)


def _title(fig, text: str) -> None:
    # A figure-level title: mosaics can be narrower than their title, axes titles get cut.
    fig.suptitle(text, x=0.02, ha="left", fontsize=11)


def _range(X) -> tuple[float, float]:
    lo, hi = float(np.nanmin(X)), float(np.nanmax(X))
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def _reconstruct(model, X):
    """``model``'s reconstruction of ``X``: float64 in ``X``'s shape, or a DataFrame for a
    table. A model fitted on images (n, H, W) gives images for flat rows too: reshaped here,
    so errors and mosaics compare like with like."""
    X_hat = reconstruction(model, X)
    if X_hat is None:
        raise TypeError(f"{type(model).__name__} does not reconstruct rows: pass a fitted "
                        "autoencoder, or a transformer with inverse_transform such as PCA")
    if hasattr(X_hat, "columns"):
        return X_hat
    return np.asarray(X_hat, dtype=np.float64).reshape(np.shape(X))


def _rows(X, n: int, random_state=0) -> np.ndarray:
    """The first ``n`` rows of a fixed shuffle, so the plots of one report show the same rows."""
    idx = np.random.RandomState(random_state).permutation(len(X))[:n]
    return np.asarray(X, dtype=np.float64)[np.sort(idx)]


def _takes_model(plot):
    """Decorate a plot whose first argument is the fitted model, so a scikit-learn Pipeline
    there is refused with :func:`~aekit.evaluation.diagnostics.check_not_pipeline`'s
    TypeError (pass ``pipe[-1]`` and the rows its steps give). The plots read the model's
    own network, parameters and units, which a Pipeline hides: some failed with an
    AttributeError, some called it not fitted, some drew it in other units than the
    report's."""

    @functools.wraps(plot)
    def checked(estimator, *args, **kwargs):
        check_not_pipeline(estimator, f"{plot.__name__} draws what a fitted model itself "
                                      "computes (its codes, reconstructions or units)")
        return plot(estimator, *args, **kwargs)

    return checked


def _module(estimator):
    module = getattr(estimator, "module_", None)
    if module is None:
        raise ValueError(f"{type(estimator).__name__} is not fitted; call fit first.")
    return module


def _grid_shape(n: int, max_cols: int) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols
