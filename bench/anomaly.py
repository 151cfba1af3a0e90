"""aekit's OutlierDetector against the classic detectors on the ADBench tables, side by side.

ADBench's unsupervised protocol (Han et al., NeurIPS 2022): each ``.npz`` set is split 70/30,
stratified on the label, with ``train_test_split(random_state=seed)``; the columns are min-max
scaled with the training part's minimum and maximum (test values may leave [0, 1]); every
detector is fitted on the training part without its labels (anomalies included) and scores
the test part: ROC-AUC and average precision of the anomaly score (higher = more anomalous),
per seed, then averaged. Detectors, each with its defaults and ``random_state=seed``:

  aekit      OutlierDetector()
  iforest    sklearn IsolationForest()
  lof        sklearn LocalOutlierFactor(novelty=True), on standardised columns
  pca        reconstruction error of sklearn PCA(svd_solver="full"), standardised columns,
             round(sqrt(n_features)) components (aekit.anomaly.metrics.baseline_scores)
  pyod-pca   PyOD's PCA(svd_solver="full") (ADBench's PCA: PyOD's default solver gives
             non-finite scores on some sets)
  ecod, copod, knn, hbos   PyOD's ECOD(), COPOD(), KNN(), HBOS()
  pyod-ae    PyOD's AutoEncoder() (torch; its default 10 epochs)
The PyOD detectors need the ``bench`` extra (``pip install aekit[bench]``); without PyOD each
is skipped with one line saying so.

    python bench/anomaly.py                       # all sets, 3 seeds, every detector
    python bench/anomaly.py --sets cardio,letter --seeds 1
    python bench/anomaly.py --protocol lodo       # + leave-one-dataset-out choice of defaults
    python bench/anomaly.py --variants '{"lr": {"learning_rate": 0.003}}'   # your own
    python bench/anomaly.py --auto                # the share "auto" flags, against the truth

``--protocol lodo``: every candidate of :data:`CANDIDATES` (settings of the detector's
constants and score terms) is run on every set; for each set, the candidate with the best mean
of ROC-AUC and AP over the *other* sets is chosen and scored on it. The mean of these held-out
scores estimates what choosing the defaults this way is worth on sets nobody tuned on; it is
printed beside the frozen defaults' figures.

Results (ROC-AUC, AP, seconds per set and seed) are cached: the peers' in
``bench/results/anomaly_peers.json``, aekit's in ``bench/results/anomaly_aekit.json``
(``--no-cache``: recompute). Every key holds the numpy, scikit-learn, torch and PyOD versions;
aekit's and the scikit-learn baselines' (their code is aekit.anomaly.metrics) also a hash of
every ``.py`` file under ``src/aekit``; aekit's its parameters. IsolationForest is always run
anew. Times are fit seconds (median over seeds), on whatever the machine was doing: noisy; the
multiple of IsolationForest's time is printed only for detectors timed in the same run
("cached" otherwise).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "anomaly"
RESULTS = ROOT / "bench" / "results"
PYOD = ("pyod-pca", "ecod", "copod", "knn", "hbos", "pyod-ae")
DETECTORS = ("aekit", "iforest", "lof", "pca", *PYOD)

CANDIDATES = {
    "default": {},
    "no isolation term": {"isolation_weight": 0.0},
    "isolation weight 1": {"isolation_weight": 1.0},
    "isolation weight 3": {"isolation_weight": 3.0},
    "reconstruction weight 1": {"reconstruction_weight": 1.0},
    "surprise combination": {"combine": "surprise"},
    "no tail term": {"tail_weight": 0.0},
    "no input kNN term": {"neighbor_weight": 0.0},
    "10 neighbours": {"n_neighbors": 10},
    "25 epochs": {"max_epochs": 25},
    "4 members": {"n_estimators": 4},
}
"""The candidate defaults of ``--protocol lodo``: each the frozen default with a change."""


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
    """ADBench's split (70/30, stratified on the label) and min-max scaling fitted on the
    training part: ``X_train, X_test, y_test``."""
    X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                  random_state=seed)
    scaler = MinMaxScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_test


# --------------------------------------------------------------------------- detectors
def aekit_fit(params: dict):
    """``fit(X_train, seed) -> score(X_test)`` of OutlierDetector with ``params``."""
    def fit(X_train, seed):
        from aekit import OutlierDetector

        det = OutlierDetector(random_state=seed, device="cpu", **params).fit(X_train)
        return lambda X: -det.score_samples(X)
    return fit


def baseline_fit(name: str):
    """IsolationForest, LOF or PCA error as aekit's reports run them."""
    def fit(X_train, seed):
        from aekit.anomaly.metrics import baseline_model

        return baseline_model(name, X_train, random_state=seed)
    return fit


def pyod_fit(name: str):
    """One of PyOD's detectors, with its defaults."""
    def fit(X_train, seed):
        if name == "pyod-pca":
            from pyod.models.pca import PCA

            model = PCA(svd_solver="full", random_state=seed)
        elif name == "ecod":
            from pyod.models.ecod import ECOD as model
            model = model()
        elif name == "copod":
            from pyod.models.copod import COPOD as model
            model = model()
        elif name == "knn":
            from pyod.models.knn import KNN as model
            model = model()
        elif name == "hbos":
            from pyod.models.hbos import HBOS as model
            model = model()
        else:
            import torch
            from pyod.models.auto_encoder import AutoEncoder

            torch.manual_seed(seed)
            model = AutoEncoder(random_state=seed, verbose=0)
        model.fit(X_train)
        return model.decision_function
    return fit


def warm_up(wanted) -> None:
    """One small fit and score of every detector in ``wanted``: one-time costs (lazy
    imports, thread pools, PyOD's numba compiling) out of the timings, IsolationForest's
    included, the reference every other fit time is divided by."""
    warmup = np.random.default_rng(0).random((300, 5))
    for name in wanted:
        if name == "aekit":
            fit = aekit_fit({"max_epochs": 1})
        elif name in PYOD:
            fit = pyod_fit(name)
        else:
            fit = baseline_fit(name)
        fit(warmup, 0)(warmup[:10])


def pyod_version() -> str | None:
    try:
        import pyod
    except ImportError:
        return None
    return pyod.__version__


def source_hash() -> str:
    """A hash of every ``.py`` file under ``src/aekit`` (paths and contents): cached results
    of older code are not reused. The whole package, not a list of the detector's files: a
    list misses what they import (the tabular input path, the statistics, the layers...)."""
    h = hashlib.sha1()
    src = ROOT / "src" / "aekit"
    for path in sorted(src.rglob("*.py")):
        h.update(path.relative_to(src).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def library_versions() -> str:
    """numpy, scikit-learn, torch and PyOD versions, part of every cache key (a new version
    of any of them can change every detector's scores)."""
    import sklearn
    import torch

    return (f"numpy={np.__version__} sklearn={sklearn.__version__} "
            f"torch={torch.__version__} pyod={pyod_version()}")


# --------------------------------------------------------------------------- run
class Cache:
    """``{key: [auc, ap, fit_seconds]}`` in a JSON file, written after each new entry."""

    def __init__(self, path: Path | None):
        self.path = path
        self.data = json.loads(path.read_text()) if path and path.is_file() else {}

    def get(self, key):
        return self.data.get(key)

    def put(self, key, value):
        self.data[key] = value
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=0))
            tmp.replace(self.path)


def evaluate(detectors: dict, sets, seeds: int, caches: dict, fresh: dict | None = None) -> dict:
    """``{detector: {set: [(auc, ap, fit_seconds), ...]}}``, one entry per seed.

    ``detectors`` maps a name to ``(fit, cache_key_prefix)``; ``caches`` a name to its Cache.
    ``fresh``, if given, gets per detector whether every one of its results was computed in
    this run (not read from a cache): only then are its seconds comparable with the others'.
    """
    results: dict = {name: {} for name in detectors}
    fresh = {} if fresh is None else fresh
    fresh.update({name: True for name in detectors})
    for set_name, X, y in sets:
        for seed in range(seeds):
            data = None
            for name, (fit, prefix) in detectors.items():
                key = f"{prefix}|{set_name}|{seed}"
                # IsolationForest, the reference of the fit times, is always timed anew:
                # beside the others, on the machine as busy as it is for them.
                hit = None if name == "iforest" else caches[name].get(key)
                fresh[name] &= hit is None
                if hit is None:
                    if data is None:
                        data = split(X, y, seed)
                    X_train, X_test, y_test = data
                    start = time.perf_counter()
                    score = fit(X_train, seed)
                    seconds = time.perf_counter() - start
                    s = np.asarray(score(X_test), dtype=np.float64)
                    if np.isnan(s).any():  # a detector's failure, scored as chance:
                        # ROC-AUC 0.5 and AP the share of anomalies, a random ranking's.
                        print(f"  {name} on {set_name} seed {seed}: {np.isnan(s).sum()} NaN "
                              "score(s), scored as chance", file=sys.stderr)
                        hit = [0.5, float(np.mean(y_test)), seconds]
                    else:  # infinite scores still rank: the most (or least) anomalous
                        s = np.clip(s, -1e300, 1e300)
                        hit = [roc_auc_score(y_test, s), average_precision_score(y_test, s),
                               seconds]
                    caches[name].put(key, hit)
                results[name].setdefault(set_name, []).append(tuple(hit))
            print(f"{set_name} seed {seed}: " + ", ".join(
                f"{n} {results[n][set_name][-1][0]:.3f}" for n in detectors), file=sys.stderr)
    return results


def per_set(results: dict, metric: int) -> dict:
    """``{detector: {set: mean over seeds}}`` of ``metric`` (0 ROC-AUC, 1 AP, 2 seconds)."""
    agg = np.median if metric == 2 else np.mean
    return {n: {s: float(agg([r[metric] for r in rows])) for s, rows in sets.items()}
            for n, sets in results.items()}


def table(results: dict, metric: int, title: str) -> str:
    """A text table of ``metric`` per set and detector, with the mean."""
    values = per_set(results, metric)
    names = list(values)
    sets = list(values[names[0]])
    width = max(9, *(len(n) + 1 for n in names))
    lines = [title, f"{'set':<16}" + "".join(f"{n:>{width}}" for n in names)]
    for s in sets:
        lines.append(f"{s:<16}" + "".join(f"{values[n][s]:>{width}.3f}" for n in names))
    lines.append(f"{'mean':<16}" + "".join(
        f"{np.mean(list(values[n].values())):>{width}.3f}" for n in names))
    return "\n".join(lines)


DEFICIT = 0.10
"""A set where aekit's ROC-AUC is more than this below IsolationForest's is flagged (issue
18's check on unseen sets)."""


def deficits(results: dict, ours: str = "aekit") -> str:
    """Per set, ``ours``' ROC-AUC minus IsolationForest's, sets more than :data:`DEFICIT`
    below flagged, and the worst."""
    auc = per_set(results, 0)
    if ours not in auc or "iforest" not in auc:
        return ""
    diff = {s: auc[ours][s] - auc["iforest"][s] for s in auc[ours]}
    lines = [f"ROC-AUC of {ours} minus IsolationForest's (flag: more than {DEFICIT} below)"]
    for s, d in diff.items():
        lines.append(f"{s:<16}{d:>+8.3f}{'  <-- more than 0.10 below' if d < -DEFICIT else ''}")
    worst = min(diff, key=diff.get)
    lines.append(f"{'worst':<16}{diff[worst]:>+8.3f}  ({worst})")
    return "\n".join(lines)


def summary(results: dict, fresh: dict | None = None) -> str:
    """Mean ROC-AUC, mean AP, mean rank (by ROC-AUC and by AP, 1 = best) and median fit
    seconds per detector, with the fit time as a multiple of IsolationForest's: only for a
    detector timed in this run, as IsolationForest always is (``fresh``; without it, every
    detector counts as timed now); a time read from the cache is marked "cached"."""
    auc, ap, sec = (per_set(results, m) for m in (0, 1, 2))
    names = list(auc)
    sets = list(auc[names[0]])

    def ranks(values):
        from scipy.stats import rankdata

        table = np.array([[-values[n][s] for n in names] for s in sets])
        return dict(zip(names, rankdata(table, axis=1).mean(0)))

    r_auc, r_ap = ranks(auc), ranks(ap)
    fit = {n: float(np.mean(list(sec[n].values()))) for n in names}
    fresh = fresh if fresh is not None else {n: True for n in names}
    base = fit.get("iforest") if fresh.get("iforest") else None
    lines = [f"summary over {len(sets)} sets (rank 1 = best; fit s: mean over sets of the "
             "median over seeds; x iforest only where both were timed in this run, 'cached' "
             "where the seconds are a cached run's)",
             f"{'detector':<22}{'ROC-AUC':>9}{'AP':>8}{'rank AUC':>10}{'rank AP':>9}"
             f"{'fit s':>9}{'x iforest':>11}"]
    for n in sorted(names, key=lambda n: -np.mean(list(auc[n].values()))):
        ratio = (f"{fit[n] / base:>11.1f}" if base and fresh.get(n) else
                 f"{'cached':>11}" if base else "")
        lines.append(f"{n:<22}{np.mean(list(auc[n].values())):>9.3f}"
                     f"{np.mean(list(ap[n].values())):>8.3f}{r_auc[n]:>10.2f}{r_ap[n]:>9.2f}"
                     f"{fit[n]:>9.2f}{ratio}")
    return "\n".join(lines)


def lodo(results: dict, default: str = "default") -> tuple[str, dict]:
    """Leave-one-dataset-out: each set scored by the candidate with the best mean of ROC-AUC
    and AP on the other sets. Returns the text and ``{set: (candidate, auc, ap)}``."""
    auc, ap, sec = per_set(results, 0), per_set(results, 1), per_set(results, 2)
    names = list(auc)
    sets = list(auc[names[0]])
    merit = {n: {s: (auc[n][s] + ap[n][s]) / 2 for s in sets} for n in names}
    chosen = {}
    for s in sets:
        best = max(names, key=lambda n: np.mean([merit[n][t] for t in sets if t != s]))
        chosen[s] = (best, auc[best][s], ap[best][s])
    lines = ["candidates (each on all sets; mean ROC-AUC / mean AP, fit seconds)"]
    for n in names:
        lines.append(f"  {n:<28}{np.mean(list(auc[n].values())):.3f} / "
                     f"{np.mean(list(ap[n].values())):.3f}   "
                     f"{np.mean(list(sec[n].values())):.2f} s")
    lines += ["", "leave-one-dataset-out: each set scored by the candidate chosen on the others",
              f"{'set':<16}{'chosen':>28}{'LODO AUC':>10}{'LODO AP':>9}{'frozen AUC':>12}"
              f"{'frozen AP':>11}"]
    for s in sets:
        n, a, p = chosen[s]
        lines.append(f"{s:<16}{n:>28}{a:>10.3f}{p:>9.3f}{auc[default][s]:>12.3f}"
                     f"{ap[default][s]:>11.3f}")
    lines.append(f"{'mean':<16}{'':>28}{np.mean([c[1] for c in chosen.values()]):>10.3f}"
                 f"{np.mean([c[2] for c in chosen.values()]):>9.3f}"
                 f"{np.mean(list(auc[default].values())):>12.3f}"
                 f"{np.mean(list(ap[default].values())):>11.3f}")
    return "\n".join(lines), chosen


def auto_shares(sets, seeds: int) -> str:
    """For ``contamination="auto"``: the share of test rows flagged, the true share, F1."""
    from sklearn.metrics import f1_score

    from aekit import OutlierDetector

    lines = ['contamination="auto" on the test part',
             f"{'set':<20}{'flagged':>10}{'true':>10}{'F1':>8}"]
    for name, X, y in sets:
        flagged, f1 = [], []
        for seed in range(seeds):
            X_train, X_test, y_test = split(X, y, seed)
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
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    parser.add_argument("--protocol", choices=("frozen", "lodo"), default="frozen",
                        help="lodo: also choose the defaults leave-one-dataset-out")
    parser.add_argument("--variants", type=json.loads,
                        help='aekit variants to compare, as JSON: {"name": {params}, ...}')
    parser.add_argument("--auto", action="store_true",
                        help='the share of rows contamination="auto" flags, per set')
    parser.add_argument("--no-cache", action="store_true", help="recompute every result")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if not args.data.is_dir():
        sys.exit(f"error: {args.data} is not a folder of ADBench .npz files (see --data)")
    names = args.sets.split(",") if args.sets else None
    sets = list(load_sets(args.data, names))
    if not sets:
        sys.exit(f"error: no .npz set in {args.data} matches {args.sets!r}")
    if args.auto:
        print(auto_shares(sets, args.seeds))
        return {}
    wanted = [d.strip() for d in args.detectors.split(",") if d.strip()]
    unknown = sorted(set(wanted) - set(DETECTORS))
    if unknown:
        sys.exit(f"error: unknown detector(s) {unknown}; known: {list(DETECTORS)}")
    version = pyod_version()
    if version is None:
        for name in [d for d in wanted if d in PYOD]:
            print(f"{name}: skipped, PyOD is not installed (pip install 'aekit[bench]')")
            wanted.remove(name)
    peers = Cache(None if args.no_cache else RESULTS / "anomaly_peers.json")
    ours = Cache(None if args.no_cache else RESULTS / "anomaly_aekit.json")
    code, libs = source_hash(), library_versions()
    detectors, caches = {}, {}
    for name in wanted:
        if name == "aekit":
            variants = {"aekit": {}} if args.protocol == "frozen" else {}
            if args.variants:
                variants.update(args.variants)
            if args.protocol == "lodo":
                variants.update(CANDIDATES)
            for vname, params in variants.items():
                key = f"aekit {code} {libs} {json.dumps(params, sort_keys=True)}"
                detectors[vname], caches[vname] = (aekit_fit(params), key), ours
        elif name in PYOD:
            detectors[name], caches[name] = (pyod_fit(name), f"{name} {libs}"), peers
        else:  # iforest, lof, pca: aekit.anomaly.metrics's code, so its hash too
            detectors[name], caches[name] = (baseline_fit(name), f"{name} {code} {libs}"), peers
    if "pyod-ae" in detectors:
        print("pyod-ae: PyOD's AutoEncoder with its defaults (10 epochs)")
    warm_up(wanted)
    fresh: dict = {}
    results = evaluate(detectors, sets, args.seeds, caches, fresh)
    # The frozen defaults ("aekit") beside the peers; LODO's candidates in a section of their
    # own (ranks among the peers would otherwise count each candidate as a rival).
    shown = {("aekit" if n == "default" else n): r for n, r in results.items()
             if args.protocol != "lodo" or n == "default" or n not in CANDIDATES}
    print(table(shown, 0, f"ROC-AUC, test part, mean of {args.seeds} seed(s)"))
    print()
    print(table(shown, 1, f"average precision, test part, mean of {args.seeds} seed(s)"))
    print()
    print(summary(shown, fresh))
    if "aekit" in shown and "iforest" in shown:
        print()
        print(deficits(shown))
    if args.protocol == "lodo" and "default" in results:
        text, chosen = lodo({n: results[n] for n in CANDIDATES if n in results})
        print()
        print(text)
        if "iforest" in results:
            forest = per_set(results, 0)["iforest"]
            gap = {s: c[1] - forest[s] for s, c in chosen.items()}
            worst = min(gap, key=gap.get)
            print(f"LODO ROC-AUC minus IsolationForest's: worst {gap[worst]:+.3f} ({worst}); "
                  f"more than {DEFICIT} below on {sum(g < -DEFICIT for g in gap.values())} "
                  "set(s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
