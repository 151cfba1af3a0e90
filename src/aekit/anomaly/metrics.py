"""Measuring anomaly detectors: labels, ROC-AUC and average precision, and the classic
detectors to compare with, each the way every report and benchmark of aekit runs it.

The baselines (:data:`BASELINES`) are scikit-learn's, with their defaults:

- ``"iforest"``: :class:`~sklearn.ensemble.IsolationForest`, on the columns as they are
  (trees do not care about scale);
- ``"lof"``: :class:`~sklearn.neighbors.LocalOutlierFactor` with ``novelty=True``, on
  standardised columns (it measures distances);
- ``"pca"``: the reconstruction error of :class:`~sklearn.decomposition.PCA` on
  standardised columns, with ``round(sqrt(n_features))`` components: the code size of
  :class:`~aekit.OutlierDetector`'s members, so both compress a row as much.

They take numbers: a DataFrame's text (categorical) columns are given to them one-hot.
Every score here is an *anomaly* score: higher is more anomalous.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

BASELINES = ("iforest", "lof", "pca")


def baseline_scores(name: str, X_fit, X_score, *, random_state=0) -> np.ndarray:
    """Fit the baseline ``name`` on ``X_fit`` and return the anomaly scores of ``X_score``.

    Parameters
    ----------
    name : {"iforest", "lof", "pca"}
    X_fit, X_score : array-like of shape (n_samples, n_features)
        Numbers, or DataFrames whose non-numeric columns are made one-hot (the categories
        of either, so both get the same columns).
    random_state : int, default=0

    Returns
    -------
    scores : ndarray of shape (len(X_score),), higher is more anomalous
    """
    A, B = _numbers(X_fit, X_score)
    return baseline_model(name, A, random_state=random_state)(B)


def baseline_model(name: str, X_fit, *, random_state=0):
    """The baseline ``name`` fitted on the numbers ``X_fit``: a function of rows (with the
    same columns) to their anomaly scores, higher is more anomalous.

    PCA uses ``svd_solver="full"``: the randomised solvers give non-finite scores on some
    tables with constant or nearly collinear columns.
    """
    from sklearn.preprocessing import StandardScaler

    A = np.asarray(X_fit, dtype=np.float64)
    if name == "iforest":
        from sklearn.ensemble import IsolationForest

        forest = IsolationForest(random_state=random_state).fit(A)
        return lambda X: -forest.score_samples(np.asarray(X, dtype=np.float64))
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; use one of {BASELINES}")
    scaler = StandardScaler().fit(A)
    A = scaler.transform(A)
    if name == "lof":
        from sklearn.neighbors import LocalOutlierFactor

        lof = LocalOutlierFactor(novelty=True).fit(A)
        return lambda X: -lof.score_samples(scaler.transform(np.asarray(X, np.float64)))
    from sklearn.decomposition import PCA

    k = min(max(1, round(math.sqrt(A.shape[1]))), *A.shape)
    pca = PCA(n_components=k, svd_solver="full", random_state=random_state).fit(A)

    def pca_error(X):
        B = scaler.transform(np.asarray(X, dtype=np.float64))
        return np.square(B - pca.inverse_transform(pca.transform(B))).sum(1)
    return pca_error


def _numbers(X_fit, X_score) -> tuple[np.ndarray, np.ndarray]:
    """Both as float arrays; DataFrames' non-numeric columns one-hot, on shared columns."""
    if hasattr(X_fit, "columns") and hasattr(X_score, "columns"):
        import pandas as pd

        both = pd.get_dummies(pd.concat([X_fit, X_score], ignore_index=True), dtype=float)
        both = both.to_numpy(np.float64)
        return both[: len(X_fit)], both[len(X_fit) :]
    return np.asarray(X_fit, dtype=np.float64), np.asarray(X_score, dtype=np.float64)


def anomaly_labels(y, normal=None) -> np.ndarray:
    """Labels as booleans, True for an anomaly.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Booleans (True: anomaly); 0/1 (1: anomaly); +1/-1 (scikit-learn's ``predict``,
        -1: anomaly); or any other values, of which ``normal`` is the normal one.
    normal : scalar, optional
        The label of normal rows, for labels of other kinds; default: ``"normal"`` when
        present, else the most frequent label.

    Returns
    -------
    anomaly : ndarray of bool
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be one value per row, got shape {y.shape}")
    if normal is None:
        if y.dtype == bool:
            return y.copy()
        values = set(np.unique(y).tolist())
        if values <= {0, 1}:
            return y == 1
        if values <= {-1, 1}:
            return y == -1
        if "normal" in values:
            normal = "normal"
        else:
            uniques, counts = np.unique(y, return_counts=True)
            normal = uniques[np.argmax(counts)]
    return y != normal


def detection_metrics(anomaly, scores) -> dict:
    """``{"roc_auc", "average_precision"}`` of anomaly ``scores`` against boolean labels;
    both None when the labels hold a single class."""
    anomaly = np.asarray(anomaly, dtype=bool)
    if anomaly.all() or not anomaly.any():
        return {"roc_auc": None, "average_precision": None}
    return {"roc_auc": float(roc_auc_score(anomaly, scores)),
            "average_precision": float(average_precision_score(anomaly, scores))}
