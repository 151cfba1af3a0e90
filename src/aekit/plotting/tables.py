"""Plots of tables: each column's R² against PCA's, categorical columns' confusions, and
errors by label. Like :mod:`aekit.plotting` (whose per-column scatter,
:func:`~aekit.plotting.feature_scatter`, draws a table's numeric columns), each function
returns a :class:`matplotlib.figure.Figure`, never touching ``pyplot``.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps

from ._common import _AE, _PCA, _figure, _open_axes

__all__ = ["confusion_summary", "errors_by_label", "r2_bars"]

_R2_FLOOR = -1.0  # bars below are cut here and labelled with their value


def r2_bars(comparison, *, max_columns: int = 40):
    """Each column's R² (variance explained, test split, in the model's scaled units: see
    :class:`~aekit.evaluation.metrics.PCAComparison`) for the autoencoder and for PCA.

    Parameters
    ----------
    comparison : PCAComparison
        From :func:`aekit.compare_with_pca` (``columns``, ``ae_r2``, ``pca_r2``).
    max_columns : int, default=40
        The first ``max_columns`` columns are drawn.

    Returns
    -------
    matplotlib.figure.Figure
        One horizontal pair of bars per column, in the table's order; bars below -1 are
        cut there and labelled with their value.
    """
    names = list(comparison.columns)[:max_columns]
    if not names:
        raise ValueError("the comparison has no per-column R²; use compare_with_pca")
    ae = np.asarray(comparison.ae_r2[: len(names)], dtype=np.float64)
    pca = np.asarray(comparison.pca_r2[: len(names)], dtype=np.float64)
    fig = _figure(7.0, 0.6 + 0.28 * len(names))
    ax = fig.add_subplot()
    y = np.arange(len(names))
    for values, offset, color, label in ((ae, -0.2, _AE, "autoencoder"),
                                         (pca, 0.2, _PCA, "PCA")):
        shown = np.clip(np.nan_to_num(values, nan=0.0), _R2_FLOOR, 1.0)
        ax.barh(y + offset, shown, height=0.38, color=color, label=label)
        for i in np.flatnonzero(values < _R2_FLOOR):
            ax.text(_R2_FLOOR, y[i] + offset, f" {values[i]:.3g}", va="center", fontsize=7,
                    color="white")
    ax.set_yticks(y, [n[:24] for n in names], fontsize=8)
    ax.invert_yaxis()
    low = max(_R2_FLOOR, min(0.0, float(np.nanmin(np.r_[ae, pca, 0.0]))))
    ax.set_xlim(low - 0.02, 1.02)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel("R² on the test split, scaled units (1: perfect, 0: the column's mean)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(frameon=False, loc="lower left", fontsize=8)
    _open_axes(ax)
    if len(comparison.columns) > len(names):
        ax.set_title(f"first {len(names)} of {len(comparison.columns)} columns", fontsize=9)
    return fig


def _confusion(truth: np.ndarray, guess: np.ndarray, max_categories: int):
    """Row-normalised confusion among the most frequent true categories (the rest: one
    "(rest)" row and column), and the category labels."""
    values, counts = np.unique(truth.astype(str), return_counts=True)
    top = list(values[np.argsort(-counts, kind="stable")][:max_categories])
    labels = top + (["(rest)"] if len(values) > len(top) else [])
    index = {v: i for i, v in enumerate(top)}
    other = len(top)
    t = np.array([index.get(v, other) for v in truth.astype(str)])
    g = np.array([index.get(v, other) for v in guess.astype(str)])
    matrix = np.zeros((len(labels), len(labels)))
    np.add.at(matrix, (np.minimum(t, len(labels) - 1), np.minimum(g, len(labels) - 1)), 1)
    return matrix / np.maximum(matrix.sum(1, keepdims=True), 1), labels


def confusion_summary(X, X_ae, X_pca=None, *, columns=None, max_categories: int = 8,
                      max_columns: int = 6):
    """How each categorical column is reconstructed: a confusion matrix of its most
    frequent categories (rows: the true category, columns: the reconstructed one, each row
    summing to 1), with the share given back exactly.

    Parameters
    ----------
    X, X_ae : pandas.DataFrame
        Rows and the autoencoder's reconstructions (``estimator.reconstruct(X)``).
    X_pca : pandas.DataFrame, optional
        PCA's reconstructions, in the same units (its accuracy joins each title).
    columns : list of str, optional
        The categorical columns to draw; default: the non-numeric columns of ``X``.
    max_categories : int, default=8
        Per column, the most frequent categories; the rest are pooled as "(rest)".
    max_columns : int, default=6

    Returns
    -------
    matplotlib.figure.Figure
    """
    if columns is None:
        columns = [c for c in X.columns if X[c].dtype.kind not in "iuf"]
    columns = list(columns)[:max_columns]
    if not columns:
        raise ValueError("no categorical columns to draw")
    fig = _figure(3.3 * len(columns), 3.6)
    axes = np.atleast_1d(fig.subplots(1, len(columns), squeeze=False).ravel())
    cmap = colormaps["Blues"]
    for ax, name in zip(axes, columns):
        truth, guess = np.asarray(X[name], dtype=object), np.asarray(X_ae[name], dtype=object)
        matrix, labels = _confusion(truth, guess, max_categories)
        ax.imshow(matrix, cmap=cmap, vmin=0, vmax=1)
        ax.set_xticks(range(len(labels)), [str(v)[:10] for v in labels], rotation=90,
                      fontsize=7)
        ax.set_yticks(range(len(labels)), [str(v)[:10] for v in labels], fontsize=7)
        title = f"{name}\naccuracy AE {np.mean(truth.astype(str) == guess.astype(str)):.3f}"
        if X_pca is not None:
            pca = np.asarray(X_pca[name], dtype=object).astype(str)
            title += f" · PCA {np.mean(truth.astype(str) == pca):.3f}"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("reconstructed", fontsize=8)
    axes[0].set_ylabel("true category", fontsize=8)
    return fig


def errors_by_label(errors, labels, *, pca_errors=None, max_labels: int = 15):
    """Mean reconstruction error of each label's rows (e.g. normal traffic against each
    attack): the rows a model reconstructs worst are its anomalies.

    Parameters
    ----------
    errors : array-like of shape (n_samples,)
        The autoencoder's error of each row (``-estimator.score_samples(X)``).
    labels : array-like of shape (n_samples,)
    pca_errors : array-like of shape (n_samples,), optional
        PCA's, in the same units, drawn beside.
    max_labels : int, default=15
        The most frequent labels are drawn.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal bars on a log scale, each label with its number of rows.
    """
    errors, labels = np.asarray(errors, dtype=np.float64), np.asarray(labels).astype(str)
    values, counts = np.unique(labels, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:max_labels]
    values, counts = values[order], counts[order]
    fig = _figure(7.0, 0.8 + 0.3 * len(values))
    ax = fig.add_subplot()
    y = np.arange(len(values))
    series = [(errors, _AE, "autoencoder")]
    if pca_errors is not None:
        series.append((np.asarray(pca_errors, dtype=np.float64), _PCA, "PCA"))
    height = 0.8 / len(series)
    for i, (e, color, name) in enumerate(series):
        means = [e[labels == v].mean() for v in values]
        ax.barh(y + (i - (len(series) - 1) / 2) * height, means, height=height * 0.95,
                color=color, label=name)
    ax.set_yticks(y, [f"{v[:20]} ({c})" for v, c in zip(values, counts)], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("mean reconstruction error of the label's rows (scaled units)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    _open_axes(ax)
    return fig
