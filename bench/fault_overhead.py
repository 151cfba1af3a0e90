"""What fault tolerance costs: checkpoints every epoch, durable saves, the input check.

Three measurements, alternated in one process (medians of ``--repeats``), printed as a table:

1. ``AutoEncoder.fit`` seconds per epoch without and with ``checkpoint_dir`` (a checkpoint
   after every epoch, written by a background thread), on the benchmarks' workload
   (Fashion-MNIST rows, 784-512-128-2, Adam, batch 128; ``--rows`` of them) and on digits
   (1,347 rows, the default network: epochs of a few tens of milliseconds, where a
   checkpoint weighs most).
2. ``save``: seconds to write the workload's model durably (two flushed files, one rename
   as the commit point) against a bare ``safetensors.torch.save_file`` + ``json.dump``.
3. ``check_finite`` on 100 MB of float32 and float64 rows against ``np.isfinite(X).all()``,
   the obvious check (which misses float64 values beyond float32's range).

Run: ``.venv/bin/python bench/fault_overhead.py`` (``--quick`` for a smoke run). Timings only
mean something on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np

from _common import load_data


def _fit_epoch_seconds(X, epochs: int, checkpoint_dir, **kw) -> float:
    from aekit import AutoEncoder

    est = AutoEncoder(max_epochs=epochs, early_stopping=False, validation_fraction=0.0,
                      random_state=0, device="cpu", checkpoint_dir=checkpoint_dir, **kw)
    start = time.perf_counter()
    est.fit(X)
    return (time.perf_counter() - start) / epochs


def _median_pair(run_a, run_b, repeats: int) -> tuple[float, float]:
    a, b = [], []
    for _ in range(repeats):  # alternated: drifts of the machine hit both alike
        a.append(run_a())
        b.append(run_b())
    return statistics.median(a), statistics.median(b)


def bench_checkpoints(rows: int, epochs: int, repeats: int) -> list[tuple]:
    from aekit.data import load_digits

    X_fm, source = load_data(rows)
    X_digits = load_digits(split=True)[0]
    cases = [
        (f"{source} {rows}x784, 512-128-2", X_fm,
         dict(n_components=2, hidden_layer_sizes=(512, 128), scaler=None)),
        ("digits 1347x64, default network", X_digits, dict(n_components=2)),
    ]
    out = []
    for name, X, kw in cases:
        _fit_epoch_seconds(X[:256], 1, None, **kw)  # warm-up: threads, allocator, kernels
        with tempfile.TemporaryDirectory() as ck:
            plain, ckpt = _median_pair(lambda: _fit_epoch_seconds(X, epochs, None, **kw),
                                       lambda: _fit_epoch_seconds(X, epochs, ck, **kw),
                                       repeats)
        out.append((f"fit s/epoch, {name}", plain, ckpt))
    return out


def bench_save(repeats: int) -> tuple:
    import safetensors.torch
    import torch

    from aekit.core.storage import write_model_dir
    from aekit.nn.dense import DenseAutoEncoder

    tensors = dict(DenseAutoEncoder(784, 2, (512, 128)).state_dict())
    config = {"class": "AutoEncoder", "params": {}, "fitted": {"history_": [
        {"phase": "train", "epoch": i, "loss": 0.1} for i in range(200)]}}
    with tempfile.TemporaryDirectory() as d:
        def bare():
            start = time.perf_counter()
            safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()},
                                        os.path.join(d, "bare.safetensors"))
            with open(os.path.join(d, "bare.json"), "w") as f:
                json.dump(config, f)
            return time.perf_counter() - start

        def durable():
            start = time.perf_counter()
            write_model_dir(os.path.join(d, "m"), tensors, config)
            return time.perf_counter() - start

        torch.manual_seed(0)
        b, a = _median_pair(bare, durable, repeats)
    return ("save 784-512-128-2 model, s", b, a)


def bench_check(repeats: int) -> list[tuple]:
    from aekit.core.checks import check_finite

    out = []
    for dtype in (np.float32, np.float64):
        X = np.random.RandomState(0).rand(100 * 2**20 // np.dtype(dtype).itemsize // 100, 100)
        X = X.astype(dtype)

        def naive(X=X):
            start = time.perf_counter()
            assert np.isfinite(X).all()
            return time.perf_counter() - start

        def ours(X=X):
            start = time.perf_counter()
            check_finite(X)
            return time.perf_counter() - start

        base, mine = _median_pair(naive, ours, repeats)
        out.append((f"check 100 MB {np.dtype(dtype).name}, s", base, mine))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2,000 rows, 2 epochs, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.epochs, args.repeats = 2000, 2, 1
    rows = [*bench_checkpoints(args.rows, args.epochs, args.repeats),
            bench_save(max(args.repeats, 5)), *bench_check(max(args.repeats, 5))]
    print(f"load average {os.getloadavg()[0]:.2f} (quiet machine: < 0.5)")
    print(f"{'measurement':<58} {'baseline':>10} {'aekit':>10} {'ratio':>7}")
    print("-" * 88)
    for name, base, mine in rows:
        print(f"{name:<58} {base:>10.4f} {mine:>10.4f} {mine / base:>7.2f}")
    print("\nbaselines: fit without checkpoint_dir; bare safetensors + json files (no flush, "
          "no rename); np.isfinite(X).all()")


if __name__ == "__main__":
    main()
