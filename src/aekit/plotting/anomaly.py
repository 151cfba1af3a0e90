"""Plots of anomaly detectors, each a function that returns a Figure (as :mod:`aekit.plotting`).

- :func:`score_histogram`: the anomaly scores with the threshold (and the labels, if any);
- :func:`roc_pr_curves`: ROC and precision-recall curves of several detectors' scores;
- :func:`contributions`: which columns make the top anomalies anomalous.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score
from sklearn.metrics import roc_curve

from ._common import _figure, _open_axes

_NORMAL, _ANOMALY, _LINE = "#1f6fb2", "#b3261e", "#1d2330"


def _symlog_bins(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin edges equally spaced in ``sign(v) * log1p(|v|)``: scores are heavy-tailed."""
    t = np.sign(values) * np.log1p(np.abs(values))
    lo, hi = float(t.min()), float(t.max())
    edges = np.linspace(lo, hi if hi > lo else lo + 1, n_bins + 1)
    return np.sign(edges) * np.expm1(np.abs(edges))


def score_histogram(scores, threshold: float, anomaly=None, *, typical: float | None = None,
                    n_bins: int = 60) -> Figure:
    """Histogram of anomaly scores (higher: more anomalous) with the threshold.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        E.g. ``-detector.score_samples(X)``.
    threshold : float
        E.g. ``detector.threshold_``: rows above it are flagged.
    anomaly : array-like of bool, optional
        Known labels (True: anomaly): the two groups are drawn in two colours.
    typical : float, optional
        A median training row's score, named on the x-axis (the scale depends on the
        detector's ``combine``: 0.5 for ``"rank"``, about 0 for ``"zscore"``).
    n_bins : int, default=60

    Returns
    -------
    fig : matplotlib.figure.Figure
        The x-axis is linear within ±1 and logarithmic beyond (scores span orders of
        magnitude); the legend gives the share of rows above the threshold.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or not len(scores) or not np.isfinite(scores).all():
        raise ValueError("scores must be a non-empty 1-D array of finite numbers")
    bins = _symlog_bins(np.append(scores, threshold), n_bins)
    fig = _figure(7.0, 3.8)
    ax = fig.add_subplot()
    if anomaly is None:
        ax.hist(scores, bins=bins, color=_NORMAL, alpha=0.85, label=f"{len(scores)} rows")
    else:
        anomaly = np.asarray(anomaly, dtype=bool)
        ax.hist(scores[~anomaly], bins=bins, color=_NORMAL, alpha=0.7,
                label=f"normal ({(~anomaly).sum()})")
        ax.hist(scores[anomaly], bins=bins, color=_ANOMALY, alpha=0.7,
                label=f"anomaly ({anomaly.sum()})")
    flagged = float(np.mean(scores > threshold))
    ax.axvline(threshold, color=_LINE, ls="--", lw=1.5,
               label=f"threshold {threshold:.3g}: {flagged:.1%} flagged")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_yscale("log")
    ax.set_xlabel("anomaly score" + ("" if typical is None
                                     else f" (a median training row: {typical:.3g})"))
    ax.set_ylabel("rows")
    ax.legend(frameon=False, fontsize=9)
    _open_axes(ax, grid=0.3)
    return fig


def roc_pr_curves(anomaly, scores: dict) -> Figure:
    """ROC and precision-recall curves of each detector's anomaly scores.

    Parameters
    ----------
    anomaly : array-like of bool
        True for the anomalies.
    scores : dict of str to array-like
        Each detector's anomaly scores of the same rows (higher: more anomalous), in the
        order to draw them; the first is drawn thickest.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Two axes: ROC (with each ROC-AUC in the legend) and precision against recall (with
        each average precision, and the share of anomalies as the chance level).
    """
    anomaly = np.asarray(anomaly, dtype=bool)
    if anomaly.all() or not anomaly.any():
        raise ValueError("the labels hold one class only: ROC and PR curves need both")
    fig = _figure(9.6, 4.2)
    roc_ax, pr_ax = fig.subplots(1, 2)
    for i, (name, s) in enumerate(scores.items()):
        s = np.asarray(s, dtype=np.float64)
        lw, color = (2.4, f"C{i}") if i == 0 else (1.3, f"C{i}")
        fpr, tpr, _ = roc_curve(anomaly, s)
        roc_ax.plot(fpr, tpr, lw=lw, color=color,
                    label=f"{name} ({roc_auc_score(anomaly, s):.3f})")
        precision, recall, _ = precision_recall_curve(anomaly, s)
        pr_ax.plot(recall, precision, lw=lw, color=color,
                   label=f"{name} ({average_precision_score(anomaly, s):.3f})")
    roc_ax.plot([0, 1], [0, 1], color="#9a9a9a", ls=":", lw=1)
    pr_ax.axhline(anomaly.mean(), color="#9a9a9a", ls=":", lw=1)
    roc_ax.set(xlabel="false-positive rate", ylabel="true-positive rate",
               title="ROC (ROC-AUC)")
    pr_ax.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02),
              title="precision-recall (average precision)")
    for ax in (roc_ax, pr_ax):
        ax.legend(frameon=False, fontsize=9)
        _open_axes(ax, grid=0.3)
    return fig


def contributions(shares, row_labels, feature_names, *, max_columns: int = 12) -> Figure:
    """Each top anomaly's share of its reconstruction error per column, as a heat map.

    Parameters
    ----------
    shares : array-like of shape (n_rows, n_features)
        Rows' per-column parts of their error over the row's total (e.g.
        ``feature_scores(X)`` normalised per row), most anomalous row first.
    row_labels : sequence of str
    feature_names : sequence of str
    max_columns : int, default=12
        Columns shown: those with the largest share summed over the rows.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    shares = np.asarray(shares, dtype=np.float64)
    if shares.ndim != 2 or not shares.size:
        raise ValueError("shares must be a non-empty (n_rows, n_features) array")
    cols = np.argsort(-shares.sum(0), kind="stable")[:max_columns]
    data = shares[:, cols]
    fig = _figure(max(5.0, 0.6 * len(cols) + 2.5), max(2.4, 0.32 * len(data) + 1.6))
    ax = fig.add_subplot()
    image = ax.imshow(data, cmap="Reds", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(cols)), [str(feature_names[j]) for j in cols], rotation=45,
                  ha="right", fontsize=8)
    ax.set_yticks(range(len(data)), [str(r) for r in row_labels], fontsize=8)
    for (i, j), v in np.ndenumerate(data):
        if v >= 0.05:
            ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=7,
                    color="white" if v > 0.6 else "black")
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the row's error")
    ax.set_xlabel("column")
    ax.set_ylabel("row (most anomalous first)")
    return fig
