"""Fixtures shared by the test files."""

import pytest

from aekit.data import load_digits


@pytest.fixture(scope="session")
def digits():
    """The embedded digits' standard split: X_train, X_test, y_train, y_test (read-only use)."""
    return load_digits(split=True)


def mse_objective(module, batch, epoch=None):
    """The plain reconstruction objective the loop tests train with."""
    import torch.nn.functional as F

    return {"loss": F.mse_loss(module(batch["x_in"]), batch["x"])}


def tiny_problem(n=100, seed=0):
    """A 5-2-5 linear autoencoder and 100 random rows, seeded."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    X = torch.randn(n, 5)
    return nn.Sequential(nn.Linear(5, 2), nn.Linear(2, 5)), X
