"""Small synthetic problems with known answers: the six derived variables of the classic
6-inputs, 2-code test, and data with a tiny spread around a large mean."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state

DERIVED_VARIABLE_NAMES = ("a", "b", "a+b", "a*b", "a/b", "a**b")


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_real(value, name, *, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return float(value)


def make_derived_variables(n_samples=1000, *, random_state=None):
    """Six variables that are functions of two: the classic 6-inputs, 2-code test.

    Two independent variables a, b ~ U[0, 0.5] and four columns derived from them. An
    autoencoder with a 2-unit bottleneck can reconstruct all six almost perfectly; PCA with two
    components cannot, because a*b, a/b and a**b are not linear in a and b.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 6), dtype float64
        Columns ``DERIVED_VARIABLE_NAMES``: a, b, a+b, a*b, a/b, a**b. a is in [0, 0.5) and
        b in (0, 0.5], so a/b is always finite.
    """
    n_samples = _check_positive_int(n_samples, "n_samples")
    rng = check_random_state(random_state)
    a = rng.uniform(0.0, 0.5, size=n_samples)
    # uniform draws from [low, high); reflected, that is (0, 0.5]: b is never 0, a/b stays finite.
    b = 0.5 - rng.uniform(0.0, 0.5, size=n_samples)
    return np.column_stack([a, b, a + b, a * b, a / b, a**b])


def make_low_variance(n_samples=1000, n_features=84, *, mean=1.109, std=0.00124,
                      random_state=None):
    """Features with a large mean and a tiny spread: the data an unscaled network never learns.

    Every feature is drawn from N(mean, std). Without input scaling a network fits the mean and
    stops, since the variation is ~1000x smaller than the offset; with in-model standardisation
    it is ordinary data. Useful to test that scaling and the badly-scaled-input diagnostic work.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.
    n_features : int, default=84
        Number of columns.
    mean : float, default=1.109
        Mean of every feature.
    std : float, default=0.00124
        Standard deviation of every feature; must be positive.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64
    """
    n_samples = _check_positive_int(n_samples, "n_samples")
    n_features = _check_positive_int(n_features, "n_features")
    mean = _check_real(mean, "mean")
    std = _check_real(std, "std", positive=True)
    rng = check_random_state(random_state)
    return rng.normal(mean, std, size=(n_samples, n_features))
