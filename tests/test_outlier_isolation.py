"""OutlierDetector's isolation term: the forest held as tensors scores as scikit-learn's
IsolationForest does, it is saved and loaded without pickle, it lifts the detector where the
autoencoder terms lose to IsolationForest, and its weight is validated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from aekit import OutlierDetector, load
from aekit.anomaly.isolation import average_path_length, fit_isolation, tree_nodes
from aekit.nn.isolation import IsolationTrees

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "anomaly"
FAST = dict(max_epochs=10, random_state=0, device="cpu")


def rows(n=800, seed=0):
    """Gaussian rows with a near-discrete column (ties) and a few far-out rows."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[:, 3] = np.round(X[:, 3])
    X[:8, :2] += 5.0
    return X


@pytest.mark.parametrize("n", [5, 300, 2000])
def test_trees_as_tensors_score_as_scikit_learn(n):
    # The same forest (same seed) walked as tensors: the scores of scikit-learn's
    # IsolationForest, to rounding, on training rows and on new ones (some far out).
    X = rows(max(n, 10))[:n].astype(np.float32)
    new = rows(200, seed=1).astype(np.float32) * 1.5
    trees = IsolationTrees(100, tree_nodes(min(256, n)))
    fit_isolation(trees, X, 256, seed=3)
    forest = IsolationForest(max_samples=min(256, n), random_state=3).fit(X)
    for A in (X, new):
        np.testing.assert_allclose(trees(torch.from_numpy(A)).numpy(),
                                   -forest.score_samples(A), rtol=0, atol=1e-12)


def test_average_path_length_is_liu_et_al():
    c = average_path_length([0, 1, 2, 3, 256])
    assert c[0] == c[1] == 0 and c[2] == 1
    harmonic = np.log(255) + np.euler_gamma
    assert abs(c[4] - (2 * harmonic - 2 * 255 / 256)) < 1e-12
    assert c[3] < c[4]


def test_isolation_weight_zero_fits_no_forest_and_changes_the_score():
    X = rows()
    with_forest = OutlierDetector(**FAST).fit(X)
    without = OutlierDetector(isolation_weight=0.0, **FAST).fit(X)
    assert with_forest.isolation_nodes_ == 2 * 256 - 1
    assert without.isolation_nodes_ == 0 and without.module_.isolation is None
    assert not np.allclose(with_forest.score_samples(X), without.score_samples(X))
    # The other terms are fitted as they were: the forest draws its seed last.
    terms_a = with_forest._terms(X)[:, :4]
    terms_b = without._terms(X)[:, :4]
    np.testing.assert_array_equal(terms_a, terms_b)


def test_isolation_term_is_the_forest_on_the_scaled_rows():
    # The raw term is an IsolationForest's score of the detector's scaled rows: rows far
    # out on two columns get the highest scores.
    X = rows()
    det = OutlierDetector(**FAST).fit(X)
    iso = det._terms(X)[:, 4]
    assert roc_auc_score(np.arange(len(X)) < 8, iso) > 0.99
    assert np.all((iso > 0) & (iso <= 1))


def test_same_seed_same_scores_and_save_load_round_trip(tmp_path):
    X = rows()
    det = OutlierDetector(**FAST).fit(X)
    again = OutlierDetector(**FAST).fit(X)
    np.testing.assert_array_equal(det.score_samples(X), again.score_samples(X))
    det.save(tmp_path / "det")
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.pt"))
    loaded = load(tmp_path / "det")
    assert loaded.isolation_nodes_ == det.isolation_nodes_
    np.testing.assert_array_equal(loaded.score_samples(X), det.score_samples(X))
    np.testing.assert_array_equal(loaded._terms(X)[:, 4], det._terms(X)[:, 4])
    assert loaded.offset_ == det.offset_


def test_the_forest_is_saved_as_tensors_only_when_fitted(tmp_path):
    from safetensors.torch import load_file

    X = rows()
    for weight in (2.0, 0.0):
        det = OutlierDetector(isolation_weight=weight, **FAST).fit(X)
        det.save(tmp_path / str(weight))
        (weights,) = list((tmp_path / str(weight)).glob("*.safetensors"))
        names = {k for k in load_file(weights) if k.startswith("isolation.")}
        assert names == ({"isolation.feature", "isolation.threshold", "isolation.branches",
                          "isolation.path"} if weight else set())
        np.testing.assert_array_equal(load(tmp_path / str(weight)).score_samples(X),
                                      det.score_samples(X))


def test_table_with_text_columns_and_a_streamed_fit(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    a = rng.normal(size=n)
    df = pd.DataFrame({"a": a, "kind": rng.choice(["x", "y", "z"], size=n),
                       "b": 2 * a + 0.1 * rng.normal(size=n)})
    df.loc[:4, "a"] += 6
    det = OutlierDetector(**FAST).fit(df)
    assert det.module_.isolation is not None
    assert roc_auc_score(np.arange(n) < 5, det._terms(det._check_X(df, reset=False))[:, 4]) > 0.95
    det.save(tmp_path / "table")
    np.testing.assert_array_equal(load(tmp_path / "table").score_samples(df),
                                  det.score_samples(df))
    # A file read chunk by chunk: the forest is fitted on the sample the fit keeps.
    X = rows(3000)
    np.save(tmp_path / "rows.npy", X.astype(np.float32))
    streamed = OutlierDetector(**FAST).fit(str(tmp_path / "rows.npy"))
    assert streamed.module_.isolation is not None
    scores = -streamed.score_samples(X)
    assert roc_auc_score(np.arange(len(X)) < 8, scores) > 0.99


@pytest.mark.parametrize("value, message", [
    (-1.0, "isolation_weight"),
    ("2", "isolation_weight"),
])
def test_isolation_weight_is_validated(value, message):
    with pytest.raises(ValueError, match=message):
        OutlierDetector(isolation_weight=value).fit(rows(50))


def test_all_weights_zero_is_an_error():
    zero = dict(reconstruction_weight=0, density_weight=0, tail_weight=0, neighbor_weight=0,
                isolation_weight=0)
    with pytest.raises(ValueError, match="isolation_weight are all 0"):
        OutlierDetector(**zero).fit(rows(50))
    only = OutlierDetector(**{**zero, "isolation_weight": 1.0}, **FAST).fit(rows())
    assert roc_auc_score(np.arange(800) < 8, -only.score_samples(rows())) > 0.99


def test_lifts_the_detector_where_isolation_forest_wins():
    # ADBench's cardio (a development set): IsolationForest 0.93 ROC-AUC, the autoencoder
    # terms alone 0.88; the isolation term closes most of the gap.
    path = DATA / "6_cardio.npz"
    if not path.is_file():
        pytest.skip(f"{path} absent: the ADBench tables live in ../shared/data/anomaly")
    with np.load(path, allow_pickle=False) as data:
        X, y = data["X"].astype(np.float64), data["y"].astype(int)
    X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                  random_state=0)
    auc = {w: roc_auc_score(y_test, -OutlierDetector(isolation_weight=w, random_state=0)
                            .fit(X_train).score_samples(X_test)) for w in (0.0, 2.0)}
    assert auc[2.0] > auc[0.0] + 0.01, auc


def test_cli_detect_takes_the_isolation_weight(tmp_path):
    from conftest import assert_ok, assert_one_line_error, invoke

    X = rows(300)
    path = tmp_path / "rows.csv"
    np.savetxt(path, X, delimiter=",", header="a,b,c,d,e", comments="", fmt="%.8g")
    fast = ["--max-epochs", "5", "--seed", "0", "--device", "cpu"]
    for weight, nodes in (("0", 0), ("2.5", 2 * 256 - 1)):
        run = tmp_path / f"run{weight}"
        assert_ok(invoke("detect", "--data", path, "--isolation-weight", weight, *fast,
                         "--out", run))
        det = load(run)
        assert det.isolation_weight == float(weight) and det.isolation_nodes_ == nodes
    assert_one_line_error(invoke("detect", "--data", path, "--isolation-weight", "-1", *fast,
                                 "--out", tmp_path / "bad"), "isolation")


def test_a_detector_saved_before_the_isolation_term_loads_and_scores_as_it_did(tmp_path):
    # A file written before the term: no isolation_weight among its parameters, no
    # isolation_nodes_, the calibration of four terms. It loads with the weight 0 it was
    # fitted with and gives the scores it gave (what a current detector with
    # isolation_weight=0 gives, term for term).
    import hashlib
    import json

    import safetensors.torch

    from aekit.core import storage

    X = rows(300)
    det = OutlierDetector(isolation_weight=0.0, **FAST).fit(X)
    det.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    del cfg["params"]["isolation_weight"]
    del cfg["fitted"]["isolation_nodes_"]
    path = tmp_path / "m" / cfg["weights"]
    tensors = safetensors.torch.load(path.read_bytes())
    for key in ("term_location", "term_scale", "term_quantiles"):
        tensors[key] = tensors[key][:4].clone()
    blob = safetensors.torch.save(tensors)
    path.write_bytes(blob)
    cfg["weights_sha256"] = hashlib.sha256(blob).hexdigest()
    cfg["sha256"] = storage.config_checksum(cfg)
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    old = load(tmp_path / "m")
    assert old.isolation_weight == 0.0
    np.testing.assert_array_equal(old.score_samples(X), det.score_samples(X))
    np.testing.assert_array_equal(old.predict(X), det.predict(X))
