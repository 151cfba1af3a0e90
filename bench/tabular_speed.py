"""What a table's categorical columns cost: AutoEncoder.fit on a mixed table against a
numeric-only table of the same encoded width, alternated in one process.

Workload: 100,000 rows. The mixed table has 20 numeric columns and 6 categorical ones
(3, 5, 8, 12, 16 and 16 categories, strings), 80 columns once one-hot encoded; the numeric
table has 80 float columns. Both are fitted by the same AutoEncoder (code 8, the default
hidden layers 256-128, batches of 128, float32, scaler="auto", 10% hold-out, no early
stopping), so the network does the same work; what differs is the table's path: coding the
DataFrame, the per-batch one-hot expansion inside the encoder and the per-column
cross-entropies of the loss. The target (issue 9): the mixed fit at most 1.5x the numeric one.

    python bench/tabular_speed.py [--rows 100000] [--epochs 2] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import pandas as pd
import torch

CATEGORIES = (3, 5, 8, 12, 16, 16)
N_NUMERIC = 20
WIDTH = N_NUMERIC + sum(CATEGORIES)


def make_tables(rows: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """The mixed table and the numeric table of the same encoded width, both with some
    structure (a few hidden factors) so the fits are ordinary ones."""
    rng = np.random.RandomState(seed)
    factors = rng.randn(rows, 4)
    numeric = factors @ rng.randn(4, N_NUMERIC) + 0.1 * rng.randn(rows, N_NUMERIC)
    columns = {f"x{j}": numeric[:, j] for j in range(N_NUMERIC)}
    for c, k in enumerate(CATEGORIES):
        score = factors @ rng.randn(4) + 0.5 * rng.randn(rows)
        codes = np.digitize(score, np.quantile(score, np.linspace(0, 1, k + 1)[1:-1]))
        columns[f"c{c}"] = np.array([f"v{i}" for i in range(k)])[codes]
    wide = factors @ rng.randn(4, WIDTH) + 0.1 * rng.randn(rows, WIDTH)
    return pd.DataFrame(columns), wide.astype(np.float64)


def fit_seconds(X, epochs: int, seed: int) -> tuple[float, float]:
    """(seconds of the whole fit, seconds per epoch) of the benchmark's AutoEncoder on X."""
    from aekit import AutoEncoder

    ae = AutoEncoder(8, max_epochs=epochs, early_stopping=False, random_state=seed,
                     device="cpu")
    start = time.perf_counter()
    ae.fit(X)
    total = time.perf_counter() - start
    return total, statistics.mean(r["seconds"] for r in ae.history_)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed fit")
    parser.add_argument("--repeats", type=int, default=3, help="alternations per side")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    table, numeric = make_tables(args.rows)
    print(f"rows {args.rows}: mixed table {N_NUMERIC} numeric + {len(CATEGORIES)} categorical "
          f"columns ({WIDTH} one-hot encoded) vs numeric table of {WIDTH} columns")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} "
          f"cores; load average before: {os.getloadavg()[0]:.2f}")
    fit_seconds(table.iloc[:2000], 1, 0)  # warm-up: kernels, allocator, pandas
    fit_seconds(numeric[:2000], 1, 0)
    sides = {"numeric": numeric, "mixed": table}
    totals = {k: [] for k in sides}
    epochs = {k: [] for k in sides}
    for r in range(args.repeats):
        for name, X in sides.items():
            total, per_epoch = fit_seconds(X, args.epochs, r)
            totals[name].append(total)
            epochs[name].append(per_epoch)
            print(f"  run {r + 1} {name:>7}: fit {total:6.2f} s, {per_epoch:6.3f} s/epoch",
                  flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    med_total = {k: statistics.median(v) for k, v in totals.items()}
    med_epoch = {k: statistics.median(v) for k, v in epochs.items()}
    print(f"\n{'table':>8}  {'fit s':>7}  {'s/epoch':>8}  {'vs numeric':>10}")
    for k in sides:
        print(f"{k:>8}  {med_total[k]:7.2f}  {med_epoch[k]:8.3f}  "
              f"{med_total[k] / med_total['numeric']:10.3f}")
    ratio = med_total["mixed"] / med_total["numeric"]
    verdict = "within" if ratio <= 1.5 else "OVER"
    print(f"\nmixed / numeric fit time = {ratio:.3f} ({verdict} the 1.5 target); per epoch "
          f"{med_epoch['mixed'] / med_epoch['numeric']:.3f}")
    result = {"rows": args.rows, "encoded_width": WIDTH, "epochs_per_fit": args.epochs,
              "fit_seconds": totals, "seconds_per_epoch": epochs, "ratio": ratio,
              "ratio_per_epoch": med_epoch["mixed"] / med_epoch["numeric"],
              "threads": torch.get_num_threads(), "torch": torch.__version__}
    if args.json:
        from aekit.core.storage import atomic_write

        atomic_write(args.json, json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
