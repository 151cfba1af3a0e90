"""Time AutoEncoder.transform / reconstruct against a plain torch.no_grad() loop, per row.

The same fitted network (784-512-128-2-128-512-784) encodes and reconstructs Fashion-MNIST's
60,000 training rows (synthetic rows of that shape when absent). The plain side is what a
user would write: from_numpy, then a no_grad loop over batches of 8192 through the torch
module, then back to NumPy. Runs alternate in one process; medians are compared.

    python bench/inference_speed.py [--repeats 5] [--rows 60000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch
from _common import aekit_fit, load_split

BATCH = 8192


def plain_encode(module, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        X_t = torch.from_numpy(X)
        out = [module.encoder(module.scaler(X_t[i : i + BATCH])) for i in range(0, len(X), BATCH)]
        return torch.cat(out).numpy()


def plain_reconstruct(module, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        X_t = torch.from_numpy(X)
        out = [module(module.scaler(X_t[i : i + BATCH])) for i in range(0, len(X), BATCH)]
        return module.scaler.inverse(torch.cat(out)).numpy()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=60000)
    args = parser.parse_args(argv)
    X, _, source = load_split(args.rows)
    ae = aekit_fit(X[:10000], 1, 0).model  # any fitted weights do for timing
    module = ae.module_.eval()
    np.testing.assert_allclose(plain_encode(module, X[:100]), ae.transform(X[:100]), atol=1e-5)
    print(f"data: {source}, {X.shape[0]} x {X.shape[1]}; {torch.get_num_threads()} threads; "
          f"load average {os.getloadavg()[0]:.2f}")
    sides = {
        "transform": (lambda: ae.transform(X), lambda: plain_encode(module, X)),
        "reconstruct": (lambda: ae.reconstruct(X), lambda: plain_reconstruct(module, X)),
    }
    for name, (aekit_side, plain_side) in sides.items():
        times = {"aekit": [], "plain": []}
        aekit_side(), plain_side()  # warm-up
        for _ in range(args.repeats):
            for side, fn in (("plain", plain_side), ("aekit", aekit_side)):
                start = time.perf_counter()
                fn()
                times[side].append(time.perf_counter() - start)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{name:>11}: plain {med['plain'] / len(X) * 1e6:6.2f} us/row, "
              f"aekit {med['aekit'] / len(X) * 1e6:6.2f} us/row, "
              f"aekit/plain = {med['aekit'] / med['plain']:.3f}")


if __name__ == "__main__":
    main()
