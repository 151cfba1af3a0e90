"""Development runs of LadderClassifier: Fashion-MNIST TRAINING rows only (docs/decisions.md,
"Few labels", LadderClassifier).

Rows 0..N-1 of the training split are the pool (``n_per_class`` labels drawn with seed 100,
the rest unlabelled), rows 50,000-59,999 the validation rows; the test split is never read
for scoring. Each configuration is a JSON object of LadderClassifier parameters.

    python bench/ladder_dev.py 20000 10 '[{"hidden_layer_sizes": [500, 250, 250], "max_epochs": 15}]'
"""

import json
import sys
import time

import torch

from aekit import LadderClassifier
from aekit.data import load_fashion_mnist
from aekit.semisupervised.comparison import hide_labels


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    n_pool, n_per_class, configs = int(argv[0]), int(argv[1]), json.loads(argv[2])
    torch.set_num_threads(1)
    X, _, y, _ = load_fashion_mnist(split=True, download=False)
    if n_pool > 50_000:
        raise SystemExit("the pool must leave rows 50,000-59,999 for validation")
    y_few = hide_labels(y[:n_pool], n_per_class, random_state=100)
    for params in configs:
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        start = time.perf_counter()
        clf = LadderClassifier(random_state=0, **params).fit(X[:n_pool], y_few)
        print(params, f"validation {clf.score(X[50_000:], y[50_000:]):.4f}",
              f"{time.perf_counter() - start:.0f} s, {clf.n_iter_} epochs", flush=True)


if __name__ == "__main__":
    main()
