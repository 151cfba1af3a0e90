"""Reconstruction errors of rows and their reconstructions: per element, per row, per
feature (R², over all rows or the central ones) and pooled (variance explained). Missing
cells of ``X`` (NaN) are left out where noted."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import r2_score


def can_reconstruct(estimator) -> bool:
    """Whether ``estimator`` reconstructs rows (:func:`reconstruction`)."""
    return callable(getattr(estimator, "reconstruct", None)) or (
        hasattr(estimator, "transform")
        and callable(getattr(estimator, "inverse_transform", None)))


def reconstruction(estimator, X):
    """``estimator``'s reconstruction of rows ``X``: its ``reconstruct`` (an aekit
    autoencoder's), else ``inverse_transform(transform(X))`` (PCA and other transformers);
    None when it has neither (:func:`can_reconstruct`)."""
    if callable(getattr(estimator, "reconstruct", None)):
        return estimator.reconstruct(X)
    if can_reconstruct(estimator):
        return estimator.inverse_transform(estimator.transform(X))
    return None


def reconstruction_errors(X: np.ndarray, X_hat: np.ndarray) -> dict[str, float]:
    """Both error conventions found in the literature, on the observed cells of ``X``.

    Returns
    -------
    errors : dict
        ``mse``: mean squared error per element; ``row_sse``: mean over rows of each row's
        sum of squared errors (``mse * n_features``). A missing cell of ``X`` (NaN) has no
        error to measure and is left out: ``mse`` is the mean over the observed cells (NaN
        only when none is).
    """
    sq = (np.asarray(X, dtype=np.float64) - np.asarray(X_hat, dtype=np.float64)) ** 2
    observed = ~np.isnan(sq)
    if observed.all():
        return {"mse": float(sq.mean()), "row_sse": float(sq.sum(axis=1).mean())}
    mse = float(sq[observed].mean()) if observed.any() else float("nan")
    return {"mse": mse, "row_sse": mse * sq.shape[1]}


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
        Equals ``-estimator.score_samples(X)`` for the rows in the model's scaled units,
        ``row_errors(estimator.to_scaled(X), estimator.reconstruct_scaled(X))`` (rows of
        numbers; with ``scaler=None``, ``row_errors(X, estimator.reconstruct(X))``).
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
        Missing cells of ``X`` (NaN) are left out: each feature's R² is that of its
        observed rows (NaN for a feature observed nowhere).
    """
    X, X_hat = _pair(X, X_hat)
    missing = np.isnan(X)
    if missing.any():  # each feature on its observed rows (r2_score refuses NaN)
        out = np.full(X.shape[1], np.nan)
        for j in range(X.shape[1]):
            seen = ~missing[:, j]
            if seen.any():
                out[j] = r2_per_feature(X[seen, j : j + 1], X_hat[seen, j : j + 1])[0]
        return out
    return np.asarray(r2_score(X, X_hat, multioutput="raw_values"), dtype=np.float64)


def r2_central(X, X_hat, quantiles: tuple[float, float] = (0.1, 0.9)) -> np.ndarray:
    """Each feature's R² on its central rows: those whose value lies between the feature's
    ``quantiles`` (by default its central 80%).

    A heavy tail can make a column look learnt (R² 0.99 over all rows, carried by a few
    extreme values) while its typical values are not (R² below 0 on the central rows):
    this tells the two apart. NaN for a feature whose central rows do not vary. Missing
    cells of ``X`` (NaN) are left out, as in :func:`r2_per_feature`.

    Returns
    -------
    r2 : ndarray of shape (n_features,)
    """
    X, X_hat = _pair(X, X_hat)
    out = np.full(X.shape[1], np.nan)
    for j in range(X.shape[1]):
        seen = X[:, j][~np.isnan(X[:, j])]
        if not len(seen):
            continue
        lo, hi = np.quantile(seen, quantiles)
        # NaN compares False: a missing cell is in no central row.
        rows = (X[:, j] >= lo) & (X[:, j] <= hi)
        x, x_hat = X[rows, j], X_hat[rows, j]
        sst = ((x - x.mean()) ** 2).sum() if len(x) else 0.0
        if len(x) >= 2 and sst > 1e-12 * max(((seen - seen.mean()) ** 2).sum(), 1e-300):
            out[j] = 1.0 - ((x - x_hat) ** 2).sum() / sst
    return out


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
