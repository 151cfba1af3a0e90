"""Tests for aekit.evaluation.metrics: finer reconstruction errors, the PCA sweep, probes on
codes."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import r2_score

from aekit import AutoEncoder
from aekit.evaluation.metrics import (
    CodeQuality,
    code_quality,
    element_errors,
    explained_variance,
    pca_sweep,
    probe_codes,
    r2_per_feature,
    reconstruction_errors,
    row_errors,
)


@pytest.fixture(scope="module")
def digits_ae(digits):
    X_train = digits[0]
    return AutoEncoder(
        n_components=2, hidden_layer_sizes=(64, 32), max_epochs=60, random_state=0
    ).fit(X_train)


# --------------------------------------------------------------------------- errors
def test_element_and_row_errors_agree_with_the_summary_errors():
    rng = np.random.RandomState(0)
    X, X_hat = rng.normal(size=(30, 5)), rng.normal(size=(30, 5))
    E = element_errors(X, X_hat)
    assert E.shape == (30, 5)
    np.testing.assert_allclose(E, (X - X_hat) ** 2)
    rows = row_errors(X, X_hat)
    assert rows.shape == (30,)
    summary = reconstruction_errors(X, X_hat)
    assert rows.mean() == pytest.approx(summary["mse"])
    assert (rows * 5).mean() == pytest.approx(summary["row_sse"])


def test_row_errors_match_score_samples(digits, digits_ae):
    X_test = digits[1]
    # score_samples measures in the model's scaled units (where PCA is compared too).
    np.testing.assert_allclose(
        row_errors(digits_ae.to_scaled(X_test), digits_ae.reconstruct_scaled(X_test)),
        -digits_ae.score_samples(X_test),
        rtol=1e-4, atol=1e-7,
    )


def test_errors_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        row_errors(np.zeros((3, 4)), np.zeros((3, 5)))


def test_r2_per_feature_matches_sklearn():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(50, 4)) * [1, 10, 0.1, 3] + [0, 5, -2, 100]
    X_hat = X + rng.normal(scale=0.5, size=X.shape)
    np.testing.assert_allclose(
        r2_per_feature(X, X_hat), r2_score(X, X_hat, multioutput="raw_values")
    )


def test_r2_per_feature_constant_columns_follow_sklearn():
    X = np.column_stack([np.ones(10), np.ones(10), np.arange(10.0)])
    X_hat = X.copy()
    X_hat[:, 1] += 0.5  # a constant column reconstructed wrongly scores 0, exactly: 1
    np.testing.assert_allclose(r2_per_feature(X, X_hat), [1.0, 0.0, 1.0])
    np.testing.assert_allclose(
        r2_per_feature(X, X_hat), r2_score(X, X_hat, multioutput="raw_values")
    )


def test_explained_variance_limits():
    rng = np.random.RandomState(2)
    X = rng.normal(size=(40, 6))
    assert explained_variance(X, X) == 1.0
    assert explained_variance(X, np.tile(X.mean(axis=0), (40, 1))) == pytest.approx(0.0)
    assert explained_variance(X, X + 3.0) < 0  # worse than the mean


def test_explained_variance_of_pca_equals_its_ratio_on_train_data(digits):
    X_train = digits[0]
    pca = PCA(n_components=5).fit(X_train)
    ev = explained_variance(X_train, pca.inverse_transform(pca.transform(X_train)))
    assert ev == pytest.approx(pca.explained_variance_ratio_.sum(), rel=1e-5)


# --------------------------------------------------------------------------- sweep
def test_pca_sweep_errors_decrease_in_k(digits):
    X_train, X_test = digits[0], digits[1]
    sweep = pca_sweep(X_train, X_test, [1, 2, 4, 8, 16])
    assert [c.n_components for c in sweep] == [1, 2, 4, 8, 16]
    errors = [c.pca_mse for c in sweep]
    assert all(a > b for a, b in zip(errors, errors[1:]))
    assert all(np.isnan(c.ae_mse) for c in sweep)


def test_pca_sweep_matches_separate_pca_fits(digits):
    X_train, X_test = digits[0], digits[1]
    (c,) = pca_sweep(X_train, X_test, [3])
    pca = PCA(n_components=3, svd_solver="full").fit(X_train)
    want = reconstruction_errors(X_test, pca.inverse_transform(pca.transform(X_test)))["mse"]
    assert c.pca_mse == pytest.approx(want, rel=1e-7)


def test_pca_sweep_fits_one_estimator_per_k(digits):
    X_train, X_test = digits[0][:300], digits[1][:100]
    made = []

    def factory(k):
        made.append(k)
        return AutoEncoder(n_components=k, hidden_layer_sizes=(16,), max_epochs=3,
                           random_state=0)

    sweep = pca_sweep(X_train, X_test, [1, 3], factory)
    assert made == [1, 3]
    assert all(np.isfinite(c.ae_mse) and c.ae_mse > 0 for c in sweep)
    assert sweep[0].pca_mse > sweep[1].pca_mse


def test_pca_sweep_rejects_impossible_k(digits):
    with pytest.raises(ValueError, match="k"):
        pca_sweep(digits[0], digits[1], [0, 2])
    with pytest.raises(ValueError, match="min"):
        pca_sweep(digits[0][:10], digits[1], [20])


# --------------------------------------------------------------------------- probes
def test_probes_are_well_above_chance_on_digits_codes(digits, digits_ae):
    X_train, X_test, y_train, y_test = digits
    q = code_quality(digits_ae, X_train, y_train, X_test, y_test)
    assert isinstance(q, CodeQuality)
    assert q.chance == pytest.approx(np.bincount(y_test).max() / len(y_test))
    assert q.chance < 0.15
    # Ten classes from two numbers per image: far above chance, far below perfect.
    assert q.knn_accuracy > 0.5
    assert q.logistic_accuracy > 0.35
    assert 0.7 < q.trustworthiness <= 1.0
    assert set(q.to_dict()) == {
        "knn_accuracy", "logistic_accuracy", "trustworthiness", "chance", "n_neighbors"
    }
    assert "accuracy" in str(q)


def test_probes_on_pca_codes_and_perfect_codes(digits):
    X_train, X_test, y_train, y_test = digits
    # Codes that are the label itself are perfectly separable.
    scores = probe_codes(y_train[:, None] * 1.0, y_train, y_test[:, None] * 1.0, y_test)
    assert scores["knn_accuracy"] == 1.0
    pca = PCA(n_components=10).fit(X_train)
    q = code_quality(pca, X_train, y_train, X_test, y_test, max_rows=200)
    assert q.knn_accuracy > 0.85  # ten PCA components already separate digits well


def test_trustworthiness_is_not_measured_on_fewer_test_rows_than_it_needs(digits):
    X_train, X_test, y_train, y_test = digits
    pca = PCA(n_components=2).fit(X_train)
    for n in (1, 2):  # scikit-learn's trustworthiness needs a neighbour below half the rows
        q = code_quality(pca, X_train, y_train, X_test[:n], y_test[:n])
        assert np.isnan(q.trustworthiness) and "trustworthiness not measured" in str(q)
    assert np.isfinite(code_quality(pca, X_train, y_train, X_test[:3], y_test[:3])
                       .trustworthiness)


def test_pca_sweep_reuses_a_fitted_pca(digits):
    from sklearn.decomposition import PCA

    from aekit.evaluation.metrics import pca_sweep

    X_train, X_test = digits[0], digits[1]
    pca = PCA(n_components=8, svd_solver="full").fit(X_train.astype(np.float64))
    reused = pca_sweep(X_train, X_test, [2, 8], pca=pca)
    fresh = pca_sweep(X_train, X_test, [2, 8])
    for a, b in zip(reused, fresh):
        assert a.pca_mse == pytest.approx(b.pca_mse, rel=1e-9)
    with pytest.raises(ValueError, match="needs 12"):
        pca_sweep(X_train, X_test, [12], pca=pca)


# --------------------------------------------------------------------------- the verdict
def test_the_comparison_names_the_model_as_what_it_is(digits):
    """A VariationalAutoEncoder's row read "autoencoder (k=2)": the table names the class
    in words; an autoencoder, or any other model, stays "autoencoder"."""
    from aekit import VariationalAutoEncoder, compare_with_pca
    from aekit.evaluation.metrics import model_name

    X_train, X_test = digits[0][:200], digits[1][:60]
    vae = VariationalAutoEncoder(n_components=2, hidden_layer_sizes=(16,), max_epochs=1,
                                 random_state=0).fit(X_train)
    rows = str(compare_with_pca(vae, X_train, X_test, fit=False)).splitlines()
    assert any(r.startswith("variational autoencoder (k=2) ") for r in rows)
    assert not any(r.startswith("autoencoder") for r in rows)
    assert model_name(AutoEncoder()) == "autoencoder"
    assert model_name(PCA(2)) == "autoencoder"

    class MyVAE(VariationalAutoEncoder):  # the caller's names: the aekit class it builds on
        pass

    class CNNAutoEncoder(AutoEncoder):
        pass

    assert model_name(MyVAE()) == "variational autoencoder"
    assert model_name(CNNAutoEncoder()) == "autoencoder"


def test_verdict_is_in_scaled_units_where_every_column_counts():
    from aekit import compare_with_pca
    from aekit.data import make_derived_variables

    X, X_test = make_derived_variables(800, random_state=0), make_derived_variables(
        400, random_state=1)
    ae = AutoEncoder(2, max_epochs=80, random_state=0).fit(X)
    c = compare_with_pca(ae, X, X_test, fit=False)
    # In raw units a/b (0.001 to 1,000s) decides everything; in scaled units it is one
    # column of six. PCA was fitted on the same scaled rows.
    S, S_test = ae.to_scaled(X), ae.to_scaled(X_test)
    pca = PCA(2, svd_solver="full").fit(S)
    S_pca = pca.inverse_transform(pca.transform(S_test))
    assert c.pca_scaled == pytest.approx(((S_pca - S_test) ** 2).mean(), rel=1e-6)
    assert c.ae_scaled == pytest.approx(-ae.score(X_test), rel=1e-5)
    assert c.unit == "scaled" and c.winner == "autoencoder" and c.ratio < 0.2
    assert c.verdict.startswith(f"{1 / c.ratio:.3g}x lower error than PCA (scaled units; "
                                "95% interval of the ratio")
    assert len(c.ae_r2) == len(c.columns) == 6 and c.columns_better[1] == 6
    d = c.to_dict()
    assert d["ratio"] == pytest.approx(c.ae_scaled / c.pca_scaled)
    assert {"ae_mse", "pca_mse", "r2", "accuracy", "unit"} <= set(d)
    assert "scaled error" in str(c) and "x4" in str(c)


def test_verdict_wording():
    from aekit.evaluation.metrics import PCAComparison

    def cmp(ae, pca):
        return PCAComparison(2, 1.0, 1.0, 1.0, 1.0, ae, pca)

    assert cmp(0.69, 1.0).verdict == "31% lower error than PCA (scaled units)"
    assert cmp(1.2, 1.0).verdict == "20% higher error than PCA (scaled units)"
    assert cmp(0.01, 1.0).verdict == "100x lower error than PCA (scaled units)"
    assert cmp(3.0, 1.0).verdict == "3x higher error than PCA (scaled units)"
    raw = PCAComparison(2, 0.5, 1.0, 1.0, 2.0)
    assert raw.unit == "raw" and raw.ratio == 0.5 and raw.verdict == "2x lower error than PCA"


def test_r2_central_sees_a_bulk_that_the_overall_r2_hides():
    from aekit.evaluation.metrics import r2_central

    rng = np.random.RandomState(0)
    x = np.concatenate([rng.rand(900), 1000 * rng.rand(100) + 10])  # a bulk and a far tail
    noisy = x + np.where(x < 1, rng.randn(1000), 0.0)  # good on the tail, noise on the bulk
    overall, central = r2_per_feature(x[:, None], noisy[:, None])[0], r2_central(
        x[:, None], noisy[:, None])[0]
    assert overall > 0.99 and central < 0
    assert np.isnan(r2_central(np.zeros((10, 1)), np.zeros((10, 1)))[0])  # nothing varies


def test_scaled_pca_works_in_the_callers_units(digits, digits_ae):
    from aekit.evaluation.metrics import ScaledPCA

    X_train, X_test = digits[0], digits[1]
    S = digits_ae.to_scaled(X_train)
    pca = ScaledPCA(digits_ae, PCA(6, svd_solver="full").fit(S), 4)  # its first 4
    Z = pca.transform(X_test)
    assert Z.shape == (len(X_test), 4)
    np.testing.assert_allclose(pca.reconstruct(X_test), pca.inverse_transform(Z), atol=1e-5)
    assert pca.reconstruct(X_test).shape == X_test.shape


def test_no_winner_is_named_on_too_few_test_rows():
    from aekit.evaluation.diagnostics import Diagnosis
    from aekit.evaluation.metrics import MIN_TEST_ROWS, PCAComparison, compare_reconstructions
    from aekit.report.model import _summary_cards

    rng = np.random.default_rng(0)
    slots = [(f"c{j}", "numeric", np.array([j])) for j in range(6)]
    S = rng.normal(size=(MIN_TEST_ROWS, 6))
    S_ae, S_pca = S + 0.1 * rng.normal(size=S.shape), S + rng.normal(size=S.shape)
    for n in (1, 2, MIN_TEST_ROWS - 1):  # the autoencoder's error is 100x lower on each row
        c = compare_reconstructions(2, slots, S[:n], S_ae[:n], S_pca[:n], S[:n], S_ae[:n],
                                    S_pca[:n])
        assert c.ratio < 0.1 and c.too_few_rows and not c.clear and c.ratio_interval is None
        assert c.verdict.startswith("no clear winner") and f"on {n} test row" in c.verdict
        assert "too few to tell" in c.verdict and not c.to_dict()["clear_winner"]
        card = _summary_cards(c, 0.5, 0.5, Diagnosis([], n))
        assert '<span class="warn">' in card and "too few to tell" in card
    enough = compare_reconstructions(2, slots, S, S_ae, S_pca, S, S_ae, S_pca)
    assert enough.clear and enough.ratio_interval[1] < 1 and "95% interval" in enough.verdict
    # PCA's exact reconstruction is exact on any number of rows.
    exact = PCAComparison(6, 0.1, 0.0, 0.6, 0.0, 0.1, 0.0, n_test=1, pca_exact=True)
    assert exact.clear and exact.verdict.startswith("PCA is exact")


def test_the_ratio_card_says_pca_is_exact_where_there_is_no_ratio():
    from aekit.evaluation.diagnostics import Diagnosis
    from aekit.evaluation.metrics import PCAComparison
    from aekit.report.model import _summary_cards

    exact = PCAComparison(6, 0.1, 0.0, 0.6, 0.0, 0.1, 0.0, n_test=100, pca_exact=True)
    card = _summary_cards(exact, 0.9, 1.0, Diagnosis([], 100))
    assert exact.ratio == float("inf") and ">inf<" not in card  # PCA's error is 0
    assert '<span class="warn">PCA exact</span>' in card and "PCA is exact here" in card


def test_compare_with_pca_warns_when_test_rows_are_training_rows(digits):
    import warnings

    from aekit import InputWarning, compare_with_pca

    X_train, X_test = digits[0][:300], digits[1][:40]
    ae = AutoEncoder(2, hidden_layer_sizes=(16,), max_epochs=2, random_state=0).fit(X_train)
    with pytest.warns(InputWarning, match=r"10 of the 50 test rows \(20%\) are also in X_train"):
        compare_with_pca(ae, X_train, np.r_[X_test, X_train[5:15]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)  # held-out rows: nothing to say
        compare_with_pca(ae, X_train, X_test)


def test_ratio_its_interval_and_the_sweep_measure_the_same_observed_cells():
    import pandas as pd

    from aekit import compare_with_pca
    from aekit.evaluation.metrics import compare_reconstructions, ratio_interval

    rng = np.random.default_rng(0)
    n, slots = 200, [(f"c{j}", "numeric", np.array([j])) for j in range(4)]
    S = rng.normal(size=(n, 4))
    X = S.copy()
    X[40:, 3] = np.nan  # column c3 observed on 40 rows, where the autoencoder does badly
    noise = rng.normal(size=S.shape)
    S_ae = S + noise * np.array([0.3, 0.3, 0.3, 2.0])
    S_pca = S + noise[rng.permutation(n)] * np.array([0.5, 0.5, 0.5, 0.5])
    c = compare_reconstructions(2, slots, X, S_ae, S_pca, S, S_ae, S_pca)
    # Each column counts alike: c3's 40 rows weigh as much as c0's 200 (the row sums with
    # c3's missing cells zeroed make it 0.9, and so did the old interval, around 0.9).
    assert c.ratio > 2
    lo, hi = c.ratio_interval
    assert 1 < lo < c.ratio < hi, (c.ratio, c.ratio_interval)
    # Without missing cells, the cells' statistic is the row sums' ratio, draw for draw.
    rows_ae, rows_pca = ((M - S) ** 2 for M in (S_ae, S_pca))
    assert ratio_interval(rows_ae, rows_pca) == pytest.approx(
        ratio_interval(rows_ae.sum(1), rows_pca.sum(1)), rel=1e-9)
    # The sweep drawn beside the comparison scores PCA on the same observed cells.
    frame = pd.DataFrame(rng.normal(size=(300, 2)) @ rng.normal(size=(2, 5)),
                         columns=list("abcde"))
    frame.loc[rng.random(300) < 0.6, "e"] = np.nan
    train, test = frame.iloc[:220], frame.iloc[220:]
    ae = AutoEncoder(2, hidden_layer_sizes=(8,), max_epochs=2, missing="impute",
                     random_state=0).fit(train)
    cmp = compare_with_pca(ae, train, test)
    (sweep,) = pca_sweep(train, test, [2], scaled_by=ae)
    assert sweep.pca_error == pytest.approx(cmp.pca_error, rel=1e-9)


def test_compare_with_pca_refuses_a_classifier_or_detector_with_what_to_compare(
        not_autoencoders):
    # They failed inside: an AttributeError on n_components, a TypeError comparing None.
    from aekit import compare_with_pca

    X, models = not_autoencoders
    fixes = ("its autoencoder_", "build_detector_report", "compare an AutoEncoder")
    for model, fix in zip(models, fixes):
        with pytest.raises(TypeError, match=f"{type(model).__name__} is not one; .*{fix}"):
            compare_with_pca(model, X[:40], X[40:], fit=False)
