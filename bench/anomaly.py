"""aekit's OutlierDetector against the classic detectors on the ADBench tables, side by side.

ADBench's unsupervised protocol (Han et al., NeurIPS 2022): each ``.npz`` set is split 70/30,
stratified on the label, with ``train_test_split(random_state=seed)``; every detector is
fitted on the training part without its labels (anomalies included) and scored on the test
part: ROC-AUC and average precision of the anomaly score (higher = more anomalous), for each
seed, then averaged. Detectors, each with its defaults and ``random_state=seed``:

  aekit      OutlierDetector()
  iforest    sklearn IsolationForest()
  lof        sklearn LocalOutlierFactor(novelty=True) on standardised columns
  pca        reconstruction error of sklearn PCA on standardised columns, with as many
             components as aekit's code (round(sqrt(n_features)))
(the three baselines are aekit.anomaly.metrics.baseline_scores, as in aekit's detector reports)
  pyod-ae    PyOD's AutoEncoder() (PyOD >= 2, torch), only when ``import pyod`` works; PyOD is
             no aekit dependency: install it elsewhere (``pip install --target DIR pyod``)
             and pass ``--pyod-path DIR``

    python bench/anomaly.py                       # all sets, 3 seeds, every detector
    python bench/anomaly.py --sets cardio,letter --seeds 1
    python bench/anomaly.py --ablation            # aekit's design choices, one at a time
    python bench/anomaly.py --variants '{"lr": {"learning_rate": 0.003}}'   # your own
    python bench/anomaly.py --auto                # the share "auto" flags, against the truth

Fit times (median seconds per fit, per set) of aekit and IsolationForest are printed side by
side: noisy on a busy machine, and each includes one-time costs only in the first fit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "anomaly"


# --------------------------------------------------------------------------- data
def load_sets(folder: Path, names: list[str] | None = None):
    """``(name, X, y)`` of each ``.npz`` in ``folder`` (ADBench numbering order)."""
    files = sorted(folder.glob("*.npz"), key=lambda p: (int(p.name.split("_")[0])
                                                        if p.name[0].isdigit() else 10**6, p.name))
    for path in files:
        name = path.stem
        if names and not any(n.lower() in name.lower() for n in names):
            continue
        with np.load(path, allow_pickle=False) as data:
            yield name, np.asarray(data["X"], dtype=np.float64), np.asarray(data["y"]).astype(int)


def split(X, y, seed: int):
    """ADBench's split: 70/30, stratified on the label."""
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)


# --------------------------------------------------------------------------- detectors
def aekit_scores(X_train, X_test, seed, **params):
    from aekit import OutlierDetector

    det = OutlierDetector(random_state=seed, **params).fit(X_train)
    return -det.score_samples(X_test)


def aekit_variant(params: dict):
    """``aekit_scores`` with ``params`` given to OutlierDetector."""
    return lambda X_train, X_test, seed: aekit_scores(X_train, X_test, seed, **params)


def baseline(name: str):
    """A baseline of aekit's reports (:mod:`aekit.anomaly.metrics`): IsolationForest, LOF, PCA."""
    from aekit.anomaly.metrics import baseline_scores

    return lambda X_train, X_test, seed: baseline_scores(name, X_train, X_test,
                                                          random_state=seed)


def pyod_scores(X_train, X_test, seed):
    from pyod.models.auto_encoder import AutoEncoder as PyODAutoEncoder

    model = PyODAutoEncoder(random_state=seed, verbose=0)
    model.fit(X_train)
    return model.decision_function(X_test)


def pyod_available(path: str | None) -> str | None:
    """PyOD's version when its AutoEncoder imports (from ``path`` too), else None."""
    if path:
        sys.path.append(path)
    try:
        import pyod
        from pyod.models.auto_encoder import AutoEncoder  # noqa: F401
    except Exception as err:  # noqa: BLE001 -- any failure means "not available"
        print(f"pyod-ae: not available ({type(err).__name__}: {err}); skipped", file=sys.stderr)
        return None
    return pyod.__version__


ABLATIONS = {
    "default": {},
    "standard scaler": {"scaler": "standard"},
    "robust scaler": {"scaler": "robust"},
    "no clipping": {"clip": None},
    "no trimming": {"trim_fraction": 0.0},
    "neither": {"clip": None, "trim_fraction": 0.0},
    "reconstruction only": {"density_weight": 0.0},
    "one network": {"n_estimators": 1},
    "early stopping": {"early_stopping": True},
    "512 rows per member": {"max_samples": 512},
}
"""aekit variants of ``--ablation``: each changes one design choice of the default."""


# --------------------------------------------------------------------------- run
def evaluate(detectors: dict, sets, seeds: int) -> dict:
    """``{detector: {set: [(auc, ap, seconds), ...]}}``, one entry per seed."""
    results: dict = {name: {} for name in detectors}
    for set_name, X, y in sets:
        for seed in range(seeds):
            X_train, X_test, _, y_test = split(X, y, seed)
            for name, score in detectors.items():
                start = time.perf_counter()
                s = score(X_train, X_test, seed)
                seconds = time.perf_counter() - start
                auc, ap = roc_auc_score(y_test, s), average_precision_score(y_test, s)
                results[name].setdefault(set_name, []).append((auc, ap, seconds))
            print(f"{set_name} seed {seed}: " + ", ".join(
                f"{n} {results[n][set_name][-1][0]:.3f}" for n in detectors), file=sys.stderr)
    return results


def table(results: dict, metric: int, title: str) -> str:
    """A text table of ``metric`` (0: ROC-AUC, 1: AP) per set and detector, with the mean."""
    names = list(results)
    sets = list(results[names[0]])
    width = max(12, *(len(n) + 1 for n in names))
    lines = [title, f"{'set':<20}" + "".join(f"{n:>{width}}" for n in names)]
    means = {n: [] for n in names}
    for s in sets:
        row = f"{s:<20}"
        for n in names:
            value = float(np.mean([r[metric] for r in results[n][s]]))
            means[n].append(value)
            row += f"{value:>{width}.3f}"
        lines.append(row)
    lines.append(f"{'mean':<20}" + "".join(f"{np.mean(means[n]):>{width}.3f}" for n in names))
    return "\n".join(lines)


def times(results: dict, names=("aekit", "iforest")) -> str:
    names = [n for n in names if n in results]
    if len(names) < 2:
        return ""
    lines = ["fit + score seconds (median over seeds)",
             f"{'set':<20}" + "".join(f"{n:>12}" for n in names) + f"{'ratio':>10}"]
    for s in results[names[0]]:
        med = [float(np.median([r[2] for r in results[n][s]])) for n in names]
        lines.append(f"{s:<20}" + "".join(f"{m:>12.2f}" for m in med)
                     + f"{med[0] / max(med[1], 1e-9):>10.1f}")
    return "\n".join(lines)


def auto_shares(sets, seeds: int) -> str:
    """For ``contamination="auto"``: the share of test rows flagged, the true share, F1."""
    from sklearn.metrics import f1_score

    from aekit import OutlierDetector

    lines = ['contamination="auto" on the test part',
             f"{'set':<20}{'flagged':>10}{'true':>10}{'F1':>8}"]
    for name, X, y in sets:
        flagged, f1 = [], []
        for seed in range(seeds):
            X_train, X_test, _, y_test = split(X, y, seed)
            pred = OutlierDetector(random_state=seed).fit(X_train).predict(X_test) == -1
            flagged.append(pred.mean())
            f1.append(f1_score(y_test, pred, zero_division=0))
        lines.append(f"{name:<20}{np.mean(flagged):>10.3f}{y.mean():>10.3f}{np.mean(f1):>8.3f}")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of ADBench .npz files")
    parser.add_argument("--sets", help="comma-separated parts of set names (default: all)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--detectors", default="aekit,iforest,lof,pca,pyod-ae")
    parser.add_argument("--pyod-path", help="a folder holding PyOD (pip install --target)")
    parser.add_argument("--ablation", action="store_true",
                        help="aekit variants (ABLATIONS) and IsolationForest instead")
    parser.add_argument("--variants", type=json.loads,
                        help='aekit variants to compare, as JSON: {"name": {params}, ...}')
    parser.add_argument("--auto", action="store_true",
                        help='the share of rows contamination="auto" flags, per set')
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        sys.exit(f"error: {args.data} is not a folder of ADBench .npz files (see --data)")
    names = args.sets.split(",") if args.sets else None
    sets = list(load_sets(args.data, names))
    if not sets:
        sys.exit(f"error: no .npz set in {args.data} matches {args.sets!r}")
    if args.auto:
        print(auto_shares(sets, args.seeds))
        return {}
    if args.ablation or args.variants:
        variants = args.variants if args.variants else ABLATIONS
        detectors = {name: aekit_variant(params) for name, params in variants.items()}
        detectors["iforest"] = baseline("iforest")
    else:
        known = {"aekit": aekit_scores, "iforest": baseline("iforest"), "lof": baseline("lof"),
                 "pca": baseline("pca"), "pyod-ae": pyod_scores}
        wanted = [d.strip() for d in args.detectors.split(",") if d.strip()]
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            sys.exit(f"error: unknown detector(s) {unknown}; known: {sorted(known)}")
        if "pyod-ae" in wanted and pyod_available(args.pyod_path) is None:
            wanted.remove("pyod-ae")
        detectors = {d: known[d] for d in wanted}
    results = evaluate(detectors, sets, args.seeds)
    print(table(results, 0, f"ROC-AUC, test part, mean of {args.seeds} seed(s)"))
    print()
    print(table(results, 1, f"average precision, test part, mean of {args.seeds} seed(s)"))
    if "aekit" in results or "default" in results:
        print()
        print(times({("aekit" if k == "default" else k): v for k, v in results.items()}))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
