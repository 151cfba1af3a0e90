"""Time AutoEncoder.fit against a plain hand-written PyTorch loop, alternating in one process.

Workload (the issue's): Fashion-MNIST 60,000 x 784 (synthetic data of that shape when the
Debian package dataset-fashion-mnist is absent), 784-512-128-2-128-512-784, ELU, linear code,
sigmoid output, MSE, Adam 1e-3, batch 128, float32.

Both sides do the same work per epoch: no validation split, no early stopping, no scaling
(the data are already in [0, 1]). Runs alternate (plain, aekit, plain, aekit, ...) so that
a change in machine load hits both; the medians of seconds per epoch are compared.

    python bench/fit_speed.py [--epochs 2] [--repeats 3] [--rows 60000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics

import torch

from _common import aekit_fit, load_data, plain_fit, warm_up


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="alternations per side")
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    X_np, source = load_data(args.rows)
    X_t = torch.from_numpy(X_np)
    print(f"data: {source}, {X_np.shape[0]} x {X_np.shape[1]}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    warm_up(X_np)  # thread pool, allocator, kernels
    times = {"plain": [], "aekit": []}
    losses = {"plain": [], "aekit": []}
    for r in range(args.repeats):
        for name, fn, data in (("plain", plain_fit, X_t), ("aekit", aekit_fit, X_np)):
            sec, loss, _ = fn(data, args.epochs, r)
            times[name].append(sec)
            losses[name].append(loss)
            print(f"  run {r + 1} {name:>5}: {sec:6.2f} s/epoch, final loss {loss:.5f}")
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["aekit"] / med["plain"]
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"median s/epoch: plain {med['plain']:.3f}, aekit {med['aekit']:.3f}; "
          f"aekit/plain = {ratio:.3f}")
    print(f"final loss (mean over runs): plain {statistics.mean(losses['plain']):.5f}, "
          f"aekit {statistics.mean(losses['aekit']):.5f}")
    result = {
        "data": source,
        "shape": list(X_np.shape),
        "epochs_per_run": args.epochs,
        "seconds_per_epoch": times,
        "final_loss": losses,
        "median": med,
        "ratio": ratio,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if args.json:
        from aekit._io import atomic_write

        atomic_write(args.json, json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
