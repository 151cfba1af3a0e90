"""Probes on codes: how much label information and neighbourhood structure a model's codes
keep (k-NN and logistic-regression accuracy, trustworthiness), and the bounded row samples
the diagnostics and plots draw."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state


def sample_rows(n_rows: int, max_rows: int, random_state=0) -> np.ndarray:
    """Sorted indices of at most ``max_rows`` of ``n_rows`` rows, drawn without replacement.

    All rows when there are no more than ``max_rows``; the same draw for the same
    ``random_state``. Diagnostics, probes and plots use it to bound their cost on large X.
    """
    rows = np.arange(n_rows)
    if n_rows > max_rows:
        rows = np.sort(check_random_state(random_state).choice(rows, max_rows, replace=False))
    return rows


MIN_TRUST_ROWS = 3
"""Fewest test rows trustworthiness is measured on: scikit-learn needs a neighbour count
below half the rows, and at least one neighbour."""


# --------------------------------------------------------------------------- probes on codes
@dataclass(frozen=True)
class CodeQuality:
    """How much label information and neighbourhood structure the codes keep.

    ``knn_accuracy`` and ``logistic_accuracy`` are test accuracies of classifiers fitted on
    the training codes; ``chance`` is the accuracy of always predicting the most frequent
    test label. ``trustworthiness`` (scikit-learn's, in [0, 1]) is 1 when every row's
    nearest neighbours among the codes are also near it in the input space (the model's
    scaled units, when it has them); NaN (not measured) with fewer than
    :data:`MIN_TRUST_ROWS` test rows.
    """

    knn_accuracy: float
    logistic_accuracy: float
    trustworthiness: float
    chance: float
    n_neighbors: int

    def to_dict(self) -> dict:
        return {
            "knn_accuracy": self.knn_accuracy,
            "logistic_accuracy": self.logistic_accuracy,
            "trustworthiness": self.trustworthiness,
            "chance": self.chance,
            "n_neighbors": self.n_neighbors,
        }

    def __str__(self) -> str:
        return (
            f"{self.n_neighbors}-NN accuracy {self.knn_accuracy:.3f}, logistic-regression "
            f"accuracy {self.logistic_accuracy:.3f} (chance {self.chance:.3f}), "
            + (f"trustworthiness {self.trustworthiness:.3f}" if np.isfinite(self.trustworthiness)
               else "trustworthiness not measured (too few test rows)")
        )


def probe_codes(Z_train, y_train, Z_test, y_test, *, n_neighbors: int = 5) -> dict[str, float]:
    """Accuracy of a k-NN and a logistic-regression classifier on codes.

    Both are fitted on ``(Z_train, y_train)`` and scored on ``(Z_test, y_test)``; the
    logistic regression sees standardised codes.

    Returns
    -------
    scores : dict
        ``knn_accuracy``, ``logistic_accuracy``, ``chance`` (most frequent test label).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    Z_train = np.asarray(Z_train, dtype=np.float64)
    Z_test = np.asarray(Z_test, dtype=np.float64)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    knn = KNeighborsClassifier(n_neighbors=min(n_neighbors, len(Z_train))).fit(Z_train, y_train)
    logreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    logreg.fit(Z_train, y_train)
    _, counts = np.unique(y_test, return_counts=True)
    return {
        "knn_accuracy": float(knn.score(Z_test, y_test)),
        "logistic_accuracy": float(logreg.score(Z_test, y_test)),
        "chance": float(counts.max() / counts.sum()),
    }


def code_quality(
    transformer,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    n_neighbors: int = 5,
    max_rows: int = 2000,
    random_state=0,
) -> CodeQuality:
    """Probe the codes of a fitted transformer (an autoencoder, PCA, ...) with labels.

    Parameters
    ----------
    transformer : fitted object with ``transform``
    X_train, X_test : array-like of shape (n, n_features)
    y_train, y_test : array-like of shape (n,)
    n_neighbors : int, default=5
        For the k-NN probe and for trustworthiness.
    max_rows : int, default=2000
        Trustworthiness is quadratic in the rows; it is computed on at most this many test
        rows (drawn with ``random_state``), and not at all (NaN) on fewer than
        :data:`MIN_TRUST_ROWS`.

    Returns
    -------
    CodeQuality
    """
    from sklearn.manifold import trustworthiness

    Z_train = transformer.transform(X_train)
    Z_test = transformer.transform(X_test)
    scores = probe_codes(Z_train, y_train, Z_test, y_test, n_neighbors=n_neighbors)
    # Neighbours in the input: in the model's scaled units when it has them (where every
    # column counts, and a table's categories are numbers).
    if callable(getattr(transformer, "to_scaled", None)):
        X_test = transformer.to_scaled(X_test)
    X_test = np.asarray(X_test, dtype=np.float64).reshape(len(Z_test), -1)
    rows = sample_rows(len(X_test), max_rows, random_state)
    k = max(1, min(n_neighbors, len(rows) // 2 - 1))
    trust = (trustworthiness(X_test[rows], np.asarray(Z_test, np.float64)[rows], n_neighbors=k)
             if len(rows) >= MIN_TRUST_ROWS else np.nan)
    return CodeQuality(
        scores["knn_accuracy"], scores["logistic_accuracy"], float(trust), scores["chance"], k
    )
