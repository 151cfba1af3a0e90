"""bench/few_labels.py's ladder table: its method registry takes another method's rows (the
way M1+M2 joins the table), on the digits in the smoke mode."""

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def few_labels(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import few_labels as module

    yield module
    sys.modules.pop("few_labels", None)


@pytest.mark.slow
def test_a_registered_method_gets_its_row_beside_the_ladder_s(few_labels, monkeypatch):
    seen = {}

    def majority(draw):  # predicts the most frequent label for every test row
        labels = draw.y_few[draw.labelled]
        classes = np.unique(labels)
        proba = np.zeros((len(draw.X_test), len(classes)))
        proba[:, np.argmax(np.bincount(np.searchsorted(classes, labels)))] = 1.0
        seen["n_labelled"] = int(draw.labelled.sum())
        return proba, classes, "majority class"

    monkeypatch.setitem(few_labels.METHODS, "majority", majority)
    monkeypatch.setitem(few_labels.TABLES, "extra", ["majority",
                                                     few_labels.LADDER_ALONE])
    results = few_labels.main(["--methods", "extra", "--datasets", "digits", "--quick",
                               "--seeds", "0", "--threads", "1"])
    summary = results["digits (8x8) extra"]["100"]["summary"]
    assert [row["method"] for row in summary] == ["majority", few_labels.LADDER_ALONE]
    assert seen["n_labelled"] == 100
    assert 0.05 < summary[0]["accuracy"] < 0.2  # one class of ten: about a tenth


@pytest.mark.slow
def test_image_features_reach_every_method(few_labels, monkeypatch):
    seen = {}

    def record(draw):
        seen["features"], seen["flag"] = draw.X.shape[1], draw.image_features
        assert draw.X_test.shape[1] == draw.X.shape[1]
        classes = np.unique(draw.y_few[draw.labelled])
        return np.full((len(draw.X_test), len(classes)), 1 / len(classes)), classes, ""

    monkeypatch.setitem(few_labels.METHODS, "record", record)
    monkeypatch.setitem(few_labels.TABLES, "extra", ["record"])
    results = few_labels.main(["--methods", "extra", "--datasets", "digits", "--quick",
                               "--seeds", "0", "--threads", "1", "--image-features"])
    # 64 pixels + one 6x6 cell of the 8x8 digits x 9 bins
    assert seen == {"features": 64 + 9, "flag": True}
    assert "digits (8x8) extra image features" in results


@pytest.mark.slow
def test_the_encoder_table_has_the_ladder_table_s_tuned_peers(few_labels, monkeypatch):
    # one home for each peer: the encoder table's tuned logistic regression and
    # LabelSpreading score exactly what the ladder table's rows score on the same draw
    monkeypatch.setitem(few_labels.TABLES, "peers", [few_labels.RAW_CV,
                                                     few_labels.SPREADING_CV])
    results = few_labels.main(["--methods", "peers", "encoder", "--datasets", "digits",
                               "--quick", "--seeds", "0", "--threads", "1"])
    ladder = {r["method"]: r for r in results["digits (8x8) peers"]["100"]["summary"]}
    encoder = {r["method"]: r for r in results["digits (8x8)"]["100"]}
    raw = encoder[few_labels.TUNED[few_labels.RAW]]
    assert raw["accuracy"] == ladder[few_labels.RAW_CV]["accuracy"]
    spreading = encoder[few_labels.SPREADING_CV]
    assert spreading["accuracy"] == ladder[few_labels.SPREADING_CV]["accuracy"]
    assert spreading["note"] == ladder[few_labels.SPREADING_CV]["note"]
    assert all("C by CV" in name for name in (few_labels.TUNED[m] for m in (
        few_labels.RAW, few_labels.PCA_CODES, few_labels.AE_CODES)))
