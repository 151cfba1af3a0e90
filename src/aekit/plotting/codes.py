"""Plots of codes and of tabular reconstructions: 2-D codes against PCA's, each variable
against its reconstruction."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib import colormaps

from ..evaluation.errors import r2_per_feature
from ..evaluation.probes import sample_rows
from ..nn.layers import TAIL_RATIO, tail_ratios
from ..semisupervised.labels import blanks_unlabelled, unlabelled_rows
from ._common import (
    _AE,
    _PCA,
    _figure,
    _grid_shape,
    _open_axes,
    _range,
    _reconstruct,
    _rows,
    _takes_model,
)

_UNLABELLED = "#b0b0b0"
"""Rows without a label (``-1``, an empty cell): drawn grey, named "unlabelled"."""


def _scatter(ax, Z, y, title):
    if y is not None and (blank := unlabelled_rows(y)).any():  # grey, under the labelled
        ax.scatter(Z[blank, 0], Z[blank, 1], s=5, alpha=0.4, color=_UNLABELLED, linewidths=0)
        Z, y = Z[~blank], y[~blank]
    if y is None:
        ax.scatter(Z[:, 0], Z[:, 1], s=5, alpha=0.6, color=_AE, linewidths=0)
    elif len(y):
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
    _open_axes(ax)


def _jittered(Z: np.ndarray, random_state) -> np.ndarray:
    """A 1-D code ``Z`` (n, 1) beside a uniform jitter in [-1, 1], (n, 2)."""
    return np.column_stack([Z[:, 0], np.random.RandomState(random_state).uniform(-1, 1,
                                                                                 len(Z))])


def _class_name(label, target_names) -> str:
    """``target_names[label]`` for an integer label within range, else the label itself."""
    if target_names is not None and float(label).is_integer() and 0 <= int(label) < len(
            target_names):
        return str(target_names[int(label)])
    return str(label)


@_takes_model
def codes_2d(estimator, X, y=None, *, pca=None, target_names=None, max_points=3000,
             random_state=0):
    """Two-dimensional codes of PCA and of the autoencoder, side by side, coloured by label.

    Parameters
    ----------
    estimator : fitted AutoEncoder
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,), optional
        Labels; up to 20 classes get a legend, more are drawn on a continuous scale. Rows
        without a label (``-1``, as in :mod:`sklearn.semi_supervised`, or a missing one:
        NaN, None, an empty cell) are drawn in grey as "unlabelled".
    pca : fitted PCA, optional
        Its first two components are drawn; default: PCA(2) fitted on ``X``, in the
        estimator's scaled units when it has them (``to_scaled``: a table's categories are
        numbers there), as the report's.
    target_names : sequence of str, optional
        The name of each label value 0, 1, ... (``Dataset.target_names``: Fashion-MNIST's
        "T-shirt/top", ...), shown in the legend instead of the numbers.
    max_points : int, default=3000

    Returns
    -------
    matplotlib.figure.Figure
        Two axes (PCA left, autoencoder right), one scatter each. Codes wider than 2 are
        projected on their own first two principal components; a 1-D code (or a PCA of
        one component) is drawn against a random jitter.
    """
    from sklearn.decomposition import PCA

    idx = sample_rows(len(X), max_points, random_state)
    X = X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X, dtype=np.float64)[idx]  # a table
    y = None if y is None else blanks_unlabelled(np.asarray(y)[idx])
    if pca is None and callable(getattr(estimator, "to_scaled", None)):
        from ..evaluation.metrics import ScaledPCA

        S = np.asarray(estimator.to_scaled(X), dtype=np.float64)
        pca = ScaledPCA(estimator, PCA(n_components=min(2, *S.shape)).fit(S))
    elif pca is None:
        pca = PCA(n_components=2).fit(X)
    P = np.asarray(pca.transform(X), dtype=np.float64)
    # A one-component PCA is drawn as a 1-D code is, against a jitter: a column of zeros
    # beside it was titled "first 2 components".
    pca_1d = P.shape[1] < 2
    pca_title = "PCA, 1 component (vertical: jitter)" if pca_1d else "PCA, first 2 components"
    P = _jittered(P, random_state) if pca_1d else P[:, :2]
    Z = np.asarray(estimator.transform(X), dtype=np.float64)
    k = Z.shape[1]
    if k == 1:
        Z = _jittered(Z, random_state)
        ae_title = "autoencoder code (k=1; vertical: jitter)"
    elif k > 2:
        Z = PCA(n_components=2).fit_transform(Z)
        ae_title = f"autoencoder codes (k={k}, first 2 principal axes)"
    else:
        ae_title = "autoencoder codes (k=2)"
    fig = _figure(10.0, 4.6)
    axes = fig.subplots(1, 2)
    _scatter(axes[0], P, y, pca_title)
    _scatter(axes[1], Z, y, ae_title)
    for ax, one in ((axes[0], pca_1d), (axes[1], k == 1)):
        if one:
            ax.set_yticks([])
    blank = np.zeros(0, dtype=bool) if y is None else unlabelled_rows(y)
    classes = None if y is None else np.unique(y[~blank])
    if classes is not None and len(classes) <= 20:
        from matplotlib.lines import Line2D

        cmap = colormaps["tab10" if len(classes) <= 10 else "tab20"]
        handles = [Line2D([], [], ls="", marker="o", ms=6, color=cmap(i % cmap.N))
                   for i in range(len(classes))]
        names = [_class_name(c, target_names) for c in classes]
        if blank.any():
            handles.append(Line2D([], [], ls="", marker="o", ms=6, color=_UNLABELLED))
            names.append("unlabelled")
        fig.legend(handles, names, loc="outside right center",
                   title="label" if target_names is None else "class", frameon=False,
                   fontsize=9)
    return fig


@_takes_model
def feature_scatter(estimator, X, *, feature_names=None, pca=None, max_features=12,
                    max_points=2000, random_state=0, r2=None):
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
    r2 : mapping, optional
        ``{name: (autoencoder R², PCA R²)}`` to print in the titles instead of the R² of
        the rows drawn, in the caller's units: the report gives its comparison's, so plot
        and table say the same. Missing cells are left out of the R² either way.

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
        a, p = (r2[names[j]] if r2 is not None and names[j] in r2 else
                (r2_ae[j], None if r2_pca is None else r2_pca[j]))
        title = f"{names[j]}\nR² AE {a:.3f}"
        if pca is not None and p is not None:
            title += f" · PCA {p:.3f}"
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        _open_axes(ax)
    fig.supxlabel("input", fontsize=9)
    fig.supylabel("reconstruction", fontsize=9)
    if n < X.shape[1]:
        fig.suptitle(f"first {n} of {X.shape[1]} variables", fontsize=9)
    return fig
