"""Reconstruction errors, the side-by-side comparison with PCA, and probes on codes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from sklearn.exceptions import NotFittedError


def reconstruction_errors(X: np.ndarray, X_hat: np.ndarray) -> dict[str, float]:
    """Both error conventions found in the literature.

    Returns
    -------
    errors : dict
        ``mse``: mean squared error per element; ``row_sse``: mean over rows of each row's
        sum of squared errors (``mse * n_features``).
    """
    sq = (np.asarray(X, dtype=np.float64) - np.asarray(X_hat, dtype=np.float64)) ** 2
    return {"mse": float(sq.mean()), "row_sse": float(sq.sum(axis=1).mean())}


@dataclass(frozen=True)
class PCAComparison:
    """Test reconstruction errors of an autoencoder and of PCA with the same code size.

    ``ratio`` is ``ae_mse / pca_mse``: below 1 the autoencoder wins.
    """

    n_components: int
    ae_mse: float
    pca_mse: float
    ae_row_sse: float
    pca_row_sse: float

    @property
    def ratio(self) -> float:
        return self.ae_mse / self.pca_mse if self.pca_mse > 0 else float("inf")

    @property
    def winner(self) -> str:
        return "autoencoder" if self.ae_mse < self.pca_mse else "PCA"

    @property
    def verdict(self) -> str:
        """The comparison in words, e.g. ``"31% lower error than PCA"``: what the report's
        summary and ``aekit demo`` say."""
        if self.winner == "autoencoder":
            return f"{1 - self.ratio:.0%} lower error than PCA"
        return f"{self.ratio - 1:.0%} higher error than PCA"

    def to_dict(self) -> dict:
        return {
            "n_components": self.n_components,
            "ae_mse": self.ae_mse,
            "pca_mse": self.pca_mse,
            "ae_row_sse": self.ae_row_sse,
            "pca_row_sse": self.pca_row_sse,
            "ratio": self.ratio,
            "winner": self.winner,
        }

    def __str__(self) -> str:
        rows = [
            ("model", "MSE / element", "SSE / row"),
            (f"autoencoder (k={self.n_components})", f"{self.ae_mse:.6g}", f"{self.ae_row_sse:.6g}"),
            (f"PCA (k={self.n_components})", f"{self.pca_mse:.6g}", f"{self.pca_row_sse:.6g}"),
        ]
        w = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"{a:<{w[0]}}  {b:>{w[1]}}  {c:>{w[2]}}" for a, b, c in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"AE / PCA error ratio: {self.ratio:.3f} ({self.winner} is better)")
        return "\n".join(lines)


def compare_with_pca(estimator, X_train, X_test, *, fit: bool | None = None) -> PCAComparison:
    """Compare an autoencoder with PCA: same code size, same split, same metric.

    PCA with ``estimator.n_components`` components is fitted on ``X_train``; both models
    reconstruct ``X_test`` and are scored in the caller's units.

    Parameters
    ----------
    estimator : AutoEncoder
        Fitted, or unfitted (then it is fitted on ``X_train`` in place).
    X_train : array-like of shape (n_train, n_features)
    X_test : array-like of shape (n_test, n_features)
    fit : bool, optional
        Force (True) or forbid (False) fitting the estimator; default: fit if unfitted.

    Returns
    -------
    PCAComparison
        Prints as a table; ``ratio < 1`` means the autoencoder reconstructs better.
    """
    if fit is None:
        try:
            check_is_fitted(estimator)
            fit = False
        except NotFittedError:
            fit = True
    if fit:
        estimator.fit(X_train)
    X_train = np.asarray(X_train, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    k = estimator.n_components
    if k > min(X_train.shape):
        raise ValueError(
            f"PCA cannot have n_components={k} with X_train of shape {X_train.shape}; "
            "PCA needs n_components <= min(n_samples, n_features)"
        )
    pca = PCA(n_components=k, svd_solver="full").fit(X_train)
    ae_err = reconstruction_errors(X_test, estimator.reconstruct(X_test))
    pca_err = reconstruction_errors(X_test, pca.inverse_transform(pca.transform(X_test)))
    return PCAComparison(k, ae_err["mse"], pca_err["mse"], ae_err["row_sse"], pca_err["row_sse"])


# --------------------------------------------------------------------------- finer errors
def _pair(X, X_hat) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    X_hat = np.asarray(X_hat, dtype=np.float64)
    if X.shape != X_hat.shape:
        raise ValueError(
            f"X has shape {X.shape} but X_hat has shape {X_hat.shape}; pass the rows and "
            "their reconstructions (estimator.reconstruct(X))."
        )
    return X.reshape(len(X), -1), X_hat.reshape(len(X_hat), -1)


def element_errors(X, X_hat) -> np.ndarray:
    """Squared error of every element.

    Parameters
    ----------
    X, X_hat : array-like of shape (n_samples, n_features)

    Returns
    -------
    errors : ndarray of shape (n_samples, n_features)
        ``(X - X_hat) ** 2``; ``errors.mean(axis=0)`` is each feature's MSE.
    """
    X, X_hat = _pair(X, X_hat)
    return (X - X_hat) ** 2


def row_errors(X, X_hat) -> np.ndarray:
    """Mean squared error of each row (the per-row anomaly score).

    Returns
    -------
    errors : ndarray of shape (n_samples,)
        Equals ``-estimator.score_samples(X)`` for ``X_hat = estimator.reconstruct(X)``.
    """
    return element_errors(X, X_hat).mean(axis=1)


def r2_per_feature(X, X_hat) -> np.ndarray:
    """Coefficient of determination of each feature's reconstruction.

    Same convention as ``sklearn.metrics.r2_score(X, X_hat, multioutput="raw_values")``:
    a constant feature scores 1 when reconstructed exactly, else 0.

    Returns
    -------
    r2 : ndarray of shape (n_features,)
        1 is perfect; 0 is no better than predicting the feature's mean; it can be negative.
    """
    X, X_hat = _pair(X, X_hat)
    sse = ((X - X_hat) ** 2).sum(axis=0)
    sst = ((X - X.mean(axis=0)) ** 2).sum(axis=0)
    r2 = np.ones(X.shape[1])
    ok = sst > 0
    r2[ok] = 1.0 - sse[ok] / sst[ok]
    r2[~ok & (sse > 0)] = 0.0
    return r2


def explained_variance(X, X_hat) -> float:
    """Fraction of the total variance of ``X`` that the reconstruction explains.

    ``1 - sum((X - X_hat)**2) / sum((X - mean(X))**2)``, pooled over all features (so large-
    variance features weigh more, as in PCA's ``explained_variance_ratio_.sum()``). A perfect
    reconstruction gives 1; predicting every feature's mean gives 0.
    """
    X, X_hat = _pair(X, X_hat)
    sst = float(((X - X.mean(axis=0)) ** 2).sum())
    sse = float(((X - X_hat) ** 2).sum())
    if sst == 0:
        return 1.0 if sse == 0 else 0.0
    return 1.0 - sse / sst


# --------------------------------------------------------------------------- sweeps over k
def pca_sweep(
    X_train,
    X_test,
    ks: Iterable[int],
    estimator_factory: Callable[[int], object] | None = None,
    *,
    pca: PCA | None = None,
) -> list[PCAComparison]:
    """Test error of the autoencoder and of PCA for each code size ``k``.

    Parameters
    ----------
    X_train : array-like of shape (n_train, n_features)
    X_test : array-like of shape (n_test, n_features)
    ks : iterable of int
        Code sizes, each ``<= min(n_train, n_features)``.
    estimator_factory : callable, optional
        ``estimator_factory(k)`` returns an *unfitted* estimator with ``n_components=k``; it
        is fitted on ``X_train``. ``None`` sweeps PCA only (the autoencoder fields are NaN).
    pca : PCA, optional
        A PCA already fitted on ``X_train`` with at least ``max(ks)`` components, to reuse;
        default: one is fitted here.

    Returns
    -------
    sweep : list of PCAComparison
        One per ``k``, in the order given; :func:`aekit.plotting.error_vs_k` draws it.
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    ks = [int(k) for k in ks]
    bad = [k for k in ks if not 1 <= k <= min(X_train.shape)]
    if bad or not ks:
        raise ValueError(
            f"ks={ks} must be non-empty, each k in [1, {min(X_train.shape)}] for X_train of "
            f"shape {X_train.shape} (PCA needs k <= min(n_samples, n_features))"
        )
    # PCA's first k components do not depend on how many more are fitted: one fit serves all k.
    if pca is None:
        pca = PCA(n_components=max(ks), svd_solver="full").fit(X_train)
    elif pca.n_components_ < max(ks):
        raise ValueError(f"pca has {pca.n_components_} components; the sweep needs {max(ks)}")
    out = []
    for k in ks:
        view = _PCAView(pca, k)
        pca_err = reconstruction_errors(X_test, view.inverse_transform(view.transform(X_test)))
        ae_err = {"mse": float("nan"), "row_sse": float("nan")}
        if estimator_factory is not None:
            ae = estimator_factory(k).fit(X_train)
            ae_err = reconstruction_errors(X_test, ae.reconstruct(X_test))
        out.append(PCAComparison(k, ae_err["mse"], pca_err["mse"], ae_err["row_sse"],
                                 pca_err["row_sse"]))
    return out


class _PCAView:
    """The first ``k`` components of a fitted PCA, with PCA's transform / inverse_transform."""

    def __init__(self, pca: PCA, k: int):
        self.n_components = self.n_components_ = k
        self.mean_ = pca.mean_
        self.components_ = pca.components_[:k]

    def transform(self, X) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean_) @ self.components_.T

    def inverse_transform(self, Z) -> np.ndarray:
        return np.asarray(Z, dtype=np.float64) @ self.components_ + self.mean_


def sample_rows(n_rows: int, max_rows: int, random_state=0) -> np.ndarray:
    """Sorted indices of at most ``max_rows`` of ``n_rows`` rows, drawn without replacement.

    All rows when there are no more than ``max_rows``; the same draw for the same
    ``random_state``. Diagnostics, probes and plots use it to bound their cost on large X.
    """
    rows = np.arange(n_rows)
    if n_rows > max_rows:
        rows = np.sort(check_random_state(random_state).choice(rows, max_rows, replace=False))
    return rows


# --------------------------------------------------------------------------- probes on codes
@dataclass(frozen=True)
class CodeQuality:
    """How much label information and neighbourhood structure the codes keep.

    ``knn_accuracy`` and ``logistic_accuracy`` are test accuracies of classifiers fitted on
    the training codes; ``chance`` is the accuracy of always predicting the most frequent
    test label. ``trustworthiness`` (scikit-learn's, in [0, 1]) is 1 when every row's
    nearest neighbours among the codes are also near it in the input space.
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
            f"trustworthiness {self.trustworthiness:.3f}"
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
        rows (drawn with ``random_state``).

    Returns
    -------
    CodeQuality
    """
    from sklearn.manifold import trustworthiness

    Z_train = transformer.transform(X_train)
    Z_test = transformer.transform(X_test)
    scores = probe_codes(Z_train, y_train, Z_test, y_test, n_neighbors=n_neighbors)
    X_test = np.asarray(X_test, dtype=np.float64).reshape(len(Z_test), -1)
    rows = sample_rows(len(X_test), max_rows, random_state)
    k = max(1, min(n_neighbors, len(rows) // 2 - 1))
    trust = trustworthiness(X_test[rows], np.asarray(Z_test, np.float64)[rows], n_neighbors=k)
    return CodeQuality(
        scores["knn_accuracy"], scores["logistic_accuracy"], float(trust), scores["chance"], k
    )
