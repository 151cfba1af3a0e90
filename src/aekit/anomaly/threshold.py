"""The threshold of :class:`~aekit.OutlierDetector`: ``decision_function``, ``predict``,
``threshold_`` and ``set_threshold``, which moves it without refitting (by a share of the
training rows, a score, a false-positive rate on normal rows, or a count)."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..nn.ensemble import SCORE_QUANTILES
from .robust import count_threshold


class ThresholdMixin:
    """The threshold API of a fitted detector (one with ``offset_``, ``module_``'s
    ``score_quantiles``, ``n_samples_fit_`` and ``score_samples``)."""

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 for inliers, -1 for outliers (``decision_function(X) < 0``).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    @property
    def threshold_(self) -> float:
        """The anomaly-score threshold, ``-offset_``: rows whose ``-score_samples`` exceeds
        it are outliers."""
        check_is_fitted(self)
        return -self.offset_

    def set_threshold(self, *, contamination=None, threshold=None, fpr=None, count=None,
                      X=None):
        """Move the threshold without refitting; exactly one of the ways below.

        Parameters
        ----------
        contamination : float in (0, 1), optional
            Flag this share of the training rows (from the training scores' quantiles,
            kept at 0.1% steps); new rows like the training rows are flagged at that rate.
        threshold : float, optional
            An anomaly-score threshold (``-score_samples`` units): rows above it are
            outliers.
        fpr : float in [0, 1), optional
            A target false-positive rate on ``X``, rows known to be normal: flag at most
            that share of them, the ``floor(fpr * len(X))`` highest-scoring (as ``count``
            with ``X``; a percentile would interpolate past it).
        count : int, optional
            Flag this many rows: the ``count`` highest-scoring rows of ``X`` when given,
            else ``count`` of the ``n_samples_fit_`` training rows (a share, as
            ``contamination``, for new rows too).
        X : array-like of shape (n_samples, n_features), optional
            The normal rows of ``fpr``, or the rows of ``count``.

        Returns
        -------
        self : object
        """
        check_is_fitted(self)
        given = [name for name, v in (("contamination", contamination), ("threshold", threshold),
                                      ("fpr", fpr), ("count", count)) if v is not None]
        if len(given) != 1:
            raise ValueError("set_threshold takes exactly one of contamination=, threshold=, "
                             f"fpr= (with X=) or count=, got {given or 'none'}")
        value = {"contamination": contamination, "threshold": threshold, "fpr": fpr,
                 "count": count}[given[0]]
        _check_number(given[0], value)
        if X is not None and given[0] in ("contamination", "threshold"):
            raise ValueError(f"set_threshold({given[0]}=...) does not use X=: it is set from "
                             "the training rows' scores (contamination) or given (threshold); "
                             "to set it on the rows of X, use fpr= or count= with X=")
        shown = f"{value:g}" if isinstance(value, Real) else repr(value)
        how = f"set_threshold({given[0]}={shown})"
        if count is not None:
            n = self.n_samples_fit_ if X is None else None
            if count < 0:
                raise ValueError(f"count must be an integer >= 0, got {count!r}")
            if X is None and count >= n:
                raise ValueError(f"count={count} is not below the {n} training rows; give X= "
                                 "to flag rows of other data")
            if X is None:
                contamination = count / n
        if count is not None and X is not None:
            scores = -self.score_samples(X)
            self.offset_ = -count_threshold(scores, count)
            how += f" on {len(scores):,} rows"
        elif count == 0:  # none of the training rows: above every one
            self.offset_ = -float(self.module_.score_quantiles[-1])
        elif contamination is not None:
            if not 0 < contamination < 1:
                raise ValueError(f"contamination must be in (0, 1), got {contamination!r}")
            q = self.module_.score_quantiles.double().cpu().numpy()
            grid = np.linspace(0, 1, SCORE_QUANTILES)
            self.offset_ = -float(np.interp(1 - contamination, grid, q))
        elif threshold is not None:
            if not np.isfinite(threshold):
                raise ValueError(f"threshold must be a finite number, got {threshold!r}")
            self.offset_ = -float(threshold)
        else:
            if X is None:
                raise ValueError("fpr= needs X=, rows known to be normal")
            if not 0 <= fpr < 1:
                raise ValueError(f"fpr must be in [0, 1), got {fpr!r}")
            scores = -self.score_samples(X)
            # fpr * n in floating point can fall just short of a whole count (0.29 * 100).
            self.offset_ = -count_threshold(scores, math.floor(fpr * len(scores) + 1e-9))
            how += f" on {len(scores):,} rows"
        # What set the threshold, for the report; keyed by the offset it set, so a refit
        # (or any later change of offset_) makes it stale rather than wrong.
        self.threshold_set_ = (self.offset_, how)
        return self


def _check_number(name: str, value) -> None:
    """The value of :meth:`ThresholdMixin.set_threshold`'s ``name=``: a real number (an
    integer for ``count``); a bool or a string is an error naming it, not read as 1 or
    failing deep inside a comparison."""
    kind = Integral if name == "count" else Real
    if isinstance(value, bool) or not isinstance(value, kind):
        wanted = "an integer" if name == "count" else "a number"
        raise TypeError(f"set_threshold's {name}= must be {wanted}, got {value!r} of type "
                        f"{type(value).__name__}")
