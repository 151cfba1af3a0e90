"""Fixtures shared by the test files."""

import pytest
from typer.testing import CliRunner

from aekit.cli.commands import app
from aekit.data import load_digits

runner = CliRunner()


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


# --------------------------------------------------------------------------- command line
def invoke(*args):
    """``aekit *args`` in this process (typer's runner); arguments may be paths or numbers."""
    return runner.invoke(app, [str(a) for a in args])


def assert_ok(result):
    assert result.exit_code == 0, result.output + repr(result.exception)


def assert_one_line_error(result, *words):
    """Exit code 2 with one ``error:`` line on stderr holding every one of ``words``, and
    no traceback."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in result.output
