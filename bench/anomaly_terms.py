"""Offline study of OutlierDetector's score terms and of candidate new members.

One detector fit per (set, seed) on the ADBench development sets (``bench/anomaly.py``'s
protocol: 70/30 stratified split, min-max scaling fitted on the training part, fit on the
contaminated training part), keeping each term's raw scores on the training and test rows,
beside candidate members computed on the same scaled input (the detector's own scaler):

  iforest    sklearn IsolationForest(random_state=seed) fitted on the scaled training rows
             (its anomaly score, -score_samples)
  knn10      the input-space kNN term with 10 neighbours instead of 5 (same 256 rows)

Combinations are then recomputed without refitting: each term put on the training rows' rank
scale (:func:`aekit.anomaly.robust.extended_rank`, as the detector does), then a weighted
mean (``mean``) or a power mean (``p2``, ``p4``: the square / fourth root of the weighted mean
of the ranks' powers, which lets a row high on one view rise further: a sharper top of the
ranking). Each combination's mean ROC-AUC / AP, its worst deficit against IsolationForest,
and the leave-one-dataset-out estimate of choosing among them (each held-out set scored with
the combination whose mean of (ROC-AUC + AP) / 2 is best on the other sets).

The digits one-vs-rest sets (sklearn's 8x8 digits, one class normal, anomalies 10% other
digits: image-like rows whose anomalies are clean images) are a second check, never a chooser.

    python bench/anomaly_terms.py                 # fits (cached in bench/results), then tables
    python bench/anomaly_terms.py --sets cardio --seeds 1
    python bench/anomaly_terms.py --small         # the 90-row training sets instead
    python bench/anomaly_terms.py --data DIR      # the ADBench .npz files elsewhere

The detector's own terms are those of its fit without the isolation term
(``isolation_weight=0``): the forest draws its seed after everything else, so the other
terms are the default fit's, and the study's ``iforest`` column is the candidate forest. The
cache (``bench/results/anomaly_terms*.npz``) is keyed, like bench/anomaly.py's, by a hash of
``src/aekit`` and the library versions: terms of older code are computed again.

``--small``: issue 18's small-training-set case: ADBench's split, then 90 rows drawn
stratified from the training part to fit on, the test part scored; six sets, 2 seeds; ROC-AUC
of the detector with and without the isolation term, IsolationForest and ECOD.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anomaly import (  # noqa: E402
    DATA,
    RESULTS,
    library_versions,
    load_sets,
    source_hash,
    split,
)

TERMS = ("rec", "code", "tail", "inknn", "iforest", "knn10")
DETECTOR_TERMS = ("reconstruction", "code_density", "tail", "input_density")
"""The detector's terms (``aekit.nn.ensemble.TERMS``) behind the first four of
:data:`TERMS`; the detector's isolation term is not one: ``iforest`` is the study's own."""


def fit_terms(X_train, X_test, seed):
    """Raw terms (n, len(TERMS)) of the training and test rows, from one default fit."""
    import torch
    from sklearn.ensemble import IsolationForest

    from aekit import OutlierDetector
    from aekit.nn.ensemble import TERMS as ALL_TERMS
    from aekit.nn.ensemble import knn_distance

    # Without the detector's own forest: the candidate below is the study's isolation term.
    det = OutlierDetector(random_state=seed, device="cpu", isolation_weight=0.0).fit(X_train)
    columns = [ALL_TERMS.index(t) for t in DETECTOR_TERMS]
    module = det.module_

    def scaled(X):
        with torch.no_grad():
            x = det._tensor(det._check_X(X, reset=False))
            return module.scaler(module.expand(x))

    s_train, s_test = scaled(X_train), scaled(X_test)
    forest = IsolationForest(random_state=seed).fit(s_train.double().numpy())
    out = []
    for X, s in ((X_train, s_train), (X_test, s_test)):
        base = det._terms(det._check_X(X, reset=False))[:, columns]
        iso = -forest.score_samples(s.double().numpy())
        k = min(10, len(module.neighbors) - 1)
        with torch.no_grad():
            knn10 = knn_distance(s[None], module.neighbors[None],
                                 torch.ones(1, len(module.neighbors)), k)[0].double().numpy()
        out.append(np.column_stack([base, iso, knn10]))
    return out


def digits_sets():
    """sklearn's digits one-vs-rest: class c normal, 10% (of the normal count) other digits."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    for c in range(10):
        normal = X[y == c]
        others = X[y != c]
        pick = rng.choice(len(others), size=len(normal) // 10, replace=False)
        yield (f"digit{c}", np.vstack([normal, others[pick]]),
               np.r_[np.zeros(len(normal), int), np.ones(len(pick), int)])


def collect(sets, seeds, cache: Path):
    key_now = f"{source_hash()} {library_versions()}"
    store = dict(np.load(cache)) if cache.is_file() else {}
    if str(store.get("__key__", "")) != key_now:  # another code's terms: compute again
        store = {"__key__": np.array(key_now)}
    for name, X, y in sets:
        for seed in range(seeds):
            key = f"{name}|{seed}"
            if f"{key}|train" not in store:
                X_train, X_test, y_test = split(X, y, seed)
                train, test = fit_terms(X_train, X_test, seed)
                store[f"{key}|train"], store[f"{key}|test"] = train, test
                store[f"{key}|y"] = y_test
                cache.parent.mkdir(parents=True, exist_ok=True)
                np.savez(cache.with_suffix(".tmp.npz"), **store)
                cache.with_suffix(".tmp.npz").replace(cache)
                print(f"{key} done", file=sys.stderr)
    return store


def ranks(train, test):
    """Each term of ``test`` (n, T) as its extended rank among ``train``'s."""
    from aekit.anomaly.robust import extended_rank, term_calibration

    _, scale, quantiles = term_calibration(train, 1001)
    return np.column_stack([extended_rank(test[:, t], quantiles[t], scale[t])
                            for t in range(train.shape[1])])


def combine(r, weights, how):
    w = np.asarray(weights, float)
    if how == "mean":
        return r @ w / w.sum()
    p = {"p2": 2, "p4": 4}[how]
    return (np.clip(r, 0, None) ** p @ w / w.sum()) ** (1 / p)


def combos():
    """``{name: (weights over TERMS, how)}``."""
    out = {}
    for rec, tail, inknn, iso, knn10, how in itertools.product(
            (1, 2), (0, 1), (0, 1), (0, 0.5, 1, 2, 3), (0, 1), ("mean", "p2", "p4")):
        if inknn and knn10:
            continue
        w = (rec, 1, tail, inknn, iso, knn10)
        out[f"{how} w={w}"] = (w, how)
    return out


def score_table(store, set_names, seeds, candidates):
    """``{candidate: {set: (auc, ap)}}`` averaged over seeds; also IsolationForest alone."""
    res = {c: {} for c in candidates}
    for s in set_names:
        per = {c: [] for c in candidates}
        for seed in range(seeds):
            key = f"{s}|{seed}"
            train, test, y = store[f"{key}|train"], store[f"{key}|test"], store[f"{key}|y"]
            r = ranks(train, test)
            for c, (w, how) in candidates.items():
                sc = combine(r, w, how)
                per[c].append((roc_auc_score(y, sc), average_precision_score(y, sc)))
        for c in candidates:
            res[c][s] = tuple(np.mean(per[c], 0))
    return res


def lodo(res, sets):
    merit = {c: {s: sum(v[s]) / 2 for s in sets} for c, v in res.items()}
    chosen = {}
    for s in sets:
        best = max(res, key=lambda c: np.mean([merit[c][t] for t in sets if t != s]))
        chosen[s] = (best, *res[best][s])
    return chosen


SMALL_SETS = ("cardio", "Ionosphere", "Pima", "thyroid", "vowels", "WBC")


def small_training_sets(data: Path = DATA, seeds: int = 2, n_rows: int = 90) -> str:
    """ROC-AUC when only ``n_rows`` training rows are given (see ``--small``)."""
    from sklearn.ensemble import IsolationForest
    from sklearn.model_selection import train_test_split

    from aekit import OutlierDetector

    try:
        from pyod.models.ecod import ECOD
    except ImportError:
        ECOD = None
    lines = [f"{n_rows} training rows, ROC-AUC on the test part, mean of {seeds} seeds",
             f"{'set':<16}{'aekit':>8}{'no iso':>8}{'iforest':>9}{'ecod':>7}"]
    sets = list(load_sets(data, list(SMALL_SETS)))
    if not sets:
        raise SystemExit(f"error: none of {SMALL_SETS} is in {data} (see --data)")
    for name, X, y in sets:
        got = []
        for seed in range(seeds):
            X_train, X_test, y_test = split(X, y, seed)
            _, _, y_train, _ = train_test_split(  # the training part's labels
                X, y, test_size=0.3, stratify=y, random_state=seed)
            small, _ = train_test_split(np.arange(len(X_train)), train_size=n_rows,
                                        stratify=y_train, random_state=seed)
            A = X_train[small]
            row = [roc_auc_score(y_test, -OutlierDetector(random_state=seed, **kw)
                                 .fit(A).score_samples(X_test))
                   for kw in ({}, {"isolation_weight": 0.0})]
            row.append(roc_auc_score(y_test, -IsolationForest(random_state=seed).fit(A)
                                     .score_samples(X_test)))
            row.append(roc_auc_score(y_test, ECOD().fit(A).decision_function(X_test))
                       if ECOD else np.nan)
            got.append(row)
        m = np.mean(got, 0)
        lines.append(f"{name:<16}{m[0]:>8.3f}{m[1]:>8.3f}{m[2]:>9.3f}{m[3]:>7.3f}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of ADBench .npz files")
    parser.add_argument("--sets")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--digits-seeds", type=int, default=2)
    parser.add_argument("--small", action="store_true", help="the 90-row training sets")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if not args.data.is_dir():
        sys.exit(f"error: {args.data} is not a folder of ADBench .npz files (see --data)")
    if args.small:
        print(small_training_sets(args.data))
        return
    names = args.sets.split(",") if args.sets else None
    sets = list(load_sets(args.data, names))
    if not sets:
        sys.exit(f"error: no .npz set in {args.data} matches {args.sets!r}")
    store = collect(sets, args.seeds, RESULTS / "anomaly_terms.npz")
    dstore = collect(list(digits_sets()), args.digits_seeds, RESULTS / "anomaly_terms_digits.npz")
    set_names = [s for s, _, _ in sets]
    digit_names = [f"digit{c}" for c in range(10)]
    cands = combos()
    single = {t: (tuple(float(i == j) for j in range(len(TERMS))), "mean")
              for i, t in enumerate(TERMS)}
    res = score_table(store, set_names, args.seeds, {**single, **cands})
    dres = score_table(dstore, digit_names, args.digits_seeds, {**single, **cands})
    iso = res["iforest"]

    def line(c):
        auc = np.mean([v[0] for v in res[c].values()])
        ap = np.mean([v[1] for v in res[c].values()])
        worst = min(res[c][s][0] - iso[s][0] for s in set_names)
        wset = min(set_names, key=lambda s: res[c][s][0] - iso[s][0])
        dauc = np.mean([v[0] for v in dres[c].values()])
        dap = np.mean([v[1] for v in dres[c].values()])
        return (f"{c:<48}{auc:>7.3f}{ap:>7.3f}{worst:>8.3f} {wset:<15}"
                f"{dauc:>7.3f}{dap:>7.3f}")

    head = (f"{'term / combination (weights: ' + ', '.join(TERMS) + ')':<48}{'AUC':>7}{'AP':>7}"
            f"{'worst':>8} {'vs iforest':<15}{'dAUC':>7}{'dAP':>7}")
    print(head)
    for t in single:
        print(line(t))
    print()
    ordered = sorted(cands, key=lambda c: -np.mean([sum(v) / 2 for v in res[c].values()]))
    print("top 25 combinations by mean (ROC-AUC + AP) / 2 on the development sets")
    print(head)
    for c in ordered[:25]:
        print(line(c))
    for ref in ("mean w=(2, 1, 1, 1, 0, 0)", "mean w=(2, 1, 1, 1, 1, 0)",
                "mean w=(2, 1, 1, 1, 2, 0)"):
        print(line(ref))
    print()
    for label, pool in (("all combinations", cands),
                        ("mean only", {c: v for c, v in cands.items() if v[1] == "mean"}),
                        ("no iforest", {c: v for c, v in cands.items() if v[0][4] == 0})):
        chosen = lodo({c: res[c] for c in pool}, set_names)
        auc = np.mean([c[1] for c in chosen.values()])
        ap = np.mean([c[2] for c in chosen.values()])
        worst = min(chosen[s][1] - iso[s][0] for s in set_names)
        picks = sorted({c[0] for c in chosen.values()})
        print(f"LODO over {label} ({len(pool)}): {auc:.3f} / {ap:.3f}, worst vs iforest "
              f"{worst:+.3f}; chosen: {picks}")
    print()
    # The shipped weights, the study's forest standing in for the detector's own.
    from aekit import OutlierDetector

    weights = tuple(w if w % 1 else int(w) for w in OutlierDetector()._weights())
    shipped = f"mean w={weights + (0,)}"
    print(f"per set (ROC-AUC / AP): iforest, the shipped weights ({shipped}), top combination")
    top = ordered[0]
    for s in set_names:
        a, b, c = iso[s], res[shipped][s], res[top][s]
        print(f"{s:<16}{a[0]:.3f}/{a[1]:.3f}  {b[0]:.3f}/{b[1]:.3f}  {c[0]:.3f}/{c[1]:.3f}")


if __name__ == "__main__":
    main()
