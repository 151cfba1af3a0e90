"""Network intrusions (NSL-KDD): aekit's OutlierDetector against the classic detectors.

Every detector is fitted on the same 80% of the *normal* rows of ``KDDTrain+_20Percent.txt``
(10,759 of 13,449; the other 20%, drawn with ``--seed``, are held out of every fit) and scores
every row of the test file; an attack should score high. Printed per detector:

- ROC-AUC on ``KDDTest+.txt`` (22,544 rows, 56.9% attacks);
- ROC-AUC on KDDTest-21: the KDDTest+ rows with a difficulty below 21, i.e. those that at
  least one of the 21 classifiers of the data set's authors got wrong (Tavallaee et al.,
  CISDA 2009, who published KDDTest-21 as exactly this subset: 11,850 rows, 81.8% attacks);
- ROC-AUC on the attacks never seen in training: the test attacks whose type (``label``)
  does not occur in the training file, against all normal test rows;
- accuracy and F1 (attack = positive) on KDDTest+ at the threshold that maximises accuracy
  on the labelled training file, estimated on training rows no detector was fitted on: the
  held-out normal rows, each weighted 1/0.2 = 5 so that they stand for all 13,449 normal
  rows (the file's own mix, 46.6% attacks), and the training attacks (never fitted). No test
  row chooses it, and no fitted row either: a fitted row scores lower than a new normal row
  (in-sample), which pulled the threshold down when it was chosen on all training rows.
  Published autoencoders reach 88-91% accuracy on KDDTest+ (see ../shared/data/README.md);
- aekit alone: accuracy and F1 of ``predict`` as fitted (``contamination="auto"``, no label
  used anywhere), and how often the top-3 columns of ``explain`` for SYN-flood rows
  (``neptune``) name a SYN-error rate or the ``flag`` column.

Detectors: aekit, scikit-learn's IsolationForest, LocalOutlierFactor and PCA reconstruction
error (as aekit.anomaly.metrics runs them), PyOD's ECOD, COPOD, KNN, HBOS and AutoEncoder
(``pyod-ae``), each with its defaults (PyOD's as in bench/anomaly.py). A detector that
cannot be imported or fails is printed in the table as skipped, with the reason.

Categorical columns (protocol_type, service, flag): aekit takes the table as it is, string
columns included (a category unseen in training, such as the test file's new services, is
scored, never an error). The peers need numbers: they see the categories one-hot
(scikit-learn's OneHotEncoder fitted on the fitted rows; an unseen category is all zeros),
every column standardised with the fitted rows' mean and deviation; and so does aekit with
``--one-hot`` (one-hot, not standardised: it scales inside). aekit log-scales heavy-tailed
columns inside the model; a careful user of the peers would log the byte counts too, so with
``--peer-prep both`` (the default) IsolationForest, LOF, PCA, KNN and HBOS also run on the
table with ``log1p`` of the count columns (those whose maximum on the fitted rows exceeds 1:
duration, bytes, connection counts; the rates and 0/1 flags as they are), rows marked
``(log1p)``. ECOD and COPOD see each column through its empirical distribution, which a
monotone map leaves as it is: one row each.

    python bench/nsl_kdd.py [--data ../shared/data/nsl-kdd] [--seed 0] [--holdout 0.2]
                            [--detectors aekit,iforest,...] [--peer-prep plain|log1p|both]
                            [--params '{"scaler": "robust"}'] [--one-hot] [--rows N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from aekit.data import NSL_KDD_COLUMNS

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nsl-kdd"
COLUMNS = list(NSL_KDD_COLUMNS)
FEATURES = COLUMNS[:41]
CATEGORICAL = ["protocol_type", "service", "flag"]


def read(path: Path):
    import pandas as pd

    if not path.is_file():
        sys.exit(f"error: {path} not found (see --data)")
    return pd.read_csv(path, header=None, names=COLUMNS)


class OneHot:
    """Numeric columns as they are, categorical ones one-hot (categories of the rows it
    is fitted on; unseen ones all zeros), with readable names (``flag=S0``)."""

    def fit(self, frame):
        from sklearn.preprocessing import OneHotEncoder

        self.numeric = [c for c in FEATURES if c not in CATEGORICAL]
        self.encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        self.encoder.fit(frame[CATEGORICAL])
        self.names = self.numeric + [f"{c}={v}" for c, values in
                                     zip(CATEGORICAL, self.encoder.categories_) for v in values]
        return self

    def transform(self, frame):
        import pandas as pd

        X = np.hstack([frame[self.numeric].to_numpy(np.float64),
                       self.encoder.transform(frame[CATEGORICAL])])
        return pd.DataFrame(X, columns=self.names, index=frame.index)


# --------------------------------------------------------------------------- detectors
PEERS = ("iforest", "lof", "pca", "ecod", "copod", "knn", "hbos", "pyod-ae")
"""aekit's peers: scikit-learn's (aekit.anomaly.metrics.baseline_model) and PyOD's."""
LOG1P = ("iforest", "lof", "pca", "knn", "hbos")
"""The peers also run on log1p-scaled count columns. ECOD and COPOD are not: they see each
column through its empirical distribution, which log1p (monotone) leaves as it is; nor is
pyod-ae (its cost)."""


class PeerTable:
    """The peers' numbers: :class:`OneHot`'s table, optionally ``log1p`` of the count
    columns (the numeric columns whose maximum on the fitted rows exceeds 1: durations, byte
    counts, connection counts; not the rates and 0/1 flags), then every column standardised
    with the fitted rows' mean and deviation. The standardising changes only KNN's scores:
    IsolationForest, HBOS, ECOD and COPOD are unchanged by a per-column affine map, and LOF
    and PCA standardise inside as well."""

    def __init__(self, log1p: bool = False):
        self.log1p = log1p

    def fit(self, frame):
        from sklearn.preprocessing import StandardScaler

        self.onehot = OneHot().fit(frame)
        X = self.onehot.transform(frame)
        self.counts = [c for c in self.onehot.numeric if X[c].max() > 1] if self.log1p else []
        self.scaler = StandardScaler().fit(self._logged(X))
        return self

    def _logged(self, X):
        X = X.copy()
        if self.counts:
            X[self.counts] = np.log1p(X[self.counts].clip(lower=0))
        return X.to_numpy(np.float64)

    def transform(self, frame):
        return self.scaler.transform(self._logged(self.onehot.transform(frame)))


def fit_score(name: str, X_fit, X_scores: list, seed: int, params: dict | None = None):
    """The anomaly scores of each of ``X_scores`` by detector ``name`` fitted on ``X_fit``
    (and the fitted OutlierDetector for aekit, made with ``params``)."""
    if name == "aekit":
        from aekit import OutlierDetector

        det = OutlierDetector(random_state=seed, **(params or {})).fit(X_fit)
        return [-det.score_samples(X) for X in X_scores], det
    A = np.asarray(X_fit, dtype=np.float64)
    tests = [np.asarray(X, dtype=np.float64) for X in X_scores]
    if name in ("iforest", "lof", "pca"):
        from aekit.anomaly.metrics import baseline_model

        score = baseline_model(name, A, random_state=seed)
    else:
        from anomaly import pyod_fit  # bench/anomaly.py: the same PyOD settings there

        score = pyod_fit(name)(A, seed)
    # One call for all rows, split afterwards.
    both = np.asarray(score(np.concatenate(tests)), dtype=np.float64)
    bounds = np.cumsum([0, *map(len, tests)])
    return [both[a:b] for a, b in zip(bounds[:-1], bounds[1:])], None


def best_threshold(scores: np.ndarray, attack: np.ndarray, weight=None) -> float:
    """The score threshold (flag above it) with the best (``weight``-ed) accuracy on labelled
    rows."""
    order = np.argsort(scores, kind="stable")
    w = np.ones(len(scores)) if weight is None else np.asarray(weight, dtype=np.float64)
    s, a, w = scores[order], attack[order].astype(int), w[order]
    # Flagging everything above position i: correct = normals at or below i + attacks above.
    normals_below = np.concatenate([[0], np.cumsum(w * (1 - a))])
    attacks_above = (w * a).sum() - np.concatenate([[0], np.cumsum(w * a)])
    correct = normals_below + attacks_above
    # A cut between equal scores cannot be made: only positions where the score changes.
    valid = np.concatenate([[True], s[1:] > s[:-1], [True]])
    i = int(np.argmax(np.where(valid, correct, -np.inf)))
    return float(s[i - 1]) if i > 0 else float(s[0]) - 1.0


def neptune_explained(det, rows) -> float:
    """Share of (neptune) ``rows`` whose top-3 columns name a SYN-error rate or the flag
    (``flag``, or one of its one-hot columns ``flag=S0``, ...)."""
    names, _ = det.top_features(rows, n_features=3)
    hit = [any("serror" in n or n.split("=")[0] == "flag" for n in row) for row in names]
    return float(np.mean(hit))


def split_normals(train, share: float, seed: int):
    """Positions (in ``train``) of the normal rows to fit on and of those held out, a
    ``share`` of the normal rows drawn with ``seed``."""
    normals = np.flatnonzero((train["label"] == "normal").to_numpy())
    held = np.random.default_rng(seed).permutation(normals)[:round(share * len(normals))]
    return np.setdiff1d(normals, held), np.sort(held)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the NSL-KDD files")
    parser.add_argument("--seed", type=int, default=0,
                        help="the detectors' random_state and the hold-out draw")
    parser.add_argument("--holdout", type=float, default=0.2,
                        help="share of the normal training rows held out of fitting, for "
                             "the threshold (default 0.2)")
    parser.add_argument("--detectors", default="aekit," + ",".join(PEERS))
    parser.add_argument("--peer-prep", choices=("plain", "log1p", "both"), default="both",
                        help="the peers on the standardised one-hot table, on log1p-scaled "
                             "count columns, or both (rows 'name (log1p)')")
    parser.add_argument("--pyod-path", help="a folder holding PyOD (pip install --target)")
    parser.add_argument("--one-hot", action="store_true",
                        help="give aekit the baselines' one-hot table, not the string columns")
    parser.add_argument("--params", type=json.loads, default={},
                        help='OutlierDetector parameters as JSON, e.g. \'{"scaler": "robust"}\'')
    parser.add_argument("--rows", type=int,
                        help="a quick check: only this many rows of each file (drawn with "
                             "--seed); the figures are not the benchmark's")
    args = parser.parse_args(argv)
    if args.pyod_path:
        sys.path.append(args.pyod_path)
    train = read(args.data / "KDDTrain+_20Percent.txt")
    test = read(args.data / "KDDTest+.txt")
    if args.rows:
        train, test = (f.sample(min(args.rows, len(f)), random_state=args.seed).sort_index()
                       for f in (train, test))
    fit_at, held_at = split_normals(train, args.holdout, args.seed)
    attack_train = (train["label"] != "normal").to_numpy()
    # The threshold's rows: the held-out normals and the attacks, none of them fitted. Each
    # held-out normal stands for 1/holdout normal rows, so the accuracy maximised is the
    # training file's (46.6% attacks), not that of the held-out part's mix (81% attacks).
    choose_at = np.concatenate([held_at, np.flatnonzero(attack_train)])
    weight = np.where(attack_train[choose_at], 1.0,
                      (len(fit_at) + len(held_at)) / max(len(held_at), 1))
    fitted, choose = train.iloc[fit_at], train.iloc[choose_at]
    attack_choose = attack_train[choose_at]
    attack_test = (test["label"] != "normal").to_numpy()
    hard = (test["difficulty"] < 21).to_numpy()
    unseen = ~test["label"].isin(set(train["label"])).to_numpy()
    subsets = {"KDDTest+": np.ones(len(test), bool), "KDDTest-21": hard,
               "unseen attacks": unseen | ~attack_test}
    tables = {"plain": PeerTable().fit(fitted[FEATURES])}
    print(f"fitted on {len(fit_at)} of the {len(fit_at) + len(held_at)} normal training rows "
          f"x 41 columns (3 categorical; {len(tables['plain'].onehot.names)} one-hot for the "
          f"peers); threshold on the other {len(held_at)} normal and {attack_train.sum()} "
          f"attack training rows; KDDTest+ {len(test)} rows, KDDTest-21 {hard.sum()}, unseen "
          f"attack types {test.loc[unseen, 'label'].nunique()} ({unseen.sum()} rows)")
    wanted = [d.strip() for d in args.detectors.split(",") if d.strip()]
    unknown = sorted(set(wanted) - {"aekit", *PEERS})
    if unknown:
        sys.exit(f"error: unknown detector(s) {unknown}; known: {['aekit', *PEERS]}")
    runs = []  # (row name, detector, table)
    for name in wanted:
        if name == "aekit" or args.peer_prep in ("plain", "both") or name not in LOG1P:
            runs.append((name, name, "plain"))
        if name in LOG1P and args.peer_prep in ("log1p", "both"):
            runs.append((f"{name} (log1p)", name, "log1p"))
    if any(t == "log1p" for *_, t in runs):
        tables["log1p"] = PeerTable(log1p=True).fit(fitted[FEATURES])
    results, header = {}, ["detector", *subsets, "accuracy", "F1", "fit+score s"]
    own = neptune = None
    warm = set()
    for row, name, prep in runs:
        if name == "aekit" and not args.one_hot:
            A, B, C = fitted[FEATURES], choose[FEATURES], test[FEATURES]
        elif name == "aekit":
            onehot = tables["plain"].onehot
            A, B, C = (onehot.transform(f[FEATURES]) for f in (fitted, choose, test))
        else:
            A, B, C = (tables[prep].transform(f[FEATURES]) for f in (fitted, choose, test))
        try:
            if name not in warm:  # imports and PyOD's numba compiling out of the timings
                fit_score(name, A[:300], [B[:10]], args.seed, args.params)
                warm.add(name)
            start = time.perf_counter()
            (s_choose, s_test), model = fit_score(name, A, [B, C], args.seed, args.params)
        except Exception as err:  # noqa: BLE001  (PyOD missing or a detector failing)
            results[row] = {"skipped": f"{type(err).__name__}: {err}".splitlines()[0][:90]}
            print(f"{row}: skipped ({results[row]['skipped']})", file=sys.stderr)
            continue
        seconds = time.perf_counter() - start
        cut = best_threshold(s_choose, attack_choose, weight)
        flagged = s_test > cut
        results[row] = {
            **{k: roc_auc_score(attack_test[m], s_test[m]) for k, m in subsets.items()},
            "accuracy": accuracy_score(attack_test, flagged),
            "F1": f1_score(attack_test, flagged), "fit+score s": seconds,
        }
        print(f"{row}: {results[row]}", file=sys.stderr, flush=True)
        if name == "aekit":
            own = model.predict(C) == -1
            neptune = neptune_explained(model, C[(test["label"] == "neptune").to_numpy()])
    print(f"\nROC-AUC of the anomaly score (attack = positive), each detector fitted on "
          f"{len(fit_at)} normal training rows; accuracy and F1 on KDDTest+ at the threshold "
          f"with the best accuracy on the training file (its held-out normal rows, weighted, "
          f"and its attacks). '(log1p)': the peer on log1p-scaled count columns")
    print(f"{header[0]:>18}" + "".join(f"{h:>16}" for h in header[1:]))
    for row, r in results.items():
        if "skipped" in r:
            print(f"{row:>18}  skipped: {r['skipped']}")
        else:
            print(f"{row:>18}" + "".join(f"{r[h]:>16.4f}" for h in header[1:]))
    if own is not None:
        print(f"\naekit predict() as fitted (contamination='auto', no label used): accuracy "
              f"{accuracy_score(attack_test, own):.4f}, F1 {f1_score(attack_test, own):.4f}, "
              f"{own.mean():.1%} of KDDTest+ flagged")
        print(f"neptune (SYN flood) test rows whose top-3 columns name a SYN-error rate or "
              f"flag: {neptune:.1%}")
    return results


if __name__ == "__main__":
    main()
