"""Fixtures shared by the test files."""

import pytest

from aekit.data import load_digits


@pytest.fixture(scope="session")
def digits():
    """The embedded digits' standard split: X_train, X_test, y_train, y_test (read-only use)."""
    return load_digits(split=True)
