"""Plots of fitted models and their training, each a function that returns a Figure.

Figures are built with :class:`matplotlib.figure.Figure`, never ``pyplot``: no global state,
no display needed, safe on headless machines and in threads. Save one with
``fig.savefig(path)``; show one in a notebook by leaving it as the cell's value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from sklearn.utils import check_random_state

from ._checks import seeded_torch_rng
from .metrics import r2_per_feature, row_errors, sample_rows
from .nn.layers import TAIL_RATIO, make_corruption, tail_ratios


def loss_curves(history: Sequence[dict]) -> Figure:
    """Training and validation loss per epoch, as recorded in ``estimator.history_``.

    Parameters
    ----------
    history : sequence of dict
        One record per epoch with keys ``phase``, ``epoch``, ``loss`` and ``val_loss``
        (None without a hold-out), as :func:`aekit.training.fit_loop` writes them.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Solid lines for the training loss, dashed for the validation loss, a dot on the
        epoch whose weights were kept (the record marked ``"kept"``: the one early
        stopping restores). Several phases (e.g.
        greedy pretraining, then training) are drawn one after another, one colour each.
        The y-axis is logarithmic when every loss is positive.
    """
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    if not history:
        ax.text(0.5, 0.5, "no training history", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return fig

    phases = list(dict.fromkeys(r["phase"] for r in history))  # in order of appearance
    offset, values = 0, []
    for i, phase in enumerate(phases):
        records = [r for r in history if r["phase"] == phase]
        # Phases follow each other on one axis, so their epochs never overlap.
        epochs = [offset + r["epoch"] for r in records]
        offset = epochs[-1]
        color = f"C{i}"
        if len(phases) > 1:  # a tinted band per phase shows where each one starts and ends
            ax.axvspan(epochs[0] - 0.5, epochs[-1] + 0.5, color=color, alpha=0.07, lw=0)
        prefix = f"{phase}: " if len(phases) > 1 else ""
        loss = [r["loss"] for r in records]
        ax.plot(epochs, loss, color=color, label=f"{prefix}training")
        values += loss
        val = [(e, r["val_loss"]) for e, r in zip(epochs, records) if r.get("val_loss") is not None]
        if val:
            ve, vl = zip(*val)
            ax.plot(ve, vl, color=color, linestyle="--", label=f"{prefix}validation")
            kept = [e for e, r in zip(epochs, records) if r.get("kept")]
            if kept and kept[0] in ve:  # the epoch whose weights the loop kept
                ax.plot(kept[0], vl[ve.index(kept[0])], "o", color=color, markersize=4)
            values += vl

    if all(v > 0 and math.isfinite(v) for v in values):
        ax.set_yscale("log")
    ax.set_xlabel("epoch" if len(phases) == 1 else "epoch (all phases)")
    ax.set_ylabel("loss (scaled units)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False)
    return fig


# ============================================================================ helpers
_INK = "gray_r"  # dark ink on white paper, like the digits themselves
_AE, _PCA = "#1f6fb2", "#9a9a9a"


def _figure(width: float, height: float) -> Figure:
    # Figure() rather than pyplot: no global state, no GUI backend, safe in threads and CI.
    # A floor on the width keeps left-aligned titles of narrow mosaics from being cut.
    return Figure(figsize=(max(width, 4.8), height), layout="constrained", dpi=100)


def _images(X, image_shape) -> np.ndarray:
    """Rows (n, n_features) -> images (n, h, w)."""
    X = np.asarray(X, dtype=np.float64)
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 3 and shape[0] == 1:
        shape = shape[1:]
    if len(shape) != 2 or math.prod(shape) != X[0].size:
        raise ValueError(
            f"image_shape={tuple(image_shape)} does not fit rows of {X[0].size} features; "
            "pass (height, width) with height * width == n_features."
        )
    return X.reshape(len(X), *shape)


def _mosaic(images: np.ndarray, n_cols: int, pad: int = 1) -> np.ndarray:
    """Tile images (n, h, w) row-major into one array; gaps are NaN (drawn as paper)."""
    n, h, w = images.shape
    n_rows = max(1, math.ceil(n / n_cols))
    out = np.full((n_rows * (h + pad) - pad, n_cols * (w + pad) - pad), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, n_cols)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = img
    return out


def _show_mosaic(ax, mosaic, *, cmap=_INK, vmin=None, vmax=None, row_labels=(),
                 col_labels=(), cell=None):
    """Draw a mosaic without frame; label rows (y ticks) and columns (x ticks) if given."""
    cm = colormaps[cmap].with_extremes(bad="white")
    image = ax.imshow(mosaic, cmap=cm, vmin=vmin, vmax=vmax, interpolation="nearest")
    for side in ax.spines.values():
        side.set_visible(False)
    ax.tick_params(length=0)
    h, w = cell if cell is not None else mosaic.shape
    ax.set_yticks([i * (h + 1) + (h - 1) / 2 for i in range(len(row_labels))], list(row_labels))
    ax.set_xticks([i * (w + 1) + (w - 1) / 2 for i in range(len(col_labels))], list(col_labels))
    return image


def _title(fig, text: str) -> None:
    # A figure-level title: mosaics can be narrower than their title, axes titles get cut.
    fig.suptitle(text, x=0.02, ha="left", fontsize=11)


def _range(X) -> tuple[float, float]:
    lo, hi = float(np.nanmin(X)), float(np.nanmax(X))
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def _reconstruct(model, X):
    """``model``'s reconstruction of ``X``: float64 rows, or a DataFrame for a table."""
    X_hat = model.reconstruct(X) if hasattr(model, "reconstruct") else \
        model.inverse_transform(model.transform(X))
    return X_hat if hasattr(X_hat, "columns") else np.asarray(X_hat, dtype=np.float64)


def _rows(X, n: int, random_state=0) -> np.ndarray:
    """The first ``n`` rows of a fixed shuffle, so the plots of one report show the same rows."""
    idx = np.random.RandomState(random_state).permutation(len(X))[:n]
    return np.asarray(X, dtype=np.float64)[np.sort(idx)]


def _module(estimator):
    module = getattr(estimator, "module_", None)
    if module is None:
        raise ValueError(f"{type(estimator).__name__} is not fitted; call fit first.")
    return module


def _grid_shape(n: int, max_cols: int) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


# ============================================================================ images
def reconstruction_grid(estimator, X, image_shape, *, pca=None, n_images=10, random_state=0):
    """Originals, PCA reconstructions and autoencoder reconstructions, one row each.

    Parameters
    ----------
    estimator : fitted AutoEncoder
    X : array-like of shape (n_samples, n_features)
        Rows to show (usually test rows); ``n_images`` of them are drawn with ``random_state``.
    image_shape : tuple of int
        (height, width) of one row.
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
    k = getattr(estimator, "n_components", "?")
    rows.append((f"autoencoder (k={k})", _reconstruct(estimator, X)))
    labels = [rows[0][0]] + [f"{name}\nMSE {row_errors(X, R).mean():.4f}" for name, R in rows[1:]]
    images = _images(np.concatenate([R for _, R in rows]), image_shape)
    h, w = images.shape[1:]
    fig = _figure(1.0 + 0.75 * len(X) * w / max(h, w), 0.4 + 0.8 * len(rows) * h / max(h, w))
    ax = fig.add_subplot()
    lo, hi = _range(X)
    _show_mosaic(ax, _mosaic(images, len(X)), vmin=lo, vmax=hi, row_labels=labels, cell=(h, w))
    _title(fig, "Reconstructions of test rows")
    return fig


def first_layer_weights(estimator, image_shape, *, n_units=32):
    """The first encoder layer's weights, one image per hidden unit.

    Each image is scaled to its own largest absolute weight (red positive, blue negative).
    The weights act on the *scaled* inputs, which is what the network sees. For a
    convolutional encoder the images are the first layer's kernels (averaged over input
    channels), and ``image_shape`` is not used.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: the mosaic (one image) and its colorbar.
    """
    import torch.nn as nn

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
        images = _images(W, image_shape)
        n_total = first.out_features
    images = images / np.maximum(np.abs(images).max(axis=(1, 2), keepdims=True), 1e-12)
    n_rows, n_cols = _grid_shape(len(images), 8)
    h, w = images.shape[1:]
    fig = _figure(1.0 + 1.0 * n_cols * w / max(h, w), 0.7 + 1.0 * n_rows * h / max(h, w))
    ax = fig.add_subplot()
    img = _show_mosaic(ax, _mosaic(images, n_cols), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks([]), ax.set_yticks([])
    bar = fig.colorbar(img, ax=ax, shrink=0.8, ticks=[-1, 0, 1])
    bar.set_label("relative weight", fontsize=8)
    bar.ax.tick_params(labelsize=8)
    _title(fig, f"First-layer weights ({len(images)} of {n_total} units)")
    return fig


def top_activating(estimator, X, image_shape, *, n_top=8, max_units=16):
    """For each code unit, the ``n_top`` rows of ``X`` that drive it highest.

    Returns
    -------
    matplotlib.figure.Figure
        One axes, one image: a row per code unit, highest activation on the left.
    """
    X = np.asarray(X, dtype=np.float64)
    Z = np.asarray(estimator.transform(X), dtype=np.float64)
    units = range(min(Z.shape[1], max_units))
    n_top = min(n_top, len(X))
    top = [np.argsort(-Z[:, j], kind="stable")[:n_top] for j in units]
    images = _images(np.concatenate([X[idx] for idx in top]), image_shape)
    h, w = images.shape[1:]
    fig = _figure(1.2 + 0.7 * n_top * w / max(h, w), 0.6 + 0.7 * len(top) * h / max(h, w))
    ax = fig.add_subplot()
    lo, hi = _range(X)
    _show_mosaic(ax, _mosaic(images, n_top), vmin=lo, vmax=hi, cell=(h, w),
                 row_labels=[f"unit {j}" for j in units])
    ax.set_xticks([])
    _title(fig, "Rows that most activate each code unit")
    return fig


def activation_maximization(estimator, image_shape, *, X=None, data_range=None, steps=200,
                            learning_rate=0.05, max_units=16):
    """Inputs that drive each code unit highest (top row) and lowest (bottom row).

    Gradient ascent on the input through the encoder (scaler included), from a mid-grey
    start, with the input clipped to the data range after every step.

    Parameters
    ----------
    estimator : fitted AutoEncoder
    image_shape : tuple of int
    X : array-like, optional
        Data whose overall min and max give the range; else ``data_range``, else (0, 1).
    data_range : (float, float), optional
    steps : int, default=200
        Adam steps.
    learning_rate : float, default=0.05
        Relative to the data range.
    max_units : int, default=16

    Returns
    -------
    matplotlib.figure.Figure
        One axes, one image.
    """
    import torch

    module = _module(estimator)
    lo, hi = _range(X) if X is not None else (data_range if data_range is not None else (0.0, 1.0))
    k = min(int(estimator.n_components), max_units)
    n_features = math.prod(image_shape)
    device = next(module.parameters()).device
    # Row i maximises unit i; row k + i minimises it. One batch serves every unit.
    sign = torch.cat([torch.ones(k), -torch.ones(k)]).to(device)
    unit = torch.cat([torch.arange(k), torch.arange(k)]).to(device)
    x = torch.full((2 * k, n_features), (lo + hi) / 2, device=device, requires_grad=True)
    optimizer = torch.optim.Adam([x], lr=learning_rate * (hi - lo))
    flags = [p.requires_grad for p in module.parameters()]
    was_training = module.training
    module.eval()
    try:
        for p in module.parameters():
            p.requires_grad_(False)  # only the input moves; the weights stay untouched
        with torch.enable_grad():
            for _ in range(steps):
                z = module.encode(x)
                z = z[0] if isinstance(z, (tuple, list)) else z
                objective = (sign * z.gather(1, unit[:, None]).squeeze(1)).sum()
                optimizer.zero_grad()
                (-objective).backward()
                optimizer.step()
                with torch.no_grad():
                    x.clamp_(lo, hi)
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)
        module.train(was_training)
    images = _images(x.detach().cpu().double().numpy(), image_shape)
    h, w = images.shape[1:]
    fig = _figure(1.3 + 0.75 * k * w / max(h, w), 0.9 + 1.5 * h / max(h, w))
    ax = fig.add_subplot()
    _show_mosaic(ax, _mosaic(images, k), vmin=lo, vmax=hi, cell=(h, w),
                 row_labels=["max", "min"], col_labels=[str(j) for j in range(k)])
    ax.set_xlabel("code unit")
    _title(fig, "Inputs that maximise / minimise each code unit")
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
    X : array-like of shape (n_samples, n_features)
    reference : array-like of shape (m, n_features), optional
        Rows whose ranges bound the noise (the training data); default ``X``.
    """
    if noise not in _NOISES:
        raise ValueError(f"noise={noise!r} is not supported; use one of {_NOISES}")
    X = torch.from_numpy(np.asarray(X, dtype=np.float64))
    ref = X if reference is None else torch.as_tensor(
        np.asarray(reference, np.float64).reshape(-1, X.shape[1]))
    if noise == "gaussian":  # one range shared by all features, as in training
        low, high = ref.min().expand(X.shape[1]), ref.max().expand(X.shape[1])
    else:
        low, high = ref.amin(0), ref.amax(0)
    # The training corruption itself, seeded: plots show exactly what the model was fed.
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    with seeded_torch_rng(torch.device("cpu"), seed):
        return make_corruption(noise, noise_level, low, high)(X).numpy()


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
    noise = noise if noise is not None else getattr(estimator, "noise", None)
    if noise is None:
        raise ValueError("the estimator has no noise parameter; pass noise='gaussian' etc.")
    level = noise_level if noise_level is not None else getattr(estimator, "noise_level", 0.3)
    clean = _rows(X, n_images, random_state)
    noisy = corrupt(clean, noise, level, reference=X, random_state=random_state)
    denoised = _reconstruct(estimator, noisy)
    images = _images(np.concatenate([clean, noisy, denoised]), image_shape)
    h, w = images.shape[1:]
    labels = ["clean", f"{noise} ({level:g})\nMSE {row_errors(clean, noisy).mean():.4f}",
              f"denoised\nMSE {row_errors(clean, denoised).mean():.4f}"]
    fig = _figure(1.2 + 0.75 * len(clean) * w / max(h, w), 0.4 + 2.4 * h / max(h, w))
    ax = fig.add_subplot()
    lo, hi = _range(clean)
    _show_mosaic(ax, _mosaic(images, len(clean)), vmin=lo, vmax=hi, row_labels=labels,
                 cell=(h, w))
    _title(fig, "Denoising: clean / corrupted / reconstructed")
    return fig


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
    images = _images(S.reshape(len(S), -1), image_shape)
    n_rows, n_cols = _grid_shape(len(images), 16)
    h, w = images.shape[1:]
    fig = _figure(0.4 + 0.6 * n_cols * w / max(h, w), 0.6 + 0.6 * n_rows * h / max(h, w))
    ax = fig.add_subplot()
    lo, hi = data_range if data_range is not None else _range(S)
    _show_mosaic(ax, _mosaic(images, n_cols), vmin=lo, vmax=hi)
    ax.set_xticks([]), ax.set_yticks([])
    _title(fig, f"{len(images)} samples from the prior")
    return fig


def latent_traversal(estimator, X, image_shape, *, n_steps=9, span=2.5, max_units=10):
    """Decode codes that move along one code dimension at a time.

    Each row starts from the mean code of ``X`` and moves dimension ``j`` from
    ``-span`` to ``+span`` of its standard deviation over ``X``, the others fixed.

    Returns
    -------
    matplotlib.figure.Figure
        One axes, one image: a row per code dimension.
    """
    X = np.asarray(X, dtype=np.float64)
    Z = np.asarray(estimator.transform(X), dtype=np.float64)
    center, sd = Z.mean(axis=0), Z.std(axis=0)
    dims = range(min(Z.shape[1], max_units))
    steps = np.linspace(-span, span, n_steps)
    codes = np.repeat(center[None], len(dims) * n_steps, axis=0)
    for r, j in enumerate(dims):
        codes[r * n_steps : (r + 1) * n_steps, j] += steps * sd[j]
    decoded = np.asarray(estimator.inverse_transform(codes), dtype=np.float64)
    images = _images(decoded, image_shape)
    h, w = images.shape[1:]
    fig = _figure(1.2 + 0.7 * n_steps * w / max(h, w), 0.8 + 0.7 * len(dims) * h / max(h, w))
    ax = fig.add_subplot()
    lo, hi = _range(X)
    _show_mosaic(ax, _mosaic(images, n_steps), vmin=lo, vmax=hi, cell=(h, w),
                 row_labels=[f"dim {j}" for j in dims],
                 col_labels=[f"{s:+.1f}σ" if s else "mean" for s in steps])
    _title(fig, "Latent traversal: one code dimension at a time")
    return fig


def decoded_grid(estimator, image_shape, *, X=None, n=12, quantiles=(0.02, 0.98)):
    """Decoded images on a regular grid over a 2-D code space.

    The grid spans the ``quantiles`` of the codes of ``X``; without ``X``, a variational
    model's prior (±1.65, its 5-95 % range) is used.

    Returns
    -------
    matplotlib.figure.Figure
        One axes, one image, its axes in code units.
    """
    if int(getattr(estimator, "n_components", 0)) != 2:
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
    images = _images(decoded, image_shape)
    fig = _figure(6.4, 6.0)
    ax = fig.add_subplot()
    lo, hi = _range(X) if X is not None else _range(decoded)
    mosaic = _mosaic(images, n)
    dx, dy = (x1 - x0) / max(n - 1, 1), (y1 - y0) / max(n - 1, 1)
    ax.imshow(mosaic, cmap=colormaps[_INK].with_extremes(bad="white"), vmin=lo, vmax=hi,
              interpolation="nearest", aspect="auto",
              extent=(x0 - dx / 2, x1 + dx / 2, y0 - dy / 2, y1 + dy / 2))
    ax.set_xlabel("code 0"), ax.set_ylabel("code 1")
    _title(fig, "Decoded grid over the code space")
    return fig


# ============================================================================ codes
def _scatter(ax, Z, y, title):
    if y is None:
        ax.scatter(Z[:, 0], Z[:, 1], s=5, alpha=0.6, color=_AE, linewidths=0)
    else:
        classes = np.unique(y)
        if len(classes) <= 20:
            cmap = colormaps["tab10" if len(classes) <= 10 else "tab20"]
            codes = np.searchsorted(classes, y)
            ax.scatter(Z[:, 0], Z[:, 1], s=6, alpha=0.75, c=cmap(codes % cmap.N), linewidths=0)
        else:  # many classes (or text labels): a continuous scale over their order
            ax.scatter(Z[:, 0], Z[:, 1], s=6, alpha=0.75, c=np.searchsorted(classes, y),
                       cmap="viridis", linewidths=0)
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    # Far-out codes (heavy tails are common) should not squash the rest into a sliver:
    # frame the central 96 % with a margin, and say how many points fall outside.
    inside = np.ones(len(Z), dtype=bool)
    for axis, values in ((ax.set_xlim, Z[:, 0]), (ax.set_ylim, Z[:, 1])):
        lo, hi = np.quantile(values, [0.02, 0.98])
        full = values.max() - values.min()
        if hi > lo and full > 2 * (hi - lo):
            lo, hi = lo - 0.25 * (hi - lo), hi + 0.25 * (hi - lo)
            axis(lo, hi)
            inside &= (values >= lo) & (values <= hi)
    if not inside.all():
        ax.set_title(f"{title}\n({(~inside).sum()} of {len(Z)} points outside the view)",
                     fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def codes_2d(estimator, X, y=None, *, pca=None, max_points=3000, random_state=0):
    """Two-dimensional codes of PCA and of the autoencoder, side by side, coloured by label.

    Parameters
    ----------
    estimator : fitted AutoEncoder
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,), optional
        Labels; up to 20 classes get a legend, more are drawn on a continuous scale.
    pca : fitted PCA, optional
        Its first two components are drawn; default: PCA(2) fitted on ``X``.
    max_points : int, default=3000

    Returns
    -------
    matplotlib.figure.Figure
        Two axes (PCA left, autoencoder right), one scatter each. Codes wider than 2 are
        projected on their own first two principal components; a 1-D code is drawn
        against a random jitter.
    """
    from sklearn.decomposition import PCA

    idx = sample_rows(len(X), max_points, random_state)
    X = X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X, dtype=np.float64)[idx]  # a table
    y = None if y is None else np.asarray(y)[idx]
    if pca is None:
        pca = PCA(n_components=2).fit(X)
    P = np.asarray(pca.transform(X), dtype=np.float64)
    P = P[:, :2] if P.shape[1] >= 2 else np.column_stack([P[:, 0], np.zeros(len(P))])
    Z = np.asarray(estimator.transform(X), dtype=np.float64)
    k = Z.shape[1]
    if k == 1:
        Z = np.column_stack([Z[:, 0], np.random.RandomState(random_state).uniform(-1, 1, len(Z))])
        ae_title = "autoencoder code (k=1; vertical: jitter)"
    elif k > 2:
        Z = PCA(n_components=2).fit_transform(Z)
        ae_title = f"autoencoder codes (k={k}, first 2 principal axes)"
    else:
        ae_title = "autoencoder codes (k=2)"
    fig = _figure(10.0, 4.6)
    axes = fig.subplots(1, 2)
    _scatter(axes[0], P, y, "PCA, first 2 components")
    _scatter(axes[1], Z, y, ae_title)
    if k == 1:
        axes[1].set_yticks([])
    if y is not None and len(np.unique(y)) <= 20:
        from matplotlib.lines import Line2D

        classes = np.unique(y)
        cmap = colormaps["tab10" if len(classes) <= 10 else "tab20"]
        handles = [Line2D([], [], ls="", marker="o", ms=6, color=cmap(i % cmap.N))
                   for i in range(len(classes))]
        fig.legend(handles, [str(c) for c in classes], loc="outside right center",
                   title="label", frameon=False, fontsize=9)
    return fig


# ============================================================================ tabular
def feature_scatter(estimator, X, *, feature_names=None, pca=None, max_features=12,
                    max_points=2000, random_state=0):
    """Each variable against its reconstruction, with the R² of each model.

    Parameters
    ----------
    estimator : fitted AutoEncoder
    X : array-like of shape (n_samples, n_features), or DataFrame
        A table's numeric columns are drawn.
    feature_names : list of str, optional
    pca : fitted PCA, optional
        Its reconstructions are drawn underneath in grey, with their R².
    max_features : int, default=12
        The first ``max_features`` variables are drawn.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per drawn variable (unused grid cells removed), each with the autoencoder's
        scatter, PCA's if given, and the identity line; heavy-tailed variables
        (:func:`aekit.nn.layers.tail_ratios`) on symmetric-log axes.
    """
    if hasattr(X, "columns"):  # a table: its numeric columns
        X = X.iloc[np.sort(np.random.RandomState(random_state).permutation(len(X))[:max_points])]
        feature_names = [c for c in X.columns if X[c].dtype.kind in "iuf"]
    elif len(X) > max_points:
        X = _rows(X, max_points, random_state)
    X_ae, X_pca = (None if m is None else _reconstruct(m, X) for m in (estimator, pca))
    X, X_ae, X_pca = (None if M is None else np.asarray(
        M[feature_names] if hasattr(M, "columns") else M, np.float64) for M in (X, X_ae, X_pca))
    r2_ae = r2_per_feature(X, X_ae)
    heavy = tail_ratios(torch.from_numpy(np.nan_to_num(X))).numpy() > TAIL_RATIO
    r2_pca = r2_per_feature(X, X_pca) if pca is not None else None
    n = min(X.shape[1], max_features)
    names = (list(feature_names) if feature_names is not None
             else [f"x{j}" for j in range(X.shape[1])])
    n_rows, n_cols = _grid_shape(n, 4)
    fig = _figure(2.9 * n_cols, 2.7 * n_rows + 0.4)
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False).ravel())
    for j, ax in enumerate(axes):
        if j >= n:
            ax.remove()
            continue
        if X_pca is not None:
            ax.scatter(X[:, j], X_pca[:, j], s=4, alpha=0.4, color=_PCA, linewidths=0, label="PCA")
        ax.scatter(X[:, j], X_ae[:, j], s=4, alpha=0.6, color=_AE, linewidths=0, label="AE")
        lo, hi = _range(X[:, j])
        ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, ls="--")
        if heavy[j]:  # log axes spread a heavy tail's bulk; linear near 0
            threshold = np.nanquantile(np.abs(X[:, j])[X[:, j] != 0], 0.1)
            ax.set_xscale("symlog", linthresh=threshold)
            ax.set_yscale("symlog", linthresh=threshold)
        title = f"{names[j]}\nR² AE {r2_ae[j]:.3f}"
        if r2_pca is not None:
            title += f" · PCA {r2_pca[j]:.3f}"
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.supxlabel("input", fontsize=9)
    fig.supylabel("reconstruction", fontsize=9)
    if n < X.shape[1]:
        fig.suptitle(f"first {n} of {X.shape[1]} variables", fontsize=9)
    return fig


def error_vs_k(sweep):
    """Test reconstruction error against code size for PCA and the autoencoder.

    Parameters
    ----------
    sweep : list of PCAComparison
        As returned by :func:`aekit.metrics.pca_sweep`; NaN autoencoder errors (a PCA-only
        sweep) are left out. An extra comparison (e.g. the fitted model's) may be appended.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with a line for PCA and points or a line for the autoencoder.
    """
    if not len(sweep):
        raise ValueError("sweep is empty; pass the output of pca_sweep")
    units = {c.unit for c in sweep}
    if len(units) > 1:
        raise ValueError("the sweep mixes raw and scaled units; sweep PCA in the model's "
                         "scaled units (pca_sweep(..., scaled_by=estimator))")
    # One point per k (the first given), however many comparisons repeat it.
    pca_pts = sorted(dict((c.n_components, c.pca_error) for c in reversed(sweep)).items())
    ae_pts = sorted(dict((c.n_components, c.ae_error) for c in reversed(sweep)
                         if np.isfinite(c.ae_error)).items())
    fig = _figure(6.4, 4.0)
    ax = fig.add_subplot()
    ax.plot(*zip(*pca_pts), marker="o", ms=4, color=_PCA, lw=1.8, label="PCA")
    if ae_pts:
        ax.plot(*zip(*ae_pts), marker="o", ms=7 if len(ae_pts) == 1 else 5, color=_AE, lw=1.8,
                ls="-" if len(ae_pts) > 1 else "", label="autoencoder")
    values = [v for _, v in pca_pts + ae_pts if v > 0]
    if values and max(values) / min(values) > 30:
        ax.set_yscale("log")
    ax.set_xlabel("code size k")
    ax.set_ylabel("test error (scaled units)" if units == {"scaled"} else "test MSE per element")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig
