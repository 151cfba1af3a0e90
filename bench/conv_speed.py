"""Time the convolutional AutoEncoder against a plain loop training the same network.

Fashion-MNIST 28x28 (synthetic images of that shape when absent), aekit's conv architecture
(two strided 3x3 convolutions with 32 and 64 channels, a 2-wide linear code, transposed
convolutions up), ELU, sigmoid output, MSE, Adam 1e-3, batch 128, CPU. The plain side builds
the same torch module (aekit.nn.conv.ConvAutoEncoder, so the networks are identical) and
trains it with the textbook loop; a second plain side does the same in channels_last memory
layout, the layout GPUs with tensor cores prefer. Runs alternate in one process.

    python bench/conv_speed.py [--rows 20000] [--epochs 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch
from _common import BATCH, LR, load_split
from torch import nn

from aekit import AutoEncoder
from aekit.nn.conv import ConvAutoEncoder

SHAPE = (1, 28, 28)


def plain_conv(X: torch.Tensor, epochs: int, seed: int, channels_last: bool):
    torch.manual_seed(seed)
    model = ConvAutoEncoder(SHAPE, 2, (32, 64), "elu", "sigmoid", scaler=None,
                            channels_last=channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=LR, fused=True)
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), BATCH):
            xb = X[perm[i : i + BATCH]]
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(xb), xb)
            loss.backward()
            opt.step()
    return (time.perf_counter() - start) / epochs, model


def aekit_conv(X: np.ndarray, epochs: int, seed: int, precision: str):
    ae = AutoEncoder(2, architecture="conv", image_shape=SHAPE, hidden_layer_sizes=(32, 64),
                     activation="elu", output_activation="sigmoid", scaler=None,
                     learning_rate=LR, batch_size=BATCH, max_epochs=epochs,
                     validation_fraction=0.0, early_stopping=False, random_state=seed,
                     device="cpu", precision=precision)
    start = time.perf_counter()
    ae.fit(X)
    return (time.perf_counter() - start) / epochs, ae


def test_mse(model, X_test: np.ndarray) -> float:
    if isinstance(model, AutoEncoder):
        X_hat = model.reconstruct(X_test)
    else:
        with torch.no_grad():
            X_hat = model.eval()(torch.from_numpy(X_test)).numpy()
    return float(np.mean((X_test - X_hat) ** 2))


def conv_sides(X: np.ndarray, epochs: int) -> dict:
    """``{side: fit(seed) -> (seconds per epoch, model)}`` of every side on ``X``."""
    X_t = torch.from_numpy(X)
    return {
        "plain": lambda r: plain_conv(X_t, epochs, r, False),
        "plain channels_last": lambda r: plain_conv(X_t, epochs, r, True),
        "aekit float32": lambda r: aekit_conv(X, epochs, r, "float32"),
        "aekit default": lambda r: aekit_conv(X, epochs, r, "auto"),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    X, X_test, source = load_split(args.rows, 5000)
    sides = conv_sides(X, args.epochs)
    print(f"data: {source}, {len(X)} train / {len(X_test)} test images 28x28; "
          f"{torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.2f}")
    for warm in conv_sides(X[:1024], 1).values():  # every side: its layout's kernels too
        warm(0)
    times = {k: [] for k in sides}
    errors = {k: [] for k in sides}
    for r in range(args.repeats):
        for name, fit in sides.items():
            sec, model = fit(r)
            times[name].append(sec)
            errors[name].append(test_mse(model, X_test))
            print(f"  run {r + 1} {name:>19}: {sec:6.2f} s/epoch, test MSE {errors[name][-1]:.5f}",
                  flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{'side':>19}  {'s/epoch':>8}  {'vs plain':>8}  {'test MSE':>9}")
    for k in sides:
        print(f"{k:>19}  {med[k]:8.3f}  {med[k] / med['plain']:8.3f}  "
              f"{statistics.mean(errors[k]):9.5f}")


if __name__ == "__main__":
    main()
