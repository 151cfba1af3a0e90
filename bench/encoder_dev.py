"""Development runs of EncoderClassifier's constants: Fashion-MNIST TRAINING rows only
(docs/decisions.md, "Few labels").

Rows 0..N-1 of the training split are the pool (``n_per_class`` labels drawn with
``hide_labels(..., random_state=100 + draw)``, the rest unlabelled), rows 50,000-59,999 the
validation rows; the test split is never read. One ``AutoEncoder(n_components=32,
random_state=0)`` is fitted on the pool (labels unused) and shared by every variant, each
of which is the default classifier with one change: a constructor parameter, or one of the
module constants (``PSEUDO_LABEL_SMOOTHING``, ``TEMPERATURE_PRIOR``, the whitening's
``WHITEN_DIMS``, ``spread_labels``'s ``n_iter``). Printed per variant and draw: validation
accuracy, expected calibration error (15 bins) and seconds.

    python bench/encoder_dev.py 20000 10 2        # pool, labels per class, draws
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np
import torch

from aekit import AutoEncoder, EncoderClassifier
from aekit.data import load_fashion_mnist
from aekit.semisupervised import classifier as module
from aekit.semisupervised import propagation
from aekit.semisupervised.comparison import expected_calibration_error, hide_labels

VARIANTS = {
    "default": ({}, {}),
    "layer='code'": ({"layer": "code"}, {}),
    "n_neighbors=5": ({"n_neighbors": 5}, {}),
    "n_neighbors=20": ({"n_neighbors": 20}, {}),
    "propagation_rounds=1": ({"propagation_rounds": 1}, {}),
    "propagation_rounds=3": ({"propagation_rounds": 3}, {}),
    "no label smoothing": ({}, {"PSEUDO_LABEL_SMOOTHING": 0.0}),
    "temperature prior 1": ({}, {"TEMPERATURE_PRIOR": 1.0}),
    "no whitening": ({}, {"whiten": lambda H: (H - H.mean(0)).float()}),
    "whiten to 100 dims": ({}, {"whiten": functools.partial(propagation.whiten, max_dims=100)}),
    "converged spreading": ({}, {"spread_labels": functools.partial(propagation.spread_labels,
                                                                    n_iter=500)}),
}
"""Each variant: (constructor parameters, module attributes patched for its fit)."""


def run_variant(name, ae, X, y_few, X_val, y_val):
    params, patches = VARIANTS[name]
    saved = {key: getattr(module, key) for key in patches}
    try:
        for key, value in patches.items():
            setattr(module, key, value)
        start = time.perf_counter()
        clf = EncoderClassifier(ae, random_state=0, **params).fit(X, y_few)
        seconds = time.perf_counter() - start
    finally:
        for key, value in saved.items():
            setattr(module, key, value)
    proba = clf.predict_proba(X_val)
    accuracy = float(np.mean(clf.classes_[proba.argmax(1)] == y_val))
    return accuracy, expected_calibration_error(y_val, proba, clf.classes_), seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pool", type=int, help="training rows 0..pool-1 (at most 50,000)")
    parser.add_argument("per_class", type=int, help="labels per class in the pool")
    parser.add_argument("draws", type=int, help="label draws (random_state 100, 101, ...)")
    parser.add_argument("variants", nargs="?",
                        help=f"comma-separated variants (default all): {', '.join(VARIANTS)}")
    args = parser.parse_args(argv)
    n_pool, n_per_class, n_draws = args.pool, args.per_class, args.draws
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; known: {list(VARIANTS)}")
    if n_pool > 50_000:
        parser.error("the pool must leave rows 50,000-59,999 for validation")
    torch.set_num_threads(1)
    try:
        X_all, _, y_all, _ = load_fashion_mnist(split=True, download=False)
    except FileNotFoundError as err:  # never downloaded: say so, without a traceback
        raise SystemExit(f"error: Fashion-MNIST is not on this machine ({err})") from None
    X, y = X_all[:n_pool], y_all[:n_pool]
    X_val, y_val = X_all[50_000:], y_all[50_000:]
    start = time.perf_counter()
    ae = AutoEncoder(n_components=32, random_state=0).fit(X)
    print(f"autoencoder on {n_pool} rows: {time.perf_counter() - start:.0f} s", flush=True)
    results = {}
    for name in names:
        for draw in range(n_draws):
            y_few = hide_labels(y, n_per_class, random_state=100 + draw)
            acc, ece, sec = run_variant(name, ae, X, y_few, X_val, y_val)
            results.setdefault(name, []).append((acc, ece))
            print(f"{name:24s} draw {draw}  validation accuracy {acc:.4f}  ECE {ece:.3f}  "
                  f"{sec:.0f} s", flush=True)
    print("\nvariant                   mean accuracy  mean ECE")
    for name, rows in results.items():
        acc, ece = np.mean(rows, axis=0)
        print(f"{name:24s}  {acc:.4f}         {ece:.3f}")


if __name__ == "__main__":
    main()
