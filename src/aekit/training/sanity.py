"""The last check of every fit: the kept model computes something sensible on its rows.

The loop refuses NaN and infinite losses and weights (:func:`aekit.training.loop.fit_loop`),
but a step size far too large can also leave finite weights that compute garbage: a
reconstruction error of 1e26, or outputs that overflow to NaN on the training rows although
every weight is finite. Every estimator's fit therefore ends with :func:`check_kept_model`
on (a sample of) its training rows, and a model that fails it is never returned.

"Absurd" is measured against a model that learned nothing: an autoencoder's mean squared
reconstruction error in the network's units against that of outputting zeros there (the
scale of the rows: about what an untrained network gives, and the variance of each column,
predicting its mean, where the scaler centres them), a classifier's cross-entropy against
that of predicting the class frequencies. A kept model :data:`ABSURD` times worse than that
has diverged; one merely untrained or overfitted is never near it.

A classifier is also asked whether it learned anything: a kept model that predicts its own
labelled training rows no better than always naming their most frequent class is returned,
but with a :class:`LearnedNothingWarning`, since its predictions are useless as they stand
(a ladder network trained into a state that only its training-time batch statistics
classify, for example, scores near chance with the population statistics it predicts
with, at a cross-entropy far below :data:`ABSURD`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..core.checks import user_warning
from .loop import TrainingDivergedError, resolve_learning_rate

ABSURD = 100.0
"""How many times the loss of a model that learned nothing a kept model may reach."""

FLOOR = 1e-2
"""The smallest naive loss counted (network units): rows that are (nearly) all zeros would
otherwise make any small error look absurd."""

SANITY_ROWS = 2048
"""Rows the check looks at, at most (evenly spaced over the training rows)."""


class LearnedNothingWarning(UserWarning):
    """Issued by a classifier's ``fit`` when the fitted model predicts its labelled
    training rows no better than always predicting their most frequent class."""


@torch.no_grad()
def check_kept_model(estimator, X, y=None, *, hint=None):
    """Return ``estimator`` when its fitted model's outputs on rows ``X`` are finite and not
    absurd, else raise :class:`TrainingDivergedError` naming the likely fix; warn
    (:class:`LearnedNothingWarning`) when a classifier's accuracy on ``X`` is no better than
    the most frequent class's share of ``y``.

    Parameters
    ----------
    estimator : fitted aekit estimator
        Its ``module_`` is an autoencoder (``scaler``, ``encoder``, ``decoder``), an
        ensemble of them (``members_input``) or a classifier (``logits``).
    X : array of shape (n_samples, n_features)
        Training rows as ``fit`` validated them (the caller's units, a table's categories
        coded).
    y : array of shape (n_samples,), optional
        A classifier's class indices (into ``classes_``) of the rows of ``X``.
    hint : callable, optional
        ``hint()`` is called only when the classifier learned nothing; the text it returns
        (the estimator's own diagnosis of the cause and its fix, or None) replaces the
        warning's generic advice.
    """
    module = estimator.module_
    was_training = module.training
    module.eval()
    x = _sample(X, y, module, estimator.device_)
    logits = None
    try:
        if callable(getattr(module, "logits", None)):
            logits = module.logits(x[0]).double()
            loss, naive, what = _classifier_losses(logits, *x[1:])
        else:
            loss, naive, what = _reconstruction_losses(module, x[0])
    finally:
        module.train(was_training)
    name = type(estimator).__name__
    optimizer = getattr(estimator, "optimizer", "adam")  # the ladder's is Adam, fixed
    lr = resolve_learning_rate(optimizer, estimator.learning_rate)
    fix = (f"Lower learning_rate (now {lr:g}); keep a scaler on (scaler='standard') so "
           "inputs are O(1)")
    rows = len(x[0])
    if not math.isfinite(loss):
        raise TrainingDivergedError(
            f"{name}: the fitted model's outputs on {rows} training rows are NaN or "
            f"infinite although its weights are finite: training diverged. {fix}.")
    if loss > ABSURD * max(naive, FLOOR):
        raise TrainingDivergedError(
            f"{name}: the fitted model's {what} on {rows} training rows is {loss:.3g}, "
            f"{loss / max(naive, FLOOR):.3g} times that of a model that learned nothing "
            f"({naive:.3g}): training diverged to finite but useless weights. {fix}.")
    if logits is not None and y is not None:
        _warn_if_nothing_learned(name, logits, x[1], lr, hint)
    return estimator


def _warn_if_nothing_learned(name: str, logits: torch.Tensor, y: torch.Tensor,
                             lr: float, hint=None) -> None:
    """Warn when ``logits`` (n, n_classes) name classes ``y`` (n,) no more often than
    always naming ``y``'s most frequent class does (only with two classes or more); the
    text of ``hint()``, when there is one, is the warning's advice."""
    counts = torch.bincount(y)
    n_classes = int((counts > 0).sum())
    if n_classes < 2:
        return
    predicted = logits.argmax(1)  # (n,)
    accuracy = float((predicted == y).double().mean())
    majority = float(counts.max()) / len(y)
    if accuracy > majority:
        return
    # The estimator's own diagnosis, when it has one, replaces the generic fixes.
    fixes = (hint() if hint is not None else None) or (
        f"check that y belongs to X's rows, lower learning_rate (now {lr:g}) or train "
        "longer.")
    user_warning(
        f"{name}: the fitted model labels {accuracy:.1%} of {len(y)} labelled training "
        f"rows right, no better than always naming the most frequent class "
        f"({majority:.1%}); it predicts {len(torch.unique(predicted))} of "
        f"{n_classes} classes. Its predictions are useless as they stand: {fixes}",
        LearnedNothingWarning)


def _sample(X, y, module, device) -> tuple:
    """At most :data:`SANITY_ROWS` evenly spaced rows of ``X`` (and ``y``) as tensors."""
    n = len(X)
    take = np.unique(np.linspace(0, n - 1, min(n, SANITY_ROWS)).astype(np.int64))
    dtype = next((p.dtype for p in module.parameters() if p.is_floating_point()),
                 torch.float32)
    x = torch.as_tensor(np.asarray(X[take]), device=device).to(dtype)
    if y is None:
        return (x,)
    return x, torch.as_tensor(np.asarray(y)[take], dtype=torch.long, device=device)


def _reconstruction_losses(module, x: torch.Tensor) -> tuple[float, float, str]:
    """Mean squared error in network units of an autoencoder (or of each member of an
    ensemble), and that of outputting zeros."""
    if callable(getattr(module, "members_input", None)):  # ensemble: (M, n, d)
        s = module.members_input(x)
        out = module(s)
    else:
        s = module.scaler(x)
        out = module(s)
        if callable(getattr(module.scaler, "one_hot", None)):  # a table: categories
            out, s = module.scaler.probabilities(out), module.scaler.one_hot(s)
    s, out = s.double(), out.double()
    return float((out - s).square().mean()), float(s.square().mean()), \
        "mean squared reconstruction error"


def _classifier_losses(logits: torch.Tensor, y: torch.Tensor | None = None
                       ) -> tuple[float, float, str]:
    """Cross-entropy of a classifier's ``logits`` (n, n_classes) and of predicting the
    class frequencies; without labels, only whether the logits are finite."""
    if y is None:
        return (0.0 if bool(torch.isfinite(logits).all()) else math.inf), 1.0, "output"
    loss = float(torch.nn.functional.cross_entropy(logits, y))
    counts = torch.bincount(y).double()
    p = counts[counts > 0] / len(y)
    return loss, float(-(p * p.log()).sum()), "cross-entropy"
