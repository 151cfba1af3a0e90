"""The first hour with real files (issue 20): labels read right, tables with missing cells
through the command line, the user's column names, missing cells in the numbers, verdicts
with their uncertainty, compare_with_pca's edge cases, compressed files, the bottleneck's
activation and the seed's Keras recipe."""

from __future__ import annotations

import gzip
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from aekit import AutoEncoder
from aekit.anomaly.metrics import AmbiguousLabels, anomaly_labels, detection_metrics

from conftest import assert_ok, assert_one_line_error, invoke

FAST = ["--max-epochs", "10", "--seed", "0", "--device", "cpu"]


# --------------------------------------------------------------------------- 1. labels
def kdd_like(n=400, seed=0):
    """A table shaped like KDD Cup 99 as it ships: no header, a text column, labels with a
    trailing period, most rows attacks (``smurf.``), the normal rows (``normal.``) a
    minority, each attack far from the normal rows."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(["normal.", "smurf.", "neptune."], size=n, p=[0.3, 0.5, 0.2])
    X = rng.normal(size=(n, 4))
    X[kind == "smurf."] += 4.0
    X[kind == "neptune."] -= 4.0
    proto = np.where(kind == "normal.", "tcp", rng.choice(["icmp", "udp"], size=n))
    frame = pd.DataFrame(X.round(5))
    frame.insert(1, "p", proto)
    frame["label"] = kind
    return frame, kind


@pytest.fixture(scope="module")
def kdd_file(tmp_path_factory):
    frame, kind = kdd_like()
    path = tmp_path_factory.mktemp("kdd") / "kddcup.csv"
    frame.to_csv(path, header=False, index=False)
    return path, kind


def test_anomaly_labels_reads_kdd_labels_and_refuses_to_guess():
    y = np.array(["smurf.", "normal.", "smurf.", "neptune.", "smurf."])
    assert anomaly_labels(y).tolist() == [True, False, True, True, True]
    assert anomaly_labels([" Benign", "attack", "attack"]).tolist() == [False, True, True]
    # No value named normal: the most frequent one is not a safe guess.
    with pytest.raises(AmbiguousLabels, match=r"'a' \(2 rows\).*normal=VALUE"):
        anomaly_labels(["a", "b", "a", "c"])
    assert anomaly_labels(["a", "b", "a", "c"], normal="a").tolist() == [False, True,
                                                                         False, True]
    assert anomaly_labels(["a", "b", "a", "c"], anomaly="c").tolist() == [False, False,
                                                                          False, True]
    assert anomaly_labels([3, 5, 3], normal="5").tolist() == [True, False, True]  # by text
    with pytest.raises(ValueError, match="neither"):
        anomaly_labels(["a", "b", "c"], normal="a", anomaly="b")
    with pytest.raises(ValueError, match="not among"):
        anomaly_labels(["a", "b"], normal="x")


def test_detect_and_score_read_kdd_labels(kdd_file, tmp_path):
    path, kind = kdd_file
    run = tmp_path / "det"
    result = invoke("detect", "--data", path, "--label", "6", *FAST, "--out", run)
    assert_ok(result)
    # One line says which value is normal; the ROC-AUC is measured against it.
    assert "labels taken as normal: 'normal.'" in result.stdout, result.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    truth = kind != "normal."
    assert metrics["labels"]["n_anomalies"] == int(truth.sum())
    assert metrics["labels"]["roc_auc"] > 0.6
    scores = pd.read_csv(run / "scores.csv")["anomaly_score"].to_numpy()
    assert metrics["labels"]["roc_auc"] == pytest.approx(
        detection_metrics(truth, scores)["roc_auc"], abs=1e-6)
    result = invoke("score", run, path, "--label", "6", "--out", tmp_path / "s.csv")
    assert_ok(result)
    assert "normal: 'normal.'" in result.stdout
    auc = float(result.stdout.split("ROC-AUC ")[1].split()[0].rstrip(","))
    assert auc == pytest.approx(metrics["labels"]["roc_auc"], abs=1e-3)


def test_cli_refuses_to_guess_the_normal_label(kdd_file, tmp_path):
    path, kind = kdd_file
    relabelled = tmp_path / "relabelled.csv"
    frame = pd.read_csv(path, header=None)
    frame[5] = frame[5].str.replace("normal.", "ok.")
    frame.to_csv(relabelled, header=False, index=False)
    result = invoke("detect", "--data", relabelled, "--label", "6", *FAST, "--out",
                    tmp_path / "r")
    assert_one_line_error(result, "'smurf.'", "'ok.'", "--normal VALUE", "--anomaly VALUE")
    result = invoke("detect", "--data", relabelled, "--label", "6", "--normal", "ok.",
                    *FAST, "--out", tmp_path / "r")
    assert_ok(result)
    assert "normal: 'ok.'" in result.stdout
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["labels"]["n_anomalies"] == int((kind != "normal.").sum())
    result = invoke("detect", "--data", relabelled, "--label", "6", "--normal", "nope",
                    *FAST, "--out", tmp_path / "r2")
    assert_one_line_error(result, "--normal 'nope'", "'ok.'")


# --------------------------------------------------------------------------- 2. --missing
def test_detect_screens_a_table_with_missing_cells(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
    frame["kind"] = rng.choice(["x", "y"], size=200)
    frame.loc[rng.choice(200, 40, replace=False), "b"] = np.nan  # 20% missing
    frame.loc[:2, ["a", "c"]] = 9.0  # three far rows
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    result = invoke("detect", "--data", path, *FAST, "--out", tmp_path / "err")
    assert_one_line_error(result, "missing", "--missing impute")
    assert "Pipeline" not in result.stderr
    run = tmp_path / "det"
    result = invoke("detect", "--data", path, "--missing", "impute", *FAST, "--out", run)
    assert_ok(result)
    scores = pd.read_csv(run / "scores.csv")["anomaly_score"].to_numpy()
    assert np.isfinite(scores).all()
    assert set(np.argsort(-scores)[:3]) == {0, 1, 2}
    # The saved detector imputes as fitted: scoring the same file gives the same scores.
    assert_ok(invoke("score", run, path, "--out", tmp_path / "s.csv"))
    again = pd.read_csv(tmp_path / "s.csv")["anomaly_score"].to_numpy()
    np.testing.assert_allclose(again, scores, rtol=1e-5)
