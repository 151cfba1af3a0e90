"""What the benchmarks share: the workload, its data, and the two torch fits they compare.

Workload (the issue's): Fashion-MNIST 60,000 x 784 (synthetic data of that shape when the
Debian package dataset-fashion-mnist is absent), 784-512-128-2-128-512-784, ELU, linear code,
sigmoid output, MSE, Adam 1e-3, batch 128, float32.

Both fits do the same work per epoch: no validation split, no early stopping, no scaling (the
data are already in [0, 1]), and time ``fit`` as a user would, set-up included.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

# aekit is imported inside the functions that use it: the plain loop, run alone in a process
# to measure its peak memory, then pays for torch only (aekit adds scikit-learn and SciPy).

HIDDEN, CODE, BATCH, LR = (512, 128), 2, 128, 1e-3
SYNTHETIC = "synthetic uniform (Fashion-MNIST not installed)"


class FitResult(NamedTuple):
    seconds_per_epoch: float
    loss: float  # mean training loss of the last epoch (MSE, network units = [0, 1] here)
    model: object  # the fitted nn.Module (plain) or AutoEncoder (aekit)


def load_data(rows: int) -> tuple[np.ndarray, str]:
    """The first ``rows`` training rows, float32 in [0, 1], and where they came from."""
    from aekit.data import load_fashion_mnist

    try:
        X = load_fashion_mnist(subset="train", download=False)[0]
        source = "Fashion-MNIST"
    except FileNotFoundError:
        X = np.random.RandomState(0).rand(60000, 784).astype(np.float32)
        source = SYNTHETIC
    return np.ascontiguousarray(X[:rows]), source


def load_split(rows: int, test_rows: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Training rows (the first ``rows``), test rows (the official 10,000, or the first
    ``test_rows`` of them) and where they came from; synthetic data of the same shapes
    when Fashion-MNIST is absent."""
    from aekit.data import load_fashion_mnist

    try:
        X_train, X_test = load_fashion_mnist(split=True, download=False)[:2]
        source = "Fashion-MNIST"
    except FileNotFoundError:
        X = np.random.RandomState(0).rand(70000, 784).astype(np.float32)
        X_train, X_test = X[:60000], X[60000:]
        source = SYNTHETIC
    return (np.ascontiguousarray(X_train[:rows]), np.ascontiguousarray(X_test[:test_rows]),
            source)


def plain_model(n_features: int, code: int = CODE) -> nn.Module:
    """The network a user would write by hand."""
    sizes = [n_features, *HIDDEN, code]
    enc, dec = [], []
    for a, b in zip(sizes[:-1], sizes[1:]):
        enc += [nn.Linear(a, b), nn.ELU()]
    enc.pop()  # linear code
    rev = sizes[::-1]
    for a, b in zip(rev[:-1], rev[1:]):
        dec += [nn.Linear(a, b), nn.ELU()]
    dec[-1] = nn.Sigmoid()
    return nn.Sequential(*enc, *dec)


def plain_fit(X: torch.Tensor, epochs: int, seed: int, code: int = CODE) -> FitResult:
    """The textbook loop: shuffle, slice batches, zero_grad, forward, MSE, backward, step.

    Adam with ``fused=True`` (one kernel for the whole update), the fastest optimiser step a
    careful user would write, so the peer is not handicapped against aekit's fused Adam.
    """
    torch.manual_seed(seed)
    model = plain_model(X.shape[1], code)
    opt = torch.optim.Adam(model.parameters(), lr=LR, fused=True)
    loss_fn = nn.MSELoss()
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(X))
        total = 0.0
        for i in range(0, len(X), BATCH):
            xb = X[perm[i : i + BATCH]]
            opt.zero_grad()
            loss = loss_fn(model(xb), xb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
    return FitResult((time.perf_counter() - start) / epochs, total / len(X), model)


def aekit_fit(
    X: np.ndarray, epochs: int, seed: int, code: int = CODE, precision: str = "float32"
) -> FitResult:
    """The same network and training through ``aekit.AutoEncoder``.

    ``precision="float32"`` is aekit's default and the plain loop's arithmetic;
    ``"bfloat16"`` is the opt-in mixed precision.
    """
    from aekit import AutoEncoder

    ae = AutoEncoder(
        code,
        hidden_layer_sizes=HIDDEN,
        activation="elu",
        output_activation="sigmoid",
        scaler=None,
        learning_rate=LR,
        batch_size=BATCH,
        max_epochs=epochs,
        validation_fraction=0.0,
        early_stopping=False,
        random_state=seed,
        device="cpu",
        precision=precision,
    )
    start = time.perf_counter()
    ae.fit(X)
    elapsed = time.perf_counter() - start
    return FitResult(elapsed / epochs, ae.history_[-1]["loss"], ae)


def reconstruction_mse(result: FitResult, X_test: np.ndarray) -> float:
    """Mean squared reconstruction error over all entries of ``X_test`` (no training)."""
    model = result.model
    if hasattr(model, "reconstruct"):  # an AutoEncoder
        X_hat = model.reconstruct(X_test)
    else:
        with torch.no_grad():
            X_hat = model(torch.from_numpy(X_test)).numpy()
    return float(np.mean((X_test - X_hat) ** 2))


def warm_up(X: np.ndarray) -> None:
    """One small fit of each kind: thread pool, allocator and kernels are ready afterwards."""
    plain_fit(torch.from_numpy(X[:2048]), 1, 0)
    aekit_fit(X[:2048], 1, 0)
