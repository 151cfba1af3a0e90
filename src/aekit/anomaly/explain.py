"""Explanations of :class:`~aekit.OutlierDetector`'s scores: each input column's part of a
row's reconstruction error, the largest parts per row, and a table of them."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .streaming import is_chunked, map_chunks


class ExplanationMixin:
    """``feature_scores``, ``top_features`` and ``explain`` of a fitted detector (one with
    ``module_``, ``_check_X``, ``_per_row``, ``score_samples`` and ``threshold_``)."""

    def feature_scores(self, X):
        """Each column's part of each row's reconstruction error.

        The members' average squared error per column, in scaled units (each column's
        error over its training spread squared); a row's values sum to its reconstruction
        error, the first term of its anomaly score before standardisation.

        A categorical column's part is the sum over its one-hot columns, each scaled like a
        number: its part of the error as the score counts it. A column of ``k`` categories
        brings ``k`` error terms, and a rare category's column a small spread, so such a
        column often holds the largest part even of normal rows (7 categories: the top
        column of most rows). To see what is unusual about a row, compare its parts with
        the training rows' (e.g. over their median per column). A cell filled by
        ``missing="impute"`` has the error of its fill value.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a file
            A file (``.npy``, Parquet) or memmap is scored one chunk at a time, as by
            :meth:`score_samples` (and so by :meth:`top_features` and :meth:`explain`).

        Returns
        -------
        scores : ndarray of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self)
        if is_chunked(X):  # a file or memmap: one chunk in memory at a time
            return np.concatenate(list(map_chunks(X, self.feature_scores, self)))
        return self._per_row(lambda m, x: m.feature_errors(x)[0].mean(0),
                             self._check_X(X, reset=False))

    def _feature_names(self) -> np.ndarray:
        names = getattr(self, "feature_names_in_", None)
        if names is None and self.columns_:  # a frame's integer names (no header row)
            names = [str(c["name"]) for c in self.columns_]
        if names is None:
            return np.asarray([f"x{j}" for j in range(self.n_features_in_)], dtype=object)
        return np.asarray(names, dtype=object)

    def top_features(self, X, n_features: int = 3):
        """The columns that contribute most to each row's reconstruction error.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        n_features : int, default=3
            Columns per row (at most ``n_features_in_``).

        Returns
        -------
        names : ndarray of shape (n_samples, n_features), object
            Column names (``feature_names_in_``, else ``x0``, ``x1``, ...), largest first.
        shares : ndarray of shape (n_samples, n_features)
            Each one's share of the row's reconstruction error, in [0, 1].
        """
        n_features = _check_n_features(n_features)
        scores = self.feature_scores(X)
        t = min(n_features, scores.shape[1])
        order = np.argsort(-scores, axis=1, kind="stable")[:, :t]
        total = scores.sum(1, keepdims=True)
        shares = np.take_along_axis(scores, order, 1) / np.where(total > 0, total, 1.0)
        return self._feature_names()[order], shares

    def explain(self, X, n_features: int = 3, *, outliers_only: bool = False):
        """A table of each row's anomaly score, verdict and top columns (pandas DataFrame).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        n_features : int, default=3
            Top columns per row.
        outliers_only : bool, default=False
            Keep only the rows :meth:`predict` flags, most anomalous first.

        Returns
        -------
        table : pandas.DataFrame
            Indexed like ``X`` (a DataFrame's index, else 0..n-1), with columns
            ``anomaly_score``, ``outlier`` (bool), then ``feature_1``, ``share_1``, ... :
            the columns with the largest part in the row's reconstruction error and that
            part's share of it.
        """
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - pandas ships with the dev extra
            raise ImportError("explain() returns a pandas DataFrame: pip install pandas; "
                              "top_features() gives the same as arrays") from err
        n_features = _check_n_features(n_features)
        index = X.index if hasattr(X, "index") and hasattr(X, "columns") else None
        scores = -self.score_samples(X)
        names, shares = self.top_features(X, n_features)
        table = pd.DataFrame({"anomaly_score": scores, "outlier": scores > self.threshold_},
                             index=index)
        for j in range(names.shape[1]):
            table[f"feature_{j + 1}"] = names[:, j]
            table[f"share_{j + 1}"] = shares[:, j]
        if outliers_only:
            table = table[table["outlier"]].sort_values("anomaly_score", ascending=False)
        return table


def _check_n_features(n_features) -> int:
    """``n_features`` of :meth:`ExplanationMixin.top_features` and ``explain``: an integer
    >= 1 (more than the model's columns gives them all); else an error naming it."""
    if isinstance(n_features, bool) or not isinstance(n_features, Integral):
        raise TypeError(f"n_features must be an integer >= 1 (columns per row), got "
                        f"{n_features!r} of type {type(n_features).__name__}")
    if n_features < 1:
        raise ValueError(f"n_features must be an integer >= 1 (columns per row), got "
                         f"{n_features}")
    return int(n_features)
