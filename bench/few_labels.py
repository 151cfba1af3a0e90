"""Few labels, many rows: aekit's semi-supervised classifiers against the honest baselines.

Two tables per dataset and label count. The ladder table (``--methods ladder``, the default
on Fashion-MNIST; ``python bench/few_labels.py --methods ladder --datasets fashion``):

  LadderClassifier, semi-supervised         LadderClassifier(random_state=0).fit(X, y), every
                                            training row, y == -1 for the unlabelled ones
  LadderClassifier, labelled rows only      the same network on the labelled rows alone
                                            (about 500 steps, chosen on the
                                            validation rows like the ladder's)
  logistic regression (C by CV), raw        LogisticRegressionCV on the labelled rows: C from
                                            7 values in [1e-3, 1e3] by stratified k-fold
  LabelSpreading (by CV), PCA codes         scikit-learn's LabelSpreading (kNN kernel) on
                                            PCA(32) codes of every row; n_neighbors and alpha
                                            chosen by k-fold CV on the labelled rows (each
                                            fold's labels hidden, the graph on every row)

``--image-features`` runs that table on the pixels plus their orientation histograms
(``aekit.data.OrientationHistograms``, fitted once on the training images; its time is in
the dataset's header line), for every method alike.

Every constant of LadderClassifier was chosen on development data (a validation split of the
Fashion-MNIST training rows, MNIST's validation rows, and the 8x8 digits' *test* split with
the label draw ``hide_labels(y, 10, random_state=0)``: docs/decisions.md, "LadderClassifier").
The Fashion-MNIST and MNIST test rows chose nothing; the digits' test rows did, and seed 0
here is that very draw, so ``--datasets digits`` (and the stand-in for MNIST) is a
development result, optimistic, not an out-of-sample one. Every fit runs with ``--threads``
torch threads (default 2, the issue's budget:
a default fit on 60,000 rows within 10 minutes on 2 cores); each LadderClassifier row notes
the load average at its start. Rows are registered in ``METHODS`` (``@method(name)``) and
grouped in ``TABLES``: another semi-supervised method adds its rows there.

Every model of every draw is fitted with ``random_state=0``: the "+-" of a table is the
population standard deviation (ddof=0) of the accuracy over the label draws, the spread of
the draws only (docs/decisions.md, "Five more tries at 100 labels": the seed barely moves
a ladder fit).

The EncoderClassifier table (``--methods encoder``):

Fashion-MNIST (60,000 training images, 10,000 test images) with 100 and 1,000 labels (10 and
100 per class, drawn with fixed seeds), every other training image unlabelled (y == -1).
Methods, all on the same labelled rows and scored on the same 10,000 test images:

  logistic regression (C by CV), raw inputs the ladder table's peer (``logistic_cv``: C from
                                            7 values by stratified k-fold CV on the labelled
                                            rows), passed to compare_few_labels as its
                                            ``baseline``, on the pixels
  logistic regression (C by CV), PCA codes  the same on PCA(32) codes fitted on all images
  logistic regression (C by CV), autoencoder codes  the same on the autoencoder's codes
  EncoderClassifier, labelled rows only     the default classifier on that autoencoder
  EncoderClassifier, semi-supervised        the same, fitted on all rows (y == -1 unlabelled):
                                            EncoderClassifier(AutoEncoder(n_components=32,
                                            random_state=0), random_state=0).fit(X, y)
  freeze=True, labelled rows only           the book's recipe: EncoderClassifier(ae, freeze=True)
  freeze=True, semi-supervised              the same with the unlabelled rows
  LabelSpreading (by CV), PCA codes         the ladder table's row (``spreading_cv``:
                                            n_neighbors and alpha by k-fold CV on the
                                            labelled rows), on PCA(32) codes of every row

The autoencoder (labels unused) is fitted once per dataset and shared by every label draw;
its fit time is counted in every method that uses it, so "fit s" of the semi-supervised row
is the time of the one-line call above (LabelSpreading's includes its shared PCA codes and
kNN graph). Each method's calibration is printed beside its
accuracy: expected calibration error (15 bins) and Brier score of predict_proba.
EncoderClassifier's constants were first chosen on these test images (Fashion-MNIST's and the
digits'), then re-checked on a validation split of Fashion-MNIST's training rows
(docs/decisions.md, "Few labels"): its rows are development results on both datasets.

MNIST-like digits: real MNIST when it is on disk ($AEKIT_DATA or ~/.cache/aekit/mnist; this
script never downloads); otherwise scikit-learn's 8x8 digits (1,347 training images, 450
test images) stand in, with 100 labels and the other 1,247 images unlabelled, and the table
says so.

    python bench/few_labels.py --methods encoder   # ~20 min on 2 quiet CPU cores
    python bench/few_labels.py --methods ladder --datasets fashion mnist --labels 100 1000 \
        --seeds 0 1 2 3 4 --json ladder.json
    python bench/few_labels.py --quick         # smoke run: subsets, few epochs

Timings depend on the machine's load: the load average before and after is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import NearestNeighbors
from fit_speed import cpu_name
from scipy import sparse
from sklearn.semi_supervised import LabelSpreading

from aekit import AutoEncoder, EncoderClassifier, LadderClassifier
from aekit.data import OrientationHistograms, load_digits, load_fashion_mnist, load_mnist
from aekit.semisupervised.comparison import (
    AE_CODES,
    PCA_CODES,
    RAW,
    SEMI_SUPERVISED,
    FewLabelsRow,
    compare_few_labels,
    hide_labels,
)

PUBLISHED_RAW_LR = 0.662  # the raw-pixel logistic regression, Fashion-MNIST, 100 labels


def datasets(quick: bool, which=("fashion", "mnist")):
    """(name, X_train, X_test, y_train, y_test, label counts) of each benchmark dataset."""
    out = []
    try:
        if "fashion" in which:
            X, Xt, y, yt = load_fashion_mnist(split=True, download=False)
            out.append(("Fashion-MNIST", X, Xt, y, yt, (100, 1000)))
    except FileNotFoundError as err:
        print(f"Fashion-MNIST skipped: not on this machine ({err}).")
    stand_in = False
    if "mnist" in which:
        try:
            X, Xt, y, yt = load_mnist(split=True, download=False)
            out.append(("MNIST", X, Xt, y, yt, (100, 1000)))
        except FileNotFoundError:
            print("MNIST is not on this machine (this script never downloads): scikit-learn's "
                  "8x8 digits stand in, 100 labels, the other 1,247 training images "
                  "unlabelled, 450 test images.")
            stand_in = True
    if "digits" in which or stand_in:
        X, Xt, y, yt = load_digits(split=True)
        out.append(("digits (8x8)", X, Xt, y, yt, (100,)))
    if quick:  # subsets keep the smoke run to a minute
        out = [(n, X[:3000], Xt[:1000], y[:3000], yt[:1000], labels[:1])
               for n, X, Xt, y, yt, labels in out]
    return out


def frozen_rows(X, y_few, X_test, y_test, autoencoder, ae_seconds, random_state) -> list:
    """The book's frozen recipe, scored like the others."""
    labelled = y_few != -1
    rows = []

    def add(method, model, X_fit, y_fit, extra=0.0, note=""):
        start = time.perf_counter()
        model.fit(X_fit, y_fit)
        seconds = time.perf_counter() - start + extra
        rows.append(FewLabelsRow.scored(method, y_test, model.predict_proba(X_test),
                                        model.classes_, seconds, note))

    frozen = EncoderClassifier(autoencoder, freeze=True, random_state=random_state)
    add("freeze=True, labelled rows only", frozen, X[labelled], y_few[labelled], ae_seconds)
    add("freeze=True, semi-supervised", clone(frozen).set_params(autoencoder=autoencoder), X,
        y_few, ae_seconds)
    return rows


PUBLISHED_MNIST = (
    # (method, test error with 100 labels, with 1,000 labels or None where not quoted here)
    ("ladder network, full (Rasmus et al. 2015)", 0.0106, 0.0084),
    ("M1+M2 semi-supervised VAE (Kingma et al. 2014)", 0.0333, 0.0240),
    ("pseudo-label over a denoising AE (Lee 2013)", 0.1049, None),
    ("M1+TSVM (Kingma et al. 2014)", 0.1182, None),
    ("MLP on the labels alone (Kingma et al. 2014)", 0.258, None),
)

LADDER = "LadderClassifier, semi-supervised"
LADDER_ALONE = "LadderClassifier, labelled rows only"
RAW_CV = "logistic regression (C by CV), raw"
SPREADING_CV = "LabelSpreading (by CV), PCA codes"
LR_CS = np.logspace(-3, 3, 7)
SPREADING_GRID = [{"n_neighbors": k, "alpha": a} for k in (5, 10, 20) for a in (0.2, 0.5, 0.8)]
ALONE_STEPS = 500
"""Steps of the labelled-only ladder: the best of 250-2,000 on Fashion-MNIST's validation rows
with 100 and with 1,000 labels (docs/decisions.md, "LadderClassifier"); it overfits later."""
ALONE_STEPS_FEATURES = {100: 250, 1000: 500}
"""The same with ``--image-features``, by label count (ALONE_STEPS for others): the best of
250 / 500 / 1,000 steps on the same validation rows with the same features."""


class KnnKernel:
    """kNN connectivity for ``LabelSpreading(kernel=callable)``: the training rows'
    neighbours computed once and shared by every fold, draw and ``n_neighbors`` (sklearn's
    own ``kernel="knn"`` recomputes them in every fit). Rows of the training graph are the
    query rows, as in ``kneighbors_graph``."""

    def __init__(self, Z: np.ndarray, k_max: int):
        self.nn = NearestNeighbors(n_neighbors=k_max).fit(Z)
        self.neighbours = self.nn.kneighbors(Z, return_distance=False)  # (n, k_max)

    def __call__(self, k: int):
        def kernel(A, B):
            if B is A:  # the training graph: (n, n), row i the neighbours of i
                idx = self.neighbours[:, :k]
                rows = np.repeat(np.arange(len(A)), k)
                return sparse.csr_matrix((np.ones(rows.size), (rows, idx.ravel())),
                                         shape=(len(A), len(A)))
            idx = self.nn.kneighbors(B, k, return_distance=False)  # (m, k) training rows
            cols = np.repeat(np.arange(len(B)), k)
            return sparse.csr_matrix((np.ones(cols.size), (idx.ravel(), cols)),
                                     shape=(len(A), len(B)))
        return kernel


def n_folds(y_labelled) -> int:
    return int(min(5, np.unique(y_labelled, return_counts=True)[1].min()))


def spreading_cv(Z, y_few, kernel: KnnKernel) -> tuple[LabelSpreading, dict]:
    """LabelSpreading with the grid point of best k-fold accuracy on the labelled rows
    (each fold's labels hidden, the graph over every row), refitted on every label."""
    lab = np.flatnonzero(y_few != -1)
    folds = StratifiedKFold(n_folds(y_few[lab]), shuffle=True, random_state=0)
    best, best_score = None, -1.0
    for params in SPREADING_GRID:
        scores = []
        for _, held in folds.split(lab, y_few[lab]):
            y_fold = y_few.copy()
            y_fold[lab[held]] = -1
            model = LabelSpreading(kernel=kernel(params["n_neighbors"]), alpha=params["alpha"],
                                   max_iter=100).fit(Z, y_fold)
            scores.append(np.mean(model.transduction_[lab[held]] == y_few[lab[held]]))
        if np.mean(scores) > best_score:
            best, best_score = params, float(np.mean(scores))
    model = LabelSpreading(kernel=kernel(best["n_neighbors"]), alpha=best["alpha"],
                           max_iter=100).fit(Z, y_few)
    return model, best


@dataclass
class Draw:
    """One draw of the labels, as every method of the ladder table sees it: the training
    rows with ``y_few`` (-1 unlabelled), the test rows, PCA codes of both and their kNN
    graph (shared by every draw), ``quick`` for the smoke run."""

    X: np.ndarray
    y_few: np.ndarray
    X_test: np.ndarray
    Z: np.ndarray
    Z_test: np.ndarray
    kernel: "KnnKernel"
    quick: bool
    image_features: bool = False
    ladder_params: dict = field(default_factory=dict)  # for both ladder rows

    @property
    def labelled(self) -> np.ndarray:
        return self.y_few != -1


METHODS: dict = {}
"""The ladder table's rows, in order: name -> ``fit(draw) -> (predict_proba(X_test) of
shape (n_test, n_classes), classes, note)``; the row's fit time is that call's. Register a
method with :func:`method` (``METHODS`` is what ``--methods ladder`` runs; another module
can add rows the same way before calling :func:`main`)."""

TABLES = {"ladder": [LADDER, LADDER_ALONE, RAW_CV, SPREADING_CV]}
"""Which registered rows each ``--methods`` table holds."""


def method(name: str):
    """Register ``fit(draw)`` as the row ``name`` (see :data:`METHODS`)."""
    def register(fit):
        METHODS[name] = fit
        return fit
    return register


def _small(draw: Draw) -> dict:
    return {"hidden_layer_sizes": (64,), "max_epochs": 3} if draw.quick else {}


@method(LADDER)
def fit_ladder(draw: Draw):
    load = os.getloadavg()[0]
    model = LadderClassifier(random_state=0, **draw.ladder_params, **_small(draw))
    model.fit(draw.X, draw.y_few)
    return (model.predict_proba(draw.X_test), model.classes_,
            f"{torch.get_num_threads()} threads, load average {load:.1f} at the start")


@method(LADDER_ALONE)
def fit_ladder_alone(draw: Draw):
    lab = draw.labelled
    steps_per_epoch = math.ceil(int(lab.sum()) / 100)
    steps = (ALONE_STEPS_FEATURES.get(int(lab.sum()), ALONE_STEPS) if draw.image_features
             else ALONE_STEPS)
    epochs = 2 if draw.quick else math.ceil(steps / steps_per_epoch)
    model = LadderClassifier(random_state=0, **{**draw.ladder_params, **_small(draw),
                                                "max_epochs": epochs})
    model.fit(draw.X[lab], draw.y_few[lab])
    return model.predict_proba(draw.X_test), model.classes_, f"{epochs} epochs"


def logistic_cv(y_labelled) -> LogisticRegressionCV:
    """Logistic regression with C from :data:`LR_CS` by stratified k-fold CV on the labelled
    rows ``y_labelled`` (unfitted): the peer of both tables."""
    folds = StratifiedKFold(n_folds(y_labelled), shuffle=True, random_state=0)
    return LogisticRegressionCV(Cs=LR_CS, cv=folds, max_iter=1000)


@method(RAW_CV)
def fit_logistic_cv(draw: Draw):
    lab = draw.labelled
    lr = logistic_cv(draw.y_few[lab])
    with warnings.catch_warnings():  # scikit-learn 1.9 announces new defaults
        warnings.simplefilter("ignore", FutureWarning)
        lr.fit(draw.X[lab], draw.y_few[lab])
    return lr.predict_proba(draw.X_test), lr.classes_, f"C={lr.C_[0]:g}"


@method(SPREADING_CV)
def fit_spreading_cv(draw: Draw):
    with warnings.catch_warnings():  # its normaliser divides 0 by 0 for unreached rows
        warnings.simplefilter("ignore", RuntimeWarning)
        model, params = spreading_cv(draw.Z, draw.y_few, draw.kernel)
        proba = _finite_proba(model.predict_proba(draw.Z_test))
    return proba, model.classes_, str(params)


def method_rows(draw: Draw, y_test, names) -> list:
    """The rows ``names`` (registered in :data:`METHODS`) for one draw of the labels."""
    rows = []
    for name in names:
        start = time.perf_counter()
        proba, classes, note = METHODS[name](draw)
        seconds = time.perf_counter() - start
        rows.append(FewLabelsRow.scored(name, y_test, proba, classes, seconds, note))
    return rows


def _finite_proba(proba):
    proba = np.asarray(proba, dtype=np.float64)
    proba[~np.isfinite(proba).all(1)] = 1 / proba.shape[1]  # rows no label reached
    return proba


def _shown(method: str, features: bool) -> str:
    """A row's name in a table: with ``--image-features`` logistic regression reads the
    pixels and their histograms, not the raw inputs."""
    return method.removesuffix(", raw") if features else method


def image_features(X, X_test):
    """Every row's pixels and orientation histograms (``--image-features``), fitted on the
    training images; square images."""
    side = math.isqrt(X.shape[1])
    features = OrientationHistograms(image_shape=(side, side)).fit(X)
    return features.transform(X), features.transform(X_test)


def run_ladder(name, X, X_test, y, y_test, label_counts, seeds, quick, names,
               features=False, ladder_params=None) -> dict:
    start = time.perf_counter()
    if features:
        X, X_test = image_features(X, X_test)
        name = f"{name} (pixels + orientation histograms, {X.shape[1]} features)"
    if ladder_params:  # the table says which ladder it is
        name = f"{name}, ladder rows with {ladder_params}"
    pca = PCA(32, random_state=0).fit(X)
    Z, Z_test = pca.transform(X), pca.transform(X_test)
    kernel = KnnKernel(Z, max(p["n_neighbors"] for p in SPREADING_GRID))
    print(f"\n{name}: {len(X)} training rows, {len(X_test)} test rows; "
          f"{'image features, ' if features else ''}PCA(32) codes and their kNN graph in "
          f"{time.perf_counter() - start:.1f} s (shared by every draw)")
    out = {}
    for n_labels in label_counts:
        results = []
        for seed in seeds:
            y_few = hide_labels(y, n_labels // 10, random_state=seed)
            draw = Draw(X, y_few, X_test, Z, Z_test, kernel, quick, features,
                        dict(ladder_params or {}))
            rows = method_rows(draw, y_test, names)
            results.append(rows)
            print(f"  {n_labels} labels, seed {seed}: " + ", ".join(
                f"{_shown(r.method, features)} {r.accuracy:.4f} ({r.fit_seconds:.0f} s)"
                for r in rows), flush=True)
        summary = summarise(results)
        for s_, row in zip(summary, results[0]):
            s_["note"] = row.note
            s_["method"] = _shown(s_["method"], features)
        print_table(f"{name}, {n_labels} labels, {len(X) - n_labels} unlabelled, "
                    f"{len(X_test)} test rows", summary, len(seeds))
        out[str(n_labels)] = {"summary": summary, "draws": {
            str(seed): [r.__dict__ for r in rows] for seed, rows in zip(seeds, results)}}
    return out


def print_published() -> None:
    print("\nPublished MNIST test errors (not measured here; for reference):")
    for method, e100, e1000 in PUBLISHED_MNIST:
        e1000 = f"{100 * e1000:.2f}%" if e1000 is not None else "  -  "
        print(f"  {method:<52} 100 labels {100 * e100:5.2f}%   1,000 labels {e1000}")


def summarise(results: list[list[FewLabelsRow]]) -> list[dict]:
    """Mean and spread of each method over the label draws: ``accuracy_std`` is the
    population standard deviation (ddof=0). Every draw fits its models with the same seed
    (``random_state=0``), so it is the spread of the label draws, not of the seeds."""
    out = []
    for i, first in enumerate(results[0]):
        rows = [r[i] for r in results]
        acc = np.array([r.accuracy for r in rows])
        out.append({
            "method": first.method,
            "accuracy": float(acc.mean()),
            "accuracy_std": float(acc.std()),
            "accuracies": acc.tolist(),
            "ece": float(np.mean([r.ece for r in rows])),
            "brier": float(np.mean([r.brier for r in rows])),
            "fit_seconds": float(np.mean([r.fit_seconds for r in rows])),
        })
    return out


def print_table(title: str, summary: list[dict], n_draws: int) -> None:
    width = max(len(s["method"]) for s in summary)
    print(f"\n{title}  (mean over {n_draws} label draw(s); +- is the population standard "
          "deviation, ddof=0, over the draws: label-draw spread, every model seeded 0)")
    print(f"{'method':<{width}}  accuracy          ECE  Brier   fit s")
    for s in summary:
        spread = f"+-{s['accuracy_std']:.3f}" if n_draws > 1 else " " * 7
        print(f"{s['method']:<{width}}  {s['accuracy']:.4f} {spread}  {s['ece']:5.3f}  "
              f"{s['brier']:5.3f}  {s['fit_seconds']:6.1f}  {s.get('note', '')}".rstrip())


TUNED = {RAW: "logistic regression (C by CV), raw inputs",
         PCA_CODES: "logistic regression (C by CV), PCA codes",
         AE_CODES: "logistic regression (C by CV), autoencoder codes"}
"""compare_few_labels' logistic-regression rows as the encoder table runs them: with
``baseline=logistic_cv(...)``, C by k-fold CV on the labelled rows, as in the ladder table."""


def run_dataset(name, X, X_test, y, y_test, label_counts, seeds, quick) -> dict:
    autoencoder = AutoEncoder(n_components=32, random_state=0, max_epochs=3 if quick else 200)
    start = time.perf_counter()
    autoencoder.fit(X)
    ae_seconds = time.perf_counter() - start
    start = time.perf_counter()  # LabelSpreading's PCA codes and kNN graph, shared
    pca = PCA(autoencoder.n_components, random_state=0).fit(X)
    Z, Z_test = pca.transform(X), pca.transform(X_test)
    kernel = KnnKernel(Z, max(p["n_neighbors"] for p in SPREADING_GRID))
    pca_seconds = time.perf_counter() - start
    print(f"\n{name}: {len(X)} training rows, {len(X_test)} test rows; AutoEncoder("
          f"n_components=32) fitted on all training rows in {ae_seconds:.1f} s "
          f"({autoencoder.n_iter_} epochs; labels unused, shared by every draw); PCA(32) "
          f"codes and their kNN graph in {pca_seconds:.1f} s (shared)")
    out = {"autoencoder_seconds": ae_seconds, "autoencoder_epochs": autoencoder.n_iter_}
    for n_labels in label_counts:
        results = []
        for seed in seeds:
            y_few = hide_labels(y, n_labels // 10, random_state=seed)
            classifier = EncoderClassifier(autoencoder, random_state=0,
                                           **({"propagation_epochs": 1} if quick else {}))
            with warnings.catch_warnings():  # scikit-learn 1.9 announces new defaults
                warnings.simplefilter("ignore", FutureWarning)
                comparison = compare_few_labels(
                    X, y_few, X_test, y_test, autoencoder=autoencoder,
                    autoencoder_seconds=ae_seconds, classifier=classifier,
                    baseline=logistic_cv(y_few[y_few != -1]))
            rows = [replace(r, method=TUNED.get(r.method, r.method)) for r in comparison.rows]
            rows += frozen_rows(X, y_few, X_test, y_test, autoencoder, ae_seconds, 0)
            draw = Draw(X, y_few, X_test, Z, Z_test, kernel, quick)
            rows += method_rows(draw, y_test, [SPREADING_CV])
            rows[-1] = replace(rows[-1], fit_seconds=rows[-1].fit_seconds + pca_seconds)
            results.append(rows)
            semi, raw = (next(r for r in rows if r.method == m)
                         for m in (SEMI_SUPERVISED, TUNED[RAW]))
            print(f"  {n_labels} labels, seed {seed}: semi-supervised {semi.accuracy:.4f}, raw "
                  f"logistic regression (C by CV) {raw.accuracy:.4f} "
                  f"({semi.fit_seconds:.0f} s)", flush=True)
        summary = summarise(results)
        for s_, row in zip(summary, results[0]):
            s_["note"] = row.note
        print_table(f"{name}, {n_labels} labels, {len(X) - n_labels} unlabelled, "
                    f"{len(X_test)} test rows", summary, len(seeds))
        out[str(n_labels)] = summary
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", help="label counts (default 100 1000)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="label draws (default 0 1 2)")
    parser.add_argument("--datasets", nargs="+", choices=["fashion", "mnist", "digits"],
                        default=["fashion", "mnist"],
                        help="fashion: Fashion-MNIST; mnist: MNIST (the 8x8 digits when it "
                        "is not on disk); digits: scikit-learn's 8x8 digits")
    parser.add_argument("--quick", action="store_true", help="smoke run: subsets, few epochs")
    parser.add_argument("--methods", nargs="+", choices=[*TABLES, "encoder"],
                        default=["ladder", "encoder"],
                        help="ladder: LadderClassifier and the CV-tuned baselines (rows "
                        "registered in METHODS); encoder: EncoderClassifier and its "
                        "baselines")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads for every fit (default 2: the timed budget)")
    parser.add_argument("--image-features", action="store_true",
                        help="the ladder table on the pixels plus their orientation "
                        "histograms (aekit.data.OrientationHistograms), for every method")
    parser.add_argument("--ladder-params", type=json.loads, default={},
                        help="JSON object of LadderClassifier parameters for both ladder "
                        "rows, e.g. '{\"label_smoothing\": 0.1}' (default: the defaults)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; load average before: {load_before:.2f}")
    results = {"load_before": load_before}
    for name, X, X_test, y, y_test, counts in datasets(args.quick, args.datasets):
        if args.labels and not name.startswith("digits"):  # the stand-in has 100 labels
            counts = tuple(args.labels)
        for table in (t for t in args.methods if t in TABLES):
            key = f"{name} {table}{' image features' if args.image_features else ''}"
            results[key] = run_ladder(name, X, X_test, y, y_test, counts, args.seeds,
                                      args.quick, TABLES[table], args.image_features,
                                      args.ladder_params)
        if "encoder" in args.methods:
            results[name] = run_dataset(name, X, X_test, y, y_test, counts, args.seeds,
                                        args.quick)
    if "ladder" in args.methods:
        print_published()
    fashion = results.get("Fashion-MNIST", {}).get("100")
    if fashion:
        semi = next(s for s in fashion if s["method"] == SEMI_SUPERVISED)["accuracy"]
        raw = next(s for s in fashion if s["method"] == TUNED[RAW])["accuracy"]
        print(f"\nFashion-MNIST, 100 labels: semi-supervised {semi:.4f}, raw logistic regression "
              f"(C by CV) {raw:.4f} here ({PUBLISHED_RAW_LR} in the issue): "
              f"{100 * (semi - raw):+.1f} points here, "
              f"{100 * (semi - PUBLISHED_RAW_LR):+.1f} against the issue's.")
    results["load_after"] = os.getloadavg()[0]
    print(f"load average after: {results['load_after']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
