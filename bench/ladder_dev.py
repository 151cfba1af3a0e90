"""Development runs of LadderClassifier on TRAINING rows only (docs/decisions.md, "Few
labels", LadderClassifier): the test splits are never read.

Fashion-MNIST and MNIST: rows 0..N-1 of the training split are the pool (``n_per_class``
labels drawn with ``hide_labels(..., random_state=100)``, the rest unlabelled), rows
50,000-59,999 the validation rows (MNIST's classic validation split). ``--alone`` fits on
the pool's labelled rows only (the labelled-only baseline). Each configuration is a JSON
object of LadderClassifier parameters; one line per run: parameters, validation accuracy,
seconds, threads, load average.

    python bench/ladder_dev.py fashion 50000 10 '[{"max_epochs": 12}]' --threads 2
    python bench/ladder_dev.py mnist 50000 10 '[{}]' --threads 2
    python bench/ladder_dev.py fashion 50000 100 '[{"max_epochs": 20}]' --alone
"""

import argparse
import json
import os
import time

import torch

from aekit import LadderClassifier
from aekit.data import load_fashion_mnist, load_mnist
from aekit.semisupervised.comparison import hide_labels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["fashion", "mnist"])
    parser.add_argument("pool", type=int, help="training rows 0..pool-1 (at most 50,000)")
    parser.add_argument("per_class", type=int, help="labels per class in the pool")
    parser.add_argument("configs", help="JSON list of LadderClassifier parameter objects")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--alone", action="store_true", help="fit on the labelled rows only")
    args = parser.parse_args(argv)
    if args.pool > 50_000:
        raise SystemExit("the pool must leave rows 50,000-59,999 for validation")
    torch.set_num_threads(args.threads)
    load = load_fashion_mnist if args.dataset == "fashion" else load_mnist
    X, _, y, _ = load(split=True, download=False)  # the test split is not used
    X_pool, y_few = X[:args.pool], hide_labels(y[:args.pool], args.per_class, random_state=100)
    if args.alone:
        X_pool, y_few = X_pool[y_few != -1], y_few[y_few != -1]
    for params in json.loads(args.configs):
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        load_start, start = os.getloadavg()[0], time.perf_counter()
        clf = LadderClassifier(random_state=0, **params).fit(X_pool, y_few)
        seconds = time.perf_counter() - start
        print(f"{args.dataset} pool {args.pool} labels {10 * args.per_class}"
              f"{' alone' if args.alone else ''} {params} validation "
              f"{clf.score(X[50_000:], y[50_000:]):.4f} {seconds:.0f} s {clf.n_iter_} epochs "
              f"{args.threads} threads load {load_start:.1f}-{os.getloadavg()[0]:.1f}",
              flush=True)


if __name__ == "__main__":
    main()
