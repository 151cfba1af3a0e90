"""The book recipe's check: does a pretrained encoder help a classifier trained on a few
labelled rows alone, or would logistic regression on the raw inputs do better?

Pretraining an autoencoder on unlabelled rows and training a classifier on its lower layers
with the few labelled rows is the textbook route to few-label learning, and it can lose to
the plain baseline (MNIST, 100 labels: a frozen pretrained encoder 0.699 test accuracy,
logistic regression on the pixels 0.756). :func:`warn_if_raw_inputs_win` measures that
case on the labelled rows themselves and says what to do instead.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..core.checks import user_warning

FEW_LABELS = 1000
"""Fits of the classifier on at most this many labelled rows alone (no unlabelled rows, or
their propagation turned off) are checked."""

MAX_FOLDS = 5


class FewLabelsWarning(UserWarning):
    """A classifier on pretrained features is likely to lose to logistic regression on the
    raw inputs; the semi-supervised path is the fix."""


def linear_cv_accuracy(Z: np.ndarray, y: np.ndarray, n_folds: int) -> float:
    """Mean cross-validated accuracy of standardised logistic regression on ``Z``."""
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=0)
    return float(np.mean(cross_val_score(model, Z, y, cv=folds)))


def warn_if_raw_inputs_win(X: np.ndarray, features: np.ndarray, y: np.ndarray,
                           where: str, n_unlabelled: int = 0) -> tuple[float, float] | None:
    """Warn (:class:`FewLabelsWarning`) when logistic regression on the raw inputs ``X``
    beats it on the pretrained ``features``, by cross-validation on the labelled rows.

    Both sides get the same folds and the same linear model, so the comparison isolates
    the representation: a classifier on features that a linear model finds worse than the
    raw inputs starts behind the baseline. Cheap: two cross-validations of logistic
    regression on at most :data:`FEW_LABELS` rows.

    Parameters
    ----------
    X : ndarray of shape (n_labelled, n_features)
    features : ndarray of shape (n_labelled, width)
        What the classifier's head reads, before any training on the labels.
    y : ndarray of shape (n_labelled,)
    where : str
        Which features they are (for the message), e.g. ``"encoder layer 1"``.
    n_unlabelled : int, default=0
        Rows labelled ``-1`` that were passed but that the classifier does not train on
        (``semi_supervised=None``): the fix is then to use them, not to pass them.

    Returns
    -------
    (raw, pretrained) : tuple of float, or None
        The two cross-validated accuracies; None when not checked (more than
        :data:`FEW_LABELS` rows, or a class with fewer than 2 rows).
    """
    counts = np.unique(y, return_counts=True)[1]
    if len(y) > FEW_LABELS or counts.min() < 2:
        return None
    n_folds = int(min(MAX_FOLDS, counts.min()))
    raw = linear_cv_accuracy(X, y, n_folds)
    pretrained = linear_cv_accuracy(features, y, n_folds)
    if raw > pretrained:
        if n_unlabelled:
            rows = (f"{len(y)} labelled rows (the {n_unlabelled:,} unlabelled ones, y == -1, "
                    "are unused: semi_supervised=None)")
            fix = ("Learn from the unlabelled rows with semi_supervised='propagation' (the "
                   "default), or use aekit.LadderClassifier.")
        else:
            rows = f"{len(y)} labelled rows and no unlabelled ones"
            fix = ("Pass the unlabelled rows too, labelled -1 (fit(X, y) with y == -1 where "
                   "the label is unknown: semi-supervised), or use aekit.LadderClassifier.")
        user_warning(
            f"with {rows}, logistic regression on the raw inputs scores {raw:.3f} "
            f"({n_folds}-fold cross-validation on the labelled rows) against "
            f"{pretrained:.3f} on the pretrained {where}: the pretrained encoder does not "
            f"help here, and this classifier may lose to that baseline. {fix}",
            FewLabelsWarning,
        )
    return raw, pretrained
