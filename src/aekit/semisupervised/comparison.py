"""Few labels, many rows: the honest baselines beside the semi-supervised classifier.

:func:`compare_few_labels` fits, on the same labelled rows, what a careful user would try
first, and aekit's classifiers, and scores them on the same test rows:

- logistic regression on the raw inputs (the baseline to beat);
- logistic regression on PCA codes (PCA fitted on every row, labelled or not);
- logistic regression on the autoencoder's codes (fitted on every row);
- :class:`~aekit.EncoderClassifier` on the labelled rows alone;
- :class:`~aekit.EncoderClassifier` semi-supervised, every row (``y == -1`` unlabelled).

Each with its test accuracy, its calibration (expected calibration error and Brier score
of ``predict_proba``) and its fit time. The autoencoder is fitted once and shared; its fit
time is counted in every method that uses it.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..core.fitted import as_fitted
from ..estimators import AutoEncoder
from .classifier import EncoderClassifier, UnreadInThisFitWarning
from .labels import (UNLABELLED, refuse_other_marks, scored_rows, take_rows,
                     unlabelled_rows)

ECE_BINS = 15
"""Confidence bins of :func:`expected_calibration_error` (Guo et al. 2017 use 15)."""


def hide_labels(y, n_per_class: int, random_state=None) -> np.ndarray:
    """A copy of ``y`` with all but ``n_per_class`` rows of each class set to ``-1``.

    The kept rows are drawn at random within each class (all of a class's rows when it has
    fewer), the usual way few-label benchmarks are built (10 per class: 100 labels). Rows
    already ``-1`` stay unlabelled.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels, integers or text (``-1`` is reserved for unlabelled rows; other marks
        of a missing label, NaN, None or the text ``"-1"``, are refused as by ``fit``).
    n_per_class : int
        Labels kept per class, >= 0.
    random_state : int, RandomState instance or None

    Returns
    -------
    y_few : ndarray of shape (n_samples,)
        Of ``y``'s signed integer dtype (unsigned labels, e.g. MNIST's uint8, come back
        signed, to hold ``-1``), or an object array for other labels (text and ``-1``).
    """
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, Integral) \
            or n_per_class < 0:
        raise ValueError(f"n_per_class must be an integer >= 0 (labels kept per class), "
                         f"got {n_per_class!r}")
    y = np.asarray(y)
    refuse_other_marks(y)  # NaN, None, '-1': fit's rule, with its fix
    if y.dtype.kind == "f":
        raise ValueError(f"hide_labels needs class labels, integers or text, got {y.dtype}: "
                         "whole-number floats can be cast with y.astype(int).")
    labelled = ~unlabelled_rows(y)
    if not labelled.any():
        raise ValueError("every row of y is -1 (unlabelled): there are no labels to keep; "
                         "pass the labelled y.")
    rng = check_random_state(random_state)
    rows = [np.flatnonzero(y == c) for c in np.unique(y[labelled])]  # each class's rows
    keep = [rng.choice(r, min(n_per_class, len(r)), replace=False) for r in rows]
    y_few = np.full(len(y), UNLABELLED, dtype=_with_minus_one(y.dtype))
    kept = np.concatenate(keep)
    y_few[kept] = y[kept]
    return y_few


def _with_minus_one(dtype: np.dtype) -> np.dtype:
    """The dtype of labels ``dtype`` that holds ``-1`` too: signed integers as they are,
    unsigned ones as the smallest signed integer holding them, others object."""
    if dtype.kind == "i":
        return dtype
    if dtype.kind == "u":
        return np.dtype(np.int64) if dtype.itemsize >= 8 else np.promote_types(dtype, np.int8)
    return np.dtype(object)


def expected_calibration_error(y_true, proba, classes=None, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error of the top class (Naeini et al. 2015; Guo et al. 2017).

    Rows are binned by their highest probability (``n_bins`` equal-width bins of [0, 1]);
    the error is the row-weighted mean over bins of ``|accuracy - mean confidence|``. 0 is
    perfect: among rows predicted with 80% confidence, 80% are right.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    proba : array-like of shape (n_samples, n_classes)
    classes : array-like of shape (n_classes,), optional
        The labels of ``proba``'s columns (a classifier's ``classes_``); default 0..n-1.
    n_bins : int

    Returns
    -------
    ece : float
    """
    proba = np.asarray(proba, dtype=np.float64)
    classes = np.arange(proba.shape[1]) if classes is None else np.asarray(classes)
    confidence = proba.max(1)
    correct = classes[proba.argmax(1)] == np.asarray(y_true)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        rows = bins == b
        total += rows.mean() * abs(correct[rows].mean() - confidence[rows].mean())
    return float(total)


def brier_score(y_true, proba, classes=None) -> float:
    """Multiclass Brier score: mean over rows of ``sum_c (p_c - [y = c])^2``, in [0, 2];
    lower is better (0: certain and right)."""
    proba = np.asarray(proba, dtype=np.float64)
    classes = np.arange(proba.shape[1]) if classes is None else np.asarray(classes)
    onehot = (np.asarray(y_true)[:, None] == classes[None, :]).astype(np.float64)
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


@dataclass(frozen=True)
class FewLabelsRow:
    """One method's result: test accuracy, calibration, fit seconds and what it is."""

    method: str
    accuracy: float
    ece: float
    brier: float
    fit_seconds: float
    note: str = ""

    @classmethod
    def scored(cls, method: str, y_test, proba, classes, fit_seconds: float,
               note: str = "") -> "FewLabelsRow":
        """The row of a method whose ``predict_proba`` on the test rows is ``proba``
        (n_test, n_classes), columns in the order of ``classes``."""
        proba, classes = np.asarray(proba), np.asarray(classes)
        return cls(method, float(np.mean(classes[proba.argmax(1)] == np.asarray(y_test))),
                   expected_calibration_error(y_test, proba, classes),
                   brier_score(y_test, proba, classes), fit_seconds, note)


@dataclass(frozen=True)
class FewLabelsComparison:
    """What :func:`compare_few_labels` measured; ``str()`` (or :meth:`table`) prints it."""

    n_labelled: int
    n_unlabelled: int
    n_test: int
    n_classes: int
    rows: tuple[FewLabelsRow, ...]

    def table(self) -> str:
        """The results as a fixed-width text table."""
        width = max(len(r.method) for r in self.rows)
        lines = [f"{self.n_labelled} labelled rows ({self.n_classes} classes), "
                 f"{self.n_unlabelled} unlabelled, {self.n_test} test rows",
                 f"{'method':<{width}}  accuracy    ECE  Brier   fit s  note"]
        for r in self.rows:
            lines.append(f"{r.method:<{width}}  {r.accuracy:8.4f}  {r.ece:5.3f}  {r.brier:5.3f}"
                         f"  {r.fit_seconds:6.1f}  {r.note}".rstrip())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def accuracy(self, method: str) -> float:
        """The test accuracy of ``method`` (a row's ``method`` name)."""
        for r in self.rows:
            if r.method == method:
                return r.accuracy
        raise KeyError(f"no method {method!r}; methods: {[r.method for r in self.rows]}")

    def to_dict(self) -> dict:
        """JSON-ready: the counts and one dict per row."""
        return {**{k: v for k, v in asdict(self).items() if k != "rows"},
                "rows": [asdict(r) for r in self.rows]}


RAW = "logistic regression, raw inputs"
PCA_CODES = "logistic regression, PCA codes"
AE_CODES = "logistic regression, autoencoder codes"
LABELLED_ONLY = "EncoderClassifier, labelled rows only"
SEMI_SUPERVISED = "EncoderClassifier, semi-supervised"


def _timed_fit(model, X, y) -> float:
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def compare_few_labels(X, y, X_test, y_test, *, autoencoder=None, autoencoder_seconds=None,
                       classifier=None, baseline=None, random_state=0) -> FewLabelsComparison:
    """Baselines and the semi-supervised classifier on the same labelled rows.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Every training row, labelled or not.
    y : array-like of shape (n_samples,)
        Labels, ``-1`` for the unlabelled rows (see :func:`hide_labels`).
    X_test, y_test : array-like
        Rows to score every method on; those whose label is ``-1`` are left out, as
        ``score`` leaves them out (``n_test`` counts the scored rows).
    autoencoder : AutoEncoder, optional
        Fitted (reused as is) or unfitted (fitted once on every row of ``X``, timed);
        default ``AutoEncoder(n_components=32, random_state=random_state)``. PCA gets as
        many components as its code.
    autoencoder_seconds : float, optional
        When ``autoencoder`` is given fitted: how long its fit took, counted in the fit time
        of every method that uses it (a fitted autoencoder shared by several comparisons).
    classifier : EncoderClassifier, optional
        The classifier to compare, its ``autoencoder`` replaced by the fitted one; default
        ``EncoderClassifier(autoencoder, random_state=random_state)``.
    baseline : classifier, optional
        The model of the logistic-regression rows; default
        ``LogisticRegression(max_iter=1000)`` (L2, C=1), on the inputs as given.
    random_state : int

    Returns
    -------
    FewLabelsComparison
        Rows in the order of the module docstring; fit times include the shared
        autoencoder's where it is used.
    """
    X, y = np.asarray(X), np.asarray(y)
    labelled = ~unlabelled_rows(y)
    X_lab, y_lab = X[labelled], y[labelled]
    baseline = LogisticRegression(max_iter=1000) if baseline is None else baseline
    autoencoder = (AutoEncoder(n_components=32, random_state=random_state)
                   if autoencoder is None else autoencoder)
    ae_seconds = float(autoencoder_seconds or 0.0)
    try:
        check_is_fitted(autoencoder)
    except NotFittedError:  # fit it here, once, on every row
        autoencoder = clone(autoencoder)
        ae_seconds = _timed_fit(autoencoder, X, None)
    if classifier is None:
        classifier = EncoderClassifier(autoencoder, random_state=random_state)
    ae_note = f"incl. the autoencoder's {ae_seconds:.1f} s" if ae_seconds else ""

    rows = []

    def add(method, model, X_fit, y_fit, extra_seconds=0.0, note=""):
        seconds = _timed_fit(model, X_fit, y_fit) + extra_seconds
        rows.append(FewLabelsRow.scored(method, y_test, model.predict_proba(X_test),
                                        model.classes_, seconds, note))

    y_test = np.asarray(y_test)
    scored = scored_rows(y_test)  # an unlabelled test row is no error of any method
    X_test, y_test = take_rows(X_test, scored), y_test[scored]
    add(RAW, clone(baseline), X_lab, y_lab)
    k = as_fitted(autoencoder).n_components  # PCA of the codes' width as fitted
    pca = PCA(k, random_state=random_state)
    pca_seconds = _timed_fit(pca, X, None)
    add(PCA_CODES, make_pipeline(FrozenEstimator(pca), clone(baseline)), X_lab, y_lab,
        pca_seconds, f"PCA({k}) fitted on every row")
    add(AE_CODES, make_pipeline(FrozenEstimator(autoencoder), clone(baseline)), X_lab, y_lab,
        ae_seconds, ae_note)
    # clone() would unfit the autoencoder parameter: set the fitted one after cloning.
    for method, X_fit, y_fit in ((LABELLED_ONLY, X_lab, y_lab), (SEMI_SUPERVISED, X, y)):
        model = clone(classifier).set_params(autoencoder=autoencoder)
        with warnings.catch_warnings():
            # One classifier for both fits: its max_epochs is for the first, its
            # propagation_epochs for the second, each unread in the other by design.
            warnings.simplefilter("ignore", UnreadInThisFitWarning)
            add(method, model, X_fit, y_fit, ae_seconds, ae_note)
    return FewLabelsComparison(int(labelled.sum()), int((~labelled).sum()), len(y_test),
                               len(np.unique(y_lab)), tuple(rows))

