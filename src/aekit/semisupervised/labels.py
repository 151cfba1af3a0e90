"""What every few-label classifier shares: scikit-learn's ``y == -1`` convention for
unlabelled rows, the check of the labels ``fit`` gets, and the prediction API built on a
class's ``_logits(X)`` (predict_proba, predict_log_proba, predict, score on labelled rows)."""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.metrics import accuracy_score
from sklearn.utils import _safe_indexing
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from ..core.checks import format_indices

UNLABELLED = -1
"""The label of unlabelled rows, as in :mod:`sklearn.semi_supervised`."""


def unlabelled_rows(y) -> np.ndarray:
    """Boolean mask of the rows of ``y`` labelled :data:`UNLABELLED` (``-1``)."""
    y = np.asarray(y)
    if y.dtype.kind in "iuf" or y.dtype == object:
        return np.asarray(y == UNLABELLED, dtype=bool).reshape(len(y))
    return np.zeros(len(y), dtype=bool)  # strings, booleans: -1 cannot occur


def blanks_unlabelled(y) -> np.ndarray:
    """``y`` with its missing entries (a table's empty label cells: NaN, None) and its text
    cells ``"-1"`` as :data:`UNLABELLED`: how a file marks the rows that have no label.

    A numeric label column with empty cells is read as floats; its whole-number labels come
    back as int64. Other labels (text) come back as an object array holding ``-1`` where
    they were missing or ``"-1"`` (a text column cannot hold the number, and the command
    line's user cannot make it). ``y`` without such entries is returned as it is.
    """
    y = np.asarray(y)
    missing = np.asarray(pd.isna(y), dtype=bool)
    if y.dtype.kind in "USO":
        missing |= [isinstance(v, str) and v.strip() == "-1" for v in y]
    if not missing.any():
        return y
    kept = y[~missing]
    if kept.dtype.kind == "O" and all(isinstance(v, Real) and not isinstance(v, (bool, np.bool_))
                                      for v in kept):
        kept = kept.astype(np.float64)  # numbers beside pandas' NA
    if kept.dtype.kind in "iuf" and np.array_equal(kept, np.round(kept)):
        out = np.full(len(y), UNLABELLED, dtype=np.int64)
        out[~missing] = kept.astype(np.int64)
        return out
    out = y.astype(object)
    out[missing] = UNLABELLED
    return out


def check_labels(estimator, y) -> tuple[np.ndarray, np.ndarray]:
    """Labelled row indices of ``y`` and their class indices; sets the estimator's
    ``classes_`` (without ``-1``), ``n_labelled_`` and ``n_unlabelled_``.

    Unlabelled rows marked another way than ``-1`` are refused, never read as labels: a
    missing label (NaN, None) and the text ``"-1"``, which would otherwise be a class of
    its own that the classifier learns to predict."""
    refuse_other_marks(y)
    unlabelled = unlabelled_rows(y)
    labelled = np.flatnonzero(~unlabelled)
    name = type(estimator).__name__
    if len(labelled) == 0:
        raise ValueError(
            "every row of y is -1 (unlabelled); label some rows (at least one of each class), "
            "or fit an AutoEncoder to learn from rows without labels."
        )
    refuse_other_kinds(y[labelled])
    refuse_mixed_labels(y[labelled])  # before scikit-learn's check, which fails on them
    check_classification_targets(y[labelled])
    estimator.classes_, y_idx = np.unique(y[labelled], return_inverse=True)
    if estimator.classes_.dtype.kind == "U":  # text classes are an object array, as labels
        # with -1 rows must be and as a loaded model's are: one dtype for predict either way
        estimator.classes_ = estimator.classes_.astype(object)
    if len(estimator.classes_) < 2:
        only = estimator.classes_[0]
        only = only.item() if isinstance(only, np.generic) else only  # 3, not np.int64(3)
        # Labels -1/+1 (an SVM's coding) meet the -1 of unlabelled rows: say so, since the
        # class count alone ("got 1 class") reads as wrong to someone who passed two.
        marked = int(unlabelled.sum())
        hint = (f" The {marked:,} rows labelled -1 are unlabelled rows (scikit-learn's "
                "semi-supervised convention), not a class; if -1 is a class here (labels "
                "-1/+1), recode it first, e.g. y = np.where(y == -1, 0, y).") if marked else ""
        raise ValueError(
            f"{name} needs at least 2 classes in y, got 1 class ({only!r}); there is "
            f"nothing to classify.{hint}"
        )
    estimator.n_labelled_, estimator.n_unlabelled_ = len(labelled), int(unlabelled.sum())
    return labelled, y_idx


def refuse_other_kinds(labels: np.ndarray) -> None:
    """Raise a ValueError naming the fix when the labelled rows' ``labels`` are neither
    numbers, booleans nor text: dates and durations came back from ``predict`` as text or
    as integer nanoseconds, and a model with them could not be saved (its classes are
    JSON)."""
    if labels.dtype.kind in "mM":
        odd = labels[0]
    elif labels.dtype == object:
        odd = next((v for v in labels if not isinstance(v, (str, bool, Real, np.bool_))),
                   None)
        if odd is None:
            return
    else:
        return
    raise ValueError(
        f"y's labels must be integers, booleans or text, and {odd!r} is a "
        f"{type(odd).__name__}: predict would not give it back, nor could the model be "
        "saved. Use text, e.g. y = np.array([v if v == -1 else str(v) for v in y], "
        "dtype=object) (-1 stays the number that marks an unlabelled row).")


def refuse_mixed_labels(labels: np.ndarray) -> None:
    """Raise a ValueError naming the fix when the labelled rows' ``labels`` (an object
    array, as text labels beside ``-1`` are) hold both text and numbers, which cannot be
    sorted into ``classes_`` (NumPy's error names a ufunc loop, not the labels)."""
    if labels.dtype != object:
        return
    text = [isinstance(v, str) for v in labels]
    if all(text) or not any(text):
        return
    first_text, first_other = labels[text.index(True)], labels[text.index(False)]
    if isinstance(first_other, np.generic):  # 3, not np.int64(3)
        first_other = first_other.item()
    raise ValueError(
        f"y mixes text labels and other labels among its labelled rows (e.g. "
        f"{first_text!r} and {first_other!r}), which cannot be ordered into classes_: give "
        "every class the same type, e.g. text: y = np.array([v if v == -1 else str(v) for v "
        "in y], dtype=object) (-1 stays the number that marks an unlabelled row).")


def refuse_other_marks(y) -> None:
    """Raise a ValueError naming the fix when ``y`` (n,) marks rows as unlabelled with a
    missing value or with the text ``"-1"``."""
    y = np.asarray(y)
    missing = np.flatnonzero(np.asarray(pd.isna(y), dtype=bool))
    if len(missing):
        raise ValueError(
            f"y has {len(missing):,} missing labels (NaN or None) in rows "
            f"{format_indices(missing)}. "
            "Unlabelled rows are marked -1, as in sklearn.semi_supervised: mark them so, "
            "e.g. y = np.where(pd.isna(y), -1, y), or y.fillna(-1) for a pandas Series.")
    if y.dtype.kind not in "USO":
        return
    text = np.flatnonzero([isinstance(v, str) and v.strip() == "-1" for v in y])
    if len(text):
        raise ValueError(
            f"y holds the text '-1' in {len(text):,} rows {format_indices(text)}, which "
            "would be a class of its own: unlabelled rows are the number -1, as in "
            "sklearn.semi_supervised. With text labels, put them in an object array: "
            "y = np.asarray(y, dtype=object); y[y == '-1'] = -1. If '-1' is a class, "
            "rename it (e.g. 'negative').")


def take_rows(X, rows: np.ndarray):
    """Rows ``rows`` (indices) of ``X``: an array, a DataFrame or a sparse matrix in any
    format, as the classifiers take it.

    COO, DIA and BSR matrices have no row indexing (scikit-learn's ``_safe_indexing`` fails
    on them with a TypeError), so they are read as CSR first."""
    if sp.issparse(X) and X.format in ("coo", "dia", "bsr"):
        X = X.tocsr()
    return _safe_indexing(X, rows)


def scored_rows(y) -> np.ndarray:
    """Indices of the rows of ``y`` (n,) that have a label, the rows a score counts.

    ``y`` follows the rules of ``fit`` (:func:`refuse_other_marks`): rows marked unlabelled
    otherwise than ``-1`` (NaN, None, the text ``"-1"``) are refused, never scored as
    errors; a ValueError when no row has a label."""
    refuse_other_marks(y)
    keep = np.flatnonzero(~unlabelled_rows(y))
    if len(keep) == 0:
        raise ValueError("every row of y is -1 (unlabelled): there is nothing to score")
    return keep


_LABEL_KINDS = "biufO"
"""NumPy dtype kinds of labels a saved model records: bool, integers, floats, object."""


def classes_json(classes: np.ndarray) -> list | dict:
    """``classes_`` as a saved model's config holds it: the list of labels, or, when the
    list alone reads back as another dtype (int32 labels as int64, float32 as float64),
    ``{"labels": [...], "dtype": "int32"}``: ``predict`` returns ``classes_``'s dtype, which
    a loaded model must keep. Files of the usual dtypes stay a list, as older aekits wrote
    and read them; so do text classes (``fit`` makes them an object array)."""
    labels = [c.item() if isinstance(c, np.generic) else c for c in classes]
    if classes.dtype.kind not in _LABEL_KINDS or classes_from_json(labels).dtype == classes.dtype:
        return labels
    return {"labels": labels, "dtype": classes.dtype.name}


def classes_from_json(labels: list, dtype: str | None = None) -> np.ndarray:
    """The ``classes_`` array of labels :func:`classes_json` wrote. Without ``dtype`` (a
    list, as every file before dtypes were recorded): text as an object array (as ``fit``
    makes it), other labels as NumPy reads them (int64, float64, bool).

    Raises
    ------
    ValueError
        For a ``dtype`` that is not a NumPy label dtype, or labels it does not hold as they
        are (300 as uint8)."""
    if dtype is None:
        if all(isinstance(c, str) for c in labels):
            # Text classes as fit makes them from labels with -1 rows (an object array, which
            # holds both): np.asarray would make them '<U'.
            return np.asarray(labels, dtype=object)
        return np.asarray(labels)
    try:
        kind = np.dtype(dtype).kind
        classes = np.asarray(labels, dtype=dtype) if kind in _LABEL_KINDS else None
    except (TypeError, ValueError, OverflowError):
        classes = None
    if classes is None or classes.tolist() != labels:
        raise ValueError(f"labels of dtype {dtype!r}, a NumPy label dtype (bool, integers, "
                         "floats, object) that holds them as they are")
    return classes


class LabelledPredictionsMixin:
    """``predict_proba``, ``predict_log_proba``, ``predict`` and ``score`` of a classifier
    whose ``_logits(X)`` gives float64 logits of shape (n_samples, n_classes) in the order of
    ``classes_``."""

    _saved_forms = {"classes_": classes_json}
    """How ``save`` writes ``classes_`` (:class:`~aekit.estimators._saving.SavableMixin`):
    with its dtype, which ``predict`` returns."""

    def _logits(self, X) -> torch.Tensor:
        raise NotImplementedError

    def predict_proba(self, X):
        """Class probabilities: the softmax of the logits (an EncoderClassifier's divided by
        its fitted temperature, see ``calibrate``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to 1.
        """
        return torch.softmax(self._logits(X), dim=1).cpu().numpy()

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, shape (n_samples, n_classes)."""
        return torch.log_softmax(self._logits(X), dim=1).cpu().numpy()

    def predict(self, X):
        """Most probable class of each row, shape (n_samples,)."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy on the rows of ``(X, y)`` that have a label; rows labelled ``-1`` are
        left out, so a cross-validation fold of semi-supervised data scores on its labels.
        Rows marked unlabelled otherwise (NaN, None, the text ``"-1"``) are refused, as by
        ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        score : float
        """
        check_consistent_length(X, y, sample_weight)  # else rows and labels silently misalign
        keep = scored_rows(y)
        weight = None if sample_weight is None else np.asarray(sample_weight)[keep]
        return float(accuracy_score(np.asarray(y)[keep], self.predict(take_rows(X, keep)),
                                    sample_weight=weight))
