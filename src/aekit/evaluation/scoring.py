"""A scikit-learn scorer for autoencoders that does not depend on their ``scaler``.

``AutoEncoder.score`` measures the reconstruction error in the model's own scaled units,
so models with different ``scaler`` are scored in different units and ``GridSearchCV``
over ``scaler`` cannot compare them by it. :func:`reconstruction_r2_scorer` measures the
reconstruction in the caller's units, per column, as R² (variance explained): one number
whatever the scaler, so ``scoring=reconstruction_r2_scorer`` compares like with like.
"""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ..data.tables import is_table
from .errors import can_reconstruct, r2_per_feature, reconstruction


def reconstruction_r2_scorer(estimator, X, y=None) -> float:
    """Mean R² of the columns of ``estimator``'s reconstruction of ``X``, in the caller's
    units: a scorer for ``scoring=`` in scikit-learn's model selection, higher is better.

    ``GridSearchCV(AutoEncoder(), {"scaler": ["standard", "minmax", None]},
    scoring=reconstruction_r2_scorer)`` compares the scalers fairly, which the default
    ``score`` (minus the mean squared error in each model's own scaled units) cannot.

    Parameters
    ----------
    estimator : fitted estimator
        An aekit autoencoder (``AutoEncoder``, ``VariationalAutoEncoder``: its
        ``reconstruct``), any fitted transformer with ``inverse_transform`` (such as
        ``PCA``: ``inverse_transform(transform(X))``), or a ``Pipeline`` ending with one
        whose other steps all have ``inverse_transform`` (the reconstruction is brought
        back through them into the units of ``X``).
    X : array-like of shape (n_samples, n_features), images, or DataFrame
        The rows to reconstruct.
    y : array-like of X's shape, optional
        A reconstruction target, as ``fit(X, y)`` and ``score(X, y)`` take it (denoising
        pairs): the reconstructions of ``X`` are scored against it. ``None`` or 1-D labels
        (as ``GridSearchCV`` passes them) mean ``X`` itself.

    Returns
    -------
    score : float
        The mean over the target's columns of each column's R² (1 is perfect, 0 no better
        than the column's mean, negative worse). R² is unchanged by an affine change of a
        column's units, so the score does not depend on how the model scales.

    Raises
    ------
    NotFittedError
        For an estimator not fitted yet.
    TypeError
        For an estimator that cannot reconstruct rows.
    ValueError
        For a ``y`` of another shape than ``X``, a pipeline step without
        ``inverse_transform``, a table without numeric columns, or rows whose columns do
        not vary.

    Notes
    -----
    Columns that hardly vary in the scored rows are left out: those where fewer than 1% of
    the rows hold another value than the column's most common one (constant columns
    included; :func:`varying_columns`). A constant column has no variance to explain, and
    a pixel lit in one row of 450 can have an R² of -300 that would decide the mean alone.
    The rule looks at which rows differ, not by how much, so it too is the same in any
    units. Missing cells of the target (NaN) are left out
    (:func:`~aekit.evaluation.metrics.r2_per_feature`). A table's categorical columns have
    no R²: only its numeric columns are scored (compare categories by accuracy, as
    :func:`aekit.compare_with_pca` does).
    """
    X_hat = _reconstruction(estimator, X)
    target = X if y is None or np.ndim(y) < 2 else y
    if target is not X and np.shape(target) != np.shape(X):
        raise ValueError(
            f"y has shape {np.shape(target)} but X has shape {np.shape(X)}: a "
            "reconstruction target must have X's shape; pass y=None to score the "
            "reconstruction of X itself (1-D labels are ignored)."
        )
    T, X_hat = _numeric_columns(target, X_hat)
    counted = varying_columns(T)
    if not counted.any():
        raise ValueError(
            "no column varies in the scored rows, so R² (variance explained) is undefined; "
            "score more rows (e.g. fewer folds, cv=3)."
        )
    return float(r2_per_feature(T, X_hat)[counted].mean())


def varying_columns(X: np.ndarray, share: float = 0.01) -> np.ndarray:
    """Which columns of rows ``X`` (n, n_columns) vary: at least ``share`` of their observed
    rows hold another value than the column's most common one. Missing cells (NaN) are
    left out; a column observed nowhere does not vary.

    Returns
    -------
    varying : ndarray of bool, shape (n_columns,)
    """
    out = np.zeros(X.shape[1], dtype=bool)
    for j in range(X.shape[1]):
        seen = X[:, j][~np.isnan(X[:, j])]
        if len(seen):
            most = np.unique(seen, return_counts=True)[1].max()
            out[j] = len(seen) - most >= max(share * len(seen), 1)
    return out


def _reconstruction(estimator, X):
    """``estimator``'s reconstruction of ``X`` in the units of ``X``."""
    steps = estimator[:-1] if isinstance(estimator, Pipeline) and len(estimator) > 1 \
        else None
    model = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if not can_reconstruct(model):
        raise TypeError(
            f"reconstruction_r2_scorer scores a model that reconstructs its input (an aekit "
            f"AutoEncoder or VariationalAutoEncoder, a transformer with inverse_transform "
            f"such as PCA, or a Pipeline ending with one); got {type(model).__name__}."
        )
    check_is_fitted(model)
    if steps is not None:
        if not hasattr(steps, "inverse_transform"):
            lacking = [name for name, step in steps.steps
                       if step != "passthrough" and not hasattr(step, "inverse_transform")]
            raise ValueError(
                f"the pipeline's steps {lacking} have no inverse_transform, so the "
                "reconstruction cannot be brought back into the units of X; score the "
                "final step on the transformed rows: "
                "reconstruction_r2_scorer(pipe[-1], pipe[:-1].transform(X))."
            )
        Xt = steps.transform(X)
        return steps.inverse_transform(_reconstruction(model, Xt))
    return reconstruction(model, X)


def _numeric_columns(target, X_hat) -> tuple[np.ndarray, np.ndarray]:
    """The target and its reconstruction as rows of numbers (n, n_columns): a table's
    numeric columns only, images flattened."""
    if is_table(X_hat):
        numeric = list(X_hat.select_dtypes("number").columns)
        if not numeric:
            raise ValueError(
                "the table has no numeric column to score: R² measures numbers, and a "
                "categorical column's reconstruction is a category (compare those by "
                "accuracy, as aekit.compare_with_pca does)."
            )
        at = X_hat.columns.get_indexer(numeric)
        target = target[numeric] if is_table(target) else np.asarray(target)[:, at]
        X_hat = X_hat[numeric]
    T = np.asarray(target, dtype=np.float64)
    X_hat = np.asarray(X_hat, dtype=np.float64)
    return T.reshape(len(T), -1), X_hat.reshape(len(X_hat), -1)
