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
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from ..core.checks import format_indices

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
    # Arrays whatever set_config(transform_output="pandas") says: the scores are an ndarray
    # (the PCA error was a pandas Series with an index of its own).
    scaler = StandardScaler().set_output(transform="default").fit(A)
    A = scaler.transform(A)
    if name == "lof":
        from sklearn.neighbors import LocalOutlierFactor

        lof = LocalOutlierFactor(novelty=True).fit(A)
        return lambda X: -lof.score_samples(scaler.transform(np.asarray(X, np.float64)))
    from sklearn.decomposition import PCA

    k = min(max(1, round(math.sqrt(A.shape[1]))), *A.shape)
    pca = PCA(n_components=k, svd_solver="full", random_state=random_state).set_output(
        transform="default").fit(A)

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


NORMAL_NAMES = frozenset({"normal", "benign", "inlier", "legitimate", "nominal"})
"""Label values taken as the normal one without being told (compared lower-case, without
surrounding spaces or a trailing period: KDD Cup 99 writes ``normal.``)."""


class AmbiguousLabels(ValueError):
    """No label value is clearly the normal one: say which with ``normal=`` or
    ``anomaly=``. ``values`` holds ``(value, count)`` pairs, most frequent first."""

    def __init__(self, values, how: str = "normal=VALUE or anomaly=VALUE"):
        self.values = list(values)
        if [v for v, _ in self.values] == [1]:
            super().__init__(
                f"every label is 1 ({self.values[0][1]} rows): an anomaly in 0/1 labels, "
                "but a normal row in +1/-1 labels (what predict() returns when it flags "
                f"nothing); say which with {how}")
            return
        shown = ", ".join(f"{str(v)!r} ({c} rows)" for v, c in self.values[:8])
        shown += f", ... ({len(self.values)} values)" if len(self.values) > 8 else ""
        super().__init__(
            f"cannot tell which label value is the normal one among {shown}: none is named "
            f"{'/'.join(sorted(NORMAL_NAMES))} and they are not 0/1 or 1/-1; say which "
            f"with {how}")


def _matching(values: np.ndarray, wanted, what: str) -> np.ndarray:
    """Rows whose label is ``wanted``: by value, else by its text (a command line's
    ``--normal 0`` names the number 0)."""
    hits = values == wanted
    if not np.any(hits):
        hits = np.asarray([str(v) == str(wanted) for v in values.tolist()], dtype=bool)
    if not hits.any():
        uniques = np.unique(values.astype(str))
        shown = ", ".join(map(repr, uniques[:12].tolist())) + (", ..." if len(uniques) > 12
                                                               else "")
        raise ValueError(f"{what}={wanted!r} is not among the label values ({shown})")
    return hits


def _normal_name(value) -> str:
    return str(value).strip().lower().rstrip(".").strip()


def anomaly_labels(y, normal=None, *, anomaly=None) -> np.ndarray:
    """Labels as booleans, True for an anomaly.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Booleans (True: anomaly); 0/1 (1: anomaly); +1/-1 (scikit-learn's ``predict``,
        -1: anomaly); or any other values, of which one is named as normal
        (:data:`NORMAL_NAMES`: ``"normal"``, ``"normal."``, ``"benign"``...) or given by
        ``normal`` / ``anomaly``.
    normal : scalar, optional
        The label of normal rows: every other value is an anomaly. Matched by value, else
        by its text (``"0"`` matches the number 0).
    anomaly : scalar, optional
        The label of anomalous rows: every other value is normal. With ``normal`` too,
        every row must carry one of the two.

    Returns
    -------
    anomaly : ndarray of bool

    Raises
    ------
    AmbiguousLabels
        (a ValueError) when neither is given and no value is clearly the normal one: the
        most frequent value is not a safe guess (in KDD Cup 99 most rows are attacks). Also
        when every label is 1: all anomalies in 0/1 labels, all normal in +1/-1 ones (as
        ``predict`` returns when it flags nothing). All 0 (only 0/1 has it) are normal
        rows and all -1 (only +1/-1 has it) anomalies.
    ValueError
        When ``normal`` or ``anomaly`` is not among the values, or a label is missing
        (NaN or None).
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be one value per row, got shape {y.shape}")
    _check_no_missing(y)
    if normal is not None or anomaly is not None:
        is_normal = _matching(y, normal, "normal") if normal is not None else None
        is_anomaly = _matching(y, anomaly, "anomaly") if anomaly is not None else None
        if is_normal is None:
            return is_anomaly
        if is_anomaly is None:
            return ~is_normal
        other = ~(is_normal | is_anomaly)
        if other.any():
            rest = np.unique(y[other].astype(str))
            raise ValueError(f"labels {', '.join(map(repr, rest[:8].tolist()))} are neither "
                             f"normal={normal!r} nor anomaly={anomaly!r}; give one of the two")
        return is_anomaly
    if y.dtype == bool:
        return y.copy()
    uniques, counts = np.unique(y.astype(str) if y.dtype == object else y,
                                return_counts=True)
    values = set(uniques.tolist())
    # One value alone is read by the only convention it belongs to: 0 (0/1) is normal, -1
    # (+1/-1) an anomaly. 1 belongs to both, with opposite meanings.
    if values == {1}:
        raise AmbiguousLabels([(uniques[0].item(), int(counts[0]))])
    if values <= {0, 1}:
        return np.asarray(y == 1)
    if values <= {-1, 1}:
        return np.asarray(y == -1)
    named = [v for v in uniques.tolist() if _normal_name(v) in NORMAL_NAMES]
    if len(named) == 1:
        return np.asarray([str(v) != str(named[0]) for v in y.tolist()], dtype=bool)
    order = np.argsort(-counts, kind="stable")
    raise AmbiguousLabels([(uniques[i].item() if hasattr(uniques[i], "item") else uniques[i],
                            int(counts[i])) for i in order])


def _check_no_missing(y: np.ndarray) -> None:
    """A ValueError naming the rows whose label is missing (NaN, None, pandas.NA: an empty
    cell of a label column): else they were read as a value of their own, every row not
    ``normal`` being an anomaly, and measured as anomalies."""
    missing = np.asarray(pd.isna(y), dtype=bool)  # as semisupervised.labels reads them
    if missing.any():
        rows = np.flatnonzero(missing)
        raise ValueError(f"labels are missing (NaN or None) in {len(rows)} row(s) "
                         f"{format_indices(rows)}: every row measured needs a label; drop "
                         "those rows or give them one")


def describe_labels(y, anomaly) -> str:
    """One line saying which label values were taken as normal and which as anomalies,
    with their numbers of rows: what the command line prints before any ROC-AUC."""
    y, anomaly = np.asarray(y), np.asarray(anomaly, dtype=bool)

    def listed(rows) -> str:
        values, counts = np.unique(y[rows].astype(str), return_counts=True)
        order = np.argsort(-counts, kind="stable")
        parts = [repr(str(values[i])) for i in order[:5]]
        return ", ".join(parts) + (f" and {len(values) - 5} more" if len(values) > 5 else "")

    normal_part = f"normal: {listed(~anomaly)} ({int((~anomaly).sum())} rows)" \
        if (~anomaly).any() else "no normal rows"
    anomaly_part = f"anomalies: {listed(anomaly)} ({int(anomaly.sum())} rows)" \
        if anomaly.any() else "no anomalies"
    return f"labels taken as {normal_part}; {anomaly_part}"


def detection_metrics(anomaly, scores) -> dict:
    """``{"roc_auc", "average_precision"}`` of anomaly ``scores`` against labels; both None
    when the labels hold a single class.

    Parameters
    ----------
    anomaly : array-like of shape (n_samples,)
        Booleans (True: anomaly), or labels :func:`anomaly_labels` reads (0/1, +1/-1,
        text with a normal value named ``"normal"`` and the like); other labels raise its
        :class:`AmbiguousLabels`: pass ``anomaly_labels(y, normal=VALUE)``.
    scores : array-like of shape (n_samples,)
        Anomaly scores, higher is more anomalous.
    """
    # Not cast to bool: +1/-1 labels (predict's) were all True, read as one class (None).
    anomaly = anomaly_labels(anomaly)
    if anomaly.all() or not anomaly.any():
        return {"roc_auc": None, "average_precision": None}
    return {"roc_auc": float(roc_auc_score(anomaly, scores)),
            "average_precision": float(average_precision_score(anomaly, scores))}
