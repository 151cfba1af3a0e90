"""Robust statistics of :class:`~aekit.OutlierDetector`: scaling that anomalies among the
training rows do not distort, robust z-scales, the score terms put on the training rows'
scale and combined (ranks, surprise), the thresholds of ``contamination="auto"`` and of
a count of rows, and the trimming that keeps each member from learning its worst rows.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.random import sample_without_replacement

from ..training.callbacks import Callback

SAMPLE_ROWS = 20_000
"""Every statistic of the detector's fit (the scaler's, the input columns' quantiles, the
training scores behind the threshold) is taken on at most this many rows, a random sample:
enough for quantiles at 0.1% steps, and memory that does not grow with the rows."""

SCALER_TRIM = 0.1
"""``scaler="trimmed"`` sets aside this share of the most outlying rows (twice)."""


def scaler_statistics(X: np.ndarray, kind: str | None, random_state=None):
    """``(offset, scale)`` per feature, float64, of the detector's ``scaler`` kind.

    ``"trimmed"``: mean and standard deviation of the rows left once the
    :data:`SCALER_TRIM` share with the largest mean squared z-score is set aside
    (computed twice, the second time from the first's statistics). ``"robust"``: median and
    interquartile range / 1.349 (the standard deviation of a normal distribution).
    ``"standard"``: mean and standard deviation. ``None``: 0 and 1. A spread of 0 falls
    back to the column's standard deviation, then to 1. Taken on at most
    :data:`SAMPLE_ROWS` rows.
    """
    if len(X) > SAMPLE_ROWS:  # sampled before the float64 copy: memory bounded too
        rng = check_random_state(random_state)
        X = X[np.sort(sample_without_replacement(len(X), SAMPLE_ROWS, random_state=rng))]
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    if kind is None:
        return np.zeros(d), np.ones(d)
    std_all = X.std(0)
    if kind == "robust":
        q1, offset, q3 = np.percentile(X, [25, 50, 75], axis=0)
        spread = (q3 - q1) / 1.349
    elif kind == "trimmed":
        kept = X
        for _ in range(2):
            mean, std = kept.mean(0), kept.std(0)
            z2 = np.square((X - mean) / np.where(std > 1e-12, std, 1.0)).mean(1)
            kept = X[z2 <= np.quantile(z2, 1 - SCALER_TRIM)]
        offset, spread = kept.mean(0), kept.std(0)
    else:  # "standard"
        offset, spread = X.mean(0), std_all
    scale = np.where(spread > 1e-12, spread, np.where(std_all > 1e-12, std_all, 1.0))
    return offset, scale


def location_scale(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Median and interquartile range along the last axis (finite values only); a range of
    0 falls back to the standard deviation, then to 1."""
    q = torch.nanquantile(values.masked_fill(~torch.isfinite(values), math.nan),
                          torch.tensor([0.25, 0.5, 0.75], dtype=values.dtype,
                                       device=values.device), dim=-1)
    spread = q[2] - q[0]
    finite = torch.where(torch.isfinite(values), values, q[1].unsqueeze(-1))
    std = finite.std(-1, correction=0) if values.shape[-1] > 1 else torch.zeros_like(spread)
    spread = torch.where(spread > 1e-12, spread, torch.where(std > 1e-12, std, 1.0))
    return q[1], spread


AUTO_FENCE = 3.0
"""``contamination="auto"``: Tukey's outer fence, third quartile plus this many
interquartile ranges."""


def auto_threshold(scores: np.ndarray, surprise: np.ndarray) -> float:
    """The anomaly-score threshold of ``contamination="auto"``.

    The training rows that are "far out" are those whose ``surprise`` (the mean over the
    score's terms of ``-log`` the share of training rows at least as extreme: a scale with
    a tail, where Tukey's fence means something) is beyond Tukey's outer fence,
    ``Q3 + 3 IQR``; the threshold flags as many of the training rows' ``scores``, the
    highest (all but the highest score when there are none: new rows beyond it are
    flagged)."""
    q1, q3 = np.percentile(surprise, [25, 75])
    share = float(np.mean(surprise > q3 + AUTO_FENCE * (q3 - q1)))
    return float(np.quantile(scores, 1 - share)) if share > 0 else float(np.max(scores))


def count_threshold(scores: np.ndarray, count: int) -> float:
    """The anomaly-score threshold that flags exactly the ``count`` highest ``scores``
    (ties aside): halfway between the last row flagged and the first one not."""
    scores = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    if count > len(scores):
        raise ValueError(f"count={count} is more than the {len(scores)} rows of X")
    upper = scores[count - 1] if count else scores[0] + 1.0
    lower = scores[count] if count < len(scores) else scores[-1] - 1.0
    return float((upper + lower) / 2)


RANK_TOP = 10
"""Quantile steps (of 1,000) whose slope continues a rank beyond the training maximum."""


def term_calibration(terms: np.ndarray, n_quantiles: int):
    """Median, spread (interquartile range; standard deviation, then 1, where it is 0) and
    ``n_quantiles`` quantiles of each column of ``terms`` (n, T), the score terms of the
    training rows: ``(location (T,), scale (T,), quantiles (T, n_quantiles))``."""
    terms = np.asarray(terms, dtype=np.float64)
    med, scale = (t.numpy() for t in location_scale(torch.from_numpy(terms.T.copy())))
    quantiles = np.quantile(terms, np.linspace(0, 1, n_quantiles), axis=0).T
    return med, scale, quantiles


def extended_rank(values: np.ndarray, quantiles: np.ndarray, scale: float) -> np.ndarray:
    """Each value's rank among the training values whose ``quantiles`` (ascending) are kept:
    their empirical distribution function, in [0, 1] within their range, 0 below it, and
    continued above the maximum by the slope of the top :data:`RANK_TOP` quantile steps
    (``scale`` where those are tied), so rows beyond every training row stay ranked."""
    n_q = len(quantiles)
    grid = np.linspace(0, 1, n_q)
    # Linear between the quantiles around each value; a value equal to a tied run of
    # quantiles (a discrete term) takes the run's upper end, the share of rows at or below.
    idx = np.searchsorted(quantiles, values, side="right")  # quantiles <= value
    lo = np.clip(idx - 1, 0, n_q - 1)
    hi = np.clip(idx, 0, n_q - 1)
    gap = quantiles[hi] - quantiles[lo]
    frac = np.where(gap > 0, (values - quantiles[lo]) / np.where(gap > 0, gap, 1.0), 0.0)
    rank = np.where(idx == 0, 0.0, grid[lo] + frac * (grid[hi] - grid[lo]))
    top = quantiles[-1] - quantiles[-1 - RANK_TOP]
    step = grid[-1] - grid[-1 - RANK_TOP]
    slope = step / (top if top > 1e-12 else max(scale, 1e-12))
    return np.where(values > quantiles[-1], 1.0 + (values - quantiles[-1]) * slope, rank)


def term_surprise(values: np.ndarray, quantiles: np.ndarray, scale: float) -> np.ndarray:
    """``-log`` of the share of training values at or above each value, from their
    ``quantiles`` (ascending): 0 at or below the minimum, linear in the share between
    quantiles, ``log Q`` at the maximum (``Q = len(quantiles)``), and beyond it growing
    linearly (an exponential tail) at the rate of the top :data:`RANK_TOP` quantile steps
    (``scale`` where those are tied): rows beyond every training row stay ranked."""
    n_q = len(quantiles)
    idx = np.searchsorted(quantiles, values, side="left")  # quantiles below the value
    lo, hi = np.clip(idx - 1, 0, n_q - 1), np.clip(idx, 0, n_q - 1)
    gap = quantiles[hi] - quantiles[lo]
    frac = np.where(gap > 0, (values - quantiles[lo]) / np.where(gap > 0, gap, 1.0), 1.0)
    share = np.clip((n_q - idx + 1 - frac) / n_q, 1.0 / n_q, 1.0)
    top = quantiles[-1] - quantiles[-1 - RANK_TOP]
    tail_scale = top / math.log(RANK_TOP + 1) if top > 1e-12 else max(scale, 1e-12)
    beyond = math.log(n_q) + (values - quantiles[-1]) / tail_scale
    return np.where(idx == 0, 0.0, np.where(idx >= n_q, beyond, -np.log(share)))


TIE_TOLERANCE = 1e-6
"""A score term within this share of its training spread of one of its training quantiles is
taken as equal to it (:func:`snap_to_quantiles`)."""


def snap_to_quantiles(values: np.ndarray, quantiles: np.ndarray, tol: float) -> np.ndarray:
    """``values``, each within ``tol`` of one of the ``quantiles`` (ascending) replaced by
    that quantile.

    A row's terms come out of float32 networks, whose rounding depends on the batch the row
    is scored in (~1e-9): a copy of a training row scored with others or alone differs by
    that much. Where duplicate training rows tie a term (a run of equal quantiles), a value
    that much below the run was ranked at its lower end and one above it at its upper
    end (``combine="surprise"``: from no surprise to ``-log`` of the share above the run),
    so whether the same row was flagged depended on its batch; and where every training
    row ties, the threshold is their score, which a copy scored a hair above crossed.
    """
    if len(quantiles) < 2:
        return values
    idx = np.clip(np.searchsorted(quantiles, values), 1, len(quantiles) - 1)
    lo, hi = quantiles[idx - 1], quantiles[idx]
    near = np.where(values - lo <= hi - values, lo, hi)
    return np.where(np.abs(values - near) <= tol, near, values)


def combine_terms(terms: np.ndarray, weights, how: str, location, scale, quantiles
                  ) -> np.ndarray:
    """The anomaly score: the ``weights``-weighted mean of the score terms ``terms`` (n, T),
    each first put on the training rows' scale, by ``how``: ``"surprise"``, its
    :func:`term_surprise` (Fisher's way of combining p-values); ``"rank"``
    (:func:`extended_rank`); or ``"zscore"`` (minus the median, over the spread)."""
    weights = np.asarray(weights, dtype=np.float64)
    total = np.zeros(len(terms))
    for t in np.flatnonzero(weights > 0):
        # Float rounding must not part a row from the training rows it ties with.
        term = snap_to_quantiles(terms[:, t], quantiles[t], TIE_TOLERANCE * scale[t])
        if how == "surprise":
            value = term_surprise(term, quantiles[t], scale[t])
        elif how == "rank":
            value = extended_rank(term, quantiles[t], scale[t])
        else:
            value = (term - location[t]) / scale[t]
        total += weights[t] * value
    return total / weights.sum()


TRIM_EVERY = 5
"""Epochs between two trimmings of each member's worst-reconstructed rows."""

class TrimRows(Callback):
    """Every :data:`TRIM_EVERY` epochs, weigh each member's ``share`` worst-reconstructed
    training rows 0 (and the others 1) in the loss.

    ``rows`` (S, M, d) and ``weights`` (S, M) are the training tensors given to the loop;
    the weights are changed in place, the module is not.
    """

    def __init__(self, rows: torch.Tensor, weights: torch.Tensor, share: float):
        self.rows, self.weights, self.share = rows, weights, share

    @torch.no_grad()
    def on_epoch_end(self, state: dict, record: dict) -> None:
        if self.share <= 0 or record["epoch"] % TRIM_EVERY:
            return
        module = state["module"]
        was_training = module.training
        module.eval()
        x = self.rows.transpose(0, 1)  # (M, S, d)
        err = module.column_errors(x, x)[0].mean(2)  # (M, S)
        module.train(was_training)
        n_kept = max(2, round((1 - self.share) * err.shape[1]))
        cut = err.kthvalue(min(n_kept, err.shape[1]), dim=1, keepdim=True).values
        self.weights.copy_((err <= cut).t().to(self.weights.dtype))
