"""Robust location and scale: the one definition every scaler and score in aekit uses.

The scale is the interquartile range over 1.349, the interquartile range of a standard normal
distribution, so that it estimates the standard deviation on normal data: the same unit as
scikit-learn's ``RobustScaler(unit_variance=True)``. Where the interquartile range is 0 (a
column that is mostly one value), the median of the non-zero absolute deviations from the
median, times 1.4826 (the same normal-consistency factor for a median absolute deviation),
takes its place; where that is undefined too (a constant column), 1.
"""

from __future__ import annotations

import math

import torch

IQR_TO_SIGMA = 1.3489795003921634
"""Interquartile range of the standard normal distribution (2 * its 0.75 quantile), as
scikit-learn's RobustScaler(unit_variance=True) uses."""

MAD_TO_SIGMA = 1 / 0.6744897501960817
"""1.4826: turns a median absolute deviation into a normal standard deviation."""


def robust_location_scale(X: torch.Tensor, dim: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Median and robust scale along ``dim``, ignoring non-finite values.

    Parameters
    ----------
    X : torch.Tensor
        Floating tensor; NaN and infinite entries are left out of the statistics.
    dim : int, default=0
        The axis reduced (0: per column of a (rows, columns) matrix).

    Returns
    -------
    location, scale : torch.Tensor
        ``X``'s shape without ``dim``; ``scale`` is strictly positive.
    """
    X = X.masked_fill(~torch.isfinite(X), math.nan) if X.is_floating_point() else X.double()
    if X.shape[dim] == 0:
        shape = X.shape[:dim] + X.shape[dim + 1:] if dim >= 0 else X.shape[:dim]
        return X.new_zeros(shape), X.new_ones(shape)
    q = torch.nanquantile(X, torch.tensor([0.25, 0.5, 0.75], dtype=X.dtype, device=X.device),
                          dim=dim)
    q1, median, q3 = q[0], q[1], q[2]
    dev = (X - median.unsqueeze(dim)).abs()
    dev = dev.masked_fill(~(dev > 0), math.nan)
    mad = torch.nanquantile(dev, 0.5, dim=dim) * MAD_TO_SIGMA
    iqr = (q3 - q1) / IQR_TO_SIGMA
    scale = torch.where(iqr > 1e-12, iqr, mad)
    scale = torch.where(torch.isfinite(scale) & (scale > 1e-12), scale, torch.ones_like(scale))
    median = torch.where(torch.isfinite(median), median, torch.zeros_like(median))
    return median, scale
