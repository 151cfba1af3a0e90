"""Reconstruction errors and the side-by-side comparison with PCA."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
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


