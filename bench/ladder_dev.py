"""Development runs of LadderClassifier on TRAINING rows only (docs/decisions.md, "Few
labels", LadderClassifier): the test splits are never read.

Fashion-MNIST and MNIST: rows 0..N-1 of the training split are the pool (``n_per_class``
labels drawn with ``hide_labels(..., random_state=100)`` or ``--draw``, the rest
unlabelled), rows 50,000-59,999 the validation rows (MNIST's classic validation split).
The 8x8 digits (``digits``): the same with rows 0..N-1 of their 1,347 training rows as the
pool and rows 1,000-1,346 as the validation rows. ``--alone`` fits on the pool's labelled
rows only (the labelled-only baseline). ``--image-features`` puts the images' orientation
histograms beside the pixels (``OrientationHistograms`` with its defaults, before the
ladder). Each configuration is a JSON object of
LadderClassifier parameters; one line per run: parameters, validation accuracy, seconds,
threads, load average.

    python bench/ladder_dev.py fashion 50000 10 '[{"max_epochs": 12}]' --threads 2
    python bench/ladder_dev.py mnist 50000 10 '[{}]' --threads 2
    python bench/ladder_dev.py fashion 50000 100 '[{"max_epochs": 20}]' --alone
    python bench/ladder_dev.py digits 1000 10 '[{"max_epochs": 200}]' --draw 101
    python bench/ladder_dev.py fashion 50000 10 '[{"max_epochs": 24}]' --image-features
    python bench/ladder_dev.py fashion 50000 10 '[{}]' --proba /tmp/dev  # /tmp/dev-0.npy

``--proba PREFIX`` saves each run's validation probabilities (``PREFIX-<i>.npy``, run ``i``
of the list), to compare or average runs afterwards without refitting.
"""

import argparse
import json
import os
import time

import numpy as np
import torch

from aekit import LadderClassifier
from aekit.data import OrientationHistograms, load_digits, load_fashion_mnist, load_mnist
from aekit.semisupervised.comparison import hide_labels

VALIDATION_START = {"fashion": 50_000, "mnist": 50_000, "digits": 1_000}
"""The first validation row of each dataset's training split."""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=list(VALIDATION_START))
    parser.add_argument("pool", type=int,
                        help="training rows 0..pool-1 (at most 50,000; digits 1,000)")
    parser.add_argument("per_class", type=int, help="labels per class in the pool")
    parser.add_argument("configs", help="JSON list of LadderClassifier parameter objects")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--alone", action="store_true", help="fit on the labelled rows only")
    parser.add_argument("--draw", type=int, default=100,
                        help="random_state of the label draw (default 100)")
    parser.add_argument("--image-features", action="store_true",
                        help="pixels + orientation histograms (OrientationHistograms defaults)")
    parser.add_argument("--proba", metavar="PREFIX",
                        help="save run i's validation probabilities to PREFIX-i.npy")
    args = parser.parse_args(argv)
    start_val = VALIDATION_START[args.dataset]
    if args.pool > start_val:
        raise SystemExit(f"the pool must leave rows {start_val:,} on for validation")
    torch.set_num_threads(args.threads)
    if args.dataset == "digits":
        X, _, y, _ = load_digits(split=True)  # the test split is not used
    else:
        load = load_fashion_mnist if args.dataset == "fashion" else load_mnist
        try:
            X, _, y, _ = load(split=True, download=False)  # the test split is not used
        except FileNotFoundError as err:  # never downloaded: say so, without a traceback
            raise SystemExit(f"error: {args.dataset} is not on this machine ({err})") from None
    if args.image_features:  # a fixed transform: no statistics learnt from any rows
        side = 8 if args.dataset == "digits" else 28
        cell, stride = (4, 2) if args.dataset == "digits" else (6, 3)
        X = OrientationHistograms(image_shape=(side, side), cell=cell,
                                  stride=stride).fit_transform(X)
    X_pool, y_few = X[:args.pool], hide_labels(y[:args.pool], args.per_class,
                                                random_state=args.draw)
    if args.alone:
        X_pool, y_few = X_pool[y_few != -1], y_few[y_few != -1]
    for i, params in enumerate(json.loads(args.configs)):
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        load_start, start = os.getloadavg()[0], time.perf_counter()
        clf = LadderClassifier(random_state=0, **params).fit(X_pool, y_few)
        seconds = time.perf_counter() - start
        print(f"{args.dataset} pool {args.pool} labels {10 * args.per_class}"
              f"{' alone' if args.alone else ''}"
              f"{' +histograms' if args.image_features else ''} draw {args.draw} {params} "
              "validation "
              f"{clf.score(X[start_val:], y[start_val:]):.4f} {seconds:.0f} s "
              f"{clf.n_iter_} epochs "
              f"{args.threads} threads load {load_start:.1f}-{os.getloadavg()[0]:.1f}",
              flush=True)
        if args.proba:
            np.save(f"{args.proba}-{i}.npy", clf.predict_proba(X[start_val:]))


if __name__ == "__main__":
    main()
