"""Network intrusions (NSL-KDD): aekit's OutlierDetector against the classic detectors.

Every detector is fitted on the *normal* rows of ``KDDTrain+_20Percent.txt`` (13,449 rows) and
scores every row of the test files; an attack should score high. Printed per detector:

- ROC-AUC on ``KDDTest+.txt`` (22,544 rows, 56.9% attacks);
- ROC-AUC on KDDTest-21: the KDDTest+ rows with a difficulty below 21, i.e. those that at
  least one of the 21 classifiers of the data set's authors got wrong (Tavallaee et al.,
  CISDA 2009, who published KDDTest-21 as exactly this subset: 11,850 rows, 81.8% attacks);
- ROC-AUC on the attacks never seen in training: the test attacks whose type (``label``)
  does not occur in the training file, against all normal test rows;
- accuracy and F1 (attack = positive) on KDDTest+ at the threshold that maximises accuracy
  on the labelled training file: training rows only, no test row chooses it. Published
  autoencoders reach 88-91% accuracy on KDDTest+ (see ../shared/data/README.md);
- aekit alone: accuracy and F1 of ``predict`` as fitted (``contamination="auto"``, no label
  used anywhere), and how often the top-3 columns of ``explain`` for SYN-flood rows
  (``neptune``) name a SYN-error rate or the ``flag`` column.

Categorical columns (protocol_type, service, flag): aekit takes the table as it is, string
columns included (a category unseen in training, such as the test file's new services, is
scored, never an error). The baselines need numbers: they see the categories one-hot
(scikit-learn's OneHotEncoder fitted on the training rows; an unseen category is all zeros),
numeric columns standardised; and so does aekit with ``--one-hot``.

    python bench/nsl_kdd.py [--data ../shared/data/nsl-kdd] [--seed 0] [--detectors ...]
                            [--params '{"scaler": "robust"}'] [--one-hot]
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
def fit_score(name: str, X_train, X_tests: list, seed: int, params: dict | None = None):
    """The fitted detector's anomaly scores of ``X_train`` and each of ``X_tests`` (and the
    fitted OutlierDetector for aekit, made with ``params``)."""
    if name == "aekit":
        from aekit import OutlierDetector

        det = OutlierDetector(random_state=seed, **(params or {})).fit(X_train)
        return [-det.score_samples(X) for X in [X_train, *X_tests]], det
    A = np.asarray(X_train, dtype=np.float64)
    tests = [np.asarray(X, dtype=np.float64) for X in X_tests]
    if name == "pyod-ae":
        from pyod.models.auto_encoder import AutoEncoder

        model = AutoEncoder(random_state=seed, verbose=0).fit(A)
        return [model.decision_function(X) for X in [A, *tests]], model
    from aekit.anomaly.metrics import baseline_scores

    # One fit; the training rows and every test set scored in one call.
    both = baseline_scores(name, A, np.concatenate([A, *tests]), random_state=seed)
    bounds = np.cumsum([0, len(A), *map(len, tests)])
    return [both[a:b] for a, b in zip(bounds[:-1], bounds[1:])], None


def best_threshold(scores: np.ndarray, attack: np.ndarray) -> float:
    """The score threshold (flag above it) with the best accuracy on labelled rows."""
    order = np.argsort(scores)
    s, a = scores[order], attack[order].astype(int)
    # Flagging everything above position i: correct = normals at or below i + attacks above.
    normals_below = np.concatenate([[0], np.cumsum(1 - a)])
    attacks_above = a.sum() - np.concatenate([[0], np.cumsum(a)])
    i = int(np.argmax(normals_below + attacks_above))
    return float(s[i - 1]) if i > 0 else float(s[0]) - 1.0


def neptune_explained(det, rows) -> float:
    """Share of (neptune) ``rows`` whose top-3 columns name a SYN-error rate or the flag
    (``flag``, or one of its one-hot columns ``flag=S0``, ...)."""
    names, _ = det.top_features(rows, n_features=3)
    hit = [any("serror" in n or n.split("=")[0] == "flag" for n in row) for row in names]
    return float(np.mean(hit))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the NSL-KDD files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--detectors", default="aekit,iforest,lof,pca,pyod-ae")
    parser.add_argument("--pyod-path", help="a folder holding PyOD (pip install --target)")
    parser.add_argument("--one-hot", action="store_true",
                        help="give aekit the baselines' one-hot table, not the string columns")
    parser.add_argument("--params", type=json.loads, default={},
                        help='OutlierDetector parameters as JSON, e.g. \'{"scaler": "robust"}\'')
    args = parser.parse_args(argv)
    train = read(args.data / "KDDTrain+_20Percent.txt")
    test = read(args.data / "KDDTest+.txt")
    normal = train[train["label"] == "normal"]
    encoder = OneHot().fit(normal)
    X_normal, X_train, X_test = (encoder.transform(f) for f in (normal, train, test))
    attack_test = (test["label"] != "normal").to_numpy()
    attack_train = (train["label"] != "normal").to_numpy()
    hard = (test["difficulty"] < 21).to_numpy()
    unseen = ~test["label"].isin(set(train["label"])).to_numpy()
    subsets = {"KDDTest+": np.ones(len(test), bool), "KDDTest-21": hard,
               "unseen attacks": unseen | ~attack_test}
    print(f"fitted on {len(normal)} normal rows x 41 columns (3 categorical; "
          f"{X_normal.shape[1]} one-hot for the baselines); KDDTest+ {len(test)} rows, KDDTest-21 "
          f"{hard.sum()}, unseen attack types {test.loc[unseen, 'label'].nunique()} "
          f"({unseen.sum()} rows)", file=sys.stderr)
    wanted = [d.strip() for d in args.detectors.split(",") if d.strip()]
    if "pyod-ae" in wanted:
        sys.path.append(args.pyod_path) if args.pyod_path else None
        try:
            import pyod.models.auto_encoder  # noqa: F401
        except Exception as err:  # noqa: BLE001
            print(f"pyod-ae: not available ({type(err).__name__}: {err}); skipped",
                  file=sys.stderr)
            wanted.remove("pyod-ae")
    results, header = {}, ["detector", *subsets, "accuracy", "F1", "fit+score s"]
    tables = {} if args.one_hot else {
        "aekit": (normal[FEATURES], train[FEATURES], test[FEATURES])}
    for name in wanted:
        start = time.perf_counter()
        A, B, C = tables.get(name, (X_normal, X_train, X_test))
        (_, s_train, s_test), model = fit_score(name, A, [B, C], args.seed, args.params)
        seconds = time.perf_counter() - start
        cut = best_threshold(s_train, attack_train)
        flagged = s_test > cut
        results[name] = {
            **{k: roc_auc_score(attack_test[m], s_test[m]) for k, m in subsets.items()},
            "accuracy": accuracy_score(attack_test, flagged),
            "F1": f1_score(attack_test, flagged), "fit+score s": seconds,
        }
        print(f"{name}: {results[name]}", file=sys.stderr)
        if name == "aekit":
            own = model.predict(C) == -1
            neptune = neptune_explained(model, C[(test["label"] == "neptune").to_numpy()])
    print("ROC-AUC of the anomaly score (attack = positive); accuracy and F1 on KDDTest+ at "
          "the threshold with the best accuracy on the labelled training file")
    print("".join(f"{h:>16}" for h in header))
    for name, r in results.items():
        print(f"{name:>16}" + "".join(f"{r[h]:>16.4f}" for h in header[1:]))
    if "aekit" in results:
        print(f"\naekit predict() as fitted (contamination='auto', no label used): accuracy "
              f"{accuracy_score(attack_test, own):.4f}, F1 {f1_score(attack_test, own):.4f}, "
              f"{own.mean():.1%} of KDDTest+ flagged")
        print(f"neptune (SYN flood) test rows whose top-3 columns name a SYN-error rate or "
              f"flag: {neptune:.1%}")
    return results


if __name__ == "__main__":
    main()
