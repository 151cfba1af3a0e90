"""Robust statistics of :class:`~aekit.OutlierDetector`: scaling that anomalies among the
training rows do not distort, robust z-scales, and the threshold of ``contamination="auto"``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.random import sample_without_replacement

SCALER_ROWS = 100_000
"""The scaler's statistics are taken on at most this many rows (a random sample)."""

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
    :data:`SCALER_ROWS` rows.
    """
    if len(X) > SCALER_ROWS:  # sampled before the float64 copy: memory bounded too
        rng = check_random_state(random_state)
        X = X[np.sort(sample_without_replacement(len(X), SCALER_ROWS, random_state=rng))]
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
                          torch.tensor([0.25, 0.5, 0.75], device=values.device), dim=-1)
    spread = q[2] - q[0]
    finite = torch.where(torch.isfinite(values), values, q[1].unsqueeze(-1))
    std = finite.std(-1, correction=0) if values.shape[-1] > 1 else torch.zeros_like(spread)
    spread = torch.where(spread > 1e-12, spread, torch.where(std > 1e-12, std, 1.0))
    return q[1], spread


def auto_threshold(scores: np.ndarray) -> float:
    """The anomaly-score threshold of ``contamination="auto"``: Tukey's outer fence of the
    training rows' scores, ``Q3 + 3 * IQR`` (rows beyond it are "far out")."""
    q1, q3 = np.percentile(scores, [25, 75])
    return float(q3 + 3.0 * (q3 - q1))
