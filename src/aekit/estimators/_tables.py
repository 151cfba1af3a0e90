"""The estimators' input path for tables, sparse matrices and missing values, and their
tables out.

:class:`~aekit.estimators._base.BaseAutoEncoder` calls these, so every family built on it
takes the same inputs:

- a pandas DataFrame with numeric, boolean and categorical (string, object, category)
  columns: described once in ``fit`` (``columns_``, plain JSON, saved with the model) and
  coded into float rows (:mod:`aekit.data.tables`); a model with categorical columns runs
  them through a :class:`~aekit.nn.tabular.TabularScaler`, and ``reconstruct`` /
  ``inverse_transform`` answer with a DataFrame of the original columns and dtypes;
- a SciPy sparse matrix (e.g. ``OneHotEncoder``'s default output): made dense once, in
  ``X``'s float dtype (the network computes on dense rows anyway; a 100,000 x 1,000
  float32 matrix takes 400 MB);
- missing numbers (``NaN``), as the ``missing`` parameter says: an error naming the rows
  and columns (``"error"``, the default), or each filled with its column's training median
  and left out of the loss (``"impute"``); ``reconstruct`` then gives the model's value
  for them.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from ..core.checks import check_finite, format_indices, to_numpy
from ..data.tables import decode_table, describe_columns, encode_table, is_table
from ..nn.layers import Scaler
from ..nn.tabular import TabularScaler, has_table
from ..training.loop import infer

INFER_BATCH = 8192
"""Rows per forward pass at inference: bounds the memory of activations, not of results."""


def has_categories(estimator) -> bool:
    """Whether ``estimator`` was fitted on a table with categorical columns."""
    columns = getattr(estimator, "columns_", None)
    return bool(columns) and any(c["kind"] == "categorical" for c in columns)


def check_rows(estimator, X, *, reset: bool) -> tuple[np.ndarray, tuple, np.ndarray | None]:
    """The rows an estimator computes on, the shape of one sample as given, and where
    missing numbers were imputed ((n, n_features) bool), or None: ``_check_X`` of every
    family (images flattened by its ``_flatten_images``, tables coded, sparse matrices made
    dense, missing numbers as ``missing`` says)."""
    index = getattr(X, "index", None) if is_table(X) else None
    if is_table(X) or (not reset and has_categories(estimator)):
        X = check_table(estimator, X, reset=reset)
        sample_shape = X.shape[1:]
        if reset and not has_categories(estimator):
            estimator._on_rows(tuple(sample_shape))
    else:
        # Only arrays can hold images; anything else goes to scikit-learn's checks as is.
        ndim = getattr(X, "ndim", 2)
        if ndim > 2:
            X, sample_shape = estimator._flatten_images(np.asarray(X), reset=reset)
        X = validate_data(estimator, X, reset=reset, dtype=[np.float64, np.float32],
                          ensure_all_finite=False, accept_sparse=("csr", "csc", "coo"))
        if hasattr(X, "toarray"):  # sparse: dense once (see the module notes)
            X = X.toarray()
        if ndim <= 2:
            sample_shape = X.shape[1:]
            if reset:
                estimator._on_rows(tuple(sample_shape))
        if reset:
            estimator.columns_ = None
    if estimator.missing == "error":
        try:
            check_finite(X)  # the fast path: a sum
        except ValueError:  # names the rows (index labels) and columns
            check_missing(estimator, X, reset=reset, index=index)
            raise
        if reset and hasattr(estimator, "fill_values_"):
            del estimator.fill_values_
        mask = None
    else:
        X, mask = check_missing(estimator, X, reset=reset, index=index)
        check_finite(X)  # what is left: values beyond float32's range
    if reset:
        estimator.input_shape_ = tuple(sample_shape)
    return X, tuple(sample_shape), mask


def check_table(estimator, X, *, reset: bool) -> np.ndarray:
    """Coded rows (n, n_columns) of a DataFrame ``X`` (or of rows given to a model fitted
    on a table), with ``n_features_in_``, ``feature_names_in_`` and, on ``reset``,
    ``columns_`` set; missing numbers are still NaN."""
    import pandas as pd

    if reset:
        X = X.copy(deep=False)
        X.columns = [str(c) for c in X.columns]  # names are strings in every description
        validate_data(estimator, X, reset=True, skip_check_array=True)
        estimator.columns_ = describe_columns(X)
    else:
        if not is_table(X):  # rows of values, in the fitted columns' order
            X = np.asarray(X, dtype=object)
            if X.ndim != 2:
                raise ValueError(f"X has shape {X.shape}; expected a table "
                                 f"(n_samples, {len(estimator.columns_)})")
        validate_data(estimator, X, reset=False, skip_check_array=True)
        if not is_table(X):
            X = pd.DataFrame(X, columns=[c["name"] for c in estimator.columns_])
    if len(X) == 0:
        raise ValueError(f"X has 0 rows (shape {X.shape}); at least one is required")
    return encode_table(X, estimator.columns_)


def check_missing(estimator, X: np.ndarray, *, reset: bool, index=None):
    """``(X, mask)``: ``X`` with missing numbers filled (``missing="impute"``), and where
    they were (n, n_columns) bool, or None when nothing was missing.

    Raises a ValueError naming the rows and columns otherwise (and for infinities, which
    are never "missing").
    """
    missing = np.isnan(X)
    impute = estimator.missing == "impute"
    if reset:
        if impute:
            with np.errstate(all="ignore"):
                fill = np.nanmedian(np.where(np.isinf(X), np.nan, X), axis=0) if len(X) \
                    else np.zeros(X.shape[1])
            estimator.fill_values_ = np.where(np.isfinite(fill), fill, 0.0).tolist()
        elif hasattr(estimator, "fill_values_"):
            del estimator.fill_values_
    bad = ~np.isfinite(X) & ~(missing & impute)
    if bad.any():
        raise ValueError(_not_finite_message(estimator, bad, missing, index))
    if not missing.any():
        return X, None
    fill = np.asarray(getattr(estimator, "fill_values_", None) or np.zeros(X.shape[1]))
    X = np.where(missing, fill.astype(X.dtype), X)
    return X, missing


def _not_finite_message(estimator, bad: np.ndarray, missing: np.ndarray, index) -> str:
    rows = np.flatnonzero(bad.any(axis=1))
    cols = np.flatnonzero(bad.any(axis=0))
    names = getattr(estimator, "feature_names_in_", None)
    labels = list(index[rows]) if index is not None else rows
    columns = [repr(str(names[j])) for j in cols] if names is not None else cols
    what = "missing values (NaN)" if missing[bad].all() else "NaN or infinity"
    return (
        f"X contains {what} in {len(rows)} row(s) {format_indices(labels)}"
        f"{' (index labels)' if index is not None else ''} and {len(cols)} column(s) "
        f"{format_indices(columns)}; drop them, or pass missing='impute' to fill missing "
        "numbers with their column's median and leave them out of the loss."
    )


def new_scaler(estimator, n_features: int):
    """A fresh, unfitted in-model scaler for ``estimator``'s data."""
    if has_categories(estimator):
        columns = estimator.columns_
        return TabularScaler([c["kind"] for c in columns],
                             [len(c["categories"]) for c in columns
                              if c["kind"] == "categorical"], estimator.scaler)
    return column_scaler(estimator, n_features)


def column_scaler(estimator, n_features: int) -> Scaler:
    """A fresh, unfitted per-column scaler of ``estimator``'s kind (rows of numbers)."""
    return Scaler(n_features, estimator.scaler, unit_range=keeps_unit_range(estimator))


def keeps_unit_range(estimator) -> bool:
    """Whether ``scaler="auto"`` leaves data in [0, 1] as they are: when the model asks for
    a sigmoid output, which reaches [0, 1] and nothing standardised."""
    return getattr(estimator, "output_activation", None) == "sigmoid"


def scaler_for_module(estimator, n_features: int):
    """What a family's module takes as ``scaler``: the kind, or a table's scaler module."""
    return new_scaler(estimator, n_features) if has_categories(estimator) else \
        estimator.scaler


def network_mask(scaler, missing: np.ndarray, device) -> torch.Tensor:
    """1 where a numeric cell was observed, in the network's column order (n, n_numeric)."""
    observed = torch.from_numpy(~missing).to(device)
    if isinstance(scaler, TabularScaler):
        observed = observed.index_select(1, scaler.numeric_columns.to(device))
    return observed.float()


def output(estimator, X_hat: np.ndarray, index=None):
    """Rows in the caller's units as the caller gave them: a DataFrame of the fitted
    table's columns and dtypes when ``fit`` saw a DataFrame, else the array."""
    columns = getattr(estimator, "columns_", None)
    if columns is None:
        return X_hat
    return decode_table(X_hat, columns, index=index)


# --------------------------------------------------------------------------- scaled units
def scaled(module, x: torch.Tensor) -> torch.Tensor:
    """Rows in the caller's units (n, n_columns) -> scaled units (n, n_scaled): network
    units, with a table's categories one-hot."""
    s = module.scaler(x)
    return module.scaler.one_hot(s) if has_table(module) else s


def scaled_reconstruction(module, x: torch.Tensor) -> torch.Tensor:
    """The reconstruction of rows ``x`` (caller's units) in scaled units: categories as
    their predicted probabilities."""
    out = module.decoder(module.encoder(module.scaler(x)))
    return module.scaler.probabilities(out) if has_table(module) else out


def scaled_errors(module, x: torch.Tensor) -> torch.Tensor:
    """Squared reconstruction errors in scaled units, (n, n_scaled)."""
    s = module.scaler(x)  # once: the input and the target
    out = module.decoder(module.encoder(s))
    if has_table(module):
        out, s = module.scaler.probabilities(out), module.scaler.one_hot(s)
    return (out - s).square()


def row_scores(module, errors: np.ndarray, missing: np.ndarray | None) -> np.ndarray:
    """``-score_samples``: each row's squared errors in scaled units summed, over its number
    of columns (a categorical column's error is the squared error of its probabilities
    against its one-hot, the Brier score); imputed cells count neither way."""
    n_columns = module.scaler.n_features if has_table(module) else errors.shape[1]
    counted = np.full(len(errors), float(n_columns))
    if missing is not None:
        observed = ~missing
        if has_table(module):
            observed = observed[:, module.scaler.numeric_columns.cpu().numpy()]
        width = observed.shape[1]  # the numeric slots come first in scaled units
        errors = errors.copy()
        errors[:, :width] *= observed
        counted -= (~observed).sum(1)
    return errors.sum(1, dtype=np.float64) / np.maximum(counted, 1)


class ScaledUnitsMixin:
    """``to_scaled``, ``reconstruct_scaled`` and ``from_scaled``: rows in the model's scaled
    units, where :func:`~aekit.compare_with_pca` compares and ``score_samples`` scores."""

    def to_scaled(self, X):
        """``X`` in the model's scaled units: where reconstructions are compared.

        Each numeric column as the in-model scaler maps it (the units the network is
        trained in), each categorical column one-hot. :func:`~aekit.compare_with_pca` fits
        PCA on these rows, so both models see the same scaling, and :meth:`score_samples`
        measures errors here.

        Returns
        -------
        S : ndarray of shape (n_samples, n_scaled)
            ``n_features_in_`` columns, or for a table one per numeric column and one per
            category of each categorical column.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        S = infer(lambda x: scaled(self.module_, x), self._to_tensor(X), INFER_BATCH)
        return to_numpy(S, X)

    def reconstruct_scaled(self, X):
        """The reconstruction of ``X`` in scaled units (see :meth:`to_scaled`); a table's
        categorical columns as the predicted probability of each category.

        Returns
        -------
        S_hat : ndarray of shape (n_samples, n_scaled)
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        module = self.module_
        S_hat = infer(lambda x: scaled_reconstruction(module, x), self._to_tensor(X),
                      INFER_BATCH)
        return to_numpy(S_hat, X)

    def from_scaled(self, S, like=None):
        """Rows in the caller's units from rows in scaled units (:meth:`to_scaled`), such
        as PCA's reconstructions there; each category block gives its largest entry.

        Parameters
        ----------
        S : array-like of shape (n_samples, n_scaled)
        like : array-like of shape (n_samples, n_features), optional
            The rows ``S`` reconstructs, for ``scaler="sample"`` (each row's own level).

        Returns
        -------
        X : ndarray or DataFrame, as :meth:`inverse_transform` gives
        """
        check_is_fitted(self)
        S = check_array(S, dtype=[np.float64, np.float32], ensure_all_finite=False)
        like_t = None if like is None else self._to_tensor(self._check_X(like, reset=False))
        scaler = self.module_.scaler
        S_t = self._to_tensor(S)
        with torch.no_grad():
            X = torch.cat([scaler.inverse(S_t[i : i + INFER_BATCH], None if like_t is None
                                          else like_t[i : i + INFER_BATCH])
                           for i in range(0, len(S_t), INFER_BATCH)])
        return self._output(to_numpy(X, S))
