"""Should ``scaler="auto"`` be the default? The same AutoEncoder with ``"auto"`` and with
``"standard"`` on the data sets that decide it, side by side in one table.

- derived variables (a, b, a+b, a*b, a/b, a**b; 2-unit code; several seeds): the worst
  column's R² on the bulk of the rows (a/b < 3), and a/b's over all rows;
- digits (AE vs PCA, 2-unit code), low-variance data (84 columns of 1.109 +- 0.001), and a
  Fashion-MNIST subset (10,000 images, when installed): MSE in the caller's units on
  validation rows, and how many columns ``"auto"`` log-transforms (none: it is then
  ``"standard"`` exactly).

Every row scored is a validation row of a training split (the digits' training rows
1,000-1,346; Fashion-MNIST's training rows 50,000-51,999) or freshly generated: no
reported test split decides the default.

    python bench/scaler_auto.py [--seeds 5] [--fm-rows 10000] [--fm-epochs 15]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def derived(seeds: int) -> list[tuple]:
    from aekit import AutoEncoder
    from aekit.data import make_derived_variables
    from aekit.evaluation.metrics import r2_per_feature

    rows = []
    for kind in ("auto", "standard"):
        worst, overall = [], []
        for seed in range(seeds):
            X = make_derived_variables(1000, random_state=seed)
            X_test = make_derived_variables(1000, random_state=100 + seed)
            ae = AutoEncoder(2, scaler=kind, random_state=seed).fit(X)
            R, bulk = ae.reconstruct(X_test), X_test[:, 4] < 3
            worst.append(r2_per_feature(X_test[bulk], R[bulk]).min())
            overall.append(r2_per_feature(X_test, R)[4])
        rows.append(("derived variables", kind, f"{min(worst):.3f} .. {max(worst):.3f}",
                     f"a/b over all rows {min(overall):.3f} .. {max(overall):.3f}",
                     f"worst column's R² on rows with a/b < 3, {seeds} seeds"))
    return rows


def mse_rows(name, X_train, X_test, epochs, **params) -> list[tuple]:
    from aekit import AutoEncoder, compare_with_pca

    rows = []
    for kind in ("auto", "standard"):
        start = time.perf_counter()
        ae = AutoEncoder(scaler=kind, max_epochs=epochs, random_state=0, **params).fit(X_train)
        seconds = time.perf_counter() - start
        mse = float(((ae.reconstruct(X_test) - X_test) ** 2).mean())
        logged = int(getattr(ae.module_.scaler, "logged", np.zeros(0)).sum())
        verdict = compare_with_pca(ae, X_train, X_test, fit=False).verdict
        rows.append((name, kind, f"MSE {mse:.4g}", f"{logged} columns logged",
                     f"{verdict}; fit {seconds:.1f} s"))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--fm-rows", type=int, default=10_000)
    parser.add_argument("--fm-epochs", type=int, default=15)
    args = parser.parse_args(argv)
    from aekit.data import load_digits, load_fashion_mnist, make_low_variance

    rows = derived(args.seeds)
    X_train = load_digits(split=True)[0]  # the test split is not read
    rows += mse_rows("digits", X_train[:1000], X_train[1000:], 200, n_components=2)
    rows += mse_rows("low-variance", make_low_variance(1000, random_state=0),
                     make_low_variance(500, random_state=1), 200, n_components=8)
    try:
        X_train = load_fashion_mnist(split=True, download=False)[0]
        fit_rows = min(args.fm_rows, 50_000)  # rows 50,000 on are the validation rows
        rows += mse_rows(f"Fashion-MNIST {fit_rows}", X_train[:fit_rows],
                         X_train[50_000:52_000], args.fm_epochs, n_components=2)
    except FileNotFoundError:
        print("Fashion-MNIST not installed: left out")
    head = ("data", "scaler", "result", "", "")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(5)]
    for r in [head, *rows]:
        print("  ".join(f"{str(c):<{w}}" for c, w in zip(r, widths)).rstrip())


if __name__ == "__main__":
    main()
