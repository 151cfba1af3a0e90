"""What the examples share: their data, and a quick mode for the test suite.

``AEKIT_EXAMPLE_QUICK=1`` (set by ``tests/test_examples.py``) runs every example on the
embedded 8x8 digits with few epochs, in seconds; the numbers then only show that it works.
"""

import os

import numpy as np

from aekit.data import load_digits, load_fashion_mnist

QUICK = os.environ.get("AEKIT_EXAMPLE_QUICK") == "1"


def epochs(full: int) -> int:
    """``full`` epochs, or 3 in quick mode."""
    return 3 if QUICK else full


def load_images(n_train: int | None = None, n_test: int | None = None, seed: int = 0):
    """``name, side, X_train, X_test, y_train, y_test``: Fashion-MNIST (from
    /usr/share/datasets or the cache, never downloaded here), else the 8x8 digits.

    ``n_train`` / ``n_test``: random subsets of that many rows (all rows when None).
    """
    try:
        if QUICK:
            raise FileNotFoundError("quick mode")
        X_train, X_test, y_train, y_test = load_fashion_mnist(split=True, download=False)
        name, side = "Fashion-MNIST", 28
    except (FileNotFoundError, ValueError) as err:
        print(f"Fashion-MNIST not used ({err}); using the 8x8 digits.")
        X_train, X_test, y_train, y_test = load_digits(split=True)
        name, side = "digits", 8
    rng = np.random.RandomState(seed)
    train = rng.permutation(len(X_train))[:n_train]
    test = rng.permutation(len(X_test))[:n_test]
    return name, side, X_train[train], X_test[test], y_train[train], y_test[test]
