"""Errors per column of the caller's table, measured in the model's scaled units.

A column sits in the scaled units as its *slots* (:func:`column_slots`: one per numeric
column, one per category of a categorical column); a missing number is imputed inside the
model, so its cell is no error and is left out (:func:`observed_rows`). From these,
each cell's squared error (:func:`cell_errors`) and the headline built on them
(:func:`column_errors`: the mean over columns of each column's mean, and each column's
R²), so that every column counts alike whatever its units. The PCA comparison
(:mod:`aekit.evaluation.metrics`) and the fit-quality checks
(:mod:`aekit.evaluation.quality`) both measure columns this way.
"""

from __future__ import annotations

import numpy as np

from .errors import explained_variance


def column_slots(estimator, n_scaled: int) -> list[tuple[str, str, np.ndarray]]:
    """``(name, kind, slots)`` of each column, in the table's order: where the column sits
    in the model's scaled units (one slot per numeric column, one per category of a
    categorical column; numeric columns first, as :meth:`to_scaled` lays them out)."""
    columns = getattr(estimator, "columns_", None)
    names = getattr(estimator, "feature_names_in_", None)
    if not columns:
        names = [str(n) for n in names] if names is not None and len(names) == n_scaled \
            else [f"x{j}" for j in range(n_scaled)]
        return [(name, "numeric", np.array([j])) for j, name in enumerate(names)]
    out, numeric = [], [c for c in columns if c["kind"] == "numeric"]
    start_num, start_cat = 0, len(numeric)
    for col in columns:
        if col["kind"] == "numeric":
            out.append((col["name"], "numeric", np.array([start_num])))
            start_num += 1
        else:
            n = len(col["categories"])
            out.append((col["name"], "categorical", np.arange(start_cat, start_cat + n)))
            start_cat += n
    return out


def observed_rows(X, slots) -> list[np.ndarray | None]:
    """Per column of ``slots`` (see :func:`column_slots`), the rows of ``X`` (the caller's
    rows, an array or a DataFrame) where it is observed, as a boolean mask; None where it
    is observed everywhere. A missing number is imputed inside the model, so its scaled
    cell holds the imputed value, not the row's: it is left out of every error."""
    table = hasattr(X, "columns")
    values = None if table else np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    out = []
    for name, kind, idx in slots:
        if kind != "numeric":
            out.append(None)
            continue
        column = X[name].to_numpy(dtype=np.float64, na_value=np.nan) if table else \
            values[:, idx[0]]
        seen = ~np.isnan(column)
        out.append(None if seen.all() else seen)
    return out


def cell_errors(S, S_hat, slots, rows) -> tuple[np.ndarray, np.ndarray]:
    """``(errors, observed)``, both of shape (n_rows, n_columns): each row's squared error
    on each column of ``slots`` in scaled units (a categorical column's summed over its
    one-hot block; 0 where the cell is missing) and whether the cell is observed
    (:func:`observed_rows`' ``rows``). The cells behind :func:`column_errors` and
    :func:`ratio_interval`, so the headline and its interval are one statistic."""
    S, S_hat = np.asarray(S, np.float64), np.asarray(S_hat, np.float64)
    errors = np.empty((len(S), len(slots)))
    observed = np.ones((len(S), len(slots)), dtype=bool)
    for c, ((_, _, idx), seen) in enumerate(zip(slots, rows)):
        errors[:, c] = ((S[:, idx] - S_hat[:, idx]) ** 2).sum(1)
        if seen is not None:
            observed[:, c] = seen
            errors[~seen, c] = 0.0
    return errors, observed


def _headline(errors: np.ndarray, observed: np.ndarray) -> float:
    """The mean over columns (observed somewhere) of each column's mean error over its
    observed cells, from :func:`cell_errors`."""
    with np.errstate(invalid="ignore", divide="ignore"):
        means = errors.sum(0) / observed.sum(0)
    finite = means[np.isfinite(means)]
    return float(finite.mean()) if len(finite) else float("nan")


def column_errors(S, S_hat, slots, rows) -> tuple[float, list[float]]:
    """``(error, R² per column)`` in scaled units: the mean over columns of each column's
    mean squared error on its observed rows ``rows`` (:func:`observed_rows`; a categorical
    column's error summed over its one-hot block), and each column's R² there."""
    S, S_hat = np.asarray(S, np.float64), np.asarray(S_hat, np.float64)
    r2 = []
    for (_, _, idx), seen in zip(slots, rows):
        a, b = (S[:, idx], S_hat[:, idx]) if seen is None else (S[seen][:, idx],
                                                                 S_hat[seen][:, idx])
        r2.append(explained_variance(a, b) if len(a) >= 2 else np.nan)
    if not slots:  # no column description: every slot alike
        return (float(((S_hat - S) ** 2).mean()) if S.size else float("nan")), r2
    return _headline(*cell_errors(S, S_hat, slots, rows)), r2
