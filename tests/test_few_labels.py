"""aekit.semisupervised.comparison: hidden labels, calibration measures, the baselines table,
its report section."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from aekit import AutoEncoder, EncoderClassifier
from aekit.data import Dataset
from aekit.semisupervised.classifier import UnreadInThisFitWarning
from aekit.semisupervised.comparison import (
    AE_CODES,
    LABELLED_ONLY,
    PCA_CODES,
    RAW,
    SEMI_SUPERVISED,
    brier_score,
    compare_few_labels,
    expected_calibration_error,
    hide_labels,
)
from aekit.report.model import build_report


def test_hide_labels_keeps_n_per_class_and_marks_the_rest_minus_one(digits):
    y = digits[2]
    y_few = hide_labels(y, 5, random_state=0)
    kept = y_few != -1
    np.testing.assert_array_equal(np.bincount(y_few[kept]), np.full(10, 5))
    np.testing.assert_array_equal(y_few[kept], y[kept])
    np.testing.assert_array_equal(hide_labels(y, 5, random_state=0), y_few)  # seeded
    assert not np.array_equal(hide_labels(y, 5, random_state=1), y_few)
    # text labels come back as an object array; rows already -1 stay unlabelled
    text = hide_labels(np.array(["a", "b", "a", "b", -1], dtype=object), 1, random_state=0)
    assert text.dtype == object and sorted(text[text != -1]) == ["a", "b"]
    assert text[4] == -1 and sum(v == -1 for v in text) == 3
    with pytest.raises(ValueError, match="class labels, integers or text"):
        hide_labels(np.array([0.5, 1.5]), 1)


@pytest.mark.parametrize("dtype, signed", [(np.uint8, np.int16), (np.uint32, np.int64),
                                           (np.uint64, np.int64), (np.int32, np.int32)])
def test_hide_labels_of_unsigned_labels_come_back_signed(digits, dtype, signed):
    # MNIST ships uint8 labels: -1 did not fit (OverflowError).
    y = digits[2].astype(dtype)
    y_few = hide_labels(y, 3, random_state=0)
    assert y_few.dtype == signed and (y_few == -1).sum() == len(y) - 30
    np.testing.assert_array_equal(y_few[y_few != -1], y[y_few != -1])


@pytest.mark.parametrize("y, n, match", [
    (np.full(10, -1), 2, "every row of y is -1"),
    (np.array([0, 1, None, 1], dtype=object), 1, r"missing labels.*marked -1"),
    (np.array([0.0, 1.0, np.nan]), 1, r"missing labels.*np.where\(pd.isna\(y\), -1, y\)"),
    (np.array(["a", "b", "-1"]), 1, "the text '-1'"),
    (np.array([0, 1]), -1, r"n_per_class must be an integer >= 0.*got -1"),
    (np.array([0, 1]), 2.5, r"n_per_class must be an integer >= 0.*got 2.5"),
])
def test_hide_labels_refuses_what_fit_refuses_with_the_fix(y, n, match):
    with pytest.raises(ValueError, match=match):
        hide_labels(y, n)


def test_compare_few_labels_leaves_out_unlabelled_test_rows_as_score_does(digits):
    X_train, X_test, y_train, y_test = digits
    X, y = X_train[:300], hide_labels(y_train[:300], 5, random_state=0)
    ae = AutoEncoder(n_components=8, hidden_layer_sizes=(32,), max_epochs=3,
                     random_state=0).fit(X)
    clf = EncoderClassifier(ae, max_epochs=3, propagation_epochs=1, random_state=0)
    y_half = y_test.copy()
    y_half[::2] = -1  # every other test row unlabelled: no method's error
    with warnings.catch_warnings():
        # One classifier fitted on the labelled rows and on all: each reads its own epochs.
        warnings.simplefilter("error", UnreadInThisFitWarning)
        result = compare_few_labels(X, y, X_test, y_half, autoencoder=ae, classifier=clf)
    assert result.n_test == len(y_test[1::2])
    raw = LogisticRegression(max_iter=1000).fit(X[y != -1], y[y != -1])
    assert result.accuracy(RAW) == pytest.approx(raw.score(X_test[1::2], y_test[1::2]))


def test_empty_label_cells_become_minus_one_and_labels_keep_their_kind():
    from aekit.semisupervised.labels import blanks_unlabelled

    ints = blanks_unlabelled(np.array([3.0, np.nan, 1.0]))  # a numeric column with a blank
    assert ints.dtype == np.int64 and ints.tolist() == [3, -1, 1]
    assert blanks_unlabelled(np.array([3, pd.NA, 1], dtype=object)).tolist() == [3, -1, 1]
    text = blanks_unlabelled(np.array(["cat", None, "3"], dtype=object))
    assert text.tolist() == ["cat", -1, "3"]  # text stays text, "3" included
    # a text column's "-1" cells, as the command line's help says, without a blank too
    assert blanks_unlabelled(np.array(["cat", " -1", "3"])).tolist() == ["cat", -1, "3"]
    assert blanks_unlabelled(np.array(["cat", "-1", None], dtype=object)).tolist() == \
        ["cat", -1, -1]
    assert blanks_unlabelled(np.array([True, None], dtype=object)).tolist() == [True, -1]
    # fractions are no classes: fit says so (continuous targets), as without the blank
    assert blanks_unlabelled(np.array([0.5, np.nan])).tolist() == [0.5, -1]
    assert blanks_unlabelled(np.array([2, 0, 1])).tolist() == [2, 0, 1]


def test_expected_calibration_error_of_known_cases():
    y = np.array([0, 0, 0, 0, 1])
    # Every row predicted class 0 with confidence 0.8, and 4 of 5 are right: calibrated.
    proba = np.tile([0.8, 0.2], (5, 1))
    assert expected_calibration_error(y, proba) == pytest.approx(0.0)
    # Certain of every row, 4 of 5 right: off by 0.2.
    assert expected_calibration_error(y, np.tile([1.0, 0.0], (5, 1))) == pytest.approx(0.2)
    # Column labels other than 0..n-1.
    assert expected_calibration_error(np.array(["b"]), np.array([[0.1, 0.9]]),
                                      classes=np.array(["a", "b"])) == pytest.approx(0.1)


def test_brier_score_of_known_cases():
    y = np.array([0, 1])
    assert brier_score(y, np.array([[1.0, 0.0], [0.0, 1.0]])) == 0.0
    assert brier_score(y, np.array([[0.0, 1.0], [1.0, 0.0]])) == 2.0
    assert brier_score(y, np.array([[0.5, 0.5], [0.5, 0.5]])) == pytest.approx(0.5)


@pytest.fixture(scope="module")
def comparison(digits):
    X_train, X_test, y_train, y_test = digits
    ae = AutoEncoder(n_components=16, max_epochs=30, random_state=0)
    clf = EncoderClassifier(ae, propagation_epochs=50, random_state=0)
    return compare_few_labels(X_train, hide_labels(y_train, 10, random_state=0), X_test,
                              y_test, autoencoder=ae, classifier=clf)


def test_every_method_is_scored_on_the_same_rows(comparison, digits):
    assert [r.method for r in comparison.rows] == [RAW, PCA_CODES, AE_CODES, LABELLED_ONLY,
                                                   SEMI_SUPERVISED]
    assert (comparison.n_labelled, comparison.n_unlabelled, comparison.n_test,
            comparison.n_classes) == (100, len(digits[0]) - 100, len(digits[1]), 10)
    for r in comparison.rows:
        assert 0.1 < r.accuracy <= 1 and 0 <= r.ece <= 1 and 0 <= r.brier <= 2
        assert r.fit_seconds >= 0


def test_the_raw_baseline_is_plain_logistic_regression_on_the_labelled_rows(comparison, digits):
    X_train, X_test, y_train, y_test = digits
    y_few = hide_labels(y_train, 10, random_state=0)
    keep = y_few != -1
    by_hand = LogisticRegression(max_iter=1000).fit(X_train[keep], y_few[keep])
    assert comparison.accuracy(RAW) == pytest.approx(by_hand.score(X_test, y_test))


def test_the_unlabelled_rows_help_on_digits(comparison):
    # Measured: 0.949 against 0.887 (raw) and 0.893 (labelled rows only).
    assert comparison.accuracy(SEMI_SUPERVISED) > comparison.accuracy(LABELLED_ONLY)
    assert comparison.accuracy(SEMI_SUPERVISED) > comparison.accuracy(RAW)


def test_the_shared_autoencoder_fit_time_is_counted_where_it_is_used(comparison):
    seconds = {r.method: r.fit_seconds for r in comparison.rows}
    for method in (AE_CODES, LABELLED_ONLY, SEMI_SUPERVISED):
        assert seconds[method] > seconds[RAW]
        assert "autoencoder" in next(r.note for r in comparison.rows if r.method == method)


def test_table_and_json(comparison):
    text = comparison.table()
    assert str(comparison) == text
    for r in comparison.rows:
        assert r.method in text
    assert "100 labelled rows (10 classes)" in text
    data = json.loads(json.dumps(comparison.to_dict()))
    assert [row["method"] for row in data["rows"]] == [r.method for r in comparison.rows]
    with pytest.raises(KeyError, match="no method"):
        comparison.accuracy("nearest centroid")


def test_a_fitted_autoencoder_is_reused_and_its_seconds_counted(digits):
    X_train, X_test, y_train, y_test = digits
    ae = AutoEncoder(n_components=8, max_epochs=5, random_state=0).fit(X_train)
    history = list(ae.history_)
    clf = EncoderClassifier(ae, propagation_epochs=2, random_state=0)
    result = compare_few_labels(X_train, hide_labels(y_train, 5, random_state=0), X_test,
                                y_test, autoencoder=ae, autoencoder_seconds=100.0,
                                classifier=clf)
    assert ae.history_ == history  # not refitted
    seconds = {r.method: r.fit_seconds for r in result.rows}
    assert seconds[AE_CODES] >= 100 and seconds[SEMI_SUPERVISED] >= 100 and seconds[RAW] < 100


def test_report_has_a_few_labels_section(comparison, digits):
    X_train, X_test, y_train, y_test = digits
    ae = AutoEncoder(n_components=2, max_epochs=2, random_state=0).fit(X_train)
    data = Dataset(X_train, X_test, y_train, y_test, None, (8, 8), "digits")
    page = build_report(ae, data, few_labels=comparison)
    assert '<section id="few-labels"><h2>Few labels</h2>' in page
    for r in comparison.rows:
        assert f"<td>{r.method}</td>" in page
    assert 'id="few-labels"' not in build_report(ae, data)
